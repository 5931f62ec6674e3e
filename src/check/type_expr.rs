//! Written types (`text?`, `[email]`, `{ id: text }`) to checker [`Type`]s, reporting unknown
//! type names (E0213).

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{FieldDecl, TypeExpr, TypeExprKind};
use crate::types::{Field, Type};

use super::suggest;

/// The type names a `.flow` file may write.
pub(crate) const TYPE_NAMES: &[&str] = &[
    "text", "email", "number", "bool", "date", "datetime", "duration", "any",
];

fn named(name: &str) -> Option<Type> {
    Some(match name {
        "text" => Type::Text,
        "email" => Type::Email,
        "number" => Type::Number,
        "bool" => Type::Bool,
        "date" => Type::Date,
        "datetime" => Type::Datetime,
        "duration" => Type::Duration,
        "any" => Type::Any,
        _ => return None,
    })
}

/// Common names from other languages and what to write instead.
fn translation(name: &str) -> Option<&'static str> {
    Some(match name {
        "string" | "str" | "String" => "text",
        "int" | "integer" | "float" | "i32" | "i64" | "f64" | "decimal" => "number",
        "boolean" | "Bool" => "bool",
        "timestamp" | "time" => "datetime",
        _ => return None,
    })
}

/// Converts `ty`; with `report`, pushes E0213 for unknown names (which become `any`).
pub(crate) fn to_type(ty: &TypeExpr, report: &mut Option<(&mut Diagnostics, FileId)>) -> Type {
    let inner = match &ty.kind {
        TypeExprKind::Named(ident) => match named(&ident.name) {
            Some(t) => t,
            None => {
                if let Some((diagnostics, file)) = report {
                    let help = match translation(&ident.name) {
                        Some(t) => format!("write `{t}`"),
                        None => suggest::help_or(&ident.name, TYPE_NAMES.iter().copied(), || {
                            format!(
                                "types are {}, `[T]` lists and `{{ field: T }}` records",
                                suggest::list(TYPE_NAMES)
                            )
                        }),
                    };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::UnknownType,
                            *file,
                            ident.span,
                            format!("unknown type `{}`", ident.name),
                        )
                        .label("not a type")
                        .help(help),
                    );
                }
                Type::Any
            }
        },
        TypeExprKind::List(of) => Type::list(to_type(of, report)),
        TypeExprKind::Record(fields) => record_type(fields, report),
    };
    if ty.optional {
        Type::optional(inner)
    } else {
        inner
    }
}

/// A closed record of `fields`; a field is optional when its type is `T?` or it has a default.
pub(crate) fn record_type(fields: &[FieldDecl], report: &mut Option<(&mut Diagnostics, FileId)>) -> Type {
    let mut out = BTreeMap::new();
    for field in fields {
        let ty = to_type(&field.ty, report);
        out.entry(field.name.name.clone()).or_insert(Field {
            optional: field.ty.optional || field.default.is_some(),
            ty,
        });
    }
    Type::Record {
        fields: out,
        open: false,
    }
}
