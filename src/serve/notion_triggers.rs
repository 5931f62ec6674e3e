//! `on notion DB created` / `changed "PROP" to VALUE`, read from the plans, and the rule that
//! says which of them a page just seen sets off.
//!
//! Notion tells what changed only by ids, so the host remembers each watched page's values
//! ([`PageMemory`]): a `changed` trigger fires on a transition to its value, never because the
//! page still holds it, and a page seen twice (webhook then poll, or a retried delivery) is one
//! change.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::plan::{Bundle, NotionChange, Trigger};

/// One Notion trigger of an entry flow.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NotionTrigger {
    pub(crate) flow: String,
    pub(crate) entity: String,
    /// The logical database (`Task`).
    pub(crate) database: String,
    pub(crate) change: Change,
}

/// What the trigger waits for, its value evaluated (a constant) to JSON.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    Created,
    Changed { property: String, to: Option<Json> },
}

/// The Notion triggers of the bundles' entry flows, or why a `to` value cannot be read.
pub(crate) fn notion_triggers(bundles: &[Bundle]) -> Result<Vec<NotionTrigger>, String> {
    let mut out = Vec::new();
    for flow in bundles.iter().filter_map(Bundle::entry_flow) {
        for trigger in &flow.triggers {
            let Trigger::Notion { database, change } = trigger else {
                continue;
            };
            let change = match change {
                NotionChange::Created => Change::Created,
                NotionChange::Changed { property, to } => Change::Changed {
                    property: property.clone(),
                    to: to.as_ref().map(|e| constant(e, &flow.name)).transpose()?,
                },
            };
            out.push(NotionTrigger {
                flow: flow.name.clone(),
                entity: flow.entity.clone(),
                database: database.clone(),
                change,
            });
        }
    }
    Ok(out)
}

fn constant(expr: &crate::plan::Expr, flow: &str) -> Result<Json, String> {
    let env = crate::runtime::eval::MapEnv {
        names: BTreeMap::new(),
        now: Utc::now(),
    };
    crate::runtime::eval::eval(expr, &env)
        .map(|v| v.to_json())
        .map_err(|e| format!("flow `{flow}`: the value of its `on notion ... to` cannot be read: {e}"))
}

/// What the host last saw of one page: when it was edited and the values of the watched
/// properties.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Seen {
    pub(crate) edited: String,
    pub(crate) values: BTreeMap<String, Json>,
}

/// How a page came to be looked at.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Sighting {
    /// A webhook event: its type and, for `page.properties_updated`, the ids of the properties
    /// it says changed.
    Event { kind: String, updated: Vec<String> },
    /// The polling fallback found it edited since the last poll.
    Poll,
}

/// A page as the host reads it: its id, timestamps, and each property's plain value and id.
#[derive(Clone, Debug)]
pub(crate) struct PageView {
    pub(crate) id: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) edited: String,
    /// Property name → (Notion's property id, plain value as JSON).
    pub(crate) properties: BTreeMap<String, (String, Json)>,
}

impl PageView {
    /// Reads a page object of the Notion API; none when it is not one.
    pub(crate) fn read(page: &Json) -> Option<PageView> {
        let id = page.get("id")?.as_str()?.to_string();
        let created = page
            .get("created_time")
            .and_then(Json::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())?
            .with_timezone(&Utc);
        let edited = page.get("last_edited_time")?.as_str()?.to_string();
        let plain = crate::connectors::notion::plain_properties(page);
        let mut properties = BTreeMap::new();
        if let Some(Json::Object(props)) = page.get("properties") {
            for (name, prop) in props {
                let pid = prop.get("id").and_then(Json::as_str).unwrap_or_default();
                let value = plain.get(name).cloned().unwrap_or(Json::Null);
                properties.insert(name.clone(), (pid.to_string(), value));
            }
        }
        Some(PageView {
            id,
            created,
            edited,
            properties,
        })
    }

    fn value(&self, property: &str) -> Json {
        self.properties
            .get(property)
            .map(|(_, v)| v.clone())
            .unwrap_or(Json::Null)
    }

