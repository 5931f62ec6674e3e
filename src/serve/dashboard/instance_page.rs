//! An instance's page: its status and failure (with a retry button), its flow's graph coloured
//! by step state, the step timeline and the raw history.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::graph_svg;
use super::page::{badge, duration, escape, instance_link, layout, retry_button};
use super::step_states::{self, StepRun};
use crate::plan::FlowPlan;
use crate::runtime::{Event, EventKind, InstanceRecord};
use crate::serve::journal;

/// The page of `record` with its `history`; `plan` when the plan it ran on is known.
pub(crate) fn render(
    record: &InstanceRecord,
    history: &[Event],
    plan: Option<&FlowPlan>,
    children: &[InstanceRecord],
) -> axum::response::Html<String> {
    let status = journal::status(record, history);
    let steps = step_states::steps(history);
    let mut body = format!(
        "<p><a href=\"/\">← instances</a></p><h1>{} {}</h1><dl class=\"facts\">\
         <dt>Instance</dt><dd><code id=\"instance-id\">{}</code></dd><dt>Entity</dt><dd>{}</dd>\
         <dt>Started</dt><dd>{}</dd><dt>Plan</dt><dd><code>{}</code></dd>",
        escape(&record.flow),
        badge(&status),
        escape(&record.id),
        escape(&record.entity),
        record.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        escape(
            record
                .plan
                .as_deref()
                .map_or("unknown", |p| &p[..p.len().min(12)])
        ),
    );
    if let Some(parent) = &record.parent {
        let _ = write!(body, "<dt>Called by</dt><dd>{}</dd>", instance_link(parent));
    }
    body.push_str("</dl>");
    if status == "failed" {
        if let Some((step, message, class)) = journal::failure(history) {
            let _ = write!(
                body,
                "<section class=\"failure\"><h2>Failed at <code>{}</code></h2><p class=\"reason\">{}</p>\
                 <p>Error class: {}</p>{}</section>",
                escape(step),
                escape(message),
                escape(class),
                retry_button(&record.id)
            );
        }
    }
    body.push_str("<section id=\"graph\"><h2>Steps</h2>");
    match plan {
        Some(flow) => {
            body.push_str(&graph_svg::render(
                flow,
                &step_states::node_states(&steps),
                status == "completed",
            ));
            body.push_str(
                "<p class=\"legend\"><span class=\"key state-done\">done</span><span class=\"key state-running\">running</span>\
                 <span class=\"key state-waiting\">waiting</span><span class=\"key state-failed\">failed</span>\
                 <span class=\"key state-skipped\">skipped</span><span class=\"key state-unrecorded\">no event (a value, or not reached)</span></p>",
            );
        }
        None => body.push_str("<p class=\"notice\">The plan this instance ran on is not in the journal.</p>"),
    }
    body.push_str("</section>");
    timeline(&mut body, record.started_at, &steps, history);
    if !children.is_empty() {
        body.push_str("<section id=\"children\"><h2>Sub-flows</h2><ul>");
        for c in children {
            let _ = write!(
                body,
                "<li>{0} {1} {2}</li>",
                instance_link(&c.id),
                escape(&c.flow),
                badge(&c.status)
            );
        }
        body.push_str("</ul></section>");
    }
    history_table(&mut body, record.started_at, history);
    layout(&format!("{} {}", record.flow, record.id), &body)
}

fn timeline(out: &mut String, start: DateTime<Utc>, steps: &[StepRun], history: &[Event]) {
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    if steps.is_empty() {
        out.push_str("<p class=\"notice\">No step has run yet.</p></section>");
        return;
    }
    let end = history.last().map_or(start, |e| e.at);
    let span = ((end - start).num_milliseconds() as f64).max(1.0);
    out.push_str(
        "<table><thead><tr><th>Step</th><th>State</th><th>Attempts</th><th>Began</th><th>Took</th>\
         <th class=\"bar-cell\"></th></tr></thead><tbody>",
    );
    for run in steps {
        let began = (run.began - start).num_milliseconds() as f64;
        let took = run.ended.map(|e| (e - run.began).num_milliseconds() as f64);
        let left = began / span * 100.0;
        let width = (took.unwrap_or(span - began) / span * 100.0).max(0.5);
        let _ = write!(
            out,
            "<tr class=\"step state-{state}\" data-step=\"{path}\"><td><code>{path}</code>{error}</td><td>{state}</td>\
             <td>{attempts}</td><td>+{began}</td><td>{took}</td><td class=\"bar-cell\">\
             <div class=\"bar\" style=\"margin-left:{left:.2}%;width:{width:.2}%\"></div></td></tr>",
            state = run.state.name(),
            path = escape(&run.path),
            error = run
                .error
                .as_ref()
                .map_or(String::new(), |e| format!("<div class=\"reason\">{}</div>", escape(e))),
            attempts = run.attempts,
            began = duration(began / 1000.0),
            took = took.map_or("…".to_string(), |t| duration(t / 1000.0)),
            left = left.min(99.5),
            width = width.min(100.0 - left.min(99.5)),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn history_table(out: &mut String, start: DateTime<Utc>, history: &[Event]) {
    let _ = write!(
        out,
        "<section id=\"history\"><details><summary>History ({} events)</summary><table><thead><tr><th>#</th>\
         <th>At</th><th>Event</th><th>Details</th></tr></thead><tbody>",
        history.len()
    );
    for e in history {
        let json = serde_json::to_value(&e.kind).unwrap_or_default();
        let kind = json["type"].as_str().unwrap_or("").to_string();
        let mut details = json;
        if let Some(map) = details.as_object_mut() {
            map.remove("type");
        }
        let mut details = details.to_string();
        if details.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| details.is_char_boundary(i))
                .unwrap_or(0);
            details.truncate(cut);
            details.push('…');
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>+{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e.seq,
            duration((e.at - start).num_milliseconds() as f64 / 1000.0),
            escape(&kind),
            escape(
                if matches!(
                    e.kind,
                    EventKind::InstanceCompleted | EventKind::InstanceCancelled
                ) {
                    ""
                } else {
                    &details
                }
            )
        );
    }
    out.push_str("</tbody></table></details></section>");
}
