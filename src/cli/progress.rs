//! Step progress of `flowc run` on stderr, written as the history is: on a terminal, a live view
//! (one line per step, redrawn in place as its state changes; coloured unless NO_COLOR); elsewhere
//! (a pipe, a log file, CI) one plain line per change.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use std::sync::Arc;

use crate::runtime::{Commit, Event, EventKind, InstanceRecord, Store, TimerRecord};

/// A step's state as the live view shows it.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Running,
    Retrying,
    Waiting,
    Done,
    Fallback,
    Failed,
    Skipped,
}

impl State {
    /// Whether the step can still change (its line stays in the redrawn part).
    fn is_final(self) -> bool {
        !matches!(self, State::Running | State::Retrying | State::Waiting)
    }

    fn mark(self) -> &'static str {
        match self {
            State::Running => "…",
            State::Retrying => "↻",
            State::Waiting => "⏸",
            State::Done | State::Fallback => "✓",
            State::Failed => "✗",
            State::Skipped => "-",
        }
    }

    /// ANSI colour code.
    fn color(self) -> &'static str {
        match self {
            State::Running | State::Waiting => "36",
            State::Retrying | State::Fallback => "33",
            State::Done => "32",
            State::Failed => "31",
            State::Skipped => "2",
        }
    }
}

/// The lines of the live view.
#[derive(Default)]
struct Live {
    /// (step label, state, detail), in the order the steps first appeared.
    steps: Vec<(String, State, String)>,
    /// Leading steps whose lines are final and printed for good: only the lines after them
    /// are redrawn, so the view never outgrows the screen however many steps a run has.
    committed: usize,
    /// Lines of the redrawn part drawn last time (moved back over before redrawing).
    drawn: usize,
}

/// The history store of a run, telling the user about each change.
pub(crate) struct Progress {
    store: Arc<dyn Store>,
    /// `Some` for the live view.
    live: Option<Mutex<Live>>,
    color: bool,
    /// The run's instance (the first one seen); other instances, started by its events, are
    /// named in their labels.
    main: Mutex<Option<String>>,
}

impl Progress {
    /// The live view when stderr is a terminal, plain lines otherwise; the history is kept in
    /// `store` (in memory, or a state folder's database).
    pub(crate) fn over(store: Arc<dyn Store>) -> Progress {
        let live = std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        Progress {
            store,
            live: live.then(|| Mutex::new(Live::default())),
            color: super::output::use_color(true),
            main: Mutex::new(None),
        }
    }
}

/// The label of `step` of `instance`: sub-flow steps are shown under the parent's step
/// (`client › by_email`), steps of instances other than the run's `main` one under its id.
fn label(main: &str, instance: &str, step: &str) -> String {
    let (root, path) = match instance.split_once('/') {
        Some((root, path)) => (root, format!("{} › {step}", path.replace('/', " › "))),
        None => (instance, step.to_string()),
    };
    if root == main {
        path
    } else {
        format!("{root} › {path}")
    }
}

/// What `kind` changes: the step, its new state and a detail.
fn change(kind: &EventKind) -> Option<(&str, State, String)> {
    Some(match kind {
        EventKind::StepStarted { step, attempt } if *attempt > 1 => {
            (step, State::Running, format!("attempt {attempt}"))
        }
        EventKind::StepStarted { step, .. } => (step, State::Running, String::new()),
        EventKind::StepSucceeded { step, fallback, .. } => {
            if *fallback {
                (step, State::Fallback, "fallback".into())
            } else {
                (step, State::Done, String::new())
            }
        }
        EventKind::StepFailed {
            step,
            class,
            message,
            will_retry,
            ..
        } => {
            let state = if *will_retry {
                State::Retrying
            } else {
                State::Failed
            };
            let retry = if *will_retry { " (will retry)" } else { "" };
            (step, state, format!("{class}: {message}{retry}"))
        }
        EventKind::StepSkipped { step } => (step, State::Skipped, String::new()),
        EventKind::WaitStarted { step, until } => (
            step,
            State::Waiting,
            match until {
                Some(t) => format!("until {}", t.to_rfc3339()),
                None => String::new(),
            },
        ),
        EventKind::WaitEnded { step, timed_out } => (
            step,
            State::Done,
            if *timed_out {
                "timed out".into()
            } else {
                "resumed".into()
            },
        ),
        _ => return None,
    })
}

/// The plain line for a change (the format `flowc run` has always printed).
fn plain(label: &str, state: State, detail: &str) -> String {
    match state {
        State::Running if detail.is_empty() => format!("step {label} started"),
        State::Running => format!("step {label} started ({detail})"),
        State::Done if detail == "timed out" => format!("{label} timed out"),
        State::Done if detail == "resumed" => format!("{label} resumed"),
        State::Done => format!("step {label} done"),
        State::Fallback => format!("step {label} done (fallback)"),
        State::Retrying | State::Failed => format!("step {label} failed: {detail}"),
        State::Skipped => format!("step {label} skipped"),
        State::Waiting if detail.is_empty() => format!("{label} waiting"),
        State::Waiting => format!("{label} waiting {detail}"),
    }
}

