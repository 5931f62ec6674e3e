//! A durable record of side effects by idempotency key: one JSON line per effect, appended and
//! fsynced before the connector reports success, so that a retried step (or a restarted process)
//! gets the recorded result instead of repeating the effect. Used by email (sent messages) and
//! survey (created forms).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::connectors::ConnectorError;

/// A record that knows the idempotency key it is filed under.
pub(crate) trait Keyed {
    /// The call's idempotency key.
    fn key(&self) -> &str;
}

/// The log, loaded on first use.
pub(crate) struct KeyedLog<R> {
    path: PathBuf,
    /// What the log holds, for error messages (`sent log`).
    what: &'static str,
    index: Mutex<Option<HashMap<String, R>>>,
}

impl<R: Keyed + Clone + Serialize + DeserializeOwned> KeyedLog<R> {
    /// A log in `dir/file` (both created with the first record).
    pub(crate) fn new(dir: &Path, file: &str, what: &'static str) -> KeyedLog<R> {
        KeyedLog {
            path: dir.join(file),
            what,
            index: Mutex::new(None),
        }
    }

    /// The record for `key`, if that effect already happened.
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<R>, ConnectorError> {
        let mut index = self.index.lock().await;
        if index.is_none() {
            *index = Some(self.load().await?);
        }
        Ok(index.as_ref().and_then(|i| i.get(key).cloned()))
    }

    /// Appends `record` and waits until it is on disk.
    pub(crate) async fn record(&self, record: R) -> Result<(), ConnectorError> {
        let mut index = self.index.lock().await;
        let io = |e: std::io::Error| {
            ConnectorError::permanent(format!(
                "cannot write the {} {}: {e}",
                self.what,
                self.path.display()
            ))
        };
        let mut line = serde_json::to_string(&record)
            .map_err(|e| ConnectorError::permanent(format!("cannot encode a {} record: {e}", self.what)))?;
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
            .insert(record.key().to_string(), record);
        Ok(())
    }

    async fn load(&self) -> Result<HashMap<String, R>, ConnectorError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => {
                return Err(ConnectorError::permanent(format!(
                    "cannot read the {} {}: {e}",
                    self.what,
                    self.path.display()
                )))
            }
        };
        let mut index = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<R>(line) {
                Ok(record) => {
                    index.insert(record.key().to_string(), record);
                }
                // A line cut short by a crash while appending: the effect it described happened
                // but was never reported as done, which is the same as not logged at all.
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
