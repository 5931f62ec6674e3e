//! A shutdown that lands while a caller is about to start a sub-flow leaves the call open in the
//! journal, and the next engine on the store starts it: the instance is not failed for good.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, Manifest};
use flowc::runtime::{Engine, InstanceId, InstanceStatus, Store};
use flowc::store::{Durability, SqliteStore};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOWS: &str = r#"
entity e {}
flow parent for e {
  step a = svc.slow()
  step k = child(x: a)
  output { k: k.b }
}
flow child for e {
  input { x: any }
  step b = svc.slow()
  output { b }
}
"#;

/// Answers `7` after a pause long enough for a shutdown to begin while the call is in flight.
struct Slow(Manifest);

#[async_trait]
impl Connector for Slow {
    fn manifest(&self) -> &Manifest {
        &self.0
    }

    async fn call(&self, _call: ActionCall) -> Result<Value, ConnectorError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(Value::Int(7))
    }
}

fn engine(store: Arc<dyn Store>) -> Engine {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOWS)]);
    let manifest = Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("slow", "test", Type::Any)],
    };
    Engine::builder()
        .project_value(project)
        .connector(Arc::new(Slow(manifest)))
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_sub_flow_refused_by_a_shutdown_starts_when_the_next_engine_recovers_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let id: InstanceId = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
        let first = engine(store);
        let id = first.start("parent", json!({})).await.unwrap();
        // `a` is in flight: the shutdown waits for it, then the caller asks for its sub-flow.
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.shutdown().await;
        let status = first.status(&id);
        assert!(
            !matches!(status, Ok(InstanceStatus::Failed { .. })),
            "the shutdown failed the caller: {status:?}"
        );
        id
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
    let second = engine(store);
    let resumed = second.recover().await;
    assert!(resumed.contains(&id), "{resumed:?}");
    let out = tokio::time::timeout(Duration::from_secs(10), second.output(&id))
        .await
        .expect("the instance ends")
        .unwrap();
    assert_eq!(out.get("k"), &Value::Int(7));
    second.shutdown().await;
}
