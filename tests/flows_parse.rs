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
use flowc::syntax::ast::{Item, Module};

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
            root().join("docs/automations").join(format!("{name}.md")).is_file(),
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
                let kinds: BTreeSet<_> = t.parts.iter().map(|p| p.kind.keyword()).collect();
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
        let e = config.entities.get(entity).unwrap_or_else(|| panic!("no [entities.{entity}]"));
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
            let name: String = piece.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
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
                assert_eq!(names, DATABASES.into_iter().collect(), "{}: databases", e.name.name);
            }
        }
    }
    assert_eq!(seen, ENTITIES.iter().map(|s| s.to_string()).collect());
}

#[test]
fn schema_describes_every_database_with_a_title() {
    let path = root().join("notion/schema.json");
    let schemas: NotionSchemas =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for entity in ENTITIES {
        for db in DATABASES {
            let schema = schemas
                .database(entity, db)
                .unwrap_or_else(|| panic!("notion/schema.json: no {entity}.{db}"));
            let titles = schema.properties.values().filter(|p| p.kind == "title").count();
            assert_eq!(titles, 1, "{entity}.{db}: a database has exactly one title property");
            for (name, p) in &schema.properties {
                if matches!(p.kind.as_str(), "select" | "multi_select" | "status") {
                    assert!(!p.options.is_empty(), "{entity}.{db}.{name}: options");
                }
            }
        }
    }
}
