//! Several snapshots of one process (`fixtures/recorded`, recorded by
//! `fixtures/regen.sh` PARTS=recorded from real fixture programs a few seconds
//! apart): what stays stuck is evidence, healthy programs stay ok, and snapshots of
//! different processes are not taken for one.

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use godeadlock::analyze::persist::{analyze_series, one_process, Series, Track};
use godeadlock::analyze::{display_id, Options, Verdict};
use godeadlock::parse::{parse_serial, Parsed};
use serde_json::Value;

fn rec(scenario: &str, go: &str, file: &str) -> PathBuf {
    common::root()
        .join("fixtures/recorded")
        .join(scenario)
        .join(go)
        .join(file)
}

fn truth(scenario: &str, go: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(rec(scenario, go, "truth.json")).unwrap())
        .unwrap()
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect()
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// The document matches schema/analysis.schema.json.
fn valid(doc: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schema/analysis.schema.json")).unwrap(),
    )
    .unwrap();
    let compiled = jsonschema::JSONSchema::compile(&schema).unwrap();
    let errors: Vec<String> = match compiled.validate(doc) {
        Ok(()) => Vec::new(),
        Err(e) => e.map(|e| format!("{e} at {}", e.instance_path)).collect(),
    };
    assert!(
        errors.is_empty(),
        "the document does not match the schema: {errors:?}"
    );
}

fn bin() -> Command {
    Command::cargo_bin("godeadlock").unwrap()
}

/// Every goroutine the truth names in a deadlock is seen stuck in all three
/// snapshots, and the deadlock finding says so.
#[test]
fn deadlocked_goroutines_are_seen_stuck() {
    for go in ["go1.21", "go1.27"] {
        let files: Vec<String> = (1..=3)
            .map(|i| read(&rec("keyed-limiter", go, &format!("goroutine-{i}.txt"))))
            .collect();
        let parsed: Vec<Parsed> = files.iter().map(|t| parse_serial(t)).collect();
        let dumps: Vec<_> = parsed.iter().map(|p| &p.dumps[0]).collect();
        assert!(one_process(&dumps), "{go}: three snapshots of one process");
        let series = Series {
            dumps: dumps.clone(),
            at: Some(vec![0.0, 3.0, 6.0]),
        };
        let (a, t) = analyze_series(&series, Options::default()).unwrap();
        assert_eq!(a.verdict, Verdict::Deadlock, "{go}");
        let last = dumps[2];
        let t_json = truth("keyed-limiter", go);
        let named: Vec<u64> = ids(&t_json["holders"])
            .into_iter()
            .chain(ids(&t_json["waiters"]))
            .collect();
        assert!(!named.is_empty());
        for id in named {
            let i = (0..last.goroutines.len())
                .find(|&i| display_id(last, i) == id)
                .unwrap();
            assert_eq!(t.tracks[i], Track::Stuck, "{go}: goroutine {id}");
        }
        let f = &a.findings[0];
        let said = godeadlock::report::words::evidence(last, &a, f);
        assert!(
            said.iter()
                .any(|e| e.contains("seen stuck") && e.contains("over 6 s")),
            "{go}: {said:?}"
        );
    }
}

/// Healthy programs read ok over their recorded snapshots, the busy server too
/// (its connection goroutines come and go).
#[test]
fn healthy_programs_stay_ok_over_snapshots() {
    for scenario in ["http-healthy", "cond-idle", "variants"] {
        for go in ["go1.21", "go1.27"] {
            let files: Vec<PathBuf> = (1..=3)
                .map(|i| rec(scenario, go, &format!("goroutine-{i}.txt")))
                .collect();
            let out = bin()
                .args([
                    "analyze",
                    "--same-process",
                    "--interval",
                    "3s",
                    "--fail-on",
                    "leak",
                    "-f",
                    "json",
                ])
                .args(&files)
                .assert()
                .code(0);
            let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
            assert_eq!(doc["verdict"], "ok", "{scenario} {go}");
            valid(&doc);
            assert_eq!(doc["snapshots"][0]["snapshot"], 3, "the series' last");
            assert_eq!(doc["timeline"]["snapshots"], 3);
            assert_eq!(doc["timeline"]["span_seconds"], 6.0);
        }
    }
}

