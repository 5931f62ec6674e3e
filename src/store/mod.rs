//! Durable stores: the runtime's [`Store`](crate::runtime::Store) trait on real databases.

mod delivery_index;
mod postgres;
mod schema;
mod sqlite;
mod unwritten;
mod wal;
mod writer_queue;

pub use postgres::{PostgresStore, DEFAULT_LEASE, PASSWORD_ENV};
pub use sqlite::{Durability, SqliteStore};
