//! Full tracebacks, as printed by `runtime/traceback.go`: `?debug=2`, SIGQUIT,
//! panics, `fatal error`s and `runtime.Stack(buf, true)`.
//!
//! One small nom parser per line shape; the real line each reads is quoted above it.

use nom::{
    branch::alt,
    bytes::complete::{tag, take_till, take_till1, take_until, take_while1},
    character::complete::{char, digit1, hex_digit1, space0},
    combinator::{all_consuming, map, map_res, opt, recognize, rest},
    multi::separated_list0,
    sequence::{delimited, preceded, tuple},
    IResult,
};

use crate::model::{Arg, ArgEncoder, ArgsKind, FuncName, State, WaitReason};

/// What the header line says about a goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub id: u64,
    pub state: State<'a>,
    pub wait_minutes: Option<u32>,
    pub locked_to_thread: bool,
    pub scan: bool,
    pub durable: bool,
    pub leaked: bool,
    pub bubble: Option<u64>,
    pub labels: Option<&'a str>,
}

fn dec_u64(i: &str) -> IResult<&str, u64> {
    map_res(digit1, str::parse)(i)
}

fn hex_u64(i: &str) -> IResult<&str, u64> {
    map_res(preceded(tag("0x"), hex_digit1), |h| {
        u64::from_str_radix(h, 16)
    })(i)
}

// ` gp=0xc0000061c0 m=nil` / ` gp=0x9d1200 m=0 mp=0x9d2040` (Go 1.22+, system level and throws)
fn gp_part(i: &str) -> IResult<&str, ()> {
    map(
        tuple((
            tag(" gp="),
            hex_u64,
            tag(" m="),
            alt((tag("nil"), digit1)),
            opt(preceded(tag(" mp="), hex_u64)),
        )),
        |_| (),
    )(i)
}

// ` {k: v, "a b": "c"}`: labels after the bracket (Go 1.27, GODEBUG=tracebacklabels=1)
fn header_labels(i: &str) -> IResult<&str, &str> {
    preceded(
        tag(" "),
        recognize(delimited(char('{'), take_until("}:"), char('}'))),
    )(i)
}

// goroutine 18 [chan receive, 5 minutes, locked to thread]:
pub fn header(i: &str) -> IResult<&str, Header<'_>> {
    let (i, _) = tag("goroutine ")(i)?;
    let (i, id) = dec_u64(i)?;
    let (i, _) = opt(gp_part)(i)?;
    let (i, _) = tag(" [")(i)?;
    // The status ends at the first `]` (a one-byte search: `take_until` would set
    // up a substring searcher for each header).
    let (i, body) = take_till(|c| c == ']')(i)?;
    let (i, _) = char(']')(i)?;
    let (i, labels) = opt(header_labels)(i)?;
    let (i, _) = char(':')(i)?;
    let mut h = header_body(body);
    h.id = id;
    h.labels = labels;
    Ok((i, h))
}

/// `body.split(", ")`, each `,` found by a byte search (`split` sets up a substring
/// searcher for each header).
fn comma_parts(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let r = rest?;
        let mut from = 0;
        while let Some(i) = memchr::memchr(b',', &r.as_bytes()[from..]) {
            let at = from + i;
            if r.as_bytes().get(at + 1) == Some(&b' ') {
                rest = Some(&r[at + 2..]);
                return Some(&r[..at]);
            }
            from = at + 1;
        }
        rest = None;
        Some(r)
    })
}

/// `chan receive (nil chan) (leaked) (scan), 5 minutes, locked to thread, synctest bubble 1`
fn header_body(body: &str) -> Header<'_> {
    let mut parts = comma_parts(body);
    let mut status = parts.next().unwrap_or("");
    let (mut scan, mut durable, mut leaked) = (false, false, false);
    // Marks follow the status in the order (leaked) (scan) (durable); a status whose own
    // name ends in a mark ("chan send (durable)") is a reason of its own.
    loop {
        if WaitReason::from_text(status) != WaitReason::Other {
            break;
        }
        if let Some(s) = status.strip_suffix(" (scan)") {
            scan = true;
            status = s;
        } else if let Some(s) = status.strip_suffix(" (durable)") {
            durable = true;
            status = s;
        } else if let Some(s) = status.strip_suffix(" (leaked)") {
            leaked = true;
            status = s;
        } else {
            break;
        }
    }
    let state = State::new(status);
    match state.reason {
        WaitReason::ChanReceiveDurable
        | WaitReason::ChanSendDurable
        | WaitReason::SelectDurable
        | WaitReason::SyncWaitGroupWaitDurable => durable = true,
        WaitReason::Leaked => leaked = true,
        _ => {}
    }
    let mut h = Header {
        id: 0,
        state,
        wait_minutes: None,
        locked_to_thread: false,
        scan,
        durable,
        leaked,
        bubble: None,
        labels: None,
    };
    for p in parts {
        if let Some(m) = p.strip_suffix(" minutes") {
            h.wait_minutes = m.parse().ok();
        } else if p == "locked to thread" {
            h.locked_to_thread = true;
        } else if let Some(n) = p
            .strip_prefix("synctest bubble ")
            .or_else(|| p.strip_prefix("synctest group "))
        {
            h.bubble = n.parse().ok();
        }
    }
    h
}

