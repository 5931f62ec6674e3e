//! Events are written once per reaction, not once per event: a step answering and the steps it
//! starts reach the store as one batch. A batch the store does not keep is never acted on: a start
//! is not acknowledged, and a running instance goes on from its journal.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use flowc::config::Config;
use flowc::connectors::{ActionSpec, Manifest};
use flowc::runtime::{
    Commit, Engine, Event, MemoryStore, Recording, RecordingConnector, Store, StoreError, SystemClock,
    TimerRecord,
};
use flowc::types::Type;
use flowc::Project;
use serde_json::json;

/// A memory store that counts, per instance, the writes the engine makes.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    /// Per instance: single appends, batches, events in batches.
    writes: Mutex<HashMap<String, (usize, usize, usize)>>,
    other: Mutex<Vec<&'static str>>,
}

impl Counting {
    fn writes(&self, instance: &str) -> (usize, usize, usize) {
        self.writes
            .lock()
            .unwrap()
            .get(instance)
            .copied()
            .unwrap_or_default()
    }
}

impl Store for Counting {
    fn append(&self, instance: &str, event: Event) {
        self.writes.lock().unwrap().entry(instance.into()).or_default().0 += 1;
        self.inner.append(instance, event);
    }
    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        {
            let mut writes = self.writes.lock().unwrap();
            let w = writes.entry(instance.into()).or_default();
            w.1 += 1;
            w.2 += events.len();
        }
        self.inner.append_batch(instance, events)
    }
    fn sync(&self) -> Commit {
        self.inner.sync()
    }
    fn history(&self, instance: &str) -> Vec<Event> {
        self.inner.history(instance)
    }
    fn put_timer(&self, timer: TimerRecord) {
        self.other.lock().unwrap().push("put_timer");
        self.inner.put_timer(timer)
    }
    fn remove_timer(&self, id: u64) {
        self.other.lock().unwrap().push("remove_timer");
        self.inner.remove_timer(id)
    }
    fn timers(&self) -> Vec<TimerRecord> {
        self.inner.timers()
    }
    fn instances(&self) -> Vec<String> {
        self.inner.instances()
    }
    fn put_plan(&self, hash: &str, bundle: &str) {
        self.inner.put_plan(hash, bundle)
    }
    fn plan(&self, hash: &str) -> Option<String> {
        self.inner.plan(hash)
    }
    fn compact(&self, instance: &str) {
        self.other.lock().unwrap().push("compact");
        self.inner.compact(instance)
    }
    fn suspended(&self, instance: &str) {
        self.other.lock().unwrap().push("suspended");
        self.inner.suspended(instance)
    }
}

const FLOWS: &str = r#"
entity e {}
flow chain for e {
  step a = svc.do()
  step b = svc.do(x: a)
  step c = svc.do(x: b)
  step d = svc.do(x: c)
  step f = svc.do(x: d)
  output { f }
}
flow spread for e {
  step a = svc.do()
  step b = svc.do()
  step c = svc.do()
  step d = svc.do()
  step f = svc.do()
  output { a, b, c, d, f }
}
"#;

/// The engine of these tests: FLOWS, a stub `svc` connector recording its calls in `recording`,
/// and `store`.
fn engine(store: Arc<dyn Store>, recording: Arc<Recording>) -> Engine {
    let manifest = Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("do", "test", Type::Any).optional("x", Type::Any, "test")],
    };
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOWS)]);
    Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(
            manifest,
            recording,
            Arc::new(SystemClock),
        ))
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_five_step_flow_writes_one_batch_per_reaction() {
    let store = Arc::new(Counting::default());
    let engine = engine(store.clone(), Recording::new());
    for flow in ["chain", "spread"] {
        let id = engine.start(flow, json!({})).await.unwrap();
        engine.output(&id).await.unwrap();
        let (single, batches, events) = store.writes(&id.0);
        // The start (with the steps it starts), then each step's answer (with the steps it
        // starts; the last one with the output and the end): six reactions, six batches.
        assert_eq!(
            (single, batches),
            (0, 6),
            "{flow}: one batch per reaction, no event on its own"
        );
        assert_eq!(
            events,
            engine.history(&id).len(),
            "{flow}: every event in a batch"
        );
    }
    assert!(
        store.other.lock().unwrap().is_empty(),
        "{:?}",
        store.other.lock().unwrap()
    );
    engine.shutdown().await;
}

