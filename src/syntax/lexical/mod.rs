//! The lexical pass before the grammar: finds what breaks the nesting of a file (a `{`, `(`, `[`
//! or string left open, a closer with no opener) and two habits from other languages (`#`
//! comments, single quotes), reports each once, and repairs the text for the grammar.
//!
//! Repairs never change the length of the text (a space becomes the missing `}`, `'` becomes
//! `"`, a `#` comment becomes spaces), so every span the grammar produces on the repaired text is
//! a span of the original. Without this pass, one missing brace made pest match the wrong
//! braces and report a dozen errors far from the slip; here the brace left open is found by
//! indentation, as rustc does, and the rest of the file parses as the author meant it.
//!
//! One reading of the text (`Text`) hands strings and comments to `strings`, habits to
//! `habits`, and the delimiters of the code to `Delimiters`, which matches them once the whole
//! text is read; each records what it reports and repairs in the one `Edits`.

mod delimiters;
mod habits;
mod strings;
mod text;

use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::syntax::Span;
use delimiters::Delimiters;
use text::Text;

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
    let mut edits = Edits::new(file, source.len());
    replacement_characters(source, &mut edits);
    let mut text = Text::new(source);
    let mut delimiters = Delimiters::default();
    read(&mut text, &mut edits, &mut delimiters);
    delimiters.repair(&text, &mut edits);
    edits.apply(source)
}

/// A file read from bytes that are not UTF-8 holds `�` (U+FFFD) in their place: reported
/// once, at the first.
fn replacement_characters(source: &str, edits: &mut Edits) {
    let mut found = source.match_indices('\u{FFFD}');
    let Some((first, _)) = found.next() else { return };
    let more = found.count();
    let label = match more {
        0 => "this character was not UTF-8".to_string(),
        n => format!("this character was not UTF-8 (nor {n} more after it)"),
    };
    edits.push(
        Diagnostic::new(
            Code::InvalidUtf8,
            edits.file,
            Span::new(first, first + '\u{FFFD}'.len_utf8()),
            "the file is not valid UTF-8 here",
        )
        .label(label)
        .help("save the file as UTF-8 in your editor, then check the character shown as `�`"),
    );
}

/// Reads the text once, handing each construct to what scans it.
fn read(text: &mut Text, edits: &mut Edits, delimiters: &mut Delimiters) {
    while text.at < text.bytes.len() {
        let b = text.bytes[text.at];
        match b {
            b'\n' => text.newline(),
            b' ' | b'\t' | b'\r' => text.at += 1,
            b'/' if text.starts(b"///") => {
                // A doc comment starts a documented construct: a line of code.
                delimiters.token(text, false);
                strings::line_comment(text);
            }
            b'/' if text.starts(b"//") => strings::line_comment(text),
            b'/' if text.starts(b"/*") => strings::block_comment(text),
            b'"' if text.starts(b"\"\"\"") => {
                delimiters.token(text, false);
                strings::raw_string(text, edits);
            }
            b'"' => {
                delimiters.token(text, false);
                let moved = if strings::after_template_part_kind(text) {
                    strings::template_string(text, edits)
                } else {
                    strings::string(text, edits)
                };
                for (at, byte) in moved {
                    delimiters.close(text, byte, at);
                }
            }
            b'#' => habits::hash_comment(text, edits),
            b'\'' => {
                delimiters.token(text, false);
                habits::single_quoted(text, edits);
            }
            b'{' | b'(' | b'[' => {
                delimiters.token(text, false);
                delimiters.open(text, b);
                text.at += 1;
            }
            b':' => {
                delimiters.token(text, false);
                strings::unquoted_words(text, edits);
                text.at += 1;
            }
            b'}' | b')' | b']' => {
                delimiters.token(text, true);
                delimiters.close(text, b, text.at);
                text.at += 1;
            }
            _ => {
                delimiters.token(text, false);
                // The rest of a word or a number: nothing in it is for a scanner (one test per
                // byte rather than the whole match, in the pass every file goes through).
                text.at += 1;
                while text.at < text.bytes.len() && !SPECIAL[usize::from(text.bytes[text.at])] {
                    text.at += 1;
                }
            }
        }
    }
}

