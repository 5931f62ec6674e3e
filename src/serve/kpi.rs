//! The seed's KPIs computed from the journal, per flow: automation rate (completed without human
//! intervention / ended), error rate, execution time and time to the first message sent (the
//! lead response time of `lead_nurturing`). docs/serve.md defines each one. The host reads them
//! from the journal once and keeps them up to date as instances end (`kpi_tally`).

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::host::Host;
use super::journal::{self, Entry, Plans};
use crate::plan::{CallTarget, NodeKind};
use crate::runtime::EventKind;

/// Sub-flows of this module are human tasks: starting one hands work to a person.
const HUMAN_TASK_MODULE: &str = "stdlib.tasks.";

/// Actions that send a message to a person: the first one to succeed is an instance's response.
const MESSAGE_ACTIONS: &[(&str, &str)] = &[("email", "send"), ("sms", "send"), ("slack", "post")];

/// The flow whose automation rate is the seed's booking automation rate.
pub(crate) const BOOKING_FLOW: &str = "wellness_booking";
/// The flow whose time to the first message is the seed's lead response time.
pub(crate) const LEAD_FLOW: &str = "lead_nurturing";

/// The KPIs of one flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FlowKpis {
    /// Top-level instances started.
    pub(crate) instances: u64,
    /// Still running or waiting: not counted in the rates yet.
    pub(crate) open: u64,
    /// Completed.
    pub(crate) completed: u64,
    /// Completed without human intervention.
    pub(crate) unattended: u64,
    /// Failed.
    pub(crate) failed: u64,
    /// Cancelled.
    pub(crate) cancelled: u64,
    /// Start to completion of each completed instance, in seconds.
    pub(crate) execution: Durations,
    /// Start to the first message sent, of each instance that sent one, in seconds.
    pub(crate) first_message: Durations,
}

/// How many of the latest durations the percentiles are taken over: a host that runs for months
/// keeps a bounded window, not every duration it saw.
pub(crate) const WINDOW: usize = 10_000;

/// Durations in seconds: how many, their total and maximum over all, and the latest
/// [`WINDOW`] for the percentiles.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Durations {
    count: u64,
    total: f64,
    max: f64,
    latest: VecDeque<f64>,
}

impl Durations {
    pub(crate) fn add(&mut self, seconds: f64) {
        self.count += 1;
        self.total += seconds;
        self.max = if self.count == 1 {
            seconds
        } else {
            self.max.max(seconds)
        };
        self.latest.push_back(seconds);
        if self.latest.len() > WINDOW {
            self.latest.pop_front();
        }
    }

    /// Adds `other`'s durations to these.
    pub(crate) fn merge(&mut self, other: &Durations) {
        if other.count == 0 {
            return;
        }
        self.max = if self.count == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.count += other.count;
        self.total += other.total;
        self.latest.extend(&other.latest);
        let excess = self.latest.len().saturating_sub(WINDOW);
        self.latest.drain(..excess);
    }
}

impl FromIterator<f64> for Durations {
    fn from_iter<I: IntoIterator<Item = f64>>(values: I) -> Durations {
        let mut d = Durations::default();
        for v in values {
            d.add(v);
        }
        d
    }
}

impl FlowKpis {
    /// Instances that ended (completed, failed or cancelled).
    pub(crate) fn ended(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }

    /// Completed without human intervention / ended; none before the first end.
    pub(crate) fn automation_rate(&self) -> Option<f64> {
        ratio(self.unattended, self.ended())
    }

    /// Failed / ended.
    pub(crate) fn error_rate(&self) -> Option<f64> {
        ratio(self.failed, self.ended())
    }
}

fn ratio(part: u64, all: u64) -> Option<f64> {
    (all > 0).then(|| part as f64 / all as f64)
}

/// Mean, median, 95th percentile and maximum of some durations (the percentiles over the
/// latest [`WINDOW`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) mean: f64,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) max: f64,
}

impl Summary {
    /// The summary of `durations` (none when empty); percentiles by nearest rank.
    pub(crate) fn of(durations: &Durations) -> Option<Summary> {
        if durations.count == 0 || durations.latest.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = durations.latest.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(Summary {
            count: durations.count as usize,
            mean: durations.total / durations.count as f64,
            p50: rank(0.5),
            p95: rank(0.95),
            max: durations.max,
        })
    }
}

/// The KPIs of every flow with a top-level instance, by flow key.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Kpis {
    pub(crate) flows: BTreeMap<String, FlowKpis>,
}

