//! bytes → model. One module per input format; this one finds where each dump
//! starts in the text, hands lines to the format's reader, and keeps going past
//! anything it does not understand (log lines, register dumps, a broken stack).
//!
//! Parsing never judges what is suspicious: that is `analyze`'s job.

pub mod delve;
pub mod keep;
pub mod lines;
pub mod pprof;
pub mod prefix;
pub mod profile;
pub mod stack;
pub mod traceback;

use std::io::Read;
use std::sync::Arc;
use std::sync::OnceLock;

use regex::Regex;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::{
    Ancestor, ArgData, ArgsKind, CreatedBy, Diagnostic, DiagnosticKind, Dump, Format, Frame,
    FuncName, Goroutine, State, Trigger, WaitReason,
};
pub use keep::{Arena, Borrow, InArena, Keep};
use lines::Lines;
use stack::{Segment, Shapes};
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

struct Builder<'a> {
    dumps: Vec<Dump<'a>>,
    cur: Option<Dump<'a>>,
    seen: IdSet,
    /// Preamble lines read since the last goroutine.
    preamble: Vec<&'a str>,
    trigger: Trigger,
    preamble_line: usize,
    skipped: usize,
    first_skipped: Option<&'a str>,
    /// Delve's `goroutine N` switched to goroutine N: frames printed next are its.
    delve_focus: Option<u64>,
}

/// The goroutine ids of a dump so far, to tell when one repeats (a new dump).
/// Ids often come in rising order (goroutines of a young process): while they do,
/// they are kept in a sorted list and a new one is only compared with the last.
/// The first id out of order moves them to a hash set.
#[derive(Default)]
struct IdSet {
    rising: Vec<u64>,
    set: Option<FxHashSet<u64>>,
}

impl IdSet {
    fn contains(&self, id: u64) -> bool {
        match &self.set {
            Some(s) => s.contains(&id),
            None => match self.rising.last() {
                Some(&last) if id > last => false,
                _ => self.rising.binary_search(&id).is_ok(),
            },
        }
    }

    fn insert(&mut self, id: u64) {
        if let Some(s) = &mut self.set {
            s.insert(id);
            return;
        }
        match self.rising.last() {
            Some(&last) if id <= last => {
                if id != last && self.rising.binary_search(&id).is_err() {
                    let mut s: FxHashSet<u64> = self.rising.drain(..).collect();
                    s.insert(id);
                    self.set = Some(s);
                }
            }
            _ => self.rising.push(id),
        }
    }

    fn clear(&mut self) {
        self.rising.clear();
        self.set = None;
    }
}

impl Extend<u64> for IdSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

/// A stack read before: its frames and its creator (whose parent id is each
/// goroutine's own).
struct Known<'a> {
    frames: Arc<[Frame<'a>]>,
    created_by: CreatedBy<'a>,
    /// The argument values of the last goroutine read with it in this piece (in
    /// `Reader::piece_args`): the next one often has the same.
    last_args: Option<(usize, usize, usize)>,
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
    /// Which piece `piece_args` is for (to tell a stale `Known::last_args`).
    piece: usize,
    /// The argument values `stack::scan` encoded.
    scanned: Vec<u8>,
    /// The argument values the nom reader encoded.
    encoded: Vec<u8>,
    /// Whether stacks of a shape read before are shared (`stack::Shapes`); off only
    /// to check that fast path against the nom reader.
    fast: bool,
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
            piece: 0,
            scanned: Vec::new(),
            encoded: Vec::new(),
            fast: true,
        }
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
            WaitReason::Other(_) => State::new(self.keep.keep(s.raw)),
            // A known reason's text is the runtime's: the static spelling is the same.
            WaitReason::Unknown => State::unknown(),
            _ => State::new(s.reason.as_str_static()),
        }
    }
    fn func(&mut self, f: FuncName<'b>) -> FuncName<'a> {
        FuncName(self.keep.keep(f.0))
    }
}

impl<'a> Builder<'a> {
    fn finish(&mut self) {
        if let Some(mut d) = self.cur.take() {
            finalize(&mut d);
            self.dumps.push(d);
        }
        self.seen.clear();
    }

    /// The dump a goroutine with this format and id goes into, starting a new one when
    /// the format changes, an id repeats, or a preamble announced a new dump.
    fn dump_for(&mut self, format: Format, id: Option<u64>, line: usize) -> &mut Dump<'a> {
        let new = match &self.cur {
            None => true,
            Some(d) => {
                d.format != format
                    || !self.preamble.is_empty()
                    || id.is_some_and(|id| self.seen.contains(id))
            }
        };
        if new {
            self.finish();
            let first_line = if self.preamble.is_empty() {
                line
            } else {
                self.preamble_line
            };
            self.cur = Some(Dump {
                format,
                trigger: std::mem::replace(&mut self.trigger, Trigger::Plain),
                preamble: std::mem::take(&mut self.preamble),
                go_version: None,
                go_version_min: None,
                declared_total: None,
                leak_profile: false,
                first_line,
                goroutines: Vec::new(),
                diagnostics: Vec::new(),
            });
        }
        if let Some(id) = id {
            self.seen.insert(id);
        }
        self.cur.as_mut().expect("dump just ensured")
    }
}

/// Inputs at least this large are parsed on every core, split at goroutine boundaries.
pub const PARALLEL_MIN_BYTES: usize = 32 << 20;

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

