//! Readiness bookkeeping: which statements of a block may run now.
//!
//! A [`PlanRt`] indexes a sub-plan once (dependency counts, dependents, names); a [`Scope`] is one
//! running copy of it (the flow body, one fan-out item, a fallback block, the error handler) with
//! the state and value of each node. A node becomes ready when its last dependency is done,
//! skipped or failed-over; the instance then runs it at once.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::plan::{FallbackPlan, Node, NodeKind, StepPath, SubPlan};
use crate::value::Value;

/// A sub-plan indexed for execution.
pub(crate) struct PlanRt {
    pub(crate) plan: SubPlan,
    pub(crate) deps: Vec<u32>,
    pub(crate) dependents: Vec<Vec<u32>>,
    /// The nodes without dependencies: where every scope of this plan starts.
    roots: Vec<u32>,
    pub(crate) names: HashMap<String, u32>,
    /// Each node's path in a scope without a prefix (the flow body, a fallback, the handler),
    /// made once here instead of once per event of every instance.
    paths: Vec<StepPath>,
    /// Nested sub-plans by owning node: fan-out bodies and fallback blocks.
    pub(crate) children: HashMap<u32, Arc<PlanRt>>,
}

impl PlanRt {
    pub(crate) fn new(plan: &SubPlan) -> Arc<PlanRt> {
        let g = &plan.graph;
        let n = g.node_count();
        let mut deps = vec![0u32; n];
        let mut dependents = vec![Vec::new(); n];
        for e in g.edge_references() {
            deps[e.target().index()] += 1;
            dependents[e.source().index()].push(e.target().index() as u32);
        }
        let mut names = HashMap::new();
        let mut children = HashMap::new();
        for i in g.node_indices() {
            let node = &g[i];
            if let Some(name) = &node.name {
                names.insert(name.clone(), i.index() as u32);
            }
            match &node.kind {
                NodeKind::FanOut(f) => {
                    children.insert(i.index() as u32, PlanRt::new(&f.body));
                }
                NodeKind::Call(c) => {
                    if let Some(FallbackPlan::Block(b)) = &c.fallback {
                        children.insert(i.index() as u32, PlanRt::new(b));
                    }
                }
                _ => {}
            }
        }
        let paths = g
            .node_indices()
            .map(|i| StepPath::from(node_path("", &g[i], i.index() as u32)))
            .collect();
        debug_assert!(g
            .node_indices()
            .all(|i| g.neighbors_directed(i, Direction::Incoming).count() == deps[i.index()] as usize));
        let roots = (0..n as u32).filter(|&i| deps[i as usize] == 0).collect();
        Arc::new(PlanRt {
            plan: plan.clone(),
            roots,
            deps,
            dependents,
            names,
            paths,
            children,
        })
    }

    pub(crate) fn node(&self, n: u32) -> &Node {
        &self.plan.graph[NodeIndex::new(n as usize)]
    }

    /// The nodes without dependencies.
    pub(crate) fn roots(&self) -> &[u32] {
        &self.roots
    }
}

/// A node's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NState {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

impl NState {
    pub(crate) fn terminal(self) -> bool {
        matches!(self, NState::Done | NState::Skipped | NState::Failed)
    }
}

/// What a scope is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    Root,
    Item(usize),
    Fallback,
    Handler,
}

/// One node of a running scope. A scope keeps its nodes in one vector: one allocation per
/// scope rather than one per field (the runtime bench counts them per instance).
struct NodeSlot {
    state: NState,
    /// How many of its dependencies are not terminal yet.
    remaining: u32,
    value: NodeValue,
}

/// A node's value (none until it has one): its own, or shared with the history event that
/// journaled it, so that a large connector result is not copied to be journaled.
pub(crate) enum NodeValue {
    Own(Value),
    Shared(Arc<Value>),
}

impl NodeValue {
    fn get(&self) -> &Value {
        match self {
            NodeValue::Own(v) => v,
            NodeValue::Shared(v) => v,
        }
    }
}

