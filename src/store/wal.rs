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
//! tells the writer its length after every commit), the writer has the background begin a pass
//! at once, and after it finishes the checkpoint itself between two groups, copying only what
//! came during that pass; its next transaction writes from the start of the log again. Without
//! that the log grew without bound under steady load (150 MB in ten seconds of the serve_load
//! bench), and reads slowed with it.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::writer_queue::Reply;
use crate::runtime::StoreError;

/// The callers of one committed group, each with its own operation's result.
pub(super) type Answers = Vec<(Reply, Result<(), StoreError>)>;

/// How often at most the checkpointer copies the log into the database while commits come:
/// often enough that each pass is short, rarely enough that the database is not fsynced per
/// commit. A pass's fsync of the database competes with the log's fsyncs, and the webhooks
/// waiting on those stall meanwhile: shorter passes, shorter stalls (50 against 250 ms measured
/// in docs/serve.md, Load).
#[cfg(not(test))]
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// Longer under test, so a test tells a hurried pass from a due one.
#[cfg(test)]
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// How long the log may grow (in pages) before the writer finishes a checkpoint itself so the
/// log restarts: 16 MB of 4 KB pages, four of SQLite's default automatic checkpoints.
#[cfg(not(test))]
const RESTART_PAGES: i64 = 4096;
/// Smaller under test, so a test writes many times the threshold in a fraction of a second.
#[cfg(test)]
const RESTART_PAGES: i64 = 256;

thread_local! {
    /// The commits on this thread that added to the log.
    static COMMITS: Cell<u64> = const { Cell::new(0) };
    /// The log's length in pages after the last commit on this thread: the writer thread owns
    /// the one connection that writes, so this is that connection's log.
    static LOG_PAGES: Cell<i64> = const { Cell::new(0) };
}

/// The number of commits the writer (the calling thread) made that added to the log.
pub(super) fn commits() -> u64 {
    COMMITS.get()
}

/// Has SQLite tell the writer (the calling thread) the log's length after each commit that
/// added to it, and count those commits.
pub(super) fn watch_log(writer: &Connection) {
    writer.wal_hook(Some(|_, pages| {
        LOG_PAGES.set(i64::from(pages));
        COMMITS.set(COMMITS.get() + 1);
        Ok(())
    }));
}

