//! Tokens as the grammar reads them: blanks and comments between them, words, keywords,
//! punctuation, doc comments, whole numbers and durations.

use super::{Bail, Descent, Parse};
use crate::syntax::ast::{DurationLit, Ident};
use crate::syntax::Span;
use crate::value::parse_duration;

/// The grammar's reserved words (its `keyword` rule): never a name.
pub(super) fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "and"
            | "else"
            | "emit"
            | "entity"
            | "fail"
            | "false"
            | "flow"
            | "for"
            | "if"
            | "in"
            | "let"
            | "match"
            | "none"
            | "not"
            | "or"
            | "step"
            | "template"
            | "test"
            | "true"
            | "use"
            | "wait"
            | "yield"
    )
}

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

pub(super) fn is_word_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

impl<'s> Descent<'s> {
    /// The byte at `pos + ahead`, 0 past the end.
    pub(super) fn byte(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    pub(super) fn at(&self, text: &str) -> bool {
        self.bytes[self.pos..].starts_with(text.as_bytes())
    }

    /// Skips what the grammar's `WHITESPACE` skips between two tokens: blanks, line breaks,
    /// `// ...` and `/* ... */` (a `///` doc comment is a token). A comment left open is the
    /// grammar's to report.
    pub(super) fn skip(&mut self) -> Parse<()> {
        loop {
            match self.byte(0) {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' if self.byte(1) == b'/' && self.byte(2) != b'/' => {
                    let rest = &self.bytes[self.pos..];
                    self.pos += rest
                        .iter()
                        .position(|b| matches!(b, b'\n' | b'\r'))
                        .unwrap_or(rest.len());
                }
                b'/' if self.byte(1) == b'*' => {
                    let body = self.pos + 2;
                    let close = find(&self.bytes[body..], b"*/").ok_or(Bail)?;
                    self.pos = body + close + 2;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Takes `len` bytes as a token.
    pub(super) fn take(&mut self, len: usize) {
        self.pos += len;
        self.end = self.pos;
    }

    /// The word at the current position (empty if none), not taken.
    pub(super) fn peek_word(&self) -> &'s str {
        if !is_word_start(self.byte(0)) {
            return "";
        }
        let len = self.bytes[self.pos..]
            .iter()
            .position(|b| !is_word_char(*b))
            .unwrap_or(self.bytes.len() - self.pos);
        &self.source[self.pos..self.pos + len]
    }

    /// After blanks, the next word (empty if none), not taken.
    pub(super) fn next_word(&mut self) -> Parse<&'s str> {
        self.skip()?;
        Ok(self.peek_word())
    }

    /// Takes any word: a name (`name` in the grammar: keywords allowed, as in `with:`).
    pub(super) fn name(&mut self) -> Parse<Ident> {
        let word = self.next_word()?;
        if word.is_empty() {
            return Err(Bail);
        }
        let start = self.pos;
        self.take(word.len());
        Ok(Ident {
            name: word.to_string(),
            span: Span::new(start, self.end),
        })
    }

    /// Takes a word that is not reserved (`ident` in the grammar).
    pub(super) fn ident(&mut self) -> Parse<Ident> {
        if is_keyword(self.next_word()?) {
            return Err(Bail);
        }
        self.name()
    }

    /// Takes `ident ("," ident)*`.
    pub(super) fn ident_list(&mut self) -> Parse<Vec<Ident>> {
        let mut idents = vec![self.ident()?];
        let mut more = self.eat(",")?;
        while more {
            idents.push(self.ident()?);
            more = self.again(|p| p.eat(","))?;
        }
        Ok(idents)
    }

    /// Looks for a repetition's next round. The grammar's parser rolls back a round that does
    /// not match, blanks before it included, so unlike something optional (see
    /// [`Descent::absent`]), a repetition that matched once or more ends where its last
    /// round did.
    pub(super) fn again(&mut self, look: impl FnOnce(&mut Self) -> Parse<bool>) -> Parse<bool> {
        let end = self.end;
        let found = look(self)?;
        if !found {
            self.end = end;
        }
        Ok(found)
    }

    /// Takes the keyword, or gives up.
    pub(super) fn keyword(&mut self, word: &str) -> Parse<()> {
        if self.eat_keyword(word)? {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Takes the keyword if it is next. When it is not, the construct read so far ends after
    /// the blanks (see [`Descent::absent`]).
    pub(super) fn eat_keyword(&mut self, word: &str) -> Parse<bool> {
        if self.next_word()? == word {
            self.take(word.len());
            return Ok(true);
        }
        self.absent();
        Ok(false)
    }

    /// Something optional is not there. The grammar's parser skips the blanks and comments
    /// before looking for it, and keeps them skipped when it is absent, so a construct that
    /// ends with something optional, absent, ends after the blanks that follow it (pest's
    /// spans do, and the tree keeps them).
    pub(super) fn absent(&mut self) {
        self.end = self.pos;
    }

    /// Takes the punctuation, or gives up.
    pub(super) fn punct(&mut self, text: &str) -> Parse<()> {
        if self.eat(text)? {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Takes the punctuation if it is next (when it is not, see [`Descent::absent`]).
    pub(super) fn eat(&mut self, text: &str) -> Parse<bool> {
        self.skip()?;
        if self.at(text) {
            self.take(text.len());
            return Ok(true);
        }
        self.absent();
        Ok(false)
    }

    /// `ident ("." ident)*` without blanks (the grammar's `qualified` and `module_path`).
    pub(super) fn qualified(&mut self) -> Parse<Vec<Ident>> {
        let mut path = vec![self.ident()?];
        while self.byte(0) == b'.' && is_word_start(self.byte(1)) {
            self.pos += 1;
            let word = self.peek_word();
            if is_keyword(word) {
                return Err(Bail);
            }
            let start = self.pos;
            self.take(word.len());
            path.push(Ident {
                name: word.to_string(),
                span: Span::new(start, self.end),
            });
        }
        Ok(path)
    }

    /// `///` lines before a construct, as the tree keeps them.
    pub(super) fn docs(&mut self) -> Parse<Vec<String>> {
        let mut docs = Vec::new();
        loop {
            self.skip()?;
            if !self.at("///") {
                return Ok(docs);
            }
            let text_start = self.pos + 3;
            let text_end = self.bytes[text_start..]
                .iter()
                .position(|b| matches!(b, b'\n' | b'\r'))
                .map_or(self.bytes.len(), |at| text_start + at);
            let text = &self.source[text_start..text_end];
            docs.push(text.strip_prefix(' ').unwrap_or(text).trim_end().to_string());
            self.pos = text_end;
            let newline = if self.at("\r\n") {
                2
            } else {
                usize::from(text_end < self.bytes.len())
            };
            self.take(newline);
        }
    }

    /// The length of the run of digits at `pos + from`.
    fn digits(&self, from: usize) -> usize {
        self.bytes[(self.pos + from).min(self.bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// Takes a whole number (`int`: a retry count, a concurrency).
    pub(super) fn int(&mut self) -> Parse<(u32, Span)> {
        self.skip()?;
        let len = self.digits(0);
        if len == 0 || is_word_char(self.byte(len)) {
            return Err(Bail);
        }
        let start = self.pos;
        // Too large is the grammar's parser's to report.
        let value = self.source[start..start + len].parse().map_err(|_| Bail)?;
        self.take(len);
        Ok((value, Span::new(start, self.end)))
    }

    /// The length of a well-formed duration at the current position (`2d`, `1h30m`): digits
    /// and a unit, repeated, and no word character after. Anything else the grammar reads as
    /// a number or as a malformed duration.
    pub(super) fn duration_len(&self) -> Option<usize> {
        let mut len = 0;
        loop {
            let digits = self.digits(len);
            if digits == 0 {
                break;
            }
            let unit = match (self.byte(len + digits), self.byte(len + digits + 1)) {
                (b'm', b's') => 2,
                (b's' | b'm' | b'h' | b'd' | b'w', _) => 1,
                _ => break,
            };
            len += digits + unit;
        }
        (len > 0 && !is_word_char(self.byte(len))).then_some(len)
    }

    /// Takes a well-formed duration where only a duration may stand (`any_duration`).
    pub(super) fn duration(&mut self) -> Parse<DurationLit> {
        self.skip()?;
        let len = self.duration_len().ok_or(Bail)?;
        let start = self.pos;
        let ms = parse_duration(&self.source[start..start + len]).ok_or(Bail)?;
        self.take(len);
        Ok(DurationLit {
            ms,
            span: Span::new(start, self.end),
        })
    }

    /// A number with a fraction or a whole one, at the current position: its length, or none
    /// when the grammar would not read a plain number here (a word character after it: a
    /// duration or a malformed one; a duration in words: `2 days`).
    pub(super) fn number_len(&self) -> Option<usize> {
        let whole = self.digits(0);
        if whole == 0 {
            return None;
        }
        let mut len = whole;
        if self.byte(len) == b'.' && self.byte(len + 1).is_ascii_digit() {
            len += 1 + self.digits(len + 1);
        } else if self.spaced_duration(whole) {
            return None;
        }
        (!is_word_char(self.byte(len))).then_some(len)
    }

    /// Whether blanks and a unit in words follow the digits (`2 days`: the grammar's
    /// `spaced_duration`, a habit it reports).
    fn spaced_duration(&self, digits: usize) -> bool {
        let blanks = self.bytes[self.pos + digits..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        if blanks == 0 {
            return false;
        }
        let from = self.pos + digits + blanks;
        let len = self.bytes[from..]
            .iter()
            .take_while(|b| is_word_char(**b))
            .count();
        matches!(
            &self.source[from..from + len],
            "milliseconds"
                | "millisecond"
                | "millis"
                | "ms"
                | "seconds"
                | "second"
                | "secs"
                | "sec"
                | "minutes"
                | "minute"
                | "mins"
                | "min"
                | "hours"
                | "hour"
                | "hrs"
                | "hr"
                | "days"
                | "day"
                | "weeks"
                | "week"
                | "wks"
                | "wk"
        )
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
