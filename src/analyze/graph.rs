//! The waits-for graph: goroutine → goroutine it waits on. Built once from the
//! locks' likely holders and WaitGroup parents, then read by named passes.

use std::collections::HashSet;

use petgraph::algo::TarjanScc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::classify::{is_machinery, Blocked, StackId, WaitKind};
use super::Lock;
use crate::model::Dump;

/// A node: one goroutine (by index into `Dump::goroutines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub goroutine: usize,
}

/// Why the source waits on the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EdgeReason {
    /// The source waits on lock `lock` (index into `Analysis::locks`), which the target
    /// likely holds.
    HeldLock { lock: usize },
    /// The source waits on a WaitGroup; the target is a live goroutine it started.
    WaitGroupChild,
    /// The source waits for a read lock behind the target, a writer queued on the
    /// same RWMutex (`lock`).
    PendingWriter { lock: usize },
    /// Likely: the source waits on a channel; the target is a goroutine it started
    /// that is itself blocked on a lock.
    ChannelChild,
    /// Likely: the source is blocked on a channel; the target started it and waits
    /// on a WaitGroup, so is not there to be its counterpart.
    ChannelParent,
    /// Likely: the source waits on the WaitGroup at `addr`; the target, blocked on a
    /// lock, prints that address for sure in the frame asking for its lock: it holds
    /// the WaitGroup and is the one to call `Done` (`Wait` returns only once every
    /// `Done` ran).
    WaitGroupMember { addr: u64 },
    /// Likely: the source holds a lock and waits on a channel (a plain send or
    /// receive); the target, queued on that lock, prints `addr` for sure where it
    /// asks for it, as does the source, and nobody else prints it: its only other
    /// user, the counterpart that cannot come until it gets the lock.
    ChannelPeer { addr: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub reason: EdgeReason,
    /// How sure the edge is (the holder's score, or the parent rule's).
    pub confidence: f64,
}

/// An edge leaving a goroutine (`WaitGraph::out_edges`): whom it waits for, and why.
#[derive(Debug, Clone, Copy)]
pub struct OutEdge {
    /// The goroutine waited for.
    pub to: usize,
    pub edge: Edge,
}

/// An edge of the graph (`WaitGraph::edges`): `from` waits for `to`.
#[derive(Debug, Clone, Copy)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    pub edge: Edge,
}

#[derive(Debug, Default, Clone)]
pub struct WaitGraph {
    pub graph: DiGraph<Node, Edge>,
    /// Per goroutine index: its node, or `NO_NODE` (dense: a million goroutines
    /// hash nothing).
    index: Vec<u32>,
}

/// No node: a goroutine not in the graph.
const NO_NODE: u32 = u32::MAX;

impl WaitGraph {
    /// An empty graph for a dump of `goroutines` goroutines.
    fn for_goroutines(goroutines: usize) -> Self {
        WaitGraph {
            graph: DiGraph::default(),
            index: vec![NO_NODE; goroutines],
        }
    }

    fn node(&mut self, goroutine: usize) -> NodeIndex {
        if goroutine >= self.index.len() {
            self.index.resize(goroutine + 1, NO_NODE);
        }
        match self.index[goroutine] {
            NO_NODE => {
                let n = self.graph.add_node(Node { goroutine });
                self.index[goroutine] = n.index() as u32;
                n
            }
            n => NodeIndex::new(n as usize),
        }
    }

    /// The node of a goroutine, if it is in the graph.
    fn node_of(&self, goroutine: usize) -> Option<NodeIndex> {
        self.index
            .get(goroutine)
            .filter(|&&n| n != NO_NODE)
            .map(|&n| NodeIndex::new(n as usize))
    }

    /// Add `from → to` unless the same pair with the same reason exists.
    pub fn add_edge(&mut self, from: usize, to: usize, edge: Edge) {
        let (a, b) = (self.node(from), self.node(to));
        if self
            .graph
            .edges_connecting(a, b)
            .any(|e| e.weight().reason == edge.reason)
        {
            return;
        }
        self.graph.add_edge(a, b, edge);
    }