/// Answers callers once their commits are on disk.
pub(super) struct Syncer {
    tx: Option<mpsc::Sender<Group>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// A syncer of the log of the database at `db`, counting its fsyncs in `fsyncs`.
    pub(super) fn start(db: &Path, fsyncs: Arc<AtomicU64>) -> Result<Syncer, StoreError> {
        let wal = log_path(db);
        // The log's directory entry is made durable once; its content at every sync.
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir);
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowc-store-sync".into())
            .spawn(move || sync_loop(&wal, rx, &fsyncs))
            .map_err(|e| StoreError(format!("cannot start the store's sync thread: {e}")))?;
        Ok(Syncer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Answers `answers` (of a group just committed) once the log is on disk up to the group:
    /// after the next fsync if the group `wrote` to the log. A group that wrote nothing (a
    /// barrier, a read) needs no fsync of its own: the groups before it were answered only
    /// after theirs, or share the next one with it.
    pub(super) fn answer_after_sync(&self, answers: Answers, wrote: bool) {
        if !wrote && answers.is_empty() {
            return;
        }
        let group = Group { answers, wrote };
        if let Some(Err(mpsc::SendError(Group { answers, .. }))) = self.tx.as_ref().map(|tx| tx.send(group)) {
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

/// A committed group on its way to the syncer.
struct Group {
    answers: Answers,
    /// The group's commit added to the log.
    wrote: bool,
}

fn sync_loop(wal: &Path, rx: mpsc::Receiver<Group>, fsyncs: &AtomicU64) {
    let mut file = None;
    // After a failed fsync nothing is known kept, so the next answers wait for an fsync even if
    // their groups wrote nothing.
    let mut failed = false;
    while let Ok(Group {
        mut answers,
        mut wrote,
    }) = rx.recv()
    {
        // Groups committed while the last fsync ran share the next one.
        while let Ok(more) = rx.try_recv() {
            answers.extend(more.answers);
            wrote |= more.wrote;
        }
        let synced = if wrote || failed {
            fsyncs.fetch_add(1, Ordering::Relaxed);
            sync(wal, &mut file)
        } else {
            Ok(())
        };
        failed = synced.is_err();
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

/// Copies the log into the database in the background, every [`CHECKPOINT_EVERY`] at most while
/// there are commits, and has the writer restart the log once it is long.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    /// The pass the writer waits for before it finishes a long log's checkpoint itself.
    awaited: Option<u64>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer and the checkpoint thread share.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The number of the last pass that has finished (passes are numbered from 1).
    finished: AtomicU64,
}

#[derive(Default)]
struct State {
    /// A commit came since the last pass began.
    pending: bool,
    /// The writer waits for a pass: the next one begins at once.
    hurry: bool,
    /// The number of the last pass that has begun.
    begun: u64,
    closed: bool,
}

impl Checkpointer {
    /// A checkpointer of the database at `db`, on a connection of its own.
    pub(super) fn start(db: &Path) -> Result<Checkpointer, StoreError> {
        let name = db.display().to_string();
        let conn = Connection::open(db).map_err(|e| super::schema::unreadable(&name, &e))?;
        let shared = Arc::new(Shared::new());
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("flowc-store-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &name, &theirs))
            .map_err(|e| StoreError(format!("cannot start the store's checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            shared,
            awaited: None,
            thread: Some(thread),
        })
    }

    /// The writer committed: a checkpoint is due within [`CHECKPOINT_EVERY`].
    pub(super) fn committed(&self) {
        let mut state = self.shared.lock();
        if !state.pending {
            state.pending = true;
            self.shared.wake.notify_one();
        }
    }

    /// Called by the writer between groups. Once the last commit left the log longer than
    /// [`RESTART_PAGES`], the writer checkpoints what the background has not copied, so that its
    /// next transaction restarts the log; meanwhile it appends nothing, and that checkpoint's
    /// fsync of the database is the longest pause a caller sees. So the writer first has the
    /// background begin a pass at once and waits (appending) until that pass has finished:
    /// what is left for it is then what came during the pass, not up to [`CHECKPOINT_EVERY`]
    /// of commits. A log twice as long is finished at once whatever the background does.
    pub(super) fn restart_if_long(&mut self, writer: &Connection) {
        let pages = LOG_PAGES.get();
        if pages < RESTART_PAGES {
            // Restarted already: the background's pass copied the whole log.
            self.awaited = None;
            return;
        }
        if pages < 2 * RESTART_PAGES {
            match self.awaited {
                None => {
                    self.awaited = Some(self.hurry());
                    return;
                }
                Some(pass) if self.shared.finished.load(Ordering::Acquire) < pass => return,
                Some(_) => {}
            }
        }
        self.awaited = None;
        // With no write in between, this copies the whole log, so the next transaction
        // restarts it. If the background holds the checkpoint lock, the next group tries again.
        if let Err(e) = writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("cannot checkpoint the state database: {e}");
        }
    }

    /// Has the next pass begin at once; returns its number.
    fn hurry(&self) -> u64 {
        let mut state = self.shared.lock();
        state.hurry = true;
        state.pending = true;
        self.shared.wake.notify_one();
        state.begun + 1
    }
}

impl Shared {
    fn new() -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            finished: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checkpoint_loop(conn: &Connection, name: &str, shared: &Shared) {
    let mut last = Instant::now();
    loop {
        let mut state = shared.lock();
        while !state.pending && !state.closed {
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if !state.pending {
            return;
        }
        // Commits that come during the wait are covered by this pass.
        let due = last + CHECKPOINT_EVERY;
        while !state.hurry && !state.closed {
            let Some(wait) = due.checked_duration_since(Instant::now()) else {
                break;
            };
            state = shared
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.pending = false;
        state.hurry = false;
        state.begun += 1;
        let pass = state.begun;
        drop(state);
        last = Instant::now();
        // PASSIVE copies what it can without waiting for the writer or readers: the writer
        // goes on appending meanwhile (and finishes the copy itself once the log is long).
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("cannot checkpoint {name}: {e}");
        }
        shared.finished.store(pass, Ordering::Release);
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
        // Some 150 pages: under `RESTART_PAGES`, so only a pass due after the commits copies them.
        for i in 0..15 {
            let events = (0..5).map(|seq| output(seq, &text)).collect();
            kept(store.append_batch(&format!("i-{i}"), events)).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < empty + 250_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {} bytes",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(store.history("i-14").len(), 5);
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

    /// A database in WAL mode with a table `t`, and a writer of its own that never checkpoints.
    fn own_writer() -> (tempfile::TempDir, std::path::PathBuf, rusqlite::Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowc.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer
            .query_row("PRAGMA wal_autocheckpoint = 0", [], |_| Ok(()))
            .unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        (dir, path, writer)
    }

    /// A database whose log is long, made so by a writer of its own (the store's writer thread
    /// is not this one), and a checkpointer of it.
    fn long_log() -> (tempfile::TempDir, rusqlite::Connection, super::Checkpointer) {
        let (dir, path, writer) = own_writer();
        super::watch_log(&writer);
        let mut insert = writer.prepare("INSERT INTO t VALUES (zeroblob(4000))").unwrap();
        // Well past the threshold, short of twice it.
        while super::LOG_PAGES.get() < super::RESTART_PAGES * 3 / 2 {
            insert.execute([]).unwrap();
        }
        drop(insert);
        let checkpointer = super::Checkpointer::start(&path).unwrap();
        (dir, writer, checkpointer)
    }

    /// A long log is not checkpointed by the writer at once: it has the background begin a
    /// pass at once (no commit was reported, so nothing else would begin one, and a due pass
    /// comes only after `CHECKPOINT_EVERY`), appends meanwhile, and finishes what is left after
    /// that pass. Then the log restarts.
    #[test]
    fn a_long_log_is_finished_by_the_writer_after_a_hurried_pass() {
        let (_dir, writer, mut checkpointer) = long_log();
        hurried_pass(&mut checkpointer, &writer);
        // The writer copies what the pass left, and its next commit restarts the log.
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, None);
        restarts(&writer);
    }

    /// Has the writer ask for a pass of the long log, and waits for it: a hurried one, well
    /// before a due one would begin.
    fn hurried_pass(checkpointer: &mut super::Checkpointer, writer: &rusqlite::Connection) {
        let asked = std::time::Instant::now();
        checkpointer.restart_if_long(writer);
        let pass = checkpointer
            .awaited
            .expect("the writer waits for the background's pass");
        while checkpointer.shared.finished.load(super::Ordering::Acquire) < pass {
            assert!(
                asked.elapsed() < super::CHECKPOINT_EVERY / 2,
                "no hurried pass after {:?}",
                asked.elapsed()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Commits once and checks that the log started over.
    fn restarts(writer: &rusqlite::Connection) {
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let pages = super::LOG_PAGES.get();
        assert!(pages < 8, "the log went on: {pages} pages");
    }

    /// When the background's pass copied the whole log, the writer's next commit restarts it:
    /// the pass waited for is forgotten, so the next long log waits for a pass of its own.
    #[test]
    fn a_log_restarted_after_the_pass_forgets_the_pass() {
        let (_dir, writer, mut checkpointer) = long_log();
        hurried_pass(&mut checkpointer, &writer);
        restarts(&writer);
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, None);
    }

    /// A log twice the threshold is finished by the writer at once, whatever the background does.
    #[test]
    fn a_log_twice_too_long_is_finished_at_once() {
        let (_dir, writer, mut checkpointer) = long_log();
        let mut insert = writer.prepare("INSERT INTO t VALUES (zeroblob(4000))").unwrap();
        while super::LOG_PAGES.get() < 2 * super::RESTART_PAGES {
            insert.execute([]).unwrap();
        }
        drop(insert);
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, None);
        restarts(&writer);
    }

    /// Runs a sync loop on log `wal`; each group sent gets its answer before the next is sent.
    fn syncer(wal: std::path::PathBuf) -> impl FnMut(bool) -> Result<(), crate::runtime::StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || super::sync_loop(&wal, rx, &super::AtomicU64::new(0)));
        move |wrote| {
            let (reply, answer) = tokio::sync::oneshot::channel();
            tx.send(super::Group {
                answers: vec![(reply, Ok(()))],
                wrote,
            })
            .unwrap();
            answer.blocking_recv().unwrap()
        }
    }

    /// A group that wrote nothing to the log (a barrier) is answered without an fsync: the
    /// groups before it were answered after theirs. After a failed fsync it waits for one.
    #[test]
    fn a_group_that_wrote_nothing_waits_for_no_fsync_unless_the_last_one_failed() {
        let dir = tempfile::tempdir().unwrap();
        // A log under a regular file: opening it fails, so every fsync fails.
        let file = dir.path().join("flowc.db");
        std::fs::write(&file, "").unwrap();
        let mut send = syncer(file.join("flowc.db-wal"));
        assert!(send(false).is_ok(), "no fsync for a group that wrote nothing");
        let failed = send(true).unwrap_err();
        assert!(failed.0.contains("cannot sync"), "{failed:?}");
        assert!(
            send(false).is_err(),
            "after a failed fsync, the barrier waits for one"
        );
    }

    /// Groups drained together share one fsync if any of them wrote.
    #[test]
    fn groups_drained_together_wait_for_an_fsync_if_one_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flowc.db");
        std::fs::write(&file, "").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let answers: Vec<_> = [false, true]
            .into_iter()
            .map(|wrote| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                tx.send(super::Group {
                    answers: vec![(reply, Ok(()))],
                    wrote,
                })
                .unwrap();
                answer
            })
            .collect();
        drop(tx);
        let fsyncs = super::AtomicU64::new(0);
        super::sync_loop(&file.join("flowc.db-wal"), rx, &fsyncs);
        assert_eq!(fsyncs.load(super::Ordering::Relaxed), 1);
        for answer in answers {
            assert!(
                answer.blocking_recv().unwrap().is_err(),
                "both waited for the failed fsync"
            );
        }
    }

    /// A barrier after a kept commit costs no fsync; a write nobody waits for (a timer) is
    /// synced before a barrier after it is answered.
    #[tokio::test]
    async fn only_groups_that_wrote_wait_for_an_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("flowc.db"), Durability::Full).unwrap();
        kept(store.append_batch("i-0", vec![output(0, "a")])).await;
        let appended = store.fsyncs();
        assert!(appended >= 1, "the append waited for no fsync");
        kept(store.sync()).await;
        assert_eq!(store.fsyncs(), appended, "a barrier after a kept commit");
        store.put_timer(crate::runtime::TimerRecord {
            id: 1,
            instance: "i-0".into(),
            at: chrono::Utc::now(),
            step: "w".into(),
        });
        // Time for the writer to commit the timer alone: a group with no one to answer.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        kept(store.sync()).await;
        assert!(
            store.fsyncs() > appended,
            "the timer was not synced before the barrier"
        );
    }

    /// A checkpointer with no thread: no pass finishes until the test says so.
    fn passless() -> super::Checkpointer {
        super::Checkpointer {
            shared: Arc::new(super::Shared::new()),
            awaited: None,
            thread: None,
        }
    }

    /// A short log asks the background for nothing.
    #[test]
    fn a_short_log_asks_for_no_pass() {
        let (_dir, _path, writer) = own_writer();
        super::watch_log(&writer);
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let mut checkpointer = passless();
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, None);
    }

    /// The writer finishes a long log only after the pass it asked for has finished.
    #[test]
    fn the_writer_waits_for_the_pass_it_asked_for() {
        let (_dir, writer, real) = long_log();
        drop(real);
        let mut checkpointer = passless();
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, Some(1));
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, Some(1), "it did not wait for the pass");
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(
            super::LOG_PAGES.get() >= super::RESTART_PAGES,
            "the log restarted"
        );
        checkpointer.shared.finished.store(1, super::Ordering::Release);
        checkpointer.restart_if_long(&writer);
        assert_eq!(checkpointer.awaited, None);
        restarts(&writer);
    }

    /// A checkpointer dropped (the store closing) copies what is pending at once, not when
    /// its pass would be due.
    #[test]
    fn a_checkpointer_dropped_copies_what_is_pending() {
        let (_dir, path, writer) = own_writer();
        let checkpointer = super::Checkpointer::start(&path).unwrap();
        for _ in 0..20 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        checkpointer.committed();
        drop(checkpointer);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size >= 20 * 4096, "the database file is {size} bytes");
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
