//! `format_date(value, format, zone)`: the format's specifiers (E0305) and the time zone (E0701)
//! are checked when written literally, so a typo fails here rather than in a client's email.

use chrono::format::{Item, StrftimeItems};

use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::syntax::ast::Expr;
use crate::syntax::Span;
use crate::time_zone::Zone;

use super::flow::FlowChecker;
use super::suggest;

/// The first specifier of `format` that chrono does not know, if any.
pub(crate) fn invalid_specifier(format: &str) -> Option<String> {
    if !StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return None;
    }
    // Find which `%` sequence is wrong, to name it.
    let mut chars = format.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            continue;
        }
        let end = format[i + 1..]
            .char_indices()
            .find(|(_, c)| c.is_ascii_alphabetic() || *c == '%' || *c == '+')
            .map_or(format.len(), |(j, c)| i + 1 + j + c.len_utf8());
        let spec = &format[i..end];
        if StrftimeItems::new(spec).any(|item| matches!(item, Item::Error)) {
            return Some(spec.to_string());
        }
        while chars.peek().is_some_and(|(j, _)| *j < end) {
            chars.next();
        }
    }
    Some(format.to_string())
}

impl<'a> FlowChecker<'_, 'a> {
    /// Checks the literal format and time zone of a `format_date` call.
    pub fn check_date_format(&mut self, args: &'a [Expr]) {
        if let Some(format) = args.get(1) {
            if let Some(spec) = format.as_plain_str().as_deref().and_then(invalid_specifier) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidDateFormat,
                        self.file,
                        format.span,
                        format!("`{spec}` is not a date format specifier"),
                    )
                    .label("unknown specifier")
                    .help("use strftime specifiers, e.g. `\"%A %-d %B %Y\"` (Thursday 3 December 2026) or `\"%H:%M\"`; write `%%` for a literal `%`"),
                );
            }
        }
        if let Some(zone) = args.get(2) {
            if let Some(name) = zone.as_plain_str() {
                if let Some(d) = unknown_time_zone(self.file, zone.span, &name) {
                    self.push(d);
                }
            }
        }
    }
}

/// E0701 for a zone name written literally (in `format_date` or `on schedule ... in`) that the
/// time zone database does not have.
pub(crate) fn unknown_time_zone(file: FileId, span: Span, name: &str) -> Option<Diagnostic> {
    if Zone::exists(name) {
        return None;
    }
    let help = suggest::help_or(name, Zone::names(), || {
        "use an IANA time zone name such as `\"Europe/London\"` or `\"UTC\"`".to_string()
    });
    Some(
        Diagnostic::new(
            Code::UnknownTimezone,
            file,
            span,
            format!("unknown time zone `{name}`"),
        )
        .label("not in the IANA time zone database")
        .help(help),
    )
}

#[cfg(test)]
mod tests {
    use super::invalid_specifier;

    #[test]
    fn names_the_wrong_specifier() {
        assert_eq!(invalid_specifier("%A %-d %B"), None);
        assert_eq!(invalid_specifier("%d %Q %Y").as_deref(), Some("%Q"));
        assert_eq!(invalid_specifier("100%%"), None);
    }
}
