//! Findings with the same cause become one: a weaker finding whose goroutines are
//! all in a stronger one is folded into it (the fixpoint's deadlock and a leak rule
//! reading the same stuck send), and findings alike in everything but ids and
//! addresses (the same rule on the same stacks: copies of one bug) are one finding
//! with a count.

use super::classify::StackId;
use super::{Also, Finding, FindingKind, IdentityRule, Lock};
use crate::model::Dump;
use rustc_hash::{FxHashMap, FxHashSet};

/// `findings` in rank order (strongest first) → the same with every finding that
/// has the cause of one before it folded into that one. Indexed by shape and by
/// goroutine, so the cost is in the goroutines the findings name, not in pairs of
/// findings.
pub fn same_cause(dump: &Dump, locks: &[Lock], findings: Vec<Finding>) -> Vec<Finding> {
    // Grown as findings are kept, not sized for all of them: a quarter of a
    // million lock findings that are copies of one another keep a handful.
    let mut out: Vec<Finding> = Vec::new();
    // Which kept findings (and their copies) name each goroutine, and say it is
    // stuck (waiters, cycle).
    let mut named = NamedBy::new(dump.goroutines.len());
    // Per kept finding, its copies folded in so far.
    let mut copies: Vec<Absorbed> = Vec::new();
    // Per kept finding, its size once its copies are in (holders, waiters, cycle).
    let mut size: Vec<usize> = Vec::new();
    let mut by_shape: FxHashMap<Shape, Vec<usize>> = FxHashMap::default();
    let mut stack_ids = StackIds::new(dump);
    for f in findings {
        let set = f.goroutines();
        let f_stuck = stuck_of(&f);
        let shape = shape(locks, &f, &mut stack_ids);
        // Copies name goroutines of their own: findings alike that share one are
        // two readings of the same goroutines, not two copies.
        let copy_of = by_shape.get(&shape).and_then(|ks| {
            ks.iter()
                .copied()
                .find(|&k| set.iter().all(|&g| !named.names(k, g)))
        });
        if let Some(k) = copy_of {
            // None of its goroutines is in `k` yet: each part adds all of its own.
            named.add(k, &set, &f_stuck);
            size[k] += part_sizes(&f);
            copies[k].take(&mut out[k], f);
            continue;
        }
        // A deadlock speaks for any weaker finding about its goroutines; other
        // kinds only for findings of their own kind (a leak inside a stall's queue
        // is still a leak). Only into a stronger one: of two that rank alike, which
        // would fold into which says only which has the lower ids. What the weaker
        // one says is stuck the stronger one says is stuck too (not only that it
        // holds something).
        let folds_into = |k: usize| {
            (out[k].kind == FindingKind::Deadlock || out[k].kind == f.kind)
                && stronger(&out[k], size[k], &f)
                && set.iter().all(|&g| named.names(k, g))
                && f_stuck.iter().all(|&g| named.stuck(k, g))
        };
        let into = set
            .first()
            .and_then(|&g| named.of(g).filter(|&k| folds_into(k)).min());
        if let Some(k) = into {
            out[k].also.push(Also {
                kind: f.kind,
                confidence: f.confidence,
                headline: f.headline,
                evidence: f.evidence,
            });
            continue;
        }
        let k = out.len();
        named.add(k, &set, &f_stuck);
        copies.push(Absorbed::default());
        size.push(part_sizes(&f));
        by_shape.entry(shape).or_default().push(k);
        out.push(f);
    }
    for (f, c) in out.iter_mut().zip(copies) {
        c.finish(dump, f);
    }
    out
}

/// Holders, waiters and cycle, each counted once.
fn part_sizes(f: &Finding) -> usize {
    [&f.holders, &f.waiters, &f.cycle]
        .into_iter()
        .map(|v| distinct(v))
        .sum()
}

/// How many distinct goroutines `v` lists: its length when in increasing order
/// (as most lists come), else counted.
fn distinct(v: &[usize]) -> usize {
    if v.is_sorted_by(|a, b| a < b) {
        return v.len();
    }
    let mut sorted = v.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len()
}

