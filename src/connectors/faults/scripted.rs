//! The faults an HTTP emulator plays: failures a test queues (`fail_next`) first, then the draws
//! of a fault plan's gate, and what each one does to the request (held, refused, or answered with
//! a status). The emulators answer with their own error bodies.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::http::StatusCode;

use super::{Fault, FaultGate, FaultTime, ServiceFaults};

/// One emulator's queued failures and fault plan.
#[derive(Debug, Default)]
pub(crate) struct EmulatorFaults {
    queued: VecDeque<(u16, Option<u64>)>,
    gate: Option<Arc<FaultGate>>,
}

/// What the next request meets: a queued failure, the plan's gate, or nothing.
pub(crate) enum Next {
    Queued(u16, Option<u64>),
    Drawn(Arc<FaultGate>),
    Nothing,
}

impl EmulatorFaults {
    /// The next `times` requests fail with `status` (and `retry_after` seconds on a 429).
    pub(crate) fn fail_next(&mut self, status: u16, times: usize, retry_after: Option<u64>) {
        self.queued
            .extend(std::iter::repeat_n((status, retry_after), times));
    }

    /// Draws faults for every request from `faults` and `seed`, on the wall clock from now.
    pub(crate) fn set_plan(&mut self, faults: ServiceFaults, seed: u64) {
        self.gate = Some(Arc::new(FaultGate::new(faults, seed, FaultTime::Wall)));
    }

    /// Draws faults for every request from a run's gate (its time on the run's clock).
    pub(crate) fn set_gate(&mut self, gate: Arc<FaultGate>) {
        self.gate = Some(gate);
    }

    /// The fate of the next request (taken under the emulator's lock; played by [`befall`]).
    pub(crate) fn next(&mut self) -> Next {
        match (self.queued.pop_front(), &self.gate) {
            (Some((status, after)), _) => Next::Queued(status, after),
            (None, Some(gate)) => Next::Drawn(gate.clone()),
            (None, None) => Next::Nothing,
        }
    }
}

/// Plays `next` out: waits its delay, and returns the status (and Retry-After seconds) the
/// request must be failed with, or `None` when it is handled normally. A timeout is held past
/// the connectors' own timeouts, then failed: never a hang.
pub(crate) async fn befall(next: Next) -> Option<(StatusCode, Option<u64>)> {
    let (fault, after) = match next {
        Next::Nothing => return None,
        Next::Queued(status, after) => (Fault::Status(status), after),
        Next::Drawn(gate) => match gate.next().await? {
            Fault::Timeout => {
                gate.hold().await;
                return Some((StatusCode::SERVICE_UNAVAILABLE, None));
            }
            fault => (fault, None),
        },
    };
    match fault {
        Fault::Timeout | Fault::Down => Some((StatusCode::SERVICE_UNAVAILABLE, None)),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, after.or((code == 429).then_some(1))))
        }
    }
}
