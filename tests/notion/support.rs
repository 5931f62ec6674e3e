//! Shared set-up for the Notion tests: a schema, an emulator and a connector pointed at it.

use std::collections::BTreeMap;

use flowc::config::Config;
use flowc::connectors::notion::emulator::Emulator;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::connectors::notion::NotionConnector;
use flowc::connectors::{ActionCall, Connector, ConnectorError};
use flowc::value::Value;

pub const ENTITY: &str = "the_7_space";
pub const TOKEN_ENV: &str = "NOTION_TOKEN_THE_7_SPACE";

/// ContactProfile has every writable type and the idempotency property; Task has neither.
pub fn schemas() -> NotionSchemas {
    let json = serde_json::json!({"entities": {
        "the_7_space": {
            "ContactProfile": {"properties": {
                "Full Name": {"type": "title"},
                "Email": {"type": "email"},
                "Phone": {"type": "phone_number"},
                "Website": {"type": "url"},
                "Age": {"type": "number"},
                "Active": {"type": "checkbox"},
                "Stage": {"type": "select", "options": ["Lead", "Client"]},
                "Tags": {"type": "multi_select", "options": ["VIP", "Newsletter"]},
                "Status": {"type": "status", "options": ["Not started", "In progress", "Done"]},
                "Birthday": {"type": "date"},
                "Notes": {"type": "rich_text"},
                "Related": {"type": "relation"},
                "Owner": {"type": "people"},
                "Score": {"type": "formula"},
                "flowc_key": {"type": "rich_text"}
            }},
            "Task": {"properties": {
                "Title": {"type": "title"},
                "Done": {"type": "checkbox"}
            }}
        },
        "am_consulting": {
            "ContactProfile": {"properties": {
                "Name": {"type": "title"},
                "Email": {"type": "email"}
            }}
        }
    }});
    serde_json::from_value(json).expect("valid schema")
}

/// An emulator accepting `token`, and the configuration pointing at it.
pub async fn emulator(token: &str) -> (Emulator, Config) {
    let emulator = Emulator::start(&schemas(), &[token])
        .await
        .expect("emulator starts");
    let config = emulator.config(TOKEN_ENV);
    (emulator, config)
}

/// Sets `[connectors.notion] key = value`.
pub fn set(config: &mut Config, key: &str, value: toml::Value) {
    config
        .connectors
        .entry("notion".into())
        .or_default()
        .insert(key.into(), value);
}

/// A connector reading `token` for every entity.
pub fn connector(config: &Config, token: &str) -> NotionConnector {
    let token = token.to_string();
    NotionConnector::from_config_with_env(config, move |name| (name == TOKEN_ENV).then(|| token.clone()))
        .expect("valid configuration")
}

/// An emulator and a connector with a fresh token (so no rate-limit bucket is shared between
/// tests), unlimited on both sides unless a test sets limits.
pub async fn setup(token: &str) -> (Emulator, NotionConnector) {
    let (emulator, mut config) = emulator(token).await;
    set(&mut config, "requests_per_second", toml::Value::Float(1000.0));
    set(&mut config, "burst", toml::Value::Integer(1000));
    let connector = connector(&config, token);
    (emulator, connector)
}

/// One attempt of `action` for `the_7_space`.
pub async fn call(
    connector: &NotionConnector,
    action: &str,
    args: Vec<(&str, Value)>,
    key: &str,
) -> Result<Value, ConnectorError> {
    call_as(connector, ENTITY, action, args, key, 1).await
}

/// One attempt of `action` as `entity`, with an idempotency key and attempt number.
pub async fn call_as(
    connector: &NotionConnector,
    entity: &str,
    action: &str,
    args: Vec<(&str, Value)>,
    key: &str,
    attempt: u32,
) -> Result<Value, ConnectorError> {
    let args: BTreeMap<String, Value> = args.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    connector
        .call(ActionCall {
            action: action.into(),
            args,
            entity: entity.into(),
            flow_entity: entity.into(),
            instance: "instance-1".into(),
            step: "step".into(),
            attempt,
            idempotency_key: key.into(),
        })
        .await
}

pub fn text(s: &str) -> Value {
    Value::text(s)
}

pub fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::text(*s)).collect())
}

/// Request-shaped properties for `Emulator::insert_page` on ContactProfile.
pub fn contact(name: &str, age: f64, stage: &str) -> serde_json::Value {
    serde_json::json!({
        "Full Name": {"title": [{"text": {"content": name}}]},
        "Age": {"number": age},
        "Stage": {"select": {"name": stage}},
        "Email": {"email": format!("{}@example.com", name.to_lowercase())}
    })
}
