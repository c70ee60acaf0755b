//! bytes → model. The reading path, in order:
//!
//! 1. `crate::input` maps the file or streams the pipe, undoes gzip, hands the
//!    binary profile to `pprof` (prost) and refuses other binary input;
//! 2. `prefix` tells from the first lines whether they carry a log prefix (CRI,
//!    Docker, journald, kubectl, klog) or colours, and takes them off;
//! 3. `pieces` cuts the text at goroutine boundaries into pieces read on every core;
//! 4. `detect` reads each piece line by line and gives each line to its format's
//!    reader (`read`: the drivers; `traceback`, `profile`, `delve`: one nom parser
//!    per line shape; `stack`: the fast path for stacks read before);
//! 5. `snapshots` decides where one snapshot ends and the next begins;
//! 6. `join` puts the pieces back together as one serial read would have.
//!
//! It never fails: what cannot be read becomes a diagnostic, text outside dumps is
//! skipped. Parsing never judges what is suspicious: that is `analyze`'s job.

pub mod delve;
pub mod keep;
pub mod lines;
pub mod pprof;
pub mod prefix;
pub mod profile;
pub mod stack;
pub mod traceback;

mod detect;
mod join;
mod pieces;
mod read;
mod snapshots;

use crate::model::{
    Ancestor, ArgData, ArgsKind, CreatedBy, Diagnostic, DiagnosticKind, Dump, Format, Frame,
    FrameData, FuncName, Goroutine, State, Trigger, WaitReason,
};
use detect::*;
use join::*;
pub use keep::{Arena, Borrow, InArena, Keep};
use lines::Lines;
use pieces::*;
pub use pieces::{
    parse_bytes, parse_parallel, parse_reader, sanitize_utf8, StreamError, StreamOptions,
    BLOCK_BYTES, PARALLEL_MIN_BYTES,
};
use read::*;
use regex::Regex;
use rustc_hash::{FxHashMap, FxHashSet};
use snapshots::*;
use stack::{Segment, Shapes};
use std::io::Read;
use std::sync::Arc;
use std::sync::OnceLock;
use traceback::PreambleLine;

/// Everything read from one input.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// The snapshots found, in input order.
    pub dumps: Vec<Dump<'a>>,
    /// Lines outside any dump (log lines and the like).
    pub skipped_lines: usize,
    /// The first non-blank line skipped, to explain input that held no dump.
    pub first_skipped: Option<&'a str>,
}

impl<'a> Parsed<'a> {
    /// The most recent snapshot with goroutines in it (the one a report is about).
    pub fn latest(&self) -> Option<&Dump<'a>> {
        self.dumps.iter().rev().find(|d| !d.goroutines.is_empty())
    }

    pub fn goroutine_count(&self) -> u64 {
        self.dumps.iter().map(|d| d.total()).sum()
    }
}

/// A stack read before: its frames and its creator (whose parent id is each
/// goroutine's own).
struct Known<'a> {
    frames: Arc<[Frame<'a>]>,
    /// Where its goroutines were started (`CreatedBy::site`, interned); the parent
    /// is each goroutine's own.
    creator: Frame<'a>,
    /// The stack's elision line's count (`Rare::elided`), which its text includes.
    elided: Option<u32>,
    /// The argument values of the last goroutine read with it: the next one often
    /// has the same.
    last_args: Option<LastArgs>,
}

/// Where the argument values of a goroutine are in `Reader::piece_args`.
#[derive(Debug, Clone, Copy)]
struct LastArgs {
    /// Which piece `Reader::piece_args` held them in (`Reader::piece`).
    piece: usize,
    start: usize,
    len: usize,
}

