//! What the host serves, read from the plans: each flow's webhook path, verifier and the names
//! of its input fields. The host needs no source: plans alone say what starts what.

use std::sync::Arc;

use crate::connectors::{DeclaredOnly, Registry};
use crate::plan::{self, Bundle, Trigger, WebhookAuth};
use crate::project::Project;

/// One `on webhook "PATH" verified by NAME` (or `unverified`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRoute {
    /// The URL path (`/hooks/the-7-space/bookings`).
    pub path: String,
    /// The flow it starts.
    pub flow: String,
    /// The flow's entity.
    pub entity: String,
    /// `verified by NAME`; `None` only when the source says `unverified`.
    pub verifier: Option<String>,
    /// The top-level fields the flow's input declares (the rest of a body is ignored).
    pub input_fields: Vec<String>,
}

/// The plan bundle of every flow of `project` that compiles (as the engine compiles them: a
/// flow that does not is not started by the engine either), or why the project is refused.
pub fn project_bundles(project: &Project) -> Result<Vec<Bundle>, String> {
    let mut registry = Registry::new();
    for m in crate::connectors::builtin_manifests() {
        registry.register(Arc::new(DeclaredOnly::new(m)));
    }
    let compiled = plan::compile_project(project, &registry).map_err(|e| e.message)?;
    Ok(compiled.into_iter().filter_map(|(_, b)| b.ok()).collect())
}

/// Every webhook trigger of the bundles' entry flows, in the bundles' order.
pub fn webhook_routes(bundles: &[Bundle]) -> Vec<WebhookRoute> {
    let mut routes = Vec::new();
    for flow in bundles.iter().filter_map(Bundle::entry_flow) {
        for trigger in &flow.triggers {
            if let Trigger::Webhook { path, auth } = trigger {
                routes.push(WebhookRoute {
                    path: path.clone(),
                    flow: flow.name.clone(),
                    entity: flow.entity.clone(),
                    verifier: match auth {
                        WebhookAuth::VerifiedBy(name) => Some(name.clone()),
                        WebhookAuth::Unverified => None,
                    },
                    input_fields: flow.input.iter().map(|f| f.name.clone()).collect(),
                });
            }
        }
    }
    routes
}
