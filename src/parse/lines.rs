//! A cursor over the input's lines that remembers line numbers and forgives `\r\n`.

/// Lines of the input, numbered from 1, with a one-line look-ahead.
///
/// Over bytes, each line is checked for UTF-8 when it is looked at: text the fast
/// path for repeated stacks skips (`advance`) is never checked, which it need not
/// be (it matched, byte for byte, text that was). A line that is not UTF-8 ends the
/// lines, and `bad` says so; the caller then repairs the text and reads it again.
pub struct Lines<'a> {
    text: &'a [u8],
    pos: usize,
    /// Number of the line `peek` would return.
    next_no: usize,
    /// The text came as a `str`: no line needs checking.
    checked: bool,
    /// Text before this offset was checked (a line is looked at twice: `peek`,
    /// then `next_line`).
    checked_to: usize,
    /// A line was not UTF-8.
    bad: bool,
    /// The line last split (`Split`): looked at by `peek`, then taken by
    /// `next_line`, it is searched for once.
    last: Split<'a>,
}

/// A line of the text: where it starts, the line, and the bytes up to the next.
#[derive(Clone, Copy)]
struct Split<'a> {
    pos: usize,
    line: &'a str,
    adv: usize,
}

impl Split<'_> {
    /// No line yet (a line of no bytes takes at least one).
    const NONE: Split<'static> = Split {
        pos: 0,
        line: "",
        adv: 0,
    };
}

/// The first newline of `text`, and whether the bytes before it are known to be
/// ASCII (false: not looked at). Lines are short (forty bytes or so): the first 64
/// bytes are looked at in one go (`stack::newline_and_high_masks`), as a `memchr` call
/// costs more to set up than such a line takes to search.
#[inline]
fn newline(text: &[u8]) -> (Option<usize>, bool) {
    let (first, high) = super::stack::newline_and_high_masks(text);
    if first != 0 {
        let at = first.trailing_zeros() as usize;
        return (Some(at), high & ((1u64 << at) - 1) == 0);
    }
    let from = text.len().min(64);
    (
        memchr::memchr(b'\n', &text[from..]).map(|i| from + i),
        false,
    )
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines {
            text: text.as_bytes(),
            pos: 0,
            next_no: 1,
            checked: true,
            checked_to: 0,
            bad: false,
            last: Split::NONE,
        }
    }

    /// Lines of text not known to be UTF-8.
    pub fn from_bytes(text: &'a [u8]) -> Self {
        Lines {
            text,
            pos: 0,
            next_no: 1,
            checked: false,
            checked_to: 0,
            bad: false,
            last: Split::NONE,
        }
    }

    fn split(&mut self) -> Option<(&'a str, usize)> {
        if self.pos >= self.text.len() || self.bad {
            return None;
        }
        if self.last.pos == self.pos && self.last.adv > 0 {
            return Some((self.last.line, self.last.adv));
        }
        let rest = &self.text[self.pos..];
        let (found, ascii) = newline(rest);
        let (line, adv) = match found {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        let end = self.pos + line.len();
        if !self.checked && end > self.checked_to {
            // Dumps are ASCII: known so from the newline search, else a quick look.
            if !ascii && !line.is_ascii() && std::str::from_utf8(line).is_err() {
                self.bad = true;
                return None;
            }
            self.checked_to = end;
        }
        // SAFETY: the line was checked above or before (`checked_to`), or the text
        // was a `str`; a line ends at a newline or at the text's end, both char
        // boundaries.
        let line = unsafe { std::str::from_utf8_unchecked(line) };
        let line = line.strip_suffix('\r').unwrap_or(line);
        self.last = Split {
            pos: self.pos,
            line,
            adv,
        };
        Some((line, adv))
    }

    /// The next line and its number, without consuming it.
    pub fn peek(&mut self) -> Option<(usize, &'a str)> {
        self.split().map(|(l, _)| (self.next_no, l))
    }

    /// Consume and return the next line and its number.
    pub fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let (line, adv) = self.split()?;
        let no = self.next_no;
        self.pos += adv;
        self.next_no += 1;
        Some((no, line))
    }

    /// Whether a line was not UTF-8 (and the lines ended there).
    pub fn bad(&self) -> bool {
        self.bad
    }

    /// Whether the text ends without a newline.
    pub fn unterminated(&self) -> bool {
        self.text.last().is_some_and(|&c| c != b'\n')
    }

    /// The text not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.text[self.pos..]
    }

    /// Byte offset of the next line.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Skip `bytes` bytes holding `lines` whole lines, as counted by the caller.
    pub fn advance(&mut self, bytes: usize, lines: usize) {
        self.pos = (self.pos + bytes).min(self.text.len());
        self.next_no += lines;
    }

    /// Number of the next line (one past the last line at the end).
    pub fn line_no(&self) -> usize {
        self.next_no
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written text: the first newline, within the first 64 bytes or past them,
    // in text shorter than 64 bytes, or none.
    #[test]
    fn first_newline_anywhere() {
        for len in [0, 1, 10, 63, 64, 65, 200] {
            for at in [0, 5, 62, 63, 64, 100, 199] {
                let mut t = vec![b'x'; len];
                if at < len {
                    t[at] = b'\n';
                }
                let want = t.iter().position(|&c| c == b'\n');
                assert_eq!(newline(&t).0, want, "len {len} at {at}");
                // Not ASCII before the newline, or after it only: never said ASCII
                // in the first case.
                for bad in [0, 5, 62, 63, 64] {
                    let mut u = t.clone();
                    if bad < len && u[bad] != b'\n' {
                        u[bad] = 0xe9;
                        let (found, ascii) = newline(&u);
                        assert_eq!(found, want, "len {len} at {at} bad {bad}");
                        if want.is_some_and(|w| bad < w) {
                            assert!(!ascii, "len {len} at {at} bad {bad}");
                        }
                    }
                }
            }
        }
    }

    // Hand-written input: line splitting only.
    #[test]
    fn numbers_lines_and_strips_crlf() {
        let mut l = Lines::new("a\r\nb\n\nc");
        assert_eq!(l.peek(), Some((1, "a")));
        assert_eq!(l.next_line(), Some((1, "a")));
        assert_eq!(l.next_line(), Some((2, "b")));
        assert_eq!(l.next_line(), Some((3, "")));
        assert_eq!(l.next_line(), Some((4, "c")));
        assert_eq!(l.next_line(), None);
        assert_eq!(l.line_no(), 5);
    }

    // Hand-written input: a line that is not UTF-8 ends the lines and is reported;
    // the lines before it are read.
    #[test]
    fn a_line_not_utf8_stops_the_lines() {
        let mut l = Lines::from_bytes(b"ok\nb\xffd\nlater\n");
        assert_eq!(l.next_line(), Some((1, "ok")));
        assert!(!l.bad());
        assert_eq!(l.peek(), None);
        assert!(l.bad());
        assert_eq!(l.next_line(), None);
        let mut fine = Lines::from_bytes("é\n".as_bytes());
        assert_eq!(fine.next_line(), Some((1, "é")));
        assert!(!fine.bad());
    }
}
