//! Lowering expressions: each name resolved against the blocks that enclose it, built-ins chosen
//! by name, `format_date` formats and time zones validated and compiled.

use std::collections::BTreeSet;

use super::builtin::Builtin;
use super::compile::PlanError;
use super::expr::{BinaryOp, Computed, Expr, FormatDate, Name, Part, Pattern, UnaryOp};
use super::strftime::Strftime;
use crate::syntax::ast::{self, ExprKind, Num, StrPart};
use crate::time_zone::Zone;

/// What names mean where an expression is written.
pub(crate) struct Scope<'a> {
    /// Steps, lets and loop variables of the flow. Like the checker, one namespace per flow:
    /// the runtime finds each in the block that holds it or an enclosing one.
    pub(crate) locals: &'a BTreeSet<String>,
    /// Entities of the project.
    pub(crate) entities: &'a BTreeSet<String>,
    /// Logical databases of the project.
    pub(crate) databases: &'a BTreeSet<String>,
    /// Inside a `wait for event ... where` filter, `event` is the payload.
    pub(crate) event: bool,
    /// Every name is a local one (flow test expectations, evaluated over their own bindings).
    pub(crate) free: bool,
}

impl Scope<'_> {
    /// Resolves `name` in the order the runtime looks values up: the event being filtered,
    /// enclosing blocks, then `input`, `entity`, `error`, entities and databases.
    fn resolve(&self, name: &str) -> Result<Name, PlanError> {
        if self.free {
            return Ok(Name::Local(name.to_string()));
        }
        if self.event && name == "event" {
            return Ok(Name::Event);
        }
        if self.locals.contains(name) {
            return Ok(Name::Local(name.to_string()));
        }
        Ok(match name {
            "input" => Name::Input,
            "entity" => Name::Entity,
            "error" => Name::Error,
            _ if self.entities.contains(name) => Name::EntityNamed(name.to_string()),
            _ if self.databases.contains(name) => Name::Database(name.to_string()),
            _ => return Err(PlanError::new(format!("unknown name `{name}`"))),
        })
    }

    /// Lowers `expr`.
    pub(crate) fn lower(&self, expr: &ast::Expr) -> Result<Expr, PlanError> {
        let boxed = |e: &ast::Expr| self.lower(e).map(Box::new);
        Ok(match &expr.kind {
            ExprKind::None => Expr::Null,
            ExprKind::Bool(b) => Expr::Bool(*b),
            ExprKind::Number(Num::Int(i)) => Expr::Int(*i),
            ExprKind::Number(Num::Float(n)) => number(*n),
            ExprKind::Duration(ms) => Expr::Duration(*ms),
            ExprKind::Str(parts) => match expr.as_plain_str() {
                Some(text) => Expr::Text(text),
                None => Expr::Interpolate(
                    parts
                        .iter()
                        .map(|p| match p {
                            StrPart::Text(t) => Ok(Part::Text(t.clone())),
                            StrPart::Expr(e) => self.lower(e).map(Part::Expr),
                        })
                        .collect::<Result<_, _>>()?,
                ),
            },
            ExprKind::Name(n) => Expr::Name(self.resolve(n)?),
            ExprKind::Field(base, field) => {
                let mut path = vec![field.name.clone()];
                let mut root = base.as_ref();
                while let ExprKind::Field(inner, f) = &root.kind {
                    path.push(f.name.clone());
                    root = inner;
                }
                match &root.kind {
                    ExprKind::Name(n) => {
                        path.reverse();
                        Expr::Path(self.resolve(n)?, path)
                    }
                    _ => Expr::Field(boxed(base)?, field.name.clone()),
                }
            }
            ExprKind::Index(a, b) => Expr::Index(boxed(a)?, boxed(b)?),
            ExprKind::Call(f, args) => self.call(&f.name, args)?,
            ExprKind::List(items) => Expr::List(self.all(items)?),
            ExprKind::Record(fields) => Expr::Record(
                fields
                    .iter()
                    .map(|f| Ok((f.name.name.clone(), self.lower(&f.value)?)))
                    .collect::<Result<_, PlanError>>()?,
            ),
            ExprKind::Unary(op, e) => Expr::Unary(
                match op {
                    ast::UnaryOp::Not => UnaryOp::Not,
                    ast::UnaryOp::Neg => UnaryOp::Neg,
                },
                boxed(e)?,
            ),
            ExprKind::Binary(op, a, b) => Expr::Binary(binary_op(*op), boxed(a)?, boxed(b)?),
            ExprKind::If(c, a, b) => Expr::If(boxed(c)?, boxed(a)?, boxed(b)?),
            ExprKind::Match(v, arms) => Expr::Match(
                boxed(v)?,
                arms.iter()
                    .map(|(p, e)| Ok((self.pattern(p)?, self.lower(e)?)))
                    .collect::<Result<_, PlanError>>()?,
            ),
        })
    }

    /// Lowers a match pattern.
    pub(crate) fn pattern(&self, pattern: &ast::Pattern) -> Result<Pattern, PlanError> {
        Ok(match pattern {
            ast::Pattern::Wildcard(_) => Pattern::Wildcard,
            ast::Pattern::Literals(lits) => Pattern::Literals(self.all(lits)?),
        })
    }

    fn all(&self, exprs: &[ast::Expr]) -> Result<Vec<Expr>, PlanError> {
        exprs.iter().map(|e| self.lower(e)).collect()
    }

    fn call(&self, name: &str, args: &[ast::Expr]) -> Result<Expr, PlanError> {
        let Some(builtin) = Builtin::from_name(name) else {
            return Err(PlanError::new(format!("unknown function `{name}`")));
        };
        if builtin != Builtin::FormatDate {
            return Ok(Expr::Call(builtin, self.all(args)?));
        }
        let [value, format, rest @ ..] = args else {
            return Err(PlanError::new(
                "`format_date` takes a date, a format and optionally a time zone",
            ));
        };
        if rest.len() > 1 {
            return Err(PlanError::new(
                "`format_date` takes a date, a format and optionally a time zone",
            ));
        }
        let format = match format.as_plain_str() {
            Some(text) => Computed::Fixed(Strftime::parse(&text).map_err(PlanError::new)?),
            None => Computed::Expr(self.lower(format)?),
        };
        let zone = match rest.first() {
            None => None,
            Some(z) => Some(match z.as_plain_str() {
                Some(text) => Computed::Fixed(Zone::parse(&text).map_err(PlanError::new)?),
                None => Computed::Expr(self.lower(z)?),
            }),
        };
        Ok(Expr::FormatDate(Box::new(FormatDate {
            value: self.lower(value)?,
            format,
            zone,
        })))
    }
}

