//! The lexical pass before the grammar: finds what breaks the nesting of a file (a `{`, `(`, `[`
//! or string left open, a closer with no opener) and two habits from other languages (`#`
//! comments, single quotes), reports each once, and repairs the text for the grammar.
//!
//! Repairs never change the length of the text (a space becomes the missing `}`, `'` becomes
//! `"`, a `#` comment becomes spaces), so every span the grammar produces on the repaired text is
//! a span of the original. Without this pass, one missing brace made pest match the wrong
//! braces and report a dozen errors far from the slip; here the brace left open is found by
//! indentation, as rustc does, and the rest of the file parses as the author meant it.

use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::syntax::Span;

/// The text to parse (the source, or a repaired copy of it) and what was wrong with it.
pub(crate) struct Lexical {
    /// `None` when nothing needed repair.
    pub repaired: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// Strings of the repaired text that stand for unquoted words, by their start: the text
    /// meant (the repair had to overwrite a letter at each end with a quote).
    pub texts: Vec<(usize, String)>,
}

/// Scans `source` once (linear time) and repairs what breaks its nesting.
pub(crate) fn scan(source: &str, file: FileId) -> Lexical {
    let mut scanner = Scanner::new(source, file);
    scanner.replacement_characters();
    scanner.run();
    let balanced = scanner.balanced();
    if !balanced {
        scanner.match_by_indentation();
    }
    let Scanner {
        bytes,
        edits,
        mut inserts,
        diagnostics,
        texts,
        ..
    } = scanner;
    let repaired = if edits.is_empty() && inserts.is_empty() {
        None
    } else {
        let mut replaced = bytes.to_vec();
        for (at, byte) in edits {
            if at < replaced.len() {
                replaced[at] = byte;
            } else {
                replaced.push(byte);
            }
        }
        // Insertions (closers where no white space could become one) shift what follows: rare
        // enough (many brackets left open on one line) that the spans after them may be off.
        inserts.sort_by_key(|(at, _)| *at);
        let mut out = Vec::with_capacity(replaced.len() + inserts.len());
        let mut from = 0;
        for (at, byte) in inserts {
            let at = at.min(replaced.len());
            out.extend_from_slice(&replaced[from..at]);
            out.push(byte);
            from = at;
        }
        out.extend_from_slice(&replaced[from..]);
        // Only ASCII bytes replace ASCII bytes (or are appended), so the text stays UTF-8.
        Some(String::from_utf8(out).unwrap_or_else(|_| source.to_string()))
    };
    Lexical {
        repaired,
        diagnostics,
        texts,
    }
}

/// One delimiter of the code (outside strings and comments).
#[derive(Clone, Copy, Debug)]
struct Delim {
    byte: u8,
    at: usize,
    line: usize,
    /// Indentation (in bytes) of the line it is on.
    indent: usize,
}

/// The first token of a line of code, for matching by indentation.
#[derive(Clone, Copy, Debug)]
struct LineStart {
    at: usize,
    line: usize,
    indent: usize,
    closer: bool,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Open(Delim),
    Close(Delim),
    Line(LineStart),
}

struct Scanner<'s> {
    source: &'s str,
    bytes: &'s [u8],
    file: FileId,
    at: usize,
    line: usize,
    line_start: usize,
    /// Whether the current line has had a token yet.
    line_has_token: bool,
    events: Vec<Event>,
    /// Byte ranges of comments, in order (for placing a repair outside them).
    comments: Vec<(usize, usize)>,
    /// Byte replacements (offset, new byte); an offset at the end appends.
    edits: Vec<(usize, u8)>,
    /// Bytes appended after the end.
    appended: usize,
    /// Bytes inserted before an offset (stable: in order of insertion at one offset).
    inserts: Vec<(usize, u8)>,
    /// The line and closing place of the last opener reported as never closed.
    last_unclosed: Option<(usize, Option<usize>)>,
    diagnostics: Vec<Diagnostic>,
    /// Unquoted words repaired into strings: (start, the words).
    texts: Vec<(usize, String)>,
}

