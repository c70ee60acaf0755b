//! The waits-for graph in Graphviz DOT: `godeadlock analyze --format dot d.txt | dot -Tsvg`.

use std::io::Write;

use crate::analyze::graph::EdgeReason;
use crate::analyze::{display_id, lock_name, Analysis, FindingKind};
use crate::model::Dump;

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn write(w: &mut dyn Write, dump: &Dump, a: &Analysis) -> std::io::Result<()> {
    let id = |i: usize| display_id(dump, i);
    let who = if a.ids_are_groups { "record" } else { "G" };
    let in_cycle = |i: usize| {
        a.findings
            .iter()
            .any(|f| f.kind == FindingKind::Deadlock && f.cycle.contains(&i))
    };
    let holder = |i: usize| a.findings.iter().any(|f| f.holders.first() == Some(&i));
    writeln!(w, "digraph waits_for {{")?;
    writeln!(w, "  rankdir=LR;")?;
    writeln!(
        w,
        "  node [shape=box, fontname=\"monospace\", fontsize=10];"
    )?;
    writeln!(
        w,
        "  label=\"{} · verdict: {}\";",
        esc(dump.format.as_str()),
        a.verdict.as_str()
    )?;
    for n in a.graph.nodes() {
        let g = &dump.goroutines[n];
        let b = &a.blocked[n];
        let site = b
            .site()
            .or(b.lock_frame())
            .filter(|&s| s < g.frames.len())
            .map(|s| crate::analyze::frame_label(g, s))
            .unwrap_or_default();
        let mut attrs = vec![format!(
            "label=\"{} {}\\n[{}]\\n{}\"",
            who,
            id(n),
            esc(if g.state.raw.is_empty() {
                b.kind.as_str()
            } else {
                g.state.raw
            }),
            esc(&site)
        )];
        if in_cycle(n) {
            attrs.push("color=red, penwidth=2, style=filled, fillcolor=\"#ffe0e0\"".into());
        }
        if holder(n) {
            attrs.push("peripheries=2".into());
        }
        writeln!(w, "  g{} [{}];", id(n), attrs.join(", "))?;
    }
    for (from, to, e) in a.graph.edges() {
        let label = match e.reason {
            EdgeReason::HeldLock { lock } => lock_name(&a.locks[lock]),
            EdgeReason::WaitGroupChild => "WaitGroup child".to_string(),
            EdgeReason::PendingWriter { lock } => {
                format!("behind writer on {}", lock_name(&a.locks[lock]))
            }
            EdgeReason::ChannelChild => "channel, from its child (likely)".to_string(),
            EdgeReason::ChannelParent => {
                "channel, its parent waits on a WaitGroup (likely)".to_string()
            }
        };
        let red = in_cycle(from) && in_cycle(to);
        writeln!(
            w,
            "  g{} -> g{} [label=\"{} ({:.2})\"{}];",
            id(from),
            id(to),
            esc(&label),
            e.confidence,
            if red { ", color=red" } else { "" }
        )?;
    }
    writeln!(w, "}}")
}
