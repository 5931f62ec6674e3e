//! The `email` connector: sends rendered notification templates by SMTP (or into an outbox folder).

mod connector;
mod manifest;
mod message;
mod outbox;
mod sent_log;
mod settings;
mod smtp;

pub use connector::EmailConnector;
pub use manifest::manifest;
