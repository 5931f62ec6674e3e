//! The emulator's own rate limit, as Notion documents it ("an average of three requests per
//! second per integration, some bursts beyond the average are allowed"; over it: HTTP 429,
//! `rate_limited`, with a `Retry-After` in seconds). Written apart from the connector's limiter
//! on purpose: a test of the connector against the emulator must not compare that code with
//! itself.

use std::time::Instant;

/// One token's allowance: `capacity` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub(super) struct Allowance {
    per_second: f64,
    capacity: f64,
    available: f64,
    checked: Instant,
}

impl Allowance {
    /// A full allowance.
    pub(super) fn new(per_second: f64, capacity: u32) -> Allowance {
        let capacity = f64::from(capacity.max(1));
        Allowance {
            per_second: per_second.max(f64::MIN_POSITIVE),
            capacity,
            available: capacity,
            checked: Instant::now(),
        }
    }

    /// Admits one request, or says how many whole seconds to wait (Notion's `Retry-After`
    /// is an integer number of seconds, at least 1).
    pub(super) fn admit(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        let refill = now.duration_since(self.checked).as_secs_f64() * self.per_second;
        self.available = (self.available + refill).min(self.capacity);
        self.checked = now;
        if self.available >= 1.0 {
            self.available -= 1.0;
            Ok(())
        } else {
            let seconds = (1.0 - self.available) / self.per_second;
            Err(seconds.ceil().max(1.0) as u64)
        }
    }
}
