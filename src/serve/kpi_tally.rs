//! The KPIs kept up to date as instances end: read from the journal once when the host is set
//! up, then each top-level instance the host starts or resumes is counted open at its start and
//! its figures are added when it ends (its history and its sub-flows', read from the store once,
//! before the host lets the instance go), so a scrape of `/metrics` reads no history, however
//! long the journal. That read is a sixth of the host's CPU per webhook under load (the
//! serve_load bench): the engine keeps no history in memory to hand over instead.
//!
//! What the tally sees is what this host runs: an instance started on the same journal by
//! another process after this host was set up is counted when this host resumes it, if ever.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::host::Host;
use super::journal::{self, Entry, Plans};
use super::kpi::{self, Kpis};
use crate::plan::{Bundle, CallTarget, NodeKind};
use crate::runtime::{EventKind, InstanceId, InstanceRecord};

/// How deep sub-flows of sub-flows are followed for a human task (the plan compiler refuses
/// recursion; this only bounds a corrupt journal).
const MAX_DEPTH: usize = 16;

/// The KPIs of the journal, kept up to date.
pub(crate) struct KpiTally {
    /// A flow's name → its key, for flows started by name (a name two flows share is kept as is).
    keys: HashMap<String, String>,
    state: Mutex<State>,
    /// The plans instances ran on, read once per hash.
    plans: Mutex<Plans>,
}

#[derive(Default)]
struct State {
    kpis: Kpis,
    /// Top-level instances counted open: their end moves them out of `open`. An end of one not
    /// here (a retry of an instance ended before, or one another process started) counts it.
    open: HashSet<String>,
}

impl KpiTally {
    /// An empty tally for the flows of `bundles`.
    pub(crate) fn new(bundles: &[Bundle]) -> KpiTally {
        let mut keys: HashMap<String, String> = HashMap::new();
        let mut shared = HashSet::new();
        for key in bundles.iter().map(|b| &b.entry) {
            let name = key.rsplit_once('.').map_or(key.as_str(), |(_, n)| n).to_string();
            if keys.insert(name.clone(), key.clone()).is_some() {
                shared.insert(name);
            }
        }
        keys.retain(|name, _| !shared.contains(name));
        KpiTally {
            keys,
            state: Mutex::new(State::default()),
            plans: Mutex::new(Plans::default()),
        }
    }

    /// Reads the KPIs of `host`'s journal (blocking: every history, once).
    pub(crate) fn load(&self, host: &Host) {
        let entries = journal::entries(host);
        let kpis = {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            kpi::of_entries_with(host, &entries, &mut plans)
        };
        let open = entries
            .iter()
            .filter(|e| e.record.parent.is_none() && e.record.status == "running")
            .map(|e| e.record.id.clone())
            .collect();
        *self.lock() = State { kpis, open };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, flow: &str) -> String {
        self.keys.get(flow).cloned().unwrap_or_else(|| flow.to_string())
    }

    /// Top-level instance `id` of `flow` (its name or key) started.
    pub(crate) fn started(&self, id: &str, flow: &str) {
        let key = self.key(flow);
        let mut state = self.lock();
        if state.open.insert(id.to_string()) {
            let k = state.kpis.flows.entry(key).or_default();
            k.instances += 1;
            k.open += 1;
        }
    }

    /// Failed instance `id` of `flow` runs again: no longer failed, open until it ends.
    pub(crate) fn retried(&self, id: &str, flow: &str) {
        let key = self.key(flow);
        let mut state = self.lock();
        if state.open.insert(id.to_string()) {
            let k = state.kpis.flows.entry(key).or_default();
            k.failed = k.failed.saturating_sub(1);
            k.open += 1;
        }
    }

    /// Top-level instance `id` ended: its figures join the flow's (read from the store, before
    /// the host lets the instance go). Returns the ids of the sub-flows it called (and theirs),
    /// which the host lets go with it.
    pub(crate) fn ended(&self, host: &Host, id: &InstanceId) -> Vec<InstanceId> {
        let history = host.engine.history(id);
        let Some(record) = InstanceRecord::from_history(&id.0, &history) else {
            return Vec::new();
        };
        if record.parent.is_some() {
            return Vec::new();
        }
        let retried = history
            .iter()
            .any(|e| matches!(e.kind, EventKind::InstanceRetried));
        let flow = record.flow.clone();
        let mut entries = vec![Entry { record, history }];
        let mine = {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            add_sub_flows(host, &mut plans, &mut entries);
            kpi::of_entries_with(host, &entries, &mut plans)
        };
        let sub_flows = entries[1..]
            .iter()
            .map(|e| InstanceId(e.record.id.clone()))
            .collect();
        let Some(mine) = mine.flows.get(&flow) else {
            return sub_flows;
        };
        let mut state = self.lock();
        let counted_open = state.open.remove(&id.0);
        let k = state.kpis.flows.entry(flow).or_default();
        if counted_open {
            k.open = k.open.saturating_sub(1);
        } else if !retried {
            k.instances += 1;
        }
        k.completed += mine.completed;
        k.unattended += mine.unattended;
        k.failed += mine.failed;
        k.cancelled += mine.cancelled;
        k.execution.merge(&mine.execution);
        // A retried instance's first message was counted at its first end.
        if !retried {
            k.first_message.merge(&mine.first_message);
        }
        sub_flows
    }

    /// The KPIs as they stand.
    pub(crate) fn snapshot(&self) -> Kpis {
        self.lock().kpis.clone()
    }
}

/// Adds to `entries` (an instance) the sub-flows it called, and theirs: the ones a human task
/// may hide in. A sub-flow's id is its caller's with the calling step (and attempt) after it.
fn add_sub_flows(host: &Host, plans: &mut Plans, entries: &mut Vec<Entry>) {
    let mut next = 0;
    while next < entries.len() {
        let depth = entries[next].record.id.matches('/').count();
        let mut found = Vec::new();
        if depth < MAX_DEPTH {
            if let Some(flow) = plans.flow(host, &entries[next].record) {
                for e in &entries[next].history {
                    let EventKind::StepStarted { step, attempt } = &e.kind else {
                        continue;
                    };
                    let calls_flow = journal::node_at(flow, step).is_some_and(|n| {
                        matches!(&n.kind, NodeKind::Call(c) if matches!(c.target, CallTarget::Flow { .. }))
                    });
                    if calls_flow {
                        let parent = &entries[next].record.id;
                        found.push(if *attempt <= 1 {
                            format!("{parent}/{step}")
                        } else {
                            format!("{parent}/{step}#{attempt}")
                        });
                    }
                }
            }
        }
        for id in found {
            let history = host.engine.history(&InstanceId(id.clone()));
            if let Some(record) = InstanceRecord::from_history(&id, &history) {
                entries.push(Entry { record, history });
            }
        }
        next += 1;
    }
}
