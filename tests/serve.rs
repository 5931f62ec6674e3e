//! `flowc serve` and its router: webhooks verified, decoded, deduplicated and started; health,
//! readiness and metrics; the command as a user runs it.

mod serve {
    mod api;
    mod cli;
    mod common;
    mod corpus;
    mod crash;
    mod dashboard;
    mod docs;
    mod emulated;
    mod kpi;
    mod notion_triggers;
    mod retry;
    mod schedules;
    mod soak;
    mod webhooks;
}
