//! Dumps inside logs: a per-line prefix that a log system writes before every line
//! of a program's output, and ANSI colour escapes. Detected from the shape of the
//! first lines (the same prefix shape on most of them), then taken off every line
//! that has it; lines without it are kept whole (log lines of other sources, which
//! the readers skip as ever). The text read is the program's own output, and a
//! line map gives each of its lines the line of the input it came from.
//!
//! The shapes, from each system's documentation:
//! - CRI (kubelet container logs, `kubernetes/cri-api` logging format):
//!   `<RFC 3339 nanos> <stdout|stderr> <P|F> <content>`; `P` records are parts of
//!   one line, joined up to the next `F` of the same stream.
//! - Docker json-file: `{"log":"<content>\n","stream":"stderr","time":"..."}`; a
//!   record whose `log` has no final newline is part of a line.
//! - journalctl / syslog: `Mon DD HH:MM:SS[.frac] host ident[pid]: <content>` (or an
//!   ISO timestamp first, `-o short-iso`).
//! - `kubectl logs --timestamps`: `<RFC 3339> <content>`.
//! - klog / glog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] <content>`.

use nom::{
    branch::alt,
    bytes::complete::{tag, take_while1, take_while_m_n},
    character::complete::{char, one_of},
    combinator::{opt, recognize, rest},
    sequence::{preceded, tuple},
    IResult,
};

/// Which line prefix a text carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinePrefix {
    Cri,
    Docker,
    Journald,
    Klog,
    /// `kubectl logs --timestamps`: an RFC 3339 timestamp and a space.
    Timestamp,
}

impl LinePrefix {
    pub fn as_str(self) -> &'static str {
        match self {
            LinePrefix::Cri => "cri",
            LinePrefix::Docker => "docker-json",
            LinePrefix::Journald => "journald",
            LinePrefix::Klog => "klog",
            LinePrefix::Timestamp => "timestamp",
        }
    }
}

/// In order of preference when several shapes fit the same lines (a CRI line also
/// reads as a timestamped one).
const ALL: [LinePrefix; 5] = [
    LinePrefix::Cri,
    LinePrefix::Docker,
    LinePrefix::Journald,
    LinePrefix::Klog,
    LinePrefix::Timestamp,
];

fn digits(n: usize) -> impl Fn(&str) -> IResult<&str, &str> {
    move |i| take_while_m_n(n, n, |c: char| c.is_ascii_digit())(i)
}

// 2026-02-03T19:00:16.681965326Z   /   2026-02-03T19:00:16+01:00   /   2026-02-03T19:00:16+0000
pub fn rfc3339(i: &str) -> IResult<&str, &str> {
    recognize(tuple((
        digits(4),
        char('-'),
        digits(2),
        char('-'),
        digits(2),
        one_of("Tt "),
        digits(2),
        char(':'),
        digits(2),
        char(':'),
        digits(2),
        opt(preceded(
            char('.'),
            take_while1(|c: char| c.is_ascii_digit()),
        )),
        alt((
            tag("Z"),
            tag("z"),
            recognize(tuple((one_of("+-"), digits(2), opt(char(':')), digits(2)))),
        )),
    )))(i)
}

/// One CRI record: the stream, whether it is a part of a line (`P`), the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriRecord<'a> {
    pub stream: &'a str,
    pub partial: bool,
    pub content: &'a str,
}

// 2026-02-03T19:00:16.681965326Z stderr F goroutine 1 [running]:
pub fn cri(i: &str) -> IResult<&str, CriRecord<'_>> {
    let (i, _) = rfc3339(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, stream) = alt((tag("stdout"), tag("stderr")))(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, t) = one_of("PF")(i)?;
    // The separator before the content; an empty F line may end right after its tag.
    let (i, _) = opt(char(' '))(i)?;
    Ok((
        "",
        CriRecord {
            stream,
            partial: t == 'P',
            content: i,
        },
    ))
}

// 2026-02-03T19:00:16.681965326Z goroutine 1 [running]:
pub fn timestamped(i: &str) -> IResult<&str, &str> {
    preceded(tuple((rfc3339, char(' '))), rest)(i)
}

