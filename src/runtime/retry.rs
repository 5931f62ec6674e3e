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

    /// The delay without jitter: `min * factor^(attempt-1)` capped at `max`.
    fn ceiling(p: &RetryPolicy, attempt: u32) -> f64 {
        (p.min_ms as f64 * p.factor.powi(attempt as i32 - 1)).min(p.max_ms as f64)
    }

    proptest::proptest! {
        /// Full jitter is uniform over `[0, ceiling]`: never above the ceiling of *this*
        /// attempt, and spread over the whole range, from near 0 to near the ceiling, with the
        /// mean in the middle (so neither "no jitter", nor "equal jitter" in `[ceiling/2,
        /// ceiling]`, nor a delay of 0 passes).
        #[test]
        fn full_jitter_covers_zero_to_the_ceiling(
            min_ms in 100u64..10_000,
            spread in 1u64..64,
            factor in 1.0f64..4.0,
            attempt in 1u32..9,
            seed in proptest::prelude::any::<u64>(),
        ) {
            use rand::SeedableRng;
            let p = RetryPolicy { min_ms, max_ms: min_ms * spread, factor, ..policy(10, true) };
            let top = ceiling(&p, attempt);
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let e = ConnectorError::transient("x");
            let samples: Vec<f64> = (0..400)
                .map(|_| next_delay(&p, attempt, &e, &mut rng).unwrap().as_millis() as f64)
                .collect();
            let (low, high) = samples.iter().fold((f64::MAX, 0f64), |(l, h), &d| (l.min(d), h.max(d)));
            let mean = samples.iter().sum::<f64>() / samples.len() as f64;
            proptest::prop_assert!(high <= top, "{high} ms above the ceiling {top} ms");
            proptest::prop_assert!(low < top / 4.0, "never below {low} ms of {top} ms: not full jitter");
            proptest::prop_assert!(high > top * 3.0 / 4.0, "never above {high} ms of {top} ms");
            proptest::prop_assert!((mean - top / 2.0).abs() < top * 0.1, "mean {mean} ms of {top} ms");
        }

        /// Without jitter the delay is the ceiling itself; a rate-limited failure waits at
        /// least what the service asked for, jitter or not.
        #[test]
        fn delays_are_bounded_from_below(
            min_ms in 1u64..10_000,
            spread in 1u64..64,
            attempt in 1u32..9,
            retry_after_ms in 0u64..100_000,
            jitter in proptest::prelude::any::<bool>(),
            seed in proptest::prelude::any::<u64>(),
        ) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let fixed = RetryPolicy { min_ms, max_ms: min_ms * spread, ..policy(10, false) };
            let d = next_delay(&fixed, attempt, &ConnectorError::transient("x"), &mut rng).unwrap();
            proptest::prop_assert_eq!(d.as_millis() as u64, ceiling(&fixed, attempt) as u64);
            let p = RetryPolicy { jitter, ..fixed };
            let after = Duration::from_millis(retry_after_ms);
            let rl = ConnectorError::rate_limited("slow", Some(after));
            proptest::prop_assert!(next_delay(&p, attempt, &rl, &mut rng).unwrap() >= after);
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
