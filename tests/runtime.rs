//! The engine's rules, one test each, plus a property test of the scheduler on random DAGs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, ErrorClass, Manifest};
use flowc::runtime::{Clock, Engine, EngineError, EventKind, InstanceStatus, VirtualClock};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

/// What a scripted call does, keyed by its `key` argument.
#[derive(Clone, Default)]
struct Script {
    /// Fail this many times first.
    fail_times: u32,
    class: Option<ErrorClass>,
    retry_after: Option<Duration>,
    /// Never answer.
    hang: bool,
    /// Take this long (on the engine clock).
    latency_ms: i64,
}

#[derive(Clone, Debug)]
struct Seen {
    call: ActionCall,
    at: DateTime<Utc>,
    start_seq: u64,
    end_seq: u64,
}

struct Svc {
    manifest: Manifest,
    clock: Arc<dyn Clock>,
    scripts: Mutex<HashMap<String, Script>>,
    counts: Mutex<HashMap<String, u32>>,
    seen: Mutex<Vec<Seen>>,
    seq: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Svc {
    fn new(clock: Arc<dyn Clock>) -> Arc<Svc> {
        // The engine refuses flows that do not check: declare what the test flows pass.
        let action = |name: &str| {
            ["key", "n", "x", "deps", "step", "message", "class"]
                .iter()
                .fold(ActionSpec::new(name, "test", Type::Any), |a, p| {
                    a.optional(p, Type::Any, "test")
                })
        };
        Arc::new(Svc {
            manifest: Manifest {
                name: "svc".into(),
                description: "test service".into(),
                actions: vec![action("do")],
            },
            clock,
            scripts: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn script(&self, key: &str, s: Script) {
        self.scripts.lock().unwrap().insert(key.into(), s);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn calls_for(&self, key: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.call.arg("key").as_str() == Some(key))
            .collect()
    }
}

/// Gives back the clock's unit of work while a hanging call waits, and takes it again if the
/// call is dropped (timed out).
struct HangGuard(Arc<dyn Clock>);

impl Drop for HangGuard {
    fn drop(&mut self) {
        self.0.enter();
    }
}

#[async_trait]
impl Connector for Svc {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        let start_seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let at = self.clock.now();
        let key = call.arg("key").as_str().unwrap_or("").to_string();
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_default();
        let n = {
            let mut counts = self.counts.lock().unwrap();
            let c = counts.entry(key.clone()).or_default();
            *c += 1;
            *c
        };
        if script.hang {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(Seen {
                call: call.clone(),
                at,
                start_seq,
                end_seq: u64::MAX,
            });
            let _guard = HangGuard(self.clock.clone());
            self.clock.leave();
            std::future::pending::<()>().await;
        }
        if script.latency_ms > 0 {
            let sleep = self
                .clock
                .sleep_until(at + chrono::Duration::milliseconds(script.latency_ms));
            self.clock.leave();
            sleep.await;
        }
        let end_seq = self.seq.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let result = if n <= script.fail_times {
            let class = script.class.unwrap_or(ErrorClass::Transient);
            let mut e = ConnectorError::new(class, format!("{key} failed ({n})"));
            e.retry_after = script.retry_after;
            Err(e)
        } else {
            let mut out: BTreeMap<String, Value> = call.args.clone();
            out.insert("v".into(), call.arg("n").clone());
            Ok(Value::Record(out))
        };
        self.seen.lock().unwrap().push(Seen {
            call,
            at,
            start_seq,
            end_seq,
        });
        result
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

struct Rig {
    engine: Engine,
    svc: Arc<Svc>,
    clock: Arc<VirtualClock>,
}

fn rig(src: &str) -> Rig {
    let clock = Arc::new(VirtualClock::new(t0()));
    let svc = Svc::new(clock.clone());
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(svc.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    Rig { engine, svc, clock }
}

async fn run(
    r: &Rig,
    flow: &str,
    input: serde_json::Value,
) -> (flowc::runtime::InstanceId, Result<Value, EngineError>) {
    let id = r.engine.start(flow, input).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), r.engine.output(&id))
        .await
        .expect("instance ends");
    (id, out)
}

fn kinds(r: &Rig, id: &flowc::runtime::InstanceId) -> Vec<EventKind> {
    r.engine.history(id).into_iter().map(|e| e.kind).collect()
}

const E: &str = "entity e { databases Db setting days = 3 }\n";

#[tokio::test]
async fn branch_not_taken_is_skipped_with_value_none() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ x: number }}
           if input.x > 1 {{ step a = svc.do(key: \"a\", n: 1) }} else {{ step b = svc.do(key: \"b\", n: 2) }}
           output {{ a: a.v, b: b.v ?? \"none\" }} }}"
    ));
    let (id, out) = run(&r, "f", json!({ "x": 5 })).await;
    let out = out.unwrap();
    assert_eq!(out.get("a"), &Value::Number(1.0));
    assert_eq!(out.get("b"), &Value::text("none"));
    assert!(kinds(&r, &id).contains(&EventKind::StepSkipped { step: "b".into() }));
    assert_eq!(r.svc.seen().len(), 1);
}

#[tokio::test]
async fn fallback_value_stands_in_after_the_last_attempt() {
    let r = rig(&format!(
        "{E} flow f for e {{
           step a = svc.do(key: \"a\") retry 2 backoff 1s..2s fallback \"fb\"
           step b = svc.do(key: \"b\", n: a)
           output {{ b: b.v }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 99,
            ..Script::default()
        },
    );
    let (_, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("b"), &Value::text("fb"));
    assert_eq!(r.svc.calls_for("a").len(), 2);
}

#[tokio::test]
async fn fallback_block_runs_steps_and_yields() {
    let r = rig(&format!(
        "{E} flow f for e {{
           step a = svc.do(key: \"a\") fallback {{ step alt = svc.do(key: \"alt\", n: 7) yield {{ v: alt.v }} }}
           output {{ a: a.v }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 9,
            class: Some(ErrorClass::Permanent),
            ..Script::default()
        },
    );
    let (_, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("a"), &Value::Number(7.0));
}

#[tokio::test]
async fn transient_is_retried_exactly_as_declared_and_permanent_never() {
    let r = rig(&format!(
        "{E} flow f for e {{
           step a = svc.do(key: \"a\", n: 1) retry 3 times backoff 1s..10s
           step b = svc.do(key: \"b\", n: a.v) retry 3 times backoff 1s..10s
           output {{ b: b.v }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 2,
            ..Script::default()
        },
    );
    r.svc.script(
        "b",
        Script {
            fail_times: 5,
            class: Some(ErrorClass::Permanent),
            ..Script::default()
        },
    );
    let (id, out) = run(&r, "f", json!({})).await;
    assert_eq!(r.svc.calls_for("a").len(), 3, "retry 3 = 3 attempts in all");
    assert_eq!(r.svc.calls_for("b").len(), 1, "permanent is never retried");
    match out {
        Err(EngineError::Failed { step, class, .. }) => {
            assert_eq!(step, "b");
            assert_eq!(class, "permanent");
        }
        other => panic!("{other:?}"),
    }
    // Every attempt of a step carries the same idempotency key, and its number.
    let a = r.svc.calls_for("a");
    assert!(a
        .iter()
        .all(|s| s.call.idempotency_key == a[0].call.idempotency_key));
    assert_eq!(
        a.iter().map(|s| s.call.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_ne!(
        a[0].call.idempotency_key,
        r.svc.calls_for("b")[0].call.idempotency_key
    );
    assert!(matches!(
        r.engine.status(&id).unwrap(),
        InstanceStatus::Failed { .. }
    ));
}

#[tokio::test]
async fn a_transient_failure_beyond_the_policy_fails_the_instance() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\") retry 2 on rate_limited }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 5,
            ..Script::default()
        },
    );
    let (_, out) = run(&r, "f", json!({})).await;
    assert!(out.is_err());
    assert_eq!(
        r.svc.calls_for("a").len(),
        1,
        "transient is not in `on rate_limited`"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_for_rate_limited() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\", n: 1) retry 2 backoff 1s..2s on rate_limited output {{ a: a.v }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 1,
            class: Some(ErrorClass::RateLimited),
            retry_after: Some(Duration::from_secs(30)),
            ..Script::default()
        },
    );
    let (_, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("a"), &Value::Number(1.0));
    let calls = r.svc.calls_for("a");
    assert_eq!(calls.len(), 2);
    assert!(calls[1].at - calls[0].at >= chrono::Duration::seconds(30));
}

#[tokio::test]
async fn a_timed_out_attempt_is_a_transient_failure() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\") timeout 5s retry 2 backoff 1s..1s no jitter fallback \"late\" output {{ a }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            hang: true,
            ..Script::default()
        },
    );
    let started = std::time::Instant::now();
    let (id, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("a"), &Value::text("late"));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.svc.calls_for("a").len(), 2);
    let failed: Vec<_> = kinds(&r, &id)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::StepFailed { class, message, .. } => Some((class, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed[0],
        ("transient".to_string(), "timed out after 5s".to_string())
    );
    // 5s + 1s backoff + 5s on the virtual clock.
    assert_eq!(r.clock.now(), t0() + chrono::Duration::seconds(11));
}

#[tokio::test]
async fn fan_out_respects_its_limit_and_keeps_input_order() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ items: [number] }}
           step all = for i in input.items concurrency 3 {{ step s = svc.do(key: \"k{{{{ i }}}}\", n: i) yield s.v * 10 }}
           output {{ all }} }}"
    ));
    for i in 0..10 {
        // Later items answer sooner, so completion order is the reverse of input order.
        r.svc.script(
            &format!("k{i}"),
            Script {
                latency_ms: (10 - i) * 100,
                ..Script::default()
            },
        );
    }
    let (_, out) = run(&r, "f", json!({ "items": (0..10).collect::<Vec<_>>() })).await;
    let expected: Vec<Value> = (0..10).map(|i| Value::Number((i * 10) as f64)).collect();
    assert_eq!(out.unwrap().get("all"), &Value::List(expected));
    let max = r.svc.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=3).contains(&max), "max in flight {max}");
    // Paths carry the item index.
    let steps: Vec<String> = r.svc.seen().iter().map(|s| s.call.step.to_string()).collect();
    assert!(steps.contains(&"all[9].s".to_string()));
}

#[tokio::test]
async fn wait_takes_virtual_time_only() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\") wait 3d step b = svc.do(key: \"b\") output {{ done: true }} }}"
    ));
    let started = std::time::Instant::now();
    let (id, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("done"), &Value::Bool(true));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(r.svc.calls_for("a")[0].at, t0());
    assert_eq!(r.svc.calls_for("b")[0].at, t0() + chrono::Duration::days(3));
    let k = kinds(&r, &id);
    assert!(k.iter().any(|e| matches!(e, EventKind::WaitStarted { .. })));
    assert!(k
        .iter()
        .any(|e| matches!(e, EventKind::WaitEnded { timed_out: false, .. })));
}

