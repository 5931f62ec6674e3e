//! The `slack` connector: messages by `chat.postMessage` with each entity's bot token.

mod connector;
pub mod emulator;
mod errors;
mod history;
mod settings;
mod web_api;

pub use crate::contract::manifests::slack::manifest;
pub use connector::SlackConnector;