    /// Cycles: strongly connected components of two or more goroutines, and single
    /// goroutines waiting on themselves. Each sorted by goroutine index; the list is
    /// sorted too, so output is deterministic.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        // Each component read where it is found: the many of one goroutine alone
        // cost no list of their own.
        TarjanScc::new().run(&self.graph, |scc| {
            if scc.len() > 1 || self.graph.find_edge(scc[0], scc[0]).is_some() {
                let mut v: Vec<usize> = scc.iter().map(|n| self.graph[*n].goroutine).collect();
                v.sort_unstable();
                out.push(v);
            }
        });
        out.sort();
        out
    }

    /// Edges leaving a goroutine, by target.
    pub fn out_edges(&self, goroutine: usize) -> Vec<OutEdge> {
        match self.node_of(goroutine) {
            None => Vec::new(),
            Some(n) => {
                let mut v: Vec<OutEdge> = self
                    .graph
                    .edges(n)
                    .map(|e| OutEdge {
                        to: self.graph[e.target()].goroutine,
                        edge: *e.weight(),
                    })
                    .collect();
                v.sort_by_key(|o| o.to);
                v
            }
        }
    }

    /// All edges, sorted by their ends.
    pub fn edges(&self) -> Vec<GraphEdge> {
        let mut v: Vec<GraphEdge> = self
            .graph
            .edge_references()
            .map(|e| GraphEdge {
                from: self.graph[e.source()].goroutine,
                to: self.graph[e.target()].goroutine,
                edge: *e.weight(),
            })
            .collect();
        v.sort_by_key(|e| (e.from, e.to));
        v
    }

    /// Goroutines in the graph, sorted.
    pub fn nodes(&self) -> Vec<usize> {
        (0..self.index.len())
            .filter(|&g| self.index[g] != NO_NODE)
            .collect()
    }
}

/// The waits-for graph of a dump: waiters to the likely holders of their locks,
/// readers to pending writers, WaitGroup and channel waiters to the goroutines they
/// started.
pub fn build(dump: &Dump, blocked: &[Blocked], locks: &[Lock], children: &Children) -> WaitGraph {
    let mut graph = WaitGraph::for_goroutines(dump.goroutines.len());
    // Most edges are waiters to their lock's holder: room for them made once.
    let held: Vec<&Lock> = locks.iter().filter(|l| l.top_holder().is_some()).collect();
    let edges: usize = held.iter().map(|l| l.waiters.len()).sum();
    graph.graph.reserve_edges(edges);
    graph
        .graph
        .reserve_nodes((edges + held.len()).min(dump.goroutines.len()));
    for (li, lock) in locks.iter().enumerate() {
        let writers = pending_writers(dump, blocked, lock);
        reader_edges(&mut graph, blocked, li, lock, &writers);
        let write_held = writers.is_empty()
            && lock
                .waiters
                .iter()
                .any(|&w| blocked[w].kind == WaitKind::RWMutexLock);
        holder_edges(&mut graph, blocked, li, lock, &writers, write_held);
    }
    for i in 0..blocked.len() {
        if dump.goroutines[i].complete {
            child_edges(&mut graph, dump, blocked, children, i);
        }
    }
    waitgroup_member_edges(&mut graph, dump, blocked, locks);
    channel_peer_edges(&mut graph, dump, blocked, locks);
    graph
}

/// A word shared for sure by a lock's holder, blocked on a channel, and one
/// goroutine queued on that lock: the channel's likely counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PeerWord {
    addr: u64,
    holder: usize,
    peer: usize,
}

