//! HMAC-SHA256 of the raw body in a header: hex or base64, with or without a prefix such as
//! `sha256=` (GitHub, Shopify, Typeform, and any provider configured by hand).

use base64::Engine as _;
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

use super::{Delivery, Rejection, Secret, Verdict};
use crate::serve::settings::{Encoding, HmacLayout};

type HmacSha256 = SimpleHmac<Sha256>;

#[derive(Debug)]
pub(super) struct Hmac {
    layout: HmacLayout,
    key: Secret,
}

impl Hmac {
    pub(super) fn new(layout: HmacLayout, key: Secret) -> Hmac {
        Hmac { layout, key }
    }

    pub(super) fn verify(&self, delivery: &Delivery<'_>) -> Result<Verdict, Rejection> {
        let what = format!("header `{}`", self.layout.header);
        let given = delivery
            .header(&self.layout.header)
            .ok_or_else(|| Rejection::Missing(what.clone()))?
            .trim();
        // The prefix is optional: some providers document it and some of their SDKs drop it.
        let given = match &self.layout.prefix {
            Some(p) => given.strip_prefix(p.as_str()).unwrap_or(given),
            None => given,
        };
        let tag = decode(given, self.layout.encoding).ok_or_else(|| Rejection::Malformed(what.clone()))?;
        verify_tag(self.key.bytes(), &[delivery.body], &tag).map_err(|()| Rejection::Mismatch(what))?;
        Ok(Verdict::Accepted)
    }
}

fn decode(text: &str, encoding: Encoding) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(text).ok(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
    }
}

/// Checks `tag` against the HMAC-SHA256 of the concatenated `parts` (constant-time, by the
/// `hmac` crate's `verify_slice`).
pub(super) fn verify_tag(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> Result<(), ()> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| ())?;
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).map_err(|_| ())
}

/// The HMAC-SHA256 of `body` under `key`, written as `encoding` after `prefix` (what a
/// provider puts in its header; the emulators and tests sign with it).
pub fn sign_hmac_sha256(key: &[u8], body: &[u8], encoding: Encoding, prefix: &str) -> String {
    let tag = mac(key, &[body]);
    let text = match encoding {
        Encoding::Hex => hex::encode(tag),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
    };
    format!("{prefix}{text}")
}

pub(super) fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("hmac keys have no length limit"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::{Delivery, Rejection, Verdict, Verifier};
    use super::*;
    use crate::serve::settings::WebhookSettings;

    /// GitHub's published example: secret `It's a Secret to Everybody`, payload `Hello, World!`
    /// (docs.github.com, "Validating webhook deliveries", testing the webhook payload validation).
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn verifier(preset: &str, secret: &'static str) -> Verifier {
        let settings: WebhookSettings =
            toml::from_str(&format!("scheme = \"{preset}\"\nsecret_env = \"K\"")).unwrap();
        Verifier::new(preset, &settings, &move |_| Some(secret.to_string())).unwrap()
    }

    fn check(v: &Verifier, header: &str, value: &str, body: &[u8]) -> Result<Verdict, Rejection> {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::HeaderName::from_bytes(header.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        v.verify(&Delivery {
            headers: &headers,
            query: None,
            body,
            now: 0,
        })
    }

    #[test]
    fn githubs_published_vector_verifies() {
        let v = verifier("github", GITHUB_SECRET);
        assert_eq!(
            check(&v, "X-Hub-Signature-256", GITHUB_SIGNATURE, GITHUB_BODY),
            Ok(Verdict::Accepted)
        );
        assert_eq!(
            sign_hmac_sha256(GITHUB_SECRET.as_bytes(), GITHUB_BODY, Encoding::Hex, "sha256="),
            GITHUB_SIGNATURE
        );
    }

    #[test]
    fn one_changed_byte_of_body_or_signature_is_refused() {
        let v = verifier("github", GITHUB_SECRET);
        assert!(matches!(
            check(&v, "X-Hub-Signature-256", GITHUB_SIGNATURE, b"Hello, World?"),
            Err(Rejection::Mismatch(_))
        ));
        let wrong = GITHUB_SIGNATURE.replace("e17", "e18");
        assert!(matches!(
            check(&v, "X-Hub-Signature-256", &wrong, GITHUB_BODY),
            Err(Rejection::Mismatch(_))
        ));
        assert!(matches!(
            check(&v, "X-Hub-Signature-256", "sha256=zz", GITHUB_BODY),
            Err(Rejection::Malformed(_))
        ));
        assert!(matches!(
            check(&v, "X-Other", GITHUB_SIGNATURE, GITHUB_BODY),
            Err(Rejection::Missing(_))
        ));
    }

    #[test]
    fn shopify_and_typeform_use_base64_with_and_without_the_prefix() {
        // The same HMAC as GitHub's vector, written as Shopify and Typeform write it.
        let b64 = "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=";
        let shopify = verifier("shopify", GITHUB_SECRET);
        assert_eq!(
            check(&shopify, "X-Shopify-Hmac-Sha256", b64, GITHUB_BODY),
            Ok(Verdict::Accepted)
        );
        let typeform = verifier("typeform", GITHUB_SECRET);
        let with_prefix = format!("sha256={b64}");
        assert_eq!(
            check(&typeform, "Typeform-Signature", &with_prefix, GITHUB_BODY),
            Ok(Verdict::Accepted)
        );
        assert_eq!(
            check(&typeform, "Typeform-Signature", b64, GITHUB_BODY),
            Ok(Verdict::Accepted)
        );
        assert_eq!(
            sign_hmac_sha256(GITHUB_SECRET.as_bytes(), GITHUB_BODY, Encoding::Base64, "sha256="),
            with_prefix
        );
    }
}
