//! `godeadlock show`: goroutines as the dump printed them, each after one comment
//! line saying what it waits on: the input's own lines when they are at hand (a
//! plain file), else written again from the model (arguments, `+0x` offsets,
//! marks) for standard input and gzip.

use std::io::Write;

use crate::analyze::classify::classify;
use crate::analyze::display_id;
use crate::model::{Dump, Format, Goroutine};

/// Print every goroutine of `dumps` whose shown id is in `ids`, in dump order;
/// return the ids found in none of them. `text` is the input as read, when it is
/// at hand: its lines are printed as they are.
pub fn write_ids(
    w: &mut dyn Write,
    dumps: &[Dump],
    ids: &[u64],
    text: Option<&str>,
) -> std::io::Result<Vec<u64>> {
    let lines: Vec<&str> = text.map(|t| t.lines().collect()).unwrap_or_default();
    let mut found = vec![false; ids.len()];
    for d in dumps {
        let mut starts: Vec<usize> = d.goroutines.iter().map(|g| g.line).collect();
        starts.sort_unstable();
        for i in 0..d.goroutines.len() {
            let id = display_id(d, i);
            let Some(k) = ids.iter().position(|&x| x == id) else {
                continue;
            };
            if found.iter().any(|&f| f) {
                writeln!(w)?;
            }
            found[k] = true;
            let g = &d.goroutines[i];
            let next = starts.iter().find(|&&l| l > g.line).copied();
            match own_lines(&lines, g.line, next) {
                Some(own) => {
                    comment(w, d, i)?;
                    for l in own {
                        writeln!(w, "{l}")?;
                    }
                }
                None => write(w, d, i)?,
            }
        }
    }
    Ok(ids
        .iter()
        .zip(&found)
        .filter(|(_, &f)| !f)
        .map(|(&id, _)| id)
        .collect())
}

/// The input's lines of the goroutine that starts at line `start` (from 1): up
/// to a blank line or the next goroutine's first line.
fn own_lines<'t>(lines: &[&'t str], start: usize, next: Option<usize>) -> Option<Vec<&'t str>> {
    let first = start.checked_sub(1)?;
    let end = next.map_or(lines.len(), |n| (n - 1).min(lines.len()));
    let own: Vec<&str> = lines
        .get(first..end)?
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect();
    (!own.is_empty()).then_some(own)
}

/// `# line 69: cond wait, by frame sync.runtime_notifyListWait`
fn comment(w: &mut dyn Write, d: &Dump, i: usize) -> std::io::Result<()> {
    let g = &d.goroutines[i];
    let b = classify(g, d.format);
    writeln!(
        w,
        "# line {}: {}, by {}",
        g.line,
        b.kind.as_str(),
        b.kind_rule.describe(g)
    )
}

/// One goroutine: a comment with where it is in the input and what it waits on,
/// then its text as the runtime writes it.
pub fn write(w: &mut dyn Write, d: &Dump, i: usize) -> std::io::Result<()> {
    let g = &d.goroutines[i];
    comment(w, d, i)?;
    if d.format == Format::Profile {
        return write_record(w, g, i);
    }
    writeln!(w, "{}", header(g))?;
    for (f, args) in g.frames_args() {
        writeln!(w, "{}({})", f.function, args.render())?;
        match f.offset {
            Some(off) => writeln!(w, "\t{}:{} +{off:#x}", f.file, f.line)?,
            None => writeln!(w, "\t{}:{}", f.file, f.line)?,
        }
    }
    if let Some(c) = g.created_by() {
        match c.parent {
            Some(p) => writeln!(w, "created by {} in goroutine {p}", c.function)?,
            None => writeln!(w, "created by {}", c.function)?,
        }
        writeln!(w, "\t{}:{}", c.file, c.line)?;
    }
    Ok(())
}

/// `goroutine 24 [chan receive (scan), 5 minutes, locked to thread]:`
fn header(g: &Goroutine) -> String {
    let mut s = format!("goroutine {} [{}", g.id.unwrap_or(0), g.state.raw);
    for (on, mark) in [
        (g.leaked, " (leaked)"),
        (g.scan, " (scan)"),
        (g.durable, " (durable)"),
    ] {
        if on {
            s.push_str(mark);
        }
    }
    if let Some(m) = g.wait_minutes {
        s.push_str(&format!(", {m} minutes"));
    }
    if g.locked_to_thread {
        s.push_str(", locked to thread");
    }
    s.push_str("]:");
    s
}

/// A debug=1 record: `N @ pc...` then `#\tpc\tfunction+off\tfile:line`.
fn write_record(w: &mut dyn Write, g: &Goroutine, i: usize) -> std::io::Result<()> {
    writeln!(w, "# record {i}")?;
    let pcs: Vec<String> = g
        .frames
        .iter()
        .filter_map(|f| f.pc)
        .map(|pc| format!("{pc:#x}"))
        .collect();
    writeln!(w, "{} @ {}", g.count, pcs.join(" "))?;
    for f in g.frames.iter() {
        let pc = f.pc.map(|p| format!("{p:#x}")).unwrap_or_default();
        let off = f.offset.map(|o| format!("+{o:#x}")).unwrap_or_default();
        writeln!(w, "#\t{pc}\t{}{off}\t{}:{}", f.function, f.file, f.line)?;
    }
    Ok(())
}
