//! A cursor over the input's lines that remembers line numbers and forgives `\r\n`.

/// Lines of the input, numbered from 1, with a one-line look-ahead.
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
    /// Number of the line `peek` would return.
    next_no: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            next_no: 1,
        }
    }

    fn split(&self) -> Option<(&'a str, usize)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, adv) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        Some((line.strip_suffix('\r').unwrap_or(line), adv))
    }

    /// The next line and its number, without consuming it.
    pub fn peek(&self) -> Option<(usize, &'a str)> {
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

    /// The text not read yet.
    pub fn rest(&self) -> &'a str {
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
}
