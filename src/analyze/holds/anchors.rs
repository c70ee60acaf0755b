//! Anchors: the addresses a holder's frames may print that tie it to a lock.

use super::MAX_FIELD_OFFSET;
use crate::analyze::findings::{Anchor, AnchorFrom, FrameRef};
use crate::analyze::resources::MIN_ADDR;
use crate::analyze::{classify::Blocked, Lock};
use crate::model::Dump;

/// Each lock's anchors: the addresses a holder's frames may print that tie it to
/// the lock. The lock's own printed address, and what its waiters' asking frames
/// teach (see `learned_anchors`).
pub(super) fn anchors(dump: &Dump, blocked: &[Blocked], locks: &[Lock]) -> Vec<Vec<Anchor>> {
    let mut out: Vec<Vec<Anchor>> = locks
        .iter()
        .map(|l| {
            l.addr
                .map(|addr| Anchor {
                    addr,
                    from: AnchorFrom::Primitive,
                })
                .into_iter()
                .collect()
        })
        .collect();
    for Learned {
        lock: li,
        anchor: a,
    } in learned_anchors(dump, blocked, locks)
    {
        if !out[li].iter().any(|x| x.addr == a.addr) {
            out[li].push(a);
        }
    }
    out
}

/// An anchor a lock's waiters taught, and the lock (index into the locks).
struct Learned {
    lock: usize,
    anchor: Anchor,
}

/// One waiter's frame asking for a lock, with the words it prints for sure.
struct Asking {
    lock: usize,
    frame: FrameRef,
    /// The frame's argument words in order; 0 where printed with `?` or too
    /// low to be an address (no word kept is below `MIN_ADDR`): eight bytes a
    /// word, not sixteen, as one list is kept per waiter of every lock at once.
    words: Vec<u64>,
}

/// What the frames asking for locks teach, per site (the asking function and
/// line), argument position by position:
/// - a field offset: wherever waiters at the site print a word at this position,
///   their lock's address lies the same number of bytes above it (at most
///   `MAX_FIELD_OFFSET`): the lock is a field of that object;
/// - failing that, a shared word: every waiter of one lock prints the same word
///   there (its only waiter: each word it prints), and no waiter of another lock at
///   the site does.
///
/// A word all queues share (a common barrier, a server) tells them apart from
/// nothing and is never an anchor; nor is a word only near the lock by chance.
fn learned_anchors(dump: &Dump, blocked: &[Blocked], locks: &[Lock]) -> Vec<Learned> {
    // Every (lock, waiter) read on every core for many, each range's sites
    // joined after in order: per site, the waiters in the order of the locks.
    let pairs: Vec<(usize, usize)> = locks
        .iter()
        .enumerate()
        .flat_map(|(li, l)| l.alike.iter().map(move |&w| (li, w)))
        .collect();
    let parts = crate::analyze::by_ranges(pairs.len(), |range| {
        let mut sites: Sites = Default::default();
        for &(li, w) in &pairs[range] {
            add_asking(dump, blocked, li, w, &mut sites);
        }
        sites
    });
    let mut parts = parts.into_iter();
    let mut sites = parts.next().unwrap_or_default();
    for part in parts {
        for (key, asking) in part {
            sites.entry(key).or_default().extend(asking);
        }
    }
    let mut keys: Vec<(&str, u32)> = sites.keys().copied().collect();
    keys.sort_unstable();
    // Each site taught on its own (on every core for a large dump), in order.
    let taught = crate::analyze::by_items(dump.goroutines.len(), &keys, |_, key| {
        site_anchors(locks, &sites[key])
    });
    taught.into_iter().flatten().collect()
}

/// What the waiters asking at one site teach: a field offset at some positions,
/// else a shared word at each.
fn site_anchors(locks: &[Lock], at: &[Asking]) -> Vec<Learned> {
    let positions = at.iter().map(|a| a.words.len()).max().unwrap_or(0);
    let offsets: Vec<(usize, u64)> = (0..positions)
        .filter_map(|p| Some((p, field_offset(locks, at, p)?)))
        .collect();
    let mut out = Vec::new();
    if !offsets.is_empty() {
        for &(p, offset) in &offsets {
            let agree = at.iter().filter(|a| word_at(a, p).is_some()).count();
            for a in at {
                if let Some(w) = word_at(a, p) {
                    let from = AnchorFrom::FieldOf {
                        frame: a.frame,
                        offset,
                        agree,
                    };
                    out.push(Learned {
                        lock: a.lock,
                        anchor: Anchor { addr: w, from },
                    });
                }
            }
        }
        return out;
    }
    for p in 0..positions {
        out.extend(shared_word(locks, at, p));
    }
    out
}

/// The asking frames of waiters, by site (function and line).
type Sites<'d> = rustc_hash::FxHashMap<(&'d str, u32), Vec<Asking>>;

/// File waiter `w`'s frames asking for lock `li` (its wrapper's and its lock
/// frame) under their sites.
fn add_asking<'d>(dump: &'d Dump, blocked: &[Blocked], li: usize, w: usize, sites: &mut Sites<'d>) {
    let (g, b) = (&dump.goroutines[w], &blocked[w]);
    for fi in [b.wrapper(), b.lock_frame()].into_iter().flatten() {
        let Some(f) = g.frames.get(fi) else { continue };
        let words = g
            .args_of(fi)
            .words()
            .map(|(a, unsure)| if !unsure && a >= MIN_ADDR { a } else { 0 })
            .collect();
        let frame = FrameRef {
            goroutine: w,
            frame: fi,
        };
        let asking = Asking {
            lock: li,
            frame,
            words,
        };
        sites
            .entry((f.function.full(), f.line))
            .or_default()
            .push(asking);
    }
}

