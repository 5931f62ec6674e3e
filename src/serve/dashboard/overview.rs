//! The dashboard's front page: the KPIs, instances by flow and status, the failed ones first
//! with their reason and a retry button, then the latest instances (filtered by flow and
//! status from the query).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::page::{badge, duration, escape, instance_link, layout, percent, retry_button};
use crate::serve::journal::{self, Entry};
use crate::serve::kpi::{Kpis, Summary, BOOKING_FLOW, LEAD_FLOW};

/// Statuses in the order the table shows them.
const STATUSES: &[&str] = &["running", "waiting", "completed", "failed", "cancelled"];
/// How many of the latest instances the list shows.
const LATEST: usize = 100;

/// What the list below the tables is narrowed to (`?flow=&status=`).
#[derive(Default, serde::Deserialize)]
pub(crate) struct Filter {
    pub(crate) flow: Option<String>,
    pub(crate) status: Option<String>,
}

/// The page.
pub(crate) fn render(entries: &[Entry], kpis: &Kpis, filter: &Filter) -> axum::response::Html<String> {
    let top: Vec<(&Entry, String)> = entries
        .iter()
        .filter(|e| e.record.parent.is_none())
        .map(|e| (e, journal::status(&e.record, &e.history)))
        .collect();
    let mut body = String::from("<h1>Instances</h1>");
    headline(&mut body, kpis);
    failed(&mut body, &top);
    by_flow(&mut body, &top);
    kpi_table(&mut body, kpis);
    latest(&mut body, &top, filter);
    layout("Instances", &body)
}

fn headline(out: &mut String, kpis: &Kpis) {
    let booking = kpis.of_flow(BOOKING_FLOW);
    let lead = kpis.of_flow(LEAD_FLOW);
    let all_ended: u64 = kpis.flows.values().map(|k| k.ended()).sum();
    let all_failed: u64 = kpis.flows.values().map(|k| k.failed).sum();
    let error_rate = (all_ended > 0).then(|| all_failed as f64 / all_ended as f64);
    let lead_time = lead
        .as_ref()
        .and_then(|k| Summary::of(&k.first_message))
        .map_or("–".to_string(), |s| duration(s.p50));
    let _ = write!(
        out,
        "<section class=\"cards\">\
         <div class=\"card\" id=\"kpi-booking\"><div class=\"figure\">{}</div><div>booking automation rate</div></div>\
         <div class=\"card\" id=\"kpi-lead\"><div class=\"figure\">{}</div><div>lead response time (median)</div></div>\
         <div class=\"card\" id=\"kpi-errors\"><div class=\"figure\">{}</div><div>error rate, all flows</div></div>\
         </section>",
        percent(booking.and_then(|k| k.automation_rate())),
        lead_time,
        percent(error_rate)
    );
}

fn failed(out: &mut String, top: &[(&Entry, String)]) {
    let failed: Vec<&(&Entry, String)> = top.iter().rev().filter(|(_, s)| s == "failed").collect();
    if failed.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=\"failed\"><h2>Failed ({})</h2><table><thead><tr><th>Instance</th><th>Flow</th>\
         <th>Started</th><th>Step</th><th>Reason</th><th></th></tr></thead><tbody>",
        failed.len()
    );
    for (e, _) in failed {
        let (step, message, class) = journal::failure(&e.history).unwrap_or(("", "", ""));
        let _ = write!(
            out,
            "<tr class=\"failed-instance\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
             <td class=\"reason\">{} <span class=\"class\">{}</span></td><td>{}</td></tr>",
            instance_link(&e.record.id),
            escape(&e.record.flow),
            e.record.started_at.format("%Y-%m-%d %H:%M:%S"),
            escape(step),
            escape(message),
            escape(class),
            retry_button(&e.record.id)
        );
    }
    out.push_str("</tbody></table></section>");
}

fn by_flow(out: &mut String, top: &[(&Entry, String)]) {
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (e, status) in top {
        *counts
            .entry(e.record.flow.as_str())
            .or_default()
            .entry(status.as_str())
            .or_default() += 1;
    }
    out.push_str("<section id=\"by-flow\"><h2>By flow and status</h2>");
    if counts.is_empty() {
        out.push_str("<p class=\"notice\">No instance yet.</p></section>");
        return;
    }
    out.push_str("<table><thead><tr><th>Flow</th>");
    for s in STATUSES {
        let _ = write!(out, "<th>{s}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (flow, by_status) in counts {
        let _ = write!(
            out,
            "<tr><td><a href=\"/?flow={0}\">{1}</a></td>",
            query(flow),
            escape(flow)
        );
        for s in STATUSES {
            match by_status.get(s) {
                Some(n) => {
                    let _ = write!(
                        out,
                        "<td class=\"count {s}\"><a href=\"/?flow={}&amp;status={s}\">{n}</a></td>",
                        query(flow)
                    );
                }
                None => out.push_str("<td class=\"count\">0</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

fn kpi_table(out: &mut String, kpis: &Kpis) {
    if kpis.flows.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"kpis\"><h2>KPIs by flow</h2><table><thead><tr><th>Flow</th><th>Ended</th>\
         <th>Automation rate</th><th>Error rate</th><th>Execution time (median / p95)</th>\
         <th>First message (median)</th></tr></thead><tbody>",
    );
    for (flow, k) in &kpis.flows {
        let execution = Summary::of(&k.execution).map_or("–".to_string(), |s| {
            format!("{} / {}", duration(s.p50), duration(s.p95))
        });
        let first = Summary::of(&k.first_message).map_or("–".to_string(), |s| duration(s.p50));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(flow),
            k.ended(),
            percent(k.automation_rate()),
            percent(k.error_rate()),
            execution,
            first
        );
    }
    out.push_str("</tbody></table></section>");
}

fn latest(out: &mut String, top: &[(&Entry, String)], filter: &Filter) {
    let shown: Vec<&(&Entry, String)> = top
        .iter()
        .rev()
        .filter(|(e, _)| filter.flow.as_ref().is_none_or(|f| *f == e.record.flow))
        .filter(|(_, s)| filter.status.as_ref().is_none_or(|f| f == s))
        .take(LATEST)
        .collect();
    let narrowed = match (&filter.flow, &filter.status) {
        (None, None) => String::new(),
        (flow, status) => format!(
            " <span class=\"filter\">{} {} · <a href=\"/\">all</a></span>",
            escape(flow.as_deref().unwrap_or("")),
            escape(status.as_deref().unwrap_or(""))
        ),
    };
    let _ = write!(
        out,
        "<section id=\"latest\"><h2>Latest{narrowed}</h2><table><thead><tr><th>Instance</th><th>Flow</th>\
         <th>Entity</th><th>Started</th><th>Status</th></tr></thead><tbody>"
    );
    for (e, status) in shown {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            instance_link(&e.record.id),
            escape(&e.record.flow),
            escape(&e.record.entity),
            e.record.started_at.format("%Y-%m-%d %H:%M:%S"),
            badge(status)
        );
    }
    out.push_str("</tbody></table></section>");
}

fn query(text: &str) -> String {
    escape(&form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>())
}
