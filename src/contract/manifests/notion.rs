//! The Notion connector's actions: the contract shared by the checker and the runtime.

use std::time::Duration;

use crate::contract::{Access, ActionSpec, ErrorClass, Manifest, RateLimit, RetrySpec};
use crate::types::Type;

/// A Notion page as flows see it: its properties flattened by name (`client.Email`), plus
/// `id`, `url`, `created_time` and `last_edited_time`.
pub fn page_type() -> Type {
    Type::open_record([
        ("id", Type::Text),
        ("url", Type::Text),
        ("created_time", Type::Datetime),
        ("last_edited_time", Type::Datetime),
    ])
}

fn common(action: ActionSpec) -> ActionSpec {
    action
        .optional(
            "entity",
            Type::Entity,
            "the entity whose workspace is used (default: the flow's); another entity's needs its grant",
        )
        .retry(RetrySpec {
            attempts: 4,
            min: Duration::from_secs(1),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: true,
            on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
        })
        .rate_limited(RateLimit {
            per_second: 3.0,
            burst: 3,
        })
}

/// The manifest.
pub fn manifest() -> Manifest {
    let filter = Type::open_record([]);
    Manifest {
        name: "notion".to_string(),
        description: "Pages and databases in the entity's Notion workspace".to_string(),
        actions: vec![
            common(
                ActionSpec::new("create_page", "create a page in a database", page_type())
                    .param("db", Type::Database, "the logical database (`ContactProfile`)")
                    .param(
                        "properties",
                        Type::open_record([]),
                        "property values by property name",
                    )
                    .effectful()
                    .accesses(Access::Write),
            ),
            common(
                ActionSpec::new("get_page", "fetch one page by id", page_type())
                    .param("id", Type::Text, "the page id")
                    .accesses(Access::Read),
            ),
            common(
                ActionSpec::new("update_page", "change some properties of a page", page_type())
                    .param("id", Type::Text, "the page id")
                    .optional(
                        "db",
                        Type::Database,
                        "the page's database (to check property names and types)",
                    )
                    .param(
                        "properties",
                        Type::open_record([]),
                        "property values by property name",
                    )
                    .effectful()
                    .accesses(Access::Write),
            ),
            common(
                ActionSpec::new(
                    "query",
                    "every page matching a filter, all result pages followed",
                    Type::list(page_type()),
                )
                .param("db", Type::Database, "the logical database")
                .optional(
                    "where",
                    filter.clone(),
                    "property equalities, e.g. `{ Status: \"Active\" }`",
                )
                .optional(
                    "sort",
                    Type::list(Type::Text),
                    "property names; prefix `-` for descending",
                )
                .optional("limit", Type::Number, "stop after this many pages")
                .accesses(Access::Read),
            ),
            common(
                ActionSpec::new(
                    "query_one",
                    "the first page matching a filter, or none",
                    Type::optional(page_type()),
                )
                .param("db", Type::Database, "the logical database")
                .optional("where", filter.clone(), "property equalities")
                .optional(
                    "sort",
                    Type::list(Type::Text),
                    "property names; prefix `-` for descending",
                )
                .accesses(Access::Read),
            ),
            common(
                ActionSpec::new(
                    "find_or_create",
                    "the page whose unique property matches, created with `properties` if there is none",
                    Type::open_record([("id", Type::Text), ("url", Type::Text), ("created", Type::Bool)]),
                )
                .param("db", Type::Database, "the logical database")
                .param(
                    "match",
                    filter,
                    "the unique property and its value, e.g. `{ Email: input.email }`",
                )
                .optional(
                    "properties",
                    Type::open_record([]),
                    "property values for a new page",
                )
                .effectful()
                .accesses(Access::Write),
            ),
        ],
    }
}
