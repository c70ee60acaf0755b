//! What each goroutine waits on, read from its top frames first and its state
//! second (the state alone lies: before Go 1.20 every sync wait reads `semacquire`,
//! WaitGroup waits read `semacquire` until 1.24/1.25).

use crate::model::{Dump, Format, Frame, FuncName, Goroutine, WaitReason};

/// The kind of wait, in the analysis' own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitKind {
    MutexLock,
    RWMutexRLock,
    RWMutexLock,
    CondWait,
    WaitGroupWait,
    /// `semacquire` with no frame saying which primitive.
    Semacquire,
    /// debug=1: parked at the top of a user function, on a wait the profile hides.
    Hidden,
    ChanSend,
    ChanReceive,
    /// A send or receive on a nil channel: blocks forever.
    ChanNil,
    Select,
    /// `select {}`: blocks forever, usually on purpose.
    SelectNoCases,
    IoWait,
    Sleep,
    Syscall,
    Running,
    Runnable,
    /// GC workers, finalizer, timers, scavenger...: the runtime's own idle goroutines.
    RuntimeIdle,
    /// The goroutine that was writing this very dump (`runtime/pprof.writeGoroutineStacks`).
    Profiler,
    /// Anything else (an unknown reason, Delve without a reason, debug=1 without frames).
    Other,
}

impl WaitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::MutexLock => "mutex lock",
            WaitKind::RWMutexRLock => "rwmutex read lock",
            WaitKind::RWMutexLock => "rwmutex write lock",
            WaitKind::CondWait => "cond wait",
            WaitKind::WaitGroupWait => "waitgroup wait",
            WaitKind::Semacquire => "semacquire",
            WaitKind::Hidden => "parked (wait hidden)",
            WaitKind::ChanSend => "chan send",
            WaitKind::ChanReceive => "chan receive",
            WaitKind::ChanNil => "nil chan",
            WaitKind::Select => "select",
            WaitKind::SelectNoCases => "select (no cases)",
            WaitKind::IoWait => "IO wait",
            WaitKind::Sleep => "sleep",
            WaitKind::Syscall => "syscall",
            WaitKind::Running => "running",
            WaitKind::Runnable => "runnable",
            WaitKind::RuntimeIdle => "runtime idle",
            WaitKind::Profiler => "dump writer",
            WaitKind::Other => "other",
        }
    }

    /// Waits on a lock-like primitive, whose holder can be looked for.
    pub fn is_lock(self) -> bool {
        matches!(
            self,
            WaitKind::MutexLock
                | WaitKind::RWMutexRLock
                | WaitKind::RWMutexLock
                | WaitKind::CondWait
                | WaitKind::Semacquire
                | WaitKind::Hidden
        )
    }

    pub fn is_chan(self) -> bool {
        matches!(
            self,
            WaitKind::ChanSend | WaitKind::ChanReceive | WaitKind::ChanNil | WaitKind::Select
        )
    }

    /// Waiting for a Mutex or an RWMutex, in either mode: released only by its
    /// holder's Unlock.
    pub fn is_mutex(self) -> bool {
        matches!(
            self,
            WaitKind::MutexLock | WaitKind::RWMutexLock | WaitKind::RWMutexRLock
        )
    }

    /// Not waiting at all: on a CPU or ready to run.
    pub fn is_active(self) -> bool {
        matches!(self, WaitKind::Running | WaitKind::Runnable)
    }

    /// Not part of the program's own state.
    pub fn is_background(self) -> bool {
        matches!(self, WaitKind::RuntimeIdle | WaitKind::Profiler)
    }
}

/// Which rule decided a goroutine's wait kind. Kept small: one per goroutine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindRule {
    /// It is writing the dump (`runtime/pprof.writeGoroutine*`).
    Profiler,
    /// A runtime-internal goroutine (its state or its frames say so).
    Runtime,
    /// The frame at this index (`sync.(*Mutex).lockSlow`, `runtime.chanrecv1`).
    Frame(u32),
    /// The printed state.
    State,
    /// debug=1: parked at the top of a user function, the wait's own frames hidden.
    HiddenWait,
    /// Nothing told.
    Unknown,
}

