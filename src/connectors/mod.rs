//! Connectors: the pluggable integrations steps call (Notion, email, survey, http, ...).
//!
//! Each connector publishes a [`Manifest`] of its actions; the checker types steps from the same
//! manifests the runtime executes with, so a flow that checks cannot call an action wrongly.

mod builtin;
mod connector;
pub mod email;
pub mod faults;
mod grants;
pub mod http;
mod keyed_log;
mod manifest;
pub mod notion;
mod registry;
pub mod survey;

pub use builtin::{builtin_manifests, DeclaredOnly};
pub use connector::{ActionCall, Connector, ConnectorError, ErrorClass};
pub use grants::Grants;
pub use manifest::{Access, ActionSpec, Manifest, ParamSpec, RateLimit, RetrySpec};
pub use registry::Registry;
