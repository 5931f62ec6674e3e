//! The frame every dashboard page shares (head, stylesheet, script) and the small pieces of
//! markup the pages repeat: escaping, status badges, durations.

use axum::response::Html;

/// `text` made safe inside HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `body` inside the shared frame.
pub(crate) fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · flowc</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\"><script src=\"/dashboard/assets/dashboard.js\" defer></script>\
         </head><body><header><a href=\"/\" class=\"brand\">flowc serve</a></header><main>{body}</main></body></html>\n",
        escape(title)
    ))
}

/// A status badge (`running`, `waiting`, `completed`, `failed`, `cancelled`).
pub(crate) fn badge(status: &str) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", escape(status))
}

/// A duration in seconds, as a person reads it (`850 ms`, `12.5 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`).
pub(crate) fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round())
    } else if s < 60.0 {
        format!("{:.1} s", s)
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0).floor(), (s % 60.0).floor())
    } else if s < 86400.0 {
        format!("{} h {} min", (s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor())
    } else {
        format!(
            "{} d {} h",
            (s / 86400.0).floor(),
            ((s % 86400.0) / 3600.0).floor()
        )
    }
}

/// A rate as a percentage, or a dash when there is none yet.
pub(crate) fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "–".to_string(),
    }
}

/// A retry button for a failed instance (dashboard.js posts to the API).
pub(crate) fn retry_button(id: &str) -> String {
    format!(
        "<button class=\"retry\" data-retry=\"/api/instances/{}/retry\">Retry</button><span class=\"retry-result\"></span>",
        path_segment(id)
    )
}

/// A link to an instance's page.
pub(crate) fn instance_link(id: &str) -> String {
    format!(
        "<a href=\"/dashboard/instances/{}\"><code>{}</code></a>",
        path_segment(id),
        escape(id)
    )
}

/// An instance id as one path segment: a sub-flow's id holds `/` (`PARENT/step`), sent as `%2F`.
fn path_segment(id: &str) -> String {
    escape(&form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.5), "12.5 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(duration(273600.0), "3 d 4 h");
    }
}
