//! Pacing calls to a service: one [`Limiter`] per service account (a Notion integration token,
//! a Typeform account), fed by the configured rate and paused by the service's `Retry-After`.
//!
//! The limiter only does arithmetic on times its caller gives it, so the engine paces on its own
//! (possibly virtual) clock and a connector on the wall clock with the same code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connectors::RateLimit;

/// A token bucket: `rate` tokens per second, at most `burst` saved up, that the service can
/// pause.
///
/// Callers reserve their token up front (the balance may go negative), so they are served in
/// the order they asked and nobody spins. A pause moves the whole schedule: callers that were
/// already waiting find their reservation stale when they wake and reserve again behind the
/// pause, instead of going out early (see [`Limiter::is_current`]).
#[derive(Debug)]
pub(crate) struct Limiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date (seconds on the caller's clock); during a
    /// pause, the end of the pause.
    last: f64,
    /// Bumped by every pause: reservations made before it are stale.
    epoch: u64,
}

/// A reserved token: wait `wait`, then check [`Limiter::is_current`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Reservation {
    /// How long to wait before sending.
    pub(crate) wait: Duration,
    epoch: u64,
}

impl Limiter {
    /// A full bucket. A rate that is not a positive number means "unlimited".
    pub(crate) fn new(rate: f64, burst: u32) -> Limiter {
        let burst = f64::from(burst.max(1));
        Limiter {
            state: Mutex::new(State {
                rate,
                burst,
                tokens: burst,
                last: f64::NEG_INFINITY,
                epoch: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the rate and burst (the latest configuration wins).
    pub(crate) fn reconfigure(&self, rate: f64, burst: u32) {
        let mut state = self.lock();
        state.rate = rate;
        state.burst = f64::from(burst.max(1));
        state.tokens = state.tokens.min(state.burst);
    }

    /// Takes a token at `now` (seconds) and says how long to wait before using it.
    pub(crate) fn reserve(&self, now: f64) -> Reservation {
        let mut state = self.lock();
        let epoch = state.epoch;
        if !(state.rate.is_finite() && state.rate > 0.0) {
            return Reservation {
                wait: Duration::ZERO,
                epoch,
            };
        }
        if now > state.last {
            let elapsed = if state.last.is_finite() {
                now - state.last
            } else {
                f64::INFINITY
            };
            state.tokens = (state.tokens + elapsed * state.rate).min(state.burst);
            state.last = now;
        }
        state.tokens -= 1.0;
        // Before `last` (a pause still running) nothing refills; after it, the debt is paid at
        // `rate`.
        let wait = (state.last - now) + (-state.tokens).max(0.0) / state.rate;
        Reservation {
            wait: Duration::from_secs_f64(wait.max(0.0)),
            epoch,
        }
    }

    /// Whether no pause came since `reservation` was made: if one did, the caller reserves
    /// again rather than send during (or right at the end of) the pause with everyone else.
    pub(crate) fn is_current(&self, reservation: &Reservation) -> bool {
        self.lock().epoch == reservation.epoch
    }

    /// The service said "wait `delay`" at `now`: nobody sends before `now + delay`, and then one
    /// token is there, the rest come back at the configured rate.
    pub(crate) fn pause(&self, now: f64, delay: Duration) {
        let mut state = self.lock();
        let until = now + delay.as_secs_f64();
        if until > state.last || state.tokens < 1.0 {
            state.last = state.last.max(until);
            state.tokens = 1.0_f64.min(state.burst);
        }
        state.epoch += 1;
    }
}

/// The process-wide limiter of `account` (e.g. `notion:` and a token), created with
/// `rate`/`burst` on first use and reconfigured when asked for again with other numbers: many
/// connectors and instances using one account share one limit, as the service counts it.
pub(crate) fn shared(account: &str, rate: f64, burst: u32) -> Arc<Limiter> {
    static LIMITERS: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let limiters = LIMITERS.get_or_init(Default::default);
    let mut limiters = limiters.lock().unwrap_or_else(|e| e.into_inner());
    match limiters.get(account) {
        Some(limiter) => {
            limiter.reconfigure(rate, burst);
            limiter.clone()
        }
        None => {
            let limiter = Arc::new(Limiter::new(rate, burst));
            limiters.insert(account.to_string(), limiter.clone());
            limiter
        }
    }
}

/// Seconds on the wall clock since this process first asked, for limiters used outside the
/// engine (connectors pacing themselves).
pub(crate) fn wall_seconds() -> f64 {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    ORIGIN
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Waits on the wall clock until `limiter` lets one request go.
pub(crate) async fn acquire(limiter: &Limiter) {
    loop {
        let reservation = limiter.reserve(wall_seconds());
        if !reservation.wait.is_zero() {
            tokio::time::sleep(reservation.wait).await;
        }
        if limiter.is_current(&reservation) {
            return;
        }
    }
}

/// The engine's limiters for connectors that do not pace themselves: one per connector and
/// entity (each entity has its own account with the service), at the manifest's rate, on the
/// engine's clock.
#[derive(Default)]
pub(crate) struct Pacer {
    limiters: Mutex<HashMap<(String, String), Arc<Limiter>>>,
}

impl Pacer {
    /// The limiter of `connector` for `entity`.
    pub(crate) fn limiter(&self, connector: &str, entity: &str, limit: &RateLimit) -> Arc<Limiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        limiters
            .entry((connector.to_string(), entity.to_string()))
            .or_insert_with(|| Arc::new(Limiter::new(limit.per_second, limit.burst)))
            .clone()
    }
}

/// A time of the engine's clock as the seconds limiters count in.
pub(crate) fn seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(limiter: &Limiter, now: f64, n: usize) -> Vec<u128> {
        (0..n).map(|_| limiter.reserve(now).wait.as_millis()).collect()
    }

    #[test]
    fn bursts_then_spaces_calls() {
        let limiter = Limiter::new(2.0, 2);
        assert_eq!(waits(&limiter, 100.0, 5), vec![0, 0, 500, 1000, 1500]);
        // Tokens come back with time.
        assert_eq!(limiter.reserve(110.0).wait, Duration::ZERO);
        // Unlimited.
        assert_eq!(waits(&Limiter::new(0.0, 1), 0.0, 3), vec![0, 0, 0]);
    }

    #[test]
    fn a_pause_holds_back_the_calls_already_queued() {
        let limiter = Limiter::new(1.0, 1);
        let queued: Vec<Reservation> = (0..4).map(|_| limiter.reserve(0.0)).collect();
        let planned: Vec<u128> = queued.iter().map(|r| r.wait.as_millis()).collect();
        assert_eq!(planned, vec![0, 1000, 2000, 3000]);
        // At 0.5 s the service answers 429 with Retry-After: 10.
        limiter.pause(0.5, Duration::from_secs(10));
        // Every queued call finds its reservation stale when it wakes ...
        assert!(queued.iter().all(|r| !limiter.is_current(r)));
        // ... and the new ones it takes start at the end of the pause, then at the rate.
        let woken = [1.0, 2.0, 3.0];
        let after: Vec<f64> = woken
            .iter()
            .map(|now| now + limiter.reserve(*now).wait.as_secs_f64())
            .collect();
        assert_eq!(after, vec![10.5, 11.5, 12.5]);
        // A reservation made after the pause stays current.
        let fresh = limiter.reserve(20.0);
        assert!(limiter.is_current(&fresh));
    }

    #[test]
    fn a_shorter_pause_does_not_shorten_a_longer_one() {
        let limiter = Limiter::new(100.0, 10);
        limiter.pause(0.0, Duration::from_secs(30));
        limiter.pause(1.0, Duration::from_secs(2));
        assert!(limiter.reserve(1.0).wait >= Duration::from_secs(28));
    }

    #[test]
    fn same_account_same_limiter() {
        let a = shared("pacing-test-account", 5.0, 2);
        let b = shared("pacing-test-account", 5.0, 2);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &shared("another-pacing-account", 5.0, 2)));
        let pacer = Pacer::default();
        let limit = RateLimit {
            per_second: 2.0,
            burst: 2,
        };
        assert!(Arc::ptr_eq(
            &pacer.limiter("survey", "e", &limit),
            &pacer.limiter("survey", "e", &limit)
        ));
        assert!(!Arc::ptr_eq(
            &pacer.limiter("survey", "e", &limit),
            &pacer.limiter("survey", "other", &limit)
        ));
    }
}
