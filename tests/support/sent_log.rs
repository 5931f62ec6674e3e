//! What the crash tests read from the email connector's sent log (`sent.jsonl`: one JSON line
//! per intent or outcome, docs/connectors/email.md).

use std::collections::HashMap;
use std::path::Path;

/// The Message-IDs whose last line in the sent log is an intent: the server may or may not have
/// them. A torn last line is skipped (its caller never heard it was written).
pub fn in_doubt_message_ids(sent_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(sent_log).unwrap_or_default();
    let mut last: HashMap<String, (String, String)> = HashMap::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| record[name].as_str().unwrap_or("").to_string();
        last.insert(field("key"), (field("stage"), field("message_id")));
    }
    last.into_values()
        .filter(|(stage, _)| stage == "intent")
        .map(|(_, message_id)| message_id)
        .collect()
}
