//! Fault plans: a bad day for the emulated services, written on one line so anyone can rehearse
//! it locally, e.g. `notion:429=10%,503=5%,latency=50ms..2s;smtp:down=60s;typeform:timeout=5%`
//! (the services: `notion`, `typeform`, `smtp`, `twilio`, `slack`).
//!
//! Each `;`-separated part names a service and its faults: `STATUS=P%` answers that status to a
//! share of requests, `timeout=P%` leaves a share unanswered, `latency=MIN..MAX` delays every
//! answer by a uniformly drawn time, `down=DURATION` refuses everything for that long from the
//! start. Draws come from a seeded generator, so a failing run can be replayed exactly.
//!
//! The same plan is written in `flowc.toml` as a `[faults]` table (one string per service, and a
//! `seed`); [`gate`] applies a plan to the requests of one emulated service.

mod gate;
mod scripted;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::value::{format_duration, parse_duration};

pub use gate::{FaultGate, FaultTime, TIMEOUT_HOLD};
pub(crate) use scripted::{befall, EmulatorFaults};

/// The services a plan may name (new ones go last: a service's place salts its draws).
pub const SERVICES: [&str; 5] = ["notion", "typeform", "smtp", "twilio", "slack"];

/// The faults of one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceFaults {
    /// `(status, probability)` pairs, drawn in order.
    pub statuses: Vec<(u16, f64)>,
    /// The probability that a request gets no answer.
    pub timeout: f64,
    /// Every answer is delayed by a time drawn between these two.
    pub latency: Option<(Duration, Duration)>,
    /// The service is down (refuses connections or answers 503) this long from the start.
    pub down: Option<Duration>,
}

/// Faults by service name (one of [`SERVICES`]), and the seed of their draws.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "FaultTable", into = "FaultTable")]
pub struct FaultPlan {
    /// Each service's faults.
    pub services: BTreeMap<String, ServiceFaults>,
    /// The seed of the draws (`[faults] seed`); none: the run picks one and prints it.
    pub seed: Option<u64>,
}

impl FaultPlan {
    /// The faults of `service` (none when the plan does not name it).
    pub fn service(&self, service: &str) -> ServiceFaults {
        self.services.get(service).cloned().unwrap_or_default()
    }

    /// Whether no service has a fault.
    pub fn is_empty(&self) -> bool {
        self.services.values().all(ServiceFaults::is_empty)
    }

    /// The gate of `service` drawing from `seed`, timed by `time`, when the plan gives it
    /// faults. Each service draws from its own generator, so adding faults to one service does
    /// not change which requests of another fail.
    pub fn gate(&self, service: &str, seed: u64, time: FaultTime) -> Option<std::sync::Arc<FaultGate>> {
        let faults = self.services.get(service).filter(|f| !f.is_empty())?;
        let salt = SERVICES
            .iter()
            .position(|s| *s == service)
            .unwrap_or(SERVICES.len()) as u64;
        let seed = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some(std::sync::Arc::new(FaultGate::new(faults.clone(), seed, time)))
    }
}

impl ServiceFaults {
    /// Whether nothing goes wrong.
    pub fn is_empty(&self) -> bool {
        self.statuses.iter().all(|(_, p)| *p == 0.0)
            && self.timeout == 0.0
            && self.latency.is_none()
            && self.down.is_none()
    }
}

/// One service's faults as written: `429=10%,503=5%,timeout=5%,latency=50ms..2s,down=60s`.
impl std::fmt::Display for ServiceFaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |p: f64| format!("{}%", (p * 1e6).round() / 1e4);
        let time = |d: Duration| format_duration(d.as_millis().min(i64::MAX as u128) as i64);
        let mut items: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, p)| format!("{status}={}", share(*p)))
            .collect();
        if self.timeout > 0.0 {
            items.push(format!("timeout={}", share(self.timeout)));
        }
        match self.latency {
            Some((min, max)) if min == max => items.push(format!("latency={}", time(min))),
            Some((min, max)) => items.push(format!("latency={}..{}", time(min), time(max))),
            None => {}
        }
        if let Some(down) = self.down {
            items.push(format!("down={}", time(down)));
        }
        write!(f, "{}", items.join(","))
    }
}

