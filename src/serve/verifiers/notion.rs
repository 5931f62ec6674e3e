//! Notion webhooks: once, Notion posts `{"verification_token": "..."}` unsigned to the endpoint
//! (the handshake: the operator pastes that token back into Notion to activate the
//! subscription); afterwards every event carries `X-Notion-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the body keyed by that token.

use std::sync::RwLock;

use super::hmac::verify_tag;
use super::{read, Delivery, Rejection, Secret, Verdict};

const HEADER: &str = "X-Notion-Signature";

#[derive(Debug)]
pub(super) struct Notion {
    token: RwLock<Option<Secret>>,
}

impl Notion {
    pub(super) fn new(token: Option<Secret>) -> Notion {
        Notion {
            token: RwLock::new(token),
        }
    }

    pub(super) fn set_token(&self, token: &str) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = Some(Secret::new(token.as_bytes()));
    }

    pub(super) fn verify(&self, delivery: &Delivery<'_>) -> Result<Verdict, Rejection> {
        let Some(signature) = delivery.header(HEADER) else {
            return match handshake_token(delivery.body) {
                // Before a token is known, the handshake is the only unsigned request taken;
                // after, a second one is refused so nobody can swap the key.
                Some(token) if read(&self.token).is_none() => Ok(Verdict::Handshake {
                    notion_token: Some(token),
                }),
                _ => Err(Rejection::Missing(format!("header `{HEADER}`"))),
            };
        };
        let Some(token) = read(&self.token) else {
            return Err(Rejection::NotReady(
                "Notion's verification handshake has not been received".into(),
            ));
        };
        let hex_tag = signature
            .trim()
            .strip_prefix("sha256=")
            .unwrap_or(signature.trim());
        let tag = hex::decode(hex_tag).map_err(|_| Rejection::Malformed(format!("header `{HEADER}`")))?;
        verify_tag(token.bytes(), &[delivery.body], &tag)
            .map_err(|()| Rejection::Mismatch(format!("header `{HEADER}`")))?;
        Ok(Verdict::Accepted)
    }
}

/// The token of a verification request: a JSON object whose only key is `verification_token`.
fn handshake_token(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = json.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get("verification_token")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::{sign_hmac_sha256, Delivery, Rejection, Verdict, Verifier};
    use crate::serve::settings::{Encoding, WebhookSettings};

    const HANDSHAKE: &[u8] =
        br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#;
    const EVENT: &[u8] = br#"{"id":"367cba44-b6f3-4c92-81e7-6a2e9659efd4","timestamp":"2024-12-05T23:55:34.285Z","workspace_id":"13950b26-c203-4f3b-b97d-93ec06319565","subscription_id":"29d75c0d-5546-4414-8459-7b7a92f1fc4b","integration_id":"0ef2e755-4912-8096-91c1-00376a88a5ca","type":"page.properties_updated","authors":[{"id":"c7c11cca-1d73-471d-9b6e-bdef51470190","type":"person"}],"entity":{"id":"153104cd-477e-809d-8dc4-ff2d96ae3090","type":"page"},"data":{"parent":{"id":"13950b26-c203-4f3b-b97d-93ec06319565","type":"space"},"updated_properties":["XGe%40"]}}"#;

    fn deliver(v: &Verifier, signature: Option<&str>, body: &[u8]) -> Result<Verdict, Rejection> {
        let mut headers = HeaderMap::new();
        if let Some(s) = signature {
            headers.insert("x-notion-signature", s.parse().unwrap());
        }
        v.verify(&Delivery {
            headers: &headers,
            query: None,
            body,
            now: 0,
        })
    }

    fn verifier(token: Option<&'static str>) -> Verifier {
        let settings: WebhookSettings = toml::from_str("scheme = \"notion\"\nsecret_env = \"N\"").unwrap();
        Verifier::new("notion", &settings, &move |_| token.map(str::to_string)).unwrap()
    }

    #[test]
    fn the_handshake_is_taken_once_then_events_must_be_signed_with_its_token() {
        let v = verifier(None);
        let Ok(Verdict::Handshake {
            notion_token: Some(token),
        }) = deliver(&v, None, HANDSHAKE)
        else {
            panic!("the handshake was not recognised")
        };
        assert!(matches!(
            deliver(&v, Some("sha256=00"), EVENT),
            Err(Rejection::NotReady(_))
        ));
        v.set_notion_token(&token);
        let signature = sign_hmac_sha256(token.as_bytes(), EVENT, Encoding::Hex, "sha256=");
        assert_eq!(deliver(&v, Some(&signature), EVENT), Ok(Verdict::Accepted));
        assert!(matches!(deliver(&v, None, HANDSHAKE), Err(Rejection::Missing(_))));
        let other = sign_hmac_sha256(b"secret_other", EVENT, Encoding::Hex, "sha256=");
        assert!(matches!(
            deliver(&v, Some(&other), EVENT),
            Err(Rejection::Mismatch(_))
        ));
    }

    #[test]
    fn an_unsigned_event_is_never_a_handshake() {
        let v = verifier(None);
        assert!(matches!(deliver(&v, None, EVENT), Err(Rejection::Missing(_))));
    }
}
