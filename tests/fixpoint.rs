//! The "nothing can wake them" proof on every real fixture dump: it holds on the
//! runtime's own deadlock reports, and never on a dump of a healthy program or of a
//! process with anything live in it (the fixture programs serve pprof, so their
//! listener is always in IO wait).

mod common;

use common::{captures, ids};
use godeadlock::analyze::{classify, display_id, fixpoint};
use godeadlock::parse::parse;

fn stuck_ids(path: &std::path::Path) -> Option<Vec<u64>> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse(&text);
    let d = parsed.latest().expect("a dump");
    let blocked = classify::classify_all(d);
    let s = fixpoint::stuck(d, &blocked)?;
    let mut v: Vec<u64> = s.goroutines.iter().map(|&i| display_id(d, i)).collect();
    v.sort_unstable();
    Some(v)
}

#[test]
fn the_runtimes_own_deadlock_reports_are_proven_stuck() {
    let asleep: Vec<_> = captures()
        .into_iter()
        .filter(|c| c.kind == "asleep")
        .collect();
    assert!(asleep.len() >= 5, "the asleep captures are missing");
    for c in asleep {
        let truth = c.truth().expect("truth");
        let stuck = stuck_ids(&c.path).unwrap_or_else(|| panic!("{}: no proof", c.name()));
        for id in ids(&truth["cycle"]) {
            assert!(
                stuck.contains(&id),
                "{}: cycle member {id} not stuck: {stuck:?}",
                c.name()
            );
        }
    }
}

#[test]
fn nothing_is_proven_stuck_where_something_is_live() {
    let mut checked = 0;
    for c in captures().into_iter().filter(|c| c.kind != "asleep") {
        if let Some(stuck) = stuck_ids(&c.path) {
            panic!(
                "{}: proven stuck {stuck:?} although its pprof server is live",
                c.name()
            );
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} captures read");
}
