//! `[webhooks.NAME]` of flowc.toml: how the requests of one provider are verified.
//!
//! A table names a `scheme`; the provider presets (`github`, `shopify`, `typeform`, `notion`,
//! `standard-webhooks`) fill in the header, encoding and delivery id their provider uses, and
//! any of those may still be given to override them.

use serde::{Deserialize, Serialize};

/// The API token's environment variable when `[serve]` names none.
pub const DEFAULT_API_TOKEN_ENV: &str = "FLOWC_API_TOKEN";

/// `[serve]` of flowc.toml: settings of `flowc serve` itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Environment variable holding the bearer token of `/api` (default `FLOWC_API_TOKEN`).
    #[serde(default)]
    pub api_token_env: Option<String>,
    /// What happens to schedule due times missed while the host was down (default: one
    /// catch-up run).
    #[serde(default)]
    pub missed_schedules: super::schedules::Missed,
    /// `[serve.notion]`: how Notion changes reach `on notion` triggers.
    #[serde(default)]
    pub notion: NotionTriggerSettings,
    /// `[serve.mirror]`: instances mirrored into their entity's WorkflowInstance database.
    #[serde(default)]
    pub mirror: MirrorSettings,
}

/// Where Notion's webhooks are taken when no `[serve.notion] webhook_path` is written.
pub const DEFAULT_NOTION_WEBHOOK_PATH: &str = "/webhooks/notion";

/// `[serve.notion]`: Notion webhooks and the polling fallback of `on notion` triggers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotionTriggerSettings {
    /// Entity `E`'s webhook subscription posts to `PATH/E` (default `/webhooks/notion`).
    #[serde(default = "default_notion_path")]
    pub webhook_path: String,
    /// How often each watched database is queried for pages edited since the last poll, in
    /// case a webhook was lost (default `"1m"`).
    #[serde(default = "default_poll_every")]
    pub poll_every: crate::config::ConfigDuration,
    /// Whether the polling fallback runs at all (default true).
    #[serde(default = "yes")]
    pub poll: bool,
}

impl Default for NotionTriggerSettings {
    fn default() -> Self {
        NotionTriggerSettings {
            webhook_path: default_notion_path(),
            poll_every: default_poll_every(),
            poll: true,
        }
    }
}

/// `[serve.mirror]`: each instance as a page of its entity's WorkflowInstance database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSettings {
    /// Whether instances are mirrored (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Flows whose instances are not mirrored (e.g. a five-minute health check).
    #[serde(default)]
    pub skip: Vec<String>,
    /// How often the mirror looks for changes to write (default `"2s"`); writes go through the
    /// entity's Notion rate limit either way.
    #[serde(default = "default_mirror_every")]
    pub every: crate::config::ConfigDuration,
}

impl Default for MirrorSettings {
    fn default() -> Self {
        MirrorSettings {
            enabled: true,
            skip: Vec::new(),
            every: default_mirror_every(),
        }
    }
}

impl MirrorSettings {
    /// Whether instances of `flow` are mirrored.
    pub fn mirrors(&self, flow: &str) -> bool {
        self.enabled && !self.skip.iter().any(|f| f == flow)
    }
}

fn default_notion_path() -> String {
    DEFAULT_NOTION_WEBHOOK_PATH.to_string()
}

fn default_poll_every() -> crate::config::ConfigDuration {
    crate::config::ConfigDuration(std::time::Duration::from_secs(60))
}

fn default_mirror_every() -> crate::config::ConfigDuration {
    crate::config::ConfigDuration(std::time::Duration::from_secs(2))
}

fn yes() -> bool {
    true
}

