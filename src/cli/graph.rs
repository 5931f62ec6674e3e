//! `flowc graph`: print a flow's plan as a Mermaid or Graphviz graph.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::project::Project;
use crate::syntax::ast::Item;

/// Graph formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz dot.
    Dot,
}

/// Arguments of `flowc graph`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The `.flow` file.
    file: PathBuf,
    /// The flow to draw (default: the file's only flow).
    #[arg(long)]
    flow: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    format: Format,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = Project::load(&args.file)?;
    if super::build::report_errors(&project) {
        return Ok(ExitCode::from(1));
    }
    let (file, name) = super::run::pick_flow(&project, &args.file, args.flow.as_deref())?;
    match crate::plan::compile(&project, Some(file), &name) {
        Ok(bundle) => {
            let Some(flow) = bundle.entry_flow() else {
                return Err(CliError::Usage(format!("no flow `{name}`")));
            };
            match args.format {
                Format::Mermaid => out!("{}", crate::plan::to_mermaid(flow)),
                Format::Dot => out!("{}", crate::plan::to_dot(flow)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Flow names declared in a module.
pub(crate) fn flow_names(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Flow(f) => Some(f.name.name.clone()),
            _ => None,
        })
        .collect()
}
