//! What became of each step of an instance, read from its history: its state, attempts, when it
//! began and ended; and the state of each top-level node of the plan (a fan-out's or a
//! fallback's inner steps count for the node that holds them).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::runtime::{Event, EventKind};

/// A step's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// Its branch was not taken.
    Skipped,
    /// It has its value.
    Done,
    /// A wait that has not ended.
    Waiting,
    /// Handed to a connector, or waiting for its next attempt.
    Running,
    /// Failed for good.
    Failed,
}

impl State {
    /// Its CSS class and legend word.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Skipped => "skipped",
            State::Done => "done",
            State::Waiting => "waiting",
            State::Running => "running",
            State::Failed => "failed",
        }
    }
}

/// One step of the history (a full path: `sent[2].s`).
#[derive(Clone, Debug)]
pub(crate) struct StepRun {
    pub(crate) path: String,
    pub(crate) state: State,
    /// Attempts started.
    pub(crate) attempts: u32,
    pub(crate) began: DateTime<Utc>,
    pub(crate) ended: Option<DateTime<Utc>>,
    /// Why its last attempt failed.
    pub(crate) error: Option<String>,
}

/// The steps of `history`, in the order they first appear.
pub(crate) fn steps(history: &[Event]) -> Vec<StepRun> {
    let mut order: Vec<String> = Vec::new();
    let mut runs: BTreeMap<String, StepRun> = BTreeMap::new();
    for event in history {
        let (path, state, ended) = match &event.kind {
            EventKind::StepScheduled { step } => (step, State::Running, false),
            EventKind::StepStarted { step, .. } | EventKind::StepRetried { step, .. } => {
                (step, State::Running, false)
            }
            EventKind::StepSucceeded { step, .. } => (step, State::Done, true),
            EventKind::StepFailed { step, will_retry, .. } => {
                if *will_retry {
                    (step, State::Running, false)
                } else {
                    (step, State::Failed, true)
                }
            }
            EventKind::StepSkipped { step } => (step, State::Skipped, true),
            EventKind::WaitStarted { step, .. } => (step, State::Waiting, false),
            EventKind::WaitEnded { step, .. } => (step, State::Done, true),
            EventKind::InstanceFailed { step, .. } => (step, State::Failed, true),
            EventKind::InstanceRetried => {
                // The failed steps run again.
                for run in runs.values_mut().filter(|r| r.state == State::Failed) {
                    run.state = State::Running;
                    run.ended = None;
                }
                continue;
            }
            _ => continue,
        };
        let run = runs.entry(path.to_string()).or_insert_with(|| {
            order.push(path.to_string());
            StepRun {
                path: path.to_string(),
                state,
                attempts: 0,
                began: event.at,
                ended: None,
                error: None,
            }
        });
        run.state = state;
        run.ended = ended.then_some(event.at);
        match &event.kind {
            EventKind::StepStarted { attempt, .. } => run.attempts = run.attempts.max(*attempt),
            EventKind::StepFailed { message, .. } | EventKind::InstanceFailed { message, .. } => {
                run.error = Some(message.clone());
            }
            _ => {}
        }
    }
    order.into_iter().filter_map(|p| runs.remove(&p)).collect()
}

/// The state of each top-level node: the gravest of its steps (failed, running, waiting, done,
/// skipped in that order).
pub(crate) fn node_states(steps: &[StepRun]) -> BTreeMap<String, State> {
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    for run in steps {
        let state = states
            .entry(crate::serve::journal::head(&run.path).to_string())
            .or_insert(run.state);
        *state = (*state).max(run.state);
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            at: DateTime::from_timestamp(1_700_000_000 + seq as i64, 0).unwrap(),
            kind,
        }
    }

    #[test]
    fn a_fan_out_is_as_grave_as_its_gravest_item() {
        let history = vec![
            at(
                0,
                EventKind::StepStarted {
                    step: "sent[0].s".into(),
                    attempt: 1,
                },
            ),
            at(
                1,
                EventKind::StepStarted {
                    step: "sent[1].s".into(),
                    attempt: 1,
                },
            ),
            at(
                2,
                EventKind::StepSucceeded {
                    step: "sent[0].s".into(),
                    attempt: 1,
                    value: crate::value::Value::Null.into(),
                    fallback: false,
                },
            ),
            at(
                3,
                EventKind::StepFailed {
                    step: "sent[1].s".into(),
                    attempt: 1,
                    class: "permanent".into(),
                    message: "refused".into(),
                    will_retry: false,
                },
            ),
            at(
                4,
                EventKind::WaitStarted {
                    step: "pause".into(),
                    until: None,
                },
            ),
        ];
        let steps = steps(&history);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].error.as_deref(), Some("refused"));
        let states = node_states(&steps);
        assert_eq!(states["sent"], State::Failed);
        assert_eq!(states["pause"], State::Waiting);
    }
}
