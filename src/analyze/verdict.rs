//! Verdicts with proof: the deadlock, stall, leak and contention rules, each a
//! finding (as data) with the evidence it rests on.

use super::classify::{self, Blocked, StackId, WaitKind};
use super::graph::{EdgeReason, OutEdge, WaitGraph};
use super::{
    display_id, fixpoint, hang, holds, short_file, sort_by_id, stack_key, Evidence, Finding,
    FindingKind, FrameRef, Headline, Lock, StackKey, Verdict, VERDICT_THRESHOLD,
};
use crate::group::Group;
use crate::model::{Dump, Format, Goroutine, Trigger};

/// Every finding of the dump, unranked: deadlock cycles first (a cycle sure
/// enough to set the verdict speaks for the locks in it), then each lock's, the
/// leaks, what the fixpoint proves, the runtime's own word, a test that timed out.
pub(super) fn findings(
    dump: &Dump,
    blocked: &[Blocked],
    locks: &[Lock],
    graph: &WaitGraph,
    leaks: Vec<Finding>,
) -> Vec<Finding> {
    let mut timer = crate::PhaseTimer::default();
    let cycles = graph.cycles();
    timer.done("  verdict: cycles");
    // A finding per cycle and at most one per lock, before the leaks: sized once.
    let mut findings = Vec::with_capacity(cycles.len() + locks.len());
    let mut in_cycle = vec![false; dump.goroutines.len()];
    for c in &cycles {
        let f = deadlock_finding(dump, locks, graph, c);
        if f.confidence >= VERDICT_THRESHOLD {
            for &g in c {
                in_cycle[g] = true;
            }
        }
        findings.push(f);
    }
    for (li, lock) in locks.iter().enumerate() {
        // A lock held inside a deadlock cycle is told by the deadlock finding.
        if lock.top_holder().is_some_and(|h| in_cycle[h.goroutine]) {
            continue;
        }
        // A signal wait that nobody got in past has no holder to report: what
        // may be wrong with it is told by the leak and fixpoint rules.
        if lock.is_signal_wait() && lock.top_holder().is_none() {
            continue;
        }
        findings.push(lock_finding(dump, blocked, locks, li, &in_cycle));
    }
    timer.done("  verdict: lock findings");
    findings.extend(leaks);
    if let Some(stuck) = fixpoint::stuck(dump, blocked) {
        fixpoint::apply(dump, blocked, locks, &stuck, &mut findings);
    }
    timer.done("  verdict: fixpoint");
    all_asleep(dump, blocked, &mut findings);
    findings.extend(hang::finding(dump, blocked, locks));
    findings
}

/// The runtime's own `all goroutines are asleep`: a deadlock for sure, whatever
/// else proves it.
fn all_asleep(dump: &Dump, blocked: &[Blocked], findings: &mut Vec<Finding>) {
    if dump.trigger != Trigger::AllAsleep {
        return;
    }
    if !findings.iter().any(|f| f.kind == FindingKind::Deadlock) {
        let waiters: Vec<usize> = (0..dump.goroutines.len())
            .filter(|&i| !blocked[i].kind.is_background() && dump.goroutines[i].complete)
            .collect();
        findings.push(Finding {
            kind: FindingKind::Deadlock,
            confidence: 1.0,
            lock: None,
            holders: Vec::new(),
            waiters,
            cycle: Vec::new(),
            headline: Headline::AllAsleep,
            holder_wait: None,
            copies: 1,
            also: Vec::new(),
            evidence: vec![Evidence::Preamble],
        });
    }
    for f in findings
        .iter_mut()
        .filter(|f| f.kind == FindingKind::Deadlock)
    {
        f.confidence = 1.0;
        if !f.evidence.contains(&Evidence::RuntimeAllAsleep) {
            f.evidence.insert(0, Evidence::RuntimeAllAsleep);
        }
    }
}

/// Certain enough to count first, then the most severe, the surest, the largest.
pub(super) fn rank(dump: &Dump, findings: &mut [Finding]) {
    use std::cmp::Reverse;
    // Each key made once and the keys sorted (stable), not the findings: a
    // quarter of a million lock findings of 224 bytes each are moved once.
    findings.sort_by_cached_key(|f| {
        (
            Reverse(f.counts()),
            f.kind,
            Reverse(total_order(f.confidence)),
            Reverse(f.size()),
            Reverse(f.waiters.len()),
            f.holders.first().map(|&h| display_id(dump, h)),
        )
    });
}

