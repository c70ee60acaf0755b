//! Rank: each lock's candidates weighed on their evidence, best first.

use std::borrow::Cow;
use std::collections::HashSet;

use super::candidates::{first_of_type, LockCall, LockSites, OfType, Share, Wanted};
use super::prepare::{AddressHit, Prepared, SKIP, SMALL};
use super::{blocked_weight, own_start, Candidate, Ev};
use crate::analyze::classify::{is_machinery, Blocked, StackId, WaitKind};
use crate::analyze::findings::{Anchor, FrameRef, HolderEvidence, HolderWhy};
use crate::analyze::resources::{receiver_type, MIN_ADDR};
use crate::analyze::{display_id, Lock};
use crate::group::Group;
use crate::model::{Args, Dump, Frame, Goroutine};

/// Goroutines weighed as one: parts of `Prepared`'s buckets, in order of their first
/// goroutine once sorted.
struct Bucket<'p> {
    /// The first part joined, then the others in order.
    head: Cow<'p, [usize]>,
    tail: Vec<Cow<'p, [usize]>>,
}

impl Bucket<'_> {
    fn parts(&self) -> impl Iterator<Item = &Cow<'_, [usize]>> {
        std::iter::once(&self.head).chain(&self.tail)
    }
    fn len(&self) -> usize {
        self.parts().map(|p| p.len()).sum()
    }
    /// The goroutine that stands for the bucket: its first.
    fn first(&self) -> usize {
        self.parts()
            .filter_map(|p| p.first())
            .min()
            .copied()
            .unwrap_or(0)
    }
    fn iter(&self) -> impl Iterator<Item = &usize> {
        self.parts().flat_map(|p| p.iter())
    }
}

/// A bucket with its best hit on the lock's anchors (read on its first goroutine).
struct ReadBucket<'p, 'd> {
    members: Bucket<'p>,
    hit: Option<AddressHit<'d>>,
    /// `members.first()`, read once.
    first: usize,
}

/// The members of each bucket read, by its first goroutine (they are sorted on it).
struct MembersOf<'b, 'p, 'd>(&'b [ReadBucket<'p, 'd>]);

impl<'b, 'p> std::ops::Index<&usize> for MembersOf<'b, 'p, '_> {
    type Output = Bucket<'p>;
    fn index(&self, first: &usize) -> &Bucket<'p> {
        let i = self
            .0
            .binary_search_by_key(first, |b| b.first)
            .expect("a bucket read");
        &self.0[i].members
    }
}

/// One piece of evidence with its weight before sharing.
struct Weighed {
    ev: Ev,
    weight: f64,
    why: HolderWhy,
}

/// A candidate before weighing.
struct RawCandidate {
    goroutine: usize,
    /// The frame past the asking call ("lock taken here").
    got_in: Option<usize>,
    evidence: Vec<Weighed>,
}

/// A candidate weighed: its score (rounded), and whether evidence points at it.
struct Scored {
    score: f64,
    strong: bool,
    raw: RawCandidate,
}

/// A waiter tied to the lock by a word of its own frames: it may have re-entered it.
struct Reentry {
    goroutine: usize,
    why: HolderWhy,
}

/// Pass 1's reading: candidates with evidence, and waiters that may have re-entered.
#[derive(Default)]
struct Read {
    raw: Vec<RawCandidate>,
    reentry: Vec<Reentry>,
}

/// A frame past the call where the waiters ask for the lock.
#[derive(Clone, Copy)]
struct GotIn {
    frame: usize,
    lock_line: u32,
}

/// What the lock's waiters tell ranking, read once per lock.
struct Asked<'d> {
    /// Sorted, once each.
    waiters: Vec<usize>,
    /// The waiters that are ranked (in a bucket), sorted.
    ranked_waiters: Vec<usize>,
    /// Where the waiters ask for the lock, once each.
    calls: Vec<LockCall<'d>>,
    /// The types of the asking methods.
    sites: LockSites<'d>,
    /// A waiter waits for the write lock of this RWMutex.
    writer_pending: bool,
    /// Some waiter's stack group holds more than one goroutine.
    waiter_groups_big: bool,
}