impl Kpis {
    /// The KPIs of the flow called `name` (its key's last part), all its keys added up.
    pub(crate) fn of_flow(&self, name: &str) -> Option<FlowKpis> {
        let mut found: Option<FlowKpis> = None;
        for (key, k) in &self.flows {
            if key == name || key.rsplit_once('.').is_some_and(|(_, n)| n == name) {
                let sum = found.get_or_insert_with(FlowKpis::default);
                sum.instances += k.instances;
                sum.open += k.open;
                sum.completed += k.completed;
                sum.unattended += k.unattended;
                sum.failed += k.failed;
                sum.cancelled += k.cancelled;
                sum.execution.merge(&k.execution);
                sum.first_message.merge(&k.first_message);
            }
        }
        found
    }
}

/// The KPIs of `entries`, read from `host`'s journal.
pub(crate) fn of_entries(host: &Host, entries: &[Entry]) -> Kpis {
    of_entries_with(host, entries, &mut Plans::default())
}

/// [`of_entries`] with plans already read.
pub(crate) fn of_entries_with(host: &Host, entries: &[Entry], plans: &mut Plans) -> Kpis {
    compute(entries, |entry, step| {
        let flow = plans.flow(host, &entry.record)?;
        match &journal::node_at(flow, step)?.kind {
            NodeKind::Call(c) => Some(match &c.target {
                CallTarget::Action { connector, action } => MESSAGE_ACTIONS
                    .iter()
                    .any(|(c, a)| c == connector && *a == &**action),
                CallTarget::Flow { .. } => false,
            }),
            _ => Some(false),
        }
    })
}

/// The KPIs of `entries`; `sends_message(entry, step)` says whether a step of the entry's flow
/// sends a message (none when its plan is not known).
pub(crate) fn compute(
    entries: &[Entry],
    mut sends_message: impl FnMut(&Entry, &str) -> Option<bool>,
) -> Kpis {
    let mut children: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in entries {
        if let Some(parent) = &e.record.parent {
            children.entry(parent.as_str()).or_default().push(e);
        }
    }
    let mut kpis = Kpis::default();
    for entry in entries.iter().filter(|e| e.record.parent.is_none()) {
        let k = kpis.flows.entry(entry.record.flow.clone()).or_default();
        k.instances += 1;
        match entry.record.status.as_str() {
            "completed" => {
                k.completed += 1;
                if !needed_a_person(entry, &children) {
                    k.unattended += 1;
                }
                if let Some(done) = last_at(entry, |k| matches!(k, EventKind::InstanceCompleted)) {
                    k.execution.add(seconds(entry.record.started_at, done));
                }
            }
            "failed" => k.failed += 1,
            "cancelled" => k.cancelled += 1,
            _ => k.open += 1,
        }
        let first = entry.history.iter().find(|e| match &e.kind {
            EventKind::StepSucceeded {
                step,
                fallback: false,
                ..
            } => sends_message(entry, step).unwrap_or(false),
            _ => false,
        });
        if let Some(sent) = first {
            k.first_message.add(seconds(entry.record.started_at, sent.at));
        }
    }
    kpis
}

/// Human intervention: in the instance or any of its sub-flows, a human task was opened (a
/// sub-flow of `stdlib.tasks` started) or an operator retried a failed instance.
fn needed_a_person(entry: &Entry, children: &HashMap<&str, Vec<&Entry>>) -> bool {
    entry.record.flow.starts_with(HUMAN_TASK_MODULE)
        || entry
            .history
            .iter()
            .any(|e| matches!(e.kind, EventKind::InstanceRetried))
        || children
            .get(entry.record.id.as_str())
            .is_some_and(|kids| kids.iter().any(|kid| needed_a_person(kid, children)))
}

fn last_at(entry: &Entry, what: impl Fn(&EventKind) -> bool) -> Option<DateTime<Utc>> {
    entry.history.iter().rev().find(|e| what(&e.kind)).map(|e| e.at)
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Option<Summary> {
        Summary::of(&values.iter().copied().collect())
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.count, s.mean, s.p50, s.p95, s.max), (4, 2.5, 2.0, 4.0, 4.0));
        let one = of(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p95), (7.0, 7.0));
        assert!(of(&[]).is_none());
    }

    #[test]
    fn percentiles_cover_the_latest_window_and_the_rest_all() {
        // A slow start, then WINDOW fast ones: the percentiles forget the slow start, the
        // mean, count and maximum do not.
        let mut d: Durations = std::iter::repeat_n(100.0, 10).collect();
        let mut fast: Durations = std::iter::repeat_n(1.0, WINDOW).collect();
        d.merge(&fast);
        let s = Summary::of(&d).unwrap();
        assert_eq!((s.count, s.p50, s.p95, s.max), (WINDOW + 10, 1.0, 1.0, 100.0));
        assert!((s.mean - (WINDOW as f64 + 1000.0) / (WINDOW as f64 + 10.0)).abs() < 1e-9);
        assert_eq!(d.latest.len(), WINDOW, "bounded");
        fast.add(0.5);
        assert_eq!(fast.latest.len(), WINDOW);
        assert_eq!(Summary::of(&fast).unwrap().max, 1.0);
    }
}
