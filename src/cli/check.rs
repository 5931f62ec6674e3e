//! `flowc check`

use std::process::ExitCode;

use super::CliError;

/// Arguments of `flowc check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders.
    paths: Vec<std::path::PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let _ = args.paths;
    Err(CliError::Usage("`flowc check` is not built yet".into()))
}
