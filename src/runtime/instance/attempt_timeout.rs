//! The per-attempt `timeout` of a connector call: a timer armed when the attempt starts (counted
//! from its journaled `step_started`, so a resumed attempt keeps its deadline), fired by the one
//! timer driver. The instance decides the outcome when the timer fires and journals it then;
//! the abandoned attempt's task only hands the call back afterwards.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::{Ctx, Effect, Effects, Instance, PreparedCall};
use crate::connectors::ConnectorError;
use crate::plan::{NodeKind, StepPath};
use crate::runtime::clock::Clock;
use crate::runtime::eval;
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::NState;

/// An attempt in flight whose timeout timer is armed.
pub(super) struct AttemptTimeout {
    attempt: u32,
    deadline: DateTime<Utc>,
    timeout_ms: i64,
    abandon: Arc<Abandon>,
    /// Decided when the deadline passed, while the attempt's task was still out.
    outcome: Option<TimedOut>,
}

/// What the instance decided when an attempt's deadline passed.
#[derive(Clone, Copy)]
enum TimedOut {
    /// The next attempt is due at `at` (its timer is armed); `due`: it already fired.
    Retry { at: DateTime<Utc>, due: bool },
    /// No retry: the step's failure was handled then; only the call's slot is still held.
    Over,
}

/// Tells an attempt's task that its deadline passed, so it drops the connector's future and
/// hands the call back.
///
/// On a virtual clock the engine enters one unit of work for the task when it fires, so the
/// clock cannot move on before the task has handed the call back; the task leaves it then.
#[derive(Default)]
pub(crate) struct Abandon {
    state: Mutex<AbandonState>,
    notify: Notify,
}

#[derive(Default, PartialEq)]
enum AbandonState {
    #[default]
    Running,
    Abandoned,
    Finished,
}

impl Abandon {
    /// Abandons the attempt unless its task has finished already.
    pub(crate) fn fire(&self, clock: &dyn Clock) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state == AbandonState::Running {
            clock.enter();
            *state = AbandonState::Abandoned;
            self.notify.notify_one();
        }
    }

    /// Completes once the attempt is abandoned.
    pub(crate) async fn abandoned(&self) {
        self.notify.notified().await;
    }

    /// The task is done with the attempt: whether it owes the clock the unit of work entered
    /// when it was abandoned.
    pub(crate) fn finish(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *state, AbandonState::Finished) == AbandonState::Abandoned
    }
}

/// The failure of an attempt that ran out of time.
pub(super) fn timed_out(timeout_ms: i64) -> ConnectorError {
    ConnectorError::transient(format!(
        "timed out after {}",
        crate::value::format_duration(timeout_ms)
    ))
}

impl Instance {
    /// The deadline of the attempt `pc` is about to make: counted from when the journal says it
    /// started (a resumed attempt keeps it), else from now.
    pub(super) fn attempt_deadline(&self, ctx: &Ctx, pc: &PreparedCall) -> Option<DateTime<Utc>> {
        let ms = pc.timeout_ms?;
        let started = self.attempt_started_at(&pc.step, pc.attempt).unwrap_or(ctx.now);
        Some(eval::add_ms(started, ms))
    }

    /// Arms the timeout of the attempt `pc` is about to make.
    pub(super) fn arm_attempt_timeout(
        &mut self,
        pc: &mut PreparedCall,
        deadline: DateTime<Utc>,
        fx: &mut Effects,
    ) {
        let abandon = Arc::new(Abandon::default());
        pc.abandon = Some(abandon.clone());
        self.timeouts.insert(
            (pc.scope, pc.node),
            AttemptTimeout {
                attempt: pc.attempt,
                deadline,
                timeout_ms: pc.timeout_ms.unwrap_or(0),
                abandon,
                outcome: None,
            },
        );
        fx.push(Effect::Timer {
            at: deadline,
            scope: pc.scope,
            node: pc.node,
            order: self.timer_order(&pc.step),
            step: pc.step.clone(),
        });
    }

