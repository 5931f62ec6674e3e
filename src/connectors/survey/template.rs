//! Survey templates (`stdlib/surveys/NAME.json`): a compact, reviewable description of a form that
//! becomes a Typeform Create API payload (`POST /forms`).
//!
//! ```json
//! { "title": "Event feedback", "hidden": ["client_id"],
//!   "fields": [ { "ref": "rating", "type": "rating", "title": "How was it?", "steps": 5 },
//!               { "ref": "liked", "type": "multiple_choice", "title": "What did you enjoy?",
//!                 "choices": ["The talk", "The space"], "allow_multiple": true } ],
//!   "thankyou": "Thank you!" }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::connectors::ConnectorError;

/// Typeform field types a template may use.
pub(crate) const FIELD_TYPES: &[&str] = &[
    "short_text",
    "long_text",
    "email",
    "number",
    "yes_no",
    "multiple_choice",
    "dropdown",
    "date",
    "rating",
    "opinion_scale",
    "nps",
    "website",
    "phone_number",
    "statement",
];

/// One survey template.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SurveyTemplate {
    /// The form's title.
    pub(crate) title: String,
    /// Shown on the welcome screen, when present.
    #[serde(default)]
    pub(crate) welcome: Option<String>,
    /// Hidden fields (values passed in the link, e.g. `client_id`).
    #[serde(default)]
    pub(crate) hidden: Vec<String>,
    /// The questions.
    pub(crate) fields: Vec<TemplateField>,
    /// The thank-you screen's title.
    #[serde(default)]
    pub(crate) thankyou: Option<String>,
}

/// One question.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateField {
    /// The stable name answers are keyed by.
    #[serde(rename = "ref")]
    pub(crate) reference: String,
    /// A Typeform field type (see [`FIELD_TYPES`]).
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The question.
    pub(crate) title: String,
    /// Help text under the question.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Whether an answer is required (statements never are).
    #[serde(default)]
    pub(crate) required: bool,
    /// Choice labels (`multiple_choice`, `dropdown`).
    #[serde(default)]
    pub(crate) choices: Vec<String>,
    /// Several choices may be picked (`multiple_choice`).
    #[serde(default)]
    pub(crate) allow_multiple: bool,
    /// Scale length (`rating`: 3–10, `opinion_scale`: 5–11).
    #[serde(default)]
    pub(crate) steps: Option<u32>,
    /// Labels at the ends of an `opinion_scale` or `nps`.
    #[serde(default)]
    pub(crate) labels: Option<ScaleLabels>,
}

/// Labels at the ends of a scale.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScaleLabels {
    pub(crate) left: String,
    pub(crate) right: String,
}

