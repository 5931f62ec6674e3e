//! The sent log: one JSON line per delivered message, appended and fsynced after the SMTP server
//! accepted it, so that a retry (or a restarted process) returns the recorded result instead of
//! sending again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::connectors::ConnectorError;
use crate::value::Value;

/// The file inside the sent-log folder.
const FILE_NAME: &str = "sent.jsonl";

/// One delivered message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SentRecord {
    /// The call's idempotency key.
    pub(crate) key: String,
    pub(crate) message_id: String,
    pub(crate) to: String,
    pub(crate) subject: String,
    /// When the server accepted it (RFC 3339).
    pub(crate) sent_at: String,
}

impl SentRecord {
    /// What `send` returned the first time.
    pub(crate) fn result(&self) -> Value {
        Value::record([
            ("message_id", Value::text(&self.message_id)),
            ("to", Value::text(&self.to)),
            ("subject", Value::text(&self.subject)),
        ])
    }
}

/// The log, loaded on first use.
pub(crate) struct SentLog {
    path: PathBuf,
    index: Mutex<Option<HashMap<String, SentRecord>>>,
}

impl SentLog {
    /// A log kept in `dir` (created on the first record).
    pub(crate) fn new(dir: &Path) -> SentLog {
        SentLog {
            path: dir.join(FILE_NAME),
            index: Mutex::new(None),
        }
    }

    /// The record for `key`, if that message was already sent.
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<SentRecord>, ConnectorError> {
        let mut index = self.index.lock().await;
        if index.is_none() {
            *index = Some(self.load().await?);
        }
        Ok(index.as_ref().and_then(|i| i.get(key).cloned()))
    }

    /// Appends `record` and waits until it is on disk.
    pub(crate) async fn record(&self, record: SentRecord) -> Result<(), ConnectorError> {
        let mut index = self.index.lock().await;
        let io = |e: std::io::Error| {
            ConnectorError::permanent(format!("cannot write the sent log {}: {e}", self.path.display()))
        };
        let mut line = serde_json::to_string(&record)
            .map_err(|e| ConnectorError::permanent(format!("cannot encode a sent-log record: {e}")))?;
        line.push('\n');
        let created = !tokio::fs::try_exists(&self.path).await.unwrap_or(false);
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(io)?;
        file.write_all(line.as_bytes()).await.map_err(io)?;
        file.sync_data().await.map_err(io)?;
        if created {
            // The new file's directory entry must survive a crash too.
            if let Some(dir) = self.path.parent() {
                if let Ok(dir) = tokio::fs::File::open(dir).await {
                    let _ = dir.sync_all().await;
                }
            }
        }
        index
            .get_or_insert_with(HashMap::new)
            .insert(record.key.clone(), record);
        Ok(())
    }

    async fn load(&self) -> Result<HashMap<String, SentRecord>, ConnectorError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => {
                return Err(ConnectorError::permanent(format!(
                    "cannot read the sent log {}: {e}",
                    self.path.display()
                )))
            }
        };
        let mut index = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SentRecord>(line) {
                Ok(record) => {
                    index.insert(record.key.clone(), record);
                }
                // A line cut short by a crash while appending: the message it described was
                // accepted but not recorded, which is the same as not logged at all.
                Err(e) => tracing::warn!(
                    "skipping unreadable line {} of {}: {e}",
                    n + 1,
                    self.path.display()
                ),
            }
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> SentRecord {
        SentRecord {
            key: key.to_string(),
            message_id: format!("<{key}@x>"),
            to: "a@b.c".to_string(),
            subject: "Hi".to_string(),
            sent_at: "2026-01-05T09:00:00Z".to_string(),
        }
    }

    #[tokio::test]
    async fn records_survive_a_new_log_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = SentLog::new(&dir.path().join("nested"));
        assert_eq!(log.lookup("k1").await.unwrap(), None);
        log.record(record("k1")).await.unwrap();
        assert_eq!(log.lookup("k1").await.unwrap(), Some(record("k1")));

        // A torn final line (crash while appending), then a fresh process.
        let path = dir.path().join("nested").join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"key\":\"k2\",\"mess");
        std::fs::write(&path, text).unwrap();
        let reopened = SentLog::new(&dir.path().join("nested"));
        assert_eq!(reopened.lookup("k1").await.unwrap(), Some(record("k1")));
        assert_eq!(reopened.lookup("k2").await.unwrap(), None);
    }
}