/// Which kept findings name each goroutine, and which say it is stuck. Most
/// goroutines are named by one at most: that one sits in a dense list, any more
/// in maps.
struct NamedBy {
    /// Per goroutine: the first kept finding that names it.
    first: Vec<Named>,
    /// (goroutine, kept finding) beyond the first: whether it says it is stuck.
    more: FxHashMap<(usize, usize), bool>,
    /// Per goroutine named by more than one: the others.
    more_of: FxHashMap<usize, Vec<usize>>,
}

#[derive(Clone, Copy)]
struct Named {
    /// `NONE` for none.
    finding: u32,
    stuck: bool,
}

impl NamedBy {
    const NONE: u32 = u32::MAX;

    fn new(goroutines: usize) -> Self {
        let none = Named {
            finding: Self::NONE,
            stuck: false,
        };
        NamedBy {
            first: vec![none; goroutines],
            more: FxHashMap::default(),
            more_of: FxHashMap::default(),
        }
    }

    /// Kept finding `k` names every goroutine of `set` (new to it), and says those
    /// of `stuck` (sorted) are stuck.
    fn add(&mut self, k: usize, set: &[usize], stuck: &[usize]) {
        for &g in set {
            let is_stuck = stuck.binary_search(&g).is_ok();
            if self.first[g].finding == Self::NONE {
                self.first[g] = Named {
                    finding: k as u32,
                    stuck: is_stuck,
                };
            } else {
                self.more.insert((g, k), is_stuck);
                self.more_of.entry(g).or_default().push(k);
            }
        }
    }

    fn names(&self, k: usize, g: usize) -> bool {
        self.first[g].finding == k as u32 || self.more.contains_key(&(g, k))
    }

    fn stuck(&self, k: usize, g: usize) -> bool {
        let first = self.first[g];
        if first.finding == k as u32 {
            return first.stuck;
        }
        self.more.get(&(g, k)) == Some(&true)
    }

    /// The kept findings that name goroutine `g`.
    fn of(&self, g: usize) -> impl Iterator<Item = usize> + '_ {
        let first = self.first[g].finding;
        (first != Self::NONE)
            .then_some(first as usize)
            .into_iter()
            .chain(self.more_of.get(&g).into_iter().flatten().copied())
    }
}

/// What a finding is apart from ids, input order and address values: its kind,
/// certainty and rule, and the stacks (which hold the lock's site) of the goroutines it names.
#[derive(PartialEq, Eq, Hash)]
struct Shape<'d> {
    kind: FindingKind,
    confidence: u64,
    claim: &'static str,
    /// What the lock is and where it is asked for, and whether its address is printed.
    lock: Option<(&'d str, &'d str, IdentityRule, bool)>,
    /// The `StackKey`s of the goroutines, as `StackIds` numbers them, sorted.
    holders: Vec<u32>,
    waiters: Vec<u32>,
    cycle: Vec<u32>,
}

/// A number per distinct `StackKey`: goroutines with equal keys get one number.
/// A key is read once per frame list (and count, minutes, state), not once per
/// goroutine a finding names, and its frames as numbers (one per distinct
/// function, file and line, read once per frame): a million stacks of their own
/// copy no frames.
struct StackIds<'d> {
    dump: &'d Dump<'d>,
    /// Per goroutine: its number once read, or `StackIds::UNREAD`.
    of_goroutine: Vec<u32>,
    by_list: FxHashMap<(u64, Option<u32>, &'d str, StackId), u32>,
    /// By frame handle: the number of what the frame says (`stack_key` reads its
    /// function, file and line).
    frame_ids: FxHashMap<usize, u32>,
    by_frame: FxHashMap<(&'d str, &'d str, u32), u32>,
    /// By count, minutes, state and frames (as numbered): the stack's number.
    by_key: FxHashMap<ListKey<'d>, u32>,
}

/// `stack_key` with the frames as `StackIds` numbers them: equal when the keys are.
#[derive(PartialEq, Eq, Hash)]
struct ListKey<'d> {
    count: u64,
    minutes: u32,
    state: &'d str,
    frames: Vec<u32>,
}

impl<'d> StackIds<'d> {
    const UNREAD: u32 = u32::MAX;

    fn new(dump: &'d Dump<'d>) -> Self {
        StackIds {
            dump,
            of_goroutine: vec![Self::UNREAD; dump.goroutines.len()],
            by_list: FxHashMap::default(),
            frame_ids: FxHashMap::default(),
            by_frame: FxHashMap::default(),
            by_key: FxHashMap::default(),
        }
    }

