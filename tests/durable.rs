//! Durability: instance ids and idempotency keys that never collide across runs and stay the
//! same across a restart, the SQLite journal, recovery, and the CLI over a state folder.

#[path = "durable/cli.rs"]
mod cli;
#[path = "support/store_conformance.rs"]
mod conformance;
#[path = "durable/keys.rs"]
mod keys;
#[path = "durable/recovery.rs"]
mod recovery;
#[path = "durable/replay.rs"]
mod replay;
#[path = "durable/retry.rs"]
mod retry;
#[path = "durable/shutdown.rs"]
mod shutdown;
#[path = "durable/sleep.rs"]
mod sleep;
#[path = "support/smtp_server.rs"]
#[allow(dead_code)] // TLS helpers of the email tests
mod smtp_server;
#[path = "durable/sqlite.rs"]
mod sqlite;
#[path = "durable/timeouts.rs"]
mod timeouts;
#[path = "durable/writes.rs"]
mod writes;
