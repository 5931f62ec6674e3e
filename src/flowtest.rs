//! Flow tests (`test "..." for flow { ... }`): one instance per test on a virtual clock, with
//! recording connectors answering from stubs, then the expectations checked against the output,
//! the status, step results and the recorded calls.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::connectors::{builtin_manifests, ErrorClass};
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::runtime::eval::{self, parse_datetime, EvalError, MapEnv};
use crate::runtime::{
    wait_for_end, Clock, Engine, EventKind, InstanceStatus, RecordedCall, Recording, RecordingConnector,
    StubAnswer, StubKey, VirtualClock, STUBBED_RUN_LIMIT,
};
use crate::syntax::ast::{self, BinaryOp, ExprKind, Item};
use crate::value::Value;

/// The result of one flow test.
#[derive(Clone, Debug)]
pub struct TestReport {
    /// The test's name.
    pub name: String,
    /// The flow under test.
    pub flow: String,
    /// The file declaring it.
    pub file: PathBuf,
    /// What did not hold (empty when the test passed).
    pub failures: Vec<String>,
}

impl TestReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs every test declared in `files` (all files when empty), in parallel.
pub async fn run_tests(project: &Project, files: &[FileId]) -> Vec<TestReport> {
    let project = Arc::new(project.clone());
    let mut handles = Vec::new();
    for module in &project.modules {
        if !files.is_empty() && !files.contains(&module.file) {
            continue;
        }
        for item in &module.ast.items {
            if let Item::Test(test) = item {
                let project = project.clone();
                let test = test.clone();
                let file = module.file;
                handles.push(tokio::spawn(async move { run_one(&project, file, &test).await }));
            }
        }
    }
    let mut reports = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => reports.push(r),
            Err(e) => reports.push(TestReport {
                name: "?".into(),
                flow: "?".into(),
                file: PathBuf::new(),
                failures: vec![format!("the test crashed: {e}")],
            }),
        }
    }
    reports
}

fn source(project: &Project, file: FileId, span: crate::syntax::Span) -> &str {
    let text = &project.sources.get(file).text;
    text.get(span.start as usize..span.end as usize).unwrap_or("")
}

/// Evaluates an expression of the test (its names are the bindings of `env`).
fn eval_test(expr: &ast::Expr, env: &MapEnv) -> Result<Value, EvalError> {
    let lowered = crate::plan::lower_free(expr).map_err(|e| EvalError(e.message))?;
    eval::eval(&lowered, env)
}

fn const_env(now: DateTime<Utc>) -> MapEnv {
    MapEnv {
        names: BTreeMap::new(),
        now,
    }
}

async fn run_one(project: &Project, file: FileId, test: &ast::Test) -> TestReport {
    let mut report = TestReport {
        name: test.name.value.clone(),
        flow: test.flow.name.clone(),
        file: project.sources.get(file).path.clone(),
        failures: Vec::new(),
    };
    if let Err(e) = run_inner(project, file, test, &mut report).await {
        report.failures.push(e);
    }
    report
}

