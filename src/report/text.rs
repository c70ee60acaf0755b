//! The terminal report: the answer first, then the evidence, then the groups.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use crate::analyze::{display_id, frame_label, lock_name, Analysis, Finding, FindingKind, Verdict};
use crate::model::Dump;
use crate::report::words;

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("1;33", s)
    }
    fn green(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// The terminal width the report is laid out for.
const WIDTH: usize = 100;

/// Wrap `text` at spaces so that no line passes `WIDTH` columns: the first line
/// starts `first` columns in, the others with `indent`.
pub fn wrap(text: &str, first: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut col = first;
    for (i, word) in text.split(' ').enumerate() {
        let len = word.chars().count();
        if i > 0 {
            if col + 1 + len > WIDTH && col > indent.len() {
                out.push('\n');
                out.push_str(indent);
                col = indent.len();
            } else {
                out.push(' ');
                col += 1;
            }
        }
        out.push_str(word);
        col += len;
    }
    out
}

/// How many ids to print before "and N more".
const MAX_IDS: usize = 12;

pub fn id_list(ids: &[u64]) -> String {
    let mut s: Vec<String> = ids.iter().take(MAX_IDS).map(|i| i.to_string()).collect();
    if ids.len() > MAX_IDS {
        s.push(format!("… {} more", ids.len() - MAX_IDS));
    }
    s.join(", ")
}

fn verdict_line(style: Style, a: &Analysis) -> String {
    let v = a.verdict.as_str().to_uppercase();
    match a.verdict {
        Verdict::Deadlock => style.red(&v),
        Verdict::Stall => style.yellow(&v),
        Verdict::Leak => style.yellow(&v),
        Verdict::Ok => style.green(&v),
    }
}

fn write_finding(
    w: &mut dyn Write,
    style: Style,
    dump: &Dump,
    a: &Analysis,
    f: &Finding,
    full: bool,
) -> std::io::Result<()> {
    let id = |i: usize| display_id(dump, i);
    let who = if a.ids_are_groups {
        "record"
    } else {
        "goroutine"
    };
    if let Some(li) = f.lock {
        let l = &a.locks[li];
        writeln!(
            w,
            "  {}    {}",
            style.bold("lock:"),
            wrap(
                &format!("{} — asked for at {}", lock_name(l), l.site),
                11,
                "           "
            )
        )?;
        writeln!(w, "           identified by {}", words::rule(l.rule))?;
    }
    if let Some(&h) = f.holders.first() {
        let g = &dump.goroutines[h];
        writeln!(
            w,
            "  {}  {} {}",
            style.bold("holder:"),
            who,
            style.bold(&id(h).to_string())
        )?;
        let cand = f
            .lock
            .and_then(|li| a.locks[li].holders.iter().find(|c| c.goroutine == h));
        if let Some(fi) = cand.and_then(|c| c.got_in) {
            writeln!(w, "           lock taken here:  {}", frame_label(g, fi))?;
        }
        if let Some(hw) = &words::holder_wait(dump, a, f) {
            writeln!(
                w,
                "           blocked here:     {}",
                wrap(hw, 29, "             ")
            )?;
        }
        if full {
            // Where it blocks, then the program's own frames; runs of library frames
            // in between are folded.
            writeln!(w, "           stack:")?;
            let site = a.blocked[h].site().unwrap_or(0);
            let mut shown = 0;
            let mut folded = 0;
            for (i, fr) in g.frames.iter().enumerate() {
                let keep =
                    i == site || (i > site && !crate::analyze::classify::is_std(&fr.function));
                if !keep || shown >= 14 {
                    folded += 1;
                    continue;
                }
                if folded > 0 && shown > 0 {
                    writeln!(
                        w,
                        "             {}",
                        style.dim(&format!("… {folded} library frames"))
                    )?;
                }
                folded = 0;
                writeln!(w, "             {}", style.dim(&frame_label(g, i)))?;
                shown += 1;
            }
            if folded > 0 {
                writeln!(
                    w,
                    "             {}",
                    style.dim(&format!("… {folded} more frames"))
                )?;
            }
        }
        if f.holders.len() > 1 {
            let others: Vec<u64> = f.holders[1..].iter().map(|&h| id(h)).collect();
            writeln!(w, "           other likely holders: {}", id_list(&others))?;
        }
    }
    if !f.cycle.is_empty() {
        let c: Vec<u64> = f.cycle.iter().map(|&i| id(i)).collect();
        writeln!(w, "  {}   {}s {}", style.bold("cycle:"), who, id_list(&c))?;
    }
    if !f.waiters.is_empty() {
        let ws: Vec<u64> = f.waiters.iter().map(|&i| id(i)).collect();
        let n: u64 = f.waiters.iter().map(|&i| dump.goroutines[i].count).sum();
        let same = a
            .groups
            .iter()
            .find(|g| g.group.members.contains(&f.waiters[0]))
            .is_some_and(|g| {
                let members: std::collections::HashSet<usize> =
                    g.group.members.iter().copied().collect();
                g.group.members.len() == f.waiters.len()
                    && f.waiters.iter().all(|w| members.contains(w))
            });
        let line = format!(
            "{} {}{}: {}",
            n,
            if a.ids_are_groups {
                "goroutines in records"
            } else {
                "goroutines"
            },
            if same && f.waiters.len() > 1 {
                " (one identical stack)"
            } else {
                ""
            },
            id_list(&ws)
        );
        writeln!(
            w,
            "  {} {}",
            style.bold("waiters:"),
            wrap(&line, 11, "           ")
        )?;
        if full {
            let g = &dump.goroutines[f.waiters[0]];
            let b = &a.blocked[f.waiters[0]];
            if let Some(s) = b.lock_frame().or(b.site()).filter(|&s| s < g.frames.len()) {
                let at = format!(
                    "waiting at {} ({} [{}])",
                    frame_label(g, s),
                    b.kind.as_str(),
                    g.state.raw
                );
                writeln!(w, "           {}", wrap(&at, 11, "             "))?;
            }
        }
    }
    writeln!(w, "  {}", style.bold("evidence:"))?;
    let limit = if full { 12 } else { 3 };
    let evidence = words::evidence(dump, a, f);
    for e in evidence.iter().take(limit) {
        writeln!(w, "    - {}", wrap(e, 6, "      "))?;
    }
    if evidence.len() > limit {
        writeln!(
            w,
            "    - … {} more (see --format json)",
            evidence.len() - limit
        )?;
    }
    Ok(())
}

fn kind_label(style: Style, k: FindingKind) -> String {
    let s = k.as_str().to_uppercase();
    match k {
        FindingKind::Hang | FindingKind::Deadlock => style.red(&s),
        FindingKind::Stall | FindingKind::Leak => style.yellow(&s),
        FindingKind::Contention => style.bold(&s),
    }
}

/// The full report for one dump.
pub fn write(
    w: &mut dyn Write,
    style: Style,
    source: &str,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
    all: bool,
) -> std::io::Result<()> {
    // A test that timed out hung, whatever the verdict: that leads.
    let hang = a.findings.iter().find(|f| f.kind == FindingKind::Hang);
    let head = hang.or_else(|| {
        a.findings.iter().find(|f| {
            f.kind.verdict() == Some(a.verdict) && f.confidence >= crate::analyze::VERDICT_THRESHOLD
        })
    });
    match head {
        Some(f) => writeln!(
            w,
            "{}  {}",
            match hang {
                Some(h) => kind_label(style, h.kind),
                None => verdict_line(style, a),
            },
            wrap(
                &format!(
                    "{}  (confidence {:.2})",
                    words::headline(dump, a, f),
                    f.confidence
                ),
                f.kind.as_str().len() + 2,
                "  "
            )
        )?,
        None if a.verdict == crate::analyze::Verdict::Ok => writeln!(
            w,
            "{}  no deadlock, stall or leak found",
            verdict_line(style, a)
        )?,
        // Only a filter takes away the finding that set the verdict.
        None => writeln!(
            w,
            "{}  found in the whole dump; the finding that says so is hidden by the filter",
            verdict_line(style, a)
        )?,
    }
    if let Some(f) = head {
        write_finding(w, style, dump, a, f, true)?;
    }
    let rest: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| head.is_none_or(|h| !std::ptr::eq(*f, h)))
        .collect();
    // Those that count come first (the findings are ranked so); the informational
    // ones, and more than six, only with --all.
    let shown: Vec<&Finding> = rest
        .iter()
        .copied()
        .filter(|f| all || f.counts())
        .take(if all { usize::MAX } else { 6 })
        .collect();
    if !shown.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{}",
            style.bold(&format!("Other findings ({}):", shown.len()))
        )?;
        for f in &shown {
            writeln!(
                w,
                "{}  {}",
                kind_label(style, f.kind),
                wrap(
                    &format!(
                        "{}  (confidence {:.2}{})",
                        words::headline(dump, a, f),
                        f.confidence,
                        if f.counts() { "" } else { ", informational" }
                    ),
                    f.kind.as_str().len() + 2,
                    "  "
                )
            )?;
            write_finding(w, style, dump, a, f, false)?;
        }
    }
    if let Some(line) = words::not_shown(&rest, shown.len()) {
        writeln!(w)?;
        writeln!(w, "{}", wrap(&line, 0, "  "))?;
    }
    writeln!(w)?;
    write_groups(w, dump, a, max_groups)?;
    writeln!(w)?;
    write_summary(w, style, source, dump, a)
}