// 0xc000012345? / _ / ... / {0x5d2f1a, 0x3}
fn arg_items(i: &str) -> IResult<&str, Vec<Arg>> {
    map(
        separated_list0(tag(", "), arg_item),
        |items: Vec<Vec<Arg>>| items.into_iter().flatten().collect(),
    )(i)
}

fn arg_item(i: &str) -> IResult<&str, Vec<Arg>> {
    alt((
        map(delimited(char('{'), arg_items, char('}')), |inner| {
            let mut v = Vec::with_capacity(inner.len() + 2);
            v.push(Arg::Open);
            v.extend(inner);
            v.push(Arg::Close);
            v
        }),
        map(tag("..."), |_| vec![Arg::More]),
        map(char('_'), |_| vec![Arg::Dead]),
        map(tuple((hex_u64, opt(char('?')))), |(value, q)| {
            vec![Arg::Word {
                value,
                uncertain: q.is_some(),
            }]
        }),
    ))(i)
}

/// A frame's argument list as read from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// `(...)`: an inlined frame.
    Inlined,
    /// The printed words, flattened, `{`/`}` kept as markers.
    List(Vec<Arg>),
}

impl Args {
    /// Append the values to a goroutine's encoded arguments; the frame keeps the kind.
    pub fn encode(&self, out: &mut Vec<u8>) -> ArgsKind {
        match self {
            Args::Inlined => ArgsKind::Inlined,
            Args::List(v) => {
                let mut enc = ArgEncoder::begin(out);
                for &a in v {
                    enc.push(out, a);
                }
                enc.end(out);
                ArgsKind::List
            }
        }
    }
}

// (0xc000012345, {0x5d2f1a, 0x3}, 0x0?, ...)   or   (...)
pub fn args(i: &str) -> IResult<&str, Args> {
    alt((
        map(tag("(...)"), |_| Args::Inlined),
        map(delimited(char('('), arg_items, char(')')), Args::List),
    ))(i)
}

// main.(*T).m(0xc000012345, {0x5d2f1a, 0x3})
/// A frame's function line. The arguments are the last parenthesised group;
/// the name before it may itself hold parentheses (`(*T)`) and brackets (`[...]`).
pub fn func_line(line: &str) -> Option<(FuncName<'_>, Args)> {
    let (name, list) = split_func_line(line)?;
    let (_, a) = all_consuming(args)(list).ok()?;
    Some((FuncName(name), a))
}

/// A function line's name and its parenthesised argument list, where the line
/// can be one (it ends in `)`, does not start with a space, the name has none).
fn split_func_line(line: &str) -> Option<(&str, &str)> {
    // A line ending in `)` has nothing to trim (the common case: no search for
    // trailing Unicode whitespace).
    let line = match line.as_bytes().last() {
        Some(b')') => line,
        _ => line.trim_end(),
    };
    if !line.ends_with(')') || starts_with_whitespace(line) {
        return None;
    }
    // The argument list is short: a plain loop from the end beats memrchr's set-up.
    let open = line.bytes().rposition(|c| c == b'(')?;
    let name = &line[..open];
    if name.is_empty() || memchr::memchr(b' ', name.as_bytes()).is_some() {
        return None;
    }
    Some((name, &line[open..]))
}

/// `s.starts_with(char::is_whitespace)`, told from the first byte when it is ASCII
/// (the whitespace `char::is_whitespace` knows there: tab to carriage return, space).
#[inline]
pub(crate) fn starts_with_whitespace(s: &str) -> bool {
    match s.as_bytes().first() {
        None => false,
        Some(&c) if c.is_ascii() => c == b' ' || (0x09..=0x0d).contains(&c),
        Some(_) => s.starts_with(char::is_whitespace),
    }
}

/// `s.trim().is_empty()`, told from the first byte after its leading ASCII
/// whitespace when that byte is ASCII (a stack's lines, `\t` and a path for a file
/// line, but for the blank line ending it).
#[inline]
pub(crate) fn is_blank(s: &str) -> bool {
    let b = s.as_bytes();
    let lead = b
        .iter()
        .take_while(|&&c| c == b' ' || (0x09..=0x0d).contains(&c))
        .count();
    match b.get(lead) {
        None => true,
        Some(c) if c.is_ascii() => false,
        // Leading ASCII bytes end at a char boundary.
        Some(_) => s[lead..].trim().is_empty(),
    }
}

