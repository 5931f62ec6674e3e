//! Syntax: the grammar (`grammar/flow.pest`), the AST and the parser.

pub mod ast;
mod parser;
mod span;

pub use parser::parse;

pub use span::{line_col, Span};
