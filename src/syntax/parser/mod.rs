//! Parser: pest pairs → [`ast`](super::ast) with spans, plus syntax diagnostics.
//!
//! Method prefixes follow just's parser: `parse_*` builds a construct from a pair the grammar
//! already accepted; `presume_*` unwraps something the grammar guarantees (a failure there is a
//! bug in flowc, never the user's mistake, and degrades to a default rather than panicking).
//! Syntax errors come from the grammar's recovery rules (`bad_item`, `bad_line`), each diagnosed
//! by re-parsing from that line with a probe rule, which yields the exact position and the
//! tokens that would have been accepted there.

mod errors;
mod expected;
mod expressions;
mod habits;
mod items;
mod statements;
mod test_blocks;

use std::cell::RefCell;

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use pest_derive::Parser;

use super::ast::*;
use super::lexical;
use super::recovery::{doc_precedes_construct, misspelt_keyword, LostNames};
use super::Span;
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::value::parse_duration;
use errors::*;
use expected::*;
pub(crate) use expressions::dedent;
use expressions::*;
pub(crate) use habits::written_duration;
use habits::*;

#[derive(Parser)]
#[grammar = "../grammar/flow.pest"]
struct Grammar;

/// Parses a `.flow` file. Never fails: whatever does not parse becomes a diagnostic, and the
/// module holds everything that did.
pub fn parse(source: &str, file: FileId) -> (Module, Vec<Diagnostic>) {
    let parsed = parse_recovering(source, file);
    (parsed.module, parsed.diagnostics)
}

/// A parsed file with what its syntax errors cost.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Everything that parsed.
    pub module: Module,
    /// Syntax diagnostics, one per mistake.
    pub diagnostics: Vec<Diagnostic>,
    /// Names declared by statements that did not parse.
    pub lost: LostNames,
}

/// Parses a `.flow` file like [`parse`], also returning the names lost to syntax errors (for
/// the checker, so that their uses are not reported as unknown).
pub fn parse_recovering(source: &str, file: FileId) -> Parsed {
    // The lexical pass reports what breaks the nesting and repairs it (same length, so spans
    // hold), and the grammar parses what the author meant.
    let lexical = lexical::scan(source, file);
    // A well-formed file takes the fast path; the grammar reads the rest, and makes the
    // diagnostics.
    if lexical.repaired.is_none() && lexical.diagnostics.is_empty() {
        if let Some(module) = super::descent::parse(source) {
            return Parsed {
                module,
                ..Parsed::default()
            };
        }
    }
    parse_scanned(source, file, lexical)
}

/// The grammar's parse alone, without the fast path: the reference that the fast path is
/// tested against.
#[cfg(test)]
pub(in crate::syntax) fn parse_with_grammar(source: &str, file: FileId) -> Parsed {
    parse_scanned(source, file, lexical::scan(source, file))
}

fn parse_scanned(source: &str, file: FileId, lexical: lexical::Lexical) -> Parsed {
    let text = lexical.repaired.as_deref().unwrap_or(source);
    let mut parsed = parse_text(text, file, &lexical.texts);
    let mut diagnostics = lexical.diagnostics;
    diagnostics.append(&mut parsed.diagnostics);
    parsed.diagnostics = diagnostics;
    parsed
}

/// Pest's own bound on rule calls per parse, as a guard: the grammar is meant to run in linear
/// time (a test holds it to that), so a parse that needs more is cut short with a diagnostic
/// rather than hang.
fn call_limit(len: usize) -> usize {
    len.saturating_mul(2_000).saturating_add(2_000_000)
}

