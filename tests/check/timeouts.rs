//! `timeout EXPR`: a computed timeout must be a duration, and counts as one `timeout` policy.

use std::path::Path;

use flowc::diagnostic::Code;

use super::common::check_one;

fn errors(step_policies: &str) -> Vec<(Code, String)> {
    let src = format!(
        "entity e {{ setting reply_within = 3d }}\nflow f for e {{\n  input {{ deadline: datetime, name: text, wait: duration? }}\n  let grace = 1h\n  step a = http.get(url: \"https://x.test\")\n{step_policies}\n  output {{ a }}\n}}\n"
    );
    let (_, diagnostics) = check_one(Path::new("/t"), "t.flow", &src);
    diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code, d.message))
        .collect()
}

#[test]
fn durations_computed_from_input_settings_and_lets_are_accepted() {
    assert_eq!(errors("    timeout input.deadline - now()"), vec![]);
    assert_eq!(errors("    timeout e.reply_within"), vec![]);
    assert_eq!(errors("    timeout grace * 2"), vec![]);
    // `none` means no timeout.
    assert_eq!(errors("    timeout input.wait"), vec![]);
}

#[test]
fn a_computed_timeout_must_be_a_duration() {
    let found = errors("    timeout input.name");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Code::TypeMismatch);
    assert!(
        found[0].1.contains("`timeout` needs a `duration`"),
        "{}",
        found[0].1
    );
    let found = errors("    timeout input.deadline");
    assert_eq!(found[0].0, Code::TypeMismatch);
}

#[test]
fn a_computed_and_a_written_timeout_are_two_timeouts() {
    let found = errors("    timeout 30s\n    timeout grace");
    assert_eq!(
        found,
        vec![(
            Code::DuplicatePolicy,
            "step `a` has two `timeout` policies".to_string()
        )]
    );
}

#[test]
fn unknown_names_in_a_timeout_are_reported() {
    let found = errors("    timeout input.dealine - now()");
    assert!(found.iter().any(|(c, _)| *c == Code::UnknownField), "{found:?}");
}
