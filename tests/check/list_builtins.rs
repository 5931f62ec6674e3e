//! The list built-ins (`filter`, `find`, `count`, `pluck`, `any`, `all`): argument kinds, arity
//! and the types their results give later expressions.

use std::path::Path;

use flowc::diagnostic::Code;

use super::common::check_one;

/// The errors `flowc check` reports for a flow whose body is `body`, with `people` a list of
/// `{ name: text, role: text, vip: bool }` records.
fn codes(body: &str) -> Vec<(Code, String)> {
    let src = format!(
        "entity e {{}}\nflow f for e {{\n  input {{ people: [{{ name: text, role: text, vip: bool }}] }}\n{body}\n}}\n"
    );
    let (_, diagnostics) = check_one(Path::new("/t"), "t.flow", &src);
    diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code, d.message))
        .collect()
}

#[test]
fn well_typed_uses_are_accepted() {
    let body = r#"
  let artists = filter(input.people, { role: "artist" })
  let first_name = upper(artists[0].name)
  let vip = find(input.people, { vip: true })
  let vip_name = vip.name ?? "nobody"
  let n = count(input.people, { role: "artist" }) + count(input.people)
  let names = join(pluck(input.people, "name"), ", ")
  let some_vip = any(pluck(input.people, "vip")) and all([true, n > 0])
  output { first_name, vip_name, n, names, some_vip }"#;
    assert_eq!(codes(body), vec![]);
}

#[test]
fn results_carry_the_element_and_field_types() {
    // `pluck` of a text field is a list of text: adding it to a number is an error.
    let found = codes(r#"  let x = first(pluck(input.people, "name")) + 1"#);
    assert!(found.iter().any(|(c, _)| *c == Code::TypeMismatch), "{found:?}");
    // `count` is a number, `any` a bool.
    let found = codes("  let x = upper(count(input.people))");
    assert!(found.iter().any(|(c, _)| *c == Code::TypeMismatch), "{found:?}");
    let found = codes("  let x = any([true]) + 1");
    assert!(found.iter().any(|(c, _)| *c == Code::TypeMismatch), "{found:?}");
    // `find` gives one of the list's records (or none): an unknown field is reported.
    let found = codes("  let x = find(input.people, { vip: true }).age");
    assert!(found.iter().any(|(c, _)| *c == Code::UnknownField), "{found:?}");
}

#[test]
fn wrong_arguments_are_reported() {
    let found = codes(r#"  let x = filter(input.people, "artist")"#);
    assert_eq!(
        found,
        vec![(
            Code::TypeMismatch,
            "argument 2 of `filter` must be a record, found `text`".to_string()
        )]
    );
    let found = codes(r#"  let x = any(pluck(input.people, "name"))"#);
    assert_eq!(
        found,
        vec![(
            Code::TypeMismatch,
            "argument 1 of `any` must be a list of `bool`, found `[text]`".to_string()
        )]
    );
    let found = codes(r#"  let x = pluck(input.people, "nmae")"#);
    assert_eq!(
        found,
        vec![(
            Code::UnknownField,
            "the list's records have no field `nmae`".to_string()
        )]
    );
    let found = codes("  let x = find(input.people)");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Code::WrongArity);
    assert_eq!(found[0].1, "`find` takes 2 arguments, but 1 was given");
    let found = codes("  let x = count(input.people, { a: 1 }, 3)");
    assert_eq!(found[0].1, "`count` takes 1 or 2 arguments, but 3 were given");
    let found = codes("  let x = fitler(input.people, { a: 1 })");
    assert_eq!(found[0].0, Code::UnknownFunction);
}