impl<'d> Asked<'d> {
    /// Where and how the waiters ask for the lock. Waiters alike share frames, lock
    /// frame and wait kind (`find_locks`): one of each asks for them all.
    fn of(
        dump: &'d Dump,
        blocked: &[Blocked],
        group_of: &[usize],
        prep: &Prepared<'d>,
        lock: &Lock,
    ) -> Self {
        let mut waiters: Vec<usize> = lock.waiters.clone();
        waiters.sort_unstable();
        waiters.dedup();
        let mut calls: Vec<LockCall<'d>> = Vec::new();
        for &w in &lock.alike {
            let g = &dump.goroutines[w];
            if let Some(f) = blocked[w].lock_frame().and_then(|lf| g.frames.get(lf)) {
                if !calls
                    .iter()
                    .any(|c| c.function == f.function && c.line == f.line)
                {
                    calls.push(LockCall {
                        function: f.function,
                        line: f.line,
                    });
                }
            }
        }
        let sites = LockSites::of(&calls);
        let waiter_groups_big = waiters_share_a_stack(dump, group_of, &waiters);
        let ranked_waiters = waiters
            .iter()
            .copied()
            .filter(|&w| prep.base[w] != SKIP)
            .collect();
        Asked {
            waiters,
            ranked_waiters,
            calls,
            sites,
            writer_pending: lock
                .alike
                .iter()
                .any(|&w| blocked[w].kind == WaitKind::RWMutexLock),
            waiter_groups_big,
        }
    }

    fn is_waiter(&self, c: usize) -> bool {
        self.waiters.binary_search(&c).is_ok()
    }
}

/// Two of the lock's waiters (or one record standing for several) share a stack:
/// they queue at one place, where a holder's stack of its own stands out.
/// Waiters alone on the lock, each on a stack other goroutines share while
/// waiting on other locks, queue nowhere together. `waiters` is sorted.
fn waiters_share_a_stack(dump: &Dump, group_of: &[usize], waiters: &[usize]) -> bool {
    if waiters.iter().any(|&w| dump.goroutines[w].count > 1) {
        return true;
    }
    let mut stacks: Vec<usize> = waiters.iter().map(|&w| group_of[w]).collect();
    stacks.sort_unstable();
    stacks.windows(2).any(|p| p[0] == p[1])
}

/// One lock's ranking: what it reads, for every step.
struct Ranking<'a, 'd> {
    dump: &'d Dump<'d>,
    blocked: &'a [Blocked],
    groups: &'a [Group],
    group_of: &'a [usize],
    prep: &'a Prepared<'d>,
    lock: &'a Lock,
    /// The lock's index among the locks.
    li: usize,
    anchors: &'a [Anchor],
    asked: Asked<'d>,
    /// The buckets with a frame of the lock's type (`candidates` made it).
    of_type: Option<std::sync::Arc<OfType>>,
}

/// Rank every other goroutine as a likely holder of `lock`.
pub fn rank<'d>(
    dump: &'d Dump,
    blocked: &[Blocked],
    groups: &[Group],
    group_of: &[usize],
    prep: &Prepared<'d>,
    li: usize,
    lock: &Lock,
) -> Vec<Candidate> {
    let mut r = Ranking {
        dump,
        blocked,
        groups,
        group_of,
        prep,
        lock,
        li,
        anchors: &prep.anchors[li],
        asked: Asked::of(dump, blocked, group_of, prep, lock),
        of_type: None,
    };
    // Only the buckets that may hold evidence on this lock (the rest score under
    // what a candidate needs, and count only in how many share their evidence).
    let wanted = Wanted {
        anchors: r.anchors,
        lock_calls: &r.asked.calls,
        sites: &r.asked.sites,
        ranked_waiters: &r.asked.ranked_waiters,
        waiter_groups_big: r.asked.waiter_groups_big,
        max_wait: lock.max_wait,
        signal: lock.is_signal_wait(),
    };
    #[allow(unused_mut)]
    let mut found = prep.candidates(dump, blocked, groups, group_of, &wanted);
    r.of_type = found.of_type.take();
    #[cfg(test)]
    if super::tests::EXHAUSTIVE.get() {
        // Every bucket read, shares summed over them: what the indexes must equal.
        found.buckets = (0..prep.base_members.len() as u32).collect();
        found.population.clear();
        found.unread_address = 0;
    }
    let buckets = r.split_buckets(found.buckets);
    let members_of = MembersOf(&buckets);
    // Pass 1: what each candidate has going for it (the bucket's first goroutine
    // stands for all of it).
    let mut read = Read {
        raw: Vec::with_capacity(buckets.len()),
        reentry: Vec::new(),
    };
    for b in &buckets {
        r.read_bucket(b, &mut read);
    }
    let mut raw = read.raw;
    let unread = found.unread_address;
    raw.extend(reentered(dump, &raw, read.reentry, unread > 0));
    // Pass 2: evidence that many goroutines share singles out none of them.
    let mut shared = shared_counts(&raw, &members_of, found.population);
    shared.0[Ev::Address as usize] += unread;
    let kept = keep_best(dump, score(raw, &shared), &members_of);
    // Words only for the candidates kept, in a list of just their number (kept
    // by every lock at once; grown one by one, three would take room for four).
    let mut out = Vec::with_capacity(kept.len());
    out.extend(kept.into_iter().map(|s| candidate(s, &shared)));
    out
}