/// The bytes `read` hands to a scanner or counts (line breaks, blanks): every other byte
/// is part of a token, and needs nothing but [`Delimiters::token`].
const SPECIAL: [bool; 256] = {
    let mut special = [false; 256];
    let bytes = b"\n \t\r/\"#'{([:})]";
    let mut i = 0;
    while i < bytes.len() {
        special[bytes[i] as usize] = true;
        i += 1;
    }
    special
};

/// What the pass found and how it repairs the text: every scanner records here.
struct Edits {
    file: FileId,
    /// The source's length, where appended bytes start.
    len: usize,
    /// Byte replacements (offset, new byte); an offset at the end appends.
    replaced: Vec<(usize, u8)>,
    /// Bytes appended after the end.
    appended: usize,
    /// Bytes inserted before an offset (stable: in order of insertion at one offset).
    inserts: Vec<(usize, u8)>,
    diagnostics: Vec<Diagnostic>,
    /// Unquoted words repaired into strings: (start, the words).
    texts: Vec<(usize, String)>,
}

impl Edits {
    fn new(file: FileId, len: usize) -> Edits {
        Edits {
            file,
            len,
            replaced: Vec::new(),
            appended: 0,
            inserts: Vec::new(),
            diagnostics: Vec::new(),
            texts: Vec::new(),
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn replace(&mut self, at: usize, byte: u8) {
        // A replacement past the end appends (a string closed at the end of the file shifts
        // its closers there): what is appended later goes after it, not over it.
        if at >= self.len + self.appended {
            self.appended = at + 1 - self.len;
        }
        self.replaced.push((at, byte));
    }

    /// Whether a repair already replaces the byte at `at`.
    fn replaces(&self, at: usize) -> bool {
        self.replaced.iter().any(|(a, _)| *a == at)
    }

    /// Repairs `from..to` to spaces (every byte of a multi-byte character too, so the text
    /// stays UTF-8).
    fn blank(&mut self, from: usize, to: usize) {
        self.replaced.extend((from..to).map(|i| (i, b' ')));
    }

    fn append(&mut self, byte: u8) {
        let end = self.len + self.appended;
        self.appended += 1;
        self.replaced.push((end, byte));
    }

    fn insert(&mut self, before: usize, byte: u8) {
        self.inserts.push((before, byte));
    }

    /// The repaired text (when anything was repaired) and what was reported.
    fn apply(self, source: &str) -> Lexical {
        let Edits {
            replaced,
            mut inserts,
            diagnostics,
            texts,
            ..
        } = self;
        let repaired = if replaced.is_empty() && inserts.is_empty() {
            None
        } else {
            let mut bytes = source.as_bytes().to_vec();
            for (at, byte) in replaced {
                if at < bytes.len() {
                    bytes[at] = byte;
                } else {
                    bytes.push(byte);
                }
            }
            // Insertions (closers where no white space could become one) shift what follows: rare
            // enough (many brackets left open on one line) that the spans after them may be off.
            inserts.sort_by_key(|(at, _)| *at);
            let mut out = Vec::with_capacity(bytes.len() + inserts.len());
            let mut from = 0;
            for (at, byte) in inserts {
                let at = at.min(bytes.len());
                out.extend_from_slice(&bytes[from..at]);
                out.push(byte);
                from = at;
            }
            out.extend_from_slice(&bytes[from..]);
            // Only ASCII bytes replace ASCII bytes (or are appended), so the text stays UTF-8.
            Some(String::from_utf8(out).unwrap_or_else(|_| source.to_string()))
        };
        Lexical {
            repaired,
            diagnostics,
            texts,
        }
    }
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
    fn a_string_left_open_at_the_end_of_the_file_keeps_its_closer() {
        // The `)` shifted past the end, then the `}` appended for the flow: both are kept.
        let source = "flow f for e {\n  let x = f(\"a)";
        let (text, found) = scanned(source);
        assert_eq!(
            found,
            [
                (Code::UnclosedDelimiter, "\"".to_string()),
                (Code::UnclosedDelimiter, "{".to_string())
            ]
        );
        assert_eq!(text, "flow f for e {\n  let x = f(\"a\")}");
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
