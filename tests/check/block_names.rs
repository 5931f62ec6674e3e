//! Names declared in blocks (an `if` branch, a match arm, a fan-out body, a fallback block) and
//! where they may be read or waited for: what the checker accepts, the planner compiles (its
//! graphs are the flow's body, `on error`, each fan-out body and each fallback block). The
//! shapes it refuses are in the ui corpus (E0303, E0307, E0403).

use std::path::Path;

use flowc::config::Config;
use flowc::{Project, Registry};

const ENTITY: &str = "entity studio {\n  databases Contacts, Tasks\n}\n\n";

/// Checks `flow` (named `f`) alone: no errors, and it compiles.
fn accepted(flow: &str) {
    let src = format!("{ENTITY}{flow}");
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
    let diagnostics = flowc::check(&project, &Registry::declared_builtins());
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
        .collect();
    assert!(errors.is_empty(), "{flow}\nchecks with errors: {errors:?}");
    if let Err(e) = flowc::plan::compile(&project, None, "f") {
        panic!("{flow}\npasses the checker but does not compile: {e}");
    }
}

#[test]
fn a_step_of_an_if_branch_or_match_arm_is_none_after_it() {
    accepted(
        "flow f for studio {\n  on manual\n  input { go: bool, kind: text }\n  if input.go {\n    step task = notion.create_page(db: Tasks, properties: { Name: \"a\" })\n  }\n  match input.kind {\n    \"b\" => {\n      step other = notion.create_page(db: Tasks, properties: { Name: \"b\" })\n    }\n    _ => {}\n  }\n  step note = notion.create_page(db: Tasks, properties: { Name: \"n\" })\n    after task, other\n  output { task: task.id ?? \"none\", other: other.id ?? \"none\", note: note.id }\n}\n",
    );
}

#[test]
fn a_step_of_a_fallback_is_read_inside_it_and_through_its_yield() {
    accepted(
        "flow f for studio {\n  on manual\n  input { go: bool, emails: [email] }\n  step contact = notion.query_one(db: Contacts, where: { Name: \"x\" })\n    fallback {\n      step task = notion.create_page(db: Tasks, properties: { Name: \"find\" })\n      if input.go {\n        step extra = notion.create_page(db: Tasks, properties: { Name: \"extra\" })\n          after task\n      }\n      step each = for address in input.emails {\n        step page = notion.create_page(db: Tasks, properties: { Name: \"{{ address }} {{ task.id }}\" })\n        yield page.id\n      }\n      yield { id: none, task: task.id, extra: extra.id ?? \"\", each: each }\n    }\n  output { contact: contact.id, task: contact.task }\n}\n",
    );
}

#[test]
fn a_fan_out_waits_for_outer_steps_and_its_steps_for_each_other() {
    accepted(
        "flow f for studio {\n  on manual\n  input { emails: [email] }\n  step announce = notion.create_page(db: Tasks, properties: { Name: \"start\" })\n  step pages = for address in input.emails {\n    step page = notion.create_page(db: Contacts, properties: { Email: address })\n    step note = notion.create_page(db: Tasks, properties: { Name: \"note\" })\n      after page\n    yield note.id\n  }\n    after announce\n  step done = notion.create_page(db: Tasks, properties: { Name: \"done\" })\n    after pages\n  output { ids: pages, done: done.id }\n}\n",
    );
}
