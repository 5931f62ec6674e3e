//! `flowc notion`: Notion workspace tasks (`pull` the database schemas for the checker).

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::project::Project;

/// Arguments of `flowc notion`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: NotionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NotionCommand {
    /// Fetch each entity's database schemas and save them to the project's schema file
    /// (`[project] notion_schema`, default `notion/schema.json`).
    Pull {
        /// A folder inside the project (default: the current folder).
        #[arg(default_value = ".")]
        path: PathBuf,
    },
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    match args.command {
        NotionCommand::Pull { path } => pull(path),
    }
}

fn pull(path: PathBuf) -> Result<ExitCode, CliError> {
    let project = Project::load(&path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io(format!("cannot start the async runtime: {e}")))?;
    let report = runtime
        .block_on(crate::connectors::notion::pull(&project.config, &project.root))
        .map_err(|e| CliError::Io(e.to_string()))?;
    for (entity, database, properties) in &report.databases {
        outln!("pulled {entity}.{database} ({properties} properties)");
    }
    outln!("wrote {}", report.path.display());
    Ok(ExitCode::SUCCESS)
}
