//! An instance and its sub-flows in a store: ending them or setting them to run again through
//! the journal, at rest (`flowc instances`) and in a running engine ([`crate::runtime::Engine::retry`]).

use chrono::{DateTime, Utc};

use super::event::{has_ended, Event, EventKind};
use super::store::{InstanceRecord, Store};

/// Why an instance could not be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError {
    /// No instance with that id.
    #[error("no instance `{0}`")]
    UnknownInstance(String),
    /// It has not failed (it runs, completed or was cancelled).
    #[error("only a failed instance can be retried; `{id}` is {status}")]
    NotFailed {
        /// The instance.
        id: String,
        /// `running`, `completed` or `cancelled`.
        status: String,
    },
    /// A sub-flow is retried with the instance that called it.
    #[error("`{id}` is a sub-flow of `{parent}`: retry `{parent}`, its failed sub-flows run again with it")]
    SubFlow {
        /// The sub-flow instance.
        id: String,
        /// Its caller.
        parent: String,
    },
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// The store did not keep the retry.
    #[error("the store failed: {0}")]
    Store(String),
}

/// The instance `id` and its sub-flow instances (`id/step...`), oldest first.
pub(crate) fn family(store: &dyn Store, id: &str) -> Vec<InstanceRecord> {
    let prefix = format!("{id}/");
    let mut all: Vec<InstanceRecord> = store
        .instances()
        .into_iter()
        .filter(|i| i == id || i.starts_with(&prefix))
        .filter_map(|i| store.record(&i))
        .collect();
    all.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    all
}

/// Appends `kind` to the history of `id` unless it has ended (for a retry: unless it has not);
/// whether it did. The append is kept by the store's next sync.
pub(crate) fn end_with(store: &dyn Store, id: &str, kind: EventKind, now: DateTime<Utc>) -> bool {
    let history = store.history(id);
    let retry = kind == EventKind::InstanceRetried;
    if history.is_empty() || has_ended(&history) != retry {
        return false;
    }
    let event = Event {
        seq: history.last().map(|e| e.seq + 1).unwrap_or(0),
        at: now,
        kind,
    };
    drop(store.append_batch(id, vec![event]));
    true
}

/// Journals that the failed instance `id` runs again from its failed step (`instance_retried`),
/// and with it its failed sub-flows, or the step that called them would find their failure
/// again. Refuses an unknown, unfailed or sub-flow instance; returns the instances set to run
/// again. The caller syncs the store.
pub(crate) fn set_for_retry(
    store: &dyn Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, RetryError> {
    let record = store
        .record(id)
        .ok_or_else(|| RetryError::UnknownInstance(id.to_string()))?;
    if record.status != "failed" {
        return Err(RetryError::NotFailed {
            id: id.to_string(),
            status: record.status,
        });
    }
    if let Some(parent) = record.parent {
        return Err(RetryError::SubFlow {
            id: id.to_string(),
            parent,
        });
    }
    Ok(family(store, id)
        .into_iter()
        .filter(|r| r.status == "failed" && end_with(store, &r.id, EventKind::InstanceRetried, now))
        .map(|r| r.id)
        .collect())
}
