//! Golden results: for every committed dump, the JSON analysis is kept beside it as
//! `<capture>.expected.json`. Any change in findings shows up as a diff here.
//! Refresh after an intended change with `GODEADLOCK_BLESS=1 cargo test --test golden`.

mod common;

use common::{captures, root};
use godeadlock::analyze::{analyze, Options};
use godeadlock::parse::parse;
use godeadlock::report::json::write_analysis;

#[test]
fn analysis_matches_the_blessed_results() {
    let bless = std::env::var_os("GODEADLOCK_BLESS").is_some();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/analysis.schema.json")).unwrap(),
    )
    .unwrap();
    // A golden file is one snapshot's object: checked against the schema's snapshot.
    let snapshot = serde_json::json!({
        "$schema": schema["$schema"],
        "$ref": "#/$defs/snapshot",
        "$defs": schema["$defs"],
    });
    let schema = jsonschema::JSONSchema::compile(&snapshot).expect("the schema compiles");
    let mut stale = Vec::new();
    let mut n = 0;
    for c in captures() {
        let bytes = std::fs::read(&c.path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = parse(&text);
        let d = parsed.latest().expect("a dump");
        let a = analyze(d, Options::default());
        let rel = c
            .path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let mut out = Vec::new();
        write_analysis(&mut out, &rel, d, &a, true).unwrap();
        let out = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        if let Err(errors) = schema.validate(&value) {
            let msgs: Vec<String> = errors
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            panic!(
                "{rel}: output does not match the snapshot of schema/analysis.schema.json: {}",
                msgs.join("; ")
            );
        }
        let expected_path = c.path.with_extension("expected.json");
        n += 1;
        if bless {
            std::fs::write(&expected_path, &out).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(e) if e == out => {}
            Ok(_) => stale.push(format!("{} differs from {}", rel, expected_path.display())),
            Err(_) => stale.push(format!("{} has no {}", rel, expected_path.display())),
        }
    }
    assert!(n > 0, "no fixtures");
    assert!(
        stale.is_empty(),
        "{} golden results differ (review, then GODEADLOCK_BLESS=1 cargo test --test golden):\n{}",
        stale.len(),
        stale.join("\n")
    );
}