/// The whole plan as written on the command line.
impl std::fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .services
            .iter()
            .filter(|(_, faults)| !faults.is_empty())
            .map(|(service, faults)| format!("{service}:{faults}"))
            .collect();
        write!(f, "{}", parts.join(";"))
    }
}

/// `[faults]` in `flowc.toml`: each service's faults in the command line's notation, and a seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notion: Option<FaultsText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typeform: Option<FaultsText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    smtp: Option<FaultsText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    twilio: Option<FaultsText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slack: Option<FaultsText>,
}

/// One service's faults as a string of `[faults]` (checked where it is written, so a mistake is
/// pointed at in the file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
struct FaultsText(ServiceFaults);

impl TryFrom<String> for FaultsText {
    type Error = String;

    fn try_from(text: String) -> Result<FaultsText, String> {
        if text.contains(';') || text.contains(':') {
            return Err("a service's string lists its own faults only, e.g. `notion = \"503=5%\"`".into());
        }
        // The faults a service may have do not depend on which service it is.
        let plan: FaultPlan = format!("notion:{text}").parse()?;
        Ok(FaultsText(plan.service("notion")))
    }
}

impl From<FaultsText> for String {
    fn from(text: FaultsText) -> String {
        text.0.to_string()
    }
}

impl From<FaultTable> for FaultPlan {
    fn from(table: FaultTable) -> FaultPlan {
        let services = [
            ("notion", table.notion),
            ("typeform", table.typeform),
            ("smtp", table.smtp),
            ("twilio", table.twilio),
            ("slack", table.slack),
        ]
        .into_iter()
        .filter_map(|(service, text)| Some((service.to_string(), text?.0)))
        .collect();
        FaultPlan {
            services,
            seed: table.seed,
        }
    }
}

impl From<FaultPlan> for FaultTable {
    fn from(plan: FaultPlan) -> FaultTable {
        let text = |service: &str| {
            plan.services
                .get(service)
                .filter(|f| !f.is_empty())
                .map(|f| FaultsText(f.clone()))
        };
        FaultTable {
            seed: plan.seed,
            notion: text("notion"),
            typeform: text("typeform"),
            smtp: text("smtp"),
            twilio: text("twilio"),
            slack: text("slack"),
        }
    }
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this status instead of handling the request.
    Status(u16),
    /// Handle the request (a write may be done), but give no answer: the emulators hold the
    /// request for [`TIMEOUT_HOLD`], past the connectors' own timeouts, then fail it.
    Timeout,
    /// The service is down (`down=`): HTTP services answer 503, SMTP refuses the connection.
    Down,
}

/// Draws the fate of each request of one service from its faults and a seed.
#[derive(Debug)]
pub struct FaultDraw {
    faults: ServiceFaults,
    rng: StdRng,
}

