//! Holds: who likely holds each lock, each candidate with the evidence that decided
//! (got in past the asking call, the lock's address or its object's in a frame's
//! arguments, methods of the lock's type), weighed by distinct stacks.

use std::collections::{HashMap, HashSet};

use super::classify::{is_machinery, Blocked, StackId, WaitKind};
use super::findings::{Anchor, AnchorFrom, FrameRef, HolderEvidence, HolderWhy};
use super::resources::{receiver_type, MIN_ADDR};
use super::{display_id, Lock};
use crate::group::Group;
use crate::model::{Args, Dump, Frame, FuncName, Goroutine};

/// Rank the likely holders of every lock, and say which queues nothing running
/// could be serving.
pub fn assign(
    dump: &Dump,
    blocked: &[Blocked],
    groups: &[Group],
    group_of: &[usize],
    locks: &mut [Lock],
) {
    let prep = Prepared::new(dump, blocked, groups, group_of, locks);
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
    for (li, lock) in locks.iter_mut().enumerate() {
        lock.quiet = !super::verdict::anyone_running(dump, blocked, &running, lock);
        lock.holders = rank(dump, blocked, groups, group_of, &prep, li, lock);
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

/// Each lock's anchors: the addresses a holder's frames may print that tie it to
/// the lock. The lock's own printed address, and what its waiters' asking frames
/// teach (see `learned_anchors`).
fn anchors(dump: &Dump, blocked: &[Blocked], locks: &[Lock]) -> Vec<Vec<Anchor>> {
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
    for (li, a) in learned_anchors(dump, blocked, locks) {
        if !out[li].iter().any(|x| x.addr == a.addr) {
            out[li].push(a);
        }
    }
    out
}

/// One waiter's frame asking for a lock, with the words it prints for sure.
struct Asking {
    lock: usize,
    frame: FrameRef,
    /// The frame's argument words in order; `None` where printed with `?`.
    words: Vec<Option<u64>>,
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
fn learned_anchors(dump: &Dump, blocked: &[Blocked], locks: &[Lock]) -> Vec<(usize, Anchor)> {
    let mut sites: HashMap<(&str, u32), Vec<Asking>> = HashMap::new();
    for (li, l) in locks.iter().enumerate() {
        for &w in &l.alike {
            let (g, b) = (&dump.goroutines[w], &blocked[w]);
            for fi in [b.wrapper(), b.lock_frame()].into_iter().flatten() {
                let Some(f) = g.frames.get(fi) else { continue };
                let words = g
                    .args_of(fi)
                    .words()
                    .map(|(a, unsure)| (!unsure && a >= MIN_ADDR).then_some(a))
                    .collect();
                sites
                    .entry((f.function.full(), f.line))
                    .or_default()
                    .push(Asking {
                        lock: li,
                        frame: FrameRef {
                            goroutine: w,
                            frame: fi,
                        },
                        words,
                    });
            }
        }
    }
    let mut keys: Vec<(&str, u32)> = sites.keys().copied().collect();
    keys.sort_unstable();
    let mut out = Vec::new();
    for key in keys {
        let at = &sites[&key];
        let positions = at.iter().map(|a| a.words.len()).max().unwrap_or(0);
        let offsets: Vec<(usize, u64)> = (0..positions)
            .filter_map(|p| Some((p, field_offset(locks, at, p)?)))
            .collect();
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
                        out.push((a.lock, Anchor { addr: w, from }));
                    }
                }
            }
            continue;
        }
        for p in 0..positions {
            out.extend(shared_word(locks, at, p));
        }
    }
    out
}

fn word_at(a: &Asking, p: usize) -> Option<u64> {
    a.words.get(p).copied().flatten()
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
fn shared_word(locks: &[Lock], at: &[Asking], p: usize) -> Vec<(usize, Anchor)> {
    let mut by_lock: std::collections::BTreeMap<usize, Vec<&Asking>> = Default::default();
    for a in at {
        by_lock.entry(a.lock).or_default().push(a);
    }
    let mut out = Vec::new();
    for (&li, asks) in &by_lock {
        let Some(w) = word_at(asks[0], p) else {
            continue;
        };
        let all_same = asks.iter().all(|a| word_at(a, p) == Some(w));
        let elsewhere = at.iter().any(|a| a.lock != li && word_at(a, p) == Some(w));
        let waiters = locks[li].waiters.len();
        if all_same && !elsewhere {
            let from = AnchorFrom::SharedArgument {
                frame: asks[0].frame,
                waiters,
            };
            out.push((li, Anchor { addr: w, from }));
        }
    }
    out
}

const SKIP: u32 = u32::MAX;

/// Argument words near an anchor, as (frame index, word).
type WordList = Vec<(u32, u64)>;

/// What ranking reads of every goroutine, computed once for all locks.
pub struct Prepared<'d> {
    /// Each lock's anchors, in the order of the locks.
    anchors: Vec<Vec<Anchor>>,
    /// Per goroutine: its bucket among goroutines alike in everything ranking reads
    /// but for this lock (stack group, wait kind, minutes, lock frame, depth, and the
    /// argument words near any lock's address); `SKIP` for those never ranked
    /// (background, cut off, no frames).
    base: Vec<u32>,
    /// The goroutines of each bucket, in order.
    base_members: Vec<Vec<usize>>,
    /// Each bucket's words near an anchor: an index into `word_lists`.
    base_words: Vec<u32>,
    /// Distinct lists of (frame index, word): the certain argument words at or just
    /// below an address some lock is known by, in frame order, over every frame any
    /// lock's ranking may read (a waiter's own frames start past its lock frame,
    /// others' at it). Decoded once, not once per lock.
    word_lists: Vec<Vec<(u32, u64)>>,
    /// Where ranking finds its candidates without reading every bucket.
    index: Index<'d>,
    /// `TypeFile`s made so far, by the lock's types and files.
    type_files: std::cell::RefCell<rustc_hash::FxHashMap<TypeFileKey<'d>, std::rc::Rc<TypeFile>>>,
}

