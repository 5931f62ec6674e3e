//! The `sms` connector: text messages by Twilio's Messages API, one account per entity.

mod connector;
pub mod emulator;
mod errors;
mod number;
mod settings;

pub use crate::contract::manifests::sms::manifest;
pub use connector::SmsConnector;
pub use number::is_e164;
