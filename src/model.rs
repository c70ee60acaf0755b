//! The one data model every input format is read into.
//!
//! Strings borrow from the input text, or from an arena when the input is read as a
//! stream (`'a` either way); frame lists are shared by every goroutine whose stack
//! reads the same but for argument values, which are kept per goroutine, encoded.
//! The vocabulary follows the Go runtime's own (`runtime/runtime2.go`'s
//! `waitReasonStrings`, `runtime/traceback.go`'s `goroutineheader`); anything the
//! runtime may print that this version does not know is kept as text, never
//! rejected.

use std::fmt;
use std::sync::Arc;

/// How a dump was captured, as far as the text tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Full tracebacks: `/debug/pprof/goroutine?debug=2`, `runtime.Stack(buf, true)`,
    /// a SIGQUIT dump, a panic or a runtime `fatal error`.
    Traceback,
    /// The aggregated `?debug=1` goroutine profile (`goroutine profile: total N`).
    Profile,
    /// Delve's `goroutines` command (optionally with `-t`).
    Delve,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Traceback => "traceback",
            Format::Profile => "pprof-debug1",
            Format::Delve => "delve",
        }
    }
}

/// What produced a traceback dump, read from the lines before the first goroutine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// No preamble: `?debug=2` or `runtime.Stack`.
    Plain,
    /// `SIGQUIT: quit` (or another signal) preamble.
    Signal,
    /// `panic: ...` preamble.
    Panic,
    /// `fatal error: ...` preamble other than the deadlock message.
    FatalError,
    /// `fatal error: all goroutines are asleep - deadlock!`: the runtime itself saw a deadlock.
    AllAsleep,
    /// `SIGABRT: abort` (a watchdog's or `kill -ABRT`'s; the signal systemd and
    /// Kubernetes-less supervisors send on a hang).
    Abort,
    /// `fatal error: ...` followed by `runtime stack:`: a throw inside the runtime
    /// (stack overflow, a corrupted scheduler), with the throwing thread's stack.
    RuntimeThrow,
    /// `fatal error: concurrent map writes` (or `concurrent map read and map write`,
    /// `concurrent map iteration and map write`): a data race the runtime caught.
    ConcurrentMap,
    /// `panic: test timed out after D`: `go test -timeout` ran out, which alone says
    /// the test program hung.
    TestTimeout,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Plain => "plain",
            Trigger::Signal => "signal",
            Trigger::Panic => "panic",
            Trigger::FatalError => "fatal-error",
            Trigger::AllAsleep => "all-goroutines-asleep",
            Trigger::Abort => "sigabrt",
            Trigger::RuntimeThrow => "runtime-throw",
            Trigger::ConcurrentMap => "concurrent-map-access",
            Trigger::TestTimeout => "test-timeout",
        }
    }
}

