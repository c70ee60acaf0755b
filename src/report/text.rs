//! The terminal report: the answer first, then the evidence, then the groups.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use crate::analyze::{
    display_id, frame_label, lock_name, Analysis, Finding, FindingKind, GroupInfo, Verdict,
};
use crate::model::{Dump, Goroutine};
use crate::report::words;
use crate::source::Sources;

/// ANSI styling, or none; and where to read the source lines quoted, if anywhere.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    pub color: bool,
    pub sources: Option<&'a Sources>,
}

impl Style<'_> {
    /// Uncoloured, no source quoted.
    pub fn plain() -> Self {
        Style {
            color: false,
            sources: None,
        }
    }

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

/// The width the report is laid out for when nothing says otherwise (not a terminal).
pub const DEFAULT_WIDTH: usize = 100;

/// The terminal width the report is laid out for: set once by the binary from
/// COLUMNS or the terminal, read by every wrapped line and the tables.
static WIDTH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(DEFAULT_WIDTH);

/// Lay the report out for `columns` (at least 40).
pub fn set_width(columns: usize) {
    WIDTH.store(columns.max(40), std::sync::atomic::Ordering::Relaxed);
}

fn width() -> usize {
    WIDTH.load(std::sync::atomic::Ordering::Relaxed)
}

