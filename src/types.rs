//! The static types the checker reasons with and connector manifests declare.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A static type.
///
/// `Any` is the escape hatch for values whose shape is not known before run time (e.g. an http
/// response body); it is compatible with everything, so it never produces a false error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Type {
    /// Unknown shape: compatible with every type.
    Any,
    /// `none` only.
    Null,
    /// `bool`.
    Bool,
    /// `number`.
    Number,
    /// `text`.
    Text,
    /// `email`: text that must be an address (text is accepted where email is expected).
    Email,
    /// `date`.
    Date,
    /// `datetime`.
    Datetime,
    /// `duration`.
    Duration,
    /// `[T]`.
    List {
        /// Element type.
        of: Box<Type>,
    },
    /// `{ a: T, ... }`; `open` records may have more fields than listed.
    Record {
        /// Known fields.
        fields: BTreeMap<String, Field>,
        /// Whether unknown fields are allowed (e.g. a Notion page's properties).
        open: bool,
    },
    /// `T?`: the value may be `none`.
    Optional {
        /// The type when present.
        of: Box<Type>,
    },
    /// A logical Notion database name declared by an entity (`ContactProfile`).
    Database,
    /// One of the project's entities (`the_7_space`).
    Entity,
    /// The name of a notification template (a string literal checked against `template` declarations).
    Template,
}

/// A field of a record type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Whether the field may be absent.
    #[serde(default)]
    pub optional: bool,
}

impl Type {
    /// `[of]`.
    pub fn list(of: Type) -> Type {
        Type::List { of: Box::new(of) }
    }

    /// `of?`.
    pub fn optional(of: Type) -> Type {
        match of {
            Type::Optional { .. } | Type::Any | Type::Null => of,
            other => Type::Optional { of: Box::new(other) },
        }
    }

    /// A closed record from `(name, type)` pairs (all required).
    pub fn record<'a>(fields: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Record {
            fields: fields
                .into_iter()
                .map(|(k, ty)| (k.to_string(), Field { ty, optional: false }))
                .collect(),
            open: false,
        }
    }

    /// An open record: listed fields are known, others are allowed and typed `Any`.
    pub fn open_record<'a>(fields: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        match Type::record(fields) {
            Type::Record { fields, .. } => Type::Record { fields, open: true },
            other => other,
        }
    }

    /// The type without its optional wrapper.
    pub fn strip_optional(&self) -> &Type {
        match self {
            Type::Optional { of } => of,
            other => other,
        }
    }

    /// Whether a value of type `self` may be used where `expected` is wanted.
    pub fn assignable_to(&self, expected: &Type) -> bool {
        use Type::*;
        match (self, expected) {
            (Any, _) | (_, Any) => true,
            (Null, Optional { .. }) => true,
            (Optional { of: a }, Optional { of: b }) => a.assignable_to(b),
            // An optional where a value is required is allowed: a missing value fails at run
            // time with a clear error, and `??` exists to give a default. Rejecting it would
            // force a default on every Notion property, which users would hate.
            (Optional { of }, b) => of.assignable_to(b),
            (a, Optional { of }) => a.assignable_to(of),
            (Email, Text) | (Text, Email) => true,
            (Text, Database | Entity | Template) => true,
            (Date, Datetime) => true,
            (List { of: a }, List { of: b }) => a.assignable_to(b),
            (
                Record {
                    fields: have,
                    open: _,
                },
                Record {
                    fields: want,
                    open: want_open,
                },
            ) => {
                want.iter().all(|(name, field)| match have.get(name) {
                    Some(h) => h.ty.assignable_to(&field.ty),
                    None => field.optional,
                }) && (*want_open || have.keys().all(|k| want.contains_key(k)))
            }
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => write!(f, "any"),
            Type::Null => write!(f, "none"),
            Type::Bool => write!(f, "bool"),
            Type::Number => write!(f, "number"),
            Type::Text => write!(f, "text"),
            Type::Email => write!(f, "email"),
            Type::Date => write!(f, "date"),
            Type::Datetime => write!(f, "datetime"),
            Type::Duration => write!(f, "duration"),
            Type::List { of } => write!(f, "[{of}]"),
            Type::Record { fields, open } => {
                write!(f, "{{")?;
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    let q = if field.optional { "?" } else { "" };
                    write!(f, " {name}: {}{q}", field.ty)?;
                }
                if *open {
                    write!(f, "{}..", if fields.is_empty() { " " } else { ", " })?;
                }
                write!(f, " }}")
            }
            Type::Optional { of } => write!(f, "{of}?"),
            Type::Database => write!(f, "database"),
            Type::Entity => write!(f, "entity"),
            Type::Template => write!(f, "template"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignability() {
        assert!(Type::Text.assignable_to(&Type::Email));
        assert!(!Type::Number.assignable_to(&Type::Text));
        assert!(Type::Null.assignable_to(&Type::optional(Type::Text)));
        assert!(!Type::Null.assignable_to(&Type::Text));
        let have = Type::record([("a", Type::Text), ("b", Type::Number)]);
        assert!(have.assignable_to(&Type::open_record([("a", Type::Text)])));
        assert!(!have.assignable_to(&Type::record([("a", Type::Text)])));
        assert!(!Type::list(Type::Text).assignable_to(&Type::list(Type::Number)));
    }
}