/// One snapshot of a program's goroutines. A file may hold several (concatenated
/// dumps); each becomes its own `Dump`.
#[derive(Debug, Clone)]
pub struct Dump<'a> {
    pub format: Format,
    /// Set for tracebacks: what made the runtime print them.
    pub trigger: Trigger,
    /// Lines before the first goroutine that explain the dump (`panic: boom`,
    /// `fatal error: ...`, `SIGQUIT: quit`), without log noise.
    pub preamble: Vec<&'a str>,
    /// The exact Go version, when a file path reveals the toolchain (`/go1.27.3/`, `/go-1.19/`)
    /// and nothing the dump prints says the runtime is newer (`go_version_min`).
    pub go_version: Option<String>,
    /// A lower bound on the Go version read from features of the text
    /// (`created by ... in goroutine N` is 1.21+, `internal/sync.` mutex frames 1.24+, ...).
    pub go_version_min: Option<&'static str>,
    /// `goroutine profile: total N` (debug=1) or Delve's `[N goroutines]` footer.
    pub declared_total: Option<u64>,
    /// The runtime's goroutine leak profile (`/debug/pprof/goroutineleak`, Go 1.26+):
    /// `goroutineleak profile: total N` at debug=1 (every record then counts leaked
    /// goroutines, and is marked `leaked`), or the binary form. At debug=2 the same
    /// profile prints every goroutine, the leaked ones marked `(leaked)`
    /// (`Goroutine::leaked`), which is how that form is known.
    pub leak_profile: bool,
    /// 1-based line of the first line of this snapshot in the input.
    pub first_line: usize,
    pub goroutines: Vec<Goroutine<'a>>,
    /// Problems met while reading; parsing went on past each.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Dump<'a> {
    /// A snapshot of `format` starting at line `first_line`, with nothing read
    /// yet: no trigger, preamble, version or goroutines.
    pub fn starting(format: Format, first_line: usize) -> Dump<'a> {
        Dump {
            format,
            trigger: Trigger::Plain,
            preamble: Vec::new(),
            go_version: None,
            go_version_min: None,
            declared_total: None,
            leak_profile: false,
            first_line,
            goroutines: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

impl Dump<'_> {
    /// Number of goroutines this snapshot stands for (sum of counts).
    pub fn total(&self) -> u64 {
        self.goroutines.iter().map(|g| g.count).sum()
    }

    /// A profile whose header declares no goroutine at all: the leak profile's
    /// `goroutineleak profile: total 0`, the runtime's word that nothing leaked.
    pub fn declares_none(&self) -> bool {
        self.format == Format::Profile
            && self.declared_total == Some(0)
            && self.goroutines.is_empty()
    }

    /// Holds something to analyse: goroutines, or a profile that declares none.
    pub fn is_snapshot(&self) -> bool {
        !self.goroutines.is_empty() || self.declares_none()
    }

    /// True when the input ended inside a goroutine's stack.
    pub fn truncated_at(&self) -> Option<usize> {
        self.diagnostics
            .iter()
            .find(|d| d.kind == DiagnosticKind::Truncated)
            .map(|d| d.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// A line inside a goroutine that no grammar rule matched.
    UnrecognisedLine,
    /// A goroutine header that did not parse.
    BadHeader,
    /// The input ends in the middle of a stack.
    Truncated,
}

/// A problem with one place of the input. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    /// 1-based line number in the input.
    pub line: usize,
    pub message: String,
}

/// One goroutine (or, for aggregated profiles, one record standing for `count` goroutines).
#[derive(Debug, Clone)]
pub struct Goroutine<'a> {
    /// `goroutine 18 [...]`: the id. `None` for aggregated profiles.
    pub id: Option<u64>,
    /// 1 for a single goroutine; the record's count for debug=1 profiles.
    pub count: u64,
    /// 1-based line of the header in the input.
    pub line: usize,
    /// The status or wait reason. For debug=1 profiles, which print none, `Unknown`.
    pub state: State<'a>,
    /// `, 31 minutes`: how long it has been blocked, rounded down; only printed from 1 minute.
    pub wait_minutes: Option<u32>,
    /// `, locked to thread`.
    pub locked_to_thread: bool,
    /// ` (scan)`: the GC was scanning the stack.
    pub scan: bool,
    /// ` (durable)`: blocked inside a synctest bubble on a durable operation (1.25+).
    pub durable: bool,
    /// ` (leaked)` or status `leaked`: the runtime's goroutine leak profile (1.26+) proved it leaked.
    pub leaked: bool,
    /// Innermost first. One list for every goroutine whose frames read the same
    /// (argument values aside): a million goroutines in a hundred stacks hold a
    /// hundred frame lists, and two goroutines have the same frames exactly when
    /// `Arc::ptr_eq` says so.
    pub frames: Arc<[Frame<'a>]>,
    /// The argument values of the frames (`frames_args` reads them). A goroutine read
    /// right after another of the same stack with the same values shares its bytes.
    pub args: ArgData,
    /// `goroutine running on other thread; stack unavailable`.
    pub stack_unavailable: bool,
    /// debug=1 only: the record's innermost PC (the first after `N @`) is not that of
    /// its first printed frame. The profile hides the runtime frames at the top of a
    /// stack, so the goroutine was inside the runtime (mostly parked; a goroutine
    /// preempted in its own code shows `runtime.asyncPreempt` there). False when the
    /// first PC is printed (the goroutine was in that code) and in every other format.
    pub runtime_on_top: bool,
    /// `created by F in goroutine 7`: where it was started, as a frame with no
    /// arguments (one handle per place, shared like the stacks' frames), and the
    /// parent's id when printed. Read through `created_by`, set through `set_creator`.
    creator: Option<Frame<'a>>,
    creator_parent: Option<u64>,
    /// False when the input was cut inside this goroutine's stack (and then only:
    /// the dump has a `Truncated` diagnostic for it).
    pub complete: bool,
    /// What few goroutines print (`Rare`), boxed so that a million goroutines stay
    /// small; `None` when none of it was printed. Read through the methods of the
    /// same names.
    rare: Option<Box<Rare<'a>>>,
}

/// What few goroutines print.
#[derive(Debug, Clone, Default)]
pub struct Rare<'a> {
    /// Delve: the raw `waitsince` nanotime printed after the reason (not a duration).
    pub wait_since: Option<u64>,
    /// `, synctest bubble N` (1.25+) or `, synctest group N` (1.24).
    pub bubble: Option<u64>,
    /// Goroutine labels: `{k: v}` after the header (1.27 with `GODEBUG=tracebacklabels=1`),
    /// `# labels: {...}` in debug=1, `Labels:` in Delve. Kept as printed.
    pub labels: Option<&'a str>,
    /// `...additional frames elided...` / `...N frames elided...`: frames were dropped
    /// from the middle; `Some(0)` when the count was not printed.
    pub elided: Option<u32>,
    /// `[originating from goroutine N]:` stacks (`GODEBUG=tracebackancestors=N`).
    pub ancestors: Vec<Ancestor<'a>>,
}

/// Where a goroutine was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedBy<'a> {
    pub function: FuncName<'a>,
    pub file: &'a str,
    pub line: u32,
    /// `created by F in goroutine 7` (Go 1.21+): the parent's id.
    pub parent: Option<u64>,
}

