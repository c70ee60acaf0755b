//! The thin binary: arguments, reading, calling the library, one exit-code map.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use godeadlock::analyze::{analyze, FindingKind, Options};
use godeadlock::error::Error;
use godeadlock::filter::{parse_duration, Filter};
use godeadlock::group::GroupBy;
use godeadlock::input::{no_dump_hint, Loaded};
use godeadlock::parse::Arena;
use godeadlock::report;

/// A dump is read into many small allocations (frames, words, evidence):
/// allocating and freeing them was about 13% of a 1M-goroutine run under the
/// system allocator. With mimalloc (and the two settings below) peak RSS fell on
/// every benchmark shape and the unique-stack 1M run took 8.3 s instead of 9.5 s;
/// the mixed and mutexes runs were within this machine's noise either way.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same place in its `mi_option_t` in
/// v2 and v3, which keep retired options as placeholders so that numbers hold).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before giving it back to the system.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Give freed memory back to the system soon, not a second later: the reading
/// threads free each piece's buffers while the next are filled, and by default
/// mimalloc kept them, which put a 1M-goroutine run at 500 to 580 MB of peak RSS
/// (the system allocator: 405 MB). At once (0 ms) every block freed and taken
/// again was given back and faulted in anew: a fifth to a third of the run's time
/// in the kernel. Measured with huge pages off, 1M-goroutine dumps in tmpfs, best
/// of 3: mixed 10 ms 1.44 s 393 MB, 100 ms 1.39 s 410 MB, 1 s 1.41 s 487 MB (too
/// near issue 5's 512 MB); mutexes 3.01 s, 3.12 s, 2.54 s. 100 ms keeps the peak
/// well under the target at about the speed of the default.
fn purge_freed_memory_soon() {
    // SAFETY: sets one of mimalloc's process-wide options, which it allows at
    // any time and from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

/// No transparent huge pages for this process. mimalloc asks for them
/// (`MADV_HUGEPAGE`) on its arenas, and once freed memory is purged each fault
/// on a purged range zeroes a fresh 2 MiB page: a dump with every goroutine
/// on its own stack spent a quarter of its run in the kernel's `clear_page`.
/// Set for the process (not only through mimalloc's `allow_thp` option, which is
/// read when mimalloc starts, before `main`), it holds for the arenas reserved
/// already too.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes plain integers and
    // sets one flag of this process; it touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

const EXAMPLES: &str = "\
Examples (on the dumps bundled under fixtures/dumps):
  godeadlock analyze fixtures/dumps/keyed-limiter/go1.27/debug2.txt
  godeadlock analyze --format json fixtures/dumps/lock-order/go1.27/debug2.txt | jq .verdict
  godeadlock analyze --fail-on stall fixtures/dumps/*/go1.27/debug2.txt
  godeadlock analyze --format dot fixtures/dumps/lock-order/go1.27/debug2.txt | dot -Tsvg > waits.svg
  godeadlock show fixtures/dumps/keyed-limiter/go1.27/debug2.txt 24
  godeadlock groups --stacks fixtures/dumps/keyed-limiter/go1.27/debug2.txt
  godeadlock parse fixtures/dumps/chan-leak/go1.27/debug2.txt
On a running service:
  curl -s 'http://localhost:6060/debug/pprof/goroutine?debug=2' | godeadlock analyze -

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

const ANALYZE_EXAMPLES: &str = "\
Examples:
  godeadlock analyze fixtures/dumps/keyed-limiter/go1.27/debug2.txt
  godeadlock analyze fixtures/dumps/lock-order/go1.27/*.txt
  godeadlock analyze --fail-on stall fixtures/dumps/net-read-stall/go1.27/debug2.txt
  godeadlock analyze --format markdown fixtures/dumps/chan-leak/go1.27/debug2.txt
  godeadlock analyze --state 'chan' --min-wait 1m fixtures/dumps/chan-leak/go1.27/debug2.txt
  godeadlock analyze --source-root fixtures/programs fixtures/dumps/lock-order/go1.23/debug2.txt
  curl -s 'http://localhost:6060/debug/pprof/goroutine?debug=2' | godeadlock analyze -

Exit codes: 0 nothing at or above --fail-on; 1 a finding at or above it; 2 usage
error or unreadable input.";

const PARSE_EXAMPLES: &str = "\
Examples:
  godeadlock parse fixtures/dumps/chan-leak/go1.27/debug2.txt
  godeadlock parse fixtures/dumps/lock-order/go1.27/debug1.txt | jq '.dumps[0].goroutines | length'
  gzip -c fixtures/dumps/lock-order/go1.27/sigquit.txt | godeadlock parse -";

const SHOW_EXAMPLES: &str = "\
Examples:
  godeadlock show fixtures/dumps/keyed-limiter/go1.27/debug2.txt 24
  godeadlock show fixtures/dumps/lock-order/go1.27/debug2.txt 24 25";

const GROUPS_EXAMPLES: &str = "\
Examples:
  godeadlock groups fixtures/dumps/keyed-limiter/go1.27/debug2.txt
  godeadlock groups --stacks fixtures/dumps/keyed-limiter/go1.27/debug2.txt
  godeadlock groups --group-by function --runtime fixtures/dumps/http-healthy/go1.27/debug2.txt";

const DIFF_EXAMPLES: &str = "\
Examples:
  godeadlock diff fixtures/recorded/keyed-limiter/go1.27/goroutine-{1,2}.txt
  godeadlock diff --format markdown fixtures/recorded/leak-growing/go1.27/goroutine-{1,3}.txt";

const WATCH_EXAMPLES: &str = "\
Examples:
  godeadlock watch 'http://localhost:6060'
  godeadlock watch --interval 10s --until stall 'http://localhost:6060'
  godeadlock watch --count 12 --metrics-addr 127.0.0.1:9464 'http://localhost:6060'";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  mkdir -p ~/.local/share/bash-completion/completions
  godeadlock completions bash > ~/.local/share/bash-completion/completions/godeadlock
  mkdir -p ~/.zfunc
  godeadlock completions zsh > ~/.zfunc/_godeadlock
For zsh, put fpath+=~/.zfunc before compinit in ~/.zshrc.
  godeadlock completions fish > ~/.config/fish/completions/godeadlock.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  godeadlock man | man -l -
  godeadlock man analyze | man -l -
  mkdir -p ~/.local/share/man/man1
  godeadlock man > ~/.local/share/man/man1/godeadlock.1";

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
    /// Metrics for Prometheus (node_exporter's textfile collector).
    Openmetrics,
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
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Print the parsed dump as JSON.
    #[command(after_help = PARSE_EXAMPLES)]
    Parse {
        /// Dump file, or `-` for standard input.
        file: Option<PathBuf>,
    },
    /// Print goroutines as the dump had them, with what each waits on.
    #[command(after_help = SHOW_EXAMPLES)]
    Show {
        /// Dump file, or `-` for standard input.
        file: PathBuf,
        /// Goroutine ids (record indexes for debug=1 profiles).
        #[arg(required = true, num_args = 1..)]
        ids: Vec<u64>,
    },
    /// List the groups of identical stacks alone.
    #[command(after_help = GROUPS_EXAMPLES)]
    Groups(GroupsArgs),
    /// What changed between two snapshots: new and vanished stacks, counts up and
    /// down, goroutines still at the same place.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff {
        /// The earlier snapshot (its last, if it holds several).
        before: PathBuf,
        /// The later snapshot (its last, if it holds several).
        after: PathBuf,
        /// How to write the changes: text for people, JSON for tools, Markdown for a ticket.
        #[arg(long, short = 'f', value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Poll a live endpoint: what is stuck, for how long, what grows; stop when
    /// `--until` is met, after `--count` snapshots, or on Ctrl-C (which prints the
    /// final analysis).
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(WatchArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), made from these definitions.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// A subcommand's own page (`godeadlock-analyze(1)`) instead of the main one.
        subcommand: Option<String>,
    },
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Dump files, or a pprof URL (`http://host:6060`, any /debug/pprof/... URL); `-` or
    /// nothing (with piped input) reads standard input.
    files: Vec<PathBuf>,
    /// How to write the report: text for a terminal, JSON (one document) or JSON
    /// lines (one snapshot a line) for tools, Graphviz DOT, Markdown for CI summaries.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Exit 1 when a finding of this severity or worse is found.
    #[arg(long, value_enum, default_value_t = FailOn::Deadlock)]
    fail_on: FailOn,
    /// Which goroutines share a row: the same frames and lines (`stack`), or the
    /// same functions whatever the lines and arguments (`function`).
    #[arg(long, value_enum, default_value_t = GroupByArg::Stack)]
    group_by: GroupByArg,
    /// How many groups the table shows, most suspicious first.
    #[arg(long, value_name = "N", default_value_t = 15)]
    groups: usize,
    /// Where to look for the source files the dump names, to quote the lines
    /// where the holder and the waiters stopped (for `-trimpath` builds and
    /// paths of another machine); files are read where the dump says too.
    #[arg(long, value_name = "DIR")]
    source_root: Option<PathBuf>,
    /// Show every finding: also the informational ones (below the confidence
    /// that counts for the verdict and --fail-on) and those past the first six.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    series: SeriesArgs,
}

#[derive(clap::Args)]
struct GroupsArgs {
    /// Dump file; `-` or nothing (with piped input) reads standard input.
    file: Option<PathBuf>,
    /// Which goroutines share a group: the same frames and lines (`stack`), or the
    /// same functions whatever the lines and arguments (`function`).
    #[arg(long, value_enum, default_value_t = GroupByArg::Stack)]
    group_by: GroupByArg,
    /// How many groups to list, most suspicious first.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    groups: usize,
    /// Print each group's whole stack instead of the table.
    #[arg(long)]
    stacks: bool,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(clap::Args)]
struct WatchArgs {
    /// `http://host:6060` or any /debug/pprof/... URL.
    url: String,
    /// Time between polls.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    interval: String,
    /// Stop after this many snapshots.
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Stop, exit 1, when a finding of this severity or worse is found.
    #[arg(long, value_enum)]
    until: Option<Until>,
    /// Serve the current findings as OpenMetrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<String>,
    /// When stopped by --count or Ctrl-C: exit 1 on a finding of this severity or worse.
    #[arg(long, value_enum, default_value_t = FailOn::Deadlock)]
    fail_on: FailOn,
    /// How many groups the final table shows.
    #[arg(long, default_value_t = 15)]
    groups: usize,
    #[command(flatten)]
    fetch: FetchArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Until {
    Deadlock,
    Stall,
    Leak,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiffFormat {
    Text,
    Json,
    Markdown,
}

/// Several snapshots of one process, as evidence of what stays stuck and what grows.
#[derive(clap::Args, Clone)]
struct SeriesArgs {
    /// The files are snapshots of one process, oldest first: analyse them together
    /// (a file holding several snapshots of one process is read so without it).
    #[arg(long)]
    same_process: bool,
    /// The time between snapshots (`5s`, `1m`): how long stuck goroutines were seen
    /// stuck, and how fast groups grow.
    #[arg(long, value_name = "DURATION")]
    interval: Option<String>,
    /// With a URL: take this many snapshots, `--interval` apart (default 5s), and
    /// analyse them together.
    #[arg(long, default_value_t = 1, value_name = "N")]
    snapshots: usize,
    #[command(flatten)]
    fetch: FetchArgs,
}

/// Reaching a live endpoint (`http://host:6060`, any `/debug/pprof/...` URL).
#[derive(clap::Args, Clone)]
struct FetchArgs {
    /// A header sent with every request, for auth (`-H 'Authorization: Bearer ...'`).
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// How long one request may take (`30s`).
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    timeout: String,
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
    /// Also list the runtime's own goroutines (GC workers, the sweeper, the finalizer),
    /// hidden by default; the analysis always reads them.
    #[arg(long)]
    runtime: bool,
    /// Hide the runtime's own goroutines: the default for people; JSON keeps them
    /// unless this is given.
    #[arg(long, hide = true, conflicts_with = "runtime")]
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
            hide_runtime: !self.runtime,
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
    let input = match path.to_str().filter(|s| godeadlock::fetch::is_url(s)) {
        Some(url) => series::load_url(url, arena)?,
        None => godeadlock::input::load(path, arena)?,
    };
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

/// The one rule for the exit code: a finding that counts (its confidence at or
/// above the verdict's threshold) of `fail_on`'s severity or worse.
fn fails(fail_on: FailOn, a: &godeadlock::analyze::Analysis) -> bool {
    fail_kind(fail_on).is_some_and(|worst| {
        a.findings
            .iter()
            .any(|f| f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD && f.kind <= worst)
    })
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<u8, Error> {
    let color = use_color(cli.color);
    match cli.command {
        Command::Completions { shell } => {
            // Made in memory first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "godeadlock", &mut script);
            out.write_all(&script).map_err(Error::Output)?;
            Ok(exit::OK)
        }
        Command::Man { subcommand } => {
            let page = man_page(subcommand.as_deref())?;
            out.write_all(&page).map_err(Error::Output)?;
            Ok(exit::OK)
        }
        Command::Diff {
            before,
            after,
            format,
        } => series::diff(&before, &after, format, out),
        Command::Watch(args) => watch_command(args, color, out),
        Command::Parse { file } => {
            let path = resolve_inputs(file.into_iter().collect())?.remove(0);
            let arena = Arena::new();
            let input = load(&path, &arena)?;
            let parsed = &input.parsed;
            report::json::write_parsed(out, &input.name, &parsed.dumps).map_err(Error::Output)?;
            Ok(exit::OK)
        }
        Command::Show { file, ids } => {
            let arena = Arena::new();
            let input = load(&file, &arena)?;
            let text = plain_text(&file);
            let missing =
                report::goroutine::write_ids(out, &input.parsed.dumps, &ids, text.as_deref())
                    .map_err(Error::Output)?;
            match missing.first() {
                Some(&id) => Err(Error::NoSuchGoroutine {
                    path: input.name,
                    id,
                }),
                None => Ok(exit::OK),
            }
        }
        Command::Groups(args) => groups_command(args, color, out),
        Command::Analyze(args) => analyze_command(args, color, out),
    }
}

fn analyze_command(args: AnalyzeArgs, color: bool, out: &mut dyn Write) -> Result<u8, Error> {
    let AnalyzeArgs {
        files,
        format,
        fail_on,
        group_by: gb,
        groups,
        source_root,
        all,
        filter,
        series,
    } = args;
    let asked = filter.hide_runtime;
    let mut filter = filter.build()?;
    // Tools read every group, unless asked: the runtime's are left out of
    // listings for people.
    let json = matches!(format, OutputFormat::Json | OutputFormat::Jsonl);
    filter.hide_runtime &= asked || !json;
    let req = analyze::Request {
        files: resolve_inputs(files)?,
        view: View {
            format,
            fail_on,
            group_by: group_by(gb),
            groups,
            color,
            all,
        },
        filter,
        sources: godeadlock::source::Sources::new(source_root),
        series,
    };
    analyze::run(&req, out)
}

fn groups_command(args: GroupsArgs, color: bool, out: &mut dyn Write) -> Result<u8, Error> {
    let GroupsArgs {
        file,
        group_by: gb,
        groups,
        stacks,
        filter,
    } = args;
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
        let written = if stacks {
            report::text::write_stacks(out, d, &a, groups)
        } else {
            report::text::write_groups(out, d, &a, groups).and_then(|()| {
                report::text::write_notes(
                    out,
                    report::text::Style {
                        color,
                        sources: None,
                    },
                    &a,
                )
            })
        };
        written.map_err(Error::Output)?;
    }
    Ok(exit::OK)
}

fn watch_command(args: WatchArgs, color: bool, out: &mut dyn Write) -> Result<u8, Error> {
    let WatchArgs {
        url,
        interval,
        count,
        until,
        metrics_addr,
        fail_on,
        groups,
        fetch,
    } = args;
    series::set_fetch(&fetch)?;
    let w = watch::Watch {
        url: &url,
        interval: &interval,
        count,
        until: until.map(|u| match u {
            Until::Deadlock => FailOn::Deadlock,
            Until::Stall => FailOn::Stall,
            Until::Leak => FailOn::Leak,
        }),
        metrics_addr: metrics_addr.as_deref(),
        live: series::STDOUT_IS_OUTPUT.load(std::sync::atomic::Ordering::Relaxed)
            && std::io::stdout().is_terminal(),
    };
    let view = View {
        format: OutputFormat::Text,
        fail_on,
        group_by: GroupBy::Stack,
        groups,
        color,
        all: false,
    };
    watch::run(&w, &Filter::default(), &view, out)
}

/// How an analysis is shown and judged.
struct View {
    format: OutputFormat,
    fail_on: FailOn,
    group_by: GroupBy,
    groups: usize,
    color: bool,
    /// Every finding in the text report (`--all`).
    all: bool,
}

#[path = "cli/analyze.rs"]
mod analyze;
#[path = "cli/series.rs"]
mod series;
#[path = "cli/watch.rs"]
mod watch;

/// The text of a plain (not gzipped) input file, to print its own lines; none
/// for standard input, which was read once and is gone.
fn plain_text(path: &std::path::Path) -> Option<String> {
    if path == std::path::Path::new("-") {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The roff manual page of the program, or of one subcommand: clap_mangen's
/// sections, then the help's closing text as sections of their own (examples kept
/// line by line).
fn man_page(sub: Option<&str>) -> Result<Vec<u8>, Error> {
    let mut cmd = Cli::command();
    cmd.build();
    let cmd = match sub {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| Error::Usage(format!("man: no subcommand `{name}`")))?
            .version(env!("CARGO_PKG_VERSION")),
    };
    let after = cmd.get_after_help().map(|h| h.to_string());
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page).map_err(Error::Output)?;
    man.render_name_section(&mut page).map_err(Error::Output)?;
    man.render_synopsis_section(&mut page)
        .map_err(Error::Output)?;
    man.render_description_section(&mut page)
        .map_err(Error::Output)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page)
            .map_err(Error::Output)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut page)
            .map_err(Error::Output)?;
    }
    if let Some(after) = after {
        man_sections(&after)
            .to_writer(&mut page)
            .map_err(Error::Output)?;
    }
    Ok(page)
}

/// `Examples:`, `Exit codes:`, `Inputs ...`: each paragraph a section; one whose
/// first line is a heading keeps its lines as they are.
fn man_sections(after: &str) -> roff::Roff {
    let mut r = roff::Roff::new();
    for para in after.split("\n\n") {
        let (first, rest) = para.split_once('\n').unwrap_or((para, ""));
        let title = match first {
            f if f.starts_with("Examples") => "EXAMPLES",
            f if f.starts_with("Exit codes") => "EXIT STATUS",
            f if f.starts_with("Inputs") => "INPUTS",
            _ => "NOTES",
        };
        r.control("SH", [title]);
        if first.ends_with(':') {
            r.control("nf", []);
            for line in rest.lines() {
                r.text([roff::roman(line)]);
            }
            r.control("fi", []);
        } else {
            r.text([roff::roman(para.replace('\n', " "))]);
        }
    }
    r
}

/// Inputs named on the command line, to refuse an `--output` that would overwrite one.
fn inputs_of(cli: &Cli) -> Vec<PathBuf> {
    match &cli.command {
        Command::Analyze(a) => a.files.clone(),
        Command::Parse { file } => file.iter().cloned().collect(),
        Command::Groups(g) => g.file.iter().cloned().collect(),
        Command::Show { file, .. } => vec![file.clone()],
        Command::Diff { before, after, .. } => vec![before.clone(), after.clone()],
        Command::Completions { .. } | Command::Man { .. } | Command::Watch(_) => Vec::new(),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The columns to lay the report out in: COLUMNS, else the terminal's width when
/// standard output is one, else 100.
fn columns(to_stdout: bool) -> usize {
    let env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok());
    let tty = || terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0));
    env.filter(|&c: &usize| c > 0)
        .or_else(|| if to_stdout { tty() } else { None })
        .unwrap_or(report::text::DEFAULT_WIDTH)
}

fn main() -> ExitCode {
    purge_freed_memory_soon();
    no_transparent_huge_pages();
    let mut cli = Cli::parse();
    report::text::set_width(columns(cli.output.is_none()));
    series::STDOUT_IS_OUTPUT.store(cli.output.is_none(), std::sync::atomic::Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc's purge delay: its default is 1 s (v3; 10 ms
    /// in v2), and setting it reads back (a wrong number would set some other
    /// option).
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets mimalloc's process-wide options.
        unsafe {
            let before = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
            assert!([1000, 10, 0].contains(&before), "purge delay read {before}");
            purge_freed_memory_soon();
            assert_eq!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
                PURGE_DELAY_MS
            );
            let os_tag = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY + 3);
            assert_eq!(os_tag, 100, "os_tag, 3 places on, is where it should be");
        }
    }

    /// Huge pages are off for the process once asked (Linux).
    #[cfg(target_os = "linux")]
    #[test]
    fn transparent_huge_pages_are_off() {
        no_transparent_huge_pages();
        // SAFETY: `prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)` only reads a flag.
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(off, 1);
    }

    /// Every argument and option of every subcommand says what it is for, and every
    /// subcommand shows examples of its own.
    #[test]
    fn every_argument_has_help_and_every_subcommand_examples() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Examples:")
                    && after.contains(&format!("godeadlock {}", sub.get_name())),
                "{} --help shows no example of its own",
                sub.get_name()
            );
        }
    }

    fn walk(cmd: &clap::Command, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let builtin = matches!(a.get_id().as_str(), "help" | "version");
            if !builtin && a.get_help().is_none() {
                missing.push(format!("{} {}", cmd.get_name(), a.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, missing);
        }
    }
}
