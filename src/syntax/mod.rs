//! Syntax: the grammar (`grammar/flow.pest`), the AST, the parser and the formatter.

pub mod ast;
mod comments;
mod descent;
mod fmt;
mod lexical;
mod parser;
mod recovery;
mod span;
mod unquoted;

pub use comments::{comments, Comment};
pub use fmt::{format, print};
pub(crate) use parser::written_duration;
pub use parser::{parse, parse_recovering, Parsed};
pub use recovery::LostNames;

pub use span::{line_col, Span};
