//! E0306: what `on error` reads from the flow's body must be set before anything can fail, or be
//! read with a default or under a test for none.

use std::path::Path;

use flowc::diagnostic::Code;

use super::common::check_one;

/// The E0306 messages for a flow whose body is `body` and whose handler emits `payload`.
fn unset(body: &str, payload: &str) -> Vec<String> {
    let src = format!(
        "entity e {{\n  databases Contacts\n  setting ops = \"ops@e.example\"\n}}\n\nflow f for e {{\n  on manual\n  input {{ email: email, name: text }}\n{body}\n  on error {{\n    emit \"f.failed\" {payload}\n  }}\n}}\n"
    );
    let (_, diagnostics) = check_one(Path::new("/t"), "t.flow", &src);
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(
        errors.iter().all(|d| d.code == Code::UnsetInHandler),
        "{src}\n{errors:#?}"
    );
    errors.iter().map(|d| d.message.clone()).collect()
}

const BODY: &str = "  let who = \"{{ input.name }} <{{ input.email }}>\"
  step client = notion.find_or_create(db: Contacts, match: { Email: input.email })
  let reference = \"contact-{{ client.id }}\"
  output { reference, who }";

#[test]
fn lets_of_input_set_at_the_start_are_safe() {
    assert_eq!(
        unset(BODY, "{ who, email: input.email, ops: e.ops, step: error.step }"),
        Vec::<String>::new()
    );
}

#[test]
fn steps_and_what_is_computed_from_them_are_not() {
    assert_eq!(
        unset(BODY, "{ id: client.id }"),
        vec!["step `client` may have no value in `on error`"]
    );
    assert_eq!(
        unset(BODY, "{ reference }"),
        vec!["let `reference` may have no value in `on error`"]
    );
    // One diagnostic per value, however often the handler reads it.
    assert_eq!(unset(BODY, "{ a: reference, b: reference }").len(), 1);
}

#[test]
fn a_default_or_a_test_for_none_says_what_to_do_without_it() {
    assert_eq!(
        unset(BODY, "{ reference: reference ?? input.email }"),
        Vec::<String>::new()
    );
    assert_eq!(unset(BODY, "{ id: client.id ?? \"none\" }"), Vec::<String>::new());
    assert_eq!(unset(BODY, "{ known: client != none }"), Vec::<String>::new());
    let narrowed = format!("{BODY}\n  on error {{\n    if client != none {{\n      emit \"f.failed\" {{ id: client.id }}\n    }}\n  }}");
    let src = format!(
        "entity e {{\n  databases Contacts\n}}\n\nflow f for e {{\n  on manual\n  input {{ email: email, name: text }}\n{narrowed}\n}}\n"
    );
    let (_, diagnostics) = check_one(Path::new("/t"), "t.flow", &src);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:#?}");
}

#[test]
fn lets_below_a_fail_or_a_wait_are_not_safe() {
    let guarded = "  let first_tag = \"{{ input.name }}\"
  if input.name == \"\" {
    fail \"no name\"
  }
  let greeting = \"Hi {{ input.name }}\"
  output { first_tag, greeting }";
    assert_eq!(unset(guarded, "{ first_tag }"), Vec::<String>::new());
    assert_eq!(
        unset(guarded, "{ greeting }"),
        vec!["let `greeting` may have no value in `on error`"]
    );
    let waited = "  wait 1d
  let later = \"{{ input.name }}\"
  output { later }";
    assert_eq!(
        unset(waited, "{ later }"),
        vec!["let `later` may have no value in `on error`"]
    );
}
