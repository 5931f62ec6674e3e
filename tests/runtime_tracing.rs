//! Tracing spans of the engine (its own test binary: a scoped subscriber must not race with
//! other tests for tracing's callsite cache).

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, Manifest};
use flowc::runtime::{Engine, VirtualClock};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;

/// Fails its first call, then succeeds.
struct Flaky {
    manifest: Manifest,
    calls: AtomicU32,
}

#[async_trait]
impl Connector for Flaky {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    async fn call(&self, _call: ActionCall) -> Result<Value, ConnectorError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(ConnectorError::transient("first call fails"))
        } else {
            Ok(Value::Null)
        }
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn spans_name_instance_flow_entity_step_and_attempt() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let src = "entity e {} flow f for e { step a = svc.do() retry 2 backoff 1s..1s }";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(Arc::new(Flaky {
            manifest: Manifest {
                name: "svc".into(),
                description: "flaky".into(),
                actions: vec![ActionSpec::new("do", "flaky", Type::Any)],
            },
            calls: AtomicU32::new(0),
        }))
        .clock(Arc::new(VirtualClock::new(chrono::Utc::now())))
        .build()
        .unwrap();
    let id = engine.start("f", serde_json::json!({})).await.unwrap();
    engine.output(&id).await.unwrap();
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&format!("instance{{instance={id} flow=f entity=e}}")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("step{{instance={id} flow=f entity=e step=a}}:attempt{{attempt=2}}: flowc::runtime::engine::calls: calling svc.do")),
        "{logs}"
    );
}
