//! What the host reads back from its journal: every instance with its history, and the plan an
//! instance ran on (for the dashboard's graph and the KPIs).

use std::collections::HashMap;
use std::sync::Arc;

use super::host::Host;
use crate::plan::{Bundle, FlowPlan, Node, NodeKind, SubPlan};
use crate::runtime::{Event, EventKind, InstanceId, InstanceRecord};

/// One instance of the journal: its record and its history.
pub(crate) struct Entry {
    pub(crate) record: InstanceRecord,
    pub(crate) history: Vec<Event>,
}

/// Every instance of the journal (sub-flows included), oldest first. Without a store (a host
/// application that gave none) only the instances this process started are known.
pub(crate) fn entries(host: &Host) -> Vec<Entry> {
    let ids: Vec<String> = match &host.options.store {
        Some(store) => store.instances(),
        None => host
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .list()
            .into_iter()
            .map(|k| k.id)
            .collect(),
    };
    let mut all: Vec<Entry> = ids
        .into_iter()
        .filter_map(|id| {
            let history = match &host.options.store {
                Some(store) => store.history(&id),
                None => host.engine.history(&InstanceId(id.clone())),
            };
            let record = InstanceRecord::from_history(&id, &history)?;
            Some(Entry { record, history })
        })
        .collect();
    all.sort_by(|a, b| (a.record.started_at, &a.record.id).cmp(&(b.record.started_at, &b.record.id)));
    all
}

/// The plans instances ran on, read from the store once per hash.
#[derive(Default)]
pub(crate) struct Plans {
    bundles: HashMap<String, Option<Arc<Bundle>>>,
}

impl Plans {
    /// The plan of `record`'s flow, from the bundle its instance is pinned to.
    pub(crate) fn flow<'a>(&'a mut self, host: &Host, record: &InstanceRecord) -> Option<&'a FlowPlan> {
        let hash = record.plan.as_deref()?;
        let bundle = self
            .bundles
            .entry(hash.to_string())
            .or_insert_with(|| {
                let json = host.options.store.as_ref()?.plan(hash)?;
                match serde_json::from_str::<Bundle>(&json) {
                    Ok(b) => Some(Arc::new(b)),
                    Err(e) => {
                        tracing::warn!(plan = hash, "cannot read a stored plan: {e}");
                        None
                    }
                }
            })
            .as_ref()?;
        bundle.flows.get(&record.flow)
    }
}

/// The node a history's step path names (`client`, `if#3`, `sent[2].s`, `x.fallback.y`), in
/// the flow's body.
pub(crate) fn node_at<'a>(flow: &'a FlowPlan, path: &str) -> Option<&'a Node> {
    node_in(&flow.body, path)
}

fn node_in<'a>(plan: &'a SubPlan, path: &str) -> Option<&'a Node> {
    let (first, rest) = path.split_at(head(path).len());
    let node = top_node(plan, first)?;
    if rest.is_empty() {
        return Some(node);
    }
    // `[i].rest`: inside a fan-out's body; `.fallback.rest`: inside a fallback block.
    if let Some(after) = rest.strip_prefix('[') {
        let inner = after.split_once("].")?.1;
        return match &node.kind {
            NodeKind::FanOut(f) => node_in(&f.body, inner),
            _ => None,
        };
    }
    let inner = rest.strip_prefix(".fallback.")?;
    match &node.kind {
        NodeKind::Call(c) => match &c.fallback {
            Some(crate::plan::FallbackPlan::Block(b)) => node_in(b, inner),
            _ => None,
        },
        _ => None,
    }
}

/// The node named `head`, or the unnamed `keyword#index`.
pub(crate) fn top_node<'a>(plan: &'a SubPlan, head: &str) -> Option<&'a Node> {
    if let Some((_, index)) = head.split_once('#') {
        let i: usize = index.parse().ok()?;
        return plan.graph.node_weights().nth(i);
    }
    plan.find(head).map(|i| &plan.graph[i])
}

/// Whether a wait of the history has begun and not ended.
pub(crate) fn waiting(history: &[Event]) -> bool {
    let started = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
        .count();
    let ended = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaitEnded { .. }))
        .count();
    started > ended
}

/// The API's status of an instance from its journal: the record's, `waiting` for a running one
/// in a wait.
pub(crate) fn status(record: &InstanceRecord, history: &[Event]) -> String {
    if record.status == "running" && waiting(history) {
        "waiting".to_string()
    } else {
        record.status.clone()
    }
}

/// Why a failed instance failed: the step, the message and the error class of its last end.
pub(crate) fn failure(history: &[Event]) -> Option<(&str, &str, &str)> {
    match history
        .iter()
        .rev()
        .find(|e| e.kind.is_end() || matches!(e.kind, EventKind::InstanceRetried))?
        .kind
    {
        EventKind::InstanceFailed {
            ref step,
            ref message,
            ref class,
        } => Some((step, message, class)),
        _ => None,
    }
}

/// The top-level node a step path belongs to (`sent[2].s` → `sent`).
pub(crate) fn head(path: &str) -> &str {
    &path[..path.find(['[', '.']).unwrap_or(path.len())]
}
