//! Hosts on one database: an instance is held by the host that started it while its lease is
//! renewed, taken over once the host is gone (its lease ran out, or it released it, which wakes
//! the others at once), and work claimed by one host is seen as taken by the others.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use flowc::config::Config;
use flowc::runtime::{Claim, Engine, Event, EventKind, Store, SystemClock};
use flowc::store::PostgresStore;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

use super::cluster;
use super::conformance::{kept, wait_for};

fn start(store: &PostgresStore, id: &str) -> flowc::runtime::Commit {
    start_under(store, id, None)
}

/// The start of `id`, a sub-flow of `parent` if one is given.
fn start_under(store: &PostgresStore, id: &str, parent: Option<&str>) -> flowc::runtime::Commit {
    let kind = EventKind::InstanceStarted {
        flow: "f".into(),
        input: Value::Null,
        parent: parent.map(String::from),
        entity: None,
        plan: None,
    };
    store.append_batch(
        id,
        vec![Event {
            seq: 0,
            at: Utc::now(),
            kind,
        }],
    )
}

#[tokio::test]
async fn an_instance_is_held_while_its_host_renews_and_taken_over_when_the_lease_runs_out() {
    let url = cluster::database();
    let lease = Duration::from_secs(1);
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", lease).unwrap();
    kept(start(&a, "i")).await;
    // The first call of a host takes back its own; host b has none, and a renews its lease.
    assert_eq!(b.claim_unfinished(), Vec::<String>::new());
    tokio::time::sleep(lease * 2).await;
    assert_eq!(b.claim_unfinished(), Vec::<String>::new(), "a renews its lease");
    // Host a dies (no release): after its lease, b takes the instance, once.
    drop(a);
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    assert_eq!(b.claim_unfinished(), ["i"]);
    assert_eq!(b.claim_unfinished(), Vec::<String>::new(), "taken once");
    // Host a restarted under its name finds the instance held by b.
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    assert_eq!(a.claim_unfinished(), Vec::<String>::new());
}

/// A sub-flow is taken over with its top-level instance (whose caller, resumed, carries it on):
/// held there, so a reaction of it the database did not keep is taken up again (`lost.rs`)
/// instead of leaving its row `running` forever, and sent the requests made to it.
#[tokio::test]
async fn a_sub_flow_is_taken_over_with_its_top_level_instance() {
    let url = cluster::database();
    let lease = Duration::from_secs(1);
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", lease).unwrap();
    kept(start(&a, "r")).await;
    kept(start_under(&a, "r/step", Some("r"))).await;
    kept(start_under(&a, "r/step/deeper", Some("r/step"))).await;
    kept(start(&a, "other")).await;
    assert_eq!(a.holds("r/step"), Some(true));
    assert_eq!(b.holds("r/step"), Some(false));
    // b has no lease of its own to take back, so its first claim takes nothing yet.
    assert_eq!(b.claim_unfinished(), Vec::<String>::new());
    drop(a);
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    // b takes both top-level instances; sub-flows are not claimed on their own.
    assert_eq!(b.claim_unfinished(), ["r", "other"]);
    let c = PostgresStore::open_as(&url, "host-c", lease).unwrap();
    for id in ["r/step", "r/step/deeper"] {
        assert_eq!(b.holds(id), Some(true), "{id}");
        assert_eq!(c.holds(id), Some(false), "{id}");
    }
    assert_eq!(b.holds("r/never"), Some(false), "its start was never kept");
    let signal = flowc::runtime::Command::Event {
        name: "go".into(),
        payload: json!(null),
    };
    assert!(c.forward("r/step", &signal).unwrap());
    let taken: Vec<String> = b.forwarded().into_iter().map(|f| f.instance).collect();
    assert_eq!(taken, ["r/step"], "a request to the sub-flow reaches its holder");
}

#[tokio::test]
async fn a_host_that_releases_its_instances_wakes_the_others_at_once() {
    let url = cluster::database();
    // A long lease: only the release can free the instance within the test.
    let lease = Duration::from_secs(60);
    let a = PostgresStore::open_as(&url, "host-a", lease).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", lease).unwrap();
    kept(start(&a, "j")).await;
    let woken = b.work_released();
    // The renewal's own wake-up at start is spent first.
    let _ = tokio::time::timeout(Duration::from_millis(200), woken.notified()).await;
    assert_eq!(b.claim_unfinished(), Vec::<String>::new());
    let released = Instant::now();
    a.release();
    tokio::time::timeout(Duration::from_secs(5), woken.notified())
        .await
        .expect("woken by the release's notification");
    assert!(released.elapsed() < Duration::from_secs(5));
    assert_eq!(b.claim_unfinished(), ["j"]);
}

#[tokio::test]
async fn work_claimed_by_one_host_is_taken_for_the_others() {
    let url = cluster::database();
    let a = PostgresStore::open_as(&url, "host-a", Duration::from_secs(30)).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", Duration::from_secs(30)).unwrap();
    assert_eq!(a.claim("delivery /hooks/x#1"), Claim::Mine);
    assert_eq!(b.claim("delivery /hooks/x#1"), Claim::Taken(None));
    assert_eq!(
        a.claim("delivery /hooks/x#1"),
        Claim::Taken(None),
        "once, even for its host"
    );
    a.claimed("delivery /hooks/x#1", "i-1");
    assert_eq!(b.claim("delivery /hooks/x#1"), Claim::Taken(Some("i-1".into())));
    assert_eq!(b.claim("delivery /hooks/x#2"), Claim::Mine);
}

#[tokio::test]
async fn a_claim_whose_host_died_before_starting_is_free_again_after_a_lease() {
    let url = cluster::database();
    let a = PostgresStore::open_as(&url, "host-a", Duration::from_secs(1)).unwrap();
    let b = PostgresStore::open_as(&url, "host-b", Duration::from_secs(1)).unwrap();
    assert_eq!(a.claim("schedule s at t"), Claim::Mine);
    drop(a);
    assert_eq!(b.claim("schedule s at t"), Claim::Taken(None));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(b.claim("schedule s at t"), Claim::Mine);
}

fn project() -> Project {
    let src = "entity e {}\nflow f for e {\n  wait 2s\n  output { done: true }\n}\n";
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)])
}

fn engine(store: Arc<PostgresStore>) -> Engine {
    Engine::builder()
        .project_value(project())
        .store(store)
        .clock(Arc::new(SystemClock))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_waiting_instance_of_a_dead_host_finishes_once_on_another() {
    let url = cluster::database();
    let lease = Duration::from_secs(1);
    let a = Arc::new(PostgresStore::open_as(&url, "host-a", lease).unwrap());
    let b = Arc::new(PostgresStore::open_as(&url, "host-b", lease).unwrap());
    let (ea, eb) = (engine(a.clone()), engine(b.clone()));
    assert_eq!(eb.recover().await, vec![]);
    let id = ea.start("f", json!({})).await.unwrap();
    wait_for(&*a, &id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
    assert_eq!(eb.recover().await, vec![], "a holds it");
    // Host a dies with its timer armed.
    drop(ea);
    drop(a);
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    assert_eq!(eb.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), eb.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("done"), &Value::Bool(true));
    let history = b.history(&id.0);
    let fired = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaitEnded { .. }))
        .count();
    assert_eq!(fired, 1, "{history:?}");
    assert_eq!(b.record(&id.0).unwrap().status, "completed");
}
