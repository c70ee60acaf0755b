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

/// `each(i, &items[i])` for every item, spread over the threads a pass over `n`
/// goroutines runs on (`threads_for`), the results in the order of the items.
/// Threads take the next few items as they finish theirs: one item (a lock with
/// a hundred thousand waiters) may cost more than all the others.
pub(crate) fn by_items<I: Sync, T: Send>(
    n: usize,
    items: &[I],
    each: impl Fn(usize, &I) -> T + Sync,
) -> Vec<T> {
    let threads = threads_for(n).min(items.len());
    if threads < 2 {
        return items.iter().enumerate().map(|(i, x)| each(i, x)).collect();
    }
    // Small enough that the threads finish together, large enough that taking
    // the next chunk costs nothing beside reading it.
    let chunk = (items.len() / (threads * 8)).clamp(1, 64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let from = next.fetch_add(chunk, std::sync::atomic::Ordering::Relaxed);
            if from >= items.len() {
                return done;
            }
            let to = (from + chunk).min(items.len());
            done.push((
                from,
                (from..to).map(|i| each(i, &items[i])).collect::<Vec<T>>(),
            ));
        }
    };
    let mut chunks: Vec<(usize, Vec<T>)> = std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in others {
            all.extend(h.join().expect("analysis thread"));
        }
        all
    });
    chunks.sort_unstable_by_key(|c| c.0);
    chunks.into_iter().flat_map(|c| c.1).collect()
}

/// `a()` and `b()`, side by side on two threads when a pass over `n` goroutines
/// runs on more than one (`threads_for`), else one after the other.
pub(crate) fn both<A: Send, B: Send>(
    n: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads_for(n) < 2 {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let other = s.spawn(b);
        let a = a();
        (a, other.join().expect("analysis thread"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spread over threads (as for a million goroutines) or not, every item is
    /// read once and the results come in the order of the items; no items, no
    /// results (and no thread).
    #[test]
    fn by_items_keeps_the_order_of_the_items() {
        for n in [10, 1_000_000] {
            for len in [0, 1, 3, 17, 1000, 5000] {
                let items: Vec<u64> = (0..len).map(|i| i * 7 % 13).collect();
                let out = by_items(n, &items, |i, &x| (i, x * 2));
                let want: Vec<(usize, u64)> =
                    items.iter().enumerate().map(|(i, &x)| (i, x * 2)).collect();
                assert_eq!(out, want, "{len} items, a pass over {n} goroutines");
            }
        }
    }
}
