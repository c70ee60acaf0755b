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
