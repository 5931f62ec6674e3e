//! Reactions and their effects: run one reaction under the instance's lock, keep its events, then
//! carry out what it decided (calls, sub-flows, timers, emits, ends).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use super::{run_call, Cell, EngineError, Inner, InstanceId, TimerEntry};
use crate::connectors::ConnectorError;
use crate::runtime::event::EventKind;
use crate::runtime::instance::{CallResult, Ctx, Effect, Effects, Instance, InstanceStatus, ParentLink};
use crate::runtime::recording::StubAnswer;
use crate::runtime::store::{Commit, StoreError, TimerRecord};
use crate::value::Value;

thread_local! {
    static INLINE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// How many calls may run nested on one thread's stack before the next is spawned.
pub(super) const MAX_INLINE_DEPTH: u32 = 8;

impl Inner {
    /// Runs one reaction of an instance under its lock, then its effects.
    pub(super) fn react(self: &Arc<Self>, cell: &Arc<Cell>, f: impl FnOnce(&mut Instance, &Ctx) -> Effects) {
        let inst = cell.lock();
        if cell.evicted.load(Ordering::SeqCst) {
            // Its next life replays the journal and calls again what this one was waiting for.
            if cell.lost.load(Ordering::SeqCst) {
                return;
            }
            // Dropped from memory since the caller found it: the reaction goes to its next life.
            drop(inst);
            if let Ok(next) = self.cell(&InstanceId(cell.id.to_string())) {
                self.react(&next, f);
            }
            return;
        }
        self.react_locked(cell, inst, f, true);
    }

    /// [`Inner::react`] with the instance's lock already held; `may_sleep`: whether the
    /// instance may be dropped from memory when the reaction leaves it idle.
    pub(super) fn react_locked(
        self: &Arc<Self>,
        cell: &Arc<Cell>,
        inst: MutexGuard<'_, Instance>,
        f: impl FnOnce(&mut Instance, &Ctx) -> Effects,
        may_sleep: bool,
    ) {
        drop(self.react_then(cell, inst, f, may_sleep, false));
    }

    /// [`Inner::react_locked`], answering whether the store kept the reaction's events. A
    /// start is acknowledged on this answer, not on a barrier: a barrier that follows a failed
    /// write answers that everything before it is written, true of every write but the lost one.
    pub(super) fn react_reporting(
        self: &Arc<Self>,
        cell: &Arc<Cell>,
        inst: MutexGuard<'_, Instance>,
        f: impl FnOnce(&mut Instance, &Ctx) -> Effects,
        may_sleep: bool,
    ) -> Commit {
        self.react_then(cell, inst, f, may_sleep, true)
    }

    /// The reaction; with `report`, the answer of whether its events were kept (made only when
    /// asked: every other reaction would pay a channel for nothing). Without it the answer is
    /// `Done` whatever the store does, for callers that drop it.
    fn react_then(
        self: &Arc<Self>,
        cell: &Arc<Cell>,
        mut inst: MutexGuard<'_, Instance>,
        f: impl FnOnce(&mut Instance, &Ctx) -> Effects,
        may_sleep: bool,
        report: bool,
    ) -> Commit {
        self.clock.enter();
        let span = tracing::info_span!(
            "instance",
            instance = %inst.id,
            flow = %inst.flow.plan.name,
            entity = %inst.flow.plan.entity
        );
        let ctx = Ctx {
            globals: &self.globals,
            now: self.clock.now(),
        };
        let fx = span.in_scope(|| f(&mut inst, &ctx));
        // Handed over under the lock, so an instance's batches reach the store in order.
        let commit = inst.append_pending(&*self.store);
        if matches!(commit, Commit::Pending(_)) {
            cell.unkept.fetch_add(1, Ordering::SeqCst);
        }
        drop(inst);
        let report = match commit {
            Commit::Done => {
                span.in_scope(|| self.apply_then_sleep(cell, fx, may_sleep));
                Commit::Done
            }
            Commit::Pending(rx) if report => {
                let (report, kept) = tokio::sync::oneshot::channel();
                self.apply_when_kept(cell, fx, span, rx, may_sleep, Some(report));
                Commit::Pending(kept)
            }
            Commit::Pending(rx) => {
                // Nobody asked: the store's answer goes to the reaction's effects alone.
                self.apply_when_kept(cell, fx, span, rx, may_sleep, None);
                Commit::Done
            }
        };
        self.clock.leave();
        report
    }

    /// Carries out effects, then drops the instance from memory if that left it idle.
    fn apply_then_sleep(self: &Arc<Self>, cell: &Arc<Cell>, fx: Effects, may_sleep: bool) {
        cell.applying.fetch_add(1, Ordering::SeqCst);
        self.apply(cell, fx);
        if cell.applying.fetch_sub(1, Ordering::SeqCst) == 1 && may_sleep {
            self.evict_if_idle(cell);
        }
    }

    /// Carries out a reaction's effects once the store has kept its events: nothing is called,
    /// timed or answered on the strength of a decision a crash could still lose.
    pub(super) fn apply_when_kept(
        self: &Arc<Self>,
        cell: &Arc<Cell>,
        fx: Effects,
        span: tracing::Span,
        rx: tokio::sync::oneshot::Receiver<Result<(), StoreError>>,
        may_sleep: bool,
        report: Option<tokio::sync::oneshot::Sender<Result<(), StoreError>>>,
    ) {
        self.clock.enter();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let inner = self.clone();
        let cell = cell.clone();
        // Counted before the task runs, so the instance is not dropped before its effects run.
        cell.applying.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let kept = rx.await;
            cell.unkept.fetch_sub(1, Ordering::SeqCst);
            if let Some(report) = report {
                let _ = report.send(match &kept {
                    Ok(result) => result.clone(),
                    Err(_) => Err(StoreError("the store stopped before keeping the history".into())),
                });
            }
            match kept {
                Ok(Ok(())) => span.in_scope(|| inner.apply_then_sleep(&cell, fx, true)),
                Ok(Err(e)) => {
                    tracing::error!(parent: &span, "the store did not keep the history: {e}; the instance goes on from its journal");
                    inner.lose(&cell);
                }
                Err(_) => tracing::error!(parent: &span, "the store stopped before keeping the history"),
            }
            if cell.applying.fetch_sub(1, Ordering::SeqCst) == 1 && may_sleep {
                inner.evict_if_idle(&cell);
            }
            if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                inner.idle.notify_waiters();
            }
            inner.clock.leave();
        });
    }

    pub(super) fn apply(self: &Arc<Self>, cell: &Arc<Cell>, fx: Effects) {
        for effect in fx {
            match effect {
                Effect::Call(pc) => {
                    self.clock.enter();
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    let inner = self.clone();
                    let cell = cell.clone();
                    let mut task = Box::pin(async move {
                        run_call(inner.clone(), cell, pc).await;
                        if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                            inner.idle.notify_waiters();
                        }
                        inner.clock.leave();
                    });
                    // A connector that answers at once (a cache, a stub) finishes on this first
                    // poll, saving a task switch; anything that waits is handed to tokio, whose
                    // first poll registers the real waker. The depth bound keeps chains of such
                    // steps from growing the stack.
                    let depth = INLINE_DEPTH.with(|d| d.get());
                    if depth < MAX_INLINE_DEPTH {
                        INLINE_DEPTH.with(|d| d.set(depth + 1));
                        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                        let ready = task.as_mut().poll(&mut cx).is_ready();
                        INLINE_DEPTH.with(|d| d.set(depth));
                        if !ready {
                            tokio::spawn(task);
                        }
                    } else {
                        tokio::spawn(task);
                    }
                }
                Effect::StartChild {
                    scope,
                    node,
                    step,
                    key,
                    input,
                    attempt,
                } => {
                    if let Some(hook) = &self.flow_hook {
                        match hook(&key, &step, &input) {
                            Some(StubAnswer::Returns(v)) => {
                                self.react(cell, |inst, ctx| {
                                    inst.on_call_result(ctx, scope, node, Ok((v, attempt)), false)
                                });
                                continue;
                            }
                            Some(StubAnswer::Fails(class, message)) => {
                                let err = ConnectorError::new(class, message);
                                self.react(cell, |inst, ctx| {
                                    inst.on_call_result(ctx, scope, node, Err((err, attempt)), false)
                                });
                                continue;
                            }
                            Some(StubAnswer::Hangs) => continue,
                            None => {}
                        }
                    }
                    let (parent_id, bundle, entity) = {
                        let parent = cell.lock();
                        (
                            parent.id.to_string(),
                            parent.flow.bundle.to_string(),
                            parent.entity.to_string(),
                        )
                    };
                    let link = ParentLink {
                        id: parent_id,
                        step,
                        bundle,
                        entity,
                        scope,
                        node,
                        attempt,
                    };
                    if self.reattach_child(cell, &link) {
                        continue;
                    }
                    match self.start(&key, input.to_json(), Some(link), None) {
                        Ok(_) => {}
                        // Not a failure of the step: the call stays open in the journal and
                        // the next engine on this store starts the sub-flow when it recovers
                        // the caller (a SIGTERM under load used to fail such instances for good).
                        Err(EngineError::ShuttingDown) => {}
                        Err(e) => {
                            let err = ConnectorError::permanent(e.to_string());
                            self.react(cell, |inst, ctx| {
                                inst.on_call_result(ctx, scope, node, Err((err, attempt)), false)
                            });
                        }
                    }
                }
                Effect::Abandon(abandon) => abandon.fire(self.clock.as_ref()),
                Effect::CancelChild { id } => {
                    if let Ok(child) = self.cell(&InstanceId(id)) {
                        self.react(&child, |inst, ctx| inst.cancel_by_parent(ctx));
                    }
                }
                Effect::Timer {
                    at,
                    scope,
                    node,
                    step,
                    order,
                } => {
                    let id = self.timer_seq.fetch_add(1, Ordering::Relaxed);
                    self.store.put_timer(TimerRecord {
                        id,
                        instance: cell.id.to_string(),
                        at,
                        step: step.to_string(),
                    });
                    let earliest = self.timers.lock().unwrap_or_else(|e| e.into_inner()).insert(
                        (at, order, id),
                        TimerEntry {
                            instance: cell.id.clone(),
                            generation: cell.generation,
                            scope,
                            node,
                            id,
                        },
                    );
                    if earliest {
                        self.wake_driver();
                    }
                }
                Effect::Emit { name, payload } => self.broadcast(cell, &name, &payload),
                Effect::Finished {
                    waiters,
                    parent,
                    result,
                } => {
                    // A failed instance keeps its history: a retry runs it again from its failed
                    // step, with the results of the steps that succeeded.
                    if self.compact_ended {
                        let inst = cell.lock();
                        if !matches!(inst.status, InstanceStatus::Failed { .. }) {
                            self.store.compact(&inst.id);
                        }
                    }
                    for w in waiters {
                        let _ = w.send(());
                    }
                    let parent = parent.and_then(|p| Some((self.cell(&InstanceId(p.id.clone())).ok()?, p)));
                    if let Some((parent, p)) = parent {
                        let attempt = p.attempt;
                        let r: CallResult = result.map(|v| (v, attempt)).map_err(|e| (e, attempt));
                        self.react(&parent, |inst, ctx| {
                            inst.on_call_result(ctx, p.scope, p.node, r, false)
                        });
                    }
                }
            }
        }
    }

    /// After a restart: if the sub-flow instance of this step already exists in the store, its
    /// result (when it ended) or the resumed instance (when it did not) answers the parent.
    pub(super) fn reattach_child(self: &Arc<Self>, parent: &Arc<Cell>, link: &ParentLink) -> bool {
        let child_id = link.child_id();
        match self.live(&child_id) {
            Some(Some(_)) => return false,
            // Asleep, it answers this step when it wakes.
            Some(None) => return true,
            None => {}
        }
        let history = self.store.history(&child_id);
        let Some(EventKind::InstanceStarted { .. }) = history.first().map(|e| &e.kind) else {
            return false;
        };
        let ended = history
            .iter()
            .rev()
            .filter(|_| crate::runtime::event::has_ended(&history))
            .find_map(|e| match &e.kind {
                EventKind::InstanceCompleted => Some(Ok(history
                    .iter()
                    .rev()
                    .find_map(|e| match &e.kind {
                        EventKind::Output { value } => Some(Value::clone(value)),
                        _ => None,
                    })
                    .unwrap_or(Value::Null))),
                EventKind::InstanceFailed { step, message, class } => Some(Err(ConnectorError::new(
                    crate::connectors::ErrorClass::from_name(class)
                        .unwrap_or(crate::connectors::ErrorClass::Permanent),
                    format!("{step}: {message}"),
                ))),
                EventKind::InstanceCancelled => Some(Err(ConnectorError::permanent("cancelled"))),
                _ => None,
            });
        let (scope, node, attempt) = (link.scope, link.node, link.attempt);
        if let Some(result) = ended {
            let r: CallResult = result.map(|v| (v, attempt)).map_err(|e| (e, attempt));
            self.react(parent, |inst, ctx| {
                inst.on_call_result(ctx, scope, node, r, false)
            });
            return true;
        }
        if self
            .revive(&child_id, &history, Some(link.clone()), None)
            .is_err()
        {
            return false;
        }
        true
    }

    /// Delivers an emitted event to every other instance waiting for it, and starts the flows
    /// it triggers (`on event "name"`) with the payload as input.
    pub(super) fn broadcast(self: &Arc<Self>, from: &Arc<Cell>, name: &str, payload: &Value) {
        for cell in self.listeners(from, name) {
            self.react(&cell, |inst, ctx| inst.on_broadcast(ctx, name, payload));
        }
        if !self.start_triggered {
            return;
        }
        let mut triggered: Vec<&String> = self
            .flows
            .iter()
            .filter(|(_, f)| f.plan.listens_to(name))
            .map(|(k, _)| k)
            .collect();
        triggered.sort();
        for key in triggered {
            if let Err(e) = self.start(key, payload.to_json(), None, None) {
                tracing::warn!(event = name, flow = %key, "event did not start the flow: {e}");
            }
        }
    }
}
