//! Requests for instances another host holds, on a store hosts share: `/api`'s event, cancel
//! and retry, received by a host that does not run the instance, are queued in the store for
//! the host that does ([`Store::forward`]), and each host applies what is queued for it as soon
//! as the store wakes it. A request leaves the queue in the commit of the events it caused, so
//! it takes effect once, even when its holder dies while applying it.

use std::sync::{Arc, Weak};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::task::JoinHandle;

use super::host::Host;
use super::webhooks::error;
use crate::runtime::{Command, Commit, Engine, EngineError, EventKind, Forwarded, InstanceId, Store};

/// Queues `command` for the host that holds instance `id`: the answer to the request when it
/// was queued (202 with `"forwarded": true`) or could not be (503), `None` when the store
/// forwards nothing or has no such instance in a state the command applies to.
pub(crate) async fn forward(
    host: &Host,
    id: &str,
    command: Command,
    answer: serde_json::Value,
) -> Option<Response> {
    let store = host.options.store.clone()?;
    let (instance, asked) = (id.to_string(), command);
    let queued = tokio::task::spawn_blocking(move || store.forward(&instance, &asked)).await;
    match queued {
        Ok(Ok(true)) => {
            let mut answer = answer;
            answer["forwarded"] = json!(true);
            Some((StatusCode::ACCEPTED, Json(answer)).into_response())
        }
        Ok(Ok(false)) => None,
        Ok(Err(e)) => Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot pass the request on to the host that holds `{id}`: {e}"),
        )),
        Err(_) => Some(error(StatusCode::INTERNAL_SERVER_ERROR, "the request was lost")),
    }
}

/// Applies the requests other hosts forward to this one, as they come; `None` for a store that
/// forwards nothing. For embedding an [`Engine`] without a [`Host`] (the benches).
pub fn apply_forwarded(engine: Engine, store: Arc<dyn Store>) -> Option<JoinHandle<()>> {
    run(engine, store, |_| {})
}

/// [`apply_forwarded`] for `host`: an instance retried here is followed like one it started.
pub(crate) fn follow_forwarded(host: &Arc<Host>) -> Option<JoinHandle<()>> {
    let store = host.options.store.clone()?;
    let weak: Weak<Host> = Arc::downgrade(host);
    run(host.engine.clone(), store, move |id: &InstanceId| {
        let Some(host) = weak.upgrade() else { return };
        if let Some(EventKind::InstanceStarted { flow, entity, .. }) =
            host.engine.history(id).first().map(|e| e.kind.clone())
        {
            host.follow(id.clone(), &flow, entity.as_deref().unwrap_or(""), "retry");
        }
    })
}

fn run(
    engine: Engine,
    store: Arc<dyn Store>,
    retried: impl Fn(&InstanceId) + Send + Sync + 'static,
) -> Option<JoinHandle<()>> {
    let wake = store.forwarded_wake()?;
    Some(tokio::spawn(async move {
        loop {
            let reader = store.clone();
            let queued = tokio::task::spawn_blocking(move || reader.forwarded())
                .await
                .unwrap_or_default();
            let mut settled = false;
            for f in queued {
                settled |= apply(&engine, store.as_ref(), &f, &retried).await;
            }
            // Requests left queued wait for their instance's holder to take it back: read
            // again when woken (a new request, or the store's periodic safety net).
            if !settled {
                wake.notified().await;
            }
        }
    }))
}

/// Applies one forwarded request; whether it left the queue.
async fn apply(
    engine: &Engine,
    store: &dyn Store,
    f: &Forwarded,
    retried: &(impl Fn(&InstanceId) + Send + Sync),
) -> bool {
    let id = InstanceId(f.instance.clone());
    store.applying(f);
    let unheld = match &f.command {
        Command::Event { name, payload } => {
            matches!(
                engine.signal(&id, name, payload.clone()).await,
                Err(EngineError::UnknownInstance(_))
            )
        }
        Command::Cancel => matches!(engine.cancel(&id).await, Err(EngineError::UnknownInstance(_))),
        Command::Retry => {
            match engine.retry(&id).await {
                Ok(()) => retried(&id),
                // Retried meanwhile, or not failed any more: the request had no effect.
                Err(e) => tracing::info!(instance = %id, "a forwarded retry did nothing: {e}"),
            }
            false
        }
    };
    match store.applied(f, unheld) {
        Commit::Done => {}
        Commit::Pending(rx) => {
            if let Ok(Err(e)) = rx.await {
                tracing::warn!(instance = %id, "a forwarded request: {e}");
            }
        }
    }
    !unheld
}
