//! Deliveries already taken: a provider retrying a delivery (same delivery id) gets the first
//! instance's id back instead of starting a second one.
//!
//! Each id is kept in memory and, with a state folder, appended to `deliveries.jsonl` there so
//! a restart still knows it. Concurrent copies of one delivery wait for the first.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

const FILE_NAME: &str = "deliveries.jsonl";

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    key: String,
    instance: String,
}

/// The deliveries seen.
#[derive(Default)]
pub(crate) struct Deliveries {
    seen: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    file: Option<PathBuf>,
}

impl Deliveries {
    /// Deliveries kept in `state` (read back from it), or in memory only.
    pub(crate) fn open(state: Option<&Path>) -> Result<Deliveries, String> {
        let Some(dir) = state else {
            return Ok(Deliveries::default());
        };
        let file = dir.join(FILE_NAME);
        let mut seen = HashMap::new();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                // A line cut short by a crash is skipped: its instance was started, but the
                // provider's retry is then taken as new (at most one duplicate per crash).
                for line in text.lines().filter_map(|l| serde_json::from_str::<Line>(l).ok()) {
                    seen.insert(line.key, Arc::new(OnceCell::new_with(Some(line.instance))));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        }
        Ok(Deliveries {
            seen: Mutex::new(seen),
            file: Some(file),
        })
    }

    /// The instance of delivery `key`: the one started before, or the one `start` starts now.
    /// The flag says whether it was started now.
    pub(crate) async fn once<E, F>(&self, key: &str, start: F) -> Result<(String, bool), E>
    where
        F: std::future::Future<Output = Result<String, E>>,
    {
        let cell = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut fresh = false;
        let id = cell
            .get_or_try_init(|| async {
                let id = start.await?;
                fresh = true;
                self.remember(key, &id);
                Ok(id)
            })
            .await?;
        Ok((id.clone(), fresh))
    }

    fn remember(&self, key: &str, instance: &str) {
        let Some(file) = &self.file else { return };
        let line = Line {
            key: key.to_string(),
            instance: instance.to_string(),
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| {
                let mut text = serde_json::to_string(&line).unwrap_or_default();
                text.push('\n');
                f.write_all(text.as_bytes())?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::warn!("cannot record delivery in {}: {e}", file.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_repeated_delivery_gets_the_first_instance_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let d = Deliveries::open(Some(dir.path())).unwrap();
        let first = d
            .once::<(), _>("amelia:1", async { Ok("i-1".into()) })
            .await
            .unwrap();
        assert_eq!(first, ("i-1".to_string(), true));
        let again = d
            .once::<(), _>("amelia:1", async { Ok("i-2".into()) })
            .await
            .unwrap();
        assert_eq!(again, ("i-1".to_string(), false));
        let reopened = Deliveries::open(Some(dir.path())).unwrap();
        let after = reopened
            .once::<(), _>("amelia:1", async { Ok("i-3".into()) })
            .await
            .unwrap();
        assert_eq!(after, ("i-1".to_string(), false));
    }

    #[tokio::test]
    async fn a_failed_start_leaves_the_delivery_open() {
        let d = Deliveries::open(None).unwrap();
        assert!(d.once("k", async { Err("bad input") }).await.is_err());
        let ok = d.once::<&str, _>("k", async { Ok("i-9".into()) }).await.unwrap();
        assert_eq!(ok, ("i-9".to_string(), true));
    }
}
