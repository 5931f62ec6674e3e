//! A webhook delivery starts one instance whichever host receives it: two hosts on one
//! database get the same delivery (at once, and one after the other); one instance starts, its
//! start's commit records the delivery, and every copy is answered that instance's id.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use flowc::config::Config;
use flowc::runtime::{Engine, Store};
use flowc::serve::verifiers::sign_standard_webhook;
use flowc::serve::{host_router, Host, HostOptions};
use flowc::store::PostgresStore;
use flowc::Project;
use tower::ServiceExt;

use super::cluster;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FLOWS: &str = "entity shop {}\n\nflow signup for shop {\n  on webhook \"/hooks/signups\" verified by standard\n  input { name: text }\n  output { name: input.name }\n}\n";
const CONFIG: &str =
    "[webhooks.standard]\nscheme = \"standard-webhooks\"\nsecret_env = \"TEST_STANDARD_SECRET\"\n";

fn host(url: &str, name: &str) -> (axum::Router, Arc<PostgresStore>) {
    let config = Config::parse(CONFIG, Path::new("flowc.toml")).unwrap();
    let project = Project::from_sources(Path::new("/deliveries"), config, [("shop.flow", FLOWS)]);
    let store = Arc::new(PostgresStore::open_as(url, name, std::time::Duration::from_secs(30)).unwrap());
    let engine = Engine::builder()
        .project_value(project.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let options = HostOptions {
        store: Some(store.clone()),
        ..HostOptions::default()
    };
    let env = |n: &str| (n == "TEST_STANDARD_SECRET").then(|| SECRET.to_string());
    let host = Host::new(engine, &project, options, &env).unwrap();
    host.set_ready(true);
    (host_router(host), store)
}

/// Delivery `id` of the signup webhook, signed.
fn delivery(id: &str) -> Request<Body> {
    let body = br#"{"name": "Ada"}"#;
    let now = chrono::Utc::now().timestamp();
    let signature = sign_standard_webhook(SECRET, id, now, body).unwrap();
    Request::post("/hooks/signups")
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// `request`'s answer from `app`: its status, headers and JSON body.
pub(super) async fn send(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, HeaderMap, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

async fn deliver(app: &axum::Router, id: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, answer) = send(app, delivery(id)).await;
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hosts_receiving_one_delivery_start_one_instance() {
    let url = cluster::database();
    let (a, store) = host(&url, "host-a");
    let (b, _) = host(&url, "host-b");
    // At once: each host several copies, racing.
    let copies: Vec<_> = (0..6)
        .map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { deliver(&app, "msg_race").await })
        })
        .collect();
    let mut answers = Vec::new();
    for c in copies {
        answers.push(c.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::ACCEPTED),
        "{answers:?}"
    );
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(_, a)| a["instance"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one instance for every copy: {answers:?}");
    assert_eq!(answers.iter().filter(|(_, a)| a["duplicate"] == false).count(), 1);
    let winner = ids.into_iter().next().unwrap().to_string();
    // The start's commit holds the delivery: the store answers it.
    assert_eq!(
        store.delivery("delivery /hooks/signups#msg_race"),
        Some(winner.clone())
    );
    // One after the other: the second host answers the first one's instance.
    let (_, first) = deliver(&a, "msg_seq").await;
    let (status, second) = deliver(&b, "msg_seq").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first["instance"], second["instance"]);
    assert_eq!(second["duplicate"], true);
    assert_eq!(store.instances().len(), 2, "two deliveries, two instances");
}

/// A host that claimed a delivery and has not started its instance (it is slow, or died
/// between its claim and its start) holds the other hosts' copies: after waiting for it, they
/// answer 503 with Retry-After and a JSON reason, so the provider sends the delivery again
/// rather than counting it as failed for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_another_host_holds_without_an_instance_is_answered_503_with_retry_after() {
    let url = cluster::database();
    let (a, _) = host(&url, "host-a");
    let slow = PostgresStore::open_as(&url, "host-slow", std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(
        slow.claim("delivery /hooks/signups#msg_held"),
        flowc::runtime::Claim::Mine
    );
    let (status, headers, answer) = send(&a, delivery("msg_held")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers.get("retry-after").unwrap().to_str().unwrap(), "5");
    assert!(
        answer["error"].as_str().unwrap().contains("another host took"),
        "{answer}"
    );
    // Nothing was started by the host that answered 503.
    assert!(slow.instances().is_empty());
}
