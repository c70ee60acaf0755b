//! The parser on arbitrary bytes: never panics, never loops.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = godeadlock::parse::parse(&text);
    for d in &parsed.dumps {
        let _ = d.total();
    }
});
