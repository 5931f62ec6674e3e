//! What starts a flow, as a host reads it from a plan: webhooks, schedules, Notion changes,
//! events and manual starts.

use serde::{Deserialize, Serialize};

use super::expr::Expr;
use crate::time_zone::Zone;

/// One `on ...` line of a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `on manual`: started by hand (`flowc run`, the API).
    Manual,
    /// `on webhook "/hooks/bookings" verified by amelia`: a request's JSON body is the input.
    Webhook {
        /// The URL path, starting with `/`.
        path: String,
        /// How requests are authenticated.
        auth: WebhookAuth,
    },
    /// `on schedule "0 9 * * MON-FRI" in "Europe/London"`
    Schedule {
        /// The cron expression as written (five fields, or six/seven with seconds).
        cron: String,
        /// The time zone the schedule is read in; `None` is UTC.
        zone: Option<Zone>,
    },
    /// `on notion ContactProfile created` / `changed "Status" to "Client"`
    Notion {
        /// The logical database watched.
        database: String,
        /// What change starts the flow.
        change: NotionChange,
    },
    /// `on event "contact.created"`: an `emit` of that name; its payload is the input.
    Event {
        /// The event name.
        name: String,
    },
}

/// How a webhook's requests are authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAuth {
    /// `verified by NAME`: the signature scheme `[webhooks.NAME]` of flowc.toml.
    VerifiedBy(String),
    /// No `verified by`: the flow was written to accept unsigned requests.
    Unverified,
}

/// The change of a Notion page that starts a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotionChange {
    /// A page was created.
    Created,
    /// A property changed (to a given value, when `to` is written).
    Changed {
        /// The property's name.
        property: String,
        /// The value it must change to (a constant expression).
        to: Option<Expr>,
    },
}
