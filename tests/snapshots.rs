//! Files holding several snapshots, made by concatenating real dumps: each snapshot
//! is read whole (its goroutines, no more, no fewer), whichever way the file is
//! read, and analysed in every output format; the exit code is the worst.

mod common;

use std::path::{Path, PathBuf};

use godeadlock::parse::{parse_bytes, parse_serial, Arena, Parsed, StreamOptions};

fn text(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

fn dumps() -> PathBuf {
    common::root().join("fixtures/dumps")
}

/// Goroutines (records, for debug=1) per snapshot.
fn sizes(p: &Parsed) -> Vec<usize> {
    p.dumps
        .iter()
        .filter(|d| !d.goroutines.is_empty())
        .map(|d| d.goroutines.len())
        .collect()
}

/// Headers or records in one dump's text, by string matching.
fn units(t: &str) -> usize {
    t.lines()
        .filter(|l| {
            let h = l.strip_prefix("goroutine ").is_some_and(|r| {
                let d = r.bytes().take_while(u8::is_ascii_digit).count();
                d > 0 && (r[d..].starts_with(" [") || r[d..].starts_with(" gp="))
            });
            let rec = l
                .split_once(" @")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let delve = l.contains("Goroutine ") && l.contains(" - ");
            h || rec || delve
        })
        .count()
}

/// Every way of reading bytes gives the same snapshots.
fn read_every_way(bytes: &str) -> Vec<usize> {
    let serial = sizes(&parse_serial(bytes));
    for block in [97, 4096] {
        let arena = Arena::new();
        let opts = StreamOptions {
            threads: 2,
            block,
            max_goroutines: u64::MAX,
        };
        let p = parse_bytes(bytes.as_bytes(), &arena, opts, &|_, _| {}).unwrap();
        assert_eq!(sizes(&p), serial, "in pieces of {block}");
    }
    serial
}

/// Two captures of the same scenario from two processes (Go 1.25 then 1.27), for
/// every scenario and capture form: two snapshots, each exactly its own.
#[test]
fn concatenated_captures_split_into_their_snapshots() {
    let mut checked = 0;
    for s in std::fs::read_dir(dumps()).unwrap().flatten() {
        for kind in ["debug2", "debug1", "delve", "sigquit"] {
            let a = s.path().join(format!("go1.25/{kind}.txt"));
            let b = s.path().join(format!("go1.27/{kind}.txt"));
            if !a.exists() || !b.exists() {
                continue;
            }
            let (ta, tb) = (text(&a), text(&b));
            let mut both = ta.clone();
            if !both.ends_with('\n') {
                both.push('\n');
            }
            both.push_str(&tb);
            let got = read_every_way(&both);
            assert_eq!(
                got,
                vec![units(&ta), units(&tb)],
                "{} {kind}",
                s.path().display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} pairs");
}

/// The runtime prints the goroutine writing a dump first: a debug=2 capture whose
/// writer's id was not in the dump before still starts a snapshot there. The same
/// process captured twice (fixtures/dumps then fixtures/formats differ in process;
/// here one file twice over with the writer's id changed in the second copy, as a
/// second HTTP request gets a new goroutine).
#[test]
fn the_dump_writer_starts_a_snapshot() {
    let path = dumps().join("keyed-limiter/go1.27/debug2.txt");
    let t = text(&path);
    let first = t.lines().next().unwrap();
    assert!(first.starts_with("goroutine ") && first.ends_with(" [running]:"));
    let id: u64 = first["goroutine ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let again = t.replacen(
        &format!("goroutine {id} [running]:"),
        &format!("goroutine {} [running]:", id + 1000),
        1,
    );
    let both = format!("{t}{again}");
    let n = units(&t);
    assert_eq!(read_every_way(&both), vec![n, n]);
}

/// A program's log holding two runtime.Stack snapshots with log lines between
/// (programs/triggers, stacklog mode): two snapshots, the same goroutines in each,
/// so a goroutine can be followed by its id.
#[test]
fn a_log_with_two_snapshots_keeps_each_ones_ids() {
    let path = common::root().join("fixtures/formats/triggers/go1.27/stacklog.txt");
    let t = text(&path);
    let p = parse_serial(&t);
    assert_eq!(sizes(&p), vec![3, 3]);
    let ids = |i: usize| -> Vec<Option<u64>> {
        let mut v: Vec<_> = p.dumps[i].goroutines.iter().map(|g| g.id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(0), ids(1));
    assert!(p.dumps[1].first_line > p.dumps[0].first_line);
}

fn bin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("godeadlock").unwrap()
}

/// `godeadlock analyze ARGS FILE`'s standard output, its exit code checked.
fn analyze(args: &[&str], file: &Path, code: i32) -> String {
    let out = bin()
        .arg("analyze")
        .args(args)
        .arg(file)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// A deadlocked snapshot then a healthy one: JSON holds both (the last alone said
/// ok before), jsonl one line each, text and Markdown a section each, DOT a graph
/// each; the exit code is the worst. The document is valid against the schema.
#[test]
fn every_format_reports_every_snapshot() {
    let dl = dumps().join("keyed-limiter/go1.27/debug2.txt");
    let ok = dumps().join("cond-idle/go1.27/debug2.txt");
    let both = format!("{}{}", text(&dl), text(&ok));
    let dir = std::env::temp_dir().join(format!("godeadlock-snapshots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.txt");
    std::fs::write(&file, &both).unwrap();

    let out = analyze(&["--format", "json"], &file, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["verdict"], "deadlock");
    let snaps = doc["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0]["verdict"], "deadlock");
    assert_eq!(snaps[1]["verdict"], "ok");
    assert_eq!(
        (snaps[0]["snapshot"].clone(), snaps[1]["snapshot"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(snaps[0]["first_line"], 1);
    let second_line = text(&dl).lines().count() + 1;
    assert_eq!(snaps[1]["first_line"], second_line);

    let out = analyze(&["--format", "jsonl"], &file, 1);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "deadlock");
    assert_eq!(lines[1]["snapshot"], 2);

    let t = analyze(&["--color", "never"], &file, 1);
    assert!(t.contains("snapshot 1 of 2") && t.contains("snapshot 2 of 2"));

    let dot = analyze(&["--format", "dot"], &file, 1);
    assert_eq!(dot.matches("digraph").count(), 2);

    // The healthy snapshot first and the deadlock last: the same worst verdict.
    let reversed = dir.join("reversed.txt");
    std::fs::write(&reversed, format!("{}{}", text(&ok), text(&dl))).unwrap();
    analyze(&[], &reversed, 1);
    analyze(&[], &ok, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Several inputs in JSON are one document valid against the schema: each input's
/// own document under `inputs`, in the order given, the verdict the worst; jsonl
/// stays a stream of one line per snapshot.
#[test]
fn several_inputs_are_one_json_document() {
    let dl = dumps().join("lock-order/go1.27/debug2.txt");
    let leak = dumps().join("chan-leak/go1.27/debug2.txt");
    let ok = dumps().join("cond-idle/go1.27/debug2.txt");
    let out = bin()
        .args(["analyze", "--format", "json"])
        .args([&ok, &leak, &dl])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    assert_valid(&doc);
    let inputs = doc["inputs"].as_array().unwrap();
    let verdicts: Vec<&str> = inputs
        .iter()
        .map(|d| d["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["ok", "leak", "deadlock"]);
    assert_eq!(doc["verdict"], "deadlock");
    assert!(inputs[2]["source"]
        .as_str()
        .unwrap()
        .ends_with("lock-order/go1.27/debug2.txt"));

    let out = bin()
        .args(["analyze", "--format", "jsonl"])
        .args([&ok, &dl])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["verdict"], "deadlock");
}

/// The document is valid against `schema/analysis.schema.json`.
fn assert_valid(doc: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schema/analysis.schema.json")).unwrap(),
    )
    .unwrap();
    let schema = jsonschema::JSONSchema::compile(&schema).unwrap();
    let msgs: Vec<String> = match schema.validate(doc) {
        Ok(()) => return,
        Err(e) => e.map(|e| format!("{e} at {}", e.instance_path)).collect(),
    };
    panic!("the document does not match the schema: {msgs:?}");
}
