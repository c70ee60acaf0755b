//! The binary profile reader (prost) on arbitrary bytes: never panics, and what it
//! decodes analyses and renders without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

use godeadlock::analyze::{analyze, Options};
use godeadlock::parse::{pprof, Arena};

fuzz_target!(|data: &[u8]| {
    let _ = pprof::looks_like(data);
    let arena = Arena::new();
    if let Ok(parsed) = pprof::read(data, &arena) {
        for d in &parsed.dumps {
            let a = analyze(d, Options::default());
            let mut out = Vec::new();
            godeadlock::report::json::write_analysis(&mut out, "fuzz", d, &a, false).unwrap();
        }
    }
});
