//! Parser: pest pairs → [`ast`](super::ast) with spans, plus syntax diagnostics.
//!
//! Method prefixes follow just's parser: `parse_*` builds a construct from a pair the grammar
//! already accepted; `presume_*` unwraps something the grammar guarantees (a failure there is a
//! bug in flowc, never the user's mistake, and degrades to a default rather than panicking).
//! Syntax errors come from the grammar's recovery rules (`bad_item`, `bad_line`), each diagnosed
//! by re-parsing from that line with a probe rule, which yields the exact position and the
//! tokens that would have been accepted there.

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
const MAX_DEPTH: usize = 128;

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

    // ---------------------------------------------------------------------------------------
    // Syntax errors

    /// Reports a recovered line: re-parses from its start with `probe` to find the exact place.
    /// Reports a recovered line unless it is the tail of a construct already reported: one
    /// mistake, one diagnostic. A later line of a run of bad lines is reported again only when it
    /// starts a new construct (`step`, `flow`, ...) past the previous error's line.
    fn diagnose_bad_line(&self, bad: &Pair<'_, Rule>, probe: Rule, in_bad_run: bool) {
        let start = bad.as_span().start();
        let text = bad.as_str();
        self.lost.borrow_mut().note_line(text);
        // After a doc comment left for its construct, that construct's line is a new mistake.
        let in_bad_run = in_bad_run && !self.doc_deferred.replace(false);
        if start < self.suppress_until.get() || (in_bad_run && !starts_construct(text)) {
            return;
        }
        let line_end = |at: usize| self.source[at..].find('\n').map_or(self.source.len(), |i| at + i);
        // A doc comment above a broken construct is not the mistake: the construct's own line
        // (the next bad line) is reported instead.
        if text.starts_with("///") && doc_precedes_construct(&self.source[start + text.len()..]) {
            self.doc_deferred.set(true);
            return;
        }
        self.suppress_until.set(line_end(start));
        let word = first_word(text);
        if text.starts_with(word) && !starts_construct(text) {
            if let Some(keyword) = misspelt_keyword(word) {
                let span = Span::new(start, start + word.len());
                self.push(
                    Diagnostic::new(
                        Code::MisspeltKeyword,
                        self.file,
                        span,
                        format!("unknown keyword `{word}`"),
                    )
                    .label(format!("did you mean `{keyword}`?"))
                    .help(format!("write `{keyword}`")),
                );
                return;
            }
        }
        if text.starts_with("///") {
            self.push(
                Diagnostic::new(
                    Code::SyntaxError,
                    self.file,
                    span(bad),
                    "doc comment in a place that cannot be documented",
                )
                .label("`///` documents the flow, step, let, field, entity or template that follows it")
                .help("use `//` for a plain comment"),
            );
            return;
        }
        // Detailed attempts (which literal tokens were expected) cost time, so they are collected
        // only for this re-parse of a line already known to be wrong.
        pest::set_error_detail(true);
        let probed = Grammar::parse(probe, &self.source[start..]);
        pest::set_error_detail(false);
        match probed {
            Err(error) => {
                let at = start + error_offset(&error);
                self.suppress_until.set(line_end(at.min(self.source.len())));
                self.push_pest_error(error, start);
            }
            Ok(_) => {
                // The construct parses on its own but not where it stands (e.g. a trigger inside
                // an `if`): say so rather than invent an expected-token list.
                self.push(
                    Diagnostic::new(
                        Code::SyntaxError,
                        self.file,
                        span(bad),
                        format!("`{}` is not allowed here", first_word(text)),
                    )
                    .label("not allowed here")
                    .help(context_help(probe)),
                );
            }
        }
    }

    fn push_pest_error(&self, error: pest::error::Error<Rule>, offset: usize) {
        use pest::error::ErrorVariant;
        let at = offset + error_offset(&error);
        let at = at.min(self.source.len());
        let found = found_token(&self.source[at..]);
        let span = Span::new(at, at + found.len());
        let punctuation: Vec<String> = error
            .parse_attempts()
            .map(|attempts| {
                attempts
                    .expected_tokens()
                    .into_iter()
                    .map(|t| t.to_string())
                    .filter(|t| {
                        [",", ")", "]", "}", ":", "=", "=>", "{", "(", "..", "|"].contains(&t.as_str())
                    })
                    .map(|t| format!("`{t}`"))
                    .collect()
            })
            .unwrap_or_default();
        let expected = match &error.variant {
            ErrorVariant::ParsingError { positives, .. } => describe_expected(&punctuation, positives),
            ErrorVariant::CustomError { message } => message.clone(),
        };
        let at_end = self.source[at..].trim().is_empty();
        if at_end {
            if let Some(open) = unclosed_brace(self.source) {
                // Whatever else could have come, the real mistake is the brace left open: say
                // that, and show where it was opened.
                self.push(
                    Diagnostic::new(
                        Code::SyntaxError,
                        self.file,
                        span,
                        "expected `}` to close a block, found the end of the file",
                    )
                    .label("the file ends here")
                    .with(Span::new(open, open + 1), "this `{` is never closed")
                    .help("add the missing `}` where the block should end"),
                );
                return;
            }
        }
        let found_text = if at_end {
            "the end of the file".to_string()
        } else if found.is_empty() {
            "the end of the line".to_string()
        } else {
            format!("`{found}`")
        };
        let mut diagnostic = Diagnostic::new(
            Code::SyntaxError,
            self.file,
            span,
            format!("expected {expected}, found {found_text}"),
        )
        .label(format!("expected {expected} here"));
        if let Some(diagnostic) = self.missing_separator(&punctuation, at, found) {
            self.push(diagnostic);
            return;
        }
        if let Some(word) = misspelt_keyword(found) {
            diagnostic = diagnostic.help(format!("did you mean `{word}`?"));
        } else {
            diagnostic = diagnostic.help(format!(
                "write {expected} here; the language reference (docs/language.md) shows each construct"
            ));
        }
        self.push(diagnostic);
    }

    /// A missing `,` or `:`, reported at the token before it (where it goes), when the grammar
    /// expected one and found the start of a new value or name instead.
    fn missing_separator(&self, punctuation: &[String], at: usize, found: &str) -> Option<Diagnostic> {
        let starts_value = found
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"' || c == '{' || c == '[' || c == '-');
        if !starts_value {
            return self.missing_colon_before_expression(at, found);
        }
        let before = self.source[..at].trim_end();
        let prev_len = trailing_word_len(before);
        let ends_value = prev_len > 0 || before.ends_with(['"', '}', ']', ')']);
        if !ends_value {
            return None;
        }
        let prev_start = if prev_len > 0 {
            before.len() - prev_len
        } else {
            before.len() - 1
        };
        let prev = &before[prev_start..];
        let ahead_of_prev = before[..prev_start].trim_end();
        let wants = |p: &str| punctuation.iter().any(|x| x == p);
        // A name just after `(`, `{` or `,`, followed by a value: the `:` between is missing.
        let is_name = prev_len > 0 && !prev.starts_with(|c: char| c.is_ascii_digit());
        let separator =
            if wants("`:`") && is_name && ahead_of_prev.ends_with(['(', '{', ',']) && !found.starts_with('{')
            {
                ":"
            } else if wants("`,`") {
                ","
            } else {
                return None;
            };
        let span = Span::new(prev_start, before.len());
        Some(
            Diagnostic::new(
                Code::MissingSeparator,
                self.file,
                span,
                format!("expected `{separator}` after `{prev}`"),
            )
            .label(format!("`{separator}` missing after this"))
            .help(if separator == "," {
                format!("add `,` after `{prev}`: arguments, fields and list items are separated by commas")
            } else {
                format!("write `{prev}: ...`: a name and its value are separated by `:`")
            }),
        )
    }

    /// `{ Name exhibition.title }`: the grammar read `Name` and `exhibition` as two fields and
    /// stopped at the `.`; the `:` is missing after `Name`.
    fn missing_colon_before_expression(&self, at: usize, found: &str) -> Option<Diagnostic> {
        if !(found.starts_with('.') || found.starts_with('(') || found.starts_with('[')) {
            return None;
        }
        let line_start = self.source[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.source[line_start..at];
        let mut words = before.rsplit(|c: char| !(c.is_alphanumeric() || c == '_'));
        let value = words.next().filter(|w| !w.is_empty())?;
        let head = before[..before.len() - value.len()].trim_end();
        let key_len = trailing_word_len(head);
        let key = &head[head.len() - key_len..];
        let opener = head[..head.len() - key_len].trim_end();
        if key.is_empty() || head.len() == before.len() - value.len() || !opener.ends_with(['{', '(', ',']) {
            return None;
        }
        let start = line_start + head.len() - key_len;
        Some(
            Diagnostic::new(
                Code::MissingSeparator,
                self.file,
                Span::new(start, start + key.len()),
                format!("expected `:` after `{key}`"),
            )
            .label("`:` missing after this")
            .help(format!(
                "write `{key}: ...`: a name and its value are separated by `:`"
            )),
        )
    }

    // ---------------------------------------------------------------------------------------
    // Items

    fn parse_docs(
        &self,
        pairs: &mut std::iter::Peekable<impl Iterator<Item = Pair<'s, Rule>>>,
    ) -> Vec<String> {
        let mut docs = Vec::new();
        while let Some(p) = pairs.peek() {
            if p.as_rule() != Rule::doc {
                break;
            }
            let text = pairs
                .next()
                .and_then(|d| d.into_inner().next())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            docs.push(text.strip_prefix(' ').unwrap_or(&text).trim_end().to_string());
        }
        docs
    }

    fn parse_ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span(&pair),
        }
    }

    fn presume_ident(&self, pair: Option<Pair<'_, Rule>>, around: Span) -> Ident {
        match pair {
            Some(p) => self.parse_ident(p),
            None => Ident {
                name: String::new(),
                span: around,
            },
        }
    }

    fn parse_use(&self, pair: Pair<'s, Rule>) -> Use {
        let whole = span(&pair);
        let mut path = Vec::new();
        let mut alias = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::module_path => path = p.into_inner().map(|i| self.parse_ident(i)).collect(),
                Rule::ident => alias = Some(self.parse_ident(p)),
                _ => {}
            }
        }
        Use {
            path,
            alias,
            span: whole,
        }
    }

    fn parse_entity(&self, pair: Pair<'s, Rule>) -> Entity {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut entity = Entity {
            docs,
            name,
            title: None,
            databases: Vec::new(),
            grants: Vec::new(),
            settings: Vec::new(),
            span: whole,
        };
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            match rule {
                Rule::string => entity.title = Some(self.parse_str_lit(p)),
                Rule::databases => entity.databases.extend(children(p).map(|i| self.parse_ident(i))),
                Rule::grant => entity.grants.push(self.parse_grant(p)),
                Rule::setting => {
                    let s = span(&p);
                    let mut parts = children(p).peekable();
                    let docs = self.parse_docs(&mut parts);
                    let name = self.presume_ident(parts.next(), s);
                    let value = self.presume_expr(parts.next(), s);
                    entity.settings.push(Setting {
                        docs,
                        name,
                        value,
                        span: s,
                    });
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_entity_item, in_bad_run);
                }
                _ => {}
            }
            in_bad_run = rule == Rule::bad_line;
        }
        entity
    }

    fn parse_grant(&self, pair: Pair<'s, Rule>) -> Grant {
        let whole = span(&pair);
        let mut access = GrantAccess::Read;
        let mut lists = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::access => {
                    access = match p.as_str() {
                        "write" => GrantAccess::Write,
                        "read_write" => GrantAccess::ReadWrite,
                        _ => GrantAccess::Read,
                    }
                }
                Rule::ident_list => lists.push(self.parse_ident_list(p)),
                _ => {}
            }
        }
        let mut lists = lists.into_iter();
        Grant {
            access,
            databases: lists.next().unwrap_or_default(),
            to: lists.next().unwrap_or_default(),
            span: whole,
        }
    }

    fn parse_ident_list(&self, pair: Pair<'s, Rule>) -> Vec<Ident> {
        children(pair).map(|i| self.parse_ident(i)).collect()
    }

    fn parse_template(&self, pair: Pair<'s, Rule>) -> Template {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut parts = Vec::new();
        for p in inner {
            if p.as_rule() != Rule::template_part {
                continue;
            }
            let part_span = span(&p);
            let mut kind = TemplatePartKind::Text;
            let mut body = String::new();
            let mut body_span = part_span;
            let mut body_offset = part_span.start;
            for c in children(p) {
                match c.as_rule() {
                    Rule::template_part_kind => {
                        kind = match c.as_str() {
                            "subject" => TemplatePartKind::Subject,
                            "html" => TemplatePartKind::Html,
                            _ => TemplatePartKind::Text,
                        }
                    }
                    Rule::raw_string => {
                        body_span = span(&c);
                        if let Some(raw) = c.into_inner().next() {
                            body_offset = raw.as_span().start() as u32;
                            body = dedent(raw.as_str());
                        }
                    }
                    Rule::template_string => {
                        body_span = span(&c);
                        if let Some(raw) = c.into_inner().next() {
                            body_offset = raw.as_span().start() as u32;
                            body = raw.as_str().replace("\\\"", "\"");
                        }
                    }
                    _ => {}
                }
            }
            parts.push(TemplatePart {
                kind,
                body,
                body_span,
                body_offset,
                span: part_span,
            });
        }
        Template {
            docs,
            name,
            parts,
            span: whole,
        }
    }

    fn parse_flow(&self, pair: Pair<'s, Rule>) -> Flow {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let entity = self.presume_ident(inner.next(), whole);
        let mut flow = Flow {
            docs,
            name,
            entity,
            triggers: Vec::new(),
            input: None,
            body: Vec::new(),
            output: None,
            on_error: None,
            span: whole,
        };
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            match rule {
                Rule::trigger => flow.triggers.push(self.parse_trigger(p)),
                Rule::input_decl => {
                    let s = span(&p);
                    let fields = self.parse_fields(p);
                    if let Some(first) = &flow.input {
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                self.file,
                                s,
                                "a flow has one `input` block",
                            )
                            .label("second `input` block")
                            .with(first.span, "first `input` block")
                            .help("move these fields into the first `input` block"),
                        );
                    } else {
                        flow.input = Some(InputDecl { fields, span: s });
                    }
                }
                Rule::output_decl => {
                    let s = span(&p);
                    let value = self.presume_expr(children(p).next(), s);
                    if let Some(first) = &flow.output {
                        self.push(
                            Diagnostic::new(Code::DuplicateName, self.file, s, "a flow has one `output`")
                                .label("second `output`")
                                .with(first.span, "first `output`")
                                .help("merge the two into one `output` record"),
                        );
                    } else {
                        flow.output = Some(Output { value, span: s });
                    }
                }
                Rule::error_handler => {
                    let s = span(&p);
                    let block = children(p)
                        .next()
                        .map(|b| self.parse_block(b))
                        .unwrap_or_default();
                    if let Some(first) = &flow.on_error {
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                self.file,
                                s,
                                "a flow has one `on error` handler",
                            )
                            .label("second handler")
                            .with(first.span, "first handler")
                            .help("merge the two handlers into one"),
                        );
                    } else {
                        flow.on_error = Some(block);
                    }
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_flow_item, in_bad_run);
                }
                _ => {
                    if let Some(stmt) = self.parse_stmt(p) {
                        flow.body.push(stmt);
                    }
                }
            }
            in_bad_run = rule == Rule::bad_line;
        }
        flow
    }

    fn parse_trigger(&self, pair: Pair<'s, Rule>) -> Trigger {
        let whole = span(&pair);
        let kind = match children(pair).next() {
            Some(p) => {
                let rule = p.as_rule();
                let unverified = p.clone().into_inner().any(|c| c.as_rule() == Rule::kw_unverified);
                let mut parts = children(p).peekable();
                match rule {
                    Rule::webhook_trigger => TriggerKind::Webhook {
                        path: self.presume_str_lit(parts.next(), whole),
                        verified_by: parts.next().map(|i| self.parse_ident(i)),
                        unverified,
                    },
                    Rule::notion_trigger => {
                        let database = self.presume_ident(parts.next(), whole);
                        let (property, to) = match parts.next() {
                            Some(ev) if ev.as_rule() == Rule::notion_changed => {
                                let mut ev = children(ev);
                                let property = Some(self.presume_str_lit(ev.next(), whole));
                                let to = ev.next().map(|e| self.parse_expr(e));
                                (property, to)
                            }
                            _ => (None, None),
                        };
                        TriggerKind::Notion {
                            database,
                            property,
                            to,
                        }
                    }
                    Rule::schedule_trigger => TriggerKind::Schedule {
                        cron: self.presume_str_lit(parts.next(), whole),
                        timezone: parts.next().map(|s| self.parse_str_lit(s)),
                    },
                    Rule::event_trigger => TriggerKind::Event {
                        name: self.presume_str_lit(parts.next(), whole),
                    },
                    _ => TriggerKind::Manual,
                }
            }
            None => TriggerKind::Manual,
        };
        Trigger { kind, span: whole }
    }

    fn parse_fields(&self, pair: Pair<'s, Rule>) -> Vec<FieldDecl> {
        children(pair)
            .filter(|p| p.as_rule() == Rule::field_decl)
            .map(|p| self.parse_field(p))
            .collect()
    }

    fn parse_field(&self, pair: Pair<'s, Rule>) -> FieldDecl {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let ty = match inner.next() {
            Some(t) => self.parse_type(t),
            None => TypeExpr {
                kind: TypeExprKind::Named(Ident {
                    name: "any".into(),
                    span: whole,
                }),
                optional: false,
                span: whole,
            },
        };
        let default = inner.next().map(|e| self.parse_expr(e));
        FieldDecl {
            docs,
            name,
            ty,
            default,
            span: whole,
        }
    }

    fn parse_type(&self, pair: Pair<'s, Rule>) -> TypeExpr {
        let whole = span(&pair);
        if !self.enter(1, whole) {
            return TypeExpr {
                kind: TypeExprKind::Named(Ident {
                    name: "any".into(),
                    span: whole,
                }),
                optional: false,
                span: whole,
            };
        }
        let ty = self.parse_type_inner(pair, whole);
        self.leave(1);
        ty
    }

    fn parse_type_inner(&self, pair: Pair<'s, Rule>, whole: Span) -> TypeExpr {
        let mut optional = false;
        let mut kind = TypeExprKind::Named(Ident {
            name: "any".into(),
            span: whole,
        });
        for p in children(pair) {
            match p.as_rule() {
                Rule::optional => optional = true,
                Rule::named_type => {
                    kind = TypeExprKind::Named(self.presume_ident(p.into_inner().next(), whole))
                }
                Rule::list_type => {
                    if let Some(t) = children(p).next() {
                        kind = TypeExprKind::List(Box::new(self.parse_type(t)));
                    }
                }
                Rule::record_type => kind = TypeExprKind::Record(self.parse_fields(p)),
                _ => {}
            }
        }
        TypeExpr {
            kind,
            optional,
            span: whole,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Statements

    fn parse_block(&self, pair: Pair<'s, Rule>) -> Block {
        let whole = span(&pair);
        if !self.enter(1, whole) {
            return Block {
                stmts: Vec::new(),
                span: whole,
            };
        }
        let block = self.parse_block_inner(pair, whole);
        self.leave(1);
        block
    }

    fn parse_block_inner(&self, pair: Pair<'s, Rule>, whole: Span) -> Block {
        let mut stmts = Vec::new();
        let mut in_bad_run = false;
        for p in children(pair) {
            let rule = p.as_rule();
            if rule == Rule::bad_line {
                self.diagnose_bad_line(&p, Rule::probe_statement, in_bad_run);
            } else if let Some(stmt) = self.parse_stmt(p) {
                stmts.push(stmt);
            }
            in_bad_run = rule == Rule::bad_line;
        }
        Block { stmts, span: whole }
    }

    fn parse_stmt(&self, pair: Pair<'s, Rule>) -> Option<Stmt> {
        let whole = span(&pair);
        let rule = pair.as_rule();
        let stmt = match rule {
            Rule::step_stmt => Stmt::Step(self.parse_step(pair)),
            Rule::let_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let name = self.presume_ident(inner.next(), whole);
                let value = self.presume_expr(inner.next(), whole);
                Stmt::Let(Let {
                    docs,
                    name,
                    value,
                    span: whole,
                })
            }
            Rule::if_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let mut branches = Vec::new();
                let mut otherwise = None;
                let mut pending: Option<Expr> = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::else_if => {
                            if let Some(elif) = p.into_inner().find(|w| w.as_rule() == Rule::foreign_elif) {
                                self.push_foreign_word(&elif, "else if", "`else if` continues an `if`");
                            }
                        }
                        Rule::expr => pending = Some(self.parse_expr(p)),
                        Rule::block => {
                            let block = self.parse_block(p);
                            match pending.take() {
                                Some(cond) => branches.push((cond, block)),
                                None => otherwise = Some(block),
                            }
                        }
                        _ => {}
                    }
                }
                Stmt::If(If {
                    docs,
                    branches,
                    otherwise,
                    span: whole,
                })
            }
            Rule::match_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let value = self.presume_expr(inner.next(), whole);
                let arms = inner
                    .filter(|p| p.as_rule() == Rule::match_arm)
                    .map(|arm| {
                        let arm_span = span(&arm);
                        let mut parts = children(arm).peekable();
                        let docs = self.parse_docs(&mut parts);
                        let pattern = match parts.next() {
                            Some(p) => self.parse_pattern(p),
                            None => Pattern::Wildcard(arm_span),
                        };
                        let body = parts.next().map(|b| self.parse_block(b)).unwrap_or_default();
                        MatchArm {
                            docs,
                            pattern,
                            body,
                            span: arm_span,
                        }
                    })
                    .collect();
                Stmt::Match(Match {
                    docs,
                    value,
                    arms,
                    span: whole,
                })
            }
            Rule::wait_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let kind = match inner.next() {
                    Some(p) if p.as_rule() == Rule::wait_until => {
                        WaitKind::Until(self.presume_expr(children(p).next(), whole))
                    }
                    other => WaitKind::For(self.presume_expr(other, whole)),
                };
                Stmt::Wait(Wait {
                    docs,
                    kind,
                    span: whole,
                })
            }
            Rule::emit_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let event = self.presume_str_lit(inner.next(), whole);
                let payload = inner.next().map(|p| self.parse_primary(p));
                Stmt::Emit(Emit {
                    docs,
                    event,
                    payload,
                    span: whole,
                })
            }
            Rule::fail_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                Stmt::Fail(Fail {
                    docs,
                    message: self.presume_expr(inner.next(), whole),
                    span: whole,
                })
            }
            Rule::yield_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                Stmt::Yield(Yield {
                    docs,
                    value: self.presume_expr(inner.next(), whole),
                    span: whole,
                })
            }
            _ => return None,
        };
        Some(stmt)
    }

    fn parse_step(&self, pair: Pair<'s, Rule>) -> Step {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut body = None;
        let mut policies = Vec::new();
        for p in inner {
            let s = span(&p);
            match p.as_rule() {
                Rule::call => body = Some(StepBody::Call(self.parse_call(p))),
                Rule::wait_event => {
                    let mut parts = children(p);
                    let event = self.presume_str_lit(parts.next(), s);
                    let filter = parts.next().map(|e| self.parse_expr(e));
                    body = Some(StepBody::WaitEvent(WaitEvent {
                        event,
                        filter,
                        span: s,
                    }));
                }
                Rule::fan_out => {
                    let mut var = None;
                    let mut over = None;
                    let mut concurrency = None;
                    let mut block = Block::default();
                    for c in children(p) {
                        match c.as_rule() {
                            Rule::ident => var = Some(self.parse_ident(c)),
                            Rule::expr => over = Some(self.parse_expr(c)),
                            Rule::int => concurrency = Some((self.parse_int(&c), span(&c))),
                            Rule::block => block = self.parse_block(c),
                            _ => {}
                        }
                    }
                    body = Some(StepBody::FanOut(FanOut {
                        var: var.unwrap_or_else(|| self.presume_ident(None, s)),
                        over: over.unwrap_or_else(|| none_expr(s)),
                        concurrency,
                        body: block,
                        span: s,
                    }));
                }
                Rule::retry_policy => policies.push(Policy::Retry(self.parse_retry(p))),
                Rule::timeout_policy => match children(p).next() {
                    Some(e) if e.as_rule() == Rule::expr => {
                        let e = self.parse_expr(e);
                        // `timeout (2d)` is still a written duration.
                        policies.push(match e.kind {
                            ExprKind::Duration(ms) => Policy::Timeout(DurationLit { ms, span: e.span }),
                            _ => Policy::TimeoutExpr(e),
                        })
                    }
                    d => policies.push(Policy::Timeout(self.presume_duration(d, s))),
                },
                Rule::fallback_policy => {
                    let fallback = match children(p).next() {
                        Some(b) if b.as_rule() == Rule::block => Fallback::Block(self.parse_block(b)),
                        other => Fallback::Value(self.presume_expr(other, s)),
                    };
                    policies.push(Policy::Fallback(fallback));
                }
                Rule::after_policy => {
                    let names = children(p)
                        .next()
                        .map(|l| self.parse_ident_list(l))
                        .unwrap_or_default();
                    policies.push(Policy::After(names));
                }
                _ => {}
            }
        }
        Step {
            docs,
            name,
            body: body.unwrap_or_else(|| {
                StepBody::Call(Call {
                    callee: Vec::new(),
                    args: Vec::new(),
                    span: whole,
                })
            }),
            policies,
            span: whole,
        }
    }

    fn parse_call(&self, pair: Pair<'s, Rule>) -> Call {
        let whole = span(&pair);
        let mut callee = Vec::new();
        let mut args = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::qualified => callee = p.into_inner().map(|i| self.parse_ident(i)).collect(),
                Rule::arg => {
                    let s = span(&p);
                    let mut parts = children(p);
                    let name = self.presume_ident(parts.next(), s);
                    let (value, shorthand) = match parts.next() {
                        Some(e) => (self.parse_expr(e), false),
                        None => (
                            Expr {
                                kind: ExprKind::Name(name.name.clone()),
                                span: name.span,
                            },
                            true,
                        ),
                    };
                    args.push(Arg {
                        name,
                        value,
                        shorthand,
                        span: s,
                    });
                }
                _ => {}
            }
        }
        Call {
            callee,
            args,
            span: whole,
        }
    }

    fn parse_retry(&self, pair: Pair<'s, Rule>) -> Retry {
        let whole = span(&pair);
        let mut retry = Retry {
            attempts: 1,
            attempts_span: whole,
            backoff: None,
            jitter: None,
            on: Vec::new(),
            span: whole,
        };
        for p in children(pair) {
            match p.as_rule() {
                Rule::int => {
                    retry.attempts = self.parse_int(&p);
                    retry.attempts_span = span(&p);
                }
                Rule::backoff => {
                    let s = span(&p);
                    let mut parts = children(p);
                    let min = self.presume_duration(parts.next(), s);
                    let max = self.presume_duration(parts.next(), s);
                    let factor = parts
                        .next()
                        .map(|f| (f.as_str().parse().unwrap_or(2.0), span(&f)));
                    retry.backoff = Some(Backoff {
                        min,
                        max,
                        factor,
                        span: s,
                    });
                }
                Rule::jitter => retry.jitter = Some(!p.as_str().starts_with("no")),
                Rule::retry_on => {
                    retry.on = children(p)
                        .next()
                        .map(|l| self.parse_ident_list(l))
                        .unwrap_or_default()
                }
                _ => {}
            }
        }
        retry
    }

    fn parse_pattern(&self, pair: Pair<'s, Rule>) -> Pattern {
        let whole = span(&pair);
        let mut literals = Vec::new();
        for p in children(pair) {
            if p.as_rule() == Rule::wildcard {
                return Pattern::Wildcard(whole);
            }
            literals.push(self.parse_primary(p));
        }
        Pattern::Literals(literals)
    }

    fn parse_int(&self, pair: &Pair<'_, Rule>) -> u32 {
        match pair.as_str().parse() {
            Ok(n) => n,
            Err(_) => {
                self.push(
                    Diagnostic::new(
                        Code::SyntaxError,
                        self.file,
                        span(pair),
                        format!("`{}` is too large", pair.as_str()),
                    )
                    .label("this number")
                    .help("use a whole number below 4294967296"),
                );
                u32::MAX
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Tests

    fn parse_test(&self, pair: Pair<'s, Rule>) -> Test {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_str_lit(inner.next(), whole);
        let flow = self.presume_ident(inner.next(), whole);
        let mut items = Vec::new();
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            let s = span(&p);
            match rule {
                Rule::test_input => items.push(TestItem::Input(self.presume_expr(children(p).next(), s))),
                Rule::test_start => items.push(TestItem::Start(self.presume_str_lit(children(p).next(), s))),
                Rule::stub => items.push(TestItem::Stub(self.parse_stub(p))),
                Rule::test_event => {
                    let mut name = None;
                    let mut payload = None;
                    let mut after = None;
                    for c in children(p) {
                        match c.as_rule() {
                            Rule::string => name = Some(self.parse_str_lit(c)),
                            Rule::expr => payload = Some(self.parse_expr(c)),
                            Rule::duration => after = Some(self.parse_duration_lit(&c)),
                            Rule::spaced_duration => after = Some(self.parse_spaced_duration(&c)),
                            Rule::bad_duration => {
                                after = Some(DurationLit {
                                    ms: self.push_bad_duration(&c),
                                    span: span(&c),
                                });
                            }
                            _ => {}
                        }
                    }
                    items.push(TestItem::Event(TestEvent {
                        name: name.unwrap_or(StrLit {
                            value: String::new(),
                            span: s,
                        }),
                        payload,
                        after,
                        span: s,
                    }));
                }
                Rule::expect => {
                    let kind = match children(p).next() {
                        Some(e) => match e.as_rule() {
                            Rule::expect_step => {
                                let mut parts = children(e);
                                let step = self.presume_ident(parts.next(), s);
                                let state = match parts.next().map(|x| x.as_str().to_string()).as_deref() {
                                    Some("skipped") => StepState::Skipped,
                                    Some("failed") => StepState::Failed,
                                    _ => StepState::Ran,
                                };
                                ExpectKind::Step(step, state)
                            }
                            Rule::expect_call => {
                                let mut action = Vec::new();
                                let mut times = None;
                                let mut with = None;
                                for c in children(e) {
                                    match c.as_rule() {
                                        Rule::qualified => {
                                            action = c.into_inner().map(|i| self.parse_ident(i)).collect()
                                        }
                                        Rule::int => times = Some(self.parse_int(&c)),
                                        Rule::expr => with = Some(self.parse_expr(c)),
                                        _ => {}
                                    }
                                }
                                ExpectKind::Call { action, times, with }
                            }
                            Rule::expect_no_call => ExpectKind::NoCall(
                                children(e)
                                    .next()
                                    .map(|q| q.into_inner().map(|i| self.parse_ident(i)).collect())
                                    .unwrap_or_default(),
                            ),
                            _ => ExpectKind::That(self.parse_expr(e)),
                        },
                        None => ExpectKind::That(none_expr(s)),
                    };
                    items.push(TestItem::Expect(Expect { kind, span: s }));
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_test_item, in_bad_run);
                }
                _ => {}
            }
            in_bad_run = rule == Rule::bad_line;
        }
        Test {
            docs,
            name,
            flow,
            items,
            span: whole,
        }
    }

    fn parse_stub(&self, pair: Pair<'s, Rule>) -> Stub {
        let whole = span(&pair);
        let mut target = StubTarget::Action(Vec::new());
        let mut outcomes = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::stub_target => {
                    if let Some(t) = children(p).next() {
                        target = match t.as_rule() {
                            Rule::ident => StubTarget::Step(self.parse_ident(t)),
                            _ => StubTarget::Action(t.into_inner().map(|i| self.parse_ident(i)).collect()),
                        };
                    }
                }
                Rule::stub_outcome => {
                    if let Some(o) = children(p).next() {
                        let s = span(&o);
                        let outcome = match o.as_rule() {
                            Rule::stub_returns => {
                                StubOutcome::Returns(self.presume_expr(children(o).next(), s))
                            }
                            Rule::stub_fails => {
                                let mut class = None;
                                let mut message = None;
                                let mut times = None;
                                for c in children(o) {
                                    match c.as_rule() {
                                        Rule::ident => class = Some(self.parse_ident(c)),
                                        Rule::string => message = Some(self.parse_str_lit(c)),
                                        Rule::int => times = Some(self.parse_int(&c)),
                                        _ => {}
                                    }
                                }
                                StubOutcome::Fails {
                                    class: class.unwrap_or_else(|| self.presume_ident(None, s)),
                                    message,
                                    times,
                                    span: s,
                                }
                            }
                            _ => StubOutcome::Hangs(s),
                        };
                        outcomes.push(outcome);
                    }
                }
                _ => {}
            }
        }
        Stub {
            target,
            outcomes,
            span: whole,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Expressions

    fn presume_expr(&self, pair: Option<Pair<'s, Rule>>, around: Span) -> Expr {
        match pair {
            Some(p) if p.as_rule() == Rule::expr => self.parse_expr(p),
            Some(p) => self.parse_primary(p),
            None => none_expr(around),
        }
    }

    fn parse_expr(&self, pair: Pair<'s, Rule>) -> Expr {
        let s = span(&pair);
        let weight = pair.clone().into_inner().count().max(1);
        if !self.enter(weight, s) {
            return none_expr(s);
        }
        let expr = self.parse_expr_pairs(pair.into_inner());
        self.leave(weight);
        expr
    }

    fn parse_expr_pairs(&self, pairs: Pairs<'s, Rule>) -> Expr {
        self.pratt
            .map_primary(|p| self.parse_primary(p))
            .map_prefix(|op, rhs| {
                if op.as_str().trim() == "!" {
                    self.push_foreign_operator(&op, "not");
                }
                let op_kind = if op.as_rule() == Rule::op_not {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                let s = span(&op).to(rhs.span);
                // Fold `-3` and `-2d` into literals so that `wait -1d` reads as one value.
                match (op_kind, &rhs.kind) {
                    (UnaryOp::Neg, ExprKind::Number(n)) => Expr {
                        kind: ExprKind::Number(-n),
                        span: s,
                    },
                    (UnaryOp::Neg, ExprKind::Duration(d)) => Expr {
                        kind: ExprKind::Duration(-d),
                        span: s,
                    },
                    _ => Expr {
                        kind: ExprKind::Unary(op_kind, Box::new(rhs)),
                        span: s,
                    },
                }
            })
            .map_postfix(|lhs, op| {
                let s = lhs.span.to(span(&op));
                match op.as_rule() {
                    Rule::index => {
                        let index = self.presume_expr(op.into_inner().next(), s);
                        Expr {
                            kind: ExprKind::Index(Box::new(lhs), Box::new(index)),
                            span: s,
                        }
                    }
                    _ => {
                        let field = match op.into_inner().next() {
                            Some(f) if f.as_rule() == Rule::quoted_field => {
                                let lit = self.presume_str_lit(f.into_inner().next(), s);
                                Ident {
                                    name: lit.value,
                                    span: lit.span,
                                }
                            }
                            other => self.presume_ident(other, s),
                        };
                        Expr {
                            kind: ExprKind::Field(Box::new(lhs), field),
                            span: s,
                        }
                    }
                }
            })
            .map_infix(|lhs, op, rhs| {
                match op.as_str().trim() {
                    "||" => self.push_foreign_operator(&op, "or"),
                    "&&" => self.push_foreign_operator(&op, "and"),
                    "=" | "===" => self.push_foreign_operator(&op, "=="),
                    "!==" | "<>" => self.push_foreign_operator(&op, "!="),
                    _ => {}
                }
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_default => BinaryOp::Default,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    Rule::op_div => BinaryOp::Div,
                    _ => BinaryOp::In,
                };
                let s = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span: s,
                }
            })
            .parse(pairs)
    }

    fn parse_primary(&self, pair: Pair<'s, Rule>) -> Expr {
        let s = span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr => return self.parse_expr(pair),
            Rule::paren => return self.presume_expr(children(pair).next(), s),
            Rule::none => ExprKind::None,
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::number => ExprKind::Number(pair.as_str().parse().unwrap_or(0.0)),
            Rule::duration => ExprKind::Duration(self.parse_duration_lit(&pair).ms),
            Rule::bad_duration => ExprKind::Duration(self.push_bad_duration(&pair)),
            Rule::spaced_duration => ExprKind::Duration(self.parse_spaced_duration(&pair).ms),
            Rule::foreign_literal => {
                let (meant, kind) = match pair.as_str() {
                    "True" | "TRUE" => ("true", ExprKind::Bool(true)),
                    "False" | "FALSE" => ("false", ExprKind::Bool(false)),
                    _ => ("none", ExprKind::None),
                };
                self.push_foreign_word(&pair, meant, "the literals are `true`, `false` and `none`");
                kind
            }
            Rule::string => match self.texts.iter().find(|(at, _)| *at == s.start as usize) {
                Some((_, words)) => ExprKind::Str(vec![StrPart::Text(words.clone())]),
                None => ExprKind::Str(self.parse_string_parts(pair)),
            },
            Rule::raw_string => ExprKind::Str(vec![StrPart::Text(
                pair.into_inner()
                    .next()
                    .map(|t| dedent(t.as_str()))
                    .unwrap_or_default(),
            )]),
            Rule::ident | Rule::entity_name => ExprKind::Name(pair.as_str().to_string()),
            Rule::func_call => {
                let mut inner = children(pair);
                let name = self.presume_ident(inner.next(), s);
                ExprKind::Call(name, inner.map(|e| self.parse_expr(e)).collect())
            }
            Rule::list => ExprKind::List(children(pair).map(|e| self.parse_expr(e)).collect()),
            Rule::record => ExprKind::Record(self.parse_record_fields(pair)),
            Rule::if_expr => {
                let mut parts = children(pair).filter(|p| {
                    let elif = p.as_rule() == Rule::foreign_elif;
                    if elif {
                        self.push_foreign_word(p, "else if", "`else if` continues an `if`");
                    }
                    !elif
                });
                let cond = self.presume_expr(parts.next(), s);
                let then = self.presume_expr(parts.next(), s);
                let otherwise = self.presume_expr(parts.next(), s);
                ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise))
            }
            Rule::match_expr => {
                let mut parts = children(pair);
                let value = self.presume_expr(parts.next(), s);
                let arms = parts
                    .map(|arm| {
                        let arm_span = span(&arm);
                        let mut a = children(arm);
                        let pattern = match a.next() {
                            Some(p) => self.parse_pattern(p),
                            None => Pattern::Wildcard(arm_span),
                        };
                        (pattern, self.presume_expr(a.next(), arm_span))
                    })
                    .collect();
                ExprKind::Match(Box::new(value), arms)
            }
            _ => ExprKind::None,
        };
        Expr { kind, span: s }
    }

    fn parse_record_fields(&self, pair: Pair<'s, Rule>) -> Vec<RecordField> {
        let mut fields: Vec<RecordField> = Vec::new();
        for f in children(pair) {
            let fs = span(&f);
            let mut parts = children(f);
            let name = match parts.next() {
                Some(n) if n.as_rule() == Rule::string => {
                    let lit = self.parse_str_lit(n);
                    Ident {
                        name: lit.value,
                        span: lit.span,
                    }
                }
                other => self.presume_ident(other, fs),
            };
            let field = match parts.next() {
                Some(e) => RecordField {
                    value: self.option_value(&name, self.parse_expr(e)),
                    name,
                    shorthand: false,
                },
                None => {
                    // Commas between fields are optional, so `{ Status "Done" }` parses as two
                    // shorthand fields: on one line with nothing between, it is a missing `:`.
                    if let Some(previous) = fields.last_mut().filter(|p| p.shorthand) {
                        let between = self
                            .source
                            .get(previous.name.span.end as usize..name.span.start as usize)
                            .unwrap_or(",");
                        let quoted = self.source.as_bytes().get(name.span.start as usize) == Some(&b'"');
                        if between.trim().is_empty() && !between.contains('\n') {
                            let key = key_text(&previous.name.name);
                            self.push(
                                Diagnostic::new(
                                    Code::MissingSeparator,
                                    self.file,
                                    previous.name.span,
                                    format!("expected `:` after `{key}`"),
                                )
                                .label("`:` missing after this")
                                .help(format!(
                                    "write `{key}: ...`: a name and its value are separated by `:`"
                                )),
                            );
                            previous.shorthand = false;
                            previous.value = Expr {
                                kind: if quoted {
                                    ExprKind::Str(vec![StrPart::Text(name.name.clone())])
                                } else {
                                    ExprKind::Name(name.name.clone())
                                },
                                span: name.span,
                            };
                            continue;
                        }
                    }
                    RecordField {
                        value: Expr {
                            kind: ExprKind::Name(name.name.clone()),
                            span: name.span,
                        },
                        name,
                        shorthand: true,
                    }
                }
            };
            fields.push(field);
        }
        fields
    }

    fn parse_string_parts(&self, pair: Pair<'s, Rule>) -> Vec<StrPart> {
        let mut parts: Vec<StrPart> = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::string_text => push_text(&mut parts, p.as_str()),
                Rule::escape => push_text(
                    &mut parts,
                    match &p.as_str()[1..] {
                        "n" => "\n",
                        "t" => "\t",
                        other => other,
                    },
                ),
                Rule::interpolation => {
                    let s = span(&p);
                    parts.push(StrPart::Expr(self.presume_expr(p.into_inner().next(), s)));
                }
                _ => {}
            }
        }
        parts
    }

    fn parse_str_lit(&self, pair: Pair<'s, Rule>) -> StrLit {
        let s = span(&pair);
        if matches!(
            pair.as_rule(),
            Rule::bare_path | Rule::bare_event | Rule::bare_word
        ) {
            let text = pair.as_str();
            self.push(
                Diagnostic::new(Code::UnquotedText, self.file, s, format!("`{text}` needs quotes"))
                    .label("a string without quotes")
                    .help(format!("write `\"{text}\"`")),
            );
            return StrLit {
                value: text.to_string(),
                span: s,
            };
        }
        let mut value = String::new();
        for part in self.parse_string_parts(pair) {
            match part {
                StrPart::Text(t) => value.push_str(&t),
                StrPart::Expr(e) => self.push(
                    Diagnostic::new(
                        Code::InterpolationNotAllowed,
                        self.file,
                        e.span,
                        "`{{ }}` is not allowed in this string",
                    )
                    .label("interpolation")
                    .help(
                        "this string is a fixed name; write it out in full, or escape the braces as `\\{\\{`",
                    ),
                ),
            }
        }
        StrLit { value, span: s }
    }

    fn presume_str_lit(&self, pair: Option<Pair<'s, Rule>>, around: Span) -> StrLit {
        match pair {
            Some(p) => self.parse_str_lit(p),
            None => StrLit {
                value: String::new(),
                span: around,
            },
        }
    }

    fn parse_duration_lit(&self, pair: &Pair<'_, Rule>) -> DurationLit {
        let s = span(pair);
        match parse_duration(pair.as_str()) {
            Some(ms) => DurationLit { ms, span: s },
            None => DurationLit {
                ms: self.push_bad_duration(pair),
                span: s,
            },
        }
    }

    fn presume_duration(&self, pair: Option<Pair<'_, Rule>>, around: Span) -> DurationLit {
        match pair {
            Some(p) if p.as_rule() == Rule::duration => self.parse_duration_lit(&p),
            Some(p) if p.as_rule() == Rule::spaced_duration => self.parse_spaced_duration(&p),
            Some(p) => DurationLit {
                ms: self.push_bad_duration(&p),
                span: span(&p),
            },
            None => DurationLit { ms: 0, span: around },
        }
    }

    /// `2 days`: read as `2d`, and reported.
    fn parse_spaced_duration(&self, pair: &Pair<'_, Rule>) -> DurationLit {
        let text = pair.as_str();
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        let word = text[digits.len()..].trim();
        let unit = duration_unit(word).unwrap_or("s");
        let written = format!("{digits}{unit}");
        self.push(
            Diagnostic::new(
                Code::InvalidDuration,
                self.file,
                span(pair),
                format!("invalid duration `{text}`"),
            )
            .label("a duration in words")
            .help(format!(
                "write `{written}`: a number and its unit, without a space"
            )),
        );
        DurationLit {
            ms: parse_duration(&written).unwrap_or(0),
            span: span(pair),
        }
    }

    fn push_foreign_operator(&self, op: &Pair<'_, Rule>, meant: &str) {
        // A rule with a lookahead ends after the white space it skipped: leave that out.
        let written = op.as_str().trim_end();
        let at = op.as_span().start();
        let why = match meant {
            "==" => "`=` gives a value a name; `==` compares".to_string(),
            _ => format!("flow writes `{meant}` for `{written}`"),
        };
        self.push(
            Diagnostic::new(
                Code::ForeignOperator,
                self.file,
                Span::new(at, at + written.len()),
                format!("`{written}` is not an operator of flow"),
            )
            .label(format!("did you mean `{meant}`?"))
            .help(format!("write `{meant}`: {why}")),
        );
    }

    fn push_foreign_word(&self, word: &Pair<'_, Rule>, meant: &str, why: &str) {
        let written = word.as_str();
        self.push(
            Diagnostic::new(
                Code::ForeignWord,
                self.file,
                span(word),
                format!("`{written}` is not a word of flow"),
            )
            .label(format!("did you mean `{meant}`?"))
            .help(format!("write `{meant}`: {why}")),
        );
    }

    /// A Notion property's value written without quotes (`Status: Completed`): a capitalised
    /// bare word under a capitalised or quoted key names an option, not a value of the flow.
    fn option_value(&self, key: &Ident, value: Expr) -> Expr {
        let property_like = key.name.starts_with(|c: char| c.is_ascii_uppercase()) || key.name.contains(' ');
        match &value.kind {
            ExprKind::Name(word) if property_like && word.starts_with(|c: char| c.is_ascii_uppercase()) => {
                self.push(
                    Diagnostic::new(
                        Code::UnquotedText,
                        self.file,
                        value.span,
                        format!("`{word}` needs quotes"),
                    )
                    .label("an option written without quotes")
                    .help(format!("write `{}: \"{word}\"`", key_text(&key.name))),
                );
                Expr {
                    kind: ExprKind::Str(vec![StrPart::Text(word.clone())]),
                    span: value.span,
                }
            }
            _ => value,
        }
    }

    /// Reports a malformed duration; its value is the one meant when the unit is known (so
    /// `1mins` does not also make a backoff's bounds look reversed), else 0.
    fn push_bad_duration(&self, pair: &Pair<'_, Rule>) -> i64 {
        let text = pair.as_str();
        let digits: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let unit = &text[digits.len()..];
        let suggestion = duration_unit(unit);
        let help = match suggestion {
            Some(u) if !digits.contains('.') => format!("write `{digits}{u}`"),
            _ if digits.contains('.') => {
                "durations are whole numbers of a unit: write `1h30m` rather than `1.5h`".to_string()
            }
            _ => "units are ms, s, m, h, d and w (e.g. `30s`, `2d`, `1h30m`)".to_string(),
        };
        self.push(
            Diagnostic::new(
                Code::InvalidDuration,
                self.file,
                span(pair),
                format!("invalid duration `{text}`"),
            )
            .label("not a duration")
            .help(help),
        );
        match suggestion {
            Some(u) if !digits.contains('.') => parse_duration(&format!("{digits}{u}")).unwrap_or(0),
            _ => 0,
        }
    }
}

