//! The `flowc` command line: one file per subcommand.
//!
//! Exit codes are the same everywhere: 0 success, 1 the input has problems (diagnostics, failed
//! tests, a failed instance), 2 the command could not do its job (usage, missing file, I/O).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

// First, so that its printing macros are in scope in every subcommand.
#[macro_use]
mod output;

pub mod allocator;
mod build;
mod check;
mod completions;
mod diff;
mod emulate;
mod emulator;
mod explain;
mod faults;
mod fmt;
mod graph;
mod init;
mod instances;
mod logging;
mod lsp;
mod notion;
mod progress;
mod resume;
mod run;
mod serve;
mod store;
mod test;

/// flowc: check, format, compile, run and test `.flow` workflows.
#[derive(Debug, Parser)]
#[command(name = "flowc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    verbosity: logging::Verbosity,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check flows and report every problem found.
    Check(check::Args),
    /// Format flows in the canonical layout.
    Fmt(fmt::Args),
    /// Compile flows to plans (JSON).
    Build(build::Args),
    /// Draw a flow's plan as a Mermaid or Graphviz graph.
    Graph(graph::Args),
    /// Say, per flow, whether instances waiting on the old version can continue on the new one.
    Diff(diff::Args),
    /// Print the documentation of a diagnostic code.
    Explain(explain::Args),
    /// Run one instance of a flow locally and print its output.
    Run(run::Args),
    /// Finish the unfinished instances of a state folder (`flowc run --state`).
    Resume(resume::Args),
    /// List, show, cancel or retry the instances of a state folder.
    Instances(instances::Args),
    /// Run the flow tests (`test` blocks).
    Test(test::Args),
    /// Serve the project's flows from their triggers (webhooks), with health and metrics.
    Serve(serve::Args),
    /// The journal: `migrate` an installation from SQLite to PostgreSQL.
    Store(store::Args),
    /// Run the Notion and Typeform emulators and an SMTP server as a process of their own.
    Emulate(emulator::Args),
    /// Notion workspace tasks: `pull` the database schemas the checker uses.
    Notion(notion::Args),
    /// Start a new project: flowc.toml, an entity, a flow with its test, a schema placeholder.
    Init(init::Args),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions(completions::Args),
    /// Run the language server (stdio) for editors.
    Lsp(lsp::Args),
}

/// Why a command stopped before doing its job (exit code 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Load(#[from] crate::project::LoadError),
    #[error("{0}")]
    Io(String),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    logging::install(&cli.verbosity);
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Build(args) => build::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Run(args) => run::run(args),
        Command::Resume(args) => resume::run(args),
        Command::Instances(args) => instances::run(args),
        Command::Test(args) => test::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Store(args) => store::run(args),
        Command::Emulate(args) => emulator::run(args),
        Command::Notion(args) => notion::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Lsp(args) => lsp::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
