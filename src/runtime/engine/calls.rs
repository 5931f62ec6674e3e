//! One attempt of a connector call: pacing, the global limit, abandoning it when the instance's
//! timeout timer says so; the instance decides what follows.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::{Cell, Inner};
use crate::connectors::ConnectorError;
use crate::runtime::instance::{EntityOf, PreparedCall};
use crate::runtime::pacing;
use crate::value::Value;

/// Makes one attempt of a call and hands its answer to the instance, which decides what
/// follows (a retry waits on a journaled timer, not in this task).
pub(super) async fn run_call(inner: Arc<Inner>, cell: Arc<Cell>, pc: PreparedCall) {
    // Span fields are recorded when the span is made, so borrowing under the lock is enough.
    let span = {
        let inst = cell.lock();
        tracing::info_span!(
            "step",
            instance = %inst.id,
            flow = %inst.flow.plan.name,
            entity = %EntityOf(&pc),
            step = %pc.step
        )
    };
    let body = attempt(&inner, &pc);
    // The deadline is the instance's timer: when it passes, the instance has journaled the
    // timeout and abandons the attempt, wherever it is (pacing, waiting for a slot, calling):
    // its future is dropped here, so no call goes out after the deadline.
    let result = async {
        match &pc.abandon {
            Some(abandon) => {
                tokio::select! {
                    biased;
                    r = body => r,
                    _ = abandon.abandoned() => Err(ConnectorError::transient("abandoned at its deadline")),
                }
            }
            None => body.await,
        }
    }
    .instrument(span)
    .await;
    // Abandoned at its deadline: the engine entered a unit of work for this task then, given
    // back once the instance has the call again.
    let owes_clock = pc.abandon.as_ref().is_some_and(|a| a.finish());
    inner.react(&cell, |inst, ctx| inst.on_attempt(ctx, pc, result));
    if owes_clock {
        inner.clock.leave();
    }
}

pub(super) async fn attempt(inner: &Arc<Inner>, pc: &PreparedCall) -> Result<Value, ConnectorError> {
    let (connector_name, action_name) = pc.target();
    let Some(connector) = inner.registry.get(connector_name).cloned() else {
        return Err(ConnectorError::permanent(format!(
            "no connector `{connector_name}`"
        )));
    };
    let rate_limit = inner
        .registry
        .action(connector_name, action_name)
        .and_then(|a| a.rate_limit.clone());
    // Connectors that pace themselves (Notion, at flowc.toml's rate) are not paced twice.
    let limiter = match &rate_limit {
        Some(limit) if !connector.paces_itself() => {
            Some(pc.with_entity(|entity| inner.pacer.limiter(connector_name, entity, limit)))
        }
        _ => None,
    };
    if let Some(limiter) = &limiter {
        pace(inner, limiter).await;
    }
    let permit = match inner.global.clone().try_acquire_owned() {
        Ok(p) => Ok(p),
        Err(_) => inner.global.clone().acquire_owned().await,
    };
    let attempt = pc.attempt;
    let call = pc.action_call();
    let attempt_span = tracing::info_span!("attempt", attempt);
    attempt_span.in_scope(|| tracing::debug!("calling {connector_name}.{action_name}"));
    let fut = connector.call(call).instrument(attempt_span);
    let outcome = fut.await;
    drop(permit);
    if let (Some(limiter), Err(error)) = (&limiter, &outcome) {
        if let Some(after) = error.retry_after {
            // Calls of the same account already queued wait too.
            limiter.pause(pacing::seconds(inner.clock.now()), after);
        }
    }
    outcome
}

/// Waits on the engine clock until `limiter` lets a call go (again after a pause that came
/// while waiting).
pub(super) async fn pace(inner: &Inner, limiter: &pacing::Limiter) {
    loop {
        let reservation = limiter.reserve(pacing::seconds(inner.clock.now()));
        if !reservation.wait.is_zero() {
            sleep_for(inner, reservation.wait).await;
        }
        if limiter.is_current(&reservation) {
            return;
        }
    }
}

/// Sleeps on the engine clock, idle meanwhile.
pub(super) async fn sleep_for(inner: &Inner, delay: Duration) {
    let at = crate::runtime::eval::add_ms(inner.clock.now(), delay.as_millis().min(i64::MAX as u128) as i64);
    let sleep = inner.clock.sleep_until(at);
    inner.clock.leave();
    let dropped = Reenter(inner.clock.as_ref());
    sleep.await;
    // Completed: the clock entered a unit of work for us when it woke us.
    std::mem::forget(dropped);
}

/// Takes the unit of work given back for a sleep again when the sleep is dropped before it
/// completes (its attempt was abandoned), so the task's accounting stays balanced.
struct Reenter<'a>(&'a dyn crate::runtime::clock::Clock);

impl Drop for Reenter<'_> {
    fn drop(&mut self) {
        self.0.enter();
    }
}
