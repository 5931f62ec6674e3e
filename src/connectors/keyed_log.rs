//! A durable record of side effects by idempotency key: one JSON line per record, so that a
//! retried step (or a restarted process) finds what an earlier attempt did. Used by email
//! (intents and sent messages) and survey (created forms).
//!
//! A record is written to the file (the kernel's page cache) at once, so it survives the process
//! being killed a moment later; [`KeyedLog::record`] then waits for an fsync, which is
//! group-committed: one fsync covers every line written before it started, so N concurrent
//! callers cost about two fsyncs, not N. For email this keeps the window between the server's
//! `250` and our record of it to a write for a crash of the process, and to one shared fsync for
//! a crash of the machine (see docs/connectors/email.md).
//!
//! When the engine's store keeps effects (a store hosts share: PostgreSQL), the log moves there
//! ([`KeyedLog::keep_in`]): the file is one host's, and a host that takes over an instance of a
//! host that died must see what that host sent. Records then go through the store's writer,
//! group-committed with the instances' events; the file stays the default (one host, SQLite or
//! memory), where it is faster and survives a lost database as the journal's own file does.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::connectors::ConnectorError;
use crate::runtime::{Commit, Store};

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
    /// Never held across an await.
    state: OnceCell<Mutex<State<R>>>,
    /// Held by the one caller running an fsync; the others queue here and usually find their line
    /// synced when they get it.
    syncer: tokio::sync::Mutex<()>,
    /// The store that keeps the records instead of the file, once the engine gave one.
    store: OnceLock<InStore>,
}

/// The log kept in a store's effect log.
struct InStore {
    store: Arc<dyn Store>,
    /// The log's name there (`email.sent`).
    log: &'static str,
}

struct State<R> {
    /// The last record of each key written.
    index: HashMap<String, R>,
    /// The file, opened for appending with the first record.
    file: Option<Arc<std::fs::File>>,
    /// Lines written so far, and how many of them an fsync has covered.
    written: u64,
    synced: u64,
    /// The file ends in a line cut short (by a crash or a failed write): the next write starts a
    /// fresh line.
    torn_tail: bool,
    /// How many fsyncs covered records (tests check that concurrent records share them).
    syncs: u64,
}

impl<R: Keyed + Clone + Serialize + DeserializeOwned> KeyedLog<R> {
    /// A log in `dir/file` (both created with the first record).
    pub(crate) fn new(dir: &Path, file: &str, what: &'static str) -> KeyedLog<R> {
        KeyedLog {
            path: dir.join(file),
            what,
            state: OnceCell::new(),
            syncer: tokio::sync::Mutex::new(()),
            store: OnceLock::new(),
        }
    }

    /// Keeps the records in `store`'s effect log under `log` from now on, not in the file
    /// (the engine calls this before the first call; a second call changes nothing).
    pub(crate) fn keep_in(&self, store: Arc<dyn Store>, log: &'static str) {
        let _ = self.store.set(InStore { store, log });
    }

    /// The last record for `key`, if any.
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<R>, ConnectorError> {
        if let Some(kept) = self.store.get() {
            return self.lookup_in(kept, key).await;
        }
        let state = self.state().await?;
        Ok(lock(state).index.get(key).cloned())
    }

    /// Writes `record` to the file without waiting for an fsync: it survives this process being
    /// killed, and reaches the disk with the next [`KeyedLog::record`]. In a store, it is queued
    /// for the next commit.
    pub(crate) async fn append(&self, record: R) -> Result<(), ConnectorError> {
        if let Some(kept) = self.store.get() {
            // Not awaited: the store's writer reports a record it could not keep, and the next
            // `sync` waits for this one's commit.
            drop(self.put_in(kept, &record)?);
            return Ok(());
        }
        self.write(record).await
    }

    /// Writes `record` and waits until it is on disk (with whatever else was written meanwhile).
    pub(crate) async fn record(&self, record: R) -> Result<(), ConnectorError> {
        if let Some(kept) = self.store.get() {
            let commit = self.put_in(kept, &record)?;
            return self.committed(commit).await;
        }
        self.write(record).await?;
        self.sync().await
    }

