//! Hover: what a name is (its declaration, type and doc comment), a connector action's
//! documentation from its manifest, a Notion property's type and options, and the page of the
//! diagnostic under the cursor.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::check::builtins::{self, Returns};
use crate::connectors::notion::schema::DatabaseSchema;
use crate::connectors::{ActionSpec, Registry};
use crate::contract::Access;
use crate::syntax::{ast, Span};
use crate::types::Type;

use super::index::{Symbol, SymbolKind, Target};
use super::line_index::LineIndex;
use super::workspace::ProjectState;
use super::Cursor;

pub(crate) fn hover(registry: &Registry, cursor: &Cursor<'_>) -> Option<Hover> {
    let state = cursor.state;
    let mut sections = Vec::new();
    let occurrence = state.index.at(cursor.file, cursor.offset);
    if let Some(occurrence) = occurrence {
        let section = match &occurrence.target {
            Target::Symbol(s) => symbol(state, registry, &state.index.symbols[*s]),
            Target::Action { connector, action } => registry
                .action(connector, action)
                .map(|spec| action_doc(connector, spec)),
            Target::Module(file) => Some(format!(
                "module `{}`",
                state.module(*file).map_or("?", |m| m.module_path.as_str())
            )),
            Target::Property {
                entity,
                database,
                property,
            } => state
                .schemas
                .as_ref()
                .and_then(|s| s.database(entity, database))
                .map(|schema| property_doc(database, schema, property)),
        };
        sections.extend(section);
    }
    let mut range = occurrence.map(|o| o.span);
    if occurrence.is_none() {
        let found = builtin_at(cursor.text(), cursor.offset).or_else(|| field_at(registry, cursor));
        if let Some((span, doc)) = found {
            sections.push(doc);
            range = Some(span);
        }
    }
    // The page of each diagnostic under the cursor (what `flowc explain` prints).
    let offset = cursor.offset as u32;
    for d in state
        .diagnostics
        .iter()
        .filter(|d| d.file == cursor.file && d.span.start <= offset && offset <= d.span.end)
    {
        sections.push(format!(
            "**{}** {}\n\n{}",
            d.code.as_str(),
            d.message,
            d.code.explanation()
        ));
    }
    if sections.is_empty() {
        return None;
    }
    let range = range.map(|span| LineIndex::new(cursor.text()).range(span));
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n\n---\n\n"),
        }),
        range,
    })
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The start and end of the word (a name) around `offset`.
fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let start = text
        .get(..offset)?
        .rfind(|c: char| !is_word(c))
        .map_or(0, |i| i + 1);
    let end = offset
        + text
            .get(offset..)?
            .find(|c: char| !is_word(c))
            .unwrap_or(text.len() - offset);
    Some((start, end))
}

/// A built-in function called at `offset` (`len` in `len(x)`): its signature and result type.
fn builtin_at(text: &str, offset: usize) -> Option<(Span, String)> {
    let (start, end) = word_at(text, offset)?;
    let name = text.get(start..end)?;
    // A call, not a field (`x.len`) or a name.
    if !text[end..].starts_with('(') || text[..start].ends_with('.') {
        return None;
    }
    let builtin = builtins::lookup(name)?;
    let result = match builtin.returns {
        Returns::Fixed(ty) => format!("`{}`", ty()),
        Returns::First => "the type of its first argument".to_string(),
        Returns::Element => "the element type of its list (or its arguments' type)".to_string(),
        Returns::OptionalElement => "an element of its list, or `none`".to_string(),
    };
    let doc = format!(
        "```flow\n{}\n```\n\n*built-in function* `{name}`: {}, returns {result}",
        builtins::usage(name, &builtin),
        builtins::describe_arity(&builtin)
    );
    Some((Span::new(start, end), doc))
}

/// A field of a step's or let's result under the cursor (`hello.greeting`, `sent.id`,
/// `a.b.c`): its type, read down the fields from the checker's type of the name it starts at.
/// Notion properties of a page are occurrences of their own (see `property_doc`).
fn field_at(registry: &Registry, cursor: &Cursor<'_>) -> Option<(Span, String)> {
    let text = cursor.text();
    let (start, end) = word_at(text, cursor.offset)?;
    if start == end {
        return None;
    }
    // The path of names before the field, read backwards: `a.b.` before `c`.
    let mut path = vec![text.get(start..end)?];
    let mut at = start;
    let base = loop {
        let dot = at
            .checked_sub(1)
            .filter(|&d| text.as_bytes().get(d) == Some(&b'.'))?;
        let (before, _) = word_at(text, dot)?;
        if before == dot {
            return None;
        }
        match cursor.state.index.at(cursor.file, dot) {
            Some(o) if o.span.end as usize == dot && o.span.start as usize == before => break o,
            _ => path.push(text.get(before..dot)?),
        }
        at = before;
    };
    let Target::Symbol(s) = base.target else {
        return None;
    };
    let symbol = &cursor.state.index.symbols[s];
    let mut ty = checked_type(cursor.state, registry, symbol)?;
    let mut optional = false;
    for name in path.iter().rev() {
        let Type::Record { fields, .. } = ty.strip_optional() else {
            return None;
        };
        let field = fields.get(*name)?;
        optional = field.optional;
        ty = field.ty.clone();
    }
    let written = path.iter().rev().copied().collect::<Vec<_>>().join(".");
    let doc = format!(
        "*field* `{written}` of {} `{}`: `{ty}{}`",
        symbol.kind.noun(),
        symbol.name,
        if optional { "?" } else { "" }
    );
    Some((Span::new(start, end), doc))
}