/// A holder blocked on a channel (a plain send or receive: a select may be woken
/// by any of its cases) waits for a goroutine queued on its own lock when the two
/// alone print one word for sure: where the waiter asks for the lock and anywhere
/// on the holder's stack, and in no other goroutine's frames. Go completes a
/// channel operation only through a goroutine that holds the channel; the one
/// that prints it with the holder is stuck behind the holder. Words that identify
/// the lock are not the channel: the lock's address, a word another waiter of the
/// lock prints where it asks (the object the lock is known by), a word that could
/// be an object containing the lock (at most `CONTAINS` below its address). A lock
/// known by no address with a single waiter leaves its object unknown: no edge.
fn channel_peer_edges(graph: &mut WaitGraph, dump: &Dump, blocked: &[Blocked], locks: &[Lock]) {
    let mut words: Vec<PeerWord> = locks
        .iter()
        .flat_map(|l| peer_words(dump, blocked, l))
        .collect();
    if words.is_empty() {
        return;
    }
    words.sort_unstable();
    words.dedup();
    let printed_by = goroutines_printing(dump, &words);
    for w in words {
        let others = printed_by[&w.addr]
            .iter()
            .any(|&g| g != w.holder && g != w.peer);
        if !others {
            let reason = EdgeReason::ChannelPeer { addr: w.addr };
            graph.add_edge(
                w.holder,
                w.peer,
                Edge {
                    reason,
                    confidence: 0.4,
                },
            );
        }
    }
}

/// How far below a lock's address a word may be the object that contains it.
const CONTAINS: u64 = 1024;

/// The words `lock`'s holder, blocked on a channel, shares with one of its waiters
/// and with no other waiter, that do not identify the lock.
fn peer_words(dump: &Dump, blocked: &[Blocked], lock: &Lock) -> Vec<PeerWord> {
    let Some(h) = lock.top_holder().map(|c| c.goroutine) else {
        return Vec::new();
    };
    if !matches!(blocked[h].kind, WaitKind::ChanReceive | WaitKind::ChanSend)
        || lock.waiters.contains(&h)
        || (lock.addr.is_none() && lock.waiters.len() < 2)
    {
        return Vec::new();
    }
    let per_waiter: Vec<Vec<u64>> = lock
        .waiters
        .iter()
        .map(|&w| asking_words(dump, blocked, w))
        .collect();
    let mut times: rustc_hash::FxHashMap<u64, usize> = Default::default();
    for w in per_waiter.iter().flatten() {
        *times.entry(*w).or_default() += 1;
    }
    let holder_words: rustc_hash::FxHashSet<u64> = dump.goroutines[h]
        .frames_args()
        .flat_map(|(_, a)| super::resources::certain_addresses(&a).collect::<Vec<_>>())
        .collect();
    let names_lock = |w: u64| lock.addr.is_some_and(|a| a >= w && a - w < CONTAINS);
    let mut out = Vec::new();
    for (&peer, words) in lock.waiters.iter().zip(&per_waiter) {
        for &addr in words {
            if times[&addr] == 1 && !names_lock(addr) && holder_words.contains(&addr) {
                out.push(PeerWord {
                    addr,
                    holder: h,
                    peer,
                });
            }
        }
    }
    out
}

/// The words lock waiter `w` prints for sure in the frame asking for its lock,
/// sorted, each once.
fn asking_words(dump: &Dump, blocked: &[Blocked], w: usize) -> Vec<u64> {
    let mut v = Vec::new();
    asking_words_where(dump, blocked, w, |_| true, &mut v);
    v
}

/// Of `asking_words`, those `keep` keeps, into `out` (cleared first).
fn asking_words_where(
    dump: &Dump,
    blocked: &[Blocked],
    w: usize,
    keep: impl Fn(u64) -> bool,
    out: &mut Vec<u64>,
) {
    out.clear();
    let g = &dump.goroutines[w];
    if let Some(f) = blocked[w].lock_frame().filter(|&f| f < g.frames.len()) {
        out.extend(super::resources::certain_addresses(&g.args_of(f)).filter(|&a| keep(a)));
    }
    out.sort_unstable();
    out.dedup();
}

