//! Metamorphic checks over every committed dump (`fixtures/dumps/**/*.txt`, and
//! `fixtures/synth/corpus/**/*.txt` when present): relabelling goroutine ids,
//! reordering the goroutines of each snapshot and shifting heap addresses in the
//! argument lists must leave the analysis alike once ids and addresses are mapped
//! back: the verdict, and each finding's kind, confidence, holders, waiters, cycle,
//! lock address and primitive. Nothing here is specific to one fixture.

mod common;
#[path = "common/metamorphic.rs"]
mod metamorphic;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::root;
use godeadlock::model::Format;
use godeadlock::parse::parse;
use metamorphic::{diff, dumps_under, relabel, reorder, shift, summary, unshift, Naming};

fn all_dumps() -> Vec<PathBuf> {
    let mut v = dumps_under(&root().join("fixtures/dumps"));
    v.extend(dumps_under(&root().join("fixtures/synth/corpus")));
    v
}

/// (id, parent id) of every goroutine of every snapshot, ids sent through `map`.
fn ids_and_parents(text: &str, map: Option<&BTreeMap<u64, u64>>) -> Vec<Vec<(u64, Option<u64>)>> {
    let m = |id: u64| map.and_then(|m| m.get(&id).copied()).unwrap_or(id);
    parse(text)
        .dumps
        .iter()
        .map(|d| {
            let mut v: Vec<(u64, Option<u64>)> = d
                .goroutines
                .iter()
                .filter_map(|g| Some((m(g.id?), g.created_by().and_then(|c| c.parent).map(m))))
                .collect();
            v.sort_unstable();
            v
        })
        .collect()
}

/// (dump, transform) pairs known to change the findings, each with why: reported,
/// not failed, until fixed; one that starts passing fails the test, so that it is
/// taken off this list.
const KNOWN: &[(&str, &str, &str)] = &[];

struct Outcome {
    /// (dump, transform) pairs checked.
    checked: usize,
    failures: Vec<String>,
    /// Failures listed in `KNOWN`.
    known: Vec<String>,
    /// Pairs listed in `KNOWN` that now pass with every seed.
    fixed: Vec<String>,
}

