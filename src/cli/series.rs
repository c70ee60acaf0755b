//! `analyze` over several snapshots of one process: the files given with
//! `--same-process`, or one file holding several snapshots of one process. The
//! last snapshot is analysed with the evidence of the whole series
//! (`analyze::persist`) and reported once, with what stayed stuck and what grew.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use godeadlock::analyze::persist::{self, Series};
use godeadlock::analyze::Options;
use godeadlock::error::Error;
use godeadlock::filter::Filter;
use godeadlock::model::Dump;
use godeadlock::parse::Arena;
use godeadlock::{report, timeline};

use super::{exit, fails, load, OutputFormat, SeriesArgs, View};

/// `5s`, `500ms`, `1m30s`, `2h`: a Go duration.
pub fn parse_interval(flag: &str, s: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::Usage(format!(
            "{flag}: `{s}` is not a duration; write a Go duration like 5s, 500ms or 1m"
        ))
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        let after = &rest[n_end..];
        let (unit, len) = [("ms", 1e-3), ("h", 3600.0), ("m", 60.0), ("s", 1.0)]
            .iter()
            .find(|(u, _)| after.starts_with(u))
            .map(|(u, f)| (*f, u.len()))
            .ok_or_else(bad)?;
        total += n * unit;
        rest = &after[len..];
    }
    if !(total.is_finite() && total > 0.0 && total < 1e7) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// The times of `n` snapshots taken `interval` apart.
pub fn times(n: usize, interval: Option<Duration>) -> Option<Vec<f64>> {
    interval.map(|d| (0..n).map(|i| i as f64 * d.as_secs_f64()).collect())
}

/// `--same-process` over several files: `None` when not asked for.
pub fn run(
    files: &[PathBuf],
    args: &SeriesArgs,
    filter: &Filter,
    view: &View,
    out: &mut dyn Write,
) -> Result<Option<u8>, Error> {
    if !args.same_process {
        return Ok(None);
    }
    let interval = args
        .interval
        .as_deref()
        .map(|s| parse_interval("--interval", s))
        .transpose()?;
    let arenas: Vec<Arena> = files.iter().map(|_| Arena::new()).collect();
    let mut inputs = Vec::new();
    for (path, arena) in files.iter().zip(&arenas) {
        inputs.push(load(path, arena)?);
    }
    let dumps: Vec<&Dump> = inputs
        .iter()
        .flat_map(|i| i.parsed.dumps.iter().filter(|d| d.is_snapshot()))
        .collect();
    let name = inputs
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    if dumps.len() < 2 {
        return Err(Error::Usage(format!(
            "--same-process: {name} holds one snapshot; give two or more"
        )));
    }
    let at = times(dumps.len(), interval);
    report_series(&name, &dumps, at, filter, view, out).map(Some)
}

/// Analyse and report a series of snapshots of one process; the exit code.
pub fn report_series(
    name: &str,
    dumps: &[&Dump],
    at: Option<Vec<f64>>,
    filter: &Filter,
    view: &View,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let series = Series {
        dumps: dumps.to_vec(),
        at,
    };
    let opts = Options {
        group_by: view.group_by,
    };
    let Some((mut a, t)) = persist::analyze_series(&series, opts) else {
        return Err(Error::Usage(format!("{name}: one snapshot is no series")));
    };
    let d = *dumps.last().expect("a series has snapshots");
    let code = if fails(
        view.fail_on,
        a.findings
            .iter()
            .filter(|f| f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD)
            .map(|f| f.kind),
    ) {
        exit::FOUND
    } else {
        exit::OK
    };
    filter.apply(d, &mut a);
    let o = Error::Output;
    match view.format {
        OutputFormat::Text => {
            writeln!(
                out,
                "══ {name} · {} snapshots of one process, the last analysed with the evidence of all ══",
                dumps.len()
            )
            .map_err(o)?;
            report::text::write(
                out,
                report::text::Style { color: view.color },
                name,
                d,
                &a,
                view.groups,
            )
            .map_err(o)?;
            writeln!(out).map_err(o)?;
            timeline::write_text(out, d, &a, &t).map_err(o)?;
        }
        OutputFormat::Markdown => {
            report::markdown::write(out, name, d, &a, view.groups).map_err(o)?;
            timeline::write_markdown(out, d, &a, &t).map_err(o)?;
        }
        OutputFormat::Dot => report::dot::write(out, d, &a).map_err(o)?,
        OutputFormat::Json | OutputFormat::Jsonl => {
            let mut buf = Vec::new();
            report::json::write_document(&mut buf, name, &[(d, &a)], false).map_err(o)?;
            let mut doc: serde_json::Value =
                serde_json::from_slice(&buf).map_err(|e| o(std::io::Error::other(e)))?;
            doc["timeline"] = timeline::to_json(d, &a, &t);
            if view.format == OutputFormat::Json {
                serde_json::to_writer_pretty(&mut *out, &doc)
            } else {
                serde_json::to_writer(&mut *out, &doc)
            }
            .map_err(|e| o(std::io::Error::other(e)))?;
            writeln!(out).map_err(o)?;
        }
    }
    Ok(code)
}

/// `diff A B`: the last snapshot of each.
pub fn diff(
    before: &std::path::Path,
    after: &std::path::Path,
    format: super::DiffFormat,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (arena_a, arena_b) = (Arena::new(), Arena::new());
    let a = load(before, &arena_a)?;
    let b = load(after, &arena_b)?;
    let last = |l: &godeadlock::input::Loaded<'_>| -> usize {
        l.parsed
            .dumps
            .iter()
            .rposition(|d| d.is_snapshot())
            .expect("load refuses an input with no snapshot")
    };
    let (da, db) = (&a.parsed.dumps[last(&a)], &b.parsed.dumps[last(&b)]);
    let d = godeadlock::diff::diff(da, db);
    let o = Error::Output;
    match format {
        super::DiffFormat::Text => godeadlock::diff::write_text(out, &a.name, &b.name, &d),
        super::DiffFormat::Markdown => {
            godeadlock::diff::write_markdown(out, &a.name, &b.name, &d)
        }
        super::DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &godeadlock::diff::to_json(&a.name, &b.name, &d))
                .map_err(std::io::Error::other)
                .and_then(|_| writeln!(out))
        }
    }
    .map_err(o)?;
    Ok(exit::OK)
}
