//! Time as evidence: several snapshots of one process.
//!
//! One snapshot cannot tell a goroutine stuck for good from one that moves a
//! millisecond later. Two snapshots can: a goroutine with the same id, in the same
//! wait (the runtime's status or wait reason), at the same frames (function, file
//! and line of every frame, and the argument values they print) in every snapshot
//! is *stuck* over the time between the first and the last. A goroutine whose
//! frames or wait changed *moved*. Stacks whose counts rise from snapshot to
//! snapshot are *growing*.
//!
//! This is read from the runtime's own output alone (ids, wait reasons, frames),
//! never from names. Seen stuck is weaker than the runtime's `, N minutes` (one
//! unbroken wait): a goroutine could have woken and come back to the same place in
//! between (a ticker loop's select), so it stands as evidence for a finding of the
//! analysis, not as a finding alone. What it changes ([`apply`]):
//! - a deadlock whose cycle has a goroutine that moved is no deadlock: a deadlocked
//!   goroutine cannot move; stall and leak findings whose goroutines all moved did
//!   not last;
//! - a deadlock, stall or leak finding whose goroutines were all seen stuck says
//!   for how long, and one below the verdict threshold is raised to it ("likely");
//! - a lock queue (a contention finding) whose holder and waiters were all seen
//!   stuck did not move for that long: a stall;
//! - a growing stack of blocked goroutines whose older members stay stuck, over
//!   three snapshots or more, is a leak in progress (likely).

use std::collections::HashMap;

use super::findings::{LeakInProgress, Watched};
use super::{display_id, Analysis, Evidence, Finding, FindingKind, Headline};
use crate::model::{Dump, Goroutine};

/// Several snapshots of one process, oldest first, and when each was taken.
pub struct Series<'s, 'a> {
    pub dumps: Vec<&'s Dump<'a>>,
    /// Seconds since the first snapshot, one per dump, when known.
    pub at: Option<Vec<f64>>,
}

/// What goroutine `i` of the last snapshot did over the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// Not in every snapshot (started after the first, or no id).
    New,
    /// Same id, same wait, same frames in every snapshot.
    Stuck,
    /// In an earlier snapshot with other frames or another wait.
    Moved,
}

/// A stack whose count rose over the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    /// The wait as printed (`chan send`).
    pub state: String,
    /// `function (file:line)` of the innermost frame outside the runtime, or the top frame.
    pub site: String,
    /// The count in each snapshot.
    pub counts: Vec<u64>,
    /// Goroutines more per minute, first to last, when the times are known.
    pub per_minute: Option<f64>,
    /// Goroutines of the last snapshot in this stack (indexes).
    pub members: Vec<usize>,
    /// Every member that was in the first snapshot is stuck.
    pub old_stuck: bool,
}

/// What the series shows, about the last snapshot.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub snapshots: usize,
    /// Seconds from the first snapshot to the last, when known.
    pub span_s: Option<f64>,
    /// Per goroutine of the last snapshot.
    pub tracks: Vec<Track>,
    /// Growing stacks, most growth first.
    pub growing: Vec<Growth>,
    /// Goroutines of the first snapshot not in the last (ended).
    pub ended: usize,
}

/// At most this many growing stacks are kept.
pub const MAX_GROWING: usize = 20;

/// Frames and wait read the same, and the argument values the frames printed
/// (a goroutine that woke and waits again at the same line on another channel or
/// lock shows other values): the same place.
pub fn same_place(a: &Goroutine, b: &Goroutine) -> bool {
    a.state.raw == b.state.raw
        && a.args.bytes() == b.args.bytes()
        && a.frames.len() == b.frames.len()
        && a.frames.iter().zip(b.frames.iter()).all(|(x, y)| {
            x.function.full() == y.function.full() && x.file == y.file && x.line == y.line
        })
}

/// The identity of a goroutine across snapshots: its id and where it was started
/// (an id is not reused while its goroutine lives, but a new goroutine may get
/// the id of one that ended).
fn same_goroutine(a: &Goroutine, b: &Goroutine) -> bool {
    a.id.is_some()
        && a.id == b.id
        && a.created_by().map(|c| (c.function.full(), c.file, c.line))
            == b.created_by().map(|c| (c.function.full(), c.file, c.line))
}