/// Where a piece of input may be cut: the start of a goroutine header that follows
/// a blank line that follows a tab-indented line (the end of a stack, as a rule).
/// The header must read as one, whole: the serial reader then starts or continues a
/// traceback dump there whatever came before (a line that only looks like one,
/// inside a debug=1 profile, say, would leave the profile's records after it
/// without their header). Preamble lines may still end the piece before (a panic
/// message with a tab-indented line); the joiner hands them on. The first such
/// header starting after `from` (or the last one in `from..to`, with `last`).
fn cut_point(bytes: &[u8], from: usize, to: usize, last: bool) -> Option<usize> {
    let ok = |at: usize| {
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
        if bytes.get(line_start) != Some(&b'\t') {
            return false;
        }
        let head = &bytes[at + 2..];
        let Some(end) = memchr::memchr(b'\n', head) else {
            return false;
        };
        let line = &head[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        std::str::from_utf8(line).is_ok_and(|l| traceback::header(l).is_ok())
    };
    const AT: &[u8] = b"\n\ngoroutine ";
    let hay = &bytes[from..to];
    let at = if last {
        memchr::memmem::rfind_iter(hay, AT)
            .map(|i| from + i)
            .find(|&at| ok(at))
    } else {
        memchr::memmem::find_iter(hay, AT)
            .map(|i| from + i)
            .find(|&at| ok(at))
    };
    at.map(|at| at + 2)
}

/// Cut points near each of `parts - 1` even splits.
fn cuts(text: &str, parts: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let bytes = text.as_bytes();
    for k in 1..parts {
        let from = (text.len() * k / parts).max(*cuts.last().unwrap_or(&0));
        match cut_point(bytes, from, bytes.len(), false) {
            Some(c) => cuts.push(c),
            None => break,
        }
    }
    cuts.push(text.len());
    cuts.dedup();
    cuts
}

/// Read the parts on their own threads, then join them.
pub fn parse_parallel(text: &str, parts: usize) -> Parsed<'_> {
    let cuts = cuts(text, parts);
    let pieces: Vec<Piece<'_>> = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &text[w[0]..w[1]];
                s.spawn(move || parse_piece(Lines::new(part), &mut Reader::new(Borrow)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parser thread"))
            .collect()
    });
    join(pieces)
}

/// Joins pieces read apart, in input order, each with the number of newlines it
/// held: a piece that starts with a goroutine (no preamble) continues the previous
/// piece's last dump unless an id repeats, exactly as the serial reader decides.
struct Joiner<'a> {
    out: Option<Parsed<'a>>,
    line_offset: usize,
    /// Ids of the last dump so far.
    ids: IdSet,
    /// Preamble lines read with no goroutine after them yet.
    pending: Option<Trailing<'a>>,
    /// One frame list per stack, as pieces come in (see `share_frames`).
    frames: SharedFrames<'a>,
    /// Pieces back before the ones before them (`push_at`), by number.
    waiting: Vec<Option<Piece<'a>>>,
    /// Number of the next piece to join.
    next: usize,
    /// The last dump holds the goroutine that printed it (`is_dump_writer`).
    last_writer: bool,
}

impl<'a> Joiner<'a> {
    fn new() -> Self {
        Joiner {
            out: None,
            line_offset: 0,
            ids: IdSet::default(),
            pending: None,
            frames: SharedFrames::default(),
            waiting: Vec::new(),
            next: 0,
            last_writer: false,
        }
    }

    /// Join piece number `i` (counting from 0) once those before it are joined:
    /// workers finish out of order.
    fn push_at(&mut self, i: usize, piece: Piece<'a>) {
        if self.waiting.len() <= i {
            self.waiting.resize_with(i + 1, || None);
        }
        self.waiting[i] = Some(piece);
        while let Some(Some(p)) = self.waiting.get_mut(self.next).map(Option::take) {
            self.next += 1;
            self.push(p);
        }
    }

    fn push(&mut self, piece: Piece<'a>) {
        let Piece {
            parsed: mut piece,
            newlines,
            mut trailing,
            bad_utf8,
        } = piece;
        debug_assert!(!bad_utf8, "a piece with bad UTF-8 is read again, repaired");
        for g in piece.dumps.iter_mut().flat_map(|d| d.goroutines.iter_mut()) {
            self.frames.share(g);
        }
        let line_offset = self.line_offset;
        self.line_offset += newlines;
        if let Some(t) = trailing.as_mut() {
            t.first_line += line_offset;
        }
        let Some(out) = self.out.as_mut() else {
            // The first piece is taken as it is.
            if let Some(d) = piece.dumps.last() {
                self.ids.extend(d.goroutines.iter().filter_map(|g| g.id));
                self.last_writer = d.goroutines.iter().any(is_dump_writer);
            }
            self.out = Some(piece);
            self.pending = trailing;
            return;
        };
        for d in &mut piece.dumps {
            d.first_line += line_offset;
            for g in &mut d.goroutines {
                g.line += line_offset;
            }
            for x in &mut d.diagnostics {
                x.line += line_offset;
            }
        }
        // Preamble lines the piece before ended with announce this piece's first
        // dump (a debug=1 header drops them, as the serial reader does).
        match (self.pending.take(), piece.dumps.first_mut()) {
            (Some(p), Some(d)) if d.declared_total.is_none() => {
                d.preamble.splice(0..0, p.lines);
                d.first_line = p.first_line;
                d.trigger = d
                    .preamble
                    .iter()
                    .filter_map(|l| traceback::preamble(l))
                    .fold(Trigger::Plain, next_trigger);
            }
            (Some(p), None) => {
                // Still no goroutine: the lines wait on.
                let mut lines = p.lines;
                if let Some(t) = trailing.take() {
                    lines.extend(t.lines);
                }
                trailing = Some(Trailing {
                    lines,
                    first_line: p.first_line,
                });
            }
            _ => {}
        }
        self.pending = trailing;
        out.skipped_lines += piece.skipped_lines;
        out.first_skipped = out.first_skipped.or(piece.first_skipped);
        for d in piece.dumps {
            // A dump the text starts (a preamble, a debug=1 header, another format)
            // starts here whatever came before; one the piece started (at its first
            // goroutine, or where an id repeated within it) is read again goroutine
            // by goroutine against the ids of the dump before, as the serial reader
            // reads it.
            let started_by_text = !d.preamble.is_empty()
                || d.declared_total.is_some()
                || out.dumps.last().is_none_or(|l| l.format != d.format)
                || (self.last_writer && d.goroutines.first().is_some_and(is_dump_writer));
            let writer = d.goroutines.iter().any(is_dump_writer);
            if started_by_text {
                self.ids.clear();
                self.ids.extend(d.goroutines.iter().filter_map(|g| g.id));
                self.last_writer = writer;
                out.dumps.push(d);
                continue;
            }
            // Most often no id repeats: the piece's goroutines continue the last
            // dump, moved in one go.
            let repeats = d.goroutines.iter().any(|g| {
                let seen = g.id.is_some_and(|id| self.ids.contains(id));
                self.ids.extend(g.id);
                seen
            });
            if !(repeats || (writer && self.last_writer)) {
                self.last_writer |= writer;
                let mut d = d;
                let last = out.dumps.last_mut().expect("a dump before");
                last.goroutines.append(&mut d.goroutines);
                last.diagnostics.append(&mut d.diagnostics);
                continue;
            }
            // Else goroutine by goroutine, from the ids of the dump before again.
            self.ids.clear();
            self.ids.extend(
                out.dumps
                    .last()
                    .into_iter()
                    .flat_map(|l| l.goroutines.iter().filter_map(|g| g.id)),
            );
            let mut diags = d.diagnostics.into_iter().peekable();
            for g in d.goroutines {
                let last = out.dumps.last_mut().expect("a dump before");
                // Problems met before this goroutine belong to the one before it.
                while let Some(x) = diags.next_if(|x| x.line < g.line) {
                    last.diagnostics.push(x);
                }
                let second_writer = self.last_writer && is_dump_writer(&g);
                if g.id.is_some_and(|id| self.ids.contains(id)) || second_writer {
                    self.ids.clear();
                    self.last_writer = false;
                    out.dumps.push(Dump {
                        format: d.format,
                        trigger: Trigger::Plain,
                        preamble: Vec::new(),
                        go_version: None,
                        go_version_min: None,
                        declared_total: None,
                        leak_profile: false,
                        first_line: g.line,
                        goroutines: Vec::new(),
                        diagnostics: Vec::new(),
                    });
                }
                self.ids.extend(g.id);
                self.last_writer |= is_dump_writer(&g);
                out.dumps
                    .last_mut()
                    .expect("just ensured")
                    .goroutines
                    .push(g);
            }
            out.dumps
                .last_mut()
                .expect("a dump before")
                .diagnostics
                .extend(diags);
        }
    }

