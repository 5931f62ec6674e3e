//! One instance of a flow as a state machine: it reacts to inputs (started, a call's result, a
//! timer, a signal, cancel) by recording history events, updating node states, and returning
//! [`Effect`]s for the engine to carry out (call a connector, start a sub-flow, set a timer).
//!
//! Nothing here awaits or spawns: the engine holds the instance's lock only while one reaction
//! runs, then performs the effects outside it.

mod attempt_timeout;
mod call;
mod child_call;
mod env;
mod event_wait;
mod failure;
mod fan_out;
mod nodes;
mod replay;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::event::{Event, EventKind};
use super::redact::Redactor;
use super::scheduler::{NState, NodeValue, PlanRt, Scope, ScopeKind};
use super::store::{Commit, Store};
use super::templates::Templates;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::plan::{FlowPlan, NodeKind, StepPath};
use crate::value::Value;
pub(crate) use attempt_timeout::Abandon;
use attempt_timeout::AttemptTimeout;
pub(crate) use call::{EntityOf, PreparedCall};
use child_call::ChildCall;
use event_wait::EventWait;
use fan_out::FanOut;
use replay::NextAttempt;
pub(crate) use replay::Replay;

/// Where an instance is.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceStatus {
    /// Steps are running or waiting.
    Running,
    /// A step failed; the error handler is running.
    Failing,
    /// Everything ran; the output is available.
    Completed,
    /// A step failed for good (or `fail` ran).
    Failed {
        /// The step's path.
        step: String,
        /// Why.
        message: String,
        /// The error class.
        class: String,
    },
    /// Cancelled from outside.
    Cancelled,
}

impl InstanceStatus {
    /// Whether the instance has ended.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            InstanceStatus::Completed | InstanceStatus::Failed { .. } | InstanceStatus::Cancelled
        )
    }

    /// `running`, `failing`, `completed`, `failed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            InstanceStatus::Running => "running",
            InstanceStatus::Failing => "failing",
            InstanceStatus::Completed => "completed",
            InstanceStatus::Failed { .. } => "failed",
            InstanceStatus::Cancelled => "cancelled",
        }
    }
}

/// A flow ready to run: its plan and indexed sub-plans.
pub(crate) struct FlowRt {
    pub(crate) plan: FlowPlan,
    pub(crate) root: Arc<PlanRt>,
    pub(crate) handler: Option<Arc<PlanRt>>,
    pub(crate) templates: Arc<Templates>,
    /// The hash of the bundle it came from (instances are pinned to it).
    pub(crate) bundle: Arc<str>,
    /// The plan's key and entity, shared with the first event of each instance.
    pub(crate) key: Arc<str>,
    pub(crate) entity: Arc<str>,
}

/// What every instance of an engine shares.
pub(crate) struct Globals {
    pub(crate) entities: BTreeMap<String, Value>,
    /// Per entity, the secrets its plan declares (what `secret(...)` may read at run time).
    pub(crate) secrets: BTreeMap<String, Vec<String>>,
    pub(crate) databases: HashSet<String>,
    pub(crate) per_instance_limit: usize,
}

/// Everything a reaction needs besides the instance.
pub(crate) struct Ctx<'a> {
    pub(crate) globals: &'a Globals,
    pub(crate) now: DateTime<Utc>,
}

/// A reaction's effects: most reactions have one or none, kept inline (a vector was a heap
/// allocation per reaction that called a connector).
pub(crate) type Effects = smallvec::SmallVec<[Effect; 1]>;

/// What the engine must do after a reaction.
pub(crate) enum Effect {
    Call(PreparedCall),
    StartChild {
        scope: u32,
        node: u32,
        step: StepPath,
        key: String,
        input: Value,
        /// 1-based: a retried sub-flow runs as a new instance.
        attempt: u32,
    },
    /// Abandons a connector call's attempt that ran out of time.
    Abandon(Arc<Abandon>),
    /// Cancels a sub-flow instance whose attempt timed out (its result no longer counts).
    CancelChild {
        id: String,
    },
    Timer {
        at: DateTime<Utc>,
        scope: u32,
        node: u32,
        step: StepPath,
        /// Orders timers due at the same instant: the position in the instance's history of
        /// the event that armed it, the same after a restart, so a replay fires ties as the
        /// live run did.
        order: u64,
    },
    /// `emit`: wake instances waiting for the event, start flows it triggers.
    Emit {
        name: String,
        payload: Value,
    },
    Finished {
        waiters: Vec<oneshot::Sender<()>>,
        parent: Option<ParentLink>,
        result: Result<Value, ConnectorError>,
    },
}

