//! The businesses' automations parse: every `.flow` under `flows/` and `stdlib/`, and every
//! ```` ```flow ```` block of `docs/tutorial.md`, with no syntax diagnostic. Also checks that
//! `flowc.toml` and `notion/schema.json` load and agree with the entities the flows declare, so a
//! typo in a database name or an id is caught before the checker or the runtime meet it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowc::config::Config;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::diagnostic::{render, RenderOptions, Sources};
use flowc::project::flow_files;
use flowc::syntax::ast::{Call, Expr, ExprKind, Fallback, Item, Module, Policy, Step, StepBody, Stmt};

/// The 16 logical databases every entity maps in `flowc.toml`.
const DATABASES: [&str; 16] = [
    "BusinessEntity",
    "ContactProfile",
    "CommunityMember",
    "ProductService",
    "WorkflowInstance",
    "MarketingCampaign",
    "FeedbackSurvey",
    "RewardBounty",
    "Task",
    "AgentCommunication",
    "Agent",
    "ApiIntegration",
    "DataTransformation",
    "NotificationTemplate",
    "UseCase",
    "Workflow",
];

/// Survey templates, defined in `stdlib/surveys/NAME.json`, not as notification templates.
const SURVEY_TEMPLATES: [&str; 3] = [
    "client_needs_assessment",
    "event_feedback",
    "project_closing_feedback",
];

const ENTITIES: [&str; 3] = ["the_7_space", "am_consulting", "higherself"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses `text` as file `path`; returns the module and every rendered syntax diagnostic.
fn parse(sources: &mut Sources, path: &Path, text: String) -> (Module, Vec<String>) {
    let file = sources.add(path.to_path_buf(), text.clone());
    let (module, diagnostics) = flowc::parse(&text, file);
    let rendered = diagnostics
        .iter()
        .map(|d| render(d, sources, RenderOptions::default()))
        .collect();
    (module, rendered)
}

fn project_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in ["flows", "stdlib"] {
        files.extend(flow_files(&root().join(folder)));
    }
    files.sort();
    files
}

fn all_modules() -> Vec<(PathBuf, Module)> {
    let mut sources = Sources::new();
    let mut problems = Vec::new();
    let mut modules = Vec::new();
    for path in project_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let (module, diagnostics) = parse(&mut sources, &path, text);
        problems.extend(diagnostics);
        modules.push((path, module));
    }
    assert!(problems.is_empty(), "syntax errors:\n{}", problems.join("\n"));
    modules
}

#[test]
fn every_project_flow_file_parses_without_diagnostics() {
    let modules = all_modules();
    assert!(
        modules.len() >= 9 + 6,
        "expected the nine automations and the stdlib, found {} files",
        modules.len()
    );
}

#[test]
fn the_nine_automations_exist_with_tests() {
    let modules = all_modules();
    let mut flows = BTreeSet::new();
    let mut tested = BTreeSet::new();
    for (_, module) in &modules {
        for item in &module.items {
            match item {
                Item::Flow(f) => {
                    flows.insert(f.name.name.clone());
                }
                Item::Test(t) => {
                    tested.insert(t.flow.name.clone());
                }
                _ => {}
            }
        }
    }
    for name in [
        "wellness_booking",
        "exhibition_planning",
        "community_event",
        "client_onboarding",
        "lead_nurturing",
        "project_delivery",
        "multi_entity_coordination",
        "platform_integration",
        "system_monitoring",
    ] {
        assert!(flows.contains(name), "flow `{name}` is missing");
        assert!(tested.contains(name), "flow `{name}` has no test");
        assert!(
            root()
                .join("docs/automations")
                .join(format!("{name}.md"))
                .is_file(),
            "docs/automations/{name}.md is missing"
        );
    }
}

#[test]
fn every_template_an_email_step_names_is_declared() {
    let modules = all_modules();
    let mut declared = BTreeSet::new();
    for (_, module) in &modules {
        for item in &module.items {
            if let Item::Template(t) = item {
                assert!(
                    declared.insert(t.name.name.clone()),
                    "template `{}` declared twice",
                    t.name.name
                );
            }
        }
    }
    // A textual scan is enough here: the checker does the real resolution.
    let mut used = BTreeSet::new();
    for path in project_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split("template: \"").skip(1) {
            if let Some(end) = piece.find('"') {
                used.insert(piece[..end].to_string());
            }
        }
    }
    // Survey templates (stdlib/surveys/NAME.json) are passed as `template:` too.
    for survey in SURVEY_TEMPLATES {
        used.remove(survey);
    }
    let missing: Vec<_> = used.difference(&declared).collect();
    assert!(missing.is_empty(), "templates used but not declared: {missing:?}");
}

