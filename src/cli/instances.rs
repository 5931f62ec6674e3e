//! `flowc instances --state DIR list|show|cancel|retry`: the instances of a state folder, at rest
//! (no `flowc run` or `flowc resume` working on the folder meanwhile).

use std::path::PathBuf;
use std::process::ExitCode;

use super::run::open_state;
use super::CliError;
use crate::runtime::{has_ended, Event, EventKind, InstanceRecord, Store};
use crate::store::SqliteStore;

/// Arguments of `flowc instances`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The state folder a `flowc run --state DIR` journaled to.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// One line per instance: id, flow, status, started, last change.
    List,
    /// An instance's record and its history, one event per line.
    Show {
        /// The instance's id.
        id: String,
    },
    /// Cancels an unfinished instance (and its sub-flows): `flowc resume` leaves it alone.
    Cancel {
        /// The instance's id.
        id: String,
    },
    /// Sets a failed instance to run again from its failed step at the next `flowc resume`;
    /// the steps that succeeded keep their results.
    Retry {
        /// The instance's id.
        id: String,
    },
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let store = open_state(&args.state, false)?;
    let problem = |message: String| {
        errln!("error: {message}");
        Ok(ExitCode::from(1))
    };
    let record = |id: &str| {
        store
            .record(id)
            .ok_or_else(|| format!("no instance `{id}` in {}", args.state.display()))
    };
    match &args.action {
        Action::List => {
            for r in store.records() {
                outln!(
                    "{}  {}  {}  {}  {}",
                    r.id,
                    r.flow,
                    r.status,
                    r.started_at.to_rfc3339(),
                    r.updated_at.to_rfc3339()
                );
            }
        }
        Action::Show { id } => {
            let r = match record(id) {
                Ok(r) => r,
                Err(e) => return problem(e),
            };
            print_record(&r);
            for e in store.history(id) {
                let kind = serde_json::to_string(&e.kind).unwrap_or_default();
                outln!("{:>4}  {}  {kind}", e.seq, e.at.to_rfc3339());
            }
        }
        Action::Cancel { id } => {
            let r = match record(id) {
                Ok(r) => r,
                Err(e) => return problem(e),
            };
            if r.status != "running" {
                return problem(format!("instance `{id}` has already ended ({})", r.status));
            }
            let mut cancelled = 0;
            for r in family(&store, id) {
                cancelled += usize::from(end_with(&store, &r.id, EventKind::InstanceCancelled));
            }
            store.flush();
            errln!("cancelled `{id}` ({cancelled} instance(s) with its sub-flows)");
        }
        Action::Retry { id } => {
            let r = match record(id) {
                Ok(r) => r,
                Err(e) => return problem(e),
            };
            if r.status != "failed" {
                return problem(format!(
                    "only a failed instance can be retried; `{id}` is {}",
                    r.status
                ));
            }
            // Its failed sub-flows run again too, or the step that called them would find
            // their failure again.
            for r in family(&store, id).filter(|r| r.status == "failed") {
                let _ = end_with(&store, &r.id, EventKind::InstanceRetried);
            }
            store.flush();
            errln!(
                "`{id}` will run again from its failed step: run `flowc resume --state {}`",
                args.state.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The instance `id` and its sub-flow instances (`id/step...`).
fn family<'a>(store: &'a SqliteStore, id: &'a str) -> impl Iterator<Item = InstanceRecord> + 'a {
    let prefix = format!("{id}/");
    store
        .records()
        .into_iter()
        .filter(move |r| r.id == id || r.id.starts_with(&prefix))
}

/// Appends `kind` to the history of `id` unless it has ended (for a retry: unless it has not);
/// whether it did.
fn end_with(store: &SqliteStore, id: &str, kind: EventKind) -> bool {
    let history = store.history(id);
    let retry = kind == EventKind::InstanceRetried;
    if has_ended(&history) != retry {
        return false;
    }
    let event = Event {
        seq: history.last().map(|e| e.seq + 1).unwrap_or(0),
        at: chrono::Utc::now(),
        kind,
    };
    // Kept by the flush that follows.
    drop(store.append_batch(id, vec![event]));
    true
}

fn print_record(r: &InstanceRecord) {
    outln!("instance  {}", r.id);
    outln!("flow      {}", r.flow);
    outln!("entity    {}", r.entity);
    outln!("status    {}", r.status);
    if let Some(parent) = &r.parent {
        outln!("parent    {parent}");
    }
    if let Some(plan) = &r.plan {
        outln!("plan      {plan}");
    }
    outln!("started   {}", r.started_at.to_rfc3339());
    outln!("updated   {}", r.updated_at.to_rfc3339());
}
