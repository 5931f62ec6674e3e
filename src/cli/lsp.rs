//! `flowc lsp`: the language server, on stdin and stdout, for editors to start.

use std::process::ExitCode;

use super::CliError;

/// Arguments of `flowc lsp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Accepted for editors that pass it (the server only speaks over stdio).
    #[arg(long)]
    stdio: bool,
}

pub(crate) fn run(_args: Args) -> Result<ExitCode, CliError> {
    crate::lsp::run().map_err(|e| CliError::Io(format!("language server: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
