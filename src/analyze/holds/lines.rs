//! Line lists: per function where some lock is asked for, the buckets with a frame
//! in it, by line. Counted in one pass over the buckets and filled in a second,
//! so each list is made at its size, four bytes a bucket, and comes sorted: with
//! every goroutine on a stack of its own, tens of millions of frames.

/// Per function: the buckets with a frame in it, by line, each line's buckets in
/// order and once each, one line after another.
#[derive(Default)]
pub(super) struct LineBuckets {
    /// The lines, sorted, once each.
    lines: Vec<u32>,
    /// Where each line's buckets start in `buckets`.
    at: Vec<u32>,
    buckets: Vec<u32>,
}

impl LineBuckets {
    /// The buckets at a line past `line`: by line, then bucket.
    pub(super) fn past(&self, line: u32) -> &[u32] {
        let i = self.lines.partition_point(|&l| l <= line);
        let from = self.at.get(i).map_or(self.buckets.len(), |&a| a as usize);
        &self.buckets[from..]
    }
}

/// Line lists by function.
pub(super) type LineIndex<'d> = rustc_hash::FxHashMap<&'d str, LineBuckets>;

/// A function and a line: where one slot's buckets are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Slot<'d> {
    pub(super) function: &'d str,
    pub(super) line: u32,
}

/// No bucket yet (`SlotCounts::last`).
const NO_BUCKET: u32 = u32::MAX;

/// The slots (function, line) met so far, each with its number.
#[derive(Default)]
pub(super) struct Slots<'d> {
    of: rustc_hash::FxHashMap<Slot<'d>, u32>,
    keys: Vec<Slot<'d>>,
}

impl<'d> Slots<'d> {
    /// The number of a slot, given one if new.
    pub(super) fn id(&mut self, slot: Slot<'d>) -> u32 {
        let keys = &mut self.keys;
        *self.of.entry(slot).or_insert_with(|| {
            keys.push(slot);
            keys.len() as u32 - 1
        })
    }
}

/// One line index as it is made: how many buckets each slot lists, then where the
/// next is written.
#[derive(Default)]
pub(super) struct Counts {
    /// Per slot: how many buckets (counting), then where its next goes (filling).
    count: Vec<u32>,
    /// Per slot: the last bucket counted or written, to take each bucket once.
    last: Vec<u32>,
    /// Per slot: its function's list (an index into `lists`), once laid out.
    list_of: Vec<u32>,
    lists: Vec<LineBuckets>,
}

impl Counts {
    /// Count bucket `bi` in slot `s` (buckets come in order).
    pub(super) fn count(&mut self, s: u32, bi: u32) {
        let s = s as usize;
        if s >= self.count.len() {
            self.count.resize(s + 1, 0);
            self.last.resize(s + 1, NO_BUCKET);
        }
        if self.last[s] != bi {
            self.last[s] = bi;
            self.count[s] += 1;
        }
    }

    /// Each function's list laid out at its size, its lines in order: `count`
    /// becomes each slot's first place.
    pub(super) fn lay_out(&mut self, slots: &Slots) {
        let mut order: Vec<u32> = (0..self.count.len() as u32)
            .filter(|&s| self.count[s as usize] > 0)
            .collect();
        order.sort_unstable_by_key(|&s| slots.keys[s as usize]);
        self.list_of = vec![u32::MAX; self.count.len()];
        let mut function = None;
        for s in order {
            let Slot { function: f, line } = slots.keys[s as usize];
            if function != Some(f) {
                function = Some(f);
                self.lists.push(LineBuckets::default());
            }
            let list = self.lists.last_mut().expect("a list pushed");
            let at = list.buckets.len() as u32;
            list.lines.push(line);
            list.at.push(at);
            let n = self.count[s as usize];
            list.buckets.resize((at + n) as usize, 0);
            self.count[s as usize] = at;
            self.list_of[s as usize] = self.lists.len() as u32 - 1;
        }
        self.last.fill(NO_BUCKET);
    }

    /// Write bucket `bi` in slot `s`, as counted (buckets come in the same order).
    pub(super) fn fill(&mut self, s: u32, bi: u32) {
        let s = s as usize;
        if self.last[s] == bi {
            return;
        }
        self.last[s] = bi;
        let list = &mut self.lists[self.list_of[s] as usize];
        list.buckets[self.count[s] as usize] = bi;
        self.count[s] += 1;
    }

    /// The lists by function.
    pub(super) fn finish<'d>(self, slots: &Slots<'d>) -> LineIndex<'d> {
        let mut names: Vec<&'d str> = vec![""; self.lists.len()];
        for (s, &l) in self.list_of.iter().enumerate() {
            if l != u32::MAX {
                names[l as usize] = slots.keys[s].function;
            }
        }
        names.into_iter().zip(self.lists).collect()
    }
}
