//! Goroutines that share a stack signature, as panicparse's buckets.

use crate::analyze::StackId;
use crate::model::{Dump, Goroutine};

/// How strictly two stacks must match to share a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// Same state and the same function, file and line in every frame.
    #[default]
    Stack,
    /// Same state and the same functions; lines and argument values ignored.
    Function,
}

/// A set of goroutines with one signature.
#[derive(Debug, Clone)]
pub struct Group {
    /// Indexes into `Dump::goroutines`, in input order.
    pub members: Vec<usize>,
    /// Goroutine ids, sorted (empty for aggregated profiles).
    pub ids: Vec<u64>,
    /// Number of goroutines (sum of counts).
    pub count: u64,
    /// Shortest and longest `N minutes` among members that printed one.
    pub wait_minutes: Option<(u32, u32)>,
}

impl Group {
    /// The member whose stack stands for the group.
    pub fn representative(&self) -> usize {
        self.members[0]
    }
}

/// A hash of what the group key holds (state, each frame's function, and under
/// `GroupBy::Stack` its file and line, the creator's function): two goroutines of one
/// group hash alike, and `same_key` tells the rest apart. No key is built or kept: with
/// every goroutine on its own stack, a key per stack would copy every frame.
fn key_hash(g: &Goroutine, by: GroupBy) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    g.state.raw.hash(&mut h);
    g.frames.len().hash(&mut h);
    for f in g.frames.iter() {
        f.function.full().hash(&mut h);
        if by == GroupBy::Stack {
            f.file.hash(&mut h);
            f.line.hash(&mut h);
        }
    }
    g.created_by()
        .as_ref()
        .map(|c| c.function.full())
        .hash(&mut h);
    h.finish()
}

/// Whether two goroutines share a group key (what `key_hash` reads).
fn same_key(a: &Goroutine, b: &Goroutine, by: GroupBy) -> bool {
    let frame = |x: &crate::model::Frame, y: &crate::model::Frame| match by {
        GroupBy::Stack => x.function == y.function && x.file == y.file && x.line == y.line,
        GroupBy::Function => x.function == y.function,
    };
    a.state.raw == b.state.raw
        && a.frames.len() == b.frames.len()
        && a.frames
            .iter()
            .zip(b.frames.iter())
            .all(|(x, y)| frame(x, y))
        && a.created_by().map(|c| c.function.full()) == b.created_by().map(|c| c.function.full())
}

/// Goroutines that share one frame list, one state and one creator (the same
/// strings, not only equal ones): everything the classification reads of them is
/// the same. Each lies in one group.
#[derive(Debug, Clone)]
pub struct Alike {
    /// The first of them, in input order.
    pub first: usize,
    /// Index of their group.
    pub group: usize,
    /// How many of them are not cut off (`Goroutine::complete`).
    pub complete: usize,
    /// Sum of the counts of those not cut off (a debug=1 record may count 0).
    pub complete_count: u64,
}

/// Group the goroutines of a dump, and tell the sets of alike goroutines in the
/// same pass. Both come in order of their first member.
pub fn group(dump: &Dump, by: GroupBy) -> (Vec<Group>, Vec<Alike>) {
    let mut grouping = Grouping {
        dump,
        by,
        index: Default::default(),
        next: Vec::new(),
        by_frames: Default::default(),
        groups: Vec::new(),
        alike: Vec::new(),
    };
    for (i, g) in dump.goroutines.iter().enumerate() {
        let ai = grouping.alike_of(i, g);
        grouping.add(ai, i, g);
    }
    let Grouping {
        mut groups, alike, ..
    } = grouping;
    for g in &mut groups {
        g.ids.sort_unstable();
    }
    (groups, alike)
}

/// A string by identity (where it is kept and how long), not by its text: each
/// distinct string is kept once per reading thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct StrAt {
    ptr: usize,
    len: usize,
}

impl StrAt {
    fn of(s: &str) -> Self {
        StrAt {
            ptr: s.as_ptr() as usize,
            len: s.len(),
        }
    }
}

