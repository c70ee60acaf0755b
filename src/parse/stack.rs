//! The fast path for stacks that repeat.
//!
//! A million goroutines usually stand in a few hundred distinct stacks that differ
//! only in argument values. `scan` reads one goroutine's stack in a single pass of
//! `memchr` over its lines: it hashes everything but the argument values (its
//! *shape*), and encodes the values. When the shape was read before, the frames
//! parsed then are shared and nom never sees the text again.
//!
//! `scan` only accepts the plain form (function and file lines, a `created by`
//! with its file line, a blank line) and gives up on anything else: elisions,
//! ancestors, CRLF, a cut stack, an argument it is not sure of. The nom reader
//! then reads that goroutine, with its diagnostics.

use std::hash::Hasher;

use super::traceback::args_fast;

/// What identifies a stack's shape: a 64-bit hash of its text without argument
/// values, with that text's size and the frame count (so a collision would also need
/// equal sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackKey {
    pub hash: u64,
    /// Bytes of the stack's text that are not argument values: the same for every
    /// goroutine of the shape, whatever their values' lengths.
    pub shape_bytes: usize,
    pub frames: u32,
}

/// One goroutine's stack, scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub key: StackKey,
    /// Bytes read, the closing blank line included.
    pub bytes: usize,
    /// `created by F in goroutine N`: N.
    pub parent: Option<u64>,
    /// Lines read, the closing blank line included.
    pub lines: usize,
}

// 18   (a goroutine id, as in `created by F in goroutine 18`)
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
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
fn newline_mask(b: &[u8]) -> u64 {
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
            let m = |k: usize| {
                let eq = _mm_cmpeq_epi8(_mm_loadu_si128(p.add(k)), nl);
                u64::from(_mm_movemask_epi8(eq) as u16)
            };
            return m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48;
        }
    }
    b.iter()
        .take(64)
        .enumerate()
        .filter(|&(_, &c)| c == b'\n')
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Scan the stack that starts at `text` (the line after its goroutine header).
/// Argument values are appended to `args` in the encoding of `model::ArgData`.
/// `None` when the stack is not in the plain form; `args` may then hold a partial
/// encoding, which the caller discards.
pub fn scan(text: &[u8], args: &mut Vec<u8>) -> Option<Scan> {
    let mut h = rustc_hash::FxHasher::default();
    let (mut pos, mut lines, mut frames) = (0usize, 0usize, 0u32);
    let mut parent = None;
    let mut want_file = false;
    let mut in_creator = false;
    let mut done = false;
    // Bytes of argument lists, `(` and `)` excluded.
    let mut values = 0usize;
    let mut newlines = Newlines::new(text);
    loop {
        let nl = newlines.next()?;
        let line = &text[pos..nl];
        lines += 1;
        pos = nl + 1;
        if want_file {
            // 	/usr/lib/go-1.19/src/sync/mutex.go:171 +0x165
            if line.first() != Some(&b'\t') || line.last() == Some(&b'\r') {
                return None;
            }
            h.write(line);
            want_file = false;
            done = in_creator;
            continue;
        }
        if line.is_empty() {
            return done.then_some(Scan {
                key: StackKey {
                    hash: h.finish(),
                    shape_bytes: pos - values,
                    frames,
                },
                bytes: pos,
                parent,
                lines,
            });
        }
        if done {
            return None;
        }
        if let Some(rest) = line.strip_prefix(b"created by ") {
            // created by main.main in goroutine 1
            let (name, p) = match memchr::memmem::find(rest, b" in goroutine ") {
                Some(i) => (&rest[..i], Some(decimal(&rest[i + 14..])?)),
                None => (rest, None),
            };
            if name.is_empty() || memchr::memchr2(b' ', b'\r', name).is_some() {
                return None;
            }
            h.write_u8(0xfe);
            h.write(name);
            h.write_u8(p.is_some() as u8);
            if p.is_some() {
                values += rest.len() - name.len() - 14;
            }
            parent = p;
            want_file = true;
            in_creator = true;
            continue;
        }
        // main.(*T).m(0xc000012345, {0x5d2f1a, 0x3})
        if line.last() != Some(&b')') || matches!(line.first(), Some(b' ' | b'\t')) {
            return None;
        }
        // The argument list is short: a plain loop from the end beats memrchr's set-up.
        let open = line.iter().rposition(|&c| c == b'(')?;
        let name = &line[..open];
        // A name with a space in it is not looked for: the nom reader refuses such a
        // line, so no shape holding one is ever known, and its key matches none.
        if name.is_empty() {
            return None;
        }
        let kind = args_fast(&line[open..], args)?;
        values += line.len() - open - 2;
        h.write_u8(kind as u8);
        h.write(name);
        frames += 1;
        want_file = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written stacks (from the shape of real ones): two goroutines that differ
    // only in argument values share a key; a different line or creator does not.
    const A: &str = "main.f(0xc000012345, 0x1?)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\nrest";
    const B: &str = "main.f(0xc000099999, 0x7?)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 9\n\t/x/main.go:20 +0x25\n\n";
    // B with values (and a parent id) of other lengths.
    const D: &str = "main.f(0x0?, 0x1)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 12345\n\t/x/main.go:20 +0x25\n\n";
    const C: &str = "main.f(0xc000012345, 0x1?)\n\t/x/main.go:11 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n";

    #[test]
    fn same_shape_same_key_and_leftover_untouched() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        let sa = scan(A.as_bytes(), &mut a).unwrap();
        let sb = scan(B.as_bytes(), &mut b).unwrap();
        let sc = scan(C.as_bytes(), &mut c).unwrap();
        assert_eq!(sa.key, sb.key);
        let sd = scan(D.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(sa.key, sd.key, "values' lengths are not the shape's");
        assert_ne!(sa.bytes, sd.bytes);
        assert_ne!(sa.key, sc.key);
        assert_ne!(a, b, "values differ");
        assert_eq!((sa.parent, sb.parent), (Some(1), Some(9)));
        assert_eq!(&A[sa.bytes..], "rest");
        assert_eq!(sa.lines, 5);
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

    #[test]
    fn gives_up_on_anything_but_the_plain_form() {
        let bad = [
            // no creator (main goroutine)
            "main.main()\n\t/x/main.go:3 +0x1\n\n",
            // elided frames
            "main.f()\n\t/x/main.go:3 +0x1\n...additional frames elided...\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
            // CRLF
            "main.f()\r\n\t/x/main.go:3 +0x1\r\ncreated by main.main\r\n\t/x/main.go:20 +0x25\r\n\r\n",
            // cut before the blank line
            "main.f()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n",
            // a function line with no file line
            "main.f()\nmain.g()\n\t/x/main.go:3 +0x1\ncreated by main.main\n\t/x/main.go:20 +0x25\n\n",
        ];
        for t in bad {
            assert_eq!(scan(t.as_bytes(), &mut Vec::new()), None, "{t:?}");
        }
    }
}
