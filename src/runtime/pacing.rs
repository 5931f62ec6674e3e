//! Pacing calls to stay under a manifest's rate limit: one token bucket per connector action
//! and entity (each entity has its own account with the service), on the engine's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connectors::RateLimit;

struct Bucket {
    tokens: f64,
    last: DateTime<Utc>,
}

/// Token buckets by (connector, action, entity).
#[derive(Default)]
pub(crate) struct Pacer {
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
}

impl Pacer {
    /// How long a call made `now` must wait. The token is taken at once (the balance may go
    /// negative), so callers that arrive together are spaced out in arrival order.
    pub(crate) fn reserve(&self, key: (&str, &str, &str), limit: &RateLimit, now: DateTime<Utc>) -> Duration {
        if limit.per_second <= 0.0 {
            return Duration::ZERO;
        }
        let burst = limit.burst.max(1) as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .entry((key.0.to_string(), key.1.to_string(), key.2.to_string()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = (now - bucket.last).num_milliseconds().max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(burst);
        bucket.last = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / limit.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_spaces_calls() {
        let pacer = Pacer::default();
        let limit = RateLimit {
            per_second: 2.0,
            burst: 2,
        };
        let now = Utc::now();
        let key = ("notion", "query", "e");
        let waits: Vec<u128> = (0..5)
            .map(|_| pacer.reserve(key, &limit, now).as_millis())
            .collect();
        assert_eq!(waits, vec![0, 0, 500, 1000, 1500]);
        // Another entity has its own bucket.
        assert_eq!(
            pacer.reserve(("notion", "query", "other"), &limit, now),
            Duration::ZERO
        );
        // Tokens come back with time.
        let later = now + chrono::Duration::seconds(10);
        assert_eq!(pacer.reserve(key, &limit, later), Duration::ZERO);
    }
}
