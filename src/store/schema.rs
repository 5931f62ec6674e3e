//! The SQLite schema and its migrations, numbered by SQLite's `user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::runtime::StoreError;

/// The schema this build writes; a database with a higher `user_version` is refused.
pub(crate) const VERSION: i64 = 4;

/// Migration `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: instances, their histories, timers and the plans they are pinned to.
    "CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        entity TEXT NOT NULL,
        plan TEXT,
        parent TEXT,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX instances_running ON instances(status) WHERE status = 'running';
    CREATE TABLE events (
        instance TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (instance, seq)
    ) WITHOUT ROWID;
    CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        instance TEXT NOT NULL,
        at TEXT NOT NULL,
        step TEXT NOT NULL
    );
    CREATE TABLE plans (hash TEXT PRIMARY KEY, bundle TEXT NOT NULL) WITHOUT ROWID;",
    // 1 → 2: the instance each webhook delivery started (written with the instance's start).
    "CREATE TABLE deliveries (key TEXT PRIMARY KEY, instance TEXT NOT NULL) WITHOUT ROWID;",
    // 2 → 3: the connectors' effect logs, by idempotency key (see `Store::put_effect`).
    "CREATE TABLE effects (
        log TEXT NOT NULL,
        key TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (log, key)
    ) WITHOUT ROWID;",
    // 3 → 4: a delivery's key is kept in its instance's row, written by the start's insert (see
    // `delivery_index`); the `deliveries` table keeps what was written before and imports.
    "ALTER TABLE instances ADD COLUMN delivery TEXT;
    UPDATE instances SET delivery = (SELECT key FROM deliveries WHERE deliveries.instance = instances.id)
     WHERE id IN (SELECT instance FROM deliveries);
    DELETE FROM deliveries
     WHERE EXISTS (SELECT 1 FROM instances WHERE id = deliveries.instance AND delivery = deliveries.key);",
];

/// Brings the database at `path` (open as `conn`) to [`VERSION`], or says why it cannot.
pub(crate) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let fail = |e: rusqlite::Error| unreadable(path, &e);
    // One immediate transaction: two processes opening a new database do not both migrate it.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    if found > VERSION {
        return Err(StoreError(format!(
            "{path} was written by a newer flowc (schema version {found}; this one knows up to {VERSION}): upgrade flowc to use it"
        )));
    }
    for sql in MIGRATIONS.iter().skip(found.max(0) as usize) {
        tx.execute_batch(sql).map_err(fail)?;
    }
    tx.pragma_update(None, "user_version", VERSION).map_err(fail)?;
    tx.commit().map_err(fail)
}

/// The error for a file SQLite cannot use as a flowc database.
pub(crate) fn unreadable(path: &str, e: &rusqlite::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("not a database") || text.contains("malformed") {
        StoreError(format!(
            "{path} is not a flowc state database or is corrupt ({text}): restore it from a backup, or move it away to start afresh"
        ))
    } else {
        StoreError(format!("cannot use {path}: {text}"))
    }
}
