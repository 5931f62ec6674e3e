//! Webhook verifiers: does a request come from the provider it claims? Pure functions of the
//! request's headers, query and raw body (and the time, for replay windows).
//!
//! Every comparison of a secret or a signature is constant-time, so timing says nothing about
//! how much of a guess was right.

mod hmac;
mod notion;
mod standard;
mod token;

use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::settings::{Scheme, WebhookSettings};

pub use self::hmac::sign_hmac_sha256;
pub use self::standard::sign_standard_webhook;

/// What a verifier looks at.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw query string (after `?`), if any.
    pub query: Option<&'a str>,
    /// The raw body, byte for byte as received.
    pub body: &'a [u8],
    /// Now, in Unix seconds (for replay windows).
    pub now: i64,
}

impl Delivery<'_> {
    /// A header's value as text, if present and readable.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request was refused (answered 401; the reason goes to logs and metrics, never the
/// secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The header or parameter carrying the token or signature is absent.
    #[error("missing {0}")]
    Missing(String),
    /// It is there but does not match.
    #[error("{0} does not match")]
    Mismatch(String),
    /// The signed timestamp is outside the replay window.
    #[error("timestamp outside the {0}s replay window")]
    Stale(u64),
    /// It cannot be read (bad encoding, bad timestamp).
    #[error("malformed {0}")]
    Malformed(String),
    /// The verifier has no secret yet (Notion before its verification handshake).
    #[error("no secret yet: {0}")]
    NotReady(String),
}

impl Rejection {
    /// A short stable label for metrics (`missing`, `mismatch`, `stale`, `malformed`, `not_ready`).
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::Missing(_) => "missing",
            Rejection::Mismatch(_) => "mismatch",
            Rejection::Stale(_) => "stale",
            Rejection::Malformed(_) => "malformed",
            Rejection::NotReady(_) => "not_ready",
        }
    }
}

/// A secret read from the environment: never printed.
#[derive(Clone)]
pub struct Secret(Arc<Vec<u8>>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(Arc::new(bytes.into()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One configured verifier (`[webhooks.NAME]` with its secret).
#[derive(Debug)]
pub struct Verifier {
    name: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Header { header: String, secret: Secret },
    Query { param: String, secret: Secret },
    Hmac(hmac::Hmac),
    Notion(notion::Notion),
    Standard(standard::Standard),
}

/// What a verifier says about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Authentic: go on.
    Accepted,
    /// A provider handshake, answered 200 and starting nothing; Notion's carries the
    /// verification token to keep.
    Handshake {
        /// Notion's verification token, when the handshake carried one.
        notion_token: Option<String>,
    },
}

impl Verifier {
    /// Builds verifier `name` from its settings; `env` reads environment variables. A missing
    /// secret is an error, except Notion's, which arrives with the handshake.
    pub fn new(
        name: &str,
        settings: &WebhookSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Verifier, String> {
        if let Some(problem) = settings.problems().into_iter().next() {
            return Err(format!("webhook verifier `{name}`: {problem}"));
        }
        let secret = env(&settings.secret_env)
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        let need = |secret: Option<Secret>| {
            secret.ok_or_else(|| {
                format!(
                    "webhook verifier `{name}`: environment variable `{}` is not set",
                    settings.secret_env
                )
            })
        };
        let kind = match settings.scheme {
            Scheme::Token => Kind::Header {
                header: settings.header.clone().unwrap_or_default(),
                secret: need(secret)?,
            },
            Scheme::QueryToken => Kind::Query {
                param: settings.param.clone().unwrap_or_default(),
                secret: need(secret)?,
            },
            Scheme::Notion => Kind::Notion(notion::Notion::new(secret)),
            Scheme::StandardWebhooks => Kind::Standard(standard::Standard::new(
                need(secret)?,
                settings
                    .tolerance
                    .map_or(standard::DEFAULT_TOLERANCE, |t| t.get().as_secs()),
            )?),
            Scheme::HmacSha256 | Scheme::Github | Scheme::Shopify | Scheme::Typeform => {
                let layout = settings.hmac_layout()?.ok_or("not an hmac scheme")?;
                Kind::Hmac(hmac::Hmac::new(layout, need(secret)?))
            }
        };
        Ok(Verifier {
            name: name.to_string(),
            kind,
        })
    }

    /// The verifier's name (`amelia`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies one request.
    pub fn verify(&self, delivery: &Delivery<'_>) -> Result<Verdict, Rejection> {
        match &self.kind {
            Kind::Header { header, secret } => {
                let given = delivery
                    .header(header)
                    .ok_or_else(|| Rejection::Missing(format!("header `{header}`")))?;
                token::check(given, secret, &format!("header `{header}`"))
            }
            Kind::Query { param, secret } => {
                let given = token::query_param(delivery.query, param)
                    .ok_or_else(|| Rejection::Missing(format!("query parameter `{param}`")))?;
                token::check(&given, secret, &format!("query parameter `{param}`"))
            }
            Kind::Hmac(h) => h.verify(delivery),
            Kind::Notion(n) => n.verify(delivery),
            Kind::Standard(s) => s.verify(delivery),
        }
    }

    /// Keeps the Notion verification token received in a handshake (no-op for other schemes).
    pub fn set_notion_token(&self, token: &str) {
        if let Kind::Notion(n) = &self.kind {
            n.set_token(token);
        }
    }
}

/// Constant-time equality of two byte strings of any lengths: both are hashed first, so even
/// the length of the expected value does not leak.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (Sha256::digest(a), Sha256::digest(b));
    bool::from(ha.ct_eq(&hb))
}

/// A lock that a poisoned writer does not turn into a panic for readers.
pub(crate) fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(|e| e.into_inner()).clone()
}
