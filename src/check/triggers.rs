//! Triggers: cron expressions (E0700), time zones (E0701), webhook paths and verification
//! (E0404) and verifiers (E0201), and the database a Notion trigger watches (E0204).

use std::collections::HashMap;
use std::str::FromStr;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, TriggerKind};
use crate::syntax::Span;

use super::context::Context;
use super::flow::FlowChecker;
use super::suggest;

pub(crate) fn check_flow_triggers(checker: &mut FlowChecker<'_, '_>) {
    let flow = checker.flow;
    for trigger in &flow.triggers {
        match &trigger.kind {
            TriggerKind::Webhook {
                path,
                verified_by,
                unverified,
            } => {
                if verified_by.is_none() && !unverified {
                    checker.push(
                        Diagnostic::new(
                            Code::InvalidWebhook,
                            checker.file,
                            path.span,
                            format!("webhook `{}` says nothing about verification", path.value),
                        )
                        .label("anyone could post here")
                        .help("add `verified by NAME` naming a `[webhooks.NAME]` of flowc.toml, or write `unverified` if anyone may start this flow"),
                    );
                }
                if !path.value.starts_with('/') {
                    checker.push(
                        Diagnostic::new(
                            Code::InvalidWebhook,
                            checker.file,
                            path.span,
                            format!("webhook path `{}` does not start with `/`", path.value),
                        )
                        .label("not a path")
                        .help(format!(
                            "write the path under the server's root, e.g. `\"/{}\"`",
                            path.value.trim_start_matches('/')
                        )),
                    );
                }
                if let Some(verifier) = verified_by {
                    let webhooks = &checker.cx.project.config.webhooks;
                    if let Some(problem) = webhooks
                        .get(&verifier.name)
                        .and_then(|s| s.problems().into_iter().next())
                    {
                        checker.push(
                            Diagnostic::new(
                                Code::InvalidWebhook,
                                checker.file,
                                verifier.span,
                                format!("webhook verifier `{}` is misconfigured: {problem}", verifier.name),
                            )
                            .label("its `[webhooks]` table in flowc.toml")
                            .help(format!(
                                "fix `[webhooks.{}]` in flowc.toml (docs/serve.md lists the schemes)",
                                verifier.name
                            )),
                        );
                    }
                    if !webhooks.contains_key(&verifier.name) {
                        let help = suggest::help_or(
                            &verifier.name,
                            webhooks.keys().map(String::as_str),
                            || {
                                format!(
                                "declare it in flowc.toml: `[webhooks.{}]` with `scheme`, `header` and `secret_env`",
                                verifier.name
                            )
                            },
                        );
                        checker.push(
                            Diagnostic::new(
                                Code::UnknownName,
                                checker.file,
                                verifier.span,
                                format!("unknown webhook verifier `{}`", verifier.name),
                            )
                            .label("not in `[webhooks]` of flowc.toml")
                            .help(help),
                        );
                    }
                }
            }
            TriggerKind::Notion {
                database,
                to,
                property,
            } => {
                if let (Some(schemas), Some(property)) = (&checker.cx.schemas, property) {
                    if checker.quiet == 0 {
                        super::notion_schema::check_trigger(
                            schemas,
                            &flow.entity.name,
                            &database.name,
                            property,
                            to.as_ref(),
                            checker.file,
                            checker.diagnostics,
                        );
                    }
                }
                if let Some(entity) = checker.entity {
                    if !entity.databases.iter().any(|d| d.name == database.name) {
                        let names: Vec<&str> = entity.databases.iter().map(|d| d.name.as_str()).collect();
                        let help = suggest::help_or(&database.name, names.iter().copied(), || {
                            format!(
                                "add `{}` to the `databases` of `entity {}`",
                                database.name, entity.name.name
                            )
                        });
                        checker.push(
                            Diagnostic::new(
                                Code::UnknownDatabase,
                                checker.file,
                                database.span,
                                format!(
                                    "entity `{}` has no database `{}`",
                                    entity.name.name, database.name
                                ),
                            )
                            .label(format!("not a database of `{}`", entity.name.name))
                            .help(help),
                        );
                    }
                }
                if let Some(to) = to {
                    checker.infer(to);
                }
            }
            TriggerKind::Schedule { cron, timezone } => {
                if let Some(message) = cron_error(&cron.value) {
                    checker.push(
                        Diagnostic::new(
                            Code::InvalidCron,
                            checker.file,
                            cron.span,
                            format!("invalid cron expression `{}`: {message}", cron.value),
                        )
                        .label("not a cron schedule")
                        .help("use five fields: minute hour day-of-month month day-of-week, e.g. `\"*/5 * * * *\"` or `\"0 9 * * MON-FRI\"`"),
                    );
                }
                if let Some(tz) = timezone {
                    if let Some(d) = super::date_format::unknown_time_zone(checker.file, tz.span, &tz.value) {
                        checker.push(d);
                    }
                }
            }
            TriggerKind::Manual | TriggerKind::Event { .. } => {}
        }
    }
}

/// Why `expression` is not a cron schedule; standard five-field cron gets a seconds field.
fn cron_error(expression: &str) -> Option<String> {
    let fields = expression.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {expression}"),
        6 | 7 => expression.to_string(),
        _ => return Some(format!("expected 5 fields, found {fields}")),
    };
    match cron::Schedule::from_str(&full) {
        Ok(_) => None,
        Err(e) => {
            // The crate's message repeats the expression with a caret; keep its last line.
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            // The crate says "less than N" where N is the inclusive maximum.
            let last = last
                .replace(".)", ")")
                .replace(". (", " (")
                .replace("must be less than", "must be at most")
                .replace("must be greater than or equal to", "must be at least");
            let last = last.trim_end_matches('.');
            let mut chars = last.chars();
            Some(match chars.next() {
                Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
                None => "not a cron expression".to_string(),
            })
        }
    }
}

/// E0404: two flows of the project listening on one webhook path.
pub(crate) fn check_webhook_paths(cx: &Context<'_>, diagnostics: &mut Diagnostics) {
    let mut first: HashMap<&str, (FileId, Span, &str)> = HashMap::new();
    for module in &cx.modules {
        for item in &module.parsed.ast.items {
            let ast::Item::Flow(flow) = item else { continue };
            for trigger in &flow.triggers {
                let TriggerKind::Webhook { path, .. } = &trigger.kind else {
                    continue;
                };
                match first.get(path.value.as_str()) {
                    Some(&(file, span, other)) => {
                        let mut d = Diagnostic::new(
                            Code::InvalidWebhook,
                            module.file(),
                            path.span,
                            format!("webhook path `{}` is already used by flow `{other}`", path.value),
                        )
                        .label("second flow on this path")
                        .help("give each flow its own path; one request starts one flow");
                        if file == module.file() {
                            d = d.with(span, format!("`{other}` listens here"));
                        }
                        diagnostics.push(d);
                    }
                    None => {
                        first.insert(&path.value, (module.file(), path.span, &flow.name.name));
                    }
                }
            }
        }
    }
}