impl KindRule {
    pub fn describe(&self, g: &Goroutine) -> String {
        match self {
            KindRule::Profiler => "frame runtime/pprof.writeGoroutine*: the goroutine writing this dump".into(),
            KindRule::Runtime => format!("runtime-internal goroutine [{}]", g.state.raw),
            KindRule::Frame(i) => format!("frame {}", g.frames[*i as usize].function),
            KindRule::State => format!("state [{}]", g.state.raw),
            KindRule::HiddenWait => format!(
                "likely: debug=1 shows it parked at the top of {} (the wait's own frames are hidden)",
                g.frames[0].function
            ),
            KindRule::Unknown if g.state.raw.is_empty() => "no state or blocking frame".into(),
            KindRule::Unknown => format!("state [{}] not a wait godeadlock knows", g.state.raw),
        }
    }
}

/// A frame index kept in two bytes (one `Blocked` per goroutine, a million of them):
/// Go prints at most a hundred frames a stack, Delve what it is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ix(u16);

impl Ix {
    const NONE: Ix = Ix(u16::MAX);
    fn new(i: Option<usize>) -> Ix {
        match i {
            Some(i) if i < u16::MAX as usize => Ix(i as u16),
            _ => Ix::NONE,
        }
    }
    fn get(self) -> Option<usize> {
        (self != Ix::NONE).then_some(self.0 as usize)
    }
}

/// The primitive a goroutine is blocked in, where, and on which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub kind: WaitKind,
    /// Which rule decided `kind` (put in words by `KindRule::describe`).
    pub kind_rule: KindRule,
    /// The primitive's address, when a frame printed it without `?` (`addr`):
    /// never 0, so 8 bytes, not 16 (a `Blocked` per goroutine).
    addr: Option<std::num::NonZeroU64>,
    addr_frame: Ix,
    site: Ix,
    lock_frame: Ix,
    wrapper: Ix,
}

impl Blocked {
    /// Nothing known yet.
    fn unknown() -> Self {
        Blocked {
            kind: WaitKind::Other,
            kind_rule: KindRule::Unknown,
            addr: None,
            addr_frame: Ix::NONE,
            site: Ix::NONE,
            lock_frame: Ix::NONE,
            wrapper: Ix::NONE,
        }
    }

    /// The primitive's address, when a frame printed it without `?`.
    pub fn addr(&self) -> Option<u64> {
        self.addr.map(std::num::NonZeroU64::get)
    }

    /// The frame that printed `addr`.
    pub fn addr_frame(&self) -> Option<usize> {
        self.addr_frame.get()
    }
    /// First frame outside runtime, sync and internal packages.
    pub fn site(&self) -> Option<usize> {
        self.site.get()
    }
    /// The frame that asked for the lock: the caller of the primitive's API
    /// (`sync.(*Mutex).Lock`), or of a user-written wrapper (`Acquire`).
    pub fn lock_frame(&self) -> Option<usize> {
        self.lock_frame.get()
    }
    /// The user-written lock wrapper frame (`(*Limiter).Acquire`), if one was recognised.
    pub fn wrapper(&self) -> Option<usize> {
        self.wrapper.get()
    }
}

/// Packages whose frames are the machinery of a wait, not the program's code.
pub fn is_machinery(f: &FuncName) -> bool {
    // By prefix: the hot path of every classification, no package split needed.
    let n = f.full();
    n.starts_with("runtime.")
        || n.starts_with("sync.")
        || n.starts_with("sync/atomic.")
        || n.starts_with("internal/")
}

/// The Go standard library's top-level directories: code there waits by design
/// (connection loops, pools), and its package paths hold no dot.
const STD_ROOTS: &[&str] = &[
    "archive",
    "bufio",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "go",
    "hash",
    "html",
    "image",
    "index",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "plugin",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
    "strconv",
    "strings",
    "sync",
    "syscall",
    "testing",
    "text",
    "time",
    "unicode",
    "unique",
    "unsafe",
    "vendor",
    "weak",
];

/// A function of the Go standard library.
pub fn is_std(f: &FuncName) -> bool {
    let n = f.full();
    let end = n.find(['/', '.']).unwrap_or(n.len());
    // Sorted (a test says so): found in a few comparisons, not one per root.
    STD_ROOTS.binary_search(&&n[..end]).is_ok()
}

/// The runtime's and sync's own API entry points for waiting.
fn is_primitive_api(f: &str) -> bool {
    matches!(
        f,
        "sync.(*Mutex).Lock"
            | "sync.(*RWMutex).Lock"
            | "sync.(*RWMutex).RLock"
            | "sync.(*Cond).Wait"
            | "sync.(*WaitGroup).Wait"
            | "internal/sync.(*Mutex).Lock"
    ) || f.starts_with("sync.runtime_")
        || f.starts_with("internal/sync.")
        || f.starts_with("runtime.")
        || f.starts_with("sync.(*Mutex).")
        || f.starts_with("sync.(*RWMutex).")
}