/// Indexes over `Prepared`'s buckets, so a lock reads only the buckets that may
/// hold evidence about it: those whose words come near its addresses, those with a
/// frame past where it is asked for, and populations (blocked, unique, waiting
/// long) small enough for their diluted evidence to count.
#[derive(Default)]
struct Index<'d> {
    /// Every word of the word lists, sorted, with the buckets whose list holds it.
    words: Vec<WordBuckets>,
    /// Per function where some lock is asked for: (line, bucket) of its frames a
    /// non-waiter's ranking reads, sorted.
    lines: rustc_hash::FxHashMap<&'d str, Vec<(u32, u32)>>,
    /// Buckets whose wait is evidence of being blocked, and their goroutines.
    blocked: Population,
    /// Buckets alone in their stack group, and their goroutines.
    unique: Population,
    /// (minutes, bucket, goroutines) of buckets with wait minutes, most first.
    by_minutes: Vec<(u32, u32, usize)>,
    /// Goroutines in the first k entries of `by_minutes`, for each k.
    minutes_prefix: Vec<usize>,
}

struct WordBuckets {
    word: u64,
    buckets: Vec<u32>,
}

/// Buckets with one kind of evidence, and how many goroutines they hold.
#[derive(Default)]
struct Population {
    buckets: Vec<u32>,
    goroutines: usize,
}

/// With this many goroutines or fewer sharing one kind of circumstantial evidence,
/// each may still score; with more, all of it shared out weighs less than a
/// candidate needs (0.45 at most, times 3 / 65, is under 0.05).
const SMALL: usize = 64;

impl<'d> Index<'d> {
    fn new(
        dump: &'d Dump,
        blocked: &[Blocked],
        groups_count: impl Fn(usize) -> u64,
        asking: &rustc_hash::FxHashSet<&'d str>,
        base_members: &[Vec<usize>],
        base_words: &[u32],
        word_lists: &[Vec<(u32, u64)>],
    ) -> Self {
        let mut index = Index::default();
        let mut words: rustc_hash::FxHashMap<u64, Vec<u32>> = Default::default();
        for (bi, members) in base_members.iter().enumerate() {
            let Some(&c) = members.first() else { continue };
            let bi32 = bi as u32;
            for &(_, w) in &word_lists[base_words[bi] as usize] {
                let list = words.entry(w).or_default();
                if list.last() != Some(&bi32) {
                    list.push(bi32);
                }
            }
            let (g, b) = (&dump.goroutines[c], &blocked[c]);
            let skip = b.lock_frame().unwrap_or(0);
            for f in g.frames.iter().skip(skip) {
                let name = f.function.full();
                if asking.contains(name) {
                    index.lines.entry(name).or_default().push((f.line, bi32));
                }
            }
            if blocked_weight(b.kind).is_some() {
                index.blocked.buckets.push(bi32);
                index.blocked.goroutines += members.len();
            }
            if groups_count(c) == 1 {
                index.unique.buckets.push(bi32);
                index.unique.goroutines += members.len();
            }
            if let Some(m) = g.wait_minutes {
                index.by_minutes.push((m, bi32, members.len()));
            }
        }
        for list in index.lines.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        index.words = words
            .into_iter()
            .map(|(word, buckets)| WordBuckets { word, buckets })
            .collect();
        index.words.sort_unstable_by_key(|w| w.word);
        index.by_minutes.sort_unstable_by(|a, b| b.cmp(a));
        index.minutes_prefix = std::iter::once(0)
            .chain(index.by_minutes.iter().scan(0, |sum, e| {
                *sum += e.2;
                Some(*sum)
            }))
            .collect();
        index
    }
}

