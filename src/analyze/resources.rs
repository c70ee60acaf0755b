//! Resources: which waiters share one primitive instance (a mutex, an RWMutex, a
//! Cond, a channel, a semaphore, a user-level gate), by printed address first, then
//! by the wrapper's or the asking method's receiver, then by call site, and say so.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::classify::{Blocked, StackId, WaitKind};
use super::key_index::KeyIndex;
use super::{IdentityRule, Lock};
use crate::model::{Dump, FuncName, Goroutine};

/// Words below this are lengths, flags and small integers, never heap or global addresses.
pub(super) const MIN_ADDR: u64 = 0x1000;

/// The words of one frame's arguments printed without `?` and large enough to be
/// addresses: what a frame says for sure of the objects it works on.
pub fn certain_addresses<'g>(args: &crate::model::Args<'g>) -> impl Iterator<Item = u64> + 'g {
    args.words()
        .filter(|&(w, unsure)| !unsure && w >= MIN_ADDR)
        .map(|(w, _)| w)
}

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
struct Keys<'d> {
    addr: Option<u64>,
    wrapper: Option<WrapperKey<'d>>,
    receiver: Option<ReceiverKey>,
    site: SiteKey<'d>,
}

/// The lock wrapper a waiter waits inside, and the receiver it runs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WrapperKey<'d> {
    function: &'d str,
    receiver: u64,
}

/// The type of the method that asked for the lock (with the gate it waits in, if
/// any), and the receiver it ran on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReceiverKey {
    class: &'static str,
    ty: String,
    receiver: u64,
}

/// Where the lock is asked for when nothing else names it: the wrapper, an
/// RWMutex's method type, or the asking function and line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SiteKey<'d> {
    class: &'static str,
    /// Borrowed from the dump but for an RWMutex's method type (`receiver_type`):
    /// a million waiters build no string each.
    function: Cow<'d, str>,
    line: u32,
}

impl Keys<'_> {
    /// Both name the same lock: the same address when both print one, else the
    /// same wrapper receiver, or the same method receiver, or (known by nothing
    /// else) the same site.
    fn same(&self, l: &Keys) -> bool {
        if let (Some(a), Some(b)) = (self.addr, l.addr) {
            return a == b;
        }
        if self.wrapper.is_some() && self.wrapper == l.wrapper {
            return true;
        }
        if self.receiver.is_some() && self.receiver == l.receiver {
            return true;
        }
        self.bare() && l.bare() && self.site == l.site
    }

    /// Known by its site alone.
    fn bare(&self) -> bool {
        self.addr.is_none() && self.wrapper.is_none() && self.receiver.is_none()
    }

    /// The best rule these keys name a lock by.
    fn rule(&self) -> IdentityRule {
        if self.addr.is_some() {
            IdentityRule::Address
        } else if self.wrapper.is_some() {
            IdentityRule::WrapperReceiver
        } else if self.receiver.is_some() {
            IdentityRule::Receiver
        } else {
            IdentityRule::Site
        }
    }
}

pub(super) fn receiver_type(f: &FuncName) -> Option<String> {
    f.receiver().map(|r| format!("{}.({})", f.package(), r))
}

