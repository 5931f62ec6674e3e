//! Templates over the channels: the parts each channel sends (`email.send` subject and text,
//! `sms.send` the `sms` part, `slack.post` the `slack` part; E0502 at the call), a message given
//! once (`body`/`text` or `template`: E0208, E0207), and each `sms` part rendered with the
//! template's `example` values to warn when it needs more than one segment (W0007).

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde_json::Value as Json;

use crate::contract::sms_segments::{first_outside_gsm7, segments};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::{self, ExprKind, Num, TemplatePartKind};

use super::flow::FlowChecker;
use super::templates::TemplateInfo;

/// The parts `connector`'s sending action needs from a template, and the argument a message is
/// written in instead of one (none: email sends templates only).
fn channel(connector: &str) -> Option<(&'static [TemplatePartKind], Option<&'static str>)> {
    match connector {
        "email" => Some((&[TemplatePartKind::Subject, TemplatePartKind::Text], None)),
        "sms" => Some((&[TemplatePartKind::Sms], Some("body"))),
        "slack" => Some((&[TemplatePartKind::Slack], Some("text"))),
        _ => None,
    }
}

impl<'a> FlowChecker<'_, 'a> {
    /// Checks the message of a call to `connector` (`email`, `sms`, `slack`): the template has the
    /// channel's parts, and the message is given exactly once.
    pub(super) fn check_channel_message(
        &mut self,
        connector: &str,
        call: &'a ast::Call,
        args: &BTreeMap<&str, &'a ast::Arg>,
    ) {
        let Some((needs, written)) = channel(connector) else {
            return;
        };
        let callee = format!(
            "{connector}.{}",
            call.callee.last().map_or("", |i| i.name.as_str())
        );
        let template = args.get("template");
        if let Some(written) = written {
            match (args.get(written), template) {
                (None, None) => self.push(
                    Diagnostic::new(
                        Code::MissingArgument,
                        self.file,
                        call.callee_span(),
                        format!("`{callee}` needs `{written}` or `template`"),
                    )
                    .label("no message")
                    .help(format!(
                        "add `{written}: \"...\"`, or `template: \"name\"` for a template with a `{}` part",
                        needs[0].keyword()
                    )),
                ),
                (Some(text), Some(_)) => self.push(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        self.file,
                        text.name.span,
                        format!("`{callee}` takes `{written}` or `template`, not both"),
                    )
                    .label("a second message")
                    .help(format!(
                        "remove `{written}`: the template's `{}` part is the message",
                        needs[0].keyword()
                    )),
                ),
                _ => {}
            }
        }
        let Some(template) = template else {
            return;
        };
        let Some(name) = template.value.as_plain_str() else {
            return;
        };
        let Some(info) = self.cx.templates.get(name.as_str()) else {
            return;
        };
        let missing: Vec<&str> = needs
            .iter()
            .filter(|kind| !info.decl.parts.iter().any(|p| p.kind == **kind))
            .map(|kind| kind.keyword())
            .collect();
        if missing.is_empty() {
            return;
        }
        let list = missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let parts = if missing.len() == 1 { "part" } else { "parts" };
        self.push(
            Diagnostic::new(
                Code::TemplateIncomplete,
                self.file,
                template.value.span,
                format!("template `{name}` has no {list} {parts}, which `{callee}` sends"),
            )
            .label(format!("no {list} {parts}"))
            .with(info.decl.name.span, "declared here")
            .help(format!(
                "add {} to template `{name}`",
                missing
                    .iter()
                    .map(|m| format!("`{m} \"...\"`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )),
        );
    }
}

/// W0007 when `info`'s `sms` part, rendered with its `example` values, needs more than one
/// segment; E0300 when the example is not a record of literals, E0501 when it lacks a variable
/// the part uses.
pub(crate) fn check_sms_length(info: &TemplateInfo<'_>, diagnostics: &mut Diagnostics) {
    let decl = info.decl;
    let Some(part) = decl.parts.iter().find(|p| p.kind == TemplatePartKind::Sms) else {
        return;
    };
    let Some(example) = &decl.example else {
        return;
    };
    let name = &decl.name.name;
    let values = match constant(&example.value) {
        Some(values @ Json::Object(_)) => values,
        _ => {
            diagnostics.push(
                Diagnostic::new(
                    Code::TypeMismatch,
                    info.file,
                    example.value.span,
                    format!("the `example` of template `{name}` must be a record of literal values"),
                )
                .label("not a record of literals")
                .help("write the values the template is shown with, e.g. `example { first_name: \"Maya\", starts_at: \"Tue 3 Dec, 10:00\" }`"),
            );
            return;
        }
    };
    let mut renderer = Handlebars::new();
    renderer.set_strict_mode(true);
    renderer.register_escape_fn(handlebars::no_escape);
    let Ok(text) = renderer.render_template(&part.body, &values) else {
        let missing: Vec<&String> = info
            .vars()
            .iter()
            .filter(|v| values.get(v.as_str()).is_none())
            .collect();
        if let Some(first) = missing.first() {
            diagnostics.push(
                Diagnostic::new(
                    Code::TemplateVariable,
                    info.file,
                    example.value.span,
                    format!("the `example` of template `{name}` has no `{first}`"),
                )
                .label(format!("no `{first}` here"))
                .help(format!(
                    "add `{first}: ...` to `example`: the checker renders the `sms` part with it"
                )),
            );
        }
        return;
    };
    let count = segments(&text);
    if count <= 1 {
        return;
    }
    let (message, help) = match first_outside_gsm7(&text) {
        None => (
            format!(
                "the `sms` part of template `{name}` renders to {} characters for its example: {count} segments (160 fit in one)",
                text.chars().count()
            ),
            "shorten it to at most 160 characters for the example values: each segment is billed as one message".to_string(),
        ),
        Some(c) => (
            format!(
                "the `sms` part of template `{name}` renders to {} UCS-2 characters for its example: {count} segments (70 fit in one when a character is outside GSM-7, here `{c}`)",
                text.encode_utf16().count()
            ),
            format!("write it without `{c}` to send it as GSM-7 (160 characters in one segment), or shorten it to 70"),
        ),
    };
    diagnostics.push(
        Diagnostic::new(Code::LongSms, info.file, part.body_span, message)
            .label(format!("{count} segments"))
            .with(example.span, "rendered with these values")
            .help(help),
    );
}

/// The JSON of an expression made of literals only (the example's values).
fn constant(expr: &ast::Expr) -> Option<Json> {
    Some(match &expr.kind {
        ExprKind::None => Json::Null,
        ExprKind::Bool(b) => Json::Bool(*b),
        ExprKind::Number(Num::Int(n)) => Json::from(*n),
        ExprKind::Number(Num::Float(n)) => Json::from(*n),
        ExprKind::Str(_) => Json::String(expr.as_plain_str()?),
        ExprKind::List(items) => Json::Array(items.iter().map(constant).collect::<Option<_>>()?),
        ExprKind::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|f| Some((f.name.name.clone(), constant(&f.value)?)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}
