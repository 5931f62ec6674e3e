//! Which values of a flow's body the `on error` handler can rely on (E0306).
//!
//! The handler runs because something failed, and the body stops where it failed: a step that
//! failed has no result, nothing computed from it was computed, a `let` after a `fail` guard was
//! written for the case the guard let through (the handler may run because of that `fail`), and
//! nothing after a `wait` has run if the failure came first. A value the handler reads anyway is
//! none at run time, so the alert the handler exists for is the thing that fails.
//!
//! The rule: a body `let` is set before anything can fail when it is at the top level of the
//! body, above the first `wait` and the first statement that holds a `fail`, and computed only
//! from `input`, entities, literals and built-ins and other such lets (lets that read nothing
//! that runs are evaluated when the instance starts, before any step's result comes back). Every
//! other step and let of the body may have no value in `on error`: reading it there is E0306
//! unless the handler says what to do without it (`x ?? default`, `x != none`, or inside
//! `if x != none { ... }`).
//!
//! The typing walk records the reads ([`HandlerWalk`]); [`check`] reports them, over the typed
//! flow.

use std::collections::HashSet;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::{self, Expr, ExprKind, Fallback, Policy, StepBody, Stmt, StrPart};
use crate::syntax::Span;

use super::flow::FlowChecker;
use super::scope::{DeclKind, Scope};
use super::typed::TypedFlow;

/// Whether a declaration is set before anything in the body can fail, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Unset {
    /// Set when the instance starts: safe in `on error`.
    Set,
    /// A step: the failure may be this step, or one it waits for.
    Step,
    /// Declared in a block that may not run (a branch, a fan-out, a fallback).
    InBlock,
    /// Computed from this declaration, which is not set either.
    Reads(usize),
    /// Declared below this `wait`.
    AfterWait(Span),
    /// Declared below this `fail`.
    AfterFail(Span),
}

/// For each declaration of `scope`, whether it is set before anything in `flow`'s body can fail.
pub(crate) fn set_before_failure(flow: &ast::Flow, scope: &Scope<'_>) -> Vec<Unset> {
    let mut set: Vec<Unset> = scope
        .decls
        .iter()
        .map(|d| match d.kind {
            DeclKind::Step(_) => Unset::Step,
            DeclKind::Let(_) => Unset::InBlock,
        })
        .collect();
    let mut stop: Option<Unset> = None;
    for stmt in &flow.body {
        if let Stmt::Wait(w) = stmt {
            stop.get_or_insert(Unset::AfterWait(w.span));
        }
        if let (Stmt::Let(l), Some(&i)) = (stmt, scope.by_position.get(&stmt_name_start(stmt))) {
            set[i] = match stop {
                Some(why) => why,
                None => {
                    let mut names = Vec::new();
                    names_read(&l.value, &mut names);
                    names
                        .iter()
                        .filter_map(|n| scope.by_name.get(n))
                        .find(|&&j| set[j] != Unset::Set)
                        .map_or(Unset::Set, |&j| Unset::Reads(j))
                }
            };
        }
        if let Some(fail) = first_fail(stmt) {
            stop.get_or_insert(Unset::AfterFail(fail));
        }
    }
    set
}

/// Where the name of a `let` statement starts (0 for other statements).
fn stmt_name_start(stmt: &Stmt) -> u32 {
    match stmt {
        Stmt::Let(l) => l.name.span.start,
        _ => 0,
    }
}

/// The first `fail` in `stmt` (in any of its blocks).
fn first_fail(stmt: &Stmt) -> Option<Span> {
    let first = |stmts: &[Stmt]| stmts.iter().find_map(first_fail);
    match stmt {
        Stmt::Fail(f) => Some(f.span),
        Stmt::If(i) => i
            .branches
            .iter()
            .find_map(|(_, b)| first(&b.stmts))
            .or_else(|| i.otherwise.as_ref().and_then(|b| first(&b.stmts))),
        Stmt::Match(m) => m.arms.iter().find_map(|a| first(&a.body.stmts)),
        Stmt::Step(step) => {
            let body = match &step.body {
                StepBody::FanOut(f) => first(&f.body.stmts),
                _ => None,
            };
            body.or_else(|| {
                step.policies.iter().find_map(|p| match p {
                    Policy::Fallback(Fallback::Block(b)) => first(&b.stmts),
                    _ => None,
                })
            })
        }
        _ => None,
    }
}