    fn finish(self) -> Parsed<'a> {
        let mut out = self.out.unwrap_or(Parsed {
            dumps: Vec::new(),
            skipped_lines: 0,
            first_skipped: None,
        });
        // What is known only of a whole dump, now that the dumps are whole.
        for d in &mut out.dumps {
            d.go_version = None;
            d.go_version_min = None;
            finalize(d);
        }
        out
    }
}

fn join<'a>(pieces: Vec<Piece<'a>>) -> Parsed<'a> {
    let mut j = Joiner::new();
    for p in pieces {
        j.push(p);
    }
    j.finish()
}

/// Parse on this thread.
pub fn parse_serial(text: &str) -> Parsed<'_> {
    let mut p = parse_with(text, &mut Reader::new(Borrow));
    share_frames(&mut p);
    p
}

/// Make goroutines whose frames read the same share one frame list, whichever
/// thread or path read them: the analysis may then take one list for one stack
/// (`Arc::ptr_eq`), and its answer cannot depend on how the input was cut.
fn share_frames(p: &mut Parsed<'_>) {
    let mut frames = SharedFrames::default();
    for g in p.dumps.iter_mut().flat_map(|d| d.goroutines.iter_mut()) {
        frames.share(g);
    }
}

/// The one frame list of each stack seen so far.
#[derive(Default)]
struct SharedFrames<'a> {
    /// By the address of a list read (each thread's reader has its own), that list
    /// and the one to use. The list read is kept alive so that its address is not
    /// given to another list while pieces are still coming in.
    by_ptr: FxHashMap<usize, (FrameList<'a>, FrameList<'a>)>,
    by_content: FxHashSet<FrameList<'a>>,
}

type FrameList<'a> = Arc<[Frame<'a>]>;

impl<'a> SharedFrames<'a> {
    fn share(&mut self, g: &mut Goroutine<'a>) {
        let ptr = Arc::as_ptr(&g.frames) as *const () as usize;
        let by_content = &mut self.by_content;
        let (_, shared) = self.by_ptr.entry(ptr).or_insert_with(|| {
            let shared = match by_content.get(&g.frames) {
                Some(f) => f.clone(),
                None => {
                    by_content.insert(g.frames.clone());
                    g.frames.clone()
                }
            };
            (g.frames.clone(), shared)
        });
        if !Arc::ptr_eq(shared, &g.frames) {
            g.frames = shared.clone();
        }
    }
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

/// Make `bytes` valid UTF-8 in place, each invalid byte turned into `?` (a dump's
/// structure is all ASCII), and read it as text.
pub fn sanitize_utf8(bytes: &mut [u8]) -> &str {
    let mut at = 0;
    while at < bytes.len() {
        match std::str::from_utf8(&bytes[at..]) {
            Ok(_) => break,
            Err(e) => {
                let bad = at + e.valid_up_to();
                let len = e.error_len().unwrap_or(bytes.len() - bad);
                for b in &mut bytes[bad..bad + len] {
                    *b = b'?';
                }
                at = bad + len;
            }
        }
    }
    // SAFETY: every byte range from_utf8 rejected was overwritten with ASCII above,
    // and the rest was validated by it: the whole slice is UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// Blocks a stream is read in: large enough that a block holds thousands of
/// goroutines, small enough that a few in flight cost little memory.
pub const BLOCK_BYTES: usize = 8 << 20;

/// Fill `buf` from `r` up to `want` bytes; false at the end of the input.
fn fill(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let n = r
            .by_ref()
            .take((want - buf.len()) as u64)
            .read_to_end(buf)?;
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Why a stream could not be read to its end.
#[derive(Debug)]
pub enum StreamError {
    Io(std::io::Error),
    /// More goroutines than the caller allowed: about this many were read.
    TooMany(u64),
}

/// How a stream is read: in blocks of `block` bytes, by `threads` workers, stopping
/// once more than `max_goroutines` goroutines were read.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    pub threads: usize,
    pub block: usize,
    pub max_goroutines: u64,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            block: BLOCK_BYTES,
            max_goroutines: u64::MAX,
        }
    }
}

