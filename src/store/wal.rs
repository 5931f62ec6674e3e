//! The SQLite store's write-ahead log, kept durable and short off the writer thread. A syncer
//! fsyncs the log after the writer's commits and only then answers their callers, while the
//! writer already writes the next group; a checkpointer copies the log into the database in
//! the background. So no commit waits behind a checkpoint (SQLite's automatic one runs inside
//! the commit that crosses its threshold: milliseconds in the tail of every caller queued
//! behind it), and the fsync of one group overlaps the writing of the next.
//!
//! A background checkpoint never catches up with a writer that keeps appending, and SQLite
//! restarts the log from its beginning only when a transaction begins with all of the log
//! copied. So once a commit leaves the log longer than [`RESTART_PAGES`] (SQLite's WAL hook
//! tells the writer its length after every commit), the writer finishes the checkpoint itself
//! between two groups, copying only what came since the background one, and its next
//! transaction writes from the start of the log again. Without that the log grew without bound
//! under steady load (150 MB in ten seconds of the serve_load bench), and reads slowed with it.
//!
//! Durability is unchanged: a caller is answered only after an fsync of the log that began
//! after its group was written, as SQLite's `synchronous = FULL` would. SQLite itself runs at
//! `NORMAL` (no fsync in the commit); a commit's frames are visible to readers before their
//! fsync, so a power cut (not a crash of the process) can take back what a reader saw but no
//! caller was told was kept.

use std::cell::Cell;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::writer_queue::Reply;
use crate::runtime::StoreError;

/// The callers of one committed group, each with its own operation's result.
pub(super) type Answers = Vec<(Reply, Result<(), StoreError>)>;

/// How often at most the checkpointer copies the log into the database while commits come: a
/// few checkpoints a second keep the log short without an fsync of the database per commit.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// How long the log may grow (in pages) before the writer finishes a checkpoint itself so the
/// log restarts: 16 MB of 4 KB pages, four of SQLite's default automatic checkpoints.
#[cfg(not(test))]
const RESTART_PAGES: i64 = 4096;
/// Smaller under test, so a test writes many times the threshold in a fraction of a second.
#[cfg(test)]
const RESTART_PAGES: i64 = 256;

thread_local! {
    /// The log's length in pages after the last commit on this thread: the writer thread owns
    /// the one connection that writes, so this is that connection's log.
    static LOG_PAGES: Cell<i64> = const { Cell::new(0) };
}

/// Has SQLite tell the writer (the calling thread) the log's length after each commit.
pub(super) fn watch_log(writer: &Connection) {
    writer.wal_hook(Some(|_, pages| {
        LOG_PAGES.set(i64::from(pages));
        Ok(())
    }));
}

/// Called by the writer between groups: when the last commit left the log longer than
/// [`RESTART_PAGES`], checkpoints what the background checkpoint has not copied yet. With no
/// write in between, that copies the whole log, so the next transaction restarts it. If the
/// background checkpoint holds the lock, the next group tries again.
pub(super) fn restart_if_long(writer: &Connection) {
    if LOG_PAGES.get() < RESTART_PAGES {
        return;
    }
    if let Err(e) = writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!("cannot checkpoint the state database: {e}");
    }
}