#[tokio::test]
async fn wait_until_an_instant_from_the_input() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ starts_at: datetime }} wait until input.starts_at - 24h step b = svc.do(key: \"b\") }}"
    ));
    let (_, out) = run(&r, "f", json!({ "starts_at": "2026-01-10T09:00:00Z" })).await;
    assert!(out.is_ok());
    assert_eq!(
        r.svc.calls_for("b")[0].at,
        Utc.with_ymd_and_hms(2026, 1, 9, 9, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn a_signal_ends_a_wait_for_event() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ email: email }}
           step reply = wait for event \"lead.replied\" where event.email == input.email timeout 3d
           output {{ text: reply.text }} }}"
    ));
    let id = r.engine.start("f", json!({ "email": "a@b.c" })).await.unwrap();
    // A non-matching event is kept, not taken.
    r.engine
        .signal(&id, "lead.replied", json!({ "email": "x@y.z", "text": "no" }))
        .await
        .unwrap();
    r.engine
        .signal(&id, "lead.replied", json!({ "email": "a@b.c", "text": "yes" }))
        .await
        .unwrap();
    let out = r.engine.output(&id).await.unwrap();
    assert_eq!(out.get("text"), &Value::text("yes"));
}

#[tokio::test]
async fn a_wait_for_event_times_out_to_none() {
    let r = rig(&format!(
        "{E} flow f for e {{ step reply = wait for event \"x\" timeout 3d output {{ got: reply ?? \"nothing\" }} }}"
    ));
    let (id, out) = run(&r, "f", json!({})).await;
    assert_eq!(out.unwrap().get("got"), &Value::text("nothing"));
    assert_eq!(r.clock.now(), t0() + chrono::Duration::days(3));
    assert!(kinds(&r, &id)
        .iter()
        .any(|e| matches!(e, EventKind::WaitEnded { timed_out: true, .. })));
}