/// `func_line` with the argument list read by `args_fast` (encoded into `out`):
/// the same name and, where `args_fast` is sure, the same values. `None` (and `out`
/// left as it was) where `func_line` would refuse the line or `args_fast` gives up;
/// `func_line` then reads it.
pub fn func_line_fast<'l>(line: &'l str, out: &mut Vec<u8>) -> Option<(FuncName<'l>, ArgsKind)> {
    let (name, list) = split_func_line(line)?;
    let kind = args_fast(list.as_bytes(), out)?;
    Some((FuncName(name), kind))
}

// main.nextDigit(0x0?, 0x0?, 0x0?)
/// Function lines `func_line_fast` read last, with what it made of them. Where
/// every goroutine has a stack of its own (the same functions called in other
/// orders), the same function lines with the same values come back again and
/// again: each is then read by one hash and one comparison. Direct-mapped by a
/// hash of the line, each slot holding the last line read into it: a fixed memory
/// whatever the dump, and a line whose values never come back (pointers) costs a
/// hash and a copy.
#[derive(Default)]
pub struct RecentFuncLines {
    slots: Vec<RecentFuncLine>,
}

/// A function line and what `func_line_fast` read of it.
#[derive(Default)]
struct RecentFuncLine {
    /// The line as given (empty: nothing read into this slot yet).
    line: Vec<u8>,
    /// The name's length: it starts the line.
    name_len: usize,
    kind: ArgsKind,
    /// The values it encoded.
    encoded: Vec<u8>,
}

/// A function line as `RecentFuncLines::read` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncLineRead<'l> {
    pub name: FuncName<'l>,
    pub kind: ArgsKind,
    /// The slot that holds the line now; `None` when it is not kept (too long).
    pub slot: Option<usize>,
    /// Whether the slot held this line already (else it was just filed there, in
    /// place of another).
    pub again: bool,
}

impl RecentFuncLines {
    /// Slots (a power of two).
    pub const SLOTS: usize = 512;
    /// Longer lines are read without being kept (their values rarely come back).
    const MAX_LINE: usize = 192;

    /// `func_line_fast(line, out)`, from the slot of `line` when it holds it.
    pub fn read<'l>(&mut self, line: &'l str, out: &mut Vec<u8>) -> Option<FuncLineRead<'l>> {
        use std::hash::BuildHasher;
        if line.is_empty() || line.len() > Self::MAX_LINE {
            let (name, kind) = func_line_fast(line, out)?;
            return Some(FuncLineRead {
                name,
                kind,
                slot: None,
                again: false,
            });
        }
        if self.slots.is_empty() {
            self.slots.resize_with(Self::SLOTS, Default::default);
        }
        let hash = rustc_hash::FxBuildHasher.hash_one(line.as_bytes());
        let at = (hash >> 40) as usize & (Self::SLOTS - 1);
        let slot = &mut self.slots[at];
        if slot.line == line.as_bytes() {
            out.extend_from_slice(&slot.encoded);
            return Some(FuncLineRead {
                name: FuncName(&line[..slot.name_len]),
                kind: slot.kind,
                slot: Some(at),
                again: true,
            });
        }
        let mark = out.len();
        let (name, kind) = func_line_fast(line, out)?;
        slot.line.clear();
        slot.line.extend_from_slice(line.as_bytes());
        slot.name_len = name.0.len();
        slot.kind = kind;
        slot.encoded.clear();
        slot.encoded.extend_from_slice(&out[mark..]);
        Some(FuncLineRead {
            name,
            kind,
            slot: Some(at),
            again: false,
        })
    }
}

/// Hex digit values, 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

// (0xc000012345, {0x5d2f1a, 0x3}, 0x0?, ...)
/// The fast reading of an argument list, for the stacks that repeat: the same
/// grammar as `args`, encoded straight into `out` without building tokens. `None`
/// (and `out` left as it was) for anything it is not sure of; the nom parser then
/// reads the line.
pub fn args_fast(s: &[u8], out: &mut Vec<u8>) -> Option<ArgsKind> {
    let mark = out.len();
    match args_prefix(s, out) {
        Some(ArgsPrefix { kind, used }) if used == s.len() => Some(kind),
        _ => {
            out.truncate(mark);
            None
        }
    }
}

/// An argument list read at the start of a text (`args_prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgsPrefix {
    pub kind: ArgsKind,
    /// The bytes the list took, its closing `)` included.
    pub used: usize,
}

/// `args_fast` on the argument list at the start of `s`, which may go on after it:
/// the list's kind and the bytes it took. The fast path for repeated stacks reads a
/// list this way without looking for the line's end.
pub fn args_prefix(s: &[u8], out: &mut Vec<u8>) -> Option<ArgsPrefix> {
    if s.starts_with(b"(...)") {
        return Some(ArgsPrefix {
            kind: ArgsKind::Inlined,
            used: 5,
        });
    }
    if s.first() != Some(&b'(') {
        return None;
    }
    let mark = out.len();
    out.reserve(64);
    let mut enc = ArgEncoder::begin(out);
    match list_items(s, &mut enc, out) {
        Some(used) => {
            enc.end(out);
            Some(ArgsPrefix {
                kind: ArgsKind::List,
                used,
            })
        }
        None => {
            out.truncate(mark);
            None
        }
    }
}

