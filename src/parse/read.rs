//! The format readers' drivers: a traceback goroutine (through the fast path for
//! stacks read before, `stack::Shapes`, else line by line with the nom grammar of
//! `traceback`), a `debug=1` record (`profile`), a Delve goroutine and its frames
//! (`delve`).

use super::*;

/// Functions a goroutine's stack can end in without a `created by` line: the main
/// goroutine's, and the roots of system stacks (`runtime.mcall` and
/// `runtime.systemstack` switch to the thread's stack; `runtime.mstart` starts one).
pub(super) fn is_stack_root(f: &FuncName) -> bool {
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
pub(super) struct Pending<'a> {
    pub(super) line: usize,
    pub(super) function: FuncName<'a>,
    /// `None` for a `created by` line.
    pub(super) args: Option<PendingArgs>,
    pub(super) created_by: Option<Option<u64>>,
    /// The slot of `Reader::recent` holding the function line, if kept.
    pub(super) recent: Option<usize>,
}

/// A function line's argument list, read by nom, or by `traceback::args_fast`
/// (its encoding then waits in `Reader::line_args`).
pub(super) enum PendingArgs {
    Parsed(traceback::Args),
    Fast(ArgsKind),
}

/// Where frames read by the nom reader go.
pub(super) struct Stack<'a> {
    pub(super) frames: Vec<Frame<'a>>,
    pub(super) in_ancestor: bool,
}

impl PendingArgs {
    /// The kind of list the frame keeps.
    fn kind(&self) -> ArgsKind {
        match self {
            PendingArgs::Parsed(traceback::Args::Inlined) => ArgsKind::Inlined,
            PendingArgs::Parsed(traceback::Args::List(_)) => ArgsKind::List,
            PendingArgs::Fast(k) => *k,
        }
    }
}

impl<'a> Stack<'a> {
    /// File the pending line with its location (or none, when it had no file line):
    /// the frame filed, if it is one (not a creator).
    pub(super) fn push<'b, K: Keep<'b, 'a>>(
        &mut self,
        g: &mut Goroutine<'a>,
        r: &mut Reader<'a, K>,
        p: Pending<'b>,
        loc: Option<traceback::Location<'b>>,
    ) -> Option<Frame<'a>> {
        let file = loc.map_or("", |l| r.keep.keep(l.file));
        let line = loc.map_or(0, |l| l.line);
        let function = r.func(p.function);
        let Some(args) = p.args else {
            // An ancestor's own creator is not this goroutine's.
            if !self.in_ancestor {
                let site = CreatedBy {
                    function,
                    file,
                    line,
                    parent: None,
                }
                .site();
                g.set_creator(r.frame(site), p.created_by.flatten());
            }
            return None;
        };
        let frame = r.frame(FrameData {
            function,
            args: args.kind(),
            file,
            line,
            offset: loc.and_then(|l| l.offset),
            pc: loc.and_then(|l| l.pc),
        });
        self.push_frame(g, r, &args, frame.clone());
        Some(frame)
    }

    /// File a frame with its argument values (`args`, the function line's).
    pub(super) fn push_frame<K>(
        &mut self,
        g: &mut Goroutine<'a>,
        r: &mut Reader<'a, K>,
        args: &PendingArgs,
        frame: Frame<'a>,
    ) {
        // Ancestors' values are never printed (`(...)`); none are kept.
        if !self.in_ancestor {
            match args {
                PendingArgs::Parsed(a) => {
                    a.encode(&mut r.encoded);
                }
                PendingArgs::Fast(_) => r.encoded.extend_from_slice(&r.line_args),
            }
        }
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

/// A frame read before, by the text of its function's name and of its file line
/// (`Reader::lines_seen`).
pub(super) struct SeenLines<'a> {
    /// The file line as printed.
    file_line: Box<str>,
    frame: Frame<'a>,
}

/// The frames read last after each function line `Reader::recent` keeps, by its
/// slot: up to `RecentFrames::WAYS` file lines each (a function calls on from a
/// few lines), with the frame each made. A function line and file line found here
/// make the frame `Reader::seen_frame` would find (the same name, kind of list and
/// file line), without hashing either.
#[derive(Default)]
pub(super) struct RecentFrames<'a> {
    slots: Vec<RecentSlot<'a>>,
}