fn idle_state(r: WaitReason) -> bool {
    matches!(
        r,
        WaitReason::GcWorkerIdle
            | WaitReason::FinalizerWait
            | WaitReason::ForceGcIdle
            | WaitReason::GcSweepWait
            | WaitReason::GcScavengeWait
            | WaitReason::TraceReaderBlocked
            | WaitReason::GomaxprocsUpdaterIdle
            | WaitReason::CleanupWait
            | WaitReason::WaitForGcCycle
            | WaitReason::Idle
            | WaitReason::Dead
            | WaitReason::GcWorkerActive
            | WaitReason::GcAssistWait
            | WaitReason::GcAssistMarking
            | WaitReason::GcMarkTermination
            | WaitReason::GcWeakToStrongWait
    )
}

/// Runtime background goroutines recognised by their entry function.
fn runtime_background(g: &Goroutine) -> bool {
    let root = g
        .created_by()
        .as_ref()
        .map(|c| c.function.full())
        .or_else(|| g.frames.last().map(|f| f.function.full()));
    let all_runtime =
        !g.frames.is_empty() && g.frames.iter().all(|f| f.function.package() == "runtime");
    all_runtime
        && matches!(
            root,
            Some(
                "runtime.gcBgMarkStartWorkers"
                    | "runtime.gcenable"
                    | "runtime.init.5"
                    | "runtime.init.6"
                    | "runtime.init.7"
                    | "runtime.createfing"
                    | "runtime.unique_runtime_registerUniqueMapCleanup"
                    | "runtime.goexit"
                    | "runtime.forcegchelper"
                    | "runtime.bgsweep"
                    | "runtime.bgscavenge"
                    | "runtime.runfinq"
                    | "runtime.gcBgMarkWorker"
            ) | None
        )
        || g.created_by().is_some_and(|c| {
            c.function.package() == "runtime" && g.frames.iter().all(|f| is_machinery(&f.function))
        })
}

fn is_profiler(g: &Goroutine) -> bool {
    g.frames.iter().take(6).any(|f| {
        matches!(
            f.function.full(),
            "runtime/pprof.writeGoroutineStacks"
                | "runtime/pprof.writeRuntimeProfile"
                | "runtime/pprof.writeGoroutine"
                | "runtime/pprof.writeGoroutineLeak"
        )
    })
}

/// The sync API a semaphore wait was entered through, reading down the stack.
/// RWMutex comes first: a writer queued behind a writer waits in the inner Mutex.
fn sync_api_kind(frames: &[Frame]) -> Option<WaitKind> {
    let window = &frames[..frames.len().min(7)];
    let has = |n: &str| window.iter().any(|f| f.function.full() == n);
    if has("sync.(*RWMutex).RLock") {
        Some(WaitKind::RWMutexRLock)
    } else if has("sync.(*RWMutex).Lock") {
        Some(WaitKind::RWMutexLock)
    } else if has("sync.(*WaitGroup).Wait") {
        Some(WaitKind::WaitGroupWait)
    } else if has("sync.(*Mutex).Lock")
        || has("sync.(*Mutex).lockSlow")
        || has("internal/sync.(*Mutex).lockSlow")
        || has("internal/sync.(*Mutex).Lock")
    {
        Some(WaitKind::MutexLock)
    } else {
        None
    }
}

