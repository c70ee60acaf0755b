//! `godeadlock diff A B` over recorded snapshots of real fixture processes.

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn rec(scenario: &str, file: &str) -> PathBuf {
    common::root()
        .join("fixtures/recorded")
        .join(scenario)
        .join("go1.27")
        .join(file)
}

fn diff(args: &[&str], a: &PathBuf, b: &PathBuf) -> String {
    let out = Command::cargo_bin("godeadlock")
        .unwrap()
        .arg("diff")
        .args(args)
        .arg(a)
        .arg(b)
        .assert()
        .code(0);
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// The deadlock's goroutines are still at the same place three seconds later; the
/// stack counts of a deadlocked program do not change.
#[test]
fn deadlocked_goroutines_are_still_there() {
    let (a, b) = (
        rec("lock-order", "goroutine-1.txt"),
        rec("lock-order", "goroutine-2.txt"),
    );
    let doc: Value = serde_json::from_str(&diff(&["--format", "json"], &a, &b)).unwrap();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(rec("lock-order", "truth.json")).unwrap())
            .unwrap();
    let still: Vec<u64> = doc["still"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["ids"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64)
        })
        .collect();
    let cycle: Vec<u64> = truth["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(!cycle.is_empty());
    for id in &cycle {
        assert!(still.contains(id), "goroutine {id} of the cycle: {still:?}");
    }
    assert_eq!(doc["goroutines_before"], doc["goroutines_after"]);
    let text = diff(&[], &a, &b);
    assert!(text.contains("still at the same place"), "{text}");
    let md = diff(&["--format", "markdown"], &a, &b);
    assert!(
        md.starts_with("## ") && md.contains("### still at the same place"),
        "{md}"
    );
}

/// Two different programs: what one has and the other lacks is new or vanished,
/// and nothing is still at the same place but what every Go program has.
#[test]
fn different_programs_differ() {
    let (a, b) = (
        rec("cond-idle", "goroutine-1.txt"),
        rec("wg-drain", "goroutine-1.txt"),
    );
    let doc: Value = serde_json::from_str(&diff(&["--format", "json"], &a, &b)).unwrap();
    assert!(!doc["new"].as_array().unwrap().is_empty());
    assert!(!doc["vanished"].as_array().unwrap().is_empty());
    for s in doc["still"].as_array().unwrap() {
        let site = s["site"].as_str().unwrap();
        assert!(
            !site.contains("fixtures/"),
            "a program's own goroutine matched another's: {s}"
        );
    }
}

/// A missing file is a one-line error and exit 2.
#[test]
fn missing_input_is_an_error() {
    Command::cargo_bin("godeadlock")
        .unwrap()
        .args(["diff", "/nonexistent/a.txt"])
        .arg(rec("lock-order", "goroutine-1.txt"))
        .assert()
        .code(2);
}