/// Answers callers once their commits are on disk.
pub(super) struct Syncer {
    tx: Option<mpsc::Sender<Answers>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// A syncer of the log of the database at `db`.
    pub(super) fn start(db: &Path) -> Result<Syncer, StoreError> {
        let wal = log_path(db);
        // The log's directory entry is made durable once; its content at every sync.
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir);
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowc-store-sync".into())
            .spawn(move || sync_loop(&wal, rx))
            .map_err(|e| StoreError(format!("cannot start the store's sync thread: {e}")))?;
        Ok(Syncer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Answers `answers` (of a group just committed) after the next fsync of the log.
    pub(super) fn answer_after_sync(&self, answers: Answers) {
        if let Some(Err(mpsc::SendError(answers))) = self.tx.as_ref().map(|tx| tx.send(answers)) {
            // The sync thread is gone (it panicked): nothing can be promised kept.
            let lost = StoreError("the store's sync thread has stopped".into());
            for (reply, _) in answers {
                let _ = reply.send(Err(lost.clone()));
            }
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the channel lets the thread sync and answer what is left, then end.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sync_loop(wal: &Path, rx: mpsc::Receiver<Answers>) {
    let mut file = None;
    while let Ok(mut answers) = rx.recv() {
        // Groups committed while the last fsync ran share the next one.
        while let Ok(more) = rx.try_recv() {
            answers.extend(more);
        }
        let synced = sync(wal, &mut file);
        if let Err(e) = &synced {
            tracing::error!("{e}");
        }
        for (reply, result) in answers {
            let _ = reply.send(match &synced {
                Ok(()) => result,
                Err(e) => Err(e.clone()),
            });
        }
    }
}

/// fsyncs the log (opened on first use: SQLite creates it with the database's first read).
fn sync(wal: &Path, file: &mut Option<File>) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| StoreError(format!("cannot sync {}: {e}", wal.display()));
    if file.is_none() {
        match File::open(wal) {
            Ok(f) => *file = Some(f),
            // No log yet: nothing was written, so nothing waits to be kept.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(fail(e)),
        }
    }
    match file {
        Some(f) => f.sync_data().map_err(fail),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) {
    // Best effort, as SQLite's own directory sync: some file systems cannot sync a directory.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!("cannot sync the directory {}: {e}", dir.display());
    }
}

/// SQLite's name for the log of database `db`.
fn log_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push("-wal");
    PathBuf::from(name)
}

/// Copies the log into the database in the background, a few times a second while there are
/// commits.
pub(super) struct Checkpointer {
    tx: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// A checkpointer of the database at `db`, on a connection of its own.
    pub(super) fn start(db: &Path) -> Result<Checkpointer, StoreError> {
        let name = db.display().to_string();
        let conn = Connection::open(db).map_err(|e| super::schema::unreadable(&name, &e))?;
        let (tx, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("flowc-store-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &name, rx))
            .map_err(|e| StoreError(format!("cannot start the store's checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// The writer committed: a checkpoint is due within [`CHECKPOINT_EVERY`].
    pub(super) fn committed(&self) {
        // A full channel already holds a wake-up: one is enough.
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checkpoint_loop(conn: &Connection, name: &str, rx: mpsc::Receiver<()>) {
    let mut last = Instant::now();
    while rx.recv().is_ok() {
        if let Some(wait) = CHECKPOINT_EVERY.checked_sub(last.elapsed()) {
            std::thread::sleep(wait);
        }
        // Commits that came during the wait are covered by this checkpoint.
        while rx.try_recv().is_ok() {}
        last = Instant::now();
        // PASSIVE copies what it can without waiting for the writer or readers: the writer
        // goes on appending meanwhile (and finishes the copy itself once the log is long).
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("cannot checkpoint {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::runtime::{Commit, Event, EventKind, Store};
    use crate::store::{Durability, SqliteStore};
    use crate::value::Value;

    fn output(seq: u64, text: &str) -> Event {
        Event {
            seq,
            at: chrono::Utc::now(),
            kind: EventKind::Output {
                value: Value::Text(text.into()).into(),
            },
        }
    }

    async fn kept(commit: Commit) {
        if let Commit::Pending(rx) = commit {
            rx.await.unwrap().unwrap();
        }
    }

    /// SQLite's own checkpoint is off on the writer: the checkpointer copies the log into the
    /// database in the background (without it the database file would stay at its schema).
    #[tokio::test]
    async fn the_log_reaches_the_database_without_a_checkpoint_in_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowc.db");
        let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
        let empty = std::fs::metadata(&path).unwrap().len();
        let text = "x".repeat(4000);
        for i in 0..200 {
            let events = (0..5).map(|seq| output(seq, &text)).collect();
            kept(store.append_batch(&format!("i-{i}"), events)).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < empty + 2_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {} bytes",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(store.history("i-199").len(), 5);
        drop(store);
        let store = SqliteStore::open(&path, Durability::Full).unwrap();
        assert_eq!(store.instances().len(), 0, "outputs alone start no instance");
        assert_eq!(store.history("i-7").len(), 5, "kept across a reopen");
    }

    /// Under writes that never pause the log still restarts, so it stays near `RESTART_PAGES`
    /// pages instead of growing with everything written. Sixteen callers append back to back,
    /// as a busy host's instances do: many small groups, never a pause.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_restarts_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowc.db");
        let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
        let text = Arc::new("x".repeat(4000));
        // 16 x 100 batches of 5 events of 4 KB: 32 MB, thirty times the threshold.
        let callers: Vec<_> = (0..16)
            .map(|caller| {
                let (store, text) = (store.clone(), text.clone());
                tokio::spawn(async move {
                    for n in 0..100 {
                        let events = (0..5).map(|seq| output(seq, &text)).collect();
                        kept(store.append_batch(&format!("i-{caller}-{n}"), events)).await;
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        let log = std::fs::metadata(dir.path().join("flowc.db-wal")).unwrap().len();
        let limit = 4 * super::RESTART_PAGES as u64 * 4096;
        assert!(log < limit, "the log grew to {log} bytes (limit {limit})");
        assert_eq!(store.history("i-15-99").len(), 5);
    }

    /// At `Full` a commit is answered after the syncer's fsync; groups keep coming meanwhile and
    /// every caller is answered, in any number.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_caller_is_answered_after_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("flowc.db"), Durability::Full).unwrap());
        let commits: Vec<_> = (0..500)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    kept(store.append_batch(&format!("i-{i}"), vec![output(0, "a")])).await;
                    kept(store.sync()).await;
                })
            })
            .collect();
        for c in commits {
            c.await.unwrap();
        }
        assert_eq!(store.history("i-499").len(), 1);
        tokio::task::spawn_blocking(move || store.flush()).await.unwrap();
    }
}