/// What a goroutine of a bucket is weighed by, but for its id: buckets with equal
/// keys are joined.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SplitKey<'k> {
    group: usize,
    hit: Option<HitKey<'k>>,
    kind: WaitKind,
    is_waiter: bool,
    minutes: Option<u32>,
}

/// An address hit as a key: weight (its bits), function, word, anchor.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct HitKey<'k> {
    weight: u64,
    function: &'k str,
    word: u64,
    anchor: usize,
}

/// A lock's ranked waiters by their bucket: (bucket, goroutine), sorted.
struct WaitersIn(Vec<(u32, usize)>);

impl WaitersIn {
    fn new(prep: &Prepared, ranked_waiters: &[usize]) -> Self {
        let mut pairs: Vec<(u32, usize)> =
            ranked_waiters.iter().map(|&w| (prep.base[w], w)).collect();
        // Stable: the waiters come in goroutine order, and a long queue is often
        // in one bucket (found sorted in one pass).
        pairs.sort_by_key(|&(bi, _)| bi);
        WaitersIn(pairs)
    }

    /// The waiters in bucket `bi`, in goroutine order.
    fn of(&self, bi: u32) -> Vec<usize> {
        let from = self.0.partition_point(|&(b, _)| b < bi);
        let to = from + self.0[from..].partition_point(|&(b, _)| b == bi);
        self.0[from..to].iter().map(|&(_, w)| w).collect()
    }
}

/// Part of one of `Prepared`'s buckets: its goroutines that wait on this lock, or
/// the rest.
struct Part<'p> {
    is_waiter: bool,
    goroutines: Cow<'p, [usize]>,
}

impl<'a, 'd> Ranking<'a, 'd> {
    /// Goroutines alike in everything the evidence reads (the same stack, wait
    /// kind, waiter or not, minutes, a unique stack or not, the same hit on the
    /// lock's address) are weighed once: a million goroutines in a hundred stacks
    /// make a hundred buckets. `Prepared` made them once for all locks; here each
    /// found is split into this lock's waiters and the rest, and parts that read
    /// alike are joined. In order of their first goroutine, as if read one
    /// goroutine at a time.
    fn split_buckets(&self, found: Vec<u32>) -> Vec<ReadBucket<'a, 'd>> {
        let (dump, blocked, prep) = (self.dump, self.blocked, self.prep);
        let waiters_in = WaitersIn::new(prep, &self.asked.ranked_waiters);
        let mut bucket_of: rustc_hash::FxHashMap<SplitKey, usize> =
            rustc_hash::FxHashMap::with_capacity_and_hasher(found.len(), Default::default());
        let mut buckets: Vec<ReadBucket> = Vec::with_capacity(found.len());
        for bi in found {
            let members = prep.base_members.of(bi as usize);
            let ws = waiters_in.of(bi);
            for part in self.parts(members, ws).into_iter().flatten() {
                let Some(&c) = part.goroutines.first() else {
                    continue;
                };
                let start = own_start(&dump.goroutines[c], &blocked[c], part.is_waiter);
                let hit = prep.address_hit(dump, &blocked[c], c, start, self.li);
                let key = SplitKey {
                    group: self.group_of[c],
                    hit: hit.map(|h| HitKey {
                        weight: h.weight.to_bits(),
                        function: h.function.full(),
                        word: h.word,
                        anchor: h.anchor,
                    }),
                    kind: blocked[c].kind,
                    is_waiter: part.is_waiter,
                    minutes: dump.goroutines[c].wait_minutes,
                };
                match bucket_of.entry(key) {
                    std::collections::hash_map::Entry::Occupied(at) => {
                        buckets[*at.get()].members.tail.push(part.goroutines);
                    }
                    std::collections::hash_map::Entry::Vacant(at) => {
                        at.insert(buckets.len());
                        buckets.push(ReadBucket {
                            members: Bucket {
                                head: part.goroutines,
                                tail: Vec::new(),
                            },
                            hit,
                            first: 0,
                        });
                    }
                }
            }
        }
        for b in &mut buckets {
            b.first = b.members.first();
        }
        buckets.sort_unstable_by_key(|b| b.first);
        buckets
    }

