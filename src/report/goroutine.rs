//! `godeadlock show`: goroutines as the dump printed them (arguments, `+0x`
//! offsets, marks), each after one comment line saying what it waits on.

use std::io::Write;

use crate::analyze::classify::classify;
use crate::analyze::display_id;
use crate::model::{Dump, Format, Goroutine};

/// Print every goroutine of `dumps` whose shown id is in `ids`, in dump order;
/// return the ids found in none of them.
pub fn write_ids(w: &mut dyn Write, dumps: &[Dump], ids: &[u64]) -> std::io::Result<Vec<u64>> {
    let mut found = vec![false; ids.len()];
    for d in dumps {
        for i in 0..d.goroutines.len() {
            let id = display_id(d, i);
            let Some(k) = ids.iter().position(|&x| x == id) else {
                continue;
            };
            if found.iter().any(|&f| f) {
                writeln!(w)?;
            }
            found[k] = true;
            write(w, d, i)?;
        }
    }
    Ok(ids
        .iter()
        .zip(&found)
        .filter(|(_, &f)| !f)
        .map(|(&id, _)| id)
        .collect())
}

/// One goroutine: a comment with where it is in the input and what it waits on,
/// then its text as the runtime wrote it.
pub fn write(w: &mut dyn Write, d: &Dump, i: usize) -> std::io::Result<()> {
    let g = &d.goroutines[i];
    let b = classify(g, d.format);
    writeln!(
        w,
        "# line {}: {}, by {}",
        g.line,
        b.kind.as_str(),
        b.kind_rule.describe(g)
    )?;
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
    if let Some(c) = &g.created_by {
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