/// How many seeds each transform is tried with: `GODEADLOCK_METAMORPHIC_SEEDS`, or 2.
fn seeds() -> usize {
    std::env::var("GODEADLOCK_METAMORPHIC_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

fn check(path: &PathBuf) -> Outcome {
    let rel = path
        .strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let want = summary(&text, &Naming::plain());
    let has_ids = parse(&text)
        .dumps
        .iter()
        .any(|d| d.format != Format::Profile && d.goroutines.iter().any(|g| g.id.is_some()));
    let mut out = Outcome {
        checked: 0,
        failures: Vec::new(),
        known: Vec::new(),
        fixed: Vec::new(),
    };
    let mut judge = |transform: &str, got: Vec<String>, extra: Option<String>| {
        out.checked += 1;
        let mut problems = String::new();
        if let Some(e) = extra {
            problems.push_str(&e);
        }
        if got != want {
            problems.push_str(&diff(&want, &got));
        }
        let known = KNOWN
            .iter()
            .any(|(d, t, _)| *d == rel && transform.starts_with(t));
        if !problems.is_empty() {
            let line = format!("{rel} [{transform}]: (- original, + transformed)\n{problems}");
            if known {
                out.known.push(line);
            } else {
                out.failures.push(line);
            }
        }
    };

    for seed in 0..seeds() {
        let tag = |t: &str| {
            if seed == 0 {
                t.to_string()
            } else {
                format!("{t}, seed {seed}")
            }
        };
        // 1. Relabel goroutine ids.
        if has_ids {
            let r = relabel(&text, &format!("relabel {rel} {seed}"));
            let back: BTreeMap<u64, u64> = r.map.iter().map(|(&a, &b)| (b, a)).collect();
            let moved = r.map.iter().filter(|(a, b)| a != b).count();
            let mut extra = None;
            if moved == 0 && r.map.len() >= 2 {
                extra = Some("    the relabelling moved no id\n".to_string());
            } else if ids_and_parents(&r.text, Some(&back)) != ids_and_parents(&text, None) {
                extra = Some(
                "    the relabelled dump does not parse to the same ids and parents mapped back\n"
                    .to_string(),
            );
            }
            let naming = Naming {
                ids_back: Some(&back),
                addr_back: |a| a,
            };
            judge(&tag("relabel ids"), summary(&r.text, &naming), extra);
        }

        // 2. Reorder the goroutines of each snapshot.
        let (t, perms) = reorder(&text, &format!("reorder {rel} {seed}"));
        if perms.iter().any(|p| p.len() >= 2) {
            let extra = (ids_and_parents(&t, None) != ids_and_parents(&text, None)).then(|| {
                "    the reordered dump does not parse to the same goroutines\n".to_string()
            });
            judge("reorder goroutines", summary(&t, &Naming::plain()), extra);
        }

        // 3. Shift heap addresses (one way: no seed).
        let (t, moved) = shift(&text);
        if moved > 0 && seed == 0 {
            let naming = Naming {
                ids_back: None,
                addr_back: unshift,
            };
            judge("shift addresses", summary(&t, &naming), None);
        }
    }
    for (d, t, _) in KNOWN.iter().filter(|(d, _, _)| *d == rel) {
        let head = format!("{d} [{t}");
        if !out.known.iter().any(|k| k.starts_with(&head)) {
            out.fixed.push(format!("{d} [{t}]"));
        }
    }
    out
}

#[test]
fn findings_do_not_depend_on_ids_order_or_addresses() {
    let dumps = all_dumps();
    assert!(dumps.len() > 100, "only {} dumps found", dumps.len());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = dumps.get(i) else { break };
                        mine.push((i, check(p)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread"))
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|r| r.0);
    let checked: usize = results.iter().map(|r| r.1.checked).sum();
    let known: Vec<String> = results.iter().flat_map(|r| r.1.known.clone()).collect();
    let fixed: Vec<String> = results.iter().flat_map(|r| r.1.fixed.clone()).collect();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1.failures).collect();
    if !known.is_empty() {
        eprintln!(
            "{} known failures (KNOWN in tests/metamorphic.rs):\n{}",
            known.len(),
            known.join("\n")
        );
    }
    assert!(
        fixed.is_empty(),
        "listed in KNOWN but no longer failing (take them off the list): {fixed:?}"
    );
    assert!(
        checked > 2 * dumps.len(),
        "only {checked} (dump, transform) pairs checked over {} dumps",
        dumps.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} (dump, transform) pairs over {} dumps change the findings:\n{}",
        failures.len(),
        dumps.len(),
        failures.join("\n")
    );
}

/// The transforms themselves, on a small dump of each kind.
#[test]
fn transforms_do_what_they_say() {
    let tb = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n\ngoroutine 7 [sync.Mutex.Lock]:\nmain.f(0xc000012340, 0x10)\n\t/x/main.go:10 +0x1d\ncreated by main.main in goroutine 1\n\t/x/main.go:20 +0x25\n\ngoroutine 9 [chan receive]:\nmain.g(...)\n\t/x/main.go:11\ncreated by main.main in goroutine 7\n\t/x/main.go:21 +0x25\n";
    let r = relabel(tb, "t");
    assert_eq!(r.map.len(), 3);
    assert!(r.map.iter().any(|(a, b)| a != b));
    for (a, b) in &r.map {
        assert!(r.text.contains(&format!("goroutine {b} [")), "{a} -> {b}");
    }
    let (t, perms) = reorder(tb, "t");
    assert_eq!(perms.len(), 1);
    assert_ne!(perms[0], vec![0, 1, 2]);
    assert!(t.starts_with("panic: boom\n\n"));
    assert_eq!(t.len(), tb.len());
    assert_ne!(t, tb);
    let (t, moved) = shift(tb);
    assert_eq!(moved, 1);
    assert!(t.contains("main.f(0xc000022340, 0x10)\n\t/x/main.go:10 +0x1d\n"));

    let dlv = "(dlv)   Goroutine 1 - User: ./m.go:3 main.main (0x1) [select]\n\t0  0x1 in main.main\n\t    at ./m.go:3\n* Goroutine 2 - User: ./m.go:4 main.f (0x2) [chan receive]\n\t0  0x2 in main.f\n\t    at ./m.go:4\n[2 goroutines]\n";
    let (t, _) = reorder(dlv, "t");
    assert!(t.starts_with("(dlv) * Goroutine 2 - "), "{t}");
    assert!(t.ends_with("  Goroutine 1 - User: ./m.go:3 main.main (0x1) [select]\n\t0  0x1 in main.main\n\t    at ./m.go:3\n[2 goroutines]\n"), "{t}");
    let r = relabel(dlv, "t");
    assert!(r
        .text
        .contains(&format!("(dlv)   Goroutine {} - ", r.map[&1])));
    assert!(r.text.contains(&format!("* Goroutine {} - ", r.map[&2])));

    let prof = "goroutine profile: total 3\n2 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/x/m.go:3\n\n1 @ 0x3 0x4\n#\t0x3\tmain.g+0x1\t/x/m.go:4\n\n";
    let (t, perms) = reorder(prof, "t");
    assert_eq!(perms, vec![vec![1, 0]]);
    assert_eq!(
        t,
        "goroutine profile: total 3\n1 @ 0x3 0x4\n#\t0x3\tmain.g+0x1\t/x/m.go:4\n\n2 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/x/m.go:3\n\n"
    );
}

/// A ring of goroutines alike but for their arguments, each holding the mutex the
/// other waits for: no lock and no holder can be told apart but by ids, input order
/// or addresses, so the deadlock names them all, and no transform moves it.
#[test]
fn a_ring_of_alike_goroutines_names_every_holder_and_waiter() {
    let g = |id: u64, wait: &str, from: &str, to: &str, arg: u32| {
        format!(
            "goroutine {id} [semacquire]:\nsync.runtime_SemacquireMutex(0xc00003ee80?, 0x1?, 0x0?)\n\t/usr/lib/go-1.19/src/runtime/sema.go:77 +0x25\nsync.(*Mutex).lockSlow({wait})\n\t/usr/lib/go-1.19/src/sync/mutex.go:171 +0x165\nsync.(*Mutex).Lock(...)\n\t/usr/lib/go-1.19/src/sync/mutex.go:90\nmain.(*shard).migrateTo({from}, {to}, 0x1?)\n\t/x/ring/main.go:22 +0xe5\nmain.main.func1({arg:#x})\n\t/x/ring/main.go:37 +0x59\ncreated by main.main\n\t/x/ring/main.go:37 +0x2d1\n\n"
        )
    };
    let text = format!(
        "goroutine 1 [select (no cases)]:\nmain.main()\n\t/x/ring/main.go:44 +0x7c5\n\n{}{}{}",
        g(7, "0xc000062610", "0xc000062500", "0xc000062600", 0),
        g(8, "0xc000062710", "0xc000062600", "0xc000062700", 1),
        g(9, "0xc000062510", "0xc000062700", "0xc000062500", 2),
    );
    let want = summary(&text, &Naming::plain());
    let deadlock = want
        .iter()
        .find(|l| l.contains(" deadlock "))
        .unwrap_or_else(|| panic!("no deadlock in {want:#?}"));
    assert!(
        deadlock.contains("lock - - holders {7, 8, 9} waiters {7, 8, 9} cycle {7, 8, 9}"),
        "{deadlock}"
    );
    for seed in 0..8 {
        let (t, _) = reorder(&text, &format!("ring {seed}"));
        assert_eq!(summary(&t, &Naming::plain()), want, "reordered:\n{t}");
        let r = relabel(&text, &format!("ring {seed}"));
        let back: BTreeMap<u64, u64> = r.map.iter().map(|(&a, &b)| (b, a)).collect();
        let naming = Naming {
            ids_back: Some(&back),
            addr_back: |a| a,
        };
        assert_eq!(summary(&r.text, &naming), want, "relabelled:\n{}", r.text);
    }
}