impl<'a> CreatedBy<'a> {
    /// The place as a frame's fields: no arguments, offset or PC.
    pub fn site(&self) -> FrameData<'a> {
        FrameData {
            function: self.function,
            args: ArgsKind::Absent,
            file: self.file,
            line: self.line,
            offset: None,
            pc: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ancestor<'a> {
    pub id: u64,
    pub frames: Vec<Frame<'a>>,
}

/// A goroutine's status or wait reason as printed, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State<'a> {
    /// The reason as printed, without the `(scan)`, `(durable)`, `(leaked)` marks,
    /// e.g. `sync.Mutex.Lock`, `chan receive (nil chan)`, `running`.
    pub raw: &'a str,
    pub reason: WaitReason,
}

impl<'a> State<'a> {
    pub fn new(raw: &'a str) -> Self {
        State {
            raw,
            reason: WaitReason::from_text(raw),
        }
    }
    pub fn unknown() -> Self {
        State {
            raw: "",
            reason: WaitReason::Unknown,
        }
    }
}

macro_rules! wait_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, )*) => {
        /// The runtime's statuses (`gStatusStrings`) and wait reasons (`waitReasonStrings`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum WaitReason {
            $( $(#[$doc])* $variant, )*
            /// Not printed by this format (debug=1 profiles).
            Unknown,
            /// A reason this version of godeadlock does not know: its text is the
            /// state's (`State::raw`), not kept twice (a byte, not 24, per goroutine).
            Other,
        }

        impl WaitReason {
            pub fn from_text(text: &str) -> Self {
                match text {
                    $( $text => WaitReason::$variant, )*
                    "" => WaitReason::Unknown,
                    _ => WaitReason::Other,
                }
            }
            /// The runtime's spelling of a known reason; `""` for `Unknown` and
            /// `Other` (whose text is `State::raw`).
            pub fn as_str_static(&self) -> &'static str {
                match self {
                    $( WaitReason::$variant => $text, )*
                    WaitReason::Unknown | WaitReason::Other => "",
                }
            }
        }
    };
}

wait_reasons! {
    // Statuses (runtime/traceback.go gStatusStrings).
    Idle => "idle",
    Runnable => "runnable",
    Running => "running",
    Syscall => "syscall",
    Waiting => "waiting",
    Dead => "dead",
    CopyStack => "copystack",
    Leaked => "leaked",
    Preempted => "preempted",
    WaitingForCgoCallback => "waiting for cgo callback",
    // Wait reasons (runtime/runtime2.go waitReasonStrings).
    GcAssistMarking => "GC assist marking",
    IoWait => "IO wait",
    ChanReceiveNilChan => "chan receive (nil chan)",
    ChanSendNilChan => "chan send (nil chan)",
    DumpingHeap => "dumping heap",
    GarbageCollection => "garbage collection",
    GarbageCollectionScan => "garbage collection scan",
    PanicWait => "panicwait",
    Select => "select",
    SelectNoCases => "select (no cases)",
    GcAssistWait => "GC assist wait",
    GcSweepWait => "GC sweep wait",
    GcScavengeWait => "GC scavenge wait",
    ChanReceive => "chan receive",
    ChanSend => "chan send",
    FinalizerWait => "finalizer wait",
    ForceGcIdle => "force gc (idle)",
    GomaxprocsUpdaterIdle => "GOMAXPROCS updater (idle)",
    Semacquire => "semacquire",
    Sleep => "sleep",
    SyncCondWait => "sync.Cond.Wait",
    SyncMutexLock => "sync.Mutex.Lock",
    SyncRWMutexRLock => "sync.RWMutex.RLock",
    SyncRWMutexLock => "sync.RWMutex.Lock",
    SyncWaitGroupWait => "sync.WaitGroup.Wait",
    TraceReaderBlocked => "trace reader (blocked)",
    WaitForGcCycle => "wait for GC cycle",
    GcWorkerIdle => "GC worker (idle)",
    GcWorkerActive => "GC worker (active)",
    DebugCall => "debug call",
    GcMarkTermination => "GC mark termination",
    StoppingTheWorld => "stopping the world",
    FlushProcCaches => "flushing proc caches",
    TraceGoroutineStatus => "trace goroutine status",
    TraceProcStatus => "trace proc status",
    PageTraceFlush => "page trace flush",
    Coroutine => "coroutine",
    GcWeakToStrongWait => "GC weak to strong wait",
    SynctestRun => "synctest.Run",
    SynctestWait => "synctest.Wait",
    ChanReceiveDurable => "chan receive (durable)",
    ChanSendDurable => "chan send (durable)",
    SelectDurable => "select (durable)",
    SyncWaitGroupWaitDurable => "sync.WaitGroup.Wait (durable)",
    CleanupWait => "cleanup wait",
}

/// A function name as printed: `net/http.(*conn).serve`, `main.Map[...]`,
/// `main.main.func1`, `internal/sync.(*Mutex).lockSlow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncName<'a>(pub &'a str);