// Oct 20 17:32:58
// Feb  3 19:00:16.681965
fn syslog_time(i: &str) -> IResult<&str, &str> {
    recognize(tuple((
        one_of("ADFJMNOS"),
        take_while_m_n(2, 2, |c: char| c.is_ascii_lowercase()),
        char(' '),
        take_while_m_n(1, 2, |c: char| c == ' ' || c.is_ascii_digit()),
        char(' '),
        digits(2),
        char(':'),
        digits(2),
        char(':'),
        digits(2),
        opt(preceded(
            char('.'),
            take_while1(|c: char| c.is_ascii_digit()),
        )),
    )))(i)
}

// Oct 20 17:32:58 host prog[2164070]: goroutine 1 [running]:
// 2026-02-03T19:00:16+0000 node-7 orders-api[2164070]: goroutine 1 [running]:
pub fn journald(i: &str) -> IResult<&str, &str> {
    let (i, _) = alt((syslog_time, rfc3339))(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, _host) = take_while1(|c: char| c != ' ')(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, _ident) = take_while1(|c: char| c != ' ' && c != '[' && c != ':')(i)?;
    let (i, _pid) = opt(tuple((
        char('['),
        take_while1(|c: char| c.is_ascii_digit()),
        char(']'),
    )))(i)?;
    let (i, _) = char(':')(i)?;
    // `ident[pid]: content`; an empty message may end at the colon.
    let (i, _) = opt(char(' '))(i)?;
    Ok(("", i))
}

// E0203 19:00:16.681965 2164070 dump.go:41] goroutine 1 [running]:
pub fn klog(i: &str) -> IResult<&str, &str> {
    let (i, _) = one_of("IWEF")(i)?;
    let (i, _) = tuple((
        digits(4),
        char(' '),
        digits(2),
        char(':'),
        digits(2),
        char(':'),
        digits(2),
        char('.'),
        digits(6),
    ))(i)?;
    let (i, _) = take_while1(|c| c == ' ')(i)?;
    let (i, _thread) = take_while1(|c: char| c.is_ascii_digit())(i)?;
    let (i, _) = char(' ')(i)?;
    let (i, _file) = take_while1(|c: char| c != ':' && c != ' ')(i)?;
    let (i, _) = char(':')(i)?;
    let (i, _line) = take_while1(|c: char| c.is_ascii_digit())(i)?;
    let (i, _) = tag("]")(i)?;
    let (i, _) = opt(char(' '))(i)?;
    Ok(("", i))
}

/// A Docker json-file record.
#[derive(serde::Deserialize)]
struct DockerRecord<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    stream: Option<std::borrow::Cow<'a, str>>,
}

// {"log":"goroutine 1 [running]:\n","stream":"stderr","time":"2026-02-03T19:00:16.681965326Z"}
/// A Docker json-file record: its stream and content, the final newline taken off
/// (`partial` when it had none: a part of a longer line), as `CriRecord` has them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DockerLine {
    stream: String,
    partial: bool,
    content: String,
}

fn docker(line: &str) -> Option<DockerLine> {
    if !line.starts_with("{\"") {
        return None;
    }
    let r: DockerRecord = serde_json::from_str(line).ok()?;
    let stream = r.stream.map(|s| s.into_owned()).unwrap_or_default();
    let log = r.log.into_owned();
    Some(match log.strip_suffix('\n') {
        Some(l) => DockerLine {
            stream,
            partial: false,
            content: l.strip_suffix('\r').unwrap_or(l).to_string(),
        },
        None => DockerLine {
            stream,
            partial: true,
            content: log,
        },
    })
}

fn matches(kind: LinePrefix, line: &str) -> bool {
    match kind {
        LinePrefix::Cri => cri(line).is_ok(),
        LinePrefix::Docker => line.starts_with("{\"") && docker(line).is_some(),
        LinePrefix::Journald => journald(line).is_ok(),
        LinePrefix::Klog => klog(line).is_ok(),
        LinePrefix::Timestamp => timestamped(line).is_ok(),
    }
}

