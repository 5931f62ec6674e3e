//! Replay: what a history says already happened, read back when an instance resumes after a
//! restart.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::Instance;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::plan::StepPath;
use crate::runtime::eval::{self};
use crate::runtime::event::{Event, EventKind};
use crate::value::Value;

/// Where a retry sequence was when the history ends.
#[derive(Clone, Copy)]
pub(super) enum NextAttempt {
    /// This attempt waits for its backoff to end at this instant.
    Due(u32, DateTime<Utc>),
    /// This attempt had started (in flight): it is made again at once.
    Started(u32),
}

/// What an instance's history says already happened: read back after a restart so that the
/// instance continues where it was instead of repeating its calls.
#[derive(Default)]
pub(crate) struct Replay {
    pub(super) results: HashMap<StepPath, Value>,
    pub(super) failed: HashMap<StepPath, ConnectorError>,
    pub(super) wait_until: HashMap<StepPath, Option<DateTime<Utc>>>,
    pub(super) wait_ended: HashSet<StepPath>,
    /// Steps whose retry sequence was under way: the next attempt and when it is due.
    pub(super) next_attempt: HashMap<StepPath, NextAttempt>,
    /// Per step, the attempt in flight when the history ends and when it started (its timeout
    /// counts from then).
    pub(super) started: HashMap<StepPath, (u32, DateTime<Utc>)>,
    /// Per path, the history position after the event that last armed a timer for it.
    pub(super) armed: HashMap<StepPath, u64>,
    /// The instant `now()` gave each node path (its first reading).
    pub(super) clock: HashMap<StepPath, DateTime<Utc>>,
    /// Events already in the history (as JSON): replaying them again records nothing.
    pub(super) seen: HashSet<String>,
}

impl Replay {
    /// Reads a history: the replay, the events not yet consumed by a wait, and the next seq.
    pub(crate) fn from_history(events: &[Event]) -> (Replay, Vec<(String, Value)>) {
        let mut r = Replay::default();
        let mut received = Vec::new();
        // Failures a retry sets aside: they may be recorded again if they happen again.
        let mut failures = Vec::new();
        // The attempts of steps a retry runs again: recorded again when they happen again.
        let mut attempts: Vec<(String, StepPath)> = Vec::new();
        for e in events {
            if let Ok(json) = serde_json::to_string(&e.kind) {
                if let EventKind::StepScheduled { step }
                | EventKind::StepStarted { step, .. }
                | EventKind::StepFailed { step, .. }
                | EventKind::StepRetried { step, .. } = &e.kind
                {
                    attempts.push((json.clone(), step.clone()));
                }
                if matches!(
                    e.kind,
                    EventKind::InstanceFailed { .. }
                        | EventKind::StepFailed {
                            will_retry: false,
                            ..
                        }
                ) {
                    failures.push(json.clone());
                }
                r.seen.insert(json);
            }
            match &e.kind {
                EventKind::WaitStarted { step, .. }
                | EventKind::StepRetried { step, .. }
                | EventKind::StepStarted { step, .. } => {
                    r.armed.insert(step.clone(), e.seq + 1);
                }
                _ => {}
            }
            match &e.kind {
                EventKind::InstanceRetried => {
                    r.failed.clear();
                    r.started.clear();
                    for json in failures.drain(..) {
                        r.seen.remove(&json);
                    }
                    for (json, step) in attempts.drain(..) {
                        if !r.results.contains_key(&step) {
                            r.seen.remove(&json);
                        }
                    }
                }
                EventKind::StepRetried {
                    step,
                    attempt,
                    delay_ms,
                } => {
                    let due = eval::add_ms(e.at, (*delay_ms).min(i64::MAX as u64) as i64);
                    r.next_attempt
                        .insert(step.clone(), NextAttempt::Due(*attempt, due));
                }
                EventKind::StepStarted { step, attempt } => {
                    r.started.insert(step.clone(), (*attempt, e.at));
                    if *attempt > 1 {
                        r.next_attempt
                            .insert(step.clone(), NextAttempt::Started(*attempt));
                    }
                }
                EventKind::StepSucceeded { step, value, .. } => {
                    r.started.remove(step);
                    r.next_attempt.remove(step);
                    r.failed.remove(step);
                    r.results.insert(step.clone(), Value::clone(value));
                    if let Some(i) = received.iter().position(|(_, p)| p == &**value) {
                        received.remove(i);
                    }
                }
                EventKind::StepFailed {
                    step,
                    class,
                    message,
                    will_retry: false,
                    ..
                } => {
                    r.started.remove(step);
                    r.next_attempt.remove(step);
                    let class = ErrorClass::from_name(class).unwrap_or(ErrorClass::Permanent);
                    r.failed
                        .insert(step.clone(), ConnectorError::new(class, message.clone()));
                }
                EventKind::WaitStarted { step, until } => {
                    r.wait_until.insert(step.clone(), *until);
                }
                EventKind::WaitEnded { step, .. } => {
                    r.wait_ended.insert(step.clone());
                }
                EventKind::EventReceived { name, payload } => received.push((name.clone(), payload.clone())),
                EventKind::ClockRead { step, at } => {
                    r.clock.entry(step.clone()).or_insert(*at);
                }
                _ => {}
            }
        }
        (r, received)
    }
}

impl Instance {
    /// The order of a timer armed now for `path` among timers due at the same instant: where
    /// the journal armed it when replaying, else here.
    pub(super) fn timer_order(&self, path: &str) -> u64 {
        self.replay
            .as_ref()
            .and_then(|r| r.armed.get(path).copied())
            .unwrap_or(self.seq)
    }
}