impl ServeSettings {
    /// The API token, read through `env`; none when the variable is unset or empty.
    pub fn api_token(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<super::verifiers::Secret> {
        let name = self.api_token_env.as_deref().unwrap_or(DEFAULT_API_TOKEN_ENV);
        env(name)
            .filter(|t| !t.is_empty())
            .map(super::verifiers::Secret::new)
    }
}

/// `[webhooks.NAME]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The verification scheme or provider preset.
    pub scheme: Scheme,
    /// Environment variable holding the secret (token, signing key, Notion verification token).
    pub secret_env: String,
    /// The header carrying the token or signature (schemes `token` and `hmac-sha256`).
    #[serde(default)]
    pub header: Option<String>,
    /// The query parameter carrying the token (scheme `query-token`).
    #[serde(default)]
    pub param: Option<String>,
    /// How an HMAC signature is written: `hex` or `base64` (scheme `hmac-sha256`).
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Text before the signature in its header, e.g. `sha256=` (scheme `hmac-sha256`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// How far a signed timestamp may be from now (scheme `standard-webhooks`, default `"5m"`).
    #[serde(default)]
    pub tolerance: Option<crate::config::ConfigDuration>,
    /// Where a delivery's id is read, so a repeated delivery starts nothing new:
    /// `header:NAME` or `body:/json/pointer`.
    #[serde(default)]
    pub delivery_id: Option<String>,
}

/// The verification schemes and provider presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// A shared secret in a header, compared as it is.
    Token,
    /// A shared secret in the URL's query (Amelia puts it in the webhook URL).
    QueryToken,
    /// HMAC-SHA256 of the raw body, in a header (`header`, `encoding`, `prefix`).
    HmacSha256,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`, delivery id `X-GitHub-Delivery`.
    Github,
    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>`, delivery id `X-Shopify-Webhook-Id`.
    Shopify,
    /// Typeform: `Typeform-Signature: sha256=<base64>`, delivery id the body's `event_id`.
    Typeform,
    /// Notion: `X-Notion-Signature: sha256=<hex>` keyed by the verification token Notion
    /// posts once to the endpoint; delivery id the body's `id`.
    Notion,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` with a
    /// `whsec_` key and a replay window.
    StandardWebhooks,
}

/// How an HMAC signature is written in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// Lowercase or uppercase hexadecimal.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// Where a delivery id is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryIdSource {
    /// A request header.
    Header(String),
    /// A JSON pointer into the body (`/event_id`).
    Body(String),
}

/// An HMAC scheme with every part settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HmacLayout {
    /// The header carrying the signature.
    pub header: String,
    /// How the signature is written.
    pub encoding: Encoding,
    /// Text before the signature (`sha256=`), optional in the header.
    pub prefix: Option<String>,
}

impl WebhookSettings {
    /// The HMAC layout of an `hmac-sha256` scheme or preset: the preset's values unless
    /// overridden; an error says which key is missing.
    pub fn hmac_layout(&self) -> Result<Option<HmacLayout>, String> {
        let (header, encoding, prefix) = match self.scheme {
            Scheme::Github => ("X-Hub-Signature-256", Encoding::Hex, Some("sha256=")),
            Scheme::Shopify => ("X-Shopify-Hmac-Sha256", Encoding::Base64, None),
            Scheme::Typeform => ("Typeform-Signature", Encoding::Base64, Some("sha256=")),
            Scheme::Notion => ("X-Notion-Signature", Encoding::Hex, Some("sha256=")),
            Scheme::HmacSha256 => {
                let header = self
                    .header
                    .clone()
                    .ok_or("scheme `hmac-sha256` needs `header`, the header carrying the signature")?;
                let encoding = self
                    .encoding
                    .ok_or("scheme `hmac-sha256` needs `encoding`: `hex` or `base64`")?;
                return Ok(Some(HmacLayout {
                    header,
                    encoding,
                    prefix: self.prefix.clone(),
                }));
            }
            Scheme::Token | Scheme::QueryToken | Scheme::StandardWebhooks => return Ok(None),
        };
        Ok(Some(HmacLayout {
            header: self.header.clone().unwrap_or_else(|| header.to_string()),
            encoding: self.encoding.unwrap_or(encoding),
            prefix: self.prefix.clone().or(prefix.map(str::to_string)),
        }))
    }

    /// Where this provider's delivery ids are read, if anywhere.
    pub fn delivery_id_source(&self) -> Result<Option<DeliveryIdSource>, String> {
        if let Some(spec) = &self.delivery_id {
            return match spec.split_once(':') {
                Some(("header", name)) if !name.is_empty() => {
                    Ok(Some(DeliveryIdSource::Header(name.to_string())))
                }
                Some(("body", pointer)) if pointer.starts_with('/') => {
                    Ok(Some(DeliveryIdSource::Body(pointer.to_string())))
                }
                _ => Err(format!(
                    "`delivery_id = \"{spec}\"` is neither `header:NAME` nor `body:/json/pointer`"
                )),
            };
        }
        Ok(match self.scheme {
            Scheme::Github => Some(DeliveryIdSource::Header("X-GitHub-Delivery".into())),
            Scheme::Shopify => Some(DeliveryIdSource::Header("X-Shopify-Webhook-Id".into())),
            Scheme::Typeform => Some(DeliveryIdSource::Body("/event_id".into())),
            Scheme::Notion => Some(DeliveryIdSource::Body("/id".into())),
            Scheme::StandardWebhooks => Some(DeliveryIdSource::Header("webhook-id".into())),
            Scheme::Token | Scheme::QueryToken | Scheme::HmacSha256 => None,
        })
    }

    /// Every problem of this table (what `flowc check` reports), empty when it is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.scheme {
            Scheme::Token if self.header.is_none() => {
                problems.push("scheme `token` needs `header`, the header carrying the token".to_string())
            }
            Scheme::QueryToken if self.param.is_none() => problems.push(
                "scheme `query-token` needs `param`, the query parameter carrying the token".to_string(),
            ),
            _ => {}
        }
        if let Err(e) = self.hmac_layout() {
            problems.push(e);
        }
        if let Err(e) = self.delivery_id_source() {
            problems.push(e);
        }
        if self.secret_env.trim().is_empty() {
            problems
                .push("`secret_env` is empty: name the environment variable holding the secret".to_string());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebhookSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn presets_fill_in_their_provider_layout() {
        let s = parse("scheme = \"typeform\"\nsecret_env = \"T\"").unwrap();
        let layout = s.hmac_layout().unwrap().unwrap();
        assert_eq!(layout.header, "Typeform-Signature");
        assert_eq!(layout.encoding, Encoding::Base64);
        assert_eq!(layout.prefix.as_deref(), Some("sha256="));
        assert_eq!(
            s.delivery_id_source().unwrap(),
            Some(DeliveryIdSource::Body("/event_id".into()))
        );
        assert!(s.problems().is_empty());
    }

    #[test]
    fn a_generic_hmac_without_encoding_is_a_problem() {
        let s = parse("scheme = \"hmac-sha256\"\nheader = \"X-Sig\"\nsecret_env = \"S\"").unwrap();
        assert_eq!(
            s.problems(),
            vec!["scheme `hmac-sha256` needs `encoding`: `hex` or `base64`"]
        );
    }

    #[test]
    fn unknown_schemes_and_keys_are_refused_when_read() {
        let e = parse("scheme = \"md5\"\nsecret_env = \"S\"").unwrap_err();
        assert!(e.contains("unknown variant `md5`"), "{e}");
        let e = parse("scheme = \"token\"\nheadr = \"X\"\nsecret_env = \"S\"").unwrap_err();
        assert!(e.contains("unknown field `headr`"), "{e}");
    }

    #[test]
    fn query_token_needs_its_parameter_and_delivery_ids_a_known_place() {
        let s = parse("scheme = \"query-token\"\nsecret_env = \"S\"\ndelivery_id = \"cookie:x\"").unwrap();
        assert_eq!(s.problems().len(), 2, "{:?}", s.problems());
    }
}
