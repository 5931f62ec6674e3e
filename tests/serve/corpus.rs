//! The real bodies of tests/webhooks/, each posted as its provider posts it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::runtime::InstanceId;
use flowc::serve::HostOptions;
use serde_json::json;

use super::common::*;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/webhooks")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn amelias_booking_with_php_lists_and_its_url_token() {
    let t = TestHost::new(HostOptions::default());
    let body = corpus("amelia_booking_completed.json");
    let uri = format!("/hooks/bookings?token={AMELIA_TOKEN}");
    let (status, answer) = t.send(post(&uri, &[], body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    let output = t.host.engine().output(&id).await.unwrap();
    assert_eq!(
        output.to_json(),
        json!({ "email": "maya@example.com", "service": 12 })
    );

    let (status, _) = t
        .send(post("/hooks/bookings?token=guess", &[], body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t.send(post("/hooks/bookings", &[], body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.started(), 1);
}

#[tokio::test]
async fn woocommerces_ping_from_the_corpus() {
    let t = TestHost::new(HostOptions::default());
    let ping = Request::post("/hooks/bookings")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(corpus("woocommerce_ping.form")))
        .unwrap();
    assert_eq!(t.send(ping).await.0, StatusCode::OK);
    assert_eq!(t.started(), 0);
}

#[tokio::test]
async fn notions_event_body_is_taken_with_its_signature() {
    let state = tempfile::tempdir().unwrap();
    let token = "secret_corpus_token";
    std::fs::write(state.path().join("notion-verification-token-notion"), token).unwrap();
    let t = TestHost::new(HostOptions {
        state: Some(state.path().to_path_buf()),
        ..HostOptions::default()
    });
    let body = corpus("notion_page_properties_updated.json");
    let signature = flowc::serve::verifiers::sign_hmac_sha256(
        token.as_bytes(),
        &body,
        flowc::serve::settings::Encoding::Hex,
        "sha256=",
    );
    let (status, answer) = t
        .send(post("/hooks/notion", &[("X-Notion-Signature", &signature)], body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
    let output = t.host.engine().output(&id).await.unwrap();
    assert_eq!(output.to_json(), json!({ "kind": "page.properties_updated" }));
}
