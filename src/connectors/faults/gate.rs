//! A fault plan applied to one emulated service: each request waits its drawn latency and gets
//! its drawn fault, timed by the run's clock, so that on a virtual clock a slow or silent service
//! costs (almost) no real time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Fault, FaultDraw, ServiceFaults};
use crate::runtime::Clock;

/// How long a request that times out is held before the emulator gives up on it (504): as long
/// as the connectors' default timeouts (30 s), so that on the wall clock the client gives up
/// first.
pub const TIMEOUT_HOLD: Duration = Duration::from_secs(30);

/// On a virtual clock, the share of each latency or hold waited in real time.
const VIRTUAL_SCALE: u32 = 1000;

/// The clock a gate's time is read from.
#[derive(Clone)]
pub enum FaultTime {
    /// Real time: latency and holds are slept.
    Wall,
    /// The run's virtual clock: `down=` is counted on it, and latency and holds are waited for
    /// a thousandth of their length in real time (see [`FaultGate::next`]).
    Virtual(Arc<dyn Clock>),
}

impl std::fmt::Debug for FaultTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultTime::Wall => "Wall",
            FaultTime::Virtual(_) => "Virtual",
        })
    }
}

/// The faults of one service, drawn request by request.
pub struct FaultGate {
    faults: ServiceFaults,
    draw: Mutex<FaultDraw>,
    clock: Arc<dyn Clock>,
    /// Real time is divided by this (1 on the wall clock).
    scale: u32,
    /// When the service started (`down=` counts from here).
    started: DateTime<Utc>,
}

impl std::fmt::Debug for FaultGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaultGate({})", self.faults)
    }
}

impl FaultGate {
    /// A gate drawing `faults` with `seed`, its time read from `time`; the service starts now.
    pub fn new(faults: ServiceFaults, seed: u64, time: FaultTime) -> FaultGate {
        let (clock, scale): (Arc<dyn Clock>, u32) = match time {
            FaultTime::Wall => (Arc::new(crate::runtime::SystemClock), 1),
            FaultTime::Virtual(clock) => (clock, VIRTUAL_SCALE),
        };
        FaultGate {
            draw: Mutex::new(FaultDraw::new(faults.clone(), seed)),
            faults,
            started: clock.now(),
            clock,
            scale,
        }
    }

    /// The faults it draws from.
    pub fn faults(&self) -> &ServiceFaults {
        &self.faults
    }

    /// Waits the next request's latency, then says what goes wrong with it (`None`: nothing).
    pub async fn next(&self) -> Option<Fault> {
        let since_start = (self.clock.now() - self.started).to_std().unwrap_or_default();
        let (delay, fault) = self
            .draw
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next(since_start);
        self.wait(delay).await;
        fault
    }

    /// Holds a request that times out for [`TIMEOUT_HOLD`].
    pub async fn hold(&self) {
        self.wait(TIMEOUT_HOLD).await;
    }

    /// Waits `delay`, or a thousandth of it on a virtual clock.
    ///
    /// Virtual time does not pass during the wait. A step waiting for an answer counts as work on
    /// a virtual clock, so the clock cannot move while it waits; moving it on the step's behalf
    /// would deadlock as soon as another step holds a unit of work while it waits for this one
    /// (a shared lock, a concurrency permit). The shortened real wait keeps what latency does to
    /// the order and overlap of requests, and a run stays fast.
    async fn wait(&self, delay: Duration) {
        let delay = delay / self.scale;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::faults::FaultPlan;
    use crate::runtime::VirtualClock;

    #[tokio::test]
    async fn on_a_virtual_clock_down_counts_virtual_time_and_waits_are_short() {
        let start = Utc::now();
        let clock = Arc::new(VirtualClock::new(start));
        let plan: FaultPlan = "smtp:down=60s,latency=2s".parse().unwrap();
        let gate = plan.gate("smtp", 1, FaultTime::Virtual(clock.clone())).unwrap();
        let real = std::time::Instant::now();
        for _ in 0..20 {
            assert_eq!(gate.next().await, Some(Fault::Down));
        }
        gate.hold().await;
        // 20 latencies of 2 s and a 30 s hold, each waited for a thousandth.
        let elapsed = real.elapsed();
        assert!(elapsed >= Duration::from_millis(70), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert_eq!(clock.now(), start);
        // A minute later on the virtual clock the service is back.
        clock.enter();
        let later = clock.sleep_until(start + chrono::Duration::seconds(61));
        clock.leave();
        later.await;
        assert_eq!(gate.next().await, None);
        clock.leave();
    }

    #[tokio::test]
    async fn on_the_wall_clock_latency_is_slept() {
        let plan: FaultPlan = "notion:latency=30ms".parse().unwrap();
        let gate = plan.gate("notion", 1, FaultTime::Wall).unwrap();
        let real = std::time::Instant::now();
        assert_eq!(gate.next().await, None);
        assert!(real.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_service_without_faults_has_no_gate_and_services_draw_apart() {
        let plan: FaultPlan = "notion:503=50%;typeform:503=50%".parse().unwrap();
        assert!(plan.gate("smtp", 1, FaultTime::Wall).is_none());
        let draws = |service: &str| {
            let gate = plan.gate(service, 9, FaultTime::Wall).unwrap();
            let mut draw = gate.draw.lock().unwrap();
            (0..64).map(|_| draw.next(Duration::ZERO).1).collect::<Vec<_>>()
        };
        assert_ne!(draws("notion"), draws("typeform"));
    }
}
