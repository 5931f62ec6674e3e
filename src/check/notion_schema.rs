//! Checks Notion property records (`properties:`, `where:`, `match:`) against pulled schemas.
//!
//! Only literal values are judged: a name, field access or call has a type the checker's main
//! pass owns, and is treated as compatible here so that this pass never reports a false error.

use crate::contract::{DatabaseSchema, NotionSchemas, PropertySchema};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, ExprKind, UnaryOp};

/// Reports unknown properties (E0800), wrong value types (E0801) and unknown select options
/// (E0802) in `record`, a record literal of property values for `database` of `entity`.
#[cfg_attr(not(test), allow(dead_code))] // called by the checker's call pass
pub(crate) fn check_properties(
    schemas: &NotionSchemas,
    entity: &str,
    database: &str,
    record: &ast::Expr,
    file: FileId,
    diagnostics: &mut Diagnostics,
) {
    // No pulled schema for this database: nothing to compare with (the checker does not invent
    // errors; `flowc notion pull` makes this pass useful).
    let Some(schema) = schemas.database(entity, database) else {
        return;
    };
    let ExprKind::Record(fields) = &record.kind else {
        return;
    };
    let mut pass = Pass {
        database,
        file,
        diagnostics,
    };
    for field in fields {
        match schema.properties.get(&field.name.name) {
            None => pass.unknown_property(schema, &field.name),
            Some(property) => pass.value(&field.name.name, property, &field.value),
        }
    }
}

/// Checks the property (E0800) and the value (E0801, E0802) that `on notion DB changed "P" to V`
/// watches: a trigger on a property or option that does not exist would simply never fire.
pub(crate) fn check_trigger(
    schemas: &NotionSchemas,
    entity: &str,
    database: &str,
    property: &ast::StrLit,
    to: Option<&ast::Expr>,
    file: FileId,
    diagnostics: &mut Diagnostics,
) {
    let Some(schema) = schemas.database(entity, database) else {
        return;
    };
    let mut pass = Pass {
        database,
        file,
        diagnostics,
    };
    match schema.properties.get(&property.value) {
        None => pass.unknown_property(
            schema,
            &ast::Ident {
                name: property.value.clone(),
                span: property.span,
            },
        ),
        Some(kind) => {
            if let Some(to) = to {
                pass.value(&property.value, kind, to);
            }
        }
    }
}

/// What a literal is, for comparing with a property type.
enum Literal<'a> {
    /// Text; `None` when it has `{{ }}` parts (its content is unknown).
    Text(Option<String>),
    Number,
    Bool,
    None,
    Duration,
    List(&'a [ast::Expr]),
    Record,
}

impl Literal<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Literal::Text(_) => "text",
            Literal::Number => "a number",
            Literal::Bool => "a bool",
            Literal::None => "none",
            Literal::Duration => "a duration",
            Literal::List(_) => "a list",
            Literal::Record => "a record",
        }
    }
}

fn literal(expr: &ast::Expr) -> Option<Literal<'_>> {
    Some(match &expr.kind {
        ExprKind::Str(_) => Literal::Text(expr.as_plain_str()),
        ExprKind::Number(_) => Literal::Number,
        ExprKind::Unary(UnaryOp::Neg, inner) if matches!(inner.kind, ExprKind::Number(_)) => Literal::Number,
        ExprKind::Bool(_) => Literal::Bool,
        ExprKind::None => Literal::None,
        ExprKind::Duration(_) => Literal::Duration,
        ExprKind::List(items) => Literal::List(items),
        ExprKind::Record(_) => Literal::Record,
        // Names, fields, calls, operators: typed by the main pass; compatible here.
        _ => return None,
    })
}

/// The closest of `candidates` to `name`, if close enough to be a typo.
fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    const SHOWN: usize = 12;
    if names.len() > SHOWN {
        format!("{} and {} more", names[..SHOWN].join(", "), names.len() - SHOWN)
    } else {
        names.join(", ")
    }
}

struct Pass<'a> {
    database: &'a str,
    file: FileId,
    diagnostics: &'a mut Diagnostics,
}

