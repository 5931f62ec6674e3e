//! `flowc serve`: check the project, compile it, resume unfinished instances, then serve its
//! webhooks (and health, readiness and metrics) until SIGTERM or Ctrl-C.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::emulate::Emulated;
use super::CliError;
use crate::project::Project;
use crate::runtime::{Engine, EventKind, VirtualClock};
use crate::serve::mirror::{run_mirror, Mirror};
use crate::serve::notion_changes::NotionWatch;
use crate::serve::notion_poll::run_polls;
use crate::serve::schedules::{run_schedules, schedule_triggers, Firings};
use crate::serve::{host_router, project_bundles, Host, HostOptions};

/// Arguments of `flowc serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project folder (flowc.toml is looked for upward).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The folder the host keeps its state in: the journal (flowc.db), deliveries seen, schedule
    /// firings, Notion verification tokens.
    #[arg(long)]
    state: PathBuf,
    /// Journal instances in this store instead of STATE/flowc.db: `postgres://USER@HOST:PORT/DB`
    /// (the password from FLOWC_STORE_PASSWORD; several hosts may share it) or `sqlite:PATH`.
    /// Default: `[store] url` of flowc.toml.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// With a PostgreSQL store: how long this host holds an instance between renewals, in
    /// seconds, so how soon another host takes over when it dies. Default: `[store] lease`, else 30.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    store_lease: Option<u64>,
    /// Talk to emulators in this process instead of the real services (as `flowc run --emulate`).
    #[arg(long)]
    emulate: bool,
    /// Waits pass on a virtual clock that jumps to the next timer when nothing else happens.
    #[arg(long)]
    virtual_clock: bool,
    /// With --emulate: the folder email goes to (default: the state folder; messages are in its
    /// `outbox` folder).
    #[arg(long, requires = "emulate")]
    outbox: Option<PathBuf>,
    /// Talk to the `flowc emulate` process at URL (its `emulator http://…` line) instead of the
    /// real services; the email sent log is kept in the state folder's `email` folder.
    #[arg(long, value_name = "URL", conflicts_with = "emulate")]
    emulator: Option<String>,
    /// Lay flowc.NAME.toml over flowc.toml (e.g. `staging`).
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// The largest webhook body taken, in bytes.
    #[arg(long, default_value_t = crate::serve::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// On SIGTERM, how long requests and steps in flight may take to finish, in seconds.
    #[arg(long, default_value_t = 30)]
    grace: u64,
    #[command(flatten)]
    faults: super::faults::FaultArgs,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    args.faults.require_emulators(args.emulate)?;
    let mut project = Project::load(&args.dir)?;
    if let Some(env) = &args.environment {
        project.config =
            crate::serve::overlay::load_environment(&project.root, env).map_err(CliError::Usage)?;
    }
    if super::build::report_errors(&project) {
        eprintln!("error: not serving: `flowc check` reports errors");
        return Ok(ExitCode::from(1));
    }
    std::fs::create_dir_all(&args.state).map_err(|e| {
        CliError::Io(format!(
            "cannot create the state folder {}: {e}",
            args.state.display()
        ))
    })?;
    if args.emulate || args.emulator.is_some() {
        // The survey connector reads its token from the environment; set before any thread runs.
        std::env::set_var(super::emulate::TYPEFORM_TOKEN_ENV, "tfp_emulated");
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(serve(args, project))
}

