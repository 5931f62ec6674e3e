//! A suspended instance costs disk, not memory: an instance idle in a wait is dropped from memory
//! and woken from its history by its timer, a signal, an `emit` or a cancel, exactly once, after
//! a restart too.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use flowc::config::Config;
use flowc::connectors::{ActionSpec, Manifest};
use flowc::runtime::{
    Clock, Engine, EngineError, EventKind, InstanceId, InstanceStatus, MemoryStore, Recording,
    RecordingConnector, Store, VirtualClock,
};
use flowc::store::{Durability, SqliteStore};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOWS: &str = r#"
entity e {}
flow sleeper for e {
  step a = svc.one()
  wait 1h
  step b = svc.two(x: a)
  output { b }
}
flow listener for e {
  input { id: text }
  step got = wait for event "paid" where event.id == input.id timeout 1d
  step b = svc.two(x: got)
  output { got }
}
flow payer for e {
  input { id: text }
  emit "paid" { id: input.id, amount: 5 }
}
flow parent for e {
  step k = sleeper()
  output { k: k.b }
}
"#;

fn manifest() -> Manifest {
    Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![
            ActionSpec::new("one", "test", Type::Any),
            ActionSpec::new("two", "test", Type::Any).optional("x", Type::Any, "test"),
        ],
    }
}

struct Rig {
    engine: Engine,
    clock: Arc<VirtualClock>,
    calls: Arc<Recording>,
}

fn rig(store: Arc<dyn Store>, clock: Arc<VirtualClock>) -> Rig {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOWS)]);
    let calls = Recording::new();
    let engine = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest(), calls.clone(), clock.clone()))
        .store(store)
        .clock(clock.clone())
        .build()
        .unwrap();
    Rig { engine, clock, calls }
}

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap(),
    ))
}

impl Rig {
    fn count(&self, action: &str) -> usize {
        self.calls.calls().iter().filter(|c| c.action == action).count()
    }

    fn count_events(&self, id: &InstanceId, want: fn(&EventKind) -> bool) -> usize {
        self.engine.history(id).iter().filter(|e| want(&e.kind)).count()
    }

    /// Waits (the virtual clock held still) until nothing of `ids` is in memory.
    async fn until_asleep(&self, ids: &[InstanceId]) {
        for _ in 0..500 {
            if self.engine.resident() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(self.engine.resident(), 0, "idle instances leave memory");
        for id in ids {
            assert_eq!(self.engine.status(id).unwrap(), InstanceStatus::Running);
        }
    }

    async fn output(&self, id: &InstanceId) -> Result<Value, EngineError> {
        tokio::time::timeout(Duration::from_secs(10), self.engine.output(id))
            .await
            .expect("the instance ends")
    }
}

fn wait_ended(k: &EventKind) -> bool {
    matches!(k, EventKind::WaitEnded { .. })
}

#[tokio::test]
async fn an_evicted_instance_wakes_on_its_timer_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("flowc.db"), Durability::Normal).unwrap());
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for store in [memory, sqlite] {
        let r = rig(store, clock());
        // Held still, so the instances sit in their wait while we look.
        r.clock.enter();
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(r.engine.start("sleeper", json!({})).await.unwrap());
        }
        r.until_asleep(&ids).await;
        let start = r.clock.now();
        r.clock.leave();
        for id in &ids {
            assert!(r.output(id).await.is_ok());
            assert_eq!(r.count_events(id, wait_ended), 1, "the wait ends once");
        }
        assert_eq!(r.clock.now() - start, chrono::Duration::hours(1));
        assert_eq!(r.count("svc.one"), 3, "woken, `a` keeps its result");
        assert_eq!(r.count("svc.two"), 3, "`b` runs once per instance");
        r.engine.shutdown().await;
    }
}

#[tokio::test]
async fn an_instance_asleep_at_a_restart_wakes_on_its_timer_exactly_once() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = rig(store.clone(), clock());
    first.clock.enter();
    let id = first.engine.start("sleeper", json!({})).await.unwrap();
    first.until_asleep(std::slice::from_ref(&id)).await;
    first.engine.shutdown().await;
    drop(first);
    let second = rig(store, clock());
    second.clock.enter();
    assert_eq!(second.engine.recover().await, vec![id.clone()]);
    second.until_asleep(std::slice::from_ref(&id)).await;
    second.clock.leave();
    assert!(second.output(&id).await.is_ok());
    assert_eq!(second.count_events(&id, wait_ended), 1);
    assert_eq!(second.count("svc.one"), 0, "`a` ran in the first process");
    assert_eq!(second.count("svc.two"), 1);
}

