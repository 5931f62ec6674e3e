//! Completion from what the cursor follows: actions after `connector.`, flows after a `use`
//! alias, fields after `input.` or an entity, Notion properties after a page and as keys of
//! `properties:`/`where:`, select options in a property's string, template names after
//! `template: "`, and otherwise the names in scope, built-ins and keywords.
//!
//! The context is read from the text before the cursor rather than the tree: while a line is
//! being typed it does not parse.

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionResponse, CompletionTextEdit, Documentation,
    InsertTextFormat, MarkupContent, MarkupKind, Range, TextEdit,
};

use crate::connectors::notion::schema::DatabaseSchema;
use crate::connectors::Registry;
use crate::syntax::ast;
use crate::syntax::Span;
use crate::types::Type;

use super::hover::{action_doc, checked_type};
use super::index::SymbolKind;
use super::line_index::LineIndex;
use super::Cursor;

/// The reserved words of `grammar/flow.pest` (its `keyword` rule; a test keeps them equal).
pub(crate) const RESERVED: &[&str] = &[
    "and", "else", "emit", "entity", "fail", "false", "flow", "for", "if", "in", "let", "match", "none",
    "not", "or", "step", "template", "test", "true", "use", "wait", "yield",
];

/// Words that start a line or a clause, offered with the reserved ones.
const CONTEXTUAL: &[&str] = &[
    "input",
    "output",
    "on",
    "webhook",
    "notion",
    "schedule",
    "manual",
    "event",
    "retry",
    "timeout",
    "fallback",
    "after",
    "until",
    "where",
    "concurrency",
    "backoff",
    "jitter",
    "grant",
    "setting",
    "databases",
    "expect",
    "stub",
    "returns",
    "send",
];

pub(crate) fn complete(registry: &Registry, cursor: &Cursor<'_>) -> CompletionResponse {
    let text = cursor.text();
    let line_start = text[..cursor.offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..cursor.offset];
    let mut out = Completions {
        items: Vec::new(),
        lines: LineIndex::new(text),
    };
    if let Some(quote) = open_string(before) {
        let inside = Span::new(line_start + quote + 1, cursor.offset);
        in_string(cursor, &before[..quote], inside, &mut out);
    } else if let Some((base, word_start)) = after_dot(before) {
        let word = Span::new(line_start + word_start, cursor.offset);
        match field_path(&before[..word_start - 1]) {
            Some(path) => nested_fields(registry, cursor, &path, &mut out),
            None => after_field(registry, cursor, base, word, &mut out),
        }
    } else if let Some(database) = property_record(text, cursor.offset) {
        let word = word_before(text, cursor.offset);
        if let Some(schema) = schema_of(cursor, &database) {
            out.property_names(schema, word);
        }
    } else {
        names(registry, cursor, &mut out);
    }
    CompletionResponse::Array(out.items)
}

struct Completions<'t> {
    items: Vec<CompletionItem>,
    lines: LineIndex<'t>,
}

impl Completions<'_> {
    fn add(&mut self, label: &str, kind: CompletionItemKind, detail: Option<String>) -> &mut CompletionItem {
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail,
            ..CompletionItem::default()
        });
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    /// An item replacing `span` (the word typed so far) with `text`.
    fn replacing(
        &mut self,
        label: &str,
        kind: CompletionItemKind,
        detail: Option<String>,
        span: Span,
        text: String,
    ) {
        let range: Range = self.lines.range(span);
        let item = self.add(label, kind, detail);
        item.filter_text = Some(text.clone());
        item.text_edit = Some(CompletionTextEdit::Edit(TextEdit::new(range, text)));
    }

    /// Property names as keys or after `.`: quoted when they are not plain names.
    fn property_names(&mut self, schema: &DatabaseSchema, word: Span) {
        for (name, p) in &schema.properties {
            let plain = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let text = if plain {
                name.clone()
            } else {
                format!("\"{name}\"")
            };
            self.replacing(
                name,
                CompletionItemKind::PROPERTY,
                Some(p.kind.clone()),
                word,
                text,
            );
        }
    }
}

