//! Plan types: what a flow compiles to and what the runtime executes.
//!
//! A [`Bundle`] holds the entry flow, every sub-flow it calls, the templates it renders and the
//! entities it reads, so a plan file runs without the sources. Each block of statements is a
//! [`SubPlan`]: a petgraph DAG whose nodes are statements and whose edges say what must be done
//! before what. Branch bodies are flattened into their block's graph (gated by the branch node);
//! fan-out bodies, fallback blocks and the error handler are nested sub-plans, run per item or
//! on demand.

use std::collections::BTreeMap;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use serde::{Deserialize, Serialize};

use super::expr::{Expr, Pattern};
use super::input_type::InputField;
use super::trigger::Trigger;
use crate::connectors::ErrorClass;

/// The plan format; bumped when a plan written by an older flowc cannot be read as it was.
pub const FORMAT_VERSION: u32 = 2;

/// A compiled flow with everything it needs to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bundle {
    /// [`FORMAT_VERSION`] at build time.
    pub format_version: u32,
    /// sha256 of the canonical JSON of the bundle without this field.
    pub hash: String,
    /// The key of the entry flow in `flows`.
    pub entry: String,
    /// The entry flow and every flow it calls, by key (`module.flow`).
    pub flows: BTreeMap<String, FlowPlan>,
    /// Templates used by the flows, by name.
    pub templates: BTreeMap<String, TemplatePlan>,
    /// Every entity of the project, by name (flows read their settings).
    pub entities: BTreeMap<String, EntityPlan>,
}

impl Bundle {
    /// The entry flow.
    pub fn entry_flow(&self) -> Option<&FlowPlan> {
        self.flows.get(&self.entry)
    }
}

/// One compiled flow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlowPlan {
    /// The key (`stdlib.contacts.find_or_create`, or the flow name for a root module).
    pub key: String,
    /// The flow's name.
    pub name: String,
    /// The entity it belongs to.
    pub entity: String,
    /// Input fields.
    pub input: Vec<InputField>,
    /// The body.
    pub body: SubPlan,
    /// `on error { ... }`
    pub on_error: Option<SubPlan>,
    /// What starts it, in the order written.
    pub triggers: Vec<Trigger>,
}

impl FlowPlan {
    /// Whether `on event "name"` starts this flow.
    pub fn listens_to(&self, event: &str) -> bool {
        self.triggers
            .iter()
            .any(|t| matches!(t, Trigger::Event { name } if name == event))
    }
}

/// A template's parts (handlebars sources).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplatePlan {
    /// `subject`
    pub subject: Option<String>,
    /// `text`
    pub text: Option<String>,
    /// `html`
    pub html: Option<String>,
    /// `sms` (absent from the serialised plan when the template has none, so older plans hash
    /// the same)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// `slack`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
}

/// An entity: name, title, databases and settings (constant expressions).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntityPlan {
    /// Display name.
    pub title: Option<String>,
    /// Logical database names.
    pub databases: Vec<String>,
    /// Settings in order.
    pub settings: Vec<(String, Expr)>,
    /// The environment variables its flows may read with `secret(...)` (`secrets` of its table in
    /// flowc.toml), carried here so a plan run without sources is still held to them. A plan
    /// without the field declares none.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// A block of statements as a DAG. Edges point from a prerequisite to what waits for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubPlan {
    /// Nodes and dependency edges.
    pub graph: DiGraph<Node, Dep>,
}

impl SubPlan {
    /// The nodes that must be done before `node`.
    pub fn deps(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut deps: Vec<NodeIndex> = self.graph.neighbors_directed(node, Direction::Incoming).collect();
        deps.sort();
        deps.dedup();
        deps
    }

    /// The node called `name` (a step or let).
    pub fn find(&self, name: &str) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i].name.as_deref() == Some(name))
    }
}

/// A statement of a block.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Node {
    /// The step or let name, when it has one.
    pub name: Option<String>,
    /// What it does.
    pub kind: NodeKind,
    /// The branch arm it belongs to: it runs only if that arm is taken.
    pub gate: Option<Gate>,
}

impl Node {
    /// A short label for graphs and logs (`step client`, `wait`, `if`).
    pub fn label(&self) -> String {
        let what = self.kind.keyword();
        match &self.name {
            Some(name) => format!("{what} {name}"),
            None => what.to_string(),
        }
    }
}

/// A branch arm that gates a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// The branch node.
    pub branch: u32,
    /// The arm index (the `else` arm is the last).
    pub arm: u32,
}

