//! A connector call step: its prepared call, its attempts (a retry waits on a timer) and its
//! result.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CallResult, Ctx, Effect, Instance, Work};
use crate::connectors::ConnectorError;
use crate::plan::{CallTarget, NodeKind, RetryPolicy};
use crate::runtime::eval;
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::{NState, PlanRt};
use crate::value::Value;

/// A connector call ready to be made.
pub(crate) struct PreparedCall {
    pub(crate) scope: u32,
    pub(crate) node: u32,
    /// The plan holding the call node (its target, retry policy and timeout).
    pub(crate) plan: Arc<PlanRt>,
    /// Behind a lock only so the last attempt can take them instead of copying.
    pub(crate) args: std::sync::Mutex<BTreeMap<String, Value>>,
    pub(crate) entity: String,
    pub(crate) step: String,
    pub(crate) idempotency_key: String,
    /// Per attempt: written on the step, or computed when it started.
    pub(crate) timeout_ms: Option<i64>,
    /// The attempt to make next (1-based).
    pub(crate) attempt: u32,
    /// Not before when: the end of the backoff before a retry (after a restart, a retry
    /// sequence carries on where the journal says it was instead of starting at attempt 1).
    pub(crate) not_before: Option<DateTime<Utc>>,
}

impl PreparedCall {
    fn node(&self) -> Option<&crate::plan::CallNode> {
        match &self.plan.node(self.node).kind {
            NodeKind::Call(c) => Some(c),
            _ => None,
        }
    }

    /// `(connector, action)`.
    pub(crate) fn target(&self) -> (&str, &str) {
        match self.node().map(|c| &c.target) {
            Some(CallTarget::Action { connector, action }) => (connector, action),
            _ => ("", ""),
        }
    }

    /// The retry policy.
    pub(crate) fn retry(&self) -> &RetryPolicy {
        static ONCE: std::sync::OnceLock<RetryPolicy> = std::sync::OnceLock::new();
        match self.node() {
            Some(c) => &c.retry,
            None => ONCE.get_or_init(RetryPolicy::none),
        }
    }

    /// Per-attempt timeout.
    pub(crate) fn timeout_ms(&self) -> Option<i64> {
        self.timeout_ms
    }
}

impl Instance {
    /// Makes a call's next attempt, or, for a retry, sets the timer that will (even when its
    /// backoff is already over, so that retries due at one instant fire in a stable order):
    /// the call waits as data in `retries`, holding its slot, not as a sleeping task.
    pub(super) fn launch(&mut self, ctx: &Ctx, pc: Box<PreparedCall>, fx: &mut Vec<Effect>) {
        if let Some(at) = pc.not_before {
            fx.push(Effect::Timer {
                at,
                scope: pc.scope,
                node: pc.node,
                order: self.timer_order(&pc.step),
                step: pc.step.clone(),
            });
            self.retries.insert((pc.scope, pc.node), pc);
            return;
        }
        self.record(
            ctx,
            EventKind::StepStarted {
                step: pc.step.clone(),
                attempt: pc.attempt,
            },
        );
        fx.push(Effect::Call(pc));
    }

    /// An attempt of a connector call answered: a failure the policy retries is journaled with
    /// its backoff (`step_failed`, `step_retried`) and waits on a timer; anything else is the
    /// step's result.
    pub(crate) fn on_attempt(
        &mut self,
        ctx: &Ctx,
        mut pc: Box<PreparedCall>,
        result: Result<Value, ConnectorError>,
    ) -> Vec<Effect> {
        let (s, n, attempt) = (pc.scope, pc.node, pc.attempt);
        let error = match result {
            Ok(v) => return self.on_call_result(ctx, s, n, Ok((v, attempt)), true),
            Err(e) => e,
        };
        if self.status.is_final() {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        }
        let wanted = self.active(s) && self.node_state(s, n) == Some(NState::Running);
        // Jitter is drawn here once and journaled (`delay_ms`): a replay reads it back.
        let delay = if wanted {
            crate::runtime::retry::next_delay(pc.retry(), attempt, &error, &mut rand::rng())
        } else {
            None
        };
        self.record(
            ctx,
            EventKind::StepFailed {
                step: pc.step.clone(),
                attempt,
                class: error.class.name().to_string(),
                message: error.message.clone(),
                will_retry: delay.is_some(),
            },
        );
        let Some(delay) = delay else {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        };
        let delay_ms = delay.as_millis().min(i64::MAX as u128) as i64;
        self.record(
            ctx,
            EventKind::StepRetried {
                step: pc.step.clone(),
                attempt: attempt + 1,
                delay_ms: delay_ms as u64,
            },
        );
        pc.attempt += 1;
        pc.not_before = Some(eval::add_ms(ctx.now, delay_ms));
        let mut fx = Vec::new();
        self.launch(ctx, pc, &mut fx);
        fx
    }

    /// A connector call (or sub-flow) finished after its last attempt.
    pub(crate) fn on_call_result(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        result: CallResult,
        counted: bool,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if counted {
            self.running = self.running.saturating_sub(1);
            while self.running < ctx.globals.per_instance_limit {
                let Some(pc) = self.queue.pop_front() else { break };
                if !self.active(pc.scope) {
                    continue;
                }
                self.running += 1;
                self.launch(ctx, pc, &mut fx);
            }
        }
        if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
            return fx;
        }
        let mut q = VecDeque::new();
        if let Some(cc) = self.child_calls.get(&(s, n)) {
            let attempt = match &result {
                Ok((_, a)) | Err((_, a)) => *a,
            };
            // The answer of an attempt that timed out (or of a cancelled child) comes too late.
            if attempt != cc.attempt || cc.retry_at.is_some() {
                return fx;
            }
            match result {
                Ok(_) => {
                    self.child_calls.remove(&(s, n));
                }
                Err((error, _)) => {
                    self.child_failed(ctx, s, n, error, &mut q, &mut fx);
                    self.drive(ctx, q, &mut fx);
                    return fx;
                }
            }
        }
        match result {
            Ok((value, attempt)) => {
                let step = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
                self.record(
                    ctx,
                    EventKind::StepSucceeded {
                        step,
                        attempt,
                        value: value.clone(),
                        fallback: false,
                    },
                );
                q.push_back(Work::Finish(s, n, NState::Done, value));
            }
            Err((error, attempt)) => self.step_failed(ctx, s, n, error, attempt, &mut q, &mut fx),
        }
        self.drive(ctx, q, &mut fx);
        fx
    }
}
