//! The built binary on input that is not a goroutine dump. Every input here is
//! hand-written on purpose: each is a bad-input case, not a dump.

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> Command {
    Command::cargo_bin("godeadlock").unwrap()
}

fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("godeadlock-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Run, expect exit 2, and return the one-line error.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.assert().code(2).get_output().clone();
    one_line(&out.stderr)
}

fn one_line(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr).to_string();
    assert_eq!(
        s.trim_end().lines().count(),
        1,
        "error is not one line: {s:?}"
    );
    s
}

#[test]
fn missing_file_exits_2_naming_the_path() {
    let e = fails(bin().args(["analyze", "/nonexistent/dump.txt"]));
    assert!(
        e.contains("/nonexistent/dump.txt") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn a_directory_exits_2() {
    let dir = std::env::temp_dir();
    let e = fails(bin().arg("analyze").arg(&dir));
    assert!(e.contains("directory"), "{e}");
}

#[test]
fn empty_input_is_no_dump() {
    let e = fails(bin().args(["analyze", "-"]).write_stdin(""));
    assert!(
        e.contains("no goroutine dump found in <stdin>") && e.contains("empty"),
        "{e}"
    );
}

#[test]
fn a_404_page_says_what_to_do() {
    let e = fails(
        bin()
            .args(["analyze", "-"])
            .write_stdin("404 page not found\n"),
    );
    assert!(
        e.contains("no goroutine dump found") && e.contains("net/http/pprof"),
        "{e}"
    );
}

#[test]
fn an_html_page_is_named() {
    let p = tmp(
        "page.html",
        b"<!DOCTYPE html>\n<html><body>Login</body></html>\n",
    );
    let e = fails(bin().arg("analyze").arg(&p));
    assert!(
        e.contains("HTML page") && e.contains(&p.display().to_string()),
        "{e}"
    );
}

#[test]
fn an_executable_is_refused() {
    let exe = assert_cmd::cargo::cargo_bin("godeadlock");
    let e = fails(bin().arg("analyze").arg(&exe));
    assert!(e.contains("executable"), "{e}");
}

#[test]
fn a_core_file_points_at_delve() {
    // An ELF header with e_type = ET_CORE (4): enough for the check.
    let mut core = b"\x7fELF\x02\x01\x01\x00".to_vec();
    core.resize(16, 0);
    core.extend_from_slice(&4u16.to_le_bytes());
    core.resize(64, 0);
    let p = tmp("core.1234", &core);
    let e = fails(bin().arg("analyze").arg(&p));
    assert!(e.contains("core file") && e.contains("dlv core"), "{e}");
}

// Hand-written bytes (a bad-input case): a gzipped protobuf that is no goroutine
// profile is refused in one line naming the file, exit 2.
#[test]
fn a_gzipped_protobuf_that_is_no_goroutine_profile_is_refused() {
    use std::io::Write;
    // Protobuf field 1, wire type 2 (sample_type), then binary bytes.
    let raw = [0x0a, 0x04, 0x00, 0x01, 0x02, 0x03, 0x12, 0x00];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let p = tmp("goroutine.pb.gz", &gz.finish().unwrap());
    let e = fails(bin().arg("analyze").arg(&p));
    assert!(
        e.contains("goroutine.pb.gz: this looks like a binary pprof profile")
            && e.contains("could not be read as a goroutine profile")
            && e.lines().count() == 1,
        "{e}"
    );
}

/// The real binary profile (`/debug/pprof/goroutine`, gzipped) is read and analysed.
#[test]
fn the_binary_profile_is_analysed() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/formats/keyed-limiter/go1.27/debug0.pb.gz");
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&p)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["verdict"], "deadlock");
    assert_eq!(v["snapshots"][0]["goroutines"], 19);
}

#[test]
fn binary_noise_never_panics() {
    let noise: Vec<u8> = (0..20000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let p = tmp("noise.bin", &noise);
    bin()
        .arg("analyze")
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no goroutine dump found"));
}

#[test]
fn completions_are_generated() {
    bin()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("godeadlock"));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    bin()
        .args(["analyze", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes").and(predicate::str::contains("debug=2")));
}
