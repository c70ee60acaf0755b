//! Nobody can wake them: the goroutines of a snapshot that no goroutine in it can
//! ever set moving again.
//!
//! A blocked goroutine moves only when another goroutine does something (unlocks,
//! sends, receives, closes, signals, calls `Done`), or when the world outside does
//! (the network, a signal, a timer, the end of a sleep or a syscall). So a goroutine
//! that can run now, or that waits on the world outside, is *live*: it may wake
//! anyone. A blocked goroutine needs a live one to wake it. The stuck set is the
//! largest set of blocked goroutines none of which can be woken from outside the
//! set: a fixpoint, computed from the runtime's and the standard library's
//! semantics only.
//!
//! - Live: running, runnable, in a syscall, sleeping, in IO wait, in `select` (at
//!   `debug=2` a select's cases are not printed, so it may be waiting on a timer),
//!   and any goroutine whose wait is unknown or whose stack was cut.
//! - Neither: the runtime's own idle goroutines, and the dump's trigger (the
//!   goroutine writing the profile, calling `runtime.Stack`, panicking, or the test
//!   timeout alarm): it is about to end or print, not to run the program on. It may
//!   still be what its own ancestors wait for (a `main` waiting on a WaitGroup for the
//!   goroutine that prints), so they are given the benefit of the doubt.
//! - Blocked: mutex, RWMutex, Cond, WaitGroup and semaphore waits, channel sends and
//!   receives, nil channels and `select {}`. A goroutine in `testing.(*T).Run` waits
//!   for its own test goroutine only, and is woken by nothing else.
//!
//! With one live goroutine anywhere, every ordinary wait may be woken by it (a dump
//! prints no references), so nothing is proven; then the other rules speak.
//! Timers do not appear in a dump: a goroutine blocked on `<-time.After(d)` reads as
//! any channel receive. The finding says so.

use super::classify::{Blocked, WaitKind};
use crate::model::{Dump, Format, Goroutine};

/// What part a goroutine plays in who can wake whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Can run, or waits on the world outside: may wake anyone.
    Live,
    /// The dump's own trigger: wakes nobody outside its own family, if anyone.
    Trigger(Trigger),
    /// The runtime's own idle goroutines: wake no user goroutine.
    Background,
    /// Waits for another goroutine to act.
    Blocked(Waker),
}

/// What the trigger goroutine does once the dump is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// It wrote the dump from the program's own code (a pprof writer, a call to
    /// `runtime.Stack`) and goes on: it may yet wake the goroutines it is known to
    /// be related to (its ancestors and descendants), not the others.
    Prints,
    /// It is panicking, throwing, or the test timeout alarm: the process ends.
    Ends,
}

/// Who can end a blocked goroutine's wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waker {
    /// Any goroutine that may run (no references are printed).
    Anyone,
    /// `testing.(*T).Run`: only the test goroutine it started.
    TestGoroutine,
    /// A nil channel or `select {}`: nothing, ever.
    Nothing,
}

/// The proof that a set of goroutines is stuck for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    /// Goroutine indexes that nothing can wake, in dump order.
    pub goroutines: Vec<usize>,
    /// The dump's trigger goroutines (left out of who can wake).
    pub triggers: Vec<usize>,
    /// Those of them that end the process (a panic, a throw, the test alarm).
    pub ending: Vec<usize>,
    /// How many goroutines are the runtime's own.
    pub background: usize,
}

/// Frames that make a running goroutine a trigger that goes on once it printed
/// (standard library and runtime functions only).
const PRINTING_FRAMES: &[&str] = &[
    "runtime.Stack",
    "runtime/debug.Stack",
    "runtime/debug.PrintStack",
    "runtime/debug.WriteHeapDump",
];

/// Frames that make a running goroutine a trigger that ends the process.
const ENDING_FRAMES: &[&str] = &[
    "panic",
    "runtime.gopanic",
    "runtime.throw",
    "runtime.fatal",
    "runtime.fatalthrow",
    "runtime.fatalpanic",
    "testing.(*M).startAlarm.func1",
];

