//! Comparing two versions of a project's plans: per flow, whether an instance waiting now on the
//! old plan could continue on the new one, and which steps, lets, waits and input fields were
//! renamed, removed or retyped.
//!
//! An instance in the middle of a flow has the results of the steps it ran, recorded by name, and
//! sits at a wait. Continuing it on a new plan is safe when every step, let and wait it may have
//! reached still exists under the same name and is still the same kind of thing (the same
//! connector action or sub-flow, the same event), and its input still fits. New steps, new
//! optional input fields and changed arguments are safe: they only affect what has not run yet.

use std::collections::BTreeMap;

use super::input_type::{InputField, InputType, Shape};
use super::plan::{Bundle, CallTarget, FallbackPlan, FlowPlan, NodeKind, SubPlan, WaitUntil};

/// What a version holds: every flow of its bundles, by key.
pub type Flows = BTreeMap<String, FlowPlan>;

/// The flows of `bundles`, by key (a sub-flow bundled twice is the same flow).
pub fn flows_of<'a>(bundles: impl IntoIterator<Item = &'a Bundle>) -> Flows {
    let mut out = BTreeMap::new();
    for bundle in bundles {
        for (key, flow) in &bundle.flows {
            out.entry(key.clone()).or_insert_with(|| flow.clone());
        }
    }
    out
}

/// The verdict on one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowDiff {
    /// The flow's key.
    pub key: String,
    /// What happened to it.
    pub status: FlowStatus,
    /// Changes that break waiting instances.
    pub breaking: Vec<String>,
    /// Changes that do not.
    pub safe: Vec<String>,
}

/// What happened to a flow between the versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStatus {
    /// The same plan.
    Unchanged,
    /// Changed in ways waiting instances can continue through.
    Safe,
    /// Changed in ways that break waiting instances.
    Unsafe,
    /// Only in the new version.
    Added,
    /// Only in the old version: instances waiting in it have no plan to continue on.
    Removed,
}

impl FlowDiff {
    /// Whether instances waiting in this flow can continue on the new version.
    pub fn is_safe(&self) -> bool {
        !matches!(self.status, FlowStatus::Unsafe | FlowStatus::Removed)
    }
}

