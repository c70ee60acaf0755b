//! The fast path for stacks that repeat: its one home (`scan` and `Shapes`, with the
//! byte-level argument reader `traceback::args_fast` / `args_prefix`).
//!
//! The rule it keeps: it may refuse a stack (and then the nom reader of
//! `traceback`, driven by `read::read_traceback_goroutine`, reads it), but it never
//! reads one differently from nom. A stack is filed here only after nom read it and
//! got the same frames, creator and argument bytes as `scan` (`read.rs`, `clean`);
//! `parse::parse_without_shortcuts` reads with nom alone, and the tests
//! (`parse_fixtures.rs`, the fuzz target `parse`) check both readings agree.
//!
//! A million goroutines usually stand in a few hundred distinct stacks that differ
//! only in argument values (and their creator's id). The stacks read before are kept
//! as a tree of their lines (`Shapes`): a goroutine's stack is matched against it by
//! comparing bytes, parsing only the argument lists, with no search for line ends
//! outside them. When it matches, the frames nom parsed the first time are shared
//! and nom never sees the text again.
//!
//! `scan` decides which stacks go in the tree: it only accepts the plain form
//! (function and file lines, at most one elision line between frames, a `created by`
//! with its file line, a blank line) and gives up on anything else: ancestors, CRLF,
//! frame and stack pointers (which never repeat), a cut stack, an argument it is not
//! sure of. The nom reader reads those, with its diagnostics. An elision line is
//! matched as the whole line, its count included: stacks that elide different
//! numbers of frames are different shapes.

use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::ops::Range;

use super::traceback::{args_fast, args_prefix, ArgsPrefix};
use crate::model::ArgsKind;

/// One goroutine's stack, scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Bytes read, the closing blank line included.
    pub bytes: usize,
    /// `created by F in goroutine N`: N.
    pub parent: Option<u64>,
    /// Lines read, the closing blank line included.
    pub lines: usize,
    pub frames: u32,
    /// `...N frames elided...`: N; `...additional frames elided...`: 0.
    pub elided: Option<u32>,
}

/// One line of a scanned stack with the line after it, as ranges of its text: what
/// `Shapes::insert` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// A function line up to its argument list's `(`, included; or `created by F`,
    /// with ` in goroutine ` when a parent id follows; or an elision line with its
    /// newline.
    pub head: Range<usize>,
    /// From the end of the argument list (or of the parent id) to the end of the
    /// file line's newline; for a creator, the closing blank line too; empty for an
    /// elision line.
    pub tail: Range<usize>,
    pub kind: SegmentKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    Frame(ArgsKind),
    /// `created by`; whether ` in goroutine N` is printed.
    Creator {
        parent: bool,
    },
    /// `...N frames elided...` or `...additional frames elided...`: one line, no
    /// file line after it.
    Elided,
}

impl SegmentKind {
    /// Lines a segment of this kind takes.
    fn lines(self) -> usize {
        match self {
            SegmentKind::Elided => 1,
            _ => 2,
        }
    }
}

// 18   (a goroutine id, as in `created by F in goroutine 18`)
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The count of an elision line, the whole line: `...12 frames elided...` (Go 1.21+)
/// gives 12, `...additional frames elided...` (Go 1.20 and before) 0, as
/// `traceback::elided` reads them. `None` for any other line, one with more after
/// it or a count that is no `u32` included (the nom reader would not read those
/// alike).
fn elision(line: &[u8]) -> Option<u32> {
    if line == b"...additional frames elided..." {
        return Some(0);
    }
    let n = line
        .strip_prefix(b"...")?
        .strip_suffix(b" frames elided...")?;
    u32::try_from(decimal(n)?).ok()
}

/// The positions of the newlines of a text, found 64 bytes at a time: stack lines
/// are short (forty bytes or so), and a `memchr` call per line spends more on
/// setting up than on searching.
struct Newlines<'t> {
    text: &'t [u8],
    /// Start of the 64-byte chunk `mask` is of.
    base: usize,
    /// Bit i set: a newline at `base + i` not given yet.
    mask: u64,
}

