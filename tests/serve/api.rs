//! The JSON API: bearer token, start by hand, read, send an event, cancel, OpenAPI.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::serve::verifiers::Secret;
use flowc::serve::HostOptions;
use serde_json::json;

use super::common::*;

const TOKEN: &str = "api-token-1";

fn host() -> TestHost {
    TestHost::new(HostOptions {
        api_token: Some(Secret::new(TOKEN)),
        ..HostOptions::default()
    })
}

fn call(method: &str, uri: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(b) => r
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => r.body(Body::empty()).unwrap(),
    }
}

#[tokio::test]
async fn without_the_token_nothing_is_answered() {
    let t = host();
    let (status, answer) = t.send(call("GET", "/api/instances", None, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["error"],
        "give the API token as `Authorization: Bearer TOKEN`"
    );
    let (status, _) = t
        .send(call("GET", "/api/instances", Some("api-token-2"), None))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let off = TestHost::new(HostOptions::default());
    let (status, answer) = off.send(call("GET", "/api/instances", Some(TOKEN), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"].as_str().unwrap().starts_with("the API is off"),
        "{answer}"
    );
}

/// Starts `open` for Ada through the API and waits for it to end; its id.
async fn start_open(t: &TestHost) -> String {
    let (status, started) = t
        .send(call(
            "POST",
            "/api/flows/open/start",
            Some(TOKEN),
            Some(json!({ "name": "Ada" })),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["instance"].as_str().unwrap().to_string();
    t.host
        .engine()
        .output(&flowc::runtime::InstanceId(id.clone()))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn start_list_read_and_cancel() {
    let t = host();
    let id = start_open(&t).await;

    let (status, one) = t
        .send(call("GET", &format!("/api/instances/{id}"), Some(TOKEN), None))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["status"], "completed");
    assert_eq!(one["input"], json!({ "name": "Ada" }));
    assert_eq!(one["output"], json!({ "name": "Ada" }));
    assert_eq!(one["history"][0]["kind"]["type"], "instance_started");

    let (_, list) = t
        .send(call(
            "GET",
            "/api/instances?flow=open&status=completed",
            Some(TOKEN),
            None,
        ))
        .await;
    assert_eq!(list["instances"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["instances"][0]["trigger"], "api");
    let (_, none) = t
        .send(call("GET", "/api/instances?flow=order", Some(TOKEN), None))
        .await;
    assert_eq!(none["instances"], json!([]));

    let (status, answer) = t
        .send(call(
            "POST",
            "/api/flows/open/start",
            Some(TOKEN),
            Some(json!({ "name": 1 })),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = t
        .send(call(
            "POST",
            "/api/flows/nope/start",
            Some(TOKEN),
            Some(json!({})),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .send(call("GET", "/api/instances/nope-1", Some(TOKEN), None))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .send(call("POST", "/api/instances/nope-1/cancel", Some(TOKEN), None))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .send(call(
            "POST",
            &format!("/api/instances/{id}/events/paid"),
            Some(TOKEN),
            Some(json!({})),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let t = host();
    let (status, doc) = t.send(call("GET", "/api/openapi.json", Some(TOKEN), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/instances",
        "/api/instances/{id}",
        "/api/flows/{flow}/start",
        "/api/instances/{id}/events/{name}",
        "/api/instances/{id}/cancel",
        "/api/instances/{id}/retry",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
}

/// A host on a SQLite store in `dir`, as `flowc serve --state DIR` opens it.
fn host_on(dir: &std::path::Path) -> TestHost {
    let store: std::sync::Arc<dyn flowc::runtime::Store> = std::sync::Arc::new(
        flowc::store::SqliteStore::open(&dir.join("flowc.db"), flowc::store::Durability::Full).unwrap(),
    );
    TestHost::on_store(
        store.clone(),
        HostOptions {
            api_token: Some(Secret::new(TOKEN)),
            store: Some(store),
            ..HostOptions::default()
        },
    )
}

#[tokio::test]
async fn a_restarted_host_still_shows_what_ended_before() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let t = host_on(dir.path());
        let id = start_open(&t).await;
        t.host.engine().shutdown().await;
        id
    };

    let t = host_on(dir.path());
    let (status, one) = t
        .send(call("GET", &format!("/api/instances/{id}"), Some(TOKEN), None))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["status"], "completed");
    assert_eq!(one["flow"], "shop.open");
    assert_eq!(one["entity"], "shop");
    assert_eq!(one["input"], json!({ "name": "Ada" }));
    assert_eq!(one["output"], json!({ "name": "Ada" }));
    assert!(one["plan"].as_str().is_some_and(|p| !p.is_empty()), "{one}");
    assert_eq!(one["history"][0]["kind"]["type"], "instance_started");

    let (_, list) = t
        .send(call(
            "GET",
            "/api/instances?flow=open&status=completed",
            Some(TOKEN),
            None,
        ))
        .await;
    assert_eq!(list["instances"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["instances"][0]["id"], id.as_str());
    assert_eq!(list["instances"][0]["entity"], "shop");
    let (_, by_key) = t
        .send(call("GET", "/api/instances?flow=shop.open", Some(TOKEN), None))
        .await;
    assert_eq!(by_key["instances"].as_array().unwrap().len(), 1, "{by_key}");
    let (_, none) = t
        .send(call("GET", "/api/instances?status=running", Some(TOKEN), None))
        .await;
    assert_eq!(none["instances"], json!([]));
}

#[tokio::test]
async fn the_list_filters_by_start_time() {
    let t = host();
    let id = start_open(&t).await;
    let hour = chrono::Duration::hours(1);
    let now = chrono::Utc::now();
    let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let list = |query: String| {
        let t = &t;
        async move {
            let (status, answer) = t
                .send(call("GET", &format!("/api/instances?{query}"), Some(TOKEN), None))
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {answer}");
            answer["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let only = vec![id];
    assert_eq!(list(format!("since={}", at(now - hour))).await, only);
    assert_eq!(
        list(format!(
            "since={}&until={}&flow=open",
            at(now - hour),
            at(now + hour)
        ))
        .await,
        only
    );
    assert!(list(format!("since={}", at(now + hour))).await.is_empty());
    assert!(list(format!("until={}", at(now - hour))).await.is_empty());
    let (status, answer) = t
        .send(call("GET", "/api/instances?since=yesterday", Some(TOKEN), None))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("`since` must be an RFC 3339 time"),
        "{answer}"
    );
}
