//! A host over a small project, driven through its router without a socket.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flowc::config::Config;
use flowc::runtime::{MemoryStore, Store};
use flowc::serve::{host_router, Host, HostOptions};
use flowc::{Engine, Project};
use tower::ServiceExt;

pub const GITHUB_SECRET: &str = "It's a Secret to Everybody";
pub const AMELIA_TOKEN: &str = "amelia-url-token";
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub const FLOWS: &str = r#"
entity shop {}

flow order for shop {
  on webhook "/hooks/orders" verified by github
  input { order: { id: number, email: email } }
  let summary = "order {{ input.order.id }} for {{ input.order.email }}"
  output { summary }
}

flow booking for shop {
  on webhook "/hooks/bookings" verified by amelia
  input {
    appointment: { id: number, serviceId: number },
    bookings: [{ id: number, customer: { email: email, firstName: text } }],
  }
  let first_booking = first(input.bookings)
  output { email: first_booking.customer.email, service: input.appointment.serviceId }
}

flow signup for shop {
  on webhook "/hooks/signups" verified by standard
  input { name: text }
  output { name: input.name }
}

flow pages for shop {
  on webhook "/hooks/notion" verified by notion
  input { id: text, type: text }
  output { kind: input.type }
}

flow open for shop {
  on webhook "/hooks/open" unverified
  input { name: text }
  output { name: input.name }
}
"#;

pub const CONFIG: &str = r#"
[webhooks.github]
scheme = "github"
secret_env = "TEST_GITHUB_SECRET"

[webhooks.amelia]
scheme = "query-token"
param = "token"
secret_env = "TEST_AMELIA_TOKEN"

[webhooks.standard]
scheme = "standard-webhooks"
secret_env = "TEST_STANDARD_SECRET"

[webhooks.notion]
scheme = "notion"
secret_env = "TEST_NOTION_TOKEN"
"#;

pub fn env(name: &str) -> Option<String> {
    match name {
        "TEST_GITHUB_SECRET" => Some(GITHUB_SECRET.into()),
        "TEST_AMELIA_TOKEN" => Some(AMELIA_TOKEN.into()),
        "TEST_STANDARD_SECRET" => Some(STANDARD_SECRET.into()),
        _ => None,
    }
}

pub fn project() -> Project {
    let config = Config::parse(CONFIG, Path::new("flowc.toml")).unwrap();
    Project::from_sources(Path::new("/serve-test"), config, [("shop.flow", FLOWS)])
}

/// A host on an in-memory store (returned, to count what was started).
pub struct TestHost {
    pub app: axum::Router,
    pub host: Arc<Host>,
    pub store: Arc<dyn Store>,
}

impl TestHost {
    pub fn new(options: HostOptions) -> TestHost {
        TestHost::on_store(Arc::new(MemoryStore::new()), options)
    }

    /// A host whose engine keeps its instances in `store`.
    pub fn on_store(store: Arc<dyn Store>, options: HostOptions) -> TestHost {
        let project = project();
        let engine = Engine::builder()
            .project_value(project.clone())
            .store(store.clone())
            .build()
            .unwrap();
        let host = Host::new(engine, &project, options, &env).unwrap();
        host.set_ready(true);
        TestHost {
            app: host_router(host.clone()),
            host,
            store,
        }
    }

    pub fn started(&self) -> usize {
        self.store.instances().len()
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, json)
    }
}

/// A JSON POST to `uri` with extra headers.
pub fn post(uri: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Request<Body> {
    let mut request = Request::post(uri).header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(Body::from(body.into())).unwrap()
}