/// The names `expr` reads (the first name of every path).
fn names_read<'e>(expr: &'e Expr, out: &mut Vec<&'e str>) {
    match &expr.kind {
        ExprKind::None | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Duration(_) => {}
        ExprKind::Str(parts) => {
            for part in parts {
                if let StrPart::Expr(e) = part {
                    names_read(e, out);
                }
            }
        }
        ExprKind::Name(name) => out.push(name),
        ExprKind::Field(base, _) => names_read(base, out),
        ExprKind::Index(base, index) => {
            names_read(base, out);
            names_read(index, out);
        }
        ExprKind::Call(_, args) | ExprKind::List(args) => {
            for arg in args {
                names_read(arg, out);
            }
        }
        ExprKind::Record(fields) => {
            for field in fields {
                names_read(&field.value, out);
            }
        }
        ExprKind::Unary(_, operand) => names_read(operand, out),
        ExprKind::Binary(_, left, right) => {
            names_read(left, out);
            names_read(right, out);
        }
        ExprKind::If(cond, then, otherwise) => {
            names_read(cond, out);
            names_read(then, out);
            names_read(otherwise, out);
        }
        ExprKind::Match(value, arms) => {
            names_read(value, out);
            for (_, arm) in arms {
                names_read(arm, out);
            }
        }
    }
}

/// Where the handler walk is: inside `on error`, whether the name being resolved is one the
/// handler tests or defaults (`x ?? d`, `x != none`), and the reads of body values that may be
/// unset, in walk order (what [`check`] reports).
#[derive(Default)]
pub(crate) struct HandlerWalk {
    pub inside: bool,
    pub tested: bool,
    pub reads: Vec<(usize, Span)>,
}

impl<'a> FlowChecker<'_, 'a> {
    /// Whether the handler reads declaration `index` at `span` without saying what to do when it
    /// has no value (recorded for [`check`]; the caller then does not also say the value may be
    /// none).
    pub fn unsafe_handler_read(&mut self, index: usize, span: Span) -> bool {
        let decl = &self.scope.decls[index];
        if !self.handler.inside || decl.in_error || self.set_before_failure[index] == Unset::Set {
            return false;
        }
        let name = decl.name.name.as_str();
        if self.handler.tested || self.narrowed.iter().any(|n| n == name) {
            return false;
        }
        // A declaration typed ahead of the walk is walked again, and its reads recorded, when
        // the walk reaches it.
        if self.quiet == 0 {
            self.handler.reads.push((index, span));
        }
        true
    }
}

/// E0306, a pass over the typed flow: the first read in `on error` of each body value the
/// failure may have left unset, without a default or a test.
pub(crate) fn check(typed: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    let mut reported = HashSet::new();
    for &(index, span) in &typed.handler_reads {
        if !reported.insert(index) {
            continue;
        }
        let decl = &typed.decls[index];
        let (noun, name, decl_span) = (decl.noun, decl.name.name.as_str(), decl.name.span);
        let mut diagnostic = Diagnostic::new(
            Code::UnsetInHandler,
            typed.file,
            span,
            format!("{noun} `{name}` may have no value in `on error`"),
        )
        .label("none when the failure came first");
        diagnostic = match typed.set_before_failure[index] {
            Unset::Set => continue,
            Unset::Step => diagnostic.with(decl_span, "the failure may be this step, or one it waits for"),
            Unset::InBlock => diagnostic.with(decl_span, "set only when its block runs"),
            Unset::Reads(j) => {
                let (other_noun, other) = (typed.decls[j].noun, &typed.decls[j].name.name);
                diagnostic.with(
                    decl_span,
                    format!("computed from {other_noun} `{other}`, which may have no value either"),
                )
            }
            Unset::AfterWait(wait) => diagnostic
                .with(decl_span, "declared below a `wait`")
                .with(typed.trim(wait), "the failure may come before this wait ends"),
            Unset::AfterFail(fail) => diagnostic
                .with(decl_span, "declared below a `fail`, for the case it let through")
                .with(typed.trim(fail), "the handler may run because of this `fail`"),
        };
        diagnostics.push(diagnostic.help(format!(
            "read what the handler needs from `input` or `error`, give a default with `{name} ?? ...`, or test it with `if {name} != none {{ ... }}`"
        )));
    }
}
