//! Which entities a call acts for, known before the flow runs (E0601 is reported by the call when
//! they are not): an entity's name, the flow's `entity`, a `let` or loop variable over them.

use crate::syntax::ast::{Expr, ExprKind, Pattern};
use crate::syntax::Span;

use super::flow::FlowChecker;
use super::scope::DeclKind;

/// How deep `let` and loop indirections are followed (a cycle of lets must not loop forever).
const MAX_DEPTH: u32 = 16;

impl<'a> FlowChecker<'_, 'a> {
    /// The entities `expr` can be, with where each is named; `None` when not statically known.
    pub fn static_entities(&self, expr: &'a Expr, depth: u32) -> Option<Vec<(&'a str, Span)>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match &expr.kind {
            ExprKind::Name(name) => {
                if let Some(local) = self.locals.iter().rev().find(|l| l.name == name) {
                    return self.static_entities(local.over?, depth + 1);
                }
                if let Some(&index) = self.scope.by_name.get(name.as_str()) {
                    return match self.scope.decls[index].kind {
                        DeclKind::Let(l) => self.static_entities(&l.value, depth + 1),
                        DeclKind::Step(_) => None,
                    };
                }
                if name == "entity" {
                    return self.entity.map(|e| vec![(e.name.name.as_str(), expr.span)]);
                }
                if let Some((_, e)) = self.cx.entities.get(name.as_str()) {
                    return Some(vec![(e.name.name.as_str(), expr.span)]);
                }
                None
            }
            ExprKind::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.static_entities(item, depth + 1)?);
                }
                Some(out)
            }
            ExprKind::If(_, a, b) => {
                let mut out = self.static_entities(a, depth + 1)?;
                out.extend(self.static_entities(b, depth + 1)?);
                Some(out)
            }
            ExprKind::Match(_, arms) => {
                let mut out = Vec::new();
                for (pattern, arm) in arms {
                    let _: &Pattern = pattern;
                    out.extend(self.static_entities(arm, depth + 1)?);
                }
                Some(out)
            }
            _ => None,
        }
    }
}
