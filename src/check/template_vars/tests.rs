//! Both readings of a template agree: on the repository's templates and on generated ones.

use std::collections::BTreeSet;

use handlebars::template::Template;

use super::{collect, lower, scan};

/// Both roads, when the fast one reads `body`: the fast one must agree with handlebars.
fn same(body: &str) -> Option<bool> {
    let fast = scan(body)?;
    match Template::compile(body) {
        Ok(t) => Some(lower(&t) == fast),
        Err(_) => Some(false),
    }
}

#[test]
fn reads_the_usual_subset_as_handlebars_does() {
    for body in [
        "Hi {{name}}, your {{service.title}} starts {{format_date starts \"%A %-d %B\"}}.",
        "{{#if ok}}yes{{else}}no {{reason}}{{/if}}",
        "{{~#each rows as |row i|~}} {{row.id}} {{../title}} {{@index}} {{this}}{{/each~}}",
        "{{#with person}}{{age}}{{/with}}{{! a comment }}{{!-- a }} comment --}}",
        "{{upper greeting}} {{join items sep=\", \" max=3}} {{eq a -1}} {{x true}} {{y null}}",
        "{{eq a 0}} {{join items sep=\", \"~}} {{~eq b -20~}}",
        "{{#unless done}}{{/unless}}{{#if}}{{/if}}{{ spaced }}{{this.name}}{{./x}}{{@root.y}}",
    ] {
        assert_eq!(same(body), Some(true), "{body}");
    }
}

#[test]
fn gives_up_on_what_it_does_not_read() {
    for body in [
        "{{{raw}}}",
        "{{& raw}}",
        "{{> partial}}",
        "\\{{escaped}}",
        "{{#if (gt a 1)}}x{{/if}}",
        "{{else}}",
        "{{elsewhere}}",
        "{{#if a}}{{else if b}}{{/if}}",
        "{{#if a}}x{{/each}}",
        "{{#if a}}x",
        "{{x 'single'}}",
        "{{x \"a\\\"b\"}}",
        "{{x 01}}",
        "{{x 1.5}}",
        "{{x k=a k=b}}",
        "{{x -}}",
        "{{x -a}}",
        "{{a.b c}}",
        "{{a..b}}",
        "{{a.[0]}}",
        "{{true}}",
        "{{unclosed",
        "{{#each x as |a b c|}}{{/each}}",
    ] {
        assert_eq!(scan(body), None, "{body}");
    }
}

#[test]
fn each_and_with_hide_the_names_inside() {
    let mut vars = BTreeSet::new();
    let tree = scan("{{#each items}}{{name}} {{../title}}{{/each}}{{#with p}}{{age}}{{/with}}")
        .expect("in the subset");
    collect(&tree, &mut Vec::new(), &mut vars);
    assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["items", "p", "title"]);
}

/// Every template part of the repository's `.flow` files (the businesses', the standard
/// library's, and the tests' broken ones), with whether it is one of the businesses'.
fn repository_templates() -> Vec<(String, bool)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "flow") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bodies = Vec::new();
    for dir in ["flows", "stdlib", "examples", "tests"] {
        let mut files = Vec::new();
        walk(&root.join(dir), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            let parsed = crate::syntax::parse_recovering(&text, crate::diagnostic::FileId(0));
            for item in &parsed.module.items {
                if let crate::syntax::ast::Item::Template(t) = item {
                    bodies.extend(
                        t.parts
                            .iter()
                            .map(|p| (p.body.clone(), dir == "flows" || dir == "stdlib")),
                    );
                }
            }
        }
    }
    bodies
}