/// The groups table, most suspicious first.
pub fn write_groups(
    w: &mut dyn Write,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
) -> std::io::Result<()> {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(100)
        .set_header(vec![
            "count",
            "state",
            "wait",
            "blocking site",
            if a.ids_are_groups { "records" } else { "ids" },
        ]);
    for g in a.groups.iter().take(max_groups) {
        let rep = &dump.goroutines[g.group.representative()];
        let wait = match g.group.wait_minutes {
            Some((lo, hi)) if lo == hi => format!("{lo}m"),
            Some((lo, hi)) => format!("{lo}-{hi}m"),
            None => String::new(),
        };
        let ids: Vec<u64> = if a.ids_are_groups {
            g.group.members.iter().map(|&m| m as u64).collect()
        } else {
            g.group.ids.clone()
        };
        let mut idl: Vec<String> = ids.iter().take(6).map(|i| i.to_string()).collect();
        if ids.len() > 6 {
            idl.push("…".into());
        }
        let state = if rep.state.raw.is_empty() {
            g.kind.as_str()
        } else {
            rep.state.raw
        };
        t.add_row(vec![
            g.group.count.to_string(),
            state.to_string(),
            wait,
            g.site.clone(),
            idl.join(" "),
        ]);
    }
    writeln!(w, "{t}")?;
    if a.groups.len() > max_groups {
        writeln!(
            w,
            "… {} more groups (--groups N, or `godeadlock groups`)",
            a.groups.len() - max_groups
        )?;
    }
    Ok(())
}