impl<'a> FuncName<'a> {
    pub fn full(&self) -> &'a str {
        self.0
    }

    /// Where the package path ends: the first `.` after the last `/`.
    fn package_end(&self) -> Option<usize> {
        let s = self.0;
        let start = s.rfind('/').map(|i| i + 1).unwrap_or(0);
        s[start..].find('.').map(|i| start + i)
    }

    /// `net/http` for `net/http.(*conn).serve`.
    pub fn package(&self) -> &'a str {
        match self.package_end() {
            Some(i) => &self.0[..i],
            None => "",
        }
    }

    /// Everything after the package: `(*conn).serve`.
    pub fn local(&self) -> &'a str {
        match self.package_end() {
            Some(i) => &self.0[i + 1..],
            None => self.0,
        }
    }

    /// `*conn` for `(*conn).serve`; `Sem` for a value receiver `Sem.Acquire`. A closure
    /// (`main.func1`, `F.gowrap2`) has none.
    pub fn receiver(&self) -> Option<&'a str> {
        let local = self.local();
        if let Some(rest) = local.strip_prefix('(') {
            let close = rest.find(')')?;
            return Some(&rest[..close]);
        }
        let (first, rest) = split_first_segment(local)?;
        let second = split_first_segment(rest).map_or(rest, |(s, _)| s);
        (!is_synthetic(second)).then_some(first)
    }

    /// A `go` or `defer` statement's wrapper (`F.gowrap1`, `F.deferwrap2`): made by
    /// the compiler, it only calls the function the statement names.
    pub fn is_statement_wrapper(&self) -> bool {
        let last = segments(self.local()).pop().unwrap_or("");
        ["gowrap", "deferwrap"].iter().any(|p| {
            last.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// The method or function name, closures' suffixes dropped: `serve` for
    /// `(*conn).serve`, `Acquire` for `Sem.Acquire` and `(*T).Acquire.func1`,
    /// `main` for `main.main` and `main.main.func1`.
    pub fn name(&self) -> &'a str {
        let local = self.local();
        let local = match local.strip_prefix('(') {
            Some(_) => match local.find(").") {
                Some(close) => &local[close + 2..],
                None => local,
            },
            None => local,
        };
        // after the receiver: `Acquire.func1`, or for a value receiver `Sem.Acquire`
        segments(local)
            .into_iter()
            .rfind(|p| !is_synthetic(p))
            .unwrap_or(local)
    }
}

/// `a.b[x.y].c` → (`a`, `b[x.y].c`); `None` when there is no dot outside brackets.
fn split_first_segment(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// `a.b[x.y].c` → `a`, `b[x.y]`, `c`: dots inside generic brackets do not split.
fn segments(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Compiler-made names: closures (`func1`), go/defer wrappers (`gowrap2`, `deferwrap1`).
fn is_synthetic(part: &str) -> bool {
    ["func", "gowrap", "deferwrap"].iter().any(|p| {
        part.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    })
}

impl fmt::Display for FuncName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One argument word as printed in a traceback frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// `0xc000012345`; `uncertain` when printed with `?` (the runtime's "maybe inaccurate" mark).
    Word { value: u64, uncertain: bool },
    /// `{` opening a composite value (string, slice, interface, struct).
    Open,
    /// `}` closing it.
    Close,
    /// `_`: a dead or unused argument.
    Dead,
    /// `...`: more arguments were not printed.
    More,
}

/// What a frame's argument list looked like. The values themselves are the
/// goroutine's (`Goroutine::args`), so that goroutines whose stacks differ only in
/// argument values share one frame list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArgsKind {
    /// The format prints none (debug=1, Delve, ancestors).
    #[default]
    Absent,
    /// `(...)`: the frame was inlined; its arguments are not known.
    Inlined,
    /// `(0xc000012345, {0x1, 0x2}, 0x0?)`: a printed list, possibly empty.
    List,
}

// Argument lists are stored encoded, one list after another in frame order: each
// its length in bytes (LEB128, one byte in practice), then a tag byte per token, a
// LEB128 value after word tags. A stack of fifteen frames takes about a hundred
// bytes instead of fifteen vectors, and a frame's list is found by skipping the
// lists before it, a byte read each.
const WORD: u8 = 1;
const WORD_UNSURE: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const DEAD: u8 = 5;
const MORE: u8 = 6;
/// `0x0` words, the count in the low four bits.
const ZEROS: u8 = 0x10;
/// `0x0?` words, the count in the low four bits.
const ZEROS_UNSURE: u8 = 0x20;

/// A buffer of encoded argument values shared by the goroutines read with it. Boxed
/// inside the `Arc` so that each goroutine's handle is one word, not two.
pub type ArgChunk = Arc<Box<[u8]>>;

/// The argument values of every `ArgsKind::List` frame of one goroutine, encoded:
/// a range of a buffer shared by the goroutines read with it (one allocation per
/// few thousand goroutines, not one each).
#[derive(Debug, Clone, Default)]
pub struct ArgData {
    chunk: Option<ArgChunk>,
    start: u32,
    len: u32,
}

impl ArgData {
    /// Bytes `start..start + len` of a buffer not yet shared; `in_chunk` gives it.
    /// A range past 4 GiB (a single piece of input holding that much argument data)
    /// keeps no values rather than wrong ones.
    pub fn pending(start: usize, len: usize) -> Self {
        match (u32::try_from(start), u32::try_from(start + len)) {
            (Ok(start), Ok(_)) => ArgData {
                chunk: None,
                start,
                len: len as u32,
            },
            _ => ArgData::default(),
        }
    }
    /// The buffer the range is in, once it is complete.
    pub fn in_chunk(&mut self, chunk: &ArgChunk) {
        if self.len > 0 {
            self.chunk = Some(chunk.clone());
        }
    }
    /// What tells two goroutines' values the same without reading them: goroutines
    /// of one stack read one after the other with equal values share one range.
    pub fn identity(&self) -> (usize, u32, u32) {
        let chunk = self.chunk.as_ref().map_or(0, |c| c.as_ptr() as usize);
        (chunk, self.start, self.len)
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.chunk {
            Some(c) => &c[self.start as usize..self.start as usize + self.len as usize],
            None => &[],
        }
    }
}

/// Writes one frame's argument list: its length, then its tokens. Zero words, the
/// most common by far (`0x0?` fills most of a stack's lists), go in runs of up to
/// fifteen in one byte.
#[derive(Debug)]
pub struct ArgEncoder {
    /// Where the length goes.
    mark: usize,
    /// Where the current run of zeros is, if the last token was one.
    run: Option<usize>,
}

impl ArgEncoder {
    /// Open a list at the end of `out`.
    #[inline]
    pub fn begin(out: &mut Vec<u8>) -> Self {
        out.push(0);
        ArgEncoder {
            mark: out.len() - 1,
            run: None,
        }
    }

    /// Append one word.
    #[inline]
    pub fn push_word(&mut self, out: &mut Vec<u8>, value: u64, uncertain: bool) {
        if value == 0 {
            let base = if uncertain { ZEROS_UNSURE } else { ZEROS };
            if let Some(r) = self.run {
                if out[r] & 0xf0 == base && out[r] & 0x0f < 0x0f {
                    out[r] += 1;
                    return;
                }
            }
            self.run = Some(out.len());
            out.push(base | 1);
            return;
        }
        out.push(if uncertain { WORD_UNSURE } else { WORD });
        put_leb(out, value);
        self.run = None;
    }

    /// Append one token.
    #[inline]
    pub fn push(&mut self, out: &mut Vec<u8>, a: Arg) {
        match a {
            Arg::Word { value, uncertain } => return self.push_word(out, value, uncertain),
            Arg::Open => out.push(OPEN),
            Arg::Close => out.push(CLOSE),
            Arg::Dead => out.push(DEAD),
            Arg::More => out.push(MORE),
        }
        self.run = None;
    }

    /// Close the list: write its length.
    #[inline]
    pub fn end(self, out: &mut Vec<u8>) {
        let mark = self.mark;
        let len = out.len() - mark - 1;
        if len < 0x80 {
            out[mark] = len as u8;
            return;
        }
        let mut prefix = Vec::new();
        put_leb(&mut prefix, len as u64);
        out.splice(mark..mark + 1, prefix);
    }
}

/// Append `v` as a LEB128 number.
#[inline]
fn put_leb(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A LEB128 number at the start of `b`, and the bytes it took.
fn leb(b: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    let mut shift = 0;
    for (i, &byte) in b.iter().enumerate() {
        if shift < 64 {
            value |= u64::from(byte & 0x7f) << shift;
        }
        shift += 7;
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, b.len())
}

/// One frame's argument list, encoded (without its length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgList<'g>(&'g [u8]);

impl<'g> ArgList<'g> {
    /// A list as `ArgEncoder` wrote it (without its length).
    pub fn from_encoded(b: &'g [u8]) -> Self {
        ArgList(b)
    }
    pub fn iter(&self) -> ArgIter<'g> {
        ArgIter {
            rest: self.0,
            zeros: 0,
            unsure: false,
        }
    }
}

/// The tokens of an `ArgList`.
#[derive(Debug, Clone)]
pub struct ArgIter<'g> {
    rest: &'g [u8],
    /// Zero words of the current run still to give.
    zeros: u8,
    unsure: bool,
}

