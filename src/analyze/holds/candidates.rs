//! Candidates: the buckets that may hold evidence on one lock, found through
//! `Prepared`'s indexes, with how many goroutines share each kind of circumstance.

use super::prepare::{Population, Prepared, SMALL};
use super::{blocked_weight, own_start, Ev};
use crate::analyze::classify::{is_machinery, Blocked};
use crate::analyze::findings::Anchor;
use crate::group::Group;
use crate::model::{Dump, Frame, FuncName, Goroutine};

/// What `Prepared::candidates` looks for on one lock.
pub(super) struct Wanted<'w, 'd> {
    pub(super) anchors: &'w [Anchor],
    pub(super) lock_calls: &'w [LockCall<'d>],
    /// The types of the methods that ask for the lock.
    pub(super) sites: &'w LockSites<'d>,
    /// The lock's waiters that are ranked, sorted.
    pub(super) ranked_waiters: &'w [usize],
    pub(super) waiter_groups_big: bool,
    pub(super) max_wait: u32,
    /// Waited on for a signal (`Lock::is_signal_wait`).
    pub(super) signal: bool,
}

/// Where the waiters ask for a lock: the asking frame's function and line.
pub(super) struct LockCall<'d> {
    pub(super) function: FuncName<'d>,
    pub(super) line: u32,
}

/// Buckets of non-waiters that have a frame of the lock's type, as a non-waiter's
/// ranking reads them.
pub(super) struct OfType {
    pub(super) same: Population,
    /// Per bucket: the index of its first frame of the lock's type, if any.
    pub(super) frame: Vec<Option<u32>>,
}

/// Where a lock is asked for: the (package, receiver type) of the asking methods,
/// sorted and once each; the key of `OfType`s made once.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub(super) struct LockSites<'d> {
    pub(super) types: Vec<(&'d str, &'d str)>,
}

impl<'d> LockSites<'d> {
    /// Of the calls that ask for a lock.
    pub(super) fn of(calls: &[LockCall<'d>]) -> Self {
        let mut types: Vec<(&'d str, &'d str)> = calls
            .iter()
            .filter_map(|c| Some((c.function.package(), c.function.receiver()?)))
            .collect();
        types.sort_unstable();
        types.dedup();
        LockSites { types }
    }

    fn has_type(&self, package: &str, receiver: &str) -> bool {
        self.types.binary_search(&(package, receiver)).is_ok()
    }
}

/// The buckets a lock's ranking reads, and how many non-waiters share each kind
/// of circumstantial evidence.
pub(super) struct Found {
    /// Sorted, once each.
    pub(super) buckets: Vec<u32>,
    pub(super) population: Vec<Share>,
    /// The buckets with a frame of the lock's type, when it has any.
    pub(super) of_type: Option<std::sync::Arc<OfType>>,
    /// Goroutines, none of them waiting on the lock, whose words print one of its
    /// anchors, in buckets left unread: so many print one that the address, shared
    /// out, leaves each under what a candidate needs (see `address_population`).
    pub(super) unread_address: usize,
}

/// How many goroutines (not this lock's waiters) share one kind of evidence.
pub(super) struct Share {
    pub(super) ev: Ev,
    pub(super) goroutines: usize,
}

impl Found {
    /// A population of circumstantial evidence, but for `waiting` of the lock's
    /// waiters: counted, and read when small enough to score.
    fn take(&mut self, ev: Ev, pop: &Population, waiting: usize) {
        let n = pop.goroutines - waiting;
        self.population.push(Share { ev, goroutines: n });
        if n <= SMALL {
            self.buckets.extend(&pop.buckets);
        }
    }
}

/// How many of the lock's ranked waiters `f` holds for.
fn waiting(want: &Wanted, f: impl Fn(usize) -> bool) -> usize {
    want.ranked_waiters.iter().filter(|&&w| f(w)).count()
}

impl<'d> Prepared<'d> {
    /// The buckets that may hold evidence on a lock, sorted: its waiters', those
    /// whose words come near its anchors, those with a frame past where it is asked
    /// for, and every population of circumstantial evidence small enough to score;
    /// with, per kind of circumstantial evidence, how many non-waiters share it.
    pub(super) fn candidates(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        groups: &[Group],
        group_of: &[usize],
        want: &Wanted<'_, 'd>,
    ) -> Found {
        let ix = &self.index;
        let mut found = Found {
            buckets: self.tied(want),
            population: Vec::new(),
            of_type: None,
            unread_address: 0,
        };
        let n = waiting(want, |w| blocked_weight(blocked[w].kind).is_some());
        found.take(Ev::Blocked, &ix.blocked, n);
        if want.waiter_groups_big {
            let n = waiting(want, |w| groups[group_of[w]].count == 1);
            found.take(Ev::Unique, &ix.unique, n);
        }
        if !want.sites.types.is_empty() {
            self.same_type(dump, blocked, want, &mut found);
        }
        if want.max_wait > 0 {
            self.longer(dump, want, &mut found);
        }
        found.buckets.sort_unstable();
        found.buckets.dedup();
        self.address_population(want, &mut found);
        found
    }