/// `1 goroutine`, `2 goroutines`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Wrap `text` at spaces so that no line passes `WIDTH` columns: the first line
/// starts `first` columns in, the others with `indent`.
pub fn wrap(text: &str, first: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut col = first;
    for (i, word) in text.split(' ').enumerate() {
        let len = word.chars().count();
        if i > 0 {
            if col + 1 + len > width() && col > indent.len() {
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
    let out = FindingText {
        style,
        dump,
        a,
        f,
        full,
    };
    out.lock(w)?;
    if let Some(&h) = f.holders.first() {
        out.holder(w, h)?;
    }
    out.cycle(w)?;
    if !f.waiters.is_empty() {
        out.waiters(w)?;
    }
    out.evidence(w)
}

/// A finding written as text: its lock, holder, cycle, waiters, evidence (`full`:
/// with stacks and more evidence, for the first finding).
struct FindingText<'x, 'd> {
    style: Style<'x>,
    dump: &'x Dump<'d>,
    a: &'x Analysis,
    f: &'x Finding,
    full: bool,
}

impl FindingText<'_, '_> {
    /// The id printed for goroutine `i`.
    fn id(&self, i: usize) -> u64 {
        display_id(self.dump, i)
    }

    /// What an id names: a goroutine, or a record of an aggregated profile.
    fn who(&self) -> &'static str {
        if self.a.ids_are_groups {
            "record"
        } else {
            "goroutine"
        }
    }

    /// The lock, where it was asked for, and the rule that identified it.
    fn lock(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let Some(li) = self.f.lock else {
            return Ok(());
        };
        let l = &self.a.locks[li];
        writeln!(
            w,
            "  {}    {}",
            self.style.bold("lock:"),
            wrap(
                &format!("{} — asked for at {}", lock_name(l), l.site),
                11,
                "           "
            )
        )?;
        let by = format!("identified by {}", words::rule(l.rule));
        writeln!(w, "           {}", wrap(&by, 11, "             "))
    }

    /// The holder `h`: where it took the lock, where it blocks, its stack (when
    /// `full`), and the other likely holders.
    fn holder(&self, w: &mut dyn Write, h: usize) -> std::io::Result<()> {
        let (style, dump, a, f) = (self.style, self.dump, self.a, self.f);
        let g = &dump.goroutines[h];
        writeln!(
            w,
            "  {}  {} {}",
            style.bold("holder:"),
            self.who(),
            style.bold(&self.id(h).to_string())
        )?;
        let cand = f
            .lock
            .and_then(|li| a.locks[li].holders.iter().find(|c| c.goroutine == h));
        if let Some(fi) = cand.and_then(|c| c.got_in) {
            let at = wrap(&frame_label(g, fi), 29, "             ");
            writeln!(w, "           lock taken here:  {at}")?;
            quote(w, style, g, fi, 29)?;
        } else if let Some(fi) = cand.and_then(reentered_in) {
            // Re-entry read from a word: the frame that took it is likely this one.
            let at = wrap(&frame_label(g, fi), 29, "             ");
            writeln!(w, "           likely taken in:  {at}")?;
            quote(w, style, g, fi, 29)?;
        }
        if let Some(hw) = &words::holder_wait(dump, a, f) {
            writeln!(
                w,
                "           blocked here:     {}",
                wrap(hw, 29, "             ")
            )?;
            // Where the program's own code is when it blocks inside the library.
            if let Some(site) = a.blocked[h].site() {
                let own = (site..g.frames.len())
                    .find(|&i| !crate::analyze::classify::is_std(&g.frames[i].function));
                quote(w, style, g, own.unwrap_or(site), 29)?;
            }
        }
        if self.full {
            self.holder_stack(w, h)?;
        }
        self.other_holders(w)
    }

    /// The holder `h`'s stack: where it blocks, then the program's own frames; runs
    /// of library frames in between are folded.
    fn holder_stack(&self, w: &mut dyn Write, h: usize) -> std::io::Result<()> {
        let style = self.style;
        let g = &self.dump.goroutines[h];
        writeln!(w, "           stack:")?;
        let site = self.a.blocked[h].site().unwrap_or(0);
        let mut shown = 0;
        let mut folded = 0;
        for (i, fr) in g.frames.iter().enumerate() {
            let keep = i == site || (i > site && !crate::analyze::classify::is_std(&fr.function));
            if !keep || shown >= 14 {
                folded += 1;
                continue;
            }
            if folded > 0 && shown > 0 {
                let n = plural(folded, "library frame", "library frames");
                writeln!(w, "             {}", style.dim(&format!("… {n}")))?;
            }
            folded = 0;
            let frame = wrap(&frame_label(g, i), 13, "               ");
            writeln!(w, "             {}", style.dim(&frame))?;
            shown += 1;
        }
        if folded > 0 {
            let n = plural(folded, "more frame", "more frames");
            writeln!(w, "             {}", style.dim(&format!("… {n}")))?;
        }
        Ok(())
    }

    /// The holders after the first that are not among the waiters.
    fn other_holders(&self, w: &mut dyn Write) -> std::io::Result<()> {
        // A waiter of the lock holds it in no reading: it is said among the waiters.
        // (A set: a finding with many copies has many holders and waiters.)
        let waiting: rustc_hash::FxHashSet<usize> = self.f.waiters.iter().copied().collect();
        let others: Vec<u64> = self.f.holders[1..]
            .iter()
            .filter(|h| !waiting.contains(h))
            .map(|&h| self.id(h))
            .collect();
        if !others.is_empty() {
            writeln!(w, "           other likely holders: {}", id_list(&others))?;
        }
        Ok(())
    }

    /// The goroutines of the cycle, if there is one.
    fn cycle(&self, w: &mut dyn Write) -> std::io::Result<()> {
        if self.f.cycle.is_empty() {
            return Ok(());
        }
        let who = self.who();
        let c: Vec<u64> = self.f.cycle.iter().map(|&i| self.id(i)).collect();
        let whom = if c.len() == 1 {
            who.to_string()
        } else {
            format!("{who}s")
        };
        writeln!(
            w,
            "  {}   {whom} {}",
            self.style.bold("cycle:"),
            id_list(&c)
        )
    }

    /// The waiters, and (when `full`) where the first one waits.
    fn waiters(&self, w: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            w,
            "  {} {}",
            self.style.bold("waiters:"),
            wrap(&self.waiters_line(), 11, "           ")
        )?;
        if self.full {
            self.first_waiter_site(w)?;
        }
        Ok(())
    }

    /// How many goroutines wait, whether they share one stack, and their ids.
    fn waiters_line(&self) -> String {
        let (dump, a, f) = (self.dump, self.a, self.f);
        let ws: Vec<u64> = f.waiters.iter().map(|&i| self.id(i)).collect();
        let n: u64 = f.waiters.iter().map(|&i| dump.goroutines[i].count).sum();
        let same = a
            .groups
            .iter()
            .find(|g| g.group.members.contains(&f.waiters[0]))
            .is_some_and(|g| {
                // The same goroutines: sizes first (most differ), then sorted.
                let sorted = |v: &[usize]| {
                    let mut v = v.to_vec();
                    v.sort_unstable();
                    v
                };
                g.group.members.len() == f.waiters.len()
                    && sorted(&g.group.members) == sorted(&f.waiters)
            });
        format!(
            "{}{}: {}",
            if a.ids_are_groups {
                plural(n, "goroutine in records", "goroutines in records")
            } else {
                plural(n, "goroutine", "goroutines")
            },
            if same && f.waiters.len() > 1 {
                " (one identical stack)"
            } else {
                ""
            },
            id_list(&ws)
        )
    }

    /// Where the first waiter waits (its lock's frame, else where it blocks), quoted.
    fn first_waiter_site(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let first = self.f.waiters[0];
        let g = &self.dump.goroutines[first];
        let b = &self.a.blocked[first];
        if let Some(s) = b.lock_frame().or(b.site()).filter(|&s| s < g.frames.len()) {
            let at = format!(
                "waiting at {} ({})",
                frame_label(g, s),
                kind_and_state(b.kind.as_str(), g.state.raw)
            );
            writeln!(w, "           {}", wrap(&at, 11, "             "))?;
            quote(w, self.style, g, s, 13)?;
        }
        Ok(())
    }

    /// The evidence: the first 3 (12 when `full`), and how many more there are.
    fn evidence(&self, w: &mut dyn Write) -> std::io::Result<()> {
        writeln!(w, "  {}", self.style.bold("evidence:"))?;
        let limit = if self.full { 12 } else { 3 };
        let evidence = words::evidence(self.dump, self.a, self.f);
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
}

/// The source line of frame `fi`, `indent` columns in, when the file is on this
/// machine; nothing otherwise.
fn quote(
    w: &mut dyn Write,
    style: Style,
    g: &Goroutine,
    fi: usize,
    indent: usize,
) -> std::io::Result<()> {
    let Some(f) = g.frames.get(fi) else {
        return Ok(());
    };
    let Some(text) = style.sources.and_then(|s| s.line(f.file, f.line)) else {
        return Ok(());
    };
    let mut line = format!("{}:{} │ {text}", crate::analyze::short_file(f.file), f.line);
    // Under its label when it fits there, else further left, else cut.
    let len = line.chars().count();
    let indent = if indent + len > width() {
        indent.min(13)
    } else {
        indent
    };
    let room = width().saturating_sub(indent).max(20);
    if len > room {
        line = line.chars().take(room - 1).collect::<String>() + "…";
    }
    writeln!(w, "{:indent$}{}", "", style.dim(&line))
}

/// `mutex lock [sync.Mutex.Lock]`; the state alone when it says the same (`chan receive`).
pub fn kind_and_state(kind: &str, state: &str) -> String {
    if state.is_empty() || state == kind {
        kind.to_string()
    } else {
        format!("{kind} [{state}]")
    }
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
    write_verdict(w, style, dump, a, hang, head)?;
    if let Some(f) = head {
        write_finding(w, style, dump, a, f, true)?;
    }
    write_other_findings(w, style, dump, a, head, all)?;
    writeln!(w)?;
    write_groups(w, dump, a, max_groups)?;
    writeln!(w)?;
    write_summary(w, style, source, dump, a)
}

/// The first line: the verdict (or a hang) and the headline of the finding that
/// leads (`head`), or why there is none.
fn write_verdict(
    w: &mut dyn Write,
    style: Style,
    dump: &Dump,
    a: &Analysis,
    hang: Option<&Finding>,
    head: Option<&Finding>,
) -> std::io::Result<()> {
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
        ),
        None if a.verdict == crate::analyze::Verdict::Ok => {
            // A crash is what the reader came for: said beside the verdict.
            let crash = a.notes.iter().find_map(|n| match n {
                crate::analyze::Note::Crashed { message, goroutine } => {
                    Some(format!(", but {}", words::crashed(message, *goroutine)))
                }
                _ => None,
            });
            let line = format!(
                "no deadlock, stall or leak found{}",
                crash.unwrap_or_default()
            );
            writeln!(w, "{}  {}", verdict_line(style, a), wrap(&line, 4, "  "))
        }
        // Only a filter takes away the finding that set the verdict.
        None => writeln!(
            w,
            "{}  found in the whole dump; the finding that says so is hidden by the filter",
            verdict_line(style, a)
        ),
    }
}

