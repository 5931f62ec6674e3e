//! What a syntax error says was expected: pest's rule lists turned into words an author
//! understands, and the help for a construct that parses but not where it stands.

use super::*;

pub(super) fn context_help(probe: Rule) -> &'static str {
    match probe {
        Rule::probe_statement => {
            "only statements (step, let, if, match, wait, emit, fail, yield) may appear in a block; triggers, input and output belong at the top of the flow"
        }
        Rule::probe_flow_item => "move it to where the language reference (docs/language.md) allows it",
        _ => "move it to where the language reference (docs/language.md) allows it",
    }
}

/// Turns pest's expected-rule list into words an author understands.
pub(super) fn describe_expected(punctuation: &[String], positives: &[Rule]) -> String {
    let mut words: Vec<String> = punctuation.to_vec();
    let mut add = |w: &str| {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    };
    let statement_rules = [
        Rule::step_stmt,
        Rule::let_stmt,
        Rule::if_stmt,
        Rule::match_stmt,
        Rule::wait_stmt,
        Rule::emit_stmt,
        Rule::fail_stmt,
        Rule::yield_stmt,
        Rule::kw_step,
        Rule::kw_let,
        Rule::kw_if,
        Rule::kw_match,
        Rule::kw_wait,
        Rule::kw_emit,
        Rule::kw_fail,
        Rule::kw_yield,
    ];
    let mut statement_listed = false;
    for rule in positives {
        if statement_rules.contains(rule) {
            if !statement_listed {
                add("a statement (`step`, `let`, `if`, `match`, `wait`, `emit`, `fail`)");
                statement_listed = true;
            }
            continue;
        }
        let word = match rule {
            Rule::field_access | Rule::index | Rule::bad_line | Rule::bad_item => continue,
            Rule::kw_and | Rule::kw_or | Rule::kw_in | Rule::op_and | Rule::op_or | Rule::op_in => "an operator".to_string(),
            Rule::ident | Rule::qualified | Rule::module_path | Rule::ident_list => "a name".to_string(),
            Rule::expr => "a value".to_string(),
            Rule::string | Rule::raw_string => "a string in double quotes".to_string(),
            Rule::duration | Rule::bad_duration => "a duration such as `30s` or `2d`".to_string(),
            Rule::int | Rule::number => "a number".to_string(),
            Rule::type_expr | Rule::named_type | Rule::list_type | Rule::record_type => {
                "a type (`text`, `email`, `number`, `bool`, `date`, `datetime`, `duration`, `[T]`, `{ ... }`)".to_string()
            }
            Rule::call => "a call such as `email.send(to: ...)`".to_string(),
            Rule::block => "a block in braces `{ ... }`".to_string(),
            Rule::record => "a record `{ ... }`".to_string(),
            Rule::arg => "an argument `name: value`".to_string(),
            Rule::field_decl => "a field `name: type`".to_string(),
            Rule::trigger | Rule::kw_on => "a trigger (`on webhook`, `on schedule`, ...)".to_string(),
            Rule::input_decl | Rule::kw_input => "`input`".to_string(),
            Rule::output_decl | Rule::kw_output => "`output`".to_string(),
            Rule::use_decl | Rule::entity_decl | Rule::flow_decl | Rule::template_decl | Rule::test_decl | Rule::doc => {
                "a declaration (`flow`, `entity`, `template`, `test`, `use`)".to_string()
            }
            Rule::template_part | Rule::template_part_kind => {
                "`subject`, `text`, `html`, `sms`, `slack` or `example`".to_string()
            }
            Rule::access => "`read`, `write` or `read_write`".to_string(),
            Rule::pattern | Rule::wildcard => "a pattern (a literal or `_`)".to_string(),
            Rule::match_arm | Rule::match_expr_arm => "a match arm `pattern => ...`".to_string(),
            Rule::EOI => "the end of the file".to_string(),
            Rule::probe_item => "a declaration (`flow`, `entity`, `template`, `test`, `use`)".to_string(),
            Rule::probe_flow_item => {
                "a statement (`step`, `let`, `if`, `match`, `wait`, `emit`, `fail`), a trigger (`on ...`), `input`, `output` or `on error`".to_string()
            }
            Rule::probe_statement => "a statement (`step`, `let`, `if`, `match`, `wait`, `emit`, `fail`, `yield`)".to_string(),
            Rule::probe_entity_item => "`databases`, `grant` or `setting`".to_string(),
            Rule::probe_test_item => "`input`, `start at`, `stub`, `send event` or `expect`".to_string(),
            Rule::stub_outcome | Rule::stub_returns | Rule::stub_fails | Rule::stub_hangs => {
                "`returns`, `fails` or `hangs`".to_string()
            }
            Rule::step_state => "`ran`, `skipped` or `failed`".to_string(),
            Rule::webhook_trigger | Rule::notion_trigger | Rule::schedule_trigger | Rule::manual_trigger | Rule::event_trigger => {
                "a trigger kind (`webhook`, `notion`, `schedule`, `manual`, `event`)".to_string()
            }
            other => {
                let name = format!("{other:?}");
                match name.strip_prefix("kw_") {
                    Some(kw) => format!("`{}`", kw.trim_end_matches("_part").replace("no_jitter", "no jitter")),
                    None => match name.strip_prefix("op_") {
                        Some(_) => "an operator".to_string(),
                        None => name.replace('_', " "),
                    },
                }
            }
        };
        add(&word);
    }
    match words.len() {
        0 => "something else".to_string(),
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    }
}
