//! Values that may be none: a step or let declared in a block that may not run (an `if` branch,
//! a match arm, a fallback), an optional input field; narrowing after `!= none`; and the steps of
//! a fan-out, which exist only inside it (E0303), and those of a fallback block (E0307).

use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Stmt, UnaryOp};
use crate::syntax::Span;
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

impl<'a> FlowChecker<'_, 'a> {
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

    /// The type of declaration `index` seen from where the walk is: none when it may not have
    /// run, and an error (E0303) when it is a step of a fan-out used outside that fan-out.
    pub fn seen_from_here(&mut self, index: usize, span: Span, ty: Rc<Type>) -> Rc<Type> {
        let decl = &self.scope.decls[index];
        if let Some(fan_out) = decl
            .loops
            .iter()
            .find(|f| !self.loops.contains(&f.body.span.start))
        {
            let (name, var, noun) = (decl.name.name.clone(), fan_out.var.name.clone(), decl.noun());
            let fan_out_span = fan_out.var.span;
            self.push(
                Diagnostic::new(
                    Code::OutsideFanOut,
                    self.file,
                    span,
                    format!("{noun} `{name}` runs once per item of a fan-out and does not exist outside it"),
                )
                .label("used outside its fan-out")
                .with(fan_out_span, format!("`{name}` runs once for each `{var}`"))
                .help(format!(
                    "end the fan-out's block with `yield {name}` and use the fan-out step's result: a list with one value per item"
                )),
            );
            return Rc::new(Type::Any);
        }
        if let Some(&(_, owner)) = decl.fallbacks.iter().find(|(b, _)| !self.branches.contains(b)) {
            let (name, noun, declared) = (decl.name.name.clone(), decl.noun(), decl.name.span);
            self.push(
                Diagnostic::new(
                    Code::OutsideFallback,
                    self.file,
                    span,
                    format!("{noun} `{name}` exists only inside the fallback of step `{}`", owner.name),
                )
                .label("used outside that fallback block")
                .with(declared, format!("runs only when step `{}` failed", owner.name))
                .help(format!(
                    "put what the rest of the flow needs in the fallback's `yield` (e.g. `yield {{ ..., {name}: {name} }}`) and read it from `{}`",
                    owner.name
                )),
            );
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

    /// E0302: a value that may be none given where none fails at run time.
    pub fn maybe_none(&mut self, expr: &Expr, found: &Type, what: &str) {
        if !matches!(found, Type::Optional { .. } | Type::Null) {
            return;
        }
        let text = self.text(expr.span).trim().to_string();
        let shown = if text.is_empty() || text.len() > 40 || text.contains('\n') {
            "this value".to_string()
        } else {
            format!("`{text}`")
        };
        let help = if matches!(found, Type::Null) {
            "give a value here".to_string()
        } else if key(expr, self.source).is_some() {
            format!("give a default with `{text} ?? ...`, or test it first: `if {text} != none {{ ... }}`")
        } else {
            "give a default with `?? ...`".to_string()
        };
        self.push(
            Diagnostic::new(
                Code::MaybeNone,
                self.file,
                expr.span,
                format!("{shown} may be none, but {what} needs a value"),
            )
            .label(format!("this is `{found}`"))
            .help(help),
        );
    }
}