/// `x` as an integer that orders as `f64::total_cmp` orders floats.
fn total_order(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The most severe verdict of the findings that count; ok when none does.
pub(super) fn of(findings: &[Finding]) -> Verdict {
    findings
        .iter()
        .filter(|f| f.confidence >= VERDICT_THRESHOLD)
        .filter_map(|f| f.kind.verdict())
        .min()
        .unwrap_or(Verdict::Ok)
}

pub(super) fn deadlock_finding(
    dump: &Dump,
    locks: &[Lock],
    graph: &WaitGraph,
    cycle: &[usize],
) -> Finding {
    let held = CycleLocks::of(dump, locks, cycle);
    let holders_v = cycle_holders(dump, graph, cycle, &held);
    let main = held.main();
    let mut waiters = cycle_waiters(locks, cycle, &held, main, holders_v.first().copied());
    sort_by_id(dump, &mut waiters);
    let mut members = cycle.to_vec();
    sort_by_id(dump, &mut members);
    let mut evidence = vec![if cycle.len() == 1 {
        Evidence::Reentry {
            goroutine: cycle[0],
        }
    } else {
        Evidence::Cycle {
            members: members.clone(),
        }
    }];
    let conf = cycle_edges(graph, cycle, &mut evidence);
    let first = holders_v.first().copied();
    let headline = cycle_headline(graph, cycle, &held, main, first, &members);
    Finding {
        kind: FindingKind::Deadlock,
        confidence: round2(conf.clamp(0.05, 0.99)),
        lock: main,
        holders: holders_v,
        waiters,
        cycle: members,
        headline,
        holder_wait: first,
        copies: 1,
        also: Vec::new(),
        evidence,
    }
}

/// The cycle's locks: those held by a member and waited on by a member, in order.
struct CycleLocks<'l> {
    /// (index into the locks, lock): most waiters first, then the surest holder,
    /// then what tells the locks apart other than ids, input order and addresses.
    held: Vec<(usize, &'l Lock)>,
    /// How many locks lead the order alike in all of that (a ring of goroutines
    /// each holding one lock the next waits for: none is the main one).
    alike_first: usize,
}

impl<'l> CycleLocks<'l> {
    /// The locks held and waited on inside the cycle, ordered.
    fn of(dump: &Dump, locks: &'l [Lock], cycle: &[usize]) -> Self {
        let held: Vec<(usize, &Lock)> = locks
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.top_holder().is_some_and(|h| cycle.contains(&h.goroutine))
                    && l.waiters.iter().any(|w| cycle.contains(w))
            })
            .collect();
        // Most waiters first, then the surest holder, then what tells the locks apart
        // other than ids, input order and address values.
        let score = |l: &Lock| l.top_holder().map(|h| h.score).unwrap_or(0.0);
        let keys: Vec<LockKey> = held.iter().map(|(_, l)| lock_key(dump, l)).collect();
        let mut order: Vec<usize> = (0..held.len()).collect();
        let rank = |&i: &usize, &j: &usize| {
            let (a, b) = (held[i].1, held[j].1);
            b.waiter_count(dump)
                .cmp(&a.waiter_count(dump))
                .then(score(b).total_cmp(&score(a)))
                .then_with(|| keys[i].cmp(&keys[j]))
        };
        order.sort_by(rank);
        // Locks of the cycle alike in all of that (a ring of goroutines each holding
        // one lock the next waits for): none is the main one.
        let alike_first = order
            .iter()
            .take_while(|&i| rank(i, &order[0]) == std::cmp::Ordering::Equal)
            .count();
        let held = order.iter().map(|&i| held[i]).collect();
        CycleLocks { held, alike_first }
    }

    /// The main lock of the cycle, unless the first locks are alike.
    fn main(&self) -> Option<usize> {
        self.held
            .first()
            .filter(|_| self.alike_first < 2)
            .map(|(li, _)| *li)
    }
}

/// The cycle's holders: of its locks in order (holders of alike locks are alike
/// too, shown by id), then a WaitGroup or channel waiter of the cycle, which holds
/// up the children it waits for.
fn cycle_holders(dump: &Dump, graph: &WaitGraph, cycle: &[usize], held: &CycleLocks) -> Vec<usize> {
    let mut holders_v: Vec<usize> = Vec::new();
    for (k, (_, l)) in held.held.iter().enumerate() {
        if let Some(h) = l.top_holder() {
            if !holders_v.contains(&h.goroutine) {
                holders_v.push(h.goroutine);
            }
        }
        // Holders of alike locks are alike too: shown by id.
        if k + 1 == held.alike_first {
            sort_by_id(dump, &mut holders_v);
        }
    }
    // A WaitGroup waiter in the cycle holds up its children: it comes after lock holders.
    for &c in cycle {
        if !holders_v.contains(&c)
            && graph.out_edges(c).iter().any(|o| {
                matches!(
                    o.edge.reason,
                    EdgeReason::WaitGroupChild
                        | EdgeReason::ChannelChild
                        | EdgeReason::WaitGroupMember { .. }
                )
            })
        {
            holders_v.push(c);
        }
    }
    holders_v
}

