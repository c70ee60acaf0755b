//! The other forms a dump comes in (`fixtures/formats`, all from real runs): what
//! is read from each is checked against its text, and against the other captures
//! of the same process.

mod common;

use std::path::PathBuf;

use godeadlock::input::{load, Loaded};
use godeadlock::model::Format;
use godeadlock::parse::Arena;

fn formats() -> PathBuf {
    common::root().join("fixtures/formats")
}

fn text_of(rel: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(formats().join(rel)).unwrap()).into_owned()
}

fn read<'a>(rel: &str, arena: &'a Arena) -> Loaded<'a> {
    load(&formats().join(rel), arena).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `goroutine N [` / `goroutine N gp=` headers in text, by string matching.
fn headers(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            l.strip_prefix("goroutine ").is_some_and(|r| {
                let d = r.bytes().take_while(u8::is_ascii_digit).count();
                d > 0 && (r[d..].starts_with(" [") || r[d..].starts_with(" gp="))
            })
        })
        .count()
}

#[test]
fn the_leak_profile_at_debug_1_reads_as_leaked_records() {
    let arena = Arena::new();
    let l = read("chan-leak/go1.27/leak1.txt", &arena);
    let text = text_of("chan-leak/go1.27/leak1.txt");
    let total: u64 = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("goroutineleak profile: total "))
        .and_then(|n| n.parse().ok())
        .expect("the leak profile's header");
    assert_eq!(l.parsed.dumps.len(), 1);
    let d = &l.parsed.dumps[0];
    assert_eq!(d.format, Format::Profile);
    assert!(d.leak_profile);
    assert_eq!(d.declared_total, Some(total));
    assert_eq!(d.total(), total);
    let records = text
        .lines()
        .filter(|l| {
            l.split_once(" @")
                .is_some_and(|(n, _)| n.parse::<u64>().is_ok())
        })
        .count();
    assert_eq!(d.goroutines.len(), records);
    assert!(d.goroutines.iter().all(|g| g.leaked && g.id.is_none()));
    // The goroutine profile of the same process is not a leak profile.
    let p = read("chan-leak/go1.27/debug1.txt", &arena);
    assert!(!p.parsed.dumps[0].leak_profile);
    assert!(p.parsed.dumps[0].goroutines.iter().all(|g| !g.leaked));
}

#[test]
fn the_leak_profile_at_debug_2_keeps_the_runtimes_marks() {
    let arena = Arena::new();
    let text = text_of("chan-leak/go1.27/leak2.txt");
    let l = read("chan-leak/go1.27/leak2.txt", &arena);
    let d = &l.parsed.dumps[0];
    assert_eq!(d.goroutines.len(), headers(&text));
    let marked = text
        .lines()
        .filter(|l| l.starts_with("goroutine ") && l.contains(" (leaked)"))
        .count();
    assert!(marked > 0);
    assert_eq!(d.goroutines.iter().filter(|g| g.leaked).count(), marked);
    // debug=1 of the leak profile counts the goroutines marked at debug=2 in its
    // records with a stack; Go 1.27 adds one record of no stack (`1 @` then `#\t0x0`).
    let one = read("chan-leak/go1.27/leak1.txt", &arena);
    let with_stack: u64 = one.parsed.dumps[0]
        .goroutines
        .iter()
        .filter(|g| g.frames.iter().any(|f| f.function.full() != "?"))
        .map(|g| g.count)
        .sum();
    assert_eq!(with_stack, marked as u64);
}

/// What a traceback reader read, line numbers aside: ids, states, frames, creators.
fn stacks(p: &godeadlock::parse::Parsed) -> Vec<String> {
    p.dumps
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            d.goroutines.iter().map(move |g| {
                let frames: Vec<String> = g
                    .frames_args()
                    .map(|(f, a)| format!("{}({}) {}:{}", f.function, a.render(), f.file, f.line))
                    .collect();
                format!(
                    "{i} {:?} {} {:?} {:?} {:?}",
                    g.id,
                    g.state.raw,
                    frames,
                    g.created_by().map(|c| (c.function.full(), c.parent)),
                    g.complete
                )
            })
        })
        .collect()
}

