//! The http connector against a local axum server: allow-list, secret headers, bodies, and the
//! classification of statuses and transport failures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flowc::config::Config;
use flowc::connectors::http::HttpConnector;
use flowc::connectors::{ActionCall, Connector, ErrorClass};
use flowc::value::Value;
use serde_json::json;

async fn start_server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/json",
            get(|| async { ([("x-request-id", "r-1")], Json(json!({"ok": true, "n": 3}))) }),
        )
        .route("/text", get(|| async { "plain words" }))
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/echo", post(echo).put(echo).patch(echo).delete(echo).get(echo))
        .route("/status/{code}", get(status))
        .route(
            "/redirect-out",
            get(|| async {
                (StatusCode::FOUND, [("location", "http://not-allowed.example/")]).into_response()
            }),
        )
        .route(
            "/redirect-in",
            get(|| async { (StatusCode::FOUND, [("location", "/json")]).into_response() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "x".repeat(5000) }))
        .route(
            "/redirect-to/{port}",
            get(|UrlPath(port): UrlPath<u16>| async move {
                let to = format!("http://127.0.0.1:{port}/echo");
                (StatusCode::FOUND, [("location", to)]).into_response()
            }),
        )
        .route(
            "/slow-down",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "86400")],
                    "come back tomorrow",
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn echo(method: axum::http::Method, headers: HeaderMap, body: Bytes) -> Json<serde_json::Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Json(json!({
        "method": method.as_str(),
        "authorization": header("authorization"),
        "idempotency_key": header("idempotency-key"),
        "x_custom": header("x-custom"),
        "x_api_key": header("x-api-key"),
        "content_type": header("content-type"),
        "body": body,
    }))
}

async fn status(UrlPath(code): UrlPath<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    let body = Json(json!({"error": format!("status {code}")}));
    if code == 429 {
        (status, [("retry-after", "3")], body).into_response()
    } else {
        (status, body).into_response()
    }
}

fn connector(extra: &str) -> HttpConnector {
    let config = Config::parse(extra, Path::new("flowc.toml")).unwrap();
    HttpConnector::from_config(&config, Path::new(".")).unwrap()
}

fn allowing(addr: SocketAddr, extra: &str) -> HttpConnector {
    connector(&format!(
        "[connectors.http]\nallow_hosts = [\"127.0.0.1:{}\"]\n{extra}",
        addr.port()
    ))
}

fn call(action: &str, args: Vec<(&str, Value)>) -> ActionCall {
    ActionCall {
        action: action.into(),
        args: args
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
        entity: "am_consulting".into(),
        flow_entity: "am_consulting".into(),
        instance: "i-1".into(),
        step: "fetch".into(),
        attempt: 1,
        idempotency_key: "i-1/fetch".into(),
    }
}

fn url(addr: SocketAddr, path: &str) -> Value {
    Value::text(format!("http://127.0.0.1:{}{path}", addr.port()))
}

#[tokio::test]
async fn get_parses_json_bodies_and_returns_headers() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    let out = http
        .call(call("get", vec![("url", url(addr, "/json"))]))
        .await
        .unwrap();
    assert_eq!(out.get("status"), &Value::Number(200.0));
    assert_eq!(out.get("body").get("ok"), &Value::Bool(true));
    assert_eq!(out.get("body").get("n"), &Value::Number(3.0));
    assert_eq!(out.get("headers").get("x-request-id"), &Value::text("r-1"));

    let out = http
        .call(call("get", vec![("url", url(addr, "/text"))]))
        .await
        .unwrap();
    assert_eq!(out.get("body"), &Value::text("plain words"));

    let out = http
        .call(call("get", vec![("url", url(addr, "/empty"))]))
        .await
        .unwrap();
    assert_eq!(out.get("status"), &Value::Number(204.0));
    assert_eq!(out.get("body"), &Value::Null);
}