/// The file lines read after one function line, and their frames.
#[derive(Default)]
struct RecentSlot<'a> {
    frames: Vec<RecentFrame<'a>>,
    /// Which to replace next, once there are `RecentFrames::WAYS`.
    next: usize,
}

/// A file line and the frame it made below a function line.
struct RecentFrame<'a> {
    file_line: Box<str>,
    frame: Frame<'a>,
}

impl<'a> RecentFrames<'a> {
    const WAYS: usize = 4;

    /// The slot holds another function line now: its frames are not that line's.
    pub(super) fn forget(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.frames.clear();
            s.next = 0;
        }
    }

    /// The frame read before with `file_line` below the function line of `slot`.
    pub(super) fn find(&self, slot: usize, file_line: &str) -> Option<Frame<'a>> {
        self.slots
            .get(slot)?
            .frames
            .iter()
            .find(|f| *f.file_line == *file_line)
            .map(|f| f.frame.clone())
    }

    /// Remember `frame`, read from `file_line` below the function line of `slot`;
    /// not when it prints a PC (as `Reader::saw_frame`: never the same twice).
    pub(super) fn keep(&mut self, slot: usize, file_line: &str, frame: &Frame<'a>) {
        if frame.pc.is_some() {
            return;
        }
        if self.slots.is_empty() {
            self.slots
                .resize_with(traceback::RecentFuncLines::SLOTS, Default::default);
        }
        let Some(s) = self.slots.get_mut(slot) else {
            return;
        };
        let kept = RecentFrame {
            file_line: file_line.into(),
            frame: frame.clone(),
        };
        if s.frames.len() < Self::WAYS {
            s.frames.push(kept);
        } else {
            s.frames[s.next] = kept;
            s.next = (s.next + 1) % Self::WAYS;
        }
    }
}

impl<'a, K> Reader<'a, K> {
    /// The key of a frame's name, file line and kind of argument list.
    fn lines_key(name: &str, file_line: &str, kind: ArgsKind) -> u64 {
        use std::hash::BuildHasher;
        rustc_hash::FxBuildHasher.hash_one((name, file_line, kind))
    }

    /// The frame read before from a function line naming `name` with a list of
    /// `kind`, and this file line: its file line is parsed and its strings kept once.
    pub(super) fn seen_frame(
        &self,
        name: FuncName<'_>,
        kind: ArgsKind,
        file_line: &str,
    ) -> Option<Frame<'a>> {
        let key = Self::lines_key(name.0, file_line, kind);
        self.lines_seen
            .get(&key)?
            .iter()
            .find(|s| {
                s.frame.function.0 == name.0 && s.frame.args == kind && *s.file_line == *file_line
            })
            .map(|s| s.frame.clone())
    }

    /// Remember `frame`, read from these lines, for `seen_frame`; not when the line
    /// prints a PC (frame and stack pointers: never the same twice).
    pub(super) fn saw_frame(&mut self, file_line: &str, frame: &Frame<'a>) {
        if frame.pc.is_some() {
            return;
        }
        let key = Self::lines_key(frame.function.0, file_line, frame.args);
        self.lines_seen.entry(key).or_default().push(SeenLines {
            file_line: file_line.into(),
            frame: frame.clone(),
        });
    }
}