/// The cycle's waiters (unsorted): the main lock's but its first holder; with
/// alike locks, the waiters of every one of them but a holder waiting on its own;
/// with no lock, the cycle's members but its first holder.
fn cycle_waiters(
    locks: &[Lock],
    cycle: &[usize],
    held: &CycleLocks,
    main: Option<usize>,
    first_holder: Option<usize>,
) -> Vec<usize> {
    match main {
        Some(li) => locks[li]
            .waiters
            .iter()
            .copied()
            .filter(|&w| Some(w) != first_holder)
            .collect(),
        // The waiters of every lock alike, but for a holder waiting on its own.
        None if held.alike_first >= 2 => {
            let mut v: Vec<usize> = held.held[..held.alike_first]
                .iter()
                .flat_map(|(_, l)| {
                    let h = l.top_holder().map(|h| h.goroutine);
                    l.waiters.iter().copied().filter(move |&w| Some(w) != h)
                })
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        None => cycle
            .iter()
            .copied()
            .filter(|&w| Some(w) != first_holder)
            .collect(),
    }
}

/// The evidence of each edge between members of the cycle, pushed in order; returns
/// the cycle's confidence, that of its weakest edge.
fn cycle_edges(graph: &WaitGraph, cycle: &[usize], evidence: &mut Vec<Evidence>) -> f64 {
    let mut conf: f64 = 1.0;
    for &c in cycle {
        for OutEdge { to: t, edge: e } in graph.out_edges(c) {
            if !cycle.contains(&t) {
                continue;
            }
            conf = conf.min(e.confidence);
            evidence.push(match e.reason {
                EdgeReason::HeldLock { lock } => Evidence::HeldLock {
                    waiter: c,
                    lock,
                    holder: t,
                },
                EdgeReason::PendingWriter { lock } => Evidence::PendingWriter {
                    reader: c,
                    lock,
                    writer: t,
                },
                EdgeReason::ChannelParent => Evidence::ChannelParent {
                    child: c,
                    parent: t,
                },
                EdgeReason::ChannelChild => Evidence::ChannelChild {
                    waiter: c,
                    child: t,
                },
                EdgeReason::WaitGroupChild => Evidence::WaitGroupChild {
                    waiter: c,
                    child: t,
                },
                EdgeReason::WaitGroupMember { addr } => Evidence::WaitGroupMember {
                    waiter: c,
                    member: t,
                    addr,
                },
                EdgeReason::ChannelPeer { addr } => Evidence::ChannelPeer {
                    holder: c,
                    peer: t,
                    addr,
                },
            });
        }
    }
    conf
}

/// What the cycle finding states: a holder of the main lock waiting in the cycle
/// (on itself: re-entry), a ring of alike locks, a WaitGroup waiter and the
/// children it waits for, or goroutines waiting on each other.
fn cycle_headline(
    graph: &WaitGraph,
    cycle: &[usize],
    held: &CycleLocks,
    main: Option<usize>,
    first: Option<usize>,
    members: &[usize],
) -> Headline {
    match (main, first) {
        (Some(lock), Some(holder)) => Headline::HoldsInCycle {
            holder,
            lock,
            on_itself: cycle.len() == 1,
        },
        _ if held.alike_first >= 2 => Headline::AlikeLocksCycle {
            members: members.to_vec(),
            locks: held.alike_first,
            lock: held.held[0].0,
        },
        (None, Some(h))
            if graph.out_edges(h).iter().any(|o| {
                matches!(
                    o.edge.reason,
                    EdgeReason::WaitGroupChild | EdgeReason::WaitGroupMember { .. }
                )
            }) =>
        {
            Headline::WaitGroupCycle {
                waiter: h,
                children: cycle.len() - 1,
            }
        }
        _ => Headline::EachOther {
            members: members.to_vec(),
        },
    }
}

/// What a lock is known by apart from ids, input order and address values: what it
/// is, where it is asked for, how long it has been waited on, and the stacks of its
/// top holder and of its waiters (one of each alike).
type LockKey<'d> = (
    std::sync::Arc<str>,
    std::sync::Arc<str>,
    std::cmp::Reverse<u32>,
    Option<StackKey<'d>>,
    Vec<StackKey<'d>>,
);

fn lock_key<'d>(dump: &'d Dump, l: &Lock) -> LockKey<'d> {
    let mut waiters: Vec<StackKey> = l.alike.iter().map(|&w| stack_key(dump, w)).collect();
    waiters.sort();
    (
        l.primitive.clone(),
        l.site.clone(),
        std::cmp::Reverse(l.max_wait),
        l.top_holder().map(|h| stack_key(dump, h.goroutine)),
        waiters,
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(super) fn lock_finding(
    dump: &Dump,
    blocked: &[Blocked],
    locks: &[Lock],
    li: usize,
    in_cycle: &[bool],
) -> Finding {
    let lock = &locks[li];
    let q = QueueFacts::of(dump, blocked, li, lock);
    // The queue, its longest wait, three candidates, quiet, all stuck: sized once
    // (a lock finding per lock, a quarter of a million of them).
    let mut evidence = Vec::with_capacity(
        1 + usize::from(q.max_wait > 0)
            + lock.holders.len().min(3)
            + usize::from(q.quiet)
            + usize::from(q.stuck.is_some()),
    );
    evidence.push(Evidence::Queue {
        waiters: q.waiters_n,
        lock: li,
    });
    if q.max_wait > 0 {
        evidence.push(Evidence::LongestWait {
            minutes: q.max_wait,
        });
    }
    let mut waiters = lock.waiters.clone();
    let holder = lock.top_holder();
    if let Some(h) = holder {
        waiters.retain(|&w| w != h.goroutine);
    }
    sort_by_id(dump, &mut waiters);
    let holders_v: Vec<usize> = lock
        .holders
        .iter()
        .filter(|c| c.score >= holds::EDGE_THRESHOLD && c.strong)
        .map(|c| c.goroutine)
        .collect();
    for c in lock.holders.iter().take(3) {
        evidence.push(Evidence::Candidate {
            lock: li,
            goroutine: c.goroutine,
        });
    }
    if q.quiet {
        evidence.push(Evidence::Quiet { scope: lock.scope });
    }
    if let Some(n) = q.stuck {
        evidence.push(Evidence::AllStuck {
            goroutines: n,
            scope: lock.scope,
        });
    }
    // Goroutines, not records: a debug=1 record stands for its count of them.
    let queue_n: usize = waiters
        .iter()
        .map(|&w| dump.goroutines[w].count as usize)
        .sum();
    let mut outcome = match holder {
        Some(h) => held_outcome(dump, blocked, &q, h, in_cycle, queue_n),
        None => unheld_outcome(&q, queue_n),
    };
    if let (FindingKind::Stall, Some(h)) = (outcome.kind, outcome.holder_wait) {
        if blocked[h].kind == WaitKind::Hidden {
            outcome.confidence = outcome.confidence.min(HIDDEN_WAIT_STALL);
            evidence.push(Evidence::HolderWaitHidden);
        }
    }
    Finding {
        kind: outcome.kind,
        confidence: round2(outcome.confidence),
        lock: Some(li),
        holders: holders_v,
        waiters,
        cycle: Vec::new(),
        headline: outcome.headline,
        holder_wait: outcome.holder_wait,
        copies: 1,
        also: Vec::new(),
        evidence,
    }
}

/// A stall whose holder's wait debug=1 hides: it may be a select with a timeout.
const HIDDEN_WAIT_STALL: f64 = 0.5;

/// What a lock finding reads of the lock's queue.
struct QueueFacts<'l> {
    li: usize,
    lock: &'l Lock,
    /// Goroutines waiting (records' counts summed).
    waiters_n: u64,
    /// The longest wait printed among the waiters, in minutes.
    max_wait: u32,
    /// Confidence that the program is stuck here, from the queue and its age.
    queue: f64,
    /// Nothing that could serve the queue is running.
    quiet: bool,
    /// Every goroutine that could release the lock is blocked (`Lock::all_stuck`):
    /// their number. Never for a signal wait.
    stuck: Option<usize>,
    /// The lock is taken inside the standard library.
    std_lock: bool,
    signal_wait: bool,
    /// The candidates a mutex's holder is ambiguous between, all blocked for good.
    tied_blocked: Vec<usize>,
}

