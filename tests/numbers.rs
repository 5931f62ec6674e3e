//! Numbers: integers of 64 bits are exact from a flow's input to its output and to Notion, their
//! arithmetic is checked, and every value prints and parses back to itself.

#[path = "cli/support.rs"]
#[allow(dead_code)] // helpers the tests of tests/cli.rs use
mod cli_support;
#[path = "support/smtp_server.rs"]
#[allow(dead_code)] // TLS helpers of the email tests
mod smtp_server;
#[path = "e2e/world.rs"]
#[allow(dead_code)] // helpers the scenarios of tests/e2e.rs use
mod world;

use std::path::Path;
use std::time::Duration;

use flowc::config::Config;
use flowc::runtime::{Engine, EngineError};
use flowc::value::Value;
use flowc::Project;
use proptest::prelude::*;
use serde_json::{json, Value as Json};

/// A Shopify order id: beyond 2^53, where a double holds only every 128th integer.
const ORDER: i64 = 820_982_911_946_154_508;

async fn run(src: &str, input: Json) -> Result<Value, EngineError> {
    let source = format!("entity e {{}}\n{src}");
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", source.as_str())]);
    let engine = Engine::builder().project_value(project).build().unwrap();
    let id = engine.start("f", input).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), engine.output(&id))
        .await
        .expect("the instance ends")
}

