//! Requests forwarded between hosts (`runtime::forward`): the `commands` table is the queue.
//! A host asked about an instance it does not hold inserts the request and wakes the others
//! (`NOTIFY flowc_commands`); the holder reads its instances' requests, applies them, and each
//! leaves the queue in the commit of the events it caused. The holder a request finds is the
//! instance's owner; a failed instance whose lease ran out (a failed instance is not renewed) is
//! taken by the first host that reads the request, so a retry never waits for a dead host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::writer::Op;
use super::PostgresStore;
use crate::runtime::{Command, Commit, Event, Forwarded, StoreError};

/// The channel a forwarded request wakes the hosts on.
pub(super) const CHANNEL: &str = "flowc_commands";

/// Most requests read at once.
const READ_AT_ONCE: i64 = 256;

/// Requests being applied whose batch has not reached the writer yet: instance → requests.
#[derive(Default)]
pub(super) struct Pending(Mutex<HashMap<String, Vec<Forwarded>>>);

impl Pending {
    /// The requests `events` (a batch of `instance`) carry out, taken.
    pub(super) fn take_for(&self, instance: &str, events: &[Event]) -> Vec<i64> {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return Vec::new();
        }
        let Some(waiting) = pending.get_mut(instance) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        waiting.retain(|f| {
            let carried = events.iter().any(|e| f.command.took_effect_in(&e.kind));
            if carried {
                taken.push(f.id);
            }
            !carried
        });
        if waiting.is_empty() {
            pending.remove(instance);
        }
        taken
    }

    /// Whether `forwarded` was still waiting for its batch (it is not any more).
    fn take(&self, forwarded: &Forwarded) -> bool {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(waiting) = pending.get_mut(&forwarded.instance) else {
            return false;
        };
        let before = waiting.len();
        waiting.retain(|f| f.id != forwarded.id);
        let was = waiting.len() < before;
        if waiting.is_empty() {
            pending.remove(&forwarded.instance);
        }
        was
    }
}

impl PostgresStore {
    pub(super) fn queue_command(&self, instance: &str, command: &Command) -> Result<bool, StoreError> {
        let (instance, kind, status) = (instance.to_string(), command.kind(), command.applies_to());
        let (name, payload) = match command {
            Command::Event { name, payload } => (Some(name.clone()), Some(payload.to_string())),
            Command::Cancel | Command::Retry => (None, None),
        };
        // One statement: queued only for an instance with the status the request applies to
        // (a retry: a failed top-level instance), and the notification goes with the commit.
        self.reads.run(move |c| {
            let queued = c.query(
                "WITH target AS (
                     SELECT id FROM instances
                     WHERE id = $1 AND status = $5 AND ($2 <> 'retry' OR parent IS NULL)),
                 queued AS (
                     INSERT INTO commands (instance, kind, name, payload)
                     SELECT id, $2, $3, $4 FROM target RETURNING id)
                 SELECT pg_notify($6, '') FROM queued",
                &[&instance, &kind, &name, &payload, &status, &CHANNEL],
            )?;
            Ok(!queued.is_empty())
        })
    }

    pub(super) fn queued_commands(&self) -> Vec<Forwarded> {
        let (host, lease) = (self.host.clone(), self.lease.as_secs_f64());
        self.read("the forwarded requests", move |c| {
            c.query(
                "WITH free AS (
                     UPDATE instances SET owner = $1, lease_until = now() + make_interval(secs => $2)
                     WHERE id IN (SELECT instance FROM commands) AND status <> 'running'
                       AND (owner IS NULL OR lease_until IS NULL OR lease_until < now())
                     RETURNING id)
                 SELECT c.id, c.instance, c.kind, c.name, c.payload FROM commands c
                 JOIN instances i ON i.id = c.instance
                 WHERE i.owner = $1 OR c.instance IN (SELECT id FROM free)
                 ORDER BY c.id LIMIT $3",
                &[&host, &lease, &READ_AT_ONCE],
            )
        })
        .map(|rows| {
            rows.iter()
                .filter_map(|r| {
                    let payload: Option<String> = r.get(4);
                    let payload = payload.and_then(|p| serde_json::from_str(&p).ok());
                    Some(Forwarded {
                        id: r.get(0),
                        instance: r.get(1),
                        command: Command::from_parts(r.get(2), r.get(3), payload)?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    }

    pub(super) fn commands_wake(&self) -> Arc<Notify> {
        self.keeper.commands.clone()
    }

    pub(super) fn expect_command(&self, forwarded: &Forwarded) {
        self.pending_commands
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(forwarded.instance.clone())
            .or_default()
            .push(forwarded.clone());
    }

    pub(super) fn settle_command(&self, forwarded: &Forwarded, unheld: bool) -> Commit {
        if self.pending_commands.take(forwarded) {
            // No batch carried it: it had no effect.
            self.writer.ask(|done| Op::DropCommand {
                id: forwarded.id,
                instance: forwarded.instance.clone(),
                unless_running: unheld,
                done,
            })
        } else {
            // Its batch is on its way: answered once that is kept.
            self.writer.ask(Op::Sync)
        }
    }
}