#[test]
fn every_template_part_is_valid_handlebars_with_all_three_parts() {
    let modules = all_modules();
    let mut registry = handlebars::Handlebars::new();
    registry.set_strict_mode(true);
    let mut count = 0;
    for (path, module) in &modules {
        for item in &module.items {
            if let Item::Template(t) = item {
                count += 1;
                // Every template is an email; some are also sent by text or to Slack.
                let kinds: BTreeSet<_> = t
                    .parts
                    .iter()
                    .map(|p| p.kind.keyword())
                    .filter(|k| !["sms", "slack"].contains(k))
                    .collect();
                assert_eq!(
                    kinds,
                    ["html", "subject", "text"].into_iter().collect(),
                    "{}: template `{}` needs a subject, a text and an html part",
                    path.display(),
                    t.name.name
                );
                for part in &t.parts {
                    let name = format!("{}.{}", t.name.name, part.kind.keyword());
                    if let Err(e) = registry.register_template_string(&name, &part.body) {
                        panic!("{}: template `{name}`: {e}", path.display());
                    }
                }
            }
        }
    }
    assert!(count >= 20, "expected the notification templates, found {count}");
}

#[test]
fn tutorial_stages_parse() {
    let path = root().join("docs/tutorial.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sources = Sources::new();
    let mut problems = Vec::new();
    let mut blocks = 0;
    for (i, block) in text.split("```flow\n").skip(1).enumerate() {
        let code = block.split("```").next().unwrap_or_default();
        blocks += 1;
        let stage = PathBuf::from(format!("docs/tutorial.md#block{}", i + 1));
        let (_, diagnostics) = parse(&mut sources, &stage, code.to_string());
        problems.extend(diagnostics);
    }
    assert!(blocks >= 4, "the tutorial should build the flow in stages");
    assert!(problems.is_empty(), "syntax errors:\n{}", problems.join("\n"));
}

#[test]
fn config_maps_every_database_of_every_entity() {
    let path = root().join("flowc.toml");
    let config = Config::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    let mut ids = BTreeSet::new();
    for entity in ENTITIES {
        let e = config
            .entities
            .get(entity)
            .unwrap_or_else(|| panic!("no [entities.{entity}]"));
        assert!(e.notion_token_env.is_some(), "{entity}: notion_token_env");
        assert!(e.email_from.is_some(), "{entity}: email_from");
        assert!(e.reply_to.is_some(), "{entity}: reply_to");
        let names: BTreeSet<_> = e.databases.keys().map(String::as_str).collect();
        assert_eq!(names, DATABASES.into_iter().collect(), "{entity}: databases");
        for (db, id) in &e.databases {
            assert!(
                id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
                "{entity}.{db}: `{id}` is not 32 hex digits"
            );
            assert!(ids.insert(id.clone()), "{entity}.{db}: id `{id}` used twice");
        }
    }
    // Every `verified by NAME` in a flow names a configured scheme.
    for path in project_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split("verified by ").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                config.webhooks.contains_key(&name),
                "{}: webhook scheme `{name}` is not in flowc.toml",
                path.display()
            );
        }
    }
}

#[test]
fn entities_declare_the_configured_databases() {
    let modules = all_modules();
    let mut seen = BTreeSet::new();
    for (_, module) in &modules {
        for item in &module.items {
            if let Item::Entity(e) = item {
                seen.insert(e.name.name.clone());
                let names: BTreeSet<_> = e.databases.iter().map(|d| d.name.as_str()).collect();
                assert_eq!(
                    names,
                    DATABASES.into_iter().collect(),
                    "{}: databases",
                    e.name.name
                );
            }
        }
    }
    assert_eq!(seen, ENTITIES.iter().map(|s| s.to_string()).collect());
}

#[test]
fn schema_describes_every_database_with_a_title() {
    let path = root().join("notion/schema.json");
    let schemas: NotionSchemas = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for entity in ENTITIES {
        for db in DATABASES {
            let schema = schemas
                .database(entity, db)
                .unwrap_or_else(|| panic!("notion/schema.json: no {entity}.{db}"));
            let titles = schema.properties.values().filter(|p| p.kind == "title").count();
            assert_eq!(
                titles, 1,
                "{entity}.{db}: a database has exactly one title property"
            );
            for (name, p) in &schema.properties {
                if matches!(p.kind.as_str(), "select" | "multi_select" | "status") {
                    assert!(!p.options.is_empty(), "{entity}.{db}.{name}: options");
                }
            }
        }
    }
}