impl<'t> Newlines<'t> {
    fn new(text: &'t [u8]) -> Self {
        Newlines {
            text,
            base: 0,
            mask: newline_mask(text),
        }
    }
}

impl Iterator for Newlines<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            if self.base >= self.text.len() {
                return None;
            }
            self.mask = newline_mask(&self.text[self.base..]);
        }
        let i = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

/// Bit i set where byte i of the first 64 bytes of `b` is a newline.
#[inline]
pub(super) fn newline_mask(b: &[u8]) -> u64 {
    newline_and_high_masks(b).0
}

/// Bit i set, in the first mask, where byte i of the first 64 bytes of `b` is a
/// newline, and in the second where it is not ASCII; the second is all ones
/// (nothing known) where the bytes were not looked at in one go (fewer than 64,
/// or not x86_64).
#[inline]
pub(super) fn newline_and_high_masks(b: &[u8]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if b.len() >= 64 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of every x86_64 CPU; the four unaligned 16-byte loads
        // read bytes 0..64 of `b`, which has at least 64.
        unsafe {
            let nl = _mm_set1_epi8(b'\n' as i8);
            let p = b.as_ptr() as *const __m128i;
            let (mut lines, mut high) = (0u64, 0u64);
            for k in 0..4 {
                let v = _mm_loadu_si128(p.add(k));
                lines |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u16) << (16 * k);
                high |= u64::from(_mm_movemask_epi8(v) as u16) << (16 * k);
            }
            return (lines, high);
        }
    }
    let lines = b
        .iter()
        .take(64)
        .enumerate()
        .filter(|&(_, &c)| c == b'\n')
        .fold(0, |m, (i, _)| m | 1 << i);
    (lines, u64::MAX)
}

/// Scan the stack that starts at `text` (the line after its goroutine header).
/// Argument values are appended to `args` in the encoding of `model::ArgData`, and
/// the lines to `segments`. `None` when the stack is not in the plain form; `args`
/// and `segments` may then hold a partial read, which the caller discards.
pub fn scan(text: &[u8], args: &mut Vec<u8>, segments: &mut Vec<Segment>) -> Option<Scan> {
    let mut s = Scanning::default();
    let mut pos = 0usize;
    let mut newlines = Newlines::new(text);
    loop {
        let nl = newlines.next()?;
        let line = &text[pos..nl];
        let line_start = pos;
        s.lines += 1;
        pos = nl + 1;
        if let Some(seg) = s.open.take() {
            s.file_line(line, seg, pos, segments)?;
            continue;
        }
        if line.is_empty() {
            return s.done.then_some(Scan {
                bytes: pos,
                parent: s.parent,
                lines: s.lines,
                frames: s.frames,
                elided: s.elided,
            });
        }
        if s.done {
            return None;
        }
        // ...12 frames elided...
        if line.first() == Some(&b'.') {
            s.elision_line(line, line_start..pos, segments)?;
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"created by ") {
            s.open = Some(s.creator_line(rest, line_start, nl)?);
            continue;
        }
        s.open = Some(s.function_line(line, line_start, nl, args)?);
    }
}

/// What `scan` knows of a stack so far.
#[derive(Default)]
struct Scanning {
    lines: usize,
    frames: u32,
    parent: Option<u64>,
    elided: Option<u32>,
    /// The segment whose file line is next.
    open: Option<Segment>,
    /// The segment open is the creator's.
    in_creator: bool,
    /// The creator's file line was read: only the closing blank line may follow.
    done: bool,
}

impl Scanning {
    /// The file line of the open segment `seg`, which ends at `end` (after its
    /// newline): `\t/usr/lib/go-1.19/src/sync/mutex.go:171 +0x165`.
    #[inline]
    fn file_line(
        &mut self,
        line: &[u8],
        mut seg: Segment,
        end: usize,
        segments: &mut Vec<Segment>,
    ) -> Option<()> {
        // Not kept: ` fp=0x… sp=0x… pc=0x…` (GOTRACEBACK=system and above) differs
        // from goroutine to goroutine, so such a stack never repeats.
        if line.first() != Some(&b'\t')
            || line.last() == Some(&b'\r')
            || memchr::memmem::find(line, b" fp=").is_some()
        {
            return None;
        }
        seg.tail.end = end;
        if self.in_creator {
            // The closing blank line belongs to the creator's tail.
            seg.tail.end += 1;
            self.done = true;
        }
        segments.push(seg);
        Some(())
    }

