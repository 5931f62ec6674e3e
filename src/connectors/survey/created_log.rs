//! The created-forms log: one JSON line per form `create` made, keyed by the call's idempotency key,
//! so that replaying a step whose result was lost (a crash after Typeform answered) returns the
//! same form instead of creating another.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::connectors::ConnectorError;

const FILE_NAME: &str = "created.jsonl";

/// One created form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CreatedForm {
    pub(crate) key: String,
    pub(crate) form_id: String,
    pub(crate) url: String,
    pub(crate) created_at: String,
}

/// The log, loaded on first use.
pub(crate) struct CreatedLog {
    path: PathBuf,
    index: Mutex<Option<HashMap<String, CreatedForm>>>,
}

impl CreatedLog {
    /// A log kept in `dir` (created with the first record).
    pub(crate) fn new(dir: &Path) -> CreatedLog {
        CreatedLog {
            path: dir.join(FILE_NAME),
            index: Mutex::new(None),
        }
    }

    /// The form created for `key`, if any.
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<CreatedForm>, ConnectorError> {
        let mut index = self.index.lock().await;
        if index.is_none() {
            *index = Some(self.load().await?);
        }
        Ok(index.as_ref().and_then(|i| i.get(key).cloned()))
    }

    /// Appends `record` and waits until it is on disk.
    pub(crate) async fn record(&self, record: CreatedForm) -> Result<(), ConnectorError> {
        let mut index = self.index.lock().await;
        let io = |e: std::io::Error| {
            ConnectorError::permanent(format!("cannot write {}: {e}", self.path.display()))
        };
        let mut line = serde_json::to_string(&record)
            .map_err(|e| ConnectorError::permanent(format!("cannot encode a record: {e}")))?;
        line.push('\n');
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
        index
            .get_or_insert_with(HashMap::new)
            .insert(record.key.clone(), record);
        Ok(())
    }

    async fn load(&self) -> Result<HashMap<String, CreatedForm>, ConnectorError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => {
                return Err(ConnectorError::permanent(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )))
            }
        };
        // A line torn by a crash while appending is skipped: that form was never reported.
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<CreatedForm>(line).ok())
            .map(|r| (r.key.clone(), r))
            .collect())
    }
}
