//! godeadlock: read Go goroutine dumps and name the goroutine that holds the lock
//! everyone else waits for.
//!
//! Data flows one way: bytes → [`input`] (decoding) → [`parse`] (one module per
//! format) → [`model`] → [`group`] (signatures) → [`analyze`] (findings, verdict)
//! → [`report`] (table, JSON, DOT, Markdown).

pub mod analyze;
pub mod diff;
pub mod error;
pub mod fetch;
pub mod filter;
pub mod group;
pub mod input;
pub mod metrics;
pub mod model;
pub mod parse;
pub mod report;
pub mod source;

/// With `GODEADLOCK_TIMINGS` set, prints how long each phase of the analysis took
/// (to standard error), to see where time goes on a large dump.
pub struct PhaseTimer {
    last: std::time::Instant,
    on: bool,
}

impl Default for PhaseTimer {
    fn default() -> Self {
        PhaseTimer {
            last: std::time::Instant::now(),
            on: std::env::var_os("GODEADLOCK_TIMINGS").is_some(),
        }
    }
}

impl PhaseTimer {
    /// The phase `what` ends now.
    pub fn done(&mut self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "godeadlock:   {what}: {:.3} s{}",
                (now - self.last).as_secs_f64(),
                memory()
            );
            self.last = now;
        }
    }
}

/// `, RSS N MB (peak M MB)` from /proc, or nothing where it is not available.
pub fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => format!(", RSS {rss} MB (peak {peak} MB)"),
        _ => String::new(),
    }
}
