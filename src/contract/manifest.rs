//! Connector manifests: the declarations that the checker and the runtime share.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ErrorClass;
use crate::types::Type;

/// What a connector offers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The name flows use (`notion` in `notion.create_page(...)`).
    pub name: String,
    /// One line for `flowc` help and docs.
    pub description: String,
    /// The actions.
    pub actions: Vec<ActionSpec>,
}

impl Manifest {
    /// The action called `name`.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// Whether an action reads or writes an entity's databases; the checker compares it with grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reads only.
    Read,
    /// Creates or changes records.
    Write,
}

/// One action of a connector.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionSpec {
    /// The action's name (`send`).
    pub name: String,
    /// One line for docs.
    pub description: String,
    /// Named parameters.
    pub params: Vec<ParamSpec>,
    /// The shape of a successful result.
    pub output: Type,
    /// Whether calling it changes the world (an unused result of a pure action is a warning).
    pub side_effects: bool,
    /// Database access, for actions that take a `db` parameter.
    pub access: Option<Access>,
    /// The retry policy used when the step declares none.
    pub default_retry: Option<RetrySpec>,
    /// Requests per second the service allows; the runtime paces calls to stay under it.
    pub rate_limit: Option<RateLimit>,
}

impl ActionSpec {
    /// A pure action with no parameters yet; add them with [`ActionSpec::param`].
    pub fn new(name: &str, description: &str, output: Type) -> ActionSpec {
        ActionSpec {
            name: name.to_string(),
            description: description.to_string(),
            params: Vec::new(),
            output,
            side_effects: false,
            access: None,
            default_retry: None,
            rate_limit: None,
        }
    }

    /// Adds a required parameter.
    pub fn param(mut self, name: &str, ty: Type, description: &str) -> ActionSpec {
        self.params.push(ParamSpec {
            name: name.to_string(),
            ty,
            required: true,
            description: description.to_string(),
        });
        self
    }

    /// Adds an optional parameter.
    pub fn optional(mut self, name: &str, ty: Type, description: &str) -> ActionSpec {
        self.params.push(ParamSpec {
            name: name.to_string(),
            ty,
            required: false,
            description: description.to_string(),
        });
        self
    }

    /// Marks the action as having side effects.
    pub fn effectful(mut self) -> ActionSpec {
        self.side_effects = true;
        self
    }

    /// Declares database access.
    pub fn accesses(mut self, access: Access) -> ActionSpec {
        self.access = Some(access);
        self
    }

    /// Sets the default retry policy.
    pub fn retry(mut self, retry: RetrySpec) -> ActionSpec {
        self.default_retry = Some(retry);
        self
    }

    /// Sets the rate limit.
    pub fn rate_limited(mut self, limit: RateLimit) -> ActionSpec {
        self.rate_limit = Some(limit);
        self
    }

    /// The parameter called `name`.
    pub fn param_spec(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// One parameter of an action.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The argument name used in calls.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Whether a call must give it.
    pub required: bool,
    /// One line for docs.
    pub description: String,
}

/// A retry policy: `attempts` in all, exponential backoff from `min` to `max`, full jitter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrySpec {
    /// Attempts in all, the first included (so `retry 3` means up to 3 attempts).
    pub attempts: u32,
    /// The first delay.
    #[serde(with = "millis")]
    pub min: Duration,
    /// The largest delay.
    #[serde(with = "millis")]
    pub max: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Full jitter: each delay is uniform in `[0, computed]`.
    pub jitter: bool,
    /// Classes that are retried.
    pub on: Vec<ErrorClass>,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            attempts: 1,
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            factor: 2.0,
            jitter: true,
            on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
        }
    }
}

impl RetrySpec {
    /// The delay before attempt `attempt + 1` without jitter (attempt is 1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1) as i32);
        let ms = (self.min.as_millis() as f64 * exp).min(self.max.as_millis() as f64);
        Duration::from_millis(ms as u64)
    }
}

/// Average requests per second, with bursts up to `burst`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained rate.
    pub per_second: f64,
    /// Largest burst.
    pub burst: u32,
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