/// Classify from the innermost frames: the most reliable source across Go versions.
fn kind_from_frames(frames: &[Frame]) -> Option<(WaitKind, usize)> {
    for (i, f) in frames.iter().enumerate().take(12) {
        let name = f.function.full();
        let kind = match name {
            "sync.runtime_notifyListWait" | "sync.(*Cond).Wait" => Some(WaitKind::CondWait),
            // The semaphore (and mutex) frames say little alone: which sync API called
            // them does (Go 1.19 readers wait in runtime_SemacquireMutex too).
            "sync.runtime_SemacquireMutex"
            | "internal/sync.runtime_SemacquireMutex"
            | "sync.(*Mutex).lockSlow"
            | "internal/sync.(*Mutex).lockSlow"
            | "sync.(*Mutex).Lock"
            | "internal/sync.(*Mutex).Lock"
            | "sync.runtime_SemacquireRWMutexR"
            | "sync.runtime_SemacquireRWMutex"
            | "sync.runtime_SemacquireWaitGroup"
            | "sync.runtime_Semacquire"
            | "internal/sync.runtime_Semacquire"
            | "sync.(*RWMutex).RLock"
            | "sync.(*RWMutex).Lock"
            | "sync.(*WaitGroup).Wait" => Some(sync_api_kind(&frames[i..]).unwrap_or(match name {
                "sync.runtime_SemacquireRWMutexR" => WaitKind::RWMutexRLock,
                "sync.runtime_SemacquireRWMutex" => WaitKind::RWMutexLock,
                "sync.runtime_SemacquireWaitGroup" => WaitKind::WaitGroupWait,
                "sync.runtime_Semacquire" | "internal/sync.runtime_Semacquire" => {
                    WaitKind::Semacquire
                }
                _ => WaitKind::MutexLock,
            })),
            "runtime.chanrecv1" | "runtime.chanrecv2" | "runtime.chanrecv" => {
                Some(WaitKind::ChanReceive)
            }
            "runtime.chansend1" | "runtime.chansend" => Some(WaitKind::ChanSend),
            "runtime.selectgo" => Some(WaitKind::Select),
            "runtime.block" => Some(WaitKind::SelectNoCases),
            "internal/poll.runtime_pollWait" | "runtime.netpollblock" => Some(WaitKind::IoWait),
            "time.Sleep" | "runtime.timeSleep" => Some(WaitKind::Sleep),
            // Releasing a semaphore never parks: with a handoff to a waiter the
            // runtime yields the processor (`goyield`), and the releaser is runnable.
            "sync.runtime_Semrelease"
            | "internal/sync.runtime_Semrelease"
            | "runtime.semrelease1" => Some(WaitKind::Runnable),
            _ => None,
        };
        if let Some(k) = kind {
            return Some((k, i));
        }
        if !is_machinery(&f.function) && f.function.package() != "time" {
            break;
        }
    }
    None
}

fn kind_from_state(r: WaitReason) -> Option<WaitKind> {
    Some(match r {
        WaitReason::SyncMutexLock => WaitKind::MutexLock,
        WaitReason::SyncRWMutexRLock => WaitKind::RWMutexRLock,
        WaitReason::SyncRWMutexLock => WaitKind::RWMutexLock,
        WaitReason::SyncCondWait => WaitKind::CondWait,
        WaitReason::SyncWaitGroupWait | WaitReason::SyncWaitGroupWaitDurable => {
            WaitKind::WaitGroupWait
        }
        WaitReason::Semacquire => WaitKind::Semacquire,
        WaitReason::ChanSend | WaitReason::ChanSendDurable => WaitKind::ChanSend,
        WaitReason::ChanReceive | WaitReason::ChanReceiveDurable => WaitKind::ChanReceive,
        WaitReason::ChanSendNilChan | WaitReason::ChanReceiveNilChan => WaitKind::ChanNil,
        WaitReason::Select | WaitReason::SelectDurable => WaitKind::Select,
        WaitReason::SelectNoCases => WaitKind::SelectNoCases,
        WaitReason::IoWait => WaitKind::IoWait,
        WaitReason::Sleep => WaitKind::Sleep,
        WaitReason::Syscall => WaitKind::Syscall,
        WaitReason::Running => WaitKind::Running,
        WaitReason::Runnable | WaitReason::Preempted => WaitKind::Runnable,
        _ => return None,
    })
}

/// The frames of a goroutine waiting in `Mutex.Lock` (the receiver is the mutex).
pub(super) const MUTEX_LOCK_FRAMES: &[&str] = &[
    "sync.(*Mutex).lockSlow",
    "internal/sync.(*Mutex).lockSlow",
    "sync.(*Mutex).Lock",
    "internal/sync.(*Mutex).Lock",
];

