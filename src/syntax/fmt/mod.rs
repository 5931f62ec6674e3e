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

mod expressions;
mod items;
mod precedence;
mod printer;
mod statements;
mod text;

use std::collections::HashMap;

use serde_json::Value as Json;

use super::ast::*;
use super::comments::{comments, Comment};
use super::parser::dedent;
use super::Span;
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::value::{format_duration, parse_duration};

use precedence::*;
use printer::*;
use text::*;

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