#[tokio::test]
async fn cancel_ends_a_waiting_instance() {
    let r = rig(&format!(
        "{E} flow f for e {{ step reply = wait for event \"never\" step b = svc.do(key: \"b\", n: reply) }}"
    ));
    let id = r.engine.start("f", json!({})).await.unwrap();
    assert_eq!(r.engine.status(&id).unwrap(), InstanceStatus::Running);
    r.engine.cancel(&id).await.unwrap();
    assert_eq!(r.engine.status(&id).unwrap(), InstanceStatus::Cancelled);
    assert_eq!(r.engine.output(&id).await, Err(EngineError::Cancelled));
    assert!(r.svc.seen().is_empty());
    assert_eq!(kinds(&r, &id).last(), Some(&EventKind::InstanceCancelled));
}

#[tokio::test]
async fn sub_flows_run_as_steps() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 2) step c = svc.do(key: \"c\", n: h.y) output {{ y: c.v }} }}
         flow helper for e {{ input {{ x: number, z: number = 5 }} step s = svc.do(key: \"s\", n: input.x + input.z) output {{ y: s.v }} }}"
    ));
    let (_, out) = run(&r, "main", json!({})).await;
    assert_eq!(out.unwrap().get("y"), &Value::Number(7.0));
}

#[tokio::test]
async fn sub_flows_work_in_the_callers_workspace() {
    // A shared helper is written `for` one entity but acts for whoever calls it: its calls go to
    // the caller's workspace, and `entity` names the caller.
    let r = rig("entity shop { setting tag = \"shop\" }
         entity hub { setting tag = \"hub\" }
         flow main for shop { step h = helper() output { y: h.y } }
         flow helper for hub { step s = svc.do(key: \"s\", n: entity.tag) output { y: s.v } }");
    let (_, out) = run(&r, "main", json!({})).await;
    assert_eq!(out.unwrap().get("y"), &Value::text("shop"));
    assert_eq!(&*r.svc.calls_for("s")[0].call.entity, "shop");
    let (_, out) = run(&r, "helper", json!({})).await;
    assert_eq!(out.unwrap().get("y"), &Value::text("hub"));
}

#[tokio::test]
async fn the_error_handler_sees_the_error() {
    let r = rig(&format!(
        "{E} flow f for e {{
           step a = svc.do(key: \"a\")
           on error {{ step alert = svc.do(key: \"alert\", step: error.step, message: error.message, class: error.class) }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 1,
            class: Some(ErrorClass::Permanent),
            ..Script::default()
        },
    );
    let (id, out) = run(&r, "f", json!({})).await;
    assert!(matches!(out, Err(EngineError::Failed { .. })));
    let alert = &r.svc.calls_for("alert")[0].call;
    assert_eq!(alert.arg("step"), &Value::text("a"));
    assert_eq!(alert.arg("message"), &Value::text("a failed (1)"));
    assert_eq!(alert.arg("class"), &Value::text("permanent"));
    assert_eq!(alert.step, "on_error.alert");
    assert!(matches!(
        kinds(&r, &id).last(),
        Some(EventKind::InstanceFailed { .. })
    ));
}

#[tokio::test]
async fn fail_statement_fails_the_instance() {
    let r = rig(&format!(
        "{E} flow f for e {{ fail \"no luck {{{{ e.days }}}}\" }}"
    ));
    let (_, out) = run(&r, "f", json!({})).await;
    match out {
        Err(EngineError::Failed { message, .. }) => assert_eq!(message, "no luck 3"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn history_is_ordered() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\", n: 1) step b = svc.do(key: \"b\", n: a.v) output {{ b: b.v }} }}"
    ));
    let (id, _) = run(&r, "f", json!({})).await;
    let history = r.engine.history(&id);
    assert!(history
        .windows(2)
        .all(|w| w[0].seq + 1 == w[1].seq && w[0].at <= w[1].at));
    let names: Vec<String> = history
        .iter()
        .map(|e| match &e.kind {
            EventKind::InstanceStarted { .. } => "started".into(),
            EventKind::StepScheduled { step } => format!("scheduled {step}"),
            EventKind::StepStarted { step, attempt } => format!("started {step} {attempt}"),
            EventKind::StepSucceeded { step, .. } => format!("succeeded {step}"),
            EventKind::Output { .. } => "output".into(),
            EventKind::InstanceCompleted => "completed".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "started",
            "scheduled a",
            "started a 1",
            "succeeded a",
            "scheduled b",
            "started b 1",
            "succeeded b",
            "output",
            "completed"
        ]
    );
}

#[tokio::test]
async fn templates_are_rendered_before_the_call() {
    let src = r#"
entity e {}
template hello {
  subject "Hi {{name}} & co"
  text "Dear {{name}}"
  html "<p>{{name}}</p>"
}
flow f for e { step m = email.send(to: "a@b.c", template: "hello", with: { name: "<Ann>" }) }
"#;
    let clock = Arc::new(VirtualClock::new(t0()));
    let mut svc = Svc::new(clock.clone());
    Arc::get_mut(&mut svc).unwrap().manifest = flowc::connectors::email::manifest();
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(svc.clone())
        .clock(clock)
        .build()
        .unwrap();
    let id = engine.start("f", json!({})).await.unwrap();
    engine.output(&id).await.unwrap();
    let call = &svc.seen()[0].call;
    assert_eq!(call.arg("subject"), &Value::text("Hi <Ann> & co"));
    assert_eq!(call.arg("text"), &Value::text("Dear <Ann>"));
    assert_eq!(call.arg("html"), &Value::text("<p>&lt;Ann&gt;</p>"));
    assert_eq!(&*call.entity, "e");
}

#[tokio::test]
async fn input_is_validated_with_the_field_named() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ email: email, n: number = 3, booking: {{ starts_at: datetime }} }} output {{ n: input.n }} }}"
    ));
    let bad = r
        .engine
        .start(
            "f",
            json!({ "email": "a@b.c", "booking": { "starts_at": "soon" } }),
        )
        .await;
    let msg = bad.unwrap_err().to_string();
    assert!(msg.contains("`booking.starts_at`"), "{msg}");
    let missing = r
        .engine
        .start("f", json!({ "booking": { "starts_at": "2026-01-01T00:00:00Z" } }))
        .await;
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains("missing input field `email`"));
    let wrong = r
        .engine
        .start(
            "f",
            json!({ "email": "a@b.c", "n": "x", "booking": { "starts_at": "2026-01-01T00:00:00Z" } }),
        )
        .await;
    assert!(wrong.unwrap_err().to_string().contains("`n` must be a number"));
    let (_, out) = run(
        &r,
        "f",
        json!({ "email": "a@b.c", "booking": { "starts_at": "2026-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(out.unwrap().get("n"), &Value::Number(3.0));
    assert!(matches!(
        r.engine.start("nope", json!({})).await,
        Err(EngineError::UnknownFlow(_))
    ));
}

mod scheduler_property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct StepSpec {
        deps: Vec<usize>,
        fails: u32,
        attempts: u32,
        latency_ms: i64,
    }

    fn dag() -> impl Strategy<Value = Vec<StepSpec>> {
        (1usize..8).prop_flat_map(|n| {
            let steps: Vec<_> = (0..n)
                .map(|i| {
                    (
                        proptest::collection::vec(0..i.max(1), 0..=i.min(3)),
                        0u32..3,
                        1u32..4,
                        0i64..50,
                    )
                        .prop_map(move |(deps, fails, attempts, latency_ms)| StepSpec {
                            deps: if i == 0 { Vec::new() } else { deps },
                            fails,
                            attempts,
                            latency_ms,
                        })
                })
                .collect();
            steps
        })
    }

    fn source(steps: &[StepSpec]) -> String {
        let mut src = String::from("entity e {}\nflow f for e {\n");
        for (i, s) in steps.iter().enumerate() {
            let deps: Vec<String> = s.deps.iter().map(|d| format!("s{d}.v")).collect();
            src.push_str(&format!(
                "  step s{i} = svc.do(key: \"s{i}\", n: {i}, deps: [{}]) retry {} backoff 10ms..40ms\n",
                deps.join(", "),
                s.attempts
            ));
        }
        src.push_str("}\n");
        src
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn dependencies_retries_and_termination(steps in dag()) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async {
                let r = rig(&source(&steps));
                for (i, s) in steps.iter().enumerate() {
                    r.svc.script(&format!("s{i}"), Script { fail_times: s.fails, latency_ms: s.latency_ms, ..Script::default() });
                }
                let id = r.engine.start("f", json!({})).await.unwrap();
                let out = tokio::time::timeout(Duration::from_secs(10), r.engine.output(&id)).await;
                prop_assert!(out.is_ok(), "every instance ends");
                let seen = r.svc.seen();
                // Which steps succeeded, and when their successful call ended.
                let mut done_at: HashMap<usize, u64> = HashMap::new();
                for (i, s) in steps.iter().enumerate() {
                    let calls = r.svc.calls_for(&format!("s{i}"));
                    prop_assert!(calls.len() as u32 <= s.attempts, "retries never exceed the policy");
                    let mut attempts: Vec<u32> = calls.iter().map(|c| c.call.attempt).collect();
                    attempts.sort();
                    attempts.dedup();
                    prop_assert_eq!(attempts.len(), calls.len(), "no step runs twice in one attempt");
                    if s.fails < s.attempts {
                        if let Some(ok) = calls.iter().find(|c| c.call.attempt == s.fails + 1) {
                            done_at.insert(i, ok.end_seq);
                        }
                    }
                }
                for c in &seen {
                    let i: usize = c.call.arg("n").to_string().parse().unwrap();
                    for d in &steps[i].deps {
                        let end = done_at.get(d).copied();
                        prop_assert!(end.is_some_and(|e| e < c.start_seq), "s{} ran before its dependency s{}", i, d);
                    }
                }
                let all_ok = steps.iter().all(|s| s.fails < s.attempts);
                prop_assert_eq!(out.unwrap().is_ok(), all_ok);
                Ok(())
            })?;
        }
    }
}

#[tokio::test]
async fn independent_steps_run_at_once_within_the_instance_limit() {
    let src = format!(
        "{E} flow f for e {{
           step a = svc.do(key: \"a\") step b = svc.do(key: \"b\") step c = svc.do(key: \"c\")
           step d = svc.do(key: \"d\") step j = svc.do(key: \"j\", x: [a, b, c, d]) }}"
    );
    for (limit, expect_max, expect_end) in [(8usize, 4usize, 2i64), (2, 2, 3)] {
        let clock = Arc::new(VirtualClock::new(t0()));
        let svc = Svc::new(clock.clone());
        for k in ["a", "b", "c", "d", "j"] {
            svc.script(
                k,
                Script {
                    latency_ms: 1_000,
                    ..Script::default()
                },
            );
        }
        let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
        let engine = Engine::builder()
            .project_value(project)
            .connector(svc.clone())
            .clock(clock.clone())
            .max_steps_per_instance(limit)
            .build()
            .unwrap();
        let id = engine.start("f", json!({})).await.unwrap();
        engine.output(&id).await.unwrap();
        assert_eq!(
            svc.max_in_flight.load(Ordering::SeqCst),
            expect_max,
            "limit {limit}"
        );
        // With room for all four, they all start at once: 1s for them, 1s for the join.
        assert_eq!(
            clock.now(),
            t0() + chrono::Duration::seconds(expect_end),
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn calls_are_paced_under_the_manifest_rate_limit() {
    let clock = Arc::new(VirtualClock::new(t0()));
    let mut svc = Svc::new(clock.clone());
    Arc::get_mut(&mut svc).unwrap().manifest.actions[0].rate_limit = Some(flowc::connectors::RateLimit {
        per_second: 2.0,
        burst: 1,
    });
    let src = format!(
        "{E} flow f for e {{ step all = for i in [1, 2, 3, 4] {{ step s = svc.do(key: \"k\", n: i) yield s.v }} output {{ all }} }}"
    );
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(svc.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let id = engine.start("f", json!({})).await.unwrap();
    engine.output(&id).await.unwrap();
    let mut times: Vec<_> = svc.seen().iter().map(|s| s.at).collect();
    times.sort();
    let gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    assert_eq!(gaps, vec![500, 500, 500]);
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_sub_flows() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 1) output {{ h }} }}
         flow helper for e {{ input {{ x: number }} step w = wait for event \"go\" output {{ x: input.x }} }}"
    ));
    let id = r.engine.start("main", json!({})).await.unwrap();
    let child = flowc::runtime::InstanceId(format!("{id}/h"));
    assert_eq!(r.engine.status(&child).unwrap(), InstanceStatus::Running);
    r.engine.cancel(&id).await.unwrap();
    assert_eq!(r.engine.status(&child).unwrap(), InstanceStatus::Cancelled);
    assert_eq!(r.engine.output(&id).await, Err(EngineError::Cancelled));
}

#[tokio::test]
async fn unfinished_instances_resume_from_the_store() {
    use flowc::runtime::{MemoryStore, SystemClock};
    let store = Arc::new(MemoryStore::new());
    let src = format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\", n: 1) wait 1d step b = svc.do(key: \"b\", n: a.v)
           step r = wait for event \"go\" output {{ b: b.v, r: r.x }} }}"
    );
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
    // First process: the real clock, so the instance stops in its wait.
    let svc1 = Svc::new(Arc::new(SystemClock));
    let e1 = Engine::builder()
        .project_value(project.clone())
        .connector(svc1.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    for _ in 0..100 {
        if e1
            .history(&id)
            .iter()
            .any(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    e1.shutdown().await;
    drop(e1);
    // Second process: same store; a virtual clock lets the day pass at once.
    let clock = Arc::new(VirtualClock::new(Utc::now()));
    let svc2 = Svc::new(clock.clone());
    let e2 = Engine::builder()
        .project_value(project)
        .connector(svc2.clone())
        .store(store.clone())
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    e2.signal(&id, "go", json!({ "x": 5 })).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("b"), &Value::Number(1.0));
    assert_eq!(out.get("r"), &Value::Number(5.0));
    assert_eq!(svc1.seen().len(), 1, "a ran in the first process");
    assert_eq!(svc2.calls_for("a").len(), 0, "a is not called again");
    assert_eq!(svc2.calls_for("b").len(), 1);
    let history = e2.history(&id);
    assert!(history.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    let started = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::InstanceStarted { .. }))
        .count();
    assert_eq!(started, 1);
    let count = |f: &dyn Fn(&EventKind) -> bool| history.iter().filter(|e| f(&e.kind)).count();
    assert_eq!(
        count(&|k| matches!(k, EventKind::StepSucceeded { step, .. } if step == "a")),
        1
    );
    assert_eq!(
        count(&|k| matches!(k, EventKind::WaitStarted { .. })),
        2,
        "the wait and the event wait"
    );
    assert_eq!(count(&|k| matches!(k, EventKind::WaitEnded { .. })), 2);
    assert_eq!(
        history.last().map(|e| &e.kind),
        Some(&EventKind::InstanceCompleted)
    );
    // A new instance gets a fresh id.
    let next = e2.start("f", json!({})).await.unwrap();
    assert_ne!(next, id);
}

#[tokio::test]
async fn absurd_durations_are_errors_not_panics() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ t: datetime }} let x = input.t + 100000000000000000ms output {{ x }} }}"
    ));
    let (_, out) = run(&r, "f", json!({ "t": "2026-01-01T00:00:00Z" })).await;
    match out {
        Err(EngineError::Failed { message, .. }) => assert!(message.contains("out of range"), "{message}"),
        other => panic!("{other:?}"),
    }
    let r = rig(&format!(
        "{E} flow f for e {{ wait 100000000000000000ms output {{ done: true }} }}"
    ));
    // The virtual clock jumps even to the end of time; what matters is that nothing panics.
    let (_, out) = run(&r, "f", json!({})).await;
    assert!(out.is_ok());
}