fn keys<'d>(g: &Goroutine<'d>, b: &Blocked) -> Keys<'d> {
    let cls = class(b.kind);
    let wrapper = b.wrapper().and_then(|w| {
        let f = &g.frames[w];
        g.args_of(w)
            .first_certain_word()
            .filter(|&a| a >= MIN_ADDR && f.function.receiver().is_some())
            .map(|a| WrapperKey {
                function: f.function.full(),
                receiver: a,
            })
    });
    // Waits inside two different user functions are two different resources, even
    // when called from methods of one receiver (a semaphore's slot and a reply).
    let gate = b.wrapper().and_then(|w| g.frames.get(w));
    let receiver = b.lock_frame().and_then(|lf| {
        let f = g.frames.get(lf)?;
        f.function.receiver()?;
        let a = g
            .args_of(lf)
            .first_certain_word()
            .filter(|&a| a >= MIN_ADDR)?;
        let t = receiver_type(&f.function)?;
        let t = match gate {
            Some(w) => format!("{t} in {}", w.function.full()),
            None => t,
        };
        Some(ReceiverKey {
            class: cls,
            ty: t,
            receiver: a,
        })
    });
    // With no address, waiters in the same lock wrapper (whoever calls it) likely
    // share its lock; so do RWMutex waiters in methods of one type (a type's
    // methods lock its own RWMutex); plain primitives are told apart by call site.
    let lock_fn = b.lock_frame().and_then(|lf| g.frames.get(lf));
    let (function, line) = match (b.wrapper().and_then(|w| g.frames.get(w)), lock_fn) {
        (Some(w), _) => (Cow::Borrowed(w.function.full()), 0),
        (None, Some(f)) if cls == "sync.RWMutex" && receiver_type(&f.function).is_some() => (
            Cow::Owned(receiver_type(&f.function).unwrap_or_default()),
            0,
        ),
        (None, Some(f)) => (Cow::Borrowed(f.function.full()), f.line),
        (None, None) => (Cow::Borrowed(""), 0),
    };
    Keys {
        addr: b.addr().filter(|&a| a >= MIN_ADDR),
        wrapper,
        receiver,
        site: SiteKey {
            class: cls,
            function,
            line,
        },
    }
}

struct Building<'d> {
    keys: Keys<'d>,
    rule: IdentityRule,
    kind: WaitKind,
    members: Vec<usize>,
    /// (id, goroutine): the lowest-id waiter of each bucket.
    alike: Vec<(u64, usize)>,
    /// Each bucket, in the order they joined.
    buckets: Vec<Joined>,
    max_wait: u32,
}

/// A bucket of waiters that joined a lock: its first member and the sum of counts.
struct Joined {
    first: usize,
    count: u64,
}

/// What waiters alike share: frames, kind, address, the wrapper's and the lock
/// frame's first words, lock frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BucketKey {
    stack: StackId,
    kind: WaitKind,
    addr: Option<u64>,
    wrapper_word: Option<u64>,
    lock_frame_word: Option<u64>,
    lock_frame: Option<usize>,
}

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
    /// A bucket for goroutine `i` (of id `id`), empty yet.
    fn new(id: u64, i: usize) -> Self {
        WaiterBucket {
            members: Vec::with_capacity(1),
            lowest: (id, i),
            count: 0,
            max_wait: 0,
        }
    }

    /// Add the members of a bucket of the same key read later in the input.
    fn merge(&mut self, later: WaiterBucket) {
        self.members.extend(later.members);
        self.lowest = self.lowest.min(later.lowest);
        self.count += later.count;
        self.max_wait = self.max_wait.max(later.max_wait);
    }
}

/// The buckets of a range of goroutines, in order of their first member, and the
/// keys of those whose stack other goroutines share, in the same order: a bucket
/// of a stack no other goroutine has needs no key kept (no other has it), and
/// with every goroutine on its own stack those are nearly all.
struct Part {
    buckets: Vec<WaiterBucket>,
    /// The shared keys, each with its bucket.
    shared: KeyIndex<BucketKey>,
}

/// The buckets of goroutines `range` (`Part`).
fn buckets_in(dump: &Dump, blocked: &[Blocked], range: std::ops::Range<usize>) -> Part {
    let mut part = Part {
        buckets: Vec::new(),
        shared: KeyIndex::default(),
    };
    for i in range {
        let (g, b) = (&dump.goroutines[i], &blocked[i]);
        // A channel wait is a lock only inside a gate (a user function its callers
        // ask for); so is debug=1's hidden wait, which is a channel operation or a
        // select (a mutex's, a Cond's and a semaphore's frames are printed).
        let channel_like = b.kind.is_chan() || b.kind == WaitKind::Hidden;
        let lockish = if channel_like {
            b.wrapper().is_some()
        } else {
            b.kind.is_lock()
        };
        if !lockish || !g.complete {
            continue;
        }
        let id = super::display_id(dump, i);
        let bi = if StackId::alone(g) {
            part.buckets.push(WaiterBucket::new(id, i));
            part.buckets.len() - 1
        } else {
            let buckets = &mut part.buckets;
            part.shared.get_or_insert_with(bucket_key(g, b), || {
                buckets.push(WaiterBucket::new(id, i));
                buckets.len() as u32 - 1
            }) as usize
        };
        let bucket = &mut part.buckets[bi];
        bucket.members.push(i);
        bucket.lowest = bucket.lowest.min((id, i));
        bucket.count += g.count;
        bucket.max_wait = bucket.max_wait.max(g.wait_minutes.unwrap_or(0));
    }
    part
}

