//! `flowc run`: run one instance locally, output JSON on stdout, step progress on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::emulate::Emulated;
use super::progress::Progress;
use super::CliError;
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::runtime::{wait_for_end, Engine, EngineError, Recording, RecordingConnector, VirtualClock};

/// Arguments of `flowc run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The `.flow` file.
    file: PathBuf,
    /// The flow to run (default: the file's only flow).
    #[arg(long)]
    flow: Option<String>,
    /// The input: JSON text, or `@path` to a JSON file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Call nothing: connectors record the calls and answer with values made from their
    /// manifests; waits pass on a virtual clock.
    #[arg(long, conflicts_with = "emulate")]
    dry_run: bool,
    /// Run against emulators in this process instead of the real services: Notion (the
    /// project's schema with flowc.toml's ids, demo pages from notion/seed.json), Typeform, and
    /// an outbox folder for email.
    #[arg(long)]
    emulate: bool,
    /// Waits pass at once on a virtual clock that starts now (always so with --dry-run).
    #[arg(long)]
    virtual_clock: bool,
    /// With --emulate: the folder email goes to (default: .flowc/outbox in the project); each
    /// run writes into a folder of its own in it.
    #[arg(long, requires = "emulate")]
    outbox: Option<PathBuf>,
}

/// A built-in connector that could not be set up from `flowc.toml`: its calls fail saying why.
struct Unconfigured {
    manifest: crate::connectors::Manifest,
    reason: String,
}

#[async_trait::async_trait]
impl crate::connectors::Connector for Unconfigured {
    fn manifest(&self) -> &crate::connectors::Manifest {
        &self.manifest
    }

    async fn call(
        &self,
        _call: crate::connectors::ActionCall,
    ) -> Result<crate::value::Value, crate::connectors::ConnectorError> {
        Err(crate::connectors::ConnectorError::permanent(format!(
            "connector `{}` is not configured: {}",
            self.manifest.name, self.reason
        )))
    }
}

/// The real built-in connectors, configured from the project's `flowc.toml`.
pub(super) fn real_connectors(project: &Project) -> Vec<Arc<dyn crate::connectors::Connector>> {
    use crate::connectors::{email, http, notion, survey, Connector};
    let (config, root) = (&project.config, project.root.as_path());
    type Built = (crate::connectors::Manifest, Result<Arc<dyn Connector>, String>);
    let built: Vec<Built> = vec![
        (
            notion::manifest(),
            notion::NotionConnector::from_config(config)
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| e.to_string()),
        ),
        (
            email::manifest(),
            email::EmailConnector::from_config(config, root)
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| e.message),
        ),
        (
            http::manifest(),
            http::HttpConnector::from_config(config, root)
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| e.message),
        ),
        (
            survey::manifest(),
            survey::SurveyConnector::from_config(config, root)
                .map(|c| Arc::new(c) as Arc<dyn Connector>)
                .map_err(|e| e.message),
        ),
    ];
    built
        .into_iter()
        .map(|(manifest, c)| match c {
            Ok(c) => c,
            Err(reason) => Arc::new(Unconfigured { manifest, reason }) as Arc<dyn Connector>,
        })
        .collect()
}