/// One running copy of a sub-plan.
pub(crate) struct Scope {
    pub(crate) plan: Arc<PlanRt>,
    /// The scope and node that opened it.
    pub(crate) parent: Option<(u32, u32)>,
    pub(crate) kind: ScopeKind,
    /// Whether it runs inside the error handler (it keeps running while the instance fails).
    pub(crate) in_handler: bool,
    /// Prefix of step paths (`sent[2].`).
    pub(crate) prefix: String,
    /// The loop variable of a fan-out item.
    pub(crate) local: Option<(String, Value)>,
    nodes: Vec<NodeSlot>,
    open: usize,
    pub(crate) yielded: Value,
}

impl Scope {
    /// A fresh scope; its first nodes are its plan's [`PlanRt::roots`].
    pub(crate) fn new(
        plan: Arc<PlanRt>,
        parent: Option<(u32, u32)>,
        kind: ScopeKind,
        in_handler: bool,
        prefix: String,
        local: Option<(String, Value)>,
    ) -> Scope {
        let nodes = plan
            .deps
            .iter()
            .map(|&remaining| NodeSlot {
                state: NState::Pending,
                remaining,
                value: NodeValue::Own(Value::Null),
            })
            .collect::<Vec<_>>();
        Scope {
            open: nodes.len(),
            nodes,
            plan,
            parent,
            kind,
            in_handler,
            prefix,
            local,
            yielded: Value::Null,
        }
    }

    /// Whether every node is terminal.
    pub(crate) fn complete(&self) -> bool {
        self.open == 0
    }

    /// Node `n`'s progress (`Pending` for a node the plan does not have).
    pub(crate) fn state(&self, n: u32) -> NState {
        self.nodes
            .get(n as usize)
            .map_or(NState::Pending, |slot| slot.state)
    }

    /// Sets node `n`'s progress without finishing it (see [`Scope::finish`]).
    pub(crate) fn set_state(&mut self, n: u32, state: NState) {
        if let Some(slot) = self.nodes.get_mut(n as usize) {
            slot.state = state;
        }
    }

    /// Node `n`'s value: none until it has one.
    pub(crate) fn value(&self, n: u32) -> &Value {
        static NONE: Value = Value::Null;
        self.nodes.get(n as usize).map_or(&NONE, |slot| slot.value.get())
    }

    /// Marks `n` terminal with `value`; hands each node that became ready to `ready` (no list
    /// is made: this runs once per node of every instance). A node already terminal is left as
    /// it is (so a late result cannot run its dependents twice).
    pub(crate) fn finish(&mut self, n: u32, state: NState, value: NodeValue, mut ready: impl FnMut(u32)) {
        let i = n as usize;
        let Some(slot) = self.nodes.get_mut(i) else {
            return;
        };
        if slot.state.terminal() {
            return;
        }
        slot.state = state;
        slot.value = value;
        self.open -= 1;
        for &d in &self.plan.dependents[i] {
            if let Some(slot) = self.nodes.get_mut(d as usize) {
                slot.remaining = slot.remaining.saturating_sub(1);
                if slot.remaining == 0 {
                    ready(d);
                }
            }
        }
    }

    /// The path of node `n` (`sent[2].s`; unnamed statements get `keyword#index`).
    pub(crate) fn path(&self, n: u32) -> StepPath {
        match self.plan.paths.get(n as usize) {
            Some(path) if self.prefix.is_empty() => path.clone(),
            _ => StepPath::from(node_path(&self.prefix, self.plan.node(n), n)),
        }
    }
}

/// The path of `node`, the `n`th of its plan, in a scope whose paths start with `prefix`.
fn node_path(prefix: &str, node: &Node, n: u32) -> String {
    match &node.name {
        Some(name) => format!("{prefix}{name}"),
        None => format!("{prefix}{}#{n}", node.kind.keyword()),
    }
}