#[tokio::test]
async fn request_sends_json_body_headers_secrets_and_idempotency_key() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    std::env::set_var("FLOWC_TEST_HTTP_TOKEN", "Bearer s3cret");
    let out = http
        .call(call(
            "request",
            vec![
                ("method", Value::text("post")),
                ("url", url(addr, "/echo")),
                ("headers", Value::record([("X-Custom", Value::text("yes"))])),
                (
                    "secret_headers",
                    Value::record([("Authorization", Value::text("FLOWC_TEST_HTTP_TOKEN"))]),
                ),
                (
                    "body",
                    Value::record([("name", Value::text("Ada")), ("n", Value::Number(2.0))]),
                ),
            ],
        ))
        .await
        .unwrap();
    let body = out.get("body");
    assert_eq!(body.get("method"), &Value::text("POST"));
    assert_eq!(body.get("authorization"), &Value::text("Bearer s3cret"));
    assert_eq!(body.get("x_custom"), &Value::text("yes"));
    assert_eq!(body.get("idempotency_key"), &Value::text("i-1/fetch"));
    assert_eq!(body.get("content_type"), &Value::text("application/json"));
    assert_eq!(body.get("body").get("name"), &Value::text("Ada"));
    assert_eq!(body.get("body").get("n"), &Value::Number(2.0));

    // GET carries no idempotency key (it is safe to repeat).
    let out = http
        .call(call("get", vec![("url", url(addr, "/echo"))]))
        .await
        .unwrap();
    assert_eq!(out.get("body").get("idempotency_key"), &Value::Null);
}