/// The byte index of the quote opening a string the cursor is in, if it is in one.
fn open_string(before: &str) -> Option<usize> {
    let mut open = None;
    let mut escaped = false;
    for (i, c) in before.char_indices() {
        match c {
            '\\' if open.is_some() => escaped = !escaped,
            '"' if !escaped => open = if open.is_some() { None } else { Some(i) },
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    open
}

/// `base.partial` at the end of `before`: the name before the dot and where `partial` starts.
fn after_dot(before: &str) -> Option<(&str, usize)> {
    let partial = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let dot = partial.strip_suffix('.')?;
    let base_start = dot
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let base = &dot[base_start..];
    (!base.is_empty()).then_some((base, partial.len()))
}

/// `a.b.c` at the end of `before` (the text up to the dot being completed after), when it has
/// more than one name: the names in order.
fn field_path(before: &str) -> Option<Vec<&str>> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut path = Vec::new();
    let mut rest = before;
    loop {
        let start = rest.rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
        let name = &rest[start..];
        if name.is_empty() {
            return None;
        }
        path.push(name);
        match rest[..start].strip_suffix('.') {
            Some(shorter) => rest = shorter,
            None => break,
        }
    }
    path.reverse();
    (path.len() > 1).then_some(path)
}

/// The fields of `a.b.` where `a` is a step or let in scope whose type the checker knows.
fn nested_fields(registry: &Registry, cursor: &Cursor<'_>, path: &[&str], out: &mut Completions<'_>) {
    let index = &cursor.state.index;
    let Some(flow) = index.enclosing(cursor.file, cursor.offset, SymbolKind::Flow) else {
        return;
    };
    let Some(symbol) = index.in_scope(flow, cursor.offset).find(|s| s.name == path[0]) else {
        return;
    };
    let mut ty = checked_type(cursor.state, registry, symbol);
    for name in &path[1..] {
        ty = match ty.as_ref().map(Type::strip_optional) {
            Some(Type::Record { fields, .. }) => fields.get(*name).map(|f| f.ty.clone()),
            _ => None,
        };
    }
    if let Some(Type::Record { fields, .. }) = ty.as_ref().map(Type::strip_optional) {
        for (name, field) in fields {
            out.add(name, CompletionItemKind::FIELD, Some(field.ty.to_string()));
        }
    }
}

/// The identifier ending at `offset`.
fn word_before(text: &str, offset: usize) -> Span {
    let start = text[..offset]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '"'))
        .map_or(0, |i| i + 1);
    Span::new(start, offset)
}

/// Inside a string: options of the property it is the value of, or template names.
fn in_string(cursor: &Cursor<'_>, before_quote: &str, inside: Span, out: &mut Completions<'_>) {
    let head = before_quote.trim_end();
    if head.ends_with("template:") {
        for (_, t) in cursor.state.index.of_kind(SymbolKind::Template) {
            let docs = t.docs.join("\n");
            out.replacing(
                &t.name,
                CompletionItemKind::VALUE,
                Some(docs),
                inside,
                t.name.clone(),
            );
        }
        return;
    }
    // `Status: "` in a property record, or `page.Status == "` in a comparison.
    let (key_part, comparison) = if let Some(h) = head.strip_suffix(':') {
        (h.trim_end(), false)
    } else if let Some(h) = head.strip_suffix("==").or_else(|| head.strip_suffix("!=")) {
        (h.trim_end(), true)
    } else {
        return;
    };
    let (property, rest) = last_name(key_part);
    let database = if comparison {
        rest.strip_suffix('.')
            .map(|r| last_name(r).0)
            .and_then(|step| step_database(cursor, &step))
    } else {
        property_record(cursor.text(), cursor.offset - (inside.len() + 1))
    };
    let Some(schema) = database.and_then(|db| schema_of(cursor, &db)) else {
        return;
    };
    if let Some(p) = schema.properties.get(&property) {
        for option in &p.options {
            out.replacing(
                option,
                CompletionItemKind::ENUM_MEMBER,
                Some(p.kind.clone()),
                inside,
                option.clone(),
            );
        }
    }
}

/// The name or quoted property name at the end of `text`, and what precedes it.
fn last_name(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_suffix('"') {
        if let Some(open) = quoted.rfind('"') {
            return (quoted[open + 1..].to_string(), &quoted[..open]);
        }
    }
    let start = text
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    (text[start..].to_string(), &text[..start])
}

/// When `offset` is inside the braces of a `properties:`, `where:` or `match:` record of a call
/// with a `db:` argument, that database.
fn property_record(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset];
    let mut depth = 0i32;
    let mut brace = None;
    for (i, c) in before.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth == 0 => {
                brace = Some(i);
                break;
            }
            '{' => depth -= 1,
            _ => {}
        }
    }
    let head = before[..brace?].trim_end();
    if !["properties:", "where:", "match:"]
        .iter()
        .any(|k| head.ends_with(k))
    {
        return None;
    }
    // The call's `db:` argument comes before its records.
    let call = &head[head.rfind('(')?..];
    let db = call.rfind("db:")?;
    let name: String = call[db + 3..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The entity of the flow around the cursor: from the index, or from the text when the line being
/// typed broke the flow's parse.
fn flow_entity(cursor: &Cursor<'_>) -> Option<String> {
    let index = &cursor.state.index;
    if let Some(flow) = index.enclosing(cursor.file, cursor.offset, SymbolKind::Flow) {
        return index.symbols[flow].entity.clone();
    }
    let before = &cursor.text()[..cursor.offset];
    let start = before
        .rfind("\nflow ")
        .map(|i| i + 1)
        .or_else(|| before.starts_with("flow ").then_some(0))?;
    let words: Vec<&str> = before[start..].split_whitespace().take(4).collect();
    match words.as_slice() {
        ["flow", _, "for", entity] => Some(entity.trim_end_matches('{').to_string()),
        _ => None,
    }
}

fn schema_of<'s>(cursor: &Cursor<'s>, database: &str) -> Option<&'s DatabaseSchema> {
    let entity = flow_entity(cursor)?;
    cursor.state.schemas.as_ref()?.database(&entity, database)
}