/// The sub-flow step an instance answers to.
#[derive(Clone)]
pub(crate) struct ParentLink {
    pub(crate) id: String,
    /// The parent's step path (the child's id is `parent/step`).
    pub(crate) step: StepPath,
    /// The parent's plan bundle (a sub-flow runs on its caller's plan) and entity (it works
    /// in its caller's workspace): data, so the engine finds the parent by id, not by handle.
    pub(crate) bundle: String,
    pub(crate) entity: String,
    pub(crate) scope: u32,
    pub(crate) node: u32,
    /// Which attempt of the step the child is.
    pub(crate) attempt: u32,
}

impl ParentLink {
    /// The child's instance id: `parent/step`, then `parent/step#2`, ... for retries.
    pub(crate) fn child_id(&self) -> String {
        child_id(&self.id, &self.step, self.attempt)
    }
}

/// The id of the top-level instance whose sub-flow (or sub-flow's sub-flow) `id` is, or `id`
/// itself: a top-level id (a UUID) holds no `/`, and [`child_id`] puts one after its parent.
pub(crate) fn root_id(id: &str) -> &str {
    id.split_once('/').map_or(id, |(root, _)| root)
}

/// A sub-flow instance's id from its parent, the calling step's path and the attempt.
pub(crate) fn child_id(parent: &str, step: &str, attempt: u32) -> String {
    if attempt <= 1 {
        format!("{parent}/{step}")
    } else {
        format!("{parent}/{step}#{attempt}")
    }
}

enum Work {
    Run(u32, u32),
    /// A node is terminal, with its value.
    Finish(u32, u32, NState, NodeValue),
    ScopeDone(u32),
}

impl Work {
    /// `Finish` with a value of the node's own.
    fn finish(s: u32, n: u32, state: NState, value: Value) -> Work {
        Work::Finish(s, n, state, NodeValue::Own(value))
    }
}

/// The result of one call attempt sequence, as the engine reports it.
pub(crate) type CallResult = Result<(Value, u32), (ConnectorError, u32)>;

/// A running instance.
pub(crate) struct Instance {
    /// Shared with every call the instance makes (a string per call was an allocation each).
    pub(crate) id: Arc<str>,
    pub(crate) flow: Arc<FlowRt>,
    pub(crate) status: InstanceStatus,
    input: Value,
    /// The entity whose workspace it works in: the flow's own, or for a sub-flow its caller's
    /// (stdlib flows file a booking's client in the booking's workspace). Its record lives in
    /// [`Globals`] (one copy for all instances).
    pub(crate) entity: Arc<str>,
    scopes: Vec<Option<Scope>>,
    /// Set by the `output` statement (none without one).
    pub(crate) output: Option<Arc<Value>>,
    error: Option<Value>,
    running: usize,
    queue: VecDeque<Box<PreparedCall>>,
    /// Calls waiting for the timer that starts their next attempt (their backoff).
    retries: HashMap<(u32, u32), Box<PreparedCall>>,
    /// Attempts out with a timeout, by call node (kept after the end, until their tasks hand
    /// the calls back).
    timeouts: HashMap<(u32, u32), AttemptTimeout>,
    fanouts: HashMap<(u32, u32), FanOut>,
    child_calls: HashMap<(u32, u32), ChildCall>,
    event_waits: Vec<EventWait>,
    inbox: Vec<(String, Value)>,
    parent: Option<ParentLink>,
    /// Sub-flow instances started by this one (cancelled with it).
    children: Vec<String>,
    replay: Option<Box<Replay>>,
    seq: u64,
    /// Events of the reaction under way: the engine hands them to the store as one batch.
    pending: Vec<Event>,
    /// The work queue of the last reaction, emptied, kept for the next one (a reaction runs
    /// per step result: a fresh queue each time was an allocation per step).
    spare_work: VecDeque<Work>,
    waiters: Vec<oneshot::Sender<()>>,
}

fn error_record(step: &str, message: &str, class: ErrorClass) -> Value {
    Value::record([
        ("step", Value::text(step)),
        ("message", Value::text(message)),
        ("class", Value::text(class.name())),
    ])
}

