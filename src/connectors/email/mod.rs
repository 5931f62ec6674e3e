//! The `email` connector.

mod manifest;

pub use manifest::manifest;