pub(super) fn read_traceback_goroutine<'b, 'a, K: Keep<'b, 'a>>(
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
    let found = match r.fast && r.tree.tries() {
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
    let id = h.id;
    let mut g = goroutine_from_header(h, header_line, frames, r);
    if let Some(m) = found {
        file_known_stack(&mut g, &m, mark, r);
        lines.advance(m.bytes, m.lines);
        return g;
    }
    let read = StackLines {
        lines,
        g,
        stack: Stack {
            frames: Vec::new(),
            in_ancestor: false,
        },
        diags,
        id,
    };
    read.read_new(text, header_line, r)
}

/// A goroutine with what its header line says, and these frames.
#[inline]
fn goroutine_from_header<'b, 'a, K: Keep<'b, 'a>>(
    h: traceback::Header<'b>,
    header_line: usize,
    frames: Arc<[Frame<'a>]>,
    r: &mut Reader<'a, K>,
) -> Goroutine<'a> {
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
    g
}

/// Give `g` the rest of a stack read before (`m`, found by the fast path): its
/// creator, elision, and argument values (from `mark` in `Reader::piece_args`),
/// shared with the last goroutine of this stack when they are the same.
#[inline]
fn file_known_stack<'a, K>(
    g: &mut Goroutine<'a>,
    m: &stack::Matched,
    mark: usize,
    r: &mut Reader<'a, K>,
) {
    r.tree.found += 1;
    let k = &mut r.known[m.shape as usize];
    g.set_creator(k.creator.clone(), m.parent);
    if k.elided.is_some() {
        g.rare_mut().elided = k.elided;
    }
    let len = r.piece_args.len() - mark;
    g.args = match k.last_args {
        // The same values as the last goroutine of this stack: shared.
        Some(last)
            if last.piece == r.piece
                && last.len == len
                && r.piece_args[last.start..last.start + len] == r.piece_args[mark..] =>
        {
            r.piece_args.truncate(mark);
            ArgData::pending(last.start, len)
        }
        _ => {
            k.last_args = Some(LastArgs {
                piece: r.piece,
                start: mark,
                len,
            });
            ArgData::pending(mark, len)
        }
    };
}

/// One goroutine's stack read line by line (by the nom grammar of `traceback`, or
/// the fast reader of function lines where it is sure).
struct StackLines<'l, 'b, 'a> {
    lines: &'l mut Lines<'b>,
    g: Goroutine<'a>,
    stack: Stack<'a>,
    diags: &'l mut Vec<Diagnostic>,
    /// The goroutine's id, for diagnostics.
    id: u64,
}

/// How the lines of a stack ended.
struct StackEnd {
    /// By a blank line after a whole frame, another goroutine's header, or a line
    /// that is no part of a stack.
    ended_cleanly: bool,
    /// Within a frame: a function line without its file line.
    cut_in_frame: bool,
}

/// What one line of a stack was.
enum StackLine<'b> {
    /// Read and filed.
    Read,
    /// A function (or `created by`) line, waiting for its file line.
    Pending(Pending<'b>),
    /// No part of this stack: it ends before the line.
    End,
}