impl<'d> Prepared<'d> {
    pub fn new(
        dump: &'d Dump,
        blocked: &[Blocked],
        groups: &[Group],
        group_of: &[usize],
        locks: &[Lock],
    ) -> Self {
        let anchors: Vec<Vec<Anchor>> = anchors(dump, blocked, locks);
        let mut anchor_addrs: Vec<u64> = anchors.iter().flatten().map(|a| a.addr).collect();
        anchor_addrs.sort_unstable();
        anchor_addrs.dedup();
        let n = dump.goroutines.len();
        let ranked = |c: usize| {
            let (g, b) = (&dump.goroutines[c], &blocked[c]);
            !(b.kind.is_background() || !g.complete || g.frames.is_empty())
        };
        // The words near an anchor, read on every core: each thread keeps its own
        // distinct lists, merged after.
        let lo = anchor_addrs
            .first()
            .map_or(u64::MAX, |&a| a.saturating_sub(MAX_FIELD_OFFSET));
        let hi = anchor_addrs.last().copied().unwrap_or(0);
        // Everything but the list of words near an anchor, of a goroutine ranked.
        type BaseKey = (usize, WaitKind, Option<u32>, Option<usize>, usize);
        let read = |range: std::ops::Range<usize>| {
            let mut lists: Vec<Vec<(u32, u64)>> = vec![Vec::new()];
            let mut list_of: rustc_hash::FxHashMap<Vec<(u32, u64)>, u32> = Default::default();
            list_of.insert(Vec::new(), 0);
            // By frame list and first frame read: which frames are read (decided
            // once), and the argument data read last with its list (goroutines of one
            // stack with equal values often share their data).
            type Stack = (Vec<bool>, Option<((usize, u32, u32), u32)>);
            let mut stacks: rustc_hash::FxHashMap<(StackId, usize), Stack> = Default::default();
            let mut words: Vec<(u32, u64)> = Vec::new();
            // Buckets of this range, in order of their first member.
            let mut bucket_of: rustc_hash::FxHashMap<(BaseKey, u32), usize> = Default::default();
            let mut buckets: Vec<((BaseKey, u32), Vec<usize>)> = Vec::new();
            for c in range {
                if !ranked(c) {
                    continue;
                }
                let (g, b) = (&dump.goroutines[c], &blocked[c]);
                let skip = b.lock_frame().unwrap_or(0);
                let frames_key = (StackId::of(g), skip);
                let (read_frame, last) = stacks.entry(frames_key).or_insert_with(|| {
                    let read = g
                        .frames
                        .iter()
                        .enumerate()
                        .map(|(fi, f)| {
                            fi >= skip
                                && (!is_machinery(&f.function) || f.function.package() == "sync")
                        })
                        .collect();
                    (read, None)
                });
                let data = g.args.identity();
                let list = match *last {
                    Some((d, l)) if d == data => l,
                    _ => {
                        words.clear();
                        if !anchor_addrs.is_empty() {
                            for (fi, (_, args)) in g.frames_args().enumerate().skip(skip) {
                                if !read_frame[fi] {
                                    continue;
                                }
                                for (w, unsure) in args.words() {
                                    if unsure || w < MIN_ADDR || w < lo || w > hi {
                                        continue;
                                    }
                                    let i = anchor_addrs.partition_point(|&a| a < w);
                                    if anchor_addrs
                                        .get(i)
                                        .is_some_and(|&a| a - w <= MAX_FIELD_OFFSET)
                                    {
                                        words.push((fi as u32, w));
                                    }
                                }
                            }
                        }
                        let l = match list_of.get(&words) {
                            Some(&l) => l,
                            None => {
                                let l = lists.len() as u32;
                                lists.push(words.clone());
                                list_of.insert(words.clone(), l);
                                l
                            }
                        };
                        *last = Some((data, l));
                        l
                    }
                };
                let key = (
                    (
                        group_of[c],
                        b.kind,
                        g.wait_minutes,
                        b.lock_frame(),
                        g.frames.len(),
                    ),
                    list,
                );
                let bi = *bucket_of.entry(key).or_insert_with(|| {
                    buckets.push((key, Vec::new()));
                    buckets.len() - 1
                });
                buckets[bi].1.push(c);
            }
            (lists, buckets)
        };
        type Part = (Vec<WordList>, Vec<((BaseKey, u32), Vec<usize>)>);
        let parts: Vec<Part> = super::by_ranges(n, read);
        // One id per distinct list, then the parts' buckets merged in order: a
        // bucket's members stay in goroutine order, buckets in order of their first.
        let mut word_lists: Vec<Vec<(u32, u64)>> = Vec::new();
        let mut list_of: rustc_hash::FxHashMap<Vec<(u32, u64)>, u32> = Default::default();
        let mut base = vec![SKIP; n];
        let mut base_members: Vec<Vec<usize>> = Vec::new();
        let mut base_words: Vec<u32> = Vec::new();
        let mut base_of: rustc_hash::FxHashMap<(BaseKey, u32), u32> = Default::default();
        for (lists, buckets) in parts {
            let global: Vec<u32> = lists
                .into_iter()
                .map(|l| {
                    let next = word_lists.len() as u32;
                    *list_of.entry(l).or_insert_with_key(|l| {
                        word_lists.push(l.clone());
                        next
                    })
                })
                .collect();
            for ((key, local), members) in buckets {
                let list = global[local as usize];
                let bi = *base_of.entry((key, list)).or_insert_with(|| {
                    base_members.push(Vec::new());
                    base_words.push(list);
                    (base_members.len() - 1) as u32
                });
                for &c in &members {
                    base[c] = bi;
                }
                base_members[bi as usize].extend(members);
            }
        }
        let index = if anchors.is_empty() {
            Index::default()
        } else {
            let groups_count = |c: usize| groups[group_of[c]].count;
            // The functions where some lock is asked for (as `rank` reads them).
            let asking: rustc_hash::FxHashSet<&str> = locks
                .iter()
                .flat_map(|l| &l.alike)
                .filter_map(|&w| {
                    let lf = blocked[w].lock_frame()?;
                    Some(dump.goroutines[w].frames.get(lf)?.function.full())
                })
                .collect();
            Index::new(
                dump,
                blocked,
                groups_count,
                &asking,
                &base_members,
                &base_words,
                &word_lists,
            )
        };
        Prepared {
            anchors,
            base,
            base_members,
            base_words,
            word_lists,
            index,
            type_files: Default::default(),
        }
    }

