//! A test that timed out hung. `go test -timeout` ends a test binary with
//! `panic: test timed out after ...` and every goroutine's stack: whatever the
//! other rules make of the stacks (a deadlock, a stall, nothing proven), the
//! program did not finish in time, and that fails CI. The finding names the
//! goroutines blocked in the program's own code, what they wait on, and who holds
//! the locks they wait for.

use super::classify::{is_machinery, is_std, Blocked};
use super::{fixpoint, Evidence, Finding, FindingKind, Headline, Lock};
use crate::model::{Dump, Trigger};

/// The hang finding of a `go test -timeout` dump; None for any other dump.
pub fn finding(dump: &Dump, blocked: &[Blocked], locks: &[Lock]) -> Option<Finding> {
    if dump.trigger != Trigger::TestTimeout {
        return None;
    }
    let mut waiters: Vec<usize> = (0..dump.goroutines.len())
        .filter(|&g| blocked_in_user_code(dump, blocked, g))
        .collect();
    super::sort_by_id(dump, &mut waiters);
    let mut in_test = vec![false; dump.goroutines.len()];
    for &w in &waiters {
        in_test[w] = true;
    }
    // Who holds the locks they wait on, the surest first, each once.
    let mut held: Vec<(usize, usize)> = Vec::new();
    for (li, l) in locks.iter().enumerate() {
        let Some(h) = l.top_holder() else { continue };
        if l.waiters.iter().any(|&w| in_test[w]) && !held.iter().any(|&(_, g)| g == h.goroutine) {
            held.push((li, h.goroutine));
        }
    }
    held.sort_by_key(|&(_, g)| super::display_id(dump, g));
    let mut evidence = vec![Evidence::TestTimedOut];
    evidence.extend(fixpoint::same_waits(dump, blocked, &waiters));
    evidence.extend(
        held.iter()
            .map(|&(lock, goroutine)| Evidence::Candidate { lock, goroutine }),
    );
    let holders: Vec<usize> = held.iter().map(|&(_, g)| g).collect();
    let goroutines = waiters.len();
    // A holder is said as one; the waiters are the others.
    waiters.retain(|w| !holders.contains(w));
    Some(Finding {
        kind: FindingKind::Hang,
        confidence: 1.0,
        // The lock, when there is one: of several, none is the main one.
        lock: match held.as_slice() {
            [(li, _)] => Some(*li),
            _ => None,
        },
        holder_wait: holders.first().copied(),
        headline: Headline::TestHang {
            goroutines,
            holders: holders.clone(),
        },
        holders,
        waiters,
        cycle: Vec::new(),
        evidence,
        copies: 1,
        also: Vec::new(),
    })
}

/// Waiting (not running, not the runtime's own, not the dump's trigger) with a
/// frame of the program's own code on its stack.
fn blocked_in_user_code(dump: &Dump, blocked: &[Blocked], g: usize) -> bool {
    let b = &blocked[g];
    let gr = &dump.goroutines[g];
    if b.kind.is_active() || b.kind.is_background() || !gr.complete {
        return false;
    }
    if matches!(fixpoint::role(gr, b), fixpoint::Role::Trigger(_)) {
        return false;
    }
    // In a test binary `main` is the generated `_testmain.go`; the code under
    // test is in its own package.
    gr.frames.iter().any(|f| {
        !is_machinery(&f.function)
            && !is_std(&f.function)
            && !f.function.full().starts_with("main.")
    })
}