impl Progress {
    fn show(&self, instance: &str, kind: &EventKind) {
        let Some((step, state, detail)) = change(kind) else {
            return;
        };
        let main = {
            let mut main = self.main.lock().unwrap_or_else(|e| e.into_inner());
            let root = crate::runtime::root_id(instance);
            main.get_or_insert_with(|| root.to_string()).clone()
        };
        let label = label(&main, instance, step);
        let Some(live) = &self.live else {
            errln!("{}", plain(&label, state, &detail));
            return;
        };
        let mut live = live.lock().unwrap_or_else(|e| e.into_inner());
        let committed = live.committed;
        // A step already printed for good that changes again gets a new line.
        match live.steps[committed..].iter_mut().find(|(l, ..)| *l == label) {
            Some(entry) => {
                entry.1 = state;
                entry.2 = detail;
            }
            None => live.steps.push((label, state, detail)),
        }
        let mut out = String::new();
        if live.drawn > 0 {
            // Back to the first redrawn line, and clear it and everything below.
            out.push_str(&format!("\x1b[{}A\r\x1b[J", live.drawn));
        }
        while live.committed < live.steps.len() && live.steps[live.committed].1.is_final() {
            out.push_str(&self.line(&live.steps[live.committed]));
            live.committed += 1;
        }
        for step in &live.steps[live.committed..] {
            out.push_str(&self.line(step));
        }
        live.drawn = live.steps.len() - live.committed;
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(out.as_bytes());
        let _ = stderr.flush();
    }
}

impl Progress {
    /// One line of the live view.
    fn line(&self, (label, state, detail): &(String, State, String)) -> String {
        let mark = if self.color {
            format!("\x1b[{}m{}\x1b[0m", state.color(), state.mark())
        } else {
            state.mark().to_string()
        };
        if detail.is_empty() {
            format!("{mark} {label}\n")
        } else {
            format!("{mark} {label}  {detail}\n")
        }
    }
}

impl Store for Progress {
    fn append(&self, instance: &str, event: Event) {
        self.show(instance, &event.kind);
        self.store.append(instance, event);
    }
    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        for e in &events {
            self.show(instance, &e.kind);
        }
        self.store.append_batch(instance, events)
    }
    fn sync(&self) -> Commit {
        self.store.sync()
    }
    fn unfinished(&self) -> Vec<String> {
        self.store.unfinished()
    }
    fn records(&self) -> Vec<InstanceRecord> {
        self.store.records()
    }
    fn record(&self, instance: &str) -> Option<InstanceRecord> {
        self.store.record(instance)
    }
    fn put_plan(&self, hash: &str, bundle: &str) {
        self.store.put_plan(hash, bundle)
    }
    fn plan(&self, hash: &str) -> Option<String> {
        self.store.plan(hash)
    }
    fn compact(&self, instance: &str) {
        self.store.compact(instance)
    }
    fn history(&self, instance: &str) -> Vec<Event> {
        self.store.history(instance)
    }
    fn put_timer(&self, timer: TimerRecord) {
        self.store.put_timer(timer)
    }
    fn remove_timer(&self, id: u64) {
        self.store.remove_timer(id)
    }
    fn timers(&self) -> Vec<TimerRecord> {
        self.store.timers()
    }
    fn instances(&self) -> Vec<String> {
        self.store.instances()
    }
    fn keeps_effects(&self) -> bool {
        self.store.keeps_effects()
    }
    fn put_effect(&self, log: &str, key: &str, record: String) -> Commit {
        self.store.put_effect(log, key, record)
    }
    fn effect(&self, log: &str, key: &str) -> Result<Option<String>, crate::runtime::StoreError> {
        self.store.effect(log, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_flow_steps_are_labelled_under_the_parent_step() {
        let main = "wellness_booking-1";
        assert_eq!(label(main, "wellness_booking-1", "client"), "client");
        assert_eq!(
            label(main, "wellness_booking-1/client", "by_email"),
            "client › by_email"
        );
        assert_eq!(
            label(main, "wellness_booking-1/reminders_sent/x", "booking"),
            "reminders_sent › x › booking"
        );
        assert_eq!(label(main, "routing-2", "filed"), "routing-2 › filed");
    }

    #[test]
    fn plain_lines_say_what_changed() {
        let failed = EventKind::StepFailed {
            step: "s".into(),
            attempt: 1,
            class: "transient".into(),
            message: "503".into(),
            will_retry: true,
        };
        let (step, state, detail) = change(&failed).unwrap();
        assert_eq!(
            plain(step, state, &detail),
            "step s failed: transient: 503 (will retry)"
        );
        let skipped = EventKind::StepSkipped { step: "t".into() };
        let (step, state, detail) = change(&skipped).unwrap();
        assert_eq!(plain(step, state, &detail), "step t skipped");
    }
}
