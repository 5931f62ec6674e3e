//! The comments of a `.flow` file: the grammar skips `//` and `/* */` implicitly, so they are
//! not in the AST; this lexical scan finds them (outside strings, raw strings and `///` docs) so
//! the formatter can put each one back.

/// One `//` or `/* */` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of the first `/`.
    pub start: u32,
    /// One past its last byte (before the line break of a `//` comment).
    pub end: u32,
    /// The comment as written, `//` or `/* */` included.
    pub text: String,
    /// Written inside a string's `{{ }}` interpolation, where the formatter cannot keep it.
    pub in_interpolation: bool,
}

impl Comment {
    /// Whether it is a `//` comment, which runs to the end of its line.
    pub fn is_line(&self) -> bool {
        self.text.starts_with("//")
    }
}

/// Every comment of `source`, in order.
pub fn comments(source: &str) -> Vec<Comment> {
    let mut scanner = Scanner {
        src: source.as_bytes(),
        source,
        at: 0,
        out: Vec::new(),
    };
    scanner.code(false, 0);
    scanner.out
}

struct Scanner<'s> {
    src: &'s [u8],
    source: &'s str,
    at: usize,
    out: Vec<Comment>,
}

impl Scanner<'_> {
    fn starts(&self, s: &str) -> bool {
        self.src[self.at..].starts_with(s.as_bytes())
    }

    /// Code until the end of input or, inside an interpolation, its closing `}}`. Interpolations
    /// nest (a string inside `{{ }}` may hold another), so depth bounds the recursion.
    fn code(&mut self, interpolation: bool, depth: usize) {
        let mut braces = 0usize;
        while self.at < self.src.len() {
            if self.starts("///") {
                self.skip_line();
            } else if self.starts("//") {
                let start = self.at;
                self.skip_line();
                self.push(start, interpolation);
            } else if self.starts("/*") {
                let start = self.at;
                self.at = match self.source[start + 2..].find("*/") {
                    Some(i) => start + 2 + i + 2,
                    None => self.src.len(),
                };
                self.push(start, interpolation);
            } else if self.starts("\"\"\"") {
                self.at = match self.source[self.at + 3..].find("\"\"\"") {
                    Some(i) => self.at + 3 + i + 3,
                    None => self.src.len(),
                };
            } else if self.starts("\"") {
                self.at += 1;
                self.string(depth);
            } else if interpolation && braces == 0 && self.starts("}}") {
                self.at += 2;
                return;
            } else {
                match self.src[self.at] {
                    b'{' => braces += 1,
                    b'}' => braces = braces.saturating_sub(1),
                    _ => {}
                }
                self.at += 1;
            }
        }
    }

    /// A `"` string after its opening quote: escapes, `{{ }}` interpolations, the closing quote.
    fn string(&mut self, depth: usize) {
        while self.at < self.src.len() {
            match self.src[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return;
                }
                b'\n' | b'\r' => return,
                b'{' if self.starts("{{") && depth < 64 => {
                    self.at += 2;
                    self.code(true, depth + 1);
                }
                _ => self.at += 1,
            }
        }
        self.at = self.at.min(self.src.len());
    }

    fn skip_line(&mut self) {
        while self.at < self.src.len() && !matches!(self.src[self.at], b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn push(&mut self, start: usize, in_interpolation: bool) {
        let mut end = self.at.min(self.src.len());
        // Trailing spaces are not part of what a line comment says (the formatter drops them).
        if self.src[start..end].starts_with(b"//") {
            while end > start + 2 && matches!(self.src[end - 1], b' ' | b'\t') {
                end -= 1;
            }
        }
        self.out.push(Comment {
            start: start as u32,
            end: end as u32,
            text: self.source[start..end].to_string(),
            in_interpolation,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<String> {
        comments(source).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn finds_line_and_block_comments_but_not_docs() {
        let src = "/// doc\n// one\nlet x = 1 /* two */ // three\n";
        assert_eq!(texts(src), ["// one", "/* two */", "// three"]);
    }

    #[test]
    fn skips_strings_and_raw_strings() {
        let src = "let u = \"http://x /* no */\" // yes\nlet r = \"\"\"\n // no\n\"\"\"\n";
        assert_eq!(texts(src), ["// yes"]);
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        assert_eq!(texts(r#"let a = "a \" // no" // yes"#), ["// yes"]);
    }

    #[test]
    fn comments_in_interpolations_are_marked() {
        let found = comments("let a = \"x {{ b /* c */ }} {{ \"{{ d }}\" }}\" // e\n");
        assert_eq!(found.len(), 2);
        assert!(found[0].in_interpolation);
        assert!(!found[1].in_interpolation);
    }

    #[test]
    fn unterminated_things_end_at_the_end() {
        assert_eq!(texts("/* open"), ["/* open"]);
        assert!(texts("\"\"\" open // x").is_empty());
        assert!(texts("\"open {{ x").is_empty());
    }

    #[test]
    fn trailing_spaces_are_not_part_of_a_line_comment() {
        let found = comments("// a  \t\nx");
        assert_eq!((found[0].text.as_str(), found[0].end), ("// a", 4));
    }

    #[test]
    fn carriage_returns_end_line_comments() {
        assert_eq!(texts("// a\r\n// b"), ["// a", "// b"]);
    }
}