/// The findings after the one that leads (`head`): those that count first (the
/// findings are ranked so); the informational ones, and more than six, only with
/// `all`; then what was left out.
fn write_other_findings(
    w: &mut dyn Write,
    style: Style,
    dump: &Dump,
    a: &Analysis,
    head: Option<&Finding>,
    all: bool,
) -> std::io::Result<()> {
    let rest: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| head.is_none_or(|h| !std::ptr::eq(*f, h)))
        .collect();
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
    Ok(())
}

/// The groups table, most suspicious first.
pub fn write_groups(
    w: &mut dyn Write,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
) -> std::io::Result<()> {
    if a.groups.is_empty() {
        // An empty table says less than this (a leak profile of total 0, a filter
        // that matched nothing).
        return writeln!(w, "(no goroutines to list)");
    }
    let shown: Vec<&GroupInfo> = a.groups.iter().take(max_groups).collect();
    let callers = callers(dump, &shown);
    let rows: Vec<[String; 5]> = shown
        .iter()
        .zip(&callers)
        .map(|(g, via)| group_row(dump, a, g, via.as_deref()))
        .collect();
    let header = [
        "count",
        "state",
        "wait",
        "blocking site",
        if a.ids_are_groups { "records" } else { "ids" },
    ];
    // Cells are wrapped at spaces here, never inside a word: the site column gives
    // up room first, then the ids, then the state, down to their longest word.
    let widths = fit(&header, &rows, width().saturating_sub(16));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for r in rows {
        let cells: Vec<String> = (0..5)
            .map(|c| wrap_to(&r[c], widths[c], if c == 3 { "  " } else { "" }))
            .collect();
        t.add_row(cells);
    }
    writeln!(w, "{t}")?;
    if a.groups.len() > max_groups {
        let n = plural(
            (a.groups.len() - max_groups) as u64,
            "more group",
            "more groups",
        );
        writeln!(w, "… {n} (--groups N, or `godeadlock groups`)")?;
    }
    Ok(())
}