impl<'l, 'b, 'a> StackLines<'l, 'b, 'a> {
    /// Read a stack not read before (`text`, from its first line), remember its
    /// shape when the fast path scanned it alike, and say when it was cut off.
    fn read_new<K: Keep<'b, 'a>>(
        mut self,
        text: &'b [u8],
        header_line: usize,
        r: &mut Reader<'a, K>,
    ) -> Goroutine<'a> {
        r.scanned.clear();
        r.segments.clear();
        let scan = if r.fast && r.tree.grows() {
            stack::scan(text, &mut r.scanned, &mut r.segments)
        } else {
            None
        };
        // One buffer for every stack read: its frames are moved into the stack's
        // list, allocated once at its length, and the buffer kept for the next.
        self.stack.frames = std::mem::take(&mut r.frame_buf);
        self.stack.frames.clear();
        self.stack
            .frames
            .reserve(scan.as_ref().map_or(16, |s| s.frames as usize));
        r.encoded.clear();
        let diags_before = self.diags.len();
        let start = self.lines.offset();
        let end = self.read_lines(r);
        let mut g = self.g;
        g.frames = self.stack.frames.drain(..).collect();
        r.frame_buf = self.stack.frames;
        g.args = Reader::<K>::store_args(&mut r.piece_args, &r.encoded);
        if let Some(sc) = &scan {
            let clean = self.diags.len() == diags_before
                && self.lines.offset() - start == sc.bytes
                && !end.cut_in_frame;
            remember_shape(&g, text, sc, clean, r);
        }
        mark_if_cut(&mut g, self.id, &end, header_line, self.lines, self.diags);
        g
    }

    /// Read the stack's lines up to its end, and file a last function line left
    /// without its file line.
    fn read_lines<K: Keep<'b, 'a>>(&mut self, r: &mut Reader<'a, K>) -> StackEnd {
        let mut pending: Option<Pending<'b>> = None;
        let mut ended_cleanly = false;
        while let Some((no, line)) = self.lines.peek() {
            if traceback::is_blank(line) {
                self.lines.next_line();
                ended_cleanly = pending.is_none();
                break;
            }
            if let Some(p) = pending.take() {
                if self.file_pending(p, line, r) {
                    continue;
                }
            }
            match self.read_line(no, line, r) {
                StackLine::Read => {}
                StackLine::Pending(p) => pending = Some(p),
                StackLine::End => {
                    ended_cleanly = true;
                    break;
                }
            }
        }
        let cut_in_frame = pending.is_some();
        if let Some(p) = pending.take() {
            self.stack.push(&mut self.g, r, p, None);
        }
        StackEnd {
            ended_cleanly,
            cut_in_frame,
        }
    }

    /// File the function line `p` with `line` when that is its file line (and say
    /// so: the line is read), else without one, with a diagnostic.
    #[inline]
    fn file_pending<K: Keep<'b, 'a>>(
        &mut self,
        p: Pending<'b>,
        line: &'b str,
        r: &mut Reader<'a, K>,
    ) -> bool {
        let recent = p.recent;
        if let Some(args) = p.args.as_ref().filter(|_| r.fast) {
            let found = match recent.and_then(|slot| r.recent_frames.find(slot, line)) {
                Some(frame) => Some(frame),
                None => r
                    .seen_frame(p.function, args.kind(), line)
                    .inspect(|frame| {
                        if let Some(slot) = recent {
                            r.recent_frames.keep(slot, line, frame);
                        }
                    }),
            };
            if let Some(frame) = found {
                self.lines.next_line();
                self.stack.push_frame(&mut self.g, r, args, frame);
                return true;
            }
        }
        if let Some(loc) = traceback::location(line) {
            self.lines.next_line();
            match self.stack.push(&mut self.g, r, p, Some(loc)) {
                Some(frame) if r.fast => {
                    r.saw_frame(line, &frame);
                    if let Some(slot) = recent {
                        r.recent_frames.keep(slot, line, &frame);
                    }
                }
                _ => {}
            }
            return true;
        }
        self.diags.push(Diagnostic {
            kind: DiagnosticKind::UnrecognisedLine,
            line: p.line,
            message: format!(
                "goroutine {}: frame `{}` has no file line after it",
                self.id, p.function
            ),
        });
        self.stack.push(&mut self.g, r, p, None);
        false
    }

    /// Read a line of the stack that is not a file line: a header (the stack
    /// ends), a creator, an elision, a missing stack, an ancestor, a function line.
    #[inline]
    fn read_line<K: Keep<'b, 'a>>(
        &mut self,
        no: usize,
        line: &'b str,
        r: &mut Reader<'a, K>,
    ) -> StackLine<'b> {
        if !may_be_stack_marker(line) {
            return self.read_func_line(no, line, r);
        }
        if line.starts_with("goroutine ") && traceback::header(line).is_ok() {
            return StackLine::End;
        }
        if let Ok((_, (function, parent))) = traceback::created_by(line) {
            self.lines.next_line();
            return StackLine::Pending(Pending {
                line: no,
                function,
                args: None,
                created_by: Some(parent),
                recent: None,
            });
        }
        if let Ok((_, n)) = traceback::elided(line.trim_start()) {
            self.lines.next_line();
            self.g.rare_mut().elided = Some(n);
            return StackLine::Read;
        }
        if traceback::stack_unavailable(line).is_ok() {
            self.lines.next_line();
            self.g.stack_unavailable = true;
            return StackLine::Read;
        }
        if let Ok((_, id)) = traceback::originating(line) {
            self.lines.next_line();
            self.g.rare_mut().ancestors.push(Ancestor {
                id,
                frames: Vec::new(),
            });
            self.stack.in_ancestor = true;
            return StackLine::Read;
        }
        self.read_func_line(no, line, r)
    }

    /// Read a function line (its values byte by byte where the fast reader is sure,
    /// as nom does: `traceback::args_fast`; by nom otherwise), or a line that is
    /// unrecognised in the stack, or no part of it.
    #[inline]
    fn read_func_line<K: Keep<'b, 'a>>(
        &mut self,
        no: usize,
        line: &'b str,
        r: &mut Reader<'a, K>,
    ) -> StackLine<'b> {
        r.line_args.clear();
        let fast = match r.fast {
            true => r.recent.read(line, &mut r.line_args).map(|f| {
                if let (Some(slot), false) = (f.slot, f.again) {
                    r.recent_frames.forget(slot);
                }
                (f.name, PendingArgs::Fast(f.kind), f.slot)
            }),
            false => None,
        };
        let read = fast
            .or_else(|| traceback::func_line(line).map(|(f, a)| (f, PendingArgs::Parsed(a), None)));
        if let Some((function, args, recent)) = read {
            self.lines.next_line();
            return StackLine::Pending(Pending {
                line: no,
                function,
                args: Some(args),
                created_by: None,
                recent,
            });
        }
        if line.starts_with(['\t', ' ']) {
            self.lines.next_line();
            self.diags.push(Diagnostic {
                kind: DiagnosticKind::UnrecognisedLine,
                line: no,
                message: format!("goroutine {}: unrecognised line in stack", self.id),
            });
            return StackLine::Read;
        }
        // Something that is not part of a stack (log line, register dump): the goroutine
        // ends here, and the line is the outer loop's business.
        StackLine::End
    }
}