    /// A bucket of `Prepared` split into the rest and this lock's waiters `ws`.
    fn parts(&self, members: &'a [usize], mut ws: Vec<usize>) -> [Option<Part<'a>>; 2] {
        if ws.is_empty() {
            let rest = Part {
                is_waiter: false,
                goroutines: Cow::Borrowed(members),
            };
            return [Some(rest), None];
        }
        ws.sort_unstable();
        ws.dedup();
        let rest = (ws.len() < members.len()).then(|| {
            let rest: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&c| !self.asked.is_waiter(c))
                .collect();
            Part {
                is_waiter: false,
                goroutines: Cow::Owned(rest),
            }
        });
        let waiters = Part {
            is_waiter: true,
            goroutines: Cow::Owned(ws),
        };
        [rest, Some(waiters)]
    }

    /// Pass 1 on one bucket, read on its first goroutine: it got in, it works on
    /// the lock's address or the object holding it, and for others than waiters,
    /// the code near the lock, what it is doing now, how long it has waited. A
    /// waiter that did not get in is read only for holding the lock already.
    fn read_bucket(&self, rb: &ReadBucket, read: &mut Read) {
        let c = rb.members.first();
        let g = &self.dump.goroutines[c];
        let b = &self.blocked[c];
        let is_waiter = self.asked.is_waiter(c);
        let start = own_start(g, b, is_waiter);
        let at = |frame: usize| FrameRef {
            goroutine: c,
            frame,
        };
        let mut ev: Vec<Weighed> = Vec::new();
        // 1. It got in: a frame in a function that asks for the lock, past that call.
        let got_in = self.got_in(c, g, start);
        if let Some(gi) = got_in {
            ev.push(Weighed {
                ev: Ev::GotIn,
                weight: 0.6,
                why: HolderWhy::GotIn {
                    frame: at(gi.frame),
                    lock_line: gi.lock_line,
                },
            });
        }
        if is_waiter && got_in.is_none() {
            self.waiter_evidence(c, start, rb.hit, read);
            return;
        }
        // 2. It works on the lock's address or the object holding it (read per
        // goroutine when the buckets were made).
        if let Some(hit) = rb.hit {
            let why = HolderWhy::Address {
                frame: at(hit.frame),
                word: hit.word,
                anchor: self.anchors[hit.anchor].clone(),
            };
            ev.push(Weighed {
                ev: Ev::Address,
                weight: hit.weight,
                why,
            });
        }
        if !is_waiter {
            self.circumstance(c, start, &mut ev);
        }
        if !ev.is_empty() {
            read.raw.push(RawCandidate {
                goroutine: c,
                got_in: got_in.map(|g| g.frame),
                evidence: ev,
            });
        }
    }

    /// Its first own frame in a function that asks for the lock, at a line past
    /// that call. A signal (a channel, a Cond, a semaphore) is got in only by
    /// straight-line code: where the function that asks for it is on the stack
    /// more than once, it recurses, and its line says nothing of which branch ran
    /// before (a recursion that ends in another wait is no holder). A mutex taken
    /// again by a recursion is a real self-deadlock, and keeps the rule.
    /// Only frames in a function where some lock is asked for can be: those
    /// `Prepared` listed for its bucket, when it did.
    fn got_in(&self, c: usize, g: &Goroutine, start: usize) -> Option<GotIn> {
        let recursion = |f: &Frame| {
            self.lock.is_signal_wait()
                && g.frames.iter().filter(|o| o.function == f.function).count() > 1
        };
        let at = |fi: usize| {
            let f = &g.frames[fi];
            self.asked
                .calls
                .iter()
                .find(|c| c.function == f.function && f.line > c.line && !recursion(f))
                .map(|c| GotIn {
                    frame: fi,
                    lock_line: c.line,
                })
        };
        let every = || (start..g.frames.len()).find_map(at);
        let Some(frames) = self.prep.asking_frames(c) else {
            return every();
        };
        let got_in = frames.filter(|&fi| fi >= start).find_map(at);
        debug_assert_eq!(got_in.map(|g| g.frame), every().map(|g| g.frame));
        got_in
    }

    /// A waiter that did not get in may hold the lock already. A reader queued
    /// behind a pending writer that already holds a read lock of the same RWMutex:
    /// a deeper frame of its own works on the same object (Go's RWMutex read lock
    /// is not re-entrant once a writer waits). A mutex waiter when nothing that
    /// could release the lock is running, and a frame of its own, outside the call
    /// that waits, prints a word that ties the lock to its holder: it likely locked
    /// it already (Go's Mutex is not re-entrant). Decided once every goroutine was
    /// read.
    fn waiter_evidence(&self, c: usize, start: usize, hit: Option<AddressHit>, read: &mut Read) {
        let g = &self.dump.goroutines[c];
        let b = &self.blocked[c];
        if b.kind == WaitKind::RWMutexRLock && self.asked.writer_pending {
            let own: Vec<(&Frame, Args)> = g.frames_args().skip(start).collect();
            if let Some(w) = reentrant_read(c, g, b, start, &own) {
                read.raw.push(RawCandidate {
                    goroutine: c,
                    got_in: None,
                    evidence: vec![w],
                });
                return;
            }
        }
        // Blocked asking again for a lock it holds, in any mode, waits for good: a
        // Mutex is not re-entrant, an RWMutex's writer waits for every reader and
        // its readers queue behind a waiting writer.
        if self.lock.quiet && b.kind.is_mutex() {
            // A lock with no address printed is tied by the word its only waiters
            // ask with (`anchors::learned_anchors`), printed again further out.
            if let Some(hit) = hit {
                let why = HolderWhy::Reentered {
                    addr: self.lock.addr,
                    caller: FrameRef {
                        goroutine: c,
                        frame: hit.frame,
                    },
                    object: hit.word,
                };
                read.reentry.push(Reentry { goroutine: c, why });
            }
        }
    }

    /// A non-waiter's first own frame of the lock's type: as read for its bucket
    /// once per set of types.
    fn of_type(&self, c: usize, start: usize) -> Option<usize> {
        let tf = self.of_type.as_ref()?;
        let frame = tf.frame[self.prep.base[c] as usize].map(|f| f as usize);
        debug_assert_eq!(
            frame,
            first_of_type(&self.dump.goroutines[c], start, &self.asked.sites)
        );
        frame
    }

    /// Circumstance, for others than waiters: methods of the lock's type, what it
    /// is doing now (blocked), a stack of
    /// its own among waiters in groups, and being blocked at least as long as the
    /// waiters.
    fn circumstance(&self, c: usize, start: usize, ev: &mut Vec<Weighed>) {
        let g = &self.dump.goroutines[c];
        let b = &self.blocked[c];
        let at = |frame: usize| FrameRef {
            goroutine: c,
            frame,
        };
        let push = |ev: &mut Vec<Weighed>, kind: Ev, weight: f64, why: HolderWhy| {
            ev.push(Weighed {
                ev: kind,
                weight,
                why,
            })
        };
        // 3. A method of the lock's type.
        if let Some(frame) = self.of_type(c, start) {
            let why = HolderWhy::SameType { frame: at(frame) };
            push(ev, Ev::SameType, 0.2, why);
        }
        // 4. What it is doing now.
        match b.kind {
            k if k.is_lock() || k == WaitKind::WaitGroupWait => {
                push(ev, Ev::Blocked, 0.1, HolderWhy::Blocked { kind: k });
            }
            WaitKind::SelectNoCases | WaitKind::Other => {}
            k if k.is_active() => {}
            k => push(ev, Ev::Blocked, 0.05, HolderWhy::Blocked { kind: k }),
        }
        debug_assert_eq!(
            blocked_weight(b.kind),
            ev.last().filter(|e| e.ev == Ev::Blocked).map(|e| e.weight)
        );
        if self.groups[self.group_of[c]].count == 1 && self.asked.waiter_groups_big {
            push(ev, Ev::Unique, 0.05, HolderWhy::Unique);
        }
        // 5. It has been blocked at least as long as the waiters.
        let max_wait = self.lock.max_wait;
        if max_wait > 0 && g.wait_minutes.is_some_and(|m| m >= max_wait) {
            let why = HolderWhy::Longer {
                minutes: g.wait_minutes.unwrap_or(0),
                waiters_minutes: max_wait,
            };
            push(ev, Ev::Longer, 0.1, why);
        }
    }
}