    /// A timer of call node `n` fired: the deadline of its attempt in flight, or the retry that
    /// follows an attempt that timed out. `false` when the node has no attempt with a timeout
    /// out.
    pub(super) fn on_attempt_timer(&mut self, ctx: &Ctx, s: u32, n: u32, fx: &mut Effects) -> bool {
        let Some(t) = self.timeouts.get_mut(&(s, n)) else {
            return false;
        };
        match t.outcome {
            None if ctx.now >= t.deadline => {}
            Some(TimedOut::Retry { at, due: false }) if ctx.now >= at => {
                t.outcome = Some(TimedOut::Retry { at, due: true });
                return true;
            }
            // A timer of an earlier attempt, or the deadline of one that answered.
            _ => return true,
        }
        let (attempt, timeout_ms) = (t.attempt, t.timeout_ms);
        fx.push(Effect::Abandon(t.abandon.clone()));
        t.outcome = Some(TimedOut::Over);
        if self.status.is_final() {
            return true;
        }
        let error = timed_out(timeout_ms);
        let Some(scope) = self.scope(s) else { return true };
        let (step, plan) = (scope.path(n), scope.plan.clone());
        let NodeKind::Call(call) = &plan.node(n).kind else {
            return true;
        };
        match self.journal_failed_attempt(ctx, s, n, &step, attempt, &call.retry, &error) {
            Some(at) => {
                if let Some(t) = self.timeouts.get_mut(&(s, n)) {
                    t.outcome = Some(TimedOut::Retry { at, due: false });
                }
                fx.push(Effect::Timer {
                    at,
                    scope: s,
                    node: n,
                    order: self.timer_order(&step),
                    step,
                });
            }
            None => fx.extend(self.on_call_result(ctx, s, n, Err((error, attempt)), false)),
        }
        true
    }

    /// An attempt's task handed its call back: `Err` with the call when the attempt did not
    /// time out (its answer counts), else the effects of carrying on as decided at its deadline.
    // The call is moved back, not boxed: a box would be an allocation per timed call, and the
    // caller takes it apart at once.
    #[allow(clippy::result_large_err)]
    pub(super) fn attempt_returned(
        &mut self,
        ctx: &Ctx,
        mut pc: PreparedCall,
    ) -> Result<Effects, PreparedCall> {
        let key = (pc.scope, pc.node);
        pc.abandon = None;
        if self.timeouts.get(&key).is_none_or(|t| t.attempt != pc.attempt) {
            return Err(pc);
        }
        let Some(outcome) = self.timeouts.remove(&key).and_then(|t| t.outcome) else {
            return Err(pc);
        };
        let (s, n) = key;
        let mut fx = Effects::new();
        match outcome {
            TimedOut::Over => self.free_slot(ctx, &mut fx),
            TimedOut::Retry { at, due } => {
                pc.attempt += 1;
                if self.status.is_final() || !self.active(s) || self.node_state(s, n) != Some(NState::Running)
                {
                    // No longer wanted: the retry is dropped and its slot freed.
                    let gone = ConnectorError::permanent("abandoned");
                    return Ok(self.on_call_result(ctx, s, n, Err((gone, pc.attempt)), true));
                }
                if due {
                    pc.not_before = None;
                    self.launch(ctx, pc, &mut fx);
                } else {
                    // Its timer is armed already.
                    pc.not_before = Some(at);
                    self.retries.insert(key, Box::new(pc));
                }
            }
        }
        Ok(fx)
    }

    /// When the journal says attempt `attempt` of `step` started, while replaying it.
    pub(super) fn attempt_started_at(&self, step: &str, attempt: u32) -> Option<DateTime<Utc>> {
        let (a, at) = self.replay.as_ref()?.started.get(step)?;
        (*a == attempt).then_some(*at)
    }

    /// Journals failed attempt `attempt` of call node `n` and, when `policy` retries it, the
    /// retry (its delay drawn here once, jitter included): the instant the next attempt is due.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn journal_failed_attempt(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        step: &StepPath,
        attempt: u32,
        policy: &crate::plan::RetryPolicy,
        error: &ConnectorError,
    ) -> Option<DateTime<Utc>> {
        let wanted = self.active(s) && self.node_state(s, n) == Some(NState::Running);
        let delay = if wanted {
            crate::runtime::retry::next_delay(policy, attempt, error, &mut rand::rng())
        } else {
            None
        };
        self.record(
            ctx,
            EventKind::StepFailed {
                step: step.clone(),
                attempt,
                class: error.class.name().to_string(),
                message: error.message.clone(),
                will_retry: delay.is_some(),
            },
        );
        let delay_ms = delay?.as_millis().min(i64::MAX as u128) as i64;
        self.record(
            ctx,
            EventKind::StepRetried {
                step: step.clone(),
                attempt: attempt + 1,
                delay_ms: delay_ms as u64,
            },
        );
        Some(eval::add_ms(ctx.now, delay_ms))
    }
}
