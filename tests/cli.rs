//! End-to-end: the built binary on real fixtures, for every output format and exit
//! code, several files, standard input, a closed pipe, colour control.

mod common;

use std::io::Write;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use common::{captures, Capture};
use predicates::prelude::*;
use serde_json::Value;

fn bin() -> Command {
    Command::cargo_bin("godeadlock").unwrap()
}

/// A capture of the given kind whose truth says `verdict`.
fn pick(kind: &str, verdict: &str) -> Capture {
    captures()
        .into_iter()
        .filter(|c| c.kind == kind)
        .find(|c| c.truth().is_some_and(|t| t["verdict"] == verdict))
        .unwrap_or_else(|| panic!("no {kind} fixture with verdict {verdict}"))
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("valid JSON")
}

#[test]
fn exit_codes_follow_fail_on() {
    let dl = pick("debug2", "deadlock");
    let ok = pick("debug2", "ok");
    let leak = pick("debug2", "leak");
    bin().arg("analyze").arg(&dl.path).assert().code(1);
    bin().arg("analyze").arg(&ok.path).assert().code(0);
    bin()
        .args(["analyze", "--fail-on", "never"])
        .arg(&dl.path)
        .assert()
        .code(0);
    // A leak is below the default threshold, at or above --fail-on leak.
    bin().arg("analyze").arg(&leak.path).assert().code(0);
    bin()
        .args(["analyze", "--fail-on", "leak"])
        .arg(&leak.path)
        .assert()
        .code(1);
    bin()
        .args(["analyze", "--fail-on", "stall"])
        .arg(&leak.path)
        .assert()
        .code(0);
    // Usage error.
    bin()
        .args(["analyze", "--format", "nope"])
        .arg(&ok.path)
        .assert()
        .code(2);
    bin()
        .args(["analyze", "--state", "("])
        .arg(&ok.path)
        .assert()
        .code(2);
}

#[test]
fn several_files_exit_with_the_worst() {
    let dl = pick("debug2", "deadlock");
    let ok = pick("debug2", "ok");
    let out = bin()
        .args(["analyze", "--format", "jsonl"])
        .arg(&ok.path)
        .arg(&dl.path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "ok");
    assert_eq!(lines[1]["verdict"], "deadlock");
    // A missing file among good ones: reported, and exit 2.
    bin()
        .arg("analyze")
        .arg(&ok.path)
        .arg("/nonexistent/x.txt")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/x.txt"));
    // Each unreadable input is said once, when it is met.
    let out = bin()
        .arg("analyze")
        .arg("/nonexistent/a.txt")
        .arg(&ok.path)
        .arg("/nonexistent/b.txt")
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.matches("/nonexistent/a.txt").count(), 1, "{err}");
    assert_eq!(err.matches("/nonexistent/b.txt").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn json_output_carries_the_contract() {
    let dl = pick("debug2", "deadlock");
    let truth = dl.truth().unwrap();
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&dl.path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let doc = json_of(&out);
    assert_eq!(doc["schema_version"], 4);
    assert_eq!(doc["verdict"], "deadlock");
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 1);
    let v = &doc["snapshots"][0];
    assert_eq!(v["schema_version"], 4);
    assert_eq!(v["snapshot"], 1);
    assert_eq!(v["verdict"], "deadlock");
    assert_eq!(v["format"], "traceback");
    assert!(v["goroutines"].as_u64().unwrap() > 0);
    let f = &v["findings"][0];
    assert_eq!(f["kind"], "deadlock");
    let holder = f["holders"][0].as_u64().unwrap();
    assert!(common::ids(&truth["holders"]).contains(&holder));
    assert!(!f["evidence"].as_array().unwrap().is_empty());
}

