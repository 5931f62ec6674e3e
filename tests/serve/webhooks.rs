//! The webhook answers, one per case of the contract.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::runtime::{InstanceId, Store};
use flowc::serve::settings::Encoding;
use flowc::serve::verifiers::{sign_hmac_sha256, sign_standard_webhook};
use flowc::serve::HostOptions;
use flowc::store::{Durability, SqliteStore};
use serde_json::json;

use super::common::*;

fn github_signature(body: &[u8]) -> String {
    sign_hmac_sha256(GITHUB_SECRET.as_bytes(), body, Encoding::Hex, "sha256=")
}

#[tokio::test]
async fn a_signed_delivery_starts_the_flow_and_answers_its_instance() {
    let t = TestHost::new(HostOptions::default());
    let body =
        br#"{"order": {"id": 42, "email": "ada@example.com", "note": "undeclared"}, "shop": "ignored"}"#;
    let (status, answer) = t
        .send(post(
            "/hooks/orders",
            &[("x-hub-signature-256", &github_signature(body))],
            body.to_vec(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    // The start is in the journal before the answer.
    assert!(!t.host.engine().history(&id).is_empty());
    let output = t.host.engine().output(&id).await.unwrap();
    assert_eq!(
        output.to_json(),
        json!({ "summary": "order 42 for ada@example.com" })
    );
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_401_and_starts_nothing() {
    let t = TestHost::new(HostOptions::default());
    let body = br#"{"order": {"id": 42, "email": "ada@example.com"}}"#;
    let forged = github_signature(br#"{"order": {"id": 43, "email": "ada@example.com"}}"#);
    let (status, answer) = t
        .send(post(
            "/hooks/orders",
            &[("x-hub-signature-256", &forged)],
            body.to_vec(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["error"],
        "verification failed: header `X-Hub-Signature-256` does not match"
    );
    let (status, _) = t.send(post("/hooks/orders", &[], body.to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.started(), 0);
    let metrics = t
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .1;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains(r#"flowc_webhook_rejections_total{reason="signature_mismatch"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flowc_webhook_rejections_total{reason="signature_missing"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn bad_bodies_get_their_own_answers() {
    let t = TestHost::new(HostOptions {
        body_limit: 64,
        ..HostOptions::default()
    });
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(100));
    let (status, answer) = t.send(post("/hooks/open", &[], big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "the body is over the 64-byte limit");

    let text = Request::post("/hooks/open")
        .header("content-type", "text/plain")
        .body(Body::from("name=ada"))
        .unwrap();
    let (status, answer) = t.send(text).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        answer["error"],
        "the body must be JSON (Content-Type: application/json), not text/plain"
    );

    let (status, answer) = t.send(post("/hooks/open", &[], "{\"name\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is not valid JSON"),
        "{answer}"
    );

    let (status, answer) = t.send(post("/hooks/open", &[], r#"{"name": 7}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        "invalid input: input field `name` must be text, not a number"
    );

    let (status, answer) = t.send(post("/hooks/open", &[], "[1, 2]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "the body must be a JSON object");
    assert_eq!(t.started(), 0);

    let (status, _) = t
        .send(Request::get("/hooks/open").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, answer) = t.send(post("/hooks/nowhere", &[], "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"], "nothing at `/hooks/nowhere`");
}

#[tokio::test]
async fn a_repeated_delivery_starts_one_instance() {
    let t = TestHost::new(HostOptions::default());
    let body = br#"{"name": "Ada"}"#;
    let now = chrono::Utc::now().timestamp();
    let signature = sign_standard_webhook(STANDARD_SECRET, "msg_1", now, body).unwrap();
    let now_text = now.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", now_text.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let (first, a) = t.send(post("/hooks/signups", &headers, body.to_vec())).await;
    let (again, b) = t.send(post("/hooks/signups", &headers, body.to_vec())).await;
    assert_eq!((first, again), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(a["instance"], b["instance"]);
    assert_eq!(
        (a["duplicate"].as_bool(), b["duplicate"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(t.started(), 1);

    // An old timestamp is a replay, whatever its signature.
    let old = now - 3600;
    let signature = sign_standard_webhook(STANDARD_SECRET, "msg_2", old, body).unwrap();
    let old_text = old.to_string();
    let headers = [
        ("webhook-id", "msg_2"),
        ("webhook-timestamp", old_text.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let (status, answer) = t.send(post("/hooks/signups", &headers, body.to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["error"],
        "verification failed: timestamp outside the 300s replay window"
    );
    assert_eq!(t.started(), 1);
}

fn standard_headers(id: &str, body: &[u8]) -> Vec<(String, String)> {
    let now = chrono::Utc::now().timestamp();
    let signature = sign_standard_webhook(STANDARD_SECRET, id, now, body).unwrap();
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), now.to_string()),
        ("webhook-signature".into(), signature),
    ]
}

fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A host journaling in `state`'s SQLite database, as `flowc serve --state` runs.
fn journaled_host(state: &std::path::Path) -> TestHost {
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&state.join("flowc.db"), Durability::Full).unwrap());
    let options = HostOptions {
        state: Some(state.to_path_buf()),
        store: Some(store.clone()),
        ..HostOptions::default()
    };
    TestHost::on_store(store, options)
}

#[tokio::test]
async fn deliveries_seen_survive_a_restart_in_the_journal() {
    let state = tempfile::tempdir().unwrap();
    let body = br#"{"name": "Ada"}"#;
    let headers = standard_headers("msg_9", body);
    let first = journaled_host(state.path());
    let (status, a) = first
        .send(post("/hooks/signups", &pairs(&headers), body.to_vec()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{a}");
    // The 202 came after the commit that holds the delivery with the instance's start.
    let id = a["instance"].as_str().unwrap().to_string();
    assert_eq!(
        first.store.delivery("delivery /hooks/signups#msg_9"),
        Some(id.clone())
    );
    assert!(
        !state.path().join("deliveries.jsonl").exists(),
        "no file of its own"
    );
    drop(first);
    let second = journaled_host(state.path());
    let (status, b) = second
        .send(post("/hooks/signups", &pairs(&headers), body.to_vec()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(b["instance"], id.as_str());
    assert_eq!(b["duplicate"], true);
    assert_eq!(second.started(), 1, "the first run's instance only");
}

#[tokio::test]
async fn the_deliveries_file_of_an_older_flowc_is_imported_once() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("deliveries.jsonl"),
        "{\"key\":\"/hooks/signups#msg_old\",\"instance\":\"i-before-the-upgrade\"}\n",
    )
    .unwrap();
    let host = journaled_host(state.path());
    assert!(!state.path().join("deliveries.jsonl").exists());
    assert!(state.path().join("deliveries.jsonl.imported").exists());
    let body = br#"{"name": "Ada"}"#;
    let headers = standard_headers("msg_old", body);
    let (status, a) = host
        .send(post("/hooks/signups", &pairs(&headers), body.to_vec()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(a["instance"], "i-before-the-upgrade");
    assert_eq!(host.started(), 0);
}

#[tokio::test]
async fn concurrent_copies_of_a_delivery_start_one_instance() {
    let state = tempfile::tempdir().unwrap();
    let host = journaled_host(state.path());
    let body = br#"{"name": "Ada"}"#;
    let headers = standard_headers("msg_c", body);
    let copies = (0..8).map(|_| host.send(post("/hooks/signups", &pairs(&headers), body.to_vec())));
    let answers = futures::future::join_all(copies).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, a)| a["instance"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|(_, a)| a["duplicate"] == false).count(), 1);
    assert_eq!(host.started(), 1);
}

#[tokio::test]
async fn woocommerce_activation_ping_is_200_and_starts_nothing() {
    let t = TestHost::new(HostOptions::default());
    let ping = Request::post("/hooks/orders")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("webhook_id=17"))
        .unwrap();
    let (status, answer) = t.send(ping).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({ "ping": "woocommerce" }));
    assert_eq!(t.started(), 0);
}

#[tokio::test]
async fn notions_handshake_then_signed_events() {
    let state = tempfile::tempdir().unwrap();
    let t = TestHost::new(HostOptions {
        state: Some(state.path().to_path_buf()),
        ..HostOptions::default()
    });
    let event = br#"{"id": "367cba44-b6f3-4c92-81e7-6a2e9659efd4", "type": "page.properties_updated"}"#;
    let (status, _) = t
        .send(post(
            "/hooks/notion",
            &[("x-notion-signature", "sha256=00")],
            event.to_vec(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token yet");
    let token = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    let handshake = format!(r#"{{"verification_token": "{token}"}}"#);
    let (status, answer) = t.send(post("/hooks/notion", &[], handshake.clone())).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "handshake": "accepted" }))
    );
    let kept = std::fs::read_to_string(state.path().join("notion-verification-token-notion")).unwrap();
    assert_eq!(kept, token);
    let signature = sign_hmac_sha256(token.as_bytes(), event, Encoding::Hex, "sha256=");
    let (status, answer) = t
        .send(post(
            "/hooks/notion",
            &[("x-notion-signature", &signature)],
            event.to_vec(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // Notion's event id deduplicates its retries.
    let (_, again) = t
        .send(post(
            "/hooks/notion",
            &[("x-notion-signature", &signature)],
            event.to_vec(),
        ))
        .await;
    assert_eq!(answer["instance"], again["instance"]);
    // A second handshake cannot replace the token.
    let (status, _) = t.send(post("/hooks/notion", &[], handshake)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.started(), 1);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let t = TestHost::new(HostOptions::default());
    let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
    assert_eq!(
        t.send(get("/healthz")).await,
        (StatusCode::OK, json!({ "status": "ok" }))
    );
    assert_eq!(
        t.send(get("/readyz")).await,
        (StatusCode::OK, json!({ "status": "ready" }))
    );
    t.host.set_ready(false);
    assert_eq!(t.send(get("/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    let (status, answer) = t.send(post("/hooks/open", &[], r#"{"name": "Ada"}"#)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    t.host.engine().output(&id).await.unwrap();
    // The end is counted by a task following the instance; give it a moment.
    let mut text = String::new();
    for _ in 0..100 {
        text = t.send(get("/metrics")).await.1.as_str().unwrap().to_string();
        if text.contains("flowc_instances_ended_total") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        text.contains(r#"flowc_instances_started_total{entity="shop",flow="open",trigger="webhook"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flowc_instances_ended_total{entity="shop",flow="open",status="completed"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn an_order_id_beyond_2_53_comes_out_exactly() {
    // Shopify's order ids are JSON numbers of 64 bits; a double would make this one ...500.
    let t = TestHost::new(HostOptions::default());
    let body = br#"{"order": {"id": 820982911946154508, "email": "ada@example.com"}}"#;
    let (status, answer) = t
        .send(post(
            "/hooks/orders",
            &[("x-hub-signature-256", &github_signature(body))],
            body.to_vec(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    let output = t.host.engine().output(&id).await.unwrap();
    assert_eq!(
        output.to_json(),
        json!({ "summary": "order 820982911946154508 for ada@example.com" })
    );
}