fn parse_text(source: &str, file: FileId, texts: &[(usize, String)]) -> Parsed {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The limit is global to pest: it only ever grows, to the largest file seen.
    static LIMIT: AtomicUsize = AtomicUsize::new(0);
    let wanted = call_limit(source.len());
    if LIMIT.fetch_max(wanted, Ordering::Relaxed) < wanted {
        pest::set_call_limit(std::num::NonZeroUsize::new(wanted));
    }
    let parser = Parser {
        source,
        file,
        diagnostics: RefCell::new(Vec::new()),
        pratt: pratt(),
        suppress_until: std::cell::Cell::new(0),
        depth: std::cell::Cell::new(0),
        too_deep_reported: std::cell::Cell::new(false),
        lost: RefCell::new(LostNames::default()),
        doc_deferred: std::cell::Cell::new(false),
        texts,
    };
    let module = match Grammar::parse(Rule::file, source) {
        Ok(mut pairs) => match pairs.next() {
            Some(file_pair) => parser.parse_file(file_pair),
            None => Module::default(),
        },
        // The recovery rules make the top rule accept any text; if pest still fails (its guard
        // against exhausting the stack on deeply nested input), report it rather than lose the
        // file silently.
        Err(error) => {
            match &error.variant {
                pest::error::ErrorVariant::CustomError { message } if message.contains("limit reached") => {
                    let at = error_offset(&error).min(source.len());
                    parser.push_too_deep(Span::new(at, at));
                }
                _ => parser.push_pest_error(error, 0),
            }
            Module::default()
        }
    };
    Parsed {
        module,
        diagnostics: parser.diagnostics.into_inner(),
        lost: parser.lost.into_inner(),
    }
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_in, Assoc::Left))
        .op(Op::infix(Rule::op_default, Assoc::Right))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
        .op(Op::postfix(Rule::field_access) | Op::postfix(Rule::index))
}

struct Parser<'s> {
    source: &'s str,
    file: FileId,
    diagnostics: RefCell<Vec<Diagnostic>>,
    pratt: PrattParser<Rule>,
    /// Recovered lines that start before this offset belong to a construct already reported.
    suppress_until: std::cell::Cell<usize>,
    /// How deeply the expressions and blocks being built nest (see [`MAX_DEPTH`]).
    depth: std::cell::Cell<usize>,
    /// One "nested too deeply" diagnostic per file is enough.
    too_deep_reported: std::cell::Cell<bool>,
    /// Names declared by lines that did not parse.
    lost: RefCell<LostNames>,
    /// A doc comment's line was not reported, so that the construct below it is.
    doc_deferred: std::cell::Cell<bool>,
    /// Strings the lexical pass made of unquoted words, by start: the words meant.
    texts: &'s [(usize, String)],
}

/// How deeply expressions, types and blocks may nest. Building the tree and every later pass
/// (checker, formatter, planner) recurse on it, so unbounded nesting would overflow the stack on
/// hostile or generated input; real flows nest a handful of levels. An expression's operators
/// count as levels too, since a chain `a ?? b ?? c ...` nests as deeply as it is long.
pub(in crate::syntax) const MAX_DEPTH: usize = 128;

/// Keyword tokens are in the tree (so "expected" lists can name them) but carry no meaning once
/// parsed; constructs read their other children.
fn is_keyword(rule: Rule) -> bool {
    // Every `kw_*` rule of the grammar (a parser test keeps this list complete).
    matches!(
        rule,
        Rule::kw_after
            | Rule::kw_and
            | Rule::kw_at
            | Rule::kw_backoff
            | Rule::kw_by
            | Rule::kw_call
            | Rule::kw_changed
            | Rule::kw_concurrency
            | Rule::kw_created
            | Rule::kw_databases
            | Rule::kw_else
            | Rule::kw_emit
            | Rule::kw_entity
            | Rule::kw_error
            | Rule::kw_event
            | Rule::kw_expect
            | Rule::kw_factor
            | Rule::kw_fail
            | Rule::kw_failed
            | Rule::kw_fails
            | Rule::kw_fallback
            | Rule::kw_false
            | Rule::kw_flow
            | Rule::kw_for
            | Rule::kw_grant
            | Rule::kw_hangs
            | Rule::kw_html
            | Rule::kw_sms
            | Rule::kw_slack
            | Rule::kw_example
            | Rule::kw_if
            | Rule::kw_in
            | Rule::kw_input
            | Rule::kw_jitter
            | Rule::kw_let
            | Rule::kw_manual
            | Rule::kw_match
            | Rule::kw_no
            | Rule::kw_no_jitter
            | Rule::kw_none
            | Rule::kw_not
            | Rule::kw_notion
            | Rule::kw_on
            | Rule::kw_or
            | Rule::kw_output
            | Rule::kw_ran
            | Rule::kw_read
            | Rule::kw_read_write
            | Rule::kw_retry
            | Rule::kw_returns
            | Rule::kw_schedule
            | Rule::kw_send
            | Rule::kw_setting
            | Rule::kw_skipped
            | Rule::kw_start
            | Rule::kw_step
            | Rule::kw_stub
            | Rule::kw_subject
            | Rule::kw_template
            | Rule::kw_test
            | Rule::kw_text_part
            | Rule::kw_then
            | Rule::kw_timeout
            | Rule::kw_times
            | Rule::kw_to
            | Rule::kw_true
            | Rule::kw_unverified
            | Rule::kw_until
            | Rule::kw_verified
            | Rule::kw_wait
            | Rule::kw_webhook
            | Rule::kw_where
            | Rule::kw_with
            | Rule::kw_write
            | Rule::kw_yield
    )
}

fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn span(pair: &Pair<'_, Rule>) -> Span {
    pair.as_span().into()
}

impl<'s> Parser<'s> {
    fn push(&self, diagnostic: Diagnostic) {
        self.diagnostics.borrow_mut().push(diagnostic);
    }

    /// Goes `weight` levels deeper; false (and one diagnostic) past [`MAX_DEPTH`]. Every `true`
    /// must be matched by [`Parser::leave`].
    fn enter(&self, weight: usize, at: Span) -> bool {
        if self.depth.get() + weight > MAX_DEPTH {
            self.push_too_deep(at);
            return false;
        }
        self.depth.set(self.depth.get() + weight);
        true
    }

    fn leave(&self, weight: usize) {
        self.depth.set(self.depth.get().saturating_sub(weight));
    }

    fn push_too_deep(&self, at: Span) {
        if self.too_deep_reported.replace(true) {
            return;
        }
        self.push(
            Diagnostic::new(Code::SyntaxError, self.file, at, "this is nested too deeply")
                .label("too many nested brackets, blocks or operators here")
                .help(format!(
                    "keep nesting under {MAX_DEPTH} levels: name intermediate values with `let`"
                )),
        );
    }

    fn parse_file(&self, pair: Pair<'_, Rule>) -> Module {
        let mut items = Vec::new();
        let mut in_bad_run = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::bad_item => {
                    self.diagnose_bad_line(&p, Rule::probe_item, in_bad_run);
                    in_bad_run = true;
                    continue;
                }
                Rule::EOI => {}
                Rule::use_decl => items.push(Item::Use(self.parse_use(p))),
                Rule::entity_decl => items.push(Item::Entity(self.parse_entity(p))),
                Rule::flow_decl => items.push(Item::Flow(self.parse_flow(p))),
                Rule::template_decl => items.push(Item::Template(self.parse_template(p))),
                Rule::test_decl => items.push(Item::Test(self.parse_test(p))),
                _ => {}
            }
            in_bad_run = false;
        }
        Module { items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(source: &str) -> Module {
        let (module, diagnostics) = parse(source, FileId(0));
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        module
    }

    fn flow_body(module: &Module) -> &[Stmt] {
        match module.items.first() {
            Some(Item::Flow(f)) => &f.body,
            other => panic!("expected a flow, got {other:?}"),
        }
    }

    #[test]
    fn is_keyword_knows_every_keyword_rule() {
        let grammar = include_str!("../../../grammar/flow.pest");
        let rules: Vec<&str> = grammar
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with("kw_"))
            .collect();
        assert!(rules.len() > 50);
        let listed = include_str!("mod.rs");
        let start = listed.find("fn is_keyword").unwrap_or(0);
        let body = &listed[start..start + listed[start..].find("\n}").unwrap_or(0)];
        let listed: std::collections::BTreeSet<&str> = body
            .split("Rule::")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")
            })
            .collect();
        for rule in rules {
            assert!(listed.contains(rule), "`is_keyword` does not list {rule}");
        }
    }

    #[test]
    fn doc_comments_document_every_statement() {
        let module = parse_ok(
            "flow f for e {\n  /// only when asked\n  if true {\n    /// a pause\n    wait 2d\n  }\n  /// tell others\n  emit \"x\" { a: 1 }\n  match 1 {\n    /// one\n    1 => { fail \"one\" }\n  }\n}\n",
        );
        let body = flow_body(&module);
        let Stmt::If(i) = &body[0] else { panic!("if") };
        assert_eq!(i.docs, ["only when asked"]);
        let Stmt::Wait(w) = &i.branches[0].1.stmts[0] else {
            panic!("wait")
        };
        assert_eq!(w.docs, ["a pause"]);
        let Stmt::Emit(e) = &body[1] else { panic!("emit") };
        assert_eq!(e.docs, ["tell others"]);
        let Stmt::Match(m) = &body[2] else { panic!("match") };
        assert_eq!(m.arms[0].docs, ["one"]);
    }

    #[test]
    fn a_braced_fallback_with_fields_is_a_record_value() {
        let module = parse_ok("flow f for e {\n  step s = a.b()\n    fallback { id: \"x\" }\n}\n");
        let Stmt::Step(step) = &flow_body(&module)[0] else {
            panic!("step")
        };
        assert!(matches!(
            step.policies.as_slice(),
            [Policy::Fallback(Fallback::Value(Expr {
                kind: ExprKind::Record(_),
                ..
            }))]
        ));
        let module = parse_ok("flow f for e {\n  step s = a.b()\n    fallback {\n      yield 1\n    }\n}\n");
        let Stmt::Step(step) = &flow_body(&module)[0] else {
            panic!("step")
        };
        assert!(matches!(
            step.policies.as_slice(),
            [Policy::Fallback(Fallback::Block(_))]
        ));
    }

    #[test]
    fn a_malformed_timeout_is_an_invalid_duration() {
        let (_, diagnostics) = parse(
            "flow f for e {\n  step s = a.b()\n    timeout 30secs\n}\n",
            FileId(0),
        );
        let codes: Vec<_> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::InvalidDuration]);
        assert_eq!(diagnostics[0].help.as_deref(), Some("write `30s`"));
    }

    #[test]
    fn a_broken_step_with_a_multi_line_record_is_one_mistake() {
        let source = "flow f for e {\n  step s = a.b(x: 1 y: {\n    a: 1,\n  })\n  step t = a.c()\n}\n";
        let (module, diagnostics) = parse(source, FileId(0));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        // Recovery resumes inside the flow: the step after the broken one is kept.
        assert_eq!(flow_body(&module).len(), 1);
    }

    #[test]
    fn an_unclosed_block_points_at_its_brace() {
        let source = "flow f for e {\n  if x {\n    step s = a.b(text: \"}\") // }\n  }\n";
        let (_, diagnostics) = parse(source, FileId(0));
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        let d = &diagnostics[0];
        assert_eq!(d.code, Code::UnclosedDelimiter);
        assert_eq!(d.message, "this `{` is never closed");
        // The flow's own brace, not the `if`'s (closed) nor the ones in the string and comment.
        assert_eq!(d.span, Span::new(13, 14));
    }

    #[test]
    fn unclosed_brace_survives_escapes_before_multibyte_characters() {
        assert_eq!(unclosed_brace("flow f for e {\n  let x = \"caf\\é\"\n"), Some(13));
        assert_eq!(unclosed_brace("{ \"é\\"), Some(0));
        assert_eq!(unclosed_brace("{ } /* { */ \"\"\" { \"\"\""), None);
    }

    #[test]
    fn a_line_break_is_not_the_end_of_the_file() {
        let (_, diagnostics) = parse(
            "flow f for e {\n  step s = a.b(x: 1,\n  }\n  step t = a.c()\n}\n",
            FileId(0),
        );
        assert!(!diagnostics.is_empty());
        assert!(
            diagnostics.iter().all(|d| !d.message.contains("end of the file")),
            "{diagnostics:#?}"
        );
    }

    #[test]
    fn expected_lists_never_name_internal_rules() {
        let (_, diagnostics) = parse("flow f for e {\n  step s = a.b(\n", FileId(0));
        assert!(!diagnostics.is_empty());
        for d in &diagnostics {
            assert!(
                !d.message.contains("bad line") && !d.message.contains("probe"),
                "{}",
                d.message
            );
        }
    }
}