    /// The best hit of goroutine `c`'s words near an anchor, from frame `start` on,
    /// on this lock's anchors.
    fn address_hit<'a>(
        &self,
        dump: &'a Dump,
        c: usize,
        start: usize,
        anchors: &[Anchor],
    ) -> Option<AddressHit<'a>> {
        let g = &dump.goroutines[c];
        let list = &self.word_lists[self.base_words[self.base[c] as usize] as usize];
        let mut best: Option<AddressHit<'a>> = None;
        for &(fi, w) in list {
            let fi = fi as usize;
            if fi < start {
                continue;
            }
            let f = &g.frames[fi];
            for (ai, a) in anchors.iter().enumerate() {
                // The very word: a word merely near the lock proves nothing.
                let weight = if w == a.addr {
                    0.35
                } else {
                    continue;
                };
                if best.is_none_or(|b| b.0 < weight) {
                    best = Some((weight, f.function, w, ai, fi));
                }
            }
        }
        best
    }
}

/// What `Prepared::candidates` looks for on one lock.
struct Wanted<'w, 'd> {
    anchors: &'w [Anchor],
    lock_calls: &'w [(FuncName<'d>, u32, &'d str)],
    lock_types: &'w HashSet<(&'d str, &'d str)>,
    lock_files: &'w HashSet<&'d str>,
    /// The lock's waiters that are ranked, sorted.
    ranked_waiters: &'w [usize],
    waiter_groups_big: bool,
    max_wait: u32,
}

/// Buckets of non-waiters that have a frame of the lock's type (`same`), or else
/// one in its files (`near`), as a non-waiter's ranking reads them.
struct TypeFile {
    same: Population,
    near: Population,
    /// Per bucket: `SAME`, `NEAR` or 0.
    of: Vec<u8>,
}

const SAME: u8 = 1;
const NEAR: u8 = 2;

/// The lock's types and files, sorted: the key of `TypeFile`s made once.
type TypeFileKey<'d> = (Vec<(&'d str, &'d str)>, Vec<&'d str>);

/// The weight of "blocked" evidence for a wait of this kind, if any.
fn blocked_weight(kind: WaitKind) -> Option<f64> {
    match kind {
        k if k.is_lock() || k == WaitKind::WaitGroupWait => Some(0.1),
        WaitKind::SelectNoCases | WaitKind::Other => None,
        k if k.is_active() => None,
        _ => Some(0.05),
    }
}

impl<'d> Prepared<'d> {
    /// The buckets that may hold evidence on a lock, sorted: its waiters', those
    /// whose words come near its anchors, those with a frame past where it is asked
    /// for, and every population of circumstantial evidence small enough to score;
    /// with, per kind of circumstantial evidence, how many non-waiters share it.
    fn candidates(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        groups: &[Group],
        group_of: &[usize],
        want: &Wanted<'_, 'd>,
    ) -> (Vec<u32>, Vec<(Ev, usize)>) {
        let ix = &self.index;
        let mut out: Vec<u32> = want.ranked_waiters.iter().map(|&w| self.base[w]).collect();
        for a in want.anchors {
            let lo = a.addr.saturating_sub(MAX_FIELD_OFFSET);
            let i = ix.words.partition_point(|w| w.word < lo);
            for wb in ix.words[i..].iter().take_while(|w| w.word <= a.addr) {
                out.extend(&wb.buckets);
            }
        }
        for (f, line, _) in want.lock_calls {
            if let Some(list) = ix.lines.get(f.full()) {
                let i = list.partition_point(|&(l, _)| l <= *line);
                out.extend(list[i..].iter().map(|&(_, b)| b));
            }
        }
        let mut population: Vec<(Ev, usize)> = Vec::new();
        let mut take = |ev: Ev, pop: &Population, waiting: usize, out: &mut Vec<u32>| {
            let n = pop.goroutines - waiting;
            population.push((ev, n));
            if n <= SMALL {
                out.extend(&pop.buckets);
            }
        };
        let waiting =
            |f: &dyn Fn(usize) -> bool| want.ranked_waiters.iter().filter(|&&w| f(w)).count();
        let n = waiting(&|w| blocked_weight(blocked[w].kind).is_some());
        take(Ev::Blocked, &ix.blocked, n, &mut out);
        if want.waiter_groups_big {
            let n = waiting(&|w| groups[group_of[w]].count == 1);
            take(Ev::Unique, &ix.unique, n, &mut out);
        }
        if (!want.lock_types.is_empty() || !want.lock_files.is_empty())
            && want.ranked_waiters.len() * 2 >= self.base_members.len()
        {
            // Most buckets are this lock's waiters' (few locks can be, as each
            // goroutine waits on one): the others are read directly, not cached.
            let mut waiting_in: rustc_hash::FxHashMap<u32, usize> = Default::default();
            for &w in want.ranked_waiters {
                *waiting_in.entry(self.base[w]).or_default() += 1;
            }
            let (mut same, mut near) = (Population::default(), Population::default());
            for (bi, members) in self.base_members.iter().enumerate() {
                let rest = members.len() - waiting_in.get(&(bi as u32)).copied().unwrap_or(0);
                if rest == 0 {
                    continue;
                }
                let pop = match self.type_or_file(dump, blocked, want, bi) {
                    SAME => &mut same,
                    NEAR => &mut near,
                    _ => continue,
                };
                pop.buckets.push(bi as u32);
                pop.goroutines += rest;
            }
            take(Ev::SameType, &same, 0, &mut out);
            take(Ev::Near, &near, 0, &mut out);
        } else if !want.lock_types.is_empty() || !want.lock_files.is_empty() {
            let tf = self.type_file(dump, blocked, want);
            let n = waiting(&|w| tf.of[self.base[w] as usize] == SAME);
            take(Ev::SameType, &tf.same, n, &mut out);
            let n = waiting(&|w| tf.of[self.base[w] as usize] == NEAR);
            take(Ev::Near, &tf.near, n, &mut out);
        }
        if want.max_wait > 0 {
            let k = ix
                .by_minutes
                .partition_point(|&(m, _, _)| m >= want.max_wait);
            let longer = |w: usize| {
                dump.goroutines[w]
                    .wait_minutes
                    .is_some_and(|m| m >= want.max_wait)
            };
            let n = ix.minutes_prefix[k] - waiting(&longer);
            population.push((Ev::Longer, n));
            if n <= SMALL {
                out.extend(ix.by_minutes[..k].iter().map(|&(_, b, _)| b));
            }
        }
        out.sort_unstable();
        out.dedup();
        (out, population)
    }

