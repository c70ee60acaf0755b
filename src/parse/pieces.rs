//! Cutting the input into pieces read on every core: at goroutine boundaries
//! (`cut_point`), from a mapped file (`parse_bytes`) or a stream read in blocks
//! (`parse_reader`); a piece that is not UTF-8 is repaired (`sanitize_utf8`) and
//! read again. The joiner (`join`) puts the pieces back together.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Mutex;

/// Inputs at least this large are parsed on every core, split at goroutine boundaries.
pub const PARALLEL_MIN_BYTES: usize = 32 << 20;

/// Where a piece of input may be cut: the start of a goroutine header that follows
/// a blank line that follows a tab-indented line (the end of a stack, as a rule).
/// The header must read as one, whole: the serial reader then starts or continues a
/// traceback dump there whatever came before (a line that only looks like one,
/// inside a debug=1 profile, say, would leave the profile's records after it
/// without their header). Preamble lines may still end the piece before (a panic
/// message with a tab-indented line); the joiner hands them on. The first such
/// header starting after `from` (or the last one in `from..to`, with `last`).
pub(super) fn cut_point(bytes: &[u8], from: usize, to: usize, last: bool) -> Option<usize> {
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
pub(super) fn cuts(text: &str, parts: usize) -> Vec<usize> {
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
pub(super) fn fill(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
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

pub(super) fn goroutines_in(p: &Parsed) -> u64 {
    p.dumps.iter().map(|d| d.goroutines.len() as u64).sum()
}

/// The end of the part of `buf` that can be read now: all of it at the end of the
/// input, else up to its last goroutine boundary (0 when it holds none yet).
/// `searched`: where in `buf` a boundary may still be found, moved on as the buffer
/// grows without one, so that text with none (a debug=1 profile, a Delve listing) is
/// searched once, not once per block.
pub(super) fn ready(buf: &[u8], more: bool, searched: &mut usize) -> usize {
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
    let more = fill(&mut input, &mut buf, block).map_err(StreamError::Io)?;
    let blocks = Blocks {
        input,
        buf,
        more,
        block,
        searched: 0,
    };
    if !more || opts.threads < 2 {
        return read_blocks_here(blocks, arena, opts);
    }
    read_blocks_on_workers(blocks, arena, opts)
}

/// A stream as it is read in blocks: the text read and not handed on yet.
struct Blocks<R> {
    input: R,
    buf: Vec<u8>,
    /// Whether the input may hold more.
    more: bool,
    block: usize,
    /// Where in `buf` a goroutine boundary may still be found (`ready`).
    searched: usize,
}

impl<R: Read> Blocks<R> {
    /// The end of the part of `buf` that can be read now (0: none yet).
    fn ready(&mut self) -> usize {
        let end = ready(&self.buf, self.more, &mut self.searched);
        if end > 0 {
            self.searched = 0;
        }
        end
    }

    /// Hand on `buf` up to `end`; what follows it is copied into `next`, which
    /// `buf` becomes.
    fn take(&mut self, end: usize, mut next: Vec<u8>) -> Vec<u8> {
        next.extend_from_slice(&self.buf[end..]);
        self.buf.truncate(end);
        std::mem::replace(&mut self.buf, next)
    }

    /// Read one more block onto `buf`.
    fn fill(&mut self) -> Result<(), StreamError> {
        let want = self.buf.len() + self.block;
        self.more = fill(&mut self.input, &mut self.buf, want).map_err(StreamError::Io)?;
        Ok(())
    }
}

/// `parse_reader` on this thread alone: each block read as it is cut.
fn read_blocks_here<'a>(
    mut blocks: Blocks<impl Read>,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Parsed<'a>, StreamError> {
    let mut reader = Reader::new(InArena::new(arena));
    let mut joiner = Joiner::new();
    let mut spare = Vec::new();
    let mut count = 0;
    loop {
        let end = blocks.ready();
        if end > 0 {
            let mut full = blocks.take(end, spare);
            let p = read_bytes(&full, &mut reader);
            count += goroutines_in(&p.parsed);
            if count > opts.max_goroutines {
                return Err(StreamError::TooMany(count));
            }
            joiner.push(p);
            full.clear();
            spare = full;
        }
        if !blocks.more {
            break;
        }
        blocks.fill()?;
    }
    Ok(joiner.finish())
}

/// A block of the input, numbered in input order, for a worker to read.
struct Block {
    seq: usize,
    bytes: Vec<u8>,
}

/// A piece read by a worker, with the number of its block (or of its range).
struct NumberedPiece<'a> {
    seq: usize,
    piece: Piece<'a>,
}

/// The reading thread's ends of the channels to the workers of `parse_reader`.
struct Crew<'c, 'a> {
    jobs: SyncSender<Block>,
    done: Receiver<NumberedPiece<'a>>,
    /// Buffers the workers are done with, to be filled again.
    spare: Receiver<Vec<u8>>,
    /// Goroutines the workers read so far.
    count: &'c AtomicU64,
}

/// `parse_reader` on `opts.threads` workers: this thread reads and cuts the blocks
/// (`hand_out_blocks`) and joins the pieces as they come back, in order.
fn read_blocks_on_workers<'a>(
    mut blocks: Blocks<impl Read>,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Parsed<'a>, StreamError> {
    let (job_tx, job_rx) = sync_channel::<Block>(opts.threads);
    let job_rx: Mutex<Receiver<Block>> = Mutex::new(job_rx);
    let (done_tx, done_rx) = channel::<NumberedPiece<'a>>();
    let (spare_tx, spare_rx) = channel::<Vec<u8>>();
    let count = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.threads {
            let (job_rx, done_tx, spare_tx, count) =
                (&job_rx, done_tx.clone(), spare_tx.clone(), &count);
            s.spawn(move || read_blocks(arena, job_rx, done_tx, spare_tx, count));
        }
        drop(done_tx);
        let crew = Crew {
            jobs: job_tx,
            done: done_rx,
            spare: spare_rx,
            count: &count,
        };
        // Pieces are joined on this thread as they come back, in order, while the
        // workers read on: the join costs no time at the end.
        let mut joiner = Joiner::new();
        let result = hand_out_blocks(&mut blocks, &crew, &mut joiner, opts.max_goroutines);
        let Crew { jobs, done, .. } = crew;
        drop(jobs);
        for p in done.iter() {
            joiner.push_at(p.seq, p.piece);
        }
        result?;
        let n = count.load(Ordering::Relaxed);
        if n > opts.max_goroutines {
            return Err(StreamError::TooMany(n));
        }
        Ok(joiner.finish())
    })
}