/// The items of the list `s` starts with (after its `(`), encoded into `out`, with
/// the braces that group them: where the list ends, after its closing `)`. `None`
/// for anything `args` would not read alike.
#[inline]
fn list_items(s: &[u8], enc: &mut ArgEncoder, out: &mut Vec<u8>) -> Option<usize> {
    let mut i = 1;
    let mut depth = 0u32;
    // Expect an item at i; after it, `, ` or `}` or the closing `)`.
    let mut expect_item = s.get(1) != Some(&b')');
    loop {
        if expect_item {
            if s.get(i) == Some(&b'{') {
                enc.push(out, Arg::Open);
                depth += 1;
                i += 1;
                // `{}`: no item inside, the close is read below
                expect_item = s.get(i) != Some(&b'}');
                continue;
            }
            i = list_item(s, i, enc, out)?;
            expect_item = false;
        }
        // after an item (or an open brace followed by `}`)
        match s.get(i)? {
            b')' if depth == 0 => return Some(i + 1),
            b'}' if depth > 0 => {
                depth -= 1;
                enc.push(out, Arg::Close);
                i += 1;
            }
            b',' if s.get(i + 1) == Some(&b' ') => {
                i += 2;
                expect_item = true;
            }
            _ => return None,
        }
    }
}

/// The item at `s[i]` (not a `{`): `_`, `...` or a word; where it ends.
#[inline]
fn list_item(s: &[u8], i: usize, enc: &mut ArgEncoder, out: &mut Vec<u8>) -> Option<usize> {
    match *s.get(i)? {
        b'_' => {
            enc.push(out, Arg::Dead);
            Some(i + 1)
        }
        b'.' => {
            if s.get(i..i + 3) != Some(b"...") {
                return None;
            }
            enc.push(out, Arg::More);
            Some(i + 3)
        }
        b'0' => word(s, i, enc, out),
        _ => None,
    }
}

/// The word at `s[i]`: `0x` and hex digits, `?` after it when uncertain; where it
/// ends. `None` for a word with no digit or too long for a `u64` (nom decides).
#[inline]
fn word(s: &[u8], mut i: usize, enc: &mut ArgEncoder, out: &mut Vec<u8>) -> Option<usize> {
    if s.get(i + 1) != Some(&b'x') {
        return None;
    }
    i += 2;
    let start = i;
    let mut v: u64 = 0;
    while let Some(&c) = s.get(i) {
        let d = HEX[c as usize];
        if d == 0xff {
            break;
        }
        if v >> 60 != 0 {
            return None; // would overflow: let nom decide
        }
        v = v << 4 | u64::from(d);
        i += 1;
    }
    if i == start {
        return None;
    }
    let uncertain = s.get(i) == Some(&b'?');
    if uncertain {
        i += 1;
    }
    enc.push_word(out, v, uncertain);
    Some(i)
}

/// Where a frame is: file, line, `+0x` offset, `pc=` when printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    pub file: &'a str,
    pub line: u32,
    pub offset: Option<u64>,
    pub pc: Option<u64>,
}

// ` fp=0xc420053f50 sp=0xc420053f20 pc=0x40439b` (GOTRACEBACK=system and above)
fn fp_sp_pc(i: &str) -> IResult<&str, u64> {
    map(
        tuple((
            tag(" fp="),
            hex_u64,
            tag(" sp="),
            hex_u64,
            tag(" pc="),
            hex_u64,
        )),
        |(_, _, _, _, _, pc)| pc,
    )(i)
}

// 	/usr/lib/go-1.19/src/sync/mutex.go:171 +0x165 fp=0xc000 sp=0xc000 pc=0x46b621
/// The file line below a function line. Starts with a tab (or spaces, when a tool
/// replaced tabs); the path may hold `:` and spaces (Windows), so the line number is
/// read after the last `:` before the `+0x` offset.
pub fn location(line: &str) -> Option<Location<'_>> {
    if !line.starts_with(['\t', ' ']) {
        return None;
    }
    let body = line.trim_start().trim_end();
    // memchr's searchers: `str::find` sets up a substring searcher on each call.
    let find = |pat: &[u8]| memchr::memmem::find(body.as_bytes(), pat);
    let (loc, suffix) = match find(b" +0x").or_else(|| find(b" fp=")) {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let colon = loc.rfind(':')?;
    let (file, num) = (&loc[..colon], &loc[colon + 1..]);
    if file.is_empty() {
        return None;
    }
    let line_no: u32 = num.parse().ok()?;
    let (offset, pc) = if suffix.is_empty() {
        (None, None)
    } else {
        let (_, (offset, pc)) =
            all_consuming(tuple((opt(preceded(tag(" +"), hex_u64)), opt(fp_sp_pc))))(suffix)
                .ok()?;
        (offset, pc)
    };
    Some(Location {
        file,
        line: line_no,
        offset,
        pc,
    })
}

