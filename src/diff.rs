//! `godeadlock diff A B`: what changed between two snapshots. Stacks (the same
//! wait and the same function, file and line in every frame) that are new, that
//! vanished, whose counts went up or down; and the goroutines still at the same
//! place (same id, same wait, same frames: `analyze::persist`), by where they wait.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde_json::{json, Value};

use crate::analyze::persist::{same_place, site_of};
use crate::model::{Dump, Goroutine};

/// One stack in either snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The wait as printed.
    pub state: String,
    /// `function (file:line)` of the innermost frame outside the runtime.
    pub site: String,
    pub before: u64,
    pub after: u64,
}

impl Change {
    pub fn delta(&self) -> i64 {
        self.after as i64 - self.before as i64
    }
}

/// Goroutines still at one place in both snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Still {
    pub state: String,
    pub site: String,
    /// Their ids, sorted.
    pub ids: Vec<u64>,
    /// The longest `N minutes` the second snapshot prints for them.
    pub max_wait_minutes: Option<u32>,
}

/// What changed from `a` to `b`.
#[derive(Debug, Clone)]
pub struct Diff {
    pub total_before: u64,
    pub total_after: u64,
    /// In `b` only, most goroutines first.
    pub new: Vec<Change>,
    /// In `a` only, most goroutines first.
    pub vanished: Vec<Change>,
    /// In both, count up; most growth first.
    pub up: Vec<Change>,
    /// In both, count down; most shrinkage first.
    pub down: Vec<Change>,
    /// In both with the same count.
    pub same: usize,
    /// Still at the same place, most goroutines first.
    pub still: Vec<Still>,
    /// Goroutines in both with other frames or another wait.
    pub moved: usize,
}

/// A stack: the wait as printed and each frame's function, file and line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StackKey<'a> {
    state: &'a str,
    frames: Vec<FrameKey<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FrameKey<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
}

fn key<'a>(g: &Goroutine<'a>) -> StackKey<'a> {
    StackKey {
        state: g.state.raw,
        frames: g
            .frames
            .iter()
            .map(|f| FrameKey {
                function: f.function.full(),
                file: f.file,
                line: f.line,
            })
            .collect(),
    }
}

/// A stack first seen, with its state and site.
struct Seen<'a> {
    key: StackKey<'a>,
    state: String,
    site: String,
}

/// The stacks of a snapshot: goroutines per stack, and each stack in first-seen
/// order.
struct Stacks<'a> {
    counts: HashMap<StackKey<'a>, u64>,
    order: Vec<Seen<'a>>,
}

fn stacks<'a>(d: &Dump<'a>) -> Stacks<'a> {
    let mut counts: HashMap<StackKey, u64> = HashMap::new();
    let mut order = Vec::new();
    for g in &d.goroutines {
        let k = key(g);
        let c = counts.entry(k.clone()).or_insert_with(|| {
            order.push(Seen {
                key: k,
                state: g.state.raw.to_string(),
                site: site_of(g),
            });
            0
        });
        *c += g.count;
    }
    Stacks { counts, order }
}

/// Where goroutines wait: the wait as printed, and the site. Ordered by state,
/// then site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    state: String,
    site: String,
}

/// Goroutines at one place in each snapshot, and whether any stack there was seen.
#[derive(Debug, Default)]
struct AtPlace {
    before: u64,
    after: u64,
    in_a: bool,
    in_b: bool,
}

/// Changes between two snapshots (of one process, for `still` and `moved` to mean
/// anything; the stack counts compare any two).
pub fn diff(a: &Dump, b: &Dump) -> Diff {
    let mut d = Diff {
        total_before: a.total(),
        total_after: b.total(),
        new: Vec::new(),
        vanished: Vec::new(),
        up: Vec::new(),
        down: Vec::new(),
        same: 0,
        still: Vec::new(),
        moved: 0,
    };
    compare_counts(a, b, &mut d);
    find_still(a, b, &mut d);
    d
}

/// `new`, `vanished`, `up`, `down` and `same`: the goroutines of each place (the
/// stacks of one site and state are one line: their counts add up), compared.
fn compare_counts(a: &Dump, b: &Dump, d: &mut Diff) {
    let (sa, sb) = (stacks(a), stacks(b));
    let mut merged: BTreeMap<Place, AtPlace> = BTreeMap::new();
    for s in &sa.order {
        let e = merged.entry(place(&s.state, &s.site)).or_default();
        e.before += sa.counts[&s.key];
        e.in_a = true;
    }
    for s in &sb.order {
        let e = merged.entry(place(&s.state, &s.site)).or_default();
        e.after += sb.counts[&s.key];
        e.in_b = true;
    }
    for (Place { state, site }, at) in merged {
        let (before, after) = (at.before, at.after);
        let c = Change {
            state,
            site,
            before,
            after,
        };
        match (at.in_a, at.in_b) {
            (false, true) => d.new.push(c),
            (true, false) => d.vanished.push(c),
            _ if after > before => d.up.push(c),
            _ if after < before => d.down.push(c),
            _ => d.same += 1,
        }
    }
    d.new
        .sort_by(|x, y| y.after.cmp(&x.after).then(x.site.cmp(&y.site)));
    d.vanished
        .sort_by(|x, y| y.before.cmp(&x.before).then(x.site.cmp(&y.site)));
    d.up.sort_by(|x, y| y.delta().cmp(&x.delta()).then(x.site.cmp(&y.site)));
    d.down
        .sort_by(|x, y| x.delta().cmp(&y.delta()).then(x.site.cmp(&y.site)));
}

