//! Embedding the flowc engine in a host program, with a stub connector standing in for email.
//!
//! Run with `cargo run --example embed`.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use flowc::config::Config;
use flowc::connectors::{ActionCall, Connector, ConnectorError, Manifest};
use flowc::runtime::Engine;
use flowc::value::Value;
use flowc::Project;

/// Prints each e-mail instead of sending it.
struct PrintEmail {
    manifest: Manifest,
}

#[async_trait]
impl Connector for PrintEmail {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        println!(
            "[email] to {} | {} | {}",
            call.arg("to"),
            call.arg("subject"),
            call.arg("text")
        );
        Ok(Value::record([
            (
                "message_id",
                Value::text(format!("m-{}", &call.idempotency_key[..8])),
            ),
            ("to", call.arg("to").clone()),
            ("subject", call.arg("subject").clone()),
        ]))
    }
}

const FLOW: &str = r#"
entity the_7_space "The 7 Space" {}
template welcome {
  subject "Welcome, {{name}}"
  text "Hi {{name}}, see you on {{day}}."
}
flow welcome_client for the_7_space {
  input { email: email, name: text, day: text = "Monday" }
  step sent = email.send(to: input.email, template: "welcome", with: { name: input.name, day: input.day })
  output { message_id: sent.message_id }
}
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let project = Project::from_sources(Path::new("/embed"), Config::default(), [("welcome.flow", FLOW)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(Arc::new(PrintEmail {
            manifest: flowc::connectors::email::manifest(),
        }))
        .build()?;
    let id = engine
        .start(
            "welcome_client",
            serde_json::json!({ "email": "ada@example.com", "name": "Ada" }),
        )
        .await?;
    let output = engine.output(&id).await?;
    println!("instance {id} finished: {}", output.to_json());
    for event in engine.history(&id) {
        println!("  {} {:?}", event.seq, event.kind);
    }
    engine.shutdown().await;
    Ok(())
}
