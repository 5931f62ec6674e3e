//! Warnings: unused results of pure steps (W0001), unreachable code (W0002), secrets written as
//! literals (W0003), and unused lets and input fields (W0004).

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Expr, Pattern, StepBody, Stmt};
use crate::syntax::Span;

use super::calls::Target;
use super::flow::FlowChecker;
use super::scope::DeclKind;

/// W0002: statements after `fail` in the same block.
pub(crate) fn check_unreachable_stmts(checker: &mut FlowChecker<'_, '_>, stmts: &[Stmt]) {
    let Some(position) = stmts.iter().position(|s| matches!(s, Stmt::Fail(_))) else {
        return;
    };
    let Some(next) = stmts.get(position + 1) else {
        return;
    };
    let last = checker.trim(stmts.last().map_or(next.span(), Stmt::span));
    let fail = checker.trim(stmts[position].span());
    checker.push(
        Diagnostic::new(
            Code::UnreachableCode,
            checker.file,
            checker.trim(next.span()).to(last),
            "unreachable code after `fail`",
        )
        .label("never runs")
        .with(fail, "the flow stops here")
        .help("remove these statements, or move them before the `fail`"),
    );
}

/// W0002: match arms after `_`.
pub(crate) fn check_unreachable_arms<'p>(
    checker: &mut FlowChecker<'_, '_>,
    arms: impl Iterator<Item = (&'p Pattern, Span)>,
) {
    let mut wildcard: Option<Span> = None;
    for (pattern, span) in arms {
        if let Some(w) = wildcard {
            let span = checker.trim(span);
            checker.push(
                Diagnostic::new(
                    Code::UnreachableCode,
                    checker.file,
                    span,
                    "unreachable match arm after `_`",
                )
                .label("never matches")
                .with(w, "`_` matches everything before this arm")
                .help("move the `_` arm last, or remove this arm"),
            );
            return;
        }
        if let Pattern::Wildcard(s) = pattern {
            wildcard = Some(checker.trim(*s));
        }
    }
}

const SECRET_NAMES: &[&str] = &[
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "secret",
    "authorization",
];
const SECRET_PREFIXES: &[&str] = &["secret_", "ntn_", "sk_live_", "Bearer "];

pub(crate) fn looks_like_secret(text: &str) -> bool {
    SECRET_PREFIXES
        .iter()
        .any(|p| text.starts_with(p) && text.len() > p.len() + 3)
}

/// W0003 for a string literal whose value looks like a credential.
pub(crate) fn check_secret_value(checker: &mut FlowChecker<'_, '_>, text: &str, span: Span) {
    if looks_like_secret(text) && !checker.in_secret_names {
        push_secret(checker, span, "this text looks like a credential");
    }
}

/// W0003 for a literal given to a field or argument named like a credential.
pub(crate) fn check_secret_field(checker: &mut FlowChecker<'_, '_>, name: &str, value: &Expr) {
    let lower = name.to_ascii_lowercase();
    if checker.in_secret_names || !SECRET_NAMES.iter().any(|s| lower.contains(s)) {
        return;
    }
    if let Some(text) = value.as_plain_str() {
        if !text.is_empty() && !looks_like_secret(&text) {
            push_secret(checker, value.span, &format!("`{name}` is written as a literal"));
        }
    }
}

fn push_secret(checker: &mut FlowChecker<'_, '_>, span: Span, label: &str) {
    checker.push(
        Diagnostic::new(
            Code::SecretLiteral,
            checker.file,
            span,
            "secret written in the flow's source",
        )
        .label(label.to_string())
        .help("keep it in an environment variable and read it with `secret(\"ENV_NAME\")`"),
    );
}

/// W0001 and W0004, once the whole flow was walked.
pub(crate) fn check_unused(checker: &mut FlowChecker<'_, '_>) {
    for index in 0..checker.scope.decls.len() {
        if checker.used[index] {
            continue;
        }
        let decl = &checker.scope.decls[index];
        let name = decl.name;
        match decl.kind {
            DeclKind::Let(_) => {
                if name.name.starts_with('_') {
                    continue;
                }
                let diagnostic = Diagnostic::new(
                    Code::UnusedName,
                    checker.file,
                    name.span,
                    format!("`{}` is never used", name.name),
                )
                .label("unused `let`")
                .help(format!(
                    "use it, remove it, or name it `_{}` if it is kept on purpose",
                    name.name
                ));
                checker.push(diagnostic);
            }
            DeclKind::Step(step) => {
                let StepBody::Call(call) = &step.body else {
                    continue;
                };
                checker.quiet += 1;
                let target = checker.resolve_call(call);
                checker.quiet -= 1;
                if let Target::Action(_, spec) = target {
                    if !spec.side_effects {
                        let diagnostic = Diagnostic::new(
                            Code::UnusedResult,
                            checker.file,
                            name.span,
                            format!("the result of step `{}` is never used", name.name),
                        )
                        .label(format!("`{}` only reads", call.callee_name()))
                        .help("use the result in a later step or the output, or remove the step");
                        checker.push(diagnostic);
                    }
                }
            }
        }
    }
    if checker.input_whole_used || checker.input_typo {
        return;
    }
    let Some(input) = &checker.flow.input else { return };
    for field in &input.fields {
        if checker.input_used.contains(field.name.name.as_str()) || field.name.name.starts_with('_') {
            continue;
        }
        let diagnostic = Diagnostic::new(
            Code::UnusedName,
            checker.file,
            field.name.span,
            format!("input field `{}` is never used", field.name.name),
        )
        .label("unused input field")
        .help(format!("use `input.{}`, or remove the field", field.name.name));
        checker.push(diagnostic);
    }
}
