//! The delimiters of the code (`{ ( [` and their closers, outside strings and comments): those
//! left open or closing nothing are found by indentation, reported, and repaired.

use super::text::Text;
use super::Edits;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Span;

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

/// The delimiters and line starts of the code in the order read, matched once the whole text is.
#[derive(Default)]
pub(super) struct Delimiters {
    events: Vec<Event>,
    /// The last line that has had a token (0 before the first).
    token_line: usize,
    /// The line and closing place of the last opener reported as never closed.
    last_unclosed: Option<(usize, Option<usize>)>,
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

impl Delimiters {
    /// Notes a token at the cursor: the first of its line starts a line of code.
    pub fn token(&mut self, text: &Text, closer: bool) {
        if self.token_line != text.line {
            self.token_line = text.line;
            self.events.push(Event::Line(LineStart {
                at: text.at,
                line: text.line,
                indent: text.indent(),
                closer,
            }));
        }
    }

    pub fn open(&mut self, text: &Text, byte: u8) {
        self.events.push(Event::Open(delim(text, byte, text.at)));
    }

    /// A closer at `at`, on the cursor's line.
    pub fn close(&mut self, text: &Text, byte: u8, at: usize) {
        self.events.push(Event::Close(delim(text, byte, at)));
    }

    /// Reports and repairs what breaks the nesting, once the whole text has been read.
    pub fn repair(mut self, text: &Text, edits: &mut Edits) {
        if !self.balanced() {
            self.match_by_indentation(text, edits);
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
    fn match_by_indentation(&mut self, text: &Text, edits: &mut Edits) {
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
                            self.unclosed(text, edits, top, Some(l.at));
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
                                    self.unclosed(text, edits, top, Some(d.at));
                                }
                            }
                            stack.pop();
                        }
                        _ => {
                            let top = stack.last().copied();
                            stray_closer(edits, d, top);
                            if top.is_some_and(|t| t.line == d.line) {
                                stack.pop();
                            }
                        }
                    }
                }
            }
        }
        while let Some(top) = stack.pop() {
            self.unclosed(text, edits, top, None);
        }
    }

    /// Reports `open` as never closed and repairs the text with its closer just before
    /// `before` (the start of a line, or a closer), or at the end of the file.
    fn unclosed(&mut self, text: &Text, edits: &mut Edits, open: Delim, before: Option<usize>) {
        let closer = closer_of(open.byte) as char;
        // Openers left open on one line and closed at the same place are one mistake.
        let same_mistake = self.last_unclosed == Some((open.line, before));
        self.last_unclosed = Some((open.line, before));
        if same_mistake {
            close_before(text, edits, closer as u8, before);
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
            edits.file,
            Span::new(open.at, open.at + 1),
            format!("this `{opener}` is never closed"),
        )
        .label(format!("this {what} is not closed"));
        match before {
            Some(at) => {
                let (line, _) = crate::syntax::line_col(text.source, at);
                let word_end = text.bytes[at..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map_or(text.bytes.len(), |i| at + i)
                    .max(at + 1)
                    .min(text.bytes.len());
                diagnostic = diagnostic
                    .with(
                        Span::new(at, word_end),
                        format!("going by the indentation, `{closer}` belongs before this"),
                    )
                    .help(format!("add `{closer}` before line {line}"));
            }
            None => {
                let end = text.bytes.len();
                diagnostic = diagnostic
                    .with(Span::new(end, end), "the file ends here")
                    .help(format!("add `{closer}` where the {what} should end"));
            }
        }
        edits.push(diagnostic);
        close_before(text, edits, closer as u8, before);
    }
}

fn delim(text: &Text, byte: u8, at: usize) -> Delim {
    Delim {
        byte,
        at,
        line: text.line,
        indent: text.indent(),
    }
}

/// Repairs the text with `closer` just before `before`, or at the end of the file.
fn close_before(text: &Text, edits: &mut Edits, closer: u8, before: Option<usize>) {
    // At the end, trailing white space is room too: appending would make spans past the
    // end of the source.
    match room_before(text, edits, before.unwrap_or(text.bytes.len())) {
        Some(at) => edits.replace(at, closer),
        None => match before {
            None => edits.append(closer),
            Some(at) => edits.insert(at, closer),
        },
    }
}

/// A whitespace byte before `at` (and after the last code before it, outside comments and
/// not a comment's line break) that may become a closer.
fn room_before(text: &Text, edits: &Edits, at: usize) -> Option<usize> {
    let comments = &text.comments;
    let mut i = at;
    while i > 0 {
        i -= 1;
        let before = comments.partition_point(|(s, _)| *s <= i);
        let comment = before.checked_sub(1).map(|c| comments[c]);
        if let Some((start, end)) = comment {
            if i < end {
                i = start;
                continue;
            }
        }
        match text.bytes[i] {
            b' ' | b'\t' => {}
            b'\n' => {
                // The line break ending a `//` comment must stay.
                let ends_comment = comment.is_some_and(|(s, e)| e == i && text.bytes[s..].starts_with(b"//"));
                if ends_comment {
                    continue;
                }
            }
            b'\r' => continue,
            _ => return None,
        }
        if !edits.replaces(i) {
            return Some(i);
        }
    }
    None
}

fn stray_closer(edits: &mut Edits, close: Delim, top: Option<Delim>) {
    let c = close.byte as char;
    match top {
        Some(open) if open.line == close.line => {
            let expected = closer_of(open.byte) as char;
            edits.push(
                Diagnostic::new(
                    Code::MismatchedCloser,
                    edits.file,
                    Span::new(close.at, close.at + 1),
                    format!("`{c}` does not close the `{}` it follows", open.byte as char),
                )
                .label(format!("expected `{expected}` here"))
                .with(Span::new(open.at, open.at + 1), "opened here")
                .help(format!("write `{expected}` in place of `{c}`")),
            );
            edits.replace(close.at, expected as u8);
        }
        _ => {
            edits.push(
                Diagnostic::new(
                    Code::MismatchedCloser,
                    edits.file,
                    Span::new(close.at, close.at + 1),
                    format!("`{c}` closes nothing"),
                )
                .label("nothing open here")
                .help(format!(
                    "remove this `{c}`, or add the `{}` it should close",
                    opener_of(close.byte) as char
                )),
            );
            edits.replace(close.at, b' ');
        }
    }
}
