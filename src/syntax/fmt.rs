//! The formatter: prints a `.flow` file in the one canonical layout, keeping every comment.
//!
//! The layout: 2-space indent, one statement per line, each step policy on its own line under
//! the step, records/lists/argument lists on one line when they fit in [`WIDTH`] columns and one
//! element per line (with a trailing comma) otherwise (a call ending with a long record keeps
//! its other arguments on the first line: `create_page(db: Task, properties: {`), one blank line
//! between top-level items, at most one blank line kept between statements, and a flow's parts
//! in a fixed order (docs, triggers, input, statements, output, on error). Parentheses are
//! written where precedence needs them, and also around `not`'s operand and around `??` mixed
//! with another operator, where the bare form misleads.
//!
//! The result is parsed again before it is returned: if the tree or the comments differ, the
//! file is refused rather than changed.
//!
//! Comments are not in the AST (the grammar skips them), so [`super::comments()`] finds them and
//! the printer hands each back at the first line boundary after its place: a comment before an
//! element goes on its own line above it, a comment on the same line as an element's end (or
//! inside something printed on one line) goes at the end of that line. Reordered parts of a flow
//! take their comments with them: each part owns the comments of its stretch of the source.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::ast::*;
use super::comments::{comments, Comment};
use super::parser::dedent;
use super::Span;
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::value::{format_duration, parse_duration};

/// Records, lists and argument lists longer than this are written one element per line.
const WIDTH: usize = 100;

/// Formats `source` in the canonical layout. A file with syntax errors is refused: its
/// diagnostics are returned and nothing is printed.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    // One line ending everywhere: the output is canonical, and `\r` cannot be kept in strings.
    let normalized;
    let source = if source.contains('\r') {
        normalized = source.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        source
    };
    let file = FileId(0);
    let (module, diagnostics) = super::parse(source, file);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let found = comments(source);
    if let Some(c) = found.iter().find(|c| c.in_interpolation) {
        return Err(vec![Diagnostic::new(
            Code::SyntaxError,
            file,
            Span::new(c.start as usize, c.end as usize),
            "the formatter cannot keep a comment inside `{{ }}`",
        )
        .label("comment inside an interpolation")
        .help("move the comment out of the string, onto its own line")]);
    }
    let mut printer = Printer::new(Some(source), found);
    printer.module(&module);
    let output = printer.finish();
    // A formatter that changed what a flow means, or lost a comment, would be worse than none:
    // check the result and refuse rather than write it.
    let (reparsed, again) = super::parse(&output, file);
    let same_comments = comment_texts(source) == comment_texts(&output);
    if again.iter().any(Diagnostic::is_error)
        || strip_spans(&reparsed) != strip_spans(&module)
        || !same_comments
    {
        return Err(vec![Diagnostic::new(
            Code::SyntaxError,
            file,
            Span::new(0, 0),
            "the formatter could not keep this file's meaning",
        )
        .label("this file")
        .help(
            "this is a bug in flowc: please report it with this file; the file was left unchanged",
        )]);
    }
    Ok(output)
}

/// Prints a syntax tree as source in the canonical layout (for generated flows; a tree parsed
/// from a file is better printed by [`format`], which keeps its comments).
pub fn print(module: &Module) -> String {
    let mut printer = Printer::new(None, Vec::new());
    printer.module(module);
    printer.finish()
}

fn comment_texts(source: &str) -> Vec<String> {
    let mut texts: Vec<String> = comments(source).into_iter().map(|c| c.text).collect();
    texts.sort();
    texts
}

/// The tree as JSON without positions, to compare two parses of the same meaning.
fn strip_spans(module: &Module) -> Json {
    fn strip(value: &mut Json) {
        match value {
            Json::Object(map) => {
                if map.len() == 2 && map.contains_key("start") && map.contains_key("end") {
                    *value = Json::Null;
                    return;
                }
                for key in ["span", "body_span", "body_offset", "attempts_span"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Json::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(module).unwrap_or(Json::Null);
    strip(&mut value);
    value
}

// ---------------------------------------------------------------------------------------------
// Precedence (the Pratt table of the parser, lowest first)

const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_NOT: u8 = 3;
const PREC_CMP: u8 = 4;
const PREC_DEFAULT: u8 = 5;
const PREC_ADD: u8 = 6;
const PREC_MUL: u8 = 7;
const PREC_NEG: u8 = 8;
const PREC_ATOM: u8 = 9;

fn binary_prec(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => PREC_OR,
        BinaryOp::And => PREC_AND,
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::In => PREC_CMP,
        BinaryOp::Default => PREC_DEFAULT,
        BinaryOp::Add | BinaryOp::Sub => PREC_ADD,
        BinaryOp::Mul | BinaryOp::Div => PREC_MUL,
    }
}

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary(op, ..) => binary_prec(*op),
        ExprKind::Unary(UnaryOp::Not, _) => PREC_NOT,
        ExprKind::Unary(UnaryOp::Neg, _) => PREC_NEG,
        // `-3` is a literal in the tree but reads as `-` applied to `3`.
        ExprKind::Number(n) if n.is_sign_negative() => PREC_NEG,
        ExprKind::Duration(d) if *d < 0 => PREC_NEG,
        _ => PREC_ATOM,
    }
}

/// The least precedence each operand must have to be written without parentheses. `??` groups
/// to the right, every other operator to the left.
fn operand_precs(op: BinaryOp) -> (u8, u8) {
    let p = binary_prec(op);
    if op == BinaryOp::Default {
        (p + 1, p)
    } else {
        (p, p + 1)
    }
}

/// The least precedence the left (`left`) or right operand of `op` must have to go without
/// parentheses. Beyond what the grammar needs, `??` mixed with another operator is always
/// parenthesised: `(a ?? b) == c` and `a ?? (b + 1)` read unambiguously, the bare forms do not.
fn operand_min(op: BinaryOp, operand: &Expr, left: bool) -> u8 {
    if let ExprKind::Binary(inner, ..) = operand.kind {
        if (op == BinaryOp::Default) != (inner == BinaryOp::Default) {
            return PREC_ATOM;
        }
    }
    let (l, r) = operand_precs(op);
    if left {
        l
    } else {
        r
    }
}

/// `not` binds more loosely than comparisons (`not a == b` is `not (a == b)`), which surprises
/// readers: an operator under `not` is always written in parentheses.
fn not_operand_prec(operand: &Expr) -> u8 {
    match operand.kind {
        ExprKind::Binary(..) => PREC_ATOM,
        _ => PREC_NOT,
    }
}

/// Whether `e` is written starting with `{` (so it would read as a block after `fallback`).
fn starts_with_brace(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Record(_) => true,
        ExprKind::Binary(op, l, _) => prec(l) >= operand_min(*op, l, true) && starts_with_brace(l),
        ExprKind::Field(b, _) | ExprKind::Index(b, _) => starts_with_brace(b),
        _ => false,
    }
}

