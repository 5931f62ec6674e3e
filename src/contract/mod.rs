//! The contract between flows, the checker and the connectors, as data and without IO: connector
//! manifests (actions, argument and result types, docs), error classes, database access and
//! grants, the Notion schema types, what a flow may read (secrets per entity) and the survey
//! forms' field refs. The checker judges flows by it; the runtime and the connectors run by it.

pub mod error_class;
pub mod grants;
pub mod manifest;
pub mod manifests;
pub mod notion_schema;
pub mod phone_number;
pub mod secrets;
pub mod sms_segments;
pub mod survey_forms;

pub use error_class::ErrorClass;
pub use grants::Grants;
pub use manifest::{Access, ActionSpec, Manifest, ParamSpec, RateLimit, RetrySpec};
pub use manifests::Manifests;
pub use notion_schema::{DatabaseSchema, NotionSchemas, PropertySchema};
pub use survey_forms::SurveyForms;
