//! Replay is deterministic: a run cut short at any commit of its journal and recovered ends as
//! the live run ended, with the same history (property test).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, ErrorClass, Manifest};
use flowc::runtime::{
    Commit, Engine, EngineError, Event, EventKind, MemoryStore, Store, TimerRecord, VirtualClock,
};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use proptest::prelude::*;
use serde_json::json;

const FLOWS: &str = r#"
entity e {}
flow waits for e {
  let t = format_date(now(), "%H:%M:%S")
  step x = svc.do(x: 1) retry 3 times backoff 1s..1m factor 2 no jitter
  wait 1h
  step y = svc.do(x: x) retry 2 times backoff 2s..2s no jitter fallback "fb"
  step r = wait for event "go" timeout 30m
  output { x, y, t, r, late: format_date(now(), "%H:%M:%S") }
}
flow fan for e {
  step sent = for m in [1, 2, 3] concurrency 2 {
    step s = svc.do(x: m) retry 3 times backoff 1s..4s no jitter
    wait 10m
    yield s
  }
  output { sent }
}
flow failing for e {
  step a = svc.do(x: 1) retry 2 times backoff 1s..1s no jitter
  step b = svc.do(x: a)
  output { a, b }
  on error {
    step h = svc.do(x: error.message)
  }
}
flow child for e {
  input { x: number }
  step c = svc.do(x: input.x) retry 2 times backoff 1s..1s no jitter
  wait 5m
  output { c }
}
flow parent for e {
  step k = child(x: 7) retry 2 times backoff 1s..1s no jitter
  output { k: k.c }
}
"#;

const FLOW_NAMES: [&str; 4] = ["waits", "fan", "failing", "parent"];

/// Answers by the step and attempt alone, so a recovered run meets the service the live run
/// met: a step fails its first `seed`-chosen attempts (transient, or for some steps
/// permanent), then answers `step@attempt`.
struct Det {
    manifest: Manifest,
    seed: u64,
    calls: Mutex<Vec<(String, String, u32)>>,
}

impl Det {
    fn new(seed: u64) -> Arc<Det> {
        Arc::new(Det {
            manifest: Manifest {
                name: "svc".into(),
                description: "deterministic test service".into(),
                actions: vec![ActionSpec::new("do", "test", Type::Any).optional("x", Type::Any, "test")],
            },
            seed,
            calls: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Connector for Det {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        self.calls
            .lock()
            .unwrap()
            .push((call.instance.to_string(), call.step.to_string(), call.attempt));
        let mut h = DefaultHasher::new();
        (self.seed, &call.step).hash(&mut h);
        let h = h.finish();
        let fails = (h % 4) as u32;
        if call.attempt <= fails {
            let class = if h & 16 == 0 {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            };
            return Err(ConnectorError::new(class, format!("{} down", call.step)));
        }
        Ok(Value::text(format!("{}@{}", call.step, call.attempt)))
    }
}

/// A memory store that remembers the order its batches were committed in, so a test can
/// build the store a crash after any commit would have left.
#[derive(Default)]
struct Journal {
    inner: MemoryStore,
    batches: Mutex<Vec<(String, Vec<Event>)>>,
}

impl Store for Journal {
    fn append(&self, instance: &str, event: Event) {
        self.batches
            .lock()
            .unwrap()
            .push((instance.to_string(), vec![event.clone()]));
        self.inner.append(instance, event);
    }
    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        self.batches
            .lock()
            .unwrap()
            .push((instance.to_string(), events.clone()));
        self.inner.append_batch(instance, events)
    }
    fn history(&self, instance: &str) -> Vec<Event> {
        self.inner.history(instance)
    }
    fn put_timer(&self, timer: TimerRecord) {
        self.inner.put_timer(timer)
    }
    fn remove_timer(&self, id: u64) {
        self.inner.remove_timer(id)
    }
    fn timers(&self) -> Vec<TimerRecord> {
        self.inner.timers()
    }
    fn instances(&self) -> Vec<String> {
        self.inner.instances()
    }
}

fn project() -> Project {
    Project::from_sources(Path::new("/replay"), Config::default(), [("r.flow", FLOWS)])
}

fn t0() -> DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-05-04T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Every instance's history as a sorted list of its events' kinds (as JSON): calls re-issued
/// after a crash may answer in another order, but nothing may be lost, added or changed.
fn histories(store: &dyn Store) -> Vec<(String, Vec<String>)> {
    let mut ids = store.instances();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let mut kinds: Vec<String> = store
                .history(&id)
                .iter()
                .map(|e| serde_json::to_string(&e.kind).unwrap())
                .collect();
            kinds.sort();
            (id, kinds)
        })
        .collect()
}

async fn run(engine: &Engine, id: &flowc::runtime::InstanceId) -> Result<Value, EngineError> {
    tokio::time::timeout(Duration::from_secs(10), engine.output(id))
        .await
        .expect("the instance ends")
}

