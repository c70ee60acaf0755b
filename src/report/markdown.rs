//! The report as Markdown, for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use std::io::Write;

use crate::analyze::{display_id, lock_name, Analysis, Finding};
use crate::model::Dump;
use crate::report::words;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn write(
    w: &mut dyn Write,
    source: &str,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
) -> std::io::Result<()> {
    write_heading(w, source, dump, a)?;
    for f in &a.findings {
        write_finding(w, dump, a, f)?;
    }
    write_groups(w, dump, a, max_groups)?;
    if !a.notes.is_empty() {
        writeln!(w)?;
    }
    for n in &a.notes {
        writeln!(w, "> note: {}", super::words::note(n))?;
    }
    Ok(())
}

/// The verdict and the input, then the snapshot's size, format and Go version.
fn write_heading(
    w: &mut dyn Write,
    source: &str,
    dump: &Dump,
    a: &Analysis,
) -> std::io::Result<()> {
    writeln!(
        w,
        "## godeadlock: **{}** — `{}`",
        a.verdict.as_str(),
        cell(source)
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{} · {} · {}",
        super::text::plural(dump.total(), "goroutine", "goroutines"),
        dump.format.as_str(),
        dump.go_version.as_deref().unwrap_or("Go version unknown")
    )?;
    writeln!(w)
}

/// One finding: its heading, what it names (`write_named`), its evidence folded.
fn write_finding(w: &mut dyn Write, dump: &Dump, a: &Analysis, f: &Finding) -> std::io::Result<()> {
    writeln!(
        w,
        "### {}: {} (confidence {:.2})",
        f.kind.as_str(),
        cell(&words::headline(dump, a, f)),
        f.confidence
    )?;
    writeln!(w)?;
    write_named(w, dump, a, f)?;
    writeln!(w)?;
    writeln!(w, "<details><summary>evidence</summary>")?;
    writeln!(w)?;
    for e in &words::evidence(dump, a, f) {
        writeln!(w, "- {}", e)?;
    }
    writeln!(w)?;
    writeln!(w, "</details>")?;
    writeln!(w)
}

/// A finding's list items: its lock, holder and other likely holders, cycle,
/// waiters (the first 30) and what the holder is blocked on.
fn write_named(w: &mut dyn Write, dump: &Dump, a: &Analysis, f: &Finding) -> std::io::Result<()> {
    let id = |i: usize| display_id(dump, i);
    if let Some(li) = f.lock {
        writeln!(
            w,
            "- **lock:** `{}` at `{}`",
            lock_name(&a.locks[li]),
            a.locks[li].site
        )?;
    }
    if let Some(&first) = f.holders.first() {
        writeln!(w, "- **holder:** {}", id(first))?;
        // A waiter of the lock is listed among the waiters, not as its holder.
        let waiting: rustc_hash::FxHashSet<usize> = f.waiters.iter().copied().collect();
        let others: Vec<String> = f.holders[1..]
            .iter()
            .filter(|h| !waiting.contains(h))
            .map(|&i| id(i).to_string())
            .collect();
        if !others.is_empty() {
            writeln!(w, "- **other likely holders:** {}", others.join(", "))?;
        }
    }
    if !f.cycle.is_empty() {
        let h: Vec<String> = f.cycle.iter().map(|&i| id(i).to_string()).collect();
        writeln!(w, "- **cycle:** {}", h.join(", "))?;
    }
    if !f.waiters.is_empty() {
        let h: Vec<String> = f
            .waiters
            .iter()
            .take(30)
            .map(|&i| id(i).to_string())
            .collect();
        writeln!(
            w,
            "- **waiters ({}):** {}{}",
            f.waiters.len(),
            h.join(", "),
            if f.waiters.len() > 30 { ", …" } else { "" }
        )?;
    }
    if let Some(hw) = &words::holder_wait(dump, a, f) {
        writeln!(w, "- **holder blocked on:** `{}`", hw)?;
    }
    Ok(())
}

/// The table of the first `max_groups` groups: count, state, wait and blocking
/// site (with the caller that tells groups on one site apart).
fn write_groups(
    w: &mut dyn Write,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
) -> std::io::Result<()> {
    writeln!(w, "| count | state | wait | blocking site |")?;
    writeln!(w, "|---:|---|---|---|")?;
    let shown: Vec<_> = a.groups.iter().take(max_groups).collect();
    let callers = super::text::callers(dump, &shown);
    for (g, via) in shown.iter().zip(&callers) {
        let rep = &dump.goroutines[g.group.representative()];
        let wait = super::text::wait_label(g.group.wait_minutes);
        let via = via
            .as_ref()
            .map(|v| format!(" via `{}`", cell(v)))
            .unwrap_or_default();
        writeln!(
            w,
            "| {} | {} | {} | `{}`{via} |",
            g.group.count,
            cell(rep.state.raw),
            wait,
            cell(&g.site)
        )?;
    }
    Ok(())
}
