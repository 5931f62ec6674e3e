//! Notification templates: handlebars syntax (E0500), required parts (E0502), and the variables a
//! template uses against the `with:` record of each step that sends it (E0501). The parts each
//! channel needs and the SMS length are in `channel_templates`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use handlebars::template::Template as Hbs;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, TemplatePartKind};
use crate::syntax::Span;

use super::suggest;
use super::template_vars;

/// A template declaration with what its parts need, computed once per run.
pub(crate) struct TemplateInfo<'a> {
    pub file: FileId,
    pub decl: &'a ast::Template,
    /// The text of the file declaring it (for the places of handlebars errors).
    source: &'a str,
    /// What compiling its parts finds, on first use: handlebars parses with pest, and compiling
    /// every template of the project was the largest part of `flowc check FILE`, which needs
    /// only the templates its flows send.
    compiled: OnceLock<Compiled>,
    /// `{{{raw}}}` and `{{& raw}}` in HTML parts: values written into the HTML unescaped.
    pub raw: Vec<Span>,
}

struct Compiled {
    /// Top-level variables used by any part (`client` for `{{client.name}}`), sorted.
    vars: BTreeSet<String>,
    /// Parts that failed to compile, with the error's place, message and the fix to suggest.
    errors: Vec<(Span, String, String)>,
}

impl<'a> TemplateInfo<'a> {
    pub fn new(file: FileId, decl: &'a ast::Template, source: &'a str) -> TemplateInfo<'a> {
        let raw = decl
            .parts
            .iter()
            .filter(|p| p.kind == ast::TemplatePartKind::Html)
            .flat_map(|p| raw_spans(p, source))
            .collect();
        TemplateInfo {
            file,
            decl,
            source,
            compiled: OnceLock::new(),
            raw,
        }
    }

    /// Top-level variables used by any part (`client` for `{{client.name}}`), sorted.
    pub fn vars(&self) -> &BTreeSet<String> {
        &self.compiled().vars
    }

    /// Parts that failed to compile, with the error's place, message and the fix to suggest.
    pub fn errors(&self) -> &[(Span, String, String)] {
        &self.compiled().errors
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| compile(self.decl, self.source))
    }
}

fn compile(decl: &ast::Template, source: &str) -> Compiled {
    let mut vars = BTreeSet::new();
    let mut errors = Vec::new();
    for part in &decl.parts {
        // The usual subset is read directly; the rest, and every error, is handlebars' own.
        if let Some(tree) = template_vars::scan(&part.body) {
            template_vars::collect(&tree, &mut Vec::new(), &mut vars);
            continue;
        }
        match Hbs::compile(&part.body) {
            Ok(template) => {
                template_vars::collect(&template_vars::lower(&template), &mut Vec::new(), &mut vars)
            }
            Err(e) => {
                // Our own scan names the usual mistakes better than the parser's token list.
                let (position, message, help) = match explain_error(&part.body) {
                    Some((offset, message, help)) => (Some(line_col_of(&part.body, offset)), message, help),
                    None => (e.pos(), describe(&e), GENERIC_HELP.to_string()),
                };
                let span = match position {
                    Some((line, column)) => error_span(part, source, line, column),
                    None => part.body_span,
                };
                errors.push((span, message, help));
            }
        }
    }
    Compiled { vars, errors }
}

/// Where `part` writes a value unescaped (`{{{x}}}`, `{{& x}}`), in the file's source.
fn raw_spans(part: &ast::TemplatePart, source: &str) -> Vec<Span> {
    let start = part.body_span.start as usize;
    let Some(text) = source.get(start..part.body_span.end as usize) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let at = from + found;
        let rest = &text[at + 2..];
        let raw = rest.starts_with('{') || rest.trim_start().starts_with('&');
        let end = text[at..].find("}}").map_or(text.len(), |e| at + e + 2);
        let end = if text[end..].starts_with('}') {
            end + 1
        } else {
            end
        };
        if raw {
            spans.push(Span::new(start + at, start + end));
        }
        from = end.max(at + 2);
    }
    spans
}

/// The handlebars error without its position, source excerpt or grammar token list.
fn describe(error: &handlebars::TemplateError) -> String {
    let reason = error.reason().to_string();
    let reason = reason.lines().next().unwrap_or("").trim().to_string();
    if reason.contains("expected ") && reason.contains('_') {
        return "invalid handlebars syntax".to_string();
    }
    // pest's messages end in a multi-line excerpt; keep the first line, lowercased like ours.
    let mut chars = reason.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => "invalid handlebars".to_string(),
    }
}

/// The help for a handlebars error that [`explain_error`] does not recognise.
const GENERIC_HELP: &str = "check that every `{{` has its `}}` and every `{{#block}}` its `{{/block}}`";