/// One worker of `parse_reader`: reads the blocks it is sent with a reader of its
/// own, sends back each piece, and each buffer emptied to be filled again.
fn read_blocks<'a>(
    arena: &'a Arena,
    jobs: &Mutex<Receiver<Block>>,
    done: Sender<NumberedPiece<'a>>,
    spare: Sender<Vec<u8>>,
    count: &AtomicU64,
) {
    let mut reader = Reader::new(InArena::new(arena));
    loop {
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(Block { seq, mut bytes }) = job else {
            break;
        };
        let piece = read_bytes(&bytes, &mut reader);
        count.fetch_add(goroutines_in(&piece.parsed), Ordering::Relaxed);
        bytes.clear();
        let _ = spare.send(bytes);
        if done.send(NumberedPiece { seq, piece }).is_err() {
            break;
        }
    }
}

/// The reading thread of `parse_reader`: blocks cut at goroutine boundaries go to
/// the workers, their buffers come back to be filled again, and the pieces read so
/// far are joined. Stops at the end of the input, or with `TooMany` once the
/// workers read more than `max_goroutines`.
fn hand_out_blocks<'a>(
    blocks: &mut Blocks<impl Read>,
    crew: &Crew<'_, 'a>,
    joiner: &mut Joiner<'a>,
    max_goroutines: u64,
) -> Result<(), StreamError> {
    let mut seq = 0;
    loop {
        let n = crew.count.load(Ordering::Relaxed);
        if n > max_goroutines {
            return Err(StreamError::TooMany(n));
        }
        let end = blocks.ready();
        if end > 0 {
            let next = crew
                .spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(blocks.block + blocks.block / 4));
            let bytes = blocks.take(end, next);
            if crew.jobs.send(Block { seq, bytes }).is_err() {
                break;
            }
            seq += 1;
        }
        while let Ok(p) = crew.done.try_recv() {
            joiner.push_at(p.seq, p.piece);
        }
        if !blocks.more {
            break;
        }
        blocks.fill()?;
    }
    Ok(())
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
    joiner.expected = Some(expected_goroutines(bytes));
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
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = channel::<NumberedPiece<'a>>();
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
                    let piece = read(k, &mut reader);
                    if tx.send(NumberedPiece { seq: k, piece }).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Joined in order on this thread as the pieces come back.
        for p in rx.iter() {
            count += goroutines_in(&p.piece.parsed);
            if count > opts.max_goroutines {
                stop.store(true, Ordering::Relaxed);
                return Err(StreamError::TooMany(count));
            }
            joiner.push_at(p.seq, p.piece);
        }
        Ok(joiner.finish())
    })
}

