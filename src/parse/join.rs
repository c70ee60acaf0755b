//! Joining pieces read apart, in input order, into the snapshots the serial reader
//! would have read; goroutines whose frames read the same share one frame list.

use super::*;

/// Joins pieces read apart, in input order, each with the number of newlines it
/// held: a piece that starts with a goroutine (no preamble) continues the previous
/// piece's last dump unless an id repeats, exactly as the serial reader decides.
pub(super) struct Joiner<'a> {
    pub(super) out: Option<Parsed<'a>>,
    pub(super) line_offset: usize,
    /// Ids of the last dump so far.
    pub(super) ids: IdSet,
    /// Preamble lines read with no goroutine after them yet.
    pub(super) pending: Option<Trailing<'a>>,
    /// One frame list per stack, as pieces come in (see `share_frames`).
    pub(super) frames: SharedFrames<'a>,
    /// Pieces back before the ones before them (`push_at`), by number.
    pub(super) waiting: Vec<Option<Piece<'a>>>,
    /// Number of the next piece to join.
    pub(super) next: usize,
    /// The last dump holds the goroutine that printed it (`is_dump_writer`).
    pub(super) last_writer: bool,
    /// About how many goroutines the input holds, where sampled: the first dump
    /// is given room for them, not grown by doubling (each doubling copies every
    /// goroutine read so far).
    pub(super) expected: Option<usize>,
}

impl<'a> Joiner<'a> {
    pub(super) fn new() -> Self {
        Joiner {
            out: None,
            line_offset: 0,
            ids: IdSet::default(),
            pending: None,
            frames: SharedFrames::default(),
            waiting: Vec::new(),
            next: 0,
            last_writer: false,
            expected: None,
        }
    }

    /// Join piece number `i` (counting from 0) once those before it are joined:
    /// workers finish out of order.
    pub(super) fn push_at(&mut self, i: usize, piece: Piece<'a>) {
        if self.waiting.len() <= i {
            self.waiting.resize_with(i + 1, || None);
        }
        self.waiting[i] = Some(piece);
        while let Some(Some(p)) = self.waiting.get_mut(self.next).map(Option::take) {
            self.next += 1;
            self.push(p);
        }
    }

    /// Join the next piece, in input order: its lines counted on from the pieces
    /// before, the preamble the piece before ended with handed to its first dump,
    /// each of its dumps joined to the last one or started anew (`join_dump`).
    pub(super) fn push(&mut self, piece: Piece<'a>) {
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
        let Some(mut out) = self.out.take() else {
            self.take_first(piece, trailing);
            return;
        };
        shift_lines(&mut piece, line_offset);
        self.pending = self.hand_on_preamble(&mut piece, trailing);
        out.skipped_lines += piece.skipped_lines;
        out.first_skipped = out.first_skipped.or(piece.first_skipped);
        for d in piece.dumps {
            self.join_dump(&mut out, d);
        }
        self.out = Some(out);
    }

    /// The first piece, taken as it is.
    fn take_first(&mut self, mut piece: Parsed<'a>, trailing: Option<Trailing<'a>>) {
        if let (Some(d), Some(n)) = (piece.dumps.last_mut(), self.expected) {
            d.goroutines.reserve(n.saturating_sub(d.goroutines.len()));
        }
        if let Some(d) = piece.dumps.last() {
            self.ids.extend(d.goroutines.iter().filter_map(|g| g.id));
            self.last_writer = d.goroutines.iter().any(is_dump_writer);
        }
        self.out = Some(piece);
        self.pending = trailing;
    }