impl Iterator for ArgIter<'_> {
    type Item = Arg;
    fn next(&mut self) -> Option<Arg> {
        if self.zeros > 0 {
            self.zeros -= 1;
            return Some(Arg::Word {
                value: 0,
                uncertain: self.unsure,
            });
        }
        let (&tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        if tag & 0xf0 == ZEROS || tag & 0xf0 == ZEROS_UNSURE {
            self.unsure = tag & 0xf0 == ZEROS_UNSURE;
            self.zeros = (tag & 0x0f).saturating_sub(1);
            return Some(Arg::Word {
                value: 0,
                uncertain: self.unsure,
            });
        }
        Some(match tag {
            WORD | WORD_UNSURE => {
                let (value, n) = leb(self.rest);
                self.rest = &self.rest[n..];
                Arg::Word {
                    value,
                    uncertain: tag == WORD_UNSURE,
                }
            }
            OPEN => Arg::Open,
            CLOSE => Arg::Close,
            DEAD => Arg::Dead,
            _ => Arg::More,
        })
    }
}

/// The arguments of one frame of one goroutine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args<'g> {
    /// The format prints none (debug=1, Delve).
    Absent,
    /// `(...)`: the frame was inlined; its arguments are not known.
    Inlined,
    /// The printed words, flattened, `{`/`}` kept as markers.
    List(ArgList<'g>),
}

