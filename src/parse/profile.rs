//! The aggregated goroutine profile, `/debug/pprof/goroutine?debug=1`
//! (`runtime/pprof.printCountProfile`): one record per distinct stack, with a count,
//! no goroutine ids and no states.

use nom::{
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::{digit1, hex_digit1, space1},
    combinator::{map, map_res, opt, rest},
    multi::many0,
    sequence::{preceded, terminated},
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

/// Which profile a `debug=1` header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// `/debug/pprof/goroutine`: every goroutine.
    Goroutine,
    /// `/debug/pprof/goroutineleak` (Go 1.26+): only the goroutines the runtime's
    /// leak-finding GC proved leaked.
    GoroutineLeak,
}

// goroutine profile: total 11
// goroutineleak profile: total 35
pub fn total(i: &str) -> IResult<&str, u64> {
    header(i).map(|(i, (_, n))| (i, n))
}

// goroutineleak profile: total 35
/// The header line, with the profile it names.
pub fn header(i: &str) -> IResult<&str, (ProfileKind, u64)> {
    let (i, kind) = alt((
        map(tag("goroutine profile: total "), |_| ProfileKind::Goroutine),
        map(tag("goroutineleak profile: total "), |_| {
            ProfileKind::GoroutineLeak
        }),
    ))(i)?;
    let (i, n) = dec_u64(i)?;
    Ok((i, (kind, n)))
}

// 2 @ 0x47daea 0x47ee33 0x47ee13 0x487613 0x4df525 0x483c61
/// A record header: the count and the PCs.
pub fn record(i: &str) -> IResult<&str, (u64, Vec<u64>)> {
    let (i, count) = terminated(dec_u64, tag(" @"))(i)?;
    let (i, pcs) = many0(preceded(space1, hex_u64))(i)?;
    Ok((i, (count, pcs)))
}

// # labels: {"test_label":"test_value"}
pub fn labels(i: &str) -> IResult<&str, &str> {
    preceded(tag("# labels: "), rest)(i)
}

/// A symbolized frame of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileFrame<'a> {
    pub pc: u64,
    /// `None` when the PC could not be symbolized (`#\t0x47daea`).
    pub function: Option<FuncName<'a>>,
    pub offset: Option<u64>,
    pub file: &'a str,
    pub line: u32,
}

// #	0x47ee12	sync.runtime_notifyListWait+0x192	/opt/gos/go1.27.3/go/src/runtime/sema.go:617
/// Columns are separated by one or more tabs (pprof aligns them with tabwriter).
pub fn frame(i: &str) -> IResult<&str, ProfileFrame<'_>> {
    let (i, _) = tag("#")(i)?;
    let (i, _) = take_while1(|c| c == '\t' || c == ' ')(i)?;
    let (i, pc) = hex_u64(i)?;
    let (i, sym) = opt(preceded(
        take_while1(|c| c == '\t' || c == ' '),
        take_while1(|c| c != '\t'),
    ))(i)?;
    let (i, file) = opt(preceded(take_while1(|c| c == '\t'), rest))(i)?;
    let mut f = ProfileFrame {
        pc,
        function: None,
        offset: None,
        file: "",
        line: 0,
    };
    if let Some(sym) = sym {
        match sym.rfind("+0x") {
            Some(p) => {
                f.function = Some(FuncName(&sym[..p]));
                f.offset = u64::from_str_radix(&sym[p + 3..], 16).ok();
            }
            None => f.function = Some(FuncName(sym)),
        }
    }
    if let Some(file) = file {
        let file = file.trim_end();
        match file.rfind(':') {
            Some(c) if file[c + 1..].parse::<u32>().is_ok() => {
                f.file = &file[..c];
                f.line = file[c + 1..].parse().unwrap_or(0);
            }
            _ => f.file = file,
        }
    }
    Ok((i, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines copied from real Go 1.27 `?debug=1` output.

    #[test]
    fn total_line() {
        assert_eq!(total("goroutine profile: total 11"), Ok(("", 11)));
        assert_eq!(
            header("goroutine profile: total 11"),
            Ok(("", (ProfileKind::Goroutine, 11)))
        );
        assert!(total("goroutine 11 [running]:").is_err());
    }

    // Go 1.27's /debug/pprof/goroutineleak?debug=1 (fixtures/formats/chan-leak/go1.27/leak1.txt)
    #[test]
    fn leak_total_line() {
        assert_eq!(
            header("goroutineleak profile: total 35"),
            Ok(("", (ProfileKind::GoroutineLeak, 35)))
        );
        assert_eq!(total("goroutineleak profile: total 35 x"), Ok((" x", 35)));
    }

    #[test]
    fn record_line() {
        let (rest, (n, pcs)) = record("2 @ 0x47daea 0x47ee33 0x47ee13 0x483c61").unwrap();
        assert_eq!(rest, "");
        assert_eq!(n, 2);
        assert_eq!(pcs, vec![0x47daea, 0x47ee33, 0x47ee13, 0x483c61]);
        assert!(record("#\t0x47ee12").is_err());
    }

    #[test]
    fn frame_line() {
        let (rest, f) = frame(
            "#\t0x487612\tsync.(*Cond).Wait+0x72\t\t\t/opt/gos/go1.27.3/go/src/sync/cond.go:71",
        )
        .unwrap();
        assert_eq!(rest, "");
        assert_eq!(f.pc, 0x487612);
        assert_eq!(f.function.unwrap().full(), "sync.(*Cond).Wait");
        assert_eq!(f.offset, Some(0x72));
        assert_eq!(
            (f.file, f.line),
            ("/opt/gos/go1.27.3/go/src/sync/cond.go", 71)
        );
    }

    #[test]
    fn frame_unsymbolized() {
        // hand-written: an unsymbolized PC prints alone
        let (rest, f) = frame("#\t0x47daea").unwrap();
        assert_eq!((rest, f.pc, f.function), ("", 0x47daea, None));
    }

    #[test]
    fn labels_line() {
        assert_eq!(labels("# labels: {\"k\":\"v\"}"), Ok(("", "{\"k\":\"v\"}")));
    }
}
