//! Durable stores: the runtime's [`Store`](crate::runtime::Store) trait on real databases.

mod schema;
mod sqlite;

pub use sqlite::{Durability, SqliteStore};
