//! What a snapshot lacks to decide its truth: read from the truth's resources and
//! the dump's own words, never from the analysis. A dump that lacks nothing prints
//! every fact the truth rests on, so a wrong verdict there is the engine's fault;
//! elsewhere a miss may be all a single snapshot allows.
//!
//! Synth only (its truth names each resource's address and who holds what).

use std::collections::BTreeSet;

use godeadlock::analyze::classify::is_machinery;
use godeadlock::analyze::resources::certain_addresses;
use godeadlock::model::{Dump, Format, Goroutine};

use crate::truth::Truth;

/// Each reason the dump cannot decide its truth, in words; `None` where the
/// truth names no resources (not synth, or a healthy control).
pub fn lacks(t: &Truth, d: &Dump) -> Option<Vec<String>> {
    if t.resources.is_empty() || t.acceptable.is_empty() || t.healthy {
        return None;
    }
    let mut out = Vec::new();
    match d.format {
        Format::Profile => out.push("debug=1: no ids, states, arguments or creators".to_string()),
        Format::Delve => out.push("Delve: no argument words".to_string()),
        _ => {}
    }
    let by_id = |id: u64| d.goroutines.iter().find(|g| g.id == Some(id));
    for r in &t.resources {
        let waiters: Vec<&Goroutine> = t
            .waits
            .iter()
            .filter(|w| w.resource == r.name)
            .filter_map(|w| by_id(w.goroutine))
            .collect();
        if waiters.is_empty() {
            continue;
        }
        if waiters.iter().any(|g| g.state.raw.starts_with("select")) {
            out.push(format!(
                "{} ({}): a select's cases are not printed",
                r.name, r.kind
            ));
        }
        let printed = r
            .addr
            .is_some_and(|a| waiters.iter().any(|g| certain_words(g, 0).contains(&a)));
        if !printed {
            out.push(format!(
                "{} ({}): its address is not printed",
                r.name, r.kind
            ));
        }
        // A channel in a cycle is completed by another member, whose frames must
        // print it for the dump to show who that is.
        if r.kind == "chan" && !t.cycle.is_empty() {
            let shown = r.addr.is_some_and(|a| {
                t.cycle
                    .iter()
                    .filter(|&&c| !waiters.iter().any(|w| w.id == Some(c)))
                    .filter_map(|&c| by_id(c))
                    .any(|g| certain_words(g, 0).contains(&a))
            });
            if !shown {
                out.push(format!(
                    "{} (chan): no other member prints it (who would complete it is not shown)",
                    r.name
                ));
            }
        }
        if let Some(apart) = apart(&waiters, r.addr) {
            out.push(format!("{} ({}): {apart}", r.name, r.kind));
        }
        let asked: BTreeSet<u64> = waiters.iter().flat_map(|g| asking_words(g)).collect();
        for h in t.holds.iter().filter(|h| h.resource == r.name) {
            let Some(g) = by_id(h.goroutine) else {
                continue;
            };
            let waits_too = waiters.iter().any(|w| w.id == g.id);
            // A word every waiter's callers pass down ties none of them.
            let passed: BTreeSet<u64> = waiters
                .iter()
                .filter(|w| w.id != g.id)
                .flat_map(|w| certain_words(w, first_user(w).map_or(0, |i| i + 1)))
                .collect();
            if !tied(g, waits_too, r.addr, &asked, &passed) {
                out.push(format!(
                    "{} ({}): its holder {} prints no word tied to it{}",
                    r.name,
                    r.kind,
                    h.goroutine,
                    if waits_too {
                        " (re-entry: the frame that took it has returned)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    Some(out)
}

/// Every word printed without `?` (and large enough to be an address) in frames
/// `from` on.
fn certain_words(g: &Goroutine, from: usize) -> BTreeSet<u64> {
    g.frames_args()
        .skip(from)
        .flat_map(|(_, a)| certain_addresses(&a).collect::<Vec<_>>())
        .collect()
}

/// The certain words of the first frame of the program's own code: where it asked.
fn asking_words(g: &Goroutine) -> BTreeSet<u64> {
    match first_user(g) {
        Some(i) => g
            .frames_args()
            .nth(i)
            .map(|(_, a)| certain_addresses(&a).collect())
            .unwrap_or_default(),
        None => BTreeSet::new(),
    }
}

fn first_user(g: &Goroutine) -> Option<usize> {
    g.frames.iter().position(|f| !is_machinery(&f.function))
}

/// The waiters fall into sets that print nothing in common: some print the
/// resource's address and others only other words (in the synth an object it sits
/// in, at an offset nobody prints), so at best adjacency would say they wait on
/// one thing.
/// Each waiter is known by the certain words of its frames up to the one where it
/// asks (the lock's own frames, then the asking frame); a waiter that prints none
/// is left out (it joins by call site, which the engine may use).
fn apart(waiters: &[&Goroutine], addr: Option<u64>) -> Option<String> {
    let known: Vec<BTreeSet<u64>> = waiters
        .iter()
        .map(|g| identity_words(g))
        .filter(|w| !w.is_empty())
        .collect();
    let addr = addr?;
    let with_addr: Vec<&BTreeSet<u64>> = known.iter().filter(|w| w.contains(&addr)).collect();
    let without: Vec<&BTreeSet<u64>> = known.iter().filter(|w| !w.contains(&addr)).collect();
    if with_addr.is_empty() || without.is_empty() {
        return None;
    }
    let joined: BTreeSet<u64> = with_addr.iter().flat_map(|w| w.iter().copied()).collect();
    let tied = without.iter().all(|w| w.iter().any(|x| joined.contains(x)));
    (!tied).then(|| {
        format!(
            "{} of its waiters print its address {addr:#x}, {} only words none of those print (adjacency proves nothing)",
            with_addr.len(),
            without.len()
        )
    })
}

/// The certain words of a waiter's frames up to and including the first frame
/// of the program's own code (where it asked).
fn identity_words(g: &Goroutine) -> BTreeSet<u64> {
    let upto = first_user(g).map_or(0, |i| i + 1);
    g.frames_args()
        .take(upto)
        .flat_map(|(_, a)| certain_addresses(&a).collect::<Vec<_>>())
        .collect()
}

/// The holder prints the resource's address or a word its waiters ask with; one
/// that waits on the resource itself, outside the call it waits in, and a word the
/// other waiters' callers do not also pass down.
fn tied(
    g: &Goroutine,
    waits_too: bool,
    addr: Option<u64>,
    asked: &BTreeSet<u64>,
    passed: &BTreeSet<u64>,
) -> bool {
    let from = if waits_too {
        first_user(g).map_or(g.frames.len(), |i| i + 1)
    } else {
        0
    };
    certain_words(g, from)
        .iter()
        .filter(|w| !waits_too || !passed.contains(w))
        .any(|w| Some(*w) == addr || asked.contains(w))
}
