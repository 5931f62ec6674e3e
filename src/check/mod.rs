//! The checker: every mistake it can find before anything runs, as diagnostics.

mod notion_schema;

use crate::connectors::Registry;
use crate::diagnostic::Diagnostics;
use crate::project::Project;

/// Checks every file of `project` against the connectors of `registry`.
pub fn check(project: &Project, registry: &Registry) -> Diagnostics {
    let _ = registry;
    let mut diagnostics = Diagnostics::new();
    for module in &project.modules {
        diagnostics.extend(module.syntax.iter().cloned());
    }
    diagnostics
}
