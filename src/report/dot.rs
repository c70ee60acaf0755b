//! The waits-for graph in Graphviz DOT: `godeadlock analyze --format dot d.txt | dot -Tsvg`.
//!
//! One node per set of alike goroutines (one group of identical stacks, in one
//! role), with its count: the holder a finding names stands alone and is drawn
//! bold, a deadlock's cycle is red, a leak's goroutines are drawn as their groups
//! even when they wait on nobody. Edges between the same two nodes are one edge,
//! with how many goroutines it stands for.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::analyze::graph::{EdgeReason, GraphEdge};
use crate::analyze::{display_id, frame_label, lock_name, Analysis, FindingKind};
use crate::model::Dump;

/// The one font of the drawing: labels, edges and the title.
const FONT: &str = "monospace";

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// What a goroutine is in the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// A holder a finding names (the likeliest, or another that is no waiter):
    /// drawn alone.
    Holder(usize),
    /// In a deadlock's cycle.
    Cycle,
    /// Proved or found leaked.
    Leaked,
    /// Anything else the graph has.
    Other,
}

/// A node: a group (or the goroutine alone) in a role.
type Key = (Role, usize);

/// What the findings say of each goroutine.
struct Roles {
    holders: BTreeSet<usize>,
    cycle: BTreeSet<usize>,
    leaked: BTreeSet<usize>,
}

impl Roles {
    fn new(a: &Analysis) -> Roles {
        let mut r = Roles {
            holders: BTreeSet::new(),
            cycle: BTreeSet::new(),
            leaked: BTreeSet::new(),
        };
        for f in &a.findings {
            // The likeliest holder; with no cycle (where each member holds one
            // lock) the other likely holders too, but for any that waits on it.
            let holds = f.holders.iter().enumerate();
            let waiting: rustc_hash::FxHashSet<usize> = f.waiters.iter().copied().collect();
            r.holders.extend(
                holds
                    .filter(|&(k, h)| k == 0 || (f.cycle.is_empty() && !waiting.contains(h)))
                    .map(|(_, &h)| h),
            );
            match f.kind {
                FindingKind::Deadlock => r.cycle.extend(&f.cycle),
                FindingKind::Leak => r.leaked.extend(&f.waiters),
                _ => {}
            }
        }
        r
    }

    fn of(&self, i: usize) -> Role {
        if self.holders.contains(&i) {
            Role::Holder(i)
        } else if self.cycle.contains(&i) {
            Role::Cycle
        } else if self.leaked.contains(&i) {
            Role::Leaked
        } else {
            Role::Other
        }
    }
}

/// The members of each node, and which node each drawn goroutine is in.
struct Nodes {
    members: BTreeMap<Key, Vec<usize>>,
    of: BTreeMap<usize, Key>,
}

fn nodes(dump: &Dump, a: &Analysis, roles: &Roles) -> Nodes {
    let mut group_of = vec![usize::MAX; dump.goroutines.len()];
    for (gi, g) in a.groups.iter().enumerate() {
        for &m in &g.group.members {
            group_of[m] = gi;
        }
    }
    let drawn: BTreeSet<usize> = a
        .graph
        .nodes()
        .into_iter()
        .chain(roles.leaked.iter().copied())
        .chain(roles.holders.iter().copied())
        .collect();
    let mut n = Nodes {
        members: BTreeMap::new(),
        of: BTreeMap::new(),
    };
    for i in drawn {
        let role = roles.of(i);
        // A goroutine in no listed group (filtered out) stands alone.
        let gi = match (role, group_of[i]) {
            (Role::Holder(_), _) | (_, usize::MAX) => usize::MAX - i,
            (_, gi) => gi,
        };
        n.members.entry((role, gi)).or_default().push(i);
        n.of.insert(i, (role, gi));
    }
    n
}

fn node_name(members: &[usize], dump: &Dump) -> String {
    format!("n{}", display_id(dump, members[0]))
}

fn node_label(dump: &Dump, a: &Analysis, role: Role, members: &[usize]) -> String {
    let first = members[0];
    let g = &dump.goroutines[first];
    let b = &a.blocked[first];
    let who = if a.ids_are_groups {
        "record"
    } else {
        "goroutine"
    };
    let count: u64 = members.iter().map(|&m| dump.goroutines[m].count).sum();
    let mut head = if members.len() == 1 && count == 1 {
        format!("{who} {}", display_id(dump, first))
    } else {
        super::text::plural(count, "goroutine", "goroutines")
    };
    match role {
        Role::Holder(_) => head.push_str(" · holder"),
        Role::Leaked => head.push_str(" · leaked"),
        _ => {}
    }
    let state = super::text::kind_and_state(b.kind.as_str(), g.state.raw);
    let site = b
        .site()
        .or(b.lock_frame())
        .filter(|&s| s < g.frames.len())
        .map(|s| frame_label(g, s))
        .unwrap_or_default();
    let mut lines = vec![head, state, site];
    if members.len() > 1 {
        let mut ids: Vec<u64> = members.iter().map(|&m| display_id(dump, m)).collect();
        ids.sort_unstable();
        lines.push(format!("ids {}", super::text::id_list(&ids)));
    }
    lines.iter().map(|l| esc(l)).collect::<Vec<_>>().join("\\n")
}