    /// Preamble lines the piece before ended with announce this piece's first dump
    /// (a debug=1 header drops them, as the serial reader does); with no dump in this
    /// piece either, they wait on with its own trailing lines. What waits on for the
    /// next piece.
    fn hand_on_preamble(
        &mut self,
        piece: &mut Parsed<'a>,
        mut trailing: Option<Trailing<'a>>,
    ) -> Option<Trailing<'a>> {
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
        trailing
    }

    /// Join one dump of a piece after the first. A dump the text starts (a preamble,
    /// a debug=1 header, another format) starts here whatever came before; one the
    /// piece started (at its first goroutine, or where an id repeated within it) is
    /// read again goroutine by goroutine against the ids of the dump before, as the
    /// serial reader reads it.
    fn join_dump(&mut self, out: &mut Parsed<'a>, d: Dump<'a>) {
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
            return;
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
            return;
        }
        self.split_at_repeats(out, d);
    }

    /// Move the goroutines of `d` to the last dump one by one, from the ids of the
    /// dump before again, starting a new dump where an id repeats or a second dump
    /// writer comes; each problem goes with the goroutine before it.
    fn split_at_repeats(&mut self, out: &mut Parsed<'a>, d: Dump<'a>) {
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
                // A dump started where an id repeated: no header of its own.
                out.dumps.push(Dump::starting(d.format, g.line));
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

    pub(super) fn finish(self) -> Parsed<'a> {
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

/// Count the lines of a piece on from the `line_offset` lines before it.
fn shift_lines(piece: &mut Parsed<'_>, line_offset: usize) {
    for d in &mut piece.dumps {
        d.first_line += line_offset;
        for g in &mut d.goroutines {
            g.line += line_offset;
        }
        for x in &mut d.diagnostics {
            x.line += line_offset;
        }
    }
}

pub(super) fn join<'a>(pieces: Vec<Piece<'a>>) -> Parsed<'a> {
    let mut j = Joiner::new();
    for p in pieces {
        j.push(p);
    }
    j.finish()
}

/// Make goroutines whose frames read the same share one frame list, whichever
/// thread or path read them: the analysis may then take one list for one stack
/// (`Arc::ptr_eq`), and its answer cannot depend on how the input was cut.
pub(super) fn share_frames(p: &mut Parsed<'_>) {
    let mut frames = SharedFrames::default();
    for g in p.dumps.iter_mut().flat_map(|d| d.goroutines.iter_mut()) {
        frames.share(g);
    }
}

/// The one frame list of each stack seen so far.
#[derive(Default)]
pub(super) struct SharedFrames<'a> {
    /// By the address of a list read (each thread's reader has its own), that list
    /// and the one to use. The list read is kept alive so that its address is not
    /// given to another list while pieces are still coming in.
    pub(super) by_ptr: FxHashMap<usize, ReadList<'a>>,
    pub(super) by_content: FxHashSet<ListByContent<'a>>,
}

pub(super) type FrameList<'a> = Arc<[Frame<'a>]>;

/// A frame list with its hash (of its frames' own): with every goroutine on its
/// own stack the set holds a million lists, and growing it hashed each again,
/// reading every list's frames where they lie.
pub(super) struct ListByContent<'a> {
    hash: u64,
    list: FrameList<'a>,
}

impl<'a> ListByContent<'a> {
    fn of(list: &FrameList<'a>) -> Self {
        use std::hash::BuildHasher;
        ListByContent {
            hash: rustc_hash::FxBuildHasher.hash_one(list),
            list: list.clone(),
        }
    }
}

impl PartialEq for ListByContent<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.list == other.list
    }
}

impl Eq for ListByContent<'_> {}

impl std::hash::Hash for ListByContent<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A frame list as a reader made it, and the one list of its stack to use instead.
pub(super) struct ReadList<'a> {
    /// Never read: kept alive so that its address is not given to another list.
    pub(super) _read: FrameList<'a>,
    pub(super) shared: FrameList<'a>,
}

impl<'a> SharedFrames<'a> {
    pub(super) fn share(&mut self, g: &mut Goroutine<'a>) {
        if Arc::strong_count(&g.frames) == 1 {
            // A list no other goroutine (nor the reader's known stacks) holds, as
            // the nom reader makes for a stack of its own: looked for by content
            // alone, without an entry by address.
            self.share_alone(g);
            return;
        }
        let ptr = Arc::as_ptr(&g.frames) as *const () as usize;
        let by_content = &mut self.by_content;
        let ReadList { shared, .. } = self.by_ptr.entry(ptr).or_insert_with(|| {
            let key = ListByContent::of(&g.frames);
            let shared = match by_content.get(&key) {
                Some(f) => f.list.clone(),
                None => {
                    by_content.insert(key);
                    g.frames.clone()
                }
            };
            ReadList {
                _read: g.frames.clone(),
                shared,
            }
        });
        if !Arc::ptr_eq(shared, &g.frames) {
            g.frames = shared.clone();
        }
    }

    /// `share` for a list held by `g` alone.
    fn share_alone(&mut self, g: &mut Goroutine<'a>) {
        let key = ListByContent::of(&g.frames);
        match self.by_content.get(&key) {
            Some(f) => g.frames = f.list.clone(),
            None => {
                self.by_content.insert(key);
            }
        }
    }
}

/// Preamble lines at the end of a piece with no goroutine after them in it: the
/// dump they announce starts in the next piece.
pub(super) struct Trailing<'a> {
    pub(super) lines: Vec<&'a str>,
    pub(super) first_line: usize,
}
