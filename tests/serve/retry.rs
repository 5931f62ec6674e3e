//! `POST /api/instances/ID/retry`: a failed instance runs again from its failed step; 404 for an
//! unknown id, 409 for an instance that has not failed or is a sub-flow; JSON bodies throughout.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::config::Config;
use flowc::connectors::http::HttpConnector;
use flowc::runtime::{EventKind, InstanceId, MemoryStore, Store};
use flowc::serve::verifiers::Secret;
use flowc::serve::{host_router, Host, HostOptions};
use flowc::value::Value;
use flowc::{Engine, Project};
use serde_json::json;
use tower::ServiceExt;

pub const TOKEN: &str = "retry-token";

const FLOWS: &str = r#"
entity e {}
flow f for e {
  input { base: text }
  step a = http.get(url: "{{ input.base }}/one")
  step b = http.get(url: "{{ input.base }}/two?a={{ a.body.n }}")
  output { a: a.body.n, b: b.body.n }
}
flow parent for e {
  input { base: text }
  step k = child(base: input.base)
  output { k: k.b }
}
flow child for e {
  input { base: text }
  step b = http.get(url: "{{ input.base }}/two")
  output { b: b.body.n }
}
"#;

/// A service on loopback: `/one` answers `{"n": 1}`; `/two` refuses the first call for good
/// (400), then answers `{"n": 2}`. Its base URL and the calls each path had.
pub async fn service() -> (String, Arc<[AtomicUsize; 2]>) {
    let calls: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (one, two) = (calls.clone(), calls.clone());
    let app = axum::Router::new()
        .route(
            "/one",
            axum::routing::get(move || async move {
                one[0].fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({ "n": 1 }))
            }),
        )
        .route(
            "/two",
            axum::routing::get(move || async move {
                if two[1].fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "refused" })))
                } else {
                    (StatusCode::OK, axum::Json(json!({ "n": 2 })))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

pub fn host() -> (axum::Router, Arc<Host>, Arc<dyn Store>) {
    let config = Config::parse(
        "[connectors.http]\nallow_hosts = [\"127.0.0.1:*\"]\n",
        Path::new("flowc.toml"),
    )
    .unwrap();
    let project = Project::from_sources(Path::new("/t"), config.clone(), [("t.flow", FLOWS)]);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let engine = Engine::builder()
        .project_value(project.clone())
        .connector(Arc::new(
            HttpConnector::from_config(&config, Path::new("/t")).unwrap(),
        ))
        .store(store.clone())
        .build()
        .unwrap();
    let options = HostOptions {
        api_token: Some(Secret::new(TOKEN)),
        store: Some(store.clone()),
        ..HostOptions::default()
    };
    let host = Host::new(engine, &project, options, &|_| None).unwrap();
    host.set_ready(true);
    (host_router(host.clone()), host, store)
}

async fn post(app: &axum::Router, uri: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

pub async fn start(app: &axum::Router, host: &Host, flow: &str, base: &str) -> InstanceId {
    let (status, answer) = post(app, &format!("/api/flows/{flow}/start"), json!({ "base": base })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    let _ = host.engine().output(&id).await;
    id
}

#[tokio::test]
async fn a_failed_instance_is_retried_from_its_failed_step() {
    let (base, calls) = service().await;
    let (app, host, _) = host();
    let id = start(&app, &host, "f", &base).await;
    let (status, one) = post(&app, &format!("/api/instances/{id}/retry"), json!(null)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{one}");
    assert_eq!(one, json!({ "instance": id.0, "retried": true }));
    let output = host.engine().output(&id).await.unwrap();
    assert_eq!(output.get("b"), &Value::Int(2));
    let count = |i: usize| calls[i].load(Ordering::SeqCst);
    assert_eq!((count(0), count(1)), (1, 2), "`a` kept its result");
    assert!(host
        .engine()
        .history(&id)
        .iter()
        .any(|e| e.kind == EventKind::InstanceRetried));

    // An operator's retry is human intervention: the completed instance does not count as
    // automated.
    let response = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let metrics = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        metrics.contains("flowc_kpi_instances{flow=\"t.f\",outcome=\"completed\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowc_kpi_automation_rate{flow=\"t.f\"} 0\n"),
        "{metrics}"
    );

    // Completed now: a conflict, said in JSON.
    let (status, answer) = post(&app, &format!("/api/instances/{id}/retry"), json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["error"],
        format!("only a failed instance can be retried; `{id}` is completed")
    );
    let (status, answer) = post(&app, "/api/instances/no-such-instance/retry", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"], "no instance `no-such-instance`");
}

#[tokio::test]
async fn a_sub_flow_is_retried_through_its_caller() {
    let (base, _) = service().await;
    let (app, host, store) = host();
    let id = start(&app, &host, "parent", &base).await;
    let child = store
        .records()
        .into_iter()
        .find(|r| r.parent.as_deref() == Some(id.0.as_str()))
        .expect("the child instance");
    let (status, answer) = post(
        &app,
        &format!("/api/instances/{}/retry", child.id.replace('/', "%2F")),
        json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["error"],
        format!(
            "`{}` is a sub-flow of `{id}`: retry `{id}`, its failed sub-flows run again with it",
            child.id
        )
    );
    let (status, _) = post(&app, &format!("/api/instances/{id}/retry"), json!(null)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let output = host.engine().output(&id).await.unwrap();
    assert_eq!(output.get("k"), &Value::Int(2));
}

#[tokio::test]
async fn without_the_token_nothing_is_retried() {
    let (base, calls) = service().await;
    let (app, host, _) = host();
    let id = start(&app, &host, "f", &base).await;
    let request = Request::post(format!("/api/instances/{id}/retry"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(calls[1].load(Ordering::SeqCst), 1, "`b` did not run again");
}