/// Whether `line` may be one of the lines of a stack other than a function line
/// (a header, `created by`, an elision, `goroutine running on other thread`,
/// `[originating from goroutine N]`): false when its first byte is ASCII and can
/// start none of them (`g`, `c`, `.`, `[`, whitespace), as in most function lines.
#[inline]
fn may_be_stack_marker(line: &str) -> bool {
    match line.as_bytes().first() {
        Some(&c) if c.is_ascii() => {
            matches!(c, b'g' | b'c' | b'.' | b'[') || traceback::starts_with_whitespace(line)
        }
        _ => true,
    }
}

/// Remember a clean read (`clean`: no diagnostics, the bytes the scan read, not cut
/// in a frame) of a stack the fast path scanned alike (`sc`), for the next goroutine
/// of the same shape.
fn remember_shape<'b, 'a, K: Keep<'b, 'a>>(
    g: &Goroutine<'a>,
    text: &'b [u8],
    sc: &stack::Scan,
    clean: bool,
    r: &mut Reader<'a, K>,
) {
    let Some(cb) = g.created_by() else {
        return;
    };
    let alike = clean
        && g.ancestors().is_empty()
        && g.elided() == sc.elided
        && !g.stack_unavailable
        && cb.parent == sc.parent
        && g.frames.len() == sc.frames as usize
        && r.encoded == r.scanned;
    if !alike {
        return;
    }
    let shape = r.stacks.insert(text, &r.segments) as usize;
    let known = Known {
        frames: g.frames.clone(),
        creator: r.frame(cb.site()),
        elided: sc.elided,
        last_args: None,
    };
    if shape == r.known.len() {
        r.tree.filed += 1;
        r.known.push(known);
    } else {
        r.known[shape] = known;
    }
}

/// Mark `g` incomplete, with a diagnostic, when its stack was cut. A stack ends where
/// the runtime ends it: a creator, a root function (system stacks included), an
/// elision marker, goroutine 0 (the thread's own stack, whose frames end wherever the
/// scheduler was entered). Anything else was cut.
fn mark_if_cut(
    g: &mut Goroutine<'_>,
    id: u64,
    end: &StackEnd,
    header_line: usize,
    lines: &Lines<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let rooted = g.created_by().is_some()
        || g.stack_unavailable
        || id == 0
        || g.elided().is_some()
        || g.frames.last().is_some_and(|f| is_stack_root(&f.function));
    if end.cut_in_frame || !rooted {
        g.complete = false;
        let at = lines.line_no().saturating_sub(1).max(header_line);
        diags.push(Diagnostic {
            kind: DiagnosticKind::Truncated,
            line: at,
            message: if end.ended_cleanly && !end.cut_in_frame {
                format!("goroutine {id}: stack ends without `created by` or a root frame; treated as cut off")
            } else {
                format!("goroutine {id}: input cut off inside its stack")
            },
        });
    }
}

