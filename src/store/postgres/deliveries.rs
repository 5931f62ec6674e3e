//! Webhook deliveries on a shared database: the instance a delivery started is its row of the
//! claims table (key `delivery …`), written in the same transaction as the instance's start.
//! Hosts claim the key first ([`Store::claim`](crate::runtime::Store::claim)), so whichever
//! host receives a delivery, one instance starts and every copy answers its id.

use std::collections::HashMap;
use std::sync::Mutex;

use postgres::Transaction;

use super::writer::Op;
use super::PostgresStore;
use crate::runtime::{Commit, Event, EventKind};

/// Deliveries whose instance's start is not appended yet: instance → delivery key.
#[derive(Default)]
pub(super) struct Pending(Mutex<HashMap<String, String>>);

impl Pending {
    /// The delivery `events` (an instance's batch) starts, taken: only a start has one.
    pub(super) fn take_for(&self, instance: &str, events: &[Event]) -> Option<String> {
        if !matches!(
            events.first().map(|e| &e.kind),
            Some(EventKind::InstanceStarted { .. })
        ) {
            return None;
        }
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return None;
        }
        pending.remove(instance)
    }
}

impl PostgresStore {
    pub(super) fn expect_delivery(&self, key: &str, instance: &str) {
        self.pending_deliveries
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.to_string(), key.to_string());
    }

    pub(super) fn find_delivery(&self, key: &str) -> Option<String> {
        let key = key.to_string();
        self.read("a delivery", move |c| {
            c.query_opt("SELECT instance FROM claims WHERE key = $1", &[&key])
        })
        .flatten()
        .and_then(|r| r.get(0))
    }

    pub(super) fn import(&self, pairs: Vec<(String, String)>) -> Commit {
        self.writer.ask(|done| Op::ImportDeliveries(pairs, done))
    }
}

/// Keeps delivery `key` → `instance` (claimed by `host`), unless the key holds an instance
/// already.
pub(super) fn write(
    tx: &mut Transaction,
    host: &str,
    key: &str,
    instance: &str,
) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO claims (key, host, claimed_at, instance) VALUES ($1, $2, now(), $3)
         ON CONFLICT (key) DO UPDATE SET instance = $3 WHERE claims.instance IS NULL",
        &[&key, &host, &instance],
    )?;
    Ok(())
}
