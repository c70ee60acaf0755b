//! Resources: which waiters share one primitive instance (a mutex, an RWMutex, a
//! Cond, a channel, a semaphore, a user-level gate), by printed address first, then
//! by the wrapper's or the asking method's receiver, then by call site, and say so.

use std::collections::HashMap;

use super::classify::{Blocked, StackId, WaitKind};
use super::{frame_label, IdentityRule, Lock};
use crate::model::{Dump, FuncName, Goroutine};

/// Words below this are lengths, flags and small integers, never heap or global addresses.
pub(super) const MIN_ADDR: u64 = 0x1000;

/// The part of the primitive a lock's key is compared on.
fn class(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::MutexLock => "sync.Mutex",
        WaitKind::RWMutexLock | WaitKind::RWMutexRLock => "sync.RWMutex",
        WaitKind::CondWait => "sync.Cond",
        WaitKind::Semacquire => "semaphore",
        WaitKind::Hidden => "hidden wait",
        WaitKind::ChanSend | WaitKind::ChanReceive | WaitKind::Select => "channel",
        _ => "lock",
    }
}

/// A waiter's ways of naming its lock, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Keys {
    addr: Option<u64>,
    wrapper: Option<(String, u64)>,
    receiver: Option<(&'static str, String, u64)>,
    site: (&'static str, String, u32),
}

pub(super) fn receiver_type(f: &FuncName) -> Option<String> {
    f.receiver().map(|r| format!("{}.({})", f.package(), r))
}

fn keys(g: &Goroutine, b: &Blocked) -> Keys {
    let cls = class(b.kind);
    let wrapper = b.wrapper().and_then(|w| {
        let f = &g.frames[w];
        g.args_of(w)
            .first_certain_word()
            .filter(|&a| a >= MIN_ADDR && f.function.receiver().is_some())
            .map(|a| (f.function.full().to_string(), a))
    });
    // Waits inside two different user functions are two different resources, even
    // when called from methods of one receiver (a semaphore's slot and a reply).
    let gate = b.wrapper().and_then(|w| g.frames.get(w));
    let receiver = b.lock_frame().and_then(|lf| {
        let f = g.frames.get(lf)?;
        let t = receiver_type(&f.function)?;
        let t = match gate {
            Some(w) => format!("{t} in {}", w.function.full()),
            None => t,
        };
        let a = g
            .args_of(lf)
            .first_certain_word()
            .filter(|&a| a >= MIN_ADDR)?;
        Some((cls, t, a))
    });
    // With no address, waiters in the same lock wrapper (whoever calls it) likely
    // share its lock; so do RWMutex waiters in methods of one type (a type's
    // methods lock its own RWMutex); plain primitives are told apart by call site.
    let lock_fn = b.lock_frame().and_then(|lf| g.frames.get(lf));
    let site = match (b.wrapper().and_then(|w| g.frames.get(w)), lock_fn) {
        (Some(w), _) => (cls, w.function.full().to_string(), 0),
        (None, Some(f)) if cls == "sync.RWMutex" && receiver_type(&f.function).is_some() => {
            (cls, receiver_type(&f.function).unwrap_or_default(), 0)
        }
        (None, Some(f)) => (cls, f.function.full().to_string(), f.line),
        (None, None) => (cls, String::new(), 0),
    };
    Keys {
        addr: b.addr.filter(|&a| a >= MIN_ADDR),
        wrapper,
        receiver,
        site,
    }
}

struct Building {
    keys: Keys,
    rule: IdentityRule,
    kind: WaitKind,
    members: Vec<usize>,
    /// (id, goroutine): the lowest-id waiter of each bucket.
    alike: Vec<(u64, usize)>,
    /// (first member, sum of counts) of each bucket, in the order they joined.
    buckets: Vec<(usize, u64)>,
    max_wait: u32,
}

/// Frames, kind, address, the wrapper's and the lock frame's first words, lock frame.
type BucketKey = (
    StackId,
    WaitKind,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<usize>,
);

/// Waiters alike in everything a lock is named by.
struct WaiterBucket {
    /// In input order.
    members: Vec<usize>,
    /// (id, goroutine) of the member with the lowest id.
    lowest: (u64, usize),
    /// Sum of the members' counts.
    count: u64,
    /// The longest wait printed among the members (`, N minutes`), 0 if none.
    max_wait: u32,
}

impl WaiterBucket {
    /// Add the members of a bucket of the same key read later in the input.
    fn merge(&mut self, later: WaiterBucket) {
        self.members.extend(later.members);
        self.lowest = self.lowest.min(later.lowest);
        self.count += later.count;
        self.max_wait = self.max_wait.max(later.max_wait);
    }
}

/// The buckets of goroutines `range`, in order of their first member.
fn buckets_in(
    dump: &Dump,
    blocked: &[Blocked],
    range: std::ops::Range<usize>,
) -> Vec<(BucketKey, WaiterBucket)> {
    let mut bucket_of: rustc_hash::FxHashMap<BucketKey, usize> = Default::default();
    let mut out: Vec<(BucketKey, WaiterBucket)> = Vec::new();
    for i in range {
        let (g, b) = (&dump.goroutines[i], &blocked[i]);
        let lockish = b.kind.is_lock() || (b.wrapper().is_some() && b.kind.is_chan());
        if !lockish || !g.complete {
            continue;
        }
        let first_word = |f: Option<usize>| f.and_then(|f| g.args_of(f).first_certain_word());
        let key = (
            StackId::of(g),
            b.kind,
            b.addr,
            first_word(b.wrapper()),
            first_word(b.lock_frame()),
            b.lock_frame(),
        );
        let id = super::display_id(dump, i);
        let bi = *bucket_of.entry(key).or_insert_with(|| {
            out.push((
                key,
                WaiterBucket {
                    members: Vec::new(),
                    lowest: (id, i),
                    count: 0,
                    max_wait: 0,
                },
            ));
            out.len() - 1
        });
        let bucket = &mut out[bi].1;
        bucket.members.push(i);
        bucket.lowest = bucket.lowest.min((id, i));
        bucket.count += g.count;
        bucket.max_wait = bucket.max_wait.max(g.wait_minutes.unwrap_or(0));
    }
    out
}

/// Waiters that share a lock, by the first rule that applies: same primitive address,
/// same wrapper receiver, same method receiver, same call site.
pub fn find_locks(dump: &Dump, blocked: &[Blocked]) -> Vec<Lock> {
    // Waiters with the same frames, kind, lock frame and the argument words a lock is
    // known by (the primitive's address, the wrapper's and the asking method's
    // receivers) name their lock alike: their keys are read once. Read on every
    // core for a large dump, each thread's buckets merged in order after.
    let parts = super::by_ranges(dump.goroutines.len(), |range| {
        buckets_in(dump, blocked, range)
    });
    let mut bucket_of: rustc_hash::FxHashMap<BucketKey, usize> = Default::default();
    let mut buckets: Vec<WaiterBucket> = Vec::new();
    for (key, b) in parts.into_iter().flatten() {
        match bucket_of.get(&key) {
            Some(&bi) => buckets[bi].merge(b),
            None => {
                bucket_of.insert(key, buckets.len());
                buckets.push(b);
            }
        }
    }
    // Each bucket joins the first lock it names alike, found through an index per
    // kind of key (a million waiters may name a hundred thousand locks).
    let mut locks: Vec<Building> = Vec::new();
    let mut by_addr: rustc_hash::FxHashMap<u64, Vec<usize>> = Default::default();
    let mut by_wrapper: HashMap<(String, u64), Vec<usize>> = HashMap::new();
    let mut by_receiver: HashMap<(&'static str, String, u64), Vec<usize>> = HashMap::new();
    let mut by_site: HashMap<(&'static str, String, u32), Vec<usize>> = HashMap::new();
    for bucket in buckets {
        let i = bucket.members[0];
        let (g, b) = (&dump.goroutines[i], &blocked[i]);
        let k = keys(g, b);
        let rep = bucket.lowest;
        let same = |l: &Building| {
            if let (Some(a), Some(b)) = (k.addr, l.keys.addr) {
                return a == b;
            }
            if k.wrapper.is_some() && k.wrapper == l.keys.wrapper {
                return true;
            }
            if k.receiver.is_some() && k.receiver == l.keys.receiver {
                return true;
            }
            k.addr.is_none()
                && l.keys.addr.is_none()
                && k.wrapper.is_none()
                && l.keys.wrapper.is_none()
                && k.receiver.is_none()
                && l.keys.receiver.is_none()
                && k.site == l.keys.site
        };
        let mut candidates: Vec<usize> = Vec::new();
        if let Some(a) = k.addr {
            candidates.extend(by_addr.get(&a).into_iter().flatten());
        }
        if let Some(w) = &k.wrapper {
            candidates.extend(by_wrapper.get(w).into_iter().flatten());
        }
        if let Some(r) = &k.receiver {
            candidates.extend(by_receiver.get(r).into_iter().flatten());
        }
        // By site alone only a lock known by nothing else joins one known by
        // nothing else (its keys only grow): others are not looked up there.
        let bare = k.addr.is_none() && k.wrapper.is_none() && k.receiver.is_none();
        if bare {
            candidates.extend(by_site.get(&k.site).into_iter().flatten());
        }
        candidates.sort_unstable();
        let found = candidates.into_iter().find(|&li| same(&locks[li]));
        let rule = if k.addr.is_some() {
            IdentityRule::Address
        } else if k.wrapper.is_some() {
            IdentityRule::WrapperReceiver
        } else if k.receiver.is_some() {
            IdentityRule::Receiver
        } else {
            IdentityRule::Site
        };
        match found {
            Some(li) => {
                let l = &mut locks[li];
                l.members.extend(&bucket.members);
                l.alike.push(rep);
                l.buckets.push((i, bucket.count));
                l.max_wait = l.max_wait.max(bucket.max_wait);
                if l.keys.addr.is_none() && k.addr.is_some() {
                    l.keys.addr = k.addr;
                    l.rule = IdentityRule::Address;
                    by_addr.entry(k.addr.unwrap_or(0)).or_default().push(li);
                    if let Some(v) = by_site.get_mut(&l.keys.site) {
                        v.retain(|&x| x != li);
                    }
                }
                if l.rule > rule {
                    l.rule = rule;
                }
            }
            None => {
                let li = locks.len();
                if let Some(a) = k.addr {
                    by_addr.entry(a).or_default().push(li);
                }
                if let Some(w) = &k.wrapper {
                    by_wrapper.entry(w.clone()).or_default().push(li);
                }
                if let Some(r) = &k.receiver {
                    by_receiver.entry(r.clone()).or_default().push(li);
                }
                if bare {
                    by_site.entry(k.site.clone()).or_default().push(li);
                }
                locks.push(Building {
                    keys: k,
                    rule,
                    kind: b.kind,
                    members: bucket.members,
                    alike: vec![rep],
                    buckets: vec![(i, bucket.count)],
                    max_wait: bucket.max_wait,
                });
            }
        }
    }
    locks
        .into_iter()
        .map(|l| {
            let first = l.members[0];
            let g = &dump.goroutines[first];
            let b = &blocked[first];
            let primitive = match b.wrapper() {
                Some(w) => g.frames[w].function.full().to_string(),
                None => class(l.kind).to_string(),
            };
            // Where most waiters ask for it (a holder re-entering asks elsewhere).
            // A bucket's members share frames and lock frame: one asks for them all.
            let mut sites: Vec<((&str, &str, u32), u64, usize)> = Vec::new();
            for &(m, n) in &l.buckets {
                let (mg, mb) = (&dump.goroutines[m], &blocked[m]);
                let key = match mb.lock_frame().and_then(|f| mg.frames.get(f)) {
                    Some(f) => (f.function.full(), f.file, f.line),
                    None => ("?", "", 0),
                };
                match sites.iter_mut().find(|(s, _, _)| *s == key) {
                    Some(e) => e.1 += n,
                    None => sites.push((key, n, m)),
                }
            }
            let site = sites
                .iter()
                .max_by_key(|(_, n, _)| *n)
                .map(|&(_, _, m)| {
                    let (mg, mb) = (&dump.goroutines[m], &blocked[m]);
                    mb.lock_frame()
                        .filter(|&f| f < mg.frames.len())
                        .map(|f| frame_label(mg, f))
                        .unwrap_or_else(|| "?".to_string())
                })
                .unwrap_or_default();
            let _ = (g, b);
            let mut alike = l.alike;
            alike.sort_unstable();
            let mut waiters = l.members;
            super::sort_by_id(dump, &mut waiters);
            Lock {
                kind: l.kind,
                rule: l.rule,
                addr: l.keys.addr,
                primitive,
                site,
                waiters,
                holders: Vec::new(),
                quiet: false,
                alike: alike.into_iter().map(|(_, w)| w).collect(),
                max_wait: l.max_wait,
            }
        })
        .collect()
}