/// The goroutine that panicked or threw, after a `panic:` or a `fatal error:`:
/// the one goroutine `[running]` with its stack printed (at the `all` traceback
/// level its `panic` frame is not shown; goroutines running on other threads print
/// no stack). It is the dump's trigger, about to end the process, and serves no
/// lock queue and wakes nobody: the runtime prints the goroutines of a panic only
/// once every deferred call has run and none recovered (`gopanic` runs the defers,
/// then `fatalpanic` prints and exits), and a throw runs nothing. After a signal,
/// what runs goes on running.
pub fn panicking(dump: &Dump, blocked: &[Blocked]) -> Option<usize> {
    let ending = matches!(
        dump.trigger,
        crate::model::Trigger::Panic
            | crate::model::Trigger::FatalError
            | crate::model::Trigger::ConcurrentMap
    );
    if !ending {
        return None;
    }
    let mut running = (0..dump.goroutines.len())
        .filter(|&i| blocked[i].kind == WaitKind::Running && !dump.goroutines[i].stack_unavailable);
    match (running.next(), running.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// The role of goroutine `g`, from its own stack (see also `panicking`).
pub fn role(g: &Goroutine, b: &Blocked) -> Role {
    if b.kind == WaitKind::Profiler {
        return Role::Trigger(Trigger::Prints);
    }
    if b.kind.is_background() {
        return Role::Background;
    }
    let has = |names: &[&str]| g.frames.iter().any(|f| names.contains(&f.function.full()));
    if b.kind.is_active() && has(ENDING_FRAMES) {
        return Role::Trigger(Trigger::Ends);
    }
    if b.kind.is_active() && has(PRINTING_FRAMES) {
        return Role::Trigger(Trigger::Prints);
    }
    if !g.complete || g.stack_unavailable {
        return Role::Live;
    }
    match b.kind {
        WaitKind::ChanNil | WaitKind::SelectNoCases => Role::Blocked(Waker::Nothing),
        WaitKind::ChanReceive if in_test_run(g) => Role::Blocked(Waker::TestGoroutine),
        WaitKind::MutexLock
        | WaitKind::RWMutexRLock
        | WaitKind::RWMutexLock
        | WaitKind::CondWait
        | WaitKind::WaitGroupWait
        | WaitKind::Semacquire
        | WaitKind::ChanSend
        | WaitKind::ChanReceive => Role::Blocked(Waker::Anyone),
        _ => Role::Live,
    }
}

/// Parked in `testing.(*T).Run`, which waits for the test goroutine it started.
fn in_test_run(g: &Goroutine) -> bool {
    g.frames
        .iter()
        .find(|f| !f.function.full().starts_with("runtime."))
        .is_some_and(|f| f.function.full() == "testing.(*T).Run")
}

/// Indexes by goroutine id, and each goroutine's parent index where printed.
struct Family {
    parent: Vec<Option<usize>>,
    /// The dump prints who started each goroutine (Go 1.21+).
    prints_parents: bool,
    /// Started by `testing.(*T).Run`: a test goroutine.
    test: Vec<bool>,
}

impl Family {
    fn new(dump: &Dump) -> Family {
        let by_id: rustc_hash::FxHashMap<u64, usize> = dump
            .goroutines
            .iter()
            .enumerate()
            .filter_map(|(i, g)| Some((g.id?, i)))
            .collect();
        let parent = dump
            .goroutines
            .iter()
            .map(|g| by_id.get(&g.created_by()?.parent?).copied())
            .collect();
        // From Go 1.21 every goroutine a goroutine started says by whom; one that
        // does not was started by the runtime (a timer's `time.goFunc`). A dump that
        // prints no parent at all is older: there nobody's parent is known.
        let prints_parents = dump
            .goroutines
            .iter()
            .any(|g| g.created_by().is_some_and(|c| c.parent.is_some()));
        let test = dump
            .goroutines
            .iter()
            .map(|g| {
                g.created_by()
                    .is_some_and(|c| c.function.full() == "testing.(*T).Run")
            })
            .collect();
        Family {
            parent,
            prints_parents,
            test,
        }
    }

    /// The descendants of `i` that are in the dump, by known parent links.
    fn descendants(&self, i: usize) -> Vec<usize> {
        let mut children: rustc_hash::FxHashMap<usize, Vec<usize>> = Default::default();
        for (c, p) in self.parent.iter().enumerate() {
            if let Some(p) = p {
                children.entry(*p).or_default().push(c);
            }
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::from([i]);
        let mut frontier = vec![i];
        while let Some(at) = frontier.pop() {
            for &c in children.get(&at).into_iter().flatten() {
                if seen.insert(c) {
                    out.push(c);
                    frontier.push(c);
                }
            }
        }
        out
    }

    /// Its ancestors and descendants in the dump: whom `i` is known to be related to.
    fn kin(&self, i: usize) -> impl Iterator<Item = usize> {
        self.ancestors(i).into_iter().chain(self.descendants(i))
    }

    /// The ancestors of `i` that are in the dump, nearest first.
    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = i;
        while let Some(p) = self.parent[at] {
            if out.contains(&p) || p == i {
                break;
            }
            out.push(p);
            at = p;
        }
        out
    }
}

/// The goroutines nothing in the dump can wake, when there are any that are not
/// merely parked on purpose (`select {}`, a nil channel alone proves nothing here:
/// the other rules speak of those).
pub fn stuck(dump: &Dump, blocked: &[Blocked]) -> Option<Stuck> {
    if dump.format == Format::Profile {
        return None; // no states: nobody's wait is known
    }
    // The goroutine that panicked has run its deferred calls already: it ends the
    // process (but see `may_have_woken`).
    let panicked = panicking(dump, blocked);
    let mut roles: Vec<Role> = dump
        .goroutines
        .iter()
        .zip(blocked)
        .map(|(g, b)| role(g, b))
        .collect();
    if let Some(p) = panicked {
        roles[p] = Role::Trigger(Trigger::Ends);
    }
    if roles.contains(&Role::Live) {
        return None;
    }
    let family = Family::new(dump);
    let triggers: Vec<usize> = (0..roles.len())
        .filter(|&i| matches!(roles[i], Role::Trigger(_)))
        .collect();
    let printing: Vec<usize> = triggers
        .iter()
        .copied()
        .filter(|&t| roles[t] == Role::Trigger(Trigger::Prints))
        .collect();
    // A printing trigger whose family is not printed may be anyone's kin: whoever
    // waits may be waiting for it.
    if !printing.is_empty() && !family.prints_parents {
        return None;
    }
    let mut in_set: Vec<bool> = roles
        .iter()
        .map(|r| matches!(r, Role::Blocked(_)))
        .collect();
    // An ordinary wait of a printing trigger's kin may end when the trigger goes on.
    for &t in &printing {
        for a in family.kin(t) {
            if roles[a] == Role::Blocked(Waker::Anyone) {
                in_set[a] = false;
            }
        }
    }
    if let Some(p) = panicked {
        for (i, free) in may_have_woken(blocked, &family, p).into_iter().enumerate() {
            if free && roles[i] == Role::Blocked(Waker::Anyone) {
                in_set[i] = false;
            }
        }
    }
    settle(&roles, &mut in_set, &family);
    let goroutines: Vec<usize> = (0..roles.len())
        .filter(|&i| in_set[i] && roles[i] == Role::Blocked(Waker::Anyone))
        .collect();
    if goroutines.is_empty() {
        return None;
    }
    Some(Stuck {
        goroutines: (0..roles.len()).filter(|&i| in_set[i]).collect(),
        ending: triggers
            .iter()
            .copied()
            .filter(|&t| roles[t] == Role::Trigger(Trigger::Ends))
            .collect(),
        triggers,
        background: roles.iter().filter(|r| **r == Role::Background).count(),
    })
}

/// The waits that the goroutine `p`, which panicked, may have been about to end had
/// it not: it ran user code until then, so a send, receive, close, signal or `Done`
/// its kin wait for (anyone's, when the dump prints no family) may have been next;
/// an idle pool fed by a goroutine that panicked is not a deadlock. A lock wait is
/// not among them: the panic's deferred calls have run, and a lock still held stays
/// held for good.
/// (The caller frees only ordinary blocked waits: not `p` itself, not a cut stack.)
fn may_have_woken(blocked: &[Blocked], family: &Family, p: usize) -> Vec<bool> {
    let mut kin = vec![!family.prints_parents; blocked.len()];
    for a in family.kin(p) {
        kin[a] = true;
    }
    (0..blocked.len())
        .map(|i| kin[i] && !blocked[i].kind.is_mutex())
        .collect()
}

/// Take out of the set every goroutine that one outside it can wake, until none.
fn settle(roles: &[Role], in_set: &mut [bool], family: &Family) {
    loop {
        let someone_free =
            (0..roles.len()).any(|i| matches!(roles[i], Role::Blocked(_)) && !in_set[i]);
        let mut changed = false;
        for i in 0..roles.len() {
            if !in_set[i] {
                continue;
            }
            let wakeable = match roles[i] {
                Role::Blocked(Waker::Anyone) => someone_free,
                Role::Blocked(Waker::TestGoroutine) => {
                    let children: Vec<usize> = (0..roles.len())
                        .filter(|&c| family.test[c] && family.parent[c] == Some(i))
                        .collect();
                    // Its test goroutine has ended (or is not known): it is waking.
                    children.is_empty() || children.iter().any(|&c| !in_set[c])
                }
                _ => false,
            };
            if wakeable {
                in_set[i] = false;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Fold the proof into the findings: a deadlock finding whose cycle nothing can
/// wake becomes certain, and the stuck goroutines no deadlock finding names get a
/// finding of their own.
pub fn apply(
    dump: &Dump,
    blocked: &[Blocked],
    locks: &[super::Lock],
    stuck: &Stuck,
    findings: &mut Vec<super::Finding>,
) {
    use super::{display_id, Finding, FindingKind, Headline, VERDICT_THRESHOLD};
    let mut in_stuck = vec![false; dump.goroutines.len()];
    for &g in &stuck.goroutines {
        in_stuck[g] = true;
    }
    let proof = proof(dump, stuck);
    let mut covered = vec![false; dump.goroutines.len()];
    for f in findings.iter_mut().filter(|f| {
        f.kind == FindingKind::Deadlock
            && f.confidence >= VERDICT_THRESHOLD
            && !f.cycle.is_empty()
            && f.cycle.iter().all(|&g| in_stuck[g])
    }) {
        f.confidence = f.confidence.max(PROVEN);
        f.evidence.insert(0, proof.clone());
        for &g in f.cycle.iter().chain(&f.waiters) {
            covered[g] = true;
        }
    }
    // The test framework's own wait (`testing.(*T).Run`) and goroutines parked for
    // good on purpose (`select {}`) are in the set, but are not what is stuck.
    let mut rest: Vec<usize> = stuck
        .goroutines
        .iter()
        .copied()
        .filter(|&g| !covered[g])
        .filter(|&g| role(&dump.goroutines[g], &blocked[g]) == Role::Blocked(Waker::Anyone))
        .collect();
    let out_of_reach = out_of_reach(findings, &proof, dump.goroutines.len());
    rest.retain(|&g| !out_of_reach[g]);
    if rest.is_empty() {
        return;
    }
    rest.sort_by_key(|&g| display_id(dump, g));
    // Holders named by the locks they are stuck on, when they are stuck too.
    let mut holders: Vec<usize> = locks
        .iter()
        .filter(|l| l.waiters.iter().any(|w| rest.contains(w)))
        .filter_map(|l| l.top_holder().map(|h| h.goroutine))
        .filter(|&h| in_stuck[h])
        .collect();
    holders.sort_by_key(|&g| display_id(dump, g));
    holders.dedup();
    let mut evidence = vec![proof];
    evidence.extend(same_waits(dump, blocked, &rest));
    findings.push(Finding {
        kind: FindingKind::Deadlock,
        confidence: LIKELY,
        lock: None,
        holders,
        waiters: rest.clone(),
        cycle: Vec::new(),
        headline: Headline::NobodyCanWake {
            goroutines: rest.clone(),
        },
        holder_wait: None,
        copies: 1,
        also: Vec::new(),
        evidence,
    });
}

/// Goroutines a leak finding shows waiting on what is out of everyone's reach
/// (their channel's other end is gone): they are stuck for that reason, not for
/// each other, so the leak tells them, with the proof that nothing can wake them.
fn out_of_reach(findings: &mut [super::Finding], proof: &super::Evidence, n: usize) -> Vec<bool> {
    let mut out = vec![false; n];
    for f in findings.iter_mut().filter(|f| {
        f.kind == super::FindingKind::Leak
            && f.evidence.iter().any(|e| {
                matches!(
                    e,
                    super::Evidence::UnreachableSend { .. } | super::Evidence::OrphanedSend { .. }
                )
            })
    }) {
        for &g in &f.waiters {
            out[g] = true;
        }
        f.evidence.insert(0, proof.clone());
    }
    out
}

/// A deadlock cycle that nothing outside can wake.
const PROVEN: f64 = 0.95;
/// Stuck goroutines with no cycle named among them: a timer the dump does not show
/// could still wake them.
const LIKELY: f64 = 0.8;

fn proof(dump: &Dump, stuck: &Stuck) -> super::Evidence {
    super::Evidence::NobodyCanWake(Box::new(super::findings::NobodyCanWake {
        stuck: stuck.goroutines.len(),
        triggers: stuck.triggers.clone(),
        ending: stuck.ending.clone(),
        background: stuck.background,
        timers_hidden: dump.trigger != crate::model::Trigger::AllAsleep,
    }))
}

/// What a goroutine's wait reads as: goroutines with equal keys wait alike.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct WaitKey<'d> {
    kind: &'static str,
    state: &'d str,
    minutes: Option<u32>,
    site: String,
}

/// One item per distinct wait, most goroutines first, at most five; eight
/// goroutines of each (and a ninth to say there are more).
pub(crate) fn same_waits(dump: &Dump, blocked: &[Blocked], gs: &[usize]) -> Vec<super::Evidence> {
    let mut by_wait: Vec<(WaitKey, Vec<usize>)> = Vec::new();
    for &g in gs {
        let w = wait_key(dump, blocked, g);
        match by_wait.iter_mut().find(|(x, _)| *x == w) {
            Some((_, ids)) => ids.push(g),
            None => by_wait.push((w, vec![g])),
        }
    }
    by_wait.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    by_wait
        .into_iter()
        .take(5)
        .map(|(_, mut goroutines)| {
            goroutines.truncate(9);
            super::Evidence::SameWait { goroutines }
        })
        .collect()
}

fn wait_key<'d>(dump: &'d Dump, blocked: &[Blocked], i: usize) -> WaitKey<'d> {
    let b = &blocked[i];
    let g = &dump.goroutines[i];
    let site = b
        .site()
        .map(|s| super::frame_label(g, s))
        .or_else(|| (!g.frames.is_empty()).then(|| super::frame_label(g, 0)))
        .unwrap_or_default();
    WaitKey {
        kind: b.kind.as_str(),
        state: g.state.raw,
        minutes: g.wait_minutes,
        site,
    }
}