/// The address a wait names, from the frame that prints it reliably.
fn primitive_addr(kind: WaitKind, g: &Goroutine) -> Option<(u64, usize)> {
    let wanted: &[&str] = match kind {
        // The notify list lives inside the Cond, so its address identifies the Cond.
        WaitKind::CondWait => &["sync.runtime_notifyListWait", "sync.(*Cond).Wait"],
        WaitKind::MutexLock => MUTEX_LOCK_FRAMES,
        // The RWMutex's inner `w` mutex sits at offset 0, so a writer queued behind a
        // writer prints the RWMutex's own address in lockSlow.
        WaitKind::RWMutexLock => &[
            "sync.(*RWMutex).Lock",
            "sync.(*Mutex).lockSlow",
            "internal/sync.(*Mutex).lockSlow",
        ],
        WaitKind::RWMutexRLock => &["sync.(*RWMutex).RLock"],
        WaitKind::WaitGroupWait => &["sync.(*WaitGroup).Wait"],
        WaitKind::ChanReceive => &["runtime.chanrecv1", "runtime.chanrecv2", "runtime.chanrecv"],
        WaitKind::ChanSend => &["runtime.chansend1", "runtime.chansend"],
        _ => &[],
    };
    g.frames_args()
        .enumerate()
        .take(12)
        .find_map(|(i, (f, args))| {
            if wanted.contains(&f.function.full()) {
                args.first_certain_word()
                    .filter(|&a| a != 0)
                    .map(|a| (a, i))
            } else {
                None
            }
        })
        .or_else(|| rwmutex_from_semaphore(kind, g))
}

/// An RWMutex from the semaphore its waiter sleeps on, where the runtime's frames
/// are printed (`GOTRACEBACK=system`, a `SIGQUIT`): `runtime.semacquire1` prints
/// `&rw.readerSem` when called (through the `sync` semaphore wrapper) from `RLock`,
/// which is inlined and prints no receiver, and `&rw.writerSem` when called from
/// `Lock` itself (a writer waiting for readers to leave; one queued behind another
/// writer sleeps in `Mutex.Lock` instead). In every Go release `sync.RWMutex` is `w
/// Mutex` (8 bytes), then `writerSem` and `readerSem` (`uint32` each).
fn rwmutex_from_semaphore(kind: WaitKind, g: &Goroutine) -> Option<(u64, usize)> {
    let (api, offset) = match kind {
        WaitKind::RWMutexRLock => ("sync.(*RWMutex).RLock", 12),
        WaitKind::RWMutexLock => ("sync.(*RWMutex).Lock", 8),
        _ => return None,
    };
    let mut frames = g.frames_args().take(12).enumerate();
    let (i, sem) = frames.find_map(|(i, (f, args))| {
        (f.function.full() == "runtime.semacquire1").then(|| (i, args.first_certain_word()))
    })?;
    let (_, (caller, _)) = frames.find(|(_, (f, _))| {
        !matches!(
            f.function.full(),
            "sync.runtime_SemacquireMutex"
                | "sync.runtime_SemacquireRWMutexR"
                | "sync.runtime_SemacquireRWMutex"
        )
    })?;
    if caller.function.full() != api {
        return None;
    }
    let sem = sem.filter(|&a| a > offset)?;
    Some((sem - offset, i))
}

/// Classify one goroutine.
pub fn classify(g: &Goroutine, format: Format) -> Blocked {
    let mut b = classify_shape(g, format);
    set_addr(&mut b, g);
    b
}

/// Classify every goroutine of a dump. Goroutines that share their frames, state
/// and creator are classified alike but for the primitive's address, which is read
/// from each one's own arguments.
pub fn classify_all(dump: &crate::model::Dump) -> Vec<Blocked> {
    // The state as printed: two reasons this version does not know are told
    // apart by their text.
    type ShapeKey<'d> = (StackId, &'d str, Option<&'d str>);
    let fill = |gs: &[Goroutine], dst: &mut [Blocked]| {
        let mut shapes: rustc_hash::FxHashMap<ShapeKey, Blocked> = Default::default();
        for (g, d) in gs.iter().zip(dst) {
            if StackId::alone(g) {
                // No other goroutine to share its shape with: no entry to keep.
                *d = classify(g, dump.format);
                continue;
            }
            let key = (
                StackId::of(g),
                g.state.raw,
                g.created_by().map(|c| c.function.full()),
            );
            *d = shapes
                .entry(key)
                .or_insert_with(|| classify_shape(g, dump.format))
                .clone();
            set_addr(d, g);
        }
    };
    let n = dump.goroutines.len();
    let mut out: Vec<Blocked> = vec![Blocked::unknown(); n];
    // Large dumps on every core, each thread filling its own part of one vector.
    let threads = super::threads_for(n);
    if threads < 2 {
        fill(&dump.goroutines, &mut out);
        return out;
    }
    let step = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (dst, gs) in out.chunks_mut(step).zip(dump.goroutines.chunks(step)) {
            let fill = &fill;
            s.spawn(move || fill(gs, dst));
        }
    });
    out
}