/// Column widths that fit `budget` columns of text where words allow.
fn fit(header: &[&str; 5], rows: &[[String; 5]], budget: usize) -> [usize; 5] {
    let measure = |c: usize, unit: fn(&str) -> Vec<&str>| {
        rows.iter()
            .flat_map(|r| r[c].lines().flat_map(unit).collect::<Vec<_>>())
            .map(|x| x.chars().count())
            .chain([header[c].len()])
            .max()
            .unwrap_or(0)
    };
    let mut widths: [usize; 5] = std::array::from_fn(|c| measure(c, |l| vec![l]));
    let words: [usize; 5] = std::array::from_fn(|c| measure(c, |l| l.split(' ').collect()));
    for c in [3, 4, 1] {
        let total: usize = widths.iter().sum();
        if total <= budget {
            break;
        }
        // A wrapped site goes on two columns in.
        let least = (words[c] + if c == 3 { 2 } else { 0 }).min(widths[c]);
        widths[c] = widths[c].saturating_sub(total - budget).max(least);
    }
    widths
}

/// Wrap each line of `text` at spaces within `width` columns, going on `indent`
/// in; a word longer than the width keeps its own line whole.
fn wrap_to(text: &str, width: usize, indent: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut cur = String::new();
        for word in line.split(' ') {
            let len = cur.chars().count();
            if len > 0 && len + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut cur));
                cur.push_str(indent);
            } else if len > 0 {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out.join("\n")
}

