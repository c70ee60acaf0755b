//! Prepare: every goroutine ranking reads, read once for all locks into buckets
//! alike, with the indexes that let a lock read only the buckets that may matter.

use super::candidates::{LockSites, OfType};
use super::lines::{Counts, LineIndex, Slot, Slots};
use super::{anchors::anchors, blocked_weight, MAX_FIELD_OFFSET};
use crate::analyze::classify::{is_machinery, Blocked, StackId, WaitKind};
use crate::analyze::findings::Anchor;
use crate::analyze::resources::MIN_ADDR;
use crate::analyze::Lock;
use crate::group::Group;
use crate::model::{Dump, Frame, FuncName, Goroutine};

pub(super) const SKIP: u32 = u32::MAX;

/// Argument words near an anchor, as (frame index, word).
pub(super) type WordList = Vec<(u32, u64)>;

/// What ranking reads of every goroutine, computed once for all locks.
pub struct Prepared<'d> {
    /// Each lock's anchors, in the order of the locks.
    pub(super) anchors: Vec<Vec<Anchor>>,
    /// Per goroutine: the lock it waits on (an index into the locks), or `SKIP`.
    waits_on: Vec<u32>,
    /// Each lock's printed address and kind of primitive, in the order of the locks.
    known_as: Vec<KnownAs>,
    /// Per goroutine: its bucket among goroutines alike in everything ranking reads
    /// but for this lock (stack group, wait kind, minutes, lock frame, depth, and the
    /// argument words near any lock's address); `SKIP` for those never ranked
    /// (background, cut off, no frames).
    pub(super) base: Vec<u32>,
    /// The goroutines of each bucket, in order.
    pub(super) base_members: Members,
    /// Each bucket's words near an anchor: an index into `word_lists`.
    pub(super) base_words: Vec<u32>,
    /// Distinct lists of (frame index, word): the certain argument words at or just
    /// below an address some lock is known by, in frame order, over every frame any
    /// lock's ranking may read (a waiter's own frames start past its lock frame,
    /// others' at it). Decoded once, not once per lock.
    pub(super) word_lists: WordLists,
    /// Where ranking finds its candidates without reading every bucket.
    pub(super) index: Index<'d>,
    /// `OfType`s made so far, by the lock's types (locks are ranked on every core).
    pub(super) of_types: std::sync::Mutex<OfTypes<'d>>,
}

/// `OfType`s by the lock's types.
pub(super) type OfTypes<'d> = rustc_hash::FxHashMap<LockSites<'d>, std::sync::Arc<OfType>>;

impl<'d> Prepared<'d> {
    /// The `OfType`s made so far (a poisoned lock's map is whole: it is only ever
    /// read and inserted into).
    pub(super) fn of_types_lock(&self) -> std::sync::MutexGuard<'_, OfTypes<'d>> {
        self.of_types.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The goroutines of every bucket, stored one bucket after another.
#[derive(Default)]
pub(super) struct Members {
    /// Every bucket's goroutines, in goroutine order within a bucket.
    flat: Vec<usize>,
    /// Where each bucket's goroutines start in `flat`, and one entry more.
    at: Vec<u32>,
}

impl Members {
    /// How many buckets there are.
    pub(super) fn len(&self) -> usize {
        self.at.len().saturating_sub(1)
    }

    /// The goroutines of bucket `bi`.
    pub(super) fn of(&self, bi: usize) -> &[usize] {
        &self.flat[self.at[bi] as usize..self.at[bi + 1] as usize]
    }

    /// Every bucket's goroutines, in order of the buckets.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.at
            .windows(2)
            .map(|w| &self.flat[w[0] as usize..w[1] as usize])
    }

    /// From each goroutine's bucket (`SKIP` for none) and how many buckets there
    /// are: a counting sort, so members stay in goroutine order.
    fn from_base(base: &[u32], buckets: usize) -> Self {
        let mut at = vec![0u32; buckets + 1];
        for &bi in base.iter().filter(|&&bi| bi != SKIP) {
            at[bi as usize + 1] += 1;
        }
        for i in 1..at.len() {
            at[i] += at[i - 1];
        }
        let mut next = at.clone();
        let mut flat = vec![0; at[buckets] as usize];
        for (c, &bi) in base.iter().enumerate().filter(|(_, &bi)| bi != SKIP) {
            flat[next[bi as usize] as usize] = c;
            next[bi as usize] += 1;
        }
        Members { flat, at }
    }
}

/// Indexes over `Prepared`'s buckets, so a lock reads only the buckets that may
/// hold evidence about it: those whose words come near its addresses, those with a
/// frame past where it is asked for, and populations (blocked, unique, waiting
/// long) small enough for their diluted evidence to count.
#[derive(Default)]
pub(super) struct Index<'d> {
    /// Every (word, bucket) whose word list holds the word, sorted, once each:
    /// the buckets of a word are one run (`Index::buckets_printing`).
    pub(super) words: Vec<(u64, u32)>,
    /// Per function where some lock is asked for: by line, the buckets with a
    /// frame there a non-waiter's ranking reads.
    pub(super) lines: LineIndex<'d>,
    /// The same, of frames whose function is on their stack once: a signal wait is
    /// got in only by straight-line code (see `Ranking::got_in`).
    pub(super) lines_once: LineIndex<'d>,
    /// Per bucket: where its frames in a function where some lock is asked for
    /// (from its lock frame on, as a non-waiter's ranking reads them) start in
    /// `asking_frames`, and one entry more; empty when no index was made.
    pub(super) asking_at: Vec<u32>,
    /// The indexes of those frames, bucket after bucket, with `ONCE` set on those
    /// whose function is on their stack once.
    pub(super) asking_frames: Vec<u32>,
    /// Buckets whose wait is evidence of being blocked, and their goroutines.
    pub(super) blocked: Population,
    /// Buckets alone in their stack group, and their goroutines.
    pub(super) unique: Population,
    /// Buckets with wait minutes, most first.
    pub(super) by_minutes: Vec<Waited>,
    /// Goroutines in the first k entries of `by_minutes`, for each k.
    pub(super) minutes_prefix: Vec<usize>,
}