/// What one thread's parsing keeps from one piece of input to the next: where the
/// strings go, the stacks already read (by shape, `stack::scan`), the argument
/// lists already seen. FxHash: the keys are hashed once per goroutine; SipHash's DoS
/// resistance buys nothing here.
pub struct Reader<'a, K> {
    keep: K,
    stacks: Shapes,
    /// The stacks in `stacks`, by shape number.
    known: Vec<Known<'a>>,
    /// The lines `stack::scan` read.
    segments: Vec<Segment>,
    /// The argument values of the goroutines of the piece being read, one after the
    /// other; shared by them all once the piece is read.
    piece_args: Vec<u8>,
    /// An empty frame list, for goroutines whose frames are read line by line.
    empty: Arc<[Frame<'a>]>,
    /// Where the nom reader gathers a stack's frames before they become its list
    /// (kept from one stack to the next: no allocation, no growing, per stack).
    frame_buf: Vec<Frame<'a>>,
    /// Which piece `piece_args` is for (to tell a stale `Known::last_args`).
    piece: usize,
    /// The argument values `stack::scan` encoded.
    scanned: Vec<u8>,
    /// The argument values the nom reader encoded.
    encoded: Vec<u8>,
    /// The argument values of the function line last read by `args_fast`, until its
    /// frame is filed.
    line_args: Vec<u8>,
    /// The function lines read last, for `traceback::func_line_fast` not to read
    /// them again.
    recent: traceback::RecentFuncLines,
    /// The frames read after the function lines of `recent`.
    recent_frames: RecentFrames<'a>,
    /// Whether stacks of a shape read before are shared (`stack::Shapes`); off only
    /// to check that fast path against the nom reader.
    fast: bool,
    /// How the tree of shapes pays: stacks found in it, shapes filed in it.
    tree: TreeUse,
    /// One handle per distinct frame read: frame lists hold handles on these.
    frames: FxHashSet<Frame<'a>>,
    /// The frames read from traceback lines, by a hash of the lines' text
    /// (`Reader::seen_frame`): a stack of its own is mostly frames read before,
    /// found without parsing their file lines again.
    lines_seen: FxHashMap<u64, Vec<SeenLines<'a>>>,
}

/// Whether the tree of stacks read before (`Reader::stacks`) is worth growing. Where
/// nearly every stack is new (every goroutine on a stack of its own), filing each one
/// costs a scan, a copy of its text and a node per line, and none is ever matched:
/// once it has filed `TreeUse::TRIAL` shapes and found fewer stacks than half as many,
/// it stops filing (and scanning) and keeps matching against the shapes it holds. A
/// reading's results never depend on it: a stack not found is read by nom.
///
/// Matching a stack against the tree pays only where it is found often: a stack of
/// its own often walks most of the way down a stack read before (the same innermost
/// frames) before it parts from it, and is then read by nom all the same. Once
/// `TreeUse::TRIAL` stacks were looked for and fewer than a quarter found, one in
/// `TreeUse::SAMPLE` is looked for, which tells when stacks read before come back.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TreeUse {
    pub(crate) found: u64,
    pub(crate) filed: u64,
    /// Stacks looked for in the tree.
    pub(crate) tried: u64,
    /// Stacks not looked for since the last one that was.
    pub(crate) skipped: u64,
}

impl TreeUse {
    const TRIAL: u64 = 4096;
    const SAMPLE: u64 = 32;

    /// Whether a new stack is to be scanned and filed.
    pub(crate) fn grows(&self) -> bool {
        self.filed < Self::TRIAL || self.found * 2 >= self.filed
    }

    /// Whether the next stack is to be looked for in the tree (and counted so).
    pub(crate) fn tries(&mut self) -> bool {
        let pays = self.tried < Self::TRIAL || self.found * 4 >= self.tried;
        if pays || self.skipped + 1 >= Self::SAMPLE {
            self.skipped = 0;
            self.tried += 1;
            return true;
        }
        self.skipped += 1;
        false
    }
}

impl<'a, K> Reader<'a, K> {
    pub fn new(keep: K) -> Self {
        Reader {
            keep,
            stacks: Shapes::default(),
            known: Vec::new(),
            segments: Vec::new(),
            piece_args: Vec::new(),
            empty: Arc::from(Vec::new()),
            frame_buf: Vec::new(),
            piece: 0,
            scanned: Vec::new(),
            encoded: Vec::new(),
            line_args: Vec::new(),
            recent: traceback::RecentFuncLines::default(),
            recent_frames: RecentFrames::default(),
            fast: true,
            tree: TreeUse::default(),
            frames: FxHashSet::default(),
            lines_seen: FxHashMap::default(),
        }
    }

