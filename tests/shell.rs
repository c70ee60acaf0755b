//! End-to-end, on the built binary: how it fits the shell and the terminal
//! (completions, the man page, help examples, widths, the group listings, `show`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn exe() -> PathBuf {
    assert_cmd::cargo::cargo_bin("godeadlock")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(exe())
        .args(args)
        .current_dir(root())
        .env_remove("COLUMNS")
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

const KEYED: &str = "fixtures/dumps/keyed-limiter/go1.27/debug2.txt";
const SIGQUIT: &str = "fixtures/dumps/lock-order-3/go1.27/sigquit.txt";

/// `completions bash | head -1` with the reader gone before anything is written:
/// quiet, exit 0, like every other command (clap_complete panics on a failed write).
#[test]
fn completions_on_a_closed_pipe_are_quiet() {
    for shell in ["bash", "zsh", "fish"] {
        let script = format!(
            "(sleep 0.3; exec '{}' completions {shell}) | true; echo \"status ${{PIPESTATUS[0]}}\"",
            exe().display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{shell}: {err}");
        assert!(err.trim().is_empty(), "{shell}: {err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "status 0");
    }
    assert!(stdout(&["completions", "bash"]).contains("_godeadlock"));
}

/// `godeadlock man` prints a roff page made from the clap definitions, and `man`
/// renders it; so does each subcommand's page.
#[test]
fn the_man_page_renders() {
    let page = stdout(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH godeadlock"),
        "{page}"
    );
    let analyze = stdout(&["man", "analyze"]);
    assert!(analyze.contains("fail\\-on"), "{analyze}");
    assert_eq!(run(&["man", "nope"]).status.code(), Some(2));
    if !have("man") {
        eprintln!("SKIPPED: `man` is not installed: the page was not rendered");
        return;
    }
    let dir = tempdir();
    for (name, text) in [("godeadlock.1", &page), ("godeadlock-analyze.1", &analyze)] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "man -l {name}: {err}");
        assert!(shown.contains("SYNOPSIS"), "{name}: {shown}");
        // The examples are kept line by line, each whole.
        assert!(shown.contains("EXAMPLES"), "{name}: {shown}");
        assert!(
            shown
                .lines()
                .any(|l| l.trim()
                    == "godeadlock analyze fixtures/dumps/keyed-limiter/go1.27/debug2.txt"),
            "{name}: {shown}"
        );
        assert!(shown.contains("godeadlock 0.1.0") || shown.contains(env!("CARGO_PKG_VERSION")));
        assert!(!err.contains("warning"), "{name}: {err}");
    }
    assert!(std::fs::read_to_string(dir.join("godeadlock.1"))
        .unwrap()
        .contains("completions"));
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("godeadlock-shell-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The example lines of a `--help`: `godeadlock ...`, cut at a pipe or a
/// redirection (what follows is another tool's).
fn examples(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("godeadlock "))
        .map(|l| {
            // zsh, as typed, takes `#` for a word: no example carries a comment.
            assert!(!l.contains(" #"), "a comment in an example: {l}");
            let l = l.split(" | ").next().unwrap();
            l.split(" > ").next().unwrap().trim().to_string()
        })
        .collect()
}

/// Every subcommand's `--help` has examples of its own, and each runs as written
/// on the bundled dumps (exit 0 or 1, never a usage error).
#[test]
fn every_help_example_runs() {
    let mut n = 0;
    for sub in [
        "",
        "analyze",
        "parse",
        "show",
        "groups",
        "completions",
        "man",
        "diff",
    ] {
        let help = if sub.is_empty() {
            stdout(&["--help"])
        } else {
            stdout(&[sub, "--help"])
        };
        let ex = examples(&help);
        assert!(
            ex.iter()
                .any(|e| e.starts_with(&format!("godeadlock {sub}"))),
            "{sub} --help: no example of its own:\n{help}"
        );
        for e in ex {
            let out = Command::new("bash")
                .args(["-c", &format!("{e} > /dev/null")])
                .env("PATH", path_with_binary())
                .current_dir(root())
                .output()
                .unwrap();
            assert!(
                out.status.code().is_some_and(|c| c < 2),
                "{sub} --help example `{e}`: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n > 12, "only {n} examples");
}

fn path_with_binary() -> String {
    let dir = exe().parent().unwrap().to_path_buf();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The groups table fits COLUMNS (100 when not a terminal) and never splits an
/// identifier: every function name of the dump's blocking sites is whole on a line.
#[test]
fn the_table_follows_the_width_and_keeps_identifiers_whole() {
    let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap();
    let plain = stdout(&["groups", KEYED]);
    assert!(widest(&plain) <= 100, "{plain}");
    let wide = Command::new(exe())
        .args(["groups", KEYED])
        .current_dir(root())
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let wide = String::from_utf8(wide.stdout).unwrap();
    let narrow = Command::new(exe())
        .args(["groups", KEYED])
        .current_dir(root())
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let narrow = String::from_utf8(narrow.stdout).unwrap();
    assert!(
        narrow.lines().count() > wide.lines().count(),
        "{narrow}\n{wide}"
    );
    // This name is longer than the column at 80: it stays whole.
    for t in [&plain, &wide, &narrow] {
        assert!(
            t.contains("net/http.(*connReader).startBackgroundRead.gowrap2"),
            "{t}"
        );
        assert!(t.contains("main.(*keyedLimiter).Acquire"), "{t}");
    }
}

/// Two groups blocked at the same frame in the same state are told apart by the
/// first caller frame where their stacks part.
#[test]
fn groups_that_read_alike_show_the_caller_that_differs() {
    let t = stdout(&["groups", KEYED]);
    assert!(t.contains("via main.(*objectStore).fillCache"), "{t}");
    assert!(t.contains("via main.(*objectStore).ServeObject"), "{t}");
    // A group alone at its site needs no caller.
    assert_eq!(t.matches("via ").count(), 2, "{t}");
}

/// `groups --stacks`: each group's whole stack, the blocking frame marked.
#[test]
fn groups_stacks_prints_whole_stacks() {
    let t = stdout(&["groups", "--stacks", KEYED]);
    assert!(
        t.starts_with("1 goroutine: cond wait [sync.Cond.Wait] · ids 24"),
        "{t}"
    );
    assert!(
        t.contains("11 goroutines: cond wait [sync.Cond.Wait] · ids 25, 26"),
        "{t}"
    );
    assert!(
        t.contains("  > keyed-limiter/main.go:30   main.(*keyedLimiter).Acquire"),
        "{t}"
    );
    assert!(t.contains("created by main.main"), "{t}");
    assert!(t.contains("runtime/sema.go:617"), "{t}");
}

/// `show` prints goroutines as the dump had them (offsets, `?` marks) and takes
/// several ids; an id not in the dump is an error naming it, after the others.
#[test]
fn show_prints_the_dump_text_of_several_goroutines() {
    let t = stdout(&["show", KEYED, "24", "25"]);
    let dump = std::fs::read_to_string(root().join(KEYED)).unwrap();
    for line in [
        "goroutine 24 [sync.Cond.Wait]:",
        "sync.(*Cond).Wait(0xa6f59608148?)",
        "\t/work/main/fixtures/programs/keyed-limiter/main.go:30 +0x5f",
        "goroutine 25 [sync.Cond.Wait]:",
    ] {
        assert!(dump.contains(line), "not in the dump: {line}");
        assert!(t.contains(line), "{line}:\n{t}");
    }
    // Exactly the dump's lines, from the header to the blank line after the stack.
    let dump_lines: Vec<&str> = dump.lines().collect();
    let start = dump_lines
        .iter()
        .position(|l| l.starts_with("goroutine 24 ["))
        .unwrap();
    let end = start
        + dump_lines[start..]
            .iter()
            .position(|l| l.is_empty())
            .unwrap();
    let shown: Vec<&str> = t.lines().skip(1).take(end - start).collect();
    assert_eq!(shown, dump_lines[start..end].to_vec());
    assert!(t
        .lines()
        .next()
        .unwrap()
        .starts_with(&format!("# line {}: cond wait", start + 1)));
    // From standard input, which is gone once read, it is written again from the model.
    let mut piped = Command::new(exe())
        .args(["show", "-", "24"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = piped.stdin.take().unwrap();
        stdin.write_all(dump.as_bytes()).unwrap();
    }
    let piped = String::from_utf8(piped.wait_with_output().unwrap().stdout).unwrap();
    for line in &dump_lines[start..end - 2] {
        assert!(piped.contains(line), "{line}:\n{piped}");
    }
    let out = run(&["show", KEYED, "24", "99999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("goroutine 24 ["));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no goroutine 99999"));
}

/// The runtime's own goroutines (GC workers, sweeper, finalizer...) are not listed
/// unless asked for, the output says how many were left out, and the verdict and
/// exit code do not change.
#[test]
fn runtime_goroutines_are_hidden_and_counted() {
    let hidden = stdout(&["groups", SIGQUIT]);
    let shown = stdout(&["groups", "--runtime", SIGQUIT]);
    assert!(!hidden.contains("runtime.gopark"), "{hidden}");
    assert!(shown.contains("runtime.gopark"), "{shown}");
    assert!(hidden.contains("of the runtime's own"), "{hidden}");
    assert!(hidden.contains("--runtime lists them"), "{hidden}");
    let rows = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("│ ") && !l.starts_with("│ count"))
            .filter(|l| !l.starts_with("│       "))
            .count()
    };
    let n: usize = hidden
        .split("note: ")
        .nth(1)
        .and_then(|n| n.split(" goroutine").next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rows(&shown), rows(&hidden) + n, "{hidden}\n{shown}");
    let a = run(&["analyze", SIGQUIT]);
    let b = run(&["analyze", "--runtime", SIGQUIT]);
    assert_eq!(a.status.code(), b.status.code());
    let head = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(head(&a), head(&b));
    let md = stdout(&["analyze", "--format", "markdown", SIGQUIT]);
    assert!(
        md.contains("> note: ") && md.contains("--runtime lists them"),
        "{md}"
    );
    assert!(!md.contains("runtime.gopark"), "{md}");
    // Tools read every group.
    let json = stdout(&["analyze", "--format", "json", SIGQUIT]);
    assert!(json.contains("runtime.gopark"));
}

/// Counts agree with their nouns in what the reports write themselves: no
/// "1 groups", "1 more frames", "goroutine(s)"; Markdown writes one minute as `1m`;
/// a state is not said twice (`chan receive [chan receive]`).
#[test]
fn grammar_of_counts_and_states() {
    let one = regex::Regex::new(
        r"\b1 (more |library )?(frames|groups|findings|states|records|goroutines)\b",
    )
    .unwrap();
    let twice = regex::Regex::new(r"\(([a-zA-Z ]+) \[([a-zA-Z ]+)\]\)").unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["fixtures/dumps", "fixtures/synth/corpus"] {
        for e in walk(&root().join(dir)) {
            if e.extension().is_some_and(|x| x == "txt") {
                files.push(e);
            }
        }
    }
    files.sort();
    let mut minute = false;
    for f in files.iter().step_by(3) {
        let f = f.to_str().unwrap();
        let text = stdout(&["analyze", "--color", "never", "--groups", "100", f]);
        let md = stdout(&["analyze", "--format", "markdown", f]);
        for t in [&text, &md] {
            if let Some(m) = one.find(t) {
                panic!("{f}: `{}` in\n{t}", m.as_str());
            }
            assert!(!t.contains("1-1m"), "{f}: {t}");
            assert!(
                !t.contains("the Go runtime proved 1 goroutines"),
                "{f}: {t}"
            );
            assert!(!t.contains("goroutine(s) leaked\n"), "{f}: {t}");
            for c in twice.captures_iter(t) {
                assert_ne!(c[1].to_string(), c[2].to_string(), "{f}: {}", &c[0]);
            }
        }
        minute |= md.contains("| 1m |");
    }
    assert!(minute, "no dump with a one-minute wait was read");
    let once = stdout(&["analyze", "fixtures/dumps/once-reentry/go1.27/debug2.txt"]);
    assert!(once.contains("waiters: 1 goroutine: 22"), "{once}");
    let keyed = stdout(&["analyze", KEYED]);
    assert!(keyed.contains("cycle:   goroutine 24\n"), "{keyed}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Markdown names one holder, and lists a goroutine that waits on the lock among
/// the waiters, not among its holders.
#[test]
fn markdown_lists_no_waiter_among_holders() {
    let md = stdout(&[
        "analyze",
        "--format",
        "markdown",
        "fixtures/dumps/lock-order/go1.27/debug2.txt",
    ]);
    assert!(md.contains("- **holder:** 24\n"), "{md}");
    assert!(md.contains("- **waiters (3):** 25, 26, 27"), "{md}");
    assert!(!md.contains("holders:** 24, 25"), "{md}");
}

/// The DOT of a capture, laid out by Graphviz as JSON (`dot -Tjson`), or `None`
/// with a clear message when Graphviz is not installed.
fn laid_out(capture: &str) -> Option<(String, serde_json::Value)> {
    if !have("dot") {
        eprintln!("SKIPPED: Graphviz `dot` is not installed: the DOT was not rendered");
        return None;
    }
    let src = stdout(&["analyze", "--format", "dot", capture]);
    let mut dot = Command::new("dot");
    dot.arg("-Tjson");
    let out = fed(dot, &src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "{capture}: {err}\n{src}"
    );
    Some((src, serde_json::from_slice(&out.stdout).unwrap()))
}

/// Every text Graphviz drew: (font, x-left, x-right, baseline, size) of each line.
fn texts(v: &serde_json::Value, key: &str) -> Vec<(String, f64, f64, f64, f64)> {
    let mut out = Vec::new();
    let mut font = (String::new(), 0.0);
    for op in v[key].as_array().into_iter().flatten() {
        match op["op"].as_str() {
            Some("F") => {
                font = (
                    op["face"].as_str().unwrap().to_string(),
                    op["size"].as_f64().unwrap(),
                )
            }
            Some("T") => {
                let x = op["pt"][0].as_f64().unwrap();
                let w = op["width"].as_f64().unwrap();
                out.push((
                    font.0.clone(),
                    x - w / 2.0,
                    x + w / 2.0,
                    op["pt"][1].as_f64().unwrap(),
                    font.1,
                ));
            }
            _ => {}
        }
    }
    out
}

/// One font for every text Graphviz drew, and no two edge labels on each other.
fn check_layout(capture: &str, v: &serde_json::Value) {
    let mut all = texts(v, "_ldraw_");
    let mut labels = Vec::new();
    for e in v["edges"].as_array().into_iter().flatten() {
        labels.extend(texts(e, "_ldraw_"));
    }
    for o in v["objects"].as_array().into_iter().flatten() {
        all.extend(texts(o, "_ldraw_"));
    }
    all.extend(labels.iter().cloned());
    let fonts: BTreeSet<&str> = all.iter().map(|t| t.0.as_str()).collect();
    assert!(fonts.len() <= 1, "{capture}: fonts {fonts:?}");
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            let apart_x = a.2 <= b.1 || b.2 <= a.1;
            let apart_y = (a.3 - b.3).abs() >= a.4.min(b.4);
            assert!(
                apart_x || apart_y,
                "{capture}: edge labels overlap: {a:?} {b:?}"
            );
        }
    }
}

/// Graphviz renders the graph of a deadlock, a stall and a leak: one node per set
/// of alike goroutines with its count, the holder drawn apart, the cycle red, the
/// leak's goroutines as their group, edge labels apart from each other, one font.
#[test]
fn dot_renders_groups_holders_cycles_and_leaks() {
    let cases = [
        (
            "fixtures/dumps/wg-drain/go1.27/debug2.txt",
            2,
            "6 goroutines",
        ),
        (
            "fixtures/dumps/lock-order/go1.27/debug2.txt",
            3,
            "2 goroutines",
        ),
        (
            "fixtures/dumps/net-read-stall/go1.27/debug2.txt",
            2,
            "50 goroutines",
        ),
        (
            "fixtures/dumps/chan-leak/go1.27/debug2.txt",
            1,
            "20 goroutines · leaked",
        ),
        (
            "fixtures/dumps/chan-semaphore/go1.27/debug2.txt",
            3,
            "20 goroutines",
        ),
    ];
    for (capture, nodes, group) in cases {
        let Some((src, v)) = laid_out(capture) else {
            return;
        };
        let objects = v["objects"].as_array().unwrap();
        assert_eq!(objects.len(), nodes, "{capture}:\n{src}");
        assert!(src.contains(group), "{capture}:\n{src}");
        if !capture.contains("chan-leak") {
            assert!(
                src.contains("· holder") && src.contains("peripheries=2"),
                "{capture}:\n{src}"
            );
        }
        check_layout(capture, &v);
    }
    // Every bundled dump's graph renders, in one font, its edge labels apart.
    let mut dumps: Vec<PathBuf> = walk(&root().join("fixtures/dumps"))
        .into_iter()
        .filter(|p| p.ends_with("debug2.txt") || p.ends_with("sigquit.txt"))
        .collect();
    dumps.sort();
    for d in dumps {
        let (_, v) = laid_out(d.to_str().unwrap()).unwrap();
        check_layout(d.to_str().unwrap(), &v);
    }
    // A semaphore of two slots: both holders drawn as such.
    let (src, _) = laid_out("fixtures/dumps/chan-semaphore/go1.27/debug2.txt").unwrap();
    assert_eq!(src.matches("· holder").count(), 2, "{src}");
    let (src, _) = laid_out("fixtures/dumps/lock-order/go1.27/debug2.txt").unwrap();
    assert_eq!(src.matches("· holder").count(), 1, "{src}");
    assert!(src.contains("color=red"), "{src}");
    assert!(src.contains("×2"), "{src}");
}

/// The quoted source lines of a report (not the table's rows).
fn quotes(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.contains(" │ ") && !l.contains('┆') && !l.starts_with('│'))
        .map(|l| l.trim().to_string())
        .collect()
}

/// `file:line │ text` as the report quotes a line of a fixture program.
fn program_line(rel: &str, line: usize) -> String {
    let text = std::fs::read_to_string(root().join("fixtures/programs").join(rel)).unwrap();
    format!(
        "{rel}:{line} │ {}",
        text.lines().nth(line - 1).unwrap().trim()
    )
}

/// With the sources at hand, the report quotes the line where the holder took the
/// lock, where its own code blocked, and where the waiters ask for it; under
/// `--source-root` for `-trimpath` builds and paths of another machine. A file not
/// found is skipped without a word, and nothing else changes.
#[test]
fn source_lines_are_quoted_when_the_files_are_here() {
    // Go 1.23 builds with -trimpath: `fixtures/lock-order/main.go`, the module root
    // is fixtures/programs.
    let trimmed = "fixtures/dumps/lock-order/go1.23/debug2.txt";
    let without = stdout(&["analyze", "--color", "never", trimmed]);
    assert!(quotes(&without).is_empty(), "{without}");
    let missing = stdout(&["analyze", "--source-root", "/no/such/dir", trimmed]);
    assert_eq!(missing, without);
    let with = stdout(&["analyze", "--source-root", "fixtures/programs", trimmed]);
    assert!(
        quotes(&with).contains(&program_line("lock-order/main.go", 21)),
        "{with}"
    );
    let stall = stdout(&[
        "analyze",
        "--source-root",
        "fixtures/programs",
        "fixtures/dumps/net-read-stall/go1.23/debug2.txt",
    ]);
    let q = quotes(&stall);
    assert!(
        q.contains(&program_line("net-read-stall/main.go", 26)),
        "{stall}"
    );
    assert!(
        q.contains(&program_line("net-read-stall/main.go", 32)),
        "{stall}"
    );
    // Absolute paths of the machine that captured it, mapped under the checkout.
    let repo = root().display().to_string();
    let keyed = stdout(&["analyze", "--source-root", &repo, KEYED]);
    let q = quotes(&keyed);
    for line in [55, 30, 53] {
        assert!(
            q.contains(&program_line("keyed-limiter/main.go", line)),
            "{line}: {keyed}"
        );
    }
    // What is quoted is added; the rest of the report is the same.
    let strip = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !quotes(l).iter().any(|_| true))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(strip(&with), strip(&without));
}

/// The code blocks of the README section that starts with `heading`.
fn readme_blocks(heading: &str) -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(&format!("\n{heading}\n")).expect("the section");
    let section = &readme[start + heading.len() + 2..];
    let end = section.find("\n## ").unwrap_or(section.len());
    section[..end]
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| {
            b.lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Paste `lines` into an interactive shell (no rc files) in `dir`, as typed at a
/// terminal (zsh then takes `#` for a word, not a comment): each must exit 0 or 1
/// and print no error.
fn paste(shell: &str, lines: &[String], dir: &std::path::Path, home: &std::path::Path) {
    let args: &[&str] = if shell == "zsh" {
        &["-f", "-i"]
    } else {
        &["--norc", "-i"]
    };
    let mut script = String::new();
    for line in lines {
        script.push_str(&format!("{line}\necho \"::rc=$?\"\n"));
    }
    let mut sh = Command::new(shell);
    sh.args(args)
        .current_dir(dir)
        .env("PATH", path_with_binary())
        .env("HOME", home)
        .env("MANPAGER", "cat")
        .env("PS1", "")
        .env_remove("COLUMNS");
    let out = fed(sh, &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let codes: Vec<&str> = stdout
        .split("::rc=")
        .skip(1)
        .map(|c| c.split(|ch: char| !ch.is_ascii_digit()).next().unwrap())
        .collect();
    assert_eq!(codes.len(), lines.len(), "{shell}: {stdout}");
    for (line, code) in lines.iter().zip(&codes) {
        assert!(
            matches!(*code, "0" | "1"),
            "{shell}: `{line}` exited {code}"
        );
    }
    // An interactive shell without a terminal says so; no error may be said.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for l in stderr.lines() {
        let noise = l.contains("job control") || l.contains("terminal process group");
        let error = [
            "godeadlock:",
            "error",
            "not found",
            "No such",
            "zsh:",
            "bash:",
        ]
        .iter()
        .any(|e| l.contains(e));
        assert!(noise || !error, "{shell}: {l}\n{stderr}");
    }
}

/// The README's Use section works as pasted into bash and zsh after its install
/// step (the built binary stands in for `cargo install`): every command runs, and
/// what it writes is what the text says.
#[test]
fn readme_use_section_runs_in_bash_and_zsh() {
    let blocks = readme_blocks("## Use");
    let use_block = &blocks[0];
    assert_eq!(use_block[0], "cargo install --path .");
    let commands = &use_block[1..];
    assert!(commands.len() >= 6);
    let completions = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.contains("completions bash")))
        .expect("the completions block");
    for shell in ["bash", "zsh"] {
        if !have(shell) {
            eprintln!("SKIPPED: {shell} is not installed: the README was not pasted into it");
            continue;
        }
        let dir = tempdir().join(format!("readme-{shell}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::os::unix::fs::symlink(root().join("fixtures"), dir.join("fixtures")).unwrap();
        let home = dir.join("home");
        let usable: Vec<String> = commands
            .iter()
            .filter(|l| have("dot") || !l.contains("| dot"))
            .cloned()
            .collect();
        paste(shell, &usable, &dir, &home);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("analysis.json")).unwrap())
                .unwrap();
        assert_eq!(json["verdict"], "deadlock");
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(md.starts_with("## godeadlock: **stall**"), "{md}");
        if have("dot") {
            let svg = std::fs::read_to_string(dir.join("waits.svg")).unwrap();
            assert!(svg.contains("<svg"));
        }
        let usable: Vec<String> = completions
            .iter()
            .filter(|l| have("man") || !l.contains("man -l"))
            .cloned()
            .collect();
        paste(shell, &usable, &dir, &home);
        let bash = home.join(".local/share/bash-completion/completions/godeadlock");
        assert!(std::fs::read_to_string(bash)
            .unwrap()
            .contains("_godeadlock"));
        assert!(std::fs::read_to_string(home.join(".zfunc/_godeadlock"))
            .unwrap()
            .starts_with("#compdef godeadlock"));
    }
}

/// Run `cmd` with `input` on its standard input; its output once it ends.
fn fed(mut cmd: Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