/// The usual template mistakes, found by scanning: an unclosed `{{` and a block never closed.
/// Returns the byte offset in `body`, the message and the fix.
fn explain_error(body: &str) -> Option<(usize, String, String)> {
    let mut open_blocks: Vec<(usize, &str)> = Vec::new();
    let mut rest = 0;
    while let Some(found) = body[rest..].find("{{") {
        let start = rest + found;
        let after = &body[start + 2..];
        let next_open = after.find("{{");
        match after.find("}}") {
            Some(end) if next_open.is_none_or(|o| o > end) => {
                let inner = after[..end].trim_start_matches(['~', '{']).trim();
                if let Some(name) = inner.strip_prefix('#') {
                    open_blocks.push((start, name.split_whitespace().next().unwrap_or("")));
                } else if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim();
                    match open_blocks.pop() {
                        Some((_, open)) if open == name => {}
                        Some((_, open)) => {
                            return Some((
                                start,
                                format!("`{{{{/{name}}}}}` closes `{{{{#{open}}}}}`"),
                                format!("write `{{{{/{open}}}}}` here, or close `{{{{#{open}}}}}` before it"),
                            ));
                        }
                        None => {
                            return Some((
                                start,
                                format!("`{{{{/{name}}}}}` closes no block"),
                                format!(
                                    "remove `{{{{/{name}}}}}`, or open the block with `{{{{#{name} ...}}}}`"
                                ),
                            ))
                        }
                    }
                }
                rest = start + 2 + end + 2;
            }
            _ => {
                return Some((
                    start,
                    "`{{` is not closed with `}}`".to_string(),
                    "add `}}` after the value's name: `{{service}}`".to_string(),
                ))
            }
        }
    }
    open_blocks.pop().map(|(start, name)| {
        (
            start,
            format!("`{{{{#{name}}}}}` is never closed with `{{{{/{name}}}}}`"),
            format!("add `{{{{/{name}}}}}` where the `{name}` part of the text ends"),
        )
    })
}

/// 1-based line and column (in characters) of `offset` in `text`.
fn line_col_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Maps a 1-based (line, column) of the part's body back to a one-character span in the file.
fn error_span(part: &ast::TemplatePart, source: &str, line: usize, column: usize) -> Span {
    let triple = source
        .get(part.body_span.start as usize..)
        .is_some_and(|s| s.starts_with("\"\"\""));
    let raw_end = (part.body_span.end as usize).saturating_sub(if triple { 3 } else { 1 });
    let Some(raw) = source.get(part.body_offset as usize..raw_end) else {
        return part.body_span;
    };
    let mut offset = part.body_offset as usize;
    let mut body = raw;
    let mut indent = 0;
    if triple {
        // Undo `dedent`: the first line break and the common indentation are not in the body.
        if let Some(rest) = body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n')) {
            offset += body.len() - rest.len();
            body = rest;
        }
        indent = body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
    }
    for (i, text) in body.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let cut = indent.min(text.len());
            let text = text.get(cut..).unwrap_or("");
            let at: usize = text
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            let start = (offset + cut + at).min(raw_end);
            let width = text[at.min(text.len())..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            return Span::new(start, (start + width).min(raw_end.max(start)));
        }
        offset += text.len();
    }
    part.body_span
}

/// Checks every template declaration of the project once.
/// Checks each template's declaration; the ones for which `compile` is false only by what needs
/// no handlebars (their parts: duplicated or missing, and raw HTML).
pub(crate) fn check_declarations<'a>(
    infos: impl Iterator<Item = &'a TemplateInfo<'a>>,
    compile: impl Fn(&TemplateInfo<'_>) -> bool,
    diagnostics: &mut Diagnostics,
) {
    for info in infos {
        let compile = compile(info);
        check_one(info, compile, diagnostics);
        if compile {
            super::channel_templates::check_sms_length(info, diagnostics);
        }
    }
}