    /// The buckets with a frame of the lock's type, or else of its files: made once
    /// per set of types and files, as many locks are asked for at one site.
    fn type_file(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        want: &Wanted<'_, 'd>,
    ) -> std::rc::Rc<TypeFile> {
        let mut types: Vec<(&'d str, &'d str)> = want.lock_types.iter().copied().collect();
        types.sort_unstable();
        let mut files: Vec<&'d str> = want.lock_files.iter().copied().collect();
        files.sort_unstable();
        let key = (types, files);
        if let Some(tf) = self.type_files.borrow().get(&key) {
            return tf.clone();
        }
        let mut tf = TypeFile {
            same: Population::default(),
            near: Population::default(),
            of: vec![0; self.base_members.len()],
        };
        for (bi, members) in self.base_members.iter().enumerate() {
            let flag = self.type_or_file(dump, blocked, want, bi);
            let pop = match flag {
                SAME => &mut tf.same,
                NEAR => &mut tf.near,
                _ => continue,
            };
            pop.buckets.push(bi as u32);
            pop.goroutines += members.len();
            tf.of[bi] = flag;
        }
        let tf = std::rc::Rc::new(tf);
        self.type_files.borrow_mut().insert(key, tf.clone());
        tf
    }

    /// `SAME` if a non-waiter of bucket `bi` has an own frame of the lock's type,
    /// else `NEAR` if one is in the lock's files, else 0 (as `rank` reads them).
    fn type_or_file(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        want: &Wanted<'_, 'd>,
        bi: usize,
    ) -> u8 {
        let Some(&c) = self.base_members[bi].first() else {
            return 0;
        };
        let g = &dump.goroutines[c];
        let start = own_start(g, &blocked[c], false);
        let mut user = g
            .frames
            .iter()
            .skip(start)
            .filter(|f| !is_machinery(&f.function));
        let same = user.clone().any(|f| {
            f.function
                .receiver()
                .is_some_and(|r| want.lock_types.contains(&(f.function.package(), r)))
        });
        if same {
            SAME
        } else if user.any(|f| want.lock_files.contains(f.file)) {
            NEAR
        } else {
            0
        }
    }
}

/// Goroutines weighed as one: parts of `Prepared`'s buckets, in order of their first
/// goroutine once sorted.
struct Bucket<'p> {
    parts: Vec<std::borrow::Cow<'p, [usize]>>,
}

