//! Findings as data: what a finding states (its headline) and what it rests on (its
//! evidence), by goroutine index, frame, lock index, address and count. No words:
//! `report::words` puts them into sentences, once, for every output format.

use super::classify::WaitKind;
use super::release::Scope;

/// A frame of a goroutine: `Dump::goroutines[goroutine].frames[frame]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameRef {
    pub goroutine: usize,
    pub frame: usize,
}

/// What a finding states. Goroutines and locks are indexes into the dump's
/// goroutines and the analysis' locks.
#[derive(Debug, Clone, PartialEq)]
pub enum Headline {
    /// The holder of the cycle's main lock waits in the cycle (on itself: re-entry).
    HoldsInCycle {
        holder: usize,
        lock: usize,
        on_itself: bool,
    },
    /// A ring of goroutines, each holding one of `locks` locks alike (like `lock`).
    AlikeLocksCycle {
        members: Vec<usize>,
        locks: usize,
        lock: usize,
    },
    /// A WaitGroup waiter and the goroutines it started wait on each other.
    WaitGroupCycle { waiter: usize, children: usize },
    /// A cycle with no lock to name.
    EachOther { members: Vec<usize> },
    /// The holder is itself blocked on a lock and nothing that could release either runs.
    HoldsBlockedOnLock { holder: usize, lock: usize },
    /// The holder waits with no bound while `queue` goroutines wait behind it.
    HoldsWhileBlocked {
        holder: usize,
        lock: usize,
        in_cycle: bool,
        queue: usize,
    },
    /// The holder is doing something bounded (running, sleeping...): contention.
    HoldsAndIs {
        holder: usize,
        lock: usize,
        queue: usize,
    },
    /// The holder is one of `candidates`, which stand on equal evidence, each blocked.
    AmbiguousHolders {
        queue: usize,
        lock: usize,
        candidates: Vec<usize>,
    },
    /// Every goroutine that could hold the lock is itself blocked on a lock.
    EveryHolderBlocked { queue: usize, lock: usize },
    /// A long queue nothing running could be serving; the holder is not named.
    NothingRunning {
        queue: usize,
        lock: usize,
        possibly: Option<usize>,
    },
    /// Waiters have waited `minutes` or more; the holder is not named.
    WaitedLong {
        queue: usize,
        lock: usize,
        minutes: u32,
    },
    /// Goroutines wait on a lock; the holder is not named.
    Waiting { queue: usize, lock: usize },
    /// `count` goroutines leaked on a wait of `kind` at `at`.
    Leaked {
        count: u64,
        kind: WaitKind,
        at: Option<FrameRef>,
    },
    /// Nothing in the dump can wake these goroutines.
    NobodyCanWake { goroutines: Vec<usize> },
    /// The Go runtime found every goroutine asleep.
    AllAsleep,
    /// A test timed out: `goroutines` are blocked in the program's own code,
    /// waiting on locks `holders` hold.
    TestHang {
        goroutines: usize,
        holders: Vec<usize>,
    },
    /// Over several snapshots of one process, the goroutines blocked in `state`
    /// at `site` grew at every step (`counts`), the older ones still stuck.
    /// Boxed: a headline is kept per finding, a quarter of a million of them in
    /// a dump of many locks, each the size of the largest kind.
    LeakInProgress(Box<LeakInProgress>),
}

/// `Headline::LeakInProgress`: goroutines blocked in `state` at `site` grew at
/// every step (`counts`).
#[derive(Debug, Clone, PartialEq)]
pub struct LeakInProgress {
    pub state: String,
    pub site: String,
    pub counts: Vec<u64>,
}

/// `Evidence::NobodyCanWake`: the fixpoint's `stuck` goroutines, the `triggers`
/// (`ending` of them end the process) and the `background` runtime goroutines.
#[derive(Debug, Clone, PartialEq)]
pub struct NobodyCanWake {
    pub stuck: usize,
    pub triggers: Vec<usize>,
    pub ending: Vec<usize>,
    pub background: usize,
    pub timers_hidden: bool,
}

/// How long a series of snapshots of one process watched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Watched {
    pub snapshots: usize,
    /// From the first snapshot to the last, when their times are known.
    pub seconds: Option<f64>,
}

