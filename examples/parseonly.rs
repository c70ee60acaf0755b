fn main() {
    let path = std::env::args().nth(1).unwrap();
    let arena = godeadlock::parse::Arena::new();
    let t = std::time::Instant::now();
    let f = std::fs::File::open(path).unwrap();
    let p = godeadlock::parse::parse_reader(f, &arena, Default::default()).unwrap();
    eprintln!(
        "parse {:.3} s, {} goroutines",
        t.elapsed().as_secs_f64(),
        p.goroutine_count()
    );
    std::mem::forget(p);
}
