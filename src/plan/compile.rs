//! Compiling: a project's flows to bundles, refused whole when `flowc check` finds errors (the
//! lowering itself is in `lower`).

use super::lower::compile_checked;
use super::plan::Bundle;
use crate::connectors::Registry;
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::syntax::ast::Item;

/// Why a flow could not be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    /// What is wrong, lowercase, names in backticks.
    pub message: String,
}

impl PlanError {
    pub(crate) fn new(message: impl Into<String>) -> PlanError {
        PlanError {
            message: message.into(),
        }
    }
}

pub(super) fn err<T>(message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError::new(message))
}

/// Compiles `flow` (looked up in `file`, or in the whole project when `None`) with the built-in
/// connectors' manifests. A project with check errors is refused.
pub fn compile(project: &Project, file: Option<FileId>, flow: &str) -> Result<Bundle, PlanError> {
    compile_with(project, &Registry::declared_builtins(), file, flow)
}

/// Compiles `flow` against the connectors of `registry`. A project with check errors is refused.
pub fn compile_with(
    project: &Project,
    registry: &Registry,
    file: Option<FileId>,
    flow: &str,
) -> Result<Bundle, PlanError> {
    refuse_check_errors(project, registry)?;
    compile_checked(project, registry, file, flow)
}

/// An error naming the first problem `flowc check` finds in `project`, if it finds any.
pub(crate) fn refuse_check_errors(project: &Project, registry: &Registry) -> Result<(), PlanError> {
    let diagnostics = crate::check::check(project, registry);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    match errors.first() {
        None => Ok(()),
        Some(first) => {
            let path = project.sources.get(first.file).path.display().to_string();
            err(format!(
                "`flowc check` finds {} error(s) in the project; the first, in {path}: {} [{}]",
                errors.len(),
                first.message,
                first.code.as_str()
            ))
        }
    }
}

/// A flow's name and its bundle, or why it could not be compiled.
pub type CompiledFlow = (String, Result<Bundle, PlanError>);

/// Compiles every flow of `project`, each with its name and the bundle or why it failed; the
/// project is checked once and refused whole when the checker finds errors.
pub fn compile_project(project: &Project, registry: &Registry) -> Result<Vec<CompiledFlow>, PlanError> {
    refuse_check_errors(project, registry)?;
    let mut out = Vec::new();
    for module in &project.modules {
        for item in &module.ast.items {
            if let Item::Flow(f) = item {
                let bundle = compile_checked(project, registry, Some(module.file), &f.name.name);
                out.push((f.name.name.clone(), bundle));
            }
        }
    }
    Ok(out)
}