/// The declaration's first line, its type where it is known, and its doc comment.
fn symbol(state: &ProjectState, registry: &Registry, symbol: &Symbol) -> Option<String> {
    let text = state.text(symbol.file);
    let declaration = text
        .get(symbol.full.range())
        .and_then(|t| t.lines().next())
        .unwrap_or(&symbol.name)
        .trim();
    let mut out = format!(
        "```flow\n{declaration}\n```\n\n*{}* `{}`",
        symbol.kind.noun(),
        symbol.name
    );
    let checked = checked_type(state, registry, symbol);
    if let Some(ty) = result_type(state, registry, symbol, checked.as_ref()) {
        out.push_str(&format!(": `{ty}`"));
    }
    // A record result (a sub-flow's output, an action's result) is shown field by field; a
    // Notion page's properties are listed from the schema below.
    if let Some(fields) = checked
        .as_ref()
        .filter(|_| symbol.database.is_none())
        .and_then(record_fields)
    {
        out.push_str("\n\nfields:\n");
        out.push_str(&fields);
    }
    if !symbol.docs.is_empty() {
        out.push_str("\n\n");
        out.push_str(&symbol.docs.join("\n"));
    }
    if let Some(entity) = database_entity(state, symbol) {
        if let Some(schema) = state
            .schemas
            .as_ref()
            .and_then(|s| s.database(&entity, &symbol.database_or_name()))
        {
            out.push_str("\n\n");
            out.push_str(&properties(schema));
        }
    }
    if let (SymbolKind::Step, Some(callee)) = (symbol.kind, &symbol.callee) {
        if let Some((connector, action)) = callee.split_once('.') {
            if let Some(spec) = registry.action(connector, action) {
                out.push_str(&format!("\n\n`{callee}`: {}", spec.description));
            }
        }
    }
    Some(out)
}

impl Symbol {
    /// The database a symbol is about: its own name for a database, the `db:` of a step.
    fn database_or_name(&self) -> String {
        match self.kind {
            SymbolKind::Database => self.name.clone(),
            _ => self.database.clone().unwrap_or_default(),
        }
    }
}

/// The entity whose schema describes a database or a step's `db:`.
fn database_entity(state: &ProjectState, symbol: &Symbol) -> Option<String> {
    let owner = symbol.parent.map(|p| &state.index.symbols[p])?;
    match symbol.kind {
        SymbolKind::Database => Some(owner.name.clone()),
        SymbolKind::Step | SymbolKind::LoopVar if symbol.database.is_some() => owner.entity.clone(),
        _ => None,
    }
}

/// The type the checker works out for a step or let (from the typed flow of its file); `None`
/// where it knows nothing (`any`). Completion offers the fields of the records it finds.
pub(super) fn checked_type(state: &ProjectState, registry: &Registry, symbol: &Symbol) -> Option<Type> {
    if !matches!(symbol.kind, SymbolKind::Step | SymbolKind::Let) {
        return None;
    }
    if let Some(output) = subflow_output(state, registry, symbol) {
        return Some(output);
    }
    crate::check::flow_types(&state.project, registry, symbol.file)
        .into_iter()
        .flat_map(|(_, decls)| decls)
        .find(|d| d.span == symbol.span)
        .map(|d| d.ty)
        .filter(|ty| *ty != Type::Any)
}

/// What the sub-flow a step calls outputs (`helper(...)`, or `alias.helper(...)` of a `use`d
/// module), typed from the called flow's body: the step's own type only knows the field names.
fn subflow_output(state: &ProjectState, registry: &Registry, symbol: &Symbol) -> Option<Type> {
    let callee = symbol.callee.as_ref()?;
    let (file, name) = match callee.split_once('.') {
        None => (symbol.file, callee.as_str()),
        Some((alias, _)) if registry.manifest(alias).is_some() => return None,
        Some((alias, name)) => {
            let used = state
                .module(symbol.file)?
                .ast
                .items
                .iter()
                .find_map(|item| match item {
                    ast::Item::Use(u) if u.name().name == alias => Some(
                        u.path
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join("."),
                    ),
                    _ => None,
                })?;
            (state.project.module(&used)?.file, name)
        }
    };
    crate::check::flow_output_type(&state.project, registry, file, name).filter(|ty| *ty != Type::Any)
}

