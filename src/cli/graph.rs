//! `flowc graph`

use std::process::ExitCode;

use super::CliError;

/// Arguments of `flowc graph`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders.
    paths: Vec<std::path::PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let _ = args.paths;
    Err(CliError::Usage("`flowc graph` is not built yet".into()))
}
