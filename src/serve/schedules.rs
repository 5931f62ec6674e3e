//! Schedules: `on schedule "CRON" in "TZ"` fires each due time once, across restarts and DST.
//!
//! Due times are computed on the local wall clock of the zone, then placed on the timeline: a
//! local time that occurs twice (the hour repeated when clocks go back) fires once, at its first
//! occurrence; a local time that does not exist (the hour skipped when clocks go forward) fires
//! once, at the same elapsed time (02:30 in a skipped hour fires at 03:30 of the new offset).
//! The last due time fired is kept in `STATE/schedules.json` once its instance is journaled;
//! due times missed while the host was down follow [`Missed`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::host::Host;
use super::once::{start_once, OnceError};
use crate::plan::{Bundle, Trigger};
use crate::runtime::Claim;
use crate::time_zone::Zone;

/// What to do with due times that passed while the host was not running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missed {
    /// One catch-up run for all of them, at start (the default).
    #[default]
    One,
    /// One run per missed due time (at most 100).
    All,
    /// None: wait for the next due time.
    Skip,
}

/// Catch-up runs of [`Missed::All`] are capped, so a host down for a month does not start
/// thousands of five-minute checks at once.
const MAX_CATCH_UP: usize = 100;

/// One `on schedule` trigger.
#[derive(Clone, Debug)]
pub struct ScheduleTrigger {
    /// The flow.
    pub flow: String,
    /// Its entity.
    pub entity: String,
    /// The cron expression as written (five fields, or six/seven with seconds).
    pub cron: String,
    /// The zone (`UTC` when none is written).
    pub tz: Zone,
    schedule: cron::Schedule,
}

impl ScheduleTrigger {
    /// A trigger, or why its expression or zone cannot be read.
    pub fn new(
        flow: &str,
        entity: &str,
        cron_text: &str,
        tz: Option<&str>,
    ) -> Result<ScheduleTrigger, String> {
        let full = match cron_text.split_whitespace().count() {
            5 => format!("0 {cron_text}"),
            _ => cron_text.to_string(),
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| format!("flow `{flow}`: invalid cron expression `{cron_text}`: {e}"))?;
        let tz = match tz {
            Some(name) => {
                Zone::parse(name).map_err(|_| format!("flow `{flow}`: unknown time zone `{name}`"))?
            }
            None => Zone::utc(),
        };
        Ok(ScheduleTrigger {
            flow: flow.to_string(),
            entity: entity.to_string(),
            cron: cron_text.to_string(),
            tz,
            schedule,
        })
    }

    /// The key its last firing is kept under.
    fn key(&self) -> String {
        format!("{} {} {}", self.flow, self.cron, self.tz.name())
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Walk the local wall clock; a local time reached again after clocks go back maps to an
        // instant not after `after`, and is passed over. The walk starts as far back as clocks
        // went forward in the last three hours: a skipped time is due at the same elapsed time,
        // so just after a change it can be due at a wall-clock time already passed. (It started
        // three hours back always, which for a per-second cron was more than the walk's bound:
        // it never fired.)
        let offset = |t: DateTime<Utc>| i64::from(self.tz.offset_at(t).local_minus_utc());
        let forward = (offset(after) - offset(after - chrono::Duration::hours(3))).max(0);
        let mut local = self.tz.local(after) - chrono::Duration::seconds(forward);
        for _ in 0..10_000 {
            let next = self
                .schedule
                .after(&Utc.from_utc_datetime(&local))
                .next()?
                .naive_utc();
            let at = self.place(next);
            if at > after {
                return Some(at);
            }
            local = next;
        }
        None
    }

    /// The instant of local time `local`: its first occurrence, or for a skipped time the
    /// instant it would be at the offset before the change.
    fn place(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.resolve(local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
            LocalResult::None => {
                // The offset before the change: the one in force three hours earlier (`local`
                // read as a UTC instant, near enough for a change that is an hour or less).
                let before = self
                    .tz
                    .offset_at(Utc.from_utc_datetime(&(local - chrono::Duration::hours(3))));
                Utc.from_utc_datetime(
                    &(local - chrono::Duration::seconds(i64::from(before.local_minus_utc()))),
                )
            }
        }
    }

    /// The due times in `(after, until]`, earliest first, at most `limit`.
    pub fn due_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut at = after;
        while out.len() < limit {
            match self.next_after(at) {
                Some(next) if next <= until => {
                    out.push(next);
                    at = next;
                }
                _ => break,
            }
        }
        out
    }
}