/// Compares every flow of `old` with its namesake in `new`.
pub fn diff(old: &Flows, new: &Flows) -> Vec<FlowDiff> {
    let mut out = Vec::new();
    for (key, before) in old {
        out.push(match new.get(key) {
            Some(after) => diff_flow(key, before, after),
            None => FlowDiff {
                key: key.clone(),
                status: FlowStatus::Removed,
                breaking: vec!["the flow was removed".into()],
                safe: Vec::new(),
            },
        });
    }
    for key in new.keys().filter(|k| !old.contains_key(*k)) {
        out.push(FlowDiff {
            key: key.clone(),
            status: FlowStatus::Added,
            breaking: Vec::new(),
            safe: Vec::new(),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn diff_flow(key: &str, before: &FlowPlan, after: &FlowPlan) -> FlowDiff {
    let mut d = FlowDiff {
        key: key.to_string(),
        status: FlowStatus::Unchanged,
        breaking: Vec::new(),
        safe: Vec::new(),
    };
    if serde_json::to_value(before).ok() == serde_json::to_value(after).ok() {
        return d;
    }
    diff_points(&points(before), &points(after), &mut d);
    diff_input(&before.input, &after.input, "", &mut d);
    if d.breaking.is_empty() && d.safe.is_empty() {
        d.safe.push("arguments, conditions or values changed".into());
    }
    d.status = if d.breaking.is_empty() {
        FlowStatus::Safe
    } else {
        FlowStatus::Unsafe
    };
    d
}

/// A place an instance may have reached: a named step or let, or a wait of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Point {
    /// `step`, `let` or `wait`.
    noun: &'static str,
    /// What it is (`notion.get_page`, `wait for event "x"`): a different one is a retyping.
    what: String,
}

/// Every step, let and wait of `flow`, by identity: the name, or for an unnamed `wait` its
/// position among the waits of its block.
fn points(flow: &FlowPlan) -> BTreeMap<String, Point> {
    let mut out = BTreeMap::new();
    collect(&flow.body, "the body", &mut out);
    if let Some(handler) = &flow.on_error {
        collect(handler, "`on error`", &mut out);
    }
    out
}

fn collect(plan: &SubPlan, block: &str, out: &mut BTreeMap<String, Point>) {
    let mut waits = 0;
    for i in plan.graph.node_indices() {
        let node = &plan.graph[i];
        let what = match &node.kind {
            NodeKind::Call(c) => match &c.target {
                CallTarget::Action { connector, action } => format!("{connector}.{action}"),
                CallTarget::Flow { key } => format!("flow {key}"),
            },
            NodeKind::WaitEvent { event, .. } => format!("wait for event \"{event}\""),
            NodeKind::FanOut(f) => format!("for each {}", f.var),
            NodeKind::Let { .. } => "let".into(),
            NodeKind::Wait { until } => match until {
                WaitUntil::For(_) => "wait for a duration".into(),
                WaitUntil::Until(_) => "wait until an instant".into(),
            },
            _ => continue,
        };
        let noun = match &node.kind {
            NodeKind::Let { .. } => "let",
            NodeKind::Wait { .. } => "wait",
            _ => "step",
        };
        let id = match &node.name {
            Some(name) => name.clone(),
            None => {
                waits += 1;
                format!("wait #{waits} of {block}")
            }
        };
        match &node.kind {
            NodeKind::FanOut(f) => collect(&f.body, &format!("step `{id}`"), out),
            NodeKind::Call(c) => {
                if let Some(FallbackPlan::Block(b)) = &c.fallback {
                    collect(b, &format!("the fallback of `{id}`"), out);
                }
            }
            _ => {}
        }
        out.insert(id, Point { noun, what });
    }
}

fn diff_points(old: &BTreeMap<String, Point>, new: &BTreeMap<String, Point>, d: &mut FlowDiff) {
    let mut added: Vec<(&String, &Point)> = new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
    for (id, before) in old {
        match new.get(id) {
            Some(after) if after == before => {}
            Some(after) => d.breaking.push(format!(
                "{} `{id}` retyped: {} → {}",
                before.noun, before.what, after.what
            )),
            None if before.noun == "wait" => d.breaking.push(format!("{id} ({}) removed", before.what)),
            None => {
                // Exactly one new point of the same kind: the old one renamed.
                let same: Vec<usize> = (0..added.len()).filter(|&i| added[i].1 == before).collect();
                if let [only] = same[..] {
                    let (to, _) = added.remove(only);
                    d.breaking
                        .push(format!("{} `{id}` renamed to `{to}`", before.noun));
                } else {
                    d.breaking
                        .push(format!("{} `{id}` ({}) removed", before.noun, before.what));
                }
            }
        }
    }
    for (id, p) in added {
        if p.noun == "wait" {
            d.safe.push(format!("{id} ({}) added", p.what));
        } else {
            d.safe.push(format!("{} `{id}` ({}) added", p.noun, p.what));
        }
    }
}

fn diff_input(old: &[InputField], new: &[InputField], prefix: &str, d: &mut FlowDiff) {
    for before in old {
        let path = format!("{prefix}{}", before.name);
        match new.iter().find(|f| f.name == before.name) {
            None => d.breaking.push(format!("input field `{path}` removed")),
            Some(after) => match (&before.ty.shape, &after.ty.shape) {
                (Shape::Record(a), Shape::Record(b)) => diff_input(a, b, &format!("{path}."), d),
                _ if !same_type(&before.ty, &after.ty) => d.breaking.push(format!(
                    "input field `{path}` retyped: {} → {}",
                    describe(&before.ty),
                    describe(&after.ty)
                )),
                _ => {}
            },
        }
    }
    for after in new.iter().filter(|f| !old.iter().any(|o| o.name == f.name)) {
        let path = format!("{prefix}{}", after.name);
        if after.ty.optional || after.default.is_some() {
            d.safe.push(format!("optional input field `{path}` added"));
        } else {
            d.breaking.push(format!(
                "required input field `{path}` added: instances started without it"
            ));
        }
    }
}

fn same_type(a: &InputType, b: &InputType) -> bool {
    // Making a field optional is safe; the reverse is not (a started instance may lack it).
    (a.optional == b.optional || b.optional) && describe_shape(&a.shape) == describe_shape(&b.shape)
}

fn describe(ty: &InputType) -> String {
    format!(
        "{}{}",
        describe_shape(&ty.shape),
        if ty.optional { "?" } else { "" }
    )
}

fn describe_shape(shape: &Shape) -> String {
    match shape {
        Shape::Text => "text".into(),
        Shape::Email => "email".into(),
        Shape::Number => "number".into(),
        Shape::Bool => "bool".into(),
        Shape::Date => "date".into(),
        Shape::Datetime => "datetime".into(),
        Shape::Duration => "duration".into(),
        Shape::Any => "any".into(),
        Shape::List(of) => format!("[{}]", describe(of)),
        Shape::Record(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name, describe(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
