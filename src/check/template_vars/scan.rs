//! The fast road: the usual subset of handlebars, read in one pass.

use super::{Arg, Block, Call, Element};

/// The tree of `body` when it is in the subset this reads and certainly compiles; `None` sends
/// it to handlebars.
pub(in crate::check) fn scan(body: &str) -> Option<Vec<Element>> {
    let mut scanner = Scanner {
        text: body.as_bytes(),
        at: 0,
    };
    let (elements, end) = scanner.elements()?;
    matches!(end, End::Eof).then_some(elements)
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

/// What ended a run of elements.
enum End {
    Eof,
    Else,
    Close(String),
}

/// Handlebars' `symbol_char`: what names are made of (any non-ASCII character too).
fn symbol_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b':') || b >= 0x80
}

fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn starts(&self, s: &[u8]) -> bool {
        self.text[self.at..].starts_with(s)
    }

    fn blanks(&mut self) {
        while self.peek().is_some_and(blank) {
            self.at += 1;
        }
    }

    fn find(&self, s: &[u8], from: usize) -> Option<usize> {
        self.text[from..]
            .windows(s.len())
            .position(|w| w == s)
            .map(|i| from + i)
    }

    fn elements(&mut self) -> Option<(Vec<Element>, End)> {
        let mut elements = Vec::new();
        loop {
            let Some(open) = self.find(b"{{", self.at) else {
                self.at = self.text.len();
                return Some((elements, End::Eof));
            };
            // `\{{` is an escape: not in the subset.
            if open > 0 && self.text[open - 1] == b'\\' {
                return None;
            }
            self.at = open + 2;
            if self.starts(b"!") {
                self.comment(open)?;
                continue;
            }
            if self.peek() == Some(b'~') {
                self.at += 1;
            }
            self.blanks();
            match self.peek()? {
                b'#' => {
                    self.at += 1;
                    elements.push(Element::Block(self.block()?));
                }
                b'/' => {
                    self.at += 1;
                    let name = self.identifier()?;
                    self.close()?;
                    return Some((elements, End::Close(name)));
                }
                _ if self.starts(b"else") => {
                    self.at += 4;
                    self.close()?;
                    return Some((elements, End::Else));
                }
                // Anything else is a call, which gives up on what does not start with a path.
                _ => elements.push(Element::Call(self.call()?)),
            }
        }
    }

    /// `{{!...}}` or `{{!-- ... --}}`, from just after `{{`.
    fn comment(&mut self, open: usize) -> Option<()> {
        if self.starts(b"!--") {
            if let Some(end) = self.find(b"--}}", open + 5) {
                self.at = end + 4;
                return Some(());
            }
        }
        self.at = self.find(b"}}", open + 3)? + 2;
        Some(())
    }

    /// The end of a mustache: blanks, an optional `~`, `}}`.
    fn close(&mut self) -> Option<()> {
        self.blanks();
        if self.peek() == Some(b'~') {
            self.at += 1;
        }
        self.starts(b"}}").then(|| self.at += 2)
    }

    /// `{{#name args as |a b|}}body{{else}}inverse{{/name}}`, from just after `#`.
    fn block(&mut self) -> Option<Block> {
        let name = self.identifier()?;
        let (args, locals) = self.arguments(true)?;
        let (body, end) = self.elements()?;
        let (inverse, end) = match end {
            End::Else => {
                let (inverse, end) = self.elements()?;
                (Some(inverse), end)
            }
            end => (None, end),
        };
        match end {
            End::Close(closing) if closing == name => {}
            _ => return None,
        }
        Some(Block {
            call: Call {
                name: Arg::Path(name),
                args,
                helper: true,
            },
            locals,
            body: Some(body),
            inverse,
        })
    }

    /// The arguments up to the end of the mustache, its `}}` included: the positional ones, then
    /// the hash's values by key; and the names of `as |a b|` where `block_params` allows it.
    fn arguments(&mut self, block_params: bool) -> Option<(Vec<Arg>, Vec<String>)> {
        let mut args = Vec::new();
        let mut hash = Vec::new();
        let mut locals = Vec::new();
        loop {
            let before = self.at;
            self.blanks();
            if self.starts(b"~}}") || self.starts(b"}}") {
                break;
            }
            // Each argument follows a blank.
            if self.at == before {
                return None;
            }
            if block_params && self.word_is(b"as") {
                self.at += 2;
                locals = self.block_params()?;
                break;
            }
            self.argument(&mut args, &mut hash)?;
        }
        self.close()?;
        hash.sort_by(|a: &(String, Arg), b| a.0.cmp(&b.0));
        args.extend(hash.into_iter().map(|(_, a)| a));
        Some((args, locals))
    }

    /// `|a|` or `|a b|`, after `as`.
    fn block_params(&mut self) -> Option<Vec<String>> {
        self.blanks();
        if self.peek() != Some(b'|') {
            return None;
        }
        self.at += 1;
        let mut names = Vec::new();
        loop {
            self.blanks();
            if self.peek() == Some(b'|') {
                self.at += 1;
                break;
            }
            names.push(self.identifier()?);
        }
        (1..=2).contains(&names.len()).then_some(names)
    }

    /// `{{name}}` or `{{helper args}}`, from the name.
    fn call(&mut self) -> Option<Call> {
        let start = self.at;
        let path = self.path()?;
        let (args, _) = self.arguments(false)?;
        // Arguments follow only a plain name; a name alone that handlebars would read as a
        // keyword or a literal is not in the subset.
        let refused = if args.is_empty() {
            path == "else" || path == "as" || self.literal_word(start)
        } else {
            path.bytes().any(|b| !symbol_char(b))
        };
        if refused {
            return None;
        }
        Some(Call {
            name: Arg::Path(path),
            helper: !args.is_empty(),
            args,
        })
    }

    /// Whether the word at `start` is `true`, `false`, `null` or a number.
    fn literal_word(&self, start: usize) -> bool {
        let end = self.text[start..]
            .iter()
            .position(|&b| !symbol_char(b))
            .map_or(self.text.len(), |i| start + i);
        let word = &self.text[start..end];
        matches!(word, b"true" | b"false" | b"null")
            || word.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    }

    /// Whether the next word is exactly `word`.
    fn word_is(&self, word: &[u8]) -> bool {
        self.starts(word)
            && !self
                .text
                .get(self.at + word.len())
                .copied()
                .is_some_and(symbol_char)
    }

    /// One positional argument or `key=value`.
    fn argument(&mut self, args: &mut Vec<Arg>, hash: &mut Vec<(String, Arg)>) -> Option<()> {
        if self.word_is(b"as") || self.word_is(b"else") {
            return None;
        }
        let start = self.at;
        let end = self.text[start..]
            .iter()
            .position(|&b| !symbol_char(b))
            .map_or(self.text.len(), |i| start + i);
        let mut after = end;
        while self.text.get(after).copied().is_some_and(blank) {
            after += 1;
        }
        if end > start && self.text.get(after) == Some(&b'=') {
            let key = std::str::from_utf8(&self.text[start..end]).ok()?.to_string();
            // A key given twice: handlebars keeps the last; not in the subset.
            if hash.iter().any(|(k, _)| *k == key) {
                return None;
            }
            self.at = after + 1;
            self.blanks();
            let value = self.value()?;
            hash.push((key, value));
        } else {
            args.push(self.value()?);
        }
        Some(())
    }

    /// A string, a number, `true`/`false`/`null`, or a path.
    fn value(&mut self) -> Option<Arg> {
        match self.peek()? {
            b'"' => {
                // Plain strings only: escapes and control characters go to handlebars.
                let end = self.at + 1 + self.text[self.at + 1..].iter().position(|&b| b == b'"')?;
                let inner = &self.text[self.at + 1..end];
                if inner.iter().any(|&b| b == b'\\' || b < 0x20) {
                    return None;
                }
                self.at = end + 1;
                self.ends_token().then_some(Arg::Literal)
            }
            b'0'..=b'9' | b'-' => {
                // A whole number as JSON writes it; anything else goes to handlebars.
                if self.peek() == Some(b'-') {
                    self.at += 1;
                }
                let digits = self.at;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.at += 1;
                }
                let n = self.at - digits;
                let ok =
                    n > 0 && (n == 1 || self.text[digits] != b'0') && !self.peek().is_some_and(symbol_char);
                (ok && self.ends_token()).then_some(Arg::Literal)
            }
            _ if self.word_is(b"true") || self.word_is(b"false") || self.word_is(b"null") => {
                while self.peek().is_some_and(symbol_char) {
                    self.at += 1;
                }
                self.ends_token().then_some(Arg::Literal)
            }
            _ => {
                let path = self.path()?;
                self.ends_token().then_some(Arg::Path(path))
            }
        }
    }

    /// Whether the cursor is at a blank, `~` or `}}`: the end of an argument.
    fn ends_token(&self) -> bool {
        self.peek().is_some_and(|b| blank(b) || b == b'~') || self.starts(b"}}")
    }

    fn identifier(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(symbol_char) {
            self.at += 1;
        }
        self.text_from(start).filter(|s| !s.is_empty())
    }

    fn text_from(&self, start: usize) -> Option<String> {
        std::str::from_utf8(&self.text[start..self.at])
            .ok()
            .map(str::to_string)
    }

    /// A path as handlebars' `path_inline` reads it: `this.`/`./`, `@root.`, `@`, `../`s, then
    /// names joined by `.` or `/` (`[key]` segments go to handlebars).
    fn path(&mut self) -> Option<String> {
        let start = self.at;
        if self.starts(b"this.") || self.starts(b"this/") {
            self.at += 5;
        } else if self.starts(b"./") {
            self.at += 2;
        }
        if self.starts(b"@root.") || self.starts(b"@root/") {
            self.at += 6;
        }
        if self.peek() == Some(b'@') {
            self.at += 1;
        }
        // `..` and a separator: `../` (or `...`, which handlebars reads the same way).
        while self.starts(b"../") || self.starts(b"...") {
            self.at += 3;
        }
        loop {
            let segment = self.at;
            while self.peek().is_some_and(symbol_char) {
                self.at += 1;
            }
            if self.at == segment {
                return None;
            }
            match (self.peek(), self.text.get(self.at + 1).copied()) {
                (Some(b'.' | b'/'), Some(next)) if symbol_char(next) => self.at += 1,
                (Some(b'.' | b'/' | b'['), _) => return None,
                _ => break,
            }
        }
        self.text_from(start)
    }
}
