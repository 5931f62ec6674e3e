//! Instance ids are UUIDv7, never reused; idempotency keys derive from the id, the step path
//! and the fan-out item, and survive a restart unchanged.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::config::Config;
use flowc::connectors::{ActionSpec, Manifest};
use flowc::runtime::{
    Engine, InstanceId, MemoryStore, Recording, RecordingConnector, StubAnswer, StubKey, SystemClock,
};
use flowc::types::Type;
use flowc::Project;
use serde_json::json;

const FLOW: &str = r#"
entity e {}
flow f for e {
  input { n: number }
  step a = svc.do(n: input.n)
  step each = for i in [1, 2] {
    step s = svc.do(n: i)
    yield s
  }
  output { a, each }
}"#;

fn manifest() -> Manifest {
    Manifest {
        name: "svc".into(),
        description: "test service".into(),
        // The engine refuses flows that do not check: declare what the flow passes.
        actions: vec![ActionSpec::new("do", "test", Type::Any).optional("n", Type::Any, "test")],
    }
}

fn project() -> Project {
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOW)])
}

fn engine(recording: &Arc<Recording>, store: Option<Arc<MemoryStore>>) -> Engine {
    let mut b = Engine::builder()
        .project_value(project())
        .connector(RecordingConnector::new(
            manifest(),
            recording.clone(),
            Arc::new(SystemClock),
        ));
    if let Some(store) = store {
        b = b.store(store);
    }
    b.build().unwrap()
}

/// `(step, key)` of every call recorded, sorted by step.
fn keys(recording: &Recording) -> Vec<(String, String)> {
    let mut keys: Vec<_> = recording
        .calls()
        .into_iter()
        .map(|c| (c.call.step.to_string(), c.call.idempotency_key.to_string()))
        .collect();
    keys.sort();
    keys
}

async fn finish(engine: &Engine, id: &InstanceId) {
    tokio::time::timeout(Duration::from_secs(10), engine.output(id))
        .await
        .expect("the instance ends")
        .expect("the instance completes");
}

#[tokio::test]
async fn two_runs_of_the_same_flow_and_input_share_no_id_and_no_key() {
    // Two engines on fresh stores: two `flowc run` of the same flow with the same input.
    let (r1, r2) = (Recording::new(), Recording::new());
    let (e1, e2) = (engine(&r1, None), engine(&r2, None));
    let id1 = e1.start("f", json!({ "n": 1 })).await.unwrap();
    let id2 = e2.start("f", json!({ "n": 1 })).await.unwrap();
    finish(&e1, &id1).await;
    finish(&e2, &id2).await;
    assert_ne!(id1, id2);
    for id in [&id1, &id2] {
        let uuid = uuid::Uuid::parse_str(&id.0).expect("the id is a UUID");
        assert_eq!(uuid.get_version_num(), 7, "{id}");
    }
    let (k1, k2) = (keys(&r1), keys(&r2));
    let steps: Vec<&str> = k1.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(steps, ["a", "each[0].s", "each[1].s"]);
    for ((step, a), (_, b)) in k1.iter().zip(&k2) {
        assert_ne!(a, b, "step `{step}` has the same key in both runs");
    }
    // Within a run every step and every fan-out item has a key of its own.
    let mut distinct: Vec<&String> = k1.iter().map(|(_, k)| k).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), 3);
    // A second instance in the same engine is another run too.
    let r3 = Recording::new();
    let e3 = engine(&r3, None);
    let id3 = e3.start("f", json!({ "n": 1 })).await.unwrap();
    let id4 = e3.start("f", json!({ "n": 1 })).await.unwrap();
    finish(&e3, &id3).await;
    finish(&e3, &id4).await;
    let k = keys(&r3);
    assert_ne!(k[0].1, k[1].1, "{k:?}");
}

#[tokio::test]
async fn a_call_in_flight_at_a_crash_is_made_again_with_the_same_key() {
    let store = Arc::new(MemoryStore::new());
    // First process: every call hangs, then the process dies (the engine is dropped, nothing
    // is shut down).
    let r1 = Recording::new();
    r1.stub(StubKey::Action("svc.do".into()), vec![StubAnswer::Hangs]);
    let e1 = engine(&r1, Some(store.clone()));
    let id = e1.start("f", json!({ "n": 1 })).await.unwrap();
    for _ in 0..200 {
        if r1.calls().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = keys(&r1);
    assert_eq!(before.len(), 3, "{before:?}");
    drop(e1);
    // Second process on the same store: the calls are made again, with the keys of the first.
    let r2 = Recording::new();
    let e2 = engine(&r2, Some(store));
    assert_eq!(e2.recover().await, vec![id.clone()]);
    finish(&e2, &id).await;
    assert_eq!(keys(&r2), before);
}
