//! The thin binary: arguments, reading, calling the library, one exit-code map.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use godeadlock::analyze::{analyze, display_id, FindingKind, Options};
use godeadlock::error::Error;
use godeadlock::filter::{parse_duration, Filter};
use godeadlock::group::GroupBy;
use godeadlock::input::{no_dump_hint, Loaded};
use godeadlock::model::Dump;
use godeadlock::parse::Arena;
use godeadlock::report;

const EXAMPLES: &str = "\
Examples:
  godeadlock analyze goroutines.txt
  curl -s 'http://localhost:6060/debug/pprof/goroutine?debug=2' | godeadlock analyze -
  godeadlock analyze --format json dump.txt | jq .verdict
  godeadlock analyze --fail-on stall dumps/*.txt        # in CI: exit 1 on a stall or worse
  godeadlock analyze --format dot dump.txt | dot -Tsvg > waits.svg
  godeadlock show dump.txt 19458                        # one goroutine, whole
  godeadlock parse dump.txt                             # the parsed dump as JSON

Inputs (detected, no flag needed): /debug/pprof/goroutine?debug=2, ?debug=1 and the
binary profile (gzipped protobuf), /debug/pprof/goroutineleak, SIGQUIT and SIGABRT
dumps (GOTRACEBACK=all), panics, `go test -timeout`, `fatal error: ...`, Delve's
`goroutines` listings and sessions; gzip is undone; dumps inside CRI (Kubernetes),
Docker json-file, journalctl, `kubectl logs --timestamps` and klog logs are read
through their line prefix; log lines around a dump are skipped; every snapshot in a
file is analysed (`--format json`: one document with all of them).

Exit codes:
  0  nothing at or above --fail-on was found
  1  a finding at or above --fail-on (default: deadlock)
  2  usage error, or an input that could not be read or held no goroutine dump";

#[derive(Parser)]
#[command(name = "godeadlock", version, about = "Find which goroutine holds the lock everyone else waits for, in a Go goroutine dump", after_help = EXAMPLES)]
struct Cli {
    /// When to colour the output (NO_COLOR is honoured under `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    /// Write the output to this file instead of standard output (never one of the inputs).
    #[arg(long, short = 'o', global = true, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
    Jsonl,
    Dot,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, PartialOrd, Ord)]
enum FailOn {
    Deadlock,
    Stall,
    Leak,
    Contention,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum GroupByArg {
    Stack,
    Function,
}

#[derive(Subcommand)]
enum Command {
    /// Say whether the program is deadlocked, stalled, leaking or fine, and who holds the lock.
    #[command(after_help = EXAMPLES)]
    Analyze {
        /// Dump files; `-` or nothing (with piped input) reads standard input.
        files: Vec<PathBuf>,
        #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Exit 1 when a finding of this severity or worse is found.
        #[arg(long, value_enum, default_value_t = FailOn::Deadlock)]
        fail_on: FailOn,
        /// How strictly stacks must match to be grouped.
        #[arg(long, value_enum, default_value_t = GroupByArg::Stack)]
        group_by: GroupByArg,
        /// How many groups the table shows.
        #[arg(long, default_value_t = 15)]
        groups: usize,
        /// Show every finding: also the informational ones (below the confidence
        /// that counts for the verdict and --fail-on) and those past the first six.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print the parsed dump as JSON.
    Parse {
        /// Dump file, or `-` for standard input.
        file: Option<PathBuf>,
    },
    /// Print one goroutine whole.
    Show {
        file: PathBuf,
        /// Goroutine id (record index for debug=1 profiles).
        id: u64,
    },
    /// List the groups of identical stacks alone.
    Groups {
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = GroupByArg::Stack)]
        group_by: GroupByArg,
        #[arg(long, default_value_t = 1000)]
        groups: usize,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

/// Narrow what is shown; the verdict and exit code still cover the whole dump.
#[derive(clap::Args)]
struct FilterArgs {
    /// Only goroutines whose state matches this regex (`chan`, `Mutex`, `IO wait`).
    #[arg(long, value_name = "REGEX")]
    state: Option<String>,
    /// Only goroutines with a frame whose function or file matches this regex.
    #[arg(long = "match", value_name = "REGEX")]
    matching: Option<String>,
    /// Only goroutines blocked at least this long (`10m`, `2h`, `90s`).
    #[arg(long, value_name = "DURATION")]
    min_wait: Option<String>,
    /// Hide the runtime's own goroutines (GC workers, finalizer, ...).
    #[arg(long)]
    hide_runtime: bool,
}

impl FilterArgs {
    fn build(&self) -> Result<Filter, Error> {
        let re = |flag: &str, s: &Option<String>| -> Result<Option<regex::Regex>, Error> {
            s.as_deref()
                .map(|r| {
                    regex::Regex::new(r)
                        .map_err(|e| Error::Usage(format!("{flag}: {e}").replace('\n', " ")))
                })
                .transpose()
        };
        Ok(Filter {
            state: re("--state", &self.state)?,
            matching: re("--match", &self.matching)?,
            min_wait_minutes: self.min_wait.as_deref().map(parse_duration).transpose()?,
            hide_runtime: self.hide_runtime,
        })
    }
}

/// The exit codes, in one place.
mod exit {
    pub const OK: u8 = 0;
    pub const FOUND: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

fn resolve_inputs(files: Vec<PathBuf>) -> Result<Vec<PathBuf>, Error> {
    if files.is_empty() {
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "no input: give a dump file, or pipe one in (`curl ... | godeadlock analyze -`)"
                    .into(),
            ));
        }
        return Ok(vec![PathBuf::from("-")]);
    }
    Ok(files)
}

/// Read and parse one input; an input with no goroutine in it is an error.
fn load<'a>(path: &std::path::Path, arena: &'a Arena) -> Result<Loaded<'a>, Error> {
    let input = godeadlock::input::load(path, arena)?;
    if !input.parsed.dumps.iter().any(|d| d.is_snapshot()) {
        return Err(Error::NoDump {
            path: input.name,
            hint: no_dump_hint(input.parsed.first_skipped),
        });
    }
    Ok(input)
}

fn group_by(g: GroupByArg) -> GroupBy {
    match g {
        GroupByArg::Stack => GroupBy::Stack,
        GroupByArg::Function => GroupBy::Function,
    }
}

/// The least severe kind that fails; None: nothing does.
fn fail_kind(fail_on: FailOn) -> Option<FindingKind> {
    match fail_on {
        FailOn::Never => None,
        FailOn::Deadlock => Some(FindingKind::Deadlock),
        FailOn::Stall => Some(FindingKind::Stall),
        FailOn::Leak => Some(FindingKind::Leak),
        FailOn::Contention => Some(FindingKind::Contention),
    }
}

fn fails(fail_on: FailOn, mut kinds: impl Iterator<Item = FindingKind>) -> bool {
    fail_kind(fail_on).is_some_and(|worst| kinds.any(|k| k <= worst))
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, Error> {
    let color = use_color(cli.color);
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "godeadlock", out);
            Ok(exit::OK)
        }
        Command::Parse { file } => {
            let path = resolve_inputs(file.into_iter().collect())?.remove(0);
            let arena = Arena::new();
            let input = load(&path, &arena)?;
            let parsed = &input.parsed;
            report::json::write_parsed(out, &input.name, &parsed.dumps).map_err(Error::Output)?;
            Ok(exit::OK)
        }
        Command::Show { file, id } => {
            let arena = Arena::new();
            let input = load(&file, &arena)?;
            let parsed = &input.parsed;
            let mut shown = false;
            for d in &parsed.dumps {
                for (i, g) in d.goroutines.iter().enumerate() {
                    if display_id(d, i) == id {
                        write_goroutine(out, d, i).map_err(Error::Output)?;
                        let _ = g;
                        shown = true;
                    }
                }
            }
            if !shown {
                return Err(Error::NoSuchGoroutine {
                    path: input.name,
                    id,
                });
            }
            Ok(exit::OK)
        }
        Command::Groups {
            file,
            group_by: gb,
            groups,
            filter,
        } => {
            let filter = filter.build()?;
            let path = resolve_inputs(file.into_iter().collect())?.remove(0);
            let arena = Arena::new();
            let input = load(&path, &arena)?;
            for d in &input.parsed.dumps {
                let mut a = analyze(
                    d,
                    Options {
                        group_by: group_by(gb),
                    },
                );
                filter.apply(d, &mut a);
                report::text::write_groups(out, d, &a, groups).map_err(Error::Output)?;
            }
            Ok(exit::OK)
        }
        Command::Analyze {
            files,
            format,
            fail_on,
            group_by: gb,
            groups,
            all,
            filter,
        } => {
            let filter = filter.build()?;
            let files = resolve_inputs(files)?;
            let many = files.len() > 1;
            let mut code = exit::OK;
            // Each unreadable input is said when met; the run then exits 2.
            let mut unreadable = false;
            for path in &files {
                let timings = std::env::var_os("GODEADLOCK_TIMINGS").is_some();
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
                let t_parse = t0.elapsed();
                if timings {
                    eprintln!(
                        "godeadlock:   parse: {:.3} s{}",
                        t_parse.as_secs_f64(),
                        godeadlock::memory()
                    );
                }
                let parsed = &input.parsed;
                let dumps: Vec<&Dump> = parsed.dumps.iter().filter(|d| d.is_snapshot()).collect();
                let opts = Options {
                    group_by: group_by(gb),
                };
                let mut analyses: Vec<_> = dumps.iter().map(|d| analyze(d, opts)).collect();
                if timings {
                    eprintln!(
                        "godeadlock: {}: parse {:.3} s, analyze {:.3} s{}",
                        input.name,
                        t_parse.as_secs_f64(),
                        (t0.elapsed() - t_parse).as_secs_f64(),
                        godeadlock::memory()
                    );
                }
                if analyses.iter().any(|a| {
                    fails(
                        fail_on,
                        a.findings
                            .iter()
                            .filter(|f| f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD)
                            .map(|f| f.kind),
                    )
                }) {
                    code = exit::FOUND;
                }
                // Said of the whole dump, before a filter narrows what is shown.
                let fail_lines: Vec<String> = analyses
                    .iter()
                    .map(|a| report::words::fail_on_line(fail_kind(fail_on), a))
                    .collect();
                for (d, a) in dumps.iter().zip(analyses.iter_mut()) {
                    filter.apply(d, a);
                }
                let last = dumps.len() - 1;
                match format {
                    OutputFormat::Text => {
                        for (i, (d, a)) in dumps.iter().zip(&analyses).enumerate() {
                            if many || dumps.len() > 1 {
                                writeln!(
                                    out,
                                    "══ {} · snapshot {} of {} (line {}) ══",
                                    input.name,
                                    i + 1,
                                    dumps.len(),
                                    d.first_line
                                )
                                .map_err(Error::Output)?;
                            }
                            report::text::write(
                                out,
                                report::text::Style { color },
                                &input.name,
                                d,
                                a,
                                groups,
                                all,
                            )
                            .map_err(Error::Output)?;
                            writeln!(out, "{}", report::text::wrap(&fail_lines[i], 0, "  "))
                                .map_err(Error::Output)?;
                            if i != last || many {
                                writeln!(out).map_err(Error::Output)?;
                            }
                        }
                    }
                    OutputFormat::Json => {
                        // One document per input, every snapshot in it.
                        let snapshots: Vec<_> = dumps.iter().copied().zip(&analyses).collect();
                        report::json::write_document(out, &input.name, &snapshots, !many)
                            .map_err(Error::Output)?;
                    }
                    OutputFormat::Jsonl => {
                        let snapshots: Vec<_> = dumps.iter().copied().zip(&analyses).collect();
                        report::json::write_lines(out, &input.name, &snapshots)
                            .map_err(Error::Output)?;
                    }
                    OutputFormat::Dot => {
                        // One graph per snapshot: `dot` renders each.
                        for (d, a) in dumps.iter().zip(&analyses) {
                            report::dot::write(out, d, a).map_err(Error::Output)?;
                        }
                    }
                    OutputFormat::Markdown => {
                        for (d, a) in dumps.iter().zip(&analyses) {
                            report::markdown::write(out, &input.name, d, a, groups)
                                .map_err(Error::Output)?;
                        }
                    }
                }
                if Some(path) == files.last() {
                    // The process ends next: freeing a million goroutines one by one
                    // would only cost time.
                    std::mem::forget(analyses);
                    std::mem::forget(input);
                    std::mem::forget(arena);
                }
            }
            if unreadable {
                return Ok(exit::BAD_INPUT);
            }
            Ok(code)
        }
    }
}

fn write_goroutine(out: &mut dyn Write, d: &Dump, i: usize) -> std::io::Result<()> {
    let g = &d.goroutines[i];
    let b = godeadlock::analyze::classify::classify(g, d.format);
    match g.id {
        Some(id) => write!(out, "goroutine {id} [{}", g.state.raw)?,
        None => write!(out, "record {i}: {} goroutines [", g.count)?,
    }
    if let Some(m) = g.wait_minutes {
        write!(out, ", {m} minutes")?;
    }
    writeln!(
        out,
        "]   ({}, by {}; line {})",
        b.kind.as_str(),
        b.kind_rule.describe(g),
        g.line
    )?;
    for (f, args) in g.frames_args() {
        writeln!(out, "{}({})", f.function, args.render())?;
        writeln!(out, "\t{}:{}", f.file, f.line)?;
    }
    if let Some(c) = &g.created_by {
        match c.parent {
            Some(p) => writeln!(out, "created by {} in goroutine {p}", c.function)?,
            None => writeln!(out, "created by {}", c.function)?,
        }
        writeln!(out, "\t{}:{}", c.file, c.line)?;
    }
    Ok(())
}

/// Inputs named on the command line, to refuse an `--output` that would overwrite one.
fn inputs_of(cli: &Cli) -> Vec<PathBuf> {
    match &cli.command {
        Command::Analyze { files, .. } => files.clone(),
        Command::Parse { file } | Command::Groups { file, .. } => file.iter().cloned().collect(),
        Command::Show { file, .. } => vec![file.clone()],
        Command::Completions { .. } => Vec::new(),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let (mut out, out_name): (Box<dyn Write>, String) = match cli.output.take() {
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            "standard output".to_string(),
        ),
        Some(path) => {
            if inputs_of(&cli).iter().any(|i| same_file(i, &path)) {
                eprintln!(
                    "godeadlock: refusing to write the output over the input {}",
                    path.display()
                );
                return ExitCode::from(exit::BAD_INPUT);
            }
            match std::fs::File::create(&path) {
                Ok(f) => (
                    Box::new(std::io::BufWriter::new(f)),
                    path.display().to_string(),
                ),
                Err(e) => {
                    eprintln!("godeadlock: {}: {e}", path.display());
                    return ExitCode::from(exit::BAD_INPUT);
                }
            }
        }
    };
    let result = run(cli, &mut out);
    let flushed = out.flush();
    let broken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    match result {
        // A reader that went away (`| head -1`) is no error.
        Err(Error::Output(e)) if broken(&e) => ExitCode::from(exit::OK),
        Err(Error::Output(e)) => {
            eprintln!("godeadlock: writing {out_name}: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
        Err(e) => {
            eprintln!("godeadlock: {e}");
            ExitCode::from(exit::BAD_INPUT)
        }
        Ok(code) => match flushed {
            Err(e) if !broken(&e) => {
                eprintln!("godeadlock: writing {out_name}: {e}");
                ExitCode::from(exit::BAD_INPUT)
            }
            _ => ExitCode::from(code),
        },
    }
}
