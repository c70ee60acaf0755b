//! The Go version is what the dump proves: a toolchain path in the file names is
//! kept only when no feature of the text says the runtime is newer.

use godeadlock::parse::parse;

fn fixture(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn a_toolchain_path_agreeing_with_the_frames_is_kept() {
    let text = fixture("fixtures/dumps/lock-order/go1.27/debug2.txt");
    let parsed = parse(&text);
    let d = parsed.latest().unwrap();
    assert_eq!(d.go_version.as_deref(), Some("go1.27.3"));
    assert_eq!(d.go_version_min, Some("go1.24"));
}

#[test]
fn an_older_goroot_path_than_the_frames_prove_is_dropped() {
    // The real Go 1.27 dump with its GOROOT rewritten to an older install's path,
    // as a machine with several Go installs prints when the binary was built by
    // another one: `internal/sync` mutex frames prove Go 1.24 or later.
    let text = fixture("fixtures/dumps/lock-order/go1.27/debug2.txt")
        .replace("/opt/gos/go1.27.3/go/src/", "/usr/lib/go-1.21/src/");
    assert!(text.contains("/usr/lib/go-1.21/src/runtime/"));
    let parsed = parse(&text);
    let d = parsed.latest().unwrap();
    assert_eq!(
        d.go_version, None,
        "go1.21 from the path contradicts the frames"
    );
    assert_eq!(d.go_version_min, Some("go1.24"));
}
