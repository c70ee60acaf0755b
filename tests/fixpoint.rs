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

/// The synthesized scenarios' panic captures (`SYNTH_RUN=panic`: the main goroutine
/// panics once the situation is set up), with each one's truth.
fn synth_panics() -> Vec<(std::path::PathBuf, serde_json::Value)> {
    let dir = common::root().join("fixtures/synth/corpus");
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = manifest
        .as_array()
        .or_else(|| manifest["entries"].as_array())
        .cloned()
        .unwrap_or_default();
    entries
        .into_iter()
        .filter(|e| e["mode"] == "panic")
        .map(|e| (dir.join(e["file"].as_str().unwrap()), e))
        .collect()
}

#[test]
fn a_goroutine_that_panicked_releases_no_lock_its_deferred_calls_left_held() {
    // Every waiter of a lock-only deadlock stays stuck: the panic's deferred calls
    // have run before the runtime printed the goroutines.
    let mut checked = 0;
    for (path, e) in synth_panics() {
        let lock_only = e["truth"]["resources"].as_array().is_some_and(|rs| {
            rs.iter()
                .all(|r| r["kind"] == "mutex" || r["kind"] == "rwmutex")
        });
        if e["situation"] != "lock-then-rlock" || !lock_only {
            continue;
        }
        // A signal handler's goroutine (in a syscall) is live: no proof there.
        let Some(stuck) = stuck_ids(&path) else {
            continue;
        };
        for id in ids(&e["truth"]["cycle"]) {
            assert!(
                stuck.contains(&id),
                "{}: {id} not stuck: {stuck:?}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "only {checked} panic captures of lock-then-rlock"
    );
}

#[test]
fn a_goroutine_that_panicked_may_have_been_about_to_feed_its_kin() {
    // Idle pools and other healthy programs that panic are not deadlocked: what the
    // panicking goroutine was about to send is not known.
    let mut checked = 0;
    for (path, e) in synth_panics()
        .into_iter()
        .filter(|(_, e)| e["family"] == "healthy")
    {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = parse(&text);
        let d = parsed.latest().expect("a dump");
        let a = godeadlock::analyze::analyze(d, Default::default());
        assert_eq!(
            a.verdict,
            godeadlock::analyze::Verdict::Ok,
            "{}: {}",
            path.display(),
            e["situation"]
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} healthy panic captures");
}
