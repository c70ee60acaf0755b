//! The parser on arbitrary bytes: never panics, never loops, and reads the same
//! whichever way it reads: in one piece, without the fast path for repeated stacks,
//! or in place in small pieces on two threads; and bytes that are not UTF-8, read
//! in place, as their repaired text (`sanitize_utf8`) reads.
#![no_main]

use godeadlock::parse::{
    parse_bytes, parse_serial, parse_without_shortcuts, sanitize_utf8, Arena, Parsed, StreamOptions,
};
use libfuzzer_sys::fuzz_target;

fn view(p: &Parsed) -> String {
    let mut s = format!("{} {:?}\n", p.skipped_lines, p.first_skipped);
    for d in &p.dumps {
        s += &format!("{:?} {:?} {} {:?} {:?}\n", d.format, d.trigger, d.first_line, d.preamble, d.diagnostics);
        for g in &d.goroutines {
            let frames: Vec<String> = g
                .frames_args()
                .map(|(f, a)| format!("{}({}) {}:{} {:?}", f.function, a.render(), f.file, f.line, f.offset))
                .collect();
            s += &format!("{:?} {} {:?} {:?} {:?} {:?} {}\n", g.id, g.line, g.state, g.created_by, frames, g.elided(), g.complete);
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let whole = view(&parse_serial(&text));
    assert_eq!(view(&parse_without_shortcuts(&text)), whole, "fast path");
    let arena = Arena::new();
    let opts = StreamOptions { threads: 2, block: 97, max_goroutines: u64::MAX };
    let pieces = parse_bytes(text.as_bytes(), &arena, opts, &|_, _| {}).expect("no limit");
    assert_eq!(view(&pieces), whole, "in pieces");
    let mut copy = data.to_vec();
    let repaired = view(&parse_serial(sanitize_utf8(&mut copy)));
    let arena = Arena::new();
    let raw = parse_bytes(data, &arena, opts, &|_, _| {}).expect("no limit");
    assert_eq!(view(&raw), repaired, "raw bytes in pieces");
});
