//! The flow's `input` block: its fields' types (the type of `input`), fields declared twice
//! (E0200) and defaults of another type than their field (E0300).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Span;
use crate::types::{Field, Type};

use super::flow::FlowChecker;
use super::type_expr;

impl FlowChecker<'_, '_> {
    /// Works out the type of `input` and checks its fields.
    pub fn check_input(&mut self) {
        let Some(input) = &self.flow.input else {
            // Without an `input` block the trigger's payload (a webhook body, a Notion page, an
            // event) is read as it comes: any field may be there.
            self.input_type = Rc::new(Type::open_record([]));
            return;
        };
        let mut report = Some((&mut *self.diagnostics, self.file));
        let mut fields = BTreeMap::new();
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        let mut declared = Vec::new();
        for field in &input.fields {
            let ty = type_expr::to_type(&field.ty, &mut report);
            declared.push(ty.clone());
            if let Some(span) = first.get(field.name.name.as_str()) {
                if let Some((d, file)) = &mut report {
                    d.push(
                        Diagnostic::new(
                            Code::DuplicateName,
                            *file,
                            field.name.span,
                            format!("input field `{}` is declared twice", field.name.name),
                        )
                        .label("second declaration")
                        .with(*span, "first declared here")
                        .help("remove one of them or rename it"),
                    );
                }
                continue;
            }
            first.insert(&field.name.name, field.name.span);
            // A field with a default is never none when read (only absent when called).
            let optional = field.ty.optional;
            let value_ty = if field.ty.optional { Type::optional(ty) } else { ty };
            fields.insert(
                field.name.name.clone(),
                Field {
                    ty: value_ty,
                    optional,
                },
            );
        }
        self.input_type = Rc::new(Type::Record { fields, open: false });
        for (field, ty) in input.fields.iter().zip(declared) {
            if let Some(default) = &field.default {
                let found = self.infer(default);
                if !found.assignable_to(&ty) {
                    self.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            self.file,
                            default.span,
                            format!(
                                "default of `{}` is `{found}`, but the field is `{ty}`",
                                field.name.name
                            ),
                        )
                        .label(format!("`{found}`"))
                        .help(if found == Type::Null {
                            format!(
                                "to allow none, declare the field optional: `{}: {ty}?`",
                                field.name.name
                            )
                        } else {
                            format!("give a `{ty}` default or change the field's type")
                        }),
                    );
                }
            }
        }
    }
}
