//! Values that may be none: a step or let declared in a block that may not run (an `if` branch,
//! a match arm, a fallback) or an optional input field, seen through the narrowing of
//! [`super::narrowing`]. The typing walk works out where a value may be none and records each
//! place where none fails at run time; [`check`] reports those (E0302) over the typed flow.

use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::Expr;
use crate::syntax::Span;
use crate::types::Type;

use super::flow::FlowChecker;
use super::outside_blocks::{Outside, OutsideUse};
use super::typed::TypedFlow;

/// A value of type `found` (optional, or none itself) given at `span` where `what` needs a value.
pub(crate) struct NoneUse {
    pub span: Span,
    pub found: Type,
    pub what: String,
    /// A name or field path, which `if x != none` can narrow.
    pub narrowable: bool,
}

impl FlowChecker<'_, '_> {
    /// The type of declaration `index` seen from where the walk is: none when it may not have
    /// run, and `any` when it exists only inside a fan-out or fallback the walk is not in (the
    /// use is recorded for [`super::outside_blocks`]).
    pub fn seen_from_here(&mut self, index: usize, span: Span, ty: Rc<Type>) -> Rc<Type> {
        let decl = &self.scope.decls[index];
        let outside = if let Some(fan_out) = decl
            .loops
            .iter()
            .find(|f| !self.loops.contains(&f.body.span.start))
        {
            Some(Outside::FanOut(&fan_out.var))
        } else {
            decl.fallbacks
                .iter()
                .find(|(b, _)| !self.branches.contains(b))
                .map(|&(_, owner)| Outside::Fallback(owner))
        };
        if let Some(block) = outside {
            if self.quiet == 0 {
                self.outside_uses.push(OutsideUse { index, span, block });
            }
            return Rc::new(Type::Any);
        }
        if self.unsafe_handler_read(index, span) {
            return ty;
        }
        let decl = &self.scope.decls[index];
        let inside = |b: &u32| {
            self.branches.contains(b) || self.same_branch.get(b).is_some_and(|f| self.branches.contains(f))
        };
        if !decl.branches.iter().all(inside) {
            return Rc::new(Type::optional((*ty).clone()));
        }
        ty
    }

    /// Records `found`, the type of `expr`, given where none fails at run time (`what`), for
    /// [`check`].
    pub fn maybe_none(&mut self, expr: &Expr, found: &Type, what: &str) {
        if !matches!(found, Type::Optional { .. } | Type::Null) || self.quiet > 0 {
            return;
        }
        self.none_uses.push(NoneUse {
            span: expr.span,
            found: found.clone(),
            what: what.to_string(),
            narrowable: super::narrowing::key(expr, self.source).is_some(),
        });
    }
}

/// E0302, a pass over the typed flow: each value that may be none given where none fails at run
/// time.
pub(crate) fn check(typed: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    for used in &typed.none_uses {
        let NoneUse {
            span,
            found,
            what,
            narrowable,
        } = used;
        let text = typed.source.get(span.range()).unwrap_or("").trim();
        let shown = if text.is_empty() || text.len() > 40 || text.contains('\n') {
            "this value".to_string()
        } else {
            format!("`{text}`")
        };
        let help = if matches!(found, Type::Null) {
            "give a value here".to_string()
        } else if *narrowable {
            format!("give a default with `{text} ?? ...`, or test it first: `if {text} != none {{ ... }}`")
        } else {
            "give a default with `?? ...`".to_string()
        };
        diagnostics.push(
            Diagnostic::new(
                Code::MaybeNone,
                typed.file,
                *span,
                format!("{shown} may be none, but {what} needs a value"),
            )
            .label(format!("this is `{found}`"))
            .help(help),
        );
    }
}
