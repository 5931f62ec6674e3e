//! Email addresses (E0304): where an `email` is expected, text passes only as a literal that is
//! a valid address; other text may hold anything and would fail when the message is sent.

use std::str::FromStr;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Expr, ExprKind};
use crate::types::Type;

use super::flow::FlowChecker;

/// Whether `text` is one email address (`a@b.example`, or `Name <a@b.example>`).
pub(crate) fn is_address(text: &str) -> bool {
    let text = text.trim();
    let bare = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => &text[open + 1..text.len() - 1],
        _ => text,
    };
    lettre::Address::from_str(bare).is_ok()
}

impl<'a> FlowChecker<'_, 'a> {
    /// E0304 for `value` (of type `found`) given to parameter `param` of type `expected`.
    pub fn check_email(&mut self, value: &'a Expr, expected: &Type, found: &Type, param: &str) {
        match (expected.strip_optional(), found.strip_optional()) {
            (Type::Email, Type::Text) => self.email_value(value, param),
            (Type::List { of }, Type::List { .. }) if *of.strip_optional() == Type::Email => {
                if let ExprKind::List(items) = &value.kind {
                    for item in items {
                        let ty = self.quiet_type(item);
                        if ty.strip_optional() == &Type::Text {
                            self.email_value(item, param);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn email_value(&mut self, value: &'a Expr, param: &str) {
        let diagnostic = match value.as_plain_str() {
            Some(text) if is_address(&text) => return,
            Some(text) => Diagnostic::new(
                Code::NotAnEmail,
                self.file,
                value.span,
                format!("`{text}` is not a valid email address"),
            )
            .label("not an address")
            .help("write an address such as `\"team@studio.example\"`"),
            None => Diagnostic::new(
                Code::NotAnEmail,
                self.file,
                value.span,
                format!("argument `{param}` needs an `email`, found `text`"),
            )
            .label("this text may not be an address")
            .help("pass a value typed `email`: declare the input field as `email` (checked when the flow starts), or write a literal address"),
        };
        self.push(diagnostic);
    }

    /// The type of `expr` without reporting or recording anything (it was walked already).
    pub fn quiet_type(&mut self, expr: &'a Expr) -> Type {
        let mark = self.captured.len();
        let saved = self.current.take();
        self.quiet += 1;
        let ty = self.infer(expr);
        self.quiet -= 1;
        self.current = saved;
        self.captured.truncate(mark);
        ty
    }
}
