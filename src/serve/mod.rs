//! The host: serves the project's flows from their real triggers (webhooks with their
//! verifiers, schedules), with health checks, metrics and an API, on top of an [`Engine`](crate::Engine).
//!
//! ```no_run
//! # async fn host(engine: flowc::Engine, project: flowc::Project) {
//! let app = flowc::serve::router(engine, &project).expect("webhooks set up");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

mod api;
mod body;
mod dashboard;
mod deliveries;
mod forward;
mod host;
mod journal;
mod known;
mod kpi;
mod kpi_tally;
mod metrics;
pub(crate) mod mirror;
pub(crate) mod notion_changes;
mod notion_memory;
pub(crate) mod notion_poll;
mod notion_triggers;
mod once;
pub mod overlay;
mod router;
pub mod schedules;
pub mod settings;
mod triggers;
pub mod verifiers;
mod webhooks;

pub use forward::apply_forwarded;
pub(crate) use forward::follow_forwarded;
pub use host::{Host, HostOptions, DEFAULT_BODY_LIMIT};
pub use router::{host_router, router};
pub use triggers::{project_bundles, webhook_routes, WebhookRoute};