    fn of(&mut self, i: usize) -> u32 {
        if self.of_goroutine[i] == Self::UNREAD {
            self.of_goroutine[i] = self.read(i);
        }
        self.of_goroutine[i]
    }

    /// The number of goroutine `i`'s stack key, read.
    fn read(&mut self, i: usize) -> u32 {
        let g = &self.dump.goroutines[i];
        let list = (g.count, g.wait_minutes, g.state.raw, StackId::of(g));
        if let Some(&id) = self.by_list.get(&list) {
            return id;
        }
        let frames = g.frames.iter().map(|f| self.frame_id(f)).collect();
        let key = ListKey {
            count: g.count,
            minutes: g.wait_minutes.unwrap_or(0),
            state: g.state.raw,
            frames,
        };
        let next = self.by_key.len() as u32;
        let id = *self.by_key.entry(key).or_insert(next);
        self.by_list.insert(list, id);
        id
    }

    /// The number of what frame `f` says.
    fn frame_id(&mut self, f: &crate::model::Frame<'d>) -> u32 {
        if let Some(&id) = self.frame_ids.get(&f.handle()) {
            return id;
        }
        let next = self.by_frame.len() as u32;
        let id = *self
            .by_frame
            .entry((f.function.full(), f.file, f.line))
            .or_insert(next);
        self.frame_ids.insert(f.handle(), id);
        id
    }
}

fn shape<'d>(locks: &'d [Lock], f: &Finding, ids: &mut StackIds<'d>) -> Shape<'d> {
    let mut keys = |v: &[usize]| {
        let mut k: Vec<u32> = v.iter().map(|&g| ids.of(g)).collect();
        k.sort_unstable();
        k
    };
    Shape {
        kind: f.kind,
        confidence: f.confidence.to_bits(),
        claim: f.headline.claim(),
        lock: f.lock.map(|li| {
            let l = &locks[li];
            (&*l.primitive, &*l.site, l.rule, l.addr.is_some())
        }),
        holders: keys(&f.holders),
        waiters: keys(&f.waiters),
        cycle: keys(&f.cycle),
    }
}

/// The copies of one kept finding, folded into it as they come (none kept
/// whole): one finding, all the goroutines, a count.
#[derive(Default)]
struct Absorbed {
    /// A copy came.
    any: bool,
    /// The copies' own weaker findings, added after the finding's own.
    also: Vec<Also>,
}

impl Absorbed {
    /// Fold `copy` into `into`. A copy names none of the goroutines `into` names
    /// so far (`same_cause`), its holders among them: they are new to `into`'s,
    /// and only a holder listed twice in the copy itself is left out.
    fn take(&mut self, into: &mut Finding, copy: Finding) {
        self.any = true;
        into.copies += copy.copies;
        let mut seen: FxHashSet<usize> = FxHashSet::default();
        let mut new = |h: usize| copy.holders.len() < 2 || seen.insert(h);
        into.holders
            .extend(copy.holders.iter().copied().filter(|&h| new(h)));
        into.waiters.extend(copy.waiters);
        into.cycle.extend(copy.cycle);
        self.also.extend(copy.also);
    }

    /// Once every finding was read: the copies' weaker findings after the
    /// finding's own, its goroutines sorted by id, once each.
    fn finish(self, dump: &Dump, into: &mut Finding) {
        if !self.any {
            return;
        }
        into.also.extend(self.also);
        for v in [&mut into.waiters, &mut into.cycle] {
            v.sort_unstable();
            v.dedup();
            super::sort_by_id(dump, v);
        }
    }
}

/// `a` ranks before `b` on more than ids: it counts and `b` does not, or it is
/// more severe, surer or larger.
fn stronger(a: &Finding, a_size: usize, b: &Finding) -> bool {
    let rank = |f: &Finding, size: usize| {
        (
            !f.counts(),
            f.kind,
            std::cmp::Reverse((f.confidence * 100.0).round() as i64),
            std::cmp::Reverse(size),
        )
    };
    rank(a, a_size) < rank(b, b.size())
}

/// A finding's waiters and cycle, sorted, once each.
fn stuck_of(f: &Finding) -> Vec<usize> {
    let mut v: Vec<usize> = f.waiters.iter().chain(&f.cycle).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}