    /// Waits until every line written so far is on disk: one fsync for all the callers that
    /// queue while another runs (in a store: until its commit covers them).
    pub(crate) async fn sync(&self) -> Result<(), ConnectorError> {
        if let Some(kept) = self.store.get() {
            return self.committed(kept.store.sync_effects()).await;
        }
        let state = self.state().await?;
        let seq = lock(state).written;
        let _syncing = self.syncer.lock().await;
        let (upto, file) = {
            let s = lock(state);
            // Whoever synced before us may have covered our lines.
            match &s.file {
                Some(file) if s.synced < seq => (s.written, Arc::clone(file)),
                _ => return Ok(()),
            }
        };
        let synced = tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| self.io_error(std::io::Error::other(e)))?;
        synced.map_err(|e| self.io_error(e))?;
        let mut s = lock(state);
        s.synced = s.synced.max(upto);
        s.syncs += 1;
        Ok(())
    }

    /// How many fsyncs have covered records so far.
    #[cfg(test)]
    pub(crate) async fn syncs(&self) -> u64 {
        self.state().await.map(|s| lock(s).syncs).unwrap_or(0)
    }

    async fn lookup_in(&self, kept: &InStore, key: &str) -> Result<Option<R>, ConnectorError> {
        let (store, log, owned) = (Arc::clone(&kept.store), kept.log, key.to_string());
        // The store's reads block (a database round trip): off the async workers.
        let found = tokio::task::spawn_blocking(move || store.effect(log, &owned))
            .await
            .map_err(|e| self.store_error(e.to_string()))?
            .map_err(|e| self.store_error(e.0))?;
        match found {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| self.store_error(format!("the record of `{key}` cannot be read: {e}"))),
        }
    }

    fn put_in(&self, kept: &InStore, record: &R) -> Result<Commit, ConnectorError> {
        let json = serde_json::to_string(record)
            .map_err(|e| ConnectorError::permanent(format!("cannot encode a {} record: {e}", self.what)))?;
        Ok(kept.store.put_effect(kept.log, record.key(), json))
    }

    async fn committed(&self, commit: Commit) -> Result<(), ConnectorError> {
        match commit {
            Commit::Done => Ok(()),
            Commit::Pending(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(self.store_error(e.0)),
                Err(_) => Err(self.store_error("the store's writer stopped".into())),
            },
        }
    }

    fn store_error(&self, e: String) -> ConnectorError {
        // Retried: a database that went away comes back, and the step's next attempt asks
        // again rather than act without knowing.
        ConnectorError::transient(format!("cannot use the {} in the store: {e}", self.what))
    }

    /// Writes `record`'s line.
    async fn write(&self, record: R) -> Result<(), ConnectorError> {
        let mut line = serde_json::to_vec(&record)
            .map_err(|e| ConnectorError::permanent(format!("cannot encode a {} record: {e}", self.what)))?;
        line.push(b'\n');
        let state = self.state().await?;
        let mut s = lock(state);
        let file = match &s.file {
            Some(file) => Arc::clone(file),
            None => {
                let file = Arc::new(self.open().map_err(|e| self.io_error(e))?);
                s.file = Some(Arc::clone(&file));
                file
            }
        };
        if s.torn_tail {
            line.insert(0, b'\n');
        }
        // One small write to the page cache: cheap enough to do under the lock, and it keeps
        // lines whole and in order.
        if let Err(e) = (&*file).write_all(&line) {
            s.torn_tail = true;
            return Err(self.io_error(e));
        }
        s.torn_tail = false;
        s.written += 1;
        s.index.insert(record.key().to_string(), record);
        Ok(())
    }

    /// Opens the file for appending, creating it (and its folder, durably) if needed.
    fn open(&self) -> std::io::Result<std::fs::File> {
        let created = !self.path.exists();
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        if created {
            // The new file's directory entry must survive a crash too.
            file.sync_all()?;
            if let Some(dir) = self.path.parent() {
                if let Ok(dir) = std::fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
        }
        Ok(file)
    }

    fn io_error(&self, e: std::io::Error) -> ConnectorError {
        ConnectorError::permanent(format!(
            "cannot write the {} {}: {e}",
            self.what,
            self.path.display()
        ))
    }

    async fn state(&self) -> Result<&Mutex<State<R>>, ConnectorError> {
        self.state
            .get_or_try_init(|| async {
                let (index, torn_tail) = self.load().await?;
                Ok(Mutex::new(State {
                    index,
                    file: None,
                    written: 0,
                    synced: 0,
                    torn_tail,
                    syncs: 0,
                }))
            })
            .await
    }

    async fn load(&self) -> Result<(HashMap<String, R>, bool), ConnectorError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((HashMap::new(), false)),
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
                // A line cut short by a crash while appending: its caller never heard it was
                // recorded, which is the same as not recorded at all.
                Err(e) => tracing::warn!(
                    "skipping unreadable line {} of {}: {e}",
                    n + 1,
                    self.path.display()
                ),
            }
        }
        Ok((index, !text.is_empty() && !text.ends_with('\n')))
    }
}

