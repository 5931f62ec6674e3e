//! Retry delays: exponential backoff between bounds with full jitter, per error class.

use std::time::Duration;

use rand::Rng;

use crate::connectors::{ConnectorError, ErrorClass};
use crate::plan::RetryPolicy;

/// The delay before the next attempt after attempt `attempt` (1-based) failed with `error`, or
/// `None` when the policy does not retry it: permanent failures never, other classes only when
/// listed, and never beyond `attempts` in all.
///
/// The delay is `min * factor^(attempt-1)` capped at `max`; with jitter it is uniform in
/// `[0, that]` (full jitter). A rate-limited failure waits at least what the service asked for.
pub fn next_delay(
    policy: &RetryPolicy,
    attempt: u32,
    error: &ConnectorError,
    rng: &mut impl Rng,
) -> Option<Duration> {
    if error.class == ErrorClass::Permanent || attempt >= policy.attempts || !policy.on.contains(&error.class)
    {
        return None;
    }
    let exp = policy
        .factor
        .max(1.0)
        .powi(attempt.saturating_sub(1).min(64) as i32);
    let capped = (policy.min_ms as f64 * exp).min(policy.max_ms as f64).max(0.0);
    let ms = if policy.jitter && capped > 0.0 {
        rng.random_range(0.0..=capped)
    } else {
        capped
    };
    let mut delay = Duration::from_millis(ms as u64);
    if error.class == ErrorClass::RateLimited {
        if let Some(after) = error.retry_after {
            delay = delay.max(after);
        }
    }
    Some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            attempts,
            min_ms: 1_000,
            max_ms: 8_000,
            factor: 2.0,
            jitter,
            on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
        }
    }

    #[test]
    fn exponential_capped_and_bounded_by_attempts() {
        let mut rng = rand::rng();
        let p = policy(6, false);
        let e = ConnectorError::transient("x");
        let delays: Vec<_> = (1..6)
            .map(|a| next_delay(&p, a, &e, &mut rng).unwrap().as_millis())
            .collect();
        assert_eq!(delays, vec![1_000, 2_000, 4_000, 8_000, 8_000]);
        assert_eq!(next_delay(&p, 6, &e, &mut rng), None);
    }

    #[test]
    fn full_jitter_stays_within_bounds() {
        let mut rng = rand::rng();
        let p = policy(10, true);
        let e = ConnectorError::transient("x");
        for attempt in 1..9 {
            let d = next_delay(&p, attempt, &e, &mut rng).unwrap();
            assert!(d <= Duration::from_millis(8_000));
        }
    }

    #[test]
    fn classes_and_retry_after() {
        let mut rng = rand::rng();
        let p = policy(3, true);
        assert_eq!(next_delay(&p, 1, &ConnectorError::permanent("x"), &mut rng), None);
        let only_transient = RetryPolicy {
            on: vec![ErrorClass::Transient],
            ..policy(3, true)
        };
        let rl = ConnectorError::rate_limited("slow", Some(Duration::from_secs(30)));
        assert_eq!(next_delay(&only_transient, 1, &rl, &mut rng), None);
        assert!(next_delay(&p, 1, &rl, &mut rng).unwrap() >= Duration::from_secs(30));
    }
}