/// A waiter tied to the lock holds it only if it alone is: no goroutine outside
/// the queue is (got in, or prints a word that ties it), and the tied waiters
/// share one stack (waiters that all pass the object down say nothing).
/// `unread_address`: goroutines outside the queue print a word that ties them,
/// in buckets not read.
fn reentered(
    dump: &Dump,
    raw: &[RawCandidate],
    reentry: Vec<Reentry>,
    unread_address: bool,
) -> Vec<RawCandidate> {
    let tied_outside = unread_address
        || raw.iter().any(|r| {
            r.evidence
                .iter()
                .any(|e| matches!(e.ev, Ev::GotIn | Ev::Address))
        });
    let stacks: HashSet<StackId> = reentry
        .iter()
        .map(|r| StackId::of(&dump.goroutines[r.goroutine]))
        .collect();
    if tied_outside || stacks.len() != 1 {
        return Vec::new();
    }
    reentry
        .into_iter()
        .map(|r| RawCandidate {
            goroutine: r.goroutine,
            got_in: None,
            evidence: vec![Weighed {
                ev: Ev::Reentered,
                weight: 0.4,
                why: r.why,
            }],
        })
        .collect()
}

/// How many goroutines share each kind of evidence: those of the candidates read,
/// and for circumstantial evidence shared with goroutines not read, the whole
/// population counted by `candidates`.
fn shared_counts(raw: &[RawCandidate], members_of: &MembersOf, population: Vec<Share>) -> Shared {
    let mut shared = Shared::default();
    for r in raw {
        let n = members_of[&r.goroutine].len();
        for e in &r.evidence {
            shared.0[e.ev as usize] += n;
        }
    }
    // Circumstantial evidence is shared with goroutines not read: counted whole.
    for Share { ev, goroutines: n } in population {
        debug_assert!(n > SMALL || shared[&ev] == n);
        shared.0[ev as usize] = n;
    }
    shared
}

