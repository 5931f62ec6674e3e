//! The keys of each `[connectors.NAME]` table, so that `flowc.toml` is checked when it loads (a
//! misspelt key is reported at its line, with the key meant) and every duration in it has the
//! syntax of `.flow` files. The connectors read and check the values themselves when built.

// The fields are read only for their names and, for durations, their syntax.
#![allow(dead_code)]

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::ConfigDuration;

/// The part of `flowc.toml` checked here; every other table is read by [`super::Config`].
#[derive(Deserialize)]
pub(super) struct Tables {
    #[serde(default)]
    connectors: Connectors,
}

/// `[connectors]`: the built-in connectors that read settings.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connectors {
    notion: Option<Notion>,
    email: Option<Email>,
    http: Option<Http>,
    survey: Option<Survey>,
}

/// `[connectors.notion]` (docs/connectors/notion.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notion {
    base_url: Option<IgnoredAny>,
    requests_per_second: Option<IgnoredAny>,
    burst: Option<IgnoredAny>,
    idempotency_property: Option<IgnoredAny>,
    timeout: Option<ConfigDuration>,
    rate_limit_retries: Option<IgnoredAny>,
}

/// `[connectors.email]` (docs/connectors/email.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Email {
    url: Option<IgnoredAny>,
    outbox: Option<IgnoredAny>,
    sent_log: Option<IgnoredAny>,
    username_env: Option<IgnoredAny>,
    password_env: Option<IgnoredAny>,
    timeout: Option<ConfigDuration>,
    max_connections: Option<IgnoredAny>,
    message_id_domain: Option<IgnoredAny>,
    ca_file: Option<IgnoredAny>,
    from: Option<IgnoredAny>,
    reply_to: Option<IgnoredAny>,
}

/// `[connectors.http]` (docs/connectors/http.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    allow_hosts: Option<IgnoredAny>,
    timeout: Option<ConfigDuration>,
    max_response_bytes: Option<IgnoredAny>,
    max_retry_after: Option<ConfigDuration>,
}

/// `[connectors.survey]` (docs/connectors/survey.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Survey {
    base_url: Option<IgnoredAny>,
    token_env: Option<IgnoredAny>,
    templates: Option<IgnoredAny>,
    page_size: Option<IgnoredAny>,
    timeout: Option<ConfigDuration>,
    workspace_href: Option<IgnoredAny>,
    created_log: Option<IgnoredAny>,
}