fn check_one(info: &TemplateInfo<'_>, compile: bool, diagnostics: &mut Diagnostics) {
    let decl = info.decl;
    let errors = if compile { info.errors() } else { &[] };
    for (span, message, help) in errors {
        diagnostics.push(
            Diagnostic::new(
                Code::TemplateSyntax,
                info.file,
                *span,
                format!("template `{}` does not parse: {message}", decl.name.name),
            )
            .label("invalid handlebars")
            .help(help.clone()),
        );
    }
    for span in &info.raw {
        diagnostics.push(
            Diagnostic::new(
                Code::RawHtml,
                info.file,
                *span,
                format!("template `{}` writes a value into its HTML unescaped", decl.name.name),
            )
            .label("not escaped")
            .help("write `{{name}}` (two braces): the value is escaped, so text a client typed cannot add HTML or links to the email"),
        );
    }
    let mut seen: Vec<(TemplatePartKind, Span)> = Vec::new();
    for part in &decl.parts {
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == part.kind) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    info.file,
                    part.span,
                    format!(
                        "template `{}` has two `{}` parts",
                        decl.name.name,
                        part.kind.keyword()
                    ),
                )
                .label("second part")
                .with(*first, "first part")
                .help("keep one of them"),
            );
        } else {
            seen.push((part.kind, part.span));
        }
    }
    // A template for text messages or Slack only needs no email parts; the calls that send it by
    // email are told (channel_templates.rs).
    let has = |kinds: &[TemplatePartKind]| decl.parts.iter().any(|p| kinds.contains(&p.kind));
    let for_email = has(&[
        TemplatePartKind::Subject,
        TemplatePartKind::Text,
        TemplatePartKind::Html,
    ]) || !has(&[TemplatePartKind::Sms, TemplatePartKind::Slack]);
    for kind in [TemplatePartKind::Subject, TemplatePartKind::Text] {
        if for_email && !decl.parts.iter().any(|p| p.kind == kind) {
            diagnostics.push(
                Diagnostic::new(
                    Code::TemplateIncomplete,
                    info.file,
                    decl.name.span,
                    format!("template `{}` has no `{}` part", decl.name.name, kind.keyword()),
                )
                .label(format!("needs a `{}`", kind.keyword()))
                .help(match kind {
                    TemplatePartKind::Subject => "add `subject \"...\"`: every email needs a subject line",
                    _ => "add `text \"\"\"...\"\"\"`: the plain-text body is what every mail client can show",
                }),
            );
        }
    }
}

/// E0501: variables `template` uses that the `with:` record (field names `provided`) lacks.
pub(crate) fn check_with(
    template: &TemplateInfo<'_>,
    provided: Option<&BTreeSet<&str>>,
    at: Span,
    file: FileId,
    diagnostics: &mut Diagnostics,
) {
    let missing: Vec<&str> = template
        .vars()
        .iter()
        .filter(|v| !v.starts_with("../"))
        .map(String::as_str)
        .filter(|v| provided.is_none_or(|p| !p.contains(v)))
        .collect();
    if missing.is_empty() {
        return;
    }
    let name = &template.decl.name.name;
    let (message, label) = match provided {
        Some(_) if missing.len() == 1 => (
            format!(
                "template `{name}` uses `{}`, which `with:` does not provide",
                missing[0]
            ),
            format!("no `{}` here", missing[0]),
        ),
        Some(_) => (
            format!(
                "template `{name}` uses {}, which `with:` does not provide",
                suggest::list(&missing)
            ),
            "missing variables".to_string(),
        ),
        None => (
            format!(
                "template `{name}` uses {} but the call has no `with:`",
                suggest::list(&missing)
            ),
            "no `with:` for this template".to_string(),
        ),
    };
    let fields = missing
        .iter()
        .map(|m| format!("{m}: ..."))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match provided {
        Some(p) if missing.len() == 1 => match suggest::closest(missing[0], p.iter().copied()) {
            Some(close) => format!(
                "rename `{close}` to `{}`, or add `{}: ...` to `with:`",
                missing[0], missing[0]
            ),
            None => format!("add `{fields}` to `with:`"),
        },
        Some(_) => format!("add `{fields}` to `with:`"),
        None => format!("add `with: {{ {fields} }}` to the call"),
    };
    diagnostics.push(
        Diagnostic::new(Code::TemplateVariable, file, at, message)
            .label(label)
            .help(help),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(source: &str) -> Vec<String> {
        let template = Hbs::compile(source).expect("valid handlebars");
        let mut vars = BTreeSet::new();
        template_vars::collect(&template_vars::lower(&template), &mut Vec::new(), &mut vars);
        vars.into_iter().collect()
    }

    #[test]
    fn collects_top_level_variables_only() {
        let found = vars(
            "{{#each items}}{{name}} {{@index}} {{this}} {{../title}}{{/each}}\
             {{#with person}}{{age}}{{/with}}{{upper greeting}}{{{raw}}}\
             {{#if (gt count 1)}}many{{else}}{{client.name}}{{/if}}{{! a comment }}",
        );
        assert_eq!(
            found,
            ["client", "count", "greeting", "items", "person", "raw", "title"]
        );
    }

    #[test]
    fn block_parameters_are_local() {
        assert_eq!(vars("{{#each rows as |row|}}{{row.id}}{{/each}}"), ["rows"]);
    }

    #[test]
    fn explains_common_mistakes() {
        assert_eq!(explain_error("Hi {{name").map(|e| e.0), Some(3));
        let (at, message, help) = explain_error("a\n{{#if x}}b").expect("unclosed block");
        assert_eq!(
            (at, message.as_str(), help.as_str()),
            (
                2,
                "`{{#if}}` is never closed with `{{/if}}`",
                "add `{{/if}}` where the `if` part of the text ends"
            )
        );
        let (_, message, help) = explain_error("{{#each x}}{{/if}}").expect("mismatch");
        assert_eq!(message, "`{{/if}}` closes `{{#each}}`");
        assert_eq!(help, "write `{{/each}}` here, or close `{{#each}}` before it");
    }
}
