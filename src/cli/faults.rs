//! `--faults PLAN` and `--faults-seed N` of the commands that run against the emulators: the bad
//! day to rehearse (docs/faults.md).

use crate::config::Config;
use crate::connectors::faults::{FaultPlan, FaultTime};

/// The fault options of `flowc run`, `flowc serve` and `flowc emulate`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FaultArgs {
    /// What goes wrong in the emulators (with --emulate, or in `flowc emulate`), e.g.
    /// 'notion:429=10%,503=5%,latency=50ms..2s;smtp:down=60s;typeform:timeout=5%'
    /// (instead of flowc.toml's [faults]; docs/faults.md).
    #[arg(long, value_name = "PLAN", value_parser = parse_plan)]
    faults: Option<FaultPlan>,
    /// The seed of the fault draws, to replay a run's faults exactly (default:
    /// flowc.toml's `[faults] seed`, else a new seed, printed).
    #[arg(long, value_name = "N")]
    faults_seed: Option<u64>,
}

impl FaultArgs {
    /// Refuses fault options on a run against the real services: faults are the emulators'.
    pub(crate) fn require_emulators(&self, emulated: bool) -> Result<(), super::CliError> {
        if emulated || (self.faults.is_none() && self.faults_seed.is_none()) {
            return Ok(());
        }
        Err(super::CliError::Usage(
            "`--faults` and `--faults-seed` need `--emulate`: faults are rehearsed on the emulators, never on the real services".into(),
        ))
    }
}

fn parse_plan(text: &str) -> Result<FaultPlan, String> {
    text.parse()
}

/// A fault plan to apply, with its seed and the clock its time runs on.
pub(crate) struct Rehearsal {
    pub(crate) plan: FaultPlan,
    pub(crate) seed: u64,
    pub(crate) time: FaultTime,
}

impl Rehearsal {
    /// The gate of `service`, when the plan gives it faults.
    pub(crate) fn gate(&self, service: &str) -> Option<std::sync::Arc<crate::connectors::faults::FaultGate>> {
        self.plan.gate(service, self.seed, self.time.clone())
    }

    /// Says on stderr which plan is followed and how to replay it.
    pub(crate) fn announce(&self) {
        errln!(
            "faults: {} (seed {}: replay with --faults-seed {})",
            self.plan,
            self.seed,
            self.seed
        );
    }
}

impl FaultArgs {
    /// The plan of this run: `--faults`, else flowc.toml's `[faults]`; none when nothing fails.
    pub(crate) fn rehearsal(&self, config: &Config, time: FaultTime) -> Option<Rehearsal> {
        let plan = self.faults.clone().unwrap_or_else(|| config.faults.clone());
        if plan.is_empty() {
            return None;
        }
        let seed = self
            .faults_seed
            .or(config.faults.seed)
            .unwrap_or_else(rand::random);
        Some(Rehearsal { plan, seed, time })
    }
}