impl Pass<'_> {
    fn unknown_property(&mut self, schema: &DatabaseSchema, name: &ast::Ident) {
        let names = schema.properties.keys().map(String::as_str);
        let help = match did_you_mean(&name.name, names.clone()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!(
                "`{}` has {}; if the property was added in Notion, run `flowc notion pull`",
                self.database,
                listing(names)
            ),
        };
        self.diagnostics.push(
            Diagnostic::new(
                Code::UnknownProperty,
                self.file,
                name.span,
                format!("unknown property `{}` in database `{}`", name.name, self.database),
            )
            .label("not a property of this database")
            .help(help),
        );
    }

    fn wrong_type(
        &mut self,
        name: &str,
        property: &PropertySchema,
        expr: &ast::Expr,
        found: &str,
        label: &str,
    ) {
        let (wanted, help) = expectation(&property.kind);
        self.diagnostics.push(
            Diagnostic::new(
                Code::PropertyType,
                self.file,
                expr.span,
                format!(
                    "property `{name}` ({}) expects {wanted}, found {found}",
                    property.kind
                ),
            )
            .label(label.to_string())
            .help(help),
        );
    }

    fn option(&mut self, name: &str, property: &PropertySchema, option: &str, expr: &ast::Expr) {
        if property.options.iter().any(|o| o == option) {
            return;
        }
        let options = property.options.iter().map(String::as_str);
        let help = match did_you_mean(option, options.clone()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if property.options.is_empty() => {
                format!("`{name}` has no options yet; add `{option}` in Notion, then run `flowc notion pull`")
            }
            None => format!(
                "the options of `{name}` are {}; to add one, add it in Notion and run `flowc notion pull`",
                listing(options)
            ),
        };
        self.diagnostics.push(
            Diagnostic::new(
                Code::UnknownOption,
                self.file,
                expr.span,
                format!("`{option}` is not an option of `{name}` ({})", property.kind),
            )
            .label("unknown option")
            .help(help),
        );
    }

    fn value(&mut self, name: &str, property: &PropertySchema, expr: &ast::Expr) {
        let Some(lit) = literal(expr) else {
            return;
        };
        let kind = property.kind.as_str();
        match (kind, &lit) {
            // `none` clears a property; only a checkbox has no empty value.
            ("checkbox", Literal::None) => {
                self.wrong_type(name, property, expr, "none", "checkboxes cannot be empty")
            }
            (_, Literal::None) => {}
            ("title" | "rich_text" | "email" | "phone_number" | "url", Literal::Text(_)) => {}
            ("number", Literal::Number) | ("checkbox", Literal::Bool) => {}
            ("select" | "status", Literal::Text(text)) => {
                if let Some(text) = text {
                    self.option(name, property, text, expr);
                }
            }
            ("multi_select", Literal::Text(Some(text))) => self.option(name, property, text, expr),
            ("multi_select" | "relation" | "people", Literal::Text(_)) => {}
            ("multi_select" | "relation" | "people", Literal::List(items)) => {
                for item in *items {
                    match literal(item) {
                        None | Some(Literal::Text(None)) => {}
                        Some(Literal::Text(Some(text))) => {
                            if kind == "multi_select" {
                                self.option(name, property, &text, item);
                            }
                        }
                        Some(other) => self.wrong_type(
                            name,
                            property,
                            item,
                            &format!("{} in the list", other.describe()),
                            &format!("this is {}", other.describe()),
                        ),
                    }
                }
            }
            ("date", Literal::Text(Some(text))) if !is_date_text(text) => {
                self.wrong_type(name, property, expr, &format!("`{text}`"), "not a date");
            }
            ("date", Literal::Text(_) | Literal::Record) => {}
            (
                "title" | "rich_text" | "email" | "phone_number" | "url" | "number" | "checkbox" | "select"
                | "status" | "multi_select" | "relation" | "people" | "date",
                other,
            ) => self.wrong_type(
                name,
                property,
                expr,
                other.describe(),
                &format!("this is {}", other.describe()),
            ),
            // Computed and file properties: the runtime says what it cannot do with them.
            _ => {}
        }
    }
}