/// The unit of a duration written in words (`days` → `d`).
fn duration_unit(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "sec" | "secs" | "second" | "seconds" => "s",
        "min" | "mins" | "minute" | "minutes" => "m",
        "hr" | "hrs" | "hour" | "hours" => "h",
        "day" | "days" => "d",
        "week" | "weeks" | "wk" | "wks" => "w",
        "millis" | "msec" | "millisecond" | "milliseconds" | "ms" => "ms",
        _ => return None,
    })
}

/// A record key as written: quoted unless it is a plain name.
fn key_text(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

fn none_expr(span: Span) -> Expr {
    Expr {
        kind: ExprKind::None,
        span,
    }
}

fn push_text(parts: &mut Vec<StrPart>, text: &str) {
    if let Some(StrPart::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(StrPart::Text(text.to_string()));
    }
}

/// Removes the first line break, the trailing indentation before the closing quotes, and the
/// indentation common to every non-blank line, so templates can be indented with the code.
pub(crate) fn dedent(raw: &str) -> String {
    let body = raw
        .strip_prefix("\r\n")
        .or_else(|| raw.strip_prefix('\n'))
        .unwrap_or(raw);
    let body = match body.rfind('\n') {
        Some(i) if body[i + 1..].trim().is_empty() => &body[..i + 1],
        _ => body,
    };
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            // `indent` counts bytes; a line indented with other whitespace than the rest may
            // not have a character boundary there.
            out.push_str(line.get(indent..).unwrap_or_else(|| line.trim_start()));
        }
    }
    out
}

