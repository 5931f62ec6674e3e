//! The checker: every mistake it can find before anything runs, as diagnostics.
//!
//! Passes, one file each: [`declarations`] (top-level names), [`templates`], [`triggers`], then
//! per flow [`flow`] (statements) with [`infer`] (expressions), [`calls`], [`policies`],
//! [`grants`], [`cycles`] and [`warnings`], and finally [`flow_tests`]. No pass stops at the first
//! problem: each pushes what it finds and carries on, and the result is sorted by position.

mod builtins;
mod calls;
mod context;
mod cycles;
mod declarations;
mod flow;
mod flow_tests;
mod grants;
mod infer;
mod notion_schema;
mod policies;
mod scope;
mod suggest;
mod templates;
mod triggers;
mod type_expr;
mod warnings;

use crate::connectors::Registry;
use crate::diagnostic::{Code, Diagnostics};
use crate::project::Project;
use crate::syntax::ast;

/// Checks every file of `project` against the connectors of `registry`; the diagnostics come
/// sorted by file and position.
pub fn check(project: &Project, registry: &Registry) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    for module in &project.modules {
        diagnostics.extend(module.syntax.iter().cloned());
    }
    let cx = context::Context::new(project, registry);
    declarations::check(&cx, &mut diagnostics);
    templates::check_declarations(cx.templates.values(), &mut diagnostics);
    triggers::check_webhook_paths(&cx, &mut diagnostics);
    for module in &cx.modules {
        for item in &module.parsed.ast.items {
            if let ast::Item::Flow(flow) = item {
                flow::check_flow(&cx, module, flow, &mut diagnostics);
            }
        }
    }
    flow_tests::check(&cx, &mut diagnostics);
    // Where part of a file did not parse, declarations and uses are missing from its tree, so
    // "unused" and "unreachable" warnings there would be noise caused by the syntax error.
    let broken: Vec<_> = project
        .modules
        .iter()
        .filter(|m| m.syntax.iter().any(|d| d.code == Code::SyntaxError))
        .map(|m| m.file)
        .collect();
    diagnostics.retain(|d| d.is_error() || !broken.contains(&d.file));
    let mut sorted = Diagnostics::new();
    sorted.extend(diagnostics.sorted());
    sorted
}