/// The `db:` of step `name` in the flow around the cursor, from the index or else the text.
fn step_database(cursor: &Cursor<'_>, name: &str) -> Option<String> {
    let index = &cursor.state.index;
    if let Some(flow) = index.enclosing(cursor.file, cursor.offset, SymbolKind::Flow) {
        return index
            .in_scope(flow, cursor.offset)
            .find(|s| s.name == name)?
            .database
            .clone();
    }
    let text = cursor.text();
    let step = text.find(&format!("step {name} ="))?;
    // The call's arguments, up to the next statement.
    let call = &text[step..];
    let call = &call[..call[1..].find("\n  step ").map_or(call.len(), |i| i + 1)];
    let db = call.find("db:")?;
    let database: String = call[db + 3..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!database.is_empty()).then_some(database)
}

/// The module a `use` of the cursor's file names `alias`.
fn used_module<'s>(cursor: &Cursor<'s>, alias: &str) -> Option<&'s crate::project::ParsedModule> {
    let module = cursor.state.module(cursor.file)?;
    module.ast.items.iter().find_map(|item| match item {
        ast::Item::Use(u) if u.name().name == alias => {
            let dotted = u
                .path
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(".");
            cursor.state.project.module(&dotted)
        }
        _ => None,
    })
}

fn after_field(registry: &Registry, cursor: &Cursor<'_>, base: &str, word: Span, out: &mut Completions<'_>) {
    let index = &cursor.state.index;
    if let Some(manifest) = registry.manifest(base) {
        for spec in &manifest.actions {
            let args: Vec<String> = spec
                .params
                .iter()
                .filter(|p| p.required)
                .enumerate()
                .map(|(i, p)| format!("{}: ${{{}}}", p.name, i + 1))
                .collect();
            let item = out.add(
                &spec.name,
                CompletionItemKind::METHOD,
                Some(spec.description.clone()),
            );
            item.insert_text = Some(format!("{}({})", spec.name, args.join(", ")));
            item.insert_text_format = Some(InsertTextFormat::SNIPPET);
            item.documentation = Some(markdown(action_doc(base, spec)));
        }
        return;
    }
    if let Some(module) = used_module(cursor, base) {
        for item in &module.ast.items {
            if let ast::Item::Flow(f) = item {
                let args: Vec<String> = f
                    .input
                    .iter()
                    .flat_map(|i| &i.fields)
                    .filter(|field| field.default.is_none() && !field.ty.optional)
                    .enumerate()
                    .map(|(i, field)| format!("{}: ${{{}}}", field.name.name, i + 1))
                    .collect();
                let completion = out.add(
                    &f.name.name,
                    CompletionItemKind::FUNCTION,
                    Some(format!("flow for {}", f.entity.name)),
                );
                completion.insert_text = Some(format!("{}({})", f.name.name, args.join(", ")));
                completion.insert_text_format = Some(InsertTextFormat::SNIPPET);
                completion.documentation = (!f.docs.is_empty()).then(|| markdown(f.docs.join("\n")));
            }
        }
        return;
    }
    let flow = index.enclosing(cursor.file, cursor.offset, SymbolKind::Flow);
    if base == "input" {
        for s in index
            .symbols
            .iter()
            .filter(|s| s.kind == SymbolKind::Input && s.parent == flow && flow.is_some())
        {
            out.add(&s.name, CompletionItemKind::FIELD, Some("input".into()));
        }
        return;
    }
    if let Some((entity, _)) = index.of_kind(SymbolKind::Entity).find(|(_, s)| s.name == base) {
        for (_, s) in index
            .children(entity)
            .filter(|(_, s)| s.kind == SymbolKind::Setting)
        {
            out.add(&s.name, CompletionItemKind::CONSTANT, Some("setting".into()));
        }
        return;
    }
    if let Some(database) = step_database(cursor, base) {
        if let Some(schema) = schema_of(cursor, &database) {
            out.property_names(schema, word);
            out.add("id", CompletionItemKind::FIELD, Some("page id".into()));
            out.add("url", CompletionItemKind::FIELD, Some("page url".into()));
        }
        return;
    }
    // A step or let whose value is a record (a sub-flow's output, an action's result, a record
    // literal): its fields, as the checker types them, else as the action's manifest says.
    let symbol = flow.and_then(|f| index.in_scope(f, cursor.offset).find(|s| s.name == base));
    let checked = symbol
        .and_then(|s| checked_type(cursor.state, registry, s))
        .filter(|ty| matches!(ty.strip_optional(), Type::Record { .. }));
    let output = checked.or_else(|| {
        symbol?
            .callee
            .as_deref()
            .and_then(|c| c.split_once('.'))
            .and_then(|(connector, action)| registry.action(connector, action))
            .map(|spec| spec.output.clone())
    });
    if let Some(Type::Record { fields, .. }) = output.as_ref().map(Type::strip_optional) {
        for (name, field) in fields {
            out.add(name, CompletionItemKind::FIELD, Some(field.ty.to_string()));
        }
    }
}