async fn run_inner(
    project: &Project,
    file: FileId,
    test: &ast::Test,
    report: &mut TestReport,
) -> Result<(), String> {
    let mut start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut input = serde_json::json!({});
    let mut events = Vec::new();
    let recording = Recording::new();
    for item in &test.items {
        if let ast::TestItem::Start(s) = item {
            start = parse_datetime(&s.value)
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    format!(
                        "`start at \"{}\"` is not a date-time like 2026-01-05T09:00:00Z",
                        s.value
                    )
                })?;
        }
    }
    for item in &test.items {
        match item {
            ast::TestItem::Input(e) => {
                input = eval_test(e, &const_env(start))
                    .map_err(|e| format!("test input: {e}"))?
                    .to_json();
            }
            ast::TestItem::Stub(stub) => {
                let key = match &stub.target {
                    ast::StubTarget::Step(name) => StubKey::Step(name.name.clone()),
                    ast::StubTarget::Action(parts) => {
                        let name = parts
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(".");
                        StubKey::Action(name)
                    }
                };
                let mut answers = Vec::new();
                for outcome in &stub.outcomes {
                    match outcome {
                        ast::StubOutcome::Returns(e) => answers.push(StubAnswer::Returns(
                            eval_test(e, &const_env(start)).map_err(|e| format!("stub value: {e}"))?,
                        )),
                        ast::StubOutcome::Fails {
                            class,
                            message,
                            times,
                            ..
                        } => {
                            let Some(c) = ErrorClass::from_name(&class.name) else {
                                return Err(format!(
                                    "unknown error class `{}`; use transient, rate_limited or permanent",
                                    class.name
                                ));
                            };
                            let msg = message
                                .as_ref()
                                .map(|m| m.value.clone())
                                .unwrap_or_else(|| "stubbed failure".into());
                            for _ in 0..times.unwrap_or(1) {
                                answers.push(StubAnswer::Fails(c, msg.clone()));
                            }
                        }
                        ast::StubOutcome::Hangs(_) => answers.push(StubAnswer::Hangs),
                    }
                }
                recording.stub(key, answers);
            }
            ast::TestItem::Event(ev) => {
                let payload = match &ev.payload {
                    Some(p) => eval_test(p, &const_env(start))
                        .map_err(|e| format!("event payload: {e}"))?
                        .to_json(),
                    None => serde_json::Value::Null,
                };
                events.push((
                    ev.after.as_ref().map(|d| d.ms).unwrap_or(0),
                    ev.name.value.clone(),
                    payload,
                ));
            }
            _ => {}
        }
    }
    events.sort_by_key(|e| e.0);

    let clock = Arc::new(VirtualClock::new(start));
    let hook_recording = recording.clone();
    let hook_clock = clock.clone();
    let mut builder = Engine::builder()
        .project_value(project.clone())
        .clock(clock.clone())
        .start_triggered_flows(false)
        .flow_hook(Arc::new(move |key: &str, step: &str, input: &Value| {
            hook_recording.answer_flow(key, step, input, hook_clock.now())
        }));
    for m in builtin_manifests() {
        builder = builder.connector(RecordingConnector::new(m, recording.clone(), clock.clone()));
    }
    let engine = builder.build().map_err(|e| e.to_string())?;
    // The test driver counts as work so the clock does not move before the instance starts.
    clock.enter();
    let id = match engine.start(&test.flow.name, input).await {
        Ok(id) => id,
        Err(e) => {
            clock.leave();
            return Err(format!("the instance did not start: {e}"));
        }
    };
    for (after, name, payload) in events {
        let sleep = clock.sleep_until(eval::add_ms(start, after));
        clock.leave();
        sleep.await;
        let _ = engine.signal(&id, &name, payload).await;
    }
    clock.leave();
    let ended = wait_for_end(&engine, &id, &clock, Some(STUBBED_RUN_LIMIT)).await;
    let history = engine.history(&id);
    let status = engine.status(&id).map_err(|e| e.to_string())?;
    if !ended {
        report.failures.push(
            "the instance never ended: it waits for an event no test sends, or a call hangs without a timeout"
                .into(),
        );
    }
    let output = if status == InstanceStatus::Completed {
        engine.output(&id).await.unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    // Shutting down waits for calls in flight; a hung stub never ends, so do not wait long.
    let _ = tokio::time::timeout(Duration::from_millis(50), engine.shutdown()).await;

    let mut steps: BTreeMap<String, Value> = BTreeMap::new();
    let mut states: BTreeMap<String, &'static str> = BTreeMap::new();
    for e in &history {
        match &e.kind {
            EventKind::StepSucceeded { step, value, .. } => {
                steps.insert(step.to_string(), Value::clone(value));
                states.insert(step.to_string(), "ran");
            }
            EventKind::StepSkipped { step } => {
                steps.insert(step.to_string(), Value::Null);
                states.insert(step.to_string(), "skipped");
            }
            EventKind::StepFailed {
                step,
                will_retry: false,
                ..
            } if states.get(step.as_str()) != Some(&"ran") => {
                states.insert(step.to_string(), "failed");
            }
            _ => {}
        }
    }
    let mut names = steps.clone();
    names.insert("output".into(), output.clone());
    names.insert("status".into(), Value::text(status.name()));
    if let InstanceStatus::Failed { step, message, class } = &status {
        names.insert(
            "error".into(),
            Value::record([
                ("step", Value::text(step)),
                ("message", Value::text(message)),
                ("class", Value::text(class)),
            ]),
        );
    }
    let env = MapEnv {
        names,
        now: clock.now(),
    };
    let calls = recording.calls();
    for item in &test.items {
        let ast::TestItem::Expect(expect) = item else {
            continue;
        };
        let line = source(project, file, expect.span).trim().to_string();
        if let Some(failure) = check(&env, &states, &calls, &expect.kind, &status) {
            report.failures.push(format!("{line}\n{failure}"));
        }
    }
    Ok(())
}

