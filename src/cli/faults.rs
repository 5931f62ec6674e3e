//! `--faults PLAN` and `--faults-seed N` of the commands that run against the emulators: the bad
//! day to rehearse (docs/faults.md).

use crate::config::Config;
use crate::connectors::faults::{FaultPlan, FaultTime};

/// The fault options, shared by `flowc run` and `flowc serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FaultArgs {
    /// With --emulate: what goes wrong in the emulators, e.g.
    /// 'notion:429=10%,503=5%,latency=50ms..2s;smtp:down=60s;typeform:timeout=5%'
    /// (instead of flowc.toml's [faults]; docs/faults.md).
    #[arg(long, value_name = "PLAN", requires = "emulate", value_parser = parse_plan)]
    faults: Option<FaultPlan>,
    /// With --emulate: the seed of the fault draws, to replay a run's faults exactly (default:
    /// flowc.toml's `[faults] seed`, else a new seed, printed).
    #[arg(long, value_name = "N", requires = "emulate")]
    faults_seed: Option<u64>,
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
