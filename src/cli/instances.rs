//! `flowc instances --state DIR list|show|cancel|retry`: the instances of a state folder, at rest
//! (no `flowc run` or `flowc resume` working on the folder meanwhile).

use std::path::PathBuf;
use std::process::ExitCode;

use super::run::open_state;
use super::CliError;
use crate::runtime::family::{end_with, family, set_for_retry};
use crate::runtime::{EventKind, InstanceRecord, Store};

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
            for r in family(&*store, id) {
                let ended = end_with(&*store, &r.id, EventKind::InstanceCancelled, chrono::Utc::now());
                cancelled += usize::from(ended);
            }
            store.flush();
            errln!("cancelled `{id}` ({cancelled} instance(s) with its sub-flows)");
        }
        Action::Retry { id } => {
            if let Err(e) = set_for_retry(&*store, id, chrono::Utc::now()) {
                return problem(e.to_string());
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
