//! `flowc test`: run the `test` blocks on a virtual clock and report what did not hold.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::project::Project;
use crate::runtime::{run_tests, TestReport};

/// Report formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line per test, failures explained.
    Human,
    /// A JSON array of results.
    Json,
}

/// Arguments of `flowc test`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders (default: the current folder).
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    let mut reports: Vec<TestReport> = Vec::new();
    for path in &paths {
        let project = Project::load(path)?;
        if super::build::report_errors(&project) {
            errln!("error: not testing: `flowc check` reports errors");
            return Ok(ExitCode::from(1));
        }
        let files = project.files_under(path);
        if files.is_empty() {
            continue;
        }
        reports.extend(runtime.block_on(run_tests(&project, &files)));
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    match args.format {
        Format::Human => {
            for r in &reports {
                let verdict = if r.passed() { "ok" } else { "FAILED" };
                outln!("test \"{}\" for {} ... {verdict}", r.name, r.flow);
                for f in &r.failures {
                    for line in f.lines() {
                        outln!("    {line}");
                    }
                }
            }
            outln!();
            outln!("{} passed, {failed} failed", reports.len() - failed);
        }
        Format::Json => {
            let json: Vec<_> = reports
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "name": r.name,
                        "flow": r.flow,
                        "file": r.file.display().to_string(),
                        "passed": r.passed(),
                        "failures": r.failures,
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
