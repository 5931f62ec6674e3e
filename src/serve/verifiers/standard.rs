//! Standard Webhooks (standardwebhooks.com): the signed content is `id.timestamp.body`, the key
//! is the base64 after `whsec_`, and `webhook-signature` holds space-separated `v1,<base64>`
//! signatures (several during a key rotation). A timestamp outside the window is a replay.

use base64::Engine as _;

use super::hmac::{mac, verify_tag};
use super::{Delivery, Rejection, Secret, Verdict};

/// The replay window when flowc.toml gives none: five minutes, as the specification suggests.
pub(super) const DEFAULT_TOLERANCE: u64 = 300;

#[derive(Debug)]
pub(super) struct Standard {
    key: Secret,
    tolerance: u64,
}

fn decode_key(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).ok()?;
    let b64 = text.strip_prefix("whsec_").unwrap_or(text);
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

impl Standard {
    pub(super) fn new(secret: Secret, tolerance: u64) -> Result<Standard, String> {
        let key =
            decode_key(secret.bytes()).ok_or("a Standard Webhooks secret is `whsec_` followed by base64")?;
        Ok(Standard {
            key: Secret::new(key),
            tolerance,
        })
    }

    pub(super) fn verify(&self, d: &Delivery<'_>) -> Result<Verdict, Rejection> {
        let get = |h: &str| {
            d.header(h)
                .ok_or_else(|| Rejection::Missing(format!("header `{h}`")))
        };
        let id = get("webhook-id")?;
        let ts_text = get("webhook-timestamp")?;
        let signatures = get("webhook-signature")?;
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| Rejection::Malformed("header `webhook-timestamp`".into()))?;
        if d.now.abs_diff(ts) > self.tolerance {
            return Err(Rejection::Stale(self.tolerance));
        }
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.trim().as_bytes(), b".", d.body];
        let ok = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .any(|tag| verify_tag(self.key.bytes(), &parts, &tag).is_ok());
        if ok {
            Ok(Verdict::Accepted)
        } else {
            Err(Rejection::Mismatch("header `webhook-signature`".into()))
        }
    }
}

/// The `webhook-signature` value for a message (`v1,<base64>`); `secret` is `whsec_...`.
pub fn sign_standard_webhook(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = decode_key(secret.as_bytes())?;
    let ts = timestamp.to_string();
    let tag = mac(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::{Delivery, Rejection, Verdict, Verifier};
    use super::*;
    use crate::serve::settings::WebhookSettings;

    // The specification's test vector (standard-webhooks reference libraries).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn deliver(signature: &str, now: i64, body: &[u8]) -> Result<Verdict, Rejection> {
        let settings: WebhookSettings =
            toml::from_str("scheme = \"standard-webhooks\"\nsecret_env = \"S\"").unwrap();
        let v = Verifier::new("std", &settings, &|_| Some(SECRET.to_string())).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", ID.parse().unwrap());
        headers.insert("webhook-timestamp", TS.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        v.verify(&Delivery {
            headers: &headers,
            query: None,
            body,
            now,
        })
    }

    #[test]
    fn the_specification_vector_verifies_and_signs() {
        assert_eq!(deliver(SIGNATURE, TS, BODY), Ok(Verdict::Accepted));
        assert_eq!(
            sign_standard_webhook(SECRET, ID, TS, BODY).as_deref(),
            Some(SIGNATURE)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let both = format!("v1,bm9wZQ== {SIGNATURE}");
        assert_eq!(deliver(&both, TS + 10, BODY), Ok(Verdict::Accepted));
    }

    #[test]
    fn replays_and_forgeries_are_refused() {
        assert_eq!(deliver(SIGNATURE, TS + 301, BODY), Err(Rejection::Stale(300)));
        assert_eq!(deliver(SIGNATURE, TS - 301, BODY), Err(Rejection::Stale(300)));
        assert!(matches!(
            deliver(SIGNATURE, TS, br#"{"test": 2432232315}"#),
            Err(Rejection::Mismatch(_))
        ));
        assert!(matches!(deliver("v2,abc", TS, BODY), Err(Rejection::Mismatch(_))));
    }
}