/// For each word, the goroutines that print it for sure in any frame: one pass
/// over every frame, made only when a word is asked about.
fn goroutines_printing(dump: &Dump, words: &[PeerWord]) -> rustc_hash::FxHashMap<u64, Vec<usize>> {
    let mut by: rustc_hash::FxHashMap<u64, Vec<usize>> =
        words.iter().map(|w| (w.addr, Vec::new())).collect();
    for (i, g) in dump.goroutines.iter().enumerate() {
        for (_, a) in g.frames_args() {
            for w in super::resources::certain_addresses(&a) {
                if let Some(v) = by.get_mut(&w) {
                    if v.last() != Some(&i) {
                        v.push(i);
                    }
                }
            }
        }
    }
    by
}

/// Each goroutine waiting on a WaitGroup whose address is printed waits for the
/// lock waiters whose frame asking for their lock prints that address for sure:
/// they hold the WaitGroup, and a member stuck on a lock has not called `Done`.
/// Only lock waiters are read (a live member wakes the waiter in time; one on a
/// lock is what can close a cycle), and of each only the asking frame (what it
/// works on where it waits), so the cost is one frame per lock waiter.
fn waitgroup_member_edges(graph: &mut WaitGraph, dump: &Dump, blocked: &[Blocked], locks: &[Lock]) {
    let mut waiting_on: rustc_hash::FxHashMap<u64, Vec<usize>> = Default::default();
    for (i, b) in blocked.iter().enumerate() {
        if let (WaitKind::WaitGroupWait, Some(addr)) = (b.kind, b.addr()) {
            waiting_on.entry(addr).or_default().push(i);
        }
    }
    if waiting_on.is_empty() {
        return;
    }
    // Each lock waiter's asking words read on every core for many waiters, into
    // (waiter, address waited on) in the order of the waiters.
    let members: Vec<usize> = locks
        .iter()
        .flat_map(|l| l.waiters.iter().copied())
        .collect();
    let found = super::by_ranges(members.len(), |range| {
        let (mut out, mut words) = (Vec::new(), Vec::new());
        // A waiter with the frames and argument values of the one before (one
        // range of bytes: `ArgData::identity`) prints its words: read once.
        let mut last = None;
        for &m in &members[range] {
            let g = &dump.goroutines[m];
            let this = (StackId::of(g), blocked[m].lock_frame(), g.args.identity());
            if last != Some(this) {
                // Of its asking words, those some WaitGroup waiter waits on.
                asking_words_where(
                    dump,
                    blocked,
                    m,
                    |w| waiting_on.contains_key(&w),
                    &mut words,
                );
                last = Some(this);
            }
            out.extend(words.iter().map(|&a| (m, a)));
        }
        out
    });
    for (m, addr) in found.into_iter().flatten() {
        for &w in waiting_on[&addr].iter().filter(|&&w| w != m) {
            let reason = EdgeReason::WaitGroupMember { addr };
            let edge = Edge {
                reason,
                confidence: 0.5,
            };
            graph.add_edge(w, m, edge);
        }
    }
}

/// The lock's writers that hold back new readers: those in `RWMutex.Lock` waiting
/// for the readers to leave. A writer queued on the inner mutex `w` behind another
/// writer has not yet announced itself to readers; what a reader waits for then is
/// whoever holds `w`.
fn pending_writers(dump: &Dump, blocked: &[Blocked], lock: &Lock) -> Vec<usize> {
    lock.waiters
        .iter()
        .copied()
        .filter(|&w| blocked[w].kind == WaitKind::RWMutexLock)
        .filter(|&w| !queued_on_inner_mutex(&dump.goroutines[w]))
        .collect()
}

/// In `RWMutex.Lock`, still waiting for the inner mutex `w` (a `Mutex.Lock` frame
/// between the semaphore and `RWMutex.Lock`), not yet for the readers to leave.
fn queued_on_inner_mutex(g: &crate::model::Goroutine) -> bool {
    let frames = &g.frames[..g.frames.len().min(12)];
    let Some(rw) = frames
        .iter()
        .position(|f| f.function.full() == "sync.(*RWMutex).Lock")
    else {
        return false;
    };
    frames[..rw]
        .iter()
        .any(|f| super::classify::MUTEX_LOCK_FRAMES.contains(&f.function.full()))
}