// created by main.main in goroutine 1
// created by net/http.(*Server).Serve      (before Go 1.21)
pub fn created_by(i: &str) -> IResult<&str, (FuncName<'_>, Option<u64>)> {
    let (i, _) = tag("created by ")(i)?;
    let (i, name) = take_till1(|c| c == ' ')(i)?;
    let (i, parent) = opt(preceded(tag(" in goroutine "), dec_u64))(i)?;
    Ok((i, (FuncName(name), parent)))
}

// ...additional frames elided...        (Go ≤ 1.20)
// ...12 frames elided...                (Go 1.21+)
pub fn elided(i: &str) -> IResult<&str, u32> {
    alt((
        map(tag("...additional frames elided..."), |_| 0),
        map(
            delimited(
                tag("..."),
                map_res(digit1, str::parse::<u32>),
                tag(" frames elided..."),
            ),
            |n| n,
        ),
    ))(i)
}

// 	goroutine running on other thread; stack unavailable
pub fn stack_unavailable(i: &str) -> IResult<&str, ()> {
    map(
        preceded(
            space0,
            tag("goroutine running on other thread; stack unavailable"),
        ),
        |_| (),
    )(i)
}

// [originating from goroutine 24]:
pub fn originating(i: &str) -> IResult<&str, u64> {
    delimited(tag("[originating from goroutine "), dec_u64, tag("]:"))(i)
}

/// Lines before the first goroutine that say why the dump was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreambleLine {
    // SIGQUIT: quit
    Signal,
    // panic: boom   /   panic: runtime error: ... [recovered]
    Panic,
    // fatal error: all goroutines are asleep - deadlock!
    AllAsleep,
    // fatal error: stack overflow
    Fatal,
    // fatal error: concurrent map writes
    ConcurrentMap,
    // panic: test timed out after 2s
    TestTimeout,
    // SIGABRT: abort
    Abort,
    // runtime stack:
    RuntimeStack,
}