/// A goroutine of the program's own (not the runtime's): its outermost frame and
/// its creator are outside package runtime. Only these tell one program from another.
fn own(g: &Goroutine) -> bool {
    let outside = |p: &str| p != "runtime";
    g.frames
        .last()
        .is_some_and(|f| outside(f.function.package()))
        && g.created_by().is_none_or(|c| outside(c.function.package()))
}

/// The same goroutine, and it was started by the same code and runs from the same
/// outermost frame (function and file).
fn same_own(a: &Goroutine, b: &Goroutine) -> bool {
    let (x, y) = (a.frames.last(), b.frames.last());
    own(a)
        && same_goroutine(a, b)
        && x.map(|f| (f.function.full(), f.file)) == y.map(|f| (f.function.full(), f.file))
}

/// Whether two snapshots read as one process: the program's own goroutines recur
/// with the same id, creator and outermost frame, for at least half of them in the
/// smaller snapshot.
pub fn same_process(a: &Dump, b: &Dump) -> bool {
    let ids: HashMap<u64, &Goroutine> = b
        .goroutines
        .iter()
        .filter_map(|g| g.id.map(|id| (id, g)))
        .collect();
    let shared = a
        .goroutines
        .iter()
        .filter(|g| {
            g.id.and_then(|id| ids.get(&id))
                .is_some_and(|o| same_own(g, o))
        })
        .count();
    let own_a = a.goroutines.iter().filter(|g| own(g)).count();
    let own_b = b.goroutines.iter().filter(|g| own(g)).count();
    shared > 0 && shared * 2 >= own_a.min(own_b)
}

/// Every snapshot after the first is of the same process as the one before.
pub fn one_process(dumps: &[&Dump]) -> bool {
    dumps.len() > 1 && dumps.windows(2).all(|w| same_process(w[0], w[1]))
}

/// The wait and every frame's function, file and line.
type OwnedStackKey = (String, Vec<(String, String, u32)>);

/// The stack a goroutine counts under when growth is measured.
fn stack_key(g: &Goroutine) -> OwnedStackKey {
    (
        g.state.raw.to_string(),
        g.frames
            .iter()
            .map(|f| (f.function.full().to_string(), f.file.to_string(), f.line))
            .collect(),
    )
}

/// `function (file:line)` of the innermost frame outside the runtime and `sync`.
pub fn site_of(g: &Goroutine) -> String {
    let i = g
        .frames
        .iter()
        .position(|f| {
            let p = f.function.package();
            !(p == "runtime" || p.starts_with("internal/") || p == "sync")
        })
        .unwrap_or(0);
    if g.frames.is_empty() {
        "no frames".to_string()
    } else {
        super::frame_label(g, i)
    }
}

impl Timeline {
    pub fn new(series: &Series) -> Option<Timeline> {
        let (last, earlier) = series.dumps.split_last()?;
        if earlier.is_empty() {
            return None;
        }
        let by_id: Vec<HashMap<u64, &Goroutine>> = earlier
            .iter()
            .map(|d| {
                d.goroutines
                    .iter()
                    .filter_map(|g| g.id.map(|id| (id, g)))
                    .collect()
            })
            .collect();
        let tracks: Vec<Track> = last
            .goroutines
            .iter()
            .map(|g| {
                let Some(id) = g.id else { return Track::New };
                let mut all = true;
                for m in &by_id {
                    match m.get(&id) {
                        Some(o) if same_goroutine(g, o) => {
                            if !same_place(g, o) {
                                return Track::Moved;
                            }
                        }
                        _ => all = false,
                    }
                }
                if all {
                    Track::Stuck
                } else {
                    Track::New
                }
            })
            .collect();
        let last_ids: std::collections::HashSet<u64> =
            last.goroutines.iter().filter_map(|g| g.id).collect();
        let ended = earlier[0]
            .goroutines
            .iter()
            .filter(|g| g.id.is_some_and(|id| !last_ids.contains(&id)))
            .count();
        let span_s = series
            .at
            .as_ref()
            .and_then(|t| Some(t.last()? - t.first()?));
        let growing = growth(series, &tracks, span_s);
        Some(Timeline {
            snapshots: series.dumps.len(),
            span_s,
            tracks,
            growing,
            ended,
        })
    }

