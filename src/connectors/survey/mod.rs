//! The `survey` connector: Typeform forms built from templates in `stdlib/surveys`, and their
//! responses as plain records keyed by field `ref`.

mod answers;
mod connector;
mod created_log;
pub mod emulator;
mod form_journal;
mod form_rules;
mod manifest;
mod template;

pub use connector::SurveyConnector;
pub use manifest::manifest;
pub(crate) use template::refs_by_template;