fn goroutines_in(p: &Parsed) -> u64 {
    p.dumps.iter().map(|d| d.goroutines.len() as u64).sum()
}

/// The end of the part of `buf` that can be read now: all of it at the end of the
/// input, else up to its last goroutine boundary (0 when it holds none yet).
/// `searched`: where in `buf` a boundary may still be found, moved on as the buffer
/// grows without one, so that text with none (a debug=1 profile, a Delve listing) is
/// searched once, not once per block.
fn ready(buf: &[u8], more: bool, searched: &mut usize) -> usize {
    if !more {
        return buf.len();
    }
    match cut_point(buf, (*searched).min(buf.len()), buf.len(), true) {
        Some(end) => end,
        None => {
            // A header line may still be coming in whole: look at the last 64 KiB again.
            *searched = (*searched).max(buf.len().saturating_sub(64 << 10));
            0
        }
    }
}

/// Parse a stream without holding it whole: it is read in blocks, each cut at a
/// goroutine boundary and read by one of the workers while the next block is read;
/// the model's strings are copied into `arena` (each distinct one once per thread).
/// Memory grows with the number of goroutines and distinct stacks, not with the
/// size of the text. Input that fits in one block is read on this thread. The result
/// is the same as `parse_serial` on the whole text.
pub fn parse_reader<'a>(
    mut input: impl Read,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Parsed<'a>, StreamError> {
    let block = opts.block.max(1);
    let mut buf = Vec::with_capacity(block);
    let mut more = fill(&mut input, &mut buf, block).map_err(StreamError::Io)?;
    if !more || opts.threads < 2 {
        let mut reader = Reader::new(InArena::new(arena));
        let mut joiner = Joiner::new();
        let mut carry = Vec::new();
        let mut count = 0;
        let mut searched = 0;
        loop {
            let end = ready(&buf, more, &mut searched);
            if end > 0 {
                searched = 0;
                carry.extend_from_slice(&buf[end..]);
                buf.truncate(end);
                let p = read_bytes(&buf, &mut reader);
                count += goroutines_in(&p.parsed);
                if count > opts.max_goroutines {
                    return Err(StreamError::TooMany(count));
                }
                joiner.push(p);
                buf.clear();
                std::mem::swap(&mut buf, &mut carry);
            }
            if !more {
                break;
            }
            let want = buf.len() + block;
            more = fill(&mut input, &mut buf, want).map_err(StreamError::Io)?;
        }
        return Ok(joiner.finish());
    }

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{channel, sync_channel, Receiver};
    use std::sync::Mutex;
    type Job = (usize, Vec<u8>);
    let (job_tx, job_rx) = sync_channel::<Job>(opts.threads);
    let job_rx: Mutex<Receiver<Job>> = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel::<(usize, Piece<'a>)>();
    let (spare_tx, spare_rx) = channel::<Vec<u8>>();
    let count = AtomicU64::new(0);
    let read: Result<Parsed<'a>, StreamError> = std::thread::scope(|s| {
        for _ in 0..opts.threads {
            let (job_rx, done_tx, spare_tx, count) =
                (&job_rx, done_tx.clone(), spare_tx.clone(), &count);
            s.spawn(move || {
                let mut reader = Reader::new(InArena::new(arena));
                loop {
                    let job = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((seq, mut bytes)) = job else { break };
                    let piece = read_bytes(&bytes, &mut reader);
                    count.fetch_add(goroutines_in(&piece.parsed), Ordering::Relaxed);
                    bytes.clear();
                    let _ = spare_tx.send(bytes);
                    if done_tx.send((seq, piece)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut seq = 0;
        // Pieces are joined on this thread as they come back, in order, while the
        // workers read on: the join costs no time at the end.
        let mut joiner = Joiner::new();
        // The reading thread: blocks cut at goroutine boundaries go to the workers;
        // their buffers come back to be filled again.
        let mut searched = 0;
        let result = (|| {
            loop {
                let n = count.load(Ordering::Relaxed);
                if n > opts.max_goroutines {
                    return Err(StreamError::TooMany(n));
                }
                let end = ready(&buf, more, &mut searched);
                if end > 0 {
                    searched = 0;
                    let mut next = spare_rx
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(block + block / 4));
                    next.extend_from_slice(&buf[end..]);
                    buf.truncate(end);
                    let full = std::mem::replace(&mut buf, next);
                    if job_tx.send((seq, full)).is_err() {
                        break;
                    }
                    seq += 1;
                }
                while let Ok((i, p)) = done_rx.try_recv() {
                    joiner.push_at(i, p);
                }
                if !more {
                    break;
                }
                let want = buf.len() + block;
                more = fill(&mut input, &mut buf, want).map_err(StreamError::Io)?;
            }
            Ok(())
        })();
        drop(job_tx);
        for (i, p) in done_rx.iter() {
            joiner.push_at(i, p);
        }
        result?;
        let n = count.load(Ordering::Relaxed);
        if n > opts.max_goroutines {
            return Err(StreamError::TooMany(n));
        }
        Ok(joiner.finish())
    });
    read
}

/// Parse bytes already in memory (a mapped file) in pieces of about `opts.block`
/// bytes cut at goroutine boundaries, on `opts.threads` workers that find their own
/// pieces; `done(start, end)` is told of each byte range once it is read (to let
/// the pages of a mapped file go). The model's strings are copied into `arena`,
/// so the bytes need not outlive the call. The result is the same as `parse_serial`
/// on the whole text.
pub fn parse_bytes<'a>(
    bytes: &[u8],
    arena: &'a Arena,
    opts: StreamOptions,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Parsed<'a>, StreamError> {
    let block = opts.block.max(1);
    // Piece k runs from the first cut at or after k * block (or after the piece
    // before) to the next piece's start. Found in one pass: text with no cut in it
    // is searched once, and read as one piece.
    let mut starts = vec![0];
    for k in 1.. {
        let from = (k * block).max(starts[starts.len() - 1]);
        if from >= bytes.len() {
            break;
        }
        match cut_point(bytes, from, bytes.len(), false) {
            Some(c) => starts.push(c),
            None => break,
        }
    }
    starts.push(bytes.len());
    starts.dedup();
    let pieces = starts.len() - 1;
    let read = |k: usize, reader: &mut Reader<'a, InArena<'a>>| -> Piece<'a> {
        let (from, to) = (starts[k], starts[k + 1]);
        let piece = &bytes[from..to];
        let out = read_bytes(piece, reader);
        done(from, to);
        out
    };
    let threads = opts.threads.min(pieces).max(1);
    let mut joiner = Joiner::new();
    let mut count = 0u64;
    if threads < 2 {
        let mut reader = Reader::new(InArena::new(arena));
        for k in 0..pieces {
            let p = read(k, &mut reader);
            count += goroutines_in(&p.parsed);
            if count > opts.max_goroutines {
                return Err(StreamError::TooMany(count));
            }
            joiner.push(p);
        }
        return Ok(joiner.finish());
    }
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Piece<'a>)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (tx, next, stop, read) = (tx.clone(), &next, &stop, &read);
            s.spawn(move || {
                let mut reader = Reader::new(InArena::new(arena));
                while !stop.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= pieces {
                        break;
                    }
                    let p = read(k, &mut reader);
                    if tx.send((k, p)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Joined in order on this thread as the pieces come back.
        for (k, p) in rx.iter() {
            count += goroutines_in(&p.parsed);
            if count > opts.max_goroutines {
                stop.store(true, Ordering::Relaxed);
                return Err(StreamError::TooMany(count));
            }
            joiner.push_at(k, p);
        }
        Ok(joiner.finish())
    })
}

/// Parse `text` with `reader`'s caches, keeping strings as it says.
pub fn parse_with<'b, 'a, K: Keep<'b, 'a>>(
    text: &'b str,
    reader: &mut Reader<'a, K>,
) -> Parsed<'a> {
    parse_piece(Lines::new(text), reader).parsed
}

