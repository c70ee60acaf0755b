//! bytes → model. One module per input format; this one finds where each dump
//! starts in the text, hands lines to the format's reader, and keeps going past
//! anything it does not understand (log lines, register dumps, a broken stack).
//!
//! Parsing never judges what is suspicious: that is `analyze`'s job.

pub mod delve;
pub mod lines;
pub mod profile;
pub mod traceback;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::OnceLock;

use regex::Regex;

use crate::model::{
    Ancestor, Args, Diagnostic, DiagnosticKind, Dump, Format, Frame, FuncName, Goroutine, State,
    Trigger, WaitReason,
};
use lines::Lines;
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
    seen: HashSet<u64>,
    /// Preamble lines read since the last goroutine.
    preamble: Vec<&'a str>,
    trigger: Trigger,
    preamble_line: usize,
    skipped: usize,
    first_skipped: Option<&'a str>,
    /// Stacks already read in this dump, by their text (frames part only).
    bodies: BodyCache<'a>,
}

/// Frames (and elision mark) already parsed, keyed by the exact text they came from.
/// FxHash: the keys are long stacks hashed once per goroutine; SipHash's DoS
/// resistance buys nothing here and costs a third of the parse.
type BodyCache<'a> = rustc_hash::FxHashMap<&'a str, (Arc<[Frame<'a>]>, Option<u32>)>;

impl<'a> Builder<'a> {
    fn finish(&mut self) {
        self.bodies.clear();
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
                    || id.is_some_and(|id| self.seen.contains(&id))
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

    fn skip(&mut self, line: &'a str) {
        self.skipped += 1;
        if self.first_skipped.is_none() && !line.trim().is_empty() {
            self.first_skipped = Some(line);
        }
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

/// Cut points: the start of a `goroutine N [` header that follows a blank line, near
/// each of `parts - 1` even splits.
fn cuts(text: &str, parts: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let bytes = text.as_bytes();
    for k in 1..parts {
        let mut from = (text.len() * k / parts).max(*cuts.last().unwrap_or(&0));
        // Only between two stacks: the line before the blank one is a stack's file
        // line, so no preamble (`panic:`, `SIGQUIT:`) is left behind in the part before.
        let cut = loop {
            let Some(i) = memchr::memmem::find(&bytes[from..], b"\n\ngoroutine ") else {
                break None;
            };
            let at = from + i;
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |p| p + 1);
            if bytes.get(line_start) == Some(&b'\t') {
                break Some(at + 2);
            }
            from = at + 2;
        };
        match cut {
            Some(c) => cuts.push(c),
            None => break,
        }
    }
    cuts.push(text.len());
    cuts.dedup();
    cuts
}

/// Read the parts on their own threads, then join them: a part that starts with a
/// goroutine (no preamble) continues the previous part's last dump unless an id
/// repeats, exactly as the serial reader decides.
pub fn parse_parallel(text: &str, parts: usize) -> Parsed<'_> {
    let cuts = cuts(text, parts);
    let pieces: Vec<(Parsed<'_>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &text[w[0]..w[1]];
                s.spawn(move || {
                    (
                        parse_serial(part),
                        memchr::memchr_iter(b'\n', part.as_bytes()).count(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parser thread"))
            .collect()
    });
    let mut out = Parsed {
        dumps: Vec::new(),
        skipped_lines: 0,
        first_skipped: None,
    };
    let mut line_offset = 0;
    let mut ids: HashSet<u64> = HashSet::new();
    for (mut piece, newlines) in pieces {
        for d in &mut piece.dumps {
            d.first_line += line_offset;
            for g in &mut d.goroutines {
                g.line += line_offset;
            }
            for x in &mut d.diagnostics {
                x.line += line_offset;
            }
        }
        out.skipped_lines += piece.skipped_lines;
        out.first_skipped = out.first_skipped.or(piece.first_skipped);
        let mut dumps = piece.dumps.into_iter();
        if let (Some(last), Some(first)) = (out.dumps.last_mut(), dumps.as_slice().first()) {
            let continues = first.format == last.format
                && first.preamble.is_empty()
                && first.first_line == line_offset + 1
                && first.declared_total.is_none()
                && !first
                    .goroutines
                    .iter()
                    .any(|g| g.id.is_some_and(|id| ids.contains(&id)));
            if continues {
                let first = dumps.next().expect("checked");
                ids.extend(first.goroutines.iter().filter_map(|g| g.id));
                last.go_version = last.go_version.take().or(first.go_version);
                last.go_version_min = last.go_version_min.max(first.go_version_min);
                last.goroutines.extend(first.goroutines);
                last.diagnostics.extend(first.diagnostics);
            }
        }
        for d in dumps {
            ids.clear();
            ids.extend(d.goroutines.iter().filter_map(|g| g.id));
            out.dumps.push(d);
        }
        line_offset += newlines;
    }
    out
}

/// Parse on this thread.
pub fn parse_serial(text: &str) -> Parsed<'_> {
    let mut lines = Lines::new(text);
    let mut b = Builder {
        dumps: Vec::new(),
        cur: None,
        seen: HashSet::new(),
        preamble: Vec::new(),
        trigger: Trigger::Plain,
        preamble_line: 0,
        skipped: 0,
        first_skipped: None,
        bodies: BodyCache::default(),
    };
    while let Some((no, line)) = lines.peek() {
        if line.starts_with("goroutine ") {
            if let Ok((_, h)) = traceback::header(line) {
                lines.next_line();
                let mut bodies = std::mem::take(&mut b.bodies);
                let dump = b.dump_for(Format::Traceback, Some(h.id), no);
                if dump.goroutines.is_empty() {
                    bodies.clear(); // a new dump: its own stacks
                }
                let g =
                    read_traceback_goroutine(&mut lines, h, no, &mut dump.diagnostics, &mut bodies);
                dump.goroutines.push(g);
                b.bodies = bodies;
                continue;
            }
            if let Ok((_, total)) = profile::total(line) {
                lines.next_line();
                b.finish();
                b.preamble.clear();
                b.trigger = Trigger::Plain;
                let d = b.dump_for(Format::Profile, None, no);
                d.declared_total = Some(total);
                continue;
            }
        }
        if matches!(&b.cur, Some(d) if d.format == Format::Profile && b.preamble.is_empty()) {
            if let Ok((_, (count, _pcs))) = profile::record(line) {
                lines.next_line();
                let dump = b.cur.as_mut().expect("profile dump");
                let g = read_profile_record(&mut lines, count, no);
                dump.goroutines.push(g);
                continue;
            }
        }
        if line.contains("Goroutine ") {
            if let Ok((_, h)) = delve::header(line) {
                lines.next_line();
                let dump = b.dump_for(Format::Delve, Some(h.id), no);
                let g = read_delve_goroutine(&mut lines, h, no);
                dump.goroutines.push(g);
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
            b.preamble.push(line.trim_end());
            b.trigger = match p {
                PreambleLine::Signal => Trigger::Signal,
                PreambleLine::Panic => Trigger::Panic,
                PreambleLine::AllAsleep => Trigger::AllAsleep,
                PreambleLine::Fatal if b.trigger == Trigger::AllAsleep => Trigger::AllAsleep,
                PreambleLine::Fatal => Trigger::FatalError,
            };
            lines.next_line();
            continue;
        }
        lines.next_line();
        b.skip(line);
    }
    b.finish();
    Parsed {
        dumps: b.dumps,
        skipped_lines: b.skipped,
        first_skipped: b.first_skipped,
    }
}

/// Functions a goroutine's stack can end in without a `created by` line.
fn is_stack_root(f: &FuncName) -> bool {
    matches!(
        f.full(),
        "main.main"
            | "runtime.main"
            | "runtime.goexit"
            | "runtime.mstart"
            | "runtime.mstart0"
            | "runtime.mstart1"
            | "runtime.rt0_go"
            | "runtime.goexit1"
    )
}

fn new_goroutine<'a>(id: Option<u64>, line: usize, state: State<'a>) -> Goroutine<'a> {
    Goroutine {
        id,
        count: 1,
        line,
        state,
        wait_minutes: None,
        wait_since: None,
        locked_to_thread: false,
        scan: false,
        durable: false,
        leaked: false,
        bubble: None,
        labels: None,
        frames: Arc::from(Vec::new()),
        elided: None,
        stack_unavailable: false,
        created_by: None,
        ancestors: Vec::new(),
        complete: true,
    }
}

/// A function line waiting for its file line.
struct Pending<'a> {
    line: usize,
    function: FuncName<'a>,
    args: Args,
    created_by: Option<Option<u64>>,
}

fn read_traceback_goroutine<'a>(
    lines: &mut Lines<'a>,
    h: traceback::Header<'a>,
    header_line: usize,
    diags: &mut Vec<Diagnostic>,
    bodies: &mut BodyCache<'a>,
) -> Goroutine<'a> {
    let mut g = new_goroutine(Some(h.id), header_line, h.state);
    g.wait_minutes = h.wait_minutes;
    g.locked_to_thread = h.locked_to_thread;
    g.scan = h.scan;
    g.durable = h.durable;
    g.leaked = h.leaked;
    g.bubble = h.bubble;
    g.labels = h.labels;

    let mut pending: Option<Pending<'a>> = None;
    let mut in_ancestor = false;
    let mut ended_cleanly = false;
    let mut frames: Vec<Frame<'a>> = Vec::new();
    let diags_before = diags.len();

    // The frames part of this stack: from here to its `created by` line, when the
    // stack is a plain block ending in a blank line. A million goroutines often hold
    // a few hundred distinct stacks: each distinct text is parsed once.
    let start = lines.offset();
    let frames_text: Option<&'a str> = {
        let rest = lines.rest();
        memchr::memmem::find(rest.as_bytes(), b"\n\n").and_then(|end| {
            let block = &rest[..end + 1];
            let cb = block.rfind("\ncreated by ").map(|i| i + 1)?;
            (!block.contains("[originating from")).then_some(&block[..cb])
        })
    };
    let mut cached: Option<Arc<[Frame<'a>]>> = None;
    if let Some((f, elided)) = frames_text.and_then(|t| bodies.get(t)) {
        cached = Some(f.clone());
        g.elided = *elided;
        lines.skip(frames_text.map_or(0, str::len));
    }
    let mut created_by_at: Option<usize> = None;

    let push = |g: &mut Goroutine<'a>,
                frames: &mut Vec<Frame<'a>>,
                in_ancestor: bool,
                p: Pending<'a>,
                loc: Option<traceback::Location<'a>>| {
        if let Some(parent) = p.created_by {
            // An ancestor's own creator is not this goroutine's.
            if in_ancestor {
                return;
            }
            g.created_by = Some(crate::model::CreatedBy {
                function: p.function,
                file: loc.map(|l| l.file).unwrap_or(""),
                line: loc.map(|l| l.line).unwrap_or(0),
                parent,
            });
            return;
        }
        let frame = Frame {
            function: p.function,
            args: p.args,
            file: loc.map(|l| l.file).unwrap_or(""),
            line: loc.map(|l| l.line).unwrap_or(0),
            offset: loc.and_then(|l| l.offset),
            pc: loc.and_then(|l| l.pc),
        };
        match (in_ancestor, g.ancestors.last_mut()) {
            (true, Some(a)) => a.frames.push(frame),
            _ => frames.push(frame),
        }
    };

    while let Some((no, line)) = lines.peek() {
        if line.trim().is_empty() {
            lines.next_line();
            ended_cleanly = pending.is_none();
            break;
        }
        if let Some(p) = pending.take() {
            if let Some(loc) = traceback::location(line) {
                lines.next_line();
                push(&mut g, &mut frames, in_ancestor, p, Some(loc));
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
            push(&mut g, &mut frames, in_ancestor, p, None);
        }
        if line.starts_with("goroutine ") && traceback::header(line).is_ok() {
            ended_cleanly = true;
            break;
        }
        if let Ok((_, (function, parent))) = traceback::created_by(line) {
            if !in_ancestor && created_by_at.is_none() {
                created_by_at = Some(lines.offset());
            }
            lines.next_line();
            pending = Some(Pending {
                line: no,
                function,
                args: Args::Absent,
                created_by: Some(parent),
            });
            continue;
        }
        if let Ok((_, n)) = traceback::elided(line.trim_start()) {
            lines.next_line();
            g.elided = Some(n);
            continue;
        }
        if traceback::stack_unavailable(line).is_ok() {
            lines.next_line();
            g.stack_unavailable = true;
            continue;
        }
        if let Ok((_, id)) = traceback::originating(line) {
            lines.next_line();
            g.ancestors.push(Ancestor {
                id,
                frames: Vec::new(),
            });
            in_ancestor = true;
            continue;
        }
        if let Some((function, args)) = traceback::func_line(line) {
            lines.next_line();
            pending = Some(Pending {
                line: no,
                function,
                args,
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
        push(&mut g, &mut frames, in_ancestor, p, None);
    }
    g.frames = match cached {
        Some(f) => f,
        None => {
            let f: Arc<[Frame<'a>]> = frames.into();
            // Remember a clean parse: exactly the frames text, then `created by`.
            if let Some(t) = frames_text {
                let clean = created_by_at == Some(start + t.len())
                    && diags.len() == diags_before
                    && g.ancestors.is_empty()
                    && !cut_in_frame;
                if clean {
                    bodies.insert(t, (f.clone(), g.elided));
                }
            }
            f
        }
    };
    let rooted = g.created_by.is_some()
        || g.stack_unavailable
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

fn read_profile_record<'a>(lines: &mut Lines<'a>, count: u64, header_line: usize) -> Goroutine<'a> {
    let mut g = new_goroutine(None, header_line, State::unknown());
    g.count = count;
    let mut frames = Vec::new();
    while let Some((_, line)) = lines.peek() {
        if let Ok((_, l)) = profile::labels(line) {
            lines.next_line();
            g.labels = Some(l);
            continue;
        }
        if let Ok((_, f)) = profile::frame(line) {
            lines.next_line();
            frames.push(Frame {
                function: f.function.unwrap_or(FuncName("?")),
                args: Args::Absent,
                file: f.file,
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

fn read_delve_goroutine<'a>(
    lines: &mut Lines<'a>,
    h: delve::DelveHeader<'a>,
    header_line: usize,
) -> Goroutine<'a> {
    let state = match h.reason {
        Some(r) => State::new(r),
        None if h.thread.is_some() => State {
            raw: "running",
            reason: WaitReason::Running,
        },
        None => State::unknown(),
    };
    let mut g = new_goroutine(Some(h.id), header_line, state);
    g.wait_since = h.wait_since;
    let mut pending: Option<(u64, FuncName<'a>)> = None;
    let mut frames = Vec::new();
    while let Some((_, line)) = lines.peek() {
        if let Ok((_, (_, pc, f))) = delve::frame_func(line) {
            lines.next_line();
            if let Some((pc, function)) = pending.take() {
                frames.push(delve_frame(function, pc, "", 0));
            }
            pending = Some((pc, f));
            continue;
        }
        if let Ok((_, (file, l))) = delve::frame_at(line) {
            lines.next_line();
            if let Some((pc, function)) = pending.take() {
                frames.push(delve_frame(function, pc, file, l));
            }
            continue;
        }
        if line.trim() == "(truncated)" {
            lines.next_line();
            g.elided = Some(0);
            continue;
        }
        if let Ok((_, l)) = delve::labels(line) {
            lines.next_line();
            g.labels = Some(l);
            continue;
        }
        break;
    }
    if let Some((pc, function)) = pending.take() {
        frames.push(delve_frame(function, pc, "", 0));
    }
    if frames.is_empty() {
        if let Some(function) = h.function {
            frames.push(delve_frame(function, h.pc, h.file, h.line));
        }
    }
    g.frames = frames.into();
    g
}

fn delve_frame<'a>(function: FuncName<'a>, pc: u64, file: &'a str, line: u32) -> Frame<'a> {
    Frame {
        function,
        args: Args::Absent,
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
    #[test]
    fn repeated_id_starts_a_new_dump() {
        let g = "goroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n\n";
        let text = format!("{g}{g}");
        let p = parse(&text);
        assert_eq!(p.dumps.len(), 2);
    }
}
