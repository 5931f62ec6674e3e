//! `flowc completions SHELL`: the shell completion script, generated from the command's own
//! definition so it never lags behind a new subcommand or flag.

use std::process::ExitCode;

use super::CliError;

/// Arguments of `flowc completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell: bash (`source <(flowc completions bash)`), zsh (save as `_flowc` on `$fpath`)
    /// or fish (save in `~/.config/fish/completions/flowc.fish`).
    shell: Shell,
}

/// The shells a script is written for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub(crate) fn run(args: Args, mut command: clap::Command) -> Result<ExitCode, CliError> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "flowc", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}