impl<'g> Args<'g> {
    fn tokens(&self) -> ArgIter<'g> {
        match self {
            Args::List(l) => l.iter(),
            _ => ArgList(&[]).iter(),
        }
    }

    /// The printed words (composites flattened), with their `?` marks.
    pub fn words(&self) -> impl Iterator<Item = (u64, bool)> + 'g {
        self.tokens().filter_map(|a| match a {
            Arg::Word { value, uncertain } => Some((value, uncertain)),
            _ => None,
        })
    }

    /// The first argument if it is a single word printed without `?`: for a method,
    /// the receiver pointer.
    pub fn first_certain_word(&self) -> Option<u64> {
        match self.tokens().next() {
            Some(Arg::Word {
                value,
                uncertain: false,
            }) => Some(value),
            _ => None,
        }
    }

    /// Rendered back the way the runtime prints it.
    pub fn render(&self) -> String {
        match self {
            Args::Absent => String::new(),
            Args::Inlined => "...".to_string(),
            Args::List(l) => {
                let mut out = String::new();
                let mut need_sep = false;
                for a in l.iter() {
                    if a == Arg::Close {
                        out.push('}');
                        need_sep = true;
                        continue;
                    }
                    if need_sep {
                        out.push_str(", ");
                    }
                    match a {
                        Arg::Word { value, uncertain } => {
                            out.push_str(&format!("{value:#x}"));
                            if uncertain {
                                out.push('?');
                            }
                            need_sep = true;
                        }
                        Arg::Open => {
                            out.push('{');
                            need_sep = false;
                        }
                        Arg::Dead => {
                            out.push('_');
                            need_sep = true;
                        }
                        Arg::More => {
                            out.push_str("...");
                            need_sep = true;
                        }
                        Arg::Close => {}
                    }
                }
                out
            }
        }
    }
}

/// Walks a goroutine's frames and their argument lists together.
pub struct FrameArgs<'g, 'a> {
    frames: std::slice::Iter<'g, Frame<'a>>,
    data: &'g [u8],
}

impl<'g, 'a> Iterator for FrameArgs<'g, 'a> {
    type Item = (&'g Frame<'a>, Args<'g>);
    fn next(&mut self) -> Option<Self::Item> {
        let f = self.frames.next()?;
        let args = match f.args {
            ArgsKind::Absent => Args::Absent,
            ArgsKind::Inlined => Args::Inlined,
            ArgsKind::List => {
                let (n, at) = leb(self.data);
                let end = (at + n as usize).min(self.data.len());
                let list = ArgList(&self.data[at..end]);
                self.data = &self.data[end..];
                Args::List(list)
            }
        };
        Some((f, args))
    }
}

impl<'a> Goroutine<'a> {
    /// A goroutine with only these known: no frames yet, nothing else printed.
    pub fn new(id: Option<u64>, line: usize, state: State<'a>) -> Self {
        Goroutine::with_frames(id, line, state, Arc::from(Vec::new()))
    }

    /// A goroutine with these frames (a list shared with others, or an empty list
    /// to fill), nothing else printed.
    pub fn with_frames(
        id: Option<u64>,
        line: usize,
        state: State<'a>,
        frames: Arc<[Frame<'a>]>,
    ) -> Self {
        Goroutine {
            id,
            count: 1,
            line,
            state,
            wait_minutes: None,
            locked_to_thread: false,
            scan: false,
            durable: false,
            leaked: false,
            frames,
            args: ArgData::default(),
            stack_unavailable: false,
            runtime_on_top: false,
            creator: None,
            creator_parent: None,
            complete: true,
            rare: None,
        }
    }

    /// Where it was started (`created by ...`), when printed.
    pub fn created_by(&self) -> Option<CreatedBy<'a>> {
        self.creator.as_ref().map(|f| CreatedBy {
            function: f.function,
            file: f.file,
            line: f.line,
            parent: self.creator_parent,
        })
    }

    /// Set where it was started: `site` is the creator's frame (of `CreatedBy::site`),
    /// `parent` the parent's id when printed.
    pub fn set_creator(&mut self, site: Frame<'a>, parent: Option<u64>) {
        self.creator = Some(site);
        self.creator_parent = parent;
    }

    /// The rarely printed fields, to set them (boxed on first use).
    pub fn rare_mut(&mut self) -> &mut Rare<'a> {
        self.rare.get_or_insert_with(Box::default)
    }

    /// See `Rare::wait_since`.
    pub fn wait_since(&self) -> Option<u64> {
        self.rare.as_ref().and_then(|r| r.wait_since)
    }

    /// See `Rare::bubble`.
    pub fn bubble(&self) -> Option<u64> {
        self.rare.as_ref().and_then(|r| r.bubble)
    }

