//! Bringing instances back into memory from their history: recovery after a restart, and a
//! failed instance retried from its failed step.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Cell, Engine, EngineError, Inner, InstanceId, Slot};
use crate::runtime::event::{has_ended, Event, EventKind};
use crate::runtime::family::{set_for_retry, RetryError};
use crate::runtime::instance::{Instance, ParentLink};

impl Engine {
    /// Picks up every unfinished instance the store knows (after a restart): each is rebuilt
    /// from its history and continues; steps with a recorded result are not called again and
    /// waits end at the time they were set for. Sub-flow instances are left to their parents.
    /// Returns the instances resumed.
    pub async fn recover(&self) -> Vec<InstanceId> {
        let inner = &self.inner;
        let mut resumed = Vec::new();
        // Hosts sharing a store each resume the instances they claim.
        let claimed = inner.store.claim_unfinished();
        if claimed.is_empty() {
            return resumed;
        }
        let mut timers: HashMap<String, Vec<u64>> = HashMap::new();
        for t in inner.store.timers() {
            timers.entry(t.instance).or_default().push(t.id);
        }
        for id in claimed {
            if inner.live(&id).is_some() {
                continue;
            }
            let history = inner.store.history(&id);
            let Some(EventKind::InstanceStarted { parent: None, .. }) = history.first().map(|e| &e.kind)
            else {
                continue;
            };
            if has_ended(&history) {
                continue;
            }
            // Its timers are set again from the history.
            for t in timers.remove(&id).unwrap_or_default() {
                inner.store.remove_timer(t);
            }
            match inner.revive(&id, &history, None, None) {
                Ok(_) => resumed.push(InstanceId(id)),
                Err(e) => tracing::warn!(instance = %id, "cannot resume: {e}"),
            }
        }
        let _ = inner.kept(inner.store.sync()).await;
        resumed
    }

    /// Runs the failed instance `id` again from its failed step: the steps that succeeded keep
    /// their results, its failed sub-flows run again with it. The retry is journaled
    /// (`instance_retried`) and kept before the instance runs. Refused for an unknown instance,
    /// one that has not failed, and a sub-flow (retry its caller).
    pub async fn retry(&self, id: &InstanceId) -> Result<(), RetryError> {
        let inner = &self.inner;
        if inner.shutting_down.load(Ordering::SeqCst) {
            return Err(RetryError::ShuttingDown);
        }
        // One retry at a time: two at once must not both revive the instance.
        let _one = inner.retrying.lock().await;
        if let Ok(cell) = inner.cell(id) {
            let status = cell.lock().status.clone();
            if !matches!(status, crate::runtime::InstanceStatus::Failed { .. }) {
                return Err(RetryError::NotFailed {
                    id: id.0.clone(),
                    status: status.name().to_string(),
                });
            }
        }
        // The failure may still be on its way to the store.
        let synced = |r: Result<(), EngineError>| r.map_err(|e| RetryError::Store(e.to_string()));
        synced(inner.kept(inner.store.sync()).await)?;
        let retried = set_for_retry(inner.store.as_ref(), &id.0, inner.clock.now())?;
        synced(inner.kept(inner.store.sync()).await)?;
        {
            // Their ended selves leave memory: the instance and its sub-flows are revived from
            // the journal, the sub-flows by their calling steps.
            let mut map = inner.instances.lock().unwrap_or_else(|e| e.into_inner());
            for r in &retried {
                map.remove(r.as_str());
            }
        }
        let history = inner.store.history(&id.0);
        inner
            .revive(&id.0, &history, None, None)
            .map_err(|e| RetryError::Store(e.to_string()))?;
        synced(inner.kept(inner.store.sync()).await)
    }
}

impl Inner {
    /// Rebuilds instance `id` from its `history` in memory and lets it carry on (a sub-flow
    /// answers `parent`). Waking an instance asleep as `replaces` (its generation), the new cell
    /// is handed to the caller, which reacts on it: it is not dropped again before that.
    pub(super) fn revive(
        self: &Arc<Self>,
        id: &str,
        history: &[Event],
        parent: Option<ParentLink>,
        replaces: Option<u64>,
    ) -> Result<Arc<Cell>, EngineError> {
        let Some(EventKind::InstanceStarted {
            flow,
            input,
            entity,
            plan,
            ..
        }) = history.first().map(|e| &e.kind)
        else {
            return Err(EngineError::UnknownInstance(id.to_string()));
        };
        let flow = self.resolve_in(flow, plan.as_deref())?;
        // A sub-flow works in its caller's workspace.
        let entity: Arc<str> = match &parent {
            Some(p) => Arc::from(p.entity.as_str()),
            // The flow's own entity is shared, as a new start shares it.
            None => entity.as_deref().map_or_else(|| flow.entity.clone(), Arc::from),
        };
        let key: Arc<str> = Arc::from(id);
        let cell = Arc::new(Cell::new(
            self,
            key.clone(),
            Instance::new(key.clone(), flow, input.clone(), entity, parent),
        ));
        // Locked before anyone can find it: the first reaction on it is its replay.
        let guard = cell.lock();
        {
            let mut slots = self.instances.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(generation) = replaces {
                if !self.take_asleep(&mut slots, id, generation) {
                    // Woken by someone else first.
                    let current = match slots.get(id) {
                        Some(Slot::Live(c)) => Some(c.clone()),
                        _ => None,
                    };
                    drop(slots);
                    drop(guard);
                    return match current {
                        Some(c) => Ok(c),
                        None => self.cell(&InstanceId(id.to_string())),
                    };
                }
            }
            slots.insert(key, Slot::Live(cell.clone()));
        }
        self.react_locked(
            &cell,
            guard,
            |inst, ctx| inst.resume(ctx, history),
            replaces.is_none(),
        );
        Ok(cell)
    }
}
