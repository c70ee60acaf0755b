//! `godeadlock watch URL`: poll an endpoint, show what is stuck, for how long,
//! and what grows (redrawn in place on a terminal, one line per poll otherwise),
//! serve the findings as OpenMetrics (`--metrics-addr`), and stop with the usual
//! exit codes when `--until` is met, after `--count` snapshots, or on Ctrl-C (which
//! prints the final analysis).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use godeadlock::analyze::persist::{self, Series, Timeline};
use godeadlock::analyze::{display_id, Analysis, Options};
use godeadlock::error::Error;
use godeadlock::fetch::{capture, Capture, Client, Endpoint};
use godeadlock::filter::Filter;
use godeadlock::model::{Dump, Goroutine};
use godeadlock::parse::Arena;
use godeadlock::report::words::describe_wait;

use super::series::{parse_capture, parse_interval, report_series};
use super::{exit, fails, FailOn, View};

/// Snapshots analysed together at each poll: the latest and the two before.
const WINDOW: usize = 3;
/// Lines of stuck goroutines in the live view.
const SHOWN: usize = 8;

/// What `watch` was asked.
pub struct Watch<'a> {
    pub url: &'a str,
    pub interval: &'a str,
    pub count: Option<usize>,
    pub until: Option<FailOn>,
    pub metrics_addr: Option<&'a str>,
    /// Standard output is a terminal: redraw in place.
    pub live: bool,
}

/// Where each goroutine (by id) has been since when.
type Since = HashMap<u64, SeenAt>;

/// Where a goroutine was seen, and since when.
#[derive(Debug, Clone, Copy)]
struct SeenAt {
    /// `place_hash` of the goroutine.
    place: u64,
    /// Seconds since the watch began, at the first poll that saw it there.
    since: f64,
}

fn place_hash(g: &Goroutine) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    g.state.raw.hash(&mut h);
    for f in g.frames.iter() {
        (f.function.full(), f.file, f.line).hash(&mut h);
    }
    g.created_by()
        .map(|c| (c.function.full(), c.line))
        .hash(&mut h);
    h.finish()
}

fn update_since(since: &mut Since, d: &Dump, now: f64) {
    let mut next = Since::new();
    for g in &d.goroutines {
        let Some(id) = g.id else { continue };
        let p = place_hash(g);
        let t = match since.get(&id) {
            Some(seen) if seen.place == p => seen.since,
            _ => now,
        };
        next.insert(id, SeenAt { place: p, since: t });
    }
    *since = next;
}

/// Ctrl-C asked the watch to stop.
static STOP: AtomicBool = AtomicBool::new(false);

pub fn run(w: &Watch, filter: &Filter, view: &View, out: &mut dyn Write) -> Result<u8, Error> {
    let interval = parse_interval("--interval", w.interval)?;
    if w.count == Some(0) {
        return Err(Error::Usage("--count: at least 1".into()));
    }
    let ep = Endpoint::parse(w.url)?;
    let client = super::series::client();
    let metrics = match w.metrics_addr {
        Some(addr) => Some(serve_metrics(addr)?),
        None => None,
    };
    // A second Ctrl-C while the final analysis is written ends the process as usual.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let t0 = Instant::now();
    let mut polls = Polls::default();
    let mut since = Since::new();
    let o = Error::Output;
    loop {
        let now = t0.elapsed().as_secs_f64();
        polls.poll(&client, &ep, now)?;
        let arenas: Vec<Arena> = polls.window.iter().map(|_| Arena::new()).collect();
        let mut inputs = Vec::new();
        for ((_, c), arena) in polls.window.iter().zip(&arenas) {
            inputs.push(parse_capture(w.url, c, arena)?);
        }
        let dumps: Vec<&Dump> = inputs
            .iter()
            .filter_map(|i| i.parsed.dumps.iter().find(|d| d.is_snapshot()))
            .collect();
        let Some(&last) = dumps.last() else {
            return Err(Error::NoDump {
                path: w.url.to_string(),
                hint: " (the endpoint served no goroutine dump)".to_string(),
            });
        };
        update_since(&mut since, last, now);
        let at: Vec<f64> = polls.window.iter().map(|(t, _)| *t).collect();
        let (a, t) = analyze_window(&dumps, &at, view);
        if let Some(m) = &metrics {
            publish_metrics(m, &polls, last, &a, t.as_ref());
        }
        let status = Status {
            url: w.url,
            taken: polls.taken,
            now,
            interval,
            since: &since,
            error: polls.last_error.as_deref(),
        };
        if w.live {
            write!(out, "\x1b[H\x1b[2J").map_err(o)?;
            write_live(out, &status, last, &a, t.as_ref()).map_err(o)?;
        } else {
            write_line(out, &status, last, &a, t.as_ref()).map_err(o)?;
        }
        out.flush().map_err(o)?;
        let met = w.until.is_some_and(|u| fails(u, &a));
        let done = w.count.is_some_and(|n| polls.taken as usize >= n);
        if met || done || STOP.load(Ordering::SeqCst) || wait(interval, t0, polls.polls) {
            writeln!(out).map_err(o)?;
            let code = if dumps.len() > 1 {
                report_series(w.url, &dumps, Some(at), filter, view, out)?
            } else {
                report_one(w.url, last, a, filter, view, out)?
            };
            return Ok(if met { exit::FOUND } else { code });
        }
    }
}