#[tokio::test]
async fn missing_secret_variable_is_permanent_and_named() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    let err = http
        .call(call(
            "get",
            vec![
                ("url", url(addr, "/json")),
                (
                    "secret_headers",
                    Value::record([("Authorization", Value::text("FLOWC_TEST_NOT_SET_ANYWHERE"))]),
                ),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("`FLOWC_TEST_NOT_SET_ANYWHERE`"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn hosts_outside_the_allow_list_are_refused() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    let err = http
        .call(call(
            "get",
            vec![("url", Value::text("https://api.example.org/x"))],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("`api.example.org`"), "{}", err.message);
    assert!(err.message.contains("allow_hosts"), "{}", err.message);

    // Same host, other port: refused too.
    let err = http
        .call(call("get", vec![("url", Value::text("http://127.0.0.1:1/x"))]))
        .await
        .unwrap_err();
    assert!(err.message.contains("`127.0.0.1:1`"), "{}", err.message);

    // No table at all: nothing is allowed.
    let err = connector("")
        .call(call("get", vec![("url", url(addr, "/json"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn redirects_are_checked_against_the_allow_list() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    let out = http
        .call(call("get", vec![("url", url(addr, "/redirect-in"))]))
        .await
        .unwrap();
    assert_eq!(out.get("body").get("ok"), &Value::Bool(true));

    let err = http
        .call(call("get", vec![("url", url(addr, "/redirect-out"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("not-allowed.example"), "{}", err.message);
}

#[tokio::test]
async fn statuses_are_classified() {
    let addr = start_server().await;
    let http = allowing(addr, "");
    let get = |code: u16| {
        let http = &http;
        async move {
            http.call(call("get", vec![("url", url(addr, &format!("/status/{code}")))]))
                .await
                .unwrap_err()
        }
    };
    let err = get(429).await;
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(3)));

    let err = get(503).await;
    assert_eq!(err.class, ErrorClass::Transient);
    assert!(err.message.contains("503"), "{}", err.message);

    let err = get(404).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.details.get("status"), &Value::Number(404.0));
    assert_eq!(err.details.get("body").get("error"), &Value::text("status 404"));
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transient() {
    let addr = start_server().await;
    let http = allowing(addr, "timeout = \"200ms\"");
    let err = http
        .call(call("get", vec![("url", url(addr, "/slow"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
    assert!(err.message.contains("timed out"), "{}", err.message);

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let http = connector(&format!(
        "[connectors.http]\nallow_hosts = [\"127.0.0.1:{port}\"]"
    ));
    let err = http
        .call(call(
            "get",
            vec![("url", Value::text(format!("http://127.0.0.1:{port}/")))],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
}

#[tokio::test]
async fn oversized_bodies_and_bad_arguments_are_permanent() {
    let addr = start_server().await;
    let http = allowing(addr, "max_response_bytes = 1000");
    let err = http
        .call(call("get", vec![("url", url(addr, "/big"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("max_response_bytes"), "{}", err.message);

    let err = http
        .call(call(
            "request",
            vec![("method", Value::text("TRACE")), ("url", url(addr, "/echo"))],
        ))
        .await
        .unwrap_err();
    assert!(err.message.contains("`method`"), "{}", err.message);

    let err = http
        .call(call("get", vec![("url", Value::text("not a url"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
}

#[test]
fn bad_configuration_names_the_key() {
    // Text where a list goes is refused when flowc.toml loads (E0902), at its line.
    let err = Config::parse(
        "[connectors.http]\nallow_hosts = \"x.com\"",
        Path::new("flowc.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("E0902") && err.contains("flowc.toml:2:15"), "{err}");

    let config = Config::parse(
        "[connectors.http]\nallow_hosts = [\"https://x.com/a\"]",
        Path::new("flowc.toml"),
    )
    .unwrap();
    let err = HttpConnector::from_config(&config, Path::new(".")).err().unwrap();
    assert!(err.message.contains("not a host"), "{}", err.message);
}

#[tokio::test]
async fn secret_headers_do_not_follow_a_redirect_to_another_origin() {
    let (home, other) = (start_server().await, start_server().await);
    let http = connector(&format!(
        "[connectors.http]\nallow_hosts = [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]",
        home.port(),
        other.port()
    ));
    std::env::set_var("FLOWC_TEST_HTTP_API_KEY", "k-secret");
    let secret = || {
        (
            "secret_headers",
            Value::record([
                ("X-Api-Key", Value::text("FLOWC_TEST_HTTP_API_KEY")),
                ("Authorization", Value::text("FLOWC_TEST_HTTP_API_KEY")),
            ]),
        )
    };
    let plain = ("headers", Value::record([("X-Custom", Value::text("kept"))]));
    // Same origin: the secret goes along.
    let same = http
        .call(call(
            "get",
            vec![
                ("url", url(home, &format!("/redirect-to/{}", home.port()))),
                secret(),
                plain.clone(),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(same.get("body").get("x_api_key"), &Value::text("k-secret"));
    // Another origin (another port of the same host): every secret header is dropped.
    let crossed = http
        .call(call(
            "get",
            vec![
                ("url", url(home, &format!("/redirect-to/{}", other.port()))),
                secret(),
                plain,
            ],
        ))
        .await
        .unwrap();
    let body = crossed.get("body");
    assert_eq!(body.get("x_api_key"), &Value::Null);
    assert_eq!(body.get("authorization"), &Value::Null);
    assert_eq!(body.get("x_custom"), &Value::text("kept"));
}

#[tokio::test]
async fn retry_after_is_capped_at_an_hour_or_as_configured() {
    let addr = start_server().await;
    let err = allowing(addr, "")
        .call(call("get", vec![("url", url(addr, "/slow-down"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(3600)));
    let err = allowing(addr, "max_retry_after = \"2m\"")
        .call(call("get", vec![("url", url(addr, "/slow-down"))]))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn a_bare_host_allows_only_the_default_port() {
    let addr = start_server().await;
    let err = connector("[connectors.http]\nallow_hosts = [\"127.0.0.1\"]")
        .call(call("get", vec![("url", url(addr, "/json"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("allow_hosts"), "{}", err.message);
    let out = connector("[connectors.http]\nallow_hosts = [\"127.0.0.1:*\"]")
        .call(call("get", vec![("url", url(addr, "/json"))]))
        .await
        .unwrap();
    assert_eq!(out.get("body").get("ok"), &Value::Bool(true));
}
