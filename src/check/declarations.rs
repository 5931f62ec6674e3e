//! Top-level declarations: names declared twice (E0200), `use` paths (E0211), and what entities
//! declare (databases, grants to known entities, settings).

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Ident, Item};
use crate::syntax::Span;

use super::context::Context;
use super::suggest;

/// Reports `name` declared again at `span` of `file` (first at `first`).
fn duplicate(
    what: &str,
    name: &Ident,
    file: FileId,
    first: (FileId, Span),
    cx: &Context<'_>,
    diagnostics: &mut Diagnostics,
) {
    let mut d = Diagnostic::new(
        Code::DuplicateName,
        file,
        name.span,
        format!("{what} `{}` is declared twice", name.name),
    )
    .label("second declaration");
    if first.0 == file {
        d = d
            .with(first.1, "first declared here")
            .help("rename or remove one of them");
    } else {
        let path = &cx.project.sources.get(first.0).path;
        let path = path
            .strip_prefix(&cx.project.root)
            .unwrap_or(path)
            .display()
            .to_string();
        d = d.help(format!(
            "it is first declared in {path}; rename or remove one of them"
        ));
    }
    diagnostics.push(d);
}

pub(crate) fn check(cx: &Context<'_>, diagnostics: &mut Diagnostics) {
    let mut entities: HashMap<&str, (FileId, Span)> = HashMap::new();
    let mut templates: HashMap<&str, (FileId, Span)> = HashMap::new();
    for module in &cx.modules {
        let file = module.file();
        let mut flows: HashMap<&str, (FileId, Span)> = HashMap::new();
        let mut tests: HashMap<&str, (FileId, Span)> = HashMap::new();
        let mut aliases: HashMap<&str, (FileId, Span)> = HashMap::new();
        for item in &module.parsed.ast.items {
            match item {
                Item::Entity(e) => {
                    match entities.get(e.name.name.as_str()) {
                        Some(&first) => duplicate("entity", &e.name, file, first, cx, diagnostics),
                        None => {
                            entities.insert(&e.name.name, (file, e.name.span));
                        }
                    }
                    check_entity(cx, e, file, diagnostics);
                }
                Item::Template(t) => match templates.get(t.name.name.as_str()) {
                    Some(&first) => duplicate("template", &t.name, file, first, cx, diagnostics),
                    None => {
                        templates.insert(&t.name.name, (file, t.name.span));
                    }
                },
                Item::Flow(f) => match flows.get(f.name.name.as_str()) {
                    Some(&first) => duplicate("flow", &f.name, file, first, cx, diagnostics),
                    None => {
                        flows.insert(&f.name.name, (file, f.name.span));
                    }
                },
                Item::Test(t) => match tests.get(t.name.value.as_str()) {
                    Some(&first) => {
                        let name = Ident {
                            name: t.name.value.clone(),
                            span: t.name.span,
                        };
                        duplicate("test", &name, file, first, cx, diagnostics);
                    }
                    None => {
                        tests.insert(&t.name.value, (file, t.name.span));
                    }
                },
                Item::Use(u) => {
                    check_use(cx, u, file, diagnostics);
                    let alias = u.name();
                    match aliases.get(alias.name.as_str()) {
                        Some(&first) => {
                            let mut d = Diagnostic::new(
                                Code::DuplicateName,
                                file,
                                alias.span,
                                format!("`{}` is imported twice", alias.name),
                            )
                            .label("second `use` with this name")
                            .help("give one of them another name with `as`, e.g. `use a.b as other`");
                            d = d.with(first.1, "first imported here");
                            diagnostics.push(d);
                        }
                        None => {
                            aliases.insert(&alias.name, (file, alias.span));
                        }
                    }
                }
            }
        }
    }
}

fn check_use(cx: &Context<'_>, u: &ast::Use, file: FileId, diagnostics: &mut Diagnostics) {
    let path = u
        .path
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join("/");
    if cx.module_index.contains_key(path.as_str()) {
        return;
    }
    let dotted = path.replace('/', ".");
    let span = match (u.path.first(), u.path.last()) {
        (Some(a), Some(b)) => a.span.to(b.span),
        _ => u.span,
    };
    let candidates: Vec<String> = cx
        .modules
        .iter()
        .map(|m| m.parsed.module_path.replace('/', "."))
        .collect();
    let help = suggest::help_or(&dotted, candidates.iter().map(String::as_str), || {
        format!("`use {dotted}` reads `{path}.flow` under the project root; create it or fix the path")
    });
    diagnostics.push(
        Diagnostic::new(
            Code::UnknownModule,
            file,
            span,
            format!("unknown module `{dotted}`"),
        )
        .label(format!("no file `{path}.flow`"))
        .help(help),
    );
}

fn check_entity(cx: &Context<'_>, e: &ast::Entity, file: FileId, diagnostics: &mut Diagnostics) {
    let mut databases: HashMap<&str, Span> = HashMap::new();
    for db in &e.databases {
        if let Some(first) = databases.get(db.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    file,
                    db.span,
                    format!("database `{}` is listed twice in `{}`", db.name, e.name.name),
                )
                .label("second time")
                .with(*first, "first listed here")
                .help("remove one of them"),
            );
        } else {
            databases.insert(&db.name, db.span);
        }
    }
    let mut settings: HashMap<&str, Span> = HashMap::new();
    for setting in &e.settings {
        if let Some(first) = settings.get(setting.name.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    file,
                    setting.name.span,
                    format!(
                        "setting `{}` is declared twice in `{}`",
                        setting.name.name, e.name.name
                    ),
                )
                .label("second declaration")
                .with(*first, "first declared here")
                .help("keep one of them"),
            );
        } else {
            settings.insert(&setting.name.name, setting.name.span);
        }
        let lower = setting.name.name.to_ascii_lowercase();
        let named_secret = ["token", "password", "api_key", "apikey", "secret"]
            .iter()
            .any(|s| lower.contains(s));
        let value = setting.value.as_plain_str().unwrap_or_default();
        if (named_secret && !value.is_empty()) || super::warnings::looks_like_secret(&value) {
            diagnostics.push(
                Diagnostic::new(
                    Code::SecretLiteral,
                    file,
                    setting.value.span,
                    "secret written in the flow's source",
                )
                .label(format!("`{}` is written as a literal", setting.name.name))
                .help("keep it in an environment variable and read it with `secret(\"ENV_NAME\")`"),
            );
        }
    }
    for grant in &e.grants {
        for db in &grant.databases {
            if !databases.contains_key(db.name.as_str()) {
                let names: Vec<&str> = e.databases.iter().map(|d| d.name.as_str()).collect();
                diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownDatabase,
                        file,
                        db.span,
                        format!("entity `{}` has no database `{}` to grant", e.name.name, db.name),
                    )
                    .label("not in this entity's `databases`")
                    .help(suggest::help_or(&db.name, names, || {
                        format!(
                            "an entity grants its own databases: add `{}` to `databases` first",
                            db.name
                        )
                    })),
                );
            }
        }
        for to in &grant.to {
            if !cx.entities.contains_key(to.name.as_str()) {
                let names: Vec<&str> = cx.entities.keys().copied().collect();
                diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownEntity,
                        file,
                        to.span,
                        format!("unknown entity `{}`", to.name),
                    )
                    .label("no entity has this name")
                    .help(suggest::help_or(&to.name, names, || {
                        format!("declare it with `entity {} {{ ... }}`", to.name)
                    })),
                );
            }
        }
    }
}
