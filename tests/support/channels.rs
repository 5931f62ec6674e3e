//! What tests/sms.rs and tests/slack.rs share: a channel's configuration with a short timeout
//! (so an answer the emulator holds is lost), email into an outbox folder, and an engine that
//! runs a notification flow whose channel and email share one notification ledger.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::config::Config;
use flowc::connectors::email::EmailConnector;
use flowc::connectors::notification::Notifications;
use flowc::connectors::{Connector, ConnectorError, ErrorClass};
use flowc::runtime::Engine;
use flowc::value::Value;
use flowc::Project;

/// `e` is the failure of an attempt that sent nothing because an earlier one's outcome is
/// unknown: retried, and saying so.
pub fn assert_outcome_unknown(e: &ConnectorError) {
    assert_eq!(e.class, ErrorClass::Transient, "{e:?}");
    assert!(e.message.contains("outcome is unknown"), "{}", e.message);
    assert_eq!(e.details.get("outcome").as_str(), Some("unknown"));
}

/// `config` with a 1 s timeout for the connector `name`.
pub fn impatient(config: &Config, name: &str) -> Config {
    let mut config = config.clone();
    let table = config.connectors.entry(name.into()).or_default();
    table.insert("timeout".into(), toml::Value::String("1s".into()));
    config
}

/// `config` with email written into `outbox` (its sent log there too).
pub fn with_outbox(mut config: Config, outbox: &Path) -> Config {
    let text = |s: String| toml::Value::String(s);
    config.connectors.insert(
        "email".into(),
        toml::Table::from_iter([
            ("outbox".to_string(), text(outbox.display().to_string())),
            (
                "sent_log".to_string(),
                text(outbox.join("log").display().to_string()),
            ),
            ("from".to_string(), text("studio@studio.example".into())),
        ]),
    );
    config
}

/// How many emails `outbox` holds.
pub fn emails_in(outbox: &Path) -> usize {
    std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .count()
}

/// Runs flow `flow` of `src` with `input` to its end on an engine with the channel `channel`
/// builds and email into `config`'s outbox, the two sharing a notification ledger in `ledger`;
/// the flow's output.
pub async fn run_with_email(
    config: &Config,
    ledger: &Path,
    (src, flow): (&str, &str),
    input: serde_json::Value,
    channel: impl FnOnce(Arc<Notifications>) -> Arc<dyn Connector>,
) -> Value {
    let notifications = Notifications::new(ledger);
    let project = Project::from_sources(Path::new("/t"), config.clone(), [("t.flow", src)]);
    let email = EmailConnector::from_config(config, Path::new("/"))
        .unwrap()
        .with_notifications(notifications.clone());
    let engine = Engine::builder()
        .project_value(project)
        .connector(channel(notifications))
        .connector(Arc::new(email))
        .build()
        .unwrap();
    let id = engine.start(flow, input).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), engine.output(&id))
        .await
        .expect("the instance ends")
        .unwrap()
}