/// Read a piece of bytes; one that is not UTF-8 is read again, repaired
/// (`sanitize_utf8`) in a copy.
fn read_bytes<'a>(bytes: &[u8], reader: &mut Reader<'a, InArena<'a>>) -> Piece<'a> {
    let p = parse_piece(Lines::from_bytes(bytes), reader);
    if !p.bad_utf8 {
        return p;
    }
    parse_piece(Lines::new(sanitize_utf8(&mut bytes.to_vec())), reader)
}

/// A piece as read on its own, to be joined with the others.
struct Piece<'a> {
    parsed: Parsed<'a>,
    /// Newlines in the piece's text.
    newlines: usize,
    trailing: Option<Trailing<'a>>,
    /// A line was not UTF-8: the piece was read up to it only, and must be repaired
    /// (`sanitize_utf8`) and read again. Never set for lines of a `str`.
    bad_utf8: bool,
}

/// Read one piece of input.
fn parse_piece<'b, 'a, K: Keep<'b, 'a>>(
    mut lines: Lines<'b>,
    reader: &mut Reader<'a, K>,
) -> Piece<'a> {
    reader.piece += 1;
    reader.piece_args.clear();
    let mut b = Builder {
        dumps: Vec::new(),
        cur: None,
        seen: IdSet::default(),
        preamble: Vec::new(),
        trigger: Trigger::Plain,
        preamble_line: 0,
        skipped: 0,
        first_skipped: None,
        delve_focus: None,
    };
    while let Some((no, line)) = lines.peek() {
        if line.starts_with("goroutine") {
            if let Ok((_, h)) = traceback::header(line) {
                lines.next_line();
                let id = h.id;
                let dump = b.dump_for(Format::Traceback, Some(id), no);
                let g = read_traceback_goroutine(&mut lines, h, no, &mut dump.diagnostics, reader);
                if is_dump_writer(&g) && dump.goroutines.iter().any(is_dump_writer) {
                    // A dump has one writer, the goroutine printing it: a second one
                    // starts a new snapshot, whether or not its id was seen.
                    let at = dump.diagnostics.partition_point(|x| x.line < no);
                    let diags = dump.diagnostics.split_off(at);
                    b.finish();
                    let d = b.dump_for(Format::Traceback, Some(id), no);
                    d.diagnostics = diags;
                    d.goroutines.push(g);
                } else {
                    dump.goroutines.push(g);
                }
                continue;
            }
            if let Ok((_, (kind, total))) = profile::header(line) {
                lines.next_line();
                b.finish();
                b.preamble.clear();
                b.trigger = Trigger::Plain;
                let d = b.dump_for(Format::Profile, None, no);
                d.declared_total = Some(total);
                d.leak_profile = kind == profile::ProfileKind::GoroutineLeak;
                continue;
            }
        }
        if matches!(&b.cur, Some(d) if d.format == Format::Profile && b.preamble.is_empty()) {
            if let Ok((_, (count, _pcs))) = profile::record(line) {
                lines.next_line();
                let dump = b.cur.as_mut().expect("profile dump");
                let mut g = read_profile_record(&mut lines, count, no, reader);
                // A record of the leak profile counts goroutines the runtime proved leaked.
                g.leaked = dump.leak_profile;
                dump.goroutines.push(g);
                continue;
            }
        }
        if line.contains("Goroutine ") {
            if let Ok((_, h)) = delve::header(line) {
                lines.next_line();
                let dump = b.dump_for(Format::Delve, Some(h.id), no);
                let g = read_delve_goroutine(&mut lines, h, no, reader);
                dump.goroutines.push(g);
                continue;
            }
        }
        if let Ok((_, n)) = delve::switched(line) {
            // `goroutine N`: the `stack` / `bt` output after it is goroutine N's.
            lines.next_line();
            b.delve_focus = Some(n);
            continue;
        }
        if let Some(id) = b.delve_focus {
            if delve::frame_func(line).is_ok() {
                let d = match b.cur.as_mut().filter(|d| d.format == Format::Delve) {
                    Some(d) => d,
                    None => b.dump_for(Format::Delve, Some(id), no),
                };
                let at = match d.goroutines.iter().position(|g| g.id == Some(id)) {
                    Some(at) => at,
                    None => {
                        d.goroutines
                            .push(Goroutine::new(Some(id), no, State::unknown()));
                        d.goroutines.len() - 1
                    }
                };
                read_delve_stack(&mut lines, &mut d.goroutines[at], reader);
                continue;
            }
        }
        if let Ok((_, n)) = delve::group_total(line) {
            // `goroutines -group` lists up to 5 members of a group, then its size.
            if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
                d.declared_total = Some(d.declared_total.unwrap_or(0) + n);
                lines.next_line();
                continue;
            }
        }
        if let Ok((_, n)) = delve::footer(line) {
            if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
                d.declared_total = Some(n);
                lines.next_line();
                continue;
            }
        }
        if let Some(p) = traceback::preamble(line) {
            if b.cur.as_ref().is_some_and(|d| !d.goroutines.is_empty()) {
                b.finish();
            }
            if b.preamble.is_empty() {
                b.preamble_line = no;
            }
            b.preamble.push(reader.keep.keep(line.trim_end()));
            b.trigger = next_trigger(b.trigger, p);
            lines.next_line();
            continue;
        }
        lines.next_line();
        b.skipped += 1;
        if b.first_skipped.is_none() && !line.trim().is_empty() {
            b.first_skipped = Some(reader.keep.keep(line));
        }
    }
    b.finish();
    // The piece's argument values, shared by its goroutines.
    let chunk: Arc<[u8]> = reader.piece_args.as_slice().into();
    for g in b.dumps.iter_mut().flat_map(|d| d.goroutines.iter_mut()) {
        g.args.in_chunk(&chunk);
    }
    let unterminated = lines.unterminated();
    // (A piece stopped at a line that is not UTF-8 is read again: its count is
    // not used, and may not even be whole.)
    let newlines = (lines.line_no() - 1).saturating_sub(usize::from(unterminated));
    let trailing = (!b.preamble.is_empty()).then(|| Trailing {
        lines: std::mem::take(&mut b.preamble),
        first_line: b.preamble_line,
    });
    let parsed = Parsed {
        dumps: b.dumps,
        skipped_lines: b.skipped,
        first_skipped: b.first_skipped,
    };
    Piece {
        parsed,
        newlines,
        trailing,
        bad_utf8: lines.bad(),
    }
}