impl<'l> QueueFacts<'l> {
    fn of(dump: &Dump, blocked: &[Blocked], li: usize, lock: &'l Lock) -> Self {
        let waiters_n = lock.waiter_count(dump);
        let max_wait = lock.max_wait;
        // A signal wait (a Cond, a channel, a semaphore) has no holder but one that
        // got in: its waiters wait for a Signal or a send, as idle workers on an empty
        // queue do. Only a named holder makes it a finding; a quiet queue of them is
        // no stall.
        let signal_wait = lock.is_signal_wait();
        // Confidence that the program is stuck here grows with the queue and its age.
        // Idle workers of one stack queue alike on a signal wait: there the queue
        // counts distinct stacks, not goroutines.
        let queued = if signal_wait {
            lock.alike.len() as u64
        } else {
            waiters_n
        };
        let queue = (0.15 + 0.05 * queued.min(10) as f64 + 0.1 * max_wait.min(5) as f64).min(0.9);
        let stuck = if signal_wait { None } else { lock.all_stuck };
        QueueFacts {
            li,
            lock,
            waiters_n,
            max_wait,
            queue,
            // Nothing that could serve the queue is running: it is not going to move.
            quiet: lock.quiet,
            stuck,
            std_lock: std_lock(dump, blocked, lock),
            signal_wait,
            tied_blocked: tied_blocked(blocked, lock),
        }
    }
}

/// A lock taken inside the standard library (a connection's read lock) is held
/// across IO by design: without minutes of waiting it is contention, not a stall.
/// (Waiters alike share their site: one of each stands for all.)
fn std_lock(dump: &Dump, blocked: &[Blocked], lock: &Lock) -> bool {
    lock.alike.iter().all(|&w| {
        let g = &dump.goroutines[w];
        blocked[w]
            .site()
            .and_then(|f| g.frames.get(f))
            .is_some_and(|f| classify::is_std(&f.function))
    })
}

/// The candidates a mutex's holder is ambiguous between, when all are blocked
/// with no bound on the wait (none running, sleeping or in a syscall).
fn tied_blocked(blocked: &[Blocked], lock: &Lock) -> Vec<usize> {
    if !lock.holder_ambiguous() {
        return Vec::new();
    }
    let first = &lock.holders[0];
    let tied: Vec<usize> = lock
        .holders
        .iter()
        .take_while(|c| c.score == first.score && c.strong == first.strong)
        .map(|c| c.goroutine)
        .collect();
    let unbounded = |g: usize| {
        let k = blocked[g].kind;
        k.is_lock() || k.is_chan() || k == WaitKind::IoWait || k == WaitKind::WaitGroupWait
    };
    if first.score >= holds::EDGE_THRESHOLD && first.strong && tied.iter().all(|&g| unbounded(g)) {
        tied
    } else {
        Vec::new()
    }
}

/// What a lock finding concludes.
struct Outcome {
    kind: FindingKind,
    confidence: f64,
    headline: Headline,
    holder_wait: Option<usize>,
}

