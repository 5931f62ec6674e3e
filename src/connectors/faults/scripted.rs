//! The faults an HTTP emulator plays: failures a test queues (`fail_next`) first, then the draws
//! of a fault plan, and what each one does to the request (held, refused, or answered with a
//! status). The emulators answer with their own error bodies.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::{Fault, FaultDraw, ServiceFaults, TIMEOUT_HOLD};

/// One emulator's queued failures and fault plan.
#[derive(Debug)]
pub(crate) struct EmulatorFaults {
    queued: VecDeque<(u16, Option<u64>)>,
    draw: Option<FaultDraw>,
    started: Instant,
}

impl Default for EmulatorFaults {
    fn default() -> Self {
        EmulatorFaults {
            queued: VecDeque::new(),
            draw: None,
            started: Instant::now(),
        }
    }
}

/// What the next request meets: a delay, the fault (if any), and a queued Retry-After.
pub(crate) type Next = Option<(Duration, Option<Fault>, Option<u64>)>;

impl EmulatorFaults {
    /// The next `times` requests fail with `status` (and `retry_after` seconds on a 429).
    pub(crate) fn fail_next(&mut self, status: u16, times: usize, retry_after: Option<u64>) {
        self.queued
            .extend(std::iter::repeat_n((status, retry_after), times));
    }

    /// Draws faults for every request from `faults` and `seed`, timed from now.
    pub(crate) fn set_plan(&mut self, faults: ServiceFaults, seed: u64) {
        self.draw = Some(FaultDraw::new(faults, seed));
        self.started = Instant::now();
    }

    /// The fate of the next request (taken under the emulator's lock; played by [`befall`]).
    pub(crate) fn next(&mut self) -> Next {
        let since = self.started.elapsed();
        let drawn = self.draw.as_mut().map(|d| d.next(since));
        match self.queued.pop_front() {
            Some((status, after)) => Some((Duration::ZERO, Some(Fault::Status(status)), after)),
            None => drawn.map(|(delay, fault)| (delay, fault, None)),
        }
    }
}

/// Plays `next` out: waits its delay, and returns the status (and Retry-After seconds) the
/// request must be failed with, or `None` when it is handled normally. A timeout is held past
/// the connectors' own timeouts, then failed: never a hang.
pub(crate) async fn befall(next: Next) -> Option<(StatusCode, Option<u64>)> {
    let (delay, fault, after) = next?;
    tokio::time::sleep(delay).await;
    match fault? {
        Fault::Timeout => {
            tokio::time::sleep(TIMEOUT_HOLD).await;
            Some((StatusCode::SERVICE_UNAVAILABLE, None))
        }
        Fault::Down => Some((StatusCode::SERVICE_UNAVAILABLE, None)),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, after.or((code == 429).then_some(1))))
        }
    }
}
