//! The sent log: two JSON lines per message, the intent (fsynced before the SMTP transaction
//! starts) and the outcome (fsynced after the server accepted it), so that a retry or a restarted
//! process returns the recorded result instead of sending again, and knows which messages are in
//! doubt (an intent without an outcome: the server may or may not have the message).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::connectors::keyed_log::{Keyed, KeyedLog};
use crate::value::Value;

/// The file inside the sent-log folder.
const FILE_NAME: &str = "sent.jsonl";

/// How far a message got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Stage {
    /// About to be sent: if nothing follows, the outcome is unknown.
    Intent,
    /// Accepted by the server. Logs written before intents existed hold only these lines.
    #[default]
    Sent,
}

/// One line of the log: a message about to be sent, or sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SentRecord {
    /// The call's idempotency key.
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) stage: Stage,
    pub(crate) message_id: String,
    pub(crate) to: String,
    pub(crate) subject: String,
    /// When the line was written (RFC 3339): for `sent`, when the server accepted the message.
    pub(crate) sent_at: String,
}

impl SentRecord {
    /// Whether the server accepted the message.
    pub(crate) fn is_sent(&self) -> bool {
        self.stage == Stage::Sent
    }

    /// What `send` returned the first time.
    pub(crate) fn result(&self) -> Value {
        Value::record([
            ("message_id", Value::text(&self.message_id)),
            ("to", Value::text(&self.to)),
            ("subject", Value::text(&self.subject)),
        ])
    }
}

impl Keyed for SentRecord {
    fn key(&self) -> &str {
        &self.key
    }
}

/// The sent log of a folder.
pub(crate) type SentLog = KeyedLog<SentRecord>;

/// The sent log kept in `dir`.
pub(crate) fn sent_log(dir: &Path) -> SentLog {
    KeyedLog::new(dir, FILE_NAME, "sent log")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> SentRecord {
        SentRecord {
            key: key.to_string(),
            stage: Stage::Sent,
            message_id: format!("<{key}@x>"),
            to: "a@b.c".to_string(),
            subject: "Hi".to_string(),
            sent_at: "2026-01-05T09:00:00Z".to_string(),
        }
    }

    #[tokio::test]
    async fn records_survive_a_new_log_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = sent_log(&dir.path().join("nested"));
        assert_eq!(log.lookup("k1").await.unwrap(), None);
        log.record(record("k1")).await.unwrap();
        assert_eq!(log.lookup("k1").await.unwrap(), Some(record("k1")));

        // A torn final line (crash while appending), then a fresh process.
        let path = dir.path().join("nested").join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"key\":\"k2\",\"mess");
        std::fs::write(&path, text).unwrap();
        let reopened = sent_log(&dir.path().join("nested"));
        assert_eq!(reopened.lookup("k1").await.unwrap(), Some(record("k1")));
        assert_eq!(reopened.lookup("k2").await.unwrap(), None);
    }

    #[test]
    fn lines_without_a_stage_are_sent_messages() {
        let old = r#"{"key":"k","message_id":"<k@x>","to":"a@b.c","subject":"Hi","sent_at":"2026-01-05T09:00:00Z"}"#;
        let record: SentRecord = serde_json::from_str(old).unwrap();
        assert!(record.is_sent());
        let intent = SentRecord {
            stage: Stage::Intent,
            ..record
        };
        let line = serde_json::to_string(&intent).unwrap();
        assert!(line.contains(r#""stage":"intent""#), "{line}");
        assert!(!serde_json::from_str::<SentRecord>(&line).unwrap().is_sent());
    }
}
