//! Waiting for an instance to end on a virtual clock, or to find that it never can.

use std::time::Duration;

use super::clock::VirtualClock;
use super::engine::{Engine, InstanceId};

/// Waits until the instance ends; `false` when it never can (nothing runs and no timer is set,
/// so it waits for an event nobody will send).
pub async fn wait_for_end(engine: &Engine, id: &InstanceId, clock: &VirtualClock) -> bool {
    let mut idle_checks = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
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
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