    /// The handle on `data`: the one handed out before for a frame alike.
    fn frame(&mut self, data: FrameData<'a>) -> Frame<'a> {
        if let Some(f) = self.frames.get(&data) {
            return f.clone();
        }
        let f = Frame::new(data);
        self.frames.insert(f.clone());
        f
    }

    /// Keep a goroutine's argument values with the piece's.
    fn store_args(piece_args: &mut Vec<u8>, bytes: &[u8]) -> ArgData {
        let start = piece_args.len();
        piece_args.extend_from_slice(bytes);
        ArgData::pending(start, bytes.len())
    }
}

impl<'b, 'a, K: Keep<'b, 'a>> Reader<'a, K> {
    fn state(&mut self, s: State<'b>) -> State<'a> {
        match s.reason {
            WaitReason::Other => State::new(self.keep.keep(s.raw)),
            // A known reason's text is the runtime's: the static spelling is the same.
            WaitReason::Unknown => State::unknown(),
            _ => State::new(s.reason.as_str_static()),
        }
    }
    fn func(&mut self, f: FuncName<'b>) -> FuncName<'a> {
        FuncName(self.keep.keep(f.0))
    }
}

/// Parse every goroutine dump found in `text`. Never fails: what cannot be read
/// becomes a diagnostic on the dump it belongs to, and text outside dumps is skipped.
/// Large inputs are cut at goroutine boundaries and read on all cores; the result is
/// the same as reading them in one piece.
pub fn parse(text: &str) -> Parsed<'_> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if text.len() < PARALLEL_MIN_BYTES || threads < 2 {
        return parse_serial(text);
    }
    parse_parallel(text, threads)
}

/// Parse on this thread.
pub fn parse_serial(text: &str) -> Parsed<'_> {
    let mut p = parse_with(text, &mut Reader::new(Borrow));
    share_frames(&mut p);
    p
}

/// Parse on this thread with the nom reader alone, every stack read in full: what
/// the fast path for repeated stacks is checked against.
pub fn parse_without_shortcuts(text: &str) -> Parsed<'_> {
    let mut r = Reader::new(Borrow);
    r.fast = false;
    let mut p = parse_with(text, &mut r);
    share_frames(&mut p);
    p
}

/// Parse `text` with `reader`'s caches, keeping strings as it says.
pub fn parse_with<'b, 'a, K: Keep<'b, 'a>>(
    text: &'b str,
    reader: &mut Reader<'a, K>,
) -> Parsed<'a> {
    parse_piece(Lines::new(text), reader).parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written input: a bad-input case (a stack cut in the middle, log lines around).
    #[test]
    fn cut_stack_is_kept_and_flagged() {
        let text = "log line\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n\ngoroutine 2 [chan send]:\nmain.f()\n";
        let p = parse(text);
        assert_eq!(p.dumps.len(), 1);
        let d = &p.dumps[0];
        assert_eq!(d.goroutines.len(), 2);
        assert!(d.goroutines[0].complete);
        assert!(!d.goroutines[1].complete);
        assert_eq!(d.truncated_at(), Some(7));
        assert_eq!(p.skipped_lines, 1);
    }

    // Hand-written input: two snapshots concatenated are kept apart.
    // Ids rising, then one out of order: the set answers alike before and after it
    // moves them to a hash set.
    #[test]
    fn id_set_tells_repeats_in_any_order() {
        let mut ids = IdSet::default();
        ids.extend([3, 5, 9, 9]);
        assert!(ids.set.is_none(), "rising ids stay a list");
        assert!(ids.contains(5) && ids.contains(9) && !ids.contains(4) && !ids.contains(10));
        ids.insert(4);
        assert!(ids.set.is_some());
        for id in [3, 4, 5, 9] {
            assert!(ids.contains(id), "{id}");
        }
        assert!(!ids.contains(6) && !ids.contains(10));
        ids.clear();
        assert!(!ids.contains(3));
    }

    #[test]
    fn repeated_id_starts_a_new_dump() {
        let g = "goroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n\n";
        let text = format!("{g}{g}");
        let p = parse(&text);
        assert_eq!(p.dumps.len(), 2);
    }

    // Hand-written bytes: a Latin-1 byte, a cut multi-byte sequence at the end.
    #[test]
    fn invalid_utf8_is_repaired_in_place() {
        let mut b = b"goroutine 1 [running]:\n\xe9t\xc3".to_vec();
        assert_eq!(sanitize_utf8(&mut b), "goroutine 1 [running]:\n?t?");
        let mut ok = "é ok".as_bytes().to_vec();
        assert_eq!(sanitize_utf8(&mut ok), "é ok");
    }
}