/// The address a goroutine's wait names, from its own arguments.
fn set_addr(b: &mut Blocked, g: &Goroutine) {
    if let Some((a, i)) = primitive_addr(b.kind, g) {
        b.addr = std::num::NonZeroU64::new(a);
        b.addr_frame = Ix::new(b.addr.map(|_| i));
    }
}

/// Everything but the primitive's address: what the frames, state and creator say.
fn classify_shape(g: &Goroutine, format: Format) -> Blocked {
    let site = g.frames.iter().position(|f| !is_machinery(&f.function));
    let mut b = Blocked {
        kind: WaitKind::Other,
        kind_rule: KindRule::Unknown,
        addr: None,
        addr_frame: Ix::NONE,
        site: Ix::new(site),
        lock_frame: Ix::NONE,
        wrapper: Ix::NONE,
    };
    if is_profiler(g) {
        b.kind = WaitKind::Profiler;
        b.kind_rule = KindRule::Profiler;
        return b;
    }
    // Frames first: a debugger reading a newer runtime than it knows prints wrong
    // wait reasons, and old runtimes print `semacquire` for every sync wait.
    let from_frames = kind_from_frames(&g.frames);
    if is_runtime_own(g, from_frames.is_some()) {
        b.kind = WaitKind::RuntimeIdle;
        b.kind_rule = KindRule::Runtime;
        return b;
    }
    (b.kind, b.kind_rule) = wait_kind(g, format, site, from_frames);
    set_asking_frames(&mut b, g, site);
    b
}

/// The runtime's own goroutine, whatever it waits on: only runtime frames (a
/// cleanup loop on a channel, say), or, with no wait the frames tell, an idle
/// state or a runtime background loop.
fn is_runtime_own(g: &Goroutine, kind_in_frames: bool) -> bool {
    let only_runtime = !g.frames.is_empty()
        && g.frames
            .iter()
            .all(|f| f.function.full().starts_with("runtime."));
    only_runtime || (!kind_in_frames && (idle_state(g.state.reason) || runtime_background(g)))
}

/// What the goroutine waits on and which rule said so: the state when it runs
/// (a running goroutine's frames show where it runs, not a wait), else the
/// frames, else the state; debug=1 hides the runtime frames, so a profile record
/// parked at the top of a user function waits inside it on what is hidden. A nil
/// channel wait is told by the state alone (`chan receive (nil chan)`).
fn wait_kind(
    g: &Goroutine,
    format: Format,
    site: Option<usize>,
    from_frames: Option<(WaitKind, usize)>,
) -> (WaitKind, KindRule) {
    let from_state = kind_from_state(g.state.reason);
    // Parked for sure when the innermost frame is the scheduler's park (Delve prints
    // it; a debugger reading a newer runtime may print a wrong status beside it).
    let parked = g
        .frames
        .first()
        .is_some_and(|f| matches!(f.function.full(), "runtime.gopark" | "runtime.goparkunlock"));
    let mut kind = WaitKind::Other;
    let mut rule = KindRule::Unknown;
    match (from_frames, from_state) {
        // A running goroutine's frames show where it runs, not a wait.
        (_, Some(k @ (WaitKind::Running | WaitKind::Runnable | WaitKind::Syscall))) if !parked => {
            kind = k;
            rule = KindRule::State;
        }
        (Some((k, i)), _) => {
            kind = k;
            rule = KindRule::Frame(i as u32);
        }
        // `semacquire` with no frame of the sync package (which every semaphore of
        // the program goes through, and which is printed): the runtime's own
        // semaphore, a short wait inside it (a GC start, a world stop) the program's
        // code does not take. It will run again; no lock of the program's is asked for.
        (None, Some(WaitKind::Semacquire)) => {
            kind = WaitKind::Other;
            rule = KindRule::State;
        }
        (None, Some(k)) => {
            kind = k;
            rule = KindRule::State;
        }
        (None, None) => {
            if format == Format::Profile && g.frames.iter().all(|f| is_machinery(&f.function)) {
                kind = WaitKind::RuntimeIdle;
            } else if format == Format::Profile && site == Some(0) && g.runtime_on_top {
                // debug=1 hides the runtime frames at the top of a stack: in the
                // runtime below the first user function, it waits inside it on what
                // is hidden (or, rarely, was preempted there).
                kind = WaitKind::Hidden;
                rule = KindRule::HiddenWait;
            }
        }
    }
    // A nil channel wait reads `chan receive (nil chan)`; the frames say only chanrecv.
    if matches!(
        g.state.reason,
        WaitReason::ChanReceiveNilChan | WaitReason::ChanSendNilChan
    ) {
        kind = WaitKind::ChanNil;
        rule = KindRule::State;
    }
    (kind, rule)
}

