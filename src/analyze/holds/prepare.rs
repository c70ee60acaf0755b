//! Prepare: every goroutine ranking reads, read once for all locks into buckets
//! alike, with the indexes that let a lock read only the buckets that may matter.

use super::candidates::{TypeFile, TypeFileKey};
use super::{anchors::anchors, blocked_weight, MAX_FIELD_OFFSET};
use crate::analyze::classify::{is_machinery, Blocked, StackId, WaitKind};
use crate::analyze::findings::Anchor;
use crate::analyze::resources::MIN_ADDR;
use crate::analyze::Lock;
use crate::group::Group;
use crate::model::{Dump, FuncName};

pub(super) const SKIP: u32 = u32::MAX;

/// Argument words near an anchor, as (frame index, word).
pub(super) type WordList = Vec<(u32, u64)>;

/// What ranking reads of every goroutine, computed once for all locks.
pub struct Prepared<'d> {
    /// Each lock's anchors, in the order of the locks.
    pub(super) anchors: Vec<Vec<Anchor>>,
    /// Per goroutine: its bucket among goroutines alike in everything ranking reads
    /// but for this lock (stack group, wait kind, minutes, lock frame, depth, and the
    /// argument words near any lock's address); `SKIP` for those never ranked
    /// (background, cut off, no frames).
    pub(super) base: Vec<u32>,
    /// The goroutines of each bucket, in order.
    pub(super) base_members: Vec<Vec<usize>>,
    /// Each bucket's words near an anchor: an index into `word_lists`.
    pub(super) base_words: Vec<u32>,
    /// Distinct lists of (frame index, word): the certain argument words at or just
    /// below an address some lock is known by, in frame order, over every frame any
    /// lock's ranking may read (a waiter's own frames start past its lock frame,
    /// others' at it). Decoded once, not once per lock.
    pub(super) word_lists: Vec<Vec<(u32, u64)>>,
    /// Where ranking finds its candidates without reading every bucket.
    pub(super) index: Index<'d>,
    /// `TypeFile`s made so far, by the lock's types and files.
    pub(super) type_files:
        std::cell::RefCell<rustc_hash::FxHashMap<TypeFileKey<'d>, std::rc::Rc<TypeFile>>>,
}

/// Indexes over `Prepared`'s buckets, so a lock reads only the buckets that may
/// hold evidence about it: those whose words come near its addresses, those with a
/// frame past where it is asked for, and populations (blocked, unique, waiting
/// long) small enough for their diluted evidence to count.
#[derive(Default)]
pub(super) struct Index<'d> {
    /// Every word of the word lists, sorted, with the buckets whose list holds it.
    pub(super) words: Vec<WordBuckets>,
    /// Per function where some lock is asked for: (line, bucket) of its frames a
    /// non-waiter's ranking reads, sorted.
    pub(super) lines: rustc_hash::FxHashMap<&'d str, Vec<(u32, u32)>>,
    /// Buckets whose wait is evidence of being blocked, and their goroutines.
    pub(super) blocked: Population,
    /// Buckets alone in their stack group, and their goroutines.
    pub(super) unique: Population,
    /// (minutes, bucket, goroutines) of buckets with wait minutes, most first.
    pub(super) by_minutes: Vec<(u32, u32, usize)>,
    /// Goroutines in the first k entries of `by_minutes`, for each k.
    pub(super) minutes_prefix: Vec<usize>,
}

pub(super) struct WordBuckets {
    pub(super) word: u64,
    pub(super) buckets: Vec<u32>,
}

/// Buckets with one kind of evidence, and how many goroutines they hold.
#[derive(Default)]
pub(super) struct Population {
    pub(super) buckets: Vec<u32>,
    pub(super) goroutines: usize,
}

/// With this many goroutines or fewer sharing one kind of circumstantial evidence,
/// each may still score; with more, all of it shared out weighs less than a
/// candidate needs (0.45 at most, times 3 / 65, is under 0.05).
pub(super) const SMALL: usize = 64;