/// How much of the input is looked at to tell its shape.
pub const SNIFF_BYTES: usize = 256 << 10;
const SNIFF_LINES: usize = 400;

/// What the first bytes of an input say about its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub prefix: Option<LinePrefix>,
    /// ANSI escapes (colours) are in the text.
    pub ansi: bool,
}

/// The shape of the lines in `head` (the first bytes of an input), when they carry
/// a prefix or colours; `None` for plain text. A prefix counts when at least 4 of
/// 5 non-blank lines looked at (and at least 2) have it.
pub fn detect(head: &[u8]) -> Option<Shape> {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    let ansi = memchr::memchr(0x1b, head).is_some();
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    let mut seen = 0usize;
    let mut counts = [0usize; ALL.len()];
    for line in text.lines().take(SNIFF_LINES) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        seen += 1;
        // Cheap first look: every prefix starts with a digit, `{` or a capital.
        let first = line.as_bytes()[0];
        if !(first.is_ascii_digit() || first == b'{' || first.is_ascii_uppercase()) {
            continue;
        }
        for (k, kind) in ALL.iter().enumerate() {
            if matches(*kind, line) {
                counts[k] += 1;
            }
        }
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    let prefix = (best >= 2 && best * 5 >= seen * 4)
        .then(|| ALL[counts.iter().position(|&c| c == best).expect("a max")]);
    (prefix.is_some() || ansi).then_some(Shape { prefix, ansi })
}

/// The program's own text, out of its log lines.
pub struct Unwrapped {
    pub text: Vec<u8>,
    /// For each line of `text`, the 1-based line of the input it starts on.
    pub lines: Vec<usize>,
}

/// Take the prefix (and colours) off every line of `input` that has it.
pub fn unwrap(input: &[u8], shape: Shape) -> Unwrapped {
    let mut out = Unwrapped {
        text: Vec::with_capacity(input.len()),
        lines: Vec::new(),
    };
    let mut parts = Parts::default();
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let no = i + 1;
        let line = String::from_utf8_lossy(raw);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        match shape.prefix {
            Some(LinePrefix::Cri) => match cri(line) {
                Ok((_, r)) => {
                    if let Some(whole) = parts.add(r.stream, r.content, no, r.partial) {
                        out.emit(shape, &whole.text, whole.first_line);
                    }
                }
                Err(_) => out.emit(shape, line, no),
            },
            Some(LinePrefix::Docker) => match docker(line) {
                Some(r) => {
                    if let Some(whole) = parts.add(&r.stream, &r.content, no, r.partial) {
                        out.emit(shape, &whole.text, whole.first_line);
                    }
                }
                None => out.emit(shape, line, no),
            },
            Some(kind) => {
                let content = match kind {
                    LinePrefix::Journald => journald(line).map(|(_, c)| c),
                    LinePrefix::Klog => klog(line).map(|(_, c)| c),
                    _ => timestamped(line).map(|(_, c)| c),
                };
                out.emit(shape, content.unwrap_or(line), no);
            }
            None => out.emit(shape, line, no),
        }
    }
    for p in parts.0 {
        out.emit(shape, &p.text, p.first_line);
    }
    out
}

impl Unwrapped {
    /// Add a line of the program's text, which started on line `line` of the input.
    fn emit(&mut self, shape: Shape, content: &str, line: usize) {
        if shape.ansi {
            strip_ansi(content, &mut self.text);
        } else {
            self.text.extend_from_slice(content.as_bytes());
        }
        self.text.push(b'\n');
        self.lines.push(line);
    }
}

/// A line of a stream, as far as its records went, and the input line it started on.
struct Part {
    stream: String,
    text: String,
    first_line: usize,
}

/// A whole line made of records (`Parts::add`), and the input line it started on.
struct Whole {
    text: String,
    first_line: usize,
}

/// The lines not ended yet (a CRI `P` record, a Docker record with no newline),
/// one per stream.
#[derive(Default)]
struct Parts(Vec<Part>);