    /// `in all 2 snapshots over 5 s` / `in all 3 snapshots`.
    /// How many snapshots over how long.
    pub fn watched(&self) -> Watched {
        Watched {
            snapshots: self.snapshots,
            seconds: self.span_s,
        }
    }

    pub fn stuck(&self, i: usize) -> bool {
        self.tracks.get(i) == Some(&Track::Stuck)
    }

    pub fn moved(&self, i: usize) -> bool {
        self.tracks.get(i) == Some(&Track::Moved)
    }

    /// How many goroutines of the last snapshot are stuck, moved.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.tracks.iter().filter(|t| **t == Track::Stuck).count(),
            self.tracks.iter().filter(|t| **t == Track::Moved).count(),
        )
    }
}

fn growth(series: &Series, tracks: &[Track], span_s: Option<f64>) -> Vec<Growth> {
    let n = series.dumps.len();
    let mut by_stack: HashMap<OwnedStackKey, Growth> = HashMap::new();
    for (si, d) in series.dumps.iter().enumerate() {
        for (gi, g) in d.goroutines.iter().enumerate() {
            let e = by_stack.entry(stack_key(g)).or_insert_with(|| Growth {
                state: g.state.raw.to_string(),
                site: site_of(g),
                counts: vec![0; n],
                per_minute: None,
                members: Vec::new(),
                old_stuck: true,
            });
            e.counts[si] += g.count;
            if si == n - 1 {
                e.members.push(gi);
            }
        }
    }
    let first = series.dumps[0];
    let first_ids: std::collections::HashSet<u64> =
        first.goroutines.iter().filter_map(|g| g.id).collect();
    let mut out: Vec<Growth> = by_stack
        .into_values()
        .filter(|g| {
            g.counts[0] > 0
                && g.counts.windows(2).all(|w| w[1] >= w[0])
                && g.counts[n - 1] > g.counts[0]
        })
        .map(|mut g| {
            let last = series.dumps[n - 1];
            g.old_stuck = g.members.iter().all(|&m| {
                last.goroutines[m]
                    .id
                    .is_none_or(|id| !first_ids.contains(&id) || tracks[m] == Track::Stuck)
            });
            g.per_minute = span_s
                .filter(|s| *s > 0.0)
                .map(|s| (g.counts[n - 1] - g.counts[0]) as f64 * 60.0 / s);
            g
        })
        .collect();
    out.sort_by(|a, b| {
        let up = |g: &Growth| g.counts[n - 1] - g.counts[0];
        up(b)
            .cmp(&up(a))
            .then(a.site.cmp(&b.site))
            .then(a.state.cmp(&b.state))
    });
    out.truncate(MAX_GROWING);
    out
}

