//! The dashboard: its sign-in (the API token once, then a session cookie), the front page's
//! failures, counts and KPIs, and the pages in real headless Chromium (Debian's `chromium`):
//! they load without a console message, and an instance's page shows a real instance's steps.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use flowc::runtime::MemoryStore;
use serde_json::json;
use tower::ServiceExt;

use super::kpi::KpiHost;

const TOKEN: &str = "dash-token-1";

async fn get(
    app: &axum::Router,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(uri);
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Signs in with `?token=` and returns the session cookie (`name=value`).
async fn sign_in(app: &axum::Router) -> String {
    let (status, headers, _) = get(app, &format!("/?flow=shop.broken&token={TOKEN}"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The token leaves the address bar at once.
    assert_eq!(headers[header::LOCATION], "/?flow=shop.broken");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token: {cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_dashboard_wants_the_api_token_once_then_a_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let t = KpiHost::new(dir.path(), Arc::new(MemoryStore::new()), Some(TOKEN));
    let (status, _, page) = get(&t.app, "/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("?token=TOKEN"), "{page}");
    let (status, _, _) = get(&t.app, "/?token=wrong", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(&t.app, "/", Some("flowc_session=0123")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cookie = sign_in(&t.app).await;
    let (status, headers, page) = get(&t.app, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(page.contains("<h1>Instances</h1>"), "{page}");

    // The cookie opens the API to the dashboard's script only (the retry button's request): a
    // cross-site form cannot send the script's header.
    let id = t.run("broken", json!({ "name": "Gus" })).await;
    let retry = |with_header: bool| {
        let mut r =
            Request::post(format!("/api/instances/{id}/retry")).header(header::COOKIE, cookie.clone());
        if with_header {
            r = r.header("x-flowc-dashboard", "1");
        }
        r.body(Body::empty()).unwrap()
    };
    let answer = t.app.clone().oneshot(retry(false)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = t.app.clone().oneshot(retry(true)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let (status, _, _) = get(&t.app, &format!("/api/instances/{id}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);

    // Without a token the dashboard is off, as the API is.
    let off = KpiHost::new(dir.path(), Arc::new(MemoryStore::new()), None);
    let (status, _, page) = get(&off.app, "/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("dashboard is off"), "{page}");
}

#[tokio::test]
async fn the_front_page_puts_failures_first_with_their_reason_and_a_retry_button() {
    let dir = tempfile::tempdir().unwrap();
    let t = KpiHost::new(dir.path(), Arc::new(MemoryStore::new()), Some(TOKEN));
    t.run("wellness_booking", json!({ "name": "Ada", "free": true }))
        .await;
    t.run("wellness_booking", json!({ "name": "Di", "free": false }))
        .await;
    let failed = t.run("broken", json!({ "name": "Gus" })).await;
    let cookie = sign_in(&t.app).await;
    let (_, _, page) = get(&t.app, "/", Some(&cookie)).await;

    let failures = page.find("<section id=\"failed\">").expect("a failed section");
    assert!(
        failures < page.find("<section id=\"by-flow\">").unwrap(),
        "failures come first"
    );
    assert!(page.contains("cannot go on for Gus"), "{page}");
    assert!(
        page.contains(&format!("data-retry=\"/api/instances/{failed}/retry\"")),
        "{page}"
    );
    // Two bookings, one of them handed to a person: 50% ran without one.
    assert!(
        page.contains("<div class=\"card\" id=\"kpi-booking\"><div class=\"figure\">50.0%</div>"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"/?flow=shop.wellness_booking&amp;status=completed\">2</a>"),
        "{page}"
    );
    // Markup in a failure's reason is shown, never run.
    let t2 = t.run("broken", json!({ "name": "<script>x()</script>" })).await;
    let (_, _, page) = get(&t.app, "/", Some(&cookie)).await;
    assert!(
        page.contains("cannot go on for &lt;script&gt;x()&lt;/script&gt;"),
        "{t2}"
    );
    assert!(!page.contains("<script>x()"), "{page}");
}

#[tokio::test]
async fn an_instance_page_colours_each_step_by_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let t = KpiHost::new(dir.path(), Arc::new(MemoryStore::new()), Some(TOKEN));
    let id = t
        .run("wellness_booking", json!({ "name": "Ada", "free": true }))
        .await;
    let cookie = sign_in(&t.app).await;
    let (status, _, page) = get(&t.app, &format!("/dashboard/instances/{id}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<svg class=\"flow-graph\""), "{page}");
    assert!(
        page.contains("data-step=\"confirm\" data-state=\"done\""),
        "{page}"
    );
    // The branch was not taken: its step is skipped.
    assert!(
        page.contains("data-step=\"handoff\" data-state=\"skipped\""),
        "{page}"
    );
    assert!(
        page.contains("<tr class=\"step state-done\" data-step=\"confirm\">"),
        "{page}"
    );
    // A sub-flow's id holds a `/`: its link encodes it, and its page names its caller.
    let handed = t
        .run("wellness_booking", json!({ "name": "Di", "free": false }))
        .await;
    let (_, _, page) = get(&t.app, &format!("/dashboard/instances/{handed}"), Some(&cookie)).await;
    let child = format!("/dashboard/instances/{handed}%2Fhandoff");
    assert!(page.contains(&format!("<a href=\"{child}\">")), "{page}");
    assert!(
        page.contains("data-step=\"handoff\" data-state=\"done\""),
        "{page}"
    );
    let (status, _, page) = get(&t.app, &child, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<dt>Called by</dt>"), "{page}");
    let (status, _, _) = get(&t.app, "/dashboard/instances/nope-1", Some(&cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// What headless Chromium made of a page: its DOM after scripts ran, and every console message
/// (an uncaught exception is one).
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// Loads `url` in headless Chromium (a fresh profile in `profile`), optionally saving a
/// screenshot to `screenshot`.
async fn chromium(url: &str, profile: &Path, screenshot: Option<&Path>) -> Loaded {
    let mut command = tokio::process::Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .kill_on_drop(true);
    match screenshot {
        Some(path) => command.arg(format!("--screenshot={}", path.display())),
        None => command.arg("--dump-dom"),
    };
    command.arg(url);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("chromium answers within 90 s")
        .expect("Debian's chromium is installed (.ci/test installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    Loaded {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_check_catches_a_page_that_throws() {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html("<!doctype html><p id=x>before</p><script>document.getElementById('x').textContent = 'after'; missingFunction();</script>")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let profile = tempfile::tempdir().unwrap();
    let page = chromium(&format!("http://{addr}/"), profile.path(), None).await;
    assert!(page.dom.contains("<p id=\"x\">after</p>"), "{}", page.dom);
    assert!(
        page.console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError: missingFunction is not defined")),
        "{:?}",
        page.console
    );
}

/// Polls the API until instance `id` has ended; its status.
async fn ended(base: &str, id: &str) -> String {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let answer: serde_json::Value = client
            .get(format!("{base}/api/instances/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = answer["status"].as_str().unwrap_or("").to_string();
        if ["completed", "failed", "cancelled"].contains(&status.as_str()) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance {id} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_a_real_booking_on_a_served_host() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = tempfile::tempdir().unwrap();
    let secrets = [
        ("AMELIA_WEBHOOK_TOKEN", "amelia-url-token"),
        ("TYPEFORM_WEBHOOK_SECRET", "typeform-secret"),
        ("SHOPIFY_WEBHOOK_SECRET", "shopify-secret"),
        ("FLOWC_API_TOKEN", TOKEN),
    ];
    let (mut child, base) =
        super::cli::start(root, state.path(), &["--emulate", "--virtual-clock"], &secrets);
    let body = std::fs::read(root.join("tests/webhooks/amelia_booking_completed.json")).unwrap();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{base}/hooks/the-7-space/bookings?token=amelia-url-token"
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["instance"].as_str().expect("an instance").to_string();
    assert_eq!(ended(&base, &id).await, "completed");

    let profile = tempfile::tempdir().unwrap();
    let front = chromium(&format!("{base}/?token={TOKEN}"), profile.path(), None).await;
    let instance_url = format!("{base}/dashboard/instances/{id}?token={TOKEN}");
    let page = chromium(&instance_url, profile.path(), None).await;
    let shot = profile.path().join("instance.png");
    let _ = chromium(&instance_url, profile.path(), Some(&shot)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();

    assert!(
        front.console.is_empty(),
        "console messages on /: {:?}",
        front.console
    );
    assert!(front.dom.contains("wellness_booking"), "{}", front.dom);
    assert!(
        front.dom.contains(&format!("/dashboard/instances/{id}")),
        "{}",
        front.dom
    );
    assert!(
        page.console.is_empty(),
        "console messages on the instance page: {:?}",
        page.console
    );
    // wellness_booking's own steps, as they ran for Maya's booking.
    for step in [
        "client",
        "service",
        "session",
        "confirmation",
        "practitioner_notice",
    ] {
        assert!(
            page.dom
                .contains(&format!("data-step=\"{step}\" data-state=\"done\"")),
            "step `{step}` is not shown done:\n{}",
            page.dom
        );
    }
    assert!(
        page.dom.contains("data-step=\"handoff\" data-state=\"skipped\""),
        "{}",
        page.dom
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // `FLOWC_DOCS_SCREENSHOT=1` refreshes the picture in docs/serve.md.
    if std::env::var_os("FLOWC_DOCS_SCREENSHOT").is_some() {
        std::fs::write(root.join("docs/images/serve-dashboard-instance.png"), png).unwrap();
    }
}

/// A page on the host's own origin that opens instance `id`'s dashboard page in a window of its
/// own (the dashboard refuses to be framed), clicks its retry button as a person would, and
/// writes what the button then says.
fn click_retry_page(id: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><p id="outcome">loading</p>
<script>
const say = (text) => {{ document.getElementById("outcome").textContent = text; }};
const pause = () => new Promise((r) => setTimeout(r, 50));
(async () => {{
  const page = window.open("/dashboard/instances/{id}?token={token}");
  let button = null;
  for (let i = 0; i < 200 && !button; i++) {{
    await pause();
    try {{ button = page.document.querySelector("button[data-retry]"); }} catch (e) {{}}
  }}
  if (!button) {{ say("no retry button"); return; }}
  button.click();
  const result = button.nextElementSibling;
  for (let i = 0; i < 200 && result.textContent !== "retried"; i++) await pause();
  say("button says: " + result.textContent);
}})();
</script>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_clicks_retry_and_the_instance_runs_again() {
    let (base, calls) = super::retry::service().await;
    let (app, host, store) = super::retry::host();
    let id = super::retry::start(&app, &host, "f", &base).await;
    let status = || store.record(&id.0).map(|r| r.status);
    assert_eq!(
        status().as_deref(),
        Some("failed"),
        "`/two` refuses its first call"
    );
    let page = click_retry_page(&id.0, super::retry::TOKEN);
    let app = app.route(
        "/click-retry",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let profile = tempfile::tempdir().unwrap();
    let loaded = chromium_waiting(&format!("http://{addr}/click-retry"), profile.path()).await;
    assert!(
        loaded.dom.contains("<p id=\"outcome\">button says: retried</p>"),
        "{}\n{:?}",
        loaded.dom,
        loaded.console
    );
    // It ran again, from its failed step, and completed.
    for _ in 0..100 {
        if status().as_deref() == Some("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status().as_deref(), Some("completed"));
    let count = |i: usize| calls[i].load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!((count(0), count(1)), (1, 2), "`/two` called again, `/one` not");
    assert!(host
        .engine()
        .history(&id)
        .iter()
        .any(|e| e.kind == flowc::runtime::EventKind::InstanceRetried));
}

/// [`chromium`]'s DOM dump after the page's scripts had up to 10 s (of virtual time, which
/// stops while requests are in flight) to run.
async fn chromium_waiting(url: &str, profile: &Path) -> Loaded {
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=10000",
                "--disable-popup-blocking",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium answers within 90 s")
    .expect("Debian's chromium is installed");
    Loaded {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console: String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}
