//! Dependency cycles among a flow's steps and lets (data references, branch conditions and
//! `after`), found as strongly connected components of the dependency graph (E0400).

use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};

use super::suggest;
use super::typed::TypedFlow;

/// E0400 for every cycle among the declarations of `flow`.
pub(crate) fn check(flow: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    let n = flow.decls.len();
    if n == 0 {
        return;
    }
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, n);
    for _ in 0..n {
        graph.add_node(());
    }
    let mut self_loops = Vec::new();
    for (from, decl) in flow.decls.iter().enumerate() {
        for &(to, span) in &decl.depends_on {
            if from == to {
                if !self_loops.iter().any(|&(f, _)| f == from) {
                    self_loops.push((from, span));
                }
            } else {
                graph.update_edge(NodeIndex::new(from), NodeIndex::new(to), ());
            }
        }
    }
    for (index, span) in self_loops {
        let decl = &flow.decls[index];
        let message = format!("{} `{}` uses its own value", decl.noun, decl.name.name);
        let diagnostic = Diagnostic::new(Code::DependencyCycle, flow.file, span, message)
            .label("used here, before it exists")
            .with(decl.name.span, "declared here")
            .help("a step's value exists only after it ran: use an earlier step's result or `input`");
        diagnostics.push(diagnostic);
    }
    for component in petgraph::algo::tarjan_scc(&graph) {
        if component.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = component.iter().map(|i| i.index()).collect();
        members.sort_by_key(|&i| flow.decls[i].name.span.start);
        let names: Vec<&str> = members
            .iter()
            .map(|&i| flow.decls[i].name.name.as_str())
            .collect();
        let first = &flow.decls[members[0]];
        let mut diagnostic = Diagnostic::new(
            Code::DependencyCycle,
            flow.file,
            first.name.span,
            format!(
                "{}{} depend on each other",
                if members.iter().all(|&m| flow.decls[m].noun == "step") {
                    "steps "
                } else {
                    ""
                },
                suggest::list(&names)
            ),
        )
        .label("part of a dependency cycle")
        .help("break the cycle: one of them must not use the other's result (check `after` and references)");
        for &member in &members {
            let decl = &flow.decls[member];
            // The reference from this member to the next one in the cycle.
            if let Some(&(to, span)) = decl
                .depends_on
                .iter()
                .find(|(to, _)| *to != member && members.contains(to))
            {
                let target = &flow.decls[to].name.name;
                diagnostic = diagnostic.with(span, format!("`{}` uses `{target}`", decl.name.name));
            }
        }
        diagnostics.push(diagnostic);
    }
}
