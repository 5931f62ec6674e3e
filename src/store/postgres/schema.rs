//! The PostgreSQL schema and its migrations, numbered in the `flowc_schema` table and applied
//! under an advisory lock, so hosts starting together migrate once.

use postgres::Client;

use super::connect::describe;
use crate::runtime::StoreError;

/// The schema this build writes; a database with a higher version is refused.
pub(crate) const VERSION: i32 = 4;

/// The advisory lock migrations take (any number, the same in every flowc).
const MIGRATION_LOCK: i64 = 0x666c_6f77_635f_6462;

/// Migration `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: as the SQLite store (instances, events, timers, plans), plus what hosts share:
    // an instance's owner and lease, schedule firings and webhook deliveries.
    "CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        entity TEXT NOT NULL,
        plan TEXT,
        parent TEXT,
        status TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        owner TEXT,
        lease_until TIMESTAMPTZ
    );
    CREATE INDEX instances_running ON instances (started_at, id) WHERE status = 'running';
    CREATE INDEX instances_owner ON instances (owner) WHERE status = 'running';
    CREATE TABLE events (
        instance TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        kind_type TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (instance, seq)
    );
    CREATE TABLE timers (
        id BIGINT NOT NULL,
        instance TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        step TEXT NOT NULL,
        PRIMARY KEY (id, instance)
    );
    CREATE TABLE plans (hash TEXT PRIMARY KEY, bundle TEXT NOT NULL);
    CREATE TABLE schedule_firings (
        schedule TEXT NOT NULL,
        due TIMESTAMPTZ NOT NULL,
        host TEXT NOT NULL,
        PRIMARY KEY (schedule, due)
    );
    CREATE TABLE deliveries (key TEXT PRIMARY KEY, instance TEXT NOT NULL);",
    // 1 → 2: one table for work done once across hosts (a delivery's instance, a schedule's
    // due time): claimed by a host, then the instance it started.
    "DROP TABLE schedule_firings;
    DROP TABLE deliveries;
    CREATE TABLE claims (
        key TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL,
        instance TEXT
    );",
    // 2 → 3: the connectors' effect logs (an email sent, a form created), by idempotency key,
    // so a host that takes an instance over sees what the host before it did.
    "CREATE TABLE effects (
        log TEXT NOT NULL,
        key TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (log, key)
    );",
    // 3 → 4: requests (an event, a cancel, a retry) received by one host for an instance
    // another host holds, queued for the holder (`runtime::forward`).
    "CREATE TABLE commands (
        id BIGSERIAL PRIMARY KEY,
        instance TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT,
        payload TEXT,
        sent_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX commands_instance ON commands (instance);",
];

/// Brings the database `client` is connected to up to [`VERSION`], or says why it cannot.
pub(crate) fn migrate(client: &mut Client, shown: &str) -> Result<(), StoreError> {
    let fail = |e: postgres::Error| StoreError(format!("cannot migrate {shown}: {}", describe(&e)));
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(fail)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS flowc_schema (version INTEGER NOT NULL)")
        .map_err(fail)?;
    let found: i32 = tx
        .query_opt("SELECT version FROM flowc_schema", &[])
        .map_err(fail)?
        .map(|r| r.get(0))
        .unwrap_or(0);
    if found > VERSION {
        return Err(StoreError(format!(
            "{shown} was written by a newer flowc (schema version {found}; this one knows up to {VERSION}): upgrade flowc to use it"
        )));
    }
    for sql in MIGRATIONS.iter().skip(found.max(0) as usize) {
        tx.batch_execute(sql).map_err(fail)?;
    }
    tx.execute("DELETE FROM flowc_schema", &[]).map_err(fail)?;
    tx.execute("INSERT INTO flowc_schema (version) VALUES ($1)", &[&VERSION])
        .map_err(fail)?;
    tx.commit().map_err(fail)
}