impl Bucket<'_> {
    fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }
    /// The goroutine that stands for the bucket: its first.
    fn first(&self) -> usize {
        self.parts
            .iter()
            .filter_map(|p| p.first())
            .min()
            .copied()
            .unwrap_or(0)
    }
    fn iter(&self) -> impl Iterator<Item = &usize> {
        self.parts.iter().flat_map(|p| p.iter())
    }
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
    let quiet = lock.quiet;
    let mut waiters: Vec<usize> = lock.waiters.clone();
    waiters.sort_unstable();
    waiters.dedup();
    let is_waiter_of = |c: usize| waiters.binary_search(&c).is_ok();
    // (function, line, file) where the waiters ask for the lock. Waiters alike share
    // frames and lock frame (`find_locks`): one of each asks for them all.
    let mut lock_calls: Vec<(FuncName<'d>, u32, &'d str)> = Vec::new();
    for &w in &lock.alike {
        let g = &dump.goroutines[w];
        if let Some(f) = blocked[w].lock_frame().and_then(|lf| g.frames.get(lf)) {
            if !lock_calls
                .iter()
                .any(|(n, l, _)| *n == f.function && *l == f.line)
            {
                lock_calls.push((f.function, f.line, f.file));
            }
        }
    }
    let lock_files: HashSet<&'d str> = lock_calls
        .iter()
        .map(|c| c.2)
        .filter(|f| !f.is_empty())
        .collect();
    let lock_types: HashSet<(&'d str, &'d str)> = lock_calls
        .iter()
        .filter_map(|c| Some((c.0.package(), c.0.receiver()?)))
        .collect();
    let anchors = &prep.anchors[li];
    let max_wait = lock.max_wait;
    let waiter_groups_big = lock.waiters.iter().any(|&w| groups[group_of[w]].count > 1);

    // (Waiters alike share their wait kind: one of each stands for all.)
    let writer_pending = lock
        .alike
        .iter()
        .any(|&w| blocked[w].kind == WaitKind::RWMutexLock);
    // Goroutines alike in everything the evidence reads (the same stack, wait kind,
    // waiter or not, minutes, a unique stack or not, the same hit on the lock's
    // address) are weighed once: a million goroutines in a hundred stacks make a
    // hundred buckets. `Prepared` made them once for all locks; here each is split
    // into this lock's waiters and the rest, and parts that read alike are joined.
    type HitKey<'k> = Option<(u64, &'k str, u64, usize)>;
    let ranked_waiters: Vec<usize> = waiters
        .iter()
        .copied()
        .filter(|&w| prep.base[w] != SKIP)
        .collect();
    let mut waiters_in: rustc_hash::FxHashMap<u32, Vec<usize>> = Default::default();
    for &w in &ranked_waiters {
        waiters_in.entry(prep.base[w]).or_default().push(w);
    }
    // Only the buckets that may hold evidence on this lock (the rest score under
    // what a candidate needs, and count only in how many share their evidence).
    let wanted = Wanted {
        anchors,
        lock_calls: &lock_calls,
        lock_types: &lock_types,
        lock_files: &lock_files,
        ranked_waiters: &ranked_waiters,
        waiter_groups_big,
        max_wait,
    };
    #[allow(unused_mut)]
    let (mut found, mut population) = prep.candidates(dump, blocked, groups, group_of, &wanted);
    #[cfg(test)]
    if tests::EXHAUSTIVE.get() {
        // Every bucket read, shares summed over them: what the indexes must equal.
        found = (0..prep.base_members.len() as u32).collect();
        population.clear();
    }
    let mut bucket_of: rustc_hash::FxHashMap<(usize, HitKey, WaitKind, bool, Option<u32>), usize> =
        Default::default();
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut hits: Vec<Option<AddressHit>> = Vec::new();
    for bi in found {
        let members = &prep.base_members[bi as usize];
        let mut parts: Vec<(bool, std::borrow::Cow<[usize]>)> = Vec::new();
        match waiters_in.remove(&bi).unwrap_or_default() {
            ws if ws.is_empty() => parts.push((false, std::borrow::Cow::Borrowed(members))),
            mut ws => {
                ws.sort_unstable();
                ws.dedup();
                if ws.len() < members.len() {
                    let rest: Vec<usize> = members
                        .iter()
                        .copied()
                        .filter(|&c| !is_waiter_of(c))
                        .collect();
                    parts.push((false, std::borrow::Cow::Owned(rest)));
                }
                parts.push((true, std::borrow::Cow::Owned(ws)));
            }
        }
        for (is_waiter, part) in parts {
            let Some(&c) = part.first() else { continue };
            let start = own_start(&dump.goroutines[c], &blocked[c], is_waiter);
            let hit = prep.address_hit(dump, c, start, anchors);
            let key = (
                group_of[c],
                hit.map(|(w8, f, word, ai, _)| (w8.to_bits(), f.full(), word, ai)),
                blocked[c].kind,
                is_waiter,
                dump.goroutines[c].wait_minutes,
            );
            let at = *bucket_of.entry(key).or_insert_with(|| {
                buckets.push(Bucket { parts: Vec::new() });
                hits.push(hit);
                buckets.len() - 1
            });
            buckets[at].parts.push(part);
        }
    }
    // In order of their first goroutine, as if read one goroutine at a time.
    let mut order: Vec<usize> = (0..buckets.len()).collect();
    order.sort_by_key(|&i| buckets[i].first());
    let mut sorted: Vec<(Bucket, Option<AddressHit>)> = Vec::with_capacity(buckets.len());
    let mut taken: Vec<Option<(Bucket, Option<AddressHit>)>> =
        buckets.into_iter().zip(hits).map(Some).collect();
    for i in order {
        if let Some(b) = taken[i].take() {
            sorted.push(b);
        }
    }
    let (buckets, hits): (Vec<Bucket>, Vec<Option<AddressHit>>) = sorted.into_iter().unzip();
    let mut members_of: rustc_hash::FxHashMap<usize, &Bucket> = Default::default();
    for m in &buckets {
        members_of.insert(m.first(), m);
    }

    // Pass 1: what each candidate has going for it (the bucket's first goroutine
    // stands for all of it).
    let mut raw: Vec<RawCandidate> = Vec::new();
    let mut reentry: Vec<(usize, HolderWhy)> = Vec::new();
    for (members, &addr_hit) in buckets.iter().zip(&hits) {
        let c = members.first();
        let g = &dump.goroutines[c];
        let b = &blocked[c];
        let is_waiter = is_waiter_of(c);
        let start = own_start(g, b, is_waiter);
        let own: Vec<(&Frame, Args)> = g.frames_args().skip(start).collect();
        let mut ev: Vec<(Ev, f64, HolderWhy)> = Vec::new();
        let at = |frame: usize| FrameRef {
            goroutine: c,
            frame,
        };

        // 1. It got in: a frame in a function that asks for the lock, past that call.
        // A signal (a channel, a Cond, a semaphore) is got in only by straight-line
        // code: where the function that asks for it is on the stack more than once,
        // it recurses, and its line says nothing of which branch ran before (a
        // recursion that ends in another wait is no holder). A mutex taken again
        // by a recursion is a real self-deadlock, and keeps the rule.
        let recursion = |f: &Frame| {
            lock.is_signal_wait()
                && g.frames.iter().filter(|o| o.function == f.function).count() > 1
        };
        let got_in = own.iter().enumerate().find_map(|(j, &(f, _))| {
            lock_calls
                .iter()
                .find(|(n, l, _)| *n == f.function && f.line > *l && !recursion(f))
                .map(|(_, l, _)| (start + j, f, *l))
        });
        if let Some((fi, _, lock_line)) = got_in {
            ev.push((
                Ev::GotIn,
                0.6,
                HolderWhy::GotIn {
                    frame: at(fi),
                    lock_line,
                },
            ));
        }
        if is_waiter && got_in.is_none() {
            // A reader queued behind a pending writer that already holds a read lock
            // of the same RWMutex: a deeper frame of its own works on the same object
            // (Go's RWMutex read lock is not re-entrant once a writer waits).
            if b.kind == WaitKind::RWMutexRLock && writer_pending {
                if let Some((k, w, why)) = reentrant_read(c, g, b, start, &own) {
                    raw.push((c, None, vec![(k, w, why)]));
                }
            } else if quiet && b.kind == WaitKind::MutexLock {
                // Nothing that could release the lock is running, and a frame of its
                // own, outside the call that waits, prints a word that ties the lock
                // to its holder: it likely locked it already (Go's Mutex is not
                // re-entrant). Decided once every goroutine was read.
                if let (Some(addr), Some((_, _, object, _, fi))) = (lock.addr, addr_hit) {
                    let why = HolderWhy::Reentered {
                        addr,
                        caller: at(fi),
                        object,
                    };
                    reentry.push((c, why));
                }
            }
            continue;
        }
        // 2. It works on the lock's address or the object holding it (read per
        // goroutine when the buckets were made).
        if let Some((w8, _, word, ai, fi)) = addr_hit {
            let why = HolderWhy::Address {
                frame: at(fi),
                word,
                anchor: anchors[ai].clone(),
            };
            ev.push((Ev::Address, w8, why));
        }
        if !is_waiter {
            // 3. Code near the lock: methods of the same type, the same file.
            let mut own_user = own
                .iter()
                .enumerate()
                .map(|(j, &(f, _))| (start + j, f))
                .filter(|(_, f)| !is_machinery(&f.function));
            if let Some((fi, _)) = own_user.clone().find(|(_, f)| {
                f.function
                    .receiver()
                    .is_some_and(|r| lock_types.contains(&(f.function.package(), r)))
            }) {
                ev.push((Ev::SameType, 0.2, HolderWhy::SameType { frame: at(fi) }));
            } else if let Some((fi, _)) = own_user.find(|(_, f)| lock_files.contains(f.file)) {
                ev.push((Ev::Near, 0.1, HolderWhy::Near { frame: at(fi) }));
            }
            // 4. What it is doing now.
            match b.kind {
                k if k.is_lock() || k == WaitKind::WaitGroupWait => {
                    ev.push((Ev::Blocked, 0.1, HolderWhy::Blocked { kind: k }));
                }
                WaitKind::SelectNoCases | WaitKind::Other => {}
                k if k.is_active() => {}
                k => ev.push((Ev::Blocked, 0.05, HolderWhy::Blocked { kind: k })),
            }
            debug_assert_eq!(
                blocked_weight(b.kind),
                ev.last().filter(|e| e.0 == Ev::Blocked).map(|e| e.1)
            );
            if groups[group_of[c]].count == 1 && waiter_groups_big {
                ev.push((Ev::Unique, 0.05, HolderWhy::Unique));
            }
            // 5. It has been blocked at least as long as the waiters.
            if max_wait > 0 && g.wait_minutes.is_some_and(|m| m >= max_wait) {
                let why = HolderWhy::Longer {
                    minutes: g.wait_minutes.unwrap_or(0),
                    waiters_minutes: max_wait,
                };
                ev.push((Ev::Longer, 0.1, why));
            }
        }
        if !ev.is_empty() {
            raw.push((c, got_in.map(|g| g.0), ev));
        }
    }

    // A waiter tied to the lock holds it only if it alone is: no goroutine outside
    // the queue is (got in, or prints a word that ties it), and the tied waiters
    // share one stack (waiters that all pass the object down say nothing).
    let tied_outside = raw.iter().any(|(_, _, ev)| {
        ev.iter()
            .any(|(k, _, _)| matches!(k, Ev::GotIn | Ev::Address))
    });
    let stacks: HashSet<StackId> = reentry
        .iter()
        .map(|(c, _)| StackId::of(&dump.goroutines[*c]))
        .collect();
    if !tied_outside && stacks.len() == 1 {
        for (c, why) in reentry {
            raw.push((c, None, vec![(Ev::Reentered, 0.4, why)]));
        }
    }

    // Pass 2: evidence that many goroutines share singles out none of them, so its
    // weight is shared out (a pointer every goroutine passes around says little).
    let mut shared: HashMap<Ev, usize> = HashMap::new();
    for (c, _, ev) in &raw {
        let n = members_of[c].len();
        for (k, _, _) in ev {
            *shared.entry(*k).or_default() += n;
        }
    }
    // Circumstantial evidence is shared with goroutines not read: counted whole.
    for (k, n) in population {
        debug_assert!(n > SMALL || shared.get(&k).copied().unwrap_or(0) == n);
        shared.insert(k, n);
    }
    let mut scored: Vec<(f64, bool, RawCandidate)> = Vec::with_capacity(raw.len());
    for cand in raw {
        let mut score = 0.0;
        let strong = cand.2.iter().any(|(k, _, _)| {
            matches!(k, Ev::GotIn | Ev::Reentered)
                || (matches!(k, Ev::Address | Ev::SameType) && shared[k] <= 3)
        });
        for (k, w, _) in &cand.2 {
            let n = shared[k];
            score += if matches!(k, Ev::GotIn | Ev::Reentered) || n <= 3 {
                *w
            } else {
                w * 3.0 / n as f64
            };
        }
        if score >= 0.05 {
            scored.push(((score.min(0.99) * 100.0).round() / 100.0, strong, cand));
        }
    }
    // Best score first; within one score, those the evidence points at directly
    // (they got in, or re-entered the lock) before those it only circumstantially
    // does (the sum of address, type and state), then goroutines by id; eight at most.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut kept: Vec<(f64, bool, RawCandidate)> = Vec::new();
    let mut i = 0;
    while i < scored.len() && kept.len() < 8 {
        let score = scored[i].0;
        // The buckets of this score, by (not direct, what their stack says): a
        // key per bucket, its members sharing its stack. Then (that order, id,
        // goroutine, index in scored): the id decides only between goroutines
        // whose stacks read the same.
        let mut j = i;
        let mut by_stack: Vec<(bool, super::StackKey, usize)> = Vec::new();
        while j < scored.len() && scored[j].0 == score {
            let direct = scored[j]
                .2
                 .2
                .iter()
                .any(|(k, _, _)| matches!(k, Ev::GotIn | Ev::Reentered));
            if let Some(&m) = members_of[&scored[j].2 .0].iter().next() {
                by_stack.push((!direct, super::stack_key(dump, m), j));
            }
            j += 1;
        }
        by_stack.sort_unstable();
        let mut tier: Vec<(usize, bool, u64, usize, usize)> = Vec::new();
        let mut rank = 0;
        for (order, (not_direct, key, jj)) in by_stack.iter().enumerate() {
            // Equal keys (adjacent once sorted) share one rank: the id orders only
            // identical stacks.
            if order > 0 && (by_stack[order - 1].0, &by_stack[order - 1].1) != (*not_direct, key) {
                rank = order;
            }
            // At most eight are kept: of a large bucket, its eight lowest ids.
            let mut lowest: std::collections::BinaryHeap<(u64, usize)> = Default::default();
            for &m in members_of[&scored[*jj].2 .0].iter() {
                lowest.push((display_id(dump, m), m));
                if lowest.len() > 8 {
                    lowest.pop();
                }
            }
            for (id, m) in lowest {
                tier.push((rank, *not_direct, id, m, *jj));
            }
        }
        tier.sort_unstable();
        for (_, _, _, m, k) in tier.into_iter().take(8 - kept.len()) {
            let (sc, strong, (_, got_in, ev)) = &scored[k];
            // A bucket's members share its frames: its evidence is read on each.
            let ev: Vec<(Ev, f64, HolderWhy)> = ev
                .iter()
                .map(|(e, w, y)| (*e, *w, y.clone().on_goroutine(m)))
                .collect();
            kept.push((*sc, *strong, (m, *got_in, ev)));
        }
        i = j;
    }
    let scored = kept;
    // Words only for the candidates kept.
    scored
        .into_iter()
        .map(|(score, strong, (c, got_in, ev))| Candidate {
            goroutine: c,
            score,
            got_in,
            strong,
            reentered: ev.iter().any(|(k, _, _)| *k == Ev::Reentered),
            evidence: ev
                .into_iter()
                .map(|(k, _, why)| {
                    let n = shared[&k];
                    let weak = !matches!(k, Ev::GotIn | Ev::Reentered) && n > 3;
                    HolderEvidence {
                        why,
                        shared_with: if weak { n - 1 } else { 0 },
                    }
                })
                .collect(),
        })
        .collect()
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

