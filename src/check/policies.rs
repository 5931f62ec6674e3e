//! Step policies: one of each kind (E0402), values that can work (E0403), known error classes
//! (E0214), and `after` naming steps of the flow (E0215).

use crate::contract::ErrorClass;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Policy};
use crate::syntax::Span;

use super::flow::FlowChecker;
use super::suggest;

const CLASSES: &[&str] = &["transient", "rate_limited", "permanent"];

impl<'a> FlowChecker<'_, 'a> {
    pub fn check_policies(&mut self, step: &'a ast::Step) {
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
                Policy::After(names) => {
                    self.check_after(step, names);
                    continue;
                }
            };
            match first[slot] {
                Some(earlier) => self.push(
                    Diagnostic::new(
                        Code::DuplicatePolicy,
                        self.file,
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
                Policy::Retry(r) => self.check_retry(r),
                Policy::Timeout(d) if d.ms <= 0 => self.push(
                    Diagnostic::new(
                        Code::InvalidPolicy,
                        self.file,
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

    fn check_retry(&mut self, r: &ast::Retry) {
        if r.attempts == 0 {
            self.push(
                Diagnostic::new(
                    Code::InvalidPolicy,
                    self.file,
                    r.attempts_span,
                    "`retry 0` would never run the step",
                )
                .label("attempts in all, the first included")
                .help("write `retry 1` for a single attempt, or `retry 3` for up to three"),
            );
        }
        if let Some(b) = &r.backoff {
            if b.min.ms > b.max.ms {
                self.push(
                    Diagnostic::new(
                        Code::InvalidPolicy,
                        self.file,
                        b.min.span.to(b.max.span),
                        "backoff starts above its maximum",
                    )
                    .label("the first delay is longer than the largest")
                    .help("write the shorter delay first, e.g. `backoff 2s..1m`"),
                );
            }
            if let Some((factor, span)) = b.factor {
                if factor < 1.0 {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidPolicy,
                            self.file,
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
            self.check_error_class(class);
        }
    }

    pub fn check_error_class(&mut self, class: &Ident) {
        if ErrorClass::from_name(&class.name).is_some() {
            return;
        }
        self.push(
            Diagnostic::new(
                Code::UnknownErrorClass,
                self.file,
                class.span,
                format!("unknown error class `{}`", class.name),
            )
            .label("not an error class")
            .help(suggest::help_or(&class.name, CLASSES.iter().copied(), || {
                format!("error classes are {}", suggest::list(CLASSES))
            })),
        );
    }

    fn check_after(&mut self, step: &'a ast::Step, names: &'a [Ident]) {
        for name in names {
            match self.scope.by_name.get(name.name.as_str()) {
                Some(&index) => {
                    if name.name == step.name.name {
                        self.push(
                            Diagnostic::new(
                                Code::DependencyCycle,
                                self.file,
                                name.span,
                                format!("step `{}` cannot run after itself", name.name),
                            )
                            .label("the step itself")
                            .help("remove it from `after`"),
                        );
                    } else {
                        self.reference(index, name.span);
                    }
                }
                None if self.broken_words.contains(name.name.as_str()) => {}
                None => {
                    let candidates: Vec<&str> = self.scope.by_name.keys().copied().collect();
                    self.push(
                        Diagnostic::new(
                            Code::UnknownStep,
                            self.file,
                            name.span,
                            format!("unknown step `{}`", name.name),
                        )
                        .label("no step or let has this name")
                        .help(suggest::help_or(&name.name, candidates, || {
                            "`after` names steps of this flow".to_string()
                        })),
                    );
                }
            }
        }
    }
}

/// The names of the error classes, for suggestions elsewhere.
pub(crate) fn class_names() -> &'static [&'static str] {
    CLASSES
}
