//! Habits from other languages, each one diagnostic with the fix: operators (`&&`, `=`),
//! words (`null`, `elif`), durations in words (`2 days`) and option values without quotes.

use super::*;

impl<'s> Parser<'s> {
    pub(super) fn push_foreign_operator(&self, op: &Pair<'_, Rule>, meant: &str) {
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

    pub(super) fn push_foreign_word(&self, word: &Pair<'_, Rule>, meant: &str, why: &str) {
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
    pub(super) fn option_value(&self, key: &Ident, value: Expr) -> Expr {
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
    /// A number literal: whole ones exactly as 64-bit integers; a whole one beyond them is
    /// E0113 (read on as a double so the rest of the file is still checked).
    pub(super) fn parse_number(&self, pair: &Pair<'_, Rule>) -> Num {
        let text = pair.as_str();
        if text.contains('.') {
            return Num::Float(text.parse().unwrap_or(0.0));
        }
        match text.parse::<i64>() {
            Ok(i) => Num::Int(i),
            Err(_) => {
                self.push(
                    Diagnostic::new(
                        Code::NumberTooLarge,
                        self.file,
                        span(pair),
                        format!("`{text}` is beyond the whole numbers flowc keeps exactly"),
                    )
                    .label("more than 64 bits")
                    .help(format!(
                        "whole numbers go up to {}; if this is an id, write it as text: `\"{text}\"`",
                        i64::MAX
                    )),
                );
                Num::Float(text.parse().unwrap_or(0.0))
            }
        }
    }

    pub(super) fn push_bad_duration(&self, pair: &Pair<'_, Rule>) -> i64 {
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

/// A duration written as text in words or as a duration (`"1 day"`, `"2h"`), as flow writes it
/// (`1d`, `2h`): what to suggest for a quoted duration.
pub(crate) fn written_duration(text: &str) -> Option<String> {
    let text = text.trim();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let word = text[digits.len()..].trim();
    let unit = duration_unit(word).or(["ms", "s", "m", "h", "d", "w"].into_iter().find(|u| *u == word))?;
    Some(format!("{digits}{unit}"))
}

/// The unit of a duration written in words (`days` → `d`).
pub(super) fn duration_unit(word: &str) -> Option<&'static str> {
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
pub(super) fn key_text(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}
