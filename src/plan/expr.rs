//! Plan expressions: span-less, every name resolved to what it means, every built-in chosen, and
//! date formats compiled. This is what the runtime evaluates; it never sees the syntax tree.

use serde::{Deserialize, Serialize};

use super::builtin::Builtin;
use super::strftime::Strftime;
use crate::time_zone::Zone;

/// An expression of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// `none`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A whole number, exact.
    Int(i64),
    /// Any other number.
    Number(f64),
    /// A duration in milliseconds.
    Duration(i64),
    /// Text without interpolation.
    Text(String),
    /// Text with `{{ expr }}` parts.
    Interpolate(Vec<Part>),
    /// A name.
    Name(Name),
    /// `name.a.b`: fields read in place, without copying the whole value.
    Path(Name, Vec<String>),
    /// `value.field` on anything but a name.
    Field(Box<Expr>, String),
    /// `value[index]`
    Index(Box<Expr>, Box<Expr>),
    /// A built-in function call.
    Call(Builtin, Vec<Expr>),
    /// `format_date(value, format, zone)` with its format compiled.
    FormatDate(Box<FormatDate>),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{ a: 1 }`, fields in the order written.
    Record(Vec<(String, Expr)>),
    /// `not x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c { a } else { b }`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `match v { p => e, ... }`
    Match(Box<Expr>, Vec<(Pattern, Expr)>),
}

/// A piece of interpolated text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Literal text.
    Text(String),
    /// `{{ expr }}`
    Expr(Expr),
}

/// What a name refers to, decided at compile time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Name {
    /// A step, `let` or loop variable of the block or an enclosing one.
    Local(String),
    /// `input`: the instance's input record.
    Input,
    /// `entity`: the flow's entity (name, title, settings).
    Entity,
    /// `error`: the failure being handled (`on error` only).
    Error,
    /// `event`: the payload tested by a `wait for event ... where` filter.
    Event,
    /// Another entity of the project, by name.
    EntityNamed(String),
    /// A logical database, by name (its value is the name).
    Database(String),
}

impl Name {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        match self {
            Name::Local(n) | Name::EntityNamed(n) | Name::Database(n) => n,
            Name::Input => "input",
            Name::Entity => "entity",
            Name::Error => "error",
            Name::Event => "event",
        }
    }
}

/// `format_date(value, format, zone)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormatDate {
    /// The date or date-time.
    pub value: Expr,
    /// The strftime format.
    pub format: Computed<Strftime>,
    /// The IANA time zone the date-time is shown in (default: its own offset).
    pub zone: Option<Computed<Zone>>,
}

/// An argument known at compile time (and then validated there), or computed when it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Computed<T> {
    /// Written as a literal: validated and compiled.
    Fixed(T),
    /// An expression: validated when evaluated.
    Expr(Expr),
}

/// A match pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// `_`
    Wildcard,
    /// One or more literals separated by `|`.
    Literals(Vec<Expr>),
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `??`
    Default,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `in`
    In,
}

impl Expr {
    /// The text, if this is text without interpolation.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Expr::Text(t) => Some(t),
            _ => None,
        }
    }
}
