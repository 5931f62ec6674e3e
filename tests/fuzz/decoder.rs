//! Inputs for the input decoder (`runtime/input.rs`): a random `input { ... }` declaration, and
//! JSON that mostly has its shape, with edge values (huge numbers, impossible dates, odd
//! durations) and, now and then, anything at all in place of a value.

use proptest::prelude::*;
use serde_json::{json, Value as J};

/// A declared type, enough to write it and to make JSON of its shape.
#[derive(Clone, Debug)]
enum Ty {
    Named(&'static str),
    List(Box<Ty>),
    Record(Vec<Field>),
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    ty: Ty,
    optional: bool,
    /// A default, written in the language.
    default: Option<&'static str>,
}

const NAMED: &[&str] = &[
    "text", "email", "number", "bool", "datetime", "date", "duration", "any",
];

fn ty() -> impl Strategy<Value = Ty> {
    let leaf = prop::sample::select(NAMED).prop_map(Ty::Named);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Ty::List(Box::new(t))),
            prop::collection::vec(field(inner), 1..4).prop_map(|fields| Ty::Record(dedup(fields))),
        ]
    })
}

fn field(ty: impl Strategy<Value = Ty>) -> impl Strategy<Value = Field> {
    (
        prop::sample::select(&["a", "b", "c", "when", "email", "items"][..]),
        ty,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, ty, optional, with_default)| {
            let default = match (&ty, with_default) {
                (Ty::Named("text"), true) => Some("\"x\""),
                (Ty::Named("number"), true) => Some("1.5"),
                (Ty::Named("bool"), true) => Some("false"),
                (Ty::Named("duration"), true) => Some("2d"),
                (Ty::Named("datetime"), true) => Some("\"2026-01-05T09:00:00Z\""),
                (Ty::Named("date"), true) => Some("\"2026-01-05\""),
                _ => None,
            };
            Field {
                name: name.to_string(),
                ty,
                optional,
                default,
            }
        })
}

/// Field names are unique in a record.
fn dedup(fields: Vec<Field>) -> Vec<Field> {
    let mut seen = std::collections::HashSet::new();
    fields
        .into_iter()
        .filter(|f| seen.insert(f.name.clone()))
        .collect()
}

fn write_ty(ty: &Ty) -> String {
    match ty {
        Ty::Named(name) => name.to_string(),
        Ty::List(inner) => format!("[{}]", write_ty(inner)),
        Ty::Record(fields) => format!("{{ {} }}", write_fields(fields)),
    }
}

fn write_fields(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| {
            let optional = if f.optional { "?" } else { "" };
            let default = f.default.map(|d| format!(" = {d}")).unwrap_or_default();
            format!("{}: {}{optional}{default}", f.name, write_ty(&f.ty))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Any JSON at all, small.
fn any_json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(J::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(J::Array),
            prop::collection::btree_map("[a-c]|when|email|items", inner, 0..3)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

/// Values of the right kind for a named type, edge values included.
fn named_json(name: &str) -> BoxedStrategy<J> {
    let texts =
        |values: &'static [&'static str]| prop::sample::select(values).prop_map(|s| J::String(s.to_string()));
    match name {
        "text" => "\\PC{0,20}".prop_map(J::String).boxed(),
        "email" => texts(&[
            "maya@example.com",
            "@",
            "a@",
            "@b",
            "no-at",
            "a@b@c",
            "\"q\"@x.example",
            "a@[127.0.0.1]",
            "",
        ])
        .boxed(),
        "number" => prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            Just(json!(820982911946154508u64)),
            Just(json!(0.1)),
            Just(json!(1e21)),
            Just(json!(-0.0)),
        ]
        .boxed(),
        "bool" => any::<bool>().prop_map(J::Bool).boxed(),
        "datetime" => texts(&[
            "2026-01-05T09:00:00Z",
            "2026-01-05T09:00:00+14:00",
            "2026-02-30T09:00:00Z",
            "9999-12-31T23:59:59Z",
            "+262143-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2026-01-05",
            "2026-01-05T24:00:00Z",
            "2026-01-05T09:00:60Z",
            "",
        ])
        .boxed(),
        "date" => texts(&[
            "2026-01-05",
            "2026-02-29",
            "2024-02-29",
            "99999-01-01",
            "-0001-01-01",
            "2026-1-5",
            "",
        ])
        .boxed(),
        "duration" => prop_oneof![
            texts(&[
                "2d",
                "1h30m",
                "0s",
                "99999999999999999999d",
                "9223372036854775807ms",
                "1.5h",
                "-2d",
                "d",
                ""
            ]),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
        ]
        .boxed(),
        _ => any_json().boxed(),
    }
}

/// JSON of `ty`'s shape, but now and then anything at all, or a missing field.
fn json_for(ty: &Ty) -> BoxedStrategy<J> {
    let shaped = match ty {
        Ty::Named(name) => named_json(name),
        Ty::List(inner) => prop::collection::vec(json_for(inner), 0..4)
            .prop_map(J::Array)
            .boxed(),
        Ty::Record(fields) => record_json(fields),
    };
    prop_oneof![9 => shaped, 1 => any_json()].boxed()
}

fn record_json(fields: &[Field]) -> BoxedStrategy<J> {
    let parts: Vec<BoxedStrategy<Option<(String, J)>>> = fields
        .iter()
        .map(|f| {
            let name = f.name.clone();
            prop::option::weighted(0.85, json_for(&f.ty))
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    parts
        .prop_map(|entries| J::Object(entries.into_iter().flatten().collect()))
        .boxed()
}

/// A declaration (the inside of `input { ... }`) and an input for it.
pub fn declaration_and_input() -> impl Strategy<Value = (String, J)> {
    prop::collection::vec(field(ty()), 1..5)
        .prop_map(dedup)
        .prop_flat_map(|fields| {
            let written = write_fields(&fields);
            record_json(&fields).prop_map(move |json| (written.clone(), json))
        })
}