async fn serve(args: Args, mut project: Project) -> Result<ExitCode, CliError> {
    let virtual_clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
    let emulated = if args.emulate {
        let outbox_root = args.outbox.clone().unwrap_or_else(|| args.state.clone());
        let outbox_root = std::path::absolute(&outbox_root)
            .map_err(|e| CliError::Io(format!("cannot use {}: {e}", outbox_root.display())))?;
        let mut emulated = Emulated::start(&mut project, &outbox_root, "outbox", Some(&args.state)).await?;
        emulated.announce();
        let time = if args.virtual_clock {
            crate::connectors::faults::FaultTime::Virtual(virtual_clock.clone())
        } else {
            crate::connectors::faults::FaultTime::Wall
        };
        if let Some(faults) = args.faults.rehearsal(&project.config, time) {
            emulated.rehearse(&faults);
        }
        Some(emulated)
    } else {
        None
    };
    let connectors = match (&emulated, &args.emulator) {
        (Some(e), _) => e.connectors(&project)?,
        (None, Some(url)) => super::emulate::remote(&mut project, url, Some(&args.state)).await?,
        (None, None) => super::run::real_connectors(&project),
    };
    let mut settings = project.config.store.clone();
    if let Some(secs) = args.store_lease {
        settings.lease = Some(crate::config::ConfigDuration(Duration::from_secs(secs)));
    }
    let journal = super::store::journal(args.store.as_deref(), &settings, &args.state)?;
    let store = journal.store.clone();
    let mut builder = Engine::builder()
        .project_value(project.clone())
        .store(store.clone());
    for c in connectors {
        builder = builder.connector(c);
    }
    if args.virtual_clock {
        builder = builder.clock(virtual_clock);
    }
    let engine = match builder.build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let options = HostOptions {
        state: Some(args.state.clone()),
        body_limit: args.body_limit,
        api_token: project.config.serve.api_token(&env),
        store: Some(store.clone()),
    };
    if options.api_token.is_none() {
        eprintln!("warning: the API is off: its token variable is not set (docs/serve.md)");
    }
    let host = match Host::new(engine.clone(), &project, options, &env) {
        Ok(host) => host,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            eprintln!("error: not serving: the webhooks cannot be set up");
            return Ok(ExitCode::from(2));
        }
    };
    // Under emulation the connectors hold the emulated Notion tokens; the host's own Notion
    // reads and writes (triggers, mirror) use the same ones.
    let emulated_tokens = (args.emulate || args.emulator.is_some())
        .then(|| super::emulate::emulated_notion_env(&project.config));
    let notion_env = |name: &str| match &emulated_tokens {
        Some(tokens) => tokens.get(name).cloned(),
        None => std::env::var(name).ok(),
    };
    if let Some(mirror) = Mirror::new(&project, &notion_env) {
        let _ = host.mirror.set(mirror);
    }
    take_over(&host, &engine).await;
    // Requests other hosts received for the instances this one holds.
    let _forwarded = crate::serve::follow_forwarded(&host);
    if let Some(shared) = &journal.shared {
        // Hosts sharing the store: take over what a stopped or dead host leaves.
        let (host, engine, released) = (Arc::downgrade(&host), engine.clone(), shared.work_released());
        tokio::spawn(async move {
            loop {
                released.notified().await;
                match host.upgrade() {
                    Some(host) => take_over(&host, &engine).await,
                    None => return,
                }
            }
        });
    }
    let stop = stop_signal();
    let set_up = project_bundles(&project)
        .map_err(|e| vec![e])
        .and_then(|bundles| {
            let schedules = schedule_triggers(&bundles)?;
            let watch = NotionWatch::new(&project, &bundles, Some(&args.state), &env, &notion_env)?;
            Ok((schedules, watch))
        });
    let watching = match set_up {
        Ok((triggers, watch)) => {
            let firings = Firings::open(Some(&args.state)).map_err(CliError::Io)?;
            run_schedules(&host, triggers, firings, project.config.serve.missed_schedules);
            if let Some(watch) = watch {
                let _ = host.notion.set(watch);
            }
            host.notion.get().is_some()
        }
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().map_err(|e| CliError::Io(e.to_string()))?;
    for route in host.routes.values() {
        eprintln!("webhook POST http://{addr}{} → flow `{}`", route.path, route.flow);
    }
    if let Some(watch) = host.notion.get() {
        for entity in watch.entities.keys() {
            let url = format!("http://{addr}{}", watch.webhook_path(entity));
            eprintln!("notion webhook POST {url} → the `on notion` flows of `{entity}`");
            if let Some(emulated) = &emulated {
                // The emulator's subscription is wired in directly: its verification token is
                // this process's to choose (the configured one, if set), so no handshake.
                let token = env(&crate::serve::notion_changes::token_env(entity))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| format!("secret_{}", uuid::Uuid::new_v4().simple()));
                watch.set_verification_token(entity, &token);
                emulated.notion().subscribe(entity, &url, &token, false);
            }
        }
    }
    if watching {
        run_polls(&host);
    }
    run_mirror(&host);
    eprintln!("listening on http://{addr}");
    host.set_ready(true);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, host_router(host.clone()))
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .into_future();
    let server = tokio::spawn(server);
    stop.await;
    eprintln!(
        "stopping: no new requests; waiting up to {}s for those in flight",
        args.grace
    );
    host.set_ready(false);
    let _ = stop_tx.send(());
    let grace = Duration::from_secs(args.grace);
    if tokio::time::timeout(grace, server).await.is_err() {
        eprintln!(
            "warning: requests still in flight after {}s were dropped",
            args.grace
        );
    }
    if tokio::time::timeout(grace, engine.shutdown()).await.is_err() {
        eprintln!(
            "warning: steps still running after {}s continue after the restart",
            args.grace
        );
    }
    // Everything journaled is on disk before the process ends.
    super::store::flushed(&*store).await;
    if let Some(shared) = &journal.shared {
        // What this host leaves unfinished goes to another host now rather than after a lease.
        shared.release();
    }
    drop(emulated);
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resumes the unfinished instances this host claims (all of them on a store of its own).
async fn take_over(host: &Arc<Host>, engine: &Engine) {
    for id in engine.recover().await {
        if let Some(EventKind::InstanceStarted { flow, .. }) =
            engine.history(&id).first().map(|e| e.kind.clone())
        {
            host.follow(id, &flow, "", "recovered");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C; the handlers are installed when this is called, before the
/// host says it listens, so a supervisor's SIGTERM can never find the default action.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
