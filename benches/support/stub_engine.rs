//! The benches' engine: their flows over one `svc.a` that answers at once, so what a bench
//! measures is the engine and its store, not a connector.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, Manifest};
use flowc::runtime::{Engine, Store};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;

/// Answers every call at once with `{ n: 1 }`.
struct Instant0 {
    manifest: Manifest,
}

#[async_trait]
impl Connector for Instant0 {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    async fn call(&self, _call: ActionCall) -> Result<Value, ConnectorError> {
        Ok(Value::record([("n", Value::Number(1.0))]))
    }
}

/// An engine running `flows` (one file of the project) on `store`, or on the in-memory store.
pub fn engine(flows: &str, store: Option<Arc<dyn Store>>) -> Engine {
    let project = Project::from_sources(Path::new("/bench"), Config::default(), [("b.flow", flows)]);
    let builder = Engine::builder()
        .project_value(project)
        .connector(Arc::new(Instant0 {
            manifest: Manifest {
                name: "svc".into(),
                description: "answers at once".into(),
                actions: vec![ActionSpec::new("a", "stub", Type::Any)
                    .optional("n", Type::Any, "a number")
                    .optional("x", Type::Any, "a number")
                    .optional("y", Type::Any, "a number")],
            },
        }));
    match store {
        Some(store) => builder.store(store),
        None => builder,
    }
    .build()
    .expect("engine builds")
}
