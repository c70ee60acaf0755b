//! Delve's `goroutines` listing (`dlv attach PID` or `dlv core BIN CORE`), with `-t`
//! stacks; `-u`/`-r`/`-g`/`-s` only change which location the line names.
//! Lines come from Delve's `pkg/terminal/command.go` (`formatGoroutine`, `printStack`).

use nom::{
    branch::alt,
    bytes::complete::{tag, take_till1},
    character::complete::{char, digit1, hex_digit1, space0, space1},
    combinator::{map_res, opt, rest},
    sequence::{delimited, preceded, terminated, tuple},
    IResult,
};

use crate::model::FuncName;

fn dec_u64(i: &str) -> IResult<&str, u64> {
    map_res(digit1, str::parse)(i)
}

fn hex_u64(i: &str) -> IResult<&str, u64> {
    map_res(preceded(tag("0x"), hex_digit1), |h| {
        u64::from_str_radix(h, 16)
    })(i)
}

/// A goroutine line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelveHeader<'a> {
    pub id: u64,
    /// `User`, `Runtime`, `Go` or `Start`: which location the line names.
    pub kind: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub function: Option<FuncName<'a>>,
    pub pc: u64,
    pub thread: Option<u64>,
    /// `[chan receive 123456789]`: the wait reason (runtime spelling) ...
    pub reason: Option<&'a str>,
    /// ... and the raw `waitsince` nanotime.
    pub wait_since: Option<u64>,
}

// (dlv)   Goroutine 1 - User: ...      /   * Goroutine 1 - ...   /     Goroutine 1 - ...
fn prefix(i: &str) -> IResult<&str, ()> {
    let (i, _) = opt(tag("(dlv)"))(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = opt(terminated(char('*'), space1))(i)?;
    let (i, _) = space0(i)?;
    Ok((i, ()))
}

// * Goroutine 1 - User: ./main.go:12 main.main (0x49a3c5) (thread 123) [chan receive 123456789]
pub fn header(i: &str) -> IResult<&str, DelveHeader<'_>> {
    let (i, _) = prefix(i)?;
    let (i, _) = tag("Goroutine ")(i)?;
    let (i, id) = dec_u64(i)?;
    let (i, _) = tag(" - ")(i)?;
    let (i, kind) = terminated(take_till1(|c| c == ':'), tag(": "))(i)?;
    // `FILE:LINE FUNC (0xPC)`: the file may hold spaces, so anchor on ` (0x`.
    let Some(pc_at) = i.find(" (0x") else {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        )));
    };
    let loc = &i[..pc_at];
    let (i, pc) = delimited(tag(" ("), hex_u64, char(')'))(&i[pc_at..])?;
    let (file_line, function) = match loc.rfind(' ') {
        Some(sp) => (&loc[..sp], Some(FuncName(&loc[sp + 1..]))),
        None => (loc, None),
    };
    let (file, line) = match file_line.rfind(':') {
        Some(c) => (&file_line[..c], file_line[c + 1..].parse().unwrap_or(0)),
        None => (file_line, 0),
    };
    let (i, thread) = opt(delimited(tag(" (thread "), dec_u64, char(')')))(i)?;
    let (i, bracket) = opt(preceded(
        char(' '),
        delimited(char('['), take_till1(|c| c == ']'), char(']')),
    ))(i)?;
    let (reason, wait_since) = match bracket {
        Some(b) => match b.rsplit_once(' ') {
            Some((r, n)) if n.bytes().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (Some(r), n.parse().ok())
            }
            _ => (Some(b), None),
        },
        None => (None, None),
    };
    Ok((
        i,
        DelveHeader {
            id,
            kind,
            file,
            line,
            function: function.filter(|f| !f.0.is_empty()),
            pc,
            thread,
            reason,
            wait_since,
        },
    ))
}

// 	0  0x000000000043fc4e in runtime.gopark
// (dlv) 0  0x000000000043b296 in runtime.gopark      (the first line of `stack` on stdin)
pub fn frame_func(i: &str) -> IResult<&str, (u32, u64, FuncName<'_>)> {
    let (i, _) = opt(tag("(dlv)"))(i)?;
    let (i, _) = space0(i)?;
    let (i, n) = map_res(digit1, str::parse)(i)?;
    let (i, _) = space1(i)?;
    let (i, pc) = hex_u64(i)?;
    let (i, _) = tag(" in ")(i)?;
    let (i, f) = rest(i)?;
    Ok((i, (n, pc, FuncName(f.trim_end()))))
}