    /// An elision line (`...12 frames elided...`), the whole of `text[at]`.
    #[inline]
    fn elision_line(
        &mut self,
        line: &[u8],
        at: Range<usize>,
        segments: &mut Vec<Segment>,
    ) -> Option<()> {
        // One elision line at most, after a frame, as the runtime prints it (the
        // nom reader keeps the last count of several).
        if self.elided.is_some() || self.frames == 0 {
            return None;
        }
        self.elided = Some(elision(line)?);
        segments.push(Segment {
            tail: at.end..at.end,
            head: at,
            kind: SegmentKind::Elided,
        });
        Some(())
    }

    /// `created by main.main in goroutine 1`, from after `created by `; the line
    /// starts at `line_start` and its newline is at `nl`. Its segment, to be closed
    /// by the file line.
    #[inline]
    fn creator_line(&mut self, rest: &[u8], line_start: usize, nl: usize) -> Option<Segment> {
        let (name, p) = match memchr::memmem::find(rest, b" in goroutine ") {
            Some(i) => (&rest[..i], Some(decimal(&rest[i + 14..])?)),
            None => (rest, None),
        };
        if name.is_empty() || memchr::memchr2(b' ', b'\r', name).is_some() {
            return None;
        }
        let head_end = line_start + 11 + name.len() + if p.is_some() { 14 } else { 0 };
        self.parent = p;
        self.in_creator = true;
        Some(Segment {
            head: line_start..head_end,
            tail: nl..nl,
            kind: SegmentKind::Creator {
                parent: p.is_some(),
            },
        })
    }

    /// A function line, `main.(*T).m(0xc000012345, {0x5d2f1a, 0x3})`, starting at
    /// `line_start` with its newline at `nl`: its arguments appended to `args`. Its
    /// segment, to be closed by the file line.
    #[inline]
    fn function_line(
        &mut self,
        line: &[u8],
        line_start: usize,
        nl: usize,
        args: &mut Vec<u8>,
    ) -> Option<Segment> {
        if line.last() != Some(&b')') || matches!(line.first(), Some(b' ' | b'\t')) {
            return None;
        }
        // The argument list is short: a plain loop from the end beats memrchr's set-up.
        let paren = line.iter().rposition(|&c| c == b'(')?;
        // A name with a space in it is not looked for: the nom reader refuses such a
        // line, so no shape holding one is ever kept.
        if paren == 0 {
            return None;
        }
        let kind = args_fast(&line[paren..], args)?;
        self.frames += 1;
        Some(Segment {
            head: line_start..line_start + paren + 1,
            tail: nl..nl,
            kind: SegmentKind::Frame(kind),
        })
    }
}

/// Whether `text` starts with `pat`, compared eight bytes at a time in line: the
/// lines compared are short, and a call to `memcmp` for each costs more than the
/// comparison.
#[inline]
fn starts_with(text: &[u8], pat: &[u8]) -> bool {
    let n = pat.len();
    if text.len() < n {
        return false;
    }
    let word = |b: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    if n < 8 {
        return text[..n] == *pat;
    }
    let mut i = 0;
    while i + 8 <= n {
        if word(text, i) != word(pat, i) {
            return false;
        }
        i += 8;
    }
    // The last bytes, in one word that may overlap the one before.
    word(text, n - 8) == word(pat, n - 8)
}

/// A goroutine's stack matched against the stacks read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// The stack read before with this shape (as `Shapes::insert` numbered it).
    pub shape: u32,
    /// Bytes read, the closing blank line included.
    pub bytes: usize,
    pub lines: usize,
    /// `created by F in goroutine N`: N.
    pub parent: Option<u64>,
}

/// Above this many children a node indexes them by head and file line.
const INDEX_ABOVE: usize = 8;