#[test]
fn stdin_reads_the_same_as_a_file() {
    let dl = pick("debug2", "deadlock");
    let bytes = std::fs::read(&dl.path).unwrap();
    let from_file = bin()
        .args(["analyze", "--format", "json"])
        .arg(&dl.path)
        .output()
        .unwrap()
        .stdout;
    let from_stdin = bin()
        .args(["analyze", "--format", "json", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap()
        .stdout;
    // The same document but for the source's name.
    fn unnamed(mut v: Value) -> Value {
        v["source"] = Value::Null;
        for s in v["snapshots"].as_array_mut().unwrap() {
            s["source"] = Value::Null;
        }
        v
    }
    let (a, b) = (unnamed(json_of(&from_file)), unnamed(json_of(&from_stdin)));
    assert_eq!(a, b);
    // No argument at all, with piped input, reads standard input too.
    let piped = bin()
        .args(["analyze", "--format", "json"])
        .write_stdin(bytes)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(a, unnamed(json_of(&piped)));
    // Standard input redirected from the file itself (`< dump.txt`) is read in place.
    let redirected = std::process::Command::new(assert_cmd::cargo::cargo_bin("godeadlock"))
        .args(["analyze", "--format", "json", "-"])
        .stdin(std::fs::File::open(&dl.path).unwrap())
        .output()
        .unwrap()
        .stdout;
    assert_eq!(a, unnamed(json_of(&redirected)));
}

#[test]
fn gzip_is_undone() {
    let dl = pick("debug2", "deadlock");
    let bytes = std::fs::read(&dl.path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let out = bin()
        .args(["analyze", "--format", "json", "-"])
        .write_stdin(gz.finish().unwrap())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(json_of(&out)["verdict"], "deadlock");
}

#[test]
fn text_report_leads_with_the_verdict_and_fits_100_columns() {
    let dl = pick("debug2", "deadlock");
    let out = bin()
        .arg("analyze")
        .arg(&dl.path)
        .env_remove("NO_COLOR")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("DEADLOCK"), "{s}");
    assert!(!s.contains('\x1b'), "colour on a pipe");
    // Every report of every capture fits a 100-column terminal.
    for c in captures() {
        let out = bin().arg("analyze").arg(&c.path).output().unwrap().stdout;
        for l in String::from_utf8(out).unwrap().lines() {
            assert!(l.chars().count() <= 100, "{}: line too wide: {l}", c.name());
        }
    }
}

/// Narrower than many frames it prints, the whole report (`--all`) still fits
/// COLUMNS outside the groups table (which keeps identifiers whole), but for a
/// word longer than a line (a path): where a lock was taken and the holder's
/// stack wrap as its prose does.
#[test]
fn every_line_of_the_full_report_follows_the_width() {
    let mut frames = 0;
    for c in captures() {
        let out = bin()
            .args(["analyze", "--all"])
            .arg(&c.path)
            .env("COLUMNS", "72")
            .output()
            .unwrap()
            .stdout;
        let text = String::from_utf8(out).unwrap();
        frames += text.matches("lock taken here:").count();
        common::assert_fits(&text, 72, &c.name());
    }
    assert!(frames > 50, "{frames} reports of where a lock was taken");
}

#[test]
fn colour_is_controlled() {
    let dl = pick("debug2", "deadlock");
    let s = bin()
        .args(["analyze", "--color", "always"])
        .arg(&dl.path)
        .output()
        .unwrap()
        .stdout;
    assert!(String::from_utf8_lossy(&s).contains("\x1b["));
    let s = bin()
        .args(["analyze", "--color", "never"])
        .arg(&dl.path)
        .output()
        .unwrap()
        .stdout;
    assert!(!String::from_utf8_lossy(&s).contains("\x1b["));
    let s = bin()
        .args(["analyze"])
        .arg(&dl.path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
        .stdout;
    assert!(!String::from_utf8_lossy(&s).contains("\x1b["));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let big = captures()
        .into_iter()
        .max_by_key(|c| std::fs::metadata(&c.path).unwrap().len())
        .unwrap();
    let exe = assert_cmd::cargo::cargo_bin("godeadlock");
    let mut child = StdCommand::new(exe)
        .args(["parse"])
        .arg(&big.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte and close: like `| head -c1`.
    {
        use std::io::Read;
        let mut so = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        so.read_exact(&mut b).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.trim().is_empty(), "{err}");
}

#[test]
fn markdown_summary() {
    let dl = pick("debug2", "deadlock");
    let out = bin()
        .args(["analyze", "--format", "markdown"])
        .arg(&dl.path)
        .output()
        .unwrap()
        .stdout;
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("## godeadlock: **deadlock**"), "{s}");
    assert!(s.contains("| count | state | wait | blocking site |"));
    assert!(s.contains("- **holder:**"));
}

#[test]
fn dot_renders_with_graphviz_and_marks_the_cycle() {
    let dl = pick("debug2", "deadlock");
    let truth = dl.truth().unwrap();
    let out = bin()
        .args(["analyze", "--format", "dot"])
        .arg(&dl.path)
        .output()
        .unwrap()
        .stdout;
    let dot = String::from_utf8(out).unwrap();
    assert!(dot.starts_with("digraph waits_for"));
    // A cycle member is drawn alone (`goroutine N`) or in its group's node (`ids ...`).
    let red: Vec<&str> = dot.lines().filter(|l| l.contains("color=red")).collect();
    for id in common::ids(&truth["cycle"]) {
        let word = regex::Regex::new(&format!(r#"(goroutine |ids [^"]*\b){id}\b"#)).unwrap();
        assert!(
            red.iter().any(|l| word.is_match(l)),
            "cycle node of goroutine {id} missing:\n{dot}"
        );
    }
    // Render with the real Graphviz when it is installed (CI installs it).
    let Ok(mut child) = StdCommand::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("graphviz `dot` not installed: rendering skipped");
        assert!(std::env::var_os("CI").is_none(), "CI must have graphviz");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let svg = child.wait_with_output().unwrap();
    assert!(svg.status.success());
    let svg = String::from_utf8(svg.stdout).unwrap();
    assert!(svg.contains("<svg"));
    for id in common::ids(&truth["cycle"]) {
        let word = regex::Regex::new(&format!(r"(goroutine |ids [^<]*\b){id}\b")).unwrap();
        assert!(word.is_match(&svg), "rendered SVG lacks goroutine {id}");
    }
}

#[test]
fn filters_narrow_the_output() {
    let leak = pick("debug2", "leak");
    let all = json_of(
        &bin()
            .args(["analyze", "--format", "json"])
            .arg(&leak.path)
            .output()
            .unwrap()
            .stdout,
    );
    let only_send = json_of(
        &bin()
            .args(["analyze", "--format", "json", "--state", "^chan send$"])
            .arg(&leak.path)
            .output()
            .unwrap()
            .stdout,
    );
    let (all, only_send) = (&all["snapshots"][0], &only_send["snapshots"][0]);
    let n_all = all["groups"].as_array().unwrap().len();
    let groups = only_send["groups"].as_array().unwrap();
    assert!(!groups.is_empty() && groups.len() < n_all);
    assert!(groups.iter().all(|g| g["state"] == "chan send"));
    assert_eq!(
        only_send["verdict"], all["verdict"],
        "filters never change the verdict"
    );
    let hidden = json_of(
        &bin()
            .args(["analyze", "--format", "json", "--hide-runtime"])
            .arg(&leak.path)
            .output()
            .unwrap()
            .stdout,
    );
    assert!(hidden["snapshots"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["kind"] != "runtime idle"));
    // The summary's states are the whole dump's, filtered or not.
    let states = |args: &[&str]| {
        let out = bin().args(args).arg(&leak.path).output().unwrap().stdout;
        String::from_utf8(out)
            .unwrap()
            .lines()
            .find(|l| l.contains("states: "))
            .map(str::to_string)
    };
    let whole = states(&["analyze", "--color", "never"]);
    assert!(whole.is_some());
    assert_eq!(
        states(&["analyze", "--color", "never", "--state", "^chan send$"]),
        whole
    );
}

#[test]
fn show_prints_one_goroutine() {
    let dl = pick("debug2", "deadlock");
    let truth = dl.truth().unwrap();
    let id = common::ids(&truth["holders"])[0];
    bin()
        .args(["show"])
        .arg(&dl.path)
        .arg(id.to_string())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("\ngoroutine {id} [")));
    bin()
        .args(["show"])
        .arg(&dl.path)
        .arg("999999999")
        .assert()
        .code(2);
}

#[test]
fn parse_prints_the_contract() {
    let dl = pick("debug2", "deadlock");
    let out = bin().args(["parse"]).arg(&dl.path).output().unwrap().stdout;
    let v = json_of(&out);
    assert_eq!(v["format"], "traceback");
    let gs = v["goroutines"].as_array().unwrap();
    assert!(!gs.is_empty());
    for g in gs {
        assert!(g["id"].is_u64());
        assert_eq!(g["count"], 1);
        assert!(g["state"].is_string());
        assert!(g["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["function"].is_string() && f["line"].is_u64()));
    }
}

#[test]
fn output_file_full_disk_and_never_over_the_input() {
    let dl = pick("debug2", "deadlock");
    // /dev/full: every write fails with "No space left on device".
    if std::path::Path::new("/dev/full").exists() {
        bin()
            .args(["analyze", "-o", "/dev/full"])
            .arg(&dl.path)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("writing /dev/full")
                    .and(predicate::str::contains("No space left")),
            );
    }
    let dir = std::env::temp_dir().join(format!("godeadlock-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("dump.txt");
    std::fs::copy(&dl.path, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    bin()
        .args(["analyze", "-o"])
        .arg(&copy)
        .arg(&copy)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("refusing"));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the input was modified"
    );
    let out = dir.join("report.json");
    bin()
        .args(["analyze", "--format", "json", "-o"])
        .arg(&out)
        .arg(&copy)
        .assert()
        .code(1)
        .stdout("");
    assert_eq!(
        json_of(&std::fs::read(&out).unwrap())["verdict"],
        "deadlock"
    );
}

#[test]
fn a_cut_dump_says_where_and_still_answers() {
    // A real capture cut in the middle of a stack, as a 64 MB debug=2 capture or an
    // interrupted curl leaves it.
    let dl = pick("sigquit", "deadlock");
    let text = std::fs::read_to_string(&dl.path).unwrap();
    let cut_at = text.rfind("\ngoroutine ").unwrap() + 60;
    let cut = &text[..cut_at];
    let out = bin()
        .args(["analyze", "--format", "json", "-"])
        .write_stdin(cut.to_string())
        .output()
        .unwrap();
    let doc = json_of(&out.stdout);
    let v = &doc["snapshots"][0];
    let notes = v["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("cut off at line")),
        "no cut-off note: {notes:?}"
    );
    assert!(!v["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn a_dump_too_large_for_memory_is_refused_with_numbers() {
    // GODEADLOCK_MEMORY_LIMIT_MB stands in for a machine without the memory.
    let ok = pick("debug2", "ok");
    let out = bin()
        .arg("analyze")
        .arg(&ok.path)
        .env("GODEADLOCK_MEMORY_LIMIT_MB", "0")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let e = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("goroutines would need about") && e.contains("MB are available"),
        "{e}"
    );
    // With the machine's real memory it goes through.
    bin().arg("analyze").arg(&ok.path).assert().code(0);
}

/// A real Go 1.27 leak profile of a process with nothing leaked is the one line
/// `goroutineleak profile: total 0`: the runtime's word that nothing leaked, read
/// as an ok snapshot of no goroutine, not refused as empty input.
#[test]
fn a_leak_profile_with_nothing_leaked_reads_ok() {
    let path = common::root().join("fixtures/synth/corpus/s0010/leak-debug1.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim(), "goroutineleak profile: total 0");
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&path)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["snapshots"][0]["leak_profile"], true);
    assert_eq!(v["snapshots"][0]["goroutines"], 0);
    // None marked is no proof that none leaked, and an empty table says nothing.
    let out = bin().arg("analyze").arg(&path).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("proved no goroutine leaked"), "{text}");
    assert!(text.contains("(no goroutines to list)"), "{text}");
    assert!(!text.contains('┌'), "an empty table:\n{text}");
    assert!(text.contains("states: none"), "{text}");
}

/// A filter that hides the finding behind the verdict does not make the headline
/// deny it: the verdict and the exit code are the whole dump's, and the headline
/// says its finding is hidden.
#[test]
fn a_filter_hiding_the_verdicts_finding_says_so() {
    let stall = pick("debug2", "stall");
    let shown = bin()
        .args(["analyze", "--fail-on", "stall"])
        .arg(&stall.path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let shown = String::from_utf8(shown).unwrap();
    assert!(shown.starts_with("STALL"), "{shown}");
    // A state no goroutine of the dump is in hides every finding.
    let hidden = bin()
        .args([
            "analyze",
            "--fail-on",
            "stall",
            "--state",
            "^no such state$",
        ])
        .arg(&stall.path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let hidden = String::from_utf8(hidden).unwrap();
    let first = hidden.lines().next().unwrap_or_default();
    assert!(first.starts_with("STALL"), "{hidden}");
    assert!(
        !first.contains("no deadlock, stall or leak found"),
        "{hidden}"
    );
    assert!(first.contains("hidden by the filter"), "{hidden}");
}

/// The summary never drops states without a word: past the eight most common it
/// says how many more states, and goroutines in them, there are.
#[test]
fn the_states_line_says_what_it_leaves_out() {
    let path = common::root().join("fixtures/dumps/http-healthy/go1.27/sigquit.txt");
    let out = bin()
        .args(["analyze", "--color", "never"])
        .arg(&path)
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(out).unwrap();
    let start = text.find("states: ").expect("a states line");
    let line: String = text[start..]
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(line.contains("… 5 more states ("), "{line}");
    // The counts shown and the ones summed add up to every goroutine.
    let header = text
        .lines()
        .find(|l| l.contains(" in ") && l.contains(" · "))
        .unwrap();
    let total: u64 = header.split(' ').next().unwrap().parse().unwrap();
    let mut sum = 0u64;
    for part in line.trim_start_matches("states: ").split(", ") {
        let digits = part.trim_start_matches("… ");
        if let Some(rest) = digits.strip_suffix(" goroutines)") {
            sum += rest.rsplit('(').next().unwrap().parse::<u64>().unwrap();
        } else if let Some(n) = digits.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
            sum += n;
        }
    }
    assert_eq!(sum, total, "{line}");
}

/// The findings' own sentences count their goroutines and minutes in words
/// ("1 goroutine queues", "20 goroutines queue"), never "goroutine(s)", and say a
/// wait's state once ("chan receive in ...", not "chan receive [chan receive]").
#[test]
fn findings_say_counts_and_states_in_plain_words() {
    for dump in [
        "chan-semaphore/go1.27/debug2.txt",
        "chan-semaphore/go1.27/debug1.txt",
        "net-read-stall/go1.27/debug2.txt",
        "chan-leak/go1.27/debug2.txt",
        "lock-order/go1.27/debug1.txt",
    ] {
        let path = format!("{}/fixtures/dumps/{dump}", env!("CARGO_MANIFEST_DIR"));
        for format in ["text", "json", "markdown"] {
            let out = assert_cmd::Command::cargo_bin("godeadlock")
                .unwrap()
                .args(["analyze", "--all", "--format", format, &path])
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(!text.is_empty(), "{dump} {format}: no output");
            for bad in [
                "goroutine(s)",
                " 1 minutes",
                "[chan receive]",
                "[IO wait]",
                "[] in ",
            ] {
                assert!(
                    !text.contains(bad),
                    "{dump} {format}: says {bad:?}:\n{text}"
                );
            }
        }
    }
}

/// A coordinator holding the mutex its WaitGroup's members queue on (real synth
/// capture s0049, truth: a cycle of all 8): the text says each set of alike edges
/// once, naming every goroutine, where it said one line per member before.
#[test]
fn alike_edges_are_said_once_with_every_goroutine() {
    let out = bin()
        .args(["analyze", "--color", "never"])
        .arg("fixtures/synth/corpus/s0049/debug2.txt")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace("\n      ", " ");
    let members: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("waits on the WaitGroup"))
        .collect();
    assert_eq!(members.len(), 1, "{text}");
    assert!(
        members[0].contains("goroutines 20, 21, 22, 24, 25, 26, 27 print that address"),
        "{}",
        members[0]
    );
    let held: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("likely holds it"))
        .collect();
    assert!(!held.is_empty() && held.len() < 7, "{text}");
    assert!(held.iter().all(|l| l.contains("goroutines ")), "{text}");
}

/// The README opens with the main job run on the bundled incident dump: what it
/// shows is what the tool prints (the first block of its report, as run from the
/// checkout), and the exit code it promises.
#[test]
fn the_readme_example_is_what_the_tool_prints() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let cmd = "$ godeadlock analyze fixtures/dumps/keyed-limiter/go1.27/debug2.txt\n";
    let from = readme.find(cmd).expect("the README's example") + cmd.len();
    let shown = &readme[from..from + readme[from..].find("…\n").expect("its end")];
    let out = bin()
        .current_dir(common::root())
        .args(["analyze", "fixtures/dumps/keyed-limiter/go1.27/debug2.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the README says it exits 1");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.starts_with(shown),
        "README example differs from the output:\n{printed}"
    );
}

/// A program that crashed with nothing stuck (the synthesized programs'
/// `panic.txt` captures that read ok) leads with the crash beside the verdict:
/// the first line names the runtime's own `panic:` line.
#[test]
fn an_ok_crash_says_so_beside_the_verdict() {
    let corpus = common::root().join("fixtures/synth/corpus");
    let mut read = 0;
    for e in std::fs::read_dir(&corpus).unwrap() {
        let path = e.unwrap().path().join("panic.txt");
        if !path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let out = bin()
            .args(["analyze", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        if json_of(&out.stdout)["verdict"] != "ok" {
            continue;
        }
        let panic = text.lines().find(|l| l.starts_with("panic: ")).unwrap();
        let report = bin()
            .arg("analyze")
            .arg(&path)
            .env("COLUMNS", "500")
            .output()
            .unwrap();
        let first = String::from_utf8(report.stdout).unwrap();
        let first = first.lines().next().unwrap_or_default().to_string();
        assert!(
            first.starts_with("OK") && first.contains(&format!("the program crashed: `{panic}`")),
            "{}: {first}",
            path.display()
        );
        read += 1;
    }
    assert!(read >= 5, "{read} ok crashes read");
}