/// A bucket whose goroutines print how long they have waited. Ordered by minutes,
/// then bucket.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Waited {
    pub(super) minutes: u32,
    pub(super) bucket: u32,
    pub(super) goroutines: usize,
}

/// Buckets with one kind of evidence, and how many goroutines they hold.
#[derive(Default)]
pub(super) struct Population {
    pub(super) buckets: Vec<u32>,
    pub(super) goroutines: usize,
}

/// With this many goroutines or fewer sharing one kind of circumstantial evidence,
/// each may still score; with more, all of it shared out weighs less than a
/// candidate needs (0.45 at most, times 3 / 65, is under 0.05).
pub(super) const SMALL: usize = 64;

/// Set on an asking frame (`Index::asking_frames`) whose function is on its stack
/// once (as ranking reads it).
const ONCE: u32 = 1 << 31;

/// The line indexes as they are made (`lines::Counts`), and by frame handle the
/// slot of each asking frame.
#[derive(Default)]
struct Lines<'d> {
    slots: Slots<'d>,
    slot_of: rustc_hash::FxHashMap<usize, u32>,
    all: Counts,
    once: Counts,
}

/// Of a bucket's asking frames (its first goroutine `g`'s, from frame `skip` on),
/// those whose function is on the stack once are marked `ONCE`. The names
/// sorted, not a count per frame: a deep recursion costs its length times a
/// logarithm.
fn mark_once(frames: &mut [u32], g: &Goroutine, skip: usize) {
    if let [fi] = frames {
        // One asking frame (the most common): on the stack twice only if
        // above where the ranking reads.
        let f = &g.frames[*fi as usize];
        if !g.frames[..skip].iter().any(|o| o.function == f.function) {
            *fi |= ONCE;
        }
        return;
    }
    if frames.is_empty() {
        return;
    }
    let mut names: Vec<&str> = frames
        .iter()
        .map(|&fi| g.frames[fi as usize].function.full())
        .collect();
    names.sort_unstable();
    for fi in frames.iter_mut() {
        let f = &g.frames[*fi as usize];
        let name = f.function.full();
        let at = names.partition_point(|&n| n < name);
        let twice = names.get(at + 1) == Some(&name)
            || g.frames[..skip].iter().any(|o| o.function == f.function);
        if !twice {
            *fi |= ONCE;
        }
    }
}

/// What `Index::new` reads of a range of buckets, on one core.
#[derive(Default)]
struct BucketsRead {
    /// Per bucket of the range: where its asking frames start in `asking_frames`
    /// (counted from the range's first).
    asking_at: Vec<u32>,
    asking_frames: Vec<u32>,
    blocked: Population,
    unique: Population,
    by_minutes: Vec<Waited>,
    /// (word, bucket) of the range's word lists.
    words: Vec<(u64, u32)>,
}