/// Whether the record `e` starts with opens with a `name: value` field.
fn leading_record_has_named_field(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Record(fields) => fields.first().is_some_and(|f| !f.shorthand),
        ExprKind::Binary(_, l, _) | ExprKind::Field(l, _) | ExprKind::Index(l, _) => {
            leading_record_has_named_field(l)
        }
        _ => false,
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Text inside `"..."`: escapes for what a string cannot hold as is. `{` is escaped where it
/// would otherwise open an interpolation (`{{`, or just before one).
fn escape_text(text: &str, before_interpolation: bool, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '{' if chars.peek() == Some(&'{') || (chars.peek().is_none() && before_interpolation) => {
                out.push_str("\\{")
            }
            c => out.push(c),
        }
    }
}

fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    escape_text(text, false, &mut out);
    out.push('"');
    out
}

/// A field or record key: bare when it is a name, quoted otherwise (`."Full Name"`).
fn key(name: &str) -> String {
    if is_name(name) {
        name.to_string()
    } else {
        quoted(name)
    }
}

fn number(n: f64) -> String {
    format!("{n}")
}

fn path(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

fn names(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

/// A raw string body for `text` whose lines sit at `level`, closing quotes included, if the
/// parser's dedent gives `text` back exactly.
fn raw_lines(text: &str, level: usize) -> Option<(Vec<String>, String)> {
    let content_pad = pad(level + 1);
    let (body, closed) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let mut lines: Vec<String> = body
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{content_pad}{l}")
            }
        })
        .collect();
    let last = if closed {
        format!("{}\"\"\"", pad(level))
    } else {
        let last = lines.pop().unwrap_or_default();
        if last.ends_with('"') {
            return None;
        }
        format!("{last}\"\"\"")
    };
    let mut inner = String::from("\n");
    inner.push_str(&lines.join("\n"));
    if closed {
        if !lines.is_empty() {
            inner.push('\n');
        }
        inner.push_str(&pad(level));
    } else {
        if !lines.is_empty() {
            inner.push('\n');
        }
        inner.push_str(&last[..last.len() - 3]);
    }
    if inner.contains("\"\"\"") || dedent(&inner) != text {
        return None;
    }
    Some((lines, last))
}

/// `"""text"""` on one line, if that reads back as `text`.
fn inline_raw(text: &str) -> Option<String> {
    let fits = !text.contains('\n')
        && !text.contains("\"\"\"")
        && !text.ends_with('"')
        && !text.starts_with('"')
        && dedent(text) == text;
    fits.then(|| format!("\"\"\"{text}\"\"\""))
}

/// Whether a template body can be written as `"..."` (one line; `\"` is its only escape).
fn template_string(body: &str) -> Option<String> {
    if body.contains(['\n', '\r']) {
        return None;
    }
    let escaped = body.replace('"', "\\\"");
    // Read it back as the grammar does: `\` takes the next character whatever it is.
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return None;
        }
    }
    (escaped.replace("\\\"", "\"") == body).then(|| format!("\"{escaped}\""))
}

// ---------------------------------------------------------------------------------------------
// The printer

struct Printer<'s> {
    source: Option<&'s str>,
    comments: Vec<Comment>,
    used: Vec<bool>,
    /// Comment end → start, to find where an element really ends (pest spans can run on over
    /// the whitespace and comments that follow).
    comment_at_end: HashMap<u32, u32>,
    /// Only comments starting in this range may be printed now (see [`Printer::windows`]).
    window: (u32, u32),
    out: String,
    line: String,
    indent: usize,
    /// The last line opened a block: no blank line may follow it.
    block_start: bool,
    last_blank: bool,
}