/// What a dump's trigger becomes with one more preamble line.
fn next_trigger(before: Trigger, line: PreambleLine) -> Trigger {
    match line {
        PreambleLine::Signal => Trigger::Signal,
        PreambleLine::Panic => Trigger::Panic,
        PreambleLine::AllAsleep => Trigger::AllAsleep,
        PreambleLine::Fatal if before == Trigger::AllAsleep => Trigger::AllAsleep,
        PreambleLine::Fatal => Trigger::FatalError,
        PreambleLine::ConcurrentMap => Trigger::ConcurrentMap,
        PreambleLine::TestTimeout => Trigger::TestTimeout,
        PreambleLine::Abort => Trigger::Abort,
        // The throwing thread's stack follows a runtime throw's `fatal error:`.
        PreambleLine::RuntimeStack if before == Trigger::FatalError => Trigger::RuntimeThrow,
        PreambleLine::RuntimeStack => before,
    }
}

/// Preamble lines at the end of a piece with no goroutine after them in it: the
/// dump they announce starts in the next piece.
struct Trailing<'a> {
    lines: Vec<&'a str>,
    first_line: usize,
}

/// Whether a goroutine is the one printing the dump it is in: running, in
/// `runtime/pprof`'s writer (`?debug=2`) or in `runtime.Stack` / `runtime/debug.Stack`
/// near its top. A dump has one (the runtime prints it first); a second one starts
/// the next snapshot.
fn is_dump_writer(g: &Goroutine) -> bool {
    g.state.reason == WaitReason::Running
        && g.frames.iter().take(4).any(|f| {
            matches!(
                f.function.full(),
                "runtime/pprof.writeGoroutineStacks" | "runtime.Stack" | "runtime/debug.Stack"
            )
        })
}

/// Functions a goroutine's stack can end in without a `created by` line: the main
/// goroutine's, and the roots of system stacks (`runtime.mcall` and
/// `runtime.systemstack` switch to the thread's stack; `runtime.mstart` starts one).
fn is_stack_root(f: &FuncName) -> bool {
    matches!(
        f.full(),
        "main.main"
            | "runtime.main"
            | "runtime.goexit"
            | "runtime.goexit0"
            | "runtime.goexit1"
            | "runtime.mstart"
            | "runtime.mstart0"
            | "runtime.mstart1"
            | "runtime.rt0_go"
            | "runtime.mcall"
            | "runtime.systemstack"
            | "runtime.systemstack_switch"
            | "runtime.morestack"
    )
}

/// A function line waiting for its file line.
struct Pending<'a> {
    line: usize,
    function: FuncName<'a>,
    /// `None` for a `created by` line.
    args: Option<traceback::Args>,
    created_by: Option<Option<u64>>,
}

/// Where frames read by the nom reader go.
struct Stack<'a> {
    frames: Vec<Frame<'a>>,
    in_ancestor: bool,
}

impl<'a> Stack<'a> {
    /// File the pending line with its location (or none, when it had no file line).
    fn push<'b, K: Keep<'b, 'a>>(
        &mut self,
        g: &mut Goroutine<'a>,
        r: &mut Reader<'a, K>,
        p: Pending<'b>,
        loc: Option<traceback::Location<'b>>,
    ) {
        let file = loc.map_or("", |l| r.keep.keep(l.file));
        let line = loc.map_or(0, |l| l.line);
        let function = r.func(p.function);
        let Some(args) = p.args else {
            // An ancestor's own creator is not this goroutine's.
            if !self.in_ancestor {
                g.created_by = Some(CreatedBy {
                    function,
                    file,
                    line,
                    parent: p.created_by.flatten(),
                });
            }
            return;
        };
        let kind = match (&args, self.in_ancestor) {
            // Ancestors' values are never printed (`(...)`); none are kept.
            (traceback::Args::Inlined, _) => ArgsKind::Inlined,
            (traceback::Args::List(_), true) => ArgsKind::List,
            (a, false) => a.encode(&mut r.encoded),
        };
        let frame = Frame {
            function,
            args: kind,
            file,
            line,
            offset: loc.and_then(|l| l.offset),
            pc: loc.and_then(|l| l.pc),
        };
        let ancestor = match self.in_ancestor {
            true => g.rare_mut().ancestors.last_mut(),
            false => None,
        };
        match ancestor {
            Some(a) => a.frames.push(frame),
            None => self.frames.push(frame),
        }
    }
}