/// Which frame asked for the lock (the first frame above the primitive's API), and
/// whether the blocking user function is a gate its callers ask for instead.
fn set_asking_frames(b: &mut Blocked, g: &Goroutine, site: Option<usize>) {
    let api_end = g
        .frames
        .iter()
        .position(|f| !is_primitive_api(f.function.full()));
    b.lock_frame = Ix::new(api_end);
    if let Some(s) = site {
        if is_gate(g, b.kind, s) {
            b.wrapper = Ix::new(Some(s));
            b.lock_frame = Ix::new(Some(s + 1));
        }
    }
}

/// A user function that waits inside on a Cond, a semaphore or a channel may be a
/// gate (a limiter, a semaphore, a keyed lock): its callers ask for it where they
/// call it, and whoever is past that call got in. Told by where it waits, never by
/// its name. A function that merely takes a mutex is not one: the mutex's own
/// address says which lock it is. It must be called from a function of the program
/// or the library, not from the runtime's own frame below every goroutine
/// (`runtime.goexit`).
fn is_gate(g: &Goroutine, kind: WaitKind, s: usize) -> bool {
    let user = &g.frames[s];
    let waits_inside = kind.is_lock() || kind.is_chan() || kind == WaitKind::WaitGroupWait;
    let wrapper = match kind {
        WaitKind::CondWait | WaitKind::Semacquire | WaitKind::Hidden => !is_std(&user.function),
        k if k.is_chan() => !is_std(&user.function),
        _ => false,
    };
    let called = g
        .frames
        .get(s + 1)
        .is_some_and(|f| !is_machinery(&f.function));
    waits_inside && wrapper && called
}

#[cfg(test)]
mod tests {
    #[test]
    fn std_roots_are_sorted_for_binary_search() {
        assert!(super::STD_ROOTS.is_sorted());
    }

    use super::*;

    #[test]
    fn machinery() {
        assert!(is_machinery(&FuncName("internal/sync.(*Mutex).lockSlow")));
        assert!(is_machinery(&FuncName("sync.(*Cond).Wait")));
        assert!(!is_machinery(&FuncName("main.(*lim).Acquire")));
        assert!(!is_machinery(&FuncName("net/http.(*conn).serve")));
        assert!(!is_machinery(&FuncName("github.com/x/runtime.Foo")));
    }
}

/// What a goroutine is known by apart from its id, its place in the input and its
/// argument values: how many it stands for, how long it has waited, its state and
/// its frames. Goroutines with equal keys cannot be told apart but by those.
pub(crate) type StackKey<'d> = (
    std::cmp::Reverse<u64>,
    std::cmp::Reverse<u32>,
    &'d str,
    Vec<(&'d str, &'d str, u32)>,
);

pub(crate) fn stack_key<'d>(dump: &'d Dump, i: usize) -> StackKey<'d> {
    let g = &dump.goroutines[i];
    (
        std::cmp::Reverse(g.count),
        std::cmp::Reverse(g.wait_minutes.unwrap_or(0)),
        g.state.raw,
        g.frames
            .iter()
            .map(|f| (f.function.full(), f.file, f.line))
            .collect(),
    )
}

/// One distinct stack: goroutines whose frames the parser shares (one `Arc` per
/// distinct list) have the same id. Valid while the dump lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(usize);

impl StackId {
    pub fn of(g: &Goroutine) -> StackId {
        StackId(std::sync::Arc::as_ptr(&g.frames) as *const () as usize)
    }

    /// No other goroutine holds `g`'s frame list, so none has its id: a map by
    /// `StackId` would find nothing for it and keep an entry nobody reads (with
    /// every goroutine on its own stack, a million). Conservative: a list held
    /// elsewhere too (a parser's cache, a cloned dump) reads as shared.
    pub fn alone(g: &Goroutine) -> bool {
        std::sync::Arc::strong_count(&g.frames) == 1
    }
}
