//! Rank: each lock's candidates weighed on their evidence, best first.

use std::collections::{HashMap, HashSet};

use super::candidates::Wanted;
use super::prepare::{AddressHit, Prepared, SKIP, SMALL};
use super::{blocked_weight, own_start, Candidate, Ev};
use crate::analyze::classify::{is_machinery, Blocked, StackId, WaitKind};
use crate::analyze::findings::{FrameRef, HolderEvidence, HolderWhy};
use crate::analyze::resources::{receiver_type, MIN_ADDR};
use crate::analyze::{display_id, Lock};
use crate::group::Group;
use crate::model::{Args, Dump, Frame, FuncName, Goroutine};

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
    if super::tests::EXHAUSTIVE.get() {
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
        let mut by_stack: Vec<(bool, crate::analyze::StackKey, usize)> = Vec::new();
        while j < scored.len() && scored[j].0 == score {
            let direct = scored[j]
                .2
                 .2
                .iter()
                .any(|(k, _, _)| matches!(k, Ev::GotIn | Ev::Reentered));
            if let Some(&m) = members_of[&scored[j].2 .0].iter().next() {
                by_stack.push((!direct, crate::analyze::stack_key(dump, m), j));
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