/// A memory store whose batches fail while `refuse` is set, behind a barrier that says
/// everything before it is kept (as a group-committing store's does when the failed write was
/// in an earlier group).
#[derive(Default)]
struct Refusing {
    inner: MemoryStore,
    refuse: std::sync::atomic::AtomicBool,
    /// Also refused: the batch of this number (counted from 1 over all instances), once.
    refuse_nth: std::sync::atomic::AtomicUsize,
    batches: std::sync::atomic::AtomicUsize,
}

impl Store for Refusing {
    fn append(&self, instance: &str, event: Event) {
        self.inner.append(instance, event);
    }
    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        let n = self.batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let nth = self.refuse_nth.load(std::sync::atomic::Ordering::SeqCst) == n;
        if !self.refuse.load(std::sync::atomic::Ordering::SeqCst) && !nth {
            return self.inner.append_batch(instance, events);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(Err(StoreError("the disk is full".into())));
        Commit::Pending(rx)
    }
    fn sync(&self) -> Commit {
        Commit::Done
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

#[tokio::test]
async fn a_start_the_store_did_not_keep_is_not_acknowledged() {
    let store = Arc::new(Refusing::default());
    let engine = engine(store.clone(), Recording::new());
    store.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    // A webhook's 202 answers this: it must not say the start is kept when it is not.
    let refused = engine.start("chain", json!({})).await;
    let message = refused.expect_err("a start the store refused").to_string();
    assert!(message.contains("the disk is full"), "{message}");
    assert!(store.instances().is_empty());
    store.refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    let id = engine.start("chain", json!({})).await.unwrap();
    engine.output(&id).await.unwrap();
    engine.shutdown().await;
}

#[tokio::test]
async fn an_instance_whose_reaction_the_store_lost_goes_on_from_its_journal() {
    let store = Arc::new(Refusing::default());
    let recording = Recording::new();
    let engine = engine(store.clone(), recording.clone());
    // Batch 3: step b's answer, with step c's start. Lost, c is never called from it.
    store.refuse_nth.store(3, std::sync::atomic::Ordering::SeqCst);
    let id = engine.start("chain", json!({})).await.unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), engine.output(&id))
        .await
        .expect("the instance ends")
        .unwrap();
    assert!(!output.is_null());
    // The journal has no hole where the lost batch was, and one end.
    let history = engine.history(&id);
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..history.len() as u64).collect::<Vec<_>>());
    let ends = history
        .iter()
        .filter(|e| matches!(e.kind, flowc::runtime::EventKind::InstanceCompleted))
        .count();
    assert_eq!(ends, 1);
    // Step b was called again by the next life, with the same idempotency key; every other
    // step once.
    let keys: Vec<String> = recording
        .calls()
        .iter()
        .map(|c| c.call.idempotency_key.to_string())
        .collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), 5, "{keys:?}");
    engine.shutdown().await;
}

#[tokio::test]
async fn an_instance_the_store_lost_is_woken_without_a_caller() {
    let store = Arc::new(Refusing::default());
    let engine = engine(store.clone(), Recording::new());
    store.refuse_nth.store(3, std::sync::atomic::Ordering::SeqCst);
    let id = engine.start("chain", json!({})).await.unwrap();
    // Nobody asks for it: the engine wakes it from the journal after a pause.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !store
        .history(&id.0)
        .iter()
        .any(|e| matches!(e.kind, flowc::runtime::EventKind::InstanceCompleted))
    {
        assert!(std::time::Instant::now() < deadline, "{:?}", store.history(&id.0));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    engine.shutdown().await;
}
