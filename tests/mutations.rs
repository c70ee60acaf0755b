//! Mutations of real dumps: cut at every line, bytes flipped, lines duplicated and
//! shuffled, log lines injected. Nothing panics; what the parser reads from a
//! prefix is a prefix of what it reads from the whole; log lines change nothing;
//! no finding rests on a goroutine whose stack was cut.

mod common;

use common::{captures, Capture};
use godeadlock::analyze::{analyze, Options};
use godeadlock::model::Dump;
use godeadlock::parse::parse;
use proptest::prelude::*;

/// A few captures of every format, small enough to mutate exhaustively.
fn sample() -> Vec<Capture> {
    let mut out: Vec<Capture> = captures()
        .into_iter()
        .filter(|c| {
            (c.go == "go1.19" || c.go == "go1.27")
                && matches!(
                    c.scenario.as_str(),
                    "keyed-limiter" | "lock-order" | "rwmutex-recursive"
                )
        })
        .collect();
    assert!(out.len() >= 10, "fixtures missing");
    out.sort_by_key(|c| c.name());
    out
}

fn read(c: &Capture) -> String {
    String::from_utf8_lossy(&std::fs::read(&c.path).unwrap()).into_owned()
}

/// (id, state, functions) of every complete goroutine, in order.
fn summary(dumps: &[Dump]) -> Vec<(Option<u64>, String, Vec<String>)> {
    dumps
        .iter()
        .flat_map(|d| d.goroutines.iter())
        .filter(|g| g.complete)
        .map(|g| {
            (
                g.id,
                g.state.raw.to_string(),
                g.frames
                    .iter()
                    .map(|f| f.function.full().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn no_finding_on_cut_stacks(d: &Dump) {
    let a = analyze(d, Options::default());
    for f in &a.findings {
        for &i in f.holders.iter().chain(&f.waiters).chain(&f.cycle) {
            assert!(
                d.goroutines[i].complete,
                "a finding rests on a cut stack: {}",
                godeadlock::report::words::headline(d, &a, f)
            );
        }
    }
}

#[test]
fn every_prefix_parses_to_a_prefix() {
    for c in sample() {
        let text = read(&c);
        let whole = summary(&parse(&text).dumps);
        let mut cuts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
        // and a few cuts inside lines
        cuts.extend(
            text.char_indices()
                .filter(|(i, _)| i % 997 == 0)
                .map(|(i, _)| i),
        );
        for cut in cuts {
            let prefix = &text[..cut];
            let parsed = parse(prefix);
            let got = summary(&parsed.dumps);
            // The last complete goroutine of a prefix may still miss frames that the
            // whole has (the cut fell between its frames); all before it must match.
            let n = got.len().saturating_sub(1);
            assert_eq!(
                &got[..n],
                &whole[..n.min(whole.len())],
                "{}: cut at byte {cut}",
                c.name()
            );
            for d in &parsed.dumps {
                if !d.goroutines.is_empty() {
                    no_finding_on_cut_stacks(d);
                }
            }
        }
    }
}

#[test]
fn crlf_and_spaces_for_tabs_read_the_same() {
    for c in sample()
        .into_iter()
        .filter(|c| c.kind == "debug2" || c.kind == "sigquit")
    {
        let text = read(&c);
        let whole = summary(&parse(&text).dumps);
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(summary(&parse(&crlf).dumps), whole, "{}: CRLF", c.name());
        let spaces = text.replace('\t', "        ");
        assert_eq!(
            summary(&parse(&spaces).dumps),
            whole,
            "{}: tabs as spaces",
            c.name()
        );
    }
}

const LOG_LINES: &[&str] = &[
    "2026/11/24 10:00:00 INFO request served path=/items status=200",
    "time=2026-11-24T10:00:01Z level=warn msg=\"slow request\" dur=2.1s",
    "{\"level\":\"error\",\"msg\":\"upstream timeout\"}",
    "E1124 10:00:02.123456   1234 client.go:42] retrying",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn injected_log_lines_change_nothing(pick in 0usize..1000, seed in any::<u64>()) {
        let all = sample();
        let c = &all[pick % all.len()];
        let text = read(c);
        let whole = summary(&parse(&text).dumps);
        // Insert log lines after blank lines (between goroutines) and before the dump.
        let mut out = String::new();
        let mut k = seed;
        out.push_str(LOG_LINES[(k % 4) as usize]);
        out.push('\n');
        for line in text.split_inclusive('\n') {
            out.push_str(line);
            if line.trim().is_empty() {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if k >> 62 == 0 {
                    out.push_str(LOG_LINES[((k >> 33) % 4) as usize]);
                    out.push_str("\n\n");
                }
            }
        }
        prop_assert_eq!(summary(&parse(&out).dumps), whole);
    }

    #[test]
    fn byte_flips_never_panic(pick in 0usize..1000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..40)) {
        let all = sample();
        let c = &all[pick % all.len()];
        let mut bytes = std::fs::read(&c.path).unwrap();
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        for d in parse(&text).dumps.iter().filter(|d| !d.goroutines.is_empty()) {
            no_finding_on_cut_stacks(d);
        }
    }

    #[test]
    fn duplicated_and_shuffled_lines_never_panic(pick in 0usize..1000, ops in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 1..30)) {
        let all = sample();
        let c = &all[pick % all.len()];
        let text = read(c);
        let mut lines: Vec<&str> = text.lines().collect();
        for (a, b, dup) in ops {
            let n = lines.len();
            if dup {
                let l = lines[a % n];
                lines.insert(b % n, l);
            } else {
                lines.swap(a % n, b % n);
            }
        }
        let joined = lines.join("\n");
        for d in parse(&joined).dumps.iter().filter(|d| !d.goroutines.is_empty()) {
            no_finding_on_cut_stacks(d);
        }
    }
}

#[test]
fn huge_lines_and_nul_bytes_are_survived() {
    let c = &sample()[0];
    let text = read(c);
    let mut evil = String::with_capacity(text.len() + 11_000_000);
    evil.push_str(&"x".repeat(10 * 1024 * 1024));
    evil.push('\n');
    evil.push_str(&text.replace("goroutine 1 ", "goroutine 1\0 "));
    let parsed = parse(&evil);
    assert!(parsed.goroutine_count() > 0);
}

/// Whether everyone running a lock's code is stuck counts goroutines, not record
/// weights: a debug=1 record counting 0 goroutines, parked on a channel in the
/// lock's package, speaks as one counting 1 does. A bad-input case: a real
/// debug=1 dump with one record appended.
#[test]
fn a_record_counting_zero_weighs_as_one_for_all_stuck() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dumps/waitgroup-mutex/go1.25/debug1.txt");
    let real = std::fs::read_to_string(path).unwrap();
    let with = |count: u32| {
        format!(
            "{real}\n{count} @ 0x1 0x2 0x3\n#\t0x1\truntime.gopark+0x1\t/x/proc.go:1\n#\t0x2\truntime.chanrecv1+0x1\t/x/chan.go:1\n#\t0x3\tmain.(*batch).wait+0x1\t/x/main.go:1\n"
        )
    };
    let verdict = |text: &str| {
        let p = parse(text);
        let a = analyze(&p.dumps[0], Options::default());
        let kinds: Vec<_> = a.findings.iter().map(|f| f.kind).collect();
        (a.verdict, kinds)
    };
    assert_eq!(verdict(&with(0)), verdict(&with(1)));
}
