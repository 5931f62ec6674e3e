//! The one timer driver: waits, event-wait deadlines, retry backoffs and sub-flow timeouts all wake
//! instances through it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::sleep::TimerTarget;
use super::Inner;

pub(super) struct TimerEntry {
    /// The instance, by id: it may be asleep when the timer is due.
    pub(super) instance: Arc<str>,
    /// The life (cell generation) of the instance that armed it.
    pub(super) generation: u64,
    pub(super) scope: u32,
    pub(super) node: u32,
    pub(super) id: u64,
}

/// A timer's place in the queue: due time, the order its instance armed it in, its id.
pub(super) type TimerKey = (DateTime<Utc>, u64, u64);

/// The one task that wakes suspended instances when their timers are due. It holds the engine
/// only while it works, so dropping every [`Engine`] handle ends it.
pub(super) async fn timer_driver(weak: std::sync::Weak<Inner>, notify: Arc<Notify>) {
    let Some(clock) = weak.upgrade().map(|i| i.clock.clone()) else {
        return;
    };
    loop {
        let Some(inner) = weak.upgrade() else {
            clock.leave();
            return;
        };
        // Busy here: one unit of work is ours.
        if inner.driver_token.swap(false, Ordering::SeqCst) {
            inner.clock.leave();
        }
        let now = inner.clock.now();
        let due = inner
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_due(now);
        for t in due {
            inner.store.remove_timer(t.id);
            let (scope, node) = (t.scope, t.node);
            // A woken instance arms its timers again from its history: this one fires again.
            if let TimerTarget::Live(cell) = inner.timer_target(&t.instance, t.generation) {
                inner.react(&cell, |inst, ctx| inst.on_timer(ctx, scope, node));
            }
        }
        if inner.shutting_down.load(Ordering::SeqCst) {
            inner.clock.leave();
            return;
        }
        let next = inner
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .earliest()
            .map(|k| k.0);
        if next.is_some_and(|t| t <= inner.clock.now()) {
            continue;
        }
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inner.driver_token.load(Ordering::SeqCst) {
            continue;
        }
        let sleep = next.map(|t| inner.clock.sleep_until(t));
        clock.leave();
        drop(inner);
        match sleep {
            Some(sleep) => {
                tokio::select! {
                    _ = sleep => {}
                    _ = &mut notified => {
                        let token = weak.upgrade().is_some_and(|i| i.driver_token.swap(false, Ordering::SeqCst));
                        if !token {
                            clock.enter();
                        }
                    }
                }
            }
            None => {
                notified.await;
                let token = weak
                    .upgrade()
                    .is_some_and(|i| i.driver_token.swap(false, Ordering::SeqCst));
                if !token {
                    clock.enter();
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wake the timer driver so that it sees the engine is gone and ends.
        self.timer_notify.notify_one();
    }
}

impl Inner {
    /// Wakes the timer driver, counting it busy until it has looked at the timers again.
    pub(super) fn wake_driver(&self) {
        if !self.driver_token.swap(true, Ordering::SeqCst) {
            self.clock.enter();
        }
        self.timer_notify.notify_one();
    }
}
