//! The `notion` connector.

mod manifest;
pub mod schema;

pub use manifest::{manifest, page_type};