/// The polls so far: the last `WINDOW` snapshots taken, with when (seconds since
/// the watch began), and the counts the status line shows.
#[derive(Default)]
struct Polls {
    window: VecDeque<(f64, Capture)>,
    taken: u64,
    errors: u64,
    polls: u64,
    /// Why the last poll failed, when it did.
    last_error: Option<String>,
}

impl Polls {
    /// Poll the endpoint once, at `now`: a snapshot taken joins the window, a
    /// failure is counted (and ends the watch when no snapshot was ever taken).
    fn poll(&mut self, client: &Client, ep: &Endpoint, now: f64) -> Result<(), Error> {
        self.polls += 1;
        match capture(client, ep, false) {
            Ok(c) => {
                self.taken += 1;
                self.last_error = None;
                self.window.push_back((now, c));
                if self.window.len() > WINDOW {
                    self.window.pop_front();
                }
            }
            Err(e) if self.window.is_empty() => return Err(e),
            Err(e) => {
                self.errors += 1;
                self.last_error = Some(e.to_string());
            }
        }
        Ok(())
    }
}

/// Make the metrics of the last snapshot those `--metrics-addr` serves.
fn publish_metrics(
    m: &Mutex<String>,
    polls: &Polls,
    last: &Dump,
    a: &Analysis,
    t: Option<&Timeline>,
) {
    let extra = godeadlock::metrics::Extra {
        timeline: t,
        snapshots: Some(polls.taken),
        errors: Some(polls.errors),
        taken_at: Some(godeadlock::metrics::now_unix()),
    };
    *m.lock().unwrap_or_else(|p| p.into_inner()) = godeadlock::metrics::encode(last, a, &extra);
}

/// The analysis of the window's snapshots (taken at `at`) together, with what the
/// series tells; of the last one alone where they do not make a series.
fn analyze_window(dumps: &[&Dump], at: &[f64], view: &View) -> (Analysis, Option<Timeline>) {
    let opts = Options {
        group_by: view.group_by,
    };
    let series = Series {
        dumps: dumps.to_vec(),
        at: Some(at.to_vec()),
    };
    match persist::analyze_series(&series, opts) {
        Some((a, t)) => (a, Some(t)),
        None => (
            godeadlock::analyze::analyze(dumps[dumps.len() - 1], opts),
            None,
        ),
    }
}

/// The final report on one snapshot (the watch took only one): the text report,
/// filtered, and the exit code `--fail-on` gives.
fn report_one(
    url: &str,
    last: &Dump,
    mut a: Analysis,
    filter: &Filter,
    view: &View,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    filter.apply(last, &mut a);
    godeadlock::report::text::write(
        out,
        godeadlock::report::text::Style {
            color: view.color,
            sources: None,
        },
        url,
        last,
        &a,
        view.groups,
        view.all,
    )
    .map_err(Error::Output)?;
    Ok(if fails(view.fail_on, &a) {
        exit::FOUND
    } else {
        exit::OK
    })
}

/// Sleep until the next poll is due; true when Ctrl-C came meanwhile.
fn wait(interval: Duration, t0: Instant, polls: u64) -> bool {
    let due = t0 + interval * polls as u32;
    while Instant::now() < due {
        if STOP.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(due - Instant::now()));
    }
    STOP.load(Ordering::SeqCst)
}

struct Status<'s> {
    url: &'s str,
    taken: u64,
    now: f64,
    interval: Duration,
    since: &'s Since,
    error: Option<&'s str>,
}