/// The offset of the innermost `{` that no `}` closes, skipping strings and comments. Works on
/// bytes: every delimiter is ASCII, so offsets stay on character boundaries.
fn unclosed_brace(source: &str) -> Option<usize> {
    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
    let bytes = source.as_bytes();
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            i += find(rest, b"\n").unwrap_or(rest.len());
        } else if rest.starts_with(b"/*") {
            i += find(&rest[2..], b"*/").map_or(rest.len(), |e| e + 4);
        } else if rest.starts_with(b"\"\"\"") {
            i += find(&rest[3..], b"\"\"\"").map_or(rest.len(), |e| e + 6);
        } else if bytes[i] == b'"' {
            // A string ends at its closing quote or, unterminated, at the end of its line.
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
        } else {
            match bytes[i] {
                b'{' => open.push(i),
                b'}' => {
                    open.pop();
                }
                _ => {}
            }
            i += 1;
        }
    }
    open.pop()
}

fn error_offset(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

fn starts_construct(text: &str) -> bool {
    const STARTS: &[&str] = &[
        "step",
        "let",
        "if",
        "match",
        "wait",
        "emit",
        "fail",
        "yield",
        "on",
        "input",
        "output",
        "flow",
        "entity",
        "template",
        "test",
        "use",
        "databases",
        "grant",
        "setting",
        "stub",
        "expect",
        "send",
        "start",
    ];
    STARTS.contains(&first_word(text)) || text.starts_with("///")
}

fn first_word(text: &str) -> &str {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| !w.is_empty())
        .unwrap_or(text)
}

