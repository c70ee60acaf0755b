//! Parse and analyze arbitrary bytes, and render every format: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

use godeadlock::analyze::{analyze, Options};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = godeadlock::parse::parse(&text);
    for d in &parsed.dumps {
        if d.goroutines.is_empty() {
            continue;
        }
        let a = analyze(d, Options::default());
        let mut out = Vec::new();
        godeadlock::report::json::write_analysis(&mut out, "fuzz", d, &a, false).unwrap();
        godeadlock::report::dot::write(&mut out, d, &a).unwrap();
        godeadlock::report::markdown::write(&mut out, "fuzz", d, &a, 10).unwrap();
        godeadlock::report::text::write(&mut out, godeadlock::report::text::Style::plain(), "fuzz", d, &a, 10).unwrap();
    }
});