/// With a named holder: it waits on a lock or a WaitGroup with everything around
/// it stuck (a deadlock); it waits with no bound (a stall, unless a standard
/// library lock held across IO without minutes of waiting); else contention.
fn held_outcome(
    dump: &Dump,
    blocked: &[Blocked],
    q: &QueueFacts,
    h: &holds::Candidate,
    in_cycle: &[bool],
    queue_n: usize,
) -> Outcome {
    let (li, hg) = (q.li, h.goroutine);
    let sync_blocked = |k: WaitKind| k.is_lock() || k == WaitKind::WaitGroupWait;
    if sync_blocked(blocked[hg].kind) && q.stuck.is_some() {
        Outcome {
            kind: FindingKind::Deadlock,
            confidence: (0.3 + h.score * 0.3).min(0.6),
            headline: Headline::HoldsBlockedOnLock {
                holder: hg,
                lock: li,
            },
            holder_wait: Some(hg),
        }
    } else if waits_unboundedly(dump, blocked, hg) && (!q.std_lock || q.max_wait >= 1) {
        Outcome {
            kind: FindingKind::Stall,
            confidence: (h.score.min(0.9) * 0.5 + q.queue * 0.6 + if q.quiet { 0.15 } else { 0.0 })
                .min(0.95),
            headline: Headline::HoldsWhileBlocked {
                holder: hg,
                lock: li,
                in_cycle: in_cycle[hg],
                queue: queue_n,
            },
            holder_wait: Some(hg),
        }
    } else {
        Outcome {
            kind: FindingKind::Contention,
            confidence: (h.score * 0.5).min(0.6),
            headline: Headline::HoldsAndIs {
                holder: hg,
                lock: li,
                queue: queue_n,
            },
            holder_wait: Some(hg),
        }
    }
}

/// With no holder named: tied holders all blocked for good (a stall), everyone
/// where it is asked for blocked (a deadlock), a long quiet queue or minutes of
/// waiting (a stall), else contention.
fn unheld_outcome(q: &QueueFacts, queue_n: usize) -> Outcome {
    let (li, waiters_n, max_wait) = (q.li, q.waiters_n, q.max_wait);
    let outcome = |kind, confidence, headline| Outcome {
        kind,
        confidence,
        headline,
        holder_wait: None,
    };
    if !q.tied_blocked.is_empty() {
        // Two or more holders stand on equal evidence and every one of them is
        // blocked on a wait with no bound: whichever it is, the queue waits on it.
        Outcome {
            kind: FindingKind::Stall,
            confidence: (0.3 + q.queue * 0.3).min(0.5),
            headline: Headline::AmbiguousHolders {
                queue: queue_n,
                lock: li,
                candidates: q.tied_blocked.clone(),
            },
            holder_wait: Some(q.tied_blocked[0]),
        }
    } else if q.stuck.is_some() {
        outcome(
            FindingKind::Deadlock,
            0.4,
            Headline::EveryHolderBlocked {
                queue: queue_n,
                lock: li,
            },
        )
    } else if waiters_n >= 10 && !q.signal_wait && q.quiet && !q.std_lock {
        // A long queue that nothing runnable could be serving: likely stuck, even in
        // a dump taken seconds into the hang.
        outcome(
            FindingKind::Stall,
            (0.3 + 0.005 * waiters_n.min(40) as f64 + 0.1 * max_wait.min(3) as f64).min(0.6),
            Headline::NothingRunning {
                queue: queue_n,
                lock: li,
                possibly: q.lock.holders.first().map(|c| c.goroutine),
            },
        )
    } else if max_wait >= 1 {
        outcome(
            FindingKind::Stall,
            (0.1 * max_wait.min(5) as f64 + 0.02 * waiters_n.min(10) as f64).min(0.6),
            Headline::WaitedLong {
                queue: queue_n,
                lock: li,
                minutes: max_wait,
            },
        )
    } else {
        outcome(
            FindingKind::Contention,
            0.1,
            Headline::Waiting {
                queue: queue_n,
                lock: li,
            },
        )
    }
}

/// A holder whose wait has no bound in sight makes its queue a stall: a lock or a
/// channel, the network, a WaitGroup, a wait the format hides. One that computes,
/// is in a syscall, sleeps a short while (`time.Sleep`'s argument is printed) or
/// sits in a `select` that may hold a timeout makes it contention, unless the
/// dump says it has waited a minute or more.
fn waits_unboundedly(dump: &Dump, blocked: &[Blocked], g: usize) -> bool {
    let minutes = dump.goroutines[g].wait_minutes.unwrap_or(0) >= 1;
    match blocked[g].kind {
        WaitKind::Running | WaitKind::Runnable | WaitKind::Syscall => false,
        WaitKind::Select => minutes,
        WaitKind::Sleep => {
            minutes || sleep_ns(&dump.goroutines[g]).is_some_and(|ns| ns >= LONG_SLEEP_NS)
        }
        _ => true,
    }
}

/// A sleep of ten seconds or more inside a critical section is no short pause.
const LONG_SLEEP_NS: u64 = 10_000_000_000;

/// The duration `time.Sleep` was called with, when its frame prints it for sure.
fn sleep_ns(g: &Goroutine) -> Option<u64> {
    g.frames_args()
        .find(|(f, _)| f.function.full() == "time.Sleep")
        .and_then(|(_, args)| args.first_certain_word())
}

pub(super) fn leak_findings(
    dump: &Dump,
    blocked: &[Blocked],
    groups: &[Group],
    locks: &[Lock],
) -> Vec<Finding> {
    let on_stack = OnStack::new(dump, blocked);
    let waiting_on_lock = waiting_on_lock(dump, locks);
    leak_sites(dump, blocked, groups, &waiting_on_lock)
        .iter()
        .filter_map(|grp| leak_finding(dump, blocked, &on_stack, grp))
        .collect()
}