/// One row: count, state, wait, site (and the caller that tells it from a group
/// that reads alike), ids.
fn group_row(dump: &Dump, a: &Analysis, g: &GroupInfo, via: Option<&str>) -> [String; 5] {
    let rep = &dump.goroutines[g.group.representative()];
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
    let site = match via {
        Some(v) => format!("{}\nvia {v}", g.site),
        None => g.site.to_string(),
    };
    [
        g.group.count.to_string(),
        state.to_string(),
        wait_label(g.group.wait_minutes),
        site,
        idl.join(" "),
    ]
}

/// `5m`, `3-9m`, or nothing.
pub fn wait_label(w: Option<(u32, u32)>) -> String {
    match w {
        Some((lo, hi)) if lo == hi => format!("{lo}m"),
        Some((lo, hi)) => format!("{lo}-{hi}m"),
        None => String::new(),
    }
}

/// For each group whose blocking site reads like another shown group's, the
/// first frame where its stack parts from theirs (or its creator, when only that
/// differs): what tells the two apart.
pub fn callers(dump: &Dump, shown: &[&GroupInfo]) -> Vec<Option<String>> {
    shown
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let me = &dump.goroutines[g.group.representative()];
            let state = me.state.raw;
            let alike: Vec<&crate::model::Goroutine> = shown
                .iter()
                .enumerate()
                .filter(|&(j, o)| {
                    j != i
                        && o.site == g.site
                        && dump.goroutines[o.group.representative()].state.raw == state
                })
                .map(|(_, o)| &dump.goroutines[o.group.representative()])
                .collect();
            if alike.is_empty() {
                return None;
            }
            let at = alike
                .iter()
                .filter_map(|o| crate::group::first_difference(&me.frames, &o.frames))
                .min();
            match at {
                Some(f) => Some(frame_label(me, f)),
                None => me
                    .created_by()
                    .as_ref()
                    .map(|c| format!("created by {}", c.function)),
            }
        })
        .collect()
}

/// `groups --stacks`: each group's whole stack, most suspicious first, as
/// panicparse lists its buckets.
pub fn write_stacks(
    w: &mut dyn Write,
    dump: &Dump,
    a: &Analysis,
    max_groups: usize,
) -> std::io::Result<()> {
    for (n, g) in a.groups.iter().take(max_groups).enumerate() {
        if n > 0 {
            writeln!(w)?;
        }
        write_stack(w, dump, a, g)?;
    }
    if a.groups.len() > max_groups {
        let n = plural(
            (a.groups.len() - max_groups) as u64,
            "more group",
            "more groups",
        );
        writeln!(w, "\n… {n} (--groups N)")?;
    }
    if !a.notes.is_empty() {
        writeln!(w)?;
    }
    write_notes(w, Style::plain(), a)
}

/// The analysis's notes, one a line.
pub fn write_notes(w: &mut dyn Write, style: Style, a: &Analysis) -> std::io::Result<()> {
    for n in &a.notes {
        let n = super::words::note(n);
        writeln!(w, "{}", style.dim(&wrap(&format!("note: {n}"), 0, "  ")))?;
    }
    Ok(())
}

