//! Holds: who likely holds each lock, each candidate with the evidence that decided
//! (got in past the asking call, the lock's address or its object's in a frame's
//! arguments, methods of the lock's type), weighed by distinct stacks.
//!
//! In order: `anchors` (the addresses that tie a frame to each lock), `prepare`
//! (every goroutine read once into buckets alike, with indexes), `candidates` (the
//! buckets that may hold evidence on one lock), `rank` (each lock's candidates
//! weighed, best first).

mod anchors;
mod candidates;
mod lines;
mod prepare;
mod rank;

use super::classify::{Blocked, WaitKind};
use super::findings::HolderEvidence;
use super::release::{self, Releasers};
use super::Lock;
use crate::group::{Alike, Group};
use crate::model::{Dump, Goroutine};
pub use prepare::Prepared;
pub use rank::rank;

/// Rank the likely holders of every lock, and say which queues nothing running
/// could be serving.
pub fn assign(
    dump: &Dump,
    blocked: &[Blocked],
    groups: &[Group],
    group_of: &[usize],
    alike: &[Alike],
    locks: &mut [Lock],
) {
    let mut timer = crate::PhaseTimer::default();
    let prep = Prepared::new(dump, blocked, groups, group_of, locks);
    timer.done("holders: prepare");
    // On a CPU, runnable or in a syscall: what may move a queue. Not the dump's
    // own trigger (the goroutine panicking, printing, or the test alarm): it runs
    // the program on no further.
    let panicking = super::fixpoint::panicking(dump, blocked);
    let running: Vec<usize> = (0..blocked.len())
        .filter(|&i| blocked[i].kind.is_active() || blocked[i].kind == WaitKind::Syscall)
        .filter(|&i| {
            let g = &dump.goroutines[i];
            Some(i) != panicking
                && !matches!(
                    super::fixpoint::role(g, &blocked[i]),
                    super::fixpoint::Role::Trigger(_)
                )
        })
        .collect();
    let releasers = Releasers::read(dump, blocked, alike, &running);
    for lock in locks.iter_mut() {
        lock.scope = release::scope(dump, blocked, lock);
        lock.quiet = releasers.quiet(lock.scope);
        lock.all_stuck = releasers.stuck(lock.scope);
    }
    // Each lock is ranked on its own (ranking reads its scope): on every core
    // for a large dump.
    let holders = super::by_items(dump.goroutines.len(), locks, |li, lock| {
        let mut h = rank(dump, blocked, groups, group_of, &prep, li, lock);
        outweighed_circumstance(&mut h);
        h
    });
    // Whether a candidate runs the program's code, read once per goroutine: one
    // goroutine (a server's accept loop) may be a candidate of every lock.
    let mut runs_program: Vec<Option<bool>> = vec![None; dump.goroutines.len()];
    for (lock, mut h) in locks.iter_mut().zip(holders) {
        if lock.scope == release::Scope::Program {
            h.retain(|c| {
                *runs_program[c.goroutine]
                    .get_or_insert_with(|| release::runs_program(&dump.goroutines[c.goroutine]))
            });
        }
        lock.holders = h;
    }
    timer.done("holders: rank");
}

/// Candidates on circumstance alone (blocked, a unique stack, waiting longer:
/// what many goroutines share) ranked below one that evidence points at add
/// nothing to it, and are dropped. A lock with no such candidate keeps them.
fn outweighed_circumstance(candidates: &mut Vec<Candidate>) {
    if let Some(first) = candidates.iter().position(|c| c.strong) {
        let mut i = 0;
        candidates.retain(|c| {
            i += 1;
            i <= first + 1 || c.strong
        });
        candidates.shrink_to_fit();
    }
}

/// A holder needs at least this score to be drawn in the waits-for graph.
pub const EDGE_THRESHOLD: f64 = 0.2;

/// How far into an object a lock field may sit for "the lock is inside it".
const MAX_FIELD_OFFSET: u64 = 256;

/// A goroutine that may hold a lock, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub goroutine: usize,
    pub score: f64,
    /// It has a frame past the point where the waiters ask for the lock: the index
    /// of that frame ("lock taken here").
    pub got_in: Option<usize>,
    /// Rests on evidence that points at this goroutine (got in, the lock's address,
    /// methods of the lock's type), not only on circumstance (same file, blocked).
    pub strong: bool,
    /// It waits on the very mutex it likely holds (re-entered): a self-deadlock.
    pub reentered: bool,
    pub evidence: Vec<HolderEvidence>,
}

