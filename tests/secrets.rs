//! `secret(...)` at run time: a flow reads only the secrets its entity declares in flowc.toml,
//! by a literal name, even from a plan that never went through the checker; and a secret's value
//! never shows in an instance's output, history, errors or logs.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowc::config::Config;
use flowc::plan::{compile, Builtin, Bundle, Expr};
use flowc::runtime::{Engine, EngineError, InstanceId};
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

/// Two businesses, each with its own token.
const CONFIG: &str = r#"
[entities.studio]
secrets = ["FLOWC_TEST_SECRET_STUDIO"]

[entities.consulting]
secrets = ["FLOWC_TEST_SECRET_CONSULTING"]
"#;
const STUDIO_TOKEN: &str = "studio-tok-9f8e7d";
const CONSULTING_TOKEN: &str = "consulting-tok-1a2b3c";

fn project(flows: &str) -> Project {
    std::env::set_var("FLOWC_TEST_SECRET_STUDIO", STUDIO_TOKEN);
    std::env::set_var("FLOWC_TEST_SECRET_CONSULTING", CONSULTING_TOKEN);
    let config = Config::parse(CONFIG, Path::new("flowc.toml")).unwrap();
    let src = format!("entity studio {{}}\nentity consulting {{}}\n{flows}");
    Project::from_sources(Path::new("/t"), config, [("t.flow", src.as_str())])
}

/// Runs `flow` of an engine built from `bundle` alone (no sources), with the engine's tracing
/// captured.
async fn run_bundle(
    bundle: Bundle,
    input: serde_json::Value,
) -> (Engine, InstanceId, Result<Value, EngineError>, String) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let engine = Engine::builder().bundle(bundle).build().unwrap();
    let id = engine.start("f", input).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), engine.output(&id))
        .await
        .expect("instance ends");
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    (engine, id, out, text)
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `bundle` with every `secret("FROM")` of its flows turned into `secret(<to>)`, as a hand
/// edit of the plan's JSON would; the entities' declarations are left as they are.
fn edit_secret_calls(bundle: &Bundle, from: &str, to: &Expr) -> Bundle {
    fn walk(v: &mut serde_json::Value, from: &serde_json::Value, to: &serde_json::Value) -> usize {
        if v == from {
            *v = to.clone();
            return 1;
        }
        match v {
            serde_json::Value::Array(items) => items.iter_mut().map(|i| walk(i, from, to)).sum(),
            serde_json::Value::Object(fields) => fields.values_mut().map(|f| walk(f, from, to)).sum(),
            _ => 0,
        }
    }
    let mut json = serde_json::to_value(bundle).unwrap();
    let from = serde_json::to_value(Expr::Call(Builtin::Secret, vec![Expr::Text(from.into())])).unwrap();
    let to = serde_json::to_value(Expr::Call(Builtin::Secret, vec![to.clone()])).unwrap();
    assert_eq!(walk(&mut json["flows"], &from, &to), 1, "the test edits one call");
    let mut edited: Bundle = serde_json::from_value(json).unwrap();
    edited.hash = flowc::plan::content_hash(&edited);
    edited
}

/// Everything an instance shows: its history, its output or error, and the engine's logs.
fn shown(engine: &Engine, id: &InstanceId, out: &Result<Value, EngineError>, logs: &str) -> String {
    let history = serde_json::to_string(&engine.history(id)).unwrap();
    format!(
        "{history}\n{out:?}\n{}\n{logs}",
        out.as_ref().map(|v| v.to_string()).unwrap_or_default()
    )
}

const STUDIO_FLOW: &str = r#"
flow f for studio {
  output { ok: secret("FLOWC_TEST_SECRET_STUDIO") == "studio-tok-9f8e7d" }
}
"#;

#[tokio::test]
async fn a_declared_secret_is_read() {
    let bundle = compile(&project(STUDIO_FLOW), None, "f").unwrap();
    assert_eq!(bundle.entities["studio"].secrets, ["FLOWC_TEST_SECRET_STUDIO"]);
    let (_, _, out, _) = run_bundle(bundle, json!({})).await;
    assert_eq!(out.unwrap().get("ok"), &Value::Bool(true));
}

#[tokio::test]
async fn another_entitys_secret_is_refused_at_run_time_without_the_checker() {
    let bundle = compile(&project(STUDIO_FLOW), None, "f").unwrap();
    let edited = edit_secret_calls(
        &bundle,
        "FLOWC_TEST_SECRET_STUDIO",
        &Expr::Text("FLOWC_TEST_SECRET_CONSULTING".into()),
    );
    let (engine, id, out, logs) = run_bundle(edited, json!({})).await;
    let Err(EngineError::Failed { message, class, .. }) = &out else {
        panic!("refused: {out:?}")
    };
    assert!(message.contains("`FLOWC_TEST_SECRET_CONSULTING`"), "{message}");
    assert!(message.contains("`studio`"), "{message}");
    assert_eq!(class, "permanent");
    assert!(!shown(&engine, &id, &out, &logs).contains(CONSULTING_TOKEN));
}

#[tokio::test]
async fn a_computed_secret_name_is_refused_at_run_time() {
    let bundle = compile(&project(STUDIO_FLOW), None, "f").unwrap();
    // `secret(upper("flowc_test_secret_studio"))`: even a name the entity declares is refused
    // when it is computed.
    let computed = Expr::Call(
        Builtin::Upper,
        vec![Expr::Text("flowc_test_secret_studio".into())],
    );
    let edited = edit_secret_calls(&bundle, "FLOWC_TEST_SECRET_STUDIO", &computed);
    let (engine, id, out, logs) = run_bundle(edited, json!({})).await;
    let Err(EngineError::Failed { message, class, .. }) = &out else {
        panic!("refused: {out:?}")
    };
    assert!(message.contains("literal"), "{message}");
    assert_eq!(class, "permanent");
    assert!(!shown(&engine, &id, &out, &logs).contains(STUDIO_TOKEN));
}

#[tokio::test]
async fn a_secret_value_never_shows_in_output_history_errors_or_logs() {
    // The flow tries hard: it returns the token, keeps it in a `let`, and fails with it in the
    // error message (`number` quotes the text it cannot read).
    let shown_flow = r#"
flow f for studio {
  let token = secret("FLOWC_TEST_SECRET_STUDIO")
  output { token: token, header: "Bearer {{ token }}" }
}
"#;
    let bundle = compile(&project(shown_flow), None, "f").unwrap();
    let (engine, id, out, logs) = run_bundle(bundle, json!({})).await;
    let value = out.as_ref().unwrap().clone();
    assert_eq!(value.get("token"), &Value::text("[secret]"));
    assert_eq!(value.get("header"), &Value::text("Bearer [secret]"));
    assert!(!shown(&engine, &id, &out, &logs).contains(STUDIO_TOKEN));

    let failing_flow = r#"
flow f for studio {
  output { n: number(secret("FLOWC_TEST_SECRET_STUDIO")) }
}
"#;
    let bundle = compile(&project(failing_flow), None, "f").unwrap();
    let (engine, id, out, logs) = run_bundle(bundle, json!({})).await;
    let Err(EngineError::Failed { message, .. }) = &out else {
        panic!("fails: {out:?}")
    };
    assert!(message.contains("[secret]"), "{message}");
    let all = shown(&engine, &id, &out, &logs);
    assert!(!all.contains(STUDIO_TOKEN), "{all}");
}