/// The facts `Index::new` needs of the buckets it reads.
struct BucketFacts<'a, 'd, G: Fn(usize) -> u64> {
    dump: &'d Dump<'d>,
    blocked: &'a [Blocked],
    groups_count: G,
    asking: &'a rustc_hash::FxHashSet<&'d str>,
    base_members: &'a Members,
    base_words: &'a [u32],
    word_lists: &'a WordLists,
}

impl<G: Fn(usize) -> u64> BucketFacts<'_, '_, G> {
    /// Buckets `range`: their asking frames (from their lock frame on, in a
    /// function where some lock is asked for, `ONCE` marked), populations and
    /// words. Each distinct frame is looked up once per range.
    fn read(&self, range: std::ops::Range<usize>) -> BucketsRead {
        let mut out = BucketsRead::default();
        let mut asking_frame: rustc_hash::FxHashMap<usize, bool> = Default::default();
        for bi in range {
            out.asking_at.push(out.asking_frames.len() as u32);
            let members = self.base_members.of(bi);
            let Some(&c) = members.first() else { continue };
            let bi32 = bi as u32;
            let list = self.word_lists.get(self.base_words[bi]);
            out.words.extend(list.iter().map(|&(_, w)| (w, bi32)));
            let (g, b) = (&self.dump.goroutines[c], &self.blocked[c]);
            let skip = b.lock_frame().unwrap_or(0);
            let first = out.asking_frames.len();
            for (fi, f) in g.frames.iter().enumerate().skip(skip) {
                let asks = *asking_frame
                    .entry(f.handle())
                    .or_insert_with(|| self.asking.contains(f.function.full()));
                if asks {
                    debug_assert!((fi as u32) < ONCE);
                    out.asking_frames.push(fi as u32);
                }
            }
            mark_once(&mut out.asking_frames[first..], g, skip);
            if blocked_weight(b.kind).is_some() {
                out.blocked.buckets.push(bi32);
                out.blocked.goroutines += members.len();
            }
            if (self.groups_count)(c) == 1 {
                out.unique.buckets.push(bi32);
                out.unique.goroutines += members.len();
            }
            if let Some(m) = g.wait_minutes {
                out.by_minutes.push(Waited {
                    minutes: m,
                    bucket: bi32,
                    goroutines: members.len(),
                });
            }
        }
        out
    }
}

impl<'d> Index<'d> {
    /// Count bucket `bi`'s asking frames (its first goroutine `g`'s) in the line
    /// indexes.
    fn count_asking(&self, lines: &mut Lines<'d>, g: &'d Goroutine, bi: usize) {
        let (from, to) = (self.asking_at[bi] as usize, self.asking_at[bi + 1] as usize);
        let bi = bi as u32;
        for &e in &self.asking_frames[from..to] {
            let f = &g.frames[(e & !ONCE) as usize];
            let slot = *lines.slot_of.entry(f.handle()).or_insert_with(|| {
                lines.slots.id(Slot {
                    function: f.function.full(),
                    line: f.line,
                })
            });
            lines.all.count(slot, bi);
            if e & ONCE != 0 {
                lines.once.count(slot, bi);
            }
        }
    }

    /// The line indexes filled from the asking frames, as they were counted.
    fn fill_lines(&mut self, dump: &'d Dump, base_members: &Members, mut lines: Lines<'d>) {
        lines.all.lay_out(&lines.slots);
        lines.once.lay_out(&lines.slots);
        for (bi, members) in base_members.iter().enumerate() {
            let (from, to) = (self.asking_at[bi] as usize, self.asking_at[bi + 1] as usize);
            let Some(&c) = members.first().filter(|_| from < to) else {
                continue;
            };
            let g = &dump.goroutines[c];
            for &e in &self.asking_frames[from..to] {
                let f = &g.frames[(e & !ONCE) as usize];
                let slot = lines.slot_of[&f.handle()];
                lines.all.fill(slot, bi as u32);
                if e & ONCE != 0 {
                    lines.once.fill(slot, bi as u32);
                }
            }
        }
        self.lines = lines.all.finish(&lines.slots);
        self.lines_once = lines.once.finish(&lines.slots);
    }

