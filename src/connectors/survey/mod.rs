//! The `survey` connector: Typeform forms built from templates in `stdlib/surveys`, and their
//! responses as plain records keyed by field `ref`.

mod answers;
mod connector;
mod created_log;
pub mod emulator;
mod form_journal;
mod form_rules;
mod template;

pub use crate::contract::manifests::survey::manifest;
pub use connector::SurveyConnector;
pub(crate) use template::refs_by_template;