#[tokio::test]
async fn fan_out_items_resume_from_the_store() {
    use flowc::runtime::{MemoryStore, SystemClock};
    let store = Arc::new(MemoryStore::new());
    let src = format!(
        "{E} flow f for e {{ step all = for i in [1, 2, 3] {{ step s = svc.do(key: \"s{{{{ i }}}}\", n: i) wait 1d yield s.v }} output {{ all }} }}"
    );
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
    let svc1 = Svc::new(Arc::new(SystemClock));
    let e1 = Engine::builder()
        .project_value(project.clone())
        .connector(svc1.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    for _ in 0..100 {
        let waits = e1
            .history(&id)
            .iter()
            .filter(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
            .count();
        if waits == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    e1.shutdown().await;
    let clock = Arc::new(VirtualClock::new(Utc::now()));
    let svc2 = Svc::new(clock.clone());
    let e2 = Engine::builder()
        .project_value(project)
        .connector(svc2.clone())
        .store(store)
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(e2.recover().await.len(), 1);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    let all: Vec<Value> = (1..=3).map(|i| Value::Number(i as f64)).collect();
    assert_eq!(out.get("all"), &Value::List(all));
    assert_eq!(svc1.seen().len(), 3);
    assert!(svc2.seen().is_empty(), "no item step is called again");
}

#[tokio::test]
async fn shutdown_lets_running_steps_finish_and_refuses_new_instances() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\", n: 1) output {{ a: a.v }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            latency_ms: 5_000,
            ..Script::default()
        },
    );
    let id = r.engine.start("f", json!({})).await.unwrap();
    r.engine.shutdown().await;
    assert_eq!(r.engine.status(&id).unwrap(), InstanceStatus::Completed);
    assert_eq!(r.engine.output(&id).await.unwrap().get("a"), &Value::Number(1.0));
    assert_eq!(
        r.engine.start("f", json!({})).await,
        Err(EngineError::ShuttingDown)
    );
}