    fn new<G: Fn(usize) -> u64 + Sync>(facts: BucketFacts<'_, 'd, G>) -> Self {
        let mut index = Index::default();
        let (dump, base_members) = (facts.dump, facts.base_members);
        // Read on every core for many buckets, joined in the order of the buckets;
        // then the few asking frames of each bucket counted in the line indexes.
        let parts = crate::analyze::by_ranges(base_members.len(), |range| facts.read(range));
        let mut words: Vec<(u64, u32)> =
            Vec::with_capacity(parts.iter().map(|p| p.words.len()).sum());
        for p in parts {
            let base = index.asking_frames.len() as u32;
            index
                .asking_at
                .extend(p.asking_at.iter().map(|&a| a + base));
            index.asking_frames.extend(p.asking_frames);
            index.blocked.buckets.extend(p.blocked.buckets);
            index.blocked.goroutines += p.blocked.goroutines;
            index.unique.buckets.extend(p.unique.buckets);
            index.unique.goroutines += p.unique.goroutines;
            index.by_minutes.extend(p.by_minutes);
            words.extend(p.words);
        }
        index.asking_at.push(index.asking_frames.len() as u32);
        let mut lines = Lines::default();
        for (bi, members) in base_members.iter().enumerate() {
            let Some(&c) = members.first() else { continue };
            index.count_asking(&mut lines, &dump.goroutines[c], bi);
        }
        index.fill_lines(dump, base_members, lines);
        index.words = word_buckets(words);
        index.by_minutes.sort_unstable_by(|a, b| b.cmp(a));
        index.minutes_prefix = std::iter::once(0)
            .chain(index.by_minutes.iter().scan(0, |sum, e| {
                *sum += e.goroutines;
                Some(*sum)
            }))
            .collect();
        index
    }
}

/// Every (word, bucket) sorted, once each: a word's buckets in order, one run.
/// Kept as pairs, not a list of buckets per word (a million words each printed
/// by one goroutine were a million lists).
fn word_buckets(mut pairs: Vec<(u64, u32)>) -> Vec<(u64, u32)> {
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

impl Index<'_> {
    /// The buckets whose word lists hold `word`, in order.
    pub(super) fn buckets_printing(&self, word: u64) -> impl Iterator<Item = u32> + '_ {
        let from = self.words.partition_point(|&(w, _)| w < word);
        self.words[from..]
            .iter()
            .take_while(move |&&(w, _)| w == word)
            .map(|&(_, bi)| bi)
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
        let mut timer = crate::PhaseTimer::default();
        let anchors: Vec<Vec<Anchor>> = anchors(dump, blocked, locks);
        let near = NearAnchors::new(&anchors);
        timer.done("  holders: prepare: anchors");
        // The words near an anchor, read on every core: each thread keeps its own
        // distinct lists, merged after.
        let n = dump.goroutines.len();
        let parts: Vec<RangeBuckets> = crate::analyze::by_ranges(n, |range| {
            let mut reader = RangeReader::new(dump, blocked, groups, group_of, &near);
            let first = range.start == 0;
            let start = range.start;
            reader.local.reserve(range.len());
            for c in range {
                reader.read(c);
            }
            RangeBuckets {
                start,
                lists: reader.lists,
                keys: reader.keys,
                local: reader.local,
                // Only the first part's is looked up again (`BaseBuckets::merge`).
                bucket_of: if first {
                    reader.bucket_of
                } else {
                    Default::default()
                },
            }
        });
        timer.done("  holders: prepare: read");
        let b = BaseBuckets::merge(n, parts);
        timer.done("  holders: prepare: merge");
        let index = if anchors.is_empty() {
            Index::default()
        } else {
            Index::new(BucketFacts {
                dump,
                blocked,
                groups_count: |c: usize| groups[group_of[c]].count,
                asking: &asking_functions(dump, blocked, locks),
                base_members: &b.members,
                base_words: &b.words,
                word_lists: &b.word_lists,
            })
        };
        timer.done("  holders: prepare: index");
        Prepared {
            anchors,
            waits_on: waits_on(n, locks),
            known_as: locks.iter().map(KnownAs::of).collect(),
            base: b.base,
            base_members: b.members,
            base_words: b.words,
            word_lists: b.word_lists,
            index,
            of_types: Default::default(),
        }
    }
}

/// The functions where some lock is asked for (as `rank` reads them).
fn asking_functions<'d>(
    dump: &'d Dump,
    blocked: &[Blocked],
    locks: &[Lock],
) -> rustc_hash::FxHashSet<&'d str> {
    locks
        .iter()
        .flat_map(|l| &l.alike)
        .filter_map(|&w| {
            let lf = blocked[w].lock_frame()?;
            Some(dump.goroutines[w].frames.get(lf)?.function.full())
        })
        .collect()
}

/// Every lock's anchor addresses, sorted, to tell which words lie near one.
struct NearAnchors {
    addrs: Vec<u64>,
    /// No word below this or above `hi` is near an anchor.
    lo: u64,
    hi: u64,
}