/// The token at the start of `rest`, for "found ..." (a word, or one character).
fn found_token(rest: &str) -> &str {
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(rest.len(), |(i, _)| i);
    if end > 0 {
        return &rest[..end];
    }
    match rest.chars().next() {
        Some(c) if c == '\n' || c == '\r' => "",
        Some(c) => &rest[..c.len_utf8()],
        None => "",
    }
}

fn context_help(probe: Rule) -> &'static str {
    match probe {
        Rule::probe_statement => {
            "only statements (step, let, if, match, wait, emit, fail, yield) may appear in a block; triggers, input and output belong at the top of the flow"
        }
        Rule::probe_flow_item => "move it to where the language reference (docs/language.md) allows it",
        _ => "move it to where the language reference (docs/language.md) allows it",
    }
}

/// Turns pest's expected-rule list into words an author understands.
fn describe_expected(punctuation: &[String], positives: &[Rule]) -> String {
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
            Rule::template_part | Rule::template_part_kind => "`subject`, `text` or `html`".to_string(),
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

/// The length in bytes of the word (letters, digits, `_`) that `text` ends with; 0 when it ends
/// with anything else.
fn trailing_word_len(text: &str) -> usize {
    text.chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum()
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
        let grammar = include_str!("../../grammar/flow.pest");
        let rules: Vec<&str> = grammar
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with("kw_"))
            .collect();
        assert!(rules.len() > 50);
        let listed = include_str!("parser.rs");
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