/// A reader queued on an RWMutex with a writer pending waits for that writer
/// (Go's RWMutex admits no new reader once a writer waits).
fn reader_edges(
    graph: &mut WaitGraph,
    blocked: &[Blocked],
    li: usize,
    lock: &Lock,
    writers: &[usize],
) {
    if writers.is_empty() {
        return;
    }
    for &r in lock
        .waiters
        .iter()
        .filter(|&&w| blocked[w].kind == WaitKind::RWMutexRLock)
    {
        for &w in writers {
            graph.add_edge(
                r,
                w,
                Edge {
                    reason: EdgeReason::PendingWriter { lock: li },
                    confidence: 0.9,
                },
            );
        }
    }
}

/// Each waiter of a lock waits for its named holder (Go's Mutex and RWMutex wake a
/// waiter only on the holder's Unlock); but a reader behind a pending writer waits
/// on the writer, and a holder waits on itself only when it re-entered or got in,
/// or when it waits for a read lock that a writer holds (`write_held`: writers are
/// queued on the inner mutex and none waits for readers to leave), which then is
/// its own.
fn holder_edges(
    graph: &mut WaitGraph,
    blocked: &[Blocked],
    li: usize,
    lock: &Lock,
    writers: &[usize],
    write_held: bool,
) {
    let Some(h) = lock.top_holder() else { return };
    for &w in &lock.waiters {
        let own_write_lock = write_held && blocked[w].kind == WaitKind::RWMutexRLock;
        if w == h.goroutine && h.got_in.is_none() && !h.reentered && !own_write_lock {
            continue;
        }
        if blocked[w].kind == WaitKind::RWMutexRLock && !writers.is_empty() && w != h.goroutine {
            continue;
        }
        // A holder re-entering a read lock waits on the pending writer, not on itself.
        if w == h.goroutine && blocked[w].kind == WaitKind::RWMutexRLock && !writers.is_empty() {
            continue;
        }
        graph.add_edge(
            w,
            h.goroutine,
            Edge {
                reason: EdgeReason::HeldLock { lock: li },
                confidence: h.score,
            },
        );
    }
}

/// Goroutine `i`'s edges to the goroutines it started: a WaitGroup waiter waits
/// for them all (`Wait` returns only once every `Done` ran); a channel waiter,
/// likely, for those stuck on a lock or a WaitGroup (the future pattern). A child
/// stuck on a channel while its parent waits on the WaitGroup likely waits for
/// the parent in turn.
fn child_edges(
    graph: &mut WaitGraph,
    dump: &Dump,
    blocked: &[Blocked],
    children: &Children,
    i: usize,
) {
    let (reason, children) = match blocked[i].kind {
        WaitKind::WaitGroupWait => (EdgeReason::WaitGroupChild, children.of(dump, i)),
        // Likely: a goroutine waiting for a result on a channel waits for the
        // goroutines it started that are themselves stuck (the future pattern).
        WaitKind::ChanReceive | WaitKind::Select => (
            EdgeReason::ChannelChild,
            children
                .of(dump, i)
                .into_iter()
                .filter(|&(c, _)| {
                    blocked[c].kind.is_lock() || blocked[c].kind == WaitKind::WaitGroupWait
                })
                .map(|(c, conf)| (c, conf * 0.75))
                .collect(),
        ),
        _ => return,
    };
    for (child, confidence) in children {
        graph.add_edge(i, child, Edge { reason, confidence });
        // Likely: a child stuck on a channel while its parent waits on the
        // WaitGroup waits for the parent, its only counterpart (results drained
        // after Wait, a done channel read after Wait).
        let on_channel = match blocked[child].kind {
            // debug=1 hides channel frames: parked in user code, kind unknown.
            WaitKind::ChanSend | WaitKind::ChanReceive | WaitKind::Hidden => true,
            _ => false,
        };
        if reason == EdgeReason::WaitGroupChild && on_channel {
            graph.add_edge(
                child,
                i,
                Edge {
                    reason: EdgeReason::ChannelParent,
                    confidence: 0.4,
                },
            );
        }
    }
}

