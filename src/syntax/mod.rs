//! Syntax: the grammar (`grammar/flow.pest`), the AST, the parser and the formatter.

pub mod ast;
mod comments;
mod fmt;
mod parser;
mod span;

pub use comments::{comments, Comment};
pub use fmt::{format, print};
pub use parser::parse;

pub use span::{line_col, Span};
