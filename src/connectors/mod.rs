//! Connectors: the pluggable integrations steps call (Notion, email, survey, http, ...).
//!
//! Each connector publishes a [`Manifest`] of its actions; the checker types steps from the same
//! manifests the runtime executes with, so a flow that checks cannot call an action wrongly.

mod connector;
mod manifest;
mod registry;

pub use connector::{ActionCall, Connector, ConnectorError, ErrorClass};
pub use manifest::{Access, ActionSpec, Manifest, ParamSpec, RateLimit, RetrySpec};
pub use registry::Registry;
