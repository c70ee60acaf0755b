//! Where a stack legitimately ends, and where it was cut: goroutine 0 and the
//! roots of system stacks end a stack, so does an elision marker; only a real cut
//! (the input ending, or a stack stopping with no root) is called cut off.

mod common;

use common::captures;
use godeadlock::model::DiagnosticKind;
use godeadlock::parse::parse;

fn text_of(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

#[test]
fn no_committed_capture_reads_as_cut_off() {
    let mut sigquit = 0;
    for c in captures() {
        let text = text_of(&c.path);
        let p = parse(&text);
        for d in &p.dumps {
            let cut: Vec<_> = d
                .diagnostics
                .iter()
                .filter(|x| x.kind == DiagnosticKind::Truncated)
                .collect();
            assert!(cut.is_empty(), "{}: {cut:?}", c.name());
            assert!(d.goroutines.iter().all(|g| g.complete), "{}", c.name());
        }
        if c.kind == "sigquit" {
            // Goroutine 0, the thread's own stack, ends in runtime.mcall or the like
            // (absent when the signal came in on a busy thread).
            if let Some(g0) = p.dumps[0].goroutines.iter().find(|g| g.id == Some(0)) {
                sigquit += 1;
                assert!(g0.created_by().is_none() && g0.complete, "{}", c.name());
            }
        }
    }
    assert!(
        sigquit >= 50,
        "only {sigquit} SIGQUIT captures with a goroutine 0"
    );
}

/// Real text, cut: the first goroutine with three frames or more keeps its header
/// and first frame only, and the dump goes on after a blank line.
#[test]
fn a_stack_stopped_with_no_root_is_still_cut() {
    let path = common::root().join("fixtures/dumps/lock-order/go1.27/debug2.txt");
    let text = text_of(&path);
    let blocks: Vec<&str> = text.split("\n\n").collect();
    let i = blocks
        .iter()
        .position(|b| b.lines().count() >= 7 && b.starts_with("goroutine "))
        .unwrap();
    let cut: String = blocks[i].lines().take(3).collect::<Vec<_>>().join("\n");
    let id: u64 = cut["goroutine ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut parts: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
    parts[i] = cut;
    let mutated = parts.join("\n\n");
    let p = parse(&mutated);
    let d = &p.dumps[0];
    let g = d.goroutines.iter().find(|g| g.id == Some(id)).unwrap();
    assert!(!g.complete, "goroutine {id} was cut");
    assert_eq!(
        d.goroutines.iter().filter(|g| !g.complete).count(),
        1,
        "only the cut goroutine is incomplete"
    );
    assert!(d.truncated_at().is_some());
    // And the input ending inside a frame is a cut too.
    let end = text.find("\n\t").unwrap();
    let p = parse(&text[..end]);
    assert!(!p.dumps[0].goroutines[0].complete);
}

/// Go 1.19 prints `...additional frames elided...` at the end of a deep stack; the
/// stack ends there. Real text with its `created by` lines taken away (as for the
/// main goroutine, which has none): not a cut.
#[test]
fn an_elision_marker_ends_a_stack() {
    let path = common::root().join("fixtures/dumps/variants/go1.19/sigquit.txt");
    let text = text_of(&path);
    let at = text.find("...additional frames elided...\n").unwrap();
    let after = at + "...additional frames elided...\n".len();
    let rest = &text[after..];
    assert!(rest.starts_with("created by "));
    // drop `created by` and its file line, and the ancestors after them
    let end = rest.find("\n\n").unwrap();
    let mutated = format!("{}\n{}", &text[..after], &rest[end + 1..]);
    let p = parse(&mutated);
    let d = &p.dumps[0];
    let g = d
        .goroutines
        .iter()
        .find(|g| g.elided().is_some())
        .expect("the deep goroutine");
    assert!(g.created_by().is_none());
    assert!(g.complete);
    assert!(d.truncated_at().is_none());
}
