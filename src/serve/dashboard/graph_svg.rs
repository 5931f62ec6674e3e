//! A flow's plan drawn as inline SVG, each node coloured by its step's state: nodes in layers
//! by their longest path from a root, edges from layer to layer. Drawn on the server, so the
//! page needs no script and no layout library.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::page::escape;
use super::step_states::State;
use crate::plan::{Dep, FlowPlan, Node, NodeKind};

const BOX_W: usize = 210;
const BOX_H: usize = 40;
const GAP_X: usize = 24;
const GAP_Y: usize = 46;
const MARGIN: usize = 12;
/// Characters of a node's label shown; the whole label is its tooltip.
const LABEL_CHARS: usize = 30;

/// The SVG of `flow`'s body; `states` by top-level step name (`client`, `if#3`). `let` nodes
/// are left out (edges pass through them) and edges implied by longer paths are dropped: what
/// remains is the order steps run in.
/// `completed`: the instance completed (its `output` ran; a gated node that left no event was in
/// an arm not taken).
pub(crate) fn render(flow: &FlowPlan, states: &BTreeMap<String, State>, completed: bool) -> String {
    let graph = &flow.body.graph;
    let Ok(order) = petgraph::algo::toposort(graph, None) else {
        // A plan is a DAG by construction; draw nothing rather than a wrong picture.
        return String::new();
    };
    let shown: Vec<NodeIndex> = order
        .iter()
        .copied()
        .filter(|&n| !matches!(graph[n].kind, NodeKind::Let { .. }))
        .collect();
    let slot: BTreeMap<NodeIndex, usize> = shown.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let edges = reduce(&shown, &contracted_edges(graph, &shown, &slot));

    let mut layer = vec![0usize; shown.len()];
    for (from, to, _) in &edges {
        // `shown` is in topological order, and so are the edges' sources.
        layer[*to] = layer[*to].max(layer[*from] + 1);
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut column = vec![0usize; shown.len()];
    let mut widths = vec![0usize; layers];
    for i in 0..shown.len() {
        column[i] = widths[layer[i]];
        widths[layer[i]] += 1;
    }
    let widest = widths.iter().copied().max().unwrap_or(0).max(1);
    let width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X;
    let height = MARGIN * 2 + layers * BOX_H + layers.saturating_sub(1) * GAP_Y;
    // Each layer is centred.
    let position = |i: usize| {
        let row_width = widths[layer[i]] * BOX_W + widths[layer[i]].saturating_sub(1) * GAP_X;
        let x = (width - row_width) / 2 + column[i] * (BOX_W + GAP_X);
        let y = MARGIN + layer[i] * (BOX_H + GAP_Y);
        (x, y)
    };
    let name_of = |n: NodeIndex| {
        graph[n]
            .name
            .clone()
            .unwrap_or_else(|| format!("{}#{}", graph[n].kind.keyword(), n.index()))
    };
    // A branch is not journaled; it was decided when a node it gates has a state.
    let decided = |n: NodeIndex| {
        graph.node_indices().any(|m| {
            graph[m].gate.is_some_and(|g| g.branch as usize == n.index()) && states.contains_key(&name_of(m))
        })
    };

    let mut svg = format!(
        "<svg class=\"flow-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"the steps of {}\">",
        escape(&flow.name)
    );
    svg.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#78909c\"/></marker></defs>",
    );
    for &(from, to, dep) in &edges {
        let (sx, sy) = position(from);
        let (tx, ty) = position(to);
        let (x1, y1, x2, y2) = (sx + BOX_W / 2, sy + BOX_H, tx + BOX_W / 2, ty);
        let mid = (y1 + y2) / 2;
        let class = match dep {
            Dep::Data => "data",
            Dep::After => "after",
            Dep::Barrier => "barrier",
            Dep::Gate => "gate",
        };
        let _ = write!(
            svg,
            "<path class=\"edge {class}\" d=\"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}\" marker-end=\"url(#arrow)\"/>"
        );
    }
    for (i, &n) in shown.iter().enumerate() {
        let node = &graph[n];
        let (x, y) = position(i);
        let name = name_of(n);
        let state = match states.get(&name) {
            Some(s) => s.name(),
            None if matches!(node.kind, NodeKind::Branch(_)) && decided(n) => State::Done.name(),
            None if completed && matches!(node.kind, NodeKind::Output { .. }) => State::Done.name(),
            None if completed && node.gate.is_some() => State::Skipped.name(),
            None => "unrecorded",
        };
        let label = crate::plan::describe(node);
        let shown: String = if label.chars().count() > LABEL_CHARS {
            label.chars().take(LABEL_CHARS - 1).chain(['…']).collect()
        } else {
            label.clone()
        };
        let shape = match node.kind {
            NodeKind::Wait { .. } | NodeKind::WaitEvent { .. } => "rx=\"18\"",
            NodeKind::Branch(_) => "rx=\"2\"",
            _ => "rx=\"5\"",
        };
        let _ = write!(
            svg,
            "<g class=\"node state-{state}\" data-step=\"{}\" data-state=\"{state}\"><title>{} ({state})</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" {shape}/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text></g>",
            escape(&name),
            escape(&label),
            x + BOX_W / 2,
            y + BOX_H / 2,
            escape(&shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Edges between shown nodes (by slot), passing through the nodes left out; an edge through
/// one is a data edge.
fn contracted_edges(
    graph: &DiGraph<Node, Dep>,
    shown: &[NodeIndex],
    slot: &BTreeMap<NodeIndex, usize>,
) -> Vec<(usize, usize, Dep)> {
    let mut edges = std::collections::BTreeSet::new();
    for (from, &n) in shown.iter().enumerate() {
        let mut stack: Vec<(NodeIndex, Dep)> = graph.edges(n).map(|e| (e.target(), *e.weight())).collect();
        let mut seen = std::collections::HashSet::new();
        while let Some((m, dep)) = stack.pop() {
            if !seen.insert(m) {
                continue;
            }
            match slot.get(&m) {
                Some(&to) => {
                    edges.insert((from, to, dep_rank(dep)));
                }
                None => stack.extend(graph.edges(m).map(|e| (e.target(), Dep::Data))),
            }
        }
    }
    // One edge per pair, the most telling kind.
    let mut best: BTreeMap<(usize, usize), u8> = BTreeMap::new();
    for (a, b, rank) in edges {
        let r = best.entry((a, b)).or_insert(rank);
        *r = (*r).max(rank);
    }
    best.into_iter()
        .map(|((a, b), r)| (a, b, dep_of_rank(r)))
        .collect()
}

fn dep_rank(dep: Dep) -> u8 {
    match dep {
        Dep::Data => 0,
        Dep::After => 1,
        Dep::Barrier => 2,
        Dep::Gate => 3,
    }
}

fn dep_of_rank(rank: u8) -> Dep {
    match rank {
        0 => Dep::Data,
        1 => Dep::After,
        2 => Dep::Barrier,
        _ => Dep::Gate,
    }
}

/// The transitive reduction: an edge is dropped when a longer path joins its ends.
/// `edges` go from lower to higher slots (the slots are in topological order).
fn reduce(shown: &[NodeIndex], edges: &[(usize, usize, Dep)]) -> Vec<(usize, usize, Dep)> {
    let n = shown.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b, _) in edges {
        out[a].push(b);
    }
    // reach[a]: every node reachable from a by a path of one edge or more.
    let mut reach: Vec<Vec<bool>> = vec![vec![false; n]; n];
    for a in (0..n).rev() {
        for &b in &out[a] {
            reach[a][b] = true;
            let (lo, hi) = reach.split_at_mut(b);
            for (c, r) in hi[0].iter().enumerate() {
                if *r {
                    lo[a][c] = true;
                }
            }
        }
    }
    edges
        .iter()
        .copied()
        .filter(|&(a, b, _)| !out[a].iter().any(|&m| m != b && reach[m][b]))
        .collect()
}
