//! Requests for an instance another host holds: an event, a cancel or a retry received by one
//! host reaches the host that holds the instance (the store's queue, woken by NOTIFY) and takes
//! effect once. The queue entry leaves in the commit of the events it caused: a holder that
//! dies after that commit leaves nothing to apply again, one that dies before it leaves the
//! request to the host that takes the instance over, and a second host applying it is refused.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::config::Config;
use flowc::runtime::{Command, Engine, EventKind, Forwarded, InstanceId, Store, SystemClock};
use flowc::serve::verifiers::Secret;
use flowc::serve::{apply_forwarded, host_router, Host, HostOptions};
use flowc::store::PostgresStore;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

use super::cluster;
use super::conformance::kept;
use super::store::{event, started};

const TOKEN: &str = "api-token-forward";
const FLOWS: &str = r#"entity shop {}

flow await_go for shop {
  step go = wait for event "go"
  output { got: go }
}

flow broken for shop {
  fail "cannot go on"
}
"#;

fn go() -> EventKind {
    EventKind::EventReceived {
        name: "go".into(),
        payload: Value::Null,
    }
}

fn queued(url: &str) -> i64 {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query_one("SELECT count(*) FROM commands", &[]).unwrap().get(0)
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn a_forwarded_request_leaves_the_queue_with_the_events_it_caused_and_is_applied_once() {
    let url = cluster::database();
    let lease = Duration::from_secs(1);
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", lease).unwrap();
    kept(a.append_batch("i", vec![event(0, started())])).await;
    let signal = Command::Event {
        name: "go".into(),
        payload: json!(null),
    };
    assert!(!b.forward("nobody", &signal).unwrap(), "no such instance");
    assert!(
        !b.forward("i", &Command::Retry).unwrap(),
        "a running instance is not retried"
    );
    assert!(b.forward("i", &signal).unwrap());
    // Only the holder reads it.
    assert_eq!(b.forwarded(), Vec::<Forwarded>::new());
    let taken = a.forwarded();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].command, signal);
    // Its effect's commit takes it off the queue.
    a.applying(&taken[0]);
    kept(a.append_batch("i", vec![event(1, go())])).await;
    kept(a.applied(&taken[0], false)).await;
    assert_eq!(queued(&url), 0);
    assert_eq!(a.forwarded(), Vec::<Forwarded>::new());
    // A second host applying the same request (it took the instance over from a host it
    // thought dead) finds it gone: its batch is refused, the event is in the history once.
    b.applying(&taken[0]);
    let twice = b.append_batch("i", vec![event(2, go())]);
    let flowc::runtime::Commit::Pending(rx) = twice else {
        panic!("a shared store answers after its commit")
    };
    let refused = rx.await.unwrap().unwrap_err();
    assert!(refused.0.contains("carried out by another host"), "{refused}");
    let received = a.history("i").iter().filter(|e| e.kind == go()).count();
    assert_eq!(received, 1);
}

#[tokio::test]
async fn a_request_its_holder_did_not_apply_before_dying_goes_to_the_host_that_takes_over() {
    let url = cluster::database();
    let lease = Duration::from_secs(1);
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", lease).unwrap();
    kept(a.append_batch("j", vec![event(0, started())])).await;
    assert!(b.forward("j", &Command::Cancel).unwrap());
    let taken = a.forwarded();
    assert_eq!(taken.len(), 1);
    a.applying(&taken[0]);
    // Host a dies before its batch.
    drop(a);
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    assert_eq!(b.claim_unfinished(), ["j"]);
    let again = b.forwarded();
    assert_eq!(again, taken, "the request waits for the new holder");
    // A request the engine found nothing to do for (no batch carried it) leaves the queue.
    b.applying(&again[0]);
    kept(b.applied(&again[0], false)).await;
    assert_eq!(queued(&url), 0);
}

/// A host on the database, serving the API, applying what other hosts forward to it.
pub(super) struct ApiHost {
    pub(super) host: Arc<Host>,
    app: axum::Router,
    pub(super) engine: Engine,
    pub(super) store: Arc<PostgresStore>,
}