fn place(state: &str, site: &str) -> Place {
    Place {
        state: state.to_string(),
        site: site.to_string(),
    }
}

/// `still` and `moved`: the goroutines of `b` that `a` held too (the same id and
/// creator), at the same place or not; those still there by place, most first.
fn find_still(a: &Dump, b: &Dump, d: &mut Diff) {
    let by_id: HashMap<u64, &Goroutine> = a
        .goroutines
        .iter()
        .filter_map(|g| g.id.map(|id| (id, g)))
        .collect();
    let mut still: BTreeMap<Place, Still> = BTreeMap::new();
    for g in &b.goroutines {
        let Some(old) = g.id.and_then(|id| by_id.get(&id)) else {
            continue;
        };
        if old.created_by().map(|c| (c.function.full(), c.line))
            != g.created_by().map(|c| (c.function.full(), c.line))
        {
            continue;
        }
        if !same_place(old, g) {
            d.moved += 1;
            continue;
        }
        let site = site_of(g);
        let s = still
            .entry(place(g.state.raw, &site))
            .or_insert_with(|| Still {
                state: g.state.raw.to_string(),
                site,
                ids: Vec::new(),
                max_wait_minutes: None,
            });
        s.ids.extend(g.id);
        s.max_wait_minutes = s.max_wait_minutes.max(g.wait_minutes);
    }
    d.still = still.into_values().collect();
    for s in &mut d.still {
        s.ids.sort_unstable();
    }
    d.still
        .sort_by(|x, y| y.ids.len().cmp(&x.ids.len()).then(x.site.cmp(&y.site)));
}

/// Lines shown per section.
const SHOWN: usize = 20;
/// Ids shown per still-stuck line.
const IDS: usize = 10;

fn ids_text(ids: &[u64]) -> String {
    let mut s: Vec<String> = ids.iter().take(IDS).map(u64::to_string).collect();
    if ids.len() > IDS {
        s.push(format!("… {} more", ids.len() - IDS));
    }
    s.join(", ")
}

fn change_line(c: &Change) -> String {
    format!(
        "{:>+6}  {} → {}  {} at {}",
        c.delta(),
        c.before,
        c.after,
        c.state,
        c.site
    )
}

fn still_line(s: &Still) -> String {
    let wait = s
        .max_wait_minutes
        .map(|m| format!(", {}", crate::report::words::minutes(m)))
        .unwrap_or_default();
    format!(
        "{:>6}  {}{wait} at {}  ({} {})",
        s.ids.len(),
        s.state,
        s.site,
        if s.ids.len() == 1 {
            "goroutine"
        } else {
            "goroutines"
        },
        ids_text(&s.ids)
    )
}

fn sections(d: &Diff) -> [(&'static str, Vec<String>, usize); 5] {
    let lines = |v: &[Change]| v.iter().take(SHOWN).map(change_line).collect::<Vec<_>>();
    [
        ("new", lines(&d.new), d.new.len()),
        ("vanished", lines(&d.vanished), d.vanished.len()),
        ("up", lines(&d.up), d.up.len()),
        ("down", lines(&d.down), d.down.len()),
        (
            "still at the same place",
            d.still.iter().take(SHOWN).map(still_line).collect(),
            d.still.len(),
        ),
    ]
}

pub fn headline(d: &Diff) -> String {
    let stuck: usize = d.still.iter().map(|s| s.ids.len()).sum();
    format!(
        "{} → {} goroutines: {}, {} vanished, {} up, {} down, {} unchanged; {} still at the same place, {} moved",
        d.total_before,
        d.total_after,
        crate::report::text::plural(d.new.len() as u64, "new stack", "new stacks"),
        d.vanished.len(),
        d.up.len(),
        d.down.len(),
        d.same,
        crate::report::words::goroutines(stuck as u64),
        d.moved
    )
}

pub fn write_text(out: &mut dyn Write, a: &str, b: &str, d: &Diff) -> std::io::Result<()> {
    writeln!(out, "{a} → {b}")?;
    writeln!(out, "{}", headline(d))?;
    for (title, lines, n) in sections(d) {
        if lines.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({n}):")?;
        for l in &lines {
            writeln!(out, "  {l}")?;
        }
        if n > lines.len() {
            writeln!(out, "  … and {} more", n - lines.len())?;
        }
    }
    Ok(())
}

pub fn write_markdown(out: &mut dyn Write, a: &str, b: &str, d: &Diff) -> std::io::Result<()> {
    writeln!(out, "## `{a}` → `{b}`\n\n{}", headline(d))?;
    for (title, lines, n) in sections(d) {
        if lines.is_empty() {
            continue;
        }
        writeln!(out, "\n### {title} ({n})\n")?;
        for l in &lines {
            writeln!(out, "- `{}`", l.trim())?;
        }
    }
    Ok(())
}

pub fn to_json(a: &str, b: &str, d: &Diff) -> Value {
    let changes = |v: &[Change]| {
        v.iter()
            .map(
                |c| json!({"state": c.state, "site": c.site, "before": c.before, "after": c.after}),
            )
            .collect::<Vec<_>>()
    };
    json!({
        "before": a,
        "after": b,
        "goroutines_before": d.total_before,
        "goroutines_after": d.total_after,
        "new": changes(&d.new),
        "vanished": changes(&d.vanished),
        "up": changes(&d.up),
        "down": changes(&d.down),
        "unchanged": d.same,
        "still": d.still.iter().map(|s| json!({
            "state": s.state, "site": s.site, "ids": s.ids, "max_wait_minutes": s.max_wait_minutes,
        })).collect::<Vec<_>>(),
        "moved": d.moved,
    })
}