impl Instance {
    pub(crate) fn new(
        id: Arc<str>,
        flow: Arc<FlowRt>,
        input: Value,
        entity: Arc<str>,
        parent: Option<ParentLink>,
    ) -> Instance {
        Instance {
            id,
            flow,
            status: InstanceStatus::Running,
            input,
            entity,
            scopes: Vec::new(),
            output: None,
            error: None,
            running: 0,
            queue: VecDeque::new(),
            retries: HashMap::new(),
            timeouts: HashMap::new(),
            fanouts: HashMap::new(),
            child_calls: HashMap::new(),
            event_waits: Vec::new(),
            inbox: Vec::new(),
            parent,
            children: Vec::new(),
            replay: None,
            seq: 0,
            pending: Vec::new(),
            spare_work: VecDeque::new(),
            waiters: Vec::new(),
        }
    }

    /// Appends a history event.
    pub(crate) fn record(&mut self, ctx: &Ctx, kind: EventKind) {
        let kind = self.redactor(ctx).event(kind);
        if let Some(replay) = &self.replay {
            if serde_json::to_string(&kind).is_ok_and(|json| replay.seen.contains(&json)) {
                return;
            }
        }
        let event = Event {
            seq: self.seq,
            at: ctx.now,
            kind,
        };
        self.seq += 1;
        // Room for a reaction's events at once: a step's reaction records three or four, and
        // growing from empty was two allocations of each reaction.
        if self.pending.capacity() == 0 {
            self.pending.reserve(8);
        }
        self.pending.push(event);
    }

    /// The instance's output: none until its `output` statement ran.
    pub(crate) fn output(&self) -> Value {
        self.output.as_deref().cloned().unwrap_or_default()
    }

    /// Hides the values of this instance's entity's secrets.
    fn redactor(&self, ctx: &Ctx) -> Redactor {
        Redactor::new(
            ctx.globals
                .secrets
                .get(&*self.entity)
                .map_or(&[][..], Vec::as_slice),
        )
    }

    /// Hands the reaction's events to `store` (none: nothing to keep), keeping the buffer for
    /// the next reaction where the store allows it ([`Store::append_from`]).
    pub(crate) fn append_pending(&mut self, store: &dyn Store) -> Commit {
        if self.pending.is_empty() {
            return Commit::Done;
        }
        store.append_from(&self.id, &mut self.pending)
    }

    /// Starts the flow body.
    pub(crate) fn start(&mut self, ctx: &Ctx) -> Effects {
        let mut fx = Effects::new();
        self.record(
            ctx,
            EventKind::InstanceStarted {
                flow: self.flow.key.clone(),
                input: self.input.clone(),
                parent: self.parent.as_ref().map(|p| p.id.clone()),
                entity: Some(self.entity.clone()),
                plan: Some(self.flow.bundle.clone()),
            },
        );
        let mut q = self.work_queue();
        let root = self.flow.root.clone();
        self.open_scope(root, None, ScopeKind::Root, false, String::new(), None, &mut q);
        self.drive(ctx, q, &mut fx);
        fx
    }

    /// Rebuilds the instance from its history (`events`, as the store kept them) and carries
    /// on: steps with a recorded result are not called again, waits end when they were due.
    pub(crate) fn resume(&mut self, ctx: &Ctx, events: &[Event]) -> Effects {
        let (replay, inbox) = Replay::from_history(events);
        self.seq = events.last().map(|e| e.seq + 1).unwrap_or(0);
        self.replay = Some(Box::new(replay));
        self.inbox = inbox;
        let fx = self.start(ctx);
        self.replay = None;
        fx
    }