/// Host `name` of project `flows` on the database at `url`.
pub(super) fn api_host(url: &str, name: &str, flows: &str) -> ApiHost {
    let project = Project::from_sources(Path::new("/hosts"), Config::default(), [("shop.flow", flows)]);
    let store = Arc::new(PostgresStore::open_as(url, name, Duration::from_secs(30)).unwrap());
    let engine = Engine::builder()
        .project_value(project.clone())
        .store(store.clone())
        .clock(Arc::new(SystemClock))
        .build()
        .unwrap();
    let options = HostOptions {
        store: Some(store.clone()),
        api_token: Some(Secret::new(TOKEN)),
        ..HostOptions::default()
    };
    let host = Host::new(engine.clone(), &project, options, &|_| None).unwrap();
    host.set_ready(true);
    apply_forwarded(engine.clone(), store.clone()).expect("a shared store forwards");
    ApiHost {
        app: host_router(host.clone()),
        host,
        engine,
        store,
    }
}

async fn post(app: &axum::Router, uri: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, answer) = super::deliveries::send(app, request).await;
    (status, answer)
}

async fn start(h: &ApiHost, flow: &str) -> InstanceId {
    let (status, answer) = post(&h.app, &format!("/api/flows/{flow}/start"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    InstanceId(answer["instance"].as_str().unwrap().to_string())
}

fn count(store: &PostgresStore, id: &InstanceId, what: impl Fn(&EventKind) -> bool) -> usize {
    store.history(&id.0).iter().filter(|e| what(&e.kind)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_cancels_and_retries_sent_to_another_host_reach_the_holder_once() {
    let url = cluster::database();
    let (a, b) = (api_host(&url, "host-a", FLOWS), api_host(&url, "host-b", FLOWS));

    // Events: each instance waits on host a; its event is sent to host b.
    let mut waiting = Vec::new();
    for _ in 0..20 {
        waiting.push(start(&a, "await_go").await);
    }
    for id in &waiting {
        super::conformance::wait_for(&*a.store, id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
        let (status, answer) = post(
            &b.app,
            &format!("/api/instances/{}/events/go", id.0),
            json!({"n": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["forwarded"], true);
    }
    for id in &waiting {
        // Host a lets an ended instance go from memory: its history says how it ended.
        super::conformance::wait_for(&*a.store, id, |k| matches!(k, EventKind::InstanceCompleted)).await;
        let output = a.store.history(&id.0).into_iter().find_map(|e| match e.kind {
            EventKind::Output { value } => Some(value),
            _ => None,
        });
        assert_eq!(output.unwrap().get("got").get("n"), &Value::Int(1));
        let received = count(&a.store, id, |k| matches!(k, EventKind::EventReceived { .. }));
        assert_eq!(received, 1, "{:?}", a.store.history(&id.0));
    }
    assert_eq!(queued(&url), 0);

    // Cancel: sent to host b, done by host a.
    let id = start(&a, "await_go").await;
    super::conformance::wait_for(&*a.store, &id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
    let (status, answer) = post(&b.app, &format!("/api/instances/{}/cancel", id.0), json!({})).await;
    assert_eq!(
        (status, &answer["forwarded"]),
        (StatusCode::ACCEPTED, &json!(true)),
        "{answer}"
    );
    super::conformance::wait_for(&*a.store, &id, |k| matches!(k, EventKind::InstanceCancelled)).await;
    assert_eq!(a.store.record(&id.0).unwrap().status, "cancelled");

    // Retry: sent to host b, done once by host a, which holds the failed instance.
    let id = start(&a, "broken").await;
    super::conformance::wait_for(&*a.store, &id, |k| matches!(k, EventKind::InstanceFailed { .. })).await;
    let (status, answer) = post(&b.app, &format!("/api/instances/{}/retry", id.0), json!({})).await;
    assert_eq!(
        (status, &answer["forwarded"]),
        (StatusCode::ACCEPTED, &json!(true)),
        "{answer}"
    );
    super::conformance::wait_for(&*a.store, &id, |k| matches!(k, EventKind::InstanceRetried)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queued(&url) > 0 {
        assert!(std::time::Instant::now() < deadline, "the retry stays queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        count(&a.store, &id, |k| matches!(k, EventKind::InstanceRetried)),
        1
    );
    // Requests for no instance are answered as before.
    let (status, _) = post(&b.app, "/api/instances/nobody/events/go", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