/// Who started whom, indexed once: by parent id (Go 1.21+), and by the creating
/// function for dumps that print no parent id.
pub struct Children<'d> {
    by_parent: rustc_hash::FxHashMap<u64, Vec<usize>>,
    by_creator: rustc_hash::FxHashMap<&'d str, Vec<usize>>,
    /// Goroutines with no creator printed, by the function whose closure they run.
    by_closure: rustc_hash::FxHashMap<&'d str, Vec<usize>>,
}

impl<'d> Children<'d> {
    pub fn new(dump: &'d Dump, blocked: &[Blocked]) -> Self {
        let mut by_parent: rustc_hash::FxHashMap<u64, Vec<usize>> = Default::default();
        let mut by_creator: rustc_hash::FxHashMap<&'d str, Vec<usize>> = Default::default();
        let mut by_closure: rustc_hash::FxHashMap<&'d str, Vec<usize>> = Default::default();
        for (j, c) in dump.goroutines.iter().enumerate() {
            if !c.complete || blocked[j].kind.is_background() {
                continue;
            }
            let Some(cb) = c.created_by() else {
                // No creator printed (Delve, debug=1): a goroutine running a closure
                // `F.func1` was most likely started by F.
                if let Some(root) = c.frames.iter().rev().find(|f| !is_machinery(&f.function)) {
                    let name = root.function.full();
                    if let Some(cut) = name.rfind(".func").or_else(|| name.rfind(".gowrap")) {
                        by_closure.entry(&name[..cut]).or_default().push(j);
                    }
                }
                continue;
            };
            match cb.parent {
                Some(p) => by_parent.entry(p).or_default().push(j),
                None => by_creator.entry(cb.function.full()).or_default().push(j),
            }
        }
        Children {
            by_parent,
            by_creator,
            by_closure,
        }
    }

    /// The live goroutines goroutine `i` started: what a WaitGroup waiter waits for.
    /// With parent ids, certain (0.8); without, those created by a function still on
    /// its stack (likely, 0.4).
    pub fn of(&self, dump: &Dump, i: usize) -> Vec<(usize, f64)> {
        let g = &dump.goroutines[i];
        let mut out: Vec<(usize, f64)> =
            g.id.and_then(|id| self.by_parent.get(&id))
                .map(|v| v.iter().filter(|&&j| j != i).map(|&j| (j, 0.8)).collect())
                .unwrap_or_default();
        // Only goroutines without a parent id printed are found by creator (Go 1.21+
        // prints one for every goroutine).
        let by_name = !self.by_creator.is_empty() || !self.by_closure.is_empty();
        let mut seen: HashSet<&str> = HashSet::new();
        for f in g.frames.iter().filter(|_| by_name) {
            let name = f.function.full();
            if seen.insert(name) {
                if let Some(v) = self.by_creator.get(name) {
                    out.extend(v.iter().filter(|&&j| j != i).map(|&j| (j, 0.4)));
                }
                if let Some(v) = self.by_closure.get(name) {
                    out.extend(v.iter().filter(|&&j| j != i).map(|&j| (j, 0.35)));
                }
            }
        }
        out.sort_by_key(|e| e.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e() -> Edge {
        Edge {
            reason: EdgeReason::HeldLock { lock: 0 },
            confidence: 1.0,
        }
    }

    #[test]
    fn finds_self_loop_and_cycle_but_not_chain() {
        let mut g = WaitGraph::default();
        g.add_edge(5, 5, e());
        g.add_edge(1, 2, e());
        g.add_edge(2, 1, e());
        g.add_edge(3, 1, e());
        assert_eq!(g.cycles(), vec![vec![1, 2], vec![5]]);
    }
}