/// Per goroutine: it waits on a lock some finding speaks of. A signal wait (a
/// channel, a Cond) that nobody got in past is no lock: its waiters may still have
/// leaked.
fn waiting_on_lock(dump: &Dump, locks: &[Lock]) -> Vec<bool> {
    let mut waiting_on_lock = vec![false; dump.goroutines.len()];
    for l in locks
        .iter()
        .filter(|l| !l.is_signal_wait() || l.top_holder().is_some())
    {
        for &w in &l.waiters {
            waiting_on_lock[w] = true;
        }
    }
    waiting_on_lock
}

/// Where goroutines that may have leaked wait: one per wait kind, blocking site
/// (as `frame_label` words it: the function, and its short file and line when it
/// has a file) and whether the runtime marked them all `(leaked)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LeakSite<'d> {
    kind: WaitKind,
    function: &'d str,
    at: Option<(&'d str, u32)>,
    marked: bool,
}

impl<'d> LeakSite<'d> {
    /// Goroutine `g`'s site `site` (none: no site).
    fn of(g: &'d Goroutine, kind: WaitKind, site: Option<usize>, marked: bool) -> Self {
        let f = site.map(|s| &g.frames[s]);
        LeakSite {
            kind,
            function: f.map_or("", |f| f.function.full()),
            at: f
                .filter(|f| !f.file.is_empty())
                .map(|f| (short_file(f.file), f.line)),
            marked,
        }
    }
}

/// Every goroutine of the group was marked `(leaked)` by the runtime.
fn all_marked(dump: &Dump, grp: &Group) -> bool {
    grp.members.iter().all(|&m| dump.goroutines[m].leaked)
}

/// Stacks that differ only below the blocking site leak at the same place: the
/// groups that may have leaked, joined per `LeakSite`, in order. A lock's waiters
/// are the lock findings' to speak of, and the standard library's own goroutines
/// (connection loops, pools) wait by design: only the runtime's `(leaked)` mark
/// speaks for them.
fn leak_sites(
    dump: &Dump,
    blocked: &[Blocked],
    groups: &[Group],
    waiting_on_lock: &[bool],
) -> Vec<Group> {
    let mut by_site: Vec<Group> = Vec::new();
    let mut index: rustc_hash::FxHashMap<LeakSite, usize> = Default::default();
    for grp in groups {
        let rep = grp.representative();
        let b = &blocked[rep];
        let g = &dump.goroutines[rep];
        // A lock's waiters are the lock findings' to speak of, unless the runtime
        // marked them leaked: then nothing can ever release that lock.
        let marked = all_marked(dump, grp);
        if (waiting_on_lock[rep] && !marked) || !g.complete {
            continue;
        }
        // The standard library's own goroutines (connection loops, pools) wait by
        // design; only the (leaked) mark speaks for them.
        let std_site = b
            .site()
            .and_then(|s| g.frames.get(s))
            .is_some_and(|f| classify::is_std(&f.function));
        if std_site && !marked {
            continue;
        }
        let key = LeakSite::of(g, b.kind, b.site(), marked);
        let gi = *index.entry(key).or_insert_with(|| {
            by_site.push(Group {
                members: Vec::new(),
                ids: Vec::new(),
                count: 0,
                wait_minutes: None,
            });
            by_site.len() - 1
        });
        absorb(dump, &mut by_site[gi], grp);
    }
    by_site
}

/// Add a group's complete members, ids, count and wait to a site's.
fn absorb(dump: &Dump, s: &mut Group, grp: &Group) {
    s.members
        .extend(grp.members.iter().filter(|&&m| dump.goroutines[m].complete));
    s.ids.extend(&grp.ids);
    s.count += grp.count;
    s.wait_minutes = match (s.wait_minutes, grp.wait_minutes) {
        (None, w) | (w, None) => w,
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
    };
}

/// Why a site's goroutines leaked, and how sure that is.
struct LeakProof {
    confidence: f64,
    why: Evidence,
}

/// The leak finding of one site, if a rule proves it.
fn leak_finding(dump: &Dump, blocked: &[Blocked], on: &OnStack, grp: &Group) -> Option<Finding> {
    let rep = grp.representative();
    let b = &blocked[rep];
    let g = &dump.goroutines[rep];
    let max_wait = grp.wait_minutes.map(|w| w.1).unwrap_or(0);
    let n = grp.count;
    let proof = leak_proof(dump, b, on, grp)?;
    let at = b
        .site()
        .filter(|&s| s < g.frames.len())
        .map(|frame| FrameRef {
            goroutine: rep,
            frame,
        });
    let mut waiters = grp.members.clone();
    sort_by_id(dump, &mut waiters);
    let mut evidence = vec![proof.why, Evidence::SharedStack { count: n, at }];
    if max_wait > 0 {
        evidence.push(Evidence::BlockedFor { minutes: max_wait });
    }
    if g.created_by().is_some() {
        evidence.push(Evidence::CreatedBy { goroutine: rep });
    }
    Some(Finding {
        kind: FindingKind::Leak,
        confidence: round2(proof.confidence),
        lock: None,
        holders: Vec::new(),
        waiters,
        cycle: Vec::new(),
        headline: Headline::Leaked {
            count: n,
            kind: b.kind,
            at,
        },
        holder_wait: None,
        copies: 1,
        also: Vec::new(),
        evidence,
    })
}

