//! Criterion benches for the parser's hot functions, on lines and dumps from the
//! committed real fixtures. `cargo bench --bench parse`; the end-to-end figures
//! come from `benches/run.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use godeadlock::analyze::{analyze, Options};
use godeadlock::parse::{parse, parse_bytes, stack, traceback, Arena, StreamOptions};

fn fixture(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(p).expect("fixture")
}

fn lines(c: &mut Criterion) {
    let header = "goroutine 24 [sync.Cond.Wait, 3 minutes]:";
    let func = "main.(*keyedLimiter).Acquire(0xa6f5963a310, {0x7a3c5e, 0x3})";
    let loc = "\t/work/main/fixtures/programs/keyed-limiter/main.go:30 +0x6a";
    c.bench_function("traceback::header", |b| {
        b.iter(|| traceback::header(std::hint::black_box(header)))
    });
    c.bench_function("traceback::func_line", |b| {
        b.iter(|| traceback::func_line(std::hint::black_box(func)))
    });
    c.bench_function("traceback::location", |b| {
        b.iter(|| traceback::location(std::hint::black_box(loc)))
    });
    let mut out = Vec::with_capacity(64);
    c.bench_function("traceback::args_fast", |b| {
        b.iter(|| {
            out.clear();
            traceback::args_fast(
                std::hint::black_box(b"(0xa6f5963a310, {0x7a3c5e, 0x3})"),
                &mut out,
            )
        })
    });
    // The stack of one goroutine of a real dump, as the fast path for repeated
    // stacks first reads it (its lines cut, arguments encoded).
    let text = fixture("fixtures/dumps/keyed-limiter/go1.27/debug2.txt");
    let at = text.find("[sync.Cond.Wait").expect("a Cond waiter");
    let stack_text = &text[at + text[at..].find('\n').expect("header line") + 1..];
    let mut segs = Vec::new();
    c.bench_function("stack::scan", |b| {
        b.iter(|| {
            out.clear();
            segs.clear();
            stack::scan(
                std::hint::black_box(stack_text.as_bytes()),
                &mut out,
                &mut segs,
            )
            .map(|s| s.bytes)
        })
    });
    // The same stack matched against the stacks read before (the path most
    // goroutines of a large dump take).
    let mut shapes = stack::Shapes::default();
    segs.clear();
    stack::scan(stack_text.as_bytes(), &mut out, &mut segs).expect("plain form");
    shapes.insert(stack_text.as_bytes(), &segs);
    c.bench_function("stack::Shapes::find", |b| {
        b.iter(|| {
            out.clear();
            shapes
                .find(std::hint::black_box(stack_text.as_bytes()), &mut out)
                .map(|m| m.bytes)
        })
    });
}

fn dumps(c: &mut Criterion) {
    for rel in [
        "fixtures/dumps/http-healthy/go1.27/sigquit.txt",
        "fixtures/dumps/net-read-stall/go1.21/debug2.txt",
    ] {
        let text = fixture(rel);
        let mut g = c.benchmark_group(rel.trim_start_matches("fixtures/dumps/"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("parse", |b| {
            b.iter(|| parse(std::hint::black_box(&text)).dumps.len())
        });
        g.bench_function("parse_bytes", |b| {
            b.iter(|| {
                let arena = Arena::new();
                parse_bytes(
                    std::hint::black_box(text.as_bytes()),
                    &arena,
                    StreamOptions::default(),
                    &|_, _| {},
                )
                .map(|p| p.dumps.len())
            })
        });
        let parsed = parse(&text);
        let d = &parsed.dumps[0];
        g.bench_function("analyze", |b| {
            b.iter(|| {
                analyze(std::hint::black_box(d), Options::default())
                    .findings
                    .len()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, lines, dumps);
criterion_main!(benches);