/// A goroutine seen at one place in two polls or more.
struct Stuck {
    /// For how long, in seconds.
    secs: f64,
    /// Its index in the dump.
    goroutine: usize,
}

/// Stuck goroutines, longest first.
fn stuck_for(s: &Status, d: &Dump, a: &Analysis) -> Vec<Stuck> {
    let mut v: Vec<Stuck> = d
        .goroutines
        .iter()
        .enumerate()
        .filter(|(i, _)| !a.blocked[*i].kind.is_background() && !a.blocked[*i].kind.is_active())
        .filter_map(|(i, g)| {
            let secs = s.now - s.since.get(&g.id?)?.since;
            (secs > 0.0).then_some(Stuck { secs, goroutine: i })
        })
        .collect();
    v.sort_by(|x, y| {
        y.secs
            .total_cmp(&x.secs)
            .then(display_id(d, x.goroutine).cmp(&display_id(d, y.goroutine)))
    });
    v
}

fn head(s: &Status, a: &Analysis) -> String {
    format!(
        "{} · snapshot {} · every {} · {} · {}",
        s.url,
        s.taken,
        godeadlock::report::words::seconds(s.interval.as_secs_f64()),
        godeadlock::report::words::seconds(s.now),
        a.verdict.as_str().to_uppercase()
    )
}

fn write_live(
    out: &mut dyn Write,
    s: &Status,
    d: &Dump,
    a: &Analysis,
    t: Option<&Timeline>,
) -> std::io::Result<()> {
    writeln!(out, "godeadlock watch {}", head(s, a))?;
    if let Some(e) = s.error {
        writeln!(out, "last poll failed: {e}")?;
    }
    for f in a
        .findings
        .iter()
        .filter(|f| f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD)
        .take(3)
    {
        let headline = godeadlock::report::words::headline(d, a, f);
        writeln!(out, "{:<10} {headline}", f.kind.as_str().to_uppercase())?;
    }
    let stuck = stuck_for(s, d, a);
    writeln!(
        out,
        "{} goroutines, {} stuck since an earlier poll",
        d.total(),
        stuck.len()
    )?;
    for st in stuck.iter().take(SHOWN) {
        writeln!(
            out,
            "  {:>8}  goroutine {}: {}",
            godeadlock::report::words::seconds(st.secs),
            display_id(d, st.goroutine),
            describe_wait(d, &a.blocked, st.goroutine)
        )?;
    }
    if stuck.len() > SHOWN {
        writeln!(out, "  … and {} more", stuck.len() - SHOWN)?;
    }
    if let Some(t) = t {
        for g in t.growing.iter().take(5) {
            writeln!(
                out,
                "growing: {} at {}: {}{}",
                g.state,
                g.site,
                godeadlock::report::words::counts_line(&g.counts),
                g.per_minute
                    .map(|r| format!(" ({r:+.1} a minute)"))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out, "(Ctrl-C: stop and print the analysis)")
}

fn write_line(
    out: &mut dyn Write,
    s: &Status,
    d: &Dump,
    a: &Analysis,
    t: Option<&Timeline>,
) -> std::io::Result<()> {
    let stuck = stuck_for(s, d, a);
    let longest = stuck
        .first()
        .map(|st| {
            format!(
                " (longest {}: goroutine {})",
                godeadlock::report::words::seconds(st.secs),
                display_id(d, st.goroutine)
            )
        })
        .unwrap_or_default();
    let growing = t.map_or(0, |t| t.growing.len());
    let err = s
        .error
        .map(|e| format!("; last poll failed: {e}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{}: {} goroutines, {} stuck{longest}, {growing} growing{err}",
        head(s, a),
        d.total(),
        stuck.len()
    )
}

/// Serve the latest metrics on `addr` from a thread; the text to update.
fn serve_metrics(addr: &str) -> Result<Arc<Mutex<String>>, Error> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| Error::Io {
        path: format!("--metrics-addr {addr}"),
        source: e,
    })?;
    let text = Arc::new(Mutex::new(String::from("# EOF\n")));
    let shared = text.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let _ = answer(stream, &body);
        }
    });
    Ok(text)
}

/// Answer one request: the metrics at `/metrics`, 404 elsewhere.
fn answer(mut stream: std::net::TcpStream, body: &str) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader};
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, ctype, body) = if path == "/metrics" || path.starts_with("/metrics?") {
        (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body,
        )
    } else {
        (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n",
        )
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
