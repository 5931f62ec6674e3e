//! The `http` connector: JSON requests to hosts allowed in `flowc.toml`.

mod allow_list;
mod connector;
mod manifest;
pub(crate) mod status;

pub use connector::HttpConnector;
pub use manifest::manifest;
