//! A sub-flow call step: the child instance of each attempt, its timeout and its retries.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::{child_id, Ctx, Effect, Effects, Instance, Work};
use crate::connectors::ConnectorError;
use crate::plan::NodeKind;
use crate::runtime::eval;
use crate::runtime::event::EventKind;
use crate::value::Value;

/// A sub-flow call step in progress: its attempts, the current one's deadline, the next one's
/// start. Timers are not cancelled, so a timer firing checks these times before acting.
pub(super) struct ChildCall {
    pub(super) key: String,
    pub(super) input: Value,
    pub(super) timeout_ms: Option<i64>,
    pub(super) attempt: u32,
    pub(super) deadline: Option<DateTime<Utc>>,
    pub(super) retry_at: Option<DateTime<Utc>>,
}

impl Instance {
    /// Starts attempt `attempt` of sub-flow call node `n`, with its timeout's timer.
    pub(super) fn start_child_attempt(&mut self, ctx: &Ctx, s: u32, n: u32, attempt: u32, fx: &mut Effects) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        // A resumed attempt keeps its deadline, counted from when the journal says it started.
        let started = self.attempt_started_at(&path, attempt).unwrap_or(ctx.now);
        let Some(cc) = self.child_calls.get_mut(&(s, n)) else {
            return;
        };
        let timeout_ms = cc.timeout_ms;
        cc.attempt = attempt;
        cc.retry_at = None;
        cc.deadline = timeout_ms.map(|ms| eval::add_ms(started, ms));
        let (key, input, deadline) = (cc.key.clone(), cc.input.clone(), cc.deadline);
        self.record(
            ctx,
            EventKind::StepStarted {
                step: path.clone(),
                attempt,
            },
        );
        // Its id is known before it starts: a cancel of this instance reaches it even while
        // the engine is still starting it.
        self.children.push(child_id(&self.id, &path, attempt));
        fx.push(Effect::StartChild {
            scope: s,
            node: n,
            step: path.clone(),
            key,
            input,
            attempt,
        });
        if let Some(at) = deadline {
            fx.push(Effect::Timer {
                at,
                scope: s,
                node: n,
                order: self.timer_order(&path),
                step: path,
            });
        }
    }

    /// A timer of sub-flow call node `n`: the next attempt is due, or the current one timed out.
    pub(super) fn on_child_timer(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        q: &mut VecDeque<Work>,
        fx: &mut Effects,
    ) {
        let Some(cc) = self.child_calls.get(&(s, n)) else {
            return;
        };
        if let Some(at) = cc.retry_at {
            if ctx.now >= at {
                let next = cc.attempt + 1;
                self.start_child_attempt(ctx, s, n, next, fx);
            }
            return;
        }
        let Some(deadline) = cc.deadline else { return };
        if ctx.now < deadline {
            return;
        }
        let timeout_ms = cc.timeout_ms.unwrap_or(0);
        let path = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
        fx.push(Effect::CancelChild {
            id: child_id(&self.id, &path, cc.attempt),
        });
        let error = ConnectorError::transient(format!(
            "timed out after {}",
            crate::value::format_duration(timeout_ms)
        ));
        self.child_failed(ctx, s, n, error, q, fx);
    }

    /// The current attempt of sub-flow call node `n` failed: retry it by its policy, or let the
    /// step fail (its fallback, else the instance).
    pub(super) fn child_failed(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        error: ConnectorError,
        q: &mut VecDeque<Work>,
        fx: &mut Effects,
    ) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        let plan = scope.plan.clone();
        let NodeKind::Call(call) = &plan.node(n).kind else {
            return;
        };
        let Some(cc) = self.child_calls.get(&(s, n)) else {
            return;
        };
        let attempt = cc.attempt;
        let delay = crate::runtime::retry::next_delay(&call.retry, attempt, &error, &mut rand::rng());
        self.record(
            ctx,
            EventKind::StepFailed {
                step: path.clone(),
                attempt,
                class: error.class.name().to_string(),
                message: error.message.clone(),
                will_retry: delay.is_some(),
            },
        );
        match delay {
            Some(delay) => {
                let at = eval::add_ms(ctx.now, delay.as_millis().min(i64::MAX as u128) as i64);
                self.record(
                    ctx,
                    EventKind::StepRetried {
                        step: path.clone(),
                        attempt: attempt + 1,
                        delay_ms: delay.as_millis() as u64,
                    },
                );
                if let Some(cc) = self.child_calls.get_mut(&(s, n)) {
                    cc.retry_at = Some(at);
                    cc.deadline = None;
                }
                fx.push(Effect::Timer {
                    at,
                    scope: s,
                    node: n,
                    order: self.timer_order(&path),
                    step: path,
                });
            }
            None => {
                self.child_calls.remove(&(s, n));
                self.step_failed(ctx, s, n, error, attempt, q, fx);
            }
        }
    }
}