/// Why a goroutine is a candidate holder of a lock.
#[derive(Debug, Clone, PartialEq)]
pub enum HolderWhy {
    /// Its frame `frame` is past the call at `lock_line` that asks for the lock.
    GotIn { frame: FrameRef, lock_line: u32 },
    /// Its frame `frame` has `word` in its arguments: the anchor itself, or an
    /// object the anchor lies `anchor.addr - word` bytes into.
    Address {
        frame: FrameRef,
        word: u64,
        anchor: Anchor,
    },
    /// Its frame is a method of the same type as the lock's callers.
    SameType { frame: FrameRef },
    /// It is itself blocked.
    Blocked { kind: WaitKind },
    /// Its stack is unique while the waiters share theirs.
    Unique,
    /// Blocked for `minutes`, at least as long as the waiters (`waiters_minutes`).
    Longer { minutes: u32, waiters_minutes: u32 },
    /// Waits for a read lock at `lock_frame` while a caller works on the same
    /// object (`object`), or (None) is a method of the same type; a writer is queued.
    ReentrantRead {
        lock_frame: FrameRef,
        caller: FrameRef,
        object: Option<u64>,
    },
    /// Waits for the mutex `addr` (`None` where no address is printed: then `object`
    /// is the word it asks for the lock with) while its caller works on the object
    /// holding it.
    Reentered {
        addr: Option<u64>,
        caller: FrameRef,
        object: u64,
    },
}

impl HolderWhy {
    /// The same evidence read on another goroutine with the same frames.
    pub fn on_goroutine(self, g: usize) -> HolderWhy {
        let on = |f: FrameRef| FrameRef {
            goroutine: g,
            frame: f.frame,
        };
        match self {
            HolderWhy::GotIn { frame, lock_line } => HolderWhy::GotIn {
                frame: on(frame),
                lock_line,
            },
            HolderWhy::Address {
                frame,
                word,
                anchor,
            } => HolderWhy::Address {
                frame: on(frame),
                word,
                anchor,
            },
            HolderWhy::SameType { frame } => HolderWhy::SameType { frame: on(frame) },
            HolderWhy::ReentrantRead {
                lock_frame,
                caller,
                object,
            } => HolderWhy::ReentrantRead {
                lock_frame: on(lock_frame),
                caller: on(caller),
                object,
            },
            HolderWhy::Reentered {
                addr,
                caller,
                object,
            } => HolderWhy::Reentered {
                addr,
                caller: on(caller),
                object,
            },
            other => other,
        }
    }
}

impl HolderWhy {
    /// The rule's name, for JSON.
    pub fn rule(&self) -> &'static str {
        match self {
            HolderWhy::GotIn { .. } => "got-in",
            HolderWhy::Address { .. } => "address",
            HolderWhy::SameType { .. } => "same-type",
            HolderWhy::Blocked { .. } => "blocked",
            HolderWhy::Unique => "unique-stack",
            HolderWhy::Longer { .. } => "longer-wait",
            HolderWhy::ReentrantRead { .. } => "reentrant-read",
            HolderWhy::Reentered { .. } => "reentered",
        }
    }
}

/// One piece of holder evidence, and how many other goroutines share it (0: few
/// enough that it points at this one; more: it is weak).
#[derive(Debug, Clone, PartialEq)]
pub struct HolderEvidence {
    pub why: HolderWhy,
    pub shared_with: usize,
}

/// An address a holder's evidence is matched against.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub addr: u64,
    pub from: AnchorFrom,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnchorFrom {
    /// The lock's own printed address (of the lock's primitive).
    Primitive,
    /// The object the lock is a field of: at every waiter asking for a lock at
    /// this site, the argument at one position lies the same `offset` bytes below
    /// the lock's printed address (learned from the waiters, never by adjacency).
    FieldOf {
        frame: FrameRef,
        offset: u64,
        /// How many waiters (of this lock or others asked for at the same site)
        /// agree on the offset.
        agree: usize,
    },
    /// A word every waiter of this lock passes, at one position, to the frame
    /// asking for it, and no waiter of another lock passes there: the object the
    /// lock belongs to (a pointer field, a key), by what the queue shares.
    SharedArgument { frame: FrameRef, waiters: usize },
}

