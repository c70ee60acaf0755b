//! Findings with the same cause become one: a weaker finding whose goroutines are
//! all in a stronger one is folded into it (the fixpoint's deadlock and a leak rule
//! reading the same stuck send), and findings alike in everything but ids and
//! addresses (the same rule on the same stacks: copies of one bug) are one finding
//! with a count.

use super::{stack_key, Also, Finding, FindingKind, IdentityRule, Lock, StackKey};
use crate::model::Dump;

/// `findings` in rank order (strongest first) → the same with every finding that
/// has the cause of one before it folded into that one.
pub fn same_cause(dump: &Dump, locks: &[Lock], findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut shapes: Vec<Shape> = Vec::with_capacity(findings.len());
    let mut sets: Vec<Vec<usize>> = Vec::with_capacity(findings.len());
    // The goroutines each kept finding says are stuck (its waiters and cycle).
    let mut stuck: Vec<Vec<usize>> = Vec::with_capacity(findings.len());
    for f in findings {
        let set = f.goroutines();
        let f_stuck = stuck_of(&f);
        let shape = shape(dump, locks, &f);
        // Copies name goroutines of their own: findings alike that share one are
        // two readings of the same goroutines, not two copies.
        if let Some(k) = (0..out.len()).find(|&k| shapes[k] == shape && disjoint(&set, &sets[k])) {
            absorb_copy(dump, &mut out[k], f);
            sets[k] = out[k].goroutines();
            stuck[k] = stuck_of(&out[k]);
            continue;
        }
        // A deadlock speaks for any weaker finding about its goroutines; other
        // kinds only for findings of their own kind (a leak inside a stall's queue
        // is still a leak).
        // Only into a stronger one: of two that rank alike, which would fold into
        // which says only which has the lower ids. What the weaker one says is stuck
        // the stronger one says is stuck too (not only that it holds something).
        let folds_into = |k: usize| {
            (out[k].kind == FindingKind::Deadlock || out[k].kind == f.kind)
                && stronger(&out[k], &f)
                && is_subset(&set, &sets[k])
                && is_subset(&f_stuck, &stuck[k])
        };
        if let Some(k) = (!set.is_empty())
            .then(|| (0..out.len()).find(|&k| folds_into(k)))
            .flatten()
        {
            out[k].also.push(Also {
                kind: f.kind,
                confidence: f.confidence,
                headline: f.headline,
                evidence: f.evidence,
            });
            continue;
        }
        out.push(f);
        shapes.push(shape);
        sets.push(set);
        stuck.push(f_stuck);
    }
    out
}

/// What a finding is apart from ids, input order and address values: its kind,
/// certainty and rule, and the stacks (which hold the lock's site) of the goroutines it names.
#[derive(PartialEq, Eq)]
struct Shape<'d> {
    kind: FindingKind,
    confidence: u64,
    claim: &'static str,
    /// What the lock is and where it is asked for, and whether its address is printed.
    lock: Option<(&'d str, &'d str, IdentityRule, bool)>,
    holders: Vec<StackKey<'d>>,
    waiters: Vec<StackKey<'d>>,
    cycle: Vec<StackKey<'d>>,
}

fn shape<'d>(dump: &'d Dump, locks: &'d [Lock], f: &Finding) -> Shape<'d> {
    let keys = |v: &[usize]| {
        let mut k: Vec<StackKey> = v.iter().map(|&g| stack_key(dump, g)).collect();
        k.sort();
        k
    };
    Shape {
        kind: f.kind,
        confidence: f.confidence.to_bits(),
        claim: f.headline.claim(),
        lock: f.lock.map(|li| {
            let l = &locks[li];
            (
                l.primitive.as_str(),
                l.site.as_str(),
                l.rule,
                l.addr.is_some(),
            )
        }),
        holders: keys(&f.holders),
        waiters: keys(&f.waiters),
        cycle: keys(&f.cycle),
    }
}

/// Fold a copy of `into` into it: one finding, all the goroutines, a count.
fn absorb_copy(dump: &Dump, into: &mut Finding, copy: Finding) {
    into.copies += copy.copies;
    for h in copy.holders {
        if !into.holders.contains(&h) {
            into.holders.push(h);
        }
    }
    into.waiters.extend(copy.waiters);
    into.cycle.extend(copy.cycle);
    for v in [&mut into.waiters, &mut into.cycle] {
        v.sort_unstable();
        v.dedup();
        super::sort_by_id(dump, v);
    }
    into.also.extend(copy.also);
}

/// `a` ranks before `b` on more than ids: it counts and `b` does not, or it is
/// more severe, surer or larger.
fn stronger(a: &Finding, b: &Finding) -> bool {
    let rank = |f: &Finding| {
        (
            !f.counts(),
            f.kind,
            std::cmp::Reverse((f.confidence * 100.0).round() as i64),
            std::cmp::Reverse(f.size()),
        )
    };
    rank(a) < rank(b)
}

/// A finding's waiters and cycle, sorted, once each.
fn stuck_of(f: &Finding) -> Vec<usize> {
    let mut v: Vec<usize> = f.waiters.iter().chain(&f.cycle).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Both sorted.
fn disjoint(a: &[usize], b: &[usize]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return false,
        }
    }
    true
}

/// Both sorted.
fn is_subset(a: &[usize], b: &[usize]) -> bool {
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
    }
    true
}
