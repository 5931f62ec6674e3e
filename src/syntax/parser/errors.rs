//! Syntax errors: each line the grammar's recovery rules swallowed is re-parsed with a probe to
//! find the exact place and the tokens expected there, reported once per mistake, with the
//! missing `,` or `:` and the brace left open recognised.

use super::*;

impl<'s> Parser<'s> {
    /// Reports a recovered line: re-parses from its start with `probe` to find the exact place.
    /// Reports a recovered line unless it is the tail of a construct already reported: one
    /// mistake, one diagnostic. A later line of a run of bad lines is reported again only when it
    /// starts a new construct (`step`, `flow`, ...) past the previous error's line.
    pub(super) fn diagnose_bad_line(&self, bad: &Pair<'_, Rule>, probe: Rule, in_bad_run: bool) {
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

    pub(super) fn push_pest_error(&self, error: pest::error::Error<Rule>, offset: usize) {
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
        } else if let Some(noun) = unnamed_declaration(&self.source[..at], &expected) {
            diagnostic = diagnostic.help(format!(
                "name the {noun} here, e.g. `{noun} client = ...`: later statements read its value by that name"
            ));
        } else {
            diagnostic = diagnostic.help(format!(
                "write {expected} here; the language reference (docs/language.md) shows each construct"
            ));
        }
        self.push(diagnostic);
    }

    /// A missing `,` or `:`, reported at the token before it (where it goes), when the grammar
    /// expected one and found the start of a new value or name instead.
    pub(super) fn missing_separator(
        &self,
        punctuation: &[String],
        at: usize,
        found: &str,
    ) -> Option<Diagnostic> {
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
    pub(super) fn missing_colon_before_expression(&self, at: usize, found: &str) -> Option<Diagnostic> {
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
}

/// The offset of the innermost `{` that no `}` closes, skipping strings and comments. Works on
/// bytes: every delimiter is ASCII, so offsets stay on character boundaries.
pub(super) fn unclosed_brace(source: &str) -> Option<usize> {
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

pub(super) fn error_offset(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

pub(super) fn starts_construct(text: &str) -> bool {
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

pub(super) fn first_word(text: &str) -> &str {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|w| !w.is_empty())
        .unwrap_or(text)
}

/// The token at the start of `rest`, for "found ..." (a word, or one character).
pub(super) fn found_token(rest: &str) -> &str {
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

/// The length in bytes of the word (letters, digits, `_`) that `text` ends with; 0 when it ends
/// with anything else.
pub(super) fn trailing_word_len(text: &str) -> usize {
    text.chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum()
}

/// `step` or `let` when the text before a missing name ends with that keyword.
fn unnamed_declaration(before: &str, expected: &str) -> Option<&'static str> {
    let word = before
        .trim_end()
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()?;
    match word {
        "step" if expected == "a name" => Some("step"),
        "let" if expected == "a name" => Some("let"),
        _ => None,
    }
}