/// The goroutines a finding says are stuck: its cycle and waiters, and its first
/// holder when the finding is about a lock nobody releases.
fn named(f: &Finding) -> Vec<usize> {
    let mut v: Vec<usize> = f.cycle.iter().chain(&f.waiters).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Confidence a finding is raised to when every goroutine it names was seen stuck.
pub const SEEN_STUCK: f64 = 0.5;
/// Confidence a finding falls to when the snapshots show it did not last.
pub const MOVED: f64 = 0.1;

/// Fold the series' evidence into the analysis of its last snapshot, and set its
/// verdict again.
pub fn apply(dump: &Dump, a: &mut Analysis, t: &Timeline) {
    let watched = t.watched();
    for f in a.findings.iter_mut() {
        weigh(f, t, watched);
    }
    for g in &t.growing {
        let mut named_already = false;
        for f in a
            .findings
            .iter_mut()
            .filter(|f| f.waiters.iter().any(|w| g.members.contains(w)))
        {
            named_already = true;
            f.evidence.push(grew(g));
        }
        let every_time = g.counts.windows(2).all(|w| w[1] > w[0]);
        if t.snapshots < 3
            || !every_time
            || !g.old_stuck
            || named_already
            || !blocked_on_goroutines(dump, a, g)
        {
            continue;
        }
        a.findings.push(leak_in_progress(dump, g, watched));
    }
    super::verdict::rank(dump, &mut a.findings);
    a.verdict = super::verdict::of(&a.findings);
}

/// What the series says of one finding: goroutines that moved disprove it, all
/// seen stuck make it stronger, a lock queue stuck with its holder is a stall.
fn weigh(f: &mut Finding, t: &Timeline, watched: Watched) {
    let gs = named(f);
    if gs.is_empty() {
        return;
    }
    let moved: Vec<usize> = gs.iter().copied().filter(|&g| t.moved(g)).collect();
    let all_stuck = gs.iter().all(|&g| t.stuck(g));
    match f.kind {
        FindingKind::Deadlock if !moved.is_empty() => {
            f.confidence = f.confidence.min(MOVED);
            let e = Evidence::MovedBetweenSnapshots { goroutines: moved };
            f.evidence.insert(0, e);
        }
        FindingKind::Stall | FindingKind::Leak if moved.len() == gs.len() => {
            f.confidence = f.confidence.min(MOVED);
            f.evidence.insert(0, Evidence::AllMoved);
        }
        FindingKind::Contention => {
            let holder = f.holders.first().copied();
            if all_stuck && holder.is_some_and(|h| t.stuck(h)) {
                f.kind = FindingKind::Stall;
                f.confidence = f.confidence.max(SEEN_STUCK);
                f.evidence.insert(0, Evidence::QueueSeenStuck { watched });
            }
        }
        _ if all_stuck => {
            f.confidence = f.confidence.max(SEEN_STUCK);
            let e = Evidence::SeenStuck {
                goroutines: gs,
                watched: Box::new(watched),
            };
            f.evidence.insert(0, e);
        }
        _ => {}
    }
}

/// A stack that grew at every step, its older goroutines still stuck.
fn leak_in_progress(dump: &Dump, g: &Growth, watched: Watched) -> Finding {
    let mut waiters = g.members.clone();
    waiters.sort_by_key(|&i| display_id(dump, i));
    Finding {
        kind: FindingKind::Leak,
        confidence: SEEN_STUCK,
        lock: None,
        holders: Vec::new(),
        waiters,
        cycle: Vec::new(),
        headline: Headline::LeakInProgress(Box::new(LeakInProgress {
            state: g.state.clone(),
            site: g.site.clone(),
            counts: g.counts.clone(),
        })),
        holder_wait: None,
        evidence: vec![grew(g), Evidence::OldStillStuck { watched }],
        copies: 1,
        also: Vec::new(),
    }
}

fn grew(g: &Growth) -> Evidence {
    Evidence::Grew {
        counts: g.counts.as_slice().into(),
        per_minute: g.per_minute,
    }
}

/// The members wait for other goroutines (a lock, a channel, a Cond, a WaitGroup),
/// not for the network, a timer or a syscall.
/// The standard library's own goroutines (connection loops, pools) wait by design,
/// and their numbers follow the load: they are left out.
fn blocked_on_goroutines(dump: &Dump, a: &Analysis, g: &Growth) -> bool {
    use super::classify::{is_std, WaitKind};
    g.members.iter().all(|&m| {
        let b = &a.blocked[m];
        let std_site = b
            .site()
            .and_then(|s| dump.goroutines[m].frames.get(s))
            .is_some_and(|f| is_std(&f.function));
        let k = b.kind;
        !std_site
            && dump.goroutines[m].complete
            && (k.is_lock()
                || k.is_chan()
                || matches!(
                    k,
                    WaitKind::WaitGroupWait | WaitKind::CondWait | WaitKind::Semacquire
                ))
    })
}

/// The last snapshot of a series analysed with the evidence of the whole series;
/// `None` for the timeline when there is one snapshot.
pub fn analyze_series(series: &Series, opts: super::Options) -> Option<(Analysis, Timeline)> {
    let last = *series.dumps.last()?;
    let t = Timeline::new(series)?;
    let mut a = super::analyze(last, opts);
    apply(last, &mut a, &t);
    Some((a, t))
}
