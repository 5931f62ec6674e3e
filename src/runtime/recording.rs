//! A connector that records every call and answers from stubs or, failing that, with a value
//! synthesised from the manifest's output type. Used by `flowc run --dry-run` and `flowc test`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::clock::Clock;
use crate::connectors::{ActionCall, Connector, ConnectorError, ErrorClass, Manifest};
use crate::types::Type;
use crate::value::Value;

/// One recorded call.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// `connector.action`.
    pub action: String,
    /// The call as the connector saw it (rendered template parts included).
    pub call: ActionCall,
    /// When it was made (engine clock).
    pub at: DateTime<Utc>,
}

/// What one call of a stub does.
#[derive(Clone, Debug)]
pub enum StubAnswer {
    /// Return this value.
    Returns(Value),
    /// Fail with this class and message.
    Fails(ErrorClass, String),
    /// Never answer.
    Hangs,
}

/// What a stub replaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StubKey {
    /// Every call made by the step with this name.
    Step(String),
    /// Every call of `connector.action`.
    Action(String),
}

/// Shared state of the recording connectors of one run.
#[derive(Default)]
pub struct Recording {
    calls: Mutex<Vec<RecordedCall>>,
    stubs: Mutex<HashMap<StubKey, (Vec<StubAnswer>, usize)>>,
    counter: Mutex<u64>,
}

impl Recording {
    /// An empty recording.
    pub fn new() -> Arc<Recording> {
        Arc::new(Recording::default())
    }

    /// Adds a stub: successive calls get successive answers, the last one repeating.
    pub fn stub(&self, key: StubKey, answers: Vec<StubAnswer>) {
        if answers.is_empty() {
            return;
        }
        self.stubs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (answers, 0));
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a sub-flow call and answers it when a stub names it (`stub step s` or
    /// `stub contacts.find_or_create`, matched against the end of the flow's key).
    pub fn answer_flow(&self, key: &str, step: &str, input: &Value, at: DateTime<Utc>) -> Option<StubAnswer> {
        let args = match input {
            Value::Record(r) => r.clone(),
            _ => Default::default(),
        };
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RecordedCall {
                action: key.to_string(),
                call: ActionCall {
                    action: key.into(),
                    args,
                    entity: "".into(),
                    flow_entity: "".into(),
                    instance: "".into(),
                    step: step.into(),
                    attempt: 1,
                    idempotency_key: Default::default(),
                },
                at,
            });
        let mut stubs = self.stubs.lock().unwrap_or_else(|e| e.into_inner());
        let short = step.rsplit('.').next().unwrap_or(step).to_string();
        let found = stubs.iter_mut().find(|(k, _)| match k {
            StubKey::Step(name) => *name == step || *name == short,
            StubKey::Action(name) => key == name || key.ends_with(&format!(".{name}")),
        });
        found.map(|(_, (answers, used))| {
            let i = (*used).min(answers.len() - 1);
            *used += 1;
            answers[i].clone()
        })
    }

    fn answer(&self, action: &str, step: &str) -> Option<StubAnswer> {
        let mut stubs = self.stubs.lock().unwrap_or_else(|e| e.into_inner());
        let short = step.rsplit('.').next().unwrap_or(step).to_string();
        for key in [
            StubKey::Step(step.to_string()),
            StubKey::Step(short),
            StubKey::Action(action.to_string()),
        ] {
            if let Some((answers, used)) = stubs.get_mut(&key) {
                let i = (*used).min(answers.len() - 1);
                *used += 1;
                return Some(answers[i].clone());
            }
        }
        None
    }
}

/// Records calls for one connector's manifest.
pub struct RecordingConnector {
    manifest: Manifest,
    recording: Arc<Recording>,
    clock: Arc<dyn Clock>,
}

impl RecordingConnector {
    /// A recorder for `manifest` writing into `recording`.
    pub fn new(
        manifest: Manifest,
        recording: Arc<Recording>,
        clock: Arc<dyn Clock>,
    ) -> Arc<RecordingConnector> {
        Arc::new(RecordingConnector {
            manifest,
            recording,
            clock,
        })
    }
}

/// Gives the clock's unit of work back while a call hangs; takes it again if the call is
/// abandoned (a timeout), so the engine's accounting stays balanced.
struct HangGuard(Arc<dyn Clock>);

impl Drop for HangGuard {
    fn drop(&mut self) {
        self.0.enter();
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        let action = format!("{}.{}", self.manifest.name, call.action);
        let answer = self.recording.answer(&action, &call.step);
        let n = {
            let mut c = self.recording.counter.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            *c
        };
        let output = self
            .manifest
            .action(&call.action)
            .map(|a| a.output.clone())
            .unwrap_or(Type::Any);
        let now = self.clock.now();
        self.recording
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RecordedCall {
                action: action.clone(),
                call: call.clone(),
                at: now,
            });
        match answer {
            Some(StubAnswer::Returns(v)) => Ok(v),
            Some(StubAnswer::Fails(class, message)) => Err(ConnectorError::new(class, message)),
            Some(StubAnswer::Hangs) => {
                let _guard = HangGuard(self.clock.clone());
                self.clock.leave();
                std::future::pending::<()>().await;
                Err(ConnectorError::transient("hung"))
            }
            None => Ok(synthesise(&output, &call, n, now)),
        }
    }
}

/// A plausible value of type `ty` for a call (ids are unique per call).
pub fn synthesise(ty: &Type, call: &ActionCall, n: u64, now: DateTime<Utc>) -> Value {
    match ty {
        Type::Any => Value::Record(Default::default()),
        Type::Null => Value::Null,
        Type::Bool => Value::Bool(true),
        Type::Number => Value::Number(1.0),
        Type::Text | Type::Database | Type::Entity | Type::Template => {
            Value::text(format!("{}-{n}", call.action))
        }
        Type::Email => match call.arg("to") {
            Value::Text(t) => Value::text(t),
            _ => Value::text("someone@example.com"),
        },
        Type::Date => Value::Date(now.date_naive()),
        Type::Datetime => Value::DateTime(now.fixed_offset()),
        Type::Duration => Value::Duration(0),
        Type::List { .. } => Value::List(Vec::new()),
        Type::Optional { of } => synthesise(of, call, n, now),
        Type::Record { fields, .. } => Value::Record(
            fields
                .iter()
                // A field that may be absent is absent: a made-up `sent_by` would say that
                // another channel sent the message.
                .filter(|(k, f)| !f.optional || call.args.contains_key(*k))
                .map(|(k, f)| {
                    // Echo arguments of the same name (`to`, `subject`), like real services do.
                    let v = match call.args.get(k) {
                        Some(v) if !v.is_null() => v.clone(),
                        _ => synthesise(&f.ty, call, n, now),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
    }
}
