//! Spreading a pass over goroutines across the cores, for large dumps only.

/// How many threads a pass over `n` goroutines runs on: every core when `n` is large
/// enough to pay for the threads, else one.
pub(crate) fn threads_for(n: usize) -> usize {
    if n < 50_000 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |t| t.get())
}

/// `read` over goroutines `0..n` in consecutive ranges, one per thread
/// (`threads_for`), the results in the order of the ranges.
pub(crate) fn by_ranges<T: Send>(
    n: usize,
    read: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads_for(n);
    if threads < 2 {
        return vec![read(0..n)];
    }
    let step = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(step)
            .map(|from| {
                let read = &read;
                s.spawn(move || read(from..(from + step).min(n)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("analysis thread"))
            .collect()
    })
}