/// What a finding rests on, one rule at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// The runtime printed `fatal error: all goroutines are asleep - deadlock!`.
    RuntimeAllAsleep,
    /// The dump's preamble (the runtime's own first lines).
    Preamble,
    /// The fixpoint: nothing in the dump can wake these `stuck` goroutines; the
    /// only others are the triggers (`ending` of them end the process) and
    /// `background` runtime goroutines.
    ///
    /// Boxed, as are the other evidence too large to sit inline (`SeenStuck`'s
    /// watch, `Grew`'s counts as a slice): evidence is kept by the quarter of a
    /// million in a dump of many locks, each the size of the largest kind.
    NobodyCanWake(Box<NobodyCanWake>),
    /// These goroutines wait alike (kind, state, minutes, site): the first stands for all.
    SameWait { goroutines: Vec<usize> },
    /// A goroutine waits on a lock it likely holds itself.
    Reentry { goroutine: usize },
    /// A waits-for cycle between these goroutines.
    Cycle { members: Vec<usize> },
    /// `waiter` waits on `lock`, which `holder` likely holds (see its candidate evidence).
    HeldLock {
        waiter: usize,
        lock: usize,
        holder: usize,
    },
    /// `reader` waits for a read lock of `lock`, on which `writer` is queued.
    PendingWriter {
        reader: usize,
        lock: usize,
        writer: usize,
    },
    /// `child` blocks on a channel while `parent`, which started it, waits on a WaitGroup.
    ChannelParent { child: usize, parent: usize },
    /// `waiter` waits on a channel; `child`, which it started, is blocked.
    ChannelChild { waiter: usize, child: usize },
    /// `waiter` waits on a WaitGroup; `child`, which it started, has not finished.
    WaitGroupChild { waiter: usize, child: usize },
    /// Likely: `waiter` waits on the WaitGroup at `addr`; `member`, blocked on a
    /// lock, prints that address for sure where it asks for its lock: it has not
    /// called `Done`.
    WaitGroupMember {
        waiter: usize,
        member: usize,
        addr: u64,
    },
    /// Likely: `holder` holds a lock and waits on a channel; `peer`, queued on that
    /// lock, is the only other goroutine that prints `addr` for sure (the
    /// channel's counterpart).
    ChannelPeer {
        holder: usize,
        peer: usize,
        addr: u64,
    },
    /// `waiters` goroutines wait on `lock` (identified by its rule).
    Queue { waiters: u64, lock: usize },
    /// The longest wait printed among the waiters.
    LongestWait { minutes: u32 },
    /// `goroutine` is a candidate holder of `lock` (its evidence is the lock's).
    Candidate { lock: usize, goroutine: usize },
    /// Nothing that could release the lock (`scope`) is on a CPU, runnable or in a
    /// syscall.
    Quiet { scope: Scope },
    /// All `goroutines` that could release the lock (`scope`) are blocked on locks
    /// or WaitGroups.
    AllStuck { goroutines: usize, scope: Scope },
    /// The Go runtime marked them `(leaked)`.
    LeakMarked,
    /// debug=1 hid the holder's wait (a channel operation or a select, which may
    /// have a timeout): that it never ends is likely, not proven.
    HolderWaitHidden,
    /// An operation on a nil channel.
    NilChannel,
    /// `select {}`.
    SelectForever,
    /// Blocked sending in a closure of `goroutine`'s creator, which has returned.
    OrphanedSend { goroutine: usize },
    /// Blocked sending, started by a goroutine that has exited (`created by F in
    /// goroutine P`, P not in the dump, F on no stack), started nothing still in
    /// the dump, and no other goroutine's frames print a word its own frames
    /// print: what it sends through is likely out of everyone's reach.
    UnreachableSend { goroutine: usize, parent: u64 },
    /// Blocked sending for `minutes` or more.
    LongSend { minutes: u32 },
    /// `count` goroutines share this stack, blocked at `at`.
    SharedStack { count: u64, at: Option<FrameRef> },
    /// Blocked for up to `minutes`.
    BlockedFor { minutes: u32 },
    /// Who created `goroutine` (its `created by` line).
    CreatedBy { goroutine: usize },
    /// The test binary panicked `panic: test timed out after ...`.
    TestTimedOut,
    /// These goroutines moved between snapshots of the process: a deadlock
    /// cannot hold them.
    MovedBetweenSnapshots { goroutines: Vec<usize> },
    /// Every goroutine the finding names moved between the snapshots.
    AllMoved,
    /// The holder and every waiter were at the same frames in the same wait in
    /// every snapshot: the queue did not move.
    QueueSeenStuck { watched: Watched },
    /// These goroutines were at the same frames in the same wait in every snapshot.
    SeenStuck {
        goroutines: Vec<usize>,
        watched: Box<Watched>,
    },
    /// Their stack's count grew over the snapshots (`counts`, first to last).
    Grew {
        counts: Box<[u64]>,
        per_minute: Option<f64>,
    },
    /// Those of them already there in the first snapshot are still stuck.
    OldStillStuck { watched: Watched },
}

