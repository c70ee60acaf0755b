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

#[derive(Hash, PartialEq, Eq)]
struct Key<'a> {
    state: &'a str,
    frames: Vec<(&'a str, &'a str, u32)>,
    created_by: Option<&'a str>,
}

fn key<'a>(g: &Goroutine<'a>, by: GroupBy) -> Key<'a> {
    let frames = g
        .frames
        .iter()
        .map(|f| match by {
            GroupBy::Stack => (f.function.full(), f.file, f.line),
            GroupBy::Function => (f.function.full(), "", 0),
        })
        .collect();
    Key {
        state: g.state.raw,
        frames,
        created_by: g.created_by.as_ref().map(|c| c.function.full()),
    }
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
    let mut index: rustc_hash::FxHashMap<Key, usize> = Default::default();
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
                let gi = *index.entry(key(g, by)).or_insert_with(|| {
                    groups.push(Group {
                        members: Vec::new(),
                        ids: Vec::new(),
                        count: 0,
                        wait_minutes: None,
                    });
                    groups.len() - 1
                });
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