pub(super) fn read_profile_record<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    count: u64,
    first_pc: Option<u64>,
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
            let data = FrameData {
                function: f.function.map_or(FuncName("?"), |n| r.func(n)),
                args: ArgsKind::Absent,
                file: r.keep.keep(f.file),
                line: f.line,
                offset: f.offset,
                pc: Some(f.pc),
            };
            frames.push(r.frame(data));
            continue;
        }
        if line.trim().is_empty() {
            lines.next_line();
        }
        break;
    }
    g.runtime_on_top = runtime_on_top(first_pc, frames.first());
    g.frames = frames.into();
    g
}

/// Whether the profile hid frames above a record's first printed one: its PC is
/// not the record's first (printed as is, or less one for a return address, as
/// `runtime.CallersFrames` does).
fn runtime_on_top(first_pc: Option<u64>, first: Option<&Frame<'_>>) -> bool {
    match (first_pc, first.and_then(|f| f.pc)) {
        (Some(top), Some(pc)) => pc != top && pc.wrapping_add(1) != top,
        _ => false,
    }
}

pub(super) fn read_delve_goroutine<'b, 'a, K: Keep<'b, 'a>>(
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
            g.frames = vec![Frame::at_pc(function, h.pc, file, h.line)].into();
        }
    }
    g
}

