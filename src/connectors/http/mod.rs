//! The `http` connector: JSON requests to hosts allowed in `flowc.toml`.

mod allow_list;
mod connector;
pub(crate) mod status;

pub use crate::contract::manifests::http::manifest;
pub use connector::HttpConnector;