fn lock<R>(state: &Mutex<State<R>>) -> std::sync::MutexGuard<'_, State<R>> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde::Deserialize;

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        key: String,
        n: u32,
    }

    impl Keyed for Note {
        fn key(&self) -> &str {
            &self.key
        }
    }

    fn note(key: &str, n: u32) -> Note {
        Note {
            key: key.to_string(),
            n,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_records_share_fsyncs_and_all_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(KeyedLog::<Note>::new(dir.path(), "notes.jsonl", "notes"));
        let tasks: Vec<_> = (0..64)
            .map(|n| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.record(note(&format!("k{n}"), n)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let syncs = log.syncs().await;
        assert!(syncs < 64, "every record had an fsync of its own ({syncs})");
        let reopened = KeyedLog::<Note>::new(dir.path(), "notes.jsonl", "notes");
        for n in 0..64 {
            assert_eq!(
                reopened.lookup(&format!("k{n}")).await.unwrap(),
                Some(note(&format!("k{n}"), n))
            );
        }
    }

    #[tokio::test]
    async fn kept_in_a_store_another_host_sees_the_records_and_no_file_is_written() {
        let store: Arc<dyn Store> = Arc::new(crate::runtime::MemoryStore::new());
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = KeyedLog::<Note>::new(a.path(), "notes.jsonl", "notes");
        first.keep_in(store.clone(), "test.notes");
        first.append(note("k", 1)).await.unwrap();
        first.record(note("k", 2)).await.unwrap();
        first.append(note("j", 3)).await.unwrap();
        first.sync().await.unwrap();
        // Another host's log, on its own folder, over the same store.
        let second = KeyedLog::<Note>::new(b.path(), "notes.jsonl", "notes");
        second.keep_in(store.clone(), "test.notes");
        assert_eq!(second.lookup("k").await.unwrap(), Some(note("k", 2)));
        assert_eq!(second.lookup("j").await.unwrap(), Some(note("j", 3)));
        assert_eq!(second.lookup("x").await.unwrap(), None);
        assert!(!a.path().join("notes.jsonl").exists());
        // Another log's name does not see these keys.
        let other = KeyedLog::<Note>::new(b.path(), "other.jsonl", "other");
        other.keep_in(store, "test.other");
        assert_eq!(other.lookup("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_last_record_of_a_key_wins_and_a_torn_tail_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let log = KeyedLog::<Note>::new(&dir.path().join("nested"), "notes.jsonl", "notes");
        log.record(note("a", 1)).await.unwrap();
        log.record(note("a", 2)).await.unwrap();
        assert_eq!(log.lookup("a").await.unwrap(), Some(note("a", 2)));

        // A crash while appending leaves half a line; the next process appends after it.
        let path = dir.path().join("nested/notes.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"key\":\"b\",\"n");
        std::fs::write(&path, text).unwrap();
        let reopened = KeyedLog::<Note>::new(&dir.path().join("nested"), "notes.jsonl", "notes");
        assert_eq!(reopened.lookup("b").await.unwrap(), None);
        reopened.record(note("c", 3)).await.unwrap();
        let third = KeyedLog::<Note>::new(&dir.path().join("nested"), "notes.jsonl", "notes");
        assert_eq!(third.lookup("a").await.unwrap(), Some(note("a", 2)));
        assert_eq!(third.lookup("c").await.unwrap(), Some(note("c", 3)));
    }
}