#[tokio::test]
async fn emit_wakes_waiting_instances_and_starts_triggered_flows() {
    let r = rig(&format!(
        "{E} flow waiter for e {{ input {{ id: text }} step d = wait for event \"task.done\" where event.task_id == input.id output {{ done: d.task_id }} }}
         flow done for e {{ input {{ id: text }} emit \"task.done\" {{ task_id: input.id }} }}
         flow announce for e {{ on event \"task.done\" input {{ task_id: text }} step a = svc.do(key: \"announce\", n: input.task_id) }}"
    ));
    let w1 = r.engine.start("waiter", json!({ "id": "t1" })).await.unwrap();
    let w2 = r.engine.start("waiter", json!({ "id": "t2" })).await.unwrap();
    let (_, out) = run(&r, "done", json!({ "id": "t1" })).await;
    assert!(out.is_ok());
    assert_eq!(
        r.engine.output(&w1).await.unwrap().get("done"),
        &Value::text("t1")
    );
    assert_eq!(
        r.engine.status(&w2).unwrap(),
        InstanceStatus::Running,
        "the filter holds it back"
    );
    let announced = r.svc.calls_for("announce");
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].call.arg("n"), &Value::text("t1"));
}

#[tokio::test]
async fn finished_instances_can_be_forgotten_but_not_running_ones() {
    let r = rig(&format!(
        "{E} flow f for e {{ output {{ ok: true }} }} flow w for e {{ step x = wait for event \"never\" }}"
    ));
    let (id, _) = run(&r, "f", json!({})).await;
    let waiting = r.engine.start("w", json!({})).await.unwrap();
    assert!(!r.engine.forget(&waiting));
    assert!(r.engine.forget(&id));
    assert!(matches!(
        r.engine.status(&id),
        Err(EngineError::UnknownInstance(_))
    ));
    assert!(
        !r.engine.history(&id).is_empty(),
        "the history stays in the store"
    );
}

#[tokio::test]
async fn sub_flows_resume_with_their_parent() {
    use flowc::runtime::{MemoryStore, SystemClock};
    let store = Arc::new(MemoryStore::new());
    let src = format!(
        "{E} flow main for e {{ step h = helper(x: 1) output {{ y: h.y }} }}
         flow helper for e {{ input {{ x: number }} step a = svc.do(key: \"a\", n: input.x) wait 1d
           step b = svc.do(key: \"b\", n: a.v) output {{ y: b.v }} }}"
    );
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())]);
    let svc1 = Svc::new(Arc::new(SystemClock));
    let e1 = Engine::builder()
        .project_value(project.clone())
        .connector(svc1.clone())
        .store(store.clone())
        .build()
        .unwrap();
    let id = e1.start("main", json!({})).await.unwrap();
    let child = flowc::runtime::InstanceId(format!("{id}/h"));
    for _ in 0..100 {
        if e1
            .history(&child)
            .iter()
            .any(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    e1.shutdown().await;
    let clock = Arc::new(VirtualClock::new(Utc::now()));
    let svc2 = Svc::new(clock.clone());
    let e2 = Engine::builder()
        .project_value(project)
        .connector(svc2.clone())
        .store(store.clone())
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        e2.recover().await,
        vec![id.clone()],
        "only the parent is resumed directly"
    );
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("y"), &Value::Number(1.0));
    assert_eq!(svc1.calls_for("a").len(), 1);
    assert_eq!(
        svc2.calls_for("a").len(),
        0,
        "the child is resumed, not started again"
    );
    assert_eq!(svc2.calls_for("b").len(), 1);
    assert_eq!(e2.status(&child).unwrap(), InstanceStatus::Completed);
    // New top-level instances do not reuse stored ids.
    let next = e2.start("main", json!({})).await.unwrap();
    assert_ne!(next, id);
    assert_eq!(
        e2.history(&next).len(),
        e2.history(&next).last().map(|e| e.seq as usize + 1).unwrap()
    );
}

#[tokio::test]
async fn dropping_the_engine_ends_its_timer_driver() {
    let clock = Arc::new(VirtualClock::new(t0()));
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", "entity e {}")]);
    let engine = Engine::builder()
        .project_value(project)
        .clock(clock.clone())
        .build()
        .unwrap();
    tokio::task::yield_now().await;
    assert!(
        Arc::strong_count(&clock) > 1,
        "the engine and its driver hold the clock"
    );
    drop(engine);
    // Once the driver has seen the engine is gone it ends, dropping its handle on the clock.
    for _ in 0..100 {
        if Arc::strong_count(&clock) == 1 {
            assert_eq!(clock.busy(), 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the timer driver is still running");
}

#[tokio::test]
async fn a_record_fallback_stands_in() {
    let r = rig(&format!(
        "{E} flow f for e {{ step a = svc.do(key: \"a\") fallback {{ v: \"fb\", ok: false }} output {{ v: a.v, ok: a.ok }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            fail_times: 9,
            class: Some(ErrorClass::Permanent),
            ..Script::default()
        },
    );
    let (_, out) = run(&r, "f", json!({})).await;
    let out = out.unwrap();
    assert_eq!(out.get("v"), &Value::text("fb"));
    assert_eq!(out.get("ok"), &Value::Bool(false));
}

#[tokio::test]
async fn a_sub_flow_that_overruns_its_timeout_is_cancelled_and_the_fallback_stands_in() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 1) timeout 1h fallback {{ late: true }} output {{ h }} }}
         flow helper for e {{ input {{ x: number }} step w = wait for event \"go\" output {{ x: input.x }} }}"
    ));
    let (id, out) = run(&r, "main", json!({})).await;
    assert_eq!(out.unwrap().get("h").get("late"), &Value::Bool(true));
    let child = flowc::runtime::InstanceId(format!("{id}/h"));
    assert_eq!(r.engine.status(&child).unwrap(), InstanceStatus::Cancelled);
    let ended = r.engine.history(&id).last().map(|e| e.at);
    assert_eq!(ended, Some(t0() + chrono::Duration::hours(1)));
    let failed: Vec<_> = kinds(&r, &id)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::StepFailed {
                class,
                message,
                will_retry,
                ..
            } => Some((class, message, will_retry)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        vec![("transient".to_string(), "timed out after 1h".to_string(), false)]
    );
}

#[tokio::test]
async fn a_failed_sub_flow_is_retried_as_a_new_instance() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 4) retry 3 times backoff 1s..1s no jitter output {{ y: h.y }} }}
         flow helper for e {{ input {{ x: number }} step s = svc.do(key: \"s\", n: input.x) retry 1 times output {{ y: s.v }} }}"
    ));
    r.svc.script(
        "s",
        Script {
            fail_times: 2,
            ..Script::default()
        },
    );
    let (id, out) = run(&r, "main", json!({})).await;
    assert_eq!(out.unwrap().get("y"), &Value::Number(4.0));
    assert_eq!(r.svc.calls_for("s").len(), 3);
    let status = |suffix: &str| {
        r.engine
            .status(&flowc::runtime::InstanceId(format!("{id}/{suffix}")))
            .unwrap()
            .name()
    };
    assert_eq!(status("h"), "failed");
    assert_eq!(status("h#2"), "failed");
    assert_eq!(status("h#3"), "completed");
    // Two backoffs of 1s on the virtual clock.
    assert_eq!(r.clock.now(), t0() + chrono::Duration::seconds(2));
    let retried: Vec<u32> = kinds(&r, &id)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::StepRetried { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retried, vec![2, 3]);
}

