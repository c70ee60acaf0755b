//! One dump through the analysis, and how its findings compare with the truth.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use godeadlock::analyze::{analyze, display_id, Analysis, FindingKind, Options, Verdict};
use godeadlock::model::Dump;
use godeadlock::parse::Arena;

use crate::truth::{Case, Edge, Truth};

/// What the analysis concluded, in goroutine ids.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The worst verdict over the input's snapshots.
    pub verdict: Option<Verdict>,
    /// The goroutines carry ids (not a debug=1 profile).
    pub ids: bool,
    /// The holder ranked first by the finding that set the verdict.
    pub head_holder: Option<u64>,
    /// The cycle of the first deadlock finding, sorted.
    pub cycle: Vec<u64>,
    /// Every goroutine a leak or deadlock finding names as stuck for good (its
    /// waiters and cycle), sorted.
    pub leaked: Vec<u64>,
    /// Every goroutine named by a finding that counts for the verdict.
    pub named: BTreeSet<u64>,
    /// Each lock with a holder: the holder and the lock's waiters.
    pub holder_edges: Vec<LockHolder>,
    pub micros: u128,
    /// Why the input could not be read, if it could not.
    pub error: Option<String>,
    /// What the dump lacks to decide its truth (`lacks::lacks`).
    pub lacks: Option<Vec<String>>,
}

/// A lock the analysis named a holder for.
#[derive(Debug)]
pub struct LockHolder {
    pub holder: u64,
    pub waiters: BTreeSet<u64>,
}

/// Parse and analyse the case's file as the CLI does, every snapshot.
pub fn run(case: &Case) -> Outcome {
    if !case.series.is_empty() {
        return run_series(case);
    }
    let t0 = Instant::now();
    let arena = Arena::new();
    let input = match godeadlock::input::load(&case.file, &arena) {
        Ok(i) => i,
        Err(e) => {
            return Outcome {
                error: Some(e.to_string()),
                ..Outcome::default()
            }
        }
    };
    let mut worst: Option<(Verdict, &Dump, Analysis)> = None;
    for d in input.parsed.dumps.iter().filter(|d| d.is_snapshot()) {
        let a = analyze(d, Options::default());
        if worst.as_ref().is_none_or(|(v, _, _)| a.verdict <= *v) {
            worst = Some((a.verdict, d, a));
        }
    }
    let mut out = match &worst {
        Some((_, d, a)) => Outcome {
            lacks: crate::lacks::lacks(&case.truth, d),
            ..outcome(d, a)
        },
        None => Outcome {
            error: Some("no goroutine dump found".to_string()),
            ..Outcome::default()
        },
    };
    out.micros = t0.elapsed().as_micros();
    out
}

/// Parse the case's snapshots and analyse the last with the evidence of all, as
/// `analyze --same-process --interval` does.
fn run_series(case: &Case) -> Outcome {
    use godeadlock::analyze::persist::{analyze_series, Series};
    let t0 = Instant::now();
    let arenas: Vec<Arena> = case.series.iter().map(|_| Arena::new()).collect();
    let mut inputs = Vec::new();
    for (p, arena) in case.series.iter().zip(&arenas) {
        match godeadlock::input::load(p, arena) {
            Ok(i) => inputs.push(i),
            Err(e) => {
                return Outcome {
                    error: Some(e.to_string()),
                    ..Outcome::default()
                }
            }
        }
    }
    let dumps: Vec<&Dump> = inputs
        .iter()
        .flat_map(|i| i.parsed.dumps.iter().filter(|d| d.is_snapshot()))
        .collect();
    let at = case
        .interval_s
        .map(|s| (0..dumps.len()).map(|i| i as f64 * s).collect());
    let series = Series {
        dumps: dumps.clone(),
        at,
    };
    let mut out = match analyze_series(&series, Options::default()) {
        Some((a, _)) => outcome(dumps[dumps.len() - 1], &a),
        None => Outcome {
            error: Some("fewer than two snapshots".to_string()),
            ..Outcome::default()
        },
    };
    out.micros = t0.elapsed().as_micros();
    out
}

fn counts(f: &godeadlock::analyze::Finding) -> bool {
    f.confidence >= godeadlock::analyze::VERDICT_THRESHOLD
}