/// Delve's frames (`goroutines -t`, or `stack` / `bt`): `N  0xPC in F` and
/// `at FILE:LINE` lines, `(truncated)`, `Labels:`; into `g` when any were read.
pub(super) fn read_delve_stack<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    g: &mut Goroutine<'a>,
    r: &mut Reader<'a, K>,
) {
    let mut pending: Option<DelveFrame<'a>> = None;
    let mut frames = Vec::new();
    while let Some((_, line)) = lines.peek() {
        if let Ok((_, (_, pc, f))) = delve::frame_func(line) {
            lines.next_line();
            if let Some(p) = pending.take() {
                frames.push(p.at("", 0));
            }
            pending = Some(DelveFrame {
                pc,
                function: r.func(f),
            });
            continue;
        }
        if let Ok((_, (file, l))) = delve::frame_at(line) {
            lines.next_line();
            if let Some(p) = pending.take() {
                frames.push(p.at(r.keep.keep(file), l));
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
    if let Some(p) = pending.take() {
        frames.push(p.at("", 0));
    }
    if !frames.is_empty() {
        g.frames = frames.into();
    }
}

/// A Delve frame whose `at FILE:LINE` line may come next: `N  0xPC in F`.
struct DelveFrame<'a> {
    pc: u64,
    function: FuncName<'a>,
}

impl<'a> DelveFrame<'a> {
    /// The frame, at `file:line` (`""`, 0 when Delve printed no `at` line).
    fn at(self, file: &'a str, line: u32) -> Frame<'a> {
        Frame::at_pc(self.function, self.pc, file, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a parse gives, as text: each dump's fields and diagnostics, and each
    /// goroutine whole (its `Debug` form) with its argument bytes in place of where
    /// they are kept (a range of a buffer, which the fast path shares between
    /// goroutines of equal values).
    fn everything(p: &Parsed) -> String {
        let mut out = format!("{} {:?}\n", p.skipped_lines, p.first_skipped);
        for d in &p.dumps {
            let mut head = d.clone();
            head.goroutines.clear();
            out += &format!("{head:?}\n");
            for g in &d.goroutines {
                let bytes = g.args.bytes().to_vec();
                let mut g = g.clone();
                g.args = ArgData::default();
                out += &format!("{g:?} {bytes:?}\n");
            }
        }
        out
    }

    /// Real dumps with elided stacks (`...N frames elided...`, Go 1.21+), and whether
    /// one of them is in the plain form the fast path keeps (the `variants` dumps'
    /// elided stacks print ancestors or frame pointers, Go 1.19's
    /// `...additional frames elided...` ones too).
    const ELIDED: [(&str, bool); 6] = [
        ("fixtures/recorded/variants/go1.21/goroutine-1.txt", true),
        ("fixtures/recorded/variants/go1.27/goroutine-2.txt", true),
        (
            "fixtures/recorded/variants/go1.27/goroutineleak-3.txt",
            true,
        ),
        ("fixtures/dumps/variants/go1.19/sigquit.txt", false),
        ("fixtures/dumps/variants/go1.23/debug2.txt", false),
        ("fixtures/dumps/variants/go1.27/sigquit.txt", false),
    ];

    // Elided stacks go through the fast path, and it reads them as the nom reader
    // does: frames, elided count, creator, arguments, diagnostics, everything. Each
    // dump is read twice in a row, so that the second copy's stacks are ones read
    // before.
    #[test]
    fn elided_stacks_read_alike_both_ways() {
        for (name, plain) in ELIDED {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
            let once = std::fs::read_to_string(&path).expect(name);
            assert!(once.contains(" frames elided...\n"), "{name}");
            let text = format!("{once}\n{once}");
            let mut r = Reader::new(Borrow);
            let fast = parse_with(&text, &mut r);
            assert_eq!(
                r.known.iter().any(|k| k.elided.is_some()),
                plain,
                "{name}: an elided stack is kept by the fast path"
            );
            let slow = parse_without_shortcuts(&text);
            assert!(
                slow.dumps
                    .iter()
                    .flat_map(|d| &d.goroutines)
                    .any(|g| g.elided().is_some()),
                "{name}"
            );
            assert_eq!(everything(&fast), everything(&slow), "{name}");
            assert_eq!(
                everything(&parse_serial(&text)),
                everything(&slow),
                "{name}"
            );
        }
    }

    // Real stack lines (the unique-stacks bench dump) and hand-written ones: a line
    // `may_be_stack_marker` lets through to the function-line reader is none of the
    // lines `StackLines::read_line` looks for before it.
    #[test]
    fn lines_past_the_marker_check_are_no_markers() {
        let lines = [
            "main.nextDigit(0x0?, 0x0?, 0x0?)",
            "sync.(*WaitGroup).Wait(0x170decc780b0)",
            "created by main.spawnUnique in goroutine 1",
            "goroutine 8 [sync.Mutex.Lock]:",
            "...12 frames elided...",
            "\u{a0}...additional frames elided...",
            "\tgoroutine running on other thread; stack unavailable",
            "[originating from goroutine 24]:",
            "\t/opt/gos/go1.27.3/go/src/runtime/sema.go:95 +0x25",
            "github.com/x/y.f()",
            "Z",
        ];
        for l in lines {
            let marker = traceback::header(l).is_ok()
                || traceback::created_by(l).is_ok()
                || traceback::elided(l.trim_start()).is_ok()
                || traceback::stack_unavailable(l).is_ok()
                || traceback::originating(l).is_ok();
            assert!(may_be_stack_marker(l) || !marker, "{l:?}");
        }
        assert!(!may_be_stack_marker("main.main()"));
        assert!(may_be_stack_marker("created by main.main in goroutine 1"));
    }

    // A reader whose tree of shapes stopped growing (as where nearly every stack is
    // new) files no more shapes, still finds the ones it holds, and reads every
    // goroutine as the nom reader does. Each dump is read twice in a row.
    #[test]
    fn tree_that_stopped_growing_reads_alike() {
        for (name, _) in ELIDED {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
            let once = std::fs::read_to_string(&path).expect(name);
            let text = format!("{once}\n{once}");
            let mut r = Reader::new(Borrow);
            r.tree = TreeUse {
                found: 0,
                filed: TreeUse::TRIAL,
                ..TreeUse::default()
            };
            assert!(!r.tree.grows());
            let capped = parse_with(&text, &mut r);
            assert!(r.known.is_empty(), "{name}: nothing filed");
            assert_eq!(r.tree.found, 0, "{name}");
            let slow = parse_without_shortcuts(&text);
            assert_eq!(everything(&capped), everything(&slow), "{name}");
        }
        // Found often enough, it grows again.
        let t = TreeUse {
            found: TreeUse::TRIAL / 2,
            filed: TreeUse::TRIAL,
            ..TreeUse::default()
        };
        assert!(t.grows());
        // Found rarely, one stack in `SAMPLE` is looked for; found often, every one.
        let mut t = TreeUse {
            tried: TreeUse::TRIAL,
            ..TreeUse::default()
        };
        let looked = (0..10 * TreeUse::SAMPLE).filter(|_| t.tries()).count() as u64;
        assert_eq!(looked, 10);
        t.found = t.tried;
        assert!((0..TreeUse::SAMPLE).all(|_| t.tries()));
    }
}