fn read_input(text: &str) -> Result<serde_json::Value, CliError> {
    let text = match text.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| CliError::Io(format!("cannot read {path}: {e}")))?
        }
        None => text.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("--input is not valid JSON: {e}")))
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let input = read_input(&args.input)?;
    let mut project = Project::load(&args.file)?;
    if super::build::report_errors(&project) {
        eprintln!("error: not running: `flowc check` reports errors");
        return Ok(ExitCode::from(1));
    }
    let (_, name) = pick_flow(&project, &args.file, args.flow.as_deref())?;
    if args.emulate {
        // The survey connector reads its token from the environment; set before any thread runs.
        std::env::set_var(super::emulate::TYPEFORM_TOKEN_ENV, "tfp_emulated");
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(async {
        let recording = Recording::new();
        let started = chrono::Utc::now();
        let emulated = if args.emulate {
            let run_name = format!("{}-{name}", started.format("%Y%m%dT%H%M%S"));
            let outbox = match &args.outbox {
                Some(dir) => std::path::absolute(dir)
                    .map_err(|e| CliError::Io(format!("cannot use --outbox {}: {e}", dir.display())))?,
                None => project.root.join(super::emulate::DEFAULT_OUTBOX),
            };
            let emulated = Emulated::start(&mut project, &outbox, &run_name).await?;
            emulated.announce();
            Some(emulated)
        } else {
            None
        };
        let connectors = match &emulated {
            _ if args.dry_run => Vec::new(),
            Some(e) => e.connectors(&project)?,
            None => real_connectors(&project),
        };
        let mut builder = Engine::builder()
            .project_value(project)
            .store(Arc::new(Progress::new()));
        for c in connectors {
            builder = builder.connector(c);
        }
        let virtual_clock = Arc::new(VirtualClock::new(started));
        let on_virtual_clock = args.dry_run || args.virtual_clock;
        if args.dry_run {
            for m in crate::connectors::builtin_manifests() {
                builder = builder.connector(RecordingConnector::new(
                    m,
                    recording.clone(),
                    virtual_clock.clone(),
                ));
            }
        }
        if on_virtual_clock {
            builder = builder.clock(virtual_clock.clone());
        }
        let engine = match builder.build() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        let id = match engine.start(&name, input).await {
            Ok(id) => id,
            Err(e) => {
                eprintln!("error: {e}");
                if matches!(e, EngineError::InvalidInput(_)) {
                    eprintln!("help: give the input as --input '{{\"field\": ...}}' or --input @file.json");
                }
                return Ok(ExitCode::from(1));
            }
        };
        // On the virtual clock an instance waiting for an event nobody sends would wait forever.
        let ends = if args.dry_run {
            wait_for_end(&engine, &id, &virtual_clock).await
        } else if on_virtual_clock {
            runs_to_end(&engine, &id, &virtual_clock).await
        } else {
            true
        };
        if !ends {
            let who = if args.dry_run { "a dry run" } else { "this run" };
            eprintln!("error: the instance waits for an event that {who} never sends");
            eprintln!(
                "help: give the wait a `timeout`, or test the flow with `send event` in a `test` block"
            );
            return Ok(ExitCode::from(1));
        }
        let result = engine.output(&id).await;
        engine.shutdown().await;
        if args.dry_run {
            eprintln!("calls that would have been made:");
            for c in recording.calls() {
                eprintln!(
                    "  {} (step {}): {}",
                    c.action,
                    c.call.step,
                    crate::value::Value::Record(c.call.args.clone()).to_json()
                );
            }
        }
        if on_virtual_clock && !args.dry_run {
            eprintln!(
                "virtual clock: the run ended at {}",
                virtual_clock_now(&virtual_clock)
            );
        }
        if let Some(emulated) = &emulated {
            let messages = emulated.messages();
            eprintln!(
                "{} message(s) in the outbox {}",
                messages.len(),
                emulated.outbox.display()
            );
            for m in messages {
                eprintln!("  {}", m.display());
            }
        }
        match result {
            Ok(output) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&output.to_json()).unwrap_or_default()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// Waits until the instance ends on `clock`; `false` when it never can: nothing runs and no timer
/// is set, so it waits for an event nobody will send. Unlike a dry run's wait, there is no time
/// limit, since real calls (paced to a service's rate limit) can take a while.
async fn runs_to_end(engine: &Engine, id: &crate::runtime::InstanceId, clock: &VirtualClock) -> bool {
    let mut idle_checks = 0;
    loop {
        if engine.status(id).is_ok_and(|s| s.is_final()) {
            return true;
        }
        if clock.busy() == 0 && !clock.has_sleepers() {
            idle_checks += 1;
            if idle_checks >= 3 {
                return false;
            }
        } else {
            idle_checks = 0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn virtual_clock_now(clock: &VirtualClock) -> String {
    use crate::runtime::Clock;
    clock.now().to_rfc3339()
}

/// The file given and the flow to use in it: `--flow`, or the file's only flow.
pub(crate) fn pick_flow(
    project: &Project,
    path: &Path,
    flow: Option<&str>,
) -> Result<(FileId, String), CliError> {
    let files = project.files_under(path);
    let Some(&file) = files.first() else {
        return Err(CliError::Usage(format!("{} is not a .flow file", path.display())));
    };
    let names = project
        .module_of(file)
        .map(|m| super::graph::flow_names(&m.ast.items))
        .unwrap_or_default();
    match flow {
        Some(name) if names.iter().any(|n| n == name) => Ok((file, name.to_string())),
        Some(name) => Err(CliError::Usage(format!(
            "{} has no flow `{name}`; it has: {}",
            path.display(),
            names.join(", ")
        ))),
        None if names.len() == 1 => Ok((file, names[0].clone())),
        None if names.is_empty() => Err(CliError::Usage(format!("{} has no flow", path.display()))),
        None => Err(CliError::Usage(format!(
            "{} has several flows; pick one with --flow: {}",
            path.display(),
            names.join(", ")
        ))),
    }
}
