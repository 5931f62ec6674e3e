//! The `Connector` trait: what a host implements to give flows a new integration.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{IdempotencyKey, Manifest};
use crate::contract::ErrorClass;
use crate::plan::StepPath;
use crate::value::Value;

/// One call of an action, with everything a connector needs to make it safe to retry.
#[derive(Clone, Debug, Default)]
pub struct ActionCall {
    /// The action's name within the connector (`send`, `create_page`).
    pub action: Arc<str>,
    /// Named arguments, already evaluated.
    pub args: BTreeMap<String, Value>,
    /// The entity the call acts for: the flow's own, or the one named by an `entity:` argument.
    pub entity: Arc<str>,
    /// The entity whose flow makes the call (for a sub-flow, its caller's): what grants are
    /// checked against when `entity` is another one.
    pub flow_entity: Arc<str>,
    /// The instance making the call.
    pub instance: Arc<str>,
    /// The step making the call.
    pub step: StepPath,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The same on every attempt of the same step of the same instance (and fan-out item), so a
    /// connector can make its side effect happen at most once.
    pub idempotency_key: IdempotencyKey,
}

impl ActionCall {
    /// The argument `name`, or `Null` when absent.
    pub fn arg(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.args.get(name).unwrap_or(&NULL)
    }

    /// The text a channel sends: with a `template:`, the engine rendered the template's `part`
    /// (`sms`, `slack`) into the argument of that name; without one, the literal argument
    /// `literal` (`body`, `text`).
    pub(crate) fn message_text(&self, part: &str, literal: &str) -> Result<&str, ConnectorError> {
        match self.arg("template").as_str() {
            Some(template) => self.arg(part).as_str().ok_or_else(|| {
                ConnectorError::permanent(format!("template `{template}` has no `{part}` part"))
            }),
            None => self
                .arg(literal)
                .as_str()
                .ok_or_else(|| ConnectorError::permanent(format!("`{literal}` must be text"))),
        }
    }
}

/// A classified failure of an action.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorError {
    /// How retry policies treat it.
    pub class: ErrorClass,
    /// What went wrong, for people.
    pub message: String,
    /// How long the service asked us to wait (from `Retry-After`).
    pub retry_after: Option<Duration>,
    /// Structured details (e.g. Notion's `code` and `request_id`).
    pub details: Value,
}

impl ConnectorError {
    /// A failure of `class` with `message`.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> ConnectorError {
        ConnectorError {
            class,
            message: message.into(),
            retry_after: None,
            details: Value::Null,
        }
    }

    /// A transient failure.
    pub fn transient(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorClass::Transient, message)
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorClass::Permanent, message)
    }

    /// A rate-limit failure, with the wait the service asked for.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> ConnectorError {
        ConnectorError {
            retry_after,
            ..ConnectorError::new(ErrorClass::RateLimited, message)
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> ConnectorError {
        self.details = details;
        self
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.class.name(), self.message)
    }
}

impl std::error::Error for ConnectorError {}

/// An error and its sources on one line: client libraries' own messages often hide the cause
/// ("error sending request") that tells an operator what to fix.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An integration that steps can call.
///
/// Implementations must be cheap to share (`Arc<dyn Connector>`) and safe to call concurrently.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector's actions, parameters and output shapes.
    fn manifest(&self) -> &Manifest;

    /// Performs one attempt of an action.
    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError>;

    /// `true` when the connector keeps to its service's rate limit itself (with the rate
    /// configured in flowc.toml); the engine then does not pace its calls by the manifest's
    /// `rate_limit` as well.
    fn paces_itself(&self) -> bool {
        false
    }

    /// The engine's store keeps effect logs ([`Store::keeps_effects`]): a connector that
    /// records what it did by idempotency key (email, survey, sms, slack) keeps that record
    /// there from now on instead of in its files, so another host sharing the store sees it.
    /// Called once, before the first call.
    ///
    /// [`Store::keeps_effects`]: crate::runtime::Store::keeps_effects
    fn keep_effects_in(&self, _store: std::sync::Arc<dyn crate::runtime::Store>) {}
}