impl Evidence {
    /// The rule's name, for JSON and for telling items apart.
    pub fn rule(&self) -> &'static str {
        match self {
            Evidence::RuntimeAllAsleep => "runtime-all-asleep",
            Evidence::Preamble => "preamble",
            Evidence::NobodyCanWake(_) => "nobody-can-wake",
            Evidence::SameWait { .. } => "same-wait",
            Evidence::Reentry { .. } => "reentry",
            Evidence::Cycle { .. } => "cycle",
            Evidence::HeldLock { .. } => "held-lock",
            Evidence::PendingWriter { .. } => "pending-writer",
            Evidence::ChannelParent { .. } => "channel-parent",
            Evidence::ChannelChild { .. } => "channel-child",
            Evidence::WaitGroupChild { .. } => "waitgroup-child",
            Evidence::WaitGroupMember { .. } => "waitgroup-member",
            Evidence::ChannelPeer { .. } => "channel-peer",
            Evidence::Queue { .. } => "queue",
            Evidence::LongestWait { .. } => "longest-wait",
            Evidence::Candidate { .. } => "holder-candidate",
            Evidence::Quiet { .. } => "quiet",
            Evidence::AllStuck { .. } => "all-stuck",
            Evidence::LeakMarked => "leak-marked",
            Evidence::HolderWaitHidden => "holder-wait-hidden",
            Evidence::NilChannel => "nil-channel",
            Evidence::SelectForever => "select-forever",
            Evidence::OrphanedSend { .. } => "orphaned-send",
            Evidence::UnreachableSend { .. } => "unreachable-send",
            Evidence::LongSend { .. } => "long-send",
            Evidence::SharedStack { .. } => "shared-stack",
            Evidence::BlockedFor { .. } => "blocked-for",
            Evidence::CreatedBy { .. } => "created-by",
            Evidence::TestTimedOut => "test-timed-out",
            Evidence::MovedBetweenSnapshots { .. } => "moved",
            Evidence::AllMoved => "all-moved",
            Evidence::QueueSeenStuck { .. } => "queue-seen-stuck",
            Evidence::SeenStuck { .. } => "seen-stuck",
            Evidence::Grew { .. } => "grew",
            Evidence::OldStillStuck { .. } => "old-still-stuck",
        }
    }
}

impl Headline {
    /// What the finding states, for JSON.
    pub fn claim(&self) -> &'static str {
        match self {
            Headline::HoldsInCycle { .. } => "holds-in-cycle",
            Headline::AlikeLocksCycle { .. } => "alike-locks-cycle",
            Headline::WaitGroupCycle { .. } => "waitgroup-cycle",
            Headline::EachOther { .. } => "wait-on-each-other",
            Headline::HoldsBlockedOnLock { .. } => "holder-blocked-on-lock",
            Headline::HoldsWhileBlocked { .. } => "holder-blocked",
            Headline::HoldsAndIs { .. } => "holder-busy",
            Headline::AmbiguousHolders { .. } => "ambiguous-holders",
            Headline::EveryHolderBlocked { .. } => "every-holder-blocked",
            Headline::NothingRunning { .. } => "nothing-running",
            Headline::WaitedLong { .. } => "waited-long",
            Headline::Waiting { .. } => "waiting",
            Headline::Leaked { .. } => "leaked",
            Headline::NobodyCanWake { .. } => "nobody-can-wake",
            Headline::AllAsleep => "all-asleep",
            Headline::TestHang { .. } => "test-hang",
            Headline::LeakInProgress(_) => "leak-in-progress",
        }
    }
}