/// What a waiter's bucket is known by (`BucketKey`).
fn bucket_key(g: &Goroutine, b: &Blocked) -> BucketKey {
    let first_word = |f: Option<usize>| f.and_then(|f| g.args_of(f).first_certain_word());
    BucketKey {
        stack: StackId::of(g),
        kind: b.kind,
        addr: b.addr(),
        wrapper_word: first_word(b.wrapper()),
        lock_frame_word: first_word(b.lock_frame()),
        lock_frame: b.lock_frame(),
    }
}

/// Waiters that share a lock, by the first rule that applies: same primitive address,
/// same wrapper receiver, same method receiver, same call site.
pub fn find_locks(dump: &Dump, blocked: &[Blocked]) -> Vec<Lock> {
    let mut timer = crate::PhaseTimer::default();
    let mut joining = Joining::default();
    let buckets = waiter_buckets(dump, blocked);
    timer.done("    locks: waiter buckets");
    for bucket in buckets {
        joining.join(dump, blocked, bucket);
    }
    timer.done("    locks: joined");
    let mut texts = Texts::default();
    let mut locks: Vec<Lock> = joining
        .locks
        .into_iter()
        .map(|l| l.finish(dump, blocked, &mut texts))
        .collect();
    timer.done("    locks: finished");
    join_by_shared_object(dump, blocked, &mut locks);
    timer.done("    locks: joined by shared object");
    locks
}

/// Go 1.27 inlines `RWMutex.RLock`: readers queued on an RWMutex print no address,
/// while its writers (queued on its inner mutex) do. A queue known by nothing but
/// its call site joins the one RWMutex known by its address whose waiters' asking
/// frames print a word all of its own print too, when no other lock's waiters
/// print that word (other queues known by their site alone aside): the object
/// the two queues share. Queues known by their site alone that share such a word
/// only among themselves join each other (`join_site_only`).
fn join_by_shared_object(dump: &Dump, blocked: &[Blocked], locks: &mut Vec<Lock>) {
    let rw = |k: WaitKind| matches!(k, WaitKind::RWMutexLock | WaitKind::RWMutexRLock);
    let site_only = |l: &Lock| l.addr.is_none() && l.rule == IdentityRule::Site && rw(l.kind);
    // Only a queue known by its site alone joins another: with none, nothing is
    // read (a million waiters that print their lock's address).
    if !locks.iter().any(site_only) {
        return;
    }
    let words: Vec<BTreeSet<u64>> = locks
        .iter()
        .map(|l| asking_words(dump, blocked, l))
        .collect();
    // Which locks' waiters print each word: looked up, not a loop over locks.
    let mut printed_by: rustc_hash::FxHashMap<u64, Vec<usize>> = Default::default();
    for (li, ws) in words.iter().enumerate() {
        for &w in ws {
            printed_by.entry(w).or_default().push(li);
        }
    }
    let mut into: Vec<(usize, usize)> = Vec::new();
    for (r, lr) in locks.iter().enumerate() {
        if !site_only(lr) || words[r].is_empty() {
            continue;
        }
        // Other queues known by their site alone (readers at another call site)
        // are no other lock's: they may join the same one.
        let mut sharing: Vec<usize> = words[r]
            .iter()
            .flat_map(|w| printed_by[w].iter().copied())
            .filter(|&o| o != r && !site_only(&locks[o]))
            .collect();
        sharing.sort_unstable();
        sharing.dedup();
        if let [a] = sharing[..] {
            if locks[a].addr.is_some() && rw(locks[a].kind) {
                into.push((r, a));
            }
        }
    }
    let joined: Vec<bool> = {
        let mut j = vec![false; locks.len()];
        for &(r, _) in &into {
            j[r] = true;
        }
        j
    };
    into.extend(join_site_only(locks, &words, &printed_by, |li| {
        site_only(&locks[li]) && !joined[li]
    }));
    if into.is_empty() {
        return;
    }
    let mut gone = vec![false; locks.len()];
    for &(r, a) in &into {
        let (waiters, alike, max_wait) = {
            let lr = &locks[r];
            (lr.waiters.clone(), lr.alike.clone(), lr.max_wait)
        };
        let la = &mut locks[a];
        la.waiters.extend(waiters);
        super::sort_by_id(dump, &mut la.waiters);
        la.alike.extend(alike);
        la.alike.sort_unstable();
        la.max_wait = la.max_wait.max(max_wait);
        la.rule = if la.addr.is_some() {
            la.rule.max(IdentityRule::SharedObject)
        } else {
            IdentityRule::SiteObject
        };
        gone[r] = true;
    }
    let mut i = 0;
    locks.retain(|_| {
        i += 1;
        !gone[i - 1]
    });
}

