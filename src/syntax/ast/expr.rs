//! Expressions: literals (numbers kept exact), names and paths, operators, calls, records,
//! lists and interpolated strings.

use serde::{Deserialize, Serialize};

use super::*;

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// A number literal as written: a whole number is kept exactly as a 64-bit integer (an order id
/// such as `820982911946154508` must not lose its last digits to a double), one with a fraction
/// as a double.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Num {
    /// Written without a fraction: `42`.
    Int(i64),
    /// Written with a fraction: `2.5`, `2.0`.
    Float(f64),
}

impl Num {
    /// The value as a double (exact for integers up to 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// Below zero (a negative literal reads as `-` applied to a number).
    pub fn is_negative(self) -> bool {
        match self {
            Num::Int(i) => i < 0,
            Num::Float(f) => f.is_sign_negative(),
        }
    }

    /// The literal with its sign flipped; `None` only for the one integer without a positive
    /// counterpart, which cannot be written as a literal anyway.
    pub fn negated(self) -> Option<Num> {
        match self {
            Num::Int(i) => i.checked_neg().map(Num::Int),
            Num::Float(f) => Some(Num::Float(-f)),
        }
    }
}

impl std::fmt::Display for Num {
    /// As `flowc fmt` writes it: an integer in full, a double with its fraction (a whole double
    /// keeps `.0`, so formatting never turns one kind into the other).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) if x.fract() == 0.0 && x.is_finite() => write!(f, "{x:.1}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Expression kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExprKind {
    /// `none`
    None,
    /// `true` / `false`
    Bool(bool),
    /// `42`, `2.5`
    Number(Num),
    /// `2d` in milliseconds
    Duration(i64),
    /// A string; interpolations are `{{ expr }}` parts. Triple-quoted strings have one text part.
    Str(Vec<StrPart>),
    /// A name: an input, step, let, loop variable, entity, database, or `input`/`entity`/`error`.
    Name(String),
    /// `value.field`
    Field(Box<Expr>, Ident),
    /// `value[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `function(args)` (built-ins only)
    Call(Ident, Vec<Expr>),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{ a: 1, b }`
    Record(Vec<RecordField>),
    /// `not x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c { a } else { b }`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `match v { p => e, ... }`
    Match(Box<Expr>, Vec<(Pattern, Expr)>),
}

impl Expr {
    /// The name, if this is a bare name.
    pub fn as_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(n) => Some(n),
            _ => None,
        }
    }

    /// The text, if this is a string without interpolation.
    pub fn as_plain_str(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Str(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        StrPart::Text(t) => out.push_str(t),
                        StrPart::Expr(_) => return None,
                    }
                }
                Some(out)
            }
            _ => None,
        }
    }
}

/// `{ name: value }` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordField {
    /// The field name (an identifier or a quoted string such as `"Full Name"`).
    pub name: Ident,
    /// The value.
    pub value: Expr,
    /// Written as `{ name }` alone.
    pub shorthand: bool,
}

/// A piece of a string literal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StrPart {
    /// Literal text (escapes resolved).
    Text(String),
    /// `{{ expr }}`
    Expr(Expr),
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// `??`: the left value unless it is `none`
    Default,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `in`: membership in a list or text
    In,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Default => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::In => "in",
        }
    }
}
