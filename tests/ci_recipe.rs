//! The README's GitHub Actions recipe, run as written on a real hung test: the
//! `panic: test timed out` dump of `fixtures/programs/test-hang` (its test waits on
//! a mutex held across a read nobody answers: a stall, no deadlock) stands in for
//! `it.stderr`, and the recipe's `godeadlock` lines run in bash with the built
//! binary first on PATH. A hung test must fail the job.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

/// The `godeadlock` lines of the README's recipe (the block that runs a test
/// binary under `-test.timeout`); the `go` lines need Go and are stood in for.
fn recipe_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let block = readme
        .split("```")
        .find(|b| b.contains("-test.timeout"))
        .expect("the README has a recipe running tests under -test.timeout");
    let lines: Vec<String> = block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("godeadlock "))
        .map(str::to_string)
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("it.stderr")),
        "the recipe analyses it.stderr: {lines:?}"
    );
    lines
}

fn hung_test_dumps() -> Vec<PathBuf> {
    let base = common::root().join("fixtures/dumps/test-hang");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("timeout.txt"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    assert!(
        !v.is_empty(),
        "no test-hang captures under {}",
        base.display()
    );
    v
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_godeadlock"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_readme_recipe_fails_the_job_when_a_test_hung() {
    let lines = recipe_lines();
    let script = format!("set -eo pipefail\n{}\n", lines.join("\n"));
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for dump in hung_test_dumps() {
        let text = std::fs::read_to_string(&dump).unwrap();
        assert!(
            text.starts_with("panic: test timed out"),
            "{}",
            dump.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "godeadlock-recipe-{}-{}",
            std::process::id(),
            dump.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("it.stderr"), &text).unwrap();
        let summary = dir.join("summary.md");
        // GitHub runs a step's script with `bash -e`.
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir)
            .env("PATH", &path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: the recipe must fail the job on a hung test\n{stdout}{}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("HANG"), "{}:\n{stdout}", dump.display());
        let md = std::fs::read_to_string(&summary).unwrap();
        assert!(
            md.contains("### hang:"),
            "{}: summary:\n{md}",
            dump.display()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