/// Each log in fixtures/formats/logs holds a real dump: read through its line
/// prefix, it reads as that dump does, snapshot for snapshot and goroutine for
/// goroutine, and every goroutine's line is the input line holding its header.
#[test]
fn dumps_inside_logs_read_as_the_dumps_themselves() {
    let cases = [
        ("logs/cri.log", "keyed-limiter/go1.27/sigquit.txt"),
        ("logs/docker.log", "triggers/go1.27/mapwrites.txt"),
        ("logs/journald.txt", "triggers/go1.27/abort.txt"),
        ("logs/kubectl.txt", "triggers/go1.27/stacklog.txt"),
        ("logs/klog.txt", "keyed-limiter/go1.27/debug2.txt"),
        ("logs/ansi.txt", "triggers/go1.27/mapwrites.txt"),
    ];
    for (log, source) in cases {
        let arena = Arena::new();
        let inner = read(source, &arena);
        let wrapped = read(log, &arena);
        let want = stacks(&inner.parsed);
        assert_eq!(want.len(), headers(&text_of(source)), "{source}");
        assert_eq!(stacks(&wrapped.parsed), want, "{log} vs {source}");
        fn dumps(p: &godeadlock::parse::Parsed) -> Vec<String> {
            p.dumps
                .iter()
                .map(|d| format!("{:?} {:?} {:?}", d.format, d.trigger, d.preamble))
                .collect()
        }
        assert_eq!(dumps(&wrapped.parsed), dumps(&inner.parsed), "{log}");
        let lines: Vec<String> = text_of(log).lines().map(String::from).collect();
        for d in &wrapped.parsed.dumps {
            for g in &d.goroutines {
                let at = &lines[g.line - 1];
                let id = g.id.unwrap();
                assert!(
                    at.contains(&format!("goroutine {id} ")),
                    "{log}: goroutine {id} at line {}: {at}",
                    g.line
                );
            }
        }
        // Through a pipe, gzipped, alike.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &std::fs::read(formats().join(log)).unwrap()).unwrap();
        let gz = gz.finish().unwrap();
        let dir = std::env::temp_dir().join(format!("godeadlock-formats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(log.replace('/', "_") + ".gz");
        std::fs::write(&path, gz).unwrap();
        let z = load(&path, &arena).unwrap();
        assert_eq!(stacks(&z.parsed), want, "{log}, gzipped");
        let _ = std::fs::remove_file(&path);
    }
}

/// The CRI log's long lines were written as P records: they are joined.
#[test]
fn cri_partial_lines_are_joined() {
    let text = text_of("logs/cri.log");
    assert!(text.lines().any(|l| l.contains(" stderr P ")));
    let arena = Arena::new();
    let l = read("logs/cri.log", &arena);
    // A SIGQUIT file line ends in ` fp=0x... sp=0x... pc=0x...`, past the 60th byte:
    // read, it was joined.
    let frames: Vec<_> = l.parsed.dumps[0]
        .goroutines
        .iter()
        .flat_map(|g| g.frames.iter())
        .collect();
    let source = text_of("keyed-limiter/go1.27/sigquit.txt");
    let with_pc = source
        .lines()
        .filter(|l| l.starts_with('\t') && l.contains(" pc=0x"))
        .count();
    assert!(with_pc > 0);
    let read_pc = frames.iter().filter(|f| f.pc.is_some()).count();
    let creators = source
        .lines()
        .zip(source.lines().skip(1))
        .filter(|(a, b)| a.starts_with("created by ") && b.contains(" pc=0x"))
        .count();
    assert_eq!(read_pc + creators, with_pc, "every pc= read");
}

/// A log on a pipe (read as a stream, not a mapped file) is unwrapped alike.
#[test]
fn a_log_on_a_pipe_is_read_through_its_prefix() {
    let log = std::fs::read(formats().join("logs/journald.txt")).unwrap();
    let out = assert_cmd::Command::cargo_bin("godeadlock")
        .unwrap()
        .args(["parse", "-"])
        .write_stdin(log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = v["goroutines"].as_array().unwrap().len();
    assert_eq!(n, headers(&text_of("triggers/go1.27/abort.txt")));
}

/// Each way programs/triggers printed its goroutines is told apart, on every Go
/// version, and every goroutine is read.
#[test]
fn triggers_are_recognised_on_every_version() {
    use godeadlock::model::Trigger;
    let cases = [
        ("mapwrites", Trigger::ConcurrentMap),
        ("overflow", Trigger::RuntimeThrow),
        ("abort", Trigger::Abort),
        ("timeout", Trigger::TestTimeout),
        ("stacklog", Trigger::Plain),
    ];
    for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
        for (mode, want) in cases {
            let rel = format!("triggers/{go}/{mode}.txt");
            let arena = Arena::new();
            let l = read(&rel, &arena);
            let got: usize = l.parsed.dumps.iter().map(|d| d.goroutines.len()).sum();
            assert_eq!(got, headers(&text_of(&rel)), "{rel}");
            assert!(l.parsed.dumps.iter().all(|d| d.trigger == want), "{rel}");
            // The two transfers of the lock-order deadlock are in every dump (in the
            // test binary the package is `fixtures/triggers`).
            for d in &l.parsed.dumps {
                let transfers = d
                    .goroutines
                    .iter()
                    .filter(|g| g.frames.iter().any(|f| f.function.name() == "transfer"))
                    .count();
                assert_eq!(transfers, 2, "{rel}");
            }
        }
    }
    // A coloured capture: escapes do not hide the trigger.
    let arena = Arena::new();
    let l = read("logs/ansi.txt", &arena);
    assert_eq!(l.parsed.dumps[0].trigger, Trigger::ConcurrentMap);
    assert!(text_of("logs/ansi.txt").contains('\x1b'));
}

/// The captures of one process with a binary profile beside its text ones.
fn profile_dirs() -> Vec<String> {
    let mut out = Vec::new();
    for s in ["chan-leak", "keyed-limiter", "variants"] {
        for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
            let d = format!("{s}/{go}");
            if formats().join(&d).join("debug0.pb.gz").exists() {
                out.push(d);
            }
        }
    }
    out
}

/// A record's frames as debug=1 prints them: leading runtime frames hidden.
fn as_debug1(g: &godeadlock::model::Goroutine) -> (u64, Vec<String>, Option<String>) {
    let frames: Vec<String> = g
        .frames
        .iter()
        .skip_while(|f| f.function.full().starts_with("runtime."))
        .map(|f| format!("{} {}:{}", f.function, f.file, f.line))
        .collect();
    (g.count, frames, g.labels().map(String::from))
}

/// The binary profile (as served, gzipped, and not gzipped) decodes into the same
/// records as the process's debug=1 profile: same total, same stacks and counts for
/// the program's own goroutines (the HTTP server's come and go between two
/// requests), same labels; and the analysis gives the same verdict from debug=0, 1
/// and 2.
#[test]
fn the_binary_profile_reads_as_debug_1_does() {
    let dirs = profile_dirs();
    assert!(dirs.len() >= 11, "{dirs:?}");
    for d in dirs {
        let arena = Arena::new();
        let gz = read(&format!("{d}/debug0.pb.gz"), &arena);
        let raw = read(&format!("{d}/debug0.pb"), &arena);
        let one = read(&format!("{d}/debug1.txt"), &arena);
        let two = read(&format!("{d}/debug2.txt"), &arena);
        let (p0, p1) = (&gz.parsed.dumps, &one.parsed.dumps);
        assert_eq!((p0.len(), raw.parsed.dumps.len()), (1, 1), "{d}");
        let (p0, p1) = (&p0[0], &p1[0]);
        assert_eq!(p0.format, Format::Profile, "{d}");
        assert_eq!(p0.total(), p1.total(), "{d}: total");
        assert_eq!(p0.declared_total, Some(p0.total()), "{d}");
        let view = |d: &godeadlock::model::Dump| -> Vec<_> {
            let mut v: Vec<_> = d
                .goroutines
                .iter()
                .map(as_debug1)
                .filter(|(_, f, _)| f.iter().any(|f| f.starts_with("main.")))
                .collect();
            v.sort();
            v
        };
        assert_eq!(view(p0), view(&raw.parsed.dumps[0]), "{d}: gzipped or not");
        assert!(!view(p0).is_empty(), "{d}");
        assert_eq!(view(p0), view(p1), "{d}: stacks vs debug=1");
        let labels = |d: &godeadlock::model::Dump| -> Vec<String> {
            let mut v: Vec<_> = d
                .goroutines
                .iter()
                .filter_map(|g| g.labels())
                .map(String::from)
                .collect();
            v.sort();
            v
        };
        assert_eq!(labels(p0), labels(p1), "{d}: labels");
        if d.starts_with("variants") {
            assert!(!labels(p0).is_empty(), "{d}: the labelled goroutine");
        }
        let verdict = |dump: &godeadlock::model::Dump| {
            godeadlock::analyze::analyze(dump, Default::default()).verdict
        };
        assert_eq!(verdict(p0), verdict(p1), "{d}: verdict debug=0 vs 1");
        // debug=2 tells more (states, arguments, creators): it may see a leak the
        // aggregated forms cannot, never the other way round.
        let full = verdict(&two.parsed.dumps[0]);
        assert!(
            verdict(p0) == full || verdict(p0) == godeadlock::analyze::Verdict::Ok,
            "{d}: verdict debug=0 {:?} vs debug=2 {full:?}",
            verdict(p0)
        );
    }
}

/// The binary leak profile: every record leaked, the same total as at debug=1.
#[test]
fn the_binary_leak_profile_reads_as_leaked_records() {
    let arena = Arena::new();
    let bin = read("chan-leak/go1.27/leak0.pb.gz", &arena);
    let one = read("chan-leak/go1.27/leak1.txt", &arena);
    let d = &bin.parsed.dumps[0];
    assert!(d.leak_profile);
    assert!(d.goroutines.iter().all(|g| g.leaked));
    assert_eq!(d.total(), one.parsed.dumps[0].total());
    let go = read("chan-leak/go1.27/debug0.pb.gz", &arena);
    assert!(!go.parsed.dumps[0].leak_profile);
}

/// A binary profile cut short (an interrupted transfer) is a clear error, exit 2.
#[test]
fn a_cut_binary_profile_is_refused_clearly() {
    let bytes = std::fs::read(formats().join("keyed-limiter/go1.27/debug0.pb")).unwrap();
    let out = assert_cmd::Command::cargo_bin("godeadlock")
        .unwrap()
        .args(["analyze", "-"])
        .write_stdin(bytes[..bytes.len() / 2].to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("<stdin>: this looks like a binary pprof profile") && err.lines().count() == 1,
        "{err}"
    );
}

/// Delve's listings with each location flag, labels and groups: every goroutine
/// line read, the footer's or the groups' totals kept, the prompt and Delve's own
/// messages skipped.
#[test]
fn delve_listings_of_every_kind_parse() {
    let mut checked = 0;
    for d in profile_dirs() {
        for kind in ["u", "r", "s", "l", "group", "session"] {
            let rel = format!("{d}/delve-{kind}.txt");
            if !formats().join(&rel).exists() {
                continue;
            }
            let text = text_of(&rel);
            let arena = Arena::new();
            let l = read(&rel, &arena);
            assert_eq!(l.parsed.dumps.len(), 1, "{rel}");
            let dump = &l.parsed.dumps[0];
            assert_eq!(dump.format, Format::Delve, "{rel}");
            let listed = text
                .lines()
                .filter(|l| l.contains("Goroutine ") && l.contains(" - "))
                .count();
            assert_eq!(dump.goroutines.len(), listed, "{rel}");
            let declared: u64 = if kind == "group" {
                text.lines()
                    .filter_map(|l| l.trim().strip_prefix("Total: "))
                    .map(|n| n.parse::<u64>().unwrap())
                    .sum()
            } else {
                text.lines()
                    .find_map(|l| l.strip_prefix('[')?.strip_suffix(" goroutines]"))
                    .map(|n| n.parse().unwrap())
                    .unwrap()
            };
            assert_eq!(dump.declared_total, Some(declared), "{rel}");
            assert!(dump.diagnostics.is_empty(), "{rel}: {:?}", dump.diagnostics);
            if kind == "l" && d.starts_with("variants") {
                let labels: Vec<_> = dump.goroutines.iter().filter_map(|g| g.labels()).collect();
                assert_eq!(labels, [r#""request":"r 1", "tenant":"acme""#], "{rel}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked}");
}

/// `goroutine N` then `stack` (and `goroutine M` then `bt`) in one Delve session:
/// the frames printed attach to goroutine N (and M), so the holder's lock site is
/// read from them and the analysis names the real holder.
#[test]
fn a_delve_session_attaches_stacks_to_their_goroutines() {
    for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
        let rel = format!("keyed-limiter/{go}/delve-session.txt");
        let text = text_of(&rel);
        let arena = Arena::new();
        let l = read(&rel, &arena);
        let dump = &l.parsed.dumps[0];
        let lines: Vec<&str> = text.lines().collect();
        let mut switched = 0;
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.strip_prefix("(dlv) Switched from ") else {
                continue;
            };
            let id: u64 = rest.split(' ').nth(2).unwrap().parse().unwrap();
            let frames = lines[i + 1..]
                .iter()
                .enumerate()
                .take_while(|(k, l)| *k == 0 || !l.starts_with("(dlv)"))
                .filter(|(_, l)| l.contains(" in ") && l.contains("0x"))
                .count();
            let g = dump.goroutines.iter().find(|g| g.id == Some(id)).unwrap();
            assert_eq!(g.frames.len(), frames, "{rel}: goroutine {id}");
            assert!(frames > 3, "{rel}");
            switched += 1;
        }
        assert_eq!(switched, 2, "{rel}");
        let truth: serde_json::Value =
            serde_json::from_str(&text_of(&format!("keyed-limiter/{go}/truth.json"))).unwrap();
        let holder = truth["holders"][0].as_u64().unwrap();
        let a = godeadlock::analyze::analyze(dump, Default::default());
        let f = a
            .findings
            .iter()
            .find(|f| f.kind == godeadlock::analyze::FindingKind::Deadlock)
            .unwrap_or_else(|| panic!("{rel}: no deadlock"));
        let holders: Vec<u64> = f
            .holders
            .iter()
            .map(|&h| godeadlock::analyze::display_id(dump, h))
            .collect();
        assert!(
            holders.contains(&holder),
            "{rel}: holders {holders:?}, truth {holder}"
        );
    }
}

/// A crash's capture (a `fatal error:` or a `panic:` nothing recovered, on every
/// version) says the program crashed, with the runtime's own line and, where one
/// goroutine alone ran, the one that threw or panicked; a hang (a test's
/// timeout, a supervisor's SIGABRT) and a program's own stack log say nothing
/// of a crash.
#[test]
fn a_crash_is_said_with_the_runtimes_line_and_its_goroutine() {
    use godeadlock::analyze::{analyze, Note, Options};
    let (mut crashes, mut named) = (0, 0);
    for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
        for (file, first) in [
            ("mapwrites.txt", Some("fatal error: concurrent map writes")),
            ("overflow.txt", Some("fatal error: stack overflow")),
            ("abort.txt", None),
            ("timeout.txt", None),
            ("stacklog.txt", None),
        ] {
            let rel = format!("triggers/{go}/{file}");
            if !formats().join(&rel).exists() {
                continue;
            }
            let text = text_of(&rel);
            let parsed = godeadlock::parse::parse(&text);
            let d = parsed.latest().expect("a dump");
            let a = analyze(d, Options::default());
            let crash = a.notes.iter().find_map(|n| match n {
                Note::Crashed { message, goroutine } => Some((message.clone(), *goroutine)),
                _ => None,
            });
            match (first, crash) {
                (Some(line), Some((message, goroutine))) => {
                    assert_eq!(message, line, "{rel}");
                    assert!(text.lines().any(|l| l == line), "{rel}");
                    if let Some(g) = goroutine {
                        let header = format!("goroutine {g} [running]:");
                        assert!(text.contains(&header), "{rel}: {header}");
                        named += 1;
                    }
                    crashes += 1;
                }
                (None, None) => {}
                (want, got) => panic!("{rel}: {want:?} wanted, {got:?} found"),
            }
        }
    }
    assert!(
        crashes >= 8 && named >= 4,
        "{crashes} crashes read, {named} named"
    );
}
