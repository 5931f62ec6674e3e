//! Drawing a flow's plan: Mermaid (`flowchart TD`) and Graphviz dot.
//!
//! Nested sub-plans (fan-out bodies, fallback blocks, the error handler) are drawn as clusters
//! next to the node that owns them.

use std::fmt::Write as _;

use petgraph::visit::EdgeRef;

use super::expr::{Expr, Pattern};
use super::plan::{ArmTest, CallTarget, Dep, FallbackPlan, FlowPlan, Node, NodeKind, SubPlan};

pub(crate) fn describe(node: &Node) -> String {
    let detail = match &node.kind {
        NodeKind::Call(c) => match &c.target {
            CallTarget::Action { connector, action } => format!("{connector}.{action}"),
            CallTarget::Flow { key } => format!("flow {key}"),
        },
        NodeKind::WaitEvent { event, .. } => format!("wait for event {event}"),
        NodeKind::FanOut(f) => match f.concurrency {
            Some(n) => format!("for each {}, {n} at once", f.var),
            None => format!("for each {}", f.var),
        },
        NodeKind::Emit { event, .. } => event.clone(),
        _ => String::new(),
    };
    let label = node.label();
    if detail.is_empty() {
        label
    } else {
        format!("{label}: {detail}")
    }
}

/// What the arm gating `node` is called: `then`, `else if`, `else`, or a match pattern.
fn arm_label(plan: &SubPlan, node: petgraph::graph::NodeIndex) -> String {
    let Some(gate) = plan.graph[node].gate else {
        return String::new();
    };
    let branch = &plan.graph[petgraph::graph::NodeIndex::new(gate.branch as usize)];
    let NodeKind::Branch(b) = &branch.kind else {
        return String::new();
    };
    match b.arms.get(gate.arm as usize) {
        Some(ArmTest::Cond(_)) if gate.arm == 0 => "then".into(),
        Some(ArmTest::Cond(_)) => "else if".into(),
        Some(ArmTest::Else) if b.subject.is_some() => "_".into(),
        Some(ArmTest::Else) => "else".into(),
        Some(ArmTest::Pattern(Pattern::Literals(lits))) => lits
            .iter()
            .map(|l| match l {
                Expr::Number(n) => n.to_string(),
                Expr::Int(n) => n.to_string(),
                Expr::Bool(b) => b.to_string(),
                Expr::Null => "none".into(),
                Expr::Text(s) => format!("'{s}'"),
                _ => "...".into(),
            })
            .collect::<Vec<_>>()
            .join(" | "),
        Some(ArmTest::Pattern(Pattern::Wildcard)) => "_".into(),
        None => String::new(),
    }
}

fn escape(text: &str) -> String {
    text.replace('"', "'")
}

fn children(node: &Node) -> Vec<(&'static str, &SubPlan)> {
    match &node.kind {
        NodeKind::FanOut(f) => vec![("each item", &f.body)],
        NodeKind::Call(c) => match &c.fallback {
            Some(FallbackPlan::Block(b)) => vec![("fallback", b.as_ref())],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The flow as a Mermaid flowchart.
pub fn to_mermaid(flow: &FlowPlan) -> String {
    let mut out = String::from("flowchart TD\n");
    mermaid_sub(&mut out, &flow.body, "n", 1);
    if let Some(handler) = &flow.on_error {
        let _ = writeln!(out, "  subgraph on_error[\"on error\"]");
        mermaid_sub(&mut out, handler, "e", 2);
        let _ = writeln!(out, "  end");
    }
    out
}

fn mermaid_sub(out: &mut String, plan: &SubPlan, prefix: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    for idx in plan.graph.node_indices() {
        let node = &plan.graph[idx];
        let id = format!("{prefix}{}", idx.index());
        let text = escape(&describe(node));
        let shape = match node.kind {
            NodeKind::Branch(_) => format!("{id}{{\"{text}\"}}"),
            NodeKind::Wait { .. } | NodeKind::WaitEvent { .. } => format!("{id}([\"{text}\"])"),
            _ => format!("{id}[\"{text}\"]"),
        };
        let _ = writeln!(out, "{pad}{shape}");
        for (what, sub) in children(node) {
            let sub_prefix = format!("{id}_");
            let _ = writeln!(out, "{pad}subgraph {id}_sub[\"{what}\"]");
            mermaid_sub(out, sub, &sub_prefix, depth + 1);
            let _ = writeln!(out, "{pad}end");
            let _ = writeln!(out, "{pad}{id} -.- {id}_sub");
        }
    }
    for edge in plan.graph.edge_references() {
        let a = format!("{prefix}{}", edge.source().index());
        let b = format!("{prefix}{}", edge.target().index());
        let arrow = match edge.weight() {
            Dep::Data => "-->".to_string(),
            Dep::After => "-. after .->".to_string(),
            Dep::Barrier => "==>".to_string(),
            Dep::Gate => format!("-- \"{}\" -->", escape(&arm_label(plan, edge.target()))),
        };
        let _ = writeln!(out, "{pad}{a} {arrow} {b}");
    }
}

/// The flow as a Graphviz digraph.
pub fn to_dot(flow: &FlowPlan) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=TB;\n", escape(&flow.name));
    dot_sub(&mut out, &flow.body, "n", 1);
    if let Some(handler) = &flow.on_error {
        out.push_str("  subgraph cluster_on_error {\n    label=\"on error\";\n");
        dot_sub(&mut out, handler, "e", 2);
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

fn dot_sub(out: &mut String, plan: &SubPlan, prefix: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    for idx in plan.graph.node_indices() {
        let node = &plan.graph[idx];
        let id = format!("{prefix}{}", idx.index());
        let shape = match node.kind {
            NodeKind::Branch(_) => "diamond",
            NodeKind::Wait { .. } | NodeKind::WaitEvent { .. } => "ellipse",
            _ => "box",
        };
        let _ = writeln!(
            out,
            "{pad}{id} [label=\"{}\", shape={shape}];",
            escape(&describe(node))
        );
        for (what, sub) in children(node) {
            let _ = writeln!(out, "{pad}subgraph cluster_{id} {{");
            let _ = writeln!(out, "{pad}  label=\"{what}\";");
            dot_sub(out, sub, &format!("{id}_"), depth + 1);
            let _ = writeln!(out, "{pad}}}");
        }
    }
    for edge in plan.graph.edge_references() {
        let style = match edge.weight() {
            Dep::Data => "",
            Dep::After => " [style=dashed, label=\"after\"]",
            Dep::Barrier => " [style=bold]",
            Dep::Gate => "",
        };
        let style = if *edge.weight() == Dep::Gate {
            format!(
                " [style=dotted, label=\"{}\"]",
                escape(&arm_label(plan, edge.target()))
            )
        } else {
            style.to_string()
        };
        let _ = writeln!(
            out,
            "{pad}{prefix}{} -> {prefix}{}{style};",
            edge.source().index(),
            edge.target().index()
        );
    }
}
