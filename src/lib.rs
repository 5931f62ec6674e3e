//! flowc: a declarative workflow language with its checker, compiler and embeddable runtime.
//!
//! The pipeline, one module per stage: [`syntax`] (grammar → AST) → `check` (diagnostics) →
//! `plan` (a petgraph DAG) → `runtime` (the engine) calling [`connectors`].

#![deny(missing_docs)]

pub mod connectors;
pub mod diagnostic;
pub mod syntax;
pub mod types;
pub mod value;