#[tokio::test]
async fn a_signal_and_an_emit_wake_evicted_instances_exactly_once() {
    let r = rig(Arc::new(MemoryStore::new()), clock());
    r.clock.enter();
    let signalled = r.engine.start("listener", json!({ "id": "s" })).await.unwrap();
    let emitted = r.engine.start("listener", json!({ "id": "m" })).await.unwrap();
    let other = r.engine.start("listener", json!({ "id": "x" })).await.unwrap();
    r.until_asleep(&[signalled.clone(), emitted.clone(), other.clone()])
        .await;
    r.engine
        .signal(&signalled, "paid", json!({ "id": "s", "amount": 1 }))
        .await
        .unwrap();
    let out = r.output(&signalled).await.unwrap();
    assert_eq!(out.get("got").get("amount"), &Value::Int(1));
    // An emit wakes the instances waiting for it; the filter keeps `other` waiting.
    let payer = r.engine.start("payer", json!({ "id": "m" })).await.unwrap();
    assert!(r.output(&payer).await.is_ok());
    let out = r.output(&emitted).await.unwrap();
    assert_eq!(out.get("got").get("amount"), &Value::Int(5));
    for id in [&signalled, &emitted] {
        assert_eq!(r.count_events(id, wait_ended), 1);
        assert_eq!(
            r.count_events(id, |k| matches!(k, EventKind::EventReceived { .. })),
            1
        );
    }
    for ended in [&signalled, &emitted, &payer] {
        assert!(r.engine.forget(ended));
    }
    r.until_asleep(std::slice::from_ref(&other)).await;
    assert_eq!(r.count("svc.two"), 2);
    // Time moves: `other` times out once.
    r.clock.leave();
    let out = r.output(&other).await.unwrap();
    assert_eq!(out.get("got"), &Value::Null);
    assert_eq!(r.count_events(&other, wait_ended), 1);
}

#[tokio::test]
async fn a_cancelled_evicted_instance_stays_cancelled_when_its_timer_is_due() {
    let r = rig(Arc::new(MemoryStore::new()), clock());
    r.clock.enter();
    let id = r.engine.start("sleeper", json!({})).await.unwrap();
    r.until_asleep(std::slice::from_ref(&id)).await;
    r.engine.cancel(&id).await.unwrap();
    assert_eq!(r.engine.status(&id).unwrap(), InstanceStatus::Cancelled);
    r.clock.leave();
    assert_eq!(r.output(&id).await, Err(EngineError::Cancelled));
    // The hour passes; the timer armed before the eviction wakes nothing.
    let start = r.clock.now();
    let later = r.engine.start("sleeper", json!({})).await.unwrap();
    assert!(r.output(&later).await.is_ok());
    assert!(r.clock.now() - start >= chrono::Duration::hours(1));
    assert_eq!(r.count("svc.two"), 1, "only `later` ran `b`");
    assert_eq!(r.count_events(&id, wait_ended), 0);
    assert_eq!(
        r.engine.history(&id).last().map(|e| e.kind.clone()),
        Some(EventKind::InstanceCancelled)
    );
}

#[tokio::test]
async fn an_evicted_sub_flow_answers_its_caller() {
    let r = rig(Arc::new(MemoryStore::new()), clock());
    r.clock.enter();
    let id = r.engine.start("parent", json!({})).await.unwrap();
    let child = InstanceId(format!("{id}/k"));
    for _ in 0..500 {
        if r.engine.resident() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        r.engine.resident(),
        1,
        "the waiting child leaves memory, its caller stays"
    );
    assert_eq!(r.engine.status(&child).unwrap(), InstanceStatus::Running);
    r.clock.leave();
    let out = r.output(&id).await.unwrap();
    assert!(out.get("k") != &Value::Null);
    assert_eq!(r.count("svc.two"), 1);
}

#[tokio::test]
async fn with_eviction_off_every_waiting_instance_stays_in_memory() {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOWS)]);
    let clock = clock();
    let engine = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(
            manifest(),
            Recording::new(),
            clock.clone(),
        ))
        .clock(clock.clone())
        .evict_idle(false)
        .build()
        .unwrap();
    clock.enter();
    let id = engine.start("sleeper", json!({})).await.unwrap();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(engine
        .history(&id)
        .iter()
        .any(|e| matches!(e.kind, EventKind::WaitStarted { .. })));
    assert_eq!(engine.resident(), 1);
    clock.leave();
}
