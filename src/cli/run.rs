//! `flowc run`

use std::path::Path;
use std::process::ExitCode;

use super::CliError;
use crate::diagnostic::FileId;
use crate::project::Project;

/// Arguments of `flowc run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders.
    paths: Vec<std::path::PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let _ = args.paths;
    Err(CliError::Usage("`flowc run` is not built yet".into()))
}

/// The file given and the flow to use in it: `--flow`, or the file's only flow.
pub(crate) fn pick_flow(
    project: &Project,
    path: &Path,
    flow: Option<&str>,
) -> Result<(FileId, String), CliError> {
    let files = project.files_under(path);
    let Some(&file) = files.first() else {
        return Err(CliError::Usage(format!("{} is not a .flow file", path.display())));
    };
    let names = project
        .module_of(file)
        .map(|m| super::graph::flow_names(&m.ast.items))
        .unwrap_or_default();
    match flow {
        Some(name) if names.iter().any(|n| n == name) => Ok((file, name.to_string())),
        Some(name) => Err(CliError::Usage(format!(
            "{} has no flow `{name}`; it has: {}",
            path.display(),
            names.join(", ")
        ))),
        None if names.len() == 1 => Ok((file, names[0].clone())),
        None if names.is_empty() => Err(CliError::Usage(format!("{} has no flow", path.display()))),
        None => Err(CliError::Usage(format!(
            "{} has several flows; pick one with --flow: {}",
            path.display(),
            names.join(", ")
        ))),
    }
}
