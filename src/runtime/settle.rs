//! Waiting for an instance to end on a virtual clock, or to find that it never can.

use std::time::{Duration, Instant};

use super::clock::VirtualClock;
use super::engine::{Engine, InstanceId};

/// How long a dry run or a flow test may take to reach its end in real time: stubs answer at once,
/// so a run still going after this is stuck.
pub(crate) const STUBBED_RUN_LIMIT: Duration = Duration::from_secs(30);

/// Waits until the instance ends; `false` when it never can (nothing runs and no timer is set,
/// so it waits for an event nobody will send) or when `limit` of real time has passed. Runs that
/// make real calls pass no limit: a call paced to a service's rate limit can take a while.
pub(crate) async fn wait_for_end(
    engine: &Engine,
    id: &InstanceId,
    clock: &VirtualClock,
    limit: Option<Duration>,
) -> bool {
    let mut idle_checks = 0;
    let deadline = limit.map(|l| Instant::now() + l);
    loop {
        if engine.status(id).is_ok_and(|s| s.is_final()) {
            return true;
        }
        if clock.busy() == 0 && !clock.has_sleepers() {
            idle_checks += 1;
            if idle_checks >= 3 {
                return false;
            }
        } else {
            idle_checks = 0;
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