    /// See `Rare::labels`.
    pub fn labels(&self) -> Option<&'a str> {
        self.rare.as_ref().and_then(|r| r.labels)
    }

    /// See `Rare::elided`.
    pub fn elided(&self) -> Option<u32> {
        self.rare.as_ref().and_then(|r| r.elided)
    }

    /// See `Rare::ancestors`.
    pub fn ancestors(&self) -> &[Ancestor<'a>] {
        self.rare.as_ref().map_or(&[], |r| &r.ancestors)
    }

    /// The frames, innermost first, each with its arguments.
    pub fn frames_args(&self) -> FrameArgs<'_, 'a> {
        FrameArgs {
            frames: self.frames.iter(),
            data: self.args.bytes(),
        }
    }

    /// The arguments of frame `i`.
    pub fn args_of(&self, i: usize) -> Args<'_> {
        self.frames_args().nth(i).map_or(Args::Absent, |(_, a)| a)
    }
}

/// One stack frame: a handle on its fields (`FrameData`, read through it as if they
/// were its own), one word wide. A reader keeps one `FrameData` per distinct frame
/// and hands out handles on it: a million goroutines each on a stack of its own
/// still stand in a few thousand distinct frames, and their frame lists are lists
/// of handles. Argument values are not here but on the goroutine
/// (`Goroutine::frames_args`). Two frames are equal when their fields are.
/// Its hash is worked out once, when it is made: frame lists are hashed whole
/// (to share one list per stack) with a word read per frame.
#[derive(Clone)]
pub struct Frame<'a>(Arc<Hashed<'a>>);

/// A frame's fields and their hash (`FrameData::fingerprint`).
struct Hashed<'a> {
    data: FrameData<'a>,
    hash: u64,
}

impl<'a> Frame<'a> {
    pub fn new(data: FrameData<'a>) -> Self {
        let hash = data.fingerprint();
        Frame(Arc::new(Hashed { data, hash }))
    }

    /// A frame known by its program counter, with no argument values and no
    /// `+0x` offset printed: Delve's frames and the binary profile's.
    pub fn at_pc(function: FuncName<'a>, pc: u64, file: &'a str, line: u32) -> Self {
        Frame::new(FrameData {
            function,
            args: ArgsKind::Absent,
            file,
            line,
            offset: None,
            pc: Some(pc),
        })
    }
}

impl Frame<'_> {
    /// Where its fields are kept: frames with one handle are one frame (frames
    /// with two may still be equal, read by two readers). For reading each
    /// distinct frame once.
    pub fn handle(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

impl<'a> std::ops::Deref for Frame<'a> {
    type Target = FrameData<'a>;
    fn deref(&self) -> &FrameData<'a> {
        &self.0.data
    }
}

impl<'a> std::borrow::Borrow<FrameData<'a>> for Frame<'a> {
    fn borrow(&self) -> &FrameData<'a> {
        &self.0.data
    }
}

impl PartialEq for Frame<'_> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.data == other.0.data)
    }
}

impl Eq for Frame<'_> {}

impl std::hash::Hash for Frame<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.data.fmt(f)
    }
}

/// What a frame says (`Frame` is a handle on it). Hashed as its `fingerprint`, as
/// a `Frame` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameData<'a> {
    pub function: FuncName<'a>,
    pub args: ArgsKind,
    /// Source file as printed (absolute, `-trimpath`, Windows, `<autogenerated>`, `??`).
    pub file: &'a str,
    pub line: u32,
    /// `+0x1d`: offset of the PC in the function; absent for inlined frames.
    pub offset: Option<u64>,
    /// The PC when the format prints one (debug=1, Delve, `pc=` suffix).
    pub pc: Option<u64>,
}

impl std::hash::Hash for FrameData<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint());
    }
}

