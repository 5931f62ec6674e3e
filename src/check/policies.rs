//! Step policies, a pass over the typed flow: one of each kind (E0402), values that can work
//! (E0403) and known error classes (E0214). (`after`, which makes dependencies, is typed with the
//! flow: [`super::after`].)

use crate::contract::ErrorClass;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Ident, Policy};
use crate::syntax::Span;

use super::suggest;
use super::typed::TypedFlow;

const CLASSES: &[&str] = &["transient", "rate_limited", "permanent"];

/// Checks the policies of every step of `typed`.
pub(crate) fn check(typed: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    for step in typed.decls.iter().filter_map(|d| d.step) {
        check_step(step, typed.file, diagnostics);
    }
}

fn check_step(step: &ast::Step, file: FileId, diagnostics: &mut Diagnostics) {
    let mut first: [Option<Span>; 3] = [None; 3];
    for policy in &step.policies {
        let (slot, keyword, span) = match policy {
            Policy::Retry(r) => (0, "retry", r.span),
            Policy::Timeout(d) => (1, "timeout", d.span),
            Policy::TimeoutExpr(e) => (1, "timeout", e.span),
            Policy::Fallback(f) => (
                2,
                "fallback",
                match f {
                    ast::Fallback::Value(e) => e.span,
                    ast::Fallback::Block(b) => b.span,
                },
            ),
            Policy::After(_) => continue,
        };
        match first[slot] {
            Some(earlier) => diagnostics.push(
                Diagnostic::new(
                    Code::DuplicatePolicy,
                    file,
                    span,
                    format!("step `{}` has two `{keyword}` policies", step.name.name),
                )
                .label(format!("second `{keyword}`"))
                .with(earlier, format!("first `{keyword}`"))
                .help(format!(
                    "keep one `{keyword}`: a step has at most one of each policy"
                )),
            ),
            None => first[slot] = Some(span),
        }
        match policy {
            Policy::Retry(r) => check_retry(r, file, diagnostics),
            Policy::Timeout(d) if d.ms <= 0 => diagnostics.push(
                Diagnostic::new(
                    Code::InvalidPolicy,
                    file,
                    d.span,
                    "a timeout must be longer than zero",
                )
                .label("zero timeout")
                .help("give the step time to finish, e.g. `timeout 30s`, or remove the timeout"),
            ),
            _ => {}
        }
    }
}

fn check_retry(r: &ast::Retry, file: FileId, diagnostics: &mut Diagnostics) {
    if r.attempts == 0 {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidPolicy,
                file,
                r.attempts_span,
                "`retry 0` would never run the step",
            )
            .label("attempts in all, the first included")
            .help("write `retry 1` for a single attempt, or `retry 3` for up to three"),
        );
    }
    if let Some(b) = &r.backoff {
        if b.min.ms > b.max.ms {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidPolicy,
                    file,
                    b.min.span.to(b.max.span),
                    "backoff starts above its maximum",
                )
                .label("the first delay is longer than the largest")
                .help("write the shorter delay first, e.g. `backoff 2s..1m`"),
            );
        }
        if let Some((factor, span)) = b.factor {
            if factor < 1.0 {
                diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidPolicy,
                        file,
                        span,
                        format!("backoff factor {factor} would shrink the delays"),
                    )
                    .label("below 1")
                    .help("use a factor of at least 1, e.g. `factor 2` to double each delay"),
                );
            }
        }
    }
    for class in &r.on {
        check_error_class(class, file, diagnostics);
    }
}

fn check_error_class(class: &Ident, file: FileId, diagnostics: &mut Diagnostics) {
    if ErrorClass::from_name(&class.name).is_some() {
        return;
    }
    diagnostics.push(
        Diagnostic::new(
            Code::UnknownErrorClass,
            file,
            class.span,
            format!("unknown error class `{}`", class.name),
        )
        .label("not an error class")
        .help(suggest::help_or(&class.name, CLASSES.iter().copied(), || {
            format!("error classes are {}", suggest::list(CLASSES))
        })),
    );
}

/// The names of the error classes, for suggestions elsewhere.
pub(crate) fn class_names() -> &'static [&'static str] {
    CLASSES
}