impl NearAnchors {
    fn new(anchors: &[Vec<Anchor>]) -> Self {
        let mut addrs: Vec<u64> = anchors.iter().flatten().map(|a| a.addr).collect();
        addrs.sort_unstable();
        addrs.dedup();
        let lo = addrs
            .first()
            .map_or(u64::MAX, |&a| a.saturating_sub(MAX_FIELD_OFFSET));
        let hi = addrs.last().copied().unwrap_or(0);
        NearAnchors { addrs, lo, hi }
    }

    /// `w` is an anchor or lies at most `MAX_FIELD_OFFSET` below one (a field of
    /// an object the lock is in).
    fn near(&self, w: u64) -> bool {
        if w < self.lo || w > self.hi {
            return false;
        }
        let i = self.addrs.partition_point(|&a| a < w);
        self.addrs
            .get(i)
            .is_some_and(|&a| a - w <= MAX_FIELD_OFFSET)
    }
}

/// Word lists stored one after another, each at its id.
#[derive(Default)]
pub(super) struct WordLists {
    flat: Vec<(u32, u64)>,
    /// Where each list starts in `flat`, and one entry more.
    at: Vec<u32>,
}

impl WordLists {
    fn len(&self) -> usize {
        self.at.len().saturating_sub(1)
    }

    /// The list with id `l`.
    pub(super) fn get(&self, l: u32) -> &[(u32, u64)] {
        let l = l as usize;
        &self.flat[self.at[l] as usize..self.at[l + 1] as usize]
    }

    fn push(&mut self, words: &[(u32, u64)]) -> u32 {
        if self.at.is_empty() {
            self.at.push(0);
        }
        self.flat.extend_from_slice(words);
        self.at.push(self.flat.len() as u32);
        self.len() as u32 - 1
    }
}

/// Distinct word lists, each with its id (in order of first sight), kept once:
/// stored flat, found through a table of their ids by hash, so a list read costs
/// no allocation of its own and the table 4 bytes an id.
#[derive(Default)]
struct Lists {
    lists: WordLists,
    /// The ids of the lists indexed, by the list's hash.
    table: hashbrown::HashTable<u32>,
}

fn list_hash(words: &[(u32, u64)]) -> u64 {
    crate::analyze::key_index::hash_of(words)
}

impl Lists {
    /// Starting with the empty list, id 0.
    fn with_empty() -> Self {
        let mut lists = Lists::default();
        lists.id_of(&[]);
        lists
    }

    /// The id of a list read before (and indexed), if it was.
    fn find(&self, hash: u64, words: &[(u32, u64)]) -> Option<u32> {
        let lists = &self.lists;
        self.table.find(hash, |&l| lists.get(l) == words).copied()
    }

    /// The id of a list, added if new but not indexed: for a list no later one can
    /// equal (the last part's, `BaseBuckets::merge`).
    fn id_of_unindexed(&mut self, words: &[(u32, u64)]) -> u32 {
        self.find(list_hash(words), words)
            .unwrap_or_else(|| self.lists.push(words))
    }

    /// The id of a list, added if new.
    fn id_of(&mut self, words: &[(u32, u64)]) -> u32 {
        let hash = list_hash(words);
        if let Some(l) = self.find(hash, words) {
            return l;
        }
        let id = self.lists.push(words);
        let lists = &self.lists;
        self.table
            .insert_unique(hash, id, |&l| list_hash(lists.get(l)));
        id
    }
}

/// Everything but the list of words near an anchor, of a goroutine ranked. In
/// 32 bits each (group and frame indexes fit), as there may be a bucket per few
/// goroutines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BaseKey {
    group: u32,
    kind: WaitKind,
    minutes: Option<u32>,
    lock_frame: Option<u32>,
    depth: u32,
}

/// A bucket's key: what ranking reads of its goroutines, and its word list's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BucketKey {
    base: BaseKey,
    list: u32,
}

/// Which bucket has each key (solo buckets aside). Most word lists are a single
/// bucket's (a goroutine printing an address of its own): the first bucket of each
/// list is kept by list id, only the others by key, in a map.
#[derive(Default)]
struct BucketIds {
    /// By word list id: its first bucket, or `SKIP`.
    first_of_list: Vec<u32>,
    /// Buckets whose list had a bucket before them, by key.
    others: rustc_hash::FxHashMap<BucketKey, u32>,
}

impl BucketIds {
    /// The bucket with `key`, given every bucket's key (`keys`, by bucket).
    fn get(&self, keys: &[LocalBucket], key: &BucketKey) -> Option<u32> {
        match self.first_of_list.get(key.list as usize) {
            Some(&b) if b != SKIP && keys[b as usize].key == *key => Some(b),
            Some(&b) if b != SKIP => self.others.get(key).copied(),
            _ => None,
        }
    }

