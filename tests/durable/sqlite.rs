//! The SQLite store: what it keeps survives reopening, what it cannot read it refuses clearly,
//! and an engine on it resumes after a restart on the plan each instance started with.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use flowc::config::Config;
use flowc::runtime::{
    Commit, Engine, Event, EventKind, InstanceId, Store, SystemClock, TimerRecord, VirtualClock,
};
use flowc::store::{Durability, SqliteStore};
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

async fn kept(commit: Commit) {
    match commit {
        Commit::Done => {}
        Commit::Pending(rx) => rx.await.unwrap().unwrap(),
    }
}

fn started(flow: &str) -> EventKind {
    EventKind::InstanceStarted {
        flow: flow.into(),
        input: Value::Null,
        parent: None,
        entity: Some("e".into()),
        plan: Some("h1".into()),
    }
}

#[tokio::test]
async fn histories_timers_plans_and_statuses_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let t = Utc::now();
    {
        let store = SqliteStore::open(&path, Durability::Normal).unwrap();
        let ev = |seq, kind| Event { seq, at: t, kind };
        kept(store.append_batch(
            "a",
            vec![ev(0, started("f")), ev(1, EventKind::InstanceCompleted)],
        ))
        .await;
        kept(store.append_batch("b", vec![ev(0, started("g"))])).await;
        store.put_timer(TimerRecord {
            id: 7,
            instance: "b".into(),
            at: t,
            step: "w".into(),
        });
        store.put_plan("h1", "{\"bundle\": 1}");
        kept(store.sync()).await;
    }
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(store.history("a").len(), 2);
    assert_eq!(store.history("b")[0].kind, started("g"));
    assert_eq!(store.unfinished(), vec!["b".to_string()]);
    let records = store.records();
    let status: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(status, [("a", "completed"), ("b", "running")]);
    assert_eq!(store.record("b").unwrap().plan.as_deref(), Some("h1"));
    assert_eq!(store.timers().len(), 1);
    assert_eq!(store.plan("h1").as_deref(), Some("{\"bundle\": 1}"));
    store.remove_timer(7);
    store.compact("a");
    kept(store.sync()).await;
    assert!(store.timers().is_empty());
    let kinds: Vec<EventKind> = store.history("a").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [started("f"), EventKind::InstanceCompleted]);
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    drop(SqliteStore::open(&path, Durability::Full).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, Durability::Full).err().expect("refused");
    assert!(
        err.0.contains("written by a newer flowc (schema version 99"),
        "{err}"
    );
}

#[test]
fn a_corrupt_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&path, Durability::Full).err().expect("refused");
    assert!(
        err.0.contains("is not a flowc state database or is corrupt"),
        "{err}"
    );
    // Nothing was written over it.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}

fn project(version: u32) -> Project {
    let src = format!("entity e {{}}\nflow f for e {{\n  wait 1d\n  output {{ version: {version} }}\n}}\n");
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())])
}

async fn wait_for(store: &SqliteStore, id: &InstanceId, what: impl Fn(&EventKind) -> bool) {
    for _ in 0..400 {
        if store.history(&id.0).iter().any(|e| what(&e.kind)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {:?}", store.history(&id.0));
}

#[tokio::test]
async fn a_waiting_instance_finishes_on_its_own_plan_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    // First process, version 1: the instance waits a day (on the wall clock).
    let store1 = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
    let e1 = Engine::builder()
        .project_value(project(1))
        .store(store1.clone())
        .clock(Arc::new(SystemClock))
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    wait_for(&store1, &id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
    drop(e1);
    // Second process, version 2 of the flow: the day passes at once on a virtual clock.
    let store2 = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
    let clock = Arc::new(VirtualClock::new(Utc::now()));
    let e2 = Engine::builder()
        .project_value(project(2))
        .store(store2.clone())
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.get("version"),
        &Value::Number(1.0),
        "finished on the plan it started with"
    );
    let fresh = e2.start("f", json!({})).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&fresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.get("version"),
        &Value::Number(2.0),
        "new starts use the newest plan"
    );
    assert_eq!(store2.record(&id.0).unwrap().status, "completed");
    assert_eq!(
        store2.unfinished(),
        Vec::<String>::new(),
        "{:?}",
        store2.records()
    );
}
