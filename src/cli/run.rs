//! `flowc run`: run one instance locally, output JSON on stdout, step progress on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::CliError;
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::runtime::{
    wait_for_end, Engine, EngineError, Event, EventKind, MemoryStore, Recording, RecordingConnector, Store,
    TimerRecord, VirtualClock,
};

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
    #[arg(long)]
    dry_run: bool,
}

/// Prints each step's start and end on stderr as the history is written.
struct Progress(MemoryStore);

impl Store for Progress {
    fn append(&self, instance: &str, event: Event) {
        let line = match &event.kind {
            EventKind::StepStarted { step, attempt } if *attempt > 1 => {
                Some(format!("step {step} started (attempt {attempt})"))
            }
            EventKind::StepStarted { step, .. } => Some(format!("step {step} started")),
            EventKind::StepSucceeded { step, fallback, .. } => Some(if *fallback {
                format!("step {step} done (fallback)")
            } else {
                format!("step {step} done")
            }),
            EventKind::StepFailed {
                step,
                class,
                message,
                will_retry,
                ..
            } => Some(format!(
                "step {step} failed: {class}: {message}{}",
                if *will_retry { " (will retry)" } else { "" }
            )),
            EventKind::StepSkipped { step } => Some(format!("step {step} skipped")),
            EventKind::WaitStarted { step, until } => Some(match until {
                Some(t) => format!("{step} waiting until {}", t.to_rfc3339()),
                None => format!("{step} waiting"),
            }),
            EventKind::WaitEnded { step, timed_out } => Some(if *timed_out {
                format!("{step} timed out")
            } else {
                format!("{step} resumed")
            }),
            _ => None,
        };
        if let Some(line) = line {
            eprintln!("{line}");
        }
        self.0.append(instance, event);
    }
    fn history(&self, instance: &str) -> Vec<Event> {
        self.0.history(instance)
    }
    fn put_timer(&self, timer: TimerRecord) {
        self.0.put_timer(timer)
    }
    fn remove_timer(&self, id: u64) {
        self.0.remove_timer(id)
    }
    fn timers(&self) -> Vec<TimerRecord> {
        self.0.timers()
    }
    fn instances(&self) -> Vec<String> {
        self.0.instances()
    }
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
fn real_connectors(project: &Project) -> Vec<Arc<dyn crate::connectors::Connector>> {
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
    let project = Project::load(&args.file)?;
    if super::build::report_errors(&project) {
        eprintln!("error: not running: `flowc check` reports errors");
        return Ok(ExitCode::from(1));
    }
    let (_, name) = pick_flow(&project, &args.file, args.flow.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(async {
        let recording = Recording::new();
        let connectors = if args.dry_run {
            Vec::new()
        } else {
            real_connectors(&project)
        };
        let mut builder = Engine::builder()
            .project_value(project)
            .store(Arc::new(Progress(MemoryStore::new())));
        for c in connectors {
            builder = builder.connector(c);
        }
        let virtual_clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
        if args.dry_run {
            for m in crate::connectors::builtin_manifests() {
                builder = builder.connector(RecordingConnector::new(
                    m,
                    recording.clone(),
                    virtual_clock.clone(),
                ));
            }
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
        if args.dry_run && !wait_for_end(&engine, &id, &virtual_clock).await {
            eprintln!("error: the instance waits for an event that a dry run never sends");
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