    /// Bucket `b` has `key`, which no bucket had before.
    fn insert(&mut self, key: BucketKey, b: u32) {
        let l = key.list as usize;
        if self.first_of_list.len() <= l {
            self.first_of_list.resize(l + 1, SKIP);
        }
        if self.first_of_list[l] == SKIP {
            self.first_of_list[l] = b;
        } else {
            self.others.insert(key, b);
        }
    }

    /// The bucket with `key`: found, or the next one (`keys.len()`), pushed.
    fn get_or_push(&mut self, keys: &mut Vec<LocalBucket>, key: BucketKey) -> u32 {
        if let Some(b) = self.get(keys, &key) {
            return b;
        }
        let b = keys.len() as u32;
        keys.push(LocalBucket { key, solo: false });
        self.insert(key, b);
        b
    }
}

/// A bucket of one range: its key, and whether it is the only bucket with it.
#[derive(Debug, Clone, Copy)]
struct LocalBucket {
    key: BucketKey,
    /// Its goroutine is alone in its stack group, so no other goroutine of any
    /// range has its key: kept in no map, never looked up.
    solo: bool,
}

/// What one range of goroutines was read into: its distinct word lists, its
/// buckets' keys (their lists by this range's ids) in order of their first
/// member, and each goroutine's bucket among them.
struct RangeBuckets {
    /// The range's first goroutine.
    start: usize,
    lists: Lists,
    keys: Vec<LocalBucket>,
    /// Per goroutine of the range: its index in `keys`, or `SKIP`.
    local: Vec<u32>,
    /// Each bucket's index in `keys`, by its key (solo buckets aside).
    bucket_of: BucketIds,
}

/// By frame list and first frame read: which frames are read, decided at a
/// frame's first word near an anchor (most frames print none), and the argument
/// data read last with its list (goroutines of one stack with equal values often
/// share their data).
struct StackRead {
    /// Per frame: `UNDECIDED`, or whether it is read; empty until one is decided.
    read_frame: Vec<u8>,
    last: Option<LastRead>,
}

const UNDECIDED: u8 = 2;

impl StackRead {
    /// Whether frame `fi` (of `g`) is read.
    fn reads(&mut self, g: &Goroutine, fi: usize) -> bool {
        if self.read_frame.is_empty() {
            self.read_frame = vec![UNDECIDED; g.frames.len()];
        }
        if self.read_frame[fi] == UNDECIDED {
            self.read_frame[fi] = frame_read(&g.frames[fi]) as u8;
        }
        self.read_frame[fi] == 1
    }
}

/// The argument data a stack's words were read from last, and their list.
#[derive(Clone, Copy)]
struct LastRead {
    args: (usize, u32, u32),
    list: u32,
}

/// Reads one range of goroutines into buckets.
struct RangeReader<'r, 'd> {
    dump: &'d Dump<'d>,
    blocked: &'r [Blocked],
    groups: &'r [Group],
    group_of: &'r [usize],
    near: &'r NearAnchors,
    lists: Lists,
    /// By stack shared with other goroutines (`StackId::alone` ones aside: no
    /// other goroutine would find their entry) and first frame read.
    stacks: rustc_hash::FxHashMap<(StackId, usize), StackRead>,
    /// A buffer for one goroutine's words.
    words: WordList,
    /// By key, the buckets not solo (`LocalBucket::solo`).
    bucket_of: BucketIds,
    keys: Vec<LocalBucket>,
    /// Per goroutine read: its index in `keys`, or `SKIP`.
    local: Vec<u32>,
}

impl<'r, 'd> RangeReader<'r, 'd> {
    fn new(
        dump: &'d Dump<'d>,
        blocked: &'r [Blocked],
        groups: &'r [Group],
        group_of: &'r [usize],
        near: &'r NearAnchors,
    ) -> Self {
        RangeReader {
            dump,
            blocked,
            groups,
            group_of,
            near,
            lists: Lists::with_empty(),
            stacks: Default::default(),
            words: Vec::new(),
            bucket_of: Default::default(),
            keys: Vec::new(),
            local: Vec::new(),
        }
    }