impl SurveyTemplate {
    /// Loads and validates `dir/NAME.json`.
    pub(crate) fn load(dir: &Path, name: &str) -> Result<SurveyTemplate, ConnectorError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConnectorError::permanent(format!(
                "`{name}` is not a survey template name (letters, digits, `_` and `-`)"
            )));
        }
        let path: PathBuf = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConnectorError::permanent(format!(
                "survey template `{name}` not found ({}: {e}); add it, or set `templates` in `[connectors.survey]`",
                path.display()
            ))
        })?;
        SurveyTemplate::parse(&text)
            .map_err(|e| ConnectorError::permanent(format!("survey template {}: {e}", path.display())))
    }

    /// Parses and validates a template's JSON.
    pub(crate) fn parse(text: &str) -> Result<SurveyTemplate, String> {
        let template: SurveyTemplate = serde_json::from_str(text).map_err(|e| e.to_string())?;
        template.validate()?;
        Ok(template)
    }

    fn validate(&self) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("`title` is empty".to_string());
        }
        if self.fields.is_empty() {
            return Err("a survey needs at least one field".to_string());
        }
        let mut refs = BTreeSet::new();
        for field in &self.fields {
            let r = &field.reference;
            if !valid_ref(r) {
                return Err(format!(
                    "field ref `{r}` must be 1–255 letters, digits, `_` or `-`"
                ));
            }
            if !refs.insert(r.as_str()) {
                return Err(format!("two fields have the ref `{r}`"));
            }
            if !FIELD_TYPES.contains(&field.kind.as_str()) {
                return Err(format!(
                    "field `{r}` has type `{}`; use one of {}",
                    field.kind,
                    FIELD_TYPES.join(", ")
                ));
            }
            let takes_choices = matches!(field.kind.as_str(), "multiple_choice" | "dropdown");
            if takes_choices && field.choices.is_empty() {
                return Err(format!("field `{r}` ({}) needs `choices`", field.kind));
            }
            if !takes_choices && !field.choices.is_empty() {
                return Err(format!("field `{r}` ({}) cannot have `choices`", field.kind));
            }
            let mut labels = BTreeSet::new();
            for choice in &field.choices {
                if choice.trim().is_empty() || !labels.insert(choice.as_str()) {
                    return Err(format!("field `{r}` has an empty or repeated choice `{choice}`"));
                }
            }
            if field.allow_multiple && field.kind != "multiple_choice" {
                return Err(format!(
                    "field `{r}`: only multiple_choice fields take `allow_multiple`"
                ));
            }
            if let Some(steps) = field.steps {
                let range = match field.kind.as_str() {
                    "rating" => 3..=10,
                    "opinion_scale" => 5..=11,
                    other => return Err(format!("field `{r}` ({other}) cannot have `steps`")),
                };
                if !range.contains(&steps) {
                    return Err(format!(
                        "field `{r}` has {steps} steps; a {} has {} to {}",
                        field.kind,
                        range.start(),
                        range.end()
                    ));
                }
            }
            if field.labels.is_some() && !matches!(field.kind.as_str(), "opinion_scale" | "nps") {
                return Err(format!("field `{r}` ({}) cannot have `labels`", field.kind));
            }
        }
        let mut hidden = BTreeSet::new();
        for name in &self.hidden {
            if !valid_hidden(name) || !hidden.insert(name.as_str()) {
                return Err(format!(
                    "hidden field `{name}` must be unique and lowercase letters, digits or `_`"
                ));
            }
        }
        Ok(())
    }

    /// The Create API payload, with `extra_hidden` declared as hidden fields too.
    pub(crate) fn to_typeform(
        &self,
        title: Option<&str>,
        extra_hidden: &[String],
        workspace_href: Option<&str>,
    ) -> Json {
        let mut hidden: Vec<String> = self.hidden.clone();
        for name in extra_hidden {
            if !hidden.contains(name) {
                hidden.push(name.clone());
            }
        }
        let fields: Vec<Json> = self.fields.iter().map(TemplateField::to_typeform).collect();
        let mut form = json!({
            "title": title.unwrap_or(&self.title),
            "type": "form",
            "settings": { "language": "en", "is_public": true, "progress_bar": "proportion", "show_progress_bar": true },
            "hidden": hidden,
            "fields": fields,
        });
        if let Some(welcome) = &self.welcome {
            form["welcome_screens"] = json!([{ "ref": "welcome", "title": welcome, "properties": { "show_button": true, "button_text": "Start" } }]);
        }
        if let Some(thankyou) = &self.thankyou {
            form["thankyou_screens"] = json!([{ "ref": "thank_you", "title": thankyou, "properties": { "show_button": false, "share_icons": false } }]);
        }
        if let Some(href) = workspace_href {
            form["workspace"] = json!({ "href": href });
        }
        form
    }
}

impl TemplateField {
    fn to_typeform(&self) -> Json {
        let mut properties = Map::new();
        if let Some(description) = &self.description {
            properties.insert("description".into(), json!(description));
        }
        match self.kind.as_str() {
            "multiple_choice" | "dropdown" => {
                let choices: Vec<Json> = self
                    .choices
                    .iter()
                    .enumerate()
                    .map(|(i, label)| json!({ "ref": format!("{}_{}", self.reference, i + 1), "label": label }))
                    .collect();
                properties.insert("choices".into(), Json::Array(choices));
                if self.kind == "multiple_choice" {
                    properties.insert("allow_multiple_selection".into(), json!(self.allow_multiple));
                    properties.insert("vertical_alignment".into(), json!(true));
                }
            }
            "rating" => {
                properties.insert("steps".into(), json!(self.steps.unwrap_or(5)));
                properties.insert("shape".into(), json!("star"));
            }
            "opinion_scale" => {
                properties.insert("steps".into(), json!(self.steps.unwrap_or(11)));
                properties.insert("start_at_one".into(), json!(false));
            }
            "date" => {
                properties.insert("structure".into(), json!("DDMMYYYY"));
                properties.insert("separator".into(), json!("/"));
            }
            _ => {}
        }
        if let Some(labels) = &self.labels {
            properties.insert(
                "labels".into(),
                json!({ "left": labels.left, "right": labels.right }),
            );
        }
        let mut field = json!({
            "ref": self.reference,
            "title": self.title,
            "type": self.kind,
        });
        if !properties.is_empty() {
            field["properties"] = Json::Object(properties);
        }
        // Typeform refuses validations on statements.
        if self.kind != "statement" {
            field["validations"] = json!({ "required": self.required });
        }
        field
    }
}