/// Every statement of a block list, depth first (branches, arms, fan-out bodies, fallbacks).
fn walk_stmts<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Stmt>) {
    for stmt in stmts {
        out.push(stmt);
        match stmt {
            Stmt::Step(step) => {
                if let StepBody::FanOut(f) = &step.body {
                    walk_stmts(&f.body.stmts, out);
                }
                for policy in &step.policies {
                    if let Policy::Fallback(Fallback::Block(b)) = policy {
                        walk_stmts(&b.stmts, out);
                    }
                }
            }
            Stmt::If(i) => {
                for (_, block) in &i.branches {
                    walk_stmts(&block.stmts, out);
                }
                if let Some(block) = &i.otherwise {
                    walk_stmts(&block.stmts, out);
                }
            }
            Stmt::Match(m) => {
                for arm in &m.arms {
                    walk_stmts(&arm.body.stmts, out);
                }
            }
            _ => {}
        }
    }
}

/// Every connector or sub-flow call of every flow: (file, flow's entity, call).
fn all_calls(modules: &[(PathBuf, Module)]) -> Vec<(PathBuf, String, Call)> {
    let mut calls = Vec::new();
    for (path, module) in modules {
        for item in &module.items {
            let Item::Flow(flow) = item else { continue };
            let mut stmts = Vec::new();
            walk_stmts(&flow.body, &mut stmts);
            if let Some(on_error) = &flow.on_error {
                walk_stmts(&on_error.stmts, &mut stmts);
            }
            for stmt in stmts {
                if let Stmt::Step(Step {
                    body: StepBody::Call(call),
                    ..
                }) = stmt
                {
                    calls.push((path.clone(), flow.entity.name.clone(), call.clone()));
                }
            }
        }
    }
    calls
}

fn arg<'a>(call: &'a Call, name: &str) -> Option<&'a Expr> {
    call.args.iter().find(|a| a.name.name == name).map(|a| &a.value)
}