fn word_at(a: &Asking, p: usize) -> Option<u64> {
    a.words.get(p).copied().filter(|&w| w != 0)
}

/// The one offset at which every word printed at position `p` lies below its
/// waiter's lock address, if there is one.
fn field_offset(locks: &[Lock], at: &[Asking], p: usize) -> Option<u64> {
    let mut offset = None;
    for a in at {
        let Some(w) = word_at(a, p) else { continue };
        let d = locks[a.lock].addr?.checked_sub(w)?;
        if d > MAX_FIELD_OFFSET || offset.is_some_and(|o| o != d) {
            return None;
        }
        offset = Some(d);
    }
    offset
}

/// The anchor of each lock whose waiters all print one word at position `p`, a
/// word no waiter of another lock prints there.
fn shared_word(locks: &[Lock], at: &[Asking], p: usize) -> Vec<Learned> {
    // `at` lists each lock's waiters together, locks in order (`learned_anchors`
    // reads them so): its runs are the locks', no list per lock.
    debug_assert!(at.is_sorted_by_key(|a| a.lock));
    // Per word printed at `p`: the one lock whose waiters print it, or `None` when
    // waiters of several do (one pass, not one per lock).
    let mut printed_by: rustc_hash::FxHashMap<u64, Option<usize>> = Default::default();
    for a in at {
        if let Some(w) = word_at(a, p) {
            printed_by
                .entry(w)
                .and_modify(|l| *l = l.filter(|&l| l == a.lock))
                .or_insert(Some(a.lock));
        }
    }
    let mut out = Vec::new();
    for asks in at.chunk_by(|a, b| a.lock == b.lock) {
        let li = asks[0].lock;
        let Some(w) = word_at(&asks[0], p) else {
            continue;
        };
        let all_same = asks.iter().all(|a| word_at(a, p) == Some(w));
        let elsewhere = printed_by.get(&w) != Some(&Some(li));
        let waiters = locks[li].waiters.len();
        if all_same && !elsewhere {
            let from = AnchorFrom::SharedArgument {
                frame: asks[0].frame,
                waiters,
            };
            out.push(Learned {
                lock: li,
                anchor: Anchor { addr: w, from },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The anchors of every lock in a real dump, with its locks.
    fn learned(path: &str) -> Vec<(Lock, Vec<Anchor>)> {
        let text = std::fs::read_to_string(path).unwrap();
        let parsed = crate::parse::parse(&text);
        let dump = parsed.latest().unwrap();
        let blocked = crate::analyze::classify::classify_all(dump);
        let (_, locks) = crate::analyze::groups_and_locks(dump, &blocked, Default::default());
        let anchors = anchors(dump, &blocked, &locks);
        locks.into_iter().zip(anchors).collect()
    }

    /// lock-order-3: three goroutines run `s.migrateTo(dst, barrier)`, each holding
    /// `s.mu` and waiting on `dst.mu`. At the one asking site the lock lies 16 bytes
    /// into the second argument for all three (a learned offset), never into the
    /// receiver (what each holds), and the barrier all three pass ties no lock.
    #[test]
    fn a_field_offset_is_learned_from_the_waiters_and_a_shared_word_ties_nothing() {
        for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
            let locks = learned(&format!("fixtures/dumps/lock-order-3/{go}/debug2.txt"));
            assert_eq!(locks.len(), 3, "{go}");
            let mut all_words = std::collections::BTreeSet::new();
            for (lock, anchors) in &locks {
                let addr = lock.addr.expect("lockSlow prints the mutex");
                let learned: Vec<&Anchor> = anchors
                    .iter()
                    .filter(|a| a.from != AnchorFrom::Primitive)
                    .collect();
                assert_eq!(learned.len(), 1, "{go}: {learned:?}");
                assert!(
                    matches!(
                        learned[0].from,
                        AnchorFrom::FieldOf {
                            offset: 16,
                            agree: 3,
                            ..
                        }
                    ),
                    "{go}: {:?}",
                    learned[0].from
                );
                assert_eq!(learned[0].addr, addr - 16, "{go}");
                all_words.insert(learned[0].addr);
            }
            assert_eq!(all_words.len(), 3, "{go}: each lock its own object");
        }
    }

    /// s0179 (synth, Go 1.19): the mutex lives apart from the object its two
    /// waiters pass (a pointer field), so no offset is learned; the object both
    /// print, and no other lock's waiters do, is the anchor.
    #[test]
    fn a_word_every_waiter_of_one_lock_passes_is_its_anchor() {
        let locks = learned("fixtures/synth/corpus/s0179/debug2.txt");
        let (lock, anchors) = locks
            .iter()
            .find(|(l, _)| l.addr == Some(0xc0000180e8))
            .expect("the mutex 0xc0000180e8");
        assert_eq!(lock.waiters.len(), 2);
        assert!(
            anchors.iter().any(|a| a.addr == 0xc000068050
                && matches!(a.from, AnchorFrom::SharedArgument { waiters: 2, .. })),
            "{anchors:?}"
        );
    }
}
