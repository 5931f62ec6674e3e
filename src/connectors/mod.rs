//! Connectors: the pluggable integrations steps call (Notion, email, survey, http, sms, slack, ...).
//!
//! Each connector publishes a [`Manifest`] of its actions: the contract (`crate::contract`) the
//! checker types steps from, so a flow that checks cannot call an action wrongly.

mod builtin;
mod connector;
pub mod email;
pub mod faults;
pub mod http;
mod idempotency_key;
mod keyed_log;
pub mod notification;
pub mod notion;
mod registry;
pub mod slack;
pub mod sms;
pub mod survey;
mod table;

pub use builtin::{builtin_manifests, DeclaredOnly};
pub use connector::{ActionCall, Connector, ConnectorError};
pub use idempotency_key::IdempotencyKey;
// The contract types, where the connectors and the runtime have always found them.
pub use crate::contract::{
    Access, ActionSpec, ErrorClass, Grants, Manifest, ParamSpec, RateLimit, RetrySpec,
};
pub use registry::Registry;
