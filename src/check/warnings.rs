//! Warnings: unused results of pure steps (W0001), unreachable code (W0002), secrets written as
//! literals (W0003), and unused lets and input fields (W0004).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::{Expr, Pattern, Stmt};
use crate::syntax::Span;

use super::flow::FlowChecker;
use super::typed::TypedFlow;

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
    "api-key",
    "apikey",
    "private_key",
    "secret",
    "authorization",
];
/// How the services' credentials begin: Notion (`secret_`, `ntn_`), Stripe (`sk_`, `rk_`,
/// `whsec_`), Typeform (`tfp_`), GitHub (`ghp_`, `gho_`, `ghs_`, `ghu_`, `github_pat_`), Slack
/// (`xoxb-`, `xoxp-`, `xapp-`, incoming webhook URLs), and an `Authorization` value.
const SECRET_PREFIXES: &[&str] = &[
    "secret_",
    "ntn_",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "tfp_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xapp-",
    "https://hooks.slack.com/services/",
    "Bearer ",
    "Basic ",
];
/// Query parameters that carry a credential in a URL (`?api_key=...`).
const URL_KEYS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "secret",
    "password",
];

pub(crate) fn looks_like_secret(text: &str) -> bool {
    SECRET_PREFIXES
        .iter()
        .any(|p| text.starts_with(p) && text.len() > p.len() + 3)
        || key_in_url(text)
}

/// Whether `text` is a URL with a credential as a query parameter.
fn key_in_url(text: &str) -> bool {
    if !(text.starts_with("https://") || text.starts_with("http://")) {
        return false;
    }
    let Some((_, query)) = text.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| match pair.split_once('=') {
        Some((name, value)) => URL_KEYS.contains(&name.to_ascii_lowercase().as_str()) && value.len() >= 8,
        None => false,
    })
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
        .help("keep it in an environment variable, list that variable in `secrets` of the entity in flowc.toml, and read it with `secret(\"ENV_NAME\")`"),
    );
}

/// W0001 and W0004, over the typed flow.
pub(crate) fn check_unused(flow: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    for decl in flow.decls.iter().filter(|d| !d.used) {
        let name = decl.name;
        if decl.is_let {
            if name.name.starts_with('_') {
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    Code::UnusedName,
                    flow.file,
                    name.span,
                    format!("`{}` is never used", name.name),
                )
                .label("unused `let`")
                .help(format!(
                    "use it, remove it, or name it `_{}` if it is kept on purpose",
                    name.name
                )),
            );
        } else if let Some(callee) = &decl.reads_only {
            diagnostics.push(
                Diagnostic::new(
                    Code::UnusedResult,
                    flow.file,
                    name.span,
                    format!("the result of step `{}` is never used", name.name),
                )
                .label(format!("`{callee}` only reads"))
                .help("use the result in a later step or the output, or remove the step"),
            );
        }
    }
    if flow.input_whole_used || flow.input_typo {
        return;
    }
    let Some(input) = &flow.flow.input else { return };
    for field in &input.fields {
        if flow.input_used.contains(field.name.name.as_str()) || field.name.name.starts_with('_') {
            continue;
        }
        diagnostics.push(
            Diagnostic::new(
                Code::UnusedName,
                flow.file,
                field.name.span,
                format!("input field `{}` is never used", field.name.name),
            )
            .label("unused input field")
            .help(format!("use `input.{}`, or remove the field", field.name.name)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_secret;

    #[test]
    fn token_shapes_are_recognised() {
        for secret in [
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "tfp_9xKz3abcdefghijklmnop",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "https://api.example.com/v1/items?format=json&api_key=0f9e8d7c6b5a",
            "https://hooks.slack.com/services/T00000000/B00000000/abcdEFGH1234ijkl",
        ] {
            assert!(looks_like_secret(secret), "{secret}");
        }
        for plain in [
            "https://api.example.com/v1/items?page=2",
            "https://example.com/?key=a",
            "sk_",
            "Thank you for your order",
        ] {
            assert!(!looks_like_secret(plain), "{plain}");
        }
    }
}