/// The field refs of every template in the project's survey folder (`[connectors.survey]
/// templates`, default `stdlib/surveys`), by template name; a folder that is missing, or a file
/// that does not parse, adds nothing (the connector reports those when it runs).
pub(crate) fn refs_by_template(root: &Path, config: &crate::config::Config) -> crate::contract::SurveyForms {
    let folder = config
        .connector("survey")
        .get("templates")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| super::connector::DEFAULT_TEMPLATES.to_string());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join(folder))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(template) = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| SurveyTemplate::parse(&text))
        else {
            continue;
        };
        let refs = template.fields.into_iter().map(|f| f.reference).collect();
        out.push((name.to_string(), refs));
    }
    crate::contract::SurveyForms::new(out)
}

/// Typeform's rule for `ref`: 1–255 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_ref(r: &str) -> bool {
    (1..=255).contains(&r.len())
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Hidden field names: lowercase, as Typeform stores them.
pub(crate) fn valid_hidden(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stdlib_templates_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/surveys");
        for name in [
            "client_needs_assessment",
            "event_feedback",
            "project_closing_feedback",
        ] {
            let template = SurveyTemplate::load(&dir, name).unwrap_or_else(|e| panic!("{e}"));
            assert!(template.hidden.contains(&"client_id".to_string()), "{name}");
        }
    }

    #[test]
    fn problems_are_named() {
        let bad = |text: &str| SurveyTemplate::parse(text).unwrap_err();
        assert!(bad(r#"{"title":"t","fields":[]}"#).contains("at least one"));
        assert!(
            bad(r#"{"title":"t","fields":[{"ref":"a","type":"slider","title":"q"}]}"#).contains("`slider`")
        );
        assert!(
            bad(r#"{"title":"t","fields":[{"ref":"a","type":"dropdown","title":"q"}]}"#)
                .contains("needs `choices`")
        );
        assert!(
            bad(r#"{"title":"t","fields":[{"ref":"a b","type":"short_text","title":"q"}]}"#)
                .contains("`a b`")
        );
        assert!(
            bad(r#"{"title":"t","fields":[{"ref":"a","type":"rating","title":"q","steps":20}]}"#)
                .contains("20 steps")
        );
        assert!(bad(r#"{"title":"t","fields":[{"ref":"a","type":"short_text","title":"q"},{"ref":"a","type":"email","title":"e"}]}"#).contains("two fields"));
        assert!(bad(
            r#"{"title":"t","hidden":["Client"],"fields":[{"ref":"a","type":"short_text","title":"q"}]}"#
        )
        .contains("`Client`"));
        assert!(bad(
            r#"{"title":"t","fields":[{"ref":"a","type":"short_text","title":"q","colour":"red"}]}"#
        )
        .contains("colour"));
    }

    #[test]
    fn payload_has_typeform_shapes() {
        let t = SurveyTemplate::parse(
            r#"{"title":"T","hidden":["client_id"],"fields":[
                {"ref":"liked","type":"multiple_choice","title":"Liked?","choices":["A","B"],"allow_multiple":true,"required":true},
                {"ref":"intro","type":"statement","title":"Hello"}]}"#,
        )
        .unwrap();
        let form = t.to_typeform(
            Some("T for Ada"),
            &["entity".to_string(), "client_id".to_string()],
            None,
        );
        assert_eq!(form["title"], "T for Ada");
        assert_eq!(form["hidden"], json!(["client_id", "entity"]));
        assert_eq!(
            form["fields"][0]["properties"]["choices"][1],
            json!({"ref": "liked_2", "label": "B"})
        );
        assert_eq!(form["fields"][0]["properties"]["allow_multiple_selection"], true);
        assert_eq!(form["fields"][0]["validations"]["required"], true);
        assert!(form["fields"][1].get("validations").is_none());
    }
}