#[tokio::test]
async fn an_order_id_goes_from_input_to_output_exactly() {
    // Parsed from text, as a webhook body arrives.
    let input: Json = serde_json::from_str(&format!(r#"{{ "id": {ORDER} }}"#)).unwrap();
    let out = run(
        "flow f for e {
          input { id: number }
          output {
            id: input.id,
            next: input.id + 1,
            shown: \"order {{ input.id }}\",
            back: number(text(input.id)),
            twins: len(unique([input.id, input.id + 1])),
            half: input.id / 2,
            same: input.id == input.id + 1 - 1,
          }
        }",
        input,
    )
    .await
    .unwrap()
    .to_json();
    assert_eq!(out["id"].as_i64(), Some(ORDER), "{out}");
    assert_eq!(out["next"].as_i64(), Some(ORDER + 1), "{out}");
    assert_eq!(out["shown"], "order 820982911946154508");
    assert_eq!(out["back"].as_i64(), Some(ORDER), "{out}");
    assert_eq!(out["twins"], 2, "two ids one apart are two ids");
    assert_eq!(out["half"].as_i64(), Some(ORDER / 2), "{out}");
    assert_eq!(out["same"], true);
    // And printed as the CLI prints it.
    assert!(out.to_string().contains("\"id\":820982911946154508"), "{out}");
}

#[tokio::test]
async fn integer_overflow_is_a_run_time_error_with_a_message() {
    let flow = "flow f for e { input { n: number } let m = input.n + 1 output { m } }";
    match run(flow, json!({ "n": i64::MAX })).await {
        Err(EngineError::Failed { message, .. }) => {
            assert!(message.contains("number overflow"), "{message}");
            assert!(message.contains("9223372036854775807 + 1"), "{message}");
        }
        other => panic!("not an overflow error: {other:?}"),
    }
    let flow = "flow f for e { input { n: number } output { m: -input.n * 2 } }";
    assert!(matches!(
        run(flow, json!({ "n": i64::MIN / 2 })).await,
        Err(EngineError::Failed { .. })
    ));
    // Just inside the range is fine.
    let flow = "flow f for e { input { n: number } output { m: input.n - 1 + 1 } }";
    let out = run(flow, json!({ "n": i64::MAX })).await.unwrap();
    assert_eq!(out.to_json()["m"].as_i64(), Some(i64::MAX));
}

#[tokio::test]
async fn integers_and_doubles_mix_as_a_user_expects() {
    let out = run(
        "flow f for e {
          input { one: number, half: number }
          output {
            equal: input.one == 1,
            ordered: input.half < 1 and 1 < input.one + input.half,
            mixed: 1 + input.half,
            divides: 6 / 3,
            fraction: 7 / 2,
            counted: 2d / 1h,
            summed: sum([1, 2, input.half]),
            biggest: max([1, input.one, input.half]),
            rounded: round(2.5) + floor(-0.5),
          }
        }",
        serde_json::from_str(r#"{ "one": 1.0, "half": 0.5 }"#).unwrap(),
    )
    .await
    .unwrap()
    .to_json();
    assert_eq!(
        out,
        json!({
            "equal": true, "ordered": true, "mixed": 1.5, "divides": 2, "fraction": 3.5,
            "counted": 48, "summed": 3.5, "biggest": 1, "rounded": 2,
        })
    );
    let err = run("flow f for e { output { x: 1 / (1 - 1) } }", json!({})).await;
    assert!(matches!(err, Err(EngineError::Failed { message, .. }) if message == "division by zero"));
}

#[tokio::test]
async fn a_number_too_big_for_64_bits_stays_a_number() {
    // u64 ids beyond i64::MAX are doubles: near, not exact, and never an error.
    let out = run(
        "flow f for e { input { n: number } output { n: input.n } }",
        serde_json::from_str(r#"{ "n": 18446744073709551615 }"#).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        out.to_json()["n"].as_f64(),
        Some(18_446_744_073_709_551_615_u64 as f64)
    );
}

#[test]
fn flowc_run_prints_the_id_it_was_given_and_stops_on_overflow() {
    let flow = "flow f for e {\n  on manual\n  input { id: number }\n  output { id: input.id, next: input.id + 1 }\n}\n";
    let dir = cli_support::project(&[("t.flow", &format!("entity e {{}}\n\n{flow}"))]);
    let input = format!(r#"{{"id": {ORDER}}}"#);
    let out = cli_support::run(dir.path(), &["run", "t.flow", "--input", &input, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("\"id\": 820982911946154508"), "{stdout}");
    assert!(stdout.contains("\"next\": 820982911946154509"), "{stdout}");
    let input = format!(r#"{{"id": {}}}"#, i64::MAX);
    let out = cli_support::run(dir.path(), &["run", "t.flow", "--input", &input, "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "a panic: {stderr}");
    assert!(
        stderr.contains("number overflow: `9223372036854775807 + 1`"),
        "{stderr}"
    );
}

fn order(id: i64) -> Json {
    // As Shopify sends it: the id a JSON number.
    serde_json::from_str(&format!(
        r#"{{
          "id": {id}, "order_number": 1042, "email": "ada@example.com",
          "created_at": "2026-01-05T09:00:00Z", "total_price": "130.00", "currency": "GBP",
          "customer": {{ "first_name": "Ada", "last_name": "Lovelace" }},
          "line_items": [{{ "title": "Print", "quantity": 1, "price": "130.00" }}]
        }}"#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orders_one_apart_are_two_orders_in_notion() {
    let w = world::World::new("2026-01-05T09:00:00Z", json!({ "entities": {} })).await;
    let first = w.run_now("shopify_order", order(ORDER)).await.to_json();
    let second = w.run_now("shopify_order", order(ORDER + 1)).await.to_json();
    assert_eq!(first["external_id"], "820982911946154508");
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["external_id"], "820982911946154509");
    assert_eq!(
        second["duplicate"], false,
        "the second order was taken for the first"
    );
    let mut ids: Vec<Json> = w
        .pages("higherself", "DataTransformation")
        .iter()
        .map(|p| p["External ID"].clone())
        .collect();
    ids.sort_by_key(Json::to_string);
    assert_eq!(ids, [json!("820982911946154508"), json!("820982911946154509")]);
    // A re-delivery of the first is still recognised.
    let again = w.run_now("shopify_order", order(ORDER)).await.to_json();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["record_id"], first["record_id"]);
}

/// Integers at the edges of 64 bits and of a double's exact range, and doubles of every kind:
/// fractions that have no exact binary form (0.1), ones printed with an exponent (1e21),
/// negative zero, the largest and the smallest.
fn number() -> impl Strategy<Value = Value> {
    let exact = 1i64 << 53;
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        (0..1000i64).prop_map(|d| Value::Int(i64::MAX - d)),
        (0..1000i64).prop_map(|d| Value::Int(i64::MIN + d)),
        (-1000..1000i64).prop_map(move |d| Value::Int(exact + d)),
        (-1000..1000i64).prop_map(move |d| Value::Int(-exact + d)),
        prop::sample::select(vec![
            0.1,
            -0.1,
            1e21,
            -1e21,
            1e300,
            -0.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            9_007_199_254_740_993.0,
            9_223_372_036_854_775_808.0,
            123_456.789,
        ])
        .prop_map(Value::Number),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::Number),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        number(),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        "[a-z0-9 ]{0,8}".prop_map(Value::Text),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4).prop_map(Value::Record),
        ]
    })
}

