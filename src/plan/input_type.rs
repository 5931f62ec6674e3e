//! The types of a flow's input, as the runtime validates JSON against them.

use serde::{Deserialize, Serialize};

use super::expr::Expr;

/// An input field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputField {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: InputType,
    /// Its default (a constant expression).
    pub default: Option<Expr>,
}

/// A field's type: a shape, possibly optional (`T?`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputType {
    /// The shape.
    pub shape: Shape,
    /// Written `T?`: `none` is allowed.
    pub optional: bool,
}

/// Type shapes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `text`
    Text,
    /// `email`
    Email,
    /// `number`
    Number,
    /// `bool`
    Bool,
    /// `date`
    Date,
    /// `datetime`
    Datetime,
    /// `duration`
    Duration,
    /// `any`: the JSON as it is.
    Any,
    /// `[T]`
    List(Box<InputType>),
    /// `{ a: T }`
    Record(Vec<InputField>),
}

impl Shape {
    /// The shape a written type name stands for.
    pub fn named(name: &str) -> Option<Shape> {
        Some(match name {
            "text" => Shape::Text,
            "email" => Shape::Email,
            "number" => Shape::Number,
            "bool" => Shape::Bool,
            "date" => Shape::Date,
            "datetime" => Shape::Datetime,
            "duration" => Shape::Duration,
            "any" => Shape::Any,
            _ => return None,
        })
    }
}
