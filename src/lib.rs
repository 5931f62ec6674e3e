//! flowc: a declarative workflow language with its checker, compiler and embeddable runtime.
//!
//! The pipeline, one module per stage: [`syntax`] (grammar → AST) → [`check`] (diagnostics) →
//! [`plan`] (a petgraph DAG) → [`runtime`] (the engine) calling [`connectors`].

#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod contract;
pub mod diagnostic;
pub(crate) mod flowtest;
pub mod lsp;
pub(crate) mod parallel;
pub mod plan;
pub mod project;
pub mod runtime;
pub mod serve;
pub mod store;
pub mod syntax;
pub(crate) mod time_zone;
pub mod types;
pub mod value;

pub use check::check;
pub use connectors::{Connector, Registry};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use plan::compile;
pub use project::Project;
pub use runtime::Engine;
pub use syntax::{format, parse};