fn write_summary(
    w: &mut dyn Write,
    style: Style,
    source: &str,
    dump: &Dump,
    a: &Analysis,
) -> std::io::Result<()> {
    let version = match (&dump.go_version, dump.go_version_min) {
        (Some(v), _) => v.clone(),
        (None, Some(m)) => format!("{m} or later"),
        (None, None) => "Go version unknown".to_string(),
    };
    writeln!(w, "{}", style.dim(source))?;
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    writeln!(
        w,
        "{} in {} · {} ({}) · {}",
        plural(dump.total(), "goroutine", "goroutines"),
        plural(a.groups.len() as u64, "group", "groups"),
        dump.format.as_str(),
        dump.trigger.as_str(),
        version
    )?;
    // The eight most common states, and how many more there are: never dropped
    // without a word.
    const STATES_SHOWN: usize = 8;
    let hist = &a.states;
    let mut parts: Vec<String> = hist
        .iter()
        .take(STATES_SHOWN)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    if hist.len() > STATES_SHOWN {
        let rest = &hist[STATES_SHOWN..];
        let n: u64 = rest.iter().map(|(_, n)| n).sum();
        parts.push(format!(
            "… {} more {} ({})",
            rest.len(),
            if rest.len() == 1 { "state" } else { "states" },
            plural(n, "goroutine", "goroutines")
        ));
    }
    writeln!(
        w,
        "{}",
        style.dim(&wrap(&format!("states: {}", parts.join(", ")), 0, "  "))
    )?;
    let leaked: u64 = dump
        .goroutines
        .iter()
        .filter(|g| g.leaked)
        .map(|g| g.count)
        .sum();
    if dump.leak_profile || leaked > 0 {
        let what = if dump.leak_profile {
            "the goroutine leak profile (goroutineleak)"
        } else {
            "goroutines marked (leaked)"
        };
        writeln!(
            w,
            "{}",
            style.dim(&wrap(
                &format!("{what}: the Go runtime proved {leaked} goroutine(s) leaked"),
                0,
                "  "
            ))
        )?;
    }
    for n in &a.notes {
        writeln!(w, "{}", style.dim(&wrap(&format!("note: {n}"), 0, "  ")))?;
    }
    Ok(())
}