/// How many goroutines share each kind of evidence.
#[derive(Default)]
struct Shared([usize; Ev::COUNT]);

impl std::ops::Index<&Ev> for Shared {
    type Output = usize;
    fn index(&self, ev: &Ev) -> &usize {
        &self.0[*ev as usize]
    }
}

/// Evidence that many goroutines share singles out none of them, so its weight is
/// shared out (a pointer every goroutine passes around says little): got in and
/// re-entered count whole, the rest whole when three or fewer share it. Strong:
/// it got in, re-entered, or has an address or type hit few share. Candidates
/// under 0.05 are dropped; scores are capped at 0.99 and rounded to hundredths.
fn score(raw: Vec<RawCandidate>, shared: &Shared) -> Vec<Scored> {
    let mut scored: Vec<Scored> = Vec::with_capacity(raw.len());
    for cand in raw {
        let mut score = 0.0;
        let strong = cand.evidence.iter().any(|e| {
            matches!(e.ev, Ev::GotIn | Ev::Reentered)
                || (matches!(e.ev, Ev::Address | Ev::SameType) && shared[&e.ev] <= 3)
        });
        for e in &cand.evidence {
            let n = shared[&e.ev];
            score += if matches!(e.ev, Ev::GotIn | Ev::Reentered) || n <= 3 {
                e.weight
            } else {
                e.weight * 3.0 / n as f64
            };
        }
        if score >= 0.05 {
            scored.push(Scored {
                score: (score.min(0.99) * 100.0).round() / 100.0,
                strong,
                raw: cand,
            });
        }
    }
    scored
}