/// The weight of "blocked" evidence for a wait of this kind, if any.
fn blocked_weight(kind: WaitKind) -> Option<f64> {
    match kind {
        k if k.is_lock() || k == WaitKind::WaitGroupWait => Some(0.1),
        WaitKind::SelectNoCases | WaitKind::Other => None,
        k if k.is_active() => None,
        _ => Some(0.05),
    }
}

/// Where a goroutine's own frames start: past its current wait's machinery, and
/// for a waiter of this lock, past the frame that asks for it.
fn own_start(g: &Goroutine, b: &Blocked, is_waiter: bool) -> usize {
    if is_waiter {
        b.lock_frame().map(|l| l + 1).unwrap_or(g.frames.len())
    } else {
        b.lock_frame().unwrap_or(0)
    }
}

/// Kinds of holder evidence, for weighing how many candidates share each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ev {
    GotIn,
    /// It waits on a mutex its own caller already holds.
    Reentered,
    Address,
    SameType,
    Blocked,
    Unique,
    Longer,
}

impl Ev {
    /// How many kinds there are (each an index below it).
    const COUNT: usize = 7;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Rank from every bucket instead of the indexed candidates.
        pub static EXHAUSTIVE: Cell<bool> = const { Cell::new(false) };
    }

    fn candidate(goroutine: usize, score: f64, strong: bool) -> Candidate {
        Candidate {
            goroutine,
            score,
            got_in: None,
            strong,
            reentered: false,
            evidence: Vec::new(),
        }
    }

    /// Circumstance ranked below evidence goes; circumstance above it, or on a
    /// lock no evidence points into, stays.
    #[test]
    fn circumstance_below_evidence_is_dropped() {
        let kept = |c: &[(usize, f64, bool)]| {
            let mut v: Vec<Candidate> = c.iter().map(|&(g, s, st)| candidate(g, s, st)).collect();
            outweighed_circumstance(&mut v);
            v.iter().map(|c| c.goroutine).collect::<Vec<_>>()
        };
        let below = [
            (1, 0.9, true),
            (2, 0.1, false),
            (3, 0.3, true),
            (4, 0.05, false),
        ];
        assert_eq!(kept(&below), [1, 3]);
        let above = [(1, 0.3, false), (2, 0.2, true), (3, 0.1, false)];
        assert_eq!(kept(&above), [1, 2]);
        let none = [(1, 0.1, false), (2, 0.05, false)];
        assert_eq!(kept(&none), [1, 2]);
    }

    fn holders(dump: &Dump, exhaustive: bool) -> Vec<Vec<Candidate>> {
        let blocked = crate::analyze::classify::classify_all(dump);
        let (grouping, mut locks) =
            crate::analyze::groups_and_locks(dump, &blocked, Default::default());
        EXHAUSTIVE.set(exhaustive);
        assign(
            dump,
            &blocked,
            &grouping.groups,
            &grouping.group_of,
            &grouping.alike,
            &mut locks,
        );
        EXHAUSTIVE.set(false);
        locks.into_iter().map(|l| l.holders).collect()
    }

    /// On every recorded dump of the project, the candidates found through the
    /// indexes rank exactly as reading every bucket for every lock does.
    #[test]
    fn indexed_candidates_rank_as_reading_every_bucket() {
        let mut files = Vec::new();
        let mut dirs = vec![
            std::path::PathBuf::from("fixtures/dumps"),
            std::path::PathBuf::from("fixtures/recorded"),
        ];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "txt") {
                    files.push(p);
                }
            }
        }
        let (mut locks, mut with_holders) = (0, 0);
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            for dump in crate::parse::parse(&text).dumps {
                let indexed = holders(&dump, false);
                assert_eq!(indexed, holders(&dump, true), "{}", f.display());
                locks += indexed.len();
                with_holders += indexed.iter().filter(|h| !h.is_empty()).count();
            }
        }
        assert!(
            files.len() > 100 && with_holders > 100,
            "{locks} locks read"
        );
    }
}