/// What goroutines of one `Alike` set share: one parsed frame list (by address),
/// one state string and one creator's function string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SameStrings {
    frames: usize,
    state: StrAt,
    creator: Option<StrAt>,
}

/// No group after this one in its chain (`Grouping::next`).
const NONE: usize = usize::MAX;

/// The groups and alike sets of `group` as they are built.
struct Grouping<'g, 'd> {
    dump: &'g Dump<'d>,
    by: GroupBy,
    /// By key hash, the first group with it (Fx, not SipHash: with every goroutine
    /// on its own stack this hashes every frame).
    index: rustc_hash::FxHashMap<u64, usize>,
    /// `next[gi]`: the next group with the same hash as group `gi` (`NONE` ends the
    /// chain).
    next: Vec<usize>,
    /// Goroutines sharing one parsed frame list (and state and creator) share a
    /// key: it is built once per such list, not once per goroutine. The index of
    /// their `Alike` set.
    by_frames: rustc_hash::FxHashMap<SameStrings, usize>,
    groups: Vec<Group>,
    alike: Vec<Alike>,
}

impl Grouping<'_, '_> {
    /// The index of the alike set of goroutine `i`, `g`: found by its strings, or
    /// added in the group of its key (`group_of`).
    fn alike_of(&mut self, i: usize, g: &Goroutine) -> usize {
        let same = SameStrings {
            frames: std::sync::Arc::as_ptr(&g.frames) as *const () as usize,
            state: StrAt::of(g.state.raw),
            creator: g
                .created_by()
                .as_ref()
                .map(|c| StrAt::of(c.function.full())),
        };
        // A frame list no other goroutine holds is no other's: not looked up
        // nor kept (with every goroutine on its own stack, a million entries).
        let alone = StackId::alone(g);
        let known = if alone {
            None
        } else {
            self.by_frames.get(&same)
        };
        if let Some(&ai) = known {
            return ai;
        }
        let gi = self.group_of(g);
        self.alike.push(Alike {
            first: i,
            group: gi,
            complete: 0,
            complete_count: 0,
        });
        if !alone {
            self.by_frames.insert(same, self.alike.len() - 1);
        }
        self.alike.len() - 1
    }

    /// The group whose key `g` has: looked for along the chain of its key hash, or
    /// added at the chain's end.
    fn group_of(&mut self, g: &Goroutine) -> usize {
        let h = key_hash(g, self.by);
        let mut at = self.index.get(&h).copied().unwrap_or(NONE);
        let mut last = NONE;
        while at != NONE {
            let rep = &self.dump.goroutines[self.groups[at].members[0]];
            if same_key(rep, g, self.by) {
                return at;
            }
            last = at;
            at = self.next[at];
        }
        // Room for one: with every goroutine on a stack of its own, a million
        // groups of one (a list grows past one as it would).
        self.groups.push(Group {
            members: Vec::with_capacity(1),
            ids: Vec::with_capacity(1),
            count: 0,
            wait_minutes: None,
        });
        self.next.push(NONE);
        let gi = self.groups.len() - 1;
        match last {
            NONE => {
                self.index.insert(h, gi);
            }
            l => self.next[l] = gi,
        }
        gi
    }

    /// Count goroutine `i`, `g`, in its alike set `ai` and in that set's group.
    fn add(&mut self, ai: usize, i: usize, g: &Goroutine) {
        let a = &mut self.alike[ai];
        if g.complete {
            a.complete += 1;
            a.complete_count += g.count;
        }
        let grp = &mut self.groups[a.group];
        grp.members.push(i);
        if let Some(id) = g.id {
            grp.ids.push(id);
        }
        grp.count += g.count;
        if let Some(m) = g.wait_minutes {
            grp.wait_minutes = Some(match grp.wait_minutes {
                None => (m, m),
                Some((lo, hi)) => (lo.min(m), hi.max(m)),
            });
        }
    }
}

/// The first frame, from the innermost, at which two stacks part (another
/// function, file or line); `None` when they do not (one may be longer).
pub fn first_difference(a: &[crate::model::Frame], b: &[crate::model::Frame]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x.function != y.function || x.file != y.file || x.line != y.line)
}
