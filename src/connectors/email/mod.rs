//! The `email` connector: sends rendered notification templates by SMTP (or into an outbox folder).

mod connector;
mod emulator;
mod message;
mod outbox;
mod sent_log;
mod settings;
mod smtp;

pub use crate::contract::manifests::email::manifest;
pub use connector::EmailConnector;
pub use emulator::SmtpEmulator;

/// Whether `text` is one email address (`local@domain`, RFC 5321/5322 as lettre reads it): what
/// an `email` input must be. `"@"`, `"a@"`, `"a b@c.d"` or `"a@b@c"` are not.
pub(crate) fn is_address(text: &str) -> bool {
    text.parse::<lettre::Address>().is_ok()
}