impl FrameData<'_> {
    /// A hash of every field.
    fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        self.function.hash(&mut h);
        self.args.hash(&mut h);
        self.file.hash(&mut h);
        self.line.hash(&mut h);
        self.offset.hash(&mut h);
        self.pc.hash(&mut h);
        h.finish()
    }

    /// The arguments of a frame that carries no values of its own (an ancestor's:
    /// Go prints them as `(...)`).
    pub fn args_alone(&self) -> Args<'static> {
        match self.args {
            ArgsKind::Inlined => Args::Inlined,
            ArgsKind::Absent => Args::Absent,
            ArgsKind::List => Args::List(ArgList(&[])),
        }
    }

    /// An inlined frame: traceback `(...)`, or a debug=1/Delve frame sharing its PC with
    /// the frame below is not detectable, so only tracebacks set this.
    pub fn inlined(&self) -> bool {
        matches!(self.args, ArgsKind::Inlined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written frames: encoded argument lists read back as written, frame by
    // frame, a list too long for a one-byte length among them.
    /// The argument lists one after the other, in the encoding of `ArgData`.
    fn encode_lists(lists: &[&[Arg]]) -> Vec<u8> {
        let mut data = Vec::new();
        for list in lists {
            let mut enc = ArgEncoder::begin(&mut data);
            for &a in list.iter() {
                enc.push(&mut data, a);
            }
            enc.end(&mut data);
        }
        data
    }

    /// A goroutine with a frame of each kind of argument list, reading its
    /// arguments from `data` (`encode_lists`).
    fn goroutine_with_args(kinds: &[ArgsKind], data: &[u8]) -> Goroutine<'static> {
        let frame = |args| {
            Frame::new(FrameData {
                function: FuncName("main.f"),
                args,
                file: "/x/main.go",
                line: 1,
                offset: None,
                pc: None,
            })
        };
        let chunk: ArgChunk = Arc::new(data.into());
        let mut args = ArgData::pending(0, data.len());
        args.in_chunk(&chunk);
        let mut g = Goroutine::new(Some(1), 1, State::unknown());
        g.frames = kinds.iter().map(|&k| frame(k)).collect::<Vec<_>>().into();
        g.args = args;
        g
    }

    #[test]
    fn encoded_arguments_read_back_per_frame() {
        let long: Vec<Arg> = (0..40)
            .map(|i| Arg::Word {
                value: 0xc000_0000_0000 + i,
                uncertain: i % 3 == 0,
            })
            .collect();
        let short = vec![
            Arg::Open,
            Arg::Word {
                value: 0,
                uncertain: false,
            },
            Arg::Close,
            Arg::Dead,
            Arg::More,
        ];
        // Runs of zeros, longer than one run byte holds, certain and not mixed.
        let zero = |uncertain| Arg::Word {
            value: 0,
            uncertain,
        };
        let mut zeros: Vec<Arg> = vec![zero(true); 20];
        zeros.extend([zero(false), zero(true), Arg::Open, zero(true), Arg::Close]);
        let data = encode_lists(&[&long, &short, &zeros]);
        assert!(data.len() > 200, "the long list needs a two-byte length");
        let g = goroutine_with_args(
            &[
                ArgsKind::List,
                ArgsKind::Inlined,
                ArgsKind::List,
                ArgsKind::Absent,
                ArgsKind::List,
            ],
            &data,
        );
        let read: Vec<Option<Vec<Arg>>> = g
            .frames_args()
            .map(|(_, a)| match a {
                Args::List(l) => Some(l.iter().collect()),
                _ => None,
            })
            .collect();
        assert_eq!(
            read,
            vec![Some(long.clone()), None, Some(short), None, Some(zeros)]
        );
        assert_eq!(
            g.args_of(4).render(),
            format!("{}0x0, 0x0?, {{0x0?}}", "0x0?, ".repeat(20))
        );
        assert_eq!(g.args_of(1), Args::Inlined);
        assert_eq!(g.args_of(2).render(), "{0x0}, _, ...");
        assert_eq!(
            g.args_of(0).first_certain_word(),
            None,
            "the first word is marked `?`"
        );
        assert_eq!(g.args_of(0).words().nth(1), Some((0xc000_0000_0001, false)));
    }

    // Names as the Go runtime prints them (real frames from the fixtures and Go's own
    // packages).
    #[test]
    fn func_name_parts() {
        let cases = [
            ("net/http.(*conn).serve", "net/http", Some("*conn"), "serve"),
            (
                "main.Semaphore.Acquire",
                "main",
                Some("Semaphore"),
                "Acquire",
            ),
            ("main.main.func1", "main", None, "main"),
            (
                "main.(*keyedLimiter).Acquire.func1",
                "main",
                Some("*keyedLimiter"),
                "Acquire",
            ),
            (
                "net/http.(*connReader).startBackgroundRead.gowrap2",
                "net/http",
                Some("*connReader"),
                "startBackgroundRead",
            ),
            ("main.Map[...]", "main", None, "Map[...]"),
            (
                "internal/sync.(*Mutex).lockSlow",
                "internal/sync",
                Some("*Mutex"),
                "lockSlow",
            ),
            // Go escapes dots in an import path's last element: yaml.v2 prints yaml%2ev2
            (
                "gopkg.in/yaml%2ev2.(*decoder).unmarshal",
                "gopkg.in/yaml%2ev2",
                Some("*decoder"),
                "unmarshal",
            ),
        ];
        for (full, pkg, recv, name) in cases {
            let f = FuncName(full);
            assert_eq!(f.package(), pkg, "{full}");
            assert_eq!(f.receiver(), recv, "{full}");
            assert_eq!(f.name(), name, "{full}");
        }
    }

    #[test]
    fn statement_wrappers_are_told_from_closures() {
        // Names as Go 1.21+ prints them (fixtures' Delve and debug=2 captures).
        let wrappers = [
            "fixtures/harness.serve.gowrap1",
            "net/http.(*connReader).startBackgroundRead.gowrap2",
            "main.main.deferwrap1",
        ];
        for full in wrappers {
            assert!(FuncName(full).is_statement_wrapper(), "{full}");
        }
        let not = [
            "main.main.func1",
            "main.gowrap",
            "main.(*T).gowrap1x",
            "main.worker",
        ];
        for full in not {
            assert!(!FuncName(full).is_statement_wrapper(), "{full}");
        }
    }
}