fn is_date_text(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// What a property type takes, and how to write it.
fn expectation(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "title" | "rich_text" | "email" | "phone_number" | "url" => (
            "text",
            "write the value in quotes, or turn it into text with \"{{ value }}\"",
        ),
        "number" => ("a number", "write a number such as `42` or `2.5`, without quotes"),
        "checkbox" => ("`true` or `false`", "write `true` or `false`, without quotes"),
        "select" | "status" => (
            "an option name",
            "write the option's name in quotes, e.g. `\"Active\"`",
        ),
        "multi_select" => (
            "a list of option names",
            "write a list of option names, e.g. `[\"VIP\", \"Newsletter\"]`",
        ),
        "relation" => (
            "a list of page ids",
            "write a list of page ids, e.g. `[client.id]`",
        ),
        "people" => ("a list of user ids", "write a list of Notion user ids"),
        "date" => (
            "a date",
            "write a date such as `\"2026-01-05\"` or a date-time such as `\"2026-01-05T09:00:00Z\"`",
        ),
        _ => ("a value", "see `flowc explain E0801`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{render, RenderOptions, Sources};

    fn schemas() -> NotionSchemas {
        let json = serde_json::json!({"entities": {"the_7_space": {"ContactProfile": {"properties": {
            "Full Name": {"type": "title"},
            "Email": {"type": "email"},
            "Age": {"type": "number"},
            "Active": {"type": "checkbox"},
            "Stage": {"type": "select", "options": ["Lead", "Client"]},
            "Tags": {"type": "multi_select", "options": ["VIP", "Newsletter"]},
            "Status": {"type": "status", "options": ["Not started", "Done"]},
            "Birthday": {"type": "date"},
            "Score": {"type": "formula"}
        }}}}});
        serde_json::from_value(json).unwrap()
    }

    /// Checks the first record argument named `arg` of the flow's first step.
    fn check(source: &str, arg: &str) -> (Vec<Diagnostic>, Sources) {
        let mut sources = Sources::new();
        let file = sources.add("flows/contacts.flow", source.to_string());
        let (module, syntax) = crate::syntax::parse(source, file);
        assert!(syntax.is_empty(), "{syntax:?}");
        let flow = module
            .items
            .iter()
            .find_map(|i| match i {
                ast::Item::Flow(f) => Some(f),
                _ => None,
            })
            .unwrap();
        let ast::Stmt::Step(step) = &flow.body[0] else {
            panic!("not a step")
        };
        let ast::StepBody::Call(call) = &step.body else {
            panic!("not a call")
        };
        let record = &call.args.iter().find(|a| a.name.name == arg).unwrap().value;
        let mut diagnostics = Diagnostics::new();
        check_properties(
            &schemas(),
            "the_7_space",
            "ContactProfile",
            record,
            file,
            &mut diagnostics,
        );
        (diagnostics.sorted(), sources)
    }

    fn rendered(diagnostics: &[Diagnostic], sources: &Sources) -> String {
        diagnostics
            .iter()
            .map(|d| render(d, sources, RenderOptions::default()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn flow(properties: &str) -> String {
        format!(
            "flow add for the_7_space {{\n  on manual\n  input {{ email: email }}\n  step c = notion.create_page(db: ContactProfile, properties: {properties})\n  output {{ id: c.id }}\n}}\n"
        )
    }

    #[test]
    fn valid_records_pass() {
        let source = flow(
            r#"{ "Full Name": "Ada", Email: input.email, Age: 36, Active: true, Stage: "Client", Tags: ["VIP"], Status: "Done", Birthday: "1990-12-10", Score: 3 }"#,
        );
        let (diagnostics, _) = check(&source, "properties");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn unknown_property_points_at_the_name() {
        let source = flow("{\n    Emial: input.email,\n    Nickname: \"x\"\n  }");
        let (diagnostics, sources) = check(&source, "properties");
        assert_eq!(diagnostics.len(), 2);
        assert!(diagnostics.iter().all(|d| d.code == Code::UnknownProperty));
        let first = &diagnostics[0];
        assert_eq!(&source[first.span.range()], "Emial");
        assert_eq!(first.help.as_deref(), Some("did you mean `Email`?"));
        assert_eq!(&source[diagnostics[1].span.range()], "Nickname");
        insta::assert_snapshot!(rendered(&diagnostics, &sources));
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let source = flow(
            r#"{
    Age: "thirty",
    Active: "yes",
    Email: 5,
    Birthday: "next tuesday",
    Tags: [1],
    Stage: none,
    Active: none
  }"#,
        );
        let (diagnostics, sources) = check(&source, "properties");
        let spans: Vec<&str> = diagnostics.iter().map(|d| &source[d.span.range()]).collect();
        assert_eq!(
            spans,
            vec!["\"thirty\"", "\"yes\"", "5", "\"next tuesday\"", "1", "none"]
        );
        assert!(diagnostics.iter().all(|d| d.code == Code::PropertyType));
        insta::assert_snapshot!(rendered(&diagnostics, &sources));
    }

    #[test]
    fn unknown_options_point_at_the_option() {
        let source = flow(
            r#"{
    Stage: "Clinet",
    Tags: ["VIP", "Gallery"],
    Status: "Finished"
  }"#,
        );
        let (diagnostics, sources) = check(&source, "properties");
        let spans: Vec<&str> = diagnostics.iter().map(|d| &source[d.span.range()]).collect();
        assert_eq!(spans, vec!["\"Clinet\"", "\"Gallery\"", "\"Finished\""]);
        assert!(diagnostics.iter().all(|d| d.code == Code::UnknownOption));
        assert_eq!(diagnostics[0].help.as_deref(), Some("did you mean `Client`?"));
        insta::assert_snapshot!(rendered(&diagnostics, &sources));
    }

    #[test]
    fn non_literals_and_interpolations_are_not_judged() {
        let source = flow(
            r#"{ Age: input.email, Stage: "{{ input.email }}", Tags: [input.email], Birthday: "{{ input.email }}" }"#,
        );
        let (diagnostics, _) = check(&source, "properties");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn missing_schema_is_silent() {
        let mut diagnostics = Diagnostics::new();
        let expr = ast::Expr {
            kind: ExprKind::Record(vec![]),
            span: Default::default(),
        };
        check_properties(
            &schemas(),
            "am_consulting",
            "Task",
            &expr,
            FileId(0),
            &mut diagnostics,
        );
        assert!(diagnostics.is_empty());
    }
}