/// Why an edge exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dep {
    /// The later node reads the earlier one's value.
    Data,
    /// `after name`.
    After,
    /// A `wait` is a barrier for its block.
    Barrier,
    /// The later node is inside a branch of the earlier one.
    Gate,
}

/// Statement kinds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A connector action or sub-flow call.
    Call(CallNode),
    /// `let name = value`
    Let {
        /// The value.
        value: Expr,
    },
    /// `if` / `match`: evaluates which arm is taken; gated nodes of other arms are skipped.
    Branch(BranchNode),
    /// `wait 2d` / `wait until t`
    Wait {
        /// Duration or instant.
        until: WaitUntil,
    },
    /// `step x = wait for event "name" where cond timeout 3d`
    WaitEvent {
        /// The event name.
        event: String,
        /// A condition on `event`.
        filter: Option<Expr>,
        /// After this long the step's value is none.
        timeout_ms: Option<i64>,
        /// `timeout EXPR`: the duration, computed when the wait starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Expr>,
    },
    /// `step x = for v in list concurrency n { ... yield value }`
    FanOut(FanOutNode),
    /// `emit "name" { payload }`
    Emit {
        /// The event name.
        event: String,
        /// The payload.
        payload: Option<Expr>,
    },
    /// `fail "message"`
    Fail {
        /// The message.
        message: Expr,
    },
    /// `yield value`: the value of the enclosing fallback or fan-out block.
    Yield {
        /// The value.
        value: Expr,
    },
    /// `output { ... }`
    Output {
        /// The value.
        value: Expr,
    },
}

impl NodeKind {
    /// The statement's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            NodeKind::Call(_) | NodeKind::WaitEvent { .. } | NodeKind::FanOut(_) => "step",
            NodeKind::Let { .. } => "let",
            NodeKind::Branch(b) if b.subject.is_some() => "match",
            NodeKind::Branch(_) => "if",
            NodeKind::Wait { .. } => "wait",
            NodeKind::Emit { .. } => "emit",
            NodeKind::Fail { .. } => "fail",
            NodeKind::Yield { .. } => "yield",
            NodeKind::Output { .. } => "output",
        }
    }
}

/// What a call calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallTarget {
    /// `connector.action`
    Action {
        /// The connector.
        connector: String,
        /// The action (shared: every call of the step hands it to the connector).
        action: Arc<str>,
    },
    /// A sub-flow, by key in the bundle.
    Flow {
        /// The flow's key.
        key: String,
    },
}

/// A call step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallNode {
    /// What it calls.
    pub target: CallTarget,
    /// Named arguments.
    pub args: Vec<(String, Expr)>,
    /// The resolved retry policy (the step's, or the action's default).
    pub retry: RetryPolicy,
    /// Per attempt.
    pub timeout_ms: Option<i64>,
    /// `timeout EXPR`: the per-attempt duration, computed when the step starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Expr>,
    /// What stands in after the last attempt failed.
    pub fallback: Option<FallbackPlan>,
    /// Parameters typed `Template`: the engine renders them before calling.
    pub template_params: Vec<String>,
}

/// A retry policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all.
    pub attempts: u32,
    /// First delay in milliseconds.
    pub min_ms: u64,
    /// Largest delay in milliseconds.
    pub max_ms: u64,
    /// Growth per attempt.
    pub factor: f64,
    /// Full jitter.
    pub jitter: bool,
    /// Classes retried.
    pub on: Vec<ErrorClass>,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            attempts: 1,
            min_ms: 1_000,
            max_ms: 60_000,
            factor: 2.0,
            jitter: true,
            on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
        }
    }
}

/// A fallback.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackPlan {
    /// `fallback value`
    Value(Expr),
    /// `fallback { ... yield value }`
    Block(Box<SubPlan>),
}

/// `if` or `match`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BranchNode {
    /// The matched value (`match` only).
    pub subject: Option<Expr>,
    /// The arms in order; the first that holds is taken.
    pub arms: Vec<ArmTest>,
}

/// How an arm is chosen.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmTest {
    /// `if cond`
    Cond(Expr),
    /// A match pattern.
    Pattern(Pattern),
    /// `else`
    Else,
}

/// A wait's target.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitUntil {
    /// A duration from when the wait starts.
    For(Expr),
    /// An instant.
    Until(Expr),
}

/// A fan-out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FanOutNode {
    /// The loop variable.
    pub var: String,
    /// The list.
    pub over: Expr,
    /// Items at once.
    pub concurrency: Option<u32>,
    /// The body per item.
    pub body: Box<SubPlan>,
}
