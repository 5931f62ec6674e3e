//! Time for the engine: the wall clock, or a virtual clock that jumps to the next timer as soon
//! as nothing is running, so `wait 3d` in a test takes no real time.
//!
//! The virtual clock counts units of *work* (a running step, the engine's timer driver awake, a
//! test driver): [`Clock::enter`] when work starts, [`Clock::leave`] when it stops or goes to
//! sleep on the clock. When the count falls to zero the clock moves to the earliest sleeper and
//! wakes every sleeper due then, entering one unit of work on behalf of each, so a woken sleeper
//! is counted busy before it even runs and the clock cannot jump past it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, Utc};

/// A future that completes at a given instant of a [`Clock`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of time the engine reads and sleeps on.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Completes at `at`. On a virtual clock the caller must [`leave`](Clock::leave) before
    /// awaiting it and owns one unit of work again once it completes.
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep;

    /// One unit of work started (virtual clocks only).
    fn enter(&self) {}

    /// One unit of work stopped or went to sleep (virtual clocks only).
    fn leave(&self) {}
}

/// The wall clock, sleeping with tokio timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

#[derive(Default)]
struct Slot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct State {
    now: DateTime<Utc>,
    busy: usize,
    seq: u64,
    sleepers: BTreeMap<(DateTime<Utc>, u64), Arc<Slot>>,
}

/// A clock that only moves when everything is idle, straight to the next timer.
#[derive(Clone)]
pub struct VirtualClock {
    state: Arc<Mutex<State>>,
}

impl VirtualClock {
    /// A virtual clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> VirtualClock {
        VirtualClock {
            state: Arc::new(Mutex::new(State {
                now: start,
                busy: 0,
                seq: 0,
                sleepers: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state itself stays consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Units of work currently counted (for tests and diagnostics).
    pub fn busy(&self) -> usize {
        self.lock().busy
    }

    /// Whether some sleeper is waiting for the clock to move.
    pub fn has_sleepers(&self) -> bool {
        !self.lock().sleepers.is_empty()
    }

    fn advance_if_idle(state: &mut State) -> Vec<Arc<Slot>> {
        if state.busy > 0 {
            return Vec::new();
        }
        let Some((&(at, _), _)) = state.sleepers.iter().next() else {
            return Vec::new();
        };
        if at > state.now {
            state.now = at;
        }
        let due: Vec<(DateTime<Utc>, u64)> = state
            .sleepers
            .range(..=(state.now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        let mut woken = Vec::new();
        for key in due {
            if let Some(slot) = state.sleepers.remove(&key) {
                state.busy += 1;
                slot.fired.store(true, Ordering::SeqCst);
                woken.push(slot);
            }
        }
        woken
    }

    fn wake(slots: Vec<Arc<Slot>>) {
        for slot in slots {
            let waker = slot.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let slot = Arc::new(Slot::default());
        let key = {
            let mut state = self.lock();
            state.seq += 1;
            let key = (at, state.seq);
            state.sleepers.insert(key, slot.clone());
            key
        };
        Box::pin(VirtualSleep {
            clock: self.clone(),
            slot,
            key,
            consumed: false,
        })
    }

    fn enter(&self) {
        self.lock().busy += 1;
    }

    fn leave(&self) {
        let woken = {
            let mut state = self.lock();
            state.busy = state.busy.saturating_sub(1);
            VirtualClock::advance_if_idle(&mut state)
        };
        VirtualClock::wake(woken);
    }
}

struct VirtualSleep {
    clock: VirtualClock,
    slot: Arc<Slot>,
    key: (DateTime<Utc>, u64),
    consumed: bool,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.slot.fired.load(Ordering::SeqCst) {
            self.consumed = true;
            return Poll::Ready(());
        }
        *self.slot.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // It may have fired between the check and storing the waker.
        if self.slot.fired.load(Ordering::SeqCst) {
            self.consumed = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if self.consumed {
            return;
        }
        let fired = {
            let mut state = self.clock.lock();
            state.sleepers.remove(&self.key);
            self.slot.fired.load(Ordering::SeqCst)
        };
        // Fired but never observed: give back the unit of work entered on our behalf.
        if fired {
            self.clock.leave();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jumps_to_the_next_sleeper_when_idle() {
        let start = Utc::now();
        let clock = VirtualClock::new(start);
        clock.enter();
        let s = clock.sleep_until(start + chrono::Duration::days(3));
        clock.leave();
        s.await;
        assert_eq!(clock.now(), start + chrono::Duration::days(3));
        assert_eq!(clock.busy(), 1);
        clock.leave();
    }

    #[tokio::test]
    async fn does_not_move_while_busy() {
        let start = Utc::now();
        let clock = VirtualClock::new(start);
        clock.enter();
        clock.enter();
        let s = clock.sleep_until(start + chrono::Duration::hours(1));
        clock.leave();
        assert_eq!(clock.now(), start);
        clock.leave();
        s.await;
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
    }
}