impl Parts {
    /// A record of `stream` on input line `no`: `None` while its line goes on
    /// (`partial`), else the whole line.
    fn add(&mut self, stream: &str, content: &str, no: usize, partial: bool) -> Option<Whole> {
        let at = self.0.iter().position(|p| p.stream == stream);
        if partial {
            match at {
                Some(k) => self.0[k].text.push_str(content),
                None => self.0.push(Part {
                    stream: stream.to_string(),
                    text: content.to_string(),
                    first_line: no,
                }),
            }
            return None;
        }
        Some(match at {
            Some(k) => {
                let Part {
                    mut text,
                    first_line,
                    ..
                } = self.0.swap_remove(k);
                text.push_str(content);
                Whole { text, first_line }
            }
            None => Whole {
                text: content.to_string(),
                first_line: no,
            },
        })
    }
}

/// `s` without its ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL`
/// or `ESC \`, and `ESC` intermediates final), appended to `out`.
pub fn strip_ansi(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != 0x1b {
            let next = memchr::memchr(0x1b, &b[i..]).map_or(b.len(), |p| i + p);
            out.extend_from_slice(&b[i..next]);
            i = next;
            continue;
        }
        i += 1;
        match b.get(i) {
            Some(b'[') => {
                i += 1;
                while i < b.len() && (0x20..0x40).contains(&b[i]) {
                    i += 1;
                }
                if i < b.len() && (0x40..0x7f).contains(&b[i]) {
                    i += 1;
                }
            }
            Some(b']') => {
                while i < b.len() && b[i] != 0x07 && !(b[i] == 0x1b && b.get(i + 1) == Some(&b'\\'))
                {
                    i += 1;
                }
                i += if b.get(i) == Some(&0x07) { 1 } else { 2 };
            }
            // `ESC ( B` and the like: intermediates, then one final byte.
            Some(_) => {
                while i < b.len() && (0x20..0x30).contains(&b[i]) {
                    i += 1;
                }
                i += 1;
            }
            None => {}
        }
    }
}

