//! `godeadlock analyze`: read each input, analyse every snapshot in it, write the
//! report, and say which exit code the findings call for.

use std::io::Write;
use std::path::PathBuf;

use godeadlock::analyze::{analyze, Analysis, Options};
use godeadlock::error::Error;
use godeadlock::filter::Filter;
use godeadlock::input::Loaded;
use godeadlock::model::Dump;
use godeadlock::parse::Arena;
use godeadlock::report;
use godeadlock::source::Sources;

use super::{exit, fail_kind, fails, load, series, OutputFormat, SeriesArgs, View};

/// Everything `analyze` was asked, once the arguments are read.
pub struct Request {
    pub files: Vec<PathBuf>,
    pub view: View,
    pub filter: Filter,
    pub sources: Sources,
    pub series: SeriesArgs,
}

/// What every input is read with.
struct Run<'r> {
    req: &'r Request,
    /// More than one input: each gets its own heading, and an unreadable one is
    /// said and skipped.
    many: bool,
    /// JSON of several inputs is one document: each input's is gathered.
    gather: bool,
    timings: bool,
}

/// Analyse every input; the exit code is the worst any input calls for, and an
/// unreadable input among several makes it 2 once the others are reported.
pub fn run(req: &Request, out: &mut dyn Write) -> Result<u8, Error> {
    let files = &req.files;
    if req.view.format == OutputFormat::Openmetrics && files.len() > 1 && !req.series.same_process {
        return Err(Error::Usage(
            "--format openmetrics: give one input (or --same-process)".into(),
        ));
    }
    if let Some(code) = series::run(files, &req.series, &req.filter, &req.view, out)? {
        return Ok(code);
    }
    let many = files.len() > 1;
    let run = Run {
        req,
        many,
        gather: many && req.view.format == OutputFormat::Json,
        timings: std::env::var_os("GODEADLOCK_TIMINGS").is_some(),
    };
    let mut code = exit::OK;
    let mut unreadable = false;
    let mut inputs: Vec<serde_json::Value> = Vec::new();
    for path in files {
        let t0 = std::time::Instant::now();
        let arena = Arena::new();
        let input = match load(path, &arena) {
            Ok(i) => i,
            Err(e) if many => {
                eprintln!("godeadlock: {e}");
                unreadable = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut doc = Vec::new();
        let to: &mut dyn Write = if run.gather { &mut doc } else { &mut *out };
        let last = Some(path) == files.last();
        code = code.max(run.input(&input, t0, last, to)?);
        if last {
            // The process ends next: freeing a million goroutines one by one would
            // only cost time.
            std::mem::forget(input);
            std::mem::forget(arena);
        }
        if run.gather {
            inputs.push(report::json::parse_document(&doc).map_err(Error::Output)?);
        }
    }
    if run.gather {
        report::json::write_inputs(out, inputs).map_err(Error::Output)?;
    }
    Ok(if unreadable { exit::BAD_INPUT } else { code })
}

impl Run<'_> {
    /// Analyse and report one input read since `t0`: its exit code.
    fn input(
        &self,
        input: &Loaded,
        t0: std::time::Instant,
        last: bool,
        out: &mut dyn Write,
    ) -> Result<u8, Error> {
        let t_parse = t0.elapsed();
        if self.timings {
            eprintln!(
                "godeadlock:   parse: {:.3} s{}",
                t_parse.as_secs_f64(),
                godeadlock::memory()
            );
        }
        let dumps: Vec<&Dump> = input
            .parsed
            .dumps
            .iter()
            .filter(|d| d.is_snapshot())
            .collect();
        if godeadlock::analyze::persist::one_process(&dumps) {
            return self.one_process(&input.name, &dumps, out);
        }
        let view = &self.req.view;
        let opts = Options {
            group_by: view.group_by,
        };
        let mut analyses: Vec<Analysis> = dumps.iter().map(|d| analyze(d, opts)).collect();
        if self.timings {
            eprintln!(
                "godeadlock: {}: parse {:.3} s, analyze {:.3} s{}",
                input.name,
                t_parse.as_secs_f64(),
                (t0.elapsed() - t_parse).as_secs_f64(),
                godeadlock::memory()
            );
        }
        let code = if analyses.iter().any(|a| fails(view.fail_on, a)) {
            exit::FOUND
        } else {
            exit::OK
        };
        // Said of the whole dump, before a filter narrows what is shown.
        let fail_lines: Vec<String> = analyses
            .iter()
            .map(|a| report::words::fail_on_line(fail_kind(view.fail_on), a))
            .collect();
        for (d, a) in dumps.iter().zip(analyses.iter_mut()) {
            self.req.filter.apply(d, a);
        }
        let snapshots = Snapshots {
            name: &input.name,
            dumps: &dumps,
            analyses: &analyses,
            fail_lines: &fail_lines,
        };
        self.write(&snapshots, out)?;
        if last {
            std::mem::forget(analyses);
        }
        Ok(code)
    }

    /// Snapshots of one process in one input: analysed together as a series.
    fn one_process(&self, name: &str, dumps: &[&Dump], out: &mut dyn Write) -> Result<u8, Error> {
        let interval = self
            .req
            .series
            .interval
            .as_deref()
            .map(|s| series::parse_interval("--interval", s))
            .transpose()?;
        let at = series::times(dumps.len(), interval);
        series::report_series(name, dumps, at, &self.req.filter, &self.req.view, out)
    }

    /// One input's report, in the format asked for.
    fn write(&self, s: &Snapshots, out: &mut dyn Write) -> Result<(), Error> {
        let view = &self.req.view;
        let o = Error::Output;
        let pairs = || s.dumps.iter().copied().zip(s.analyses);
        match view.format {
            OutputFormat::Text => self.write_text(s, out),
            OutputFormat::Json => {
                let snapshots: Vec<_> = pairs().collect();
                report::json::write_document(out, s.name, &snapshots, true).map_err(o)
            }
            OutputFormat::Jsonl => {
                let snapshots: Vec<_> = pairs().collect();
                report::json::write_lines(out, s.name, &snapshots).map_err(o)
            }
            // One graph per snapshot: `dot` renders each.
            OutputFormat::Dot => pairs()
                .try_for_each(|(d, a)| report::dot::write(out, d, a))
                .map_err(o),
            OutputFormat::Markdown => pairs()
                .try_for_each(|(d, a)| report::markdown::write(out, s.name, d, a, view.groups))
                .map_err(o),
            OutputFormat::Openmetrics => {
                let last = s.dumps.len() - 1;
                series::write_metrics(out, s.dumps[last], &s.analyses[last], None)
            }
        }
    }

    /// The text report of each snapshot, with a heading where there are several,
    /// and the `--fail-on` line.
    fn write_text(&self, s: &Snapshots, out: &mut dyn Write) -> Result<(), Error> {
        let view = &self.req.view;
        let o = Error::Output;
        let last = s.dumps.len() - 1;
        for (i, (d, a)) in s.dumps.iter().zip(s.analyses).enumerate() {
            if self.many || s.dumps.len() > 1 {
                writeln!(
                    out,
                    "══ {} · snapshot {} of {} (line {}) ══",
                    s.name,
                    i + 1,
                    s.dumps.len(),
                    d.first_line
                )
                .map_err(o)?;
            }
            let style = report::text::Style {
                color: view.color,
                sources: Some(&self.req.sources),
            };
            report::text::write(out, style, s.name, d, a, view.groups, view.all).map_err(o)?;
            writeln!(out, "{}", report::text::wrap(&s.fail_lines[i], 0, "  ")).map_err(o)?;
            if i != last || self.many {
                writeln!(out).map_err(o)?;
            }
        }
        Ok(())
    }
}

/// The snapshots of one input with their analyses, as they are reported.
struct Snapshots<'s, 'd> {
    name: &'s str,
    dumps: &'s [&'s Dump<'d>],
    analyses: &'s [Analysis],
    /// The `--fail-on` line of each, said of the whole dump.
    fail_lines: &'s [String],
}