fn outcome(d: &Dump, a: &Analysis) -> Outcome {
    let id = |i: usize| display_id(d, i);
    let set = |v: &[usize]| v.iter().map(|&i| id(i)).collect::<BTreeSet<u64>>();
    let head = a
        .findings
        .iter()
        .find(|f| counts(f) && f.kind.verdict() == Some(a.verdict));
    // Every goroutine some deadlock finding puts in a cycle: the truth's cycle is all
    // the members when a dump holds several independent cycles or self-deadlocks.
    let cycle: BTreeSet<u64> = a
        .findings
        .iter()
        .filter(|f| counts(f) && f.kind == FindingKind::Deadlock)
        .flat_map(|f| set(&f.cycle))
        .collect();
    let mut leaked = BTreeSet::new();
    let mut named = BTreeSet::new();
    for f in a.findings.iter().filter(|f| counts(f)) {
        if matches!(f.kind, FindingKind::Leak | FindingKind::Deadlock) {
            leaked.extend(set(&f.waiters));
            leaked.extend(set(&f.cycle));
        }
        if f.kind.verdict().is_some() {
            named.extend(set(&f.holders));
            named.extend(set(&f.waiters));
            named.extend(set(&f.cycle));
        }
    }
    let holder_edges = a
        .locks
        .iter()
        .filter_map(|l| {
            Some(LockHolder {
                holder: id(l.top_holder()?.goroutine),
                waiters: set(&l.waiters),
            })
        })
        .collect();
    Outcome {
        verdict: Some(a.verdict),
        ids: !a.ids_are_groups,
        head_holder: head.and_then(|f| f.holders.first()).map(|&h| id(h)),
        cycle: cycle.into_iter().collect(),
        leaked: leaked.into_iter().collect(),
        named,
        holder_edges,
        micros: 0,
        error: None,
        lacks: None,
    }
}

/// The figures of the scorecard: each is right/scored over the dumps it applies to.
pub const METRICS: [&str; 10] = [
    "verdict",
    "healthy_ok",
    "named",
    "holder_first",
    "holder_edges",
    "cycles",
    "leaked",
    "decidable",
    "edges_decidable",
    "cycles_decidable",
];

/// Each figure for one dump: `None` where it does not apply.
pub fn marks(t: &Truth, o: &Outcome) -> [Option<bool>; METRICS.len()] {
    let Some(v) = o.verdict else {
        // Unreadable: wrong wherever a verdict was expected.
        let scored = !t.acceptable.is_empty();
        let mut m = [None; METRICS.len()];
        m[0] = scored.then_some(false);
        return m;
    };
    let alarm = v != Verdict::Ok;
    // The dump prints every fact its truth rests on (`lacks.rs`).
    let decidable = o.lacks.as_ref().filter(|l| l.is_empty()).map(|_| ());
    let with_ids = |apply: bool| apply && o.ids;
    [
        (!t.acceptable.is_empty()).then(|| t.acceptable.contains(&v)),
        t.healthy.then_some(!alarm),
        with_ids(!t.bug.is_empty()).then(|| alarm && t.bug.iter().any(|b| o.named.contains(b))),
        with_ids(!t.holders_first.is_empty())
            .then(|| o.head_holder.is_some_and(|h| t.holders_first.contains(&h))),
        with_ids(!held_resources(t).is_empty()).then(|| edges_right(t, o)),
        with_ids(!t.cycle.is_empty()).then(|| o.cycle == t.cycle),
        with_ids(!t.leaked.is_empty()).then(|| o.leaked == t.leaked),
        decidable.map(|_| t.acceptable.contains(&v)),
        decidable
            .and(with_ids(!held_resources(t).is_empty()).then_some(()))
            .map(|_| edges_right(t, o)),
        decidable
            .and(with_ids(!t.cycle.is_empty()).then_some(()))
            .map(|_| o.cycle == t.cycle),
    ]
}

/// The truth's hold edges on resources somebody waits on.
fn held_resources(t: &Truth) -> BTreeSet<Edge> {
    let waited: BTreeSet<&str> = t.waits.iter().map(|w| w.resource.as_str()).collect();
    t.holds
        .iter()
        .filter(|h| waited.contains(h.resource.as_str()))
        .cloned()
        .collect()
}

/// Who holds what, exactly: every lock the analysis names a holder for is matched
/// to the true resource most of its waiters wait on, and the (holder, resource)
/// pairs must equal the truth's, no more and no fewer.
fn edges_right(t: &Truth, o: &Outcome) -> bool {
    let mut waiters_of: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for w in &t.waits {
        waiters_of
            .entry(w.resource.as_str())
            .or_default()
            .insert(w.goroutine);
    }
    let found: BTreeSet<Edge> = o
        .holder_edges
        .iter()
        .map(|l| {
            let best = waiters_of
                .iter()
                .map(|(r, ws)| (ws.intersection(&l.waiters).count(), *r))
                .filter(|(n, _)| *n > 0)
                .max();
            Edge {
                goroutine: l.holder,
                resource: best.map_or("?", |(_, r)| r).to_string(),
            }
        })
        .collect();
    found == held_resources(t)
}
