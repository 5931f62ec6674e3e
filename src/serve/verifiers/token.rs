//! Shared-token schemes: a secret in a header (`token`) or in the URL's query (`query-token`,
//! how Amelia is verified: the token is part of the webhook URL set in WordPress).

use super::{constant_time_eq, Rejection, Secret, Verdict};

/// Compares a received token with the secret, in constant time.
pub(super) fn check(given: &str, secret: &Secret, what: &str) -> Result<Verdict, Rejection> {
    if constant_time_eq(given.trim().as_bytes(), secret.bytes()) {
        Ok(Verdict::Accepted)
    } else {
        Err(Rejection::Mismatch(what.to_string()))
    }
}

/// The decoded value of query parameter `name`.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::{Delivery, Rejection, Verdict, Verifier};
    use crate::serve::settings::WebhookSettings;

    fn verifier(toml_text: &str) -> Verifier {
        let settings: WebhookSettings = toml::from_str(toml_text).unwrap();
        Verifier::new("amelia", &settings, &|name| {
            (name == "AMELIA").then(|| "s3cr3t+/=".to_string())
        })
        .unwrap()
    }

    fn delivery<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Delivery<'a> {
        Delivery {
            headers,
            query,
            body: b"{}",
            now: 0,
        }
    }

    #[test]
    fn the_query_token_is_read_url_decoded() {
        let v = verifier("scheme = \"query-token\"\nparam = \"token\"\nsecret_env = \"AMELIA\"");
        let h = HeaderMap::new();
        assert_eq!(
            v.verify(&delivery(&h, Some("a=1&token=s3cr3t%2B%2F%3D"))),
            Ok(Verdict::Accepted)
        );
        assert_eq!(
            v.verify(&delivery(&h, Some("token=s3cr3t"))),
            Err(Rejection::Mismatch("query parameter `token`".into()))
        );
        assert_eq!(
            v.verify(&delivery(&h, None)),
            Err(Rejection::Missing("query parameter `token`".into()))
        );
    }

    #[test]
    fn the_header_token_must_be_exact() {
        let v = verifier("scheme = \"token\"\nheader = \"X-Amelia-Token\"\nsecret_env = \"AMELIA\"");
        let mut h = HeaderMap::new();
        h.insert("x-amelia-token", "s3cr3t+/=".parse().unwrap());
        assert_eq!(v.verify(&delivery(&h, None)), Ok(Verdict::Accepted));
        h.insert("x-amelia-token", "s3cr3t+/".parse().unwrap());
        assert!(matches!(
            v.verify(&delivery(&h, None)),
            Err(Rejection::Mismatch(_))
        ));
    }

    #[test]
    fn a_missing_secret_variable_is_a_setup_error() {
        let settings: WebhookSettings =
            toml::from_str("scheme = \"token\"\nheader = \"X\"\nsecret_env = \"NOPE\"").unwrap();
        let e = Verifier::new("amelia", &settings, &|_| None).unwrap_err();
        assert_eq!(
            e,
            "webhook verifier `amelia`: environment variable `NOPE` is not set"
        );
    }
}
