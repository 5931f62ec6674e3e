//! Who may see the dashboard: the holder of the API token. Opening any dashboard page with
//! `?token=TOKEN` once sets a session cookie and redirects to the same page without the token.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

use crate::serve::verifiers::{constant_time_eq, Secret};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "flowc_session";

/// The header the dashboard's script sends with its API calls: a cross-site form cannot send
/// it, and a cross-site script cannot without a CORS preflight the host never grants.
pub(crate) const SCRIPT_HEADER: &str = "x-flowc-dashboard";

/// The cookie's value: derived from the token, so the token itself never sits in the browser.
pub(crate) fn session_value(token: &Secret) -> String {
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(token.bytes())
        .unwrap_or_else(|e| unreachable!("HMAC takes keys of any length: {e}"));
    mac.update(b"flowc dashboard session v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the request carries the dashboard's session cookie for `token`.
pub(crate) fn has_session(headers: &HeaderMap, token: &Secret) -> bool {
    let expected = session_value(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && constant_time_eq(value.as_bytes(), expected.as_bytes()))
}

/// Whether a request authenticated by the session cookie may do what it asks: reading, or a
/// change sent by the dashboard's own script.
pub(crate) fn cookie_may(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET || method == Method::HEAD || headers.contains_key(SCRIPT_HEADER)
}

/// What a dashboard page's request is, as to the session.
pub(crate) enum Access {
    /// Signed in: serve the page.
    Granted,
    /// Answer this instead (a redirect that sets the cookie, or the sign-in page).
    Answer(Response),
}

/// Checks a dashboard request: the cookie, or `?token=` (then a redirect that sets the cookie).
pub(crate) fn check(token: Option<&Secret>, uri: &Uri, headers: &HeaderMap) -> Access {
    let Some(token) = token else {
        return Access::Answer(refuse(
            "The dashboard is off: set the API token's environment variable (FLOWC_API_TOKEN unless flowc.toml's [serve] api_token_env names another) and restart flowc serve.",
        ));
    };
    let given = uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(given) = given {
        if !constant_time_eq(given.as_bytes(), token.bytes()) {
            return Access::Answer(refuse("That token is not the API token."));
        }
        return Access::Answer(sign_in(token, uri));
    }
    if has_session(headers, token) {
        Access::Granted
    } else {
        Access::Answer(refuse(
            "Sign in by opening this page once with ?token=TOKEN (the API token) at the end of its address.",
        ))
    }
}

/// The redirect to `uri` without its `token` parameter, setting the session cookie.
fn sign_in(token: &Secret, uri: &Uri) -> Response {
    let rest: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut target = uri.path().to_string();
    if !rest.is_empty() {
        target.push('?');
        target.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish(),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
        session_value(token)
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (HeaderValue::from_str(&target), HeaderValue::from_str(&cookie)) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refuse(why: &str) -> Response {
    let body = super::page::layout(
        "Sign in",
        &format!(
            "<h1>flowc serve</h1><p class=\"notice\">{}</p>",
            super::page::escape(why)
        ),
    );
    (StatusCode::UNAUTHORIZED, body).into_response()
}
