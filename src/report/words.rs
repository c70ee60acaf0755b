//! Findings in words: the one place a finding's headline and evidence become
//! sentences, for the text report, Markdown, DOT and JSON alike.

use crate::analyze::classify::{Blocked, WaitKind};
use crate::analyze::findings::{Anchor, AnchorFrom};
use crate::analyze::release::Scope;
use crate::analyze::{
    display_id, frame_label, lock_name, short_file, Also, Analysis, Evidence, Finding, FindingKind,
    FrameRef, Headline, HolderEvidence, HolderWhy, IdentityRule, Lock, Watched,
};
use crate::model::{Dump, Format};

/// How waiters were found to share one lock.
pub fn rule(r: IdentityRule) -> &'static str {
    match r {
        IdentityRule::Address => "same primitive address in the frames' arguments",
        IdentityRule::WrapperReceiver => "same lock wrapper on the same receiver",
        IdentityRule::Receiver => "likely: the methods asking for it share a receiver",
        IdentityRule::SharedObject => {
            "its address; waiters whose lock printed none joined by the object their \
             callers share with its other waiters (likely)"
        }
        IdentityRule::Site => "likely: no address printed, same call site (or lock wrapper)",
        IdentityRule::SiteObject => {
            "likely: no address printed; its waiters at several call sites ask with one \
             object, which no other lock's waiters print"
        }
    }
}

/// What a goroutine waits on, in words: `IO wait [5 minutes] in net.(*conn).Read (net.go:179)`,
/// the state as printed in brackets when it says more than the kind.
pub fn describe_wait(dump: &Dump, blocked: &[Blocked], i: usize) -> String {
    let b = &blocked[i];
    let g = &dump.goroutines[i];
    let site = b
        .site()
        .map(|s| frame_label(g, s))
        .or_else(|| (!g.frames.is_empty()).then(|| frame_label(g, 0)))
        .unwrap_or_else(|| "no frames".to_string());
    let kind = b.kind.as_str();
    // The state as printed, when it says more than the kind; then the minutes.
    let state = Some(g.state.raw).filter(|s| !s.is_empty() && *s != kind);
    let minutes = g.wait_minutes.map(minutes);
    let bracket = match (state, minutes) {
        (Some(s), Some(m)) => format!(" [{s}, {m}]"),
        (Some(s), None) => format!(" [{s}]"),
        (None, Some(m)) => format!(" [{m}]"),
        (None, None) => String::new(),
    };
    format!("{kind}{bracket} in {site}")
}

/// What the finding's holder itself waits on, when the finding shows it.
pub fn holder_wait(dump: &Dump, a: &Analysis, f: &Finding) -> Option<String> {
    f.holder_wait.map(|h| describe_wait(dump, &a.blocked, h))
}

/// `Evidence::RuntimeAllAsleep` in words.
const RUNTIME_ALL_ASLEEP: &str =
    "the Go runtime reported `fatal error: all goroutines are asleep - deadlock!`";
/// `Evidence::LeakMarked` in words.
const LEAK_MARKED: &str = "the Go runtime marked them `(leaked)`: nothing reachable can wake them";
/// `Evidence::HolderWaitHidden` in words.
const HOLDER_WAIT_HIDDEN: &str = "likely, not proven: debug=1 hides what the holder waits on (a channel operation or a select, which may have a timeout) and prints no minutes of waiting";
/// `Evidence::AllMoved` in words.
const ALL_MOVED: &str = "every goroutine it names moved between the snapshots: it did not last";

/// The one line a human reads first.
pub fn headline(dump: &Dump, a: &Analysis, f: &Finding) -> String {
    let h = Words { dump, a }.headline(&f.headline);
    match f.copies {
        1 => h,
        n => format!(
            "{h} ({n} alike: the same rule on the same stacks; all their goroutines are listed)"
        ),
    }
}

/// Every piece of evidence, one line each, in order; then what other rules read
/// of the same goroutines.
///
/// Edges alike in a row (waiters at one site on one lock with one holder, members
/// of one WaitGroup blocked alike) are said once, with every goroutine they name.
pub fn evidence(dump: &Dump, a: &Analysis, f: &Finding) -> Vec<String> {
    let w = Words { dump, a };
    let mut v: Vec<String> = Vec::with_capacity(f.evidence.len() + f.also.len());
    let mut rest = &f.evidence[..];
    while let Some(first) = rest.first() {
        let n = w.alike_edges(rest);
        v.push(match n {
            1 => w.evidence(first),
            _ => w.edges(&rest[..n]),
        });
        rest = &rest[n..];
    }
    v.extend(f.also.iter().map(|x| also(dump, a, x)));
    v
}

/// A finding folded into a stronger one, in words.
pub fn also(dump: &Dump, a: &Analysis, x: &Also) -> String {
    format!(
        "the same goroutines also read as {} (confidence {:.2}): {}",
        x.kind.as_str().to_uppercase(),
        x.confidence,
        Words { dump, a }.headline(&x.headline)
    )
}

/// The headline of a finding folded into another.
pub fn also_headline(dump: &Dump, a: &Analysis, x: &Also) -> String {
    Words { dump, a }.headline(&x.headline)
}

/// One piece of evidence in words.
pub fn evidence_item(dump: &Dump, a: &Analysis, e: &Evidence) -> String {
    Words { dump, a }.evidence(e)
}

/// One piece of a candidate holder's evidence in words.
pub fn holder_evidence(dump: &Dump, lock: &Lock, h: &HolderEvidence) -> String {
    let text = holder_why(dump, lock, &h.why);
    match h.shared_with {
        0 => text,
        n => format!("{text} (as do {n} other goroutines: weak)"),
    }
}

