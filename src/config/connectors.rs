//! The keys of each `[connectors.NAME]` table and the kind of value each takes, so that
//! `flowc.toml` is checked when it loads (a misspelt key or text where a number goes is reported
//! at its line) and every duration in it has the syntax of `.flow` files. The connectors read
//! the values again when built, and check what only they know (URLs, addresses, ranges).

// The fields are read only for their names and the kinds of their values.
#![allow(dead_code)]

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
    base_url: Option<String>,
    requests_per_second: Option<f64>,
    burst: Option<u32>,
    idempotency_property: Option<String>,
    timeout: Option<ConfigDuration>,
    rate_limit_retries: Option<u32>,
}

/// `[connectors.email]` (docs/connectors/email.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Email {
    url: Option<String>,
    outbox: Option<String>,
    sent_log: Option<String>,
    username_env: Option<String>,
    password_env: Option<String>,
    timeout: Option<ConfigDuration>,
    max_connections: Option<u32>,
    message_id_domain: Option<String>,
    ca_file: Option<String>,
    from: Option<String>,
    reply_to: Option<String>,
}

/// `[connectors.http]` (docs/connectors/http.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    allow_hosts: Option<Vec<String>>,
    timeout: Option<ConfigDuration>,
    max_response_bytes: Option<u64>,
    max_retry_after: Option<ConfigDuration>,
}

/// `[connectors.survey]` (docs/connectors/survey.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Survey {
    base_url: Option<String>,
    token_env: Option<String>,
    templates: Option<String>,
    page_size: Option<u32>,
    timeout: Option<ConfigDuration>,
    workspace_href: Option<String>,
    created_log: Option<String>,
}