/// A stand-in for the checker's Notion pass until it lands: property names written in
/// `properties:`, `where:`, `match:` and `sort:` exist in `notion/schema.json`, and literal
/// select, status and multi-select values are options of their property.
#[test]
fn notion_properties_and_options_exist_in_the_schema() {
    let path = root().join("notion/schema.json");
    let schemas: NotionSchemas = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let modules = all_modules();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (file, entity, call) in all_calls(&modules) {
        if call.callee.first().map(|i| i.name.as_str()) != Some("notion") {
            continue;
        }
        let Some(db) = arg(&call, "db").and_then(Expr::as_name) else {
            continue;
        };
        let Some(schema) = schemas.database(&entity, db) else {
            problems.push(format!("{}: no schema for {entity}.{db}", file.display()));
            continue;
        };
        for record_arg in ["properties", "where", "match"] {
            let Some(Expr {
                kind: ExprKind::Record(fields),
                ..
            }) = arg(&call, record_arg)
            else {
                continue;
            };
            for field in fields {
                checked += 1;
                let name = &field.name.name;
                let Some(property) = schema.properties.get(name) else {
                    problems.push(format!("{}: {db} has no property `{name}`", file.display()));
                    continue;
                };
                let mut values = Vec::new();
                match &field.value.kind {
                    ExprKind::List(items) => values.extend(items.iter().filter_map(Expr::as_plain_str)),
                    _ => values.extend(field.value.as_plain_str()),
                }
                if matches!(property.kind.as_str(), "select" | "status" | "multi_select") {
                    for value in values {
                        if !property.options.contains(&value) {
                            problems.push(format!(
                                "{}: `{value}` is not an option of {db}.\"{name}\" {:?}",
                                file.display(),
                                property.options
                            ));
                        }
                    }
                }
            }
        }
        if let Some(Expr {
            kind: ExprKind::List(items),
            ..
        }) = arg(&call, "sort")
        {
            for item in items.iter().filter_map(Expr::as_plain_str) {
                let name = item.trim_start_matches('-');
                if !schema.properties.contains_key(name) {
                    problems.push(format!("{}: cannot sort {db} by `{name}`", file.display()));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} properties checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The top-level variables a handlebars body uses (`{{a.b}}` → `a`, `{{#if a}}` → `a`); the
/// inside of `{{#each}}` blocks refers to the items, so only the list itself counts.
fn template_variables(body: &str) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    let mut depth_each = 0;
    for piece in body.split("{{").skip(1) {
        let Some(end) = piece.find("}}") else { continue };
        let tag = piece[..end].trim();
        let (helper, rest) = match tag.split_once(' ') {
            Some((h, r)) => (h, r.trim()),
            None => (tag, ""),
        };
        let name = match helper {
            "#if" | "#unless" => rest,
            "#each" => {
                let list = rest;
                depth_each += 1;
                if depth_each == 1 {
                    vars.insert(list.split('.').next().unwrap_or_default().to_string());
                }
                continue;
            }
            "/each" => {
                depth_each -= 1;
                continue;
            }
            "/if" | "/unless" | "else" => continue,
            _ => tag,
        };
        if depth_each == 0 && !name.is_empty() {
            vars.insert(name.split('.').next().unwrap_or_default().to_string());
        }
    }
    vars
}

/// A stand-in for the checker's template pass until it lands: every `email.send` whose `with:`
/// is a record (written there or in a `let` of the same flow) passes every variable its
/// template uses, since templates render in strict mode.
#[test]
fn email_steps_pass_every_variable_their_template_uses() {
    let modules = all_modules();
    let mut templates = std::collections::BTreeMap::new();
    let mut lets = std::collections::BTreeMap::new();
    for (path, module) in &modules {
        for item in &module.items {
            match item {
                Item::Template(t) => {
                    let mut vars = BTreeSet::new();
                    for part in &t.parts {
                        vars.extend(template_variables(&part.body));
                    }
                    templates.insert(t.name.name.clone(), vars);
                }
                Item::Flow(flow) => {
                    let mut stmts = Vec::new();
                    walk_stmts(&flow.body, &mut stmts);
                    for stmt in stmts {
                        if let Stmt::Let(l) = stmt {
                            lets.insert(
                                (path.clone(), flow.name.name.clone(), l.name.name.clone()),
                                l.value.clone(),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, module) in &modules {
        for item in &module.items {
            let Item::Flow(flow) = item else { continue };
            let mut stmts = Vec::new();
            walk_stmts(&flow.body, &mut stmts);
            if let Some(on_error) = &flow.on_error {
                walk_stmts(&on_error.stmts, &mut stmts);
            }
            for stmt in stmts {
                let Stmt::Step(Step {
                    name,
                    body: StepBody::Call(call),
                    ..
                }) = stmt
                else {
                    continue;
                };
                if call.callee_name() != "email.send" {
                    continue;
                }
                let Some(template) = arg(call, "template").and_then(Expr::as_plain_str) else {
                    continue;
                };
                let mut with = arg(call, "with");
                if let Some(let_name) = with.and_then(Expr::as_name) {
                    with = lets.get(&(path.clone(), flow.name.name.clone(), let_name.to_string()));
                }
                let Some(Expr {
                    kind: ExprKind::Record(fields),
                    ..
                }) = with
                else {
                    continue;
                };
                checked += 1;
                let passed: BTreeSet<_> = fields.iter().map(|f| f.name.name.clone()).collect();
                let needed = templates.get(&template).cloned().unwrap_or_default();
                for var in needed.difference(&passed) {
                    problems.push(format!(
                        "{}: step `{}` sends `{template}` without `{var}`",
                        path.display(),
                        name.name
                    ));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} email steps checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn template_variables_are_read_from_handlebars() {
    let vars =
        template_variables("Hi {{name}}, {{#if ok}}{{details.x}}{{/if}} {{#each rows}}{{entity}}{{/each}}");
    assert_eq!(
        vars,
        ["details", "name", "ok", "rows"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

/// Each automation's page lists its tests by name, so the page cannot drift from the file.
#[test]
fn automation_pages_list_every_test_of_their_file() {
    let mut problems = Vec::new();
    for (path, module) in all_modules() {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if !path.starts_with(root().join("flows")) || stem == "entities" {
            continue;
        }
        let page_path = root().join("docs/automations").join(format!("{stem}.md"));
        let page = std::fs::read_to_string(&page_path).unwrap_or_default();
        let page = page.split_whitespace().collect::<Vec<_>>().join(" ");
        for item in &module.items {
            if let Item::Test(t) = item {
                if !page.contains(&t.name.value) {
                    problems.push(format!(
                        "{}: test `{}` is not listed",
                        page_path.display(),
                        t.name.value
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn flow_files_gives_canonical_paths_from_a_relative_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = flow_files(&root.join("flows").join("..").join("stdlib"));
    assert!(files.iter().any(|f| f.ends_with("notify.flow")), "{files:?}");
    for file in &files {
        assert_eq!(&std::fs::canonicalize(file).unwrap(), file);
    }
}