impl<'d> Index<'d> {
    fn new(
        dump: &'d Dump,
        blocked: &[Blocked],
        groups_count: impl Fn(usize) -> u64,
        asking: &rustc_hash::FxHashSet<&'d str>,
        base_members: &[Vec<usize>],
        base_words: &[u32],
        word_lists: &[Vec<(u32, u64)>],
    ) -> Self {
        let mut index = Index::default();
        let mut words: rustc_hash::FxHashMap<u64, Vec<u32>> = Default::default();
        for (bi, members) in base_members.iter().enumerate() {
            let Some(&c) = members.first() else { continue };
            let bi32 = bi as u32;
            for &(_, w) in &word_lists[base_words[bi] as usize] {
                let list = words.entry(w).or_default();
                if list.last() != Some(&bi32) {
                    list.push(bi32);
                }
            }
            let (g, b) = (&dump.goroutines[c], &blocked[c]);
            let skip = b.lock_frame().unwrap_or(0);
            for f in g.frames.iter().skip(skip) {
                let name = f.function.full();
                if asking.contains(name) {
                    index.lines.entry(name).or_default().push((f.line, bi32));
                }
            }
            if blocked_weight(b.kind).is_some() {
                index.blocked.buckets.push(bi32);
                index.blocked.goroutines += members.len();
            }
            if groups_count(c) == 1 {
                index.unique.buckets.push(bi32);
                index.unique.goroutines += members.len();
            }
            if let Some(m) = g.wait_minutes {
                index.by_minutes.push((m, bi32, members.len()));
            }
        }
        for list in index.lines.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        index.words = words
            .into_iter()
            .map(|(word, buckets)| WordBuckets { word, buckets })
            .collect();
        index.words.sort_unstable_by_key(|w| w.word);
        index.by_minutes.sort_unstable_by(|a, b| b.cmp(a));
        index.minutes_prefix = std::iter::once(0)
            .chain(index.by_minutes.iter().scan(0, |sum, e| {
                *sum += e.2;
                Some(*sum)
            }))
            .collect();
        index
    }
}

impl<'d> Prepared<'d> {
    pub fn new(
        dump: &'d Dump,
        blocked: &[Blocked],
        groups: &[Group],
        group_of: &[usize],
        locks: &[Lock],
    ) -> Self {
        let anchors: Vec<Vec<Anchor>> = anchors(dump, blocked, locks);
        let mut anchor_addrs: Vec<u64> = anchors.iter().flatten().map(|a| a.addr).collect();
        anchor_addrs.sort_unstable();
        anchor_addrs.dedup();
        let n = dump.goroutines.len();
        let ranked = |c: usize| {
            let (g, b) = (&dump.goroutines[c], &blocked[c]);
            !(b.kind.is_background() || !g.complete || g.frames.is_empty())
        };
        // The words near an anchor, read on every core: each thread keeps its own
        // distinct lists, merged after.
        let lo = anchor_addrs
            .first()
            .map_or(u64::MAX, |&a| a.saturating_sub(MAX_FIELD_OFFSET));
        let hi = anchor_addrs.last().copied().unwrap_or(0);
        // Everything but the list of words near an anchor, of a goroutine ranked.
        type BaseKey = (usize, WaitKind, Option<u32>, Option<usize>, usize);
        let read = |range: std::ops::Range<usize>| {
            let mut lists: Vec<Vec<(u32, u64)>> = vec![Vec::new()];
            let mut list_of: rustc_hash::FxHashMap<Vec<(u32, u64)>, u32> = Default::default();
            list_of.insert(Vec::new(), 0);
            // By frame list and first frame read: which frames are read (decided
            // once), and the argument data read last with its list (goroutines of one
            // stack with equal values often share their data).
            type Stack = (Vec<bool>, Option<((usize, u32, u32), u32)>);
            let mut stacks: rustc_hash::FxHashMap<(StackId, usize), Stack> = Default::default();
            let mut words: Vec<(u32, u64)> = Vec::new();
            // Buckets of this range, in order of their first member.
            let mut bucket_of: rustc_hash::FxHashMap<(BaseKey, u32), usize> = Default::default();
            let mut buckets: Vec<((BaseKey, u32), Vec<usize>)> = Vec::new();
            for c in range {
                if !ranked(c) {
                    continue;
                }
                let (g, b) = (&dump.goroutines[c], &blocked[c]);
                let skip = b.lock_frame().unwrap_or(0);
                let frames_key = (StackId::of(g), skip);
                let (read_frame, last) = stacks.entry(frames_key).or_insert_with(|| {
                    let read = g
                        .frames
                        .iter()
                        .enumerate()
                        .map(|(fi, f)| {
                            fi >= skip
                                && (!is_machinery(&f.function) || f.function.package() == "sync")
                        })
                        .collect();
                    (read, None)
                });
                let data = g.args.identity();
                let list = match *last {
                    Some((d, l)) if d == data => l,
                    _ => {
                        words.clear();
                        if !anchor_addrs.is_empty() {
                            for (fi, (_, args)) in g.frames_args().enumerate().skip(skip) {
                                if !read_frame[fi] {
                                    continue;
                                }
                                for (w, unsure) in args.words() {
                                    if unsure || w < MIN_ADDR || w < lo || w > hi {
                                        continue;
                                    }
                                    let i = anchor_addrs.partition_point(|&a| a < w);
                                    if anchor_addrs
                                        .get(i)
                                        .is_some_and(|&a| a - w <= MAX_FIELD_OFFSET)
                                    {
                                        words.push((fi as u32, w));
                                    }
                                }
                            }
                        }
                        let l = match list_of.get(&words) {
                            Some(&l) => l,
                            None => {
                                let l = lists.len() as u32;
                                lists.push(words.clone());
                                list_of.insert(words.clone(), l);
                                l
                            }
                        };
                        *last = Some((data, l));
                        l
                    }
                };
                let key = (
                    (
                        group_of[c],
                        b.kind,
                        g.wait_minutes,
                        b.lock_frame(),
                        g.frames.len(),
                    ),
                    list,
                );
                let bi = *bucket_of.entry(key).or_insert_with(|| {
                    buckets.push((key, Vec::new()));
                    buckets.len() - 1
                });
                buckets[bi].1.push(c);
            }
            (lists, buckets)
        };
        type Part = (Vec<WordList>, Vec<((BaseKey, u32), Vec<usize>)>);
        let parts: Vec<Part> = crate::analyze::by_ranges(n, read);
        // One id per distinct list, then the parts' buckets merged in order: a
        // bucket's members stay in goroutine order, buckets in order of their first.
        let mut word_lists: Vec<Vec<(u32, u64)>> = Vec::new();
        let mut list_of: rustc_hash::FxHashMap<Vec<(u32, u64)>, u32> = Default::default();
        let mut base = vec![SKIP; n];
        let mut base_members: Vec<Vec<usize>> = Vec::new();
        let mut base_words: Vec<u32> = Vec::new();
        let mut base_of: rustc_hash::FxHashMap<(BaseKey, u32), u32> = Default::default();
        for (lists, buckets) in parts {
            let global: Vec<u32> = lists
                .into_iter()
                .map(|l| {
                    let next = word_lists.len() as u32;
                    *list_of.entry(l).or_insert_with_key(|l| {
                        word_lists.push(l.clone());
                        next
                    })
                })
                .collect();
            for ((key, local), members) in buckets {
                let list = global[local as usize];
                let bi = *base_of.entry((key, list)).or_insert_with(|| {
                    base_members.push(Vec::new());
                    base_words.push(list);
                    (base_members.len() - 1) as u32
                });
                for &c in &members {
                    base[c] = bi;
                }
                base_members[bi as usize].extend(members);
            }
        }
        let index = if anchors.is_empty() {
            Index::default()
        } else {
            let groups_count = |c: usize| groups[group_of[c]].count;
            // The functions where some lock is asked for (as `rank` reads them).
            let asking: rustc_hash::FxHashSet<&str> = locks
                .iter()
                .flat_map(|l| &l.alike)
                .filter_map(|&w| {
                    let lf = blocked[w].lock_frame()?;
                    Some(dump.goroutines[w].frames.get(lf)?.function.full())
                })
                .collect();
            Index::new(
                dump,
                blocked,
                groups_count,
                &asking,
                &base_members,
                &base_words,
                &word_lists,
            )
        };
        Prepared {
            anchors,
            base,
            base_members,
            base_words,
            word_lists,
            index,
            type_files: Default::default(),
        }
    }

