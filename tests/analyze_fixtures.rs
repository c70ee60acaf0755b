//! The analysis on every real scenario dump, judged against the truth file the Go
//! program wrote while it ran (which goroutine really holds, waits, cycles).
//! Nothing here is specific to one fixture.

mod common;

use std::collections::BTreeSet;

use common::{captures, ids, Capture};
use godeadlock::analyze::{analyze, display_id, Analysis, FindingKind, Options};

use godeadlock::model::{Dump, Format};
use godeadlock::parse::parse;
use serde_json::Value;

struct Outcome {
    verdict: String,
    /// First finding of the verdict's kind.
    holders: Vec<u64>,
    cycle: Vec<u64>,
    leak_waiters: BTreeSet<u64>,
    deadlock_findings: usize,
    format: Format,
}

fn run(c: &Capture) -> Outcome {
    let bytes = std::fs::read(&c.path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse(&text);
    let d = parsed.latest().expect("a dump");
    let a = analyze(d, Options::default());
    let head = a.findings.iter().find(|f| {
        f.kind.verdict() == Some(a.verdict)
            && f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD
    });
    let id = |i: usize| display_id(d, i);
    Outcome {
        verdict: a.verdict.as_str().to_string(),
        holders: head
            .map(|f| f.holders.iter().map(|&h| id(h)).collect())
            .unwrap_or_default(),
        cycle: head
            .map(|f| f.cycle.iter().map(|&h| id(h)).collect())
            .unwrap_or_default(),
        leak_waiters: a
            .findings
            .iter()
            .filter(|f| {
                f.kind == FindingKind::Leak
                    && f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD
            })
            .flat_map(|f| f.waiters.iter().map(|&w| id(w)))
            .collect(),
        deadlock_findings: a
            .findings
            .iter()
            .filter(|f| {
                f.kind == FindingKind::Deadlock
                    && f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD
            })
            .count(),
        format: d.format,
    }
}

/// Captures whose goroutines carry ids, with their truth.
fn with_truth() -> Vec<(Capture, Value)> {
    captures()
        .into_iter()
        .filter_map(|c| {
            let t = c.truth()?;
            Some((c, t))
        })
        .collect()
}

#[test]
fn verdicts_holders_and_cycles_match_the_truth() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (c, truth) in with_truth() {
        let o = run(&c);
        if o.format == Format::Profile {
            continue;
        }
        checked += 1;
        let name = c.name();
        let want = truth["verdict"].as_str().unwrap();
        // Delve prints no argument values and no creators: a deadlock through a channel
        // or between locks at one call site can only be seen as a stall, and holders
        // and cycles may go unnamed. What it does name must still be right.
        // A leak is seen from a goroutine whose creating call has returned: with no
        // creators printed, it may go unseen.
        let no_args = o.format == Format::Delve;
        // A lock the standard library takes is held across IO by design: a stall on
        // it shows only with minutes of waiting, which Delve does not print (its
        // number is the runtime's raw wait start, with no clock to read it against).
        let no_minutes = no_args && std_lock(&truth);
        let verdict_ok = o.verdict == want
            || (no_args && want == "deadlock" && o.verdict == "stall")
            || (no_args && want == "leak" && o.verdict == "ok")
            || (no_minutes && want == "stall" && o.verdict == "ok");
        if !verdict_ok {
            failures.push(format!("{name}: verdict {} (want {want})", o.verdict));
            continue;
        }
        let holders = ids(&truth["holders"]);
        if !holders.is_empty() {
            match o.holders.first() {
                Some(h) if holders.contains(h) => {}
                None if no_args => {}
                other => failures.push(format!(
                    "{name}: first holder {other:?} (want one of {holders:?})"
                )),
            }
        }
        let cycle = ids(&truth["cycle"]);
        let cycle_ok = o.cycle == cycle
            || (no_args && o.cycle.is_empty())
            || (cycle.is_empty() && o.verdict != "deadlock");
        if !cycle_ok {
            failures.push(format!("{name}: cycle {:?} (want {cycle:?})", o.cycle));
        }
        // Every goroutine named leaked must be; not every leaked one can be named:
        // receivers ranging over a channel nobody will close read, in one snapshot,
        // like an idle pool whose channel lives in a global (the runtime's leak
        // profile tells them apart by reachability; a snapshot cannot).
        if want == "leak" && o.verdict == "leak" {
            let expected: BTreeSet<u64> = ids(&truth["waiters"]).into_iter().collect();
            if o.leak_waiters.is_empty() || !o.leak_waiters.is_subset(&expected) {
                let missing: Vec<_> = expected.difference(&o.leak_waiters).collect();
                let extra: Vec<_> = o.leak_waiters.difference(&expected).collect();
                failures.push(format!(
                    "{name}: leaked goroutines differ: missing {missing:?}, extra {extra:?}"
                ));
            }
        }
        if want == "ok" && o.deadlock_findings > 0 {
            failures.push(format!("{name}: a deadlock finding on a healthy program"));
        }
    }
    assert!(checked > 20, "only {checked} captures checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} captures wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The program says its lock is taken inside the standard library (a logger's).
fn std_lock(truth: &Value) -> bool {
    truth["roles"]["lock_taken_in"] == "standard library"
}

#[test]
fn aggregated_profiles_get_the_verdict_at_group_level() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (c, truth) in with_truth() {
        if c.kind != "debug1" {
            continue;
        }
        let o = run(&c);
        assert_eq!(o.format, Format::Profile);
        checked += 1;
        // debug=1 has no ids, states, arguments or creators: as with Delve, a deadlock
        // through a channel may only show as a stall, and a leak seen only from its
        // goroutines' creators may go unseen.
        let want = truth["verdict"].as_str().unwrap();
        // Nor does it print minutes of waiting, which a stall on a lock the
        // standard library takes needs (see above).
        let limited = (want == "deadlock" && o.verdict == "stall")
            || (want == "leak" && o.verdict == "ok")
            || (want == "stall" && o.verdict == "ok" && std_lock(&truth));
        if o.verdict != want && !limited {
            failures.push(format!("{}: verdict {} (want {want})", c.name(), o.verdict));
        }
    }
    assert!(checked >= 5, "only {checked} debug=1 captures");
    assert!(
        failures.is_empty(),
        "{} of {checked} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn an_rwmutex_is_named_by_the_semaphores_its_readers_and_writers_sleep_on() {
    // Where the runtime's frames are printed (a SIGQUIT), `runtime.semacquire1`
    // prints `&rw.readerSem` for a reader whose inlined `RLock` prints nothing, and
    // `&rw.writerSem` for the writer waiting for them: both name the one RWMutex.
    let mut checked = 0;
    for c in captures()
        .into_iter()
        .filter(|c| c.scenario == "rwmutex-recursive")
    {
        let text = std::fs::read_to_string(&c.path).unwrap();
        if !text.contains("runtime.semacquire1(") {
            continue;
        }
        let parsed = parse(&text);
        let d = parsed.latest().expect("a dump");
        let blocked = godeadlock::analyze::classify::classify_all(d);
        let addrs: BTreeSet<Option<u64>> = blocked
            .iter()
            .filter(|b| {
                matches!(
                    b.kind,
                    godeadlock::analyze::classify::WaitKind::RWMutexRLock
                        | godeadlock::analyze::classify::WaitKind::RWMutexLock
                )
            })
            .map(|b| b.addr())
            .collect();
        assert_eq!(addrs.len(), 1, "{}: {addrs:x?}", c.name());
        assert!(
            addrs.iter().all(|a| a.is_some()),
            "{}: {addrs:x?}",
            c.name()
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "only {checked} captures print the runtime's frames"
    );
}

#[test]
fn readers_at_two_sites_join_the_rwmutex_their_writers_name_through_the_object_all_pass() {
    // A synthesized lock-then-rlock scenario on Go 1.27 (real capture): RLock is
    // inlined and prints nothing; readers at two call sites and the writers pass
    // one object word, printed by no other lock's waiters.
    let path = common::root().join("fixtures/synth/corpus/s0222/debug2.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = parse(&text);
    let d = parsed.latest().expect("a dump");
    let a = analyze(d, Options::default());
    let rw: Vec<_> = a
        .locks
        .iter()
        .filter(|l| {
            l.waiters.iter().any(|&w| {
                matches!(
                    a.blocked[w].kind,
                    godeadlock::analyze::classify::WaitKind::RWMutexRLock
                )
            })
        })
        .collect();
    assert_eq!(rw.len(), 1, "readers in {} locks", rw.len());
    let waiters: BTreeSet<u64> = rw[0].waiters.iter().map(|&w| display_id(d, w)).collect();
    assert_eq!(waiters, BTreeSet::from([20, 21, 22, 23, 24, 25, 26, 27]));
    assert_eq!(rw[0].addr, Some(0x11aa31a20030));
}

/// The truth the synthesizer recorded for one of its dumps (from its manifest).
fn synth_truth(file: &str) -> Value {
    let path = common::root().join("fixtures/synth/corpus/manifest.json");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entries = manifest["entries"].as_array().expect("manifest entries");
    let entry = entries
        .iter()
        .find(|e| e["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in the manifest"));
    entry["truth"].clone()
}

/// The cycle a synth dump's truth records.
fn truth_cycle(truth: &Value) -> BTreeSet<u64> {
    truth["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// `check` run on a synth dump, parsed and analyzed.
fn on_synth<T>(file: &str, check: impl FnOnce(&Dump, &Analysis) -> T) -> T {
    let text =
        std::fs::read_to_string(common::root().join("fixtures/synth/corpus").join(file)).unwrap();
    let parsed = parse(&text);
    let d = parsed.latest().expect("a dump");
    check(d, &analyze(d, Options::default()))
}

/// The goroutines the deadlock findings put in cycles.
fn found_cycles(d: &Dump, a: &Analysis) -> BTreeSet<u64> {
    a.findings
        .iter()
        .filter(|f| f.kind == FindingKind::Deadlock)
        .flat_map(|f| f.cycle.iter().map(|&g| display_id(d, g)))
        .collect()
}

/// The goroutines the deadlock findings of a synth dump put in cycles, beside the
/// cycle its truth records.
fn cycles_and_truth(file: &str) -> (BTreeSet<u64>, BTreeSet<u64>) {
    (
        on_synth(file, found_cycles),
        truth_cycle(&synth_truth(file)),
    )
}

/// Lock, then RLock of the same RWMutex (inlined: no address printed for the read
/// lock): the reader's queue is tied to it only by the object it asks with, which a
/// frame further out on its own stack works on too. It holds the lock it waits for,
/// and the deadlock's cycle is that one goroutine, as the program's truth says.
#[test]
fn a_reader_whose_own_outer_frame_works_on_the_object_it_asks_with_is_its_own_holder() {
    use godeadlock::analyze::HolderWhy;
    for file in ["s0157/debug2.txt", "s0207/debug2.txt"] {
        let cycle = truth_cycle(&synth_truth(file));
        on_synth(file, |d, a| {
            let self_held = a.locks.iter().find(|l| {
                l.addr.is_none()
                    && l.top_holder().is_some_and(|h| {
                        l.waiters.contains(&h.goroutine)
                            && h.evidence
                                .iter()
                                .any(|e| matches!(e.why, HolderWhy::Reentered { addr: None, .. }))
                    })
            });
            let self_held = self_held.unwrap_or_else(|| panic!("{file}: no re-entered read lock"));
            let holder = display_id(d, self_held.top_holder().unwrap().goroutine);
            assert!(
                cycle.contains(&holder),
                "{file}: holder {holder} not in {cycle:?}"
            );
            assert_eq!(found_cycles(d, a), cycle, "{file}");
        });
    }
}

/// Readers (and a writer) of one RWMutex at several call sites, every lock call
/// inlined, all asking with the object that holds it: their queues are one lock,
/// and a waiter's word in the frame where it asks for its own lock ties it to that
/// lock only, never to another queue of the same object. So the reader that took
/// the lock and re-entered is its only holder (no cycle through a reader that
/// merely waits beside it), and a reader whose writer waits for it cycles with
/// that writer.
#[test]
fn queues_of_one_object_at_several_sites_are_one_rwmutex_and_explain_their_own_words() {
    for file in ["s0180/debug2.txt", "s0172/debug2.txt"] {
        let (got, want) = cycles_and_truth(file);
        assert_eq!(got, want, "{file}");
    }
    on_synth("s0172/debug2.txt", |_, a| {
        let joined = a
            .locks
            .iter()
            .find(|l| l.rule == godeadlock::analyze::IdentityRule::SiteObject)
            .expect("a lock joined by the object its sites share");
        let kinds: BTreeSet<&str> = joined
            .waiters
            .iter()
            .map(|&w| a.blocked[w].kind.as_str())
            .collect();
        assert!(
            kinds.len() > 1,
            "readers and writers in one lock: {kinds:?}"
        );
    });
}

/// A holder blocked on a channel (not a lock) in a function its caller passes the
/// object to still holds the mutex inside that object: the word is not explained
/// by a wait that cannot be on the same lock.
#[test]
fn a_word_where_a_holder_waits_on_a_channel_still_ties_it_to_the_mutex() {
    let file = "s0204/debug2.txt";
    let truth = synth_truth(file);
    let held: BTreeSet<u64> = on_synth(file, |d, a| {
        a.locks
            .iter()
            .filter(|l| l.addr.is_some())
            .filter_map(|l| l.top_holder().map(|h| display_id(d, h.goroutine)))
            .collect()
    });
    assert!(
        held.contains(&truth["holder"].as_u64().unwrap()),
        "{held:?}"
    );
}

/// A coordinator holds a mutex and waits on a WaitGroup whose members, which it did
/// not start, queue on that mutex: the members print the WaitGroup's address, so
/// the cycle is the coordinator and every member, as the program's truth says.
#[test]
fn lock_waiters_that_print_a_waitgroups_address_are_what_its_waiter_waits_for() {
    for file in ["s0049/debug2.txt", "s0114/debug2.txt"] {
        let (got, want) = cycles_and_truth(file);
        assert_eq!(got, want, "{file}");
    }
}

/// A holder blocked on a channel send or receive, whose counterpart is queued on
/// the holder's own lock: the two alone print the channel's address for sure (the
/// waiter where it asks for the lock), so the holder waits for that waiter and the
/// cycle is the truth's, through the channel the program used.
#[test]
fn a_channel_printed_only_by_its_holder_and_one_lock_waiter_ties_them_in_a_cycle() {
    for file in ["s0009/debug2.txt", "s0034/debug2.txt", "s0074/debug2.txt"] {
        let (got, want) = cycles_and_truth(file);
        assert_eq!(got, want, "{file}");
        let truth = synth_truth(file);
        let channel = truth["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "chan")
            .and_then(|r| r["address"].as_str())
            .map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap());
        let peers: Vec<u64> = on_synth(file, |_, a| {
            a.findings
                .iter()
                .flat_map(|f| &f.evidence)
                .filter_map(|e| match e {
                    godeadlock::analyze::Evidence::ChannelPeer { addr, .. } => Some(*addr),
                    _ => None,
                })
                .collect()
        });
        assert_eq!(peers, channel.into_iter().collect::<Vec<_>>(), "{file}");
    }
}

/// A debug=1 record stands for its count of goroutines: the 50 requests of a real
/// net-read-stall capture, one record, queue 50 behind the holder (the truth's
/// waiters), not 1.
#[test]
fn a_debug1_queue_counts_goroutines_not_records() {
    use godeadlock::analyze::Headline;
    let dir = "fixtures/dumps/net-read-stall/go1.27";
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/truth.json")).unwrap())
            .unwrap();
    let want = truth["waiters"].as_array().unwrap().len();
    let text = std::fs::read_to_string(format!("{dir}/debug1.txt")).unwrap();
    let parsed = parse(&text);
    let d = parsed.latest().expect("a dump");
    assert_eq!(d.format, Format::Profile);
    let a = analyze(d, Options::default());
    let queue = a
        .findings
        .iter()
        .find_map(|f| match f.headline {
            Headline::HoldsWhileBlocked { queue, .. } => Some(queue),
            _ => None,
        })
        .expect("the holder blocked outside the lock");
    assert_eq!(queue, want);
}

/// debug=1 hides the runtime frames at the top of a stack: a record whose first PC
/// is hidden waits inside its first printed function; one whose first PC is printed
/// was caught in that code (computing a hash, returning from `Accept`), not waiting.
#[test]
fn a_debug1_record_waits_on_what_is_hidden_only_when_its_top_frames_were() {
    use godeadlock::analyze::classify::WaitKind;
    let path = "fixtures/dumps/http-healthy/go1.25/debug1.txt";
    let text = std::fs::read_to_string(path).unwrap();
    let dump = parse(&text).dumps.remove(0);
    let a = analyze(&dump, Options::default());
    let kind_at = |site: &str| {
        let g = a.groups.iter().find(|g| g.site.contains(site));
        g.unwrap_or_else(|| panic!("{path}: no group at {site}"))
            .kind
    };
    assert_eq!(
        kind_at("net/http.(*persistConn).writeLoop"),
        WaitKind::Hidden
    );
    assert_ne!(kind_at("crypto/sha256.Sum256"), WaitKind::Hidden);
}

/// A stall whose holder waits on what debug=1 hides (a channel operation, or a
/// select that may have a timeout) is likely, not proven: the same program's debug=2
/// capture, which prints the holder's `chan receive`, reads it more firmly.
#[test]
fn a_stall_on_a_hidden_wait_is_only_likely() {
    let stall = |path: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        let dump = parse(&text).dumps.remove(0);
        let a = analyze(&dump, Options::default());
        let f = a.findings.iter().find(|f| f.kind == FindingKind::Stall);
        let f = f.unwrap_or_else(|| panic!("{path}: no stall")).clone();
        let hidden = f.evidence.iter().any(|e| e.rule() == "holder-wait-hidden");
        (f.confidence, hidden)
    };
    let (d1, d1_hidden) = stall("fixtures/dumps/chan-semaphore/go1.27/debug1.txt");
    let (d2, d2_hidden) = stall("fixtures/dumps/chan-semaphore/go1.27/debug2.txt");
    assert!(
        d1_hidden && !d2_hidden,
        "debug1 {d1_hidden}, debug2 {d2_hidden}"
    );
    assert!(d1 <= 0.5 && d1 < d2, "debug1 {d1}, debug2 {d2}");
}

/// A healthy HTTP server, in every capture form and Go version, has no finding at
/// all, not even contention: a `select` in a connection's write loop that debug=1
/// hides is no lock, nor is a `semacquire` on the runtime's own semaphore (no frame
/// of the sync package) that a GC start leaves a request's goroutines in.
#[test]
fn a_healthy_server_has_no_finding_in_any_capture() {
    let mut paths: Vec<std::path::PathBuf> = captures()
        .into_iter()
        .filter(|c| c.scenario == "http-healthy")
        .map(|c| c.path)
        .collect();
    // The recorded series of the same program (three snapshots a file).
    for go in std::fs::read_dir("fixtures/recorded/http-healthy")
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(go.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "txt") {
                paths.push(f.path());
            }
        }
    }
    let mut checked = 0;
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        for dump in parse(&text).dumps {
            let a = analyze(&dump, Options::default());
            let kinds: Vec<FindingKind> = a.findings.iter().map(|f| f.kind).collect();
            assert!(kinds.is_empty(), "{}: {kinds:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} snapshots");
}

/// Sixteen readers each wait alone on a Cond of their own, all on one stack
/// (fixtures/programs/stream-conds): nobody queues together with anyone, so a
/// goroutine alone on its stack (the flusher, the pprof server, main) is no
/// lock's possible holder for being alone. Each Cond is its own lock.
#[test]
fn a_lone_stack_is_no_holder_of_locks_each_waited_on_alone() {
    use godeadlock::analyze::HolderWhy;
    let files: Vec<Capture> = captures()
        .into_iter()
        .filter(|c| c.name().starts_with("stream-conds/") && c.truth().is_some())
        .collect();
    assert!(files.len() >= 10, "{} stream-conds captures", files.len());
    for c in &files {
        let text = std::fs::read_to_string(&c.path).unwrap();
        let parsed = parse(&text);
        let d = parsed.latest().expect("a dump");
        let a = analyze(d, Options::default());
        let readers: BTreeSet<u64> = ids(&c.truth().unwrap()["roles"]["readers"])
            .into_iter()
            .collect();
        let alone = a
            .locks
            .iter()
            .filter(|l| l.waiters.len() == 1 && readers.contains(&display_id(d, l.waiters[0])))
            .count();
        // Without addresses (debug=1, Delve) the Conds are one lock class, of
        // many waiters.
        if d.format == Format::Traceback {
            assert!(alone >= 16, "{}: {alone} locks of one reader", c.name());
        }
        // A debug=1 record of several readers is a queue of several.
        let of_one = |l: &&godeadlock::analyze::Lock| {
            l.waiters.len() == 1 && d.goroutines[l.waiters[0]].count == 1
        };
        for l in a.locks.iter().filter(of_one) {
            for h in &l.holders {
                assert!(
                    !h.evidence
                        .iter()
                        .any(|e| matches!(e.why, HolderWhy::Unique)),
                    "{}: goroutine {} is a holder of a lock of one waiter for its lone stack",
                    c.name(),
                    display_id(d, h.goroutine)
                );
            }
        }
    }
}