/// One line of a stack read before.
#[derive(Debug)]
struct Node {
    head: Box<[u8]>,
    tail: Box<[u8]>,
    kind: SegmentKind,
    /// The lines that followed it, in stacks read before.
    children: Vec<u32>,
    /// With more than `INDEX_ABOVE` children: the children by a hash of their head
    /// and file line (`line_key`).
    index: Option<FxHashMap<u64, Vec<u32>>>,
    /// The child matched last, tried first.
    last: u32,
    /// For a creator (the last line of a stack): the shape's number.
    shape: Option<u32>,
    /// For a function line: the argument list read last at it, and its encoding.
    /// Goroutines of one stack often have the same values in a frame (a shared
    /// lock, unknown `0x0?` words), which are then compared, not parsed again.
    seen: RefCell<SeenArgs>,
}

#[derive(Debug, Default)]
struct SeenArgs {
    /// From `(` to `)`, both included; empty before any.
    text: Vec<u8>,
    encoded: Vec<u8>,
}

/// The stacks read before, as a tree of their lines from the top of the stack down.
/// A stack matches when its text is that of a stack read before, byte for byte,
/// except the argument values and the creator's id. There is no hash to collide.
#[derive(Debug)]
pub struct Shapes {
    nodes: Vec<Node>,
    shapes: u32,
}

impl Default for Shapes {
    fn default() -> Self {
        Shapes {
            nodes: vec![Node {
                head: Box::default(),
                tail: Box::default(),
                kind: SegmentKind::Creator { parent: false },
                children: Vec::new(),
                index: None,
                last: 0,
                shape: None,
                seen: RefCell::default(),
            }],
            shapes: 0,
        }
    }
}

/// The index key of a line and its file line: a hash of the line's head and of the
/// file line (a node's children often share a function and differ in the line
/// they are at).
fn line_key(head: &[u8], file_line: &[u8]) -> u64 {
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one((head, file_line))
}

/// The key of a node, from its head and tail (`\n`, the file line, `\n`...).
fn node_key(n: &Node) -> u64 {
    let file = &n.tail[1.min(n.tail.len())..];
    let file = &file[..memchr::memchr(b'\n', file).unwrap_or(file.len())];
    line_key(&n.head, file)
}

/// The key of the line at the start of `text` and the line after it, with the head
/// cut as `scan` cuts it; `None` when it would not take the line.
fn text_key(text: &[u8]) -> Option<u64> {
    let nl = memchr::memchr(b'\n', text)?;
    let line = &text[..nl];
    if elision(line).is_some() {
        // Its node's head is the line with its newline, its tail empty.
        return Some(line_key(&text[..=nl], b""));
    }
    let head = match line.strip_prefix(b"created by ") {
        Some(rest) => match memchr::memmem::find(rest, b" in goroutine ") {
            Some(i) => &line[..11 + i + 14],
            None => line,
        },
        None => &line[..line.iter().rposition(|&c| c == b'(')? + 1],
    };
    let rest = &text[nl + 1..];
    let file = &rest[..memchr::memchr(b'\n', rest)?];
    Some(line_key(head, file))
}

