//! Error classes: how a failed action is treated by retry policies. Connectors classify their
//! failures into them; flows name them in `retry ... on transient`; the checker knows the names.

use serde::{Deserialize, Serialize};

/// How a failure should be treated by retry policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Worth retrying: timeouts, 5xx, connection failures.
    Transient,
    /// The service asked us to slow down; honour `retry_after` when given.
    RateLimited,
    /// Retrying cannot help: validation errors, 4xx, a rejected recipient.
    Permanent,
}

impl ErrorClass {
    /// The name used in `.flow` files (`retry 3 on transient`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Permanent => "permanent",
        }
    }

    /// The class named `name` in a `.flow` file.
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        match name {
            "transient" => Some(ErrorClass::Transient),
            "rate_limited" => Some(ErrorClass::RateLimited),
            "permanent" => Some(ErrorClass::Permanent),
            _ => None,
        }
    }

    /// Every class, in the order the docs list them.
    pub const ALL: [ErrorClass; 3] = [
        ErrorClass::Transient,
        ErrorClass::RateLimited,
        ErrorClass::Permanent,
    ];
}
