//! A token bucket per Notion integration token, shared by every connector in the process.
//!
//! Notion limits each integration to an average of about three requests per second with some
//! burst. Pacing before sending is cheaper than being told off with a 429, and one bucket per
//! token (not per connector or instance) is what keeps many concurrent instances under the limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
///
/// Waiters reserve their token up front (the balance may go negative), so callers are served in
/// the order they asked and nobody spins.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Set when the service answered 429: nobody sends before this.
    blocked_until: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: f64, burst: u32) -> TokenBucket {
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 3.0 };
        let burst = f64::from(burst.max(1));
        TokenBucket {
            state: Mutex::new(State {
                rate,
                burst,
                tokens: burst,
                last: Instant::now(),
                blocked_until: None,
            }),
        }
    }

    /// Changes the rate and burst (the latest configuration wins).
    pub(crate) fn reconfigure(&self, rate: f64, burst: u32) {
        let mut state = self.lock();
        if rate.is_finite() && rate > 0.0 {
            state.rate = rate;
        }
        state.burst = f64::from(burst.max(1));
        state.tokens = state.tokens.min(state.burst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long the caller must wait before sending; the token is taken now.
    pub(crate) fn reserve(&self) -> Duration {
        let mut state = self.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * state.rate).min(state.burst);
        state.last = now;
        state.tokens -= 1.0;
        let mut wait = if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / state.rate)
        };
        if let Some(until) = state.blocked_until {
            if until > now {
                wait = wait.max(until - now);
            } else {
                state.blocked_until = None;
            }
        }
        wait
    }

    /// Takes a token if one is there; otherwise says how long until one is (nothing is reserved).
    /// This is how a server enforces a limit, where [`TokenBucket::reserve`] is how a client
    /// keeps to one.
    pub(crate) fn try_take(&self) -> Result<(), Duration> {
        let mut state = self.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * state.rate).min(state.burst);
        state.last = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - state.tokens) / state.rate))
        }
    }

    /// Waits for a token.
    pub(crate) async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The service said "wait `delay`": hold every sender of this token back that long.
    pub(crate) fn pause(&self, delay: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + delay;
        if state.blocked_until.is_none_or(|u| u < until) {
            state.blocked_until = Some(until);
        }
    }
}

/// The process-wide bucket of `token`, created with `rate`/`burst` on first use and
/// reconfigured when asked for again with different numbers.
pub(crate) fn shared(token: &str, rate: f64, burst: u32) -> Arc<TokenBucket> {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Arc<TokenBucket>>>> = OnceLock::new();
    let buckets = BUCKETS.get_or_init(Default::default);
    let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
    match buckets.get(token) {
        Some(bucket) => {
            bucket.reconfigure(rate, burst);
            bucket.clone()
        }
        None => {
            let bucket = Arc::new(TokenBucket::new(rate, burst));
            buckets.insert(token.to_string(), bucket.clone());
            bucket
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_free_then_paced() {
        let bucket = TokenBucket::new(10.0, 3);
        for _ in 0..3 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
        let wait = bucket.reserve();
        assert!(wait > Duration::from_millis(80) && wait <= Duration::from_millis(100));
        // The next waiter queues behind the previous one.
        let wait = bucket.reserve();
        assert!(wait > Duration::from_millis(180) && wait <= Duration::from_millis(200));
    }

    #[test]
    fn pause_holds_everyone_back() {
        let bucket = TokenBucket::new(100.0, 10);
        bucket.pause(Duration::from_secs(2));
        assert!(bucket.reserve() > Duration::from_millis(1900));
    }

    #[test]
    fn same_token_same_bucket() {
        let a = shared("ratelimit-test-token", 5.0, 2);
        let b = shared("ratelimit-test-token", 5.0, 2);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &shared("another-ratelimit-token", 5.0, 2)));
    }
}