// 	    at /usr/lib/go/src/runtime/proc.go:425
pub fn frame_at(i: &str) -> IResult<&str, (&str, u32)> {
    let (i, _) = space0(i)?;
    let (i, _) = tag("at ")(i)?;
    let (i, loc) = rest(i)?;
    let loc = loc.trim_end();
    match loc.rfind(':') {
        Some(c) => match loc[c + 1..].parse() {
            Ok(n) => Ok((i, (&loc[..c], n))),
            Err(_) => Ok((i, (loc, 0))),
        },
        None => Ok((i, (loc, 0))),
    }
}

// (dlv) Switched from 0 to 23 (thread 7499)
/// The answer to `goroutine N`: the goroutine switched to.
pub fn switched(i: &str) -> IResult<&str, u64> {
    let (i, _) = opt(tag("(dlv)"))(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = tag("Switched from ")(i)?;
    let (i, _) = dec_u64(i)?;
    let (i, _) = tag(" to ")(i)?;
    let (i, n) = dec_u64(i)?;
    let (i, _) = opt(delimited(tag(" (thread "), dec_u64, char(')')))(i)?;
    Ok((i, n))
}

// 	Total: 17      (after each group of `goroutines -group`)
pub fn group_total(i: &str) -> IResult<&str, u64> {
    preceded(tuple((space0, tag("Total: "))), dec_u64)(i)
}

// [14 goroutines]
pub fn footer(i: &str) -> IResult<&str, u64> {
    let (i, _) = opt(tag("(dlv)"))(i)?;
    let (i, _) = space0(i)?;
    delimited(
        char('['),
        terminated(dec_u64, alt((tag(" goroutines"), tag(" goroutine")))),
        char(']'),
    )(i)
}

// 	Labels: "k":"v"   (with -l)
pub fn labels(i: &str) -> IResult<&str, &str> {
    preceded(tuple((space0, tag("Labels: "))), rest)(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_full() {
        // from /work/shared/go-dump-formats.md (Delve's formatGoroutine)
        let (rest, h) = header("* Goroutine 1 - User: ./main.go:12 main.main (0x49a3c5) (thread 123) [chan receive 123456789]").unwrap();
        assert_eq!(rest, "");
        assert_eq!(h.id, 1);
        assert_eq!(h.kind, "User");
        assert_eq!((h.file, h.line), ("./main.go", 12));
        assert_eq!(h.function.unwrap().full(), "main.main");
        assert_eq!(h.pc, 0x49a3c5);
        assert_eq!(h.thread, Some(123));
        assert_eq!(h.reason, Some("chan receive"));
        assert_eq!(h.wait_since, Some(123456789));
    }

    #[test]
    fn header_prompt_no_thread() {
        let (rest, h) = header("(dlv)   Goroutine 1 - User: /usr/local/go/src/net/fd_unix.go:172 net.(*netFD).accept (0x4d6835) [IO wait]").unwrap();
        assert_eq!(rest, "");
        assert_eq!(h.function.unwrap().full(), "net.(*netFD).accept");
        assert_eq!(h.reason, Some("IO wait"));
        assert_eq!(h.wait_since, None);
    }

    #[test]
    fn frames() {
        let (rest, (n, pc, f)) = frame_func("\t0  0x000000000043fc4e in runtime.gopark").unwrap();
        assert_eq!((rest, n, pc, f.full()), ("", 0, 0x43fc4e, "runtime.gopark"));
        let (rest, (file, line)) =
            frame_at("\t    at /usr/lib/go/src/runtime/proc.go:425").unwrap();
        assert_eq!(
            (rest, file, line),
            ("", "/usr/lib/go/src/runtime/proc.go", 425)
        );
        assert!(frame_func("\t    at /usr/lib/go/src/runtime/proc.go:425").is_err());
    }

    // fixtures/formats/keyed-limiter/go1.19/delve-session.txt
    #[test]
    fn session_lines() {
        assert_eq!(
            switched("(dlv) Switched from 0 to 23 (thread 7499)"),
            Ok(("", 23))
        );
        assert_eq!(switched("Switched from 23 to 24"), Ok(("", 24)));
        assert!(switched("(dlv) Command failed: x").is_err());
        let (rest, (n, pc, f)) =
            frame_func("(dlv) 0  0x000000000043b296 in runtime.gopark").unwrap();
        assert_eq!((rest, n, pc, f.full()), ("", 0, 0x43b296, "runtime.gopark"));
        let (rest, (n, _, f)) =
            frame_func("4  0x0000000000680e25 in main.(*keyedLimiter).Acquire").unwrap();
        assert_eq!((rest, n, f.full()), ("", 4, "main.(*keyedLimiter).Acquire"));
        // fixtures/formats/keyed-limiter/go1.19/delve-group.txt
        assert_eq!(group_total("\tTotal: 17"), Ok(("", 17)));
        assert!(group_total("user=true").is_err());
    }

    #[test]
    fn footer_line() {
        assert_eq!(footer("[14 goroutines]"), Ok(("", 14)));
        assert!(footer("[chan receive]").is_err());
    }
}
