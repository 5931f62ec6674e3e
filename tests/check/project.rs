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
