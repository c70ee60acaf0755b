//! The analysis as OpenMetrics (`analyze --format openmetrics`, for
//! node_exporter's textfile collector, and `watch --metrics-addr`), encoded by
//! `prometheus-client`.
//!
//! Label values are bounded: states are the runtime's own statuses and wait
//! reasons (any other is `other`), finding kinds and verdicts are fixed sets, and
//! growth is reported for at most [`MAX_GROWTH_SERIES`] stacks.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::analyze::persist::{Timeline, Track};
use crate::analyze::{Analysis, FindingKind, Verdict, VERDICT_THRESHOLD};
use crate::model::{Dump, WaitReason};

/// Growth series kept, most growth first.
pub const MAX_GROWTH_SERIES: usize = 10;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabel {
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabel {
    state: String,
    site: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// What is known besides the analysis: the series evidence, and the watch's own counts.
#[derive(Default)]
pub struct Extra<'t> {
    pub timeline: Option<&'t Timeline>,
    /// Snapshots taken so far (watch).
    pub snapshots: Option<u64>,
    /// Failed polls so far (watch).
    pub errors: Option<u64>,
    /// Unix time of the snapshot, seconds.
    pub taken_at: Option<f64>,
}

/// A state as a label: the runtime's spelling, or `other`.
fn state_label(raw: &str) -> String {
    match WaitReason::from_text(raw) {
        WaitReason::Other => "other".to_string(),
        WaitReason::Unknown => "unknown".to_string(),
        r => r.as_str_static().to_string(),
    }
}

/// The metrics of one analysed snapshot, in the OpenMetrics text format.
pub fn encode(d: &Dump, a: &Analysis, extra: &Extra) -> String {
    let mut reg = Registry::with_prefix("godeadlock");
    register_states(&mut reg, a);
    register_findings(&mut reg, a);
    register_verdict(&mut reg, a);
    register_longest_wait(&mut reg, d, extra);
    if let Some(t) = extra.timeline {
        register_series(&mut reg, t);
    }
    register_watch(&mut reg, extra);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &reg)
        .expect("writing to a String does not fail");
    sorted(&out)
}

/// `goroutines`: the snapshot's goroutines by state.
fn register_states(reg: &mut Registry, a: &Analysis) {
    let goroutines = Family::<StateLabel, Gauge>::default();
    reg.register(
        "goroutines",
        "Goroutines in the snapshot, by the runtime's status or wait reason",
        goroutines.clone(),
    );
    for (state, n) in &a.states {
        goroutines
            .get_or_create(&StateLabel {
                state: state_label(state),
            })
            .inc_by(*n as i64);
    }
}

/// `findings`: the findings sure enough to set the verdict, by kind (every kind,
/// 0 included).
fn register_findings(reg: &mut Registry, a: &Analysis) {
    let findings = Family::<KindLabel, Gauge>::default();
    reg.register(
        "findings",
        "Findings sure enough to set the verdict, by kind",
        findings.clone(),
    );
    for kind in [
        FindingKind::Deadlock,
        FindingKind::Stall,
        FindingKind::Leak,
        FindingKind::Contention,
    ] {
        let n = a
            .findings
            .iter()
            .filter(|f| f.kind == kind && f.confidence >= VERDICT_THRESHOLD)
            .count();
        findings
            .get_or_create(&KindLabel {
                kind: kind.as_str().to_string(),
            })
            .set(n as i64);
    }
}

/// `verdict`: 1 for the snapshot's verdict, 0 for each other.
fn register_verdict(reg: &mut Registry, a: &Analysis) {
    let verdict = Family::<VerdictLabel, Gauge>::default();
    reg.register(
        "verdict",
        "1 for the snapshot's verdict, 0 for the others",
        verdict.clone(),
    );
    for v in [
        Verdict::Deadlock,
        Verdict::Stall,
        Verdict::Leak,
        Verdict::Ok,
    ] {
        verdict
            .get_or_create(&VerdictLabel {
                verdict: v.as_str().to_string(),
            })
            .set(i64::from(a.verdict == v));
    }
}

/// `longest_wait_seconds`: the runtime's `N minutes`, or how long goroutines were
/// seen stuck over the series, whichever is longer.
fn register_longest_wait(reg: &mut Registry, d: &Dump, extra: &Extra) {
    let printed = d
        .goroutines
        .iter()
        .filter_map(|g| g.wait_minutes)
        .max()
        .map_or(0.0, |m| f64::from(m) * 60.0);
    let seen = extra
        .timeline
        .filter(|t| t.tracks.contains(&Track::Stuck))
        .and_then(|t| t.span_s)
        .unwrap_or(0.0);
    let longest = FloatGauge::default();
    reg.register(
        "longest_wait_seconds",
        "The longest wait: the runtime's printed wait time, or how long a goroutine was seen stuck across snapshots",
        longest.clone(),
    );
    longest.set(printed.max(seen));
}

/// What a series of snapshots tells: `goroutines_stuck`, and
/// `group_growth_per_minute` for the stacks that grew most.
fn register_series(reg: &mut Registry, t: &Timeline) {
    let stuck = Gauge::<i64>::default();
    reg.register(
        "goroutines_stuck",
        "Goroutines at the same frames in the same wait in every snapshot",
        stuck.clone(),
    );
    stuck.set(t.counts().0 as i64);
    let growth = Family::<GroupLabel, FloatGauge>::default();
    reg.register(
        "group_growth_per_minute",
        "Goroutines more per minute in stacks whose counts grew over the snapshots",
        growth.clone(),
    );
    for g in t.growing.iter().take(MAX_GROWTH_SERIES) {
        let up = (g.counts.last().copied().unwrap_or(0) - g.counts[0]) as f64;
        growth
            .get_or_create(&GroupLabel {
                state: state_label(&g.state),
                site: g.site.chars().take(160).collect(),
            })
            .set(g.per_minute.unwrap_or(up));
    }
}

/// The watch's own counts, where known: `snapshots`, `poll_errors`,
/// `snapshot_timestamp_seconds`.
fn register_watch(reg: &mut Registry, extra: &Extra) {
    if let Some(n) = extra.snapshots {
        let c = Gauge::<i64>::default();
        reg.register("snapshots", "Snapshots taken by this watch", c.clone());
        c.set(n as i64);
    }
    if let Some(n) = extra.errors {
        let c = Gauge::<i64>::default();
        reg.register(
            "poll_errors",
            "Polls of the endpoint that failed",
            c.clone(),
        );
        c.set(n as i64);
    }
    if let Some(t) = extra.taken_at {
        let c = FloatGauge::default();
        reg.register(
            "snapshot_timestamp_seconds",
            "When the snapshot was taken (Unix time)",
            c.clone(),
        );
        c.set(t);
    }
}

/// The samples of each family in label order (a family keeps them in a hash map):
/// the same analysis gives the same text.
fn sorted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut samples: Vec<&str> = Vec::new();
    let flush = |samples: &mut Vec<&str>, out: &mut String| {
        samples.sort_unstable();
        for l in samples.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut samples, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            samples.push(line);
        }
    }
    flush(&mut samples, &mut out);
    out
}

/// Now, as Unix seconds.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
