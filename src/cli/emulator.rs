//! `flowc emulate`: the Notion, Typeform, Twilio and Slack emulators and an SMTP server as a
//! process of their own, their data kept in a state folder so a restart keeps it. `flowc run|resume|serve
//! --emulator URL` talks to it, so a test can kill the host without killing the world around it.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::routing::get;

use super::emulate::{project_schemas, seed_file, workspace_tokens, DISCOVERY_PATH, TYPEFORM_TOKEN};
use super::CliError;
use crate::connectors::email::SmtpEmulator;
use crate::connectors::notion::emulator::Emulator;
use crate::connectors::slack::emulator::SlackEmulator;
use crate::connectors::sms::emulator::{emulated_accounts, TwilioEmulator, EMULATED_TOKEN};
use crate::connectors::survey::emulator::TypeformEmulator;
use crate::project::Project;

/// Arguments of `flowc emulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project folder (flowc.toml is looked for upward): its entities, Notion schema and
    /// database ids.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where Notion and Typeform listen, on one address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where the SMTP server listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    smtp: SocketAddr,
    /// The folder the emulators keep their data in: `notion/`, `typeform/`, `outbox/` (one
    /// `.eml` file per message the SMTP server accepted), and `outbox/sms/` and `outbox/slack/`
    /// (one JSON file per text message and Slack post).
    #[arg(long)]
    state: PathBuf,
    /// Demo pages for a new state folder (default: notion/seed.json when present); a state
    /// folder that already holds pages keeps them and is not seeded again.
    #[arg(long)]
    seed: Option<PathBuf>,
    #[command(flatten)]
    faults: super::faults::FaultArgs,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = Project::load(&args.dir)?;
    if let Some(seed) = &args.seed {
        if !seed.is_file() {
            return Err(CliError::Usage(format!("no seed file {}", seed.display())));
        }
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Io(e.to_string()))?;
    runtime.block_on(emulate(args, project))
}

async fn emulate(args: Args, project: Project) -> Result<ExitCode, CliError> {
    let stop = super::serve::stop_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().map_err(|e| CliError::Io(e.to_string()))?;

    let schemas = project_schemas(&project)?;
    let tokens = workspace_tokens(&project);
    let token_refs: Vec<(&str, &str)> = tokens.iter().map(|(e, t)| (e.as_str(), t.as_str())).collect();
    let seed = args.seed.clone().or_else(|| seed_file(&project));
    let (notion, restored) = Emulator::persistent(
        &schemas,
        &token_refs,
        &project.config,
        &args.state.join("notion"),
        seed.as_deref(),
        addr,
    )
    .map_err(CliError::Io)?;
    let typeform =
        TypeformEmulator::persistent(TYPEFORM_TOKEN, &args.state.join("typeform"), addr).map_err(|e| {
            CliError::Io(format!(
                "cannot open {}: {e}",
                args.state.join("typeform").display()
            ))
        })?;
    let smtp = SmtpEmulator::start(args.smtp, &args.state.join("outbox"))
        .await
        .map_err(|e| CliError::Io(format!("cannot start the SMTP server on {}: {e}", args.smtp)))?;

    let io = |what: &str, e: std::io::Error| CliError::Io(format!("cannot start the {what} emulator: {e}"));
    let sids = emulated_accounts(project.config.entities.keys().map(String::as_str));
    let accounts: Vec<(&str, &str)> = sids
        .iter()
        .map(|(_, sid)| (sid.as_str(), EMULATED_TOKEN))
        .collect();
    let twilio = TwilioEmulator::start(&accounts)
        .await
        .map_err(|e| io("Twilio", e))?;
    let slack = SlackEmulator::start(&[crate::connectors::slack::emulator::EMULATED_TOKEN])
        .await
        .map_err(|e| io("Slack", e))?;
    twilio.keep_in(args.state.join("outbox").join("sms"));
    slack.keep_in(args.state.join("outbox").join("slack"));

    if let Some(faults) = args
        .faults
        .rehearsal(&project.config, crate::connectors::faults::FaultTime::Wall)
    {
        if let Some(gate) = faults.gate("notion") {
            notion.set_faults(gate);
        }
        if let Some(gate) = faults.gate("typeform") {
            typeform.set_faults(gate);
        }
        if let Some(gate) = faults.gate("smtp") {
            smtp.set_faults(gate);
        }
        if let Some(gate) = faults.gate("twilio") {
            twilio.set_faults(gate);
        }
        if let Some(gate) = faults.gate("slack") {
            slack.set_faults(gate);
        }
        faults.announce();
    }
    let services = serde_json::json!({
        "notion": notion.base_url(),
        "typeform": typeform.base_url(),
        "smtp": smtp.url(),
        "twilio": twilio.base_url(),
        "slack": slack.base_url(),
    });
    // Notion's API answers every path its router does not know with its own 404 JSON, so it
    // comes last; Typeform's paths (/forms, /to) and ours do not overlap with /v1.
    let router = axum::Router::new()
        .route(DISCOVERY_PATH, get(move || async move { axum::Json(services) }))
        .merge(typeform.router())
        .merge(notion.router());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .into_future(),
    );

    // One line per service, `NAME URL`, on stdout: what scripts and tests read.
    outln!("notion {}", notion.base_url());
    outln!("typeform {}", typeform.base_url());
    outln!("smtp {}", smtp.url());
    outln!("twilio {}", twilio.base_url());
    outln!("slack {}", slack.base_url());
    outln!("emulator http://{addr}");
    errln!(
        "emulating for {} ({} workspace(s), {}); data in {}; stop with Ctrl-C or SIGTERM",
        project.root.display(),
        tokens.len(),
        if restored { "restored" } else { "new" },
        args.state.display()
    );
    stop.await;
    smtp.stop();
    let _ = stop_tx.send(());
    let _ = server.await;
    errln!("stopped");
    Ok(ExitCode::SUCCESS)
}