fn read_traceback_goroutine<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    h: traceback::Header<'b>,
    header_line: usize,
    diags: &mut Vec<Diagnostic>,
    r: &mut Reader<'a, K>,
) -> Goroutine<'a> {
    // A million goroutines often stand in a few hundred stacks that differ only in
    // argument values: a stack whose shape was read before is not parsed again. Its
    // values go straight to the piece's.
    let text = lines.rest();
    let mark = r.piece_args.len();
    let found = match r.fast {
        true => r.stacks.find(text, &mut r.piece_args),
        false => None,
    };
    let frames = match found {
        Some(m) => r.known[m.shape as usize].frames.clone(),
        None => {
            r.piece_args.truncate(mark);
            r.empty.clone()
        }
    };
    let state = r.state(h.state);
    let mut g = Goroutine::with_frames(Some(h.id), header_line, state, frames);
    g.wait_minutes = h.wait_minutes;
    g.locked_to_thread = h.locked_to_thread;
    g.scan = h.scan;
    g.durable = h.durable;
    g.leaked = h.leaked;
    if h.bubble.is_some() || h.labels.is_some() {
        let labels = h.labels.map(|l| r.keep.keep(l));
        let rare = g.rare_mut();
        rare.bubble = h.bubble;
        rare.labels = labels;
    }
    if let Some(m) = found {
        let k = &mut r.known[m.shape as usize];
        g.created_by = Some(CreatedBy {
            parent: m.parent,
            ..k.created_by
        });
        let len = r.piece_args.len() - mark;
        g.args = match k.last_args {
            // The same values as the last goroutine of this stack: shared.
            Some((piece, start, n))
                if piece == r.piece
                    && n == len
                    && r.piece_args[start..start + n] == r.piece_args[mark..] =>
            {
                r.piece_args.truncate(mark);
                ArgData::pending(start, n)
            }
            _ => {
                k.last_args = Some((r.piece, mark, len));
                ArgData::pending(mark, len)
            }
        };
        lines.advance(m.bytes, m.lines);
        return g;
    }
    r.scanned.clear();
    r.segments.clear();
    let scan = if r.fast {
        stack::scan(text, &mut r.scanned, &mut r.segments)
    } else {
        None
    };

    let mut pending: Option<Pending<'b>> = None;
    let mut ended_cleanly = false;
    let mut stack = Stack {
        frames: Vec::new(),
        in_ancestor: false,
    };
    r.encoded.clear();
    let diags_before = diags.len();
    let start = lines.offset();

    while let Some((no, line)) = lines.peek() {
        if line.trim().is_empty() {
            lines.next_line();
            ended_cleanly = pending.is_none();
            break;
        }
        if let Some(p) = pending.take() {
            if let Some(loc) = traceback::location(line) {
                lines.next_line();
                stack.push(&mut g, r, p, Some(loc));
                continue;
            }
            diags.push(Diagnostic {
                kind: DiagnosticKind::UnrecognisedLine,
                line: p.line,
                message: format!(
                    "goroutine {}: frame `{}` has no file line after it",
                    h.id, p.function
                ),
            });
            stack.push(&mut g, r, p, None);
        }
        if line.starts_with("goroutine ") && traceback::header(line).is_ok() {
            ended_cleanly = true;
            break;
        }
        if let Ok((_, (function, parent))) = traceback::created_by(line) {
            lines.next_line();
            pending = Some(Pending {
                line: no,
                function,
                args: None,
                created_by: Some(parent),
            });
            continue;
        }
        if let Ok((_, n)) = traceback::elided(line.trim_start()) {
            lines.next_line();
            g.rare_mut().elided = Some(n);
            continue;
        }
        if traceback::stack_unavailable(line).is_ok() {
            lines.next_line();
            g.stack_unavailable = true;
            continue;
        }
        if let Ok((_, id)) = traceback::originating(line) {
            lines.next_line();
            g.rare_mut().ancestors.push(Ancestor {
                id,
                frames: Vec::new(),
            });
            stack.in_ancestor = true;
            continue;
        }
        if let Some((function, args)) = traceback::func_line(line) {
            lines.next_line();
            pending = Some(Pending {
                line: no,
                function,
                args: Some(args),
                created_by: None,
            });
            continue;
        }
        if line.starts_with(['\t', ' ']) {
            lines.next_line();
            diags.push(Diagnostic {
                kind: DiagnosticKind::UnrecognisedLine,
                line: no,
                message: format!("goroutine {}: unrecognised line in stack", h.id),
            });
            continue;
        }
        // Something that is not part of a stack (log line, register dump): the goroutine
        // ends here, and the line is the outer loop's business.
        ended_cleanly = true;
        break;
    }
    let cut_in_frame = pending.is_some();
    if let Some(p) = pending.take() {
        stack.push(&mut g, r, p, None);
    }
    g.frames = stack.frames.into();
    g.args = Reader::<K>::store_args(&mut r.piece_args, &r.encoded);
    // Remember a clean read of a stack the fast path scanned alike, for the next
    // goroutine of the same shape.
    if let (Some(sc), Some(cb)) = (&scan, &g.created_by) {
        let clean = diags.len() == diags_before
            && lines.offset() - start == sc.bytes
            && g.ancestors().is_empty()
            && g.elided().is_none()
            && !g.stack_unavailable
            && !cut_in_frame
            && cb.parent == sc.parent
            && g.frames.len() == sc.frames as usize
            && r.encoded == r.scanned;
        if clean {
            let shape = r.stacks.insert(text, &r.segments) as usize;
            let known = Known {
                frames: g.frames.clone(),
                created_by: *cb,
                last_args: None,
            };
            if shape == r.known.len() {
                r.known.push(known);
            } else {
                r.known[shape] = known;
            }
        }
    }
    // A stack ends where the runtime ends it: a creator, a root function (system
    // stacks included), an elision marker, goroutine 0 (the thread's own stack,
    // whose frames end wherever the scheduler was entered). Anything else was cut.
    let rooted = g.created_by.is_some()
        || g.stack_unavailable
        || h.id == 0
        || g.elided().is_some()
        || g.frames.last().is_some_and(|f| is_stack_root(&f.function));
    if cut_in_frame || !rooted {
        g.complete = false;
        let at = lines.line_no().saturating_sub(1).max(header_line);
        diags.push(Diagnostic {
            kind: DiagnosticKind::Truncated,
            line: at,
            message: if ended_cleanly && !cut_in_frame {
                format!("goroutine {}: stack ends without `created by` or a root frame; treated as cut off", h.id)
            } else {
                format!("goroutine {}: input cut off inside its stack", h.id)
            },
        });
    }
    g
}