    /// Whether a webhook's `updated_properties` names `property` (Notion sends ids, URL-encoded).
    fn listed(&self, property: &str, updated: &[String]) -> bool {
        let Some((pid, _)) = self.properties.get(property) else {
            return false;
        };
        let pid = percent_decoded(pid);
        updated.iter().any(|u| percent_decoded(u) == pid)
    }
}

/// `text` with its `%XX` escapes decoded (Notion URL-encodes property ids).
fn percent_decoded(text: &str) -> String {
    let query = format!("k={}", text.replace('+', "%2B").replace('&', "%26"));
    form_urlencoded::parse(query.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
}

/// The verdict on one sighting: which triggers fire, and what to remember of the page (none:
/// the sighting is older than what is remembered, and changes nothing).
#[derive(Debug, PartialEq)]
pub(crate) struct Verdict<'a> {
    pub(crate) fire: Vec<&'a NotionTrigger>,
    pub(crate) remember: Option<Seen>,
}

/// Decides what `page`, seen through `sighting`, sets off among `triggers` (all of one entity
/// and database), given what was `remembered` of it. `watched_since` is when the host began
/// watching the database: a page created since then is new even if no webhook said so.
pub(crate) fn judge<'a>(
    triggers: &'a [NotionTrigger],
    page: &PageView,
    sighting: &Sighting,
    remembered: Option<&Seen>,
    watched_since: Option<DateTime<Utc>>,
) -> Verdict<'a> {
    if let Some(seen) = remembered {
        // Notion's timestamps are ISO 8601 in UTC with a fixed width: text order is time order.
        if page.edited < seen.edited {
            return Verdict {
                fire: Vec::new(),
                remember: None,
            };
        }
    }
    // A page created since the host began watching (or announced as created) is new: its
    // properties changed from nothing to what it holds. Its first sighting may come after
    // later edits (events arrive late, polls are coarse), so a value set right after creation
    // still counts as a change.
    let new_page = remembered.is_none()
        && (matches!(sighting, Sighting::Event { kind, .. } if kind == "page.created")
            || watched_since.is_some_and(|since| page.created >= since));
    let mut fire = Vec::new();
    for trigger in triggers {
        let fires = match (&trigger.change, remembered) {
            (Change::Created, None) => new_page,
            (Change::Created, Some(_)) => false,
            (Change::Changed { property, to }, Some(seen)) => {
                let now = page.value(property);
                let before = seen.values.get(property).cloned().unwrap_or(Json::Null);
                now != before && to.as_ref().is_none_or(|to| *to == now)
            }
            (Change::Changed { property, to }, None) if new_page => {
                let now = page.value(property);
                !now.is_null() && to.as_ref().is_none_or(|to| *to == now)
            }
            // Met before the host watched it: only a webhook naming the property tells that it
            // changed (a poll meeting it has nothing to compare with).
            (Change::Changed { property, to }, None) => match sighting {
                Sighting::Event { kind, updated } if kind == "page.properties_updated" => {
                    page.listed(property, updated) && to.as_ref().is_none_or(|to| *to == page.value(property))
                }
                _ => false,
            },
        };
        if fires {
            fire.push(trigger);
        }
    }
    let mut values = BTreeMap::new();
    for trigger in triggers {
        if let Change::Changed { property, .. } = &trigger.change {
            values.insert(property.clone(), page.value(property));
        }
    }
    Verdict {
        fire,
        remember: Some(Seen {
            edited: page.edited.clone(),
            values,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn trigger(change: Change) -> NotionTrigger {
        NotionTrigger {
            flow: "f".into(),
            entity: "e".into(),
            database: "Task".into(),
            change,
        }
    }

    fn done() -> NotionTrigger {
        trigger(Change::Changed {
            property: "Status".into(),
            to: Some(json!("Done")),
        })
    }

    fn page(status: &str, edited: &str) -> PageView {
        let mut properties = BTreeMap::new();
        properties.insert("Status".to_string(), ("p%3D1".to_string(), json!(status)));
        PageView {
            id: "pg".into(),
            created: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            edited: edited.into(),
            properties,
        }
    }

    fn seen(status: &str, edited: &str) -> Seen {
        Seen {
            edited: edited.into(),
            values: BTreeMap::from([("Status".to_string(), json!(status))]),
        }
    }

    #[test]
    fn a_change_fires_only_on_the_transition_to_its_value() {
        let t = [done()];
        let before = seen("To Do", "2026-01-01T00:01:00.000Z");
        let v = judge(
            &t,
            &page("Done", "2026-01-01T00:02:00.000Z"),
            &Sighting::Poll,
            Some(&before),
            None,
        );
        assert_eq!(v.fire.len(), 1);
        // The same page seen again (the webhook after the poll): nothing new.
        let after = v.remember.unwrap();
        let again = judge(
            &t,
            &page("Done", "2026-01-01T00:02:00.000Z"),
            &Sighting::Event {
                kind: "page.properties_updated".into(),
                updated: vec!["p%3D1".into()],
            },
            Some(&after),
            None,
        );
        assert!(again.fire.is_empty());
        // Another value is not a transition to Done.
        let other = judge(
            &t,
            &page("Blocked", "2026-01-01T00:03:00.000Z"),
            &Sighting::Poll,
            Some(&before),
            None,
        );
        assert!(other.fire.is_empty());
    }

    #[test]
    fn an_older_sighting_changes_nothing() {
        let t = [done()];
        let newer = seen("Done", "2026-01-01T00:05:00.000Z");
        let v = judge(
            &t,
            &page("To Do", "2026-01-01T00:01:00.000Z"),
            &Sighting::Poll,
            Some(&newer),
            None,
        );
        assert_eq!(
            v,
            Verdict {
                fire: vec![],
                remember: None
            }
        );
    }

    #[test]
    fn an_unknown_page_fires_a_change_only_when_a_webhook_names_the_property() {
        let t = [done()];
        let p = page("Done", "2026-01-01T00:01:00.000Z");
        assert!(judge(&t, &p, &Sighting::Poll, None, None).fire.is_empty());
        let named = Sighting::Event {
            kind: "page.properties_updated".into(),
            // Notion URL-encodes property ids in events.
            updated: vec!["p=1".into()],
        };
        assert_eq!(judge(&t, &p, &named, None, None).fire.len(), 1);
        let other = Sighting::Event {
            kind: "page.properties_updated".into(),
            updated: vec!["title".into()],
        };
        assert!(judge(&t, &p, &other, None, None).fire.is_empty());
    }

    #[test]
    fn created_fires_for_a_new_page_once() {
        let t = [trigger(Change::Created)];
        let p = page("To Do", "2026-01-01T00:01:00.000Z");
        let since = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        // Created before the host watched, met by a poll: an old page.
        assert!(
            judge(&t, &p, &Sighting::Poll, None, since("2026-01-02T00:00:00Z"))
                .fire
                .is_empty()
        );
        let v = judge(&t, &p, &Sighting::Poll, None, since("2025-12-31T00:00:00Z"));
        assert_eq!(v.fire.len(), 1);
        let created = Sighting::Event {
            kind: "page.created".into(),
            updated: vec![],
        };
        assert_eq!(judge(&t, &p, &created, None, None).fire.len(), 1);
        let remembered = v.remember.unwrap();
        assert!(judge(&t, &p, &created, Some(&remembered), None).fire.is_empty());
    }

    #[test]
    fn a_new_page_changed_from_nothing_to_what_it_holds() {
        // Created, then set Done before its creation was seen: the change is not lost.
        let t = [done()];
        let created = Sighting::Event {
            kind: "page.created".into(),
            updated: vec![],
        };
        let v = judge(
            &t,
            &page("Done", "2026-01-01T00:01:00.000Z"),
            &created,
            None,
            None,
        );
        assert_eq!(v.fire.len(), 1);
        assert!(judge(
            &t,
            &page("To Do", "2026-01-01T00:01:00.000Z"),
            &created,
            None,
            None
        )
        .fire
        .is_empty());
    }
}