/// Line numbers of what was read from the unwrapped text, made the input's.
pub fn remap(parsed: &mut crate::parse::Parsed<'_>, lines: &[usize]) {
    let at = |n: usize| -> usize {
        match n {
            0 => 0,
            n => lines
                .get(n - 1)
                .copied()
                .unwrap_or_else(|| lines.last().map_or(n, |&l| l + 1)),
        }
    };
    for d in &mut parsed.dumps {
        d.first_line = at(d.first_line);
        for g in &mut d.goroutines {
            g.line = at(g.line);
        }
        for x in &mut d.diagnostics {
            x.line = at(x.line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines below are copied from fixtures/formats/logs (real dumps written in each
    // system's documented line shape) unless marked hand-written.

    #[test]
    fn rfc3339_forms() {
        assert_eq!(
            rfc3339("2026-02-03T19:00:16.681965326Z stderr"),
            Ok((" stderr", "2026-02-03T19:00:16.681965326Z"))
        );
        // hand-written: offsets with and without a colon
        assert_eq!(rfc3339("2026-02-03T19:00:16+01:00 x").unwrap().0, " x");
        assert_eq!(rfc3339("2026-02-03T19:00:16+0000 x").unwrap().0, " x");
        assert!(rfc3339("2026/02/03 19:00:16 x").is_err());
    }

    #[test]
    fn cri_records() {
        let (rest, r) =
            cri("2026-02-03T19:00:16.681965326Z stderr F goroutine 1 [running]:").unwrap();
        assert_eq!(rest, "");
        assert_eq!(
            (r.stream, r.partial, r.content),
            ("stderr", false, "goroutine 1 [running]:")
        );
        let (_, r) = cri(
            "2026-02-03T19:00:16.683465326Z stderr P \t/opt/gos/go1.27.3/go/src/runtime/proc.go:46",
        )
        .unwrap();
        assert!(r.partial);
        assert_eq!(r.content, "\t/opt/gos/go1.27.3/go/src/runtime/proc.go:46");
        let (_, r) = cri("2026-02-03T19:00:16.684965326Z stderr F ").unwrap();
        assert_eq!(r.content, "");
        assert!(cri("2026-02-03T19:00:16.681965326Z goroutine 1 [running]:").is_err());
    }

    #[test]
    fn timestamped_lines() {
        assert_eq!(
            timestamped("2026-02-03T19:00:16.681965326Z 2026/12/01 20:09:06 starting"),
            Ok(("", "2026/12/01 20:09:06 starting"))
        );
    }

    #[test]
    fn journald_lines() {
        assert_eq!(
            journald("Feb 03 19:00:16 node-7 orders-api[2164070]: goroutine 1 [running]:"),
            Ok(("", "goroutine 1 [running]:"))
        );
        assert_eq!(
            journald("Feb 03 19:00:16 node-7 orders-api[2164070]: \t/x/main.go:3 +0x1"),
            Ok(("", "\t/x/main.go:3 +0x1"))
        );
        // hand-written: a day padded with a space, no pid, an ISO timestamp
        assert!(journald("Oct  5 17:32:58 host kernel: x").is_ok());
        assert!(journald("2026-02-03T19:00:16+0000 node-7 orders-api[1]: x").is_ok());
        assert!(journald("goroutine 1 [running]:").is_err());
    }

    #[test]
    fn klog_lines() {
        assert_eq!(
            klog("E0203 19:00:16.681965 2164070 dump.go:41] goroutine 1 [running]:"),
            Ok(("", "goroutine 1 [running]:"))
        );
        // hand-written: glog pads the thread id to 7 columns
        assert_eq!(
            klog("I0203 19:00:16.681965   12345 main.go:7] x"),
            Ok(("", "x"))
        );
        assert!(klog("E0203 19:00:16 x").is_err());
    }

    #[test]
    fn docker_records() {
        let r = docker(r#"{"log":"\t/opt/gos/go1.27.3/go/src/runtime/panic.go:1195 +0x18\n","stream":"stderr","time":"2026-02-03T19:00:16.686465326Z"}"#).unwrap();
        assert_eq!(
            (r.stream.as_str(), r.content.as_str(), r.partial),
            (
                "stderr",
                "\t/opt/gos/go1.27.3/go/src/runtime/panic.go:1195 +0x18",
                false
            )
        );
        // hand-written: a part of a long line has no newline; escapes are JSON's
        let r = docker(r#"{"log":"a \u003cautogenerated\u003e","stream":"stdout","time":"x"}"#)
            .unwrap();
        assert_eq!((r.content.as_str(), r.partial), ("a <autogenerated>", true));
        assert!(docker("{not json").is_none());
    }

    // Hand-written: escapes of each kind go, text stays.
    #[test]
    fn ansi_escapes_are_stripped() {
        let mut out = Vec::new();
        strip_ansi(
            "\x1b[1;31mfatal error: x\x1b[0m \x1b]0;title\x07ok\x1b(B!",
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "fatal error: x ok!");
    }

    // Hand-written: CRI parts of one line join, per stream, at the line they start.
    #[test]
    fn cri_parts_join() {
        let log = "2026-02-03T19:00:16Z stderr P goro\n2026-02-03T19:00:16Z stdout F log line\n2026-02-03T19:00:16Z stderr F utine 1 [running]:\n";
        let shape = detect(log.as_bytes()).unwrap();
        assert_eq!(shape.prefix, Some(LinePrefix::Cri));
        let u = unwrap(log.as_bytes(), shape);
        assert_eq!(
            String::from_utf8(u.text).unwrap(),
            "log line\ngoroutine 1 [running]:\n"
        );
        assert_eq!(u.lines, vec![2, 1]);
    }

    #[test]
    fn plain_dumps_have_no_shape() {
        let dump = "goroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n\ngoroutine 2 [chan send]:\nmain.f()\n\t/x/main.go:9 +0x1\n";
        assert_eq!(detect(dump.as_bytes()), None);
    }
}