/// One file holding several snapshots of one process is read as a series without
/// a flag; snapshots of two programs are not taken for one process.
#[test]
fn one_file_of_one_process_is_a_series() {
    let dir = std::env::temp_dir().join(format!("godeadlock-series-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let both = dir.join("both.txt");
    let a = read(&rec("lock-order", "go1.27", "goroutine-1.txt"));
    let b = read(&rec("lock-order", "go1.27", "goroutine-2.txt"));
    std::fs::write(&both, format!("{a}{b}")).unwrap();
    let out = bin()
        .args(["analyze", "--color", "never", "--interval", "3s"])
        .arg(&both)
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("2 snapshots of one process"), "{text}");
    assert!(text.contains("across 2 snapshots over 3 s"), "{text}");

    let other = read(&rec("cond-idle", "go1.27", "goroutine-1.txt"));
    let pa = parse_serial(&a);
    let po = parse_serial(&other);
    assert!(!one_process(&[&pa.dumps[0], &po.dumps[0]]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--same-process` with one snapshot is a usage error.
#[test]
fn one_snapshot_is_no_series() {
    bin()
        .args(["analyze", "--same-process"])
        .arg(rec("lock-order", "go1.27", "goroutine-1.txt"))
        .assert()
        .code(2);
}

/// A leak in progress (programs/leak-growing: watchers the registry keeps
/// reachable, so the runtime's leak profile cannot mark them): one snapshot and
/// two read ok; three, each with more of them and the first ones still stuck, are
/// a leak, with the rate.
#[test]
fn a_growing_stack_is_a_leak_in_progress() {
    for go in ["go1.21", "go1.27"] {
        let files: Vec<PathBuf> = (1..=3)
            .map(|i| rec("leak-growing", go, &format!("goroutine-{i}.txt")))
            .collect();
        let run = |n: usize| {
            let out = bin()
                .args([
                    "analyze",
                    "--same-process",
                    "--interval",
                    "3s",
                    "-f",
                    "json",
                ])
                .args(&files[..n])
                .assert();
            let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
            doc
        };
        let single = bin()
            .args(["analyze", "--fail-on", "leak"])
            .arg(&files[0])
            .assert();
        assert_eq!(
            single.get_output().status.code(),
            Some(0),
            "{go}: one snapshot"
        );
        assert_eq!(run(2)["verdict"], "ok", "{go}: two snapshots");
        let doc = run(3);
        assert_eq!(doc["verdict"], "leak", "{go}");
        let growing = &doc["timeline"]["growing"][0];
        let counts: Vec<u64> = growing["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert!(counts.windows(2).all(|w| w[1] > w[0]), "{go}: {counts:?}");
        assert!(growing["per_minute"].as_f64().unwrap() > 0.0);
        // The first watchers (the truth's) are among the leak's goroutines.
        let t = truth("leak-growing", go);
        let leak = &doc["snapshots"][0]["findings"][0];
        let waiters = ids(&leak["waiters"]);
        for id in ids(&t["waiters"]) {
            assert!(waiters.contains(&id), "{go}: watcher {id} in {waiters:?}");
        }
    }
}

/// Relabel goroutine ids (the same way in every snapshot: they are one process)
/// and reverse the order of the goroutines in each: a dump's text whose
/// goroutines are blocks separated by blank lines.
fn relabel(text: &str) -> String {
    let map = |id: u64| id * 7 + 3;
    let re = regex::Regex::new(r"(?m)^goroutine (\d+) \[|in goroutine (\d+)$").unwrap();
    let relabelled = re.replace_all(text, |c: &regex::Captures| match (c.get(1), c.get(2)) {
        (Some(n), _) => format!("goroutine {} [", map(n.as_str().parse().unwrap())),
        (_, Some(n)) => format!("in goroutine {}", map(n.as_str().parse().unwrap())),
        _ => unreachable!(),
    });
    let mut blocks: Vec<&str> = relabelled
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    blocks.reverse();
    blocks
        .iter()
        .map(|b| format!("{}\n\n", b.trim_end()))
        .collect()
}

/// Relabelled ids and reordered goroutines change nothing the series concludes.
#[test]
fn series_outcome_ignores_ids_and_order() {
    let dir = std::env::temp_dir().join(format!("godeadlock-series-meta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for scenario in [
        "keyed-limiter",
        "leak-growing",
        "http-healthy",
        "chan-semaphore",
    ] {
        let files: Vec<PathBuf> = (1..=3)
            .map(|i| rec(scenario, "go1.27", &format!("goroutine-{i}.txt")))
            .collect();
        let moved: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let p = dir.join(format!("{scenario}-{i}.txt"));
                std::fs::write(&p, relabel(&read(f))).unwrap();
                p
            })
            .collect();
        let summary = |fs: &[PathBuf]| {
            let out = bin()
                .args([
                    "analyze",
                    "--same-process",
                    "--interval",
                    "3s",
                    "-f",
                    "json",
                ])
                .args(fs)
                .assert();
            let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
            let t = &doc["timeline"];
            let kinds: Vec<String> = doc["snapshots"][0]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{} {}", f["kind"], f["confidence"]))
                .collect();
            (
                doc["verdict"].clone(),
                kinds,
                t["stuck"].clone(),
                t["moved"].clone(),
                t["growing"].clone(),
            )
        };
        assert_ne!(read(&files[0]), read(&moved[0]));
        let (before, after) = (summary(&files), summary(&moved));
        assert_eq!(before, after, "{scenario}");
        if scenario == "keyed-limiter" {
            assert_eq!(before.0, "deadlock");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over every recorded process's three snapshots, the full report's timeline
/// (the stuck goroutines, the groups that grow) fits COLUMNS like the rest,
/// but for a word longer than a line.
#[test]
fn the_timeline_follows_the_width() {
    let mut timelines = 0;
    for e in std::fs::read_dir(common::root().join("fixtures/recorded")).unwrap() {
        let scenario = e.unwrap().file_name().to_string_lossy().to_string();
        for go in ["go1.21", "go1.27"] {
            let files: Vec<PathBuf> = (1..=3)
                .map(|k| rec(&scenario, go, &format!("goroutine-{k}.txt")))
                .collect();
            if !files.iter().all(|f| f.exists()) {
                continue;
            }
            let out = bin()
                .args(["analyze", "--all", "--same-process"])
                .args(&files)
                .env("COLUMNS", "72")
                .output()
                .unwrap()
                .stdout;
            let text = String::from_utf8(out).unwrap();
            timelines += text.matches("across 3 snapshots").count();
            common::assert_fits(&text, 72, &format!("{scenario}/{go}"));
        }
    }
    assert!(timelines >= 20, "{timelines} timelines read");
}