fn read_profile_record<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    count: u64,
    header_line: usize,
    r: &mut Reader<'a, K>,
) -> Goroutine<'a> {
    let mut g = Goroutine::new(None, header_line, State::unknown());
    g.count = count;
    let mut frames = Vec::new();
    while let Some((_, line)) = lines.peek() {
        if let Ok((_, l)) = profile::labels(line) {
            lines.next_line();
            let l = r.keep.keep(l);
            g.rare_mut().labels = Some(l);
            continue;
        }
        if let Ok((_, f)) = profile::frame(line) {
            lines.next_line();
            frames.push(Frame {
                function: f.function.map_or(FuncName("?"), |n| r.func(n)),
                args: ArgsKind::Absent,
                file: r.keep.keep(f.file),
                line: f.line,
                offset: f.offset,
                pc: Some(f.pc),
            });
            continue;
        }
        if line.trim().is_empty() {
            lines.next_line();
        }
        break;
    }
    g.frames = frames.into();
    g
}

fn read_delve_goroutine<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    h: delve::DelveHeader<'b>,
    header_line: usize,
    r: &mut Reader<'a, K>,
) -> Goroutine<'a> {
    let state = match h.reason {
        Some(reason) => r.state(State::new(reason)),
        None if h.thread.is_some() => State {
            raw: "running",
            reason: WaitReason::Running,
        },
        None => State::unknown(),
    };
    let mut g = Goroutine::new(Some(h.id), header_line, state);
    if h.wait_since.is_some() {
        g.rare_mut().wait_since = h.wait_since;
    }
    read_delve_stack(lines, &mut g, r);
    if g.frames.is_empty() {
        if let Some(function) = h.function {
            let (function, file) = (r.func(function), r.keep.keep(h.file));
            g.frames = vec![delve_frame(function, h.pc, file, h.line)].into();
        }
    }
    g
}

/// Delve's frames (`goroutines -t`, or `stack` / `bt`): `N  0xPC in F` and
/// `at FILE:LINE` lines, `(truncated)`, `Labels:`; into `g` when any were read.
fn read_delve_stack<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    g: &mut Goroutine<'a>,
    r: &mut Reader<'a, K>,
) {
    let mut pending: Option<(u64, FuncName<'a>)> = None;
    let mut frames = Vec::new();
    while let Some((_, line)) = lines.peek() {
        if let Ok((_, (_, pc, f))) = delve::frame_func(line) {
            lines.next_line();
            if let Some((pc, function)) = pending.take() {
                frames.push(delve_frame(function, pc, "", 0));
            }
            pending = Some((pc, r.func(f)));
            continue;
        }
        if let Ok((_, (file, l))) = delve::frame_at(line) {
            lines.next_line();
            if let Some((pc, function)) = pending.take() {
                frames.push(delve_frame(function, pc, r.keep.keep(file), l));
            }
            continue;
        }
        if line.trim() == "(truncated)" {
            lines.next_line();
            g.rare_mut().elided = Some(0);
            continue;
        }
        if let Ok((_, l)) = delve::labels(line) {
            lines.next_line();
            let l = r.keep.keep(l);
            g.rare_mut().labels = Some(l);
            continue;
        }
        break;
    }
    if let Some((pc, function)) = pending.take() {
        frames.push(delve_frame(function, pc, "", 0));
    }
    if !frames.is_empty() {
        g.frames = frames.into();
    }
}

fn delve_frame<'a>(function: FuncName<'a>, pc: u64, file: &'a str, line: u32) -> Frame<'a> {
    Frame {
        function,
        args: ArgsKind::Absent,
        file,
        line,
        offset: None,
        pc: Some(pc),
    }
}

fn version_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?:^|/)go-?(1\.\d+(?:\.\d+)?)(?:/|$)").expect("static regex"))
}

/// Fill what is known only once the whole dump is read: the Go version.
fn finalize(d: &mut Dump<'_>) {
    let mut min: Option<(u32, &'static str)> = None;
    fn bump(min: &mut Option<(u32, &'static str)>, v: (u32, &'static str)) {
        if min.is_none_or(|m| m.0 < v.0) {
            *min = Some(v);
        }
    }
    'outer: for g in &d.goroutines {
        for f in g.frames.iter() {
            if d.go_version.is_none()
                && (f.file.contains("/src/runtime/") || f.file.contains("/src/sync/"))
            {
                if let Some(c) = version_re().captures(f.file) {
                    d.go_version = Some(format!("go{}", &c[1]));
                }
            }
            if f.function.full().starts_with("internal/sync.") {
                bump(&mut min, (24, "go1.24"));
            }
        }
        if g.created_by.as_ref().is_some_and(|c| c.parent.is_some()) {
            bump(&mut min, (21, "go1.21"));
        }
        match g.state.reason {
            WaitReason::SyncWaitGroupWait => bump(&mut min, (24, "go1.24")),
            WaitReason::SyncMutexLock
            | WaitReason::SyncRWMutexLock
            | WaitReason::SyncRWMutexRLock => bump(&mut min, (20, "go1.20")),
            _ => {}
        }
        if d.go_version.is_some() && min.is_some_and(|m| m.0 >= 24) {
            break 'outer;
        }
    }
    d.go_version_min = min.map(|m| m.1);
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
