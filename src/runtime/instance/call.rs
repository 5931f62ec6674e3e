//! A connector call step: its prepared call, its attempts (a retry waits on a timer) and its
//! result.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::attempt_timeout::{timed_out, Abandon};
use super::{CallResult, Ctx, Effect, Effects, Instance};
use crate::connectors::{ActionCall, ConnectorError};
use crate::plan::{CallTarget, NodeKind, RetryPolicy, StepPath};
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::{NState, PlanRt};
use crate::value::Value;

/// A connector call ready to be made.
pub(crate) struct PreparedCall {
    pub(crate) scope: u32,
    pub(crate) node: u32,
    /// The plan holding the call node (its target, retry policy and timeout).
    pub(crate) plan: Arc<PlanRt>,
    /// The call as the connector gets it (arguments, entity, instance, step, idempotency key),
    /// made once when the step runs; each attempt gets a copy with its number, the last
    /// possible one the call itself. Behind a lock only so that one can take it.
    pub(crate) call: std::sync::Mutex<ActionCall>,
    pub(crate) step: StepPath,
    /// Per attempt: written on the step, or computed when it started.
    pub(crate) timeout_ms: Option<i64>,
    /// The attempt to make next (1-based).
    pub(crate) attempt: u32,
    /// Not before when: the end of the backoff before a retry (after a restart, a retry
    /// sequence carries on where the journal says it was instead of starting at attempt 1).
    pub(crate) not_before: Option<DateTime<Utc>>,
    /// Set while an attempt with a timeout is out: its timer abandons it at the deadline.
    pub(crate) abandon: Option<Arc<Abandon>>,
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

    /// `f` of the entity the call acts for (read in place: a span field made for every
    /// attempt must not copy it).
    pub(crate) fn with_entity<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(&self.call.lock().unwrap_or_else(|e| e.into_inner()).entity)
    }

    /// The call of the attempt to make now: a copy, or the call itself when no attempt can
    /// follow (it is not needed again).
    pub(crate) fn action_call(&self) -> ActionCall {
        let mut call = self.call.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = if self.attempt >= self.retry().attempts {
            std::mem::take(&mut *call)
        } else {
            call.clone()
        };
        out.attempt = self.attempt;
        out
    }
}

impl Instance {
    /// Makes a call's next attempt, or, for a retry, sets the timer that will (even when its
    /// backoff is already over, so that retries due at one instant fire in a stable order):
    /// the call waits as data in `retries`, holding its slot, not as a sleeping task.
    pub(super) fn launch(&mut self, ctx: &Ctx, pc: PreparedCall, fx: &mut Effects) {
        if let Some(at) = pc.not_before {
            fx.push(Effect::Timer {
                at,
                scope: pc.scope,
                node: pc.node,
                order: self.timer_order(&pc.step),
                step: pc.step.clone(),
            });
            self.retries.insert((pc.scope, pc.node), Box::new(pc));
            return;
        }
        self.record(
            ctx,
            EventKind::StepStarted {
                step: pc.step.clone(),
                attempt: pc.attempt,
            },
        );
        let mut pc = pc;
        if let Some(deadline) = self.attempt_deadline(ctx, &pc) {
            if deadline <= ctx.now {
                // Out of time already (a negative timeout, or a deadline that passed while the
                // process was down): the attempt is not made.
                let error = timed_out(pc.timeout_ms.unwrap_or(0));
                fx.extend(self.on_attempt(ctx, pc, Err(error)));
                return;
            }
            // The timer is kept before the call goes out.
            self.arm_attempt_timeout(&mut pc, deadline, fx);
        }
        fx.push(Effect::Call(pc));
    }

    /// An attempt of a connector call answered: a failure the policy retries is journaled with
    /// its backoff (`step_failed`, `step_retried`) and waits on a timer; anything else is the
    /// step's result.
    pub(crate) fn on_attempt(
        &mut self,
        ctx: &Ctx,
        pc: PreparedCall,
        result: Result<Value, ConnectorError>,
    ) -> Effects {
        // An attempt that ran out of time was journaled then: its late answer does not count.
        let mut pc = match self.attempt_returned(ctx, pc) {
            Ok(fx) => return fx,
            Err(pc) => pc,
        };
        let (s, n, attempt) = (pc.scope, pc.node, pc.attempt);
        let error = match result {
            Ok(v) => return self.on_call_result(ctx, s, n, Ok((v, attempt)), true),
            Err(e) => e,
        };
        if self.status.is_final() {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        }
        let retry_at = self.journal_failed_attempt(ctx, s, n, &pc.step, attempt, pc.retry(), &error);
        let Some(at) = retry_at else {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        };
        pc.attempt += 1;
        pc.not_before = Some(at);
        let mut fx = Effects::new();
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
    ) -> Effects {
        let mut fx = Effects::new();
        if counted {
            self.free_slot(ctx, &mut fx);
        }
        if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
            return fx;
        }
        let mut q = self.work_queue();
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
                self.succeed(ctx, (s, n), step, attempt, value, false, &mut q);
            }
            Err((error, attempt)) => self.step_failed(ctx, s, n, error, attempt, &mut q, &mut fx),
        }
        self.drive(ctx, q, &mut fx);
        fx
    }

    /// A call gave back its slot: queued calls take the free slots.
    pub(super) fn free_slot(&mut self, ctx: &Ctx, fx: &mut Effects) {
        self.running = self.running.saturating_sub(1);
        while self.running < ctx.globals.per_instance_limit {
            let Some(pc) = self.queue.pop_front() else { break };
            if !self.active(pc.scope) {
                continue;
            }
            self.running += 1;
            self.launch(ctx, *pc, fx);
        }
    }
}

/// The entity of a call, shown (in a span) without copying it first.
pub(crate) struct EntityOf<'a>(pub(crate) &'a PreparedCall);

impl std::fmt::Display for EntityOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.with_entity(|e| f.write_str(e))
    }
}
