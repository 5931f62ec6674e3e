//! `flowc build`: compile every flow of the given files to `DIR/<flow>.plan.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::connectors::Registry;
use crate::project::Project;
use crate::syntax::ast::Item;

/// Arguments of `flowc build`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders (default: the current folder).
    paths: Vec<PathBuf>,
    /// Where to write the plans.
    #[arg(short = 'o', long = "out", default_value = "target/flowc")]
    out: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", args.out.display())))?;
    let mut failed = false;
    let mut written = std::collections::HashSet::new();
    for path in &paths {
        let project = Project::load(path)?;
        if report_errors(&project) {
            errln!("error: not building: `flowc check` reports errors");
            failed = true;
            continue;
        }
        for file in project.files_under(path) {
            let Some(module) = project.module_of(file) else {
                continue;
            };
            for item in &module.ast.items {
                let Item::Flow(flow) = item else { continue };
                match crate::plan::compile(&project, Some(file), &flow.name.name) {
                    Ok(bundle) => {
                        // Two modules may both have a flow `notify`: the second is named by its key.
                        let mut target = args.out.join(format!("{}.plan.json", flow.name.name));
                        if !written.insert(target.clone()) {
                            target = args.out.join(format!("{}.plan.json", bundle.entry));
                            written.insert(target.clone());
                        }
                        std::fs::write(&target, crate::plan::to_json(&bundle))
                            .map_err(|e| CliError::Io(format!("cannot write {}: {e}", target.display())))?;
                        outln!("built {} ({})", target.display(), &bundle.hash[..12]);
                    }
                    Err(e) => {
                        errln!("error: flow `{}`: {e}", flow.name.name);
                        failed = true;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints the errors `flowc check` finds; returns whether there were any.
pub(crate) fn report_errors(project: &Project) -> bool {
    let diagnostics = crate::check(project, &Registry::declared_builtins());
    if !diagnostics.has_errors() {
        return false;
    }
    for d in diagnostics.sorted() {
        if d.is_error() {
            errln!(
                "{}",
                crate::diagnostic::render(
                    &d,
                    &project.sources,
                    crate::diagnostic::RenderOptions {
                        color: super::output::use_color(true),
                        width: super::output::width(),
                    },
                )
            );
        }
    }
    true
}