fn write_stack(w: &mut dyn Write, dump: &Dump, a: &Analysis, g: &GroupInfo) -> std::io::Result<()> {
    let rep = &dump.goroutines[g.group.representative()];
    let wait = wait_label(g.group.wait_minutes);
    let ids: Vec<u64> = if a.ids_are_groups {
        g.group.members.iter().map(|&m| m as u64).collect()
    } else {
        g.group.ids.clone()
    };
    let state = kind_and_state(g.kind.as_str(), rep.state.raw);
    let wait = if wait.is_empty() {
        String::new()
    } else {
        format!(", {wait}")
    };
    let who = if a.ids_are_groups { "records" } else { "ids" };
    let line = format!(
        "{}: {state}{wait} · {who} {}",
        plural(g.group.count, "goroutine", "goroutines"),
        id_list(&ids)
    );
    writeln!(w, "{}", wrap(&line, 0, "    "))?;
    let at = a.blocked[g.group.representative()].site();
    let place = |file: &str, line: u32| format!("{}:{line}", crate::analyze::short_file(file));
    let files: Vec<String> = rep.frames.iter().map(|f| place(f.file, f.line)).collect();
    let creator = rep.created_by().map(|c| place(c.file, c.line));
    let pad = files
        .iter()
        .chain(&creator)
        .map(|f| f.chars().count())
        .max()
        .unwrap_or(0);
    for (i, (f, file)) in rep.frames.iter().zip(&files).enumerate() {
        let mark = if Some(i) == at { ">" } else { " " };
        writeln!(w, "  {mark} {file:<pad$}  {}", f.function)?;
    }
    if let (Some(c), Some(file)) = (rep.created_by(), creator) {
        writeln!(w, "    {file:<pad$}  created by {}", c.function)?;
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
    // Several inputs read as one process are joined by ` + `: they wrap there.
    writeln!(w, "{}", style.dim(&wrap(source, 0, "  ")))?;
    let line = format!(
        "{} in {} · {} ({}) · {}",
        plural(dump.total(), "goroutine", "goroutines"),
        plural(a.groups.len() as u64, "group", "groups"),
        dump.format.as_str(),
        dump.trigger.as_str(),
        version
    );
    writeln!(w, "{}", wrap(&line, 0, "  "))?;
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
        style.dim(&wrap(
            &format!(
                "states: {}",
                if parts.is_empty() {
                    "none".to_string()
                } else {
                    parts.join(", ")
                }
            ),
            0,
            "  "
        ))
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
        // The runtime marks only what it can prove leaked: none marked is no
        // proof that none leaked.
        let line = if leaked == 0 {
            format!(
                "{what}: the Go runtime proved no goroutine leaked (which does not prove none did)"
            )
        } else {
            format!(
                "{what}: the Go runtime proved {} leaked",
                plural(leaked, "goroutine", "goroutines")
            )
        };
        writeln!(w, "{}", style.dim(&wrap(&line, 0, "  ")))?;
    }
    write_notes(w, style, a)
}

/// The frame of a holder that likely took the lock it waits on again: the caller
/// that prints the word tying the lock to its holder.
fn reentered_in(c: &crate::analyze::Candidate) -> Option<usize> {
    c.evidence.iter().find_map(|e| match &e.why {
        crate::analyze::HolderWhy::Reentered { caller, .. } => Some(caller.frame),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_wrap_between_words_only() {
        let site = "net/http.(*connReader).startBackgroundRead.gowrap2 (http/server.go:742)";
        let w = wrap_to(site, 20, "  ");
        assert_eq!(
            w,
            "net/http.(*connReader).startBackgroundRead.gowrap2\n  (http/server.go:742)"
        );
        assert_eq!(wrap_to("25 26 27 28", 5, ""), "25 26\n27 28");
        assert_eq!(wrap_to("a b", 80, "  "), "a b");
    }

    #[test]
    fn columns_shrink_site_first_and_never_below_a_word() {
        let header = ["count", "state", "wait", "blocking site", "ids"];
        let row = |site: &str, ids: &str| {
            [
                "1".to_string(),
                "chan receive".to_string(),
                String::new(),
                site.to_string(),
                ids.to_string(),
            ]
        };
        let rows = [row(
            "main.worker (app/main.go:10) via main.main.func1",
            "1 2 3 4 5 6",
        )];
        let wide = fit(&header, &rows, 200);
        assert_eq!(
            wide[3],
            "main.worker (app/main.go:10) via main.main.func1".len()
        );
        let narrow = fit(&header, &rows, 40);
        assert_eq!(narrow[3], "(app/main.go:10)".len() + 2);
        assert!(narrow[4] < wide[4]);
        assert!(narrow[4] >= 1);
    }
}