    /// Goroutine `c` joins the bucket of those alike, unless it is never ranked
    /// (background, cut off, no frames).
    fn read(&mut self, c: usize) {
        let (g, b) = (&self.dump.goroutines[c], &self.blocked[c]);
        if b.kind.is_background() || !g.complete || g.frames.is_empty() {
            self.local.push(SKIP);
            return;
        }
        let list = self.words_near(c);
        let key = BucketKey {
            base: BaseKey {
                group: self.group_of[c] as u32,
                kind: b.kind,
                minutes: g.wait_minutes,
                lock_frame: b.lock_frame().map(|f| f as u32),
                depth: g.frames.len() as u32,
            },
            list,
        };
        let keys = &mut self.keys;
        let solo = self.groups[self.group_of[c]].members.len() == 1;
        let bi = if solo {
            keys.push(LocalBucket { key, solo });
            keys.len() as u32 - 1
        } else {
            self.bucket_of.get_or_push(keys, key)
        };
        self.local.push(bi);
    }

    /// The id of goroutine `c`'s list of certain argument words near an anchor, in
    /// the frames ranking may read: from its lock frame on (or all), the program's
    /// own and `sync`'s.
    fn words_near(&mut self, c: usize) -> u32 {
        let (g, b) = (&self.dump.goroutines[c], &self.blocked[c]);
        let skip = b.lock_frame().unwrap_or(0);
        let mut own = StackRead {
            read_frame: Vec::new(),
            last: None,
        };
        let stack = if StackId::alone(g) {
            &mut own
        } else {
            self.stacks
                .entry((StackId::of(g), skip))
                .or_insert(StackRead {
                    read_frame: Vec::new(),
                    last: None,
                })
        };
        let args = g.args.identity();
        if let Some(last) = stack.last.filter(|l| l.args == args) {
            return last.list;
        }
        self.words.clear();
        if !self.near.addrs.is_empty() {
            for (fi, (_, a)) in g.frames_args().enumerate().skip(skip) {
                for (w, unsure) in a.words() {
                    if !unsure && w >= MIN_ADDR && self.near.near(w) && stack.reads(g, fi) {
                        self.words.push((fi as u32, w));
                    }
                }
            }
        }
        let list = self.lists.id_of(&self.words);
        stack.last = Some(LastRead { args, list });
        list
    }
}

/// Whether ranking reads a frame (from the first it reads on): the program's own
/// and `sync`'s.
fn frame_read(f: &Frame) -> bool {
    !is_machinery(&f.function) || f.function.package() == "sync"
}

/// `Prepared`'s buckets, the parts' merged.
struct BaseBuckets {
    /// Per goroutine: its bucket, or `SKIP`.
    base: Vec<u32>,
    members: Members,
    /// Each bucket's word list.
    words: Vec<u32>,
    word_lists: WordLists,
}

impl BaseBuckets {
    /// One id per distinct list, then the parts' buckets merged in order: a
    /// bucket's members stay in goroutine order, buckets in order of their first.
    /// The first part's ids and buckets are taken as they are (they are the
    /// first), not looked up again.
    fn merge(n: usize, parts: Vec<RangeBuckets>) -> Self {
        let mut base = vec![SKIP; n];
        let mut words: Vec<u32> = Vec::new();
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return BaseBuckets {
                base,
                members: Members::default(),
                words,
                word_lists: WordLists::default(),
            };
        };
        let mut lists = first.lists;
        let mut ids_of = first.bucket_of;
        // Every bucket's key but the last part's (which none is looked up by).
        let mut keys = first.keys;
        words.extend(keys.iter().map(|k| k.key.list));
        base[first.start..first.start + first.local.len()].copy_from_slice(&first.local);
        let mut parts = parts.peekable();
        while let Some(part) = parts.next() {
            // A part's lists are distinct, and so are its keys: what the last part
            // adds no later part looks for, and is not indexed.
            let last = parts.peek().is_none();
            let local = &part.lists.lists;
            let global: Vec<u32> = (0..local.len() as u32)
                .map(|l| match last {
                    true => lists.id_of_unindexed(local.get(l)),
                    false => lists.id_of(local.get(l)),
                })
                .collect();
            let ids: Vec<u32> = part
                .keys
                .into_iter()
                .map(|LocalBucket { key, solo }| {
                    let key = BucketKey {
                        list: global[key.list as usize],
                        ..key
                    };
                    if let Some(b) = (!solo).then(|| ids_of.get(&keys, &key)).flatten() {
                        return b;
                    }
                    words.push(key.list);
                    let b = words.len() as u32 - 1;
                    if !last {
                        keys.push(LocalBucket { key, solo });
                        if !solo {
                            ids_of.insert(key, b);
                        }
                    }
                    b
                })
                .collect();
            for (c, &l) in part.local.iter().enumerate() {
                if l != SKIP {
                    base[part.start + c] = ids[l as usize];
                }
            }
        }
        BaseBuckets {
            members: Members::from_base(&base, words.len()),
            base,
            words,
            word_lists: lists.lists,
        }
    }
}

