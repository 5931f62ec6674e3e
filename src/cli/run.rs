//! `flowc run`: run one instance locally, output JSON on stdout, step progress on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::emulate::Emulated;
use super::progress::Progress;
use super::CliError;
use crate::connectors::faults::FaultTime;
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::runtime::{
    wait_for_end, Engine, EngineError, Recording, RecordingConnector, VirtualClock, STUBBED_RUN_LIMIT,
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
    /// Start the virtual clock at TIME (RFC 3339, such as `2026-12-01T09:00:00Z`) instead of
    /// now: a rehearsal as of that moment, the same on any day. Implies --virtual-clock.
    #[arg(long, value_name = "TIME")]
    clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// With --emulate: the folder email goes to (default: .flowc/outbox in the project); each
    /// run writes into a folder of its own in it.
    #[arg(long, requires = "emulate")]
    outbox: Option<PathBuf>,
    /// Journal the instance in DIR/flowc.db (created if needed), so that `flowc resume --state
    /// DIR` finishes it after a crash; with --emulate, email goes to DIR/outbox.
    #[arg(long, value_name = "DIR", conflicts_with = "dry_run")]
    state: Option<PathBuf>,
    /// With --state: journal in this store instead of DIR/flowc.db: `postgres://USER@HOST:PORT/DB`
    /// (the password from FLOWC_STORE_PASSWORD) or `sqlite:PATH`. Default: `[store] url` of
    /// flowc.toml.
    #[arg(long, value_name = "URL", requires = "state")]
    store: Option<String>,
    /// Talk to the `flowc emulate` process at URL (its `emulator http://…` line) instead of the
    /// real services; with --state, the email sent log is kept in DIR/email.
    #[arg(long, value_name = "URL", conflicts_with_all = ["emulate", "dry_run"])]
    emulator: Option<String>,
    #[command(flatten)]
    faults: super::faults::FaultArgs,
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
    use crate::connectors::{email, http, notion, slack, sms, survey, Connector};
    let (config, root) = (&project.config, project.root.as_path());
    // One notification ledger for the channels: a fallback asks the channel before it.
    let notifications = crate::connectors::notification::Notifications::in_project(root);
    type Built = (crate::connectors::Manifest, Result<Arc<dyn Connector>, String>);
    let built: Vec<Built> = vec![
        (
            notion::manifest(),
            notion::NotionConnector::from_config(config)
                .map(|c| {
                    Arc::new(c.with_grants(crate::connectors::Grants::from_project(project)))
                        as Arc<dyn Connector>
                })
                .map_err(|e| e.to_string()),
        ),
        (
            email::manifest(),
            email::EmailConnector::from_config(config, root)
                .map(|c| Arc::new(c.with_notifications(notifications.clone())) as Arc<dyn Connector>)
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
        (
            sms::manifest(),
            sms::SmsConnector::from_config(config, root)
                .map(|c| Arc::new(c.with_notifications(notifications.clone())) as Arc<dyn Connector>)
                .map_err(|e| e.message),
        ),
        (
            slack::manifest(),
            slack::SlackConnector::from_config(config, root)
                .map(|c| Arc::new(c.with_notifications(notifications.clone())) as Arc<dyn Connector>)
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
    refuse_other_than_a_flow_file(&args.file)?;
    args.faults.require_emulators(args.emulate)?;
    let input = read_input(&args.input)?;
    let mut project = Project::load(&args.file)?;
    if super::build::report_errors(&project) {
        errln!("error: not running: `flowc check` reports errors");
        return Ok(ExitCode::from(1));
    }
    let (_, name) = pick_flow(&project, &args.file, args.flow.as_deref())?;
    if args.emulate || args.emulator.is_some() {
        // The survey connector reads its token from the environment; set before any thread runs.
        std::env::set_var(super::emulate::TYPEFORM_TOKEN_ENV, "tfp_emulated");
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(async {
        let recording = Recording::new();
        let wall = chrono::Utc::now();
        let started = args.clock_start.unwrap_or(wall);
        let outbox_root = match (&args.outbox, &args.state) {
            (Some(dir), _) => std::path::absolute(dir)
                .map_err(|e| CliError::Io(format!("cannot use --outbox {}: {e}", dir.display())))?,
            (None, Some(state)) => std::path::absolute(state)
                .map_err(|e| CliError::Io(format!("cannot use --state {}: {e}", state.display())))?,
            (None, None) => project.root.join(super::emulate::DEFAULT_OUTBOX),
        };
        // A state folder's outbox is one folder for every run and resume, so a message sent
        // before a crash is not sent again after it.
        let run_name = match &args.state {
            Some(_) => "outbox".to_string(),
            None => format!("{}-{name}", wall.format("%Y%m%dT%H%M%S")),
        };
        let virtual_clock = Arc::new(VirtualClock::new(started));
        let on_virtual_clock = args.dry_run || args.virtual_clock || args.clock_start.is_some();
        let fault_time = if on_virtual_clock {
            FaultTime::Virtual(virtual_clock.clone())
        } else {
            FaultTime::Wall
        };
        let faults = args.faults.rehearsal(&project.config, fault_time);
        let (emulated, connectors) = if args.dry_run {
            (None, Vec::new())
        } else if let Some(url) = &args.emulator {
            (
                None,
                super::emulate::remote(&mut project, url, args.state.as_deref()).await?,
            )
        } else {
            connect(
                &mut project,
                args.emulate,
                &outbox_root,
                &run_name,
                args.state.as_deref(),
                faults.as_ref(),
            )
            .await?
        };
        let store: Arc<dyn crate::runtime::Store> = match &args.state {
            Some(dir) => super::store::journal(args.store.as_deref(), &project.config.store, dir)?.store,
            None => Arc::new(crate::runtime::MemoryStore::new()),
        };
        let mut builder = Engine::builder()
            .project_value(project)
            .store(Arc::new(Progress::over(store)));
        for c in connectors {
            builder = builder.connector(c);
        }
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
                errln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        let id = match engine.start(&name, input).await {
            Ok(id) => id,
            Err(e) => {
                errln!("error: {e}");
                if matches!(e, EngineError::InvalidInput(_)) {
                    errln!("help: give the input as --input '{{\"field\": ...}}' or --input @file.json");
                }
                return Ok(ExitCode::from(1));
            }
        };
        // On the virtual clock an instance waiting for an event nobody sends would wait forever.
        let ends = if args.dry_run {
            wait_for_end(&engine, &id, &virtual_clock, Some(STUBBED_RUN_LIMIT)).await
        } else if on_virtual_clock {
            wait_for_end(&engine, &id, &virtual_clock, None).await
        } else {
            true
        };
        if !ends {
            let who = if args.dry_run { "a dry run" } else { "this run" };
            errln!("error: the instance waits for an event that {who} never sends");
            errln!("help: give the wait a `timeout`, or test the flow with `send event` in a `test` block");
            return Ok(ExitCode::from(1));
        }
        let result = engine.output(&id).await;
        engine.shutdown().await;
        if args.dry_run {
            errln!("calls that would have been made:");
            for c in recording.calls() {
                errln!(
                    "  {} (step {}): {}",
                    c.action,
                    c.call.step,
                    crate::value::Value::Record(c.call.args.clone()).to_json()
                );
            }
        }
        if on_virtual_clock && !args.dry_run {
            errln!(
                "virtual clock: the run ended at {}",
                virtual_clock_now(&virtual_clock)
            );
        }
        if let Some(emulated) = &emulated {
            let messages = emulated.messages();
            errln!(
                "{} message(s) in the outbox {}",
                messages.len(),
                emulated.outbox.display()
            );
            for m in messages {
                errln!("  {}", m.display());
            }
        }
        match result {
            Ok(output) => {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&output.to_json()).unwrap_or_default()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                errln!("error: {e}");
                Ok(ExitCode::from(1))
            }
        }
    })
}

/// The connectors of a run or a resume: the emulators' (started here, email into
/// `outbox_root/run_name`, their data kept in the state folder `keep_in` when there is one,
/// with `faults` if any) or the real services' as `flowc.toml` configures them.
pub(crate) async fn connect(
    project: &mut Project,
    emulate: bool,
    outbox_root: &Path,
    run_name: &str,
    keep_in: Option<&Path>,
    faults: Option<&super::faults::Rehearsal>,
) -> Result<(Option<Emulated>, Vec<Arc<dyn crate::connectors::Connector>>), CliError> {
    if !emulate {
        return Ok((None, real_connectors(project)));
    }
    let mut emulated = Emulated::start(project, outbox_root, run_name, keep_in).await?;
    emulated.announce();
    if let Some(faults) = faults {
        emulated.rehearse(faults);
    }
    let connectors = emulated.connectors(project)?;
    Ok((Some(emulated), connectors))
}

/// The store of a state folder: `DIR/flowc.db`, created when `create` (a run), else it must
/// exist (a resume, `flowc instances`).
pub(crate) fn open_state(dir: &Path, create: bool) -> Result<Arc<crate::store::SqliteStore>, CliError> {
    let path = dir.join("flowc.db");
    if create {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Io(format!("cannot create the state folder {}: {e}", dir.display())))?;
    } else if !path.is_file() {
        return Err(CliError::Usage(format!(
            "no state database {}: give the folder a `flowc run --state` used",
            path.display()
        )));
    }
    let store = crate::store::SqliteStore::open(&path, crate::store::Durability::Full)
        .map_err(|e| CliError::Io(e.to_string()))?;
    Ok(Arc::new(store))
}

/// `flowc run` runs one flow of one file: a folder (whose "first" flow would be a guess) or
/// another kind of file is refused before anything starts.
fn refuse_other_than_a_flow_file(path: &Path) -> Result<(), CliError> {
    if path.is_dir() {
        return Err(CliError::Usage(format!(
            "`{}` is a folder; `flowc run` runs one flow: give its `.flow` file (and `--flow NAME` if it has several)",
            path.display()
        )));
    }
    if !path.exists() {
        return Err(CliError::Usage(format!("`{}` does not exist", path.display())));
    }
    if path.extension().is_none_or(|x| x != "flow") {
        return Err(CliError::Usage(format!(
            "`{}` is not a `.flow` file; give the `.flow` file of the flow to run",
            path.display()
        )));
    }
    Ok(())
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
