//! Which findings the text report shows and which count, on the built binary:
//! an informational finding (below the confidence that counts) is left out but
//! said, `--all` shows it marked informational, and the report's last line says
//! whether `--fail-on` fails and why, agreeing with the exit code.

use assert_cmd::Command;

mod common;

fn analyze(args: &[&str], file: &str) -> (i32, String) {
    let out = Command::cargo_bin("godeadlock")
        .unwrap()
        .arg("analyze")
        .args(args)
        .arg(common::root().join(file))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// A stall that counts beside a deadlock cycle below the confidence that counts
/// (a Delve listing prints no addresses, so the cycle is only likely).
const MIXED: &str = "fixtures/dumps/once-reentry/go1.21/delve.txt";

#[test]
fn informational_findings_are_said_and_shown_with_all() {
    let (code, text) = analyze(&[], MIXED);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("STALL"), "{text}");
    assert!(
        !text.contains("DEADLOCK"),
        "an informational finding shown:\n{text}"
    );
    assert!(
        text.contains("1 more finding not shown: 1 informational"),
        "{text}"
    );
    let (code, all) = analyze(&["--all"], MIXED);
    assert_eq!(code, 0);
    assert!(all.contains("DEADLOCK  "), "{all}");
    assert!(all.contains(", informational)"), "{all}");
    assert!(!all.contains("not shown"), "{all}");
}

#[test]
fn the_last_line_says_why_the_exit_code_is_what_it_is() {
    let last = |t: &str| {
        t.trim_end()
            .rsplit_once("\n--fail-on")
            .map(|(_, l)| l.to_string())
    };
    let (code, text) = analyze(&[], MIXED);
    assert_eq!(code, 0);
    let line = last(&text).expect("a --fail-on line");
    assert!(line.starts_with(" deadlock: passes"), "{line}");
    assert!(line.contains("1 informational finding"), "{line}");
    let (code, text) = analyze(&["--fail-on", "stall"], MIXED);
    assert_eq!(code, 1);
    let line = last(&text).expect("a --fail-on line");
    assert!(
        line.starts_with(" stall: fails (exit 1) on 1 finding"),
        "{line}"
    );
}
