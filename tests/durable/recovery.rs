//! Recovery carries on where the journal says: a retry sequence interrupted by a crash resumes at
//! its next attempt, when its backoff ends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::config::Config;
use flowc::connectors::{ActionSpec, ErrorClass, Manifest};
use flowc::runtime::{
    Engine, EventKind, MemoryStore, Recording, RecordingConnector, StubAnswer, StubKey, SystemClock,
    VirtualClock,
};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOW: &str = "entity e {}\nflow f for e {\n  step a = svc.do()\n    retry 5 times backoff 20ms..1h factor 1000 no jitter\n  output { a }\n}\n";

fn manifest() -> Manifest {
    Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("do", "test", Type::Any)],
    }
}

#[tokio::test]
async fn a_retry_interrupted_by_a_crash_resumes_at_its_next_attempt() {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOW)]);
    let store = Arc::new(MemoryStore::new());
    // First process (wall clock): attempts 1 and 2 fail; attempt 3 is due 20 s later when it
    // dies.
    let r1 = Recording::new();
    let fail = StubAnswer::Fails(ErrorClass::Transient, "down".into());
    r1.stub(StubKey::Action("svc.do".into()), vec![fail]);
    let e1 = Engine::builder()
        .project_value(project.clone())
        .connector(RecordingConnector::new(
            manifest(),
            r1.clone(),
            Arc::new(SystemClock),
        ))
        .store(store.clone())
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    for _ in 0..400 {
        let retried = e1
            .history(&id)
            .iter()
            .filter(|e| matches!(e.kind, EventKind::StepRetried { .. }))
            .count();
        if retried == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let attempts: Vec<u32> = r1.calls().iter().map(|c| c.call.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    let retried_at = e1
        .history(&id)
        .iter()
        .rev()
        .find(|e| matches!(e.kind, EventKind::StepRetried { .. }))
        .map(|e| e.at)
        .unwrap();
    drop(e1);
    // Second process: the call succeeds now.
    let r2 = Recording::new();
    r2.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Returns(Value::text("ok"))],
    );
    let clock2 = Arc::new(VirtualClock::new(retried_at));
    let e2 = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest(), r2.clone(), clock2.clone()))
        .store(store)
        .clock(clock2.clone())
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("a"), &Value::text("ok"));
    let calls = r2.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call.attempt, 3, "the sequence went on at attempt 3");
    // ... when its backoff ended, 20 s after the retry was journaled.
    assert_eq!((calls[0].at - retried_at).num_seconds(), 20);
}

#[tokio::test]
async fn an_ended_instance_keeps_its_start_output_and_end_when_compacted() {
    let src = "entity e {}\nflow f for e {\n  step a = svc.do()\n  wait 1s\n  output { a }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
    let build = |compact: bool| {
        Engine::builder()
            .project_value(project.clone())
            .connector(RecordingConnector::new(
                manifest(),
                Recording::new(),
                clock.clone(),
            ))
            .clock(clock.clone())
            .compact_ended(compact)
            .build()
            .unwrap()
    };
    for (compact, expected) in [(true, 3), (false, 8)] {
        let engine = build(compact);
        let id = engine.start("f", json!({})).await.unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), engine.output(&id)).await;
        assert!(out.unwrap().is_ok());
        let kinds: Vec<EventKind> = engine.history(&id).into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), expected, "{kinds:?}");
        if compact {
            assert!(matches!(kinds[0], EventKind::InstanceStarted { .. }));
            assert!(matches!(kinds[1], EventKind::Output { .. }));
            assert_eq!(kinds[2], EventKind::InstanceCompleted);
        }
    }
}
