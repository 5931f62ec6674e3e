//! The `survey` connector.

mod manifest;

pub use manifest::manifest;