/// Queues of RWMutexes known by their call site alone (readers and writers at
/// several sites, every one inlined) that ask with one object, which no other
/// lock's waiters print: likely one RWMutex of that object. Each joins the one of
/// them asked for at the first site (by name: the same whatever the ids and the
/// order of the goroutines), as (joining, into) pairs.
fn join_site_only(
    locks: &[Lock],
    words: &[BTreeSet<u64>],
    printed_by: &rustc_hash::FxHashMap<u64, Vec<usize>>,
    site_only: impl Fn(usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut taken = vec![false; locks.len()];
    for r in (0..locks.len()).filter(|&r| site_only(r)) {
        if taken[r] {
            continue;
        }
        // The queues sharing one of `r`'s words, when all who print it are such.
        let group: BTreeSet<usize> = words[r]
            .iter()
            .filter_map(|w| {
                let by = &printed_by[w];
                (by.len() > 1 && by.iter().all(|&o| site_only(o))).then_some(by)
            })
            .flatten()
            .copied()
            .filter(|&o| !taken[o])
            .collect();
        let Some(&into) = group
            .iter()
            .min_by(|&&a, &&b| locks[a].site.cmp(&locks[b].site))
        else {
            continue;
        };
        for &o in &group {
            taken[o] = true;
            if o != into {
                out.push((o, into));
            }
        }
    }
    out
}

/// The words (without `?`, large enough to be addresses) every waiter of a lock
/// prints in the frame asking for it.
fn asking_words(dump: &Dump, blocked: &[Blocked], l: &Lock) -> BTreeSet<u64> {
    let mut out: Option<BTreeSet<u64>> = None;
    let mut mine: Vec<u64> = Vec::new();
    for &w in &l.alike {
        let (g, b) = (&dump.goroutines[w], &blocked[w]);
        let Some(fi) = b.lock_frame().filter(|&f| f < g.frames.len()) else {
            return BTreeSet::new();
        };
        mine.clear();
        mine.extend(certain_addresses(&g.args_of(fi)));
        match out.as_mut() {
            None => out = Some(mine.iter().copied().collect()),
            Some(o) => o.retain(|w| mine.contains(w)),
        }
        // Nothing in common stays nothing, whatever the waiters left print.
        if out.as_ref().is_some_and(BTreeSet::is_empty) {
            break;
        }
    }
    out.unwrap_or_default()
}

/// Waiters with the same frames, kind, lock frame and the argument words a lock is
/// known by (the primitive's address, the wrapper's and the asking method's
/// receivers) name their lock alike: their keys are read once. Read on every
/// core for a large dump, each thread's buckets merged in order after.
fn waiter_buckets(dump: &Dump, blocked: &[Blocked]) -> Vec<WaiterBucket> {
    let parts = super::by_ranges(dump.goroutines.len(), |range| {
        buckets_in(dump, blocked, range)
    });
    let mut buckets: Vec<WaiterBucket> =
        Vec::with_capacity(parts.iter().map(|p| p.buckets.len()).sum());
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return buckets;
    };
    // The first part's buckets are taken whole, with their index; the others'
    // join them.
    buckets.extend(first.buckets);
    let mut bucket_of = first.shared;
    let mut parts = parts.peekable();
    while let Some(part) = parts.next() {
        // A part's keys are distinct: what the last part adds no later part
        // looks for, and is not indexed.
        let last = parts.peek().is_none();
        let mut keys = part.shared.keys().iter();
        for b in part.buckets {
            if StackId::alone(&dump.goroutines[b.members[0]]) {
                // Its key is no other bucket's, in this part or another.
                buckets.push(b);
                continue;
            }
            let key = keys.next().expect("a key for each shared bucket");
            match bucket_of.get(key) {
                Some(bi) => buckets[bi as usize].merge(b),
                None => {
                    if !last {
                        bucket_of.insert_new(*key, buckets.len() as u32);
                    }
                    buckets.push(b);
                }
            }
        }
    }
    buckets
}