/// The fields of a record type (or a list or optional of one), one line each.
fn record_fields(ty: &Type) -> Option<String> {
    match ty {
        Type::Optional { of } | Type::List { of } => record_fields(of),
        Type::Record { fields, .. } if !fields.is_empty() => Some(
            fields
                .iter()
                .map(|(name, f)| format!("- `{name}`: {}{}", f.ty, if f.optional { "?" } else { "" }))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// The type of a step's result (a Notion call's pages by database, else the checker's type, else
/// the action's manifest), a let's value, or an input field (as written).
fn result_type(
    state: &ProjectState,
    registry: &Registry,
    symbol: &Symbol,
    checked: Option<&Type>,
) -> Option<String> {
    match symbol.kind {
        SymbolKind::Step => {
            let output = symbol
                .callee
                .as_ref()
                .and_then(|callee| callee.split_once('.'))
                .and_then(|(connector, action)| registry.action(connector, action))
                .map(|spec| &spec.output);
            Some(match (&symbol.database, output) {
                (Some(db), Some(Type::List { .. })) => format!("[page of {db}]"),
                (Some(db), Some(Type::Optional { .. })) => format!("page of {db}?"),
                (Some(db), Some(_)) => format!("page of {db}"),
                (_, output) => checked.or(output)?.to_string(),
            })
        }
        SymbolKind::LoopVar => {
            // An element of the list, when the list is a step or let.
            let list = named(state, symbol, let_value(state, symbol)?.as_name()?)?;
            let ty = result_type(
                state,
                registry,
                list,
                checked_type(state, registry, list).as_ref(),
            )?;
            let element = ty.trim_end_matches('?').strip_prefix('[')?.strip_suffix(']')?;
            Some(element.to_string())
        }
        SymbolKind::Let => match checked {
            Some(ty) => Some(ty.to_string()),
            None => expression_type(state, registry, symbol, let_value(state, symbol)?, 4),
        },
        SymbolKind::Input => {
            let text = state.text(symbol.file).get(symbol.full.range())?;
            let ty = text.split_once(':')?.1;
            Some(ty.split('=').next()?.trim().trim_end_matches(',').to_string())
        }
        _ => None,
    }
}

/// The value of the `let` that `symbol` declares, or the list its loop variable goes over.
fn let_value<'s>(state: &'s ProjectState, symbol: &Symbol) -> Option<&'s ast::Expr> {
    let module = state.module(symbol.file)?;
    module.ast.items.iter().find_map(|item| match item {
        ast::Item::Flow(f) => {
            find_let(&f.body, symbol).or_else(|| find_let(&f.on_error.as_ref()?.stmts, symbol))
        }
        _ => None,
    })
}

fn find_let<'a>(stmts: &'a [ast::Stmt], symbol: &Symbol) -> Option<&'a ast::Expr> {
    stmts.iter().find_map(|stmt| match stmt {
        ast::Stmt::Let(l) if l.name.span == symbol.span => Some(&l.value),
        ast::Stmt::If(i) => i
            .branches
            .iter()
            .map(|(_, b)| b)
            .chain(&i.otherwise)
            .find_map(|b| find_let(&b.stmts, symbol)),
        ast::Stmt::Match(m) => m.arms.iter().find_map(|a| find_let(&a.body.stmts, symbol)),
        ast::Stmt::Step(step) => {
            let fan_out = match &step.body {
                ast::StepBody::FanOut(fan_out) if fan_out.var.span == symbol.span => Some(&fan_out.over),
                ast::StepBody::FanOut(fan_out) => find_let(&fan_out.body.stmts, symbol),
                _ => None,
            };
            fan_out.or_else(|| {
                step.policies.iter().find_map(|p| match p {
                    ast::Policy::Fallback(ast::Fallback::Block(b)) => find_let(&b.stmts, symbol),
                    _ => None,
                })
            })
        }
        _ => None,
    })
}

