//! What several snapshots of one process showed (`analyze::persist`), in words,
//! JSON and Markdown. Only renders: the evidence is the analysis's.

use std::io::Write;

use serde_json::{json, Value};

use crate::analyze::persist::{Timeline, Track};
use crate::analyze::{display_id, frame_label, Analysis};
use crate::model::Dump;
use crate::report::words::{counts_line, seconds};

/// At most this many stuck goroutines are listed by id.
const SHOWN: usize = 10;

/// A stuck goroutine of the last snapshot: its id and where it waits.
struct StuckLine {
    id: u64,
    wait: String,
}

/// Stuck goroutines of the last snapshot, longest-waiting first, then by id.
fn stuck_list(d: &Dump, a: &Analysis, t: &Timeline) -> Vec<StuckLine> {
    let mut v: Vec<usize> = (0..d.goroutines.len())
        .filter(|&i| t.tracks[i] == Track::Stuck)
        .filter(|&i| !a.blocked[i].kind.is_background() && !a.blocked[i].kind.is_active())
        .collect();
    v.sort_by_key(|&i| {
        (
            std::cmp::Reverse(d.goroutines[i].wait_minutes.unwrap_or(0)),
            display_id(d, i),
        )
    });
    v.into_iter()
        .map(|i| StuckLine {
            id: display_id(d, i),
            wait: crate::report::words::describe_wait(d, &a.blocked, i),
        })
        .collect()
}

/// `across 3 snapshots over 10 s: 12 stuck, 3 moved, 2 new, 1 ended`.
pub fn headline(t: &Timeline) -> String {
    let (stuck, moved) = t.counts();
    let new = t.tracks.len() - stuck - moved;
    let span = t
        .span_s
        .map(|s| format!(" over {}", seconds(s)))
        .unwrap_or_default();
    format!(
        "across {} snapshots{span}: {} stuck (same wait, same frames in every snapshot), {moved} moved, {new} new, {} ended",
        t.snapshots,
        crate::report::words::goroutines(stuck as u64),
        t.ended
    )
}

fn growth_line(g: &crate::analyze::persist::Growth) -> String {
    format!(
        "{} at {}: {}{}",
        g.state,
        g.site,
        counts_line(&g.counts),
        g.per_minute
            .map(|r| format!(" ({r:+.1} a minute)"))
            .unwrap_or_default()
    )
}

/// The timeline section of the text report.
pub fn write_text(
    out: &mut dyn Write,
    d: &Dump,
    a: &Analysis,
    t: &Timeline,
) -> std::io::Result<()> {
    let wrap = crate::report::text::wrap;
    writeln!(out, "{}", wrap(&headline(t), 0, "  "))?;
    let stuck = stuck_list(d, a, t);
    if !stuck.is_empty() {
        writeln!(out, "stuck:")?;
        for s in stuck.iter().take(SHOWN) {
            let line = format!("goroutine {}: {}", s.id, s.wait);
            writeln!(out, "  {}", wrap(&line, 2, "    "))?;
        }
        if stuck.len() > SHOWN {
            writeln!(out, "  … and {} more", stuck.len() - SHOWN)?;
        }
    }
    if !t.growing.is_empty() {
        writeln!(out, "growing:")?;
        for g in &t.growing {
            writeln!(out, "  {}", wrap(&growth_line(g), 2, "    "))?;
        }
    }
    Ok(())
}

/// The timeline section of the Markdown report.
pub fn write_markdown(
    out: &mut dyn Write,
    d: &Dump,
    a: &Analysis,
    t: &Timeline,
) -> std::io::Result<()> {
    writeln!(out, "\n### Across snapshots\n\n{}\n", headline(t))?;
    let stuck = stuck_list(d, a, t);
    for s in stuck.iter().take(SHOWN) {
        writeln!(out, "- stuck: goroutine {}: `{}`", s.id, s.wait)?;
    }
    for g in &t.growing {
        writeln!(out, "- growing: `{}`", growth_line(g))?;
    }
    Ok(())
}

/// The timeline as JSON.
pub fn to_json(d: &Dump, a: &Analysis, t: &Timeline) -> Value {
    let (stuck, moved) = t.counts();
    let ids = |want: Track| -> Vec<u64> {
        let mut v: Vec<u64> = (0..d.goroutines.len())
            .filter(|&i| t.tracks[i] == want)
            .map(|i| display_id(d, i))
            .collect();
        v.sort_unstable();
        v
    };
    json!({
        "snapshots": t.snapshots,
        "span_seconds": t.span_s,
        "stuck": stuck,
        "moved": moved,
        "ended": t.ended,
        "stuck_ids": ids(Track::Stuck),
        "moved_ids": ids(Track::Moved),
        "stuck_waits": stuck_list(d, a, t).into_iter().take(SHOWN).map(|s| json!({"id": s.id, "wait": s.wait})).collect::<Vec<_>>(),
        "growing": t.growing.iter().map(|g| json!({
            "state": g.state,
            "site": g.site,
            "counts": g.counts,
            "per_minute": g.per_minute,
        })).collect::<Vec<_>>(),
    })
}

/// `function (file:line)` of a goroutine's top frame, for lists.
pub fn top(d: &Dump, i: usize) -> String {
    let g = &d.goroutines[i];
    if g.frames.is_empty() {
        "no frames".to_string()
    } else {
        frame_label(g, 0)
    }
}