/// The rule that proves a site leaked: the runtime's `(leaked)` mark, a nil
/// channel (never ready), `select {}` off main in many goroutines, a send its
/// creator's return left out of reach, or a send blocked ten minutes or more.
fn leak_proof(dump: &Dump, b: &Blocked, on: &OnStack, grp: &Group) -> Option<LeakProof> {
    let rep = grp.representative();
    let g = &dump.goroutines[rep];
    let max_wait = grp.wait_minutes.map(|w| w.1).unwrap_or(0);
    let n = grp.count;
    let proof = |confidence, why| Some(LeakProof { confidence, why });
    if all_marked(dump, grp) {
        return proof(1.0, Evidence::LeakMarked);
    }
    let creator = Creator::of(dump, on, g, b);
    let is_main = g.id == Some(1)
        || g.frames
            .last()
            .is_some_and(|f| f.function.full() == "main.main");
    match b.kind {
        WaitKind::ChanNil => proof(0.9, Evidence::NilChannel),
        WaitKind::SelectNoCases if !is_main && n >= 10 => proof(0.5, Evidence::SelectForever),
        // A send inside a closure whose creating call has returned, with
        // nothing it started still at work: the channel the two shared is out
        // of everyone's reach (a late result nobody collects). A receive or a
        // select in such a closure is as often a background loop started to
        // outlive its starter; receivers idling on a job or event channel are
        // what servers look like. Without the runtime's mark, no leak.
        WaitKind::ChanSend if creator.orphaned => {
            proof(0.6, Evidence::OrphanedSend { goroutine: rep })
        }
        WaitKind::ChanSend if creator.unreachable.is_some() => proof(
            0.5,
            Evidence::UnreachableSend {
                goroutine: rep,
                parent: creator.unreachable.unwrap_or(0),
            },
        ),
        // Time as evidence: a send blocked for ten minutes or more.
        WaitKind::ChanSend if max_wait >= 10 => proof(
            (0.35 + 0.04 * max_wait.min(10) as f64).min(0.75),
            Evidence::LongSend { minutes: max_wait },
        ),
        _ => None,
    }
}

/// Every function on some goroutine's stack, and the creating functions of the
/// goroutines that are not blocked on a channel (they may still use one).
struct OnStack<'d> {
    functions: rustc_hash::FxHashSet<&'d str>,
    live_creators: rustc_hash::FxHashSet<&'d str>,
    /// The ids of the goroutines in the dump, and of those that started one, each
    /// sorted (read when first asked, as `printed_once`).
    ids: std::cell::OnceCell<(Vec<u64>, Vec<u64>)>,
    /// The words (without `?`, large enough to be an address) exactly one
    /// goroutine prints in its frames, sorted: read over the whole dump only when
    /// a send may be out of reach (`Creator::of`), never otherwise.
    printed_once: std::cell::OnceCell<Vec<u64>>,
    dump: &'d Dump<'d>,
}

/// What `OnStack` reads of a range of goroutines.
struct Seen<'d> {
    functions: rustc_hash::FxHashSet<&'d str>,
    live_creators: rustc_hash::FxHashSet<&'d str>,
}

impl<'d> OnStack<'d> {
    fn new(dump: &'d Dump, blocked: &[Blocked]) -> Self {
        // Read on every core for a large dump, each range's sets joined after.
        let parts = crate::analyze::by_ranges(dump.goroutines.len(), |range| {
            Self::read_range(dump, blocked, range)
        });
        let mut functions = rustc_hash::FxHashSet::default();
        let mut live_creators = rustc_hash::FxHashSet::default();
        for p in parts {
            functions.extend(p.functions);
            live_creators.extend(p.live_creators);
        }
        OnStack {
            functions,
            live_creators,
            ids: std::cell::OnceCell::new(),
            printed_once: std::cell::OnceCell::new(),
            dump,
        }
    }

