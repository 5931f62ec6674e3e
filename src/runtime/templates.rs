//! Notification templates: handlebars in strict mode; the HTML part escaped, subject, text, SMS
//! and Slack parts not (a text message is plain text; Slack's mrkdwn is written by the template).

use std::collections::BTreeMap;

use handlebars::Handlebars;

use crate::plan::TemplatePlan;
use crate::value::Value;

/// A template rendered with its variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    /// The subject line.
    pub subject: Option<String>,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// The text message.
    pub sms: Option<String>,
    /// The Slack message.
    pub slack: Option<String>,
}

/// Which parts a template has.
#[derive(Clone, Copy, Default)]
struct Parts {
    subject: bool,
    text: bool,
    html: bool,
    sms: bool,
    slack: bool,
}

/// Compiled templates, by name.
pub(crate) struct Templates {
    raw: Handlebars<'static>,
    html: Handlebars<'static>,
    names: BTreeMap<String, Parts>,
}

impl Templates {
    pub(crate) fn new<'a>(
        plans: impl IntoIterator<Item = (&'a String, &'a TemplatePlan)>,
    ) -> Result<Templates, String> {
        let mut raw = Handlebars::new();
        raw.set_strict_mode(true);
        raw.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut names = BTreeMap::new();
        for (name, plan) in plans {
            let mut has = Parts::default();
            let plain = [
                ("subject", &plan.subject, &mut has.subject),
                ("text", &plan.text, &mut has.text),
                ("sms", &plan.sms, &mut has.sms),
                ("slack", &plan.slack, &mut has.slack),
            ];
            for (part, source, present) in plain {
                if let Some(s) = source {
                    raw.register_template_string(&format!("{name}.{part}"), s)
                        .map_err(|e| format!("template `{name}` {part}: {e}"))?;
                    *present = true;
                }
            }
            if let Some(s) = &plan.html {
                html.register_template_string(&format!("{name}.html"), s)
                    .map_err(|e| format!("template `{name}` html: {e}"))?;
                has.html = true;
            }
            names.insert(name.clone(), has);
        }
        Ok(Templates { raw, html, names })
    }

    /// Renders `name` with `vars` (a record).
    pub(crate) fn render(&self, name: &str, vars: &Value) -> Result<Rendered, String> {
        let Some(&has) = self.names.get(name) else {
            return Err(format!("no template called `{name}`"));
        };
        let data = vars.to_json();
        let part = |reg: &Handlebars<'static>, part: &str, present: bool| -> Result<Option<String>, String> {
            if !present {
                return Ok(None);
            }
            reg.render(&format!("{name}.{part}"), &data)
                .map(Some)
                .map_err(|e| format!("template `{name}` {part}: {e}"))
        };
        Ok(Rendered {
            subject: part(&self.raw, "subject", has.subject)?,
            text: part(&self.raw, "text", has.text)?,
            html: part(&self.html, "html", has.html)?,
            sms: part(&self.raw, "sms", has.sms)?,
            slack: part(&self.raw, "slack", has.slack)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaped_text_not_and_strict() {
        let plan = TemplatePlan {
            subject: Some("Hi {{name}}".into()),
            text: Some("Dear {{name}}".into()),
            html: Some("<p>{{name}}</p>".into()),
            sms: Some("Hi {{name}}, see you soon".into()),
            slack: Some("*{{name}}* booked".into()),
        };
        let name = "t".to_string();
        let t = Templates::new([(&name, &plan)]).unwrap();
        let r = t
            .render("t", &Value::record([("name", Value::text("A & <B>"))]))
            .unwrap();
        assert_eq!(r.subject.as_deref(), Some("Hi A & <B>"));
        assert_eq!(r.text.as_deref(), Some("Dear A & <B>"));
        assert_eq!(r.html.as_deref(), Some("<p>A &amp; &lt;B&gt;</p>"));
        assert_eq!(r.sms.as_deref(), Some("Hi A & <B>, see you soon"));
        assert_eq!(r.slack.as_deref(), Some("*A & <B>* booked"));
        assert!(t.render("t", &Value::record::<&str>([])).is_err());
    }

    #[test]
    fn numbers_render_exactly() {
        let plan = TemplatePlan {
            subject: Some("Order {{id}}: {{total}} ({{count}} items)".into()),
            ..TemplatePlan::default()
        };
        let name = "t".to_string();
        let t = Templates::new([(&name, &plan)]).unwrap();
        let vars = Value::record([
            ("id", Value::Int(820_982_911_946_154_508)),
            ("total", Value::Number(0.1)),
            ("count", Value::Number(2.0)),
        ]);
        let r = t.render("t", &vars).unwrap();
        assert_eq!(
            r.subject.as_deref(),
            Some("Order 820982911946154508: 0.1 (2 items)")
        );
    }
}