    /// Whether nodes of `scope` may still run.
    pub(crate) fn active(&self, scope: u32) -> bool {
        let Some(Some(s)) = self.scopes.get(scope as usize) else {
            return false;
        };
        match self.status {
            InstanceStatus::Running => true,
            InstanceStatus::Failing => s.in_handler,
            _ => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn open_scope(
        &mut self,
        plan: Arc<PlanRt>,
        parent: Option<(u32, u32)>,
        kind: ScopeKind,
        in_handler: bool,
        prefix: String,
        local: Option<(String, Value)>,
        q: &mut VecDeque<Work>,
    ) -> u32 {
        let scope = Scope::new(plan.clone(), parent, kind, in_handler, prefix, local);
        let id = self.scopes.len() as u32;
        let empty = scope.complete();
        self.scopes.push(Some(scope));
        if empty {
            q.push_back(Work::ScopeDone(id));
        }
        for &r in plan.roots() {
            q.push_back(Work::Run(id, r));
        }
        id
    }

    /// An empty work queue for a reaction (the last one's, when there is one).
    fn work_queue(&mut self) -> VecDeque<Work> {
        std::mem::take(&mut self.spare_work)
    }

    fn drive(&mut self, ctx: &Ctx, mut q: VecDeque<Work>, fx: &mut Effects) {
        while let Some(w) = q.pop_front() {
            match w {
                Work::Run(s, n) => self.run_node(ctx, s, n, &mut q, fx),
                Work::Finish(s, n, st, v) => {
                    let Some(Some(scope)) = self.scopes.get_mut(s as usize) else {
                        continue;
                    };
                    scope.finish(n, st, v, |d| q.push_back(Work::Run(s, d)));
                    if scope.complete() {
                        q.push_back(Work::ScopeDone(s));
                    }
                }
                Work::ScopeDone(s) => self.scope_done(ctx, s, &mut q, fx),
            }
        }
        // Kept for the next reaction while the instance may still react.
        if !self.status.is_final() {
            self.spare_work = q;
        }
    }

    /// Journals that node `n` of scope `s` (the step `step`) has `value`, and finishes the node
    /// with it. The event and the node share the value: a connector's result is not copied to
    /// be journaled.
    #[allow(clippy::too_many_arguments)]
    fn succeed(
        &mut self,
        ctx: &Ctx,
        (s, n): (u32, u32),
        step: StepPath,
        attempt: u32,
        value: Value,
        fallback: bool,
        q: &mut VecDeque<Work>,
    ) {
        let value = Arc::new(value);
        self.record(
            ctx,
            EventKind::StepSucceeded {
                step,
                attempt,
                value: value.clone(),
                fallback,
            },
        );
        q.push_back(Work::Finish(s, n, NState::Done, NodeValue::Shared(value)));
    }

    fn scope(&self, s: u32) -> Option<&Scope> {
        self.scopes.get(s as usize).and_then(Option::as_ref)
    }

    fn set_running(&mut self, s: u32, n: u32) {
        if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
            if scope.state(n) == NState::Pending {
                scope.set_state(n, NState::Running);
            }
        }
    }

    fn node_state(&self, s: u32, n: u32) -> Option<NState> {
        self.scope(s).map(|sc| sc.state(n))
    }

    fn scope_done(&mut self, ctx: &Ctx, s: u32, q: &mut VecDeque<Work>, fx: &mut Effects) {
        let Some(scope) = self.scopes.get_mut(s as usize).and_then(Option::take) else {
            return;
        };
        match scope.kind {
            ScopeKind::Root => {
                if self.status == InstanceStatus::Running {
                    self.status = InstanceStatus::Completed;
                    self.record(ctx, EventKind::InstanceCompleted);
                    // Only a caller (a sub-flow's parent) reads the result: the output itself
                    // stays in `output`, copied for the caller alone.
                    let result = match self.parent {
                        Some(_) => self.output(),
                        None => Value::Null,
                    };
                    self.finished(Ok(result), fx);
                }
            }
            ScopeKind::Item(i) => {
                if let Some(parent) = scope.parent {
                    self.fan_item_done(ctx, parent, i, scope.yielded, q);
                }
            }
            ScopeKind::Fallback => {
                let Some((ps, pn)) = scope.parent else { return };
                let step = self.scope(ps).map(|sc| sc.path(pn)).unwrap_or_default();
                self.succeed(ctx, (ps, pn), step, 0, scope.yielded, true, q);
            }
            ScopeKind::Handler => self.fail_for_good(ctx, fx),
        }
    }

    fn finished(&mut self, result: Result<Value, ConnectorError>, fx: &mut Effects) {
        // Nothing will run again: free the scopes (a finished instance keeps only its output).
        self.scopes.clear();
        self.fanouts.clear();
        self.child_calls.clear();
        self.retries.clear();
        self.event_waits.clear();
        self.queue.clear();
        fx.push(Effect::Finished {
            waiters: std::mem::take(&mut self.waiters),
            parent: self.parent.take(),
            result,
        });
    }

    /// A timer of node `n` fired.
    pub(crate) fn on_timer(&mut self, ctx: &Ctx, s: u32, n: u32) -> Effects {
        let mut fx = Effects::new();
        // A call's timers: its retry when due (not the deadline of an earlier attempt), or the
        // deadline of an attempt out.
        let due = self
            .retries
            .get(&(s, n))
            .is_some_and(|pc| pc.not_before.is_none_or(|at| ctx.now >= at));
        if let Some(mut pc) = due.then(|| self.retries.remove(&(s, n))).flatten().map(|pc| *pc) {
            if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
                // No longer wanted: the retry is dropped and its slot freed.
                let gone = ConnectorError::permanent("abandoned");
                return self.on_call_result(ctx, s, n, Err((gone, pc.attempt)), true);
            }
            pc.not_before = None;
            self.launch(ctx, pc, &mut fx);
            return fx;
        }
        if self.on_attempt_timer(ctx, s, n, &mut fx) {
            return fx;
        }
        if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
            return fx;
        }
        let Some(scope) = self.scope(s) else { return fx };
        let path = scope.path(n);
        let is_event = matches!(scope.plan.node(n).kind, NodeKind::WaitEvent { .. });
        let is_call = matches!(scope.plan.node(n).kind, NodeKind::Call(_));
        let mut q = self.work_queue();
        if is_call {
            self.on_child_timer(ctx, s, n, &mut q, &mut fx);
        } else if is_event {
            self.event_waits.retain(|w| !(w.scope == s && w.node == n));
            self.end_event_wait(ctx, s, n, Value::Null, true, &mut q);
        } else {
            self.record(
                ctx,
                EventKind::WaitEnded {
                    step: path,
                    timed_out: false,
                },
            );
            q.push_back(Work::finish(s, n, NState::Done, Value::Null));
        }
        self.drive(ctx, q, &mut fx);
        fx
    }

    /// Whether it only waits (on timers or events): no call in flight or queued, no sub-flow
    /// running, nobody awaiting its output. Such an instance can be dropped from memory and
    /// rebuilt from its history when it wakes.
    pub(crate) fn is_idle(&self) -> bool {
        self.status == InstanceStatus::Running
            && self.running == self.retries.len()
            && self.queue.is_empty()
            && self.child_calls.is_empty()
            && self.waiters.is_empty()
            && self.pending.is_empty()
    }

    /// The event names its waits listen for.
    pub(crate) fn event_wait_names(&self) -> Vec<String> {
        self.event_waits.iter().map(|w| w.event.clone()).collect()
    }

    /// Cancels the instance and, through their effects, its sub-flow instances.
    pub(crate) fn cancel(&mut self, ctx: &Ctx) -> Effects {
        let mut fx = Effects::new();
        if !self.status.is_final() {
            self.status = InstanceStatus::Cancelled;
            self.record(ctx, EventKind::InstanceCancelled);
            self.finished(Err(ConnectorError::permanent("cancelled")), &mut fx);
        }
        // Also after a failure: sub-flows still running then are not wanted any more.
        fx.extend(self.children.drain(..).map(|id| Effect::CancelChild { id }));
        fx
    }

    /// Cancelled by the instance that started it (its step timed out, or it was cancelled):
    /// detached first, so its end does not answer the step again.
    pub(crate) fn cancel_by_parent(&mut self, ctx: &Ctx) -> Effects {
        self.parent = None;
        self.cancel(ctx)
    }

    /// The sub-flow step it answers to, if it is a sub-flow.
    pub(crate) fn parent(&self) -> Option<&ParentLink> {
        self.parent.as_ref()
    }

    /// Lets go of those waiting for this life's end (they find the instance's next life).
    pub(crate) fn release_waiters(&mut self) {
        self.waiters.clear();
    }

    /// A receiver told when the instance ends; `None` when it has ended.
    pub(crate) fn await_end(&mut self) -> Option<oneshot::Receiver<()>> {
        if self.status.is_final() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        Some(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::{child_id, root_id};

    #[test]
    fn a_sub_flow_of_a_sub_flow_finds_its_top_level_instance() {
        let top = "01a242db-5a4a-7211-b7a6-7ab3e3512c02";
        let grandchild = child_id(&child_id(top, "book/client", 1), "find", 2);
        assert_eq!(root_id(&grandchild), top);
        assert_eq!(root_id(top), top);
    }
}