impl Shapes {
    /// Number of stacks kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shapes as usize
    }

    /// Match the stack at the start of `text` against the stacks read before,
    /// appending its argument values to `args` as `scan` would. `None` when no stack
    /// read before has its shape; `args` may then hold a partial encoding.
    pub fn find(&mut self, text: &[u8], args: &mut Vec<u8>) -> Option<Matched> {
        let mut node = 0usize;
        let mut pos = 0usize;
        let mut lines = 0usize;
        loop {
            let (child, end) = self.step(node, &text[pos..], args)?;
            let c = &self.nodes[child as usize];
            lines += c.kind.lines();
            let at = pos;
            pos += end;
            if let SegmentKind::Creator { parent } = c.kind {
                let shape = c.shape?;
                let parent = if parent {
                    // The id sits between the head and the tail.
                    let from = at + c.head.len();
                    let to = pos - c.tail.len();
                    Some(decimal(&text[from..to])?)
                } else {
                    None
                };
                return Some(Matched {
                    shape,
                    bytes: pos,
                    lines: lines + 1,
                    parent,
                });
            }
            node = child as usize;
        }
    }

    /// The child of `node` whose line starts `text`, and the bytes its line and file
    /// line take.
    fn step(&mut self, node: usize, text: &[u8], args: &mut Vec<u8>) -> Option<(u32, usize)> {
        let n = &self.nodes[node];
        let last = n.last;
        if !n.children.is_empty() {
            if let Some(end) = self.try_child(last, text, args) {
                return Some((last, end));
            }
        }
        let n = &self.nodes[node];
        let found = match &n.index {
            Some(index) => {
                let cands = index.get(&text_key(text)?)?;
                cands
                    .iter()
                    .filter(|&&c| c != last)
                    .find_map(|&c| Some((c, self.try_child(c, text, args)?)))
            }
            None => n
                .children
                .iter()
                .filter(|&&c| c != last)
                .find_map(|&c| Some((c, self.try_child(c, text, args)?))),
        };
        let (c, end) = found?;
        self.nodes[node].last = c;
        Some((c, end))
    }

    /// Whether the line of node `c` starts `text`: the bytes it and its file line take.
    #[inline]
    fn try_child(&self, c: u32, text: &[u8], args: &mut Vec<u8>) -> Option<usize> {
        let n = &self.nodes[c as usize];
        if !starts_with(text, &n.head) {
            return None;
        }
        let after = n.head.len();
        let end = match n.kind {
            SegmentKind::Frame(kind) => {
                // The argument list, from the head's `(`; the tail starts with the
                // newline after its `)`.
                let mark = args.len();
                let list = &text[after - 1..];
                let mut seen = n.seen.borrow_mut();
                let end = if !seen.text.is_empty() && starts_with(list, &seen.text) {
                    // The list read last at this line, byte for byte (it ends at its
                    // only `)`): its encoding again.
                    args.extend_from_slice(&seen.encoded);
                    after - 1 + seen.text.len()
                } else {
                    match args_prefix(list, args) {
                        Some(ArgsPrefix { kind: k, used }) if k == kind => {
                            seen.text.clear();
                            seen.text.extend_from_slice(&list[..used]);
                            seen.encoded.clear();
                            seen.encoded.extend_from_slice(&args[mark..]);
                            after - 1 + used
                        }
                        _ => {
                            args.truncate(mark);
                            return None;
                        }
                    }
                };
                if !starts_with(&text[end..], &n.tail) {
                    args.truncate(mark);
                    return None;
                }
                end + n.tail.len()
            }
            SegmentKind::Creator { parent: false } => {
                if !starts_with(&text[after..], &n.tail) {
                    return None;
                }
                after + n.tail.len()
            }
            SegmentKind::Creator { parent: true } => {
                let digits = text[after..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits == 0 || !starts_with(&text[after + digits..], &n.tail) {
                    return None;
                }
                after + digits + n.tail.len()
            }
            // The whole line, its count included, is the head.
            SegmentKind::Elided => after,
        };
        Some(end)
    }

    /// Keep the stack `scan` read from `text` as `segments`; its number, which
    /// `find` gives for every stack of the same shape.
    pub fn insert(&mut self, text: &[u8], segments: &[Segment]) -> u32 {
        let mut node = 0usize;
        for seg in segments {
            let (head, tail) = (&text[seg.head.clone()], &text[seg.tail.clone()]);
            let same = |n: &Node| *n.head == *head && *n.tail == *tail && n.kind == seg.kind;
            let parent = &self.nodes[node];
            let existing = match &parent.index {
                Some(index) => {
                    let file = &tail[1.min(tail.len())..];
                    let file = &file[..memchr::memchr(b'\n', file).unwrap_or(file.len())];
                    index
                        .get(&line_key(head, file))
                        .and_then(|cs| cs.iter().copied().find(|&c| same(&self.nodes[c as usize])))
                }
                None => parent
                    .children
                    .iter()
                    .copied()
                    .find(|&c| same(&self.nodes[c as usize])),
            };
            node = match existing {
                Some(c) => c as usize,
                None => {
                    let c = self.nodes.len() as u32;
                    self.nodes.push(Node {
                        head: head.into(),
                        tail: tail.into(),
                        kind: seg.kind,
                        children: Vec::new(),
                        index: None,
                        last: c,
                        shape: None,
                        seen: RefCell::default(),
                    });
                    let key = node_key(&self.nodes[c as usize]);
                    let parent = &mut self.nodes[node];
                    if parent.children.is_empty() {
                        parent.last = c;
                    }
                    parent.children.push(c);
                    match &mut parent.index {
                        Some(index) => index.entry(key).or_default().push(c),
                        None if parent.children.len() > INDEX_ABOVE => {
                            let mut index: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
                            for &k in &self.nodes[node].children {
                                index
                                    .entry(node_key(&self.nodes[k as usize]))
                                    .or_default()
                                    .push(k);
                            }
                            self.nodes[node].index = Some(index);
                        }
                        None => {}
                    }
                    c as usize
                }
            };
        }
        let n = &mut self.nodes[node];
        if let Some(shape) = n.shape {
            return shape;
        }
        let shape = self.shapes;
        self.shapes += 1;
        n.shape = Some(shape);
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written stacks (from the shape of real ones): goroutines that differ only in
    // argument values and parent id share a shape; a different file line does not.
    const A: &str = "main.f(0xc000012345, 0x1?)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\nrest";
    const B: &str = "main.f(0xc000099999, 0x7?)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 9\n\t/x/main.go:20 +0x25\n\n";
    // B with values (and a parent id) of other lengths.
    const D: &str = "main.f(0x0?, 0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 12345\n\t/x/main.go:20 +0x25\n\n";
    const C: &str = "main.f(0xc000012345, 0x1?)\n\t/x/main.go:11 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n";

    /// Scan `text` and keep it in `shapes`: its shape number.
    fn keep(shapes: &mut Shapes, text: &str) -> u32 {
        let mut segs = Vec::new();
        scan(text.as_bytes(), &mut Vec::new(), &mut segs).expect("plain form");
        shapes.insert(text.as_bytes(), &segs)
    }

    #[test]
    fn same_shape_matches_and_leftover_untouched() {
        let mut shapes = Shapes::default();
        let a = keep(&mut shapes, A);
        assert_eq!(keep(&mut shapes, B), a, "B is A's shape");
        assert_eq!(shapes.len(), 1);
        for (text, parent) in [(A, 1), (B, 9), (D, 12345)] {
            let (mut found, mut scanned) = (Vec::new(), Vec::new());
            let m = shapes.find(text.as_bytes(), &mut found).expect(text);
            let sc = scan(text.as_bytes(), &mut scanned, &mut Vec::new()).unwrap();
            assert_eq!(m.shape, a);
            assert_eq!(m.parent, Some(parent));
            assert_eq!((m.bytes, m.lines), (sc.bytes, sc.lines));
            assert_eq!(found, scanned, "values encoded as scan does");
        }
        let m = shapes.find(A.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(&A[m.bytes..], "rest");
        assert_eq!(m.lines, 5);
        assert_eq!(shapes.find(C.as_bytes(), &mut Vec::new()), None);
        assert_ne!(keep(&mut shapes, C), a);
        assert_eq!(
            shapes.find(C.as_bytes(), &mut Vec::new()).map(|m| m.lines),
            Some(5)
        );
    }

    // Hand-written stacks: values read again at a line are encoded as the first time,
    // whether they repeat the values read last there or not.
    #[test]
    fn repeated_values_encode_alike() {
        let mut shapes = Shapes::default();
        let with = |v: &str| {
            format!("main.f({v})\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n")
        };
        keep(&mut shapes, &with("0x1"));
        for v in [
            "0x1",
            "0x1",
            "0x12",
            "0x1, 0x2",
            "0x1",
            "{0x1}, ...",
            "0x1?",
            "0x1",
        ] {
            let text = with(v);
            let (mut found, mut scanned) = (Vec::new(), Vec::new());
            let m = shapes.find(text.as_bytes(), &mut found).expect(v);
            scan(text.as_bytes(), &mut scanned, &mut Vec::new()).unwrap();
            assert_eq!(found, scanned, "{v}");
            assert_eq!(m.bytes, text.len(), "{v}");
        }
        assert_eq!(shapes.find(with("0x1)").as_bytes(), &mut Vec::new()), None);
    }

    // Hand-written stacks: the text must match byte for byte but for the values.
    #[test]
    fn near_misses_do_not_match() {
        let mut shapes = Shapes::default();
        keep(&mut shapes, A);
        let near = [
            // another function of which main.f is a prefix
            "main.fg(0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n",
            // the argument list is not one
            "main.f(0x1)(0x2)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n",
            // no parent id where A had one
            "main.f(0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            // a parent id that is not a number
            "main.f(0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine x\n\t/x/main.go:20 +0x25\n\n",
            // no blank line after it
            "main.f(0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n",
            // CRLF
            "main.f(0x1)\r\n\t/x/main.go:10 +0x1d\r\ncreated by main.main in goroutine 1\r\n\t/x/main.go:20 +0x25\r\n\r\n",
            // A's first frame only
            "main.f(0x1)\n\t/x/main.go:10 +0x1d\n\n",
        ];
        for t in near {
            assert_eq!(shapes.find(t.as_bytes(), &mut Vec::new()), None, "{t:?}");
        }
    }

    // Hand-written stacks: a node with many children finds each through its index.
    #[test]
    fn many_stacks_under_one_line() {
        let mut shapes = Shapes::default();
        let stack = |i: usize, line: usize| {
            format!("runtime.gopark(0x1)\n\t/r/proc.go:435 +0x1\nmain.f{i}(0x2)\n\t/x/main.go:{line} +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n")
        };
        let mut ids = Vec::new();
        for i in 0..3 * INDEX_ABOVE {
            for line in [10, 11] {
                ids.push(keep(&mut shapes, &stack(i, line)));
            }
        }
        assert!(
            shapes.nodes[1].index.is_some(),
            "gopark's children are indexed"
        );
        let mut k = 0;
        for i in 0..3 * INDEX_ABOVE {
            for line in [10, 11] {
                let m = shapes.find(stack(i, line).as_bytes(), &mut Vec::new());
                assert_eq!(m.map(|m| m.shape), Some(ids[k]), "f{i} line {line}");
                k += 1;
            }
        }
        let unknown = stack(3 * INDEX_ABOVE, 10);
        assert_eq!(shapes.find(unknown.as_bytes(), &mut Vec::new()), None);
    }

    // Hand-written text: newlines found in 64-byte chunks are every newline, in order,
    // across chunk ends and in a short tail.
    #[test]
    fn newlines_are_all_found() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 7 == 0 || i % 64 == 63 {
                    b'\n'
                } else {
                    b'a'
                }
            })
            .collect();
        let want: Vec<usize> = (0..text.len()).filter(|&i| text[i] == b'\n').collect();
        for start in [0, 1, 63, 64, 250, 299, 300] {
            let got: Vec<usize> = Newlines::new(&text[start..]).map(|i| i + start).collect();
            let expect: Vec<usize> = want.iter().copied().filter(|&i| i >= start).collect();
            assert_eq!(got, expect, "from {start}");
        }
    }

    // Hand-written stacks (from the shape of real ones, Go 1.21+ and Go 1.20): an
    // elision line is part of the shape, its count included.
    #[test]
    fn elided_stacks_are_shapes_of_their_own() {
        let with = |elision: &str, v: &str| {
            format!("main.deep({v})\n\t/x/main.go:31 +0x45\n{elision}main.deep(0x1)\n\t/x/main.go:31 +0x45\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n")
        };
        let mut shapes = Shapes::default();
        let forms = [
            ("...12 frames elided...\n", Some(12)),
            ("...13 frames elided...\n", Some(13)),
            ("...additional frames elided...\n", Some(0)),
            ("", None),
        ];
        let mut ids = Vec::new();
        for (elision, count) in forms {
            let text = with(elision, "0x2");
            let mut segs = Vec::new();
            let sc = scan(text.as_bytes(), &mut Vec::new(), &mut segs).expect(elision);
            assert_eq!(sc.elided, count, "{elision:?}");
            assert_eq!(sc.frames, 2, "{elision:?}");
            assert_eq!(sc.bytes, text.len(), "{elision:?}");
            assert_eq!(sc.lines, text.lines().count(), "{elision:?}");
            ids.push(shapes.insert(text.as_bytes(), &segs));
        }
        assert_eq!(shapes.len(), forms.len(), "one shape per elision: {ids:?}");
        for ((elision, _), id) in forms.iter().zip(&ids) {
            let text = with(elision, "0xc000012345, 0x7?");
            let (mut found, mut scanned) = (Vec::new(), Vec::new());
            let m = shapes.find(text.as_bytes(), &mut found).expect(elision);
            let sc = scan(text.as_bytes(), &mut scanned, &mut Vec::new()).unwrap();
            assert_eq!(m.shape, *id, "{elision:?}");
            assert_eq!((m.bytes, m.lines), (sc.bytes, sc.lines), "{elision:?}");
            assert_eq!(found, scanned, "{elision:?}");
        }
        for other in [
            "...14 frames elided...\n",
            "...12 frames elided... \n",
            "...12 frames elided..\n",
        ] {
            let text = with(other, "0x2");
            assert_eq!(
                shapes.find(text.as_bytes(), &mut Vec::new()),
                None,
                "{other:?}"
            );
        }
    }

    // Hand-written stacks: elided stacks found through a node's index.
    #[test]
    fn elided_stacks_under_an_indexed_line() {
        let mut shapes = Shapes::default();
        let stack = |n: usize| {
            format!("main.deep(0x1)\n\t/x/main.go:31 +0x45\n...{n} frames elided...\nmain.deep(0x1)\n\t/x/main.go:31 +0x45\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n")
        };
        let ids: Vec<u32> = (0..3 * INDEX_ABOVE)
            .map(|n| keep(&mut shapes, &stack(n)))
            .collect();
        assert!(
            shapes.nodes[1].index.is_some(),
            "the first line's children are indexed"
        );
        for (n, id) in ids.iter().enumerate() {
            let m = shapes.find(stack(n).as_bytes(), &mut Vec::new());
            assert_eq!(m.map(|m| m.shape), Some(*id), "{n} elided");
        }
        let unknown = stack(3 * INDEX_ABOVE);
        assert_eq!(shapes.find(unknown.as_bytes(), &mut Vec::new()), None);
    }

    // Hand-written stacks: forms scan refuses, left to the nom reader.
    #[test]
    fn gives_up_on_anything_but_the_plain_form() {
        let bad = [
            // no creator (main goroutine)
            "main.main()\n\t/x/main.go:3 +0x1\n\n",
            // two elision lines
            "main.f()\n\t/x/main.go:3 +0x1\n...2 frames elided...\nmain.f()\n\t/x/main.go:3 +0x1\n...3 frames elided...\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            // an elision line with more after it, with a count that is no u32, with no count
            "main.f()\n\t/x/main.go:3 +0x1\n...2 frames elided... \ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            "main.f()\n\t/x/main.go:3 +0x1\n...4294967296 frames elided...\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            "main.f()\n\t/x/main.go:3 +0x1\n... frames elided...\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            // an elision line first, or where a file line belongs
            "...2 frames elided...\nmain.f()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            "main.f()\n...2 frames elided...\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            // after the creator
            "main.f()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n...2 frames elided...\n\n",
            // CRLF
            "main.f()\r\n\t/x/main.go:3 +0x1\r\ncreated by main.main\r\n\t/x/main.go:20 +0x25\r\n\r\n",
            // frame and stack pointers (GOTRACEBACK=system)
            "main.f()\n\t/x/main.go:3 +0x1 fp=0xc000050f80 sp=0xc000050f60 pc=0x4a1b2c\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25 fp=0xc000050fe0 sp=0xc000050f80 pc=0x4a1c3d\n\n",
            // cut before the blank line
            "main.f()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n",
            // a function line with no file line
            "main.f()\nmain.g()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
        ];
        for t in bad {
            assert_eq!(
                scan(t.as_bytes(), &mut Vec::new(), &mut Vec::new()),
                None,
                "{t:?}"
            );
        }
    }
}