fn binary_op(op: ast::BinaryOp) -> BinaryOp {
    use ast::BinaryOp as A;
    match op {
        A::Or => BinaryOp::Or,
        A::And => BinaryOp::And,
        A::Eq => BinaryOp::Eq,
        A::Ne => BinaryOp::Ne,
        A::Lt => BinaryOp::Lt,
        A::Le => BinaryOp::Le,
        A::Gt => BinaryOp::Gt,
        A::Ge => BinaryOp::Ge,
        A::Default => BinaryOp::Default,
        A::Add => BinaryOp::Add,
        A::Sub => BinaryOp::Sub,
        A::Mul => BinaryOp::Mul,
        A::Div => BinaryOp::Div,
        A::In => BinaryOp::In,
    }
}

/// Lowers `expr` with every name taken as a binding of the evaluating environment (flow test
/// expectations, stub values).
pub(crate) fn lower_free(expr: &ast::Expr) -> Result<Expr, PlanError> {
    let none = BTreeSet::new();
    Scope {
        locals: &none,
        entities: &none,
        databases: &none,
        event: false,
        free: true,
    }
    .lower(expr)
}

/// A number literal: whole numbers as exact integers. The syntax tree holds literals as doubles,
/// so a whole literal is an integer only up to 2^53, where every integer is exactly a double.
fn number(n: f64) -> Expr {
    if n.fract() == 0.0 && n.abs() <= crate::value::EXACT_IN_DOUBLE as f64 {
        Expr::Int(n as i64)
    } else {
        Expr::Number(n)
    }
}

/// The expression `src` (as written after `let x =`), lowered with [`lower_free`]; for tests of
/// the evaluator, which may not read the syntax tree themselves.
#[cfg(test)]
pub(crate) fn expr_from_source(src: &str) -> Result<Expr, PlanError> {
    let text = format!("entity e {{}} flow f for e {{ let x = {src} }}");
    let (module, diagnostics) = crate::syntax::parse(&text, crate::diagnostic::FileId(0));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let Some(ast::Item::Flow(flow)) = module.items.get(1) else {
        panic!("no flow in {text}")
    };
    let Some(ast::Stmt::Let(l)) = flow.body.first() else {
        panic!("no let in {text}")
    };
    lower_free(&l.value)
}