/// Weight, frame function, word, anchor and frame index of the best hit of a
/// goroutine's own frames on the lock's addresses.
type AddressHit<'d> = (f64, FuncName<'d>, u64, usize, usize);

/// The lock's address (0.35), or an object it lies inside (0.3, the program's own
/// frames only), among the certain argument words of `own`.
/// A candidate before weighing: goroutine, got-in frame, evidence.
type RawCandidate = (usize, Option<usize>, Vec<(Ev, f64, HolderWhy)>);

/// Evidence that a reader waiting for a read lock already holds one: a frame below
/// the one asking works on the same receiver (or, with no arguments printed, is a
/// method of the same type).
fn reentrant_read(
    c: usize,
    g: &Goroutine,
    b: &Blocked,
    start: usize,
    own: &[(&Frame, Args)],
) -> Option<(Ev, f64, HolderWhy)> {
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
                return Some((Ev::GotIn, 0.45, why(Some(r))));
            }
        }
        // The caller's receiver unprinted or marked `?` (maybe inaccurate): same type.
        let unsure = recv.is_none() || args.first_certain_word().is_none();
        if unsure && ty.is_some() && receiver_type(&f.function) == ty {
            return Some((Ev::GotIn, 0.3, why(None)));
        }
    }
    None
}

/// Kinds of holder evidence, for weighing how many candidates share each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ev {
    GotIn,
    /// It waits on a mutex its own caller already holds.
    Reentered,
    Address,
    SameType,
    Near,
    Blocked,
    Unique,
    Longer,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Rank from every bucket instead of the indexed candidates.
        pub static EXHAUSTIVE: Cell<bool> = const { Cell::new(false) };
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
