//! The `http` connector.

mod manifest;

pub use manifest::manifest;