/// Names in scope, the file's flows and `use` aliases, entities, databases, connectors,
/// built-in functions and keywords.
fn names(registry: &Registry, cursor: &Cursor<'_>, out: &mut Completions<'_>) {
    let index = &cursor.state.index;
    if let Some(flow) = index.enclosing(cursor.file, cursor.offset, SymbolKind::Flow) {
        for s in index.in_scope(flow, cursor.offset) {
            let kind = match s.kind {
                SymbolKind::Step => CompletionItemKind::VARIABLE,
                _ => CompletionItemKind::VALUE,
            };
            let item = out.add(&s.name, kind, Some(s.kind.noun().to_string()));
            item.documentation = (!s.docs.is_empty()).then(|| markdown(s.docs.join("\n")));
        }
        out.add(
            "input",
            CompletionItemKind::STRUCT,
            Some("the flow's input".into()),
        );
        let entity = index.symbols[flow].entity.clone();
        let databases = index
            .of_kind(SymbolKind::Entity)
            .filter(|(_, e)| Some(&e.name) == entity.as_ref())
            .flat_map(|(e, _)| index.children(e))
            .filter(|(_, s)| s.kind == SymbolKind::Database);
        let databases: Vec<String> = databases.map(|(_, s)| s.name.clone()).collect();
        for db in databases {
            out.add(&db, CompletionItemKind::STRUCT, Some("database".into()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    let flows: Vec<String> = index
        .of_kind(SymbolKind::Flow)
        .filter(|(_, s)| s.file == cursor.file)
        .map(|(_, s)| s.name.clone())
        .collect();
    for name in flows {
        if seen.insert(name.clone()) {
            out.add(&name, CompletionItemKind::FUNCTION, Some("flow".into()));
        }
    }
    let entities: Vec<String> = index
        .of_kind(SymbolKind::Entity)
        .map(|(_, s)| s.name.clone())
        .collect();
    for name in entities {
        if seen.insert(name.clone()) {
            out.add(&name, CompletionItemKind::MODULE, Some("entity".into()));
        }
    }
    if let Some(module) = cursor.state.module(cursor.file) {
        for item in &module.ast.items {
            if let ast::Item::Use(u) = item {
                out.add(&u.name().name, CompletionItemKind::MODULE, Some("use".into()));
            }
        }
    }
    for manifest in registry.manifests() {
        out.add(
            &manifest.name,
            CompletionItemKind::MODULE,
            Some(manifest.description.clone()),
        );
    }
    for name in crate::check::builtins::NAMES {
        let item = out.add(name, CompletionItemKind::FUNCTION, Some("built-in".into()));
        item.insert_text = Some(format!("{name}($1)"));
        item.insert_text_format = Some(InsertTextFormat::SNIPPET);
    }
    for word in RESERVED.iter().chain(CONTEXTUAL) {
        out.add(word, CompletionItemKind::KEYWORD, None);
    }
}

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_the_grammars() {
        let grammar = include_str!("../../grammar/flow.pest");
        let start = grammar.find("keyword = @{").unwrap_or(0);
        let rule = &grammar[start..start + grammar[start..].find('}').unwrap_or(0)];
        let mut words: Vec<&str> = rule.split('"').skip(1).step_by(2).collect();
        words.sort_unstable();
        assert_eq!(words, RESERVED);
    }

    #[test]
    fn reads_the_context_before_the_cursor() {
        assert_eq!(open_string(r#"  Status: "Cli"#), Some(10));
        assert_eq!(open_string(r#"  a: "x", b: "#), None);
        assert_eq!(after_dot("  to: client.Em"), Some(("client", 13)));
        assert_eq!(after_dot("  to: client"), None);
        let text = "step s = notion.query(db: Task, where: { Status: \"Open\", ";
        assert_eq!(property_record(text, text.len()), Some("Task".into()));
        assert_eq!(property_record("step s = notion.query(db: Task, ", 32), None);
        assert_eq!(last_name(r#"page."Full Name""#), ("Full Name".into(), "page."));
    }
}
