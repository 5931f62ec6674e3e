//! The `notion` connector.

mod manifest;

pub use manifest::{manifest, page_type};
