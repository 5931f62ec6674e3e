//! Requests for an instance another host holds. Hosts sharing a store each run the instances
//! they hold; an event, a cancel or a retry received by another host is queued in the store
//! ([`Store::forward`](super::Store::forward)) for the holder, which applies it, the queue entry
//! leaving in the same commit as the events it caused, so it takes effect once.

use super::event::EventKind;

/// What was asked of an instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// An event for its `wait for event` (`POST /api/instances/ID/events/NAME`).
    Event {
        /// The event's name.
        name: String,
        /// Its payload.
        payload: serde_json::Value,
    },
    /// Cancel it.
    Cancel,
    /// Run it again from its failed step.
    Retry,
}

impl Command {
    /// The command's name in a store (`event`, `cancel`, `retry`).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Event { .. } => "event",
            Command::Cancel => "cancel",
            Command::Retry => "retry",
        }
    }

    /// The command read back from a store: its [`Command::kind`], the event's name and payload.
    pub fn from_parts(
        kind: &str,
        name: Option<String>,
        payload: Option<serde_json::Value>,
    ) -> Option<Command> {
        match kind {
            "event" => Some(Command::Event {
                name: name?,
                payload: payload.unwrap_or(serde_json::Value::Null),
            }),
            "cancel" => Some(Command::Cancel),
            "retry" => Some(Command::Retry),
            _ => None,
        }
    }

    /// The status an instance must have for the command to apply (`running`; `failed` for a
    /// retry).
    pub fn applies_to(&self) -> &'static str {
        match self {
            Command::Retry => "failed",
            Command::Event { .. } | Command::Cancel => "running",
        }
    }

    /// Whether `event`, journaled by the instance, is this command taking effect.
    pub fn took_effect_in(&self, event: &EventKind) -> bool {
        match (self, event) {
            (Command::Event { name, .. }, EventKind::EventReceived { name: got, .. }) => name == got,
            (Command::Cancel, EventKind::InstanceCancelled) => true,
            (Command::Retry, EventKind::InstanceRetried) => true,
            _ => false,
        }
    }
}

/// A command queued in the store for an instance this host holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Forwarded {
    /// Its place in the queue.
    pub id: i64,
    /// The instance it is for.
    pub instance: String,
    /// What is asked.
    pub command: Command,
}