/// The schedule triggers of the bundles' entry flows (from the plans, like the webhook routes).
pub fn schedule_triggers(bundles: &[Bundle]) -> Result<Vec<ScheduleTrigger>, Vec<String>> {
    let mut triggers = Vec::new();
    let mut problems = Vec::new();
    for flow in bundles.iter().filter_map(Bundle::entry_flow) {
        for trigger in &flow.triggers {
            if let Trigger::Schedule { cron, zone } = trigger {
                let tz = zone.as_ref().map(|z| z.name());
                match ScheduleTrigger::new(&flow.name, &flow.entity, cron, tz) {
                    Ok(t) => triggers.push(t),
                    Err(e) => problems.push(e),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(triggers)
    } else {
        Err(problems)
    }
}

/// The last due time fired of each schedule, kept in a file of the state folder.
#[derive(Clone)]
pub struct Firings {
    file: Option<PathBuf>,
    last: Arc<Mutex<BTreeMap<String, DateTime<Utc>>>>,
}

impl Firings {
    /// Firings kept in `STATE/schedules.json` (read back), or in memory only.
    pub fn open(state: Option<&Path>) -> Result<Firings, String> {
        let file = state.map(|s| s.join("schedules.json"));
        let last = match &file {
            Some(f) => match std::fs::read_to_string(f) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(format!("cannot read {}: {e}", f.display())),
            },
            None => BTreeMap::new(),
        };
        Ok(Firings {
            file,
            last: Arc::new(Mutex::new(last)),
        })
    }

    fn get(&self, key: &str) -> Option<DateTime<Utc>> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// Records `at` as fired; the file is replaced whole (written aside, then renamed), so a
    /// crash leaves the old or the new content, never half of one.
    fn set(&self, key: &str, at: DateTime<Utc>) {
        let text = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            last.insert(key.to_string(), at);
            serde_json::to_string_pretty(&*last).unwrap_or_default()
        };
        let Some(file) = &self.file else { return };
        let aside = file.with_extension("json.new");
        let written = std::fs::write(&aside, text).and_then(|()| std::fs::rename(&aside, file));
        if let Err(e) = written {
            tracing::warn!("cannot record a schedule's firing in {}: {e}", file.display());
        }
    }
}

/// Runs every schedule of the host until the engine shuts down.
pub fn run_schedules(host: &Arc<Host>, triggers: Vec<ScheduleTrigger>, firings: Firings, missed: Missed) {
    for trigger in triggers {
        let (host, firings) = (Arc::downgrade(host), firings.clone());
        tokio::spawn(async move {
            let Some(clock) = host.upgrade().map(|h| h.engine.clock()) else {
                return;
            };
            clock.enter();
            let key = trigger.key();
            let now = clock.now();
            let mut last = match firings.get(&key) {
                // First start: nothing is owed for the time before the host existed.
                None => now,
                Some(last) => {
                    let owed = trigger.due_between(last, now, MAX_CATCH_UP);
                    let runs: &[DateTime<Utc>] = match missed {
                        Missed::Skip => &[],
                        Missed::One => owed.last().map(std::slice::from_ref).unwrap_or(&[]),
                        Missed::All => &owed,
                    };
                    for due in runs {
                        let Some(h) = host.upgrade() else { break };
                        fire(&h, &trigger, *due).await;
                    }
                    if let Some(latest) = owed.last() {
                        firings.set(&key, *latest);
                    }
                    owed.last().copied().unwrap_or(last)
                }
            };
            while let Some(due) = trigger.next_after(last.max(clock.now() - chrono::Duration::seconds(1))) {
                let sleep = clock.sleep_until(due);
                clock.leave();
                sleep.await;
                let Some(h) = host.upgrade() else { break };
                if !fire(&h, &trigger, due).await {
                    break;
                }
                firings.set(&key, due);
                last = due;
            }
            clock.leave();
        });
    }
}

/// Starts the flow for due time `due`; false once the engine is shutting down.
async fn fire(host: &Arc<Host>, trigger: &ScheduleTrigger, due: DateTime<Utc>) -> bool {
    // Hosts sharing a store: the first to claim the due time fires it, its start's commit
    // records the instance, and a host that claimed it and cannot start it (it is stopping)
    // gives it up to the others, which wait for one of these (`start_once`).
    let key = format!("schedule {} at {}", trigger.key(), due.to_rfc3339());
    let input = serde_json::json!({});
    let shared = host.options.store.clone();
    let claim = shared.as_deref().map_or(Claim::Unshared, |s| s.claim(&key));
    let started = match (shared, claim) {
        (Some(store), claim) if claim != Claim::Unshared => {
            let start = host.start_delivery(&trigger.flow, &trigger.entity, "schedule", input, Some(&key));
            start_once(store.as_ref(), claim, &key, start).await
        }
        _ => host
            .start(&trigger.flow, &trigger.entity, "schedule", input)
            .await
            .map(|id| (id.0, true))
            .map_err(OnceError::Engine),
    };
    match started {
        Ok((id, true)) => {
            tracing::info!(flow = %trigger.flow, instance = %id, due = %due, "schedule fired");
            true
        }
        Ok((id, false)) => {
            tracing::info!(flow = %trigger.flow, due = %due, instance = %id, "schedule fired by another host");
            true
        }
        Err(OnceError::Engine(crate::runtime::EngineError::ShuttingDown)) => false,
        Err(OnceError::Engine(e)) => {
            tracing::warn!(flow = %trigger.flow, due = %due, "schedule could not start the flow: {e}");
            true
        }
        Err(OnceError::InHand(why)) => {
            tracing::warn!(flow = %trigger.flow, due = %due, "schedule not fired here: {why}");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn london(cron: &str) -> ScheduleTrigger {
        ScheduleTrigger::new("f", "e", cron, Some("Europe/London")).unwrap()
    }

    #[test]
    fn a_daily_time_follows_the_zone_across_summer_time() {
        let t = london("0 8 * * *");
        // 08:00 GMT is 08:00Z in winter, 07:00Z in summer.
        assert_eq!(
            t.next_after(at("2026-03-28T09:00:00Z")),
            Some(at("2026-03-29T07:00:00Z"))
        );
        assert_eq!(
            t.next_after(at("2026-10-24T09:00:00Z")),
            Some(at("2026-10-25T08:00:00Z"))
        );
    }

    #[test]
    fn a_time_in_the_skipped_hour_fires_once_at_the_same_elapsed_time() {
        // 29 March 2026: London goes from 01:00 GMT straight to 02:00 BST; 01:30 does not exist.
        let t = london("30 1 * * *");
        let fired = t.due_between(at("2026-03-28T12:00:00Z"), at("2026-03-30T12:00:00Z"), 10);
        assert_eq!(
            fired,
            vec![at("2026-03-29T01:30:00Z"), at("2026-03-30T00:30:00Z")]
        );
    }

    #[test]
    fn a_skipped_time_is_due_after_the_change_at_a_wall_clock_time_already_passed() {
        // 02:10 BST, ten minutes after the change: 01:30 was skipped, and is due at 02:30 BST.
        let t = london("30 1 * * *");
        assert_eq!(
            t.next_after(at("2026-03-29T01:10:00Z")),
            Some(at("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn a_per_second_schedule_is_due_every_second() {
        let t = london("* * * * * *");
        assert_eq!(
            t.next_after(at("2026-06-01T10:00:00Z")),
            Some(at("2026-06-01T10:00:01Z"))
        );
        let fired = t.due_between(at("2026-03-29T00:59:58Z"), at("2026-03-29T01:00:02Z"), 10);
        assert_eq!(fired.len(), 4, "{fired:?}");
    }

    #[test]
    fn a_time_in_the_repeated_hour_fires_once() {
        // 25 October 2026: London goes from 02:00 BST back to 01:00 GMT; 01:30 happens twice.
        let t = london("30 1 * * *");
        let fired = t.due_between(at("2026-10-24T12:00:00Z"), at("2026-10-26T12:00:00Z"), 10);
        assert_eq!(
            fired,
            vec![at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")]
        );
    }

    #[test]
    fn every_five_minutes_through_the_repeated_hour_never_fires_a_local_time_twice() {
        let t = london("*/5 * * * *");
        let fired = t.due_between(at("2026-10-24T23:00:00Z"), at("2026-10-25T03:00:00Z"), 1000);
        let locals: Vec<NaiveDateTime> = fired.iter().map(|u| t.tz.local(*u)).collect();
        let mut unique = locals.clone();
        unique.dedup();
        assert_eq!(locals, unique, "a local time fired twice");
        assert!(fired.windows(2).all(|w| w[0] < w[1]));
        // 00:05 to 03:00 local: 3 hours of wall clock, 36 firings, over 4 real hours.
        assert_eq!(fired.len(), 36);
    }

    #[test]
    fn firings_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let f = Firings::open(Some(dir.path())).unwrap();
        f.set("k", at("2026-01-01T08:00:00Z"));
        let again = Firings::open(Some(dir.path())).unwrap();
        assert_eq!(again.get("k"), Some(at("2026-01-01T08:00:00Z")));
    }
}