/// `back` is `sent` after a print and a parse: integers identical, doubles the same bits, except
/// that a whole double within 2^53 reads back as that integer (and -0.0 as 0).
fn same(sent: &Value, back: &Value) -> bool {
    match (sent, back) {
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.to_bits() == b.to_bits(),
        (Value::Number(a), Value::Int(b)) => {
            a.fract() == 0.0 && a.abs() < (1u64 << 53) as f64 && *a == *b as f64
        }
        (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Value::Record(a), Value::Record(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|((k, x), (l, y))| k == l && same(x, y))
        }
        _ => sent == back,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn values_print_and_parse_back_to_themselves(v in value()) {
        let printed = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&printed).unwrap();
        prop_assert!(same(&v, &back), "{:?} printed as {} read back as {:?}", v, printed, back);
        prop_assert_eq!(&back, &v);
        // Printed twice, the same text: what a journal or a hash sees does not drift.
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), printed);
    }

    #[test]
    fn integers_compare_with_doubles_exactly(i in any::<i64>(), f in any::<f64>()) {
        let (a, b) = (Value::Int(i), Value::Number(f));
        // Decided in exact arithmetic: i128 holds every i64 and every whole double below 2^127.
        let expected = if f.is_nan() {
            None
        } else if f.fract() == 0.0 && f.abs() < 1e38 {
            Some(i128::from(i).cmp(&(f as i128)))
        } else if f.abs() >= 1e38 {
            Some(if f > 0.0 { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater })
        } else {
            let whole = f.trunc();
            Some(i128::from(i).cmp(&(whole as i128)).then(if f > whole {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }))
        };
        prop_assert_eq!(a.cmp_numbers(&b), expected);
        prop_assert_eq!(b.cmp_numbers(&a), expected.map(std::cmp::Ordering::reverse));
        prop_assert_eq!(a == b, expected == Some(std::cmp::Ordering::Equal));
    }
}

// ---------------------------------------------------------------------------------------------
// Literals written in a .flow file.

#[test]
fn fmt_keeps_a_64_bit_literal_as_written() {
    let src = "entity e {}\n\nflow f for e {\n  on manual\n  output { id: 820982911946154508, half: 2.0, neg: -9223372036854775807 }\n}\n";
    let formatted = flowc::format(src).unwrap();
    assert!(formatted.contains("820982911946154508"), "{formatted}");
    assert!(
        formatted.contains("2.0"),
        "a whole double keeps its fraction: {formatted}"
    );
    assert!(formatted.contains("-9223372036854775807"), "{formatted}");
    assert_eq!(flowc::format(&formatted).unwrap(), formatted, "idempotent");
}

#[tokio::test]
async fn a_literal_id_beyond_2_53_compares_exactly() {
    let flow = "flow f for e {
      input { id: number }
      output { match: input.id == 820982911946154508, literal: 820982911946154508 }
    }";
    let out = run(flow, json!({ "id": ORDER })).await.unwrap().to_json();
    assert_eq!(out["match"], true, "{out}");
    assert_eq!(out["literal"].as_i64(), Some(ORDER), "{out}");
    // The next id, which a double cannot tell apart from ORDER.
    let out = run(flow, json!({ "id": ORDER + 1 })).await.unwrap().to_json();
    assert_eq!(out["match"], false, "{out}");
}

#[test]
fn a_flow_test_expecting_a_64_bit_literal_passes_and_fails_as_it_should() {
    let source = |expected: &str| {
        format!(
            "entity e {{}}\nflow f for e {{\n  on manual\n  input {{ id: number }}\n  output {{ id: input.id }}\n}}\n\
             test \"keeps the id\" for f {{\n  input {{ id: 820982911946154508 }}\n  expect output.id == {expected}\n}}\n"
        )
    };
    for (expected, passes) in [("820982911946154508", true), ("820982911946154509", false)] {
        let dir = cli_support::project(&[("t.flow", &source(expected))]);
        let out = cli_support::run(dir.path(), &["test"]);
        assert_eq!(
            out.status.success(),
            passes,
            "{expected}: {}{}",
            cli_support::stdout(&out),
            cli_support::stderr(&out)
        );
    }
}

#[test]
fn a_whole_literal_beyond_64_bits_is_e0113() {
    let src = "entity e {}\nflow f for e {\n  on manual\n  output { id: 98765432109876543210 }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let diags = flowc::check(&project, &flowc::Registry::declared_builtins());
    let codes: Vec<_> = diags.iter().map(|d| d.code.to_string()).collect();
    assert_eq!(codes, ["E0113"], "{diags:?}");
}
