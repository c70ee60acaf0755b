//! Goroutines that share a stack signature, as panicparse's buckets.

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
    g.created_by
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
        && a.created_by.as_ref().map(|c| c.function.full())
            == b.created_by.as_ref().map(|c| c.function.full())
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
    // Fx, not SipHash: with every goroutine on its own stack this hashes every frame.
    // By key hash, the first group with it; `next[gi]`, the next group with the same
    // hash (`NONE` ends the chain).
    const NONE: usize = usize::MAX;
    let mut index: rustc_hash::FxHashMap<u64, usize> = Default::default();
    let mut next: Vec<usize> = Vec::new();
    // Goroutines sharing one parsed frame list (and state and creator) share a key:
    // it is built once per such list, not once per goroutine.
    // By identity, not text: each distinct string is kept once per reading thread.
    type Fast = (usize, (usize, usize), Option<(usize, usize)>);
    let ident = |s: &str| (s.as_ptr() as usize, s.len());
    let mut by_frames: rustc_hash::FxHashMap<Fast, usize> = Default::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut alike: Vec<Alike> = Vec::new();
    for (i, g) in dump.goroutines.iter().enumerate() {
        let fast = (
            std::sync::Arc::as_ptr(&g.frames) as *const () as usize,
            ident(g.state.raw),
            g.created_by.as_ref().map(|c| ident(c.function.full())),
        );
        let ai = match by_frames.get(&fast) {
            Some(&ai) => ai,
            None => {
                let h = key_hash(g, by);
                let mut at = index.get(&h).copied().unwrap_or(NONE);
                let mut last = NONE;
                while at != NONE {
                    let rep = &dump.goroutines[groups[at].members[0]];
                    if same_key(rep, g, by) {
                        break;
                    }
                    last = at;
                    at = next[at];
                }
                let gi = if at != NONE {
                    at
                } else {
                    // Room for one: with every goroutine on a stack of its own, a
                    // million groups of one (a list grows past one as it would).
                    groups.push(Group {
                        members: Vec::with_capacity(1),
                        ids: Vec::with_capacity(1),
                        count: 0,
                        wait_minutes: None,
                    });
                    next.push(NONE);
                    let gi = groups.len() - 1;
                    match last {
                        NONE => {
                            index.insert(h, gi);
                        }
                        l => next[l] = gi,
                    }
                    gi
                };
                alike.push(Alike {
                    first: i,
                    group: gi,
                    complete: 0,
                    complete_count: 0,
                });
                by_frames.insert(fast, alike.len() - 1);
                alike.len() - 1
            }
        };
        let a = &mut alike[ai];
        if g.complete {
            a.complete += 1;
            a.complete_count += g.count;
        }
        let gi = a.group;
        let grp = &mut groups[gi];
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
    for g in &mut groups {
        g.ids.sort_unstable();
    }
    (groups, alike)
}

/// The first frame, from the innermost, at which two stacks part (another
/// function, file or line); `None` when they do not (one may be longer).
pub fn first_difference(a: &[crate::model::Frame], b: &[crate::model::Frame]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x.function != y.function || x.file != y.file || x.line != y.line)
}