/// Whether a recorded call is of `name` (a sub-flow's key ends with the name tests write).
fn same_action(recorded: &str, name: &str) -> bool {
    recorded == name || recorded.ends_with(&format!(".{name}"))
}

fn show(v: &Value) -> String {
    v.to_json().to_string()
}

/// Whether every field of `want` is in `have` with the same value (recursively for records).
pub fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Record(w), Value::Record(h)) => {
            w.iter().all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv)))
        }
        (Value::List(w), Value::List(h)) => w.len() == h.len() && w.iter().zip(h).all(|(a, b)| subset(a, b)),
        _ => eval::equal(want, have),
    }
}

fn check(
    env: &MapEnv,
    states: &BTreeMap<String, &'static str>,
    calls: &[RecordedCall],
    kind: &ast::ExpectKind,
    status: &InstanceStatus,
) -> Option<String> {
    match kind {
        ast::ExpectKind::That(expr) => {
            let result = eval_test(expr, env);
            match result {
                Ok(Value::Bool(true)) => None,
                Ok(v) => {
                    let mut msg = format!("  expected true, got {}", show(&v));
                    if let ExprKind::Binary(op, a, b) = &expr.kind {
                        if !matches!(op, BinaryOp::And | BinaryOp::Or) {
                            let l = eval_test(a, env).map(|v| show(&v)).unwrap_or_else(|e| e.0);
                            let r = eval_test(b, env).map(|v| show(&v)).unwrap_or_else(|e| e.0);
                            msg = format!("  actual:   {l}\n  expected: {r}");
                        }
                    }
                    if let InstanceStatus::Failed { step, message, .. } = status {
                        msg.push_str(&format!("\n  (the instance failed at `{step}`: {message})"));
                    }
                    Some(msg)
                }
                Err(e) => Some(format!("  cannot evaluate: {e}")),
            }
        }
        ast::ExpectKind::Step(name, want) => {
            let want = match want {
                ast::StepState::Ran => "ran",
                ast::StepState::Skipped => "skipped",
                ast::StepState::Failed => "failed",
            };
            let actual = match states.get(&name.name) {
                Some(state) => *state,
                // A step inside a fan-out or fallback: every run of it (`sent[2].s`) counts.
                None => {
                    let suffix = format!(".{}", name.name);
                    let runs: Vec<&str> = states
                        .iter()
                        .filter(|(path, _)| path.ends_with(&suffix))
                        .map(|(_, s)| *s)
                        .collect();
                    if runs.is_empty() {
                        "did not run"
                    } else if runs.contains(&"failed") {
                        "failed"
                    } else if runs.iter().all(|s| *s == "skipped") {
                        "skipped"
                    } else {
                        "ran"
                    }
                }
            };
            (actual != want).then(|| format!("  expected: {want}\n  actual:   {actual}"))
        }
        ast::ExpectKind::Call { action, times, with } => {
            let name = action
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(".");
            let want = match with {
                Some(e) => match eval_test(e, env) {
                    Ok(v) => Some(v),
                    Err(e) => return Some(format!("  cannot evaluate `with`: {e}")),
                },
                None => None,
            };
            let of_action: Vec<&RecordedCall> =
                calls.iter().filter(|c| same_action(&c.action, &name)).collect();
            let matching = of_action
                .iter()
                .filter(|c| {
                    want.as_ref()
                        .is_none_or(|w| subset(w, &Value::Record(c.call.args.clone())))
                })
                .count();
            let ok = match times {
                Some(n) => matching == *n as usize,
                None => matching >= 1,
            };
            if ok {
                return None;
            }
            let mut msg = format!(
                "  expected: {} call(s) of `{name}`{}\n  actual:   {matching} matching",
                times
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "at least 1".into()),
                want.as_ref()
                    .map(|w| format!(" with {}", show(w)))
                    .unwrap_or_default()
            );
            for c in of_action {
                msg.push_str(&format!(
                    "\n    {} {} (step {}, attempt {}): {}",
                    c.at.to_rfc3339(),
                    name,
                    c.call.step,
                    c.call.attempt,
                    show(&Value::Record(c.call.args.clone()))
                ));
            }
            Some(msg)
        }
        ast::ExpectKind::NoCall(action) => {
            let name = action
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(".");
            let n = calls.iter().filter(|c| same_action(&c.action, &name)).count();
            (n > 0).then(|| format!("  expected: no call of `{name}`\n  actual:   {n} call(s)"))
        }
    }
}
