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
use godeadlock::report::{self, timeline};

use super::{exit, fails, load, FetchArgs, OutputFormat, SeriesArgs, View};

/// The output goes to standard output (no `--output`).
pub static STDOUT_IS_OUTPUT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// How to reach a URL given as input, set once from the command line.
static FETCH: std::sync::OnceLock<godeadlock::fetch::Options> = std::sync::OnceLock::new();

/// Set how URLs are fetched (the first call wins).
pub fn set_fetch(args: &FetchArgs) -> Result<(), Error> {
    let headers = args
        .headers
        .iter()
        .map(|h| godeadlock::fetch::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = parse_interval("--timeout", &args.timeout)?;
    let _ = FETCH.set(godeadlock::fetch::Options { timeout, headers });
    Ok(())
}

pub fn client() -> godeadlock::fetch::Client {
    godeadlock::fetch::Client::new(FETCH.get_or_init(Default::default))
}

/// Fetch a URL's goroutines (and its leak profile, and its counts when the text
/// was capped) and parse them as one input.
pub fn load_url<'a>(url: &str, arena: &'a Arena) -> Result<godeadlock::input::Loaded<'a>, Error> {
    let ep = godeadlock::fetch::Endpoint::parse(url)?;
    let c = godeadlock::fetch::capture(&client(), &ep, true)?;
    parse_capture(url, &c, arena)
}

/// A capture parsed: the leak profile's marks joined, the counts of a capped text
/// added as a snapshot of their own.
pub fn parse_capture<'a>(
    url: &str,
    c: &godeadlock::fetch::Capture,
    arena: &'a Arena,
) -> Result<godeadlock::input::Loaded<'a>, Error> {
    let mut input = godeadlock::input::load_bytes(url, &c.goroutines, arena)?;
    if let Some(leak) = &c.leak {
        let l = godeadlock::input::load_bytes(url, leak, arena)?;
        if let Some(ld) = l.parsed.dumps.iter().find(|d| d.is_snapshot()) {
            for d in input.parsed.dumps.iter_mut() {
                godeadlock::fetch::join_leaked(d, ld);
            }
        }
    }
    if c.capped() {
        let shown: u64 = input.parsed.dumps.iter().map(|d| d.total()).sum();
        let mut note = format!(
            "godeadlock: {url}: the debug=2 text stops at the runtime's 64 MB cap ({shown} goroutines read)"
        );
        if let Some(counts) = &c.counts {
            let p = godeadlock::input::load_bytes(url, counts, arena)?;
            let total: u64 = p.parsed.dumps.iter().map(|d| d.total()).sum();
            note.push_str(&format!(
                "; ?debug=1 counts {total}, analysed as a snapshot of its own"
            ));
            input.parsed.dumps.extend(p.parsed.dumps);
        }
        eprintln!("{note}");
    }
    Ok(input)
}

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
    set_fetch(&args.fetch)?;
    let urls: Vec<&str> = files
        .iter()
        .filter_map(|f| f.to_str())
        .filter(|s| godeadlock::fetch::is_url(s))
        .collect();
    if args.snapshots > 1 {
        return match (urls.as_slice(), files.len()) {
            ([url], 1) => snapshots_of(url, args, filter, view, out).map(Some),
            _ => Err(Error::Usage(
                "--snapshots takes one URL (for files, give them with --same-process)".into(),
            )),
        };
    }
    if args.snapshots == 0 {
        return Err(Error::Usage("--snapshots: at least 1".into()));
    }
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
    let code = if fails(view.fail_on, &a) {
        exit::FOUND
    } else {
        exit::OK
    };
    // Said of the whole dump, before a filter narrows what is shown.
    let fail = report::words::fail_on_line(super::fail_kind(view.fail_on), &a);
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
                report::text::Style {
                    color: view.color,
                    sources: None,
                },
                name,
                d,
                &a,
                view.groups,
                view.all,
            )
            .map_err(o)?;
            writeln!(out, "{}", report::text::wrap(&fail, 0, "  ")).map_err(o)?;
            writeln!(out).map_err(o)?;
            timeline::write_text(out, d, &a, &t).map_err(o)?;
        }
        OutputFormat::Markdown => {
            report::markdown::write(out, name, d, &a, view.groups).map_err(o)?;
            timeline::write_markdown(out, d, &a, &t).map_err(o)?;
        }
        OutputFormat::Dot => report::dot::write(out, d, &a).map_err(o)?,
        OutputFormat::Openmetrics => write_metrics(out, d, &a, Some(&t))?,
        OutputFormat::Json | OutputFormat::Jsonl => {
            let mut buf = Vec::new();
            report::json::write_document(&mut buf, name, &[(d, &a)], false).map_err(o)?;
            let mut doc: serde_json::Value =
                serde_json::from_slice(&buf).map_err(|e| o(std::io::Error::other(e)))?;
            // The one snapshot reported is the series' last.
            doc["snapshots"][0]["snapshot"] = dumps.len().into();
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
        super::DiffFormat::Markdown => godeadlock::diff::write_markdown(out, &a.name, &b.name, &d),
        super::DiffFormat::Json => serde_json::to_writer_pretty(
            &mut *out,
            &godeadlock::diff::to_json(&a.name, &b.name, &d),
        )
        .map_err(std::io::Error::other)
        .and_then(|_| writeln!(out)),
    }
    .map_err(o)?;
    Ok(exit::OK)
}

/// `analyze --snapshots N --interval D URL`: N captures of the endpoint, D apart,
/// analysed together; the leak profile is fetched with the last only (the
/// runtime's leak check marks every later dump).
fn snapshots_of(
    url: &str,
    args: &SeriesArgs,
    filter: &Filter,
    view: &View,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let interval = match args.interval.as_deref() {
        Some(s) => parse_interval("--interval", s)?,
        None => Duration::from_secs(5),
    };
    let ep = godeadlock::fetch::Endpoint::parse(url)?;
    let client = client();
    let arenas: Vec<Arena> = (0..args.snapshots).map(|_| Arena::new()).collect();
    let t0 = std::time::Instant::now();
    let mut at = Vec::new();
    let mut inputs = Vec::new();
    for (i, arena) in arenas.iter().enumerate() {
        // Each capture at its time from the first, however long the fetches took.
        let due = t0 + interval * i as u32;
        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        at.push(t0.elapsed().as_secs_f64());
        let c = godeadlock::fetch::capture(&client, &ep, i + 1 == args.snapshots)?;
        inputs.push(parse_capture(url, &c, arena)?);
    }
    let dumps: Vec<&Dump> = inputs
        .iter()
        .filter_map(|i| i.parsed.dumps.iter().find(|d| d.is_snapshot()))
        .collect();
    if dumps.len() < 2 {
        return Err(Error::NoDump {
            path: url.to_string(),
            hint: " (the endpoint served no goroutine dump)".to_string(),
        });
    }
    report_series(url, &dumps, Some(at), filter, view, out)
}

/// The OpenMetrics text of one analysed snapshot.
pub fn write_metrics(
    out: &mut dyn Write,
    d: &Dump,
    a: &godeadlock::analyze::Analysis,
    t: Option<&persist::Timeline>,
) -> Result<(), Error> {
    let extra = godeadlock::metrics::Extra {
        timeline: t,
        ..Default::default()
    };
    out.write_all(godeadlock::metrics::encode(d, a, &extra).as_bytes())
        .map_err(Error::Output)
}
