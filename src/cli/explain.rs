//! `flowc explain CODE`: prints the documentation page of a diagnostic code.

use std::process::ExitCode;

use crate::diagnostic::Code;

use super::CliError;

/// Arguments of `flowc explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A diagnostic code (`E0201`) or its short name (`unknown-name`).
    code: String,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    match Code::parse(args.code.trim()) {
        Some(code) => {
            out!("{}", code.explanation());
            Ok(ExitCode::SUCCESS)
        }
        None => Err(CliError::Usage(format!(
            "`{}` is not a diagnostic code; codes look like `E0201` and are printed by `flowc check` \
             in brackets next to each problem (docs/diagnostics.md lists them all)",
            args.code
        ))),
    }
}