/// A part of a flow, in the order the layout prints them.
enum FlowPart<'a> {
    Trigger(&'a Trigger),
    Input(&'a InputDecl),
    Stmt(&'a Stmt),
    Output(&'a Output),
    OnError(&'a Block),
}

/// A line of an entity.
enum EntityPart<'a> {
    Databases(&'a [Ident]),
    Grant(&'a Grant),
    Setting(&'a Setting),
}

impl<'s> Printer<'s> {
    fn new(source: Option<&'s str>, comments: Vec<Comment>) -> Printer<'s> {
        let comment_at_end = comments.iter().map(|c| (c.end, c.start)).collect();
        Printer {
            source,
            used: vec![false; comments.len()],
            comments,
            comment_at_end,
            window: (0, u32::MAX),
            out: String::new(),
            line: String::new(),
            indent: 0,
            block_start: true,
            last_blank: false,
        }
    }

    fn finish(mut self) -> String {
        self.window = (0, u32::MAX);
        self.leading(u32::MAX);
        if !self.line.is_empty() {
            self.finish_line();
        }
        self.out
    }

    // -----------------------------------------------------------------------------------------
    // Lines

    fn w(&mut self, text: &str) {
        if self.line.is_empty() {
            self.line.push_str(&pad(self.indent));
        }
        self.line.push_str(text);
    }

    fn col(&self) -> usize {
        if self.line.is_empty() {
            self.indent * 2
        } else {
            self.line.chars().count()
        }
    }

    fn fits(&self, text: &str) -> bool {
        self.col() + text.chars().count() <= WIDTH
    }

    fn finish_line(&mut self) {
        self.out.push_str(self.line.trim_end());
        self.out.push('\n');
        self.line.clear();
        self.block_start = false;
        self.last_blank = false;
    }

    /// Ends the line of an element that ends at `pos`, with the comments written inside it or
    /// after it on the same source line.
    fn newline(&mut self, pos: u32) {
        let limit = self.trail_end(pos);
        let mut after_line_comment = false;
        for i in 0..self.comments.len() {
            if self.used[i] || !self.in_window(i) || self.comments[i].start >= limit {
                continue;
            }
            if after_line_comment {
                // Nothing may follow a `//` comment on its line: the rest wait for the next
                // element, above which they go on lines of their own at its indent.
                break;
            }
            self.used[i] = true;
            let text = self.comments[i].text.clone();
            if self.line.trim().is_empty() {
                self.w(&text);
            } else {
                self.line.push(' ');
                self.line.push_str(&text);
            }
            after_line_comment = self.comments[i].is_line();
        }
        self.finish_line();
    }

    /// Ends the line that opens a block (after `{`, `(` or `[` at `pos`).
    fn open(&mut self, pos: u32) {
        self.newline(pos);
        self.block_start = true;
    }

    fn blank(&mut self) {
        if !self.out.is_empty() && !self.last_blank && !self.block_start {
            self.out.push('\n');
            self.last_blank = true;
        }
    }

    /// Keeps one blank line before `pos` if the source has any.
    fn keep_blank(&mut self, pos: u32) {
        if self.blank_before(pos) {
            self.blank();
        }
    }

    fn in_window(&self, i: usize) -> bool {
        let start = self.comments[i].start;
        start >= self.window.0 && start < self.window.1
    }

    /// The comments before `pos`, each on its own line.
    fn leading(&mut self, pos: u32) {
        for i in 0..self.comments.len() {
            if self.used[i] || !self.in_window(i) || self.comments[i].start >= pos {
                continue;
            }
            self.used[i] = true;
            let start = self.comments[i].start;
            if !self.line.trim().is_empty() {
                self.finish_line();
            }
            self.keep_blank(start);
            let text = self.comments[i].text.clone();
            self.w(&text);
            self.finish_line();
        }
    }

    /// Starts the line of an element at `pos`: its leading comments, and a blank line above if
    /// the source has one.
    fn element(&mut self, pos: u32) {
        self.leading(pos);
        self.keep_blank(pos);
    }

    /// Flushes what is left inside a construct before its closing bracket at `pos`.
    fn close(&mut self, pos: u32) {
        self.leading(pos);
    }

    // -----------------------------------------------------------------------------------------
    // Positions in the source (all neutral when printing a tree without source)

    /// Where an element really ends: its span without the whitespace and comments it ran over.
    fn end(&self, span: Span) -> u32 {
        let Some(src) = self.source else {
            return span.end;
        };
        let bytes = src.as_bytes();
        let mut pos = (span.end as usize).min(bytes.len());
        loop {
            while pos > span.start as usize && bytes[pos - 1].is_ascii_whitespace() {
                pos -= 1;
            }
            match self.comment_at_end.get(&(pos as u32)) {
                Some(&start) if start >= span.start && (start as usize) < pos => pos = start as usize,
                _ => break,
            }
        }
        pos as u32
    }

    /// The end of the comments that follow `pos` on its line (past `,` and `;`).
    fn trail_end(&self, pos: u32) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        let bytes = src.as_bytes();
        let mut at = pos as usize;
        let mut reached = pos;
        loop {
            while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b',' | b';') {
                at += 1;
            }
            match self.comments.binary_search_by_key(&(at as u32), |c| c.start) {
                Ok(i) => {
                    reached = self.comments[i].end;
                    if self.comments[i].is_line() {
                        return reached;
                    }
                    at = reached as usize;
                }
                Err(_) => return reached,
            }
        }
    }

    /// Whether the source line before the one `pos` starts on is blank.
    fn blank_before(&self, pos: u32) -> bool {
        let Some(src) = self.source else {
            return false;
        };
        let bytes = src.as_bytes();
        let mut at = (pos as usize).min(bytes.len());
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
            at -= 1;
        }
        if at == 0 || bytes[at - 1] != b'\n' {
            return false;
        }
        at -= 1;
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
            at -= 1;
        }
        at > 0 && bytes[at - 1] == b'\n'
    }

    /// Just past the first `ch` at or after `pos` outside comments (an opening bracket).
    fn after(&self, pos: u32, ch: u8) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        let bytes = src.as_bytes();
        let mut at = pos as usize;
        while at < bytes.len() {
            if let Ok(i) = self.comments.binary_search_by_key(&(at as u32), |c| c.start) {
                at = self.comments[i].end as usize;
                continue;
            }
            if bytes[at] == ch {
                return at as u32 + 1;
            }
            at += 1;
        }
        pos
    }

    /// The start of the last `word` before `pos` (a keyword the tree has no span for).
    fn keyword_before(&self, pos: u32, word: &str) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        if src.get(pos as usize..).is_some_and(|rest| rest.starts_with(word)) {
            return pos;
        }
        src.get(..pos as usize)
            .and_then(|before| before.rfind(word))
            .map_or(pos, |i| i as u32)
    }

    fn has_comment_in(&self, span: Span) -> bool {
        let from = self.comments.partition_point(|c| c.start < span.start);
        self.comments.get(from).is_some_and(|c| c.start < span.end)
    }

    /// A duration as the source writes it (`24h` stays `24h`), or in canonical units.
    fn duration(&self, ms: i64, span: Span) -> String {
        self.source
            .and_then(|src| src.get(span.range()))
            .filter(|text| !text.contains(char::is_whitespace) && parse_duration(text) == Some(ms))
            .map_or_else(|| format_duration(ms), str::to_string)
    }

    /// Whether the source writes the string at `span` with triple quotes.
    fn written_raw(&self, span: Span) -> Option<bool> {
        self.source.map(|src| {
            src.get(span.start as usize..)
                .is_some_and(|s| s.starts_with("\"\"\""))
        })
    }

    /// For parts printed out of source order: each part may print only the comments of its own
    /// stretch of the source, from the end of the part before it (in the source) to its end.
    fn windows(&self, lo: u32, parts: &[(u32, u32)]) -> Vec<(u32, u32)> {
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| parts[i].0);
        let mut windows = vec![(0, 0); parts.len()];
        let mut prev = lo;
        for i in order {
            let hi = self.trail_end(parts[i].1).max(prev);
            windows[i] = (prev, hi);
            prev = hi;
        }
        windows
    }

    // -----------------------------------------------------------------------------------------
    // Items

    fn module(&mut self, module: &Module) {
        let mut previous: Option<&Item> = None;
        for item in &module.items {
            match (previous, item) {
                (Some(Item::Use(_)), Item::Use(_)) => self.keep_blank(item.span().start),
                (Some(_), _) => self.blank(),
                (None, _) => {}
            }
            self.element(item.span().start);
            match item {
                Item::Use(u) => {
                    self.w(&format!("use {}", path(&u.path)));
                    if let Some(alias) = &u.alias {
                        self.w(&format!(" as {}", alias.name));
                    }
                }
                Item::Entity(e) => self.entity(e),
                Item::Flow(f) => self.flow(f),
                Item::Template(t) => self.template(t),
                Item::Test(t) => self.test(t),
            }
            let end = self.end(item.span());
            self.newline(end);
            previous = Some(item);
        }
    }

    fn docs(&mut self, docs: &[String], name: &Ident) {
        self.docs_before(docs, name.span.start);
    }

    /// Doc lines, then the comments that stand between them and the construct at `pos`.
    fn docs_before(&mut self, docs: &[String], pos: u32) {
        for doc in docs {
            if doc.is_empty() {
                self.w("///");
            } else {
                self.w(&format!("/// {doc}"));
            }
            self.finish_line();
        }
        if !docs.is_empty() {
            self.leading(pos);
        }
    }

    /// The body of a `{ ... }` item: `{}` when empty, else one part per line.
    fn open_body(&mut self, header_end: u32, span: Span, empty: bool) -> bool {
        let brace = self.after(header_end, b'{');
        if empty && !self.has_comment_in(Span::new(brace as usize, span.end as usize)) {
            self.w(" {}");
            return false;
        }
        self.w(" {");
        self.open(brace);
        self.indent += 1;
        true
    }

    fn close_body(&mut self, span: Span) {
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
        self.w("}");
    }

    fn entity(&mut self, e: &Entity) {
        self.docs(&e.docs, &e.name);
        self.w(&format!("entity {}", e.name.name));
        let mut header_end = e.name.span.end;
        if let Some(title) = &e.title {
            self.w(&format!(" {}", quoted(&title.value)));
            header_end = title.span.end;
        }
        let mut parts = Vec::new();
        if let (Some(first), Some(last)) = (e.databases.first(), e.databases.last()) {
            let start = self.keyword_before(first.span.start, "databases");
            parts.push((EntityPart::Databases(&e.databases), start, last.span.end));
        }
        for g in &e.grants {
            parts.push((EntityPart::Grant(g), g.span.start, self.end(g.span)));
        }
        for s in &e.settings {
            parts.push((EntityPart::Setting(s), s.span.start, self.end(s.span)));
        }
        if !self.open_body(header_end, e.span, parts.is_empty()) {
            return;
        }
        let outer = self.window;
        let bounds: Vec<(u32, u32)> = parts.iter().map(|p| (p.1, p.2)).collect();
        let windows = self.windows(self.after(header_end, b'{'), &bounds);
        for ((part, start, end), window) in parts.iter().zip(windows) {
            self.window = window;
            self.element(*start);
            match part {
                EntityPart::Databases(dbs) => self.w(&format!("databases {}", names(dbs))),
                EntityPart::Grant(g) => {
                    let access = match g.access {
                        GrantAccess::Read => "read",
                        GrantAccess::Write => "write",
                        GrantAccess::ReadWrite => "read_write",
                    };
                    self.w(&format!(
                        "grant {access} {} to {}",
                        names(&g.databases),
                        names(&g.to)
                    ));
                }
                EntityPart::Setting(s) => {
                    self.docs_before(&s.docs, self.keyword_before(s.name.span.start, "setting"));
                    self.w(&format!("setting {} = ", s.name.name));
                    self.expr(&s.value, 0);
                }
            }
            self.newline(*end);
            self.leading(window.1);
        }
        self.window = outer;
        self.close_body(e.span);
    }

    fn template(&mut self, t: &Template) {
        self.docs(&t.docs, &t.name);
        self.w(&format!("template {}", t.name.name));
        if !self.open_body(t.name.span.end, t.span, t.parts.is_empty()) {
            return;
        }
        for part in &t.parts {
            self.element(part.span.start);
            self.w(part.kind.keyword());
            self.w(" ");
            let raw = self.written_raw(part.body_span);
            let body = &part.body;
            // Keep the author's quotes; without a source, multi-line bodies are raw strings.
            let raw_wanted = raw.unwrap_or_else(|| body.contains('\n'));
            let as_string = if raw_wanted { None } else { template_string(body) };
            match as_string {
                Some(s) => self.w(&s),
                None => self.raw_text(body, true),
            }
            let end = self.end(part.span);
            self.newline(end);
        }
        self.close_body(t.span);
    }

    fn flow(&mut self, f: &Flow) {
        self.docs(&f.docs, &f.name);
        self.w(&format!("flow {} for {}", f.name.name, f.entity.name));
        let mut parts: Vec<(FlowPart, u32, u32)> = Vec::new();
        for t in &f.triggers {
            parts.push((FlowPart::Trigger(t), t.span.start, self.end(t.span)));
        }
        if let Some(input) = &f.input {
            parts.push((FlowPart::Input(input), input.span.start, self.end(input.span)));
        }
        for s in &f.body {
            parts.push((FlowPart::Stmt(s), s.span().start, self.end(s.span())));
        }
        if let Some(output) = &f.output {
            parts.push((FlowPart::Output(output), output.span.start, self.end(output.span)));
        }
        if let Some(block) = &f.on_error {
            let error = self.keyword_before(block.span.start, "error");
            let start = self.keyword_before(error, "on");
            parts.push((FlowPart::OnError(block), start, self.end(block.span)));
        }
        if !self.open_body(f.entity.span.end, f.span, parts.is_empty()) {
            return;
        }
        let outer = self.window;
        let bounds: Vec<(u32, u32)> = parts.iter().map(|p| (p.1, p.2)).collect();
        let windows = self.windows(self.after(f.entity.span.end, b'{'), &bounds);
        for ((part, start, end), window) in parts.iter().zip(windows) {
            self.window = window;
            self.element(*start);
            match part {
                FlowPart::Trigger(t) => self.trigger(t),
                FlowPart::Input(input) => {
                    self.w("input ");
                    self.fields(&input.fields, input.span);
                }
                FlowPart::Stmt(s) => self.stmt(s),
                FlowPart::Output(o) => {
                    self.w("output ");
                    self.expr(&o.value, 0);
                }
                FlowPart::OnError(block) => {
                    self.w("on error ");
                    self.block(block);
                }
            }
            self.newline(*end);
            self.leading(window.1);
        }
        self.window = outer;
        self.close_body(f.span);
    }

    fn trigger(&mut self, t: &Trigger) {
        match &t.kind {
            TriggerKind::Webhook {
                path,
                verified_by,
                unverified,
            } => {
                self.w(&format!("on webhook {}", quoted(&path.value)));
                if let Some(v) = verified_by {
                    self.w(&format!(" verified by {}", v.name));
                } else if *unverified {
                    self.w(" unverified");
                }
            }
            TriggerKind::Notion {
                database,
                property,
                to,
            } => {
                self.w(&format!("on notion {}", database.name));
                match property {
                    None => self.w(" created"),
                    Some(p) => {
                        self.w(&format!(" changed {}", quoted(&p.value)));
                        if let Some(to) = to {
                            self.w(" to ");
                            self.expr(to, 0);
                        }
                    }
                }
            }
            TriggerKind::Schedule { cron, timezone } => {
                self.w(&format!("on schedule {}", quoted(&cron.value)));
                if let Some(tz) = timezone {
                    self.w(&format!(" in {}", quoted(&tz.value)));
                }
            }
            TriggerKind::Manual => self.w("on manual"),
            TriggerKind::Event { name } => self.w(&format!("on event {}", quoted(&name.value))),
        }
    }

    /// `{ name: type, ... }` of an input or a record type; `span` ends at its `}` (or `?`).
    fn fields(&mut self, fields: &[FieldDecl], span: Span) {
        let close = self
            .source
            .and_then(|src| src.get(span.start as usize..self.end(span) as usize))
            .and_then(|s| s.rfind('}'))
            .map_or(span.end.saturating_sub(1), |i| span.start + i as u32);
        let brace = self.after(span.start, b'{');
        let inside = Span::new(brace as usize, close as usize);
        let flat = self.flat_fields(fields);
        if let Some(flat) = flat.filter(|f| !self.has_comment_in(inside) && self.fits(f)) {
            self.w(&flat);
            return;
        }
        self.w("{");
        self.open(brace);
        self.indent += 1;
        for f in fields {
            self.element(f.span.start);
            self.docs(&f.docs, &f.name);
            self.field(f);
            self.w(",");
            let end = self.end(f.span);
            self.newline(end);
        }
        self.close(close);
        self.indent -= 1;
        self.w("}");
    }

    fn flat_fields(&self, fields: &[FieldDecl]) -> Option<String> {
        if fields.is_empty() {
            return Some("{}".into());
        }
        let mut parts = Vec::new();
        for f in fields {
            if !f.docs.is_empty() {
                return None;
            }
            let mut s = format!("{}: {}", key(&f.name.name), self.flat_type(&f.ty)?);
            if let Some(d) = &f.default {
                s.push_str(" = ");
                s.push_str(&self.flat(d, 0)?);
            }
            parts.push(s);
        }
        Some(format!("{{ {} }}", parts.join(", ")))
    }

    fn flat_type(&self, t: &TypeExpr) -> Option<String> {
        let mut s = match &t.kind {
            TypeExprKind::Named(n) => n.name.clone(),
            TypeExprKind::List(inner) => format!("[{}]", self.flat_type(inner)?),
            TypeExprKind::Record(fields) => self.flat_fields(fields)?,
        };
        if t.optional {
            s.push('?');
        }
        Some(s)
    }

    fn field(&mut self, f: &FieldDecl) {
        self.w(&format!("{}: ", key(&f.name.name)));
        self.ty(&f.ty);
        if let Some(d) = &f.default {
            self.w(" = ");
            self.expr(d, 0);
        }
    }

    fn ty(&mut self, t: &TypeExpr) {
        match &t.kind {
            TypeExprKind::Named(n) => self.w(&n.name),
            TypeExprKind::List(inner) => {
                self.w("[");
                self.ty(inner);
                self.w("]");
            }
            TypeExprKind::Record(fields) => self.fields(fields, t.span),
        }
        if t.optional {
            self.w("?");
        }
    }

    fn test(&mut self, t: &Test) {
        let name = Ident {
            name: String::new(),
            span: t.name.span,
        };
        self.docs(&t.docs, &name);
        self.w(&format!("test {} for {}", quoted(&t.name.value), t.flow.name));
        if !self.open_body(t.flow.span.end, t.span, t.items.is_empty()) {
            return;
        }
        for item in &t.items {
            let span = match item {
                TestItem::Input(e) => e.span,
                TestItem::Start(s) => s.span,
                TestItem::Stub(s) => s.span,
                TestItem::Event(e) => e.span,
                TestItem::Expect(e) => e.span,
            };
            let start = match item {
                TestItem::Input(_) => self.keyword_before(span.start, "input"),
                TestItem::Start(_) => self.keyword_before(span.start, "start"),
                _ => span.start,
            };
            self.element(start);
            match item {
                TestItem::Input(e) => {
                    self.w("input ");
                    self.expr(e, 0);
                }
                TestItem::Start(s) => self.w(&format!("start at {}", quoted(&s.value))),
                TestItem::Stub(s) => self.stub(s),
                TestItem::Event(e) => {
                    self.w(&format!("send event {}", quoted(&e.name.value)));
                    if let Some(p) = &e.payload {
                        self.w(" ");
                        self.expr(p, 0);
                    }
                    if let Some(after) = &e.after {
                        self.w(&format!(" after {}", self.duration(after.ms, after.span)));
                    }
                }
                TestItem::Expect(e) => {
                    self.w("expect ");
                    match &e.kind {
                        ExpectKind::That(x) => self.expr(x, 0),
                        ExpectKind::Step(step, state) => {
                            let state = match state {
                                StepState::Ran => "ran",
                                StepState::Skipped => "skipped",
                                StepState::Failed => "failed",
                            };
                            self.w(&format!("step {} {state}", step.name));
                        }
                        ExpectKind::Call { action, times, with } => {
                            self.w(&format!("call {}", path(action)));
                            if let Some(n) = times {
                                self.w(&format!(" {n} times"));
                            }
                            if let Some(with) = with {
                                self.w(" with ");
                                self.expr(with, 0);
                            }
                        }
                        ExpectKind::NoCall(action) => self.w(&format!("no call {}", path(action))),
                    }
                }
            }
            let end = self.end(span);
            self.newline(end);
        }
        self.close_body(t.span);
    }

    fn stub(&mut self, s: &Stub) {
        match &s.target {
            StubTarget::Step(step) => self.w(&format!("stub step {}", step.name)),
            StubTarget::Action(action) => self.w(&format!("stub {}", path(action))),
        }
        for (i, outcome) in s.outcomes.iter().enumerate() {
            self.w(if i == 0 { " " } else { " then " });
            match outcome {
                StubOutcome::Returns(e) => {
                    self.w("returns ");
                    self.expr(e, 0);
                }
                StubOutcome::Fails {
                    class,
                    message,
                    times,
                    ..
                } => {
                    self.w(&format!("fails {}", class.name));
                    if let Some(m) = message {
                        self.w(&format!(" {}", quoted(&m.value)));
                    }
                    if let Some(n) = times {
                        self.w(&format!(" {n} times"));
                    }
                }
                StubOutcome::Hangs(_) => self.w("hangs"),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Statements

    /// `{ statements }`, `{}` when empty; the closing brace ends the current line's text.
    fn block(&mut self, b: &Block) {
        let close = self.end(b.span).saturating_sub(1);
        if b.stmts.is_empty() && !self.has_comment_in(Span::new(b.span.start as usize + 1, close as usize)) {
            self.w("{}");
            return;
        }
        self.w("{");
        self.open(b.span.start + 1);
        self.indent += 1;
        for s in &b.stmts {
            self.element(s.span().start);
            self.stmt(s);
            let end = self.end(s.span());
            self.newline(end);
        }
        self.close(close);
        self.indent -= 1;
        self.w("}");
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Step(step) => self.step(step),
            Stmt::Let(l) => {
                self.docs(&l.docs, &l.name);
                self.w(&format!("let {} = ", l.name.name));
                self.expr(&l.value, 0);
            }
            Stmt::If(i) => {
                if let Some((cond, _)) = i.branches.first() {
                    self.docs_before(&i.docs, self.keyword_before(cond.span.start, "if"));
                }
                for (n, (cond, block)) in i.branches.iter().enumerate() {
                    self.w(if n == 0 { "if " } else { " else if " });
                    self.expr(cond, 0);
                    self.w(" ");
                    self.block(block);
                }
                if let Some(otherwise) = &i.otherwise {
                    self.w(" else ");
                    self.block(otherwise);
                }
            }
            Stmt::Match(m) => {
                self.docs_before(&m.docs, self.keyword_before(m.value.span.start, "match"));
                self.w("match ");
                self.expr(&m.value, 0);
                self.w(" {");
                let brace = self.after(self.end(m.value.span), b'{');
                self.open(brace);
                self.indent += 1;
                for arm in &m.arms {
                    self.element(arm.span.start);
                    let pattern_start = match &arm.pattern {
                        Pattern::Wildcard(span) => span.start,
                        Pattern::Literals(literals) => {
                            literals.first().map_or(arm.span.start, |l| l.span.start)
                        }
                    };
                    self.docs_before(&arm.docs, pattern_start);
                    self.w(&self.pattern(&arm.pattern));
                    self.w(" => ");
                    self.block(&arm.body);
                    let end = self.end(arm.span);
                    self.newline(end);
                }
                self.close(self.end(m.span).saturating_sub(1));
                self.indent -= 1;
                self.w("}");
            }
            Stmt::Wait(w) => {
                let value = match &w.kind {
                    WaitKind::For(e) | WaitKind::Until(e) => e.span.start,
                };
                self.docs_before(&w.docs, self.keyword_before(value, "wait"));
                self.wait(w);
            }
            Stmt::Emit(e) => {
                self.docs_before(&e.docs, self.keyword_before(e.event.span.start, "emit"));
                self.w(&format!("emit {}", quoted(&e.event.value)));
                if let Some(p) = &e.payload {
                    self.w(" ");
                    self.expr(p, 0);
                }
            }
            Stmt::Fail(f) => {
                self.docs_before(&f.docs, self.keyword_before(f.message.span.start, "fail"));
                self.w("fail ");
                self.expr(&f.message, 0);
            }
            Stmt::Yield(y) => {
                self.docs_before(&y.docs, self.keyword_before(y.value.span.start, "yield"));
                self.w("yield ");
                self.expr(&y.value, 0);
            }
        }
    }

    fn wait(&mut self, w: &Wait) {
        match &w.kind {
            WaitKind::For(e) => {
                self.w("wait ");
                self.expr(e, 0);
            }
            WaitKind::Until(e) => {
                self.w("wait until ");
                self.expr(e, 0);
            }
        }
    }

    fn step(&mut self, step: &Step) {
        self.docs(&step.docs, &step.name);
        self.w(&format!("step {} = ", step.name.name));
        let body_span = match &step.body {
            StepBody::Call(c) => {
                self.call(c);
                c.span
            }
            StepBody::WaitEvent(w) => {
                self.w(&format!("wait for event {}", quoted(&w.event.value)));
                if let Some(filter) = &w.filter {
                    self.w(" where ");
                    self.expr(filter, 0);
                }
                w.span
            }
            StepBody::FanOut(f) => {
                self.w(&format!("for {} in ", f.var.name));
                self.expr(&f.over, 0);
                if let Some((n, _)) = f.concurrency {
                    self.w(&format!(" concurrency {n}"));
                }
                self.w(" ");
                self.block(&f.body);
                f.span
            }
        };
        let mut previous_end = self.end(body_span);
        for policy in &step.policies {
            let (span, keyword) = match policy {
                Policy::Retry(r) => (r.span, "retry"),
                Policy::Timeout(d) => (d.span, "timeout"),
                Policy::TimeoutExpr(e) => (e.span, "timeout"),
                Policy::Fallback(Fallback::Value(e)) => (e.span, "fallback"),
                Policy::Fallback(Fallback::Block(b)) => (b.span, "fallback"),
                Policy::After(names) => match (names.first(), names.last()) {
                    (Some(a), Some(b)) => (a.span.to(b.span), "after"),
                    _ => (Span::new(previous_end as usize, previous_end as usize), "after"),
                },
            };
            // The tree's span starts at the value; the line starts at the keyword.
            let start = self.keyword_before(span.start, keyword).max(previous_end);
            self.newline(previous_end);
            self.indent += 1;
            self.element(start);
            self.policy(policy);
            self.indent -= 1;
            previous_end = self.end(span);
        }
    }

    fn policy(&mut self, policy: &Policy) {
        match policy {
            Policy::Retry(r) => {
                self.w(&format!("retry {} times", r.attempts));
                if let Some(b) = &r.backoff {
                    let (min, max) = (
                        self.duration(b.min.ms, b.min.span),
                        self.duration(b.max.ms, b.max.span),
                    );
                    self.w(&format!(" backoff {min}..{max}"));
                    if let Some((factor, _)) = b.factor {
                        self.w(&format!(" factor {}", number(factor)));
                    }
                }
                match r.jitter {
                    Some(true) => self.w(" jitter"),
                    Some(false) => self.w(" no jitter"),
                    None => {}
                }
                if !r.on.is_empty() {
                    self.w(&format!(" on {}", names(&r.on)));
                }
            }
            Policy::Timeout(d) => {
                let d = self.duration(d.ms, d.span);
                self.w(&format!("timeout {d}"));
            }
            Policy::TimeoutExpr(e) => {
                self.w("timeout ");
                self.expr(e, 0);
            }
            Policy::Fallback(Fallback::Block(b)) => {
                self.w("fallback ");
                self.block(b);
            }
            Policy::Fallback(Fallback::Value(e)) => {
                self.w("fallback ");
                // A value with a leading `{` reads as a record only when the braces open with
                // `name:`; anything else (`{}`, `{ client }`) would read as a block.
                if starts_with_brace(e) && !leading_record_has_named_field(e) {
                    self.w("(");
                    self.expr(e, 0);
                    self.w(")");
                } else {
                    self.expr(e, 0);
                }
            }
            Policy::After(names_) => self.w(&format!("after {}", names(names_))),
        }
    }

    /// `callee(name: value, ...)` on one line if it fits, else one argument per line.
    fn call(&mut self, c: &Call) {
        let callee = path(&c.callee);
        let flat = self.flat_call(c);
        if let Some(flat) = flat.filter(|f| self.fits(f)) {
            self.w(&flat);
            return;
        }
        if self.hug_last_record(c) {
            return;
        }
        self.w(&callee);
        self.w("(");
        let paren = self.after(c.callee_span().end, b'(');
        self.open(paren);
        self.indent += 1;
        for arg in &c.args {
            self.element(arg.span.start);
            self.w(&arg.name.name);
            if !arg.shorthand {
                self.w(": ");
                self.expr(&arg.value, 0);
            }
            self.w(",");
            let end = self.end(arg.span);
            self.newline(end);
        }
        self.close(self.end(c.span).saturating_sub(1));
        self.indent -= 1;
        self.w(")");
    }

    /// `callee(a: 1, last: {` + one field per line + `})` when the call ends with a record too
    /// long for a line of its own and everything before it fits: the usual shape of
    /// `create_page(db: ..., properties: { ... })`, which reads better than one argument per line.
    fn hug_last_record(&mut self, c: &Call) -> bool {
        let Some((last, rest)) = c.args.split_last() else {
            return false;
        };
        let ExprKind::Record(fields) = &last.value.kind else {
            return false;
        };
        if last.shorthand || fields.is_empty() {
            return false;
        }
        // A record that fits on an argument line of its own reads better there.
        let own_line = (self.indent + 1) * 2 + last.name.name.len() + 3;
        if let Some(flat) = self.flat(&last.value, 0) {
            if own_line + flat.chars().count() <= WIDTH {
                return false;
            }
        }
        // With comments the call is written one argument per line, where each has a place
        // that stays the same when formatted again.
        // Comments still waiting to be written (from before the call) would land inside it too.
        let record = last.value.span;
        let pending = (0..self.comments.len())
            .any(|i| !self.used[i] && self.in_window(i) && self.comments[i].start < c.span.end);
        if pending || self.has_comment_in(c.span) {
            return false;
        }
        let mut head = format!("{}(", path(&c.callee));
        for arg in rest {
            if arg.shorthand {
                head.push_str(&arg.name.name);
            } else {
                match self.flat(&arg.value, 0) {
                    Some(value) => head.push_str(&format!("{}: {value}", arg.name.name)),
                    None => return false,
                }
            }
            head.push_str(", ");
        }
        head.push_str(&format!("{}: ", last.name.name));
        if !self.fits(&format!("{head}{{")) {
            return false;
        }
        self.w(&head);
        self.record_lines(fields, record);
        self.w(")");
        true
    }

    fn flat_call(&self, c: &Call) -> Option<String> {
        if self.has_comment_in(c.span) {
            return None;
        }
        let mut args = Vec::new();
        for arg in &c.args {
            if arg.shorthand {
                args.push(arg.name.name.clone());
            } else {
                args.push(format!("{}: {}", arg.name.name, self.flat(&arg.value, 0)?));
            }
        }
        Some(format!("{}({})", path(&c.callee), args.join(", ")))
    }

    fn pattern(&self, p: &Pattern) -> String {
        match p {
            Pattern::Wildcard(_) => "_".into(),
            Pattern::Literals(lits) => lits
                .iter()
                .map(|l| {
                    let mut s = String::new();
                    self.flat_into(l, PREC_ATOM, true, &mut s);
                    s
                })
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Expressions

    /// `e` on one line, if it can be (no comment inside, no multi-line raw string).
    fn flat(&self, e: &Expr, min: u8) -> Option<String> {
        if self.has_comment_in(e.span) {
            return None;
        }
        let mut out = String::new();
        self.flat_into(e, min, false, &mut out).then_some(out)
    }

    /// Writes `e` on one line; false if it holds a multi-line raw string (unless `force`, which
    /// writes such strings with `\n` escapes).
    fn flat_into(&self, e: &Expr, min: u8, force: bool, out: &mut String) -> bool {
        let paren = prec(e) < min;
        if paren {
            out.push('(');
        }
        let ok = match &e.kind {
            ExprKind::None => {
                out.push_str("none");
                true
            }
            ExprKind::Bool(b) => {
                out.push_str(if *b { "true" } else { "false" });
                true
            }
            ExprKind::Number(n) => {
                out.push_str(&number(*n));
                true
            }
            ExprKind::Duration(d) => {
                out.push_str(&self.duration(*d, e.span));
                true
            }
            ExprKind::Str(parts) => match self.string_form(parts, e.span, force) {
                StringForm::Line(s) => {
                    out.push_str(&s);
                    true
                }
                StringForm::Raw(_) => false,
            },
            ExprKind::Name(n) => {
                out.push_str(n);
                true
            }
            ExprKind::Field(base, field) => {
                let ok = self.flat_into(base, PREC_ATOM, force, out);
                out.push('.');
                out.push_str(&key(&field.name));
                ok
            }
            ExprKind::Index(base, index) => {
                let ok = self.flat_into(base, PREC_ATOM, force, out);
                out.push('[');
                let ok2 = self.flat_into(index, 0, force, out);
                out.push(']');
                ok && ok2
            }
            ExprKind::Call(f, args) => {
                out.push_str(&f.name);
                out.push('(');
                let ok = self.flat_list(args, force, out);
                out.push(')');
                ok
            }
            ExprKind::List(items) => {
                out.push('[');
                let ok = self.flat_list(items, force, out);
                out.push(']');
                ok
            }
            ExprKind::Record(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    true
                } else {
                    out.push_str("{ ");
                    let mut ok = true;
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(&key(&f.name.name));
                        if !f.shorthand {
                            out.push_str(": ");
                            ok &= self.flat_into(&f.value, 0, force, out);
                        }
                    }
                    out.push_str(" }");
                    ok
                }
            }
            ExprKind::Unary(op, operand) => {
                let operand_min = match op {
                    UnaryOp::Not => {
                        out.push_str("not ");
                        not_operand_prec(operand)
                    }
                    UnaryOp::Neg => {
                        out.push('-');
                        PREC_NEG
                    }
                };
                self.flat_into(operand, operand_min, force, out)
            }
            ExprKind::Binary(op, l, r) => {
                let (lmin, rmin) = (operand_min(*op, l, true), operand_min(*op, r, false));
                let ok = self.flat_into(l, lmin, force, out);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                ok && self.flat_into(r, rmin, force, out)
            }
            ExprKind::If(cond, then, otherwise) => {
                out.push_str("if ");
                let mut ok = self.flat_into(cond, 0, force, out);
                out.push_str(" { ");
                ok &= self.flat_into(then, 0, force, out);
                out.push_str(" } else ");
                if let ExprKind::If(..) = otherwise.kind {
                    ok &= self.flat_into(otherwise, 0, force, out);
                } else {
                    out.push_str("{ ");
                    ok &= self.flat_into(otherwise, 0, force, out);
                    out.push_str(" }");
                }
                ok
            }
            ExprKind::Match(value, arms) => {
                out.push_str("match ");
                let mut ok = self.flat_into(value, 0, force, out);
                out.push_str(" {");
                for (i, (pattern, value)) in arms.iter().enumerate() {
                    out.push_str(if i == 0 { " " } else { ", " });
                    out.push_str(&self.pattern(pattern));
                    out.push_str(" => ");
                    ok &= self.flat_into(value, 0, force, out);
                }
                out.push_str(if arms.is_empty() { "}" } else { " }" });
                ok
            }
        };
        if paren {
            out.push(')');
        }
        ok
    }

    fn flat_list(&self, items: &[Expr], force: bool, out: &mut String) -> bool {
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            ok &= self.flat_into(item, 0, force, out);
        }
        ok
    }

    /// Writes `e`: on one line when it fits, else breaking records, lists, calls, `if` and
    /// `match` one element per line.
    fn expr(&mut self, e: &Expr, min: u8) {
        let breakable = match &e.kind {
            ExprKind::Record(f) => !f.is_empty(),
            ExprKind::List(items) | ExprKind::Call(_, items) => !items.is_empty(),
            ExprKind::Match(..) | ExprKind::If(..) => true,
            _ => false,
        };
        if let Some(flat) = self.flat(e, min) {
            if !breakable || self.fits(&flat) {
                self.w(&flat);
                return;
            }
        }
        let paren = prec(e) < min;
        if paren {
            self.w("(");
        }
        match &e.kind {
            ExprKind::Record(fields) => self.record_lines(fields, e.span),
            ExprKind::List(items) => {
                self.w("[");
                self.items(items, e.span, e.span.start + 1);
                self.w("]");
            }
            ExprKind::Call(f, args) => {
                self.w(&f.name);
                self.w("(");
                let paren = self.after(f.span.end, b'(');
                self.items(args, e.span, paren);
                self.w(")");
            }
            ExprKind::If(cond, then, otherwise) => {
                self.w("if ");
                self.expr(cond, 0);
                self.w(" ");
                // Comments up to the next condition or value stay inside the branch before it.
                let next_start = |e: &Expr| match &e.kind {
                    ExprKind::If(c, ..) => c.span.start,
                    _ => e.span.start,
                };
                self.branch(then, next_start(otherwise));
                let mut rest: &Expr = otherwise;
                while let ExprKind::If(c, t, o) = &rest.kind {
                    self.w(" else if ");
                    self.expr(c, 0);
                    self.w(" ");
                    self.branch(t, next_start(o));
                    rest = o;
                }
                self.w(" else ");
                self.branch(rest, self.end(e.span).saturating_sub(1));
            }
            ExprKind::Match(value, arms) => {
                self.w("match ");
                self.expr(value, 0);
                self.w(" {");
                let brace = self.after(self.end(value.span), b'{');
                self.open(brace);
                self.indent += 1;
                for (pattern, value) in arms {
                    let start = match pattern {
                        Pattern::Wildcard(s) => s.start,
                        Pattern::Literals(l) => l.first().map_or(value.span.start, |l| l.span.start),
                    };
                    self.element(start);
                    self.w(&self.pattern(pattern));
                    self.w(" => ");
                    self.expr(value, 0);
                    self.w(",");
                    let end = self.end(value.span);
                    self.newline(end);
                }
                self.close(self.end(e.span).saturating_sub(1));
                self.indent -= 1;
                self.w("}");
            }
            ExprKind::Binary(op, l, r) => {
                let (lmin, rmin) = (operand_min(*op, l, true), operand_min(*op, r, false));
                self.expr(l, lmin);
                self.w(&format!(" {} ", op.symbol()));
                self.expr(r, rmin);
            }
            ExprKind::Unary(op, operand) => match op {
                UnaryOp::Not => {
                    self.w("not ");
                    self.expr(operand, not_operand_prec(operand));
                }
                UnaryOp::Neg => {
                    self.w("-");
                    self.expr(operand, PREC_NEG);
                }
            },
            ExprKind::Field(base, field) => {
                self.expr(base, PREC_ATOM);
                self.w(&format!(".{}", key(&field.name)));
            }
            ExprKind::Index(base, index) => {
                self.expr(base, PREC_ATOM);
                self.w("[");
                self.expr(index, 0);
                self.w("]");
            }
            ExprKind::Str(parts) => match self.string_form(parts, e.span, false) {
                StringForm::Line(s) => self.w(&s),
                StringForm::Raw(text) => self.raw_text(&text, false),
            },
            _ => {
                let mut s = String::new();
                self.flat_into(e, 0, true, &mut s);
                self.w(&s);
            }
        }
        if paren {
            self.w(")");
        }
    }

    /// A record one field per line, braces included.
    fn record_lines(&mut self, fields: &[RecordField], span: Span) {
        self.w("{");
        self.open(span.start + 1);
        self.indent += 1;
        for f in fields {
            self.element(f.name.span.start);
            self.w(&key(&f.name.name));
            if !f.shorthand {
                self.w(": ");
                self.expr(&f.value, 0);
            }
            self.w(",");
            let end = self.end(f.name.span.to(f.value.span));
            self.newline(end);
        }
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
        self.w("}");
    }

    /// List items or call arguments, one per line, between brackets the caller writes.
    fn items(&mut self, items: &[Expr], span: Span, open: u32) {
        self.open(open);
        self.indent += 1;
        for item in items {
            self.element(item.span.start);
            self.expr(item, 0);
            self.w(",");
            let end = self.end(item.span);
            self.newline(end);
        }
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
    }

    /// One branch of a broken `if` expression: `{`, the value on its own line, `}` (with the
    /// comments written before `limit`).
    fn branch(&mut self, value: &Expr, limit: u32) {
        self.w("{");
        self.open(value.span.start);
        self.indent += 1;
        self.element(value.span.start);
        self.expr(value, 0);
        let end = self.end(value.span);
        self.newline(end);
        self.close(limit);
        self.indent -= 1;
        self.w("}");
    }

    fn string_form(&self, parts: &[StrPart], span: Span, force: bool) -> StringForm {
        if let [StrPart::Text(text)] = parts {
            let raw = self.written_raw(span);
            if !force && text.contains('\n') && raw != Some(false) && raw_lines(text, 0).is_some() {
                return StringForm::Raw(text.clone());
            }
            if raw == Some(true) || (raw.is_none() && text.is_empty()) {
                if let Some(s) = inline_raw(text) {
                    return StringForm::Line(s);
                }
            }
        }
        let mut out = String::from("\"");
        for (i, part) in parts.iter().enumerate() {
            match part {
                StrPart::Text(t) => {
                    let before = matches!(parts.get(i + 1), Some(StrPart::Expr(_)));
                    escape_text(t, before, &mut out);
                }
                StrPart::Expr(e) => {
                    out.push_str("{{ ");
                    self.flat_into(e, 0, true, &mut out);
                    out.push_str(" }}");
                }
            }
        }
        out.push('"');
        StringForm::Line(out)
    }

    /// A multi-line raw string whose lines sit one level in from the current line; the text
    /// after it continues on the closing line. `template` bodies fall back to one line.
    fn raw_text(&mut self, text: &str, template: bool) {
        let level = self.indent;
        match raw_lines(text, level) {
            Some((lines, last)) => {
                self.w("\"\"\"");
                self.out.push_str(&self.line);
                self.out.push('\n');
                for l in lines {
                    self.out.push_str(&l);
                    self.out.push('\n');
                }
                self.line = last;
                self.block_start = false;
                self.last_blank = false;
            }
            None if template => match inline_raw(text) {
                Some(s) => self.w(&s),
                None => self.w(&template_string(text).unwrap_or_else(|| format!("\"\"\"{text}\"\"\""))),
            },
            None => self.w(&quoted(text)),
        }
    }
}

enum StringForm {
    Line(String),
    Raw(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_round_trip_through_dedent() {
        for text in ["a\nb\n", "a\n  b\n", "a\n\nb\n", "a\nb", "  a\nb\n", "\na\n"] {
            assert!(raw_lines(text, 2).is_some(), "{text:?}");
        }
        assert!(raw_lines("a\nb\"", 1).is_none());
        assert!(raw_lines("a\n\"\"\"\n", 1).is_none());
    }

    #[test]
    fn template_strings_escape_quotes_only() {
        assert_eq!(
            template_string("say \"hi\"").as_deref(),
            Some("\"say \\\"hi\\\"\"")
        );
        assert_eq!(template_string("a\\"), None);
        assert_eq!(template_string("a\nb"), None);
    }

    #[test]
    fn braces_are_escaped_only_where_they_would_interpolate() {
        let mut out = String::new();
        escape_text("{a} {{b}}", false, &mut out);
        assert_eq!(out, "{a} \\{{b}}");
        let mut out = String::new();
        escape_text("x{", true, &mut out);
        assert_eq!(out, "x\\{");
    }

    #[test]
    fn keys_are_quoted_when_not_names() {
        assert_eq!(key("Full Name"), "\"Full Name\"");
        assert_eq!(key("status"), "status");
        assert_eq!(key("2x"), "\"2x\"");
    }
}