fn closer_of(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

fn opener_of(close: u8) -> u8 {
    match close {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

impl<'s> Scanner<'s> {
    fn new(source: &'s str, file: FileId) -> Scanner<'s> {
        Scanner {
            source,
            bytes: source.as_bytes(),
            file,
            at: 0,
            line: 1,
            line_start: 0,
            line_has_token: false,
            events: Vec::new(),
            comments: Vec::new(),
            edits: Vec::new(),
            appended: 0,
            inserts: Vec::new(),
            last_unclosed: None,
            diagnostics: Vec::new(),
            texts: Vec::new(),
        }
    }

    /// A file read from bytes that are not UTF-8 holds `�` (U+FFFD) in their place: reported
    /// once, at the first.
    fn replacement_characters(&mut self) {
        let mut found = self.source.match_indices('\u{FFFD}');
        let Some((first, _)) = found.next() else { return };
        let more = found.count();
        let label = match more {
            0 => "this character was not UTF-8".to_string(),
            n => format!("this character was not UTF-8 (nor {n} more after it)"),
        };
        self.push(
            Diagnostic::new(
                Code::InvalidUtf8,
                self.file,
                Span::new(first, first + '\u{FFFD}'.len_utf8()),
                "the file is not valid UTF-8 here",
            )
            .label(label)
            .help("save the file as UTF-8 in your editor, then check the character shown as `�`"),
        );
    }

    fn starts(&self, s: &[u8]) -> bool {
        self.bytes[self.at..].starts_with(s)
    }

    fn line_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |i| from + i)
    }

    fn indent(&self) -> usize {
        self.bytes[self.line_start..]
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count()
    }

    fn newline(&mut self) {
        self.at += 1;
        self.line += 1;
        self.line_start = self.at;
        self.line_has_token = false;
    }

    /// Notes the first token of a line of code.
    fn token(&mut self, closer: bool) {
        if !self.line_has_token {
            self.line_has_token = true;
            self.events.push(Event::Line(LineStart {
                at: self.at,
                line: self.line,
                indent: self.indent(),
                closer,
            }));
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn run(&mut self) {
        while self.at < self.bytes.len() {
            let b = self.bytes[self.at];
            match b {
                b'\n' => self.newline(),
                b' ' | b'\t' | b'\r' => self.at += 1,
                b'/' if self.starts(b"///") => {
                    // A doc comment starts a documented construct: a line of code.
                    self.token(false);
                    self.skip_line_comment();
                }
                b'/' if self.starts(b"//") => self.skip_line_comment(),
                b'/' if self.starts(b"/*") => {
                    let start = self.at;
                    let end =
                        find(&self.bytes[start + 2..], b"*/").map_or(self.bytes.len(), |e| start + e + 4);
                    self.comments.push((start, end));
                    while self.at < end {
                        if self.bytes[self.at] == b'\n' {
                            self.newline();
                        } else {
                            self.at += 1;
                        }
                    }
                }
                b'"' if self.starts(b"\"\"\"") => {
                    self.token(false);
                    self.raw_string();
                }
                b'"' if self.after_template_part_kind() => {
                    self.token(false);
                    self.template_string();
                }
                b'"' => {
                    self.token(false);
                    self.string();
                }
                b'#' => self.hash_comment(),
                b'\'' => {
                    self.token(false);
                    self.single_quoted();
                }
                b'{' | b'(' | b'[' => {
                    self.token(false);
                    let d = self.delim(b);
                    self.events.push(Event::Open(d));
                    self.at += 1;
                }
                b':' => {
                    self.token(false);
                    self.unquoted_words();
                    self.at += 1;
                }
                b'}' | b')' | b']' => {
                    self.token(true);
                    let d = self.delim(b);
                    self.events.push(Event::Close(d));
                    self.at += 1;
                }
                _ => {
                    self.token(false);
                    self.at += 1;
                }
            }
        }
    }

    fn delim(&self, byte: u8) -> Delim {
        Delim {
            byte,
            at: self.at,
            line: self.line,
            indent: self.indent(),
        }
    }

    fn skip_line_comment(&mut self) {
        let end = self.line_end(self.at);
        self.comments.push((self.at, end));
        self.at = end;
    }

    fn raw_string(&mut self) {
        let start = self.at;
        match find(&self.bytes[start + 3..], b"\"\"\"") {
            Some(e) => {
                let end = start + 3 + e + 3;
                while self.at < end {
                    if self.bytes[self.at] == b'\n' {
                        self.newline();
                    } else {
                        self.at += 1;
                    }
                }
            }
            None => {
                self.push(
                    Diagnostic::new(
                        Code::UnclosedDelimiter,
                        self.file,
                        Span::new(start, start + 3),
                        "this `\"\"\"` text is never closed",
                    )
                    .label("opened here")
                    .help("add `\"\"\"` on its own line where the text ends"),
                );
                let len = self.bytes.len();
                self.edits.extend([(len, b'"'), (len + 1, b'"'), (len + 2, b'"')]);
                self.appended += 3;
                self.at = len;
            }
        }
    }

    /// Whether the word before the cursor is `subject`, `text`, `html`, `sms` or `slack`: a template part,
    /// whose string is handlebars (its `{{ }}` are checked by the template checker, not here).
    fn after_template_part_kind(&self) -> bool {
        let before = self.source[self.line_start..self.at].trim_end();
        ["subject", "text", "html", "sms", "slack"].iter().any(|kind| {
            before
                .strip_suffix(kind)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with([' ', '\t']))
        })
    }

    /// A template part's one-line string: it ends at the next unescaped `"`.
    fn template_string(&mut self) {
        let start = self.at;
        self.at += 1;
        while self.at < self.bytes.len() {
            match self.bytes[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return;
                }
                b'\n' => break,
                b'\r' if self.bytes.get(self.at + 1) == Some(&b'\n') => break,
                _ => self.at += 1,
            }
        }
        let end = self.at.min(self.bytes.len());
        self.unclosed_string(start, end);
    }

    /// A `"` string, whose `{{ }}` interpolations may hold strings in turn. A string ends on its
    /// line: one left open is closed before the closers that end the line's construct.
    fn string(&mut self) {
        let start = self.at;
        self.at += 1;
        // Nesting of interpolations (`{{`) inside this string, and where each open one began.
        let mut depth = 0usize;
        let mut opened: Vec<usize> = Vec::new();
        let mut in_string = true;
        while self.at < self.bytes.len() {
            let b = self.bytes[self.at];
            if b == b'\n' || (b == b'\r' && self.bytes.get(self.at + 1) == Some(&b'\n')) {
                break;
            }
            if in_string {
                match b {
                    b'\\' => self.at += 2,
                    b'"' if depth == 0 => {
                        self.at += 1;
                        return;
                    }
                    b'"' => {
                        in_string = false;
                        self.at += 1;
                    }
                    b'{' if self.starts(b"{{") => {
                        depth += 1;
                        opened.push(self.at);
                        in_string = false;
                        self.at += 2;
                    }
                    _ => self.at += 1,
                }
            } else {
                match b {
                    b'"' => {
                        in_string = true;
                        self.at += 1;
                    }
                    b'}' if self.starts(b"}}") => {
                        depth = depth.saturating_sub(1);
                        opened.pop();
                        in_string = true;
                        self.at += 2;
                    }
                    _ => self.at += 1,
                }
            }
        }
        let end = self.at.min(self.bytes.len());
        match opened.first() {
            Some(&open) => self.unclosed_interpolation(open, end),
            None => self.unclosed_string(start, end),
        }
    }

    /// `priority: very high`: several words after a `name:` that only make sense as text. The
    /// first and last letters become the quotes of the repaired text (same length), and the
    /// words as written are kept for the parser to read as the string meant.
    fn unquoted_words(&mut self) {
        let Some((start, end)) = super::unquoted::words_after_colon(self.bytes, self.at) else {
            return;
        };
        let words = &self.source[start..end];
        let quoted = match super::unquoted::key_before_colon(self.source, self.at) {
            Some(key) => format!("{key}: \"{words}\""),
            None => format!("\"{words}\""),
        };
        self.push(
            Diagnostic::new(
                Code::UnquotedText,
                self.file,
                Span::new(start, end),
                format!("`{words}` needs quotes"),
            )
            .label("text written without quotes")
            .help(format!(
                "write `{quoted}`: text of several words is written in double quotes"
            )),
        );
        self.edits.push((start, b'"'));
        self.edits.push((end - 1, b'"'));
        self.texts.push((start, words.to_string()));
    }

    /// A `{{` that no `}}` closes before the end of its line (`"Hi {{ name }"`): reported once,
    /// at the `{{`. The interpolation is blanked out of the repaired text, so the grammar reads
    /// a plain string and the rest of the line as code; left in, it made the string unreadable
    /// and the recovery swallow braces across the rest of the file.
    fn unclosed_interpolation(&mut self, open: usize, end: usize) {
        self.push(
            Diagnostic::new(
                Code::UnclosedDelimiter,
                self.file,
                Span::new(open, open + 2),
                "this `{{` is never closed",
            )
            .label("the value put into the text starts here")
            .help("close it with `}}` where the value ends: `\"Hello {{ name }}\"`"),
        );
        let last_quote = self.bytes[open..end]
            .iter()
            .rposition(|&b| b == b'"')
            .map(|i| open + i);
        let resume = match last_quote {
            // The string's own closing quote is there: the text up to it is the string.
            Some(quote) => {
                self.blank(open, quote);
                quote + 1
            }
            // No quote either: the string ends where the interpolation began, and its first
            // `}` is taken as its attempt at closing; what follows is code (`,`, `)`).
            None => {
                let through = self.bytes[open + 2..end]
                    .iter()
                    .position(|&b| b == b'}')
                    .map_or(end, |i| open + 2 + i + 1);
                self.edits.push((open, b'"'));
                self.blank(open + 1, through);
                through
            }
        };
        self.at = resume;
    }

    /// Repairs `from..to` to spaces (every byte of a multi-byte character too, so the text
    /// stays UTF-8).
    fn blank(&mut self, from: usize, to: usize) {
        self.edits.extend((from..to).map(|i| (i, b' ')));
    }

    /// Closes the string opened at `start` that runs to `end` (its line's end): before a run of
    /// closing brackets (and spaces) that ends the line, when the line opened that many.
    fn unclosed_string(&mut self, start: usize, end: usize) {
        let line = &self.bytes[self.line_start..start];
        let mut open = 0usize;
        for &b in line {
            match b {
                b'(' | b'[' | b'{' => open += 1,
                b')' | b']' | b'}' => open = open.saturating_sub(1),
                _ => {}
            }
        }
        let mut close_at = end;
        let mut closers = 0;
        while close_at > start + 1 && closers < open {
            match self.bytes[close_at - 1] {
                b')' | b']' | b'}' => closers += 1,
                b' ' | b'\t' => {}
                _ => break,
            }
            close_at -= 1;
        }
        while close_at < end && matches!(self.bytes[close_at], b' ' | b'\t') {
            close_at += 1;
        }
        let closing: Vec<(usize, u8)> = (close_at..end)
            .filter(|&i| matches!(self.bytes[i], b')' | b']' | b'}'))
            .map(|i| (i + 1, self.bytes[i]))
            .collect();
        self.push(
            Diagnostic::new(
                Code::UnclosedDelimiter,
                self.file,
                Span::new(start, start + 1),
                "this string is never closed",
            )
            .label("the string starts here and runs to the end of the line")
            .help("add the closing `\"` where the text ends; a string stays on one line (use `\"\"\"` for several lines)"),
        );
        // Shift what follows the text one byte right over the line break (or append), and put
        // the quote where the text ends.
        for i in (close_at..end).rev() {
            self.edits.push((i + 1, self.bytes[i]));
        }
        self.edits.push((close_at, b'"'));
        if end < self.bytes.len() && self.bytes[end] == b'\r' {
            // `\r\n`: the `\r` was overwritten, keep the `\n`.
        }
        for (at, byte) in closing {
            let d = Delim {
                byte,
                at,
                line: self.line,
                indent: self.indent(),
            };
            self.events.push(Event::Close(d));
        }
        self.at = end;
    }

    fn hash_comment(&mut self) {
        let start = self.at;
        let end = self.line_end(start);
        let end = if end > start && self.bytes[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        self.push(
            Diagnostic::new(
                Code::HashComment,
                self.file,
                Span::new(start, start + 1),
                "`#` does not start a comment in a `.flow` file",
            )
            .label("a comment from another language")
            .help("write `//` for a comment"),
        );
        // Keep multi-byte characters whole: every byte of the comment becomes a space.
        self.blank(start, end);
        self.comments.push((start, end));
        self.at = end;
    }

    fn single_quoted(&mut self) {
        let start = self.at;
        let end = self.line_end(start);
        let close = self.bytes[start + 1..end]
            .iter()
            .position(|&b| b == b'\'')
            .map(|i| start + 1 + i);
        match close {
            Some(close) if !self.bytes[start + 1..close].contains(&b'"') => {
                let text = &self.source[start..=close];
                self.push(
                    Diagnostic::new(
                        Code::SingleQuotes,
                        self.file,
                        Span::new(start, close + 1),
                        "strings are written in double quotes",
                    )
                    .label("single quotes")
                    .help(format!("write `\"{}\"`", &text[1..text.len() - 1])),
                );
                self.edits.push((start, b'"'));
                self.edits.push((close, b'"'));
                self.at = close + 1;
            }
            _ => self.at += 1,
        }
    }

    /// Whether every closer matches the last opener still open, and nothing stays open.
    fn balanced(&self) -> bool {
        let mut stack = Vec::new();
        for e in &self.events {
            match e {
                Event::Open(d) => stack.push(d.byte),
                Event::Close(d) => {
                    if stack.pop() != Some(opener_of(d.byte)) {
                        return false;
                    }
                }
                Event::Line(_) => {}
            }
        }
        stack.is_empty()
    }

    /// Matches delimiters again, now trusting indentation: an opener is closed at the latest
    /// before the next line of code indented no deeper than its own line (rustc's heuristic).
    fn match_by_indentation(&mut self) {
        let events = std::mem::take(&mut self.events);
        let mut stack: Vec<Delim> = Vec::new();
        for event in events {
            match event {
                Event::Line(l) => {
                    while let Some(top) = stack.last().copied() {
                        let dedented = if l.closer {
                            // A closer line less indented than the opener's line closes an
                            // outer construct: the opener was left open.
                            l.indent < top.indent && stack.len() >= 2
                        } else {
                            l.indent <= top.indent
                        };
                        if top.line < l.line && dedented {
                            stack.pop();
                            self.unclosed(top, Some(l.at));
                        } else {
                            break;
                        }
                    }
                }
                Event::Open(d) => stack.push(d),
                Event::Close(d) => {
                    let wanted = opener_of(d.byte);
                    match stack.iter().rposition(|o| o.byte == wanted) {
                        Some(i) if i + 1 == stack.len() => {
                            stack.pop();
                        }
                        Some(i) if stack[i + 1..].iter().all(|o| o.line < d.line) => {
                            while stack.len() > i + 1 {
                                if let Some(top) = stack.pop() {
                                    self.unclosed(top, Some(d.at));
                                }
                            }
                            stack.pop();
                        }
                        _ => {
                            let top = stack.last().copied();
                            self.stray_closer(d, top);
                            if top.is_some_and(|t| t.line == d.line) {
                                stack.pop();
                            }
                        }
                    }
                }
            }
        }
        while let Some(top) = stack.pop() {
            self.unclosed(top, None);
        }
    }

    /// Reports `open` as never closed and repairs the text with its closer just before
    /// `before` (the start of a line, or a closer), or at the end of the file.
    fn unclosed(&mut self, open: Delim, before: Option<usize>) {
        let closer = closer_of(open.byte) as char;
        // Openers left open on one line and closed at the same place are one mistake.
        let same_mistake = self.last_unclosed == Some((open.line, before));
        self.last_unclosed = Some((open.line, before));
        if same_mistake {
            self.close_before(closer as u8, before);
            return;
        }
        let opener = open.byte as char;
        let what = match open.byte {
            b'{' => "block or record",
            b'(' => "parenthesis",
            _ => "list",
        };
        let mut diagnostic = Diagnostic::new(
            Code::UnclosedDelimiter,
            self.file,
            Span::new(open.at, open.at + 1),
            format!("this `{opener}` is never closed"),
        )
        .label(format!("this {what} is not closed"));
        match before {
            Some(at) => {
                let (line, _) = crate::syntax::line_col(self.source, at);
                let word_end = self.bytes[at..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map_or(self.bytes.len(), |i| at + i)
                    .max(at + 1)
                    .min(self.bytes.len());
                diagnostic = diagnostic
                    .with(
                        Span::new(at, word_end),
                        format!("going by the indentation, `{closer}` belongs before this"),
                    )
                    .help(format!("add `{closer}` before line {line}"));
            }
            None => {
                let end = self.bytes.len();
                diagnostic = diagnostic
                    .with(Span::new(end, end), "the file ends here")
                    .help(format!("add `{closer}` where the {what} should end"));
            }
        }
        self.push(diagnostic);
        self.close_before(closer as u8, before);
    }

    /// Repairs the text with `closer` just before `before`, or at the end of the file.
    fn close_before(&mut self, closer: u8, before: Option<usize>) {
        // At the end, trailing white space is room too: appending would make spans past the
        // end of the source.
        let at = self.room_before(before.unwrap_or(self.bytes.len()));
        match at {
            Some(at) => self.edits.push((at, closer)),
            None if before.is_none() => {
                let end = self.bytes.len() + self.appended;
                self.appended += 1;
                self.edits.push((end, closer));
            }
            None => self.inserts.extend(before.map(|at| (at, closer))),
        }
    }

    /// A whitespace byte before `at` (and after the last code before it, outside comments and
    /// not a comment's line break) that may become a closer.
    fn room_before(&self, at: usize) -> Option<usize> {
        let mut i = at;
        while i > 0 {
            i -= 1;
            let before = self.comments.partition_point(|(s, _)| *s <= i);
            let comment = before.checked_sub(1).map(|c| self.comments[c]);
            if let Some((start, end)) = comment {
                if i < end {
                    i = start;
                    continue;
                }
            }
            match self.bytes[i] {
                b' ' | b'\t' => {}
                b'\n' => {
                    // The line break ending a `//` comment must stay.
                    let ends_comment =
                        comment.is_some_and(|(s, e)| e == i && self.bytes[s..].starts_with(b"//"));
                    if ends_comment {
                        continue;
                    }
                }
                b'\r' => continue,
                _ => return None,
            }
            if !self.edits.iter().any(|(a, _)| *a == i) {
                return Some(i);
            }
        }
        None
    }

    fn stray_closer(&mut self, close: Delim, top: Option<Delim>) {
        let c = close.byte as char;
        match top {
            Some(open) if open.line == close.line => {
                let expected = closer_of(open.byte) as char;
                self.push(
                    Diagnostic::new(
                        Code::MismatchedCloser,
                        self.file,
                        Span::new(close.at, close.at + 1),
                        format!("`{c}` does not close the `{}` it follows", open.byte as char),
                    )
                    .label(format!("expected `{expected}` here"))
                    .with(Span::new(open.at, open.at + 1), "opened here")
                    .help(format!("write `{expected}` in place of `{c}`")),
                );
                self.edits.push((close.at, expected as u8));
            }
            _ => {
                self.push(
                    Diagnostic::new(
                        Code::MismatchedCloser,
                        self.file,
                        Span::new(close.at, close.at + 1),
                        format!("`{c}` closes nothing"),
                    )
                    .label("nothing open here")
                    .help(format!(
                        "remove this `{c}`, or add the `{}` it should close",
                        opener_of(close.byte) as char
                    )),
                );
                self.edits.push((close.at, b' '));
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(source: &str) -> (String, Vec<(Code, String)>) {
        let lexical = scan(source, FileId(0));
        let text = lexical.repaired.unwrap_or_else(|| source.to_string());
        let found = lexical
            .diagnostics
            .iter()
            .map(|d| (d.code, source.get(d.span.range()).unwrap_or("").to_string()))
            .collect();
        (text, found)
    }

    #[test]
    fn a_brace_left_open_is_closed_where_the_indentation_ends() {
        let source = "flow f for e {\n  if x {\n    fail \"a\"\n  step s = a.b()\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(found, [(Code::UnclosedDelimiter, "{".to_string())]);
        // Repaired in the indentation of the next statement.
        assert_eq!(
            text,
            "flow f for e {\n  if x {\n    fail \"a\"\n }step s = a.b()\n}\n"
        );
    }

    #[test]
    fn a_closer_line_less_indented_than_its_opener_closes_an_outer_block() {
        let source = "flow f for e {\n  if x {\n    fail \"a\"\n}\nflow g for e {\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            text,
            "flow f for e {\n  if x {\n    fail \"a\"}}\nflow g for e {\n}\n"
        );
    }

    #[test]
    fn balanced_sloppy_indentation_is_left_alone() {
        let source = "flow f for e {\nstep s = a.b(\nx: 1)\n  }\n";
        let (text, found) = scanned(source);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(text, source);
    }

    #[test]
    fn an_unclosed_string_is_closed_before_the_closers_of_its_line() {
        let source = "flow f for e {\n  step s = a.b(x: \"hi)\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(found, [(Code::UnclosedDelimiter, "\"".to_string())]);
        assert_eq!(text, "flow f for e {\n  step s = a.b(x: \"hi\")}\n");
    }

    #[test]
    fn an_unclosed_interpolation_is_blanked_out_of_its_string() {
        let source = "flow f for e {\n  step s = a.b(x: \"hi {{ name }\", y: 1)\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(found, [(Code::UnclosedDelimiter, "{{".to_string())]);
        assert_eq!(
            text,
            "flow f for e {\n  step s = a.b(x: \"hi          \", y: 1)\n}\n"
        );
        // Without the closing quote: the string ends where the `{{` was.
        let source = "flow f for e {\n  step s = a.b(x: \"hi {{ name },\n  y: 1)\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(found, [(Code::UnclosedDelimiter, "{{".to_string())]);
        assert_eq!(
            text,
            "flow f for e {\n  step s = a.b(x: \"hi \"        ,\n  y: 1)\n}\n"
        );
    }

    #[test]
    fn braces_in_strings_comments_and_templates_do_not_count() {
        let source = "template t {\n  subject \"{{#if a}}x{{/if}\"\n}\nflow f for e {\n  let x = \"{ {{ y ?? \"}\" }}\" // {\n}\n";
        let (_, found) = scanned(source);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn hash_comments_and_single_quotes_are_habits() {
        let source = "flow f for e {\n  # a note\n  let x = 'hi'\n}\n";
        let (text, found) = scanned(source);
        assert_eq!(
            found,
            [
                (Code::HashComment, "#".to_string()),
                (Code::SingleQuotes, "'hi'".to_string())
            ]
        );
        assert_eq!(text, "flow f for e {\n          \n  let x = \"hi\"\n}\n");
    }

    #[test]
    fn a_stray_or_mismatched_closer_is_reported_once() {
        let (text, found) = scanned("flow f for e {\n  let x = f(1]\n}\n");
        assert_eq!(found, [(Code::MismatchedCloser, "]".to_string())]);
        assert_eq!(text, "flow f for e {\n  let x = f(1)\n}\n");
        let (_, found) = scanned("flow f for e {\n}\n}\n");
        assert_eq!(found, [(Code::MismatchedCloser, "}".to_string())]);
    }

    #[test]
    fn bytes_that_were_not_utf8_are_reported_once() {
        let (_, found) = scanned("flow f for e {\n  let x = \"caf\u{FFFD}\u{FFFD}\"\n}\n");
        assert_eq!(found, [(Code::InvalidUtf8, "\u{FFFD}".to_string())]);
    }
}