    /// The best hit of goroutine `c`'s words near an anchor, from frame `start` on,
    /// on this lock's anchors.
    pub(super) fn address_hit<'a>(
        &self,
        dump: &'a Dump,
        c: usize,
        start: usize,
        anchors: &[Anchor],
    ) -> Option<AddressHit<'a>> {
        let g = &dump.goroutines[c];
        let list = &self.word_lists[self.base_words[self.base[c] as usize] as usize];
        let mut best: Option<AddressHit<'a>> = None;
        for &(fi, w) in list {
            let fi = fi as usize;
            if fi < start {
                continue;
            }
            let f = &g.frames[fi];
            for (ai, a) in anchors.iter().enumerate() {
                // The very word: a word merely near the lock proves nothing.
                let weight = if w == a.addr {
                    0.35
                } else {
                    continue;
                };
                if best.is_none_or(|b| b.weight < weight) {
                    best = Some(AddressHit {
                        weight,
                        function: f.function,
                        word: w,
                        anchor: ai,
                        frame: fi,
                    });
                }
            }
        }
        best
    }
}

/// The best hit of a goroutine's own frames on the lock's addresses.
#[derive(Debug, Clone, Copy)]
pub(super) struct AddressHit<'d> {
    pub(super) weight: f64,
    /// The function of the frame that prints it.
    pub(super) function: FuncName<'d>,
    pub(super) word: u64,
    /// Index into the lock's anchors.
    pub(super) anchor: usize,
    /// Index of the frame that prints it.
    pub(super) frame: usize,
}