    /// `functions` and `live_creators` of goroutines `range`.
    fn read_range(dump: &'d Dump, blocked: &[Blocked], range: std::ops::Range<usize>) -> Seen<'d> {
        let mut functions = rustc_hash::FxHashSet::default();
        // Goroutines of one stack share its frames: each list is read once, for
        // its functions and whether all of them are the standard library's; and
        // stacks share frames (a million stacks of their own stand in a few
        // thousand frames): each frame's function is read once.
        let mut std_only_of: rustc_hash::FxHashMap<StackId, bool> = Default::default();
        let mut frames_read: rustc_hash::FxHashSet<usize> = Default::default();
        let mut live_creators = rustc_hash::FxHashSet::default();
        let mut last_creator: Option<&str> = None;
        for (g, b) in dump.goroutines[range.clone()].iter().zip(&blocked[range]) {
            let mut read = || {
                for f in g.frames.iter() {
                    if frames_read.insert(f.handle()) {
                        functions.insert(f.function.full());
                    }
                }
                !g.frames.is_empty() && g.frames.iter().all(|f| classify::is_std(&f.function))
            };
            // A stack no other goroutine holds is read once anyway: no entry kept.
            let all_std = if StackId::alone(g) {
                read()
            } else {
                *std_only_of.entry(StackId::of(g)).or_insert_with(read)
            };
            // A goroutine running the standard library alone (`go srv.Serve(l)`)
            // touches its creator's channels only through code it calls back.
            let std_only = g.complete && all_std;
            if !b.kind.is_chan() && !std_only {
                let creator = g.created_by().map(|c| c.function.full());
                // Goroutines come in runs started by one function.
                if creator.is_some() && creator != last_creator {
                    live_creators.extend(creator);
                    last_creator = creator;
                }
            }
        }
        Seen {
            functions,
            live_creators,
        }
    }

    /// Goroutine `p` is not in the dump, and `g` started none that is.
    fn gone_and_childless(&self, p: u64, g: u64) -> bool {
        let (ids, parents) = self.ids.get_or_init(|| {
            let d = &self.dump.goroutines;
            let sorted = |mut v: Vec<u64>| {
                v.sort_unstable();
                v.dedup();
                v
            };
            (
                sorted(d.iter().filter_map(|g| g.id).collect()),
                sorted(d.iter().filter_map(|g| g.created_by()?.parent).collect()),
            )
        });
        ids.binary_search(&p).is_err() && parents.binary_search(&g).is_err()
    }

    /// Printed by no goroutine but the one that prints it.
    fn printed_once(&self, w: u64) -> bool {
        let once = self.printed_once.get_or_init(|| {
            // Each goroutine's distinct words, on every core for a large dump;
            // then every word's run in them all, sorted.
            let goroutines = &self.dump.goroutines;
            let parts = crate::analyze::by_ranges(goroutines.len(), |range| {
                let (mut all, mut mine) = (Vec::new(), Vec::new());
                for g in &goroutines[range] {
                    certain_words_into(g, &mut mine);
                    all.extend_from_slice(&mine);
                }
                all
            });
            let mut all = parts.concat();
            all.sort_unstable();
            all.chunk_by(|a, b| a == b)
                .filter(|run| run.len() == 1)
                .map(|run| run[0])
                .collect()
        });
        once.binary_search(&w).is_ok()
    }
}

/// The distinct words a goroutine's frames print for sure that may be addresses,
/// sorted, into `out` (cleared first).
fn certain_words_into(g: &Goroutine, out: &mut Vec<u64>) {
    out.clear();
    for (_, a) in g.frames_args() {
        out.extend(super::resources::certain_addresses(&a));
    }
    out.sort_unstable();
    out.dedup();
}

/// Who started a goroutine, and whether what it waits on is likely out of reach.
struct Creator {
    /// Its parent (by the id Go 1.21+ prints) has exited, its creating function is
    /// on no stack, it started nothing still in the dump, and every word its
    /// frames print is printed by no other goroutine: the parent's id. Never set
    /// where stacks are cut or not printed, nor when it prints no word at all.
    unreachable: Option<u64>,
    /// The goroutine runs a closure of its creator F (`F.func1`, `F.gowrap2`) and
    /// blocks on a channel in it or in what it calls; F is on no goroutine's stack
    /// (the call has returned), and no goroutine F started is doing anything but
    /// wait on a channel. What the closure shares with F (the channel F made for it) is
    /// then out of everyone's reach. Never set where stacks are cut or not printed.
    orphaned: bool,
}

impl Creator {
    fn of(dump: &Dump, on: &OnStack, g: &Goroutine, b: &Blocked) -> Creator {
        let Some(c) = g.created_by() else {
            return Creator {
                orphaned: false,
                unreachable: None,
            };
        };
        let f = c.function.full();
        // The function the goroutine started in: its outermost frame but for the
        // runtime's own (`runtime.goexit` at the system traceback level).
        let entry_at = g
            .frames
            .iter()
            .rposition(|e| !classify::is_machinery(&e.function));
        let entry = entry_at.map_or("", |i| g.frames[i].function.full());
        let closure = entry
            .strip_prefix(f)
            .is_some_and(|rest| rest.starts_with(".func") || rest.starts_with(".gowrap"));
        // The wait is in the closure or in what it calls (a channel it was given).
        let waits_in_closure = entry_at.is_some() && b.site().is_some();
        let complete = dump.truncated_at().is_none() && dump.format != Format::Profile;
        let unreachable = c.parent.filter(|p| {
            complete
                && b.kind == WaitKind::ChanSend
                && !on.functions.contains(f)
                && g.id.is_some_and(|id| on.gone_and_childless(*p, id))
                && {
                    let mut words = Vec::new();
                    certain_words_into(g, &mut words);
                    !words.is_empty() && words.iter().all(|&w| on.printed_once(w))
                }
        });
        Creator {
            unreachable,
            orphaned: closure
                && waits_in_closure
                && complete
                && !on.functions.contains(f)
                && !on.live_creators.contains(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::total_order;

    /// Ranking sorts confidences by `total_order`: it orders floats as
    /// `f64::total_cmp` does, negatives, zeros, infinities and NaN included.
    #[test]
    fn total_order_orders_as_total_cmp() {
        let xs = [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            0.3,
            0.29,
            0.95,
            -1.5,
            1e-300,
            -1e-300,
            f64::MAX,
            f64::MIN,
        ];
        for a in xs {
            for b in xs {
                assert_eq!(
                    total_order(a).cmp(&total_order(b)),
                    a.total_cmp(&b),
                    "{a} vs {b}"
                );
            }
        }
    }
}