#[test]
fn every_template_of_the_repository_reads_as_handlebars_reads_it() {
    let bodies = repository_templates();
    assert!(bodies.len() > 50, "found {} templates", bodies.len());
    for (body, business) in &bodies {
        match same(body) {
            Some(same) => assert!(same, "the fast road differs from handlebars on {body:?}"),
            // The businesses' templates are in the subset: checking them stays fast.
            None => assert!(!business, "not read by the fast road: {body:?}"),
        }
    }
}

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{#if ",
    "{{#each ",
    "{{#with ",
    "{{/if}}",
    "{{/each}}",
    "{{/with}}",
    "{{else}}",
    "{{else",
    "{{~",
    "~}}",
    "{{!",
    "{{!--",
    "--}}",
    "{{{",
    "}}}",
    "{{&",
    "{{>",
    "name",
    "a.b",
    "a/b",
    "../x",
    "./y",
    "this",
    "this.z",
    "@index",
    "@root.r",
    "...",
    " ",
    "\n",
    "\"s\"",
    "\"}}\"",
    "'q'",
    "1",
    "01",
    "-2",
    "1.5",
    "true",
    "null",
    "k=",
    "=",
    "~",
    "as |x|",
    "as |x y|",
    " as ",
    "text",
    "{",
    "}",
    "(",
    ")",
    "|",
    "\\",
    ".",
    "/",
    "[0]",
    "else",
    "é",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    /// Whatever the fast road reads, handlebars compiles to the same tree.
    #[test]
    fn the_fast_road_never_reads_what_handlebars_would_not(
        parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..14)
    ) {
        let body = parts.concat();
        if let Some(fast) = scan(&body) {
            let compiled = Template::compile(&body);
            proptest::prop_assert!(compiled.is_ok(), "handlebars refuses {:?}", body);
            if let Ok(t) = compiled {
                proptest::prop_assert_eq!(lower(&t), fast, "{:?}", body);
            }
        }
    }
}

/// Templates near the subset: mustaches, blocks and comments, then one character changed.
fn near_subset() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let path = proptest::sample::select(
        &[
            "name", "a.b", "../x", "@index", "this", "this.z", "1x", "é", "as", "true",
        ][..],
    );
    let arg = proptest::sample::select(
        &[
            "name",
            "a.b",
            "\"s\"",
            "\"}}\"",
            "1",
            "-2",
            "01",
            "1.5",
            "true",
            "null",
            "k=v",
            "k = \"v\"",
            "'q'",
            "as",
            "else",
            "(x)",
        ][..],
    );
    let tilde = proptest::sample::select(&["", "~"][..]);
    let expr = (
        tilde.clone(),
        path,
        proptest::collection::vec(arg.clone(), 0..3),
        tilde.clone(),
    )
        .prop_map(|(a, p, args, b)| {
            format!(
                "{{{{{a}{p}{}{b}}}}}",
                args.iter().map(|x| format!(" {x}")).collect::<String>()
            )
        });
    let leaf = prop_oneof![
        expr,
        proptest::sample::select(&["text ", "{{! c }}", "{{!-- c }} --}}", "{{else}}", "\n"][..])
            .prop_map(str::to_string),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
        let helper = proptest::sample::select(&["if", "each", "with", "unless"][..]);
        let close = proptest::sample::select(&["", "", "", "if"][..]);
        let params = proptest::sample::select(&["", " as |x|", " as |x y|"][..]);
        (
            helper,
            arg.clone(),
            params,
            proptest::collection::vec(inner.clone(), 0..3),
            proptest::option::of(proptest::collection::vec(inner, 0..2)),
            close,
        )
            .prop_map(|(h, a, bp, body, inverse, close)| {
                let close = if close.is_empty() { h } else { close };
                let inverse = inverse
                    .map(|i| format!("{{{{else}}}}{}", i.concat()))
                    .unwrap_or_default();
                format!("{{{{#{h} {a}{bp}}}}}{}{inverse}{{{{/{close}}}}}", body.concat())
            })
    });
    (
        proptest::collection::vec(tree, 1..4),
        any::<usize>(),
        proptest::sample::select(&["", "{", "}", " ", "~", "/", "#", "\\", "|", "."][..]),
    )
        .prop_map(|(parts, at, insert)| {
            let body = parts.concat();
            let at = body
                .char_indices()
                .map(|(i, _)| i)
                .nth(at % (body.chars().count() + 1))
                .unwrap_or(body.len());
            format!("{}{insert}{}", &body[..at], &body[at..])
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    /// The same, on templates built to be near the subset.
    #[test]
    fn near_the_subset_the_fast_road_agrees_with_handlebars(body in near_subset()) {
        if let Some(fast) = scan(&body) {
            let compiled = Template::compile(&body);
            proptest::prop_assert!(compiled.is_ok(), "handlebars refuses {:?}", body);
            if let Ok(t) = compiled {
                proptest::prop_assert_eq!(lower(&t), fast, "{:?}", body);
            }
        }
    }
}
