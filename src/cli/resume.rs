//! `flowc resume --state DIR`: finish every unfinished instance of a state folder (after a crash,
//! a kill, a reboot) and print each one's output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::progress::Progress;
use super::run::{connect, open_state};
use super::CliError;
use crate::project::Project;
use crate::runtime::wait_for_end;
use crate::runtime::{Engine, EngineError, VirtualClock};

/// Arguments of `flowc resume`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project whose flows the instances run (default: the current folder).
    #[arg(default_value = ".")]
    project: PathBuf,
    /// The state folder a `flowc run --state DIR` journaled to.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Run against emulators in this process, as `flowc run --emulate` does (email goes to
    /// DIR/outbox unless --outbox says otherwise).
    #[arg(long)]
    emulate: bool,
    /// With --emulate: the folder email goes to.
    #[arg(long, requires = "emulate")]
    outbox: Option<PathBuf>,
    /// Talk to the `flowc emulate` process at URL, as `flowc run --emulator` does.
    #[arg(long, value_name = "URL", conflicts_with = "emulate")]
    emulator: Option<String>,
    /// Waits pass at once on a virtual clock that starts now.
    #[arg(long)]
    virtual_clock: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut project = Project::load(&args.project)?;
    if super::build::report_errors(&project) {
        errln!("error: not resuming: `flowc check` reports errors");
        return Ok(ExitCode::from(1));
    }
    let store = open_state(&args.state, false)?;
    if args.emulate || args.emulator.is_some() {
        std::env::set_var(super::emulate::TYPEFORM_TOKEN_ENV, "tfp_emulated");
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(async {
        let (outbox_root, run_name) = match &args.outbox {
            Some(dir) => (dir.clone(), "resumed".to_string()),
            None => (args.state.clone(), "outbox".to_string()),
        };
        let outbox_root = std::path::absolute(&outbox_root)
            .map_err(|e| CliError::Io(format!("cannot use {}: {e}", outbox_root.display())))?;
        let (_emulated, connectors) = match &args.emulator {
            Some(url) => (
                None,
                super::emulate::remote(&mut project, url, Some(&args.state)).await?,
            ),
            None => {
                connect(
                    &mut project,
                    args.emulate,
                    &outbox_root,
                    &run_name,
                    Some(&args.state),
                    None,
                )
                .await?
            }
        };
        let mut builder = Engine::builder()
            .project_value(project)
            .store(Arc::new(Progress::over(store.clone())));
        for c in connectors {
            builder = builder.connector(c);
        }
        let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
        if args.virtual_clock {
            builder = builder.clock(clock.clone());
        }
        let engine = match builder.build() {
            Ok(e) => e,
            Err(e) => {
                errln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        let ids = engine.recover().await;
        if ids.is_empty() {
            errln!("nothing to resume in {}", args.state.display());
            return Ok(ExitCode::SUCCESS);
        }
        errln!("resuming {} instance(s)", ids.len());
        let mut failed = 0;
        for id in &ids {
            if args.virtual_clock && !wait_for_end(&engine, id, &clock, None).await {
                errln!("error: instance {id} waits for an event that nobody sends");
                failed += 1;
                continue;
            }
            let line = match engine.output(id).await {
                Ok(output) => serde_json::json!({ "instance": id.0, "output": output.to_json() }),
                Err(EngineError::ShuttingDown) => continue,
                Err(e) => {
                    failed += 1;
                    serde_json::json!({ "instance": id.0, "error": e.to_string() })
                }
            };
            outln!("{line}");
        }
        engine.shutdown().await;
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
