//! Every committed real dump parses, and what the parser read agrees with the text
//! itself, checked here with plain string operations rather than the parser's nom
//! grammar.

mod common;

use common::captures;
use godeadlock::model::Format;
use godeadlock::parse::parse;

fn text_of(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// `goroutine 18 [` or `goroutine 0 gp=0x... [`: a traceback header, by string matching.
fn is_header(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("goroutine ") else {
        return false;
    };
    let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && (rest[digits..].starts_with(" [") || rest[digits..].starts_with(" gp="))
}

#[test]
fn fixtures_exist_for_every_version_and_capture_path() {
    let all = captures();
    assert!(!all.is_empty(), "no fixtures found under fixtures/dumps");
    for go in ["go1.19", "go1.21", "go1.23", "go1.25", "go1.27"] {
        for kind in ["debug2", "debug1", "sigquit"] {
            assert!(
                all.iter().any(|c| c.go == go && c.kind == kind),
                "no {kind} capture for {go}"
            );
        }
    }
    for kind in ["panic", "asleep", "delve"] {
        assert!(
            all.iter().any(|c| c.kind == kind),
            "no {kind} capture at all"
        );
    }
}

#[test]
fn every_fixture_parses_and_counts_match_the_text() {
    for c in captures() {
        let text = text_of(&c.path);
        let parsed = parse(&text);
        let name = c.name();
        assert!(!parsed.dumps.is_empty(), "{name}: no dump found");
        let format = parsed.dumps[0].format;
        match format {
            Format::Traceback => {
                let headers = text
                    .lines()
                    .filter(|l| is_header(l.trim_end_matches('\r')))
                    .count();
                let got: usize = parsed.dumps.iter().map(|d| d.goroutines.len()).sum();
                assert_eq!(
                    got, headers,
                    "{name}: goroutines parsed vs `goroutine N [` headers"
                );
            }
            Format::Profile => {
                let total: u64 = text
                    .lines()
                    .find_map(|l| l.strip_prefix("goroutine profile: total "))
                    .and_then(|n| n.trim().parse().ok())
                    .expect("total line");
                assert_eq!(
                    parsed.dumps[0].total(),
                    total,
                    "{name}: record counts vs total"
                );
                assert_eq!(parsed.dumps[0].declared_total, Some(total));
                assert!(parsed.dumps[0].goroutines.iter().all(|g| g.id.is_none()));
            }
            Format::Delve => {
                let lines = text
                    .lines()
                    .filter(|l| l.contains("Goroutine ") && l.contains(" - "))
                    .count();
                let got: usize = parsed.dumps.iter().map(|d| d.goroutines.len()).sum();
                assert_eq!(got, lines, "{name}: goroutines parsed vs Goroutine lines");
                if let Some(n) = parsed.dumps[0].declared_total {
                    assert_eq!(n as usize, got, "{name}: footer count");
                }
            }
        }
        for d in &parsed.dumps {
            assert!(
                d.diagnostics
                    .iter()
                    .all(|x| x.kind != godeadlock::model::DiagnosticKind::UnrecognisedLine),
                "{name}: unexpected diagnostics {:?}",
                d.diagnostics
            );
        }
    }
}

/// The block of lines of the goroutine whose header is at 1-based `line`.
fn block(lines: &[&str], line: usize) -> Vec<String> {
    lines[line - 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

#[test]
fn traceback_fields_agree_with_the_text() {
    let mut checked = 0;
    for c in captures() {
        let text = text_of(&c.path);
        let lines: Vec<&str> = text.split('\n').collect();
        let parsed = parse(&text);
        for d in parsed
            .dumps
            .iter()
            .filter(|d| d.format == Format::Traceback)
        {
            for g in &d.goroutines {
                let name = format!("{} line {}", c.name(), g.line);
                let b = block(&lines, g.line);
                let header = &b[0];
                let id = g.id.expect("traceback goroutines have ids");
                assert!(
                    header.starts_with(&format!("goroutine {id} ")),
                    "{name}: id {id} vs {header}"
                );
                assert!(
                    header.contains(&format!("[{}", g.state.raw)),
                    "{name}: state {:?} vs {header}",
                    g.state.raw
                );
                match g.wait_minutes {
                    Some(m) => assert!(
                        header.contains(&format!(", {m} minutes")),
                        "{name}: minutes"
                    ),
                    None => assert!(!header.contains(" minutes"), "{name}: minutes missed"),
                }
                if g.stack_unavailable || !g.complete {
                    continue;
                }
                // First frame: the line after the header.
                let first = &g.frames[0];
                assert!(
                    b[1].starts_with(&format!("{}(", first.function)),
                    "{name}: first frame {} vs {}",
                    first.function,
                    b[1]
                );
                assert!(
                    b[2].contains(&format!("{}:{}", first.file, first.line)),
                    "{name}: first file line"
                );
                // Last frame and creator, read from the end of the block.
                let created = b.iter().position(|l| l.starts_with("created by "));
                let body_end = created.unwrap_or(b.len());
                let last_fn = b[1..body_end]
                    .iter()
                    .rev()
                    .find(|l| !l.starts_with('\t') && !l.starts_with("...") && !l.starts_with('['))
                    .expect("a function line");
                let last = g.frames.last().unwrap();
                assert!(
                    last_fn.starts_with(&format!("{}(", last.function)),
                    "{name}: last frame {} vs {last_fn}",
                    last.function
                );
                match (created, &g.created_by()) {
                    (Some(i), Some(cb)) => {
                        let l = &b[i]["created by ".len()..];
                        let (func, parent) = match l.split_once(" in goroutine ") {
                            Some((f, p)) => (f, Some(p.parse::<u64>().unwrap())),
                            None => (l, None),
                        };
                        assert_eq!(cb.function.full(), func, "{name}: creator");
                        assert_eq!(cb.parent, parent, "{name}: creator's goroutine");
                        assert!(
                            b[i + 1].contains(&format!("{}:{}", cb.file, cb.line)),
                            "{name}: creator location"
                        );
                    }
                    (None, None) => {}
                    (t, p) => panic!("{name}: created by in text {t:?} vs parsed {p:?}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} goroutines checked");
}

#[test]
fn parent_ids_appear_from_go_1_21_only() {
    for c in captures().into_iter().filter(|c| c.kind == "debug2") {
        let text = text_of(&c.path);
        let parsed = parse(&text);
        let d = &parsed.dumps[0];
        let with_parent = d
            .goroutines
            .iter()
            .filter(|g| {
                g.created_by()
                    .as_ref()
                    .is_some_and(|cb| cb.parent.is_some())
            })
            .count();
        if c.go == "go1.19" {
            assert_eq!(with_parent, 0, "{}", c.name());
        } else {
            assert!(with_parent > 0, "{}", c.name());
            assert!(
                d.go_version_min >= Some("go1.21"),
                "{}: {:?}",
                c.name(),
                d.go_version_min
            );
        }
    }
}

/// The variants program's goroutines, by role, in every debug=2 and SIGQUIT capture.
#[test]
fn rare_forms_from_the_variants_program() {
    let mut seen = 0;
    for c in captures()
        .into_iter()
        .filter(|c| c.scenario == "variants" && (c.kind == "debug2" || c.kind == "sigquit"))
    {
        let truth = c.truth().unwrap();
        let role = |r: &str| truth["roles"][r].as_u64().unwrap();
        let text = text_of(&c.path);
        let parsed = parse(&text);
        let d = &parsed.dumps[0];
        let g = |id: u64| {
            d.goroutines
                .iter()
                .find(|g| g.id == Some(id))
                .unwrap_or_else(|| panic!("{}: no goroutine {id}", c.name()))
        };
        let name = c.name();
        assert!(
            g(role("locked")).locked_to_thread,
            "{name}: locked to thread"
        );
        let deep = g(role("deep"));
        // Go 1.19's runtime.Stack (debug=2) stops at 100 frames without a marker;
        // its SIGQUIT traceback and every later version print one.
        if !(c.go == "go1.19" && c.kind == "debug2") {
            assert!(deep.elided().is_some(), "{name}: elided frames");
        }
        assert!(
            deep.frames.len() >= 50 && deep.created_by().is_some(),
            "{name}: both ends of an elided stack"
        );
        assert!(
            g(role("generic"))
                .frames
                .iter()
                .any(|f| f.function.full().contains("waitFor[")),
            "{name}: generic frame"
        );
        // GODEBUG=tracebackancestors=5: the grandchild's stack names its ancestors.
        let gc = g(role("grandchild"));
        assert!(!gc.ancestors().is_empty(), "{name}: ancestors");
        assert!(
            gc.created_by()
                .as_ref()
                .is_some_and(|cb| cb.function.full().starts_with("main.spawnChild")),
            "{name}: own creator kept"
        );
        if c.go == "go1.27" {
            let l = g(role("labelled"))
                .labels()
                .unwrap_or_else(|| panic!("{name}: labels in header"));
            assert!(
                l.contains("tenant: acme") && l.contains("\"r 1\""),
                "{name}: {l}"
            );
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} variants captures");
}

/// Everything parsed, argument values included, as text to compare.
fn view(p: &godeadlock::parse::Parsed) -> String {
    let mut s = format!("skipped={} first={:?}\n", p.skipped_lines, p.first_skipped);
    for d in &p.dumps {
        s += &format!(
            "dump {:?} {:?} line={} pre={:?} total={:?} v={:?}/{:?} diags={:?}\n",
            d.format,
            d.trigger,
            d.first_line,
            d.preamble,
            d.declared_total,
            d.go_version,
            d.go_version_min,
            d.diagnostics
        );
        for g in &d.goroutines {
            let frames: Vec<String> = g
                .frames_args()
                .map(|(f, a)| {
                    format!(
                        "{}({}) {}:{} {:?}",
                        f.function,
                        a.render(),
                        f.file,
                        f.line,
                        f.offset
                    )
                })
                .collect();
            s += &format!(
                "{:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {}\n",
                g.id,
                g.line,
                g.state,
                g.wait_minutes,
                g.labels(),
                g.created_by(),
                frames,
                g.elided(),
                g.complete
            );
        }
    }
    s
}

/// The whole answer for every dump: the analysis as JSON.
fn answer(p: &godeadlock::parse::Parsed) -> String {
    let mut out = Vec::new();
    for d in p.dumps.iter().filter(|d| !d.goroutines.is_empty()) {
        let a = godeadlock::analyze::analyze(d, godeadlock::analyze::Options::default());
        godeadlock::report::json::write_analysis(&mut out, "x", d, &a, false).unwrap();
    }
    String::from_utf8(out).unwrap()
}

/// Reads `bytes` every way (one piece; no fast path for repeated stacks; parts on
/// threads; streamed and in place, in blocks of 1 byte to 1 MiB on 1 to 3 threads)
/// and checks each gives what one piece gives, and the same analysis.
fn read_alike(name: &str, bytes: &[u8]) {
    use godeadlock::parse::{
        parse_bytes, parse_parallel, parse_reader, parse_serial, parse_without_shortcuts, Arena,
        StreamOptions,
    };
    // Invalid UTF-8 is made `?` byte for byte, as every reader does.
    let mut copy = bytes.to_vec();
    let text = godeadlock::parse::sanitize_utf8(&mut copy).to_string();
    let parsed = parse_serial(&text);
    let serial = view(&parsed);
    let serial_answer = answer(&parsed);
    assert_eq!(
        view(&parse_without_shortcuts(&text)),
        serial,
        "{name}: repeated stacks read apart"
    );
    for parts in [2, 3, 5] {
        let p = parse_parallel(&text, parts);
        assert_eq!(view(&p), serial, "{name} in {parts} parts");
        assert_eq!(answer(&p), serial_answer, "{name} in {parts} parts");
    }
    for (threads, block) in [(1, 1 << 20), (1, 300), (2, 700), (3, 2000), (2, 1), (2, 97)] {
        let arena = Arena::new();
        let opts = StreamOptions {
            threads,
            block,
            max_goroutines: u64::MAX,
        };
        let streamed = parse_reader(bytes, &arena, opts).unwrap();
        assert_eq!(
            view(&streamed),
            serial,
            "{name} streamed by {threads} threads in blocks of {block}"
        );
        assert_eq!(answer(&streamed), serial_answer, "{name}");
        let arena = Arena::new();
        let mapped = parse_bytes(bytes, &arena, opts, &|_, _| {}).unwrap();
        assert_eq!(
            view(&mapped),
            serial,
            "{name} read in place by {threads} threads in pieces of {block}"
        );
        assert_eq!(
            answer(&mapped),
            serial_answer,
            "{name} read in place by {threads} threads in pieces of {block}"
        );
        // Stacks that read the same are one frame list, whichever thread read them.
        for d in &mapped.dumps {
            let mut seen: Vec<&std::sync::Arc<[godeadlock::model::Frame]>> = Vec::new();
            for g in &d.goroutines {
                match seen.iter().find(|f| f[..] == g.frames[..]) {
                    Some(f) => assert!(
                        std::sync::Arc::ptr_eq(f, &g.frames),
                        "{name}: goroutine {:?} has a second copy of a stack",
                        g.id
                    ),
                    None => seen.push(&g.frames),
                }
            }
        }
    }
}

/// Inputs the fuzzer (`fuzz/run.sh`) found read differently one way and another,
/// kept once fixed. Not real dumps: real dumps mutated (bad-input cases).
#[test]
fn fuzz_regressions_read_alike() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        read_alike(
            &e.path().display().to_string(),
            &std::fs::read(e.path()).unwrap(),
        );
        n += 1;
    }
    assert!(n > 0);
}

/// Bytes that are not UTF-8 in a real dump, where the fast path for repeated stacks
/// would skip them (a file line, an argument list, a creator line of a stack read
/// before) and where it reads (a header): every way of reading repairs them alike.
/// A bad-input case: a real dump with bytes overwritten.
#[test]
fn bytes_not_utf8_read_alike_wherever_they_are() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dumps/keyed-limiter/go1.27/debug2.txt");
    let real = std::fs::read(path).unwrap();
    // The last Cond waiter's stack: its shape was read before (the waiters share one).
    let cond = real
        .windows(16)
        .rposition(|w| w == b"[sync.Cond.Wait]")
        .unwrap();
    let last = real[..cond]
        .windows(11)
        .rposition(|w| w == b"\ngoroutine ")
        .unwrap();
    let find = |what: &[u8]| {
        last + real[last..]
            .windows(what.len())
            .position(|w| w == what)
            .unwrap_or_else(|| panic!("{:?} in the last waiter", String::from_utf8_lossy(what)))
    };
    let spots = [
        ("file line", find(b".go:") + 2),
        ("argument list", find(b"(0x") + 2),
        ("creator", find(b"created by ") + 3),
        ("header", last + 3),
    ];
    for (what, at) in spots {
        let mut bytes = real.clone();
        bytes[at] = 0xff;
        read_alike(&format!("0xff in a {what}"), &bytes);
    }
}

/// Reading on several threads, or as a stream in blocks of any size, gives exactly
/// what reading on one thread in one piece gives, for every fixture; and so does
/// the analysis.
#[test]
fn every_way_of_reading_gives_the_same_answer() {
    use godeadlock::parse::{
        parse_bytes, parse_parallel, parse_reader, parse_serial, Arena, StreamOptions,
    };
    let mut n = 0;
    for c in captures() {
        read_alike(&c.name(), &std::fs::read(&c.path).unwrap());
        n += 1;
    }
    // Several dumps back to back, with preambles between them, cut anywhere.
    let all: Vec<String> = captures()
        .iter()
        .filter(|c| c.go == "go1.27")
        .map(|c| text_of(&c.path))
        .collect();
    let joined = all.join("\n");
    let serial = view(&parse_serial(&joined));
    let arena = Arena::new();
    let mut ways: Vec<(String, String)> = [2, 4, 7]
        .into_iter()
        .map(|parts| {
            (
                format!("{parts} parts"),
                view(&parse_parallel(&joined, parts)),
            )
        })
        .collect();
    for block in [500, 5000] {
        let opts = StreamOptions {
            threads: 2,
            block,
            max_goroutines: u64::MAX,
        };
        let p = parse_reader(joined.as_bytes(), &arena, opts).unwrap();
        ways.push((format!("blocks of {block}"), view(&p)));
        let p = parse_bytes(joined.as_bytes(), &arena, opts, &|_, _| {}).unwrap();
        ways.push((format!("in place, pieces of {block}"), view(&p)));
    }
    for (how, par) in ways {
        if par != serial {
            let (a, b): (Vec<&str>, Vec<&str>) = (par.lines().collect(), serial.lines().collect());
            let i = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            let cut = |s: &str| s.chars().take(300).collect::<String>();
            panic!(
                "joined dumps read in {how} differ at view line {i}:\nother:  {}\nserial: {}",
                cut(a.get(i).unwrap_or(&"")),
                cut(b.get(i).unwrap_or(&""))
            );
        }
    }
    assert!(n > 100);
}

/// A stream with more goroutines than allowed stops with the count, whether read on
/// one thread or several.
#[test]
fn a_stream_over_its_goroutine_budget_stops() {
    use godeadlock::parse::{parse_bytes, parse_reader, Arena, StreamError, StreamOptions};
    let c = captures()
        .into_iter()
        .max_by_key(|c| std::fs::metadata(&c.path).unwrap().len())
        .unwrap();
    let bytes = std::fs::read(&c.path).unwrap();
    for threads in [1, 2] {
        let arena = Arena::new();
        let opts = StreamOptions {
            threads,
            block: 4096,
            max_goroutines: 3,
        };
        match parse_reader(&bytes[..], &arena, opts) {
            Err(StreamError::TooMany(n)) => assert!(n > 3, "{n}"),
            other => panic!("{}: {:?}", c.name(), other.map(|p| p.goroutine_count())),
        }
        match parse_bytes(&bytes, &arena, opts, &|_, _| {}) {
            Err(StreamError::TooMany(n)) => assert!(n > 3, "{n}"),
            other => panic!("{}: {:?}", c.name(), other.map(|p| p.goroutine_count())),
        }
    }
}

/// The first PC of a record (after `N @`) and that of its first `#` line, by string
/// operations: the profile hid runtime frames above the first printed frame when the
/// two differ (`runtime.CallersFrames` prints a return address less one).
fn hid_runtime_frames(record: &str, first_frame: &str) -> bool {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let top = record
        .split(' ')
        .nth(2)
        .map(hex)
        .expect("a record's first PC");
    let pc = first_frame
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .map(hex)
        .expect("a frame's PC");
    pc != top && pc + 1 != top
}

#[test]
fn debug1_records_say_whether_runtime_frames_were_hidden_above_the_first_frame() {
    let mut seen = [0usize; 2];
    for c in captures().into_iter().filter(|c| c.kind == "debug1") {
        let text = text_of(&c.path);
        let lines: Vec<&str> = text.lines().collect();
        // A record's first frame follows it, after its `# labels:` line if any.
        let expected: Vec<bool> = (0..lines.len())
            .filter(|&i| lines[i].contains(" @ 0x"))
            .filter_map(|i| {
                let next = lines[i + 1..]
                    .iter()
                    .find(|l| !l.starts_with("# labels:"))?;
                next.starts_with("#\t0x")
                    .then(|| hid_runtime_frames(lines[i], next))
            })
            .collect();
        let parsed = parse(&text);
        let got: Vec<bool> = parsed.dumps[0]
            .goroutines
            .iter()
            .filter(|g| !g.frames.is_empty())
            .map(|g| g.runtime_on_top)
            .collect();
        assert_eq!(got, expected, "{}", c.name());
        for e in expected {
            seen[e as usize] += 1;
        }
    }
    // Both cases occur in the real captures: parked records, and records caught in
    // their own code (a syscall, a hash being computed, a just-accepted connection).
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
}
