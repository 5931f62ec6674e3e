//! A realistic multi-file project (modules, entities with grants, templates, fan-outs over
//! entities, fallbacks, tests) must check without a single diagnostic: a guard against false
//! positives, which users hate more than missed mistakes.

use std::path::Path;

use flowc::diagnostic::Code;
use flowc::{Project, Registry};

use super::common::render_all;

#[test]
fn realistic_project_is_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/project");
    let project = Project::load(&root).expect("the project loads");
    assert_eq!(project.modules.len(), 2, "main.flow and stdlib/contacts.flow");
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    assert!(
        diagnostics.is_empty(),
        "\n{}",
        render_all(&project.sources, &diagnostics)
    );
}

#[test]
fn a_module_call_with_a_wrong_argument_is_found_across_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/project");
    let mut project = Project::load(&root).expect("the project loads");
    project.add_source(
        root.join("extra.flow"),
        "use stdlib.contacts\n\nflow extra for the_7_space {\n  on manual\n  step c = contacts.find_or_create(mail: \"a@b.c\")\n  output { id: c.id }\n}\n"
            .to_string(),
    );
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    // One mistake, one diagnostic: `email` is not also reported missing, since `mail` meant it.
    assert_eq!(
        codes,
        [Code::UnknownArgument],
        "{}",
        render_all(&project.sources, &diagnostics)
    );
    assert!(
        diagnostics[0].help.as_deref() == Some("did you mean `email`?"),
        "{:?}",
        diagnostics[0].help
    );
}

#[test]
fn large_projects_keep_files_and_positions_straight() {
    // Over the size where parsing and checking use several threads: each diagnostic must still
    // name its own file and place.
    let flow = |i: usize, output: &str| {
        format!(
            "flow f{i} for studio {{\n  on manual\n  input {{ email: email }}\n  step contact = notion.find_or_create(db: Contacts, match: {{ Email: input.email }})\n  output {{ id: {output}.id }}\n}}\n\n"
        )
    };
    let mut files: Vec<(String, String)> = vec![(
        "entity.flow".into(),
        "entity studio {\n  databases Contacts\n}\n".into(),
    )];
    for f in 0..40 {
        let mut text = String::new();
        for i in 0..150 {
            let wrong = f % 13 == 5 && i == 149;
            text.push_str(&flow(f * 1000 + i, if wrong { "contcat" } else { "contact" }));
        }
        files.push((format!("m{f:02}.flow"), text));
    }
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    assert!(bytes > 800_000, "big enough to go parallel: {bytes} bytes");
    let project = Project::from_sources(
        Path::new("/big"),
        flowc::config::Config::default(),
        files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
    );
    for (module, (name, _)) in project.modules.iter().zip(&files) {
        assert_eq!(
            project.sources.get(module.file).path,
            Path::new("/big").join(name)
        );
    }
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    let places: Vec<(String, (usize, usize, usize, usize))> = diagnostics
        .iter()
        .map(|d| {
            let path = project.sources.get(d.file).path.display().to_string();
            (path, flowc::diagnostic::position(d, &project.sources))
        })
        .collect();
    let line = 149 * 7 + 5;
    let expected: Vec<(String, (usize, usize, usize, usize))> = [5, 18, 31]
        .iter()
        .map(|f| (format!("/big/m{f:02}.flow"), (line, 16, line, 23)))
        .collect();
    assert_eq!(places, expected);
    assert!(diagnostics.iter().all(|d| d.code == Code::UnknownName));
}

#[test]
fn an_entity_declared_in_two_files_names_the_first_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/project");
    let mut project = Project::load(&root).expect("the project loads");
    project.add_source(
        root.join("again.flow"),
        "entity higherself \"Higher Self\" {\n  databases Overview\n}\n".to_string(),
    );
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    assert_eq!(
        diagnostics.len(),
        1,
        "{}",
        render_all(&project.sources, &diagnostics)
    );
    assert_eq!(diagnostics[0].code, Code::DuplicateName);
    assert_eq!(
        diagnostics[0].help.as_deref(),
        Some("it is first declared in main.flow; rename or remove one of them")
    );
}

#[test]
fn checking_files_compiles_only_their_own_templates_and_the_ones_their_flows_send() {
    let templates = "template welcome {\n  subject \"Welcome\"\n  text \"Hi {{name}}\"\n}\n\ntemplate broken {\n  subject \"Broken\"\n  text \"Hi {{#if name}}\"\n}\n";
    let greet = "entity studio {\n  databases Contacts\n}\n\nflow greet for studio {\n  on manual\n  input { email: email }\n  step sent = email.send(to: input.email, template: \"welcome\", with: { nam: \"Maya\" })\n}\n";
    let project = Project::from_sources(
        Path::new("/t"),
        flowc::config::Config::default(),
        [("templates.flow", templates), ("greet.flow", greet)],
    );
    let file = |name: &str| {
        project
            .modules
            .iter()
            .map(|m| m.file)
            .find(|&f| project.sources.get(f).path.ends_with(name))
            .expect("a file of the project")
    };
    let registry = Registry::declared_builtins();
    let codes = |diagnostics: &flowc::Diagnostics| diagnostics.iter().map(|d| d.code).collect::<Vec<_>>();
    // The flow's `with:` is checked against the template it sends (compiled when first used);
    // the other file's broken template is not compiled, as `greet.flow` cannot break it.
    let one = codes(&flowc::check::check_files(
        &project,
        &registry,
        &[file("greet.flow")],
    ));
    assert!(one.contains(&Code::TemplateVariable), "{one:?}");
    assert!(!one.contains(&Code::TemplateSyntax), "{one:?}");
    let own = codes(&flowc::check::check_files(
        &project,
        &registry,
        &[file("templates.flow")],
    ));
    assert!(own.contains(&Code::TemplateSyntax), "{own:?}");
    // An editor keeps the project-wide findings of every file: it still gets them all.
    let apart = flowc::check::check_files_apart(&project, &registry, &[file("greet.flow")]);
    assert!(codes(&apart.wide).contains(&Code::TemplateSyntax));
}