/// Why a goroutine may hold `lock`, in words.
fn holder_why(dump: &Dump, lock: &Lock, why: &HolderWhy) -> String {
    let func = |f: &FrameRef| frame_function(dump, f);
    match why {
        HolderWhy::GotIn { frame, lock_line } => got_in(dump, frame, *lock_line),
        HolderWhy::Address {
            frame,
            word,
            anchor,
        } => holds_address(dump, lock, frame, *word, anchor),
        HolderWhy::SameType { frame } => format!(
            "likely: its frame {} is a method of the same type as the lock's callers",
            func(frame)
        ),
        HolderWhy::Blocked { kind } => format!("it is itself blocked ({})", kind.as_str()),
        HolderWhy::Unique => "its stack is unique while the waiters share theirs".to_string(),
        HolderWhy::Longer {
            minutes,
            waiters_minutes,
        } => format!(
            "blocked for {}, at least as long as the waiters ({waiters_minutes})",
            self::minutes(*minutes)
        ),
        HolderWhy::ReentrantRead {
            lock_frame,
            caller,
            object,
        } => reentrant_read(dump, lock_frame, caller, *object),
        HolderWhy::Reentered {
            addr,
            caller,
            object,
        } => {
            let lock = match addr {
                Some(a) => format!("the mutex {a:#x}"),
                None => format!("a lock it asks for with {object:#x}"),
            };
            format!(
                "likely re-entered: it waits for {lock} while its own caller {} works on {object:#x}, which ties the lock to its holder; no goroutine outside the queue is tied to it, and nothing that could release it is running",
                func(caller)
            )
        }
    }
}

/// The function of the frame `f` points to.
fn frame_function<'d>(dump: &Dump<'d>, f: &FrameRef) -> crate::model::FuncName<'d> {
    dump.goroutines[f.goroutine].frames[f.frame].function
}

/// `HolderWhy::GotIn`: its `frame` is past the lock call at `lock_line`.
fn got_in(dump: &Dump, frame: &FrameRef, lock_line: u32) -> String {
    let f = &dump.goroutines[frame.goroutine].frames[frame.frame];
    format!(
        "its frame {} ({}:{}) is past the lock call at line {lock_line}: it got in",
        f.function,
        short_file(f.file),
        f.line
    )
}

/// `HolderWhy::Address`: its `frame` prints `word`, the `anchor`'s address or one
/// below it.
fn holds_address(dump: &Dump, lock: &Lock, frame: &FrameRef, word: u64, anchor: &Anchor) -> String {
    let from = anchor_from(dump, lock, &anchor.from);
    let f = frame_function(dump, frame);
    if word == anchor.addr {
        format!("its frame {f} has {word:#x} in its arguments, {from}")
    } else {
        format!(
            "its frame {f} works on {word:#x}; {from} ({:#x}) lies {} bytes into it",
            anchor.addr,
            anchor.addr - word
        )
    }
}

/// Where an anchor's address comes from, in words.
fn anchor_from(dump: &Dump, lock: &Lock, from: &AnchorFrom) -> String {
    let func = |f: &FrameRef| frame_function(dump, f);
    match from {
        AnchorFrom::Primitive => format!("the {} itself", lock.primitive),
        AnchorFrom::FieldOf {
            frame: f,
            offset,
            agree,
        } => format!(
            "the object the waiters' {} passes, with the lock {offset} bytes into it \
             (the same offset at {})",
            func(f),
            super::text::plural(*agree as u64, "waiter", "waiters")
        ),
        AnchorFrom::SharedArgument {
            frame: f,
            waiters: 1,
        } => {
            format!("a word its only waiter passes to {}", func(f))
        }
        AnchorFrom::SharedArgument { frame: f, waiters } => format!(
            "the word all {waiters} waiters pass to {}, and no other lock's waiters",
            func(f)
        ),
    }
}

/// `HolderWhy::ReentrantRead`: it waits for a read lock in `lock_frame` while its
/// `caller` works on the same `object` (or is a method of the same type).
fn reentrant_read(
    dump: &Dump,
    lock_frame: &FrameRef,
    caller: &FrameRef,
    object: Option<u64>,
) -> String {
    let (waits, calls) = (
        frame_function(dump, lock_frame),
        frame_function(dump, caller),
    );
    match object {
        Some(r) => format!(
            "likely re-entrant read lock: it waits for a read lock in {waits} while its caller {calls} works on the same object {r:#x}, and a writer is queued"
        ),
        None => format!(
            "likely re-entrant read lock: it waits for a read lock in {waits} while its caller {calls} is a method of the same type, and a writer is queued"
        ),
    }
}

struct Words<'x, 'd> {
    dump: &'x Dump<'d>,
    a: &'x Analysis,
}