fn node_style(role: Role, in_cycle: bool) -> &'static str {
    match role {
        Role::Holder(_) if in_cycle => {
            "color=red, penwidth=3, peripheries=2, style=filled, fillcolor=\"#fff2cc\""
        }
        Role::Holder(_) => "penwidth=3, peripheries=2, style=filled, fillcolor=\"#fff2cc\"",
        Role::Cycle => "color=red, penwidth=2, style=filled, fillcolor=\"#ffe0e0\"",
        Role::Leaked => "color=\"#c06000\", style=\"dashed,filled\", fillcolor=\"#fff0e0\"",
        Role::Other => "",
    }
}

fn reason(a: &Analysis, r: EdgeReason) -> String {
    match r {
        EdgeReason::HeldLock { lock } => lock_name(&a.locks[lock]),
        EdgeReason::WaitGroupChild => "WaitGroup child".to_string(),
        EdgeReason::WaitGroupMember { addr } => format!("WaitGroup {addr:#x} (likely)"),
        EdgeReason::ChannelPeer { addr } => format!("channel peer {addr:#x} (likely)"),
        EdgeReason::PendingWriter { lock } => {
            format!("behind writer on {}", lock_name(&a.locks[lock]))
        }
        EdgeReason::ChannelChild => "channel, from its child (likely)".to_string(),
        EdgeReason::ChannelParent => {
            "channel, its parent waits on a WaitGroup (likely)".to_string()
        }
    }
}

/// The edges between two nodes, merged.
#[derive(Default)]
struct Merged {
    reasons: BTreeSet<String>,
    /// How many goroutine-to-goroutine edges this one stands for.
    count: usize,
    confidence: f64,
}

pub fn write(w: &mut dyn Write, dump: &Dump, a: &Analysis) -> std::io::Result<()> {
    let roles = Roles::new(a);
    let n = nodes(dump, a, &roles);
    writeln!(w, "digraph waits_for {{")?;
    writeln!(w, "  rankdir=LR; nodesep=0.4; ranksep=0.9;")?;
    writeln!(w, "  graph [fontname=\"{FONT}\", fontsize=11];")?;
    writeln!(w, "  node [shape=box, fontname=\"{FONT}\", fontsize=10];")?;
    writeln!(w, "  edge [fontname=\"{FONT}\", fontsize=9];")?;
    writeln!(
        w,
        "  label=\"{} · verdict: {}\";",
        esc(dump.format.as_str()),
        a.verdict.as_str()
    )?;
    let mut names = BTreeMap::new();
    for (k, members) in &n.members {
        let name = node_name(members, dump);
        let style = node_style(k.0, roles.cycle.contains(&members[0]));
        let sep = if style.is_empty() { "" } else { ", " };
        let label = node_label(dump, a, k.0, members);
        writeln!(w, "  {name} [label=\"{label}\"{sep}{style}];")?;
        names.insert(*k, name);
    }
    let mut edges: BTreeMap<(Key, Key), Merged> = BTreeMap::new();
    for GraphEdge { from, to, edge: e } in a.graph.edges() {
        let m = edges.entry((n.of[&from], n.of[&to])).or_default();
        m.reasons.insert(reason(a, e.reason));
        m.count += 1;
        m.confidence = m.confidence.max(e.confidence);
    }
    for ((from, to), m) in &edges {
        let in_cycle = |k: &Key| roles.cycle.contains(&n.members[k][0]);
        let red = in_cycle(from) && in_cycle(to);
        let reasons: Vec<&str> = m.reasons.iter().map(String::as_str).collect();
        let times = match m.count {
            1 => String::new(),
            k => format!(" ×{k}"),
        };
        writeln!(
            w,
            "  {} -> {} [label=\"{} ({:.2}){times}\"{}];",
            names[from],
            names[to],
            esc(&reasons.join("\n")).replace('\n', "\\n"),
            m.confidence,
            if red { ", color=red, penwidth=2" } else { "" }
        )?;
    }
    writeln!(w, "}}")
}
