//! The compiler: a checked flow lowered to a plan, a span-less petgraph DAG the runtime executes,
//! with its triggers, so that a host can run from plans alone.

mod block_graph;
mod builtin;
mod compile;
mod diff;
mod expr;
mod graph;
mod hash;
mod input_type;
mod lower;
mod lower_expr;
mod names;
#[allow(clippy::module_inception)]
mod plan;
mod step_path;
mod strftime;
mod trigger;

pub use crate::time_zone::Zone;
pub use builtin::Builtin;
pub use compile::{compile, compile_project, compile_with, CompiledFlow, PlanError};
pub use diff::{diff, flows_of, FlowDiff, FlowStatus, Flows};
pub use expr::{BinaryOp, Computed, Expr, FormatDate, Name, Part, Pattern, UnaryOp};
pub(crate) use graph::describe;
pub use graph::{to_dot, to_mermaid};
pub use hash::{content_hash, to_json};
pub use input_type::{InputField, InputType, Shape};
#[cfg(test)]
pub(crate) use lower_expr::expr_from_source;
pub(crate) use lower_expr::lower_free;
pub use plan::*;
pub use step_path::StepPath;
pub use strftime::Strftime;
pub use trigger::{NotionChange, Trigger, WebhookAuth};