fn check(flow: &str, seed: u64, cut: f64) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The live run.
        let journal = Arc::new(Journal::default());
        let svc = Det::new(seed);
        let live = Engine::builder()
            .project_value(project())
            .connector(svc.clone())
            .store(journal.clone())
            .clock(Arc::new(VirtualClock::new(t0())))
            .build()
            .unwrap();
        let id = live.start(flow, json!({})).await.unwrap();
        let live_out = run(&live, &id).await;
        live.shutdown().await;
        drop(live);
        let batches = journal.batches.lock().unwrap().clone();
        // The crash: only the first `kept` commits survive (at least the start).
        let kept = 1 + ((batches.len() - 1) as f64 * cut) as usize;
        let store = Arc::new(MemoryStore::new());
        let mut crashed_at = t0();
        let mut decided = Vec::new();
        for (instance, events) in &batches[..kept] {
            for e in events {
                crashed_at = crashed_at.max(e.at);
                match &e.kind {
                    EventKind::StepSucceeded { step, attempt, .. }
                    | EventKind::StepFailed { step, attempt, .. } => {
                        decided.push((instance.clone(), step.to_string(), *attempt))
                    }
                    _ => {}
                }
            }
            let _ = store.append_batch(instance, events.clone());
        }
        let kept_events: Vec<(String, Vec<Event>)> = batches[..kept].to_vec();
        let ended = flowc::runtime::has_ended(&store.history(&id.0));
        // The restart, at the instant of the crash: what runs after it then runs at the times
        // it ran live, so its clock readings match too (that a later clock leaves readings made
        // before the crash alone is `recovery::now_read_before_a_crash_...`).
        let again = Det::new(seed);
        let recovered = Engine::builder()
            .project_value(project())
            .connector(again.clone())
            .store(store.clone())
            .clock(Arc::new(VirtualClock::new(crashed_at)))
            .build()
            .unwrap();
        let resumed = recovered.recover().await;
        if ended {
            prop_assert!(resumed.is_empty());
            return Ok(());
        }
        prop_assert_eq!(&resumed, &vec![id.clone()]);
        let out = run(&recovered, &id).await;
        recovered.shutdown().await;
        prop_assert_eq!(out, live_out, "the output after recovery");
        prop_assert_eq!(
            histories(store.as_ref()),
            histories(&journal.inner),
            "the histories after recovery"
        );
        // What was kept is kept as it was: the recovered histories start with it.
        for (instance, events) in &kept_events {
            let history = store.history(instance);
            for e in events {
                prop_assert_eq!(history.get(e.seq as usize), Some(e));
            }
        }
        // A call whose attempt was answered before the crash is never made again.
        for call in again.calls.lock().unwrap().iter() {
            prop_assert!(!decided.contains(call), "{call:?} was made again");
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replaying_a_journal_cut_at_any_commit_ends_as_the_live_run(
        flow in 0..FLOW_NAMES.len(),
        seed in any::<u64>(),
        cut in 0.0..1.0f64,
    ) {
        check(FLOW_NAMES[flow], seed, cut)?;
    }
}

#[tokio::test]
async fn a_jittered_backoff_drawn_before_a_crash_is_read_back_not_drawn_again() {
    let src = "entity e {}\nflow j for e {\n  step a = svc.do(x: 1) retry 3 times backoff 10s..1h jitter\n  output { a }\n}\n";
    let project = Project::from_sources(Path::new("/j"), Config::default(), [("j.flow", src)]);
    // A seed with which the service fails `a`'s first attempt (transient), then answers.
    let seed = (0..).find(|s| {
        let mut h = DefaultHasher::new();
        (*s as u64, "a").hash(&mut h);
        let h = h.finish();
        h % 4 == 1 && h & 16 == 0
    });
    let seed = seed.unwrap() as u64;
    let journal = Arc::new(Journal::default());
    let live = Engine::builder()
        .project_value(project.clone())
        .connector(Det::new(seed))
        .store(journal.clone())
        .clock(Arc::new(VirtualClock::new(t0())))
        .build()
        .unwrap();
    let id = live.start("j", json!({})).await.unwrap();
    assert!(run(&live, &id).await.is_ok());
    drop(live);
    // The crash comes right after the retry (and its random delay) was kept.
    let batches = journal.batches.lock().unwrap().clone();
    let at = batches
        .iter()
        .position(|(_, b)| b.iter().any(|e| matches!(e.kind, EventKind::StepRetried { .. })))
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    for (instance, events) in &batches[..=at] {
        let _ = store.append_batch(instance, events.clone());
    }
    let retried = store
        .history(&id.0)
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::StepRetried { delay_ms, .. } => Some((e.at, delay_ms)),
            _ => None,
        })
        .unwrap();
    let clock = Arc::new(VirtualClock::new(retried.0));
    let svc = Det::new(seed);
    let recovered = Engine::builder()
        .project_value(project)
        .connector(svc.clone())
        .store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    recovered.recover().await;
    assert!(run(&recovered, &id).await.is_ok());
    let second = store
        .history(&id.0)
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::StepStarted { attempt: 2, .. }))
        .unwrap();
    assert_eq!(
        (second.at - retried.0).num_milliseconds(),
        retried.1 as i64,
        "attempt 2 starts after the journaled delay"
    );
    assert_eq!(svc.calls.lock().unwrap().len(), 1);
}