/// Best score first; within one score, those the evidence points at directly
/// (they got in, or re-entered the lock) before those it only circumstantially
/// does (the sum of address, type and state), then goroutines by id; eight at most.
/// A bucket's members share its frames: its evidence is read on each kept.
fn keep_best(dump: &Dump, mut scored: Vec<Scored>, members_of: &MembersOf) -> Vec<Scored> {
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Scored> = Vec::new();
    let mut i = 0;
    while i < scored.len() && kept.len() < 8 {
        let score = scored[i].score;
        let j = i + scored[i..].iter().take_while(|s| s.score == score).count();
        for t in tier(dump, &scored, i..j, members_of, 8 - kept.len()) {
            let s = &scored[t.index];
            let evidence = s
                .raw
                .evidence
                .iter()
                .map(|e| Weighed {
                    ev: e.ev,
                    weight: e.weight,
                    why: e.why.clone().on_goroutine(t.goroutine),
                })
                .collect();
            kept.push(Scored {
                score: s.score,
                strong: s.strong,
                raw: RawCandidate {
                    goroutine: t.goroutine,
                    got_in: s.raw.got_in,
                    evidence,
                },
            });
        }
        i = j;
    }
    kept
}

/// A bucket among those of one score: not direct, its first goroutine (whose
/// stack orders it), and its index into the scored candidates.
#[derive(Clone, Copy)]
struct StackOrder {
    not_direct: bool,
    goroutine: usize,
    index: usize,
}

impl StackOrder {
    /// By (not direct, what the stack says: `stack_key`'s order), read without
    /// building the key.
    fn cmp_stack(&self, o: &StackOrder, dump: &Dump) -> std::cmp::Ordering {
        let (a, b) = (
            &dump.goroutines[self.goroutine],
            &dump.goroutines[o.goroutine],
        );
        self.not_direct
            .cmp(&o.not_direct)
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| {
                b.wait_minutes
                    .unwrap_or(0)
                    .cmp(&a.wait_minutes.unwrap_or(0))
            })
            .then_with(|| a.state.raw.cmp(b.state.raw))
            .then_with(|| {
                if StackId::of(a) == StackId::of(b) {
                    std::cmp::Ordering::Equal
                } else {
                    frame_keys(a).cmp(frame_keys(b))
                }
            })
    }

    fn cmp(&self, o: &StackOrder, dump: &Dump) -> std::cmp::Ordering {
        self.cmp_stack(o, dump).then(self.index.cmp(&o.index))
    }
}

/// A stack's frames as `stack_key` reads them.
fn frame_keys<'g>(g: &'g Goroutine) -> impl Iterator<Item = (&'g str, &'g str, u32)> + 'g {
    g.frames.iter().map(|f| (f.function.full(), f.file, f.line))
}

/// One goroutine of a tier, in the order it is kept.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct TierEntry {
    /// Equal for buckets whose stacks read the same.
    rank: usize,
    not_direct: bool,
    id: u64,
    goroutine: usize,
    /// Index into the scored candidates.
    index: usize,
}

