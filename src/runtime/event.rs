//! History events: what happened to an instance, in order. The instance's state is what these
//! events make of it, so a durable store that keeps them can rebuild it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::StepPath;
use crate::value::Value;

/// One entry of an instance's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the instance's history, from 0.
    pub seq: u64,
    /// When it happened (engine clock).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The instance was created with its validated input.
    InstanceStarted {
        /// The flow's key (shared with the plan, as are the entity and the plan's hash: the
        /// first event of every instance copied all three).
        flow: Arc<str>,
        /// The input after defaults.
        #[serde(with = "super::typed_value")]
        input: Value,
        /// The instance that started this one as a sub-flow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        /// The entity whose workspace it works in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entity: Option<Arc<str>>,
        /// The hash of the plan bundle it runs on: a restarted engine finishes it on that plan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan: Option<Arc<str>>,
    },
    /// A step's dependencies are done and it was handed to a connector (or sub-flow).
    StepScheduled {
        /// The step's path (`sent[2].s`).
        step: StepPath,
    },
    /// An attempt began.
    StepStarted {
        /// The step's path.
        step: StepPath,
        /// 1-based.
        attempt: u32,
    },
    /// The step has its value (from an attempt, or from its fallback).
    StepSucceeded {
        /// The step's path.
        step: StepPath,
        /// The attempt that succeeded (the last one when the fallback stood in).
        attempt: u32,
        /// The value, shared with the instance that computed it.
        #[serde(
            serialize_with = "super::typed_value::serialize",
            deserialize_with = "super::typed_value::deserialize_shared"
        )]
        value: Arc<Value>,
        /// Whether the fallback's value stands in.
        fallback: bool,
    },
    /// An attempt failed.
    StepFailed {
        /// The step's path.
        step: StepPath,
        /// 1-based.
        attempt: u32,
        /// `transient`, `rate_limited` or `permanent`.
        class: String,
        /// What went wrong.
        message: String,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// Another attempt was planned.
    StepRetried {
        /// The step's path.
        step: StepPath,
        /// The attempt that will run next.
        attempt: u32,
        /// The backoff before it.
        delay_ms: u64,
    },
    /// The step's branch was not taken; its value is none.
    StepSkipped {
        /// The step's path.
        step: StepPath,
    },
    /// A `wait` (or `wait for event`) began.
    WaitStarted {
        /// The statement's path.
        step: StepPath,
        /// When it ends at the latest.
        until: Option<DateTime<Utc>>,
    },
    /// A wait ended.
    WaitEnded {
        /// The statement's path.
        step: StepPath,
        /// Whether a `wait for event` timed out.
        timed_out: bool,
    },
    /// A node read the clock (`now()`, `today()`): a replay reads this instant back instead of
    /// the clock, so an instance computes after a restart what it computed before.
    ClockRead {
        /// The node's path.
        step: StepPath,
        /// The instant it read.
        at: DateTime<Utc>,
    },
    /// A signal was delivered.
    EventReceived {
        /// The event name.
        name: String,
        /// Its payload.
        #[serde(with = "super::typed_value")]
        payload: Value,
    },
    /// `emit` ran.
    Emitted {
        /// The event name.
        name: String,
        /// Its payload.
        #[serde(with = "super::typed_value")]
        payload: Value,
    },
    /// The flow's output.
    Output {
        /// The value, shared with the instance's output when it has no secret to hide.
        #[serde(
            serialize_with = "super::typed_value::serialize",
            deserialize_with = "super::typed_value::deserialize_shared"
        )]
        value: Arc<Value>,
    },
    /// Everything ran.
    InstanceCompleted,
    /// A step failed for good or `fail` ran; the error handler (if any) has run.
    InstanceFailed {
        /// The step that failed.
        step: StepPath,
        /// Why.
        message: String,
        /// The error class.
        class: String,
    },
    /// Cancelled from outside.
    InstanceCancelled,
    /// `flowc instances retry`: the failure that ended the instance is set aside and the
    /// instance runs again from its failed step; steps that succeeded keep their results.
    InstanceRetried,
}

/// Whether a history ends in an end (completed, failed, cancelled) not retried since.
pub fn has_ended(history: &[Event]) -> bool {
    history
        .iter()
        .rev()
        .find_map(|e| e.kind.status())
        .is_some_and(|s| s != "running")
}

impl EventKind {
    /// Whether the instance ended with this event.
    pub fn is_end(&self) -> bool {
        matches!(
            self,
            EventKind::InstanceCompleted | EventKind::InstanceFailed { .. } | EventKind::InstanceCancelled
        )
    }

    /// The instance's status after this event, when it changes it (`running`, `completed`,
    /// `failed`, `cancelled`): what a store's instances table keeps.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            EventKind::InstanceStarted { .. } | EventKind::InstanceRetried => Some("running"),
            EventKind::InstanceCompleted => Some("completed"),
            EventKind::InstanceFailed { .. } => Some("failed"),
            EventKind::InstanceCancelled => Some("cancelled"),
            _ => None,
        }
    }
}
