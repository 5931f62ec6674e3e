//! One webhook request, start to answer: body limit, provider pings, verification, body
//! decoding, deduplication, start. Answers are JSON: 202 `{"instance": ID}` once the start is
//! in the journal, 401 on a failed verification (nothing started), 400 with the reason, 413
//! over the body limit, 415 for a body that is not JSON, 503 with Retry-After while another host
//! sharing the store has the same delivery in hand and has not started its instance yet.

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::body::{self, Body, BodyError};
use super::deliveries;
use super::host::Host;
use super::once::{start_once, OnceError, RETRY_AFTER_SECS};
use super::settings::DeliveryIdSource;
use super::verifiers::{Delivery, Verdict};
use crate::runtime::{Claim, EngineError};

/// A JSON error answer: `{"error": reason}`.
pub(crate) fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    (status, Json(json!({ "error": reason.into() }))).into_response()
}

/// Handles a request to any path that is not one of the host's own: a webhook or a 404.
pub(crate) async fn handle(
    State(host): State<Arc<Host>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request_body: HttpBody,
) -> Response {
    let Some(route) = host.routes.get(uri.path()) else {
        return error(StatusCode::NOT_FOUND, format!("nothing at `{}`", uri.path()));
    };
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "webhooks take POST requests");
    }
    let reject = |reason: &str| host.metrics.rejections.with_label_values(&[reason]).inc();
    let Ok(bytes) = axum::body::to_bytes(request_body, host.options.body_limit).await else {
        reject("body_too_large");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the {}-byte limit", host.options.body_limit),
        );
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if body::is_woocommerce_ping(content_type, &bytes) {
        return (StatusCode::OK, Json(json!({ "ping": "woocommerce" }))).into_response();
    }
    if let Some(name) = &route.verifier {
        let Some(verifier) = host.verifiers.get(name) else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("verifier `{name}` is not set up"),
            );
        };
        let delivery = Delivery {
            headers: &headers,
            query: uri.query(),
            body: &bytes,
            now: chrono::Utc::now().timestamp(),
        };
        match verifier.verify(&delivery) {
            Ok(Verdict::Accepted) => {}
            Ok(Verdict::Handshake { notion_token }) => {
                if let Some(token) = notion_token {
                    host.keep_notion_token(name, &token);
                }
                return (StatusCode::OK, Json(json!({ "handshake": "accepted" }))).into_response();
            }
            Err(rejection) => {
                reject(&format!("signature_{}", rejection.label()));
                tracing::info!(path = %route.path, verifier = %name, "webhook refused: {rejection}");
                return error(
                    StatusCode::UNAUTHORIZED,
                    format!("verification failed: {rejection}"),
                );
            }
        }
    }
    let json = match body::read(content_type, &bytes) {
        Ok(Body::Json(json)) => json,
        Ok(Body::WooCommercePing) => unreachable!("pings are answered before verification"),
        Err(BodyError::UnsupportedType(reason)) => {
            reject("not_json");
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, reason);
        }
        Err(BodyError::Malformed(reason)) => {
            reject("malformed");
            return error(StatusCode::BAD_REQUEST, reason);
        }
    };
    let delivery_id = route
        .verifier
        .as_ref()
        .and_then(|v| host.delivery_ids.get(v))
        .and_then(|source| delivery_id(source, &headers, &json));
    let input = match body::input(&route.input_fields, json) {
        Ok(input) => input,
        Err(BodyError::Malformed(reason) | BodyError::UnsupportedType(reason)) => {
            reject("malformed");
            return error(StatusCode::BAD_REQUEST, reason);
        }
    };
    let started = match delivery_id {
        Some(id) => {
            let key = deliveries::key(&route.path, &id);
            let journaled = host.deliveries.journaled().then_some(key.as_str());
            let start = host.start_delivery(&route.flow, &route.entity, "webhook", input, journaled);
            let shared = host.options.store.as_deref();
            match shared.map(|s| (s.claim(&key), s)) {
                None | Some((Claim::Unshared, _)) => host
                    .deliveries
                    .once(&key, async { start.await.map(|i| i.0) })
                    .await
                    .map_err(OnceError::Engine),
                // Hosts sharing the store: the first to claim the delivery starts it, and its
                // start's commit records which instance that is.
                Some((claim, store)) => start_once(store, claim, &key, start).await,
            }
        }
        None => host
            .start(&route.flow, &route.entity, "webhook", input)
            .await
            .map(|i| (i.0, true))
            .map_err(OnceError::Engine),
    };
    match started {
        Ok((instance, fresh)) => (
            StatusCode::ACCEPTED,
            Json(json!({ "instance": instance, "duplicate": !fresh })),
        )
            .into_response(),
        Err(OnceError::Engine(EngineError::InvalidInput(reason))) => {
            reject("invalid_input");
            error(StatusCode::BAD_REQUEST, format!("invalid input: {reason}"))
        }
        Err(OnceError::Engine(EngineError::ShuttingDown)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "the host is shutting down")
        }
        // Another host has the delivery in hand: its retry will find the instance.
        Err(OnceError::InHand(reason)) => {
            let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, reason);
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            answer
        }
        Err(OnceError::Engine(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The delivery's id, where its provider puts it.
fn delivery_id(source: &DeliveryIdSource, headers: &HeaderMap, json: &serde_json::Value) -> Option<String> {
    match source {
        DeliveryIdSource::Header(name) => headers.get(name.as_str())?.to_str().ok().map(str::to_string),
        DeliveryIdSource::Body(pointer) => match json.pointer(pointer)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
    }
    .filter(|id| !id.is_empty())
}
