//! Finding the message of a post whose answer was lost: the conversation's id (the channel as
//! given when it is one; a user's direct-message channel by `conversations.open`; a channel name
//! through `conversations.list`), then the conversation's history since the attempt
//! (`conversations.history`, newest first, page by page with Slack's cursor) searched for a
//! bot message with the attempt's text.

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::web_api::{self, Args};
use crate::connectors::ConnectorError;

/// How far Slack's clock may be behind ours when it stamps the message.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);
/// Messages per page (Slack's default is 100, its documented maximum 999).
const PAGE: &str = "200";
/// Pages read before giving up: past this many messages since the attempt, it is not known.
const MAX_PAGES: usize = 10;

/// SHA-256 of `text` (hex): the intents keep this, not the text.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where to look and for what.
pub(crate) struct Wanted<'a> {
    /// The channel as the post named it (`C…`, `#name`, a user's `U…`).
    pub(crate) channel: &'a str,
    pub(crate) text_sha256: &'a str,
    /// When the attempt was made.
    pub(crate) at: DateTime<Utc>,
}

/// The Web API as the bot of one workspace.
pub(crate) struct Bot<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) base_url: &'a Url,
    pub(crate) token: &'a str,
}

impl Bot<'_> {
    async fn call(&self, method: &str, args: Args<'_>) -> Result<Json, ConnectorError> {
        web_api::call(self.client, self.base_url, self.token, method, args).await
    }

    /// The `(channel id, ts)` of the message `wanted` describes, if Slack has it.
    pub(crate) async fn find_posted(
        &self,
        wanted: &Wanted<'_>,
    ) -> Result<Option<(String, String)>, ConnectorError> {
        let Some(channel) = self.conversation_id(wanted.channel).await? else {
            // No such channel: the post cannot have landed anywhere.
            return Ok(None);
        };
        let oldest = format!("{}.000000", (wanted.at - CLOCK_SKEW).timestamp());
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("channel", channel.as_str()),
                ("oldest", oldest.as_str()),
                ("limit", PAGE),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let page = self.call("conversations.history", Args::Query(&query)).await?;
            let Some(messages) = page["messages"].as_array() else {
                return Err(ConnectorError::transient(
                    "Slack conversations.history answered ok without `messages`",
                ));
            };
            let found = messages.iter().find(|m| {
                m["bot_id"].is_string()
                    && m["text"].as_str().is_some_and(|t| {
                        sha256_hex(t) == wanted.text_sha256 || sha256_hex(&unescape(t)) == wanted.text_sha256
                    })
            });
            if let Some(ts) = found.and_then(|m| m["ts"].as_str()) {
                return Ok(Some((channel, ts.to_string())));
            }
            match next_cursor(&page) {
                Some(next) => cursor = next,
                None => return Ok(None),
            }
        }
        Err(ConnectorError::transient(format!(
            "more than {} messages since the attempt in the channel: too many to search",
            MAX_PAGES * 200
        )))
    }

    /// The conversation id of `channel` as a post names it; `None` when there is no such
    /// channel.
    async fn conversation_id(&self, channel: &str) -> Result<Option<String>, ConnectorError> {
        if is_id(channel, &['C', 'G', 'D']) {
            return Ok(Some(channel.to_string()));
        }
        if is_id(channel, &['U', 'W']) {
            // A post to a user goes to the bot's direct-message channel with them.
            let opened = self
                .call("conversations.open", Args::Form(&[("users", channel)]))
                .await?;
            return match opened["channel"]["id"].as_str() {
                Some(id) => Ok(Some(id.to_string())),
                None => Err(ConnectorError::transient(
                    "Slack conversations.open answered ok without `channel.id`",
                )),
            };
        }
        let name = channel.trim_start_matches('#');
        let mut cursor = String::new();
        loop {
            let mut query = vec![
                ("types", "public_channel,private_channel"),
                ("exclude_archived", "true"),
                ("limit", PAGE),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let page = self.call("conversations.list", Args::Query(&query)).await?;
            let found = page["channels"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"].as_str() == Some(name));
            if let Some(id) = found.and_then(|c| c["id"].as_str()) {
                return Ok(Some(id.to_string()));
            }
            match next_cursor(&page) {
                Some(next) => cursor = next,
                None => return Ok(None),
            }
        }
    }
}

/// Slack's cursor for the next page: absent or empty on the last one.
fn next_cursor(page: &Json) -> Option<String> {
    let more = page["has_more"].as_bool().unwrap_or(true);
    page["response_metadata"]["next_cursor"]
        .as_str()
        .filter(|c| !c.is_empty() && more)
        .map(str::to_string)
}

/// An id Slack gives (`C0123ABCD`): a letter of `kinds`, then upper-case letters and digits.
/// Channel names are lower case, so a name never passes.
pub(crate) fn is_id(text: &str, kinds: &[char]) -> bool {
    text.len() >= 8
        && text.starts_with(kinds)
        && text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Message text as Slack stores it, its three escapes undone (`&amp;`, `&lt;`, `&gt;`).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_told_apart() {
        assert!(is_id("C0ALERTS01", &['C', 'G', 'D']));
        assert!(is_id("U0123ANA", &['U', 'W']));
        assert!(!is_id("#team-alerts", &['C', 'G', 'D']));
        assert!(!is_id("cafe-chat", &['C', 'G', 'D']));
        assert!(!is_id("U0123ANA", &['C', 'G', 'D']));
        assert_eq!(unescape("Tom &amp; Jerry &lt;3"), "Tom & Jerry <3");
        let page = serde_json::json!({ "has_more": true, "response_metadata": { "next_cursor": "abc" } });
        assert_eq!(next_cursor(&page).as_deref(), Some("abc"));
        let last = serde_json::json!({ "has_more": false, "response_metadata": { "next_cursor": "" } });
        assert_eq!(next_cursor(&last), None);
    }
}
