//! The `sms` connector: text messages by Twilio's Messages API, one account per entity.

mod connector;
pub mod emulator;
mod errors;
mod settings;

pub use crate::contract::manifests::sms::manifest;
pub use crate::contract::phone_number::is_e164;
pub use connector::SmsConnector;