impl Words<'_, '_> {
    /// "record" for aggregated profiles, whose ids are record indexes.
    fn gw(&self) -> &'static str {
        if self.dump.format == Format::Profile {
            "record"
        } else {
            "goroutine"
        }
    }

    fn id(&self, i: usize) -> u64 {
        display_id(self.dump, i)
    }

    /// `goroutine 7` or `goroutines 7, 9`.
    fn goroutines_named(&self, gs: &[usize]) -> String {
        match gs {
            [one] => format!("goroutine {}", self.id(*one)),
            _ => format!("goroutines {}", self.ids(gs)),
        }
    }

    /// Ids, sorted, joined by ", ".
    fn ids(&self, gs: &[usize]) -> String {
        let mut v: Vec<u64> = gs.iter().map(|&g| self.id(g)).collect();
        v.sort_unstable();
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    }

    fn lock(&self, li: usize) -> String {
        lock_name(&self.a.locks[li])
    }

    fn wait(&self, g: usize) -> String {
        describe_wait(self.dump, &self.a.blocked, g)
    }

    /// Where a goroutine asks for what it waits on.
    fn waiter_site(&self, i: usize) -> String {
        let g = &self.dump.goroutines[i];
        let b = &self.a.blocked[i];
        match b.lock_frame().or(b.site()) {
            Some(f) if f < g.frames.len() => frame_label(g, f),
            _ => "?".to_string(),
        }
    }

    /// Where goroutine `i` blocks: its first frame outside the runtime, sync and
    /// internal packages (for a channel wait, the frame with the operation).
    fn blocked_site(&self, i: usize) -> String {
        let g = &self.dump.goroutines[i];
        match self.a.blocked[i].site() {
            Some(f) if f < g.frames.len() => frame_label(g, f),
            _ => "?".to_string(),
        }
    }

    fn frame(&self, at: Option<FrameRef>) -> String {
        at.map(|f| frame_label(&self.dump.goroutines[f.goroutine], f.frame))
            .unwrap_or_else(|| "?".to_string())
    }

    /// A candidate's evidence, joined.
    fn candidate(&self, lock: usize, g: usize) -> Option<String> {
        let l = &self.a.locks[lock];
        let c = l.holders.iter().find(|c| c.goroutine == g)?;
        let parts: Vec<String> = c
            .evidence
            .iter()
            .map(|e| holder_evidence(self.dump, l, e))
            .collect();
        Some(parts.join("; "))
    }

    /// A headline in words: one sentence per kind, the longer ones by their own methods.
    fn headline(&self, h: &Headline) -> String {
        match h {
            Headline::HoldsInCycle {
                holder,
                lock,
                on_itself,
            } => self.holds_in_cycle(*holder, *lock, *on_itself),
            Headline::AlikeLocksCycle {
                members,
                locks,
                lock,
            } => self.alike_locks_cycle(members, *locks, *lock),
            Headline::WaitGroupCycle { waiter, children } => {
                self.wait_group_cycle(*waiter, *children)
            }
            Headline::EachOther { members } => {
                format!("goroutines {} wait on each other", self.ids(members))
            }
            Headline::HoldsBlockedOnLock { holder, lock } => {
                self.holds_blocked_on_lock(*holder, *lock)
            }
            Headline::HoldsWhileBlocked {
                holder,
                lock,
                in_cycle,
                queue,
            } => self.holds_while_blocked(*holder, *lock, *in_cycle, *queue),
            Headline::HoldsAndIs {
                holder,
                lock,
                queue,
            } => self.holds_and_is(*holder, *lock, *queue),
            Headline::AmbiguousHolders {
                queue,
                lock,
                candidates,
            } => self.ambiguous_holders(*queue, *lock, candidates),
            Headline::EveryHolderBlocked { queue, lock } => {
                self.every_holder_blocked(*queue, *lock)
            }
            Headline::NothingRunning {
                queue,
                lock,
                possibly,
            } => self.nothing_running(*queue, *lock, *possibly),
            Headline::WaitedLong {
                queue,
                lock,
                minutes,
            } => self.waited_long(*queue, *lock, *minutes),
            Headline::Waiting { queue, lock } => self.waiting(*queue, *lock),
            Headline::Leaked { count, kind, at } => self.leaked(*count, *kind, *at),
            Headline::NobodyCanWake { goroutines } => self.nobody_can_wake_headline(goroutines),
            Headline::AllAsleep => "the Go runtime itself found every goroutine asleep".to_string(),
            Headline::LeakInProgress(l) => Self::leak_in_progress(&l.state, &l.site, &l.counts),
            Headline::TestHang {
                goroutines,
                holders,
            } => self.test_hang(*goroutines, holders),
        }
    }

    /// `Headline::HoldsInCycle`: the holder of `lock` waits in a cycle.
    fn holds_in_cycle(&self, holder: usize, lock: usize, on_itself: bool) -> String {
        format!(
            "{} {} holds {} and waits in a cycle{}",
            self.gw(),
            self.id(holder),
            self.lock(lock),
            if on_itself { " on itself" } else { "" }
        )
    }

    /// `Headline::AlikeLocksCycle`: `members` hold `locks` locks alike and wait for
    /// one another's.
    fn alike_locks_cycle(&self, members: &[usize], locks: usize, lock: usize) -> String {
        format!(
            "goroutines {} each hold one of {locks} locks alike ({}) and wait in a cycle for another",
            self.ids(members),
            self.a.locks[lock].primitive
        )
    }

    /// `Headline::WaitGroupCycle`: `waiter` waits on a WaitGroup for the `children`
    /// it started, which wait on it.
    fn wait_group_cycle(&self, waiter: usize, children: usize) -> String {
        format!(
            "{} {} waits on a WaitGroup for {} it started, which {} on it",
            self.gw(),
            self.id(waiter),
            goroutines(children as u64),
            verb(children as u64, "waits", "wait")
        )
    }

    /// `Headline::HoldsBlockedOnLock`: the holder of `lock` is blocked on a lock too.
    fn holds_blocked_on_lock(&self, holder: usize, lock: usize) -> String {
        format!(
            "{} {} likely holds {} and is itself blocked on a lock; nothing that could release either is running",
            self.gw(),
            self.id(holder),
            self.lock(lock)
        )
    }

    /// `Headline::HoldsWhileBlocked`: the holder of `lock` is blocked (in a cycle or
    /// outside the lock) with `queue` goroutines behind it.
    fn holds_while_blocked(
        &self,
        holder: usize,
        lock: usize,
        in_cycle: bool,
        queue: usize,
    ) -> String {
        format!(
            "{} {} likely holds {} while blocked{}: {}; {} behind it",
            self.gw(),
            self.id(holder),
            self.lock(lock),
            if in_cycle {
                " in a deadlock cycle"
            } else {
                " outside the lock"
            },
            self.wait(holder),
            queue_of(queue as u64, "queues", "queue")
        )
    }

    /// `Headline::HoldsAndIs`: the holder of `lock` and what it is doing, with
    /// `queue` waiting.
    fn holds_and_is(&self, holder: usize, lock: usize, queue: usize) -> String {
        format!(
            "{} {} likely holds {} and is {}; {}",
            self.gw(),
            self.id(holder),
            self.lock(lock),
            self.a.blocked[holder].kind.as_str(),
            queue_of(queue as u64, "waits", "wait")
        )
    }

    /// `Headline::AmbiguousHolders`: `lock` is held by one of `candidates`, on equal
    /// evidence.
    fn ambiguous_holders(&self, queue: usize, lock: usize, candidates: &[usize]) -> String {
        format!(
            "{} on {}, held by one of {}s {} (ambiguous: they stand on equal evidence), each itself blocked",
            queue_of(queue as u64, "queues", "queue"),
            self.lock(lock),
            self.gw(),
            candidates
                .iter()
                .map(|&g| self.id(g).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// `Headline::NothingRunning`: `queue` wait on `lock` and nothing that could hold
    /// it runs (`possibly`: the likeliest holder).
    fn nothing_running(&self, queue: usize, lock: usize, possibly: Option<usize>) -> String {
        format!(
            "{} on {} and no goroutine that could hold it is running; holder not identified{}",
            queue_of(queue as u64, "queues", "queue"),
            self.lock(lock),
            match possibly {
                Some(c) => format!(" (possibly {} {})", self.gw(), self.id(c)),
                None => String::new(),
            }
        )
    }

    /// `Headline::EveryHolderBlocked`: `queue` wait on `lock`, and all that could hold
    /// it are blocked on locks.
    fn every_holder_blocked(&self, queue: usize, lock: usize) -> String {
        format!(
            "{} on {}; every goroutine that could hold it is itself blocked on a lock",
            queue_of(queue as u64, "waits", "wait"),
            self.lock(lock)
        )
    }

    /// `Headline::Waiting`: `queue` wait on `lock`, holder unknown.
    fn waiting(&self, queue: usize, lock: usize) -> String {
        format!(
            "{} on {}; holder not identified",
            queue_of(queue as u64, "waits", "wait"),
            self.lock(lock)
        )
    }

    /// `Headline::Leaked`: `count` goroutines leaked on a `kind` wait, `at` a frame.
    fn leaked(&self, count: u64, kind: WaitKind, at: Option<FrameRef>) -> String {
        format!(
            "{} leaked on {} at {}",
            goroutines(count),
            kind.as_str(),
            self.frame(at)
        )
    }

    /// `Headline::LeakInProgress`: goroutines blocked in `state` at `site` grow.
    fn leak_in_progress(state: &str, site: &str, counts: &[u64]) -> String {
        format!(
            "likely a leak in progress: goroutines blocked in {state} at {site} grow ({})",
            counts_line(counts)
        )
    }

    /// `Headline::WaitedLong`: `queue` waited `minutes` or more on `lock`.
    fn waited_long(&self, queue: usize, lock: usize, minutes: u32) -> String {
        format!(
            "{} waited {} or more on {}; holder not identified",
            queue_of(queue as u64, "has", "have"),
            self::minutes(minutes),
            self.lock(lock)
        )
    }

    /// `Headline::NobodyCanWake`: one goroutine (and how it is blocked), or how many.
    fn nobody_can_wake_headline(&self, gs: &[usize]) -> String {
        match gs {
            [one] => format!(
                "goroutine {} is blocked ({}) and nothing in the dump can wake it",
                self.id(*one),
                self.a.blocked[*one].kind.as_str()
            ),
            _ => format!(
                "{} goroutines are blocked and nothing in the dump can wake them",
                gs.len()
            ),
        }
    }

    /// `Headline::TestHang`: the test hung with `goroutines` blocked in its own code,
    /// waiting on locks `holders` hold.
    fn test_hang(&self, goroutines: usize, holders: &[usize]) -> String {
        let gw = self.gw();
        let held = match holders {
            [] => String::new(),
            [h] => format!(", waiting on a lock {gw} {} holds", self.id(*h)),
            hs => format!(", waiting on locks {gw}s {} hold", self.ids(hs)),
        };
        format!(
            "the test timed out: it hung, with {goroutines} goroutine{} blocked in the program's own code{held}",
            if goroutines == 1 { "" } else { "s" }
        )
    }

    /// A piece of evidence in words: one sentence per kind, the longer ones by their own
    /// methods.
    fn evidence(&self, e: &Evidence) -> String {
        match e {
            Evidence::RuntimeAllAsleep => RUNTIME_ALL_ASLEEP.to_string(),
            Evidence::Preamble => {
                format!("the dump starts with `{}`", self.dump.preamble.join(" / "))
            }
            Evidence::NobodyCanWake(w) => self.nobody_can_wake(
                w.stuck,
                &w.triggers,
                &w.ending,
                w.background,
                w.timers_hidden,
            ),
            Evidence::SameWait { goroutines } => self.same_wait(goroutines),
            Evidence::Reentry { goroutine } => self.reentry(*goroutine),
            Evidence::Cycle { members } => {
                format!("waits-for cycle between goroutines {}", self.ids(members))
            }
            Evidence::HeldLock {
                waiter,
                lock,
                holder,
            } => self.held_lock(*waiter, *lock, *holder),
            Evidence::PendingWriter {
                reader,
                lock,
                writer,
            } => self.pending_writer(*reader, *lock, *writer),
            Evidence::ChannelParent { child, parent } => self.channel_parent(*child, *parent),
            Evidence::ChannelChild { waiter, child } => self.channel_child(*waiter, *child),
            Evidence::WaitGroupChild { waiter, child } => self.wait_group_child(*waiter, *child),
            Evidence::WaitGroupMember {
                waiter,
                member,
                addr,
            } => self.wait_group_member(*waiter, *member, *addr),
            Evidence::ChannelPeer { holder, peer, addr } => {
                self.channel_peer(*holder, *peer, *addr)
            }
            Evidence::Queue { waiters, lock } => self.queue(*waiters, *lock),
            Evidence::LongestWait { minutes } => {
                format!("the longest has waited {}", self::minutes(*minutes))
            }
            Evidence::Candidate { lock, goroutine } => self.candidate_evidence(*lock, *goroutine),
            Evidence::Quiet { scope } => Self::quiet(*scope),
            Evidence::AllStuck { goroutines, scope } => Self::all_stuck(*goroutines, *scope),
            Evidence::LeakMarked => LEAK_MARKED.to_string(),
            Evidence::HolderWaitHidden => HOLDER_WAIT_HIDDEN.to_string(),
            Evidence::NilChannel => "an operation on a nil channel blocks forever".to_string(),
            Evidence::SelectForever => "`select {}` blocks forever".to_string(),
            Evidence::OrphanedSend { goroutine } => self.orphaned_send(*goroutine),
            Evidence::UnreachableSend { goroutine, parent } => {
                self.unreachable_send(*goroutine, *parent)
            }
            Evidence::LongSend { minutes } => {
                format!(
                    "likely: blocked sending for {} or more",
                    self::minutes(*minutes)
                )
            }
            Evidence::SharedStack { count, at } => self.shared_stack(*count, *at),
            Evidence::BlockedFor { minutes } => {
                format!("blocked for up to {}", self::minutes(*minutes))
            }
            Evidence::TestTimedOut => self.test_timed_out(),
            Evidence::MovedBetweenSnapshots { goroutines } => self.moved(goroutines),
            Evidence::AllMoved => ALL_MOVED.to_string(),
            Evidence::QueueSeenStuck { watched } => Self::queue_seen_stuck(*watched),
            Evidence::SeenStuck {
                goroutines,
                watched,
            } => self.seen_stuck(goroutines, **watched),
            Evidence::Grew { counts, per_minute } => Self::grew(counts, *per_minute),
            Evidence::OldStillStuck { watched } => Self::old_still_stuck(*watched),
            Evidence::CreatedBy { goroutine } => self.created_by(*goroutine),
        }
    }

    /// `Evidence::SharedStack`: how many share this stack, and where it blocks.
    fn shared_stack(&self, count: u64, at: Option<FrameRef>) -> String {
        format!(
            "{} this stack, blocked at {}",
            queue_of(count, "has", "share"),
            self.frame(at)
        )
    }

    /// `Evidence::MovedBetweenSnapshots`: `goroutines` moved, so this is no deadlock.
    fn moved(&self, goroutines: &[usize]) -> String {
        format!(
            "{} moved between the snapshots: a deadlocked goroutine cannot, so this is no deadlock",
            self.goroutines_named(goroutines)
        )
    }

    /// `Evidence::QueueSeenStuck`: the holder and its waiters did not move while `watched`.
    fn queue_seen_stuck(watched: Watched) -> String {
        format!(
            "the holder and every waiter were seen stuck, same wait and same frames, {}: the queue did not move",
            over(watched)
        )
    }

    /// `Evidence::OldStillStuck`: those of the first snapshot are still stuck.
    fn old_still_stuck(watched: Watched) -> String {
        format!(
            "those already there in the first snapshot are still stuck {}",
            over(watched)
        )
    }

    /// `Evidence::SameWait`: the first 8 of `goroutines`, and what they wait on.
    fn same_wait(&self, goroutines: &[usize]) -> String {
        let list: Vec<String> = goroutines
            .iter()
            .take(8)
            .map(|&g| self.id(g).to_string())
            .collect();
        let more = if goroutines.len() > 8 { ", …" } else { "" };
        format!(
            "goroutine {}{more} waits: {}",
            list.join(", "),
            self.wait(goroutines[0])
        )
    }

    /// `Evidence::Reentry`: `goroutine` waits on a lock it likely holds.
    fn reentry(&self, goroutine: usize) -> String {
        format!(
            "{} {} waits on a lock it likely holds itself (re-entered)",
            self.gw(),
            self.id(goroutine)
        )
    }

    /// `Evidence::HeldLock`: `waiter` waits on `lock`, which `holder` likely holds (and why).
    fn held_lock(&self, waiter: usize, lock: usize, holder: usize) -> String {
        let gw = self.gw();
        format!(
            "{gw} {} waits on {} at {}; {gw} {} likely holds it: {}",
            self.id(waiter),
            self.lock(lock),
            self.waiter_site(waiter),
            self.id(holder),
            self.candidate(lock, holder).unwrap_or_default()
        )
    }

    /// How many edges at the head of `run` say the same but for one goroutine:
    /// `HeldLock`s of one lock and holder whose waiters ask at one site, or
    /// `WaitGroupMember`s of one waiter and WaitGroup whose members wait alike.
    /// At least 1.
    fn alike_edges(&self, run: &[Evidence]) -> usize {
        let key = |e: &Evidence| match *e {
            Evidence::HeldLock {
                waiter,
                lock,
                holder,
            } => Some((0, lock, holder, self.waiter_site(waiter))),
            Evidence::WaitGroupMember {
                waiter,
                member,
                addr,
            } => Some((1, waiter, addr as usize, self.wait(member))),
            _ => None,
        };
        let Some(first) = key(&run[0]) else {
            return 1;
        };
        1 + run[1..]
            .iter()
            .take_while(|e| key(e).as_ref() == Some(&first))
            .count()
    }

    /// Two or more edges alike (`alike_edges`), said once.
    fn edges(&self, run: &[Evidence]) -> String {
        let named = |f: fn(&Evidence) -> usize| {
            let gs: Vec<usize> = run.iter().map(f).collect();
            format!("{}s {}", self.gw(), self.ids(&gs))
        };
        match run[0] {
            Evidence::HeldLock {
                waiter,
                lock,
                holder,
            } => format!(
                "{} wait on {} at {}; {} {} likely holds it: {}",
                named(|e| match e {
                    Evidence::HeldLock { waiter, .. } => *waiter,
                    _ => unreachable!("alike_edges keeps one kind"),
                }),
                self.lock(lock),
                self.waiter_site(waiter),
                self.gw(),
                self.id(holder),
                self.candidate(lock, holder).unwrap_or_default()
            ),
            Evidence::WaitGroupMember {
                waiter,
                member,
                addr,
            } => format!(
                "{} {} waits on the WaitGroup {addr:#x} at {}; {} print that address where they ask for their locks and are blocked ({}), so they have likely not called Done",
                self.gw(),
                self.id(waiter),
                self.waiter_site(waiter),
                named(|e| match e {
                    Evidence::WaitGroupMember { member, .. } => *member,
                    _ => unreachable!("alike_edges keeps one kind"),
                }),
                self.a.blocked[member].kind.as_str()
            ),
            ref e => self.evidence(e),
        }
    }

    /// `Evidence::PendingWriter`: `reader` waits for a read lock behind the queued `writer`.
    fn pending_writer(&self, reader: usize, lock: usize, writer: usize) -> String {
        let gw = self.gw();
        format!(
            "{gw} {} waits for a read lock on {} at {}; {gw} {} is a writer queued on it, and Go admits no new reader while a writer waits",
            self.id(reader),
            self.lock(lock),
            self.waiter_site(reader),
            self.id(writer)
        )
    }

    /// `Evidence::ChannelParent`: `child` is blocked on a channel while its `parent`
    /// waits on a WaitGroup.
    fn channel_parent(&self, child: usize, parent: usize) -> String {
        format!(
            "likely: {} {} is blocked on a channel at {}; the goroutine that started it, {}, waits on a WaitGroup instead of being its counterpart",
            self.gw(),
            self.id(child),
            self.waiter_site(child),
            self.id(parent)
        )
    }

    /// `Evidence::ChannelChild`: `waiter` waits on a channel that its blocked `child`
    /// cannot send on.
    fn channel_child(&self, waiter: usize, child: usize) -> String {
        let gw = self.gw();
        format!(
            "likely: {gw} {} waits on a channel at {}; {gw} {}, which it started, is blocked ({}) and cannot send",
            self.id(waiter),
            self.waiter_site(waiter),
            self.id(child),
            self.a.blocked[child].kind.as_str()
        )
    }

    /// `Evidence::WaitGroupChild`: `waiter` waits on a WaitGroup for its unfinished `child`.
    fn wait_group_child(&self, waiter: usize, child: usize) -> String {
        let gw = self.gw();
        format!(
            "{gw} {} waits on a WaitGroup at {}; {gw} {} is a goroutine it started and has not finished",
            self.id(waiter),
            self.waiter_site(waiter),
            self.id(child)
        )
    }

    /// `Evidence::WaitGroupMember`: `waiter` waits on the WaitGroup at `addr`, which
    /// `member`, blocked, prints.
    fn wait_group_member(&self, waiter: usize, member: usize, addr: u64) -> String {
        let gw = self.gw();
        format!(
            "{gw} {} waits on the WaitGroup {addr:#x} at {}; {gw} {} prints that address where it asks for its lock and is blocked ({}), so it has likely not called Done",
            self.id(waiter),
            self.waiter_site(waiter),
            self.id(member),
            self.a.blocked[member].kind.as_str()
        )
    }

    /// `Evidence::ChannelPeer`: `holder` waits on a channel; `peer`, queued on its
    /// lock, alone prints `addr` with it.
    fn channel_peer(&self, holder: usize, peer: usize, addr: u64) -> String {
        let gw = self.gw();
        format!(
            "likely: {gw} {} waits on a channel ({}) at {}; {gw} {}, queued on the lock it holds, is the only other goroutine that prints {addr:#x}, where it asks for the lock, so it is likely the counterpart that cannot come",
            self.id(holder),
            self.a.blocked[holder].kind.as_str(),
            self.blocked_site(holder),
            self.id(peer)
        )
    }

    /// `Evidence::Queue`: how many wait on `lock`, where, and how it was identified.
    fn queue(&self, waiters: u64, lock: usize) -> String {
        let l = &self.a.locks[lock];
        format!(
            "{} on {} at {} ({})",
            queue_of(waiters, "waits", "wait"),
            lock_name(l),
            l.site,
            rule(l.rule)
        )
    }

    /// `Evidence::Candidate`: `goroutine` as a likely or possible holder of `lock`,
    /// its score, and why.
    fn candidate_evidence(&self, lock: usize, goroutine: usize) -> String {
        let c = self.a.locks[lock]
            .holders
            .iter()
            .find(|c| c.goroutine == goroutine);
        format!(
            "{} {} is a {} holder (score {:.2}): {}",
            self.gw(),
            self.id(goroutine),
            if c.is_some_and(|c| c.strong) {
                "likely"
            } else {
                "possible"
            },
            c.map_or(0.0, |c| c.score),
            self.candidate(lock, goroutine).unwrap_or_default()
        )
    }

    /// `Evidence::Quiet`: nothing that could release the lock is running.
    fn quiet(scope: Scope) -> String {
        match scope {
            Scope::Program => "no goroutine running the program's own code (not the standard library's) is on a CPU, runnable or in a syscall".to_string(),
            Scope::Anyone => "no goroutine is on a CPU, runnable or in a syscall (the lock is taken inside the standard library: any goroutine could release it)".to_string(),
        }
    }

    /// `Evidence::AllStuck`: every goroutine that could release the lock is blocked.
    fn all_stuck(goroutines: usize, scope: Scope) -> String {
        let who = match scope {
            Scope::Program => " running the program's own code (not the standard library's)",
            Scope::Anyone => "",
        };
        let taken = match scope {
            Scope::Program => "",
            Scope::Anyone => " (it is taken inside the standard library)",
        };
        format!(
            "likely deadlock: all {goroutines} goroutines{who} are blocked on locks or WaitGroups or parked for good, so none of them can release it{taken}"
        )
    }

    /// The function that created `goroutine` (empty when none is printed).
    fn creator(&self, goroutine: usize) -> &str {
        self.dump.goroutines[goroutine]
            .created_by()
            .map(|c| c.function.full())
            .unwrap_or("")
    }

    /// `Evidence::OrphanedSend`: `goroutine` sends in a closure of a function that returned.
    fn orphaned_send(&self, goroutine: usize) -> String {
        format!(
            "likely: blocked sending in a closure of {}, which has returned (it is on no goroutine's stack) and started nothing still at work: the channel they shared is likely out of everyone's reach",
            self.creator(goroutine)
        )
    }

    /// `Evidence::UnreachableSend`: `goroutine` sends, and its `parent` has exited.
    fn unreachable_send(&self, goroutine: usize, parent: u64) -> String {
        format!(
            "likely: blocked sending; goroutine {parent}, which started it in {}, has exited, it started nothing still here, and no other goroutine's frames print a word its frames print: what it sends through is likely out of everyone's reach",
            self.creator(goroutine)
        )
    }

    /// `Evidence::TestTimedOut`: the test binary's panic line.
    fn test_timed_out(&self) -> String {
        format!(
            "the test binary ended with `{}`: a test ran past -test.timeout, so the program hung, whatever else is found",
            self.dump
                .preamble
                .first()
                .map(|l| l.trim())
                .unwrap_or("panic: test timed out")
        )
    }

    /// `Evidence::SeenStuck`: `goroutines` seen stuck over what was `watched`.
    fn seen_stuck(&self, goroutines: &[usize], watched: Watched) -> String {
        format!(
            "{} seen stuck, same wait and same frames, {}",
            match goroutines {
                [one] => format!("goroutine {} was", self.id(*one)),
                gs => format!("all {} goroutines it names were", gs.len()),
            },
            over(watched)
        )
    }

    /// `Evidence::Grew`: the stack's counts over the snapshots, and the rate.
    fn grew(counts: &[u64], per_minute: Option<f64>) -> String {
        format!(
            "their stack grew over the snapshots: {}{}",
            counts_line(counts),
            per_minute
                .map(|r| format!(", {r:.1} a minute"))
                .unwrap_or_default()
        )
    }

    /// `Evidence::CreatedBy`: the creator of `goroutine`, and where.
    fn created_by(&self, goroutine: usize) -> String {
        match self.dump.goroutines[goroutine].created_by() {
            Some(c) => format!(
                "created by {} ({}:{})",
                c.function,
                short_file(c.file),
                c.line
            ),
            None => "created by ?".to_string(),
        }
    }

    fn nobody_can_wake(
        &self,
        stuck: usize,
        triggers: &[usize],
        ending: &[usize],
        background: usize,
        timers_hidden: bool,
    ) -> String {
        let ids = |ends: bool| -> Vec<String> {
            triggers
                .iter()
                .filter(|t| ending.contains(t) == ends)
                .map(|&t| self.id(t).to_string())
                .collect()
        };
        let mut others = Vec::new();
        for (ends, what) in [
            (false, "which only prints"),
            (true, "which panicked or threw: the process ends"),
        ] {
            let ids = ids(ends);
            if !ids.is_empty() {
                others.push(format!(
                    "the dump's own trigger (goroutine {}, {what})",
                    ids.join(", ")
                ));
            }
        }
        if background > 0 {
            others.push(format!("{background} of the runtime's own"));
        }
        let others = if others.is_empty() {
            String::new()
        } else {
            format!("; the only others are {}", others.join(" and "))
        };
        let caveat = if timers_hidden {
            "; likely, as a pending timer (`time.After`, `time.AfterFunc`) does not show in a dump"
        } else {
            ""
        };
        // The stuck set is every goroutine nothing can wake, which may be more than
        // the finding names (a test runner waiting on the goroutine that is stuck).
        let these = match stuck {
            1 => "the one blocked goroutine".to_string(),
            n => format!("any of the {n} blocked goroutines"),
        };
        format!(
            "nothing in the dump can wake {these}: none is running, runnable, in a syscall, asleep, in IO wait or in select{others}{caveat}"
        )
    }
}

/// What the text report leaves out of `rest` past the first `shown`, and how to see it.
pub fn not_shown(rest: &[&Finding], shown: usize) -> Option<String> {
    let hidden = rest.len().checked_sub(shown).filter(|&n| n > 0)?;
    let informational = rest.iter().filter(|f| !f.counts()).count().min(hidden);
    let counting = hidden - informational;
    let mut parts = Vec::new();
    if counting > 0 {
        parts.push(format!(
            "{counting} that count{}",
            if counting == 1 { "s" } else { "" }
        ));
    }
    if informational > 0 {
        parts.push(format!(
            "{informational} informational (confidence below {:.2}: {} never set{} the verdict or fail{} --fail-on)",
            crate::analyze::VERDICT_THRESHOLD,
            if informational == 1 { "it" } else { "they" },
            if informational == 1 { "s" } else { "" },
            if informational == 1 { "s" } else { "" },
        ));
    }
    Some(format!(
        "… {hidden} more finding{} not shown: {}; --all shows every finding",
        if hidden == 1 { "" } else { "s" },
        parts.join(" and ")
    ))
}

/// Whether the findings of one analysis fail `--fail-on` (`worst`: the least
/// severe kind that fails; None: never), and why, in one line.
pub fn fail_on_line(worst: Option<FindingKind>, a: &Analysis) -> String {
    let threshold = crate::analyze::VERDICT_THRESHOLD;
    let Some(worst) = worst else {
        return "--fail-on never: no finding fails".to_string();
    };
    let failing: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.counts() && f.kind <= worst)
        .collect();
    let below = a.findings.iter().filter(|f| !f.counts()).count();
    let below = match below {
        0 => String::new(),
        1 => "; 1 informational finding below that never counts".to_string(),
        n => format!("; {n} informational findings below that never count"),
    };
    let what = worst.as_str();
    match failing.as_slice() {
        [] => format!(
            "--fail-on {what}: passes (no {what} or worse with confidence ≥ {threshold:.2}{below})"
        ),
        fs => {
            let mut kinds: Vec<&str> = fs.iter().map(|f| f.kind.as_str()).collect();
            kinds.dedup();
            format!(
                "--fail-on {what}: fails (exit 1) on {} finding{} with confidence ≥ {threshold:.2} ({}{below})",
                fs.len(),
                if fs.len() == 1 { "" } else { "s" },
                kinds.join(", ")
            )
        }
    }
}

/// `in all 3 snapshots over 6 s`.
pub fn over(w: Watched) -> String {
    match w.seconds {
        Some(s) => format!("in all {} snapshots over {}", w.snapshots, seconds(s)),
        None => format!("in all {} snapshots", w.snapshots),
    }
}

/// `12 s`, `2 min 5 s`.
pub fn seconds(s: f64) -> String {
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{} s", (s * 10.0).round() / 10.0)
    } else {
        let m = (s / 60.0).floor();
        format!("{m} min {} s", (s - m * 60.0).round())
    }
}

