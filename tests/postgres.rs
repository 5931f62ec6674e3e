//! The PostgreSQL store against a real server (a throwaway cluster under `target/`): the rules
//! every store keeps, what only a shared database must do (hosts fenced from each other's
//! instances, connections that come back after a restart of the server), and the CLI on it.

#[path = "support/bookings.rs"]
mod bookings;
#[path = "postgres/claims.rs"]
mod claims;
#[path = "support/postgres_cluster.rs"]
mod cluster;
#[path = "support/store_conformance.rs"]
mod conformance;
#[path = "postgres/deliveries.rs"]
mod deliveries;
#[path = "postgres/docs.rs"]
mod docs;
#[path = "support/emulate_process.rs"]
#[allow(dead_code)] // the restart helpers of tests/emulate.rs
mod emulate_process;
#[path = "postgres/forward.rs"]
mod forward;
#[path = "postgres/hosts.rs"]
mod hosts;
#[path = "postgres/migrate.rs"]
mod migrate;
#[path = "postgres/schedules.rs"]
mod schedules;
#[path = "postgres/store.rs"]
mod store;