#[tokio::test]
async fn a_permanent_sub_flow_failure_is_not_retried() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 4) retry 3 times backoff 1s..1s no jitter output {{ h }} }}
         flow helper for e {{ input {{ x: number }} fail \"no such client\" }}"
    ));
    let (id, out) = run(&r, "main", json!({})).await;
    match out {
        Err(EngineError::Failed { step, message, class }) => {
            assert_eq!(step, "h");
            assert!(message.contains("no such client"), "{message}");
            assert_eq!(class, "permanent");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let child = flowc::runtime::InstanceId(format!("{id}/h#2"));
    assert!(r.engine.status(&child).is_err(), "no second instance");
}

#[tokio::test]
async fn every_sub_flow_attempt_timing_out_fails_the_step() {
    let r = rig(&format!(
        "{E} flow main for e {{ step h = helper(x: 1) timeout 1h retry 2 times backoff 1s..1s no jitter output {{ h }} }}
         flow helper for e {{ input {{ x: number }} wait 2h output {{ x: input.x }} }}"
    ));
    let (id, out) = run(&r, "main", json!({})).await;
    match out {
        Err(EngineError::Failed { step, message, class }) => {
            assert_eq!(step, "h");
            assert_eq!(message, "timed out after 1h");
            assert_eq!(class, "transient");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    for suffix in ["h", "h#2"] {
        let child = flowc::runtime::InstanceId(format!("{id}/{suffix}"));
        assert_eq!(r.engine.status(&child).unwrap(), InstanceStatus::Cancelled);
    }
    // The cancelled children's own timers may still move the clock: read the end's time.
    let ended = r.engine.history(&id).last().map(|e| e.at);
    assert_eq!(
        ended,
        Some(t0() + chrono::Duration::hours(2) + chrono::Duration::seconds(1))
    );
}

#[tokio::test]
async fn a_computed_timeout_is_evaluated_when_the_step_starts() {
    let r = rig(&format!(
        "{E} flow f for e {{ input {{ deadline: datetime }} step a = svc.do(key: \"a\") timeout input.deadline - now() fallback \"late\" output {{ a }} }}"
    ));
    r.svc.script(
        "a",
        Script {
            hang: true,
            ..Script::default()
        },
    );
    let (id, out) = run(&r, "f", json!({ "deadline": "2026-01-05T09:00:30Z" })).await;
    assert_eq!(out.unwrap().get("a"), &Value::text("late"));
    let failed: Vec<_> = kinds(&r, &id)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::StepFailed { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec!["timed out after 30s".to_string()]);
    let ended = r.engine.history(&id).last().map(|e| e.at);
    assert_eq!(ended, Some(t0() + chrono::Duration::seconds(30)));
}

#[tokio::test]
async fn computed_timeouts_bound_sub_flows_and_event_waits() {
    let r = rig(&format!(
        "{E} flow main for e {{ let grace = 2h step h = helper(x: 1) timeout grace fallback {{ late: true }} step w = wait for event \"go\" timeout days(entity.days) after h output {{ h, w }} }}
         flow helper for e {{ input {{ x: number }} step w = wait for event \"go\" output {{ x: input.x }} }}"
    ));
    let (id, out) = run(&r, "main", json!({})).await;
    let out = out.unwrap();
    assert_eq!(out.get("h").get("late"), &Value::Bool(true));
    assert_eq!(out.get("w"), &Value::Null);
    let ended = r.engine.history(&id).last().map(|e| e.at);
    assert_eq!(
        ended,
        Some(t0() + chrono::Duration::hours(2) + chrono::Duration::days(3))
    );
}