/// `3 → 5 → 9`.
pub fn counts_line(counts: &[u64]) -> String {
    counts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// `1 goroutine`, `3 goroutines`.
pub fn goroutines(n: u64) -> String {
    super::text::plural(n, "goroutine", "goroutines")
}

/// `1 minute`, `5 minutes`.
pub fn minutes(m: u32) -> String {
    match m {
        1 => "1 minute".to_string(),
        m => format!("{m} minutes"),
    }
}

/// The verb for `n` goroutines: `one` for a single one, `many` otherwise.
fn verb(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `1 goroutine queues`, `3 goroutines queue`.
fn queue_of(n: u64, one: &'static str, many: &'static str) -> String {
    format!("{} {}", goroutines(n), verb(n, one, many))
}

/// `Note::Crashed` in a clause: the runtime's line, and who threw or panicked.
pub fn crashed(message: &str, goroutine: Option<u64>) -> String {
    let who = goroutine
        .map(|g| format!(" in goroutine {g}"))
        .unwrap_or_default();
    format!("the program crashed: `{message}`{who}")
}

/// A note of the analysis, in words.
pub fn note(n: &crate::analyze::Note) -> String {
    use crate::analyze::Note;
    match n {
        Note::Aggregated => "aggregated profile (debug=1): no goroutine ids, states or arguments; ids below are record indexes, locks are told apart by call site only, and holders are ranked per record".to_string(),
        Note::DelveNoArguments => {
            "Delve listing: no argument values, so locks are told apart by call site only".to_string()
        }
        Note::CutOff { line, goroutines: n } => format!(
            "input cut off at line {line}: {} with an incomplete stack {} left out of the verdict",
            goroutines(*n as u64),
            if *n == 1 { "is" } else { "are" }
        ),
        Note::Filtered { shown, of } => {
            format!("filtered: showing {shown} of {of} groups; the verdict is for the whole dump")
        }
        Note::Crashed { message, goroutine } => format!(
            "{}; these are the stacks the runtime printed as it exited",
            crashed(message, *goroutine)
        ),
        Note::RuntimeHidden {
            goroutines: n,
            groups,
        } => format!(
            "{} of the runtime's own ({}) not listed; --runtime lists them",
            goroutines(*n),
            super::text::plural(*groups as u64, "group", "groups"),
        ),
    }
}
