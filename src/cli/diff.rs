//! `flowc diff OLD NEW`: per flow, whether instances waiting on the old version can continue on
//! the new one. Exit 0: every change is safe for them; 1: some flow changed in a way that breaks
//! them (or was removed); 2: a version could not be read or compiled.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::CliError;
use crate::connectors::Registry;
use crate::plan::{self, Bundle, FlowStatus, Flows};
use crate::project::Project;

/// Arguments of `flowc diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The old version: a plan file (`flowc build` output) or a project folder.
    old: PathBuf,
    /// The new version: a plan file or a project folder.
    new: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let diffs = plan::diff(&old, &new);
    let mut unsafe_flows = 0;
    for d in &diffs {
        let verdict = match d.status {
            FlowStatus::Unchanged => "unchanged",
            FlowStatus::Safe => "changed, safe for waiting instances",
            FlowStatus::Unsafe => "changed, NOT safe for waiting instances",
            FlowStatus::Added => "added",
            FlowStatus::Removed => "removed, NOT safe for waiting instances",
        };
        outln!("flow {}: {verdict}", d.key);
        for line in &d.breaking {
            outln!("  - {line}");
        }
        for line in &d.safe {
            outln!("  + {line}");
        }
        if !d.is_safe() {
            unsafe_flows += 1;
        }
    }
    Ok(if unsafe_flows == 0 {
        outln!("every change is safe for waiting instances");
        ExitCode::SUCCESS
    } else {
        outln!("{unsafe_flows} flow(s) changed in ways that break waiting instances");
        ExitCode::from(1)
    })
}

/// The flows of a plan file, or of every flow of a project folder (compiled).
fn load(path: &Path) -> Result<Flows, CliError> {
    if path.is_dir() {
        let project = Project::load(path)?;
        let compiled = plan::compile_project(&project, &Registry::declared_builtins())
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let mut bundles = Vec::new();
        for (name, result) in compiled {
            bundles.push(
                result.map_err(|e| CliError::Usage(format!("{}: flow `{name}`: {e}", path.display())))?,
            );
        }
        return Ok(plan::flows_of(&bundles));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
    let version: Option<u64> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format_version").and_then(|v| v.as_u64()));
    if let Some(v) = version.filter(|&v| v != u64::from(plan::FORMAT_VERSION)) {
        return Err(CliError::Usage(format!(
            "{} is a plan of format {v}; this flowc reads format {}: rebuild it with `flowc build`",
            path.display(),
            plan::FORMAT_VERSION
        )));
    }
    let bundle: Bundle = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not a plan file: {e}", path.display())))?;
    Ok(plan::flows_of([&bundle]))
}