pub fn preamble(line: &str) -> Option<PreambleLine> {
    if line.contains('\x1b') {
        // A coloured capture: the escapes are not part of the line.
        let mut plain = Vec::with_capacity(line.len());
        crate::parse::prefix::strip_ansi(line, &mut plain);
        return preamble(&String::from_utf8_lossy(&plain));
    }
    let line = line.trim_end();
    if line == "runtime stack:" {
        return Some(PreambleLine::RuntimeStack);
    }
    if line.starts_with("fatal error: concurrent map ") {
        return Some(PreambleLine::ConcurrentMap);
    }
    if line.starts_with("panic: test timed out after ") {
        return Some(PreambleLine::TestTimeout);
    }
    if line.starts_with("SIGABRT: ") {
        return Some(PreambleLine::Abort);
    }
    if line.starts_with("fatal error: all goroutines are asleep") {
        return Some(PreambleLine::AllAsleep);
    }
    if line.starts_with("fatal error: ") {
        return Some(PreambleLine::Fatal);
    }
    if line.starts_with("panic: ") || line == "panic:" {
        return Some(PreambleLine::Panic);
    }
    let sig: IResult<&str, &str> = tuple((
        tag("SIG"),
        take_while1(|c: char| c.is_ascii_uppercase()),
        tag(": "),
        rest,
    ))(line)
    .map(|(i, _)| (i, ""));
    if sig.is_ok() {
        return Some(PreambleLine::Signal);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written header bodies: parts cut as `split(", ")` cuts them.
    #[test]
    fn comma_parts_split_as_split_does() {
        for body in [
            "",
            "select",
            "select, 5 minutes",
            "a,b, c,, d, ",
            ", x",
            "chan receive (nil chan), 3 minutes, locked to thread",
        ] {
            let want: Vec<&str> = body.split(", ").collect();
            assert_eq!(comma_parts(body).collect::<Vec<_>>(), want, "{body:?}");
        }
    }

    // Lines below are copied from real Go 1.19 and 1.27 output unless marked hand-written.

    #[test]
    fn header_plain() {
        let (rest, h) = header("goroutine 6 [sync.Cond.Wait]:").unwrap();
        assert_eq!(rest, "");
        assert_eq!(h.id, 6);
        assert_eq!(h.state.reason, WaitReason::SyncCondWait);
        assert_eq!(h.wait_minutes, None);
    }

    #[test]
    fn header_minutes_locked() {
        // hand-written: combines the runtime's optional parts
        let (rest, h) =
            header("goroutine 18 [chan receive, 31 minutes, locked to thread]:").unwrap();
        assert_eq!(rest, "");
        assert_eq!(h.state.reason, WaitReason::ChanReceive);
        assert_eq!(h.wait_minutes, Some(31));
        assert!(h.locked_to_thread);
    }

    #[test]
    fn header_gp_forms() {
        let (rest, h) = header("goroutine 0 gp=0x9d1200 m=0 mp=0x9d2040 [idle]:").unwrap();
        assert_eq!((rest, h.id, h.state.reason), ("", 0, WaitReason::Idle));
        let (rest, h) = header("goroutine 5 gp=0x14000184540 m=nil [GC worker (idle)]:").unwrap();
        assert_eq!((rest, h.state.reason), ("", WaitReason::GcWorkerIdle));
    }

    #[test]
    fn header_marks() {
        // hand-written from runtime/traceback.go goroutineheader's print order
        let (_, h) =
            header("goroutine 9 [chan send (nil chan) (leaked) (scan), 2 minutes]:").unwrap();
        assert_eq!(h.state.reason, WaitReason::ChanSendNilChan);
        assert!(h.leaked && h.scan && !h.durable);
        assert_eq!(h.wait_minutes, Some(2));
        let (_, h) = header("goroutine 9 [chan send (durable), synctest bubble 1]:").unwrap();
        assert_eq!(h.state.reason, WaitReason::ChanSendDurable);
        assert!(h.durable);
        assert_eq!(h.bubble, Some(1));
        let (_, h) = header("goroutine 9 [sync.Mutex.Lock (durable)]:").unwrap();
        assert_eq!(h.state.reason, WaitReason::SyncMutexLock);
        assert!(h.durable);
    }

    #[test]
    fn header_labels_and_unknown_reason() {
        // hand-written from goroutineheader's label printing (Go 1.27)
        let (rest, h) = header(r#"goroutine 8 [running] {k: v, "a b": "c"}:"#).unwrap();
        assert_eq!(rest, "");
        assert_eq!(h.labels, Some(r#"{k: v, "a b": "c"}"#));
        let (_, h) = header("goroutine 8 [some future reason]:").unwrap();
        assert_eq!(h.state.reason, WaitReason::Other);
        assert_eq!(h.state.raw, "some future reason");
    }

    #[test]
    fn header_rejects_other_lines() {
        assert!(header("goroutine profile: total 11").is_err());
        assert!(header("goroutine running on other thread; stack unavailable").is_err());
    }

    /// The arguments as a goroutine would hold them, read back.
    fn view(a: &Args) -> crate::model::Args<'static> {
        let mut out = Vec::new();
        a.encode(&mut out);
        let out: &'static [u8] = Box::leak(out.into_boxed_slice());
        crate::model::Args::List(crate::model::ArgList::from_encoded(&out[1..]))
    }

    // Hand-written lines, a real file line among them: the byte-level checks answer
    // as `trim().is_empty()` and `starts_with(char::is_whitespace)` do, Unicode
    // whitespace and a vertical tab included.
    #[test]
    fn blank_and_whitespace_checks_agree_with_str() {
        let lines = [
            "",
            " ",
            "\t",
            "\t/opt/gos/go1.27.3/go/src/runtime/sema.go:95 +0x25",
            "\u{b}x",
            "\u{a0}",
            " \u{3000} ",
            "\t\u{a0}x",
            "\u{a0}x",
            "main.main()",
            "é",
            "\r",
        ];
        for l in lines {
            assert_eq!(is_blank(l), l.trim().is_empty(), "{l:?}");
            assert_eq!(
                starts_with_whitespace(l),
                l.starts_with(char::is_whitespace),
                "{l:?}"
            );
        }
    }

    // Real function lines (a unique-stacks bench dump, a keyed-limiter fixture) and
    // hand-written ones the fast reader refuses: read through the recent lines,
    // each twice and among others that share its slot, they read as
    // `func_line_fast` reads them, name, kind and values.
    #[test]
    fn recent_func_lines_read_as_func_line_fast() {
        let lines = [
            "main.nextDigit(0x0?, 0x0?, 0x0?)",
            "main.nextDigit(0x0?, 0x490e85?, 0x0?)",
            "sync.(*WaitGroup).Wait(0x170decc780b0)",
            "internal/poll.(*pollDesc).waitRead(...)",
            "main.(*keyedLimiter).Acquire(0xa6f5963a310, {0x7a3c5e, 0x3})",
            "main.f() \r",
            "main.f(abc)",
            "created by main.main in goroutine 1",
            "",
        ];
        let mut recent = RecentFuncLines::default();
        for round in 0..3 {
            for (i, line) in lines.iter().enumerate() {
                // Other lines in between, enough to reuse every slot.
                for k in 0..RecentFuncLines::SLOTS * round {
                    let other = format!("main.g{k}(0x{i:x})");
                    recent.read(&other, &mut Vec::new());
                }
                let (mut want, mut got) = (vec![7], vec![7]);
                let expected = func_line_fast(line, &mut want);
                fn read(r: Option<FuncLineRead<'_>>) -> Option<(FuncName<'_>, ArgsKind)> {
                    r.map(|f| (f.name, f.kind))
                }
                let first = recent.read(line, &mut got);
                assert_eq!(read(first), expected, "{line}");
                let second = recent.read(line, &mut got);
                assert_eq!(read(second), expected, "{line}");
                if let (Some(a), Some(b)) = (first, second) {
                    func_line_fast(line, &mut want);
                    assert!(a.slot.is_some() && a.slot == b.slot && b.again, "{line}");
                }
                assert_eq!(got, want, "{line}");
            }
        }
        let long = format!("main.f({})", vec!["0x1"; 100].join(", "));
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let read = recent.read(&long, &mut got).expect("a list read");
        assert_eq!(
            Some((read.name, read.kind)),
            func_line_fast(&long, &mut want)
        );
        assert_eq!((read.slot, got), (None, want));
    }

    // Hand-written argument lists, each the text between a frame's name and the line
    // end: the fast reader agrees with the nom parser token for token, and gives up
    // (None, nothing written) wherever nom fails.
    #[test]
    fn args_fast_agrees_with_nom() {
        let cases = [
            "()",
            "(...)",
            "(0x0)",
            "(0xc000012345, {0x5d2f1a, 0x3}, 0x0?, ...)",
            "({}, _, 0xAbC?)",
            "({0x1, {0x2, 0x3}}, {})",
            "(0xffffffffffffffff)",
            "(0x1ffffffffffffffff)",
            "(0x1,0x2)",
            "(0x1, )",
            "({0x1)",
            "(0x1})",
            "(0x)",
            "(abc)",
            "(..)",
            "(0x1 )",
        ];
        for c in cases {
            let mut fast = vec![9];
            let k = args_fast(c.as_bytes(), &mut fast);
            let slow = all_consuming(args)(c).ok().map(|(_, a)| a);
            match (&slow, k) {
                (Some(a), Some(k)) => {
                    let mut want = vec![9];
                    assert_eq!(a.encode(&mut want), k, "{c}");
                    assert_eq!(fast, want, "{c}");
                }
                (None, None) => assert_eq!(fast, vec![9], "{c}"),
                // the fast reader may give up where nom succeeds, never the reverse
                (Some(_), None) => assert_eq!(fast, vec![9], "{c}"),
                (None, Some(_)) => panic!("{c}: fast read what nom rejects"),
            }
            // Read as the start of a longer text, a list takes its own bytes only
            // and is encoded alike.
            let mut prefix = vec![9];
            let long = format!("{c}\n\t/x/main.go:1 +0x1\n");
            match args_prefix(long.as_bytes(), &mut prefix) {
                Some(ArgsPrefix { kind: pk, used }) => {
                    assert_eq!((Some(pk), used), (k, c.len()), "{c}");
                    assert_eq!(prefix, fast, "{c}");
                }
                None => assert_eq!((k, prefix), (None, vec![9]), "{c}"),
            }
        }
        // As a function line's list: the same name, and the same values wherever the
        // fast reader is sure.
        for c in cases {
            for line in [
                format!("main.(*T).f{c}"),
                format!("main.f{c} \r"),
                format!(" f{c}"),
            ] {
                let mut fast = vec![9];
                let got = func_line_fast(&line, &mut fast);
                match (func_line(&line), got) {
                    (Some((n, a)), Some((fn_, k))) => {
                        let mut want = vec![9];
                        assert_eq!((n, a.encode(&mut want)), (fn_, k), "{line}");
                        assert_eq!(fast, want, "{line}");
                    }
                    (_, None) => assert_eq!(fast, vec![9], "{line}"),
                    (None, Some(_)) => panic!("{line}: fast read what nom rejects"),
                }
            }
        }
        // A list that ends before its text does: args_fast refuses it, and
        // args_prefix tells where it ended.
        assert_eq!(args_fast(b"(0x1)(0x2)", &mut Vec::new()), None);
        assert_eq!(
            args_prefix(b"(0x1)(0x2)", &mut Vec::new()),
            Some(ArgsPrefix {
                kind: ArgsKind::List,
                used: 5
            })
        );
        assert_eq!(args_fast(b"(0x1)", &mut Vec::new()), Some(ArgsKind::List));
        assert_eq!(args_fast(b"(0x1, )", &mut Vec::new()), None);
    }

    #[test]
    fn func_line_with_args() {
        let (f, a) = func_line("main.(*lim).Acquire(0x358584bfa090, {0x4e0000, 0x1})").unwrap();
        assert_eq!(f.full(), "main.(*lim).Acquire");
        assert_eq!(f.receiver(), Some("*lim"));
        assert_eq!(f.name(), "Acquire");
        assert_eq!(f.package(), "main");
        assert_eq!(view(&a).first_certain_word(), Some(0x358584bfa090));
        assert_eq!(view(&a).render(), "0x358584bfa090, {0x4e0000, 0x1}");
    }

    #[test]
    fn func_line_uncertain_and_inlined() {
        let (f, a) = func_line("internal/sync.runtime_SemacquireMutex(0x0?, 0x0?, 0x0?)").unwrap();
        assert_eq!(f.package(), "internal/sync");
        assert_eq!(view(&a).first_certain_word(), None);
        assert_eq!(view(&a).words().collect::<Vec<_>>(), vec![(0, true); 3]);
        let (f, a) = func_line("sync.(*Mutex).Lock(...)").unwrap();
        assert_eq!(f.full(), "sync.(*Mutex).Lock");
        assert_eq!(a, Args::Inlined);
        let (f, a) = func_line("main.main()").unwrap();
        assert_eq!((f.full(), a), ("main.main", Args::List(vec![])));
    }

    #[test]
    fn func_line_generic_and_more() {
        // hand-written: generics print as [...]; `...` ends a long list
        let (f, a) =
            func_line("main.Map[...]({0xc0000a6000, 0x3, 0x3}, 0x4b0f48, _, ...)").unwrap();
        assert_eq!(f.full(), "main.Map[...]");
        assert_eq!(view(&a).words().count(), 4);
        assert!(matches!(&a, Args::List(v) if v.last() == Some(&Arg::More)));
    }

    #[test]
    fn func_line_rejects() {
        assert!(func_line("\t/tmp/sample/main.go:20 +0x65").is_none());
        assert!(func_line("goroutine 1 [running]:").is_none());
        assert!(func_line("exit status 2").is_none());
    }

    #[test]
    fn location_forms() {
        let l = location("\t/opt/gos/go1.27.3/go/src/runtime/sema.go:617 +0x1b3").unwrap();
        assert_eq!(
            (l.file, l.line, l.offset),
            ("/opt/gos/go1.27.3/go/src/runtime/sema.go", 617, Some(0x1b3))
        );
        let l = location("\t/opt/gos/go1.27.3/go/src/sync/mutex.go:46").unwrap();
        assert_eq!((l.line, l.offset), (46, None));
        // hand-written: Windows path, fp/sp/pc suffix
        let l = location("\tC:/Program Files/Go/src/runtime/proc.go:398 +0x2b fp=0xc420053f50 sp=0xc420053f20 pc=0x40439b").unwrap();
        assert_eq!(l.file, "C:/Program Files/Go/src/runtime/proc.go");
        assert_eq!((l.line, l.offset, l.pc), (398, Some(0x2b), Some(0x40439b)));
        assert!(location("main.main()").is_none());
        assert!(location("\tnot a location").is_none());
    }

    #[test]
    fn created_by_forms() {
        let (rest, (f, p)) = created_by("created by main.main in goroutine 1").unwrap();
        assert_eq!((rest, f.full(), p), ("", "main.main", Some(1)));
        let (rest, (f, p)) = created_by("created by main.main").unwrap();
        assert_eq!((rest, f.full(), p), ("", "main.main", None));
    }

    #[test]
    fn elided_forms() {
        assert_eq!(elided("...additional frames elided..."), Ok(("", 0)));
        assert_eq!(elided("...12 frames elided..."), Ok(("", 12)));
    }

    #[test]
    fn originating_and_unavailable() {
        assert_eq!(
            originating("[originating from goroutine 24]:"),
            Ok(("", 24))
        );
        assert_eq!(
            stack_unavailable("\tgoroutine running on other thread; stack unavailable"),
            Ok(("", ()))
        );
    }

    #[test]
    fn preamble_lines() {
        assert_eq!(preamble("SIGQUIT: quit"), Some(PreambleLine::Signal));
        assert_eq!(preamble("panic: boom"), Some(PreambleLine::Panic));
        assert_eq!(
            preamble("fatal error: all goroutines are asleep - deadlock!"),
            Some(PreambleLine::AllAsleep)
        );
        assert_eq!(preamble("PC=0x46b621 m=0 sigcode=0"), None);
        // fixtures/formats/triggers/go1.27
        assert_eq!(
            preamble("fatal error: concurrent map writes"),
            Some(PreambleLine::ConcurrentMap)
        );
        assert_eq!(
            preamble("fatal error: stack overflow"),
            Some(PreambleLine::Fatal)
        );
        assert_eq!(preamble("runtime stack:"), Some(PreambleLine::RuntimeStack));
        assert_eq!(
            preamble("panic: test timed out after 2s"),
            Some(PreambleLine::TestTimeout)
        );
        assert_eq!(preamble("SIGABRT: abort"), Some(PreambleLine::Abort));
        // fixtures/formats/logs/ansi.txt
        assert_eq!(
            preamble("\x1b[1;31mfatal error: concurrent map writes\x1b[0m"),
            Some(PreambleLine::ConcurrentMap)
        );
    }
}
