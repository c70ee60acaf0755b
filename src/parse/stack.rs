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
/// values, with its size and frame count (so a collision would also need equal sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackKey {
    pub hash: u64,
    pub bytes: usize,
    pub frames: u32,
}

/// One goroutine's stack, scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub key: StackKey,
    /// `created by F in goroutine N`: N.
    pub parent: Option<u64>,
    /// Bytes read, the closing blank line included.
    pub len: usize,
    /// Lines read, the closing blank line included.
    pub lines: usize,
}

// 18
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
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
    // One newline searcher for the whole stack: lines are short, and a search per
    // line would pay its set-up each time.
    let mut newlines = memchr::memchr_iter(b'\n', text);
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
                    bytes: pos,
                    frames,
                },
                parent,
                len: pos,
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
            parent = p;
            want_file = true;
            in_creator = true;
            continue;
        }
        // main.(*T).m(0xc000012345, {0x5d2f1a, 0x3})
        if line.last() != Some(&b')') || matches!(line.first(), Some(b' ' | b'\t')) {
            return None;
        }
        let open = memchr::memrchr(b'(', line)?;
        let name = &line[..open];
        if name.is_empty() || memchr::memchr(b' ', name).is_some() {
            return None;
        }
        let kind = args_fast(&line[open..], args)?;
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
    const C: &str = "main.f(0xc000012345, 0x1?)\n\t/x/main.go:11 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\n";

    #[test]
    fn same_shape_same_key_and_leftover_untouched() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        let sa = scan(A.as_bytes(), &mut a).unwrap();
        let sb = scan(B.as_bytes(), &mut b).unwrap();
        let sc = scan(C.as_bytes(), &mut c).unwrap();
        assert_eq!(sa.key, sb.key);
        assert_ne!(sa.key, sc.key);
        assert_ne!(a, b, "values differ");
        assert_eq!((sa.parent, sb.parent), (Some(1), Some(9)));
        assert_eq!(&A[sa.len..], "rest");
        assert_eq!(sa.lines, 5);
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
