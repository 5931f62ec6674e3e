//! The compiler: a flow lowered to a plan, a petgraph DAG the runtime executes.

mod graph;
mod hash;
mod lower;
mod names;
#[allow(clippy::module_inception)]
mod plan;

pub use graph::{to_dot, to_mermaid};
pub use hash::{content_hash, to_json};
pub use lower::{compile, compile_with, PlanError};
pub use plan::*;
