//! What the host serves, read from the project: each flow's webhook path, verifier and the
//! names of its input fields.
//!
//! Today the triggers are read from the AST; this is the one place that changes when the plan
//! carries them, so the rest of the host does not care where they come from.

use crate::project::Project;
use crate::syntax::ast::{Item, TriggerKind};

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

/// Every webhook trigger of the project's flows, in source order.
pub fn webhook_routes(project: &Project) -> Vec<WebhookRoute> {
    let mut routes = Vec::new();
    for module in &project.modules {
        for item in &module.ast.items {
            let Item::Flow(flow) = item else { continue };
            let input_fields: Vec<String> = flow
                .input
                .iter()
                .flat_map(|i| i.fields.iter().map(|f| f.name.name.clone()))
                .collect();
            for trigger in &flow.triggers {
                if let TriggerKind::Webhook {
                    path, verified_by, ..
                } = &trigger.kind
                {
                    routes.push(WebhookRoute {
                        path: path.value.clone(),
                        flow: flow.name.name.clone(),
                        entity: flow.entity.name.clone(),
                        verifier: verified_by.as_ref().map(|v| v.name.clone()),
                        input_fields: input_fields.clone(),
                    });
                }
            }
        }
    }
    routes
}
