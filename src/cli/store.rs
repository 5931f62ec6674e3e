//! `flowc store migrate` (move an installation's journal from SQLite to PostgreSQL, waiting
//! instances included), and the choice of journal for `flowc serve` and `flowc run`: `--store
//! URL`, else `[store] url` of flowc.toml, else `flowc.db` in the state folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use super::CliError;
use crate::config::StoreConfig;
use crate::runtime::{Commit, Store, StoreError};
use crate::store::{Durability, PostgresStore, SqliteStore, DEFAULT_LEASE};

/// Arguments of `flowc store`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Copy every instance (histories, waiting instances' timers, the plans they are pinned to)
    /// from a SQLite journal to a PostgreSQL database; stop the hosts using the SQLite file
    /// first. Safe to run again: what was copied before is left as it is.
    Migrate {
        /// The journal to copy: `sqlite:PATH` (a state folder's `flowc.db`).
        #[arg(long, value_name = "sqlite:PATH")]
        from: String,
        /// The database to copy to: `postgres://USER@HOST:PORT/DB` (the password from
        /// FLOWC_STORE_PASSWORD).
        #[arg(long, value_name = "postgres://…")]
        to: String,
    },
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    match args.command {
        Command::Migrate { from, to } => migrate(&from, &to),
    }
}

/// A store URL, read.
enum Url {
    Sqlite(PathBuf),
    Postgres(String),
}

fn parse(url: &str) -> Result<Url, CliError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(CliError::Usage(format!(
                "store URL `{url}` has no path: write `sqlite:PATH`"
            )));
        }
        return Ok(Url::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Url::Postgres(url.to_string()));
    }
    // Only the scheme is shown: the rest may hold a password.
    Err(CliError::Usage(format!(
        "unknown kind of store `{}:`: write `postgres://USER@HOST:PORT/DB` or `sqlite:PATH`",
        url.split(':').next().unwrap_or_default()
    )))
}

fn open_postgres(url: &str) -> Result<Arc<PostgresStore>, CliError> {
    PostgresStore::open(url)
        .map(Arc::new)
        .map_err(|e| CliError::Io(e.to_string()))
}

fn open_sqlite(path: &Path) -> Result<Arc<SqliteStore>, CliError> {
    SqliteStore::open(path, Durability::Full)
        .map(Arc::new)
        .map_err(|e| CliError::Io(e.to_string()))
}

/// Where a host journals its instances.
pub(crate) struct Journal {
    pub(crate) store: Arc<dyn Store>,
    /// The same store when hosts share it (PostgreSQL): leases, released work.
    pub(crate) shared: Option<Arc<PostgresStore>>,
}

/// The journal of `flowc serve` and `flowc run --state`: `url` (from `--store`), else the
/// project's `[store] url`, else `flowc.db` in `state` (created). On PostgreSQL the host's name
/// is kept in `state/host-id`, so a host restarted on its state folder takes back its own
/// instances at once.
pub(crate) fn journal(url: Option<&str>, config: &StoreConfig, state: &Path) -> Result<Journal, CliError> {
    match url.or(config.url.as_deref()).map(parse).transpose()? {
        Some(Url::Postgres(url)) => {
            let lease = config.lease.map_or(DEFAULT_LEASE, |d| d.get());
            if lease < Duration::from_secs(1) {
                return Err(CliError::Usage("[store] lease must be at least 1s".into()));
            }
            let store = PostgresStore::open_as(&url, &host_id(state)?, lease)
                .map(Arc::new)
                .map_err(|e| CliError::Io(e.to_string()))?;
            Ok(Journal {
                store: store.clone(),
                shared: Some(store),
            })
        }
        Some(Url::Sqlite(path)) => Ok(Journal {
            store: open_sqlite(&path)?,
            shared: None,
        }),
        None => Ok(Journal {
            store: super::run::open_state(state, true)?,
            shared: None,
        }),
    }
}

/// This host's name, made once and kept in the state folder.
fn host_id(state: &Path) -> Result<String, CliError> {
    let path = state.join("host-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::Io(format!("cannot read {}: {e}", path.display()))),
    }
    std::fs::create_dir_all(state)
        .map_err(|e| CliError::Io(format!("cannot create the state folder {}: {e}", state.display())))?;
    let id = uuid::Uuid::now_v7().to_string();
    std::fs::write(&path, &id).map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

/// Waits for `commit`; a write the store refused is the error `refused` words.
async fn kept(commit: Commit, refused: impl FnOnce(StoreError) -> String) -> Result<(), CliError> {
    match commit {
        Commit::Done => Ok(()),
        Commit::Pending(rx) => match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CliError::Io(refused(e))),
            Err(_) => Err(CliError::Io("the store stopped".into())),
        },
    }
}

/// Waits until `store` has kept everything handed to it.
pub(crate) async fn flushed(store: &dyn Store) {
    if let Commit::Pending(rx) = store.sync() {
        let _ = rx.await;
    }
}

fn migrate(from: &str, to: &str) -> Result<ExitCode, CliError> {
    let Url::Sqlite(path) = parse(from)? else {
        return Err(CliError::Usage("--from takes `sqlite:PATH`".into()));
    };
    let Url::Postgres(url) = parse(to)? else {
        return Err(CliError::Usage(
            "--to takes `postgres://USER@HOST:PORT/DB`".into(),
        ));
    };
    if !path.is_file() {
        return Err(CliError::Usage(format!("no state database {}", path.display())));
    }
    let source = open_sqlite(&path)?;
    let target = open_postgres(&url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let moved = runtime.block_on(copy(&*source, source.deliveries(), &target))?;
    println!(
        "copied {} instances ({} unfinished), {} timers, {} plans and {} webhook deliveries from {from} to {to}",
        moved.instances, moved.unfinished, moved.timers, moved.plans, moved.deliveries
    );
    Ok(ExitCode::SUCCESS)
}

struct Moved {
    instances: usize,
    unfinished: usize,
    timers: usize,
    plans: usize,
    deliveries: usize,
}

/// Copies plans first, then each instance's history (a batch each: a history copied before is
/// found equal and kept), then the timers and the webhook `deliveries` (so that a provider's
/// retry after the move answers the instance it started); the copied instances are left
/// unclaimed, so the first host to start on the database takes the waiting ones over.
async fn copy(
    source: &dyn Store,
    deliveries: Vec<(String, String)>,
    target: &PostgresStore,
) -> Result<Moved, CliError> {
    let records = source.records();
    let hashes: BTreeSet<&str> = records.iter().filter_map(|r| r.plan.as_deref()).collect();
    let mut plans = 0;
    for hash in hashes {
        if let Some(bundle) = source.plan(hash) {
            target.put_plan(hash, &bundle);
            plans += 1;
        }
    }
    let mut unfinished = 0;
    for r in &records {
        let history = source.history(&r.id);
        if history.is_empty() {
            continue;
        }
        kept(target.append_batch(&r.id, history), |e| {
            format!(
                "instance {} differs in the target (was it migrated and then continued?): {e}",
                r.id
            )
        })
        .await?;
        if r.status == "running" {
            unfinished += 1;
        }
    }
    let timers = source.timers();
    for t in &timers {
        target.put_timer(t.clone());
    }
    let delivered = deliveries.len();
    kept(target.import_deliveries(deliveries), |e| {
        format!("cannot copy the webhook deliveries: {e}")
    })
    .await?;
    flushed(target).await;
    target.release();
    Ok(Moved {
        instances: records.len(),
        unfinished,
        timers: timers.len(),
        plans,
        deliveries: delivered,
    })
}