/// The locks an index lists for a key, if any.
fn listed(v: Option<&Vec<usize>>) -> impl Iterator<Item = usize> + '_ {
    v.into_iter().flatten().copied()
}

/// The locks found so far, with an index per kind of key: each bucket joins the
/// first lock it names alike (a million waiters may name a hundred thousand locks).
#[derive(Default)]
struct Joining<'d> {
    locks: Vec<Building<'d>>,
    by_addr: rustc_hash::FxHashMap<u64, Vec<usize>>,
    by_wrapper: rustc_hash::FxHashMap<WrapperKey<'d>, Vec<usize>>,
    by_receiver: rustc_hash::FxHashMap<ReceiverKey, Vec<usize>>,
    by_site: rustc_hash::FxHashMap<SiteKey<'d>, Vec<usize>>,
}

impl<'d> Joining<'d> {
    /// Add a bucket of waiters to the first lock its keys name alike, or start one.
    fn join(&mut self, dump: &Dump<'d>, blocked: &[Blocked], bucket: WaiterBucket) {
        let i = bucket.members[0];
        let (g, b) = (&dump.goroutines[i], &blocked[i]);
        let k = keys(g, b);
        match self.find(&k) {
            Some(li) => self.add(li, k, bucket),
            None => self.start(k, b.kind, bucket),
        }
    }

    /// The first lock (in the order found) that the keys name alike.
    fn find(&self, k: &Keys<'d>) -> Option<usize> {
        let by_addr = listed(k.addr.and_then(|a| self.by_addr.get(&a)));
        let by_wrapper = listed(k.wrapper.as_ref().and_then(|w| self.by_wrapper.get(w)));
        let by_receiver = listed(k.receiver.as_ref().and_then(|r| self.by_receiver.get(r)));
        // By site alone only a lock known by nothing else joins one known by
        // nothing else (its keys only grow): others are not looked up there.
        let by_site = listed(k.bare().then(|| self.by_site.get(&k.site)).flatten());
        // The first found of those it names alike: the lowest index.
        by_addr
            .chain(by_wrapper)
            .chain(by_receiver)
            .chain(by_site)
            .filter(|&li| k.same(&self.locks[li].keys))
            .min()
    }

    /// The bucket joins lock `li`: a lock first known by site or receiver that a
    /// later waiter prints the address of is known by that address from then on.
    fn add(&mut self, li: usize, k: Keys<'d>, bucket: WaiterBucket) {
        let rule = k.rule();
        let l = &mut self.locks[li];
        let first = bucket.members[0];
        l.members.extend(&bucket.members);
        l.alike.push(bucket.lowest);
        l.buckets.push(Joined {
            first,
            count: bucket.count,
        });
        l.max_wait = l.max_wait.max(bucket.max_wait);
        if l.keys.addr.is_none() && k.addr.is_some() {
            l.keys.addr = k.addr;
            l.rule = IdentityRule::Address;
            self.by_addr
                .entry(k.addr.unwrap_or(0))
                .or_default()
                .push(li);
            if let Some(v) = self.by_site.get_mut(&l.keys.site) {
                v.retain(|&x| x != li);
            }
        }
        if l.rule > rule {
            l.rule = rule;
        }
    }