    /// The buckets whose words print one of the lock's anchors (for a goroutine not
    /// waiting on it, exactly an address hit: its words are read from where its
    /// ranking reads), sorted, once each.
    fn printing_anchor(&self, want: &Wanted<'_, 'd>) -> Vec<u32> {
        let ix = &self.index;
        let mut out: Vec<u32> = Vec::new();
        for a in want.anchors {
            out.extend(ix.buckets_printing(a.addr));
        }
        if want.anchors.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// The buckets printing an anchor join those read when few goroutines but the
    /// lock's waiters are in them. With more than `SMALL`, the address is shared
    /// out to under 0.02 each, and with every circumstance shared by more than
    /// `SMALL` (the buckets of smaller populations are read) a bucket scores under
    /// 0.05: only those read for other reasons (got in, small populations, waiters)
    /// are, and the rest are counted in `unread_address`. The waiters' buckets are
    /// always read.
    fn address_population(&self, want: &Wanted<'_, 'd>, found: &mut Found) {
        let printing = self.printing_anchor(want);
        let members = |bi: u32| self.base_members.of(bi as usize).len();
        let in_printing = want
            .ranked_waiters
            .iter()
            .filter(|&&w| printing.binary_search(&self.base[w]).is_ok())
            .count();
        let outside = printing.iter().map(|&bi| members(bi)).sum::<usize>() - in_printing;
        if outside <= SMALL {
            found.buckets.extend(printing);
            found.buckets.sort_unstable();
            found.buckets.dedup();
            return;
        }
        found.unread_address = printing
            .iter()
            .filter(|bi| found.buckets.binary_search(bi).is_err())
            .map(|&bi| members(bi))
            .sum();
    }

    /// The buckets tied to the lock (unsorted): its waiters', and those with a frame
    /// in a function that asks for it at a line past the asking call. (Those whose
    /// words print one of its anchors: `address_population`.)
    fn tied(&self, want: &Wanted<'_, 'd>) -> Vec<u32> {
        let ix = &self.index;
        let mut out: Vec<u32> = want.ranked_waiters.iter().map(|&w| self.base[w]).collect();
        // A signal wait is got in only by a function on its stack once.
        let lines = if want.signal {
            &ix.lines_once
        } else {
            &ix.lines
        };
        for call in want.lock_calls {
            if let Some(list) = lines.get(call.function.full()) {
                out.extend_from_slice(list.past(call.line));
            }
        }
        out
    }

    /// The population with a frame of the lock's type, but for the lock's waiters
    /// (from `OfType`s made once per set of types). When most buckets are this
    /// lock's waiters' (few locks can be, as each goroutine waits on one), buckets
    /// only of its waiters are left out.
    fn same_type(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        want: &Wanted<'_, 'd>,
        found: &mut Found,
    ) {
        let tf = self.of_type(dump, blocked, want);
        found.of_type = Some(tf.clone());
        if want.ranked_waiters.len() * 2 < self.base_members.len() {
            let n = waiting(want, |w| tf.frame[self.base[w] as usize].is_some());
            found.take(Ev::SameType, &tf.same, n);
            return;
        }
        let mut waiting_in: rustc_hash::FxHashMap<u32, usize> = Default::default();
        for &w in want.ranked_waiters {
            *waiting_in.entry(self.base[w]).or_default() += 1;
        }
        let mut same = Population::default();
        for &bi in &tf.same.buckets {
            let members = self.base_members.of(bi as usize).len();
            let rest = members - waiting_in.get(&bi).copied().unwrap_or(0);
            if rest > 0 {
                same.buckets.push(bi);
                same.goroutines += rest;
            }
        }
        found.take(Ev::SameType, &same, 0);
    }

    /// The population blocked at least as long as the lock's waiters.
    fn longer(&self, dump: &'d Dump, want: &Wanted<'_, 'd>, found: &mut Found) {
        let ix = &self.index;
        let k = ix
            .by_minutes
            .partition_point(|w| w.minutes >= want.max_wait);
        let longer = |w: usize| {
            dump.goroutines[w]
                .wait_minutes
                .is_some_and(|m| m >= want.max_wait)
        };
        let n = ix.minutes_prefix[k] - waiting(want, longer);
        found.population.push(Share {
            ev: Ev::Longer,
            goroutines: n,
        });
        if n <= SMALL {
            found
                .buckets
                .extend(ix.by_minutes[..k].iter().map(|w| w.bucket));
        }
    }

    /// The buckets with a frame of the lock's type: made once per set of types, as
    /// many locks are asked for at one site.
    fn of_type(
        &self,
        dump: &'d Dump,
        blocked: &[Blocked],
        want: &Wanted<'_, 'd>,
    ) -> std::sync::Arc<OfType> {
        if let Some(tf) = self.of_types_lock().get(want.sites) {
            return tf.clone();
        }
        let mut tf = OfType {
            same: Population::default(),
            frame: vec![None; self.base_members.len()],
        };
        for (bi, members) in self.base_members.iter().enumerate() {
            let Some(&c) = members.first() else {
                continue;
            };
            let g = &dump.goroutines[c];
            let Some(frame) = first_of_type(g, own_start(g, &blocked[c], false), want.sites) else {
                continue;
            };
            tf.same.buckets.push(bi as u32);
            tf.same.goroutines += members.len();
            tf.frame[bi] = Some(frame as u32);
        }
        // Made outside the lock (another thread may make the same, equal one).
        self.of_types_lock()
            .entry(want.sites.clone())
            .or_insert_with(|| std::sync::Arc::new(tf))
            .clone()
    }
}

/// The first of `g`'s own frames from `start` on (not the runtime's or `sync`'s)
/// that is a method of one of the lock's types.
pub(super) fn first_of_type(g: &Goroutine, start: usize, sites: &LockSites) -> Option<usize> {
    let same = |f: &Frame| {
        f.function
            .receiver()
            .is_some_and(|r| sites.has_type(f.function.package(), r))
    };
    g.frames
        .iter()
        .enumerate()
        .skip(start)
        .filter(|(_, f)| !is_machinery(&f.function))
        .find(|(_, f)| same(f))
        .map(|(frame, _)| frame)
}