/// The first `want` goroutines of the buckets of one score (`scored[range]`), in
/// the order they are kept: by (not direct, what their stack says), then by id,
/// which decides only between goroutines whose stacks read the same. Of a large
/// bucket, its eight lowest ids.
fn tier(
    dump: &Dump,
    scored: &[Scored],
    range: std::ops::Range<usize>,
    members_of: &MembersOf,
    want: usize,
) -> Vec<TierEntry> {
    let mut by_stack: Vec<StackOrder> = Vec::with_capacity(range.len());
    for index in range {
        let direct = scored[index]
            .raw
            .evidence
            .iter()
            .any(|e| matches!(e.ev, Ev::GotIn | Ev::Reentered));
        if let Some(&m) = members_of[&scored[index].raw.goroutine].iter().next() {
            by_stack.push(StackOrder {
                not_direct: !direct,
                goroutine: m,
                index,
            });
        }
    }
    first_stacks(dump, &mut by_stack, want);
    let mut tier: Vec<TierEntry> = Vec::new();
    let mut rank = 0;
    for (order, s) in by_stack.iter().enumerate() {
        // Equal keys (adjacent once sorted) share one rank: the id orders only
        // identical stacks.
        let prev = order.checked_sub(1).map(|p| &by_stack[p]);
        if prev.is_some_and(|p| p.cmp_stack(s, dump).is_ne()) {
            rank = order;
        }
        // At most eight are kept: of a large bucket, its eight lowest ids.
        let mut lowest: std::collections::BinaryHeap<(u64, usize)> = Default::default();
        for &m in members_of[&scored[s.index].raw.goroutine].iter() {
            lowest.push((display_id(dump, m), m));
            if lowest.len() > 8 {
                lowest.pop();
            }
        }
        for (id, m) in lowest {
            tier.push(TierEntry {
                rank,
                not_direct: s.not_direct,
                id,
                goroutine: m,
                index: s.index,
            });
        }
    }
    tier.sort_unstable();
    tier.truncate(want);
    tier
}

/// Sorts the buckets of a tier, keeping only the first ones that can give its
/// first `want` goroutines: the first `want` buckets (each has one at least) and
/// any whose stack reads as the last of them does (the id decides among those).
/// A prefix of the whole order, so each keeps its place.
fn first_stacks(dump: &Dump, by_stack: &mut Vec<StackOrder>, want: usize) {
    if want > 0 && by_stack.len() > want {
        by_stack.select_nth_unstable_by(want - 1, |a, b| a.cmp(b, dump));
        let last = by_stack[want - 1];
        let mut k = want;
        for i in want..by_stack.len() {
            if by_stack[i].cmp_stack(&last, dump).is_eq() {
                by_stack.swap(k, i);
                k += 1;
            }
        }
        by_stack.truncate(k);
    }
    by_stack.sort_unstable_by(|a, b| a.cmp(b, dump));
}

/// A kept candidate as reported: its evidence with how many others share each.
fn candidate(s: Scored, shared: &Shared) -> Candidate {
    let ev = s.raw.evidence;
    Candidate {
        goroutine: s.raw.goroutine,
        score: s.score,
        got_in: s.raw.got_in,
        strong: s.strong,
        reentered: ev.iter().any(|e| e.ev == Ev::Reentered),
        evidence: ev
            .into_iter()
            .map(|e| {
                let n = shared[&e.ev];
                let weak = !matches!(e.ev, Ev::GotIn | Ev::Reentered) && n > 3;
                HolderEvidence {
                    why: e.why,
                    shared_with: if weak { n - 1 } else { 0 },
                }
            })
            .collect(),
    }
}

/// Evidence that a reader waiting for a read lock already holds one: a frame below
/// the one asking works on the same receiver (or, with no arguments printed, is a
/// method of the same type).
fn reentrant_read(
    c: usize,
    g: &Goroutine,
    b: &Blocked,
    start: usize,
    own: &[(&Frame, Args)],
) -> Option<Weighed> {
    let lfi = b.lock_frame()?;
    let lf = g.frames.get(lfi)?;
    let recv = g
        .args_of(lfi)
        .first_certain_word()
        .filter(|&a| a >= MIN_ADDR);
    let ty = receiver_type(&lf.function);
    let at = |frame: usize| FrameRef {
        goroutine: c,
        frame,
    };
    for (j, (f, args)) in own.iter().enumerate() {
        if is_machinery(&f.function) {
            continue;
        }
        let why = |object| HolderWhy::ReentrantRead {
            lock_frame: at(lfi),
            caller: at(start + j),
            object,
        };
        if let (Some(r), Some(a)) = (recv, args.first_certain_word()) {
            if r == a {
                return Some(Weighed {
                    ev: Ev::GotIn,
                    weight: 0.45,
                    why: why(Some(r)),
                });
            }
        }
        // The caller's receiver unprinted or marked `?` (maybe inaccurate): same type.
        let unsure = recv.is_none() || args.first_certain_word().is_none();
        if unsure && ty.is_some() && receiver_type(&f.function) == ty {
            return Some(Weighed {
                ev: Ev::GotIn,
                weight: 0.3,
                why: why(None),
            });
        }
    }
    None
}