impl<'d> Prepared<'d> {
    /// The frames of goroutine `c`'s bucket in a function where some lock is asked
    /// for, from its lock frame on; `None` when no index was made.
    pub(super) fn asking_frames(&self, c: usize) -> Option<impl Iterator<Item = usize> + '_> {
        let ix = &self.index;
        let bi = self.base[c] as usize;
        let (&from, &to) = (ix.asking_at.get(bi)?, ix.asking_at.get(bi + 1)?);
        let frames = &ix.asking_frames[from as usize..to as usize];
        Some(frames.iter().map(|&e| (e & !ONCE) as usize))
    }

    /// The best hit of goroutine `c`'s words near an anchor, from frame `start` on,
    /// on the anchors of lock `li`. A word of the frame where `c` asks for a lock of
    /// its own that may be this one (see `explained_by_own_wait`) is explained by
    /// that wait, and ties `c` to nothing it holds.
    pub(super) fn address_hit<'a>(
        &self,
        dump: &'a Dump,
        b: &Blocked,
        c: usize,
        start: usize,
        li: usize,
    ) -> Option<AddressHit<'a>> {
        let anchors = &self.anchors[li];
        let g = &dump.goroutines[c];
        let list = self.word_lists.get(self.base_words[self.base[c] as usize]);
        let mut best: Option<AddressHit<'a>> = None;
        for &(fi, w) in list {
            let fi = fi as usize;
            if fi < start || self.explained_by_own_wait(b, c, fi, w, li) {
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
                if best.is_none_or(|b| b.weight < weight) {
                    best = Some(AddressHit {
                        weight,
                        function: f.function,
                        word: w,
                        anchor: ai,
                        frame: fi,
                    });
                }
            }
        }
        best
    }
}

impl Prepared<'_> {
    /// `w`, printed in frame `fi` of goroutine `c`, is an anchor of the lock `c`
    /// waits on, `fi` is where it asks for that lock, and that lock may be lock
    /// `li` itself (`KnownAs::may_be`): `c` prints it because it waits for it.
    fn explained_by_own_wait(&self, b: &Blocked, c: usize, fi: usize, w: u64, li: usize) -> bool {
        let own = self.waits_on[c];
        own != SKIP
            && (b.lock_frame() == Some(fi) || b.wrapper() == Some(fi))
            && self.known_as[own as usize].may_be(&self.known_as[li])
            && self.anchors[own as usize].iter().any(|a| a.addr == w)
    }
}

/// What tells a lock from another for sure: its printed address and what kind of
/// primitive it is.
#[derive(Debug, Clone, Copy)]
struct KnownAs {
    addr: Option<u64>,
    /// A `sync.RWMutex` (read or write waits), else a `sync.Mutex`; `None` for
    /// anything else (a channel, a Cond, a semaphore, a user's gate).
    rw: Option<bool>,
}

impl KnownAs {
    fn of(l: &Lock) -> KnownAs {
        let rw = match l.kind {
            WaitKind::MutexLock => Some(false),
            WaitKind::RWMutexRLock | WaitKind::RWMutexLock => Some(true),
            _ => None,
        };
        KnownAs { addr: l.addr, rw }
    }

    /// Two queues may be one lock: both mutexes of one kind, and not two printed
    /// addresses that differ.
    fn may_be(&self, other: &KnownAs) -> bool {
        let distinct = matches!((self.addr, other.addr), (Some(a), Some(b)) if a != b);
        self.rw.is_some() && self.rw == other.rw && !distinct
    }
}

/// Per goroutine: the lock it waits on (its index), or `SKIP`.
fn waits_on(n: usize, locks: &[Lock]) -> Vec<u32> {
    let mut out = vec![SKIP; n];
    for (li, l) in locks.iter().enumerate() {
        for &w in &l.waiters {
            out[w] = li as u32;
        }
    }
    out
}

/// The best hit of a goroutine's own frames on the lock's addresses.
#[derive(Debug, Clone, Copy)]
pub(super) struct AddressHit<'d> {
    pub(super) weight: f64,
    /// The function of the frame that prints it.
    pub(super) function: FuncName<'d>,
    pub(super) word: u64,
    /// Index into the lock's anchors.
    pub(super) anchor: usize,
    /// Index of the frame that prints it.
    pub(super) frame: usize,
}