    /// A new lock, known by the bucket's keys.
    fn start(&mut self, k: Keys<'d>, kind: WaitKind, bucket: WaiterBucket) {
        let li = self.locks.len();
        if let Some(a) = k.addr {
            self.by_addr.entry(a).or_default().push(li);
        }
        if let Some(w) = &k.wrapper {
            self.by_wrapper.entry(w.clone()).or_default().push(li);
        }
        if let Some(r) = &k.receiver {
            self.by_receiver.entry(r.clone()).or_default().push(li);
        }
        if k.bare() {
            self.by_site.entry(k.site.clone()).or_default().push(li);
        }
        let first = bucket.members[0];
        self.locks.push(Building {
            rule: k.rule(),
            keys: k,
            kind,
            members: bucket.members,
            alike: vec![bucket.lowest],
            buckets: vec![Joined {
                first,
                count: bucket.count,
            }],
            max_wait: bucket.max_wait,
        });
    }
}

/// One place a lock is asked for, with how many waiters ask there.
struct AskedAt<'d> {
    /// Function, file and line of the lock frame.
    at: (&'d str, &'d str, u32),
    count: u64,
    /// A waiter asking there.
    member: usize,
}

impl Building<'_> {
    /// The lock as found: its primitive, the site most waiters ask for it at, its
    /// waiters by id and one of each bucket alike.
    fn finish<'t>(self, dump: &'t Dump, blocked: &[Blocked], texts: &mut Texts<'t>) -> Lock {
        let first = self.members[0];
        let g = &dump.goroutines[first];
        let b = &blocked[first];
        let primitive = texts.primitive(match b.wrapper() {
            Some(w) => g.frames[w].function.full(),
            None => class(self.kind),
        });
        let site = self.main_site(dump, blocked, texts);
        let mut alike = self.alike;
        alike.sort_unstable();
        let mut waiters = self.members;
        super::sort_by_id(dump, &mut waiters);
        Lock {
            kind: self.kind,
            rule: self.rule,
            addr: self.keys.addr,
            primitive,
            site,
            waiters,
            holders: Vec::new(),
            quiet: false,
            scope: super::release::Scope::Program,
            all_stuck: None,
            alike: alike.into_iter().map(|(_, w)| w).collect(),
            max_wait: self.max_wait,
        }
    }

    /// Where most waiters ask for it (a holder re-entering asks elsewhere).
    /// A bucket's members share frames and lock frame: one asks for them all.
    fn main_site<'t>(
        &self,
        dump: &'t Dump,
        blocked: &[Blocked],
        texts: &mut Texts<'t>,
    ) -> Arc<str> {
        let mut sites: Vec<AskedAt> = Vec::new();
        for j in &self.buckets {
            let (mg, mb) = (&dump.goroutines[j.first], &blocked[j.first]);
            let at = match mb.lock_frame().and_then(|f| mg.frames.get(f)) {
                Some(f) => (f.function.full(), f.file, f.line),
                None => ("?", "", 0),
            };
            match sites.iter_mut().find(|s| s.at == at) {
                Some(e) => e.count += j.count,
                None => sites.push(AskedAt {
                    at,
                    count: j.count,
                    member: j.first,
                }),
            }
        }
        sites
            .iter()
            .max_by_key(|s| s.count)
            .map(|s| {
                let (mg, mb) = (&dump.goroutines[s.member], &blocked[s.member]);
                let f = mb.lock_frame().filter(|&f| f < mg.frames.len());
                texts.site(mg, f)
            })
            .unwrap_or_else(|| texts.primitive(""))
    }
}

/// The texts of the locks, each made once and shared: a quarter of a million
/// locks of one kind at one site hold one primitive's name and one site's.
#[derive(Default)]
struct Texts<'d> {
    primitives: rustc_hash::FxHashMap<&'d str, Arc<str>>,
    sites: super::FrameLabels,
}

impl<'d> Texts<'d> {
    fn primitive(&mut self, name: &'d str) -> Arc<str> {
        self.primitives
            .entry(name)
            .or_insert_with(|| name.into())
            .clone()
    }

    /// `frame_label` of frame `f` of `g`; `?` for none.
    fn site(&mut self, g: &Goroutine, f: Option<usize>) -> Arc<str> {
        match f {
            Some(f) => self.sites.of(g, f),
            None => self.primitive("?"),
        }
    }
}
