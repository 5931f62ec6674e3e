//! What conditions tell about values being none: `x != none` (and `and`, `or`, `not` around
//! it) narrows `x` in the branch it guards, and `if x == none { fail ... }` narrows it after.

use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Stmt, UnaryOp};
use crate::types::Type;

use super::flow::FlowChecker;

/// What a condition tells about values being none: the expressions that are not none when it is
/// true, and those that are not none when it is false.
#[derive(Default)]
pub(crate) struct Narrowing {
    pub when_true: Vec<String>,
    pub when_false: Vec<String>,
}

/// The key a name or field path is narrowed under (`input.phone`), spaces removed.
pub(crate) fn key(expr: &Expr, source: &str) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(_) | ExprKind::Field(..) => Some(
            source
                .get(expr.span.range())?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        ),
        _ => None,
    }
}

/// What `cond` says about none-ness.
pub(crate) fn narrowing(cond: &Expr, source: &str) -> Narrowing {
    let mut out = Narrowing::default();
    match &cond.kind {
        ExprKind::Binary(op @ (BinaryOp::Ne | BinaryOp::Eq), left, right) => {
            let tested = match (&left.kind, &right.kind) {
                (_, ExprKind::None) => key(left, source),
                (ExprKind::None, _) => key(right, source),
                _ => None,
            };
            if let Some(k) = tested {
                match op {
                    BinaryOp::Ne => out.when_true.push(k),
                    _ => out.when_false.push(k),
                }
            }
        }
        ExprKind::Binary(BinaryOp::And, left, right) => {
            out.when_true.extend(narrowing(left, source).when_true);
            out.when_true.extend(narrowing(right, source).when_true);
        }
        ExprKind::Binary(BinaryOp::Or, left, right) => {
            out.when_false.extend(narrowing(left, source).when_false);
            out.when_false.extend(narrowing(right, source).when_false);
        }
        ExprKind::Unary(UnaryOp::Not, inner) => {
            let inner = narrowing(inner, source);
            out.when_true = inner.when_false;
            out.when_false = inner.when_true;
        }
        _ => {}
    }
    out
}

/// What an `if` without `else` whose branch always stops the flow (`if x == none { fail ... }`)
/// tells the statements after it.
pub(crate) fn after_guard(stmt: &Stmt, source: &str) -> Vec<String> {
    let Stmt::If(i) = stmt else { return Vec::new() };
    if i.otherwise.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (cond, block) in &i.branches {
        if !matches!(block.stmts.last(), Some(Stmt::Fail(_))) {
            return Vec::new();
        }
        out.extend(narrowing(cond, source).when_false);
    }
    out
}

impl FlowChecker<'_, '_> {
    /// `ty` without its optional wrapper when `expr` was narrowed by an enclosing `!= none`.
    pub fn narrowed(&self, expr: &Expr, ty: Type) -> Type {
        if self.narrowed.is_empty() || !matches!(ty, Type::Optional { .. }) {
            return ty;
        }
        match key(expr, self.source) {
            Some(k) if self.narrowed.contains(&k) => ty.strip_optional().clone(),
            _ => ty,
        }
    }
}