/// The type of a let's value where the checker knows nothing (`any`) but the text tells: a Notion
/// property of a page (the checker types pages as open records), literals, another name, `a ?? b`.
fn expression_type(
    state: &ProjectState,
    registry: &Registry,
    within: &Symbol,
    expr: &ast::Expr,
    depth: u8,
) -> Option<String> {
    use ast::ExprKind;
    let depth = depth.checked_sub(1)?;
    Some(match &expr.kind {
        ExprKind::Str(_) => "text".into(),
        ExprKind::Number(_) => "number".into(),
        ExprKind::Bool(_) => "bool".into(),
        ExprKind::Duration(_) => "duration".into(),
        ExprKind::Binary(ast::BinaryOp::Default, left, _) => {
            expression_type(state, registry, within, left, depth)?
                .trim_end_matches('?')
                .to_string()
        }
        ExprKind::Binary(
            ast::BinaryOp::And
            | ast::BinaryOp::Or
            | ast::BinaryOp::Eq
            | ast::BinaryOp::Ne
            | ast::BinaryOp::Lt
            | ast::BinaryOp::Le
            | ast::BinaryOp::Gt
            | ast::BinaryOp::Ge
            | ast::BinaryOp::In,
            ..,
        ) => "bool".into(),
        ExprKind::Unary(ast::UnaryOp::Not, _) => "bool".into(),
        ExprKind::Name(name) => {
            let other = named(state, within, name)?;
            match other.kind {
                SymbolKind::Let => expression_type(state, registry, other, let_value(state, other)?, depth)?,
                _ => result_type(state, registry, other, None)?,
            }
        }
        ExprKind::Field(base, field) => {
            let step = named(state, within, base.as_name()?)?;
            let entity = database_entity(state, step)?;
            let schema = state
                .schemas
                .as_ref()?
                .database(&entity, step.database.as_ref()?)?;
            let property = schema.properties.get(&field.name)?;
            notion_value_type(&property.kind)?.to_string()
        }
        _ => return None,
    })
}

/// The step or let called `name` in the flow of `within`.
fn named<'s>(state: &'s ProjectState, within: &Symbol, name: &str) -> Option<&'s Symbol> {
    state.index.symbols.iter().find(|s| {
        s.parent == within.parent && s.name == name && matches!(s.kind, SymbolKind::Step | SymbolKind::Let)
    })
}

/// The flow type a Notion property's value has when a page is read.
fn notion_value_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        // As src/connectors/notion/properties.rs reads a page.
        "title" | "rich_text" => "text",
        "url" | "phone_number" | "email" | "select" | "status" => "text?",
        "number" => "number?",
        "checkbox" => "bool",
        "date" => "datetime?",
        "multi_select" | "relation" | "people" => "[text]",
        _ => return None,
    })
}

/// An action's manifest entry: what it does, its arguments and its result.
pub(crate) fn action_doc(connector: &str, spec: &ActionSpec) -> String {
    let mut out = format!("```flow\n{connector}.{}(", spec.name);
    let params: Vec<String> = spec
        .params
        .iter()
        .map(|p| format!("{}: {}{}", p.name, p.ty, if p.required { "" } else { "?" }))
        .collect();
    out.push_str(&params.join(", "));
    out.push_str(&format!(") -> {}\n```\n\n{}", spec.output, spec.description));
    if spec.side_effects {
        out.push_str(" (changes the world: retried with care, never in dry runs)");
    }
    for p in &spec.params {
        let required = if p.required { "" } else { " (optional)" };
        out.push_str(&format!("\n- `{}`{required}: {}", p.name, p.description));
    }
    let mut facts = Vec::new();
    match spec.access {
        Some(Access::Read) => {
            facts.push("reads a database (another entity's only through its grant to read)".to_string())
        }
        Some(Access::Write) => {
            facts.push("writes a database (another entity's only through its grant to write)".to_string())
        }
        None => {}
    }
    if let Some(retry) = &spec.default_retry {
        let on: Vec<String> = retry.on.iter().map(|c| format!("`{}`", c.name())).collect();
        facts.push(format!(
            "retried by default: {} attempts in all, backoff from {:?} to {:?}, on {}",
            retry.attempts,
            retry.min,
            retry.max,
            on.join(", ")
        ));
    }
    if let Some(limit) = &spec.rate_limit {
        facts.push(format!(
            "paced to {} requests a second (bursts of {})",
            limit.per_second, limit.burst
        ));
    }
    if !facts.is_empty() {
        out.push_str("\n\n");
        out.push_str(&facts.join("\n\n"));
    }
    out
}

fn property_doc(database: &str, schema: &DatabaseSchema, property: &str) -> String {
    match schema.properties.get(property) {
        Some(p) => {
            let mut out = format!("Notion property `{property}` of `{database}`: `{}`", p.kind);
            if !p.options.is_empty() {
                let options: Vec<String> = p.options.iter().map(|o| format!("`{o}`")).collect();
                out.push_str(&format!("\n\noptions: {}", options.join(", ")));
            }
            out
        }
        None => format!("`{database}` has no property `{property}` in the pulled schema"),
    }
}

fn properties(schema: &DatabaseSchema) -> String {
    let lines: Vec<String> = schema
        .properties
        .iter()
        .map(|(name, p)| format!("- `{name}`: {}", p.kind))
        .collect();
    format!("Notion properties:\n{}", lines.join("\n"))
}