/// Windows of the input `expected_goroutines` counts in, and their length.
const SAMPLES: usize = 32;
const SAMPLE_BYTES: usize = 32 << 10;

/// About how many goroutines `bytes` holds (a twentieth more, to spare a
/// regrowth): the ends of goroutines (a blank line closes each traceback and
/// each debug=1 record) or Delve's goroutine lines, whichever is more, counted in
/// windows spread over the input (a dump's goroutines differ along it: the
/// ones started first are often of one kind) and scaled to its length. A hint
/// for room only: none found, none made.
fn expected_goroutines(bytes: &[u8]) -> usize {
    let count = |w: &[u8]| {
        let ends = memchr::memmem::find_iter(w, b"\n\n").count();
        let delve = memchr::memmem::find_iter(w, b"  Goroutine ").count();
        ends.max(delve)
    };
    if bytes.len() <= SAMPLES * SAMPLE_BYTES {
        return count(bytes);
    }
    let step = bytes.len() / SAMPLES;
    let found: usize = (0..SAMPLES)
        .map(|k| count(&bytes[k * step..k * step + SAMPLE_BYTES]))
        .sum();
    let rate = found as f64 / (SAMPLES * SAMPLE_BYTES) as f64;
    (rate * bytes.len() as f64 * 1.05) as usize
}

/// Read a piece of bytes; one that is not UTF-8 is read again, repaired
/// (`sanitize_utf8`) in a copy.
pub(super) fn read_bytes<'a>(bytes: &[u8], reader: &mut Reader<'a, InArena<'a>>) -> Piece<'a> {
    let p = parse_piece(Lines::from_bytes(bytes), reader);
    if !p.bad_utf8 {
        return p;
    }
    parse_piece(Lines::new(sanitize_utf8(&mut bytes.to_vec())), reader)
}

/// A piece as read on its own, to be joined with the others.
pub(super) struct Piece<'a> {
    pub(super) parsed: Parsed<'a>,
    /// Newlines in the piece's text.
    pub(super) newlines: usize,
    pub(super) trailing: Option<Trailing<'a>>,
    /// A line was not UTF-8: the piece was read up to it only, and must be repaired
    /// (`sanitize_utf8`) and read again. Never set for lines of a `str`.
    pub(super) bad_utf8: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real captures (`fixtures/dumps`), one of each form, repeated past the
    /// sampled size: the goroutines expected are within a fifth of those there.
    #[test]
    fn expected_goroutines_are_near_those_of_a_real_dump() {
        type Count = fn(&str) -> usize;
        let forms: [(&str, Count); 3] = [
            ("http-healthy/go1.27/debug2.txt", |t| {
                t.lines().filter(|l| l.starts_with("goroutine ")).count()
            }),
            ("http-healthy/go1.27/debug1.txt", |t| {
                t.lines().filter(|l| l.contains(" @ 0x")).count()
            }),
            ("http-healthy/go1.27/delve.txt", |t| {
                t.matches("  Goroutine ").count()
            }),
        ];
        for (file, goroutines) in forms {
            let path = format!("{}/fixtures/dumps/{file}", env!("CARGO_MANIFEST_DIR"));
            let one = std::fs::read_to_string(&path).unwrap();
            let copies = (3 * SAMPLES * SAMPLE_BYTES).div_ceil(one.len());
            let text = one.repeat(copies);
            let (want, got) = (
                goroutines(&one) * copies,
                expected_goroutines(text.as_bytes()),
            );
            assert!(want > 1000, "{file}: {want} goroutines");
            assert!(
                got * 5 >= want * 4 && got * 5 <= want * 6,
                "{file}: {got} expected, {want} there"
            );
        }
    }
}
