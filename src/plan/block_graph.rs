//! A block's nodes wired into one DAG: data edges from the names each node reads, `after`
//! edges, barriers and gates, then a topological check that there is no cycle.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use super::compile::{err, PlanError};
use super::plan::*;

/// A node being built, before its edges are known.
pub(super) struct Pending {
    pub(super) node: Node,
    /// Names its evaluation reads.
    pub(super) reads: BTreeSet<String>,
    /// `after` names.
    pub(super) after: Vec<String>,
}

/// A block being lowered into one graph.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) nodes: Vec<Pending>,
    pub(super) barriers: Vec<(usize, usize)>,
    pub(super) gates: Vec<(usize, usize)>,
}

impl Builder {
    pub(super) fn push(
        &mut self,
        name: Option<String>,
        kind: NodeKind,
        gate: Option<Gate>,
        reads: BTreeSet<String>,
        after: Vec<String>,
    ) -> usize {
        self.nodes.push(Pending {
            node: Node { name, kind, gate },
            reads,
            after,
        });
        self.nodes.len() - 1
    }

    pub(super) fn finish(self, what: &str) -> Result<SubPlan, PlanError> {
        let mut graph: DiGraph<Node, Dep> = DiGraph::new();
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for (i, p) in self.nodes.iter().enumerate() {
            if let Some(n) = &p.node.name {
                if by_name.insert(n.clone(), i).is_some() {
                    return err(format!("{what} declares `{n}` twice"));
                }
            }
        }
        let mut edges: BTreeSet<(usize, usize, u8)> = BTreeSet::new();
        for (i, p) in self.nodes.iter().enumerate() {
            for r in &p.reads {
                if let Some(&j) = by_name.get(r) {
                    if j != i {
                        edges.insert((j, i, 0));
                    }
                }
            }
            for a in &p.after {
                match by_name.get(a) {
                    Some(&j) if j != i => {
                        edges.insert((j, i, 1));
                    }
                    Some(_) => return err(format!("step `{a}` cannot run after itself")),
                    None => return err(format!("`after {a}`: {what} has no step `{a}`")),
                }
            }
        }
        for &(a, b) in &self.barriers {
            if a != b {
                edges.insert((a, b, 2));
            }
        }
        for &(a, b) in &self.gates {
            edges.insert((a, b, 3));
        }
        for p in self.nodes {
            graph.add_node(p.node);
        }
        // One edge per pair: the most telling reason wins (data over after over barrier).
        let mut seen = BTreeSet::new();
        for (a, b, kind) in edges {
            if !seen.insert((a, b)) {
                continue;
            }
            let dep = match kind {
                0 => Dep::Data,
                1 => Dep::After,
                2 => Dep::Barrier,
                _ => Dep::Gate,
            };
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), dep);
        }
        if let Err(cycle) = toposort(&graph, None) {
            let node = &graph[cycle.node_id()];
            return err(format!(
                "{what}: `{}` depends on itself through other statements",
                node.label()
            ));
        }
        Ok(SubPlan { graph })
    }
}