impl FaultDraw {
    /// A generator for `faults`; the same seed gives the same faults in the same order.
    pub fn new(faults: ServiceFaults, seed: u64) -> FaultDraw {
        FaultDraw {
            faults,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The delay and the fault (if any) of the next request, `since_start` after the service
    /// started.
    pub fn next(&mut self, since_start: Duration) -> (Duration, Option<Fault>) {
        let delay = match self.faults.latency {
            Some((min, max)) if max > min => self.rng.random_range(min..=max),
            Some((min, _)) => min,
            None => Duration::ZERO,
        };
        if self.faults.down.is_some_and(|down| since_start < down) {
            return (delay, Some(Fault::Down));
        }
        let roll: f64 = self.rng.random();
        let mut edge = 0.0;
        for &(status, p) in &self.faults.statuses {
            edge += p;
            if roll < edge {
                return (delay, Some(Fault::Status(status)));
            }
        }
        if roll < edge + self.faults.timeout {
            return (delay, Some(Fault::Timeout));
        }
        (delay, None)
    }
}

impl FromStr for FaultPlan {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, items) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` needs a service: write `notion:429=10%`"))?;
            let service = service.trim();
            if !SERVICES.contains(&service) {
                return Err(format!(
                    "`{service}` is not an emulated service; use notion, typeform, smtp, twilio or slack"
                ));
            }
            let faults = plan.services.entry(service.to_string()).or_default();
            for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let (key, value) = item
                    .split_once('=')
                    .ok_or_else(|| format!("`{item}` needs a value, e.g. `503=5%` or `latency=50ms..2s`"))?;
                match key.trim() {
                    "timeout" => faults.timeout = percent(item, value)?,
                    "latency" => {
                        let (min, max) = value.split_once("..").unwrap_or((value, value));
                        let (min, max) = (duration(item, min)?, duration(item, max)?);
                        if min > max {
                            return Err(format!("`{item}`: the shortest latency comes first"));
                        }
                        faults.latency = Some((min, max));
                    }
                    "down" => faults.down = Some(duration(item, value)?),
                    status => {
                        let code = status
                            .parse::<u16>()
                            .ok()
                            .filter(|c| (400..=599).contains(c))
                            .ok_or_else(|| {
                                format!("`{item}`: `{status}` is not a fault; use an HTTP status (429, 503, ...), timeout, latency or down")
                            })?;
                        faults.statuses.push((code, percent(item, value)?));
                    }
                }
            }
            let total: f64 = faults.statuses.iter().map(|(_, p)| p).sum::<f64>() + faults.timeout;
            if total > 1.0 + f64::EPSILON {
                return Err(format!("`{part}`: the shares add up to more than 100%"));
            }
        }
        Ok(plan)
    }
}

fn percent(item: &str, value: &str) -> Result<f64, String> {
    value
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|n| (0.0..=100.0).contains(n))
        .map(|n| n / 100.0)
        .ok_or_else(|| format!("`{item}`: write a share as a percentage between 0% and 100%"))
}

fn duration(item: &str, value: &str) -> Result<Duration, String> {
    parse_duration(value.trim())
        .filter(|ms| *ms >= 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            format!(
                "`{item}`: `{}` is not a duration such as 50ms or 2s",
                value.trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let plan: FaultPlan = "notion:429=10%,503=5%,latency=50ms..2s;smtp:down=60s;typeform:timeout=5%"
            .parse()
            .unwrap();
        let notion = plan.service("notion");
        assert_eq!(notion.statuses, vec![(429, 0.10), (503, 0.05)]);
        assert_eq!(
            notion.latency,
            Some((Duration::from_millis(50), Duration::from_secs(2)))
        );
        assert_eq!(plan.service("smtp").down, Some(Duration::from_secs(60)));
        assert_eq!(plan.service("typeform").timeout, 0.05);
        assert_eq!(plan.service("typeform").statuses, vec![]);
    }

    #[test]
    fn twilio_and_slack_are_services_of_the_line_and_the_table() {
        let plan: FaultPlan = "twilio:429=10%;slack:503=5%".parse().unwrap();
        assert_eq!(plan.service("twilio").statuses, vec![(429, 0.10)]);
        assert_eq!(plan.service("slack").statuses, vec![(503, 0.05)]);
        assert_eq!(plan.to_string(), "slack:503=5%;twilio:429=10%");
        #[derive(Deserialize)]
        struct Doc {
            faults: FaultPlan,
        }
        let doc: Doc = toml::from_str("[faults]\ntwilio = \"429=10%\"\nslack = \"timeout=5%\"\n").unwrap();
        assert_eq!(doc.faults.service("twilio").statuses, vec![(429, 0.10)]);
        assert_eq!(doc.faults.service("slack").timeout, 0.05);
        // Adding the new services changed no older service's draws: each is salted by its place.
        assert_eq!(SERVICES[..3], ["notion", "typeform", "smtp"]);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |text: &str| text.parse::<FaultPlan>().unwrap_err();
        assert!(err("notion 429=10%").contains("needs a service"));
        assert!(err("stripe:429=1%").contains("not an emulated service"));
        assert!(err("notion:429").contains("needs a value"));
        assert!(err("notion:200=5%").contains("not a fault"));
        assert!(err("notion:429=120%").contains("percentage"));
        assert!(err("notion:latency=2s..1s").contains("shortest"));
        assert!(err("notion:latency=soon").contains("not a duration"));
        assert!(err("notion:429=60%,503=50%").contains("more than 100%"));
    }

    #[test]
    fn a_plan_is_written_back_as_it_reads() {
        let text = "notion:429=10%,503=5%,timeout=2.5%,latency=50ms..2s;smtp:down=1m;typeform:500=20%";
        let plan: FaultPlan = text.parse().unwrap();
        assert_eq!(plan.to_string().parse::<FaultPlan>().unwrap(), plan);
        assert_eq!(plan.service("smtp").to_string(), "down=1m");
        assert_eq!(
            plan.service("notion").to_string(),
            "429=10%,503=5%,timeout=2.5%,latency=50ms..2s"
        );
    }

    #[test]
    fn the_flowc_toml_table_reads_each_service_and_refuses_the_rest() {
        #[derive(Deserialize, Serialize)]
        struct Doc {
            faults: FaultPlan,
        }
        let doc: Doc =
            toml::from_str("[faults]\nseed = 7\nnotion = \"503=5%\"\nsmtp = \"down=60s\"\n").unwrap();
        assert_eq!(doc.faults.seed, Some(7));
        assert_eq!(doc.faults.service("notion").statuses, vec![(503, 0.05)]);
        assert_eq!(doc.faults.service("smtp").down, Some(Duration::from_secs(60)));
        let back: Doc = toml::from_str(&toml::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back.faults, doc.faults);
        let err = |text: &str| toml::from_str::<Doc>(text).err().unwrap().to_string();
        assert!(err("[faults]\nstripe = \"503=5%\"\n").contains("unknown field `stripe`"));
        assert!(err("[faults]\nnotion = \"503=500%\"\n").contains("percentage"));
        assert!(err("[faults]\nnotion = \"notion:503=5%\"\n").contains("its own faults only"));
    }

    #[test]
    fn draws_are_seeded_and_keep_to_their_shares() {
        let faults = "notion:429=20%,timeout=10%,latency=10ms..20ms"
            .parse::<FaultPlan>()
            .unwrap()
            .service("notion");
        let run = |seed| {
            let mut draw = FaultDraw::new(faults.clone(), seed);
            (0..2000)
                .map(|_| draw.next(Duration::from_secs(100)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let draws = run(7);
        let share = |f: Fault| draws.iter().filter(|(_, d)| *d == Some(f)).count() as f64 / 2000.0;
        assert!(
            (share(Fault::Status(429)) - 0.2).abs() < 0.04,
            "{}",
            share(Fault::Status(429))
        );
        assert!((share(Fault::Timeout) - 0.1).abs() < 0.03);
        assert!(draws
            .iter()
            .all(|(d, _)| *d >= Duration::from_millis(10) && *d <= Duration::from_millis(20)));
        // Down: everything is refused until the time is over.
        let mut down = FaultDraw::new(FaultPlan::from_str("smtp:down=60s").unwrap().service("smtp"), 1);
        assert_eq!(down.next(Duration::from_secs(59)).1, Some(Fault::Down));
        assert_eq!(down.next(Duration::from_secs(60)).1, None);
    }
}
