//! The waits-for graph: goroutine → goroutine it waits on. Built once from the
//! locks' likely holders and WaitGroup parents, then read by named passes.

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

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
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub reason: EdgeReason,
    /// How sure the edge is (the holder's score, or the parent rule's).
    pub confidence: f64,
}

#[derive(Debug, Default, Clone)]
pub struct WaitGraph {
    pub graph: DiGraph<Node, Edge>,
    index: HashMap<usize, NodeIndex>,
}

impl WaitGraph {
    fn node(&mut self, goroutine: usize) -> NodeIndex {
        *self
            .index
            .entry(goroutine)
            .or_insert_with(|| self.graph.add_node(Node { goroutine }))
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
        let mut out: Vec<Vec<usize>> = tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.graph.find_edge(scc[0], scc[0]).is_some())
            .map(|scc| {
                let mut v: Vec<usize> = scc.iter().map(|n| self.graph[*n].goroutine).collect();
                v.sort_unstable();
                v
            })
            .collect();
        out.sort();
        out
    }

    /// Edges leaving a goroutine, as (target goroutine, edge).
    pub fn out_edges(&self, goroutine: usize) -> Vec<(usize, Edge)> {
        match self.index.get(&goroutine) {
            None => Vec::new(),
            Some(&n) => {
                let mut v: Vec<(usize, Edge)> = self
                    .graph
                    .edges(n)
                    .map(|e| (self.graph[e.target()].goroutine, *e.weight()))
                    .collect();
                v.sort_by_key(|(t, _)| *t);
                v
            }
        }
    }

    /// All edges as (from, to, edge), sorted.
    pub fn edges(&self) -> Vec<(usize, usize, Edge)> {
        let mut v: Vec<(usize, usize, Edge)> = self
            .graph
            .edge_references()
            .map(|e| {
                (
                    self.graph[e.source()].goroutine,
                    self.graph[e.target()].goroutine,
                    *e.weight(),
                )
            })
            .collect();
        v.sort_by_key(|e| (e.0, e.1));
        v
    }

    /// Goroutines in the graph, sorted.
    pub fn nodes(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.index.keys().copied().collect();
        v.sort_unstable();
        v
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
