//! `Engine::retry`: a failed instance runs again from its failed step in a running engine, keeping
//! the steps that succeeded; anything else is refused with a typed error.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::config::Config;
use flowc::connectors::{ActionSpec, ErrorClass, Manifest};
use flowc::runtime::{
    Engine, EngineError, EventKind, InstanceId, MemoryStore, Recording, RecordingConnector, RetryError,
    Store, StubAnswer, StubKey, SystemClock,
};
use flowc::store::{Durability, SqliteStore};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOWS: &str = r#"
entity e {}
flow f for e {
  step a = svc.one()
  step b = svc.two(x: a)
  output { a, b }
}
flow parent for e {
  step a = svc.one()
  step k = child(x: a)
  output { a, k: k.b }
}
flow child for e {
  input { x: any }
  step b = svc.two(x: input.x)
  output { b }
}
flow waits for e {
  wait 1d
  output { done: true }
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

/// `svc.one` answers `1`; `svc.two` fails for good once, then answers `2`.
fn engine(store: Arc<dyn Store>, recording: Arc<Recording>, compact: bool) -> Engine {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOWS)]);
    Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(
            manifest(),
            recording,
            Arc::new(SystemClock),
        ))
        .store(store)
        .compact_ended(compact)
        .build()
        .unwrap()
}

fn recording() -> Arc<Recording> {
    let r = Recording::new();
    r.stub(
        StubKey::Action("svc.one".into()),
        vec![StubAnswer::Returns(Value::Int(1))],
    );
    r.stub(
        StubKey::Action("svc.two".into()),
        vec![
            StubAnswer::Fails(ErrorClass::Permanent, "refused".into()),
            StubAnswer::Returns(Value::Int(2)),
        ],
    );
    r
}

fn calls(r: &Recording, action: &str) -> usize {
    r.calls().iter().filter(|c| c.action == action).count()
}

async fn output(engine: &Engine, id: &InstanceId) -> Result<Value, EngineError> {
    tokio::time::timeout(Duration::from_secs(10), engine.output(id))
        .await
        .expect("the instance ends")
}

#[tokio::test]
async fn a_failed_instance_runs_again_from_its_failed_step_keeping_the_steps_that_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("flowc.db"), Durability::Normal).unwrap());
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for (name, store) in [("memory", memory), ("sqlite", sqlite)] {
        // Compaction leaves a failed history whole: the retry needs its completed steps.
        for compact in [false, true] {
            let r = recording();
            let engine = engine(store.clone(), r.clone(), compact);
            let id = engine.start("f", json!({})).await.unwrap();
            let failed = output(&engine, &id).await;
            assert!(
                matches!(&failed, Err(EngineError::Failed { step, .. }) if step == "b"),
                "{name}: {failed:?}"
            );
            engine.retry(&id).await.unwrap();
            let out = output(&engine, &id).await.unwrap();
            assert_eq!(out.get("b"), &Value::Int(2), "{name}");
            assert_eq!(calls(&r, "svc.one"), 1, "{name}: `a` kept its result");
            assert_eq!(calls(&r, "svc.two"), 2, "{name}: `b` ran again");
            if !compact {
                let kinds: Vec<EventKind> = engine.history(&id).into_iter().map(|e| e.kind).collect();
                let at = |want: fn(&EventKind) -> bool| kinds.iter().rposition(want);
                let failed_at = at(|k| matches!(k, EventKind::InstanceFailed { .. })).unwrap();
                let retried_at = at(|k| *k == EventKind::InstanceRetried).expect("the retry is journaled");
                let b_started =
                    at(|k| matches!(k, EventKind::StepStarted { step, .. } if step == "b")).unwrap();
                let completed_at = at(|k| *k == EventKind::InstanceCompleted).unwrap();
                assert!(
                    failed_at < retried_at && retried_at < b_started && b_started < completed_at,
                    "{name}: journaled before acted on: {kinds:?}"
                );
            }
            // Completed now: not again.
            assert_eq!(
                engine.retry(&id).await,
                Err(RetryError::NotFailed {
                    id: id.0.clone(),
                    status: "completed".into()
                })
            );
            engine.shutdown().await;
        }
    }
}

#[tokio::test]
async fn unknown_running_and_sub_flow_instances_are_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let r = recording();
    let engine = engine(store, r.clone(), false);
    let nope = InstanceId("nope".into());
    assert_eq!(
        engine.retry(&nope).await,
        Err(RetryError::UnknownInstance("nope".into()))
    );
    let waiting = engine.start("waits", json!({})).await.unwrap();
    assert_eq!(
        engine.retry(&waiting).await,
        Err(RetryError::NotFailed {
            id: waiting.0.clone(),
            status: "running".into()
        })
    );
    let id = engine.start("parent", json!({})).await.unwrap();
    assert!(output(&engine, &id).await.is_err());
    let child = InstanceId(format!("{id}/k"));
    assert_eq!(
        engine.retry(&child).await,
        Err(RetryError::SubFlow {
            id: child.0.clone(),
            parent: id.0.clone()
        })
    );
    // The parent's retry runs its failed sub-flow again, from the sub-flow's failed step.
    engine.retry(&id).await.unwrap();
    let out = output(&engine, &id).await.unwrap();
    assert_eq!(out.get("k"), &Value::Int(2));
    assert_eq!(calls(&r, "svc.one"), 1);
    assert_eq!(calls(&r, "svc.two"), 2);
    assert!(engine
        .history(&child)
        .iter()
        .any(|e| e.kind == EventKind::InstanceRetried));
    assert_eq!(engine.status(&child).unwrap().name(), "completed");
}

#[tokio::test]
async fn an_instance_failed_before_a_restart_is_retried_by_the_next_engine() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = engine(store.clone(), recording(), false);
    let id = first.start("f", json!({})).await.unwrap();
    assert!(output(&first, &id).await.is_err());
    first.shutdown().await;
    drop(first);
    // The next process has nothing of it in memory.
    let r = Recording::new();
    r.stub(
        StubKey::Action("svc.two".into()),
        vec![StubAnswer::Returns(Value::Int(2))],
    );
    let second = engine(store, r.clone(), false);
    assert!(second.status(&id).is_err());
    second.retry(&id).await.unwrap();
    let out = output(&second, &id).await.unwrap();
    assert_eq!((out.get("a"), out.get("b")), (&Value::Int(1), &Value::Int(2)));
    assert_eq!(
        calls(&r, "svc.one"),
        0,
        "`a` kept the result of the first process"
    );
    assert_eq!(calls(&r, "svc.two"), 1);
}
