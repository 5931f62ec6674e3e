//! What is wrong with a `flowc.toml`, as a diagnostic with a code (E0900-E0903), a span in the
//! file and a help that says what to write: serde's messages ("unknown field `x`, expected one
//! of ...") turned into the author's words, with the closest known key or value suggested.

use std::path::Path;

use crate::diagnostic::{render, Code, Diagnostic, FileId, RenderOptions, Sources};
use crate::syntax::Span;

use super::duration::REFUSED;
use super::ConfigError;

/// Which reading of the file failed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// As TOML at all.
    Syntax,
    /// As flowc's settings.
    Settings,
}

/// The error of reading `text` (the file at `path`) at `stage`, rendered with its source.
pub(super) fn invalid(path: &Path, text: &str, error: &toml::de::Error, stage: Stage) -> ConfigError {
    let range = error.span().unwrap_or(0..0);
    let span = Span::new(range.start.min(text.len()), range.end.min(text.len()));
    let diagnostic = diagnose(text, error.message(), span, stage);
    let mut sources = Sources::new();
    sources.add(path, text);
    let options = RenderOptions {
        color: false,
        ..RenderOptions::default()
    };
    ConfigError::Invalid {
        path: path.to_path_buf(),
        code: diagnostic.code,
        span: diagnostic.span,
        message: diagnostic.message.clone(),
        help: diagnostic.help.clone().unwrap_or_default(),
        rendered: render(&diagnostic, &sources, options).trim_end().to_string(),
    }
}

fn diagnose(text: &str, message: &str, span: Span, stage: Stage) -> Diagnostic {
    let table = table_at(text, span.start as usize);
    let written = text.get(span.range()).unwrap_or("").trim();
    let new = |code, message: String| Diagnostic::new(code, FileId(0), span, message);
    if stage == Stage::Syntax {
        let first = message.lines().next().unwrap_or(message).trim();
        let line = line_at(text, span.start as usize);
        let help = match line.split_once('=') {
            // `name = higherself`: text without its quotes.
            Some((key, value))
                if value.trim().starts_with(|c: char| c.is_alphabetic())
                    && !["true", "false"].contains(&value.trim()) =>
            {
                format!(
                    "write `{} = \"{}\"`: text is written in double quotes",
                    key.trim(),
                    value.trim()
                )
            }
            _ => "fix the TOML here: `key = value` lines under `[table]` headers, text in double quotes"
                .to_string(),
        };
        return new(
            Code::ConfigSyntax,
            format!("flowc.toml is not valid TOML: {first}"),
        )
        .label("here")
        .help(help);
    }
    if let Some(rest) = message.strip_prefix(REFUSED) {
        let (value, help) = rest.split_once('\n').unwrap_or((rest, ""));
        return new(Code::ConfigDuration, format!("`{value}` is not a duration"))
            .label("durations are written as in .flow files")
            .help(help);
    }
    if let Some((field, expected)) = named(message, "unknown field `") {
        if let Some(base) = field.strip_suffix("_seconds").filter(|b| expected.contains(b)) {
            let seconds = value_after(text, span.end as usize).unwrap_or("30");
            return new(
                Code::ConfigDuration,
                format!("`{field}` is written `{base}` with a duration in `{table}`"),
            )
            .label("a number of seconds")
            .help(format!(
                "write `{base} = \"{seconds}s\"`: durations are written as in .flow files"
            ));
        }
        let header = line_at(text, span.start as usize).trim();
        if header.starts_with('[') {
            // `[connectors.surveys]`: a table that does not exist.
            let written = header.split(']').next().unwrap_or(header).trim_start_matches('[');
            let parent = written.rsplit_once('.').map_or("", |(p, _)| p);
            let meant = |name: &str| match parent {
                "" => format!("[{name}]"),
                p => format!("[{p}.{name}]"),
            };
            let help = match closest(field, &expected) {
                Some(best) => format!("did you mean `{}`?", meant(best)),
                None => format!(
                    "the tables here are {}",
                    expected
                        .iter()
                        .map(|e| format!("`{}`", meant(e)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return new(Code::UnknownConfigKey, format!("unknown table `[{written}]`"))
                .label("not a table of flowc.toml")
                .help(help);
        }
        let help = match closest(field, &expected) {
            Some(best) => format!("did you mean `{best}`?"),
            None if expected.is_empty() => format!("remove `{field}`: `{table}` takes no keys"),
            None => format!("the keys of `{table}` are {}", listed(&expected)),
        };
        return new(
            Code::UnknownConfigKey,
            format!("unknown key `{field}` in `{table}`"),
        )
        .label("not a key of this table")
        .help(help);
    }
    if let Some((field, _)) = named(message, "missing field `") {
        // The span is the whole table: its header line is enough.
        let start = span.start as usize;
        let header = line_at(text, start);
        let span = Span::new(start, start + header.len());
        let table = header.trim();
        return Diagnostic::new(
            Code::InvalidConfigValue,
            FileId(0),
            span,
            format!("`{table}` needs `{field}`"),
        )
        .label(format!("`{field}` missing in this table"))
        .help(format!("add `{field} = ...` to `{table}`"));
    }
    if let Some((value, expected)) = named(message, "unknown variant `") {
        let key = key_at(text, span.start as usize);
        let help = match closest(value, &expected) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("write one of {}", listed(&expected)),
        };
        return new(
            Code::InvalidConfigValue,
            format!("`{value}` is not a value of `{key}` in `{table}`"),
        )
        .label("unknown value")
        .help(help);
    }
    let first = kinds_in_words(message.lines().next().unwrap_or(message).trim());
    let shown = if written.is_empty() {
        table.clone()
    } else {
        format!("`{written}`")
    };
    new(
        Code::InvalidConfigValue,
        format!("{shown} is not valid in `{table}`: {first}"),
    )
    .label("here")
    .help(match first.split_once("expected ") {
        Some((_, kind)) => format!("write {kind} here"),
        None => "write the value this setting takes (docs/connectors/ lists them)".to_string(),
    })
}

/// serde's names of kinds (`u32`, `a sequence`) in the words of a settings file.
fn kinds_in_words(message: &str) -> String {
    let mut out = message.to_string();
    for (serde, words) in [
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list such as `[\"a\", \"b\"]`"),
        ("expected a string", "expected text in double quotes"),
        ("invalid type: ", ""),
    ] {
        out = out.replace(serde, words);
    }
    out
}

/// `unknown field `x`, expected one of `a`, `b``: `x` and the expected names.
fn named<'m>(message: &'m str, lead: &str) -> Option<(&'m str, Vec<&'m str>)> {
    let rest = message.split(lead).nth(1)?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((name, expected))
}

fn listed(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word`, when it is close enough to be a typo.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The `[table]` header above `at`, as written (`[connectors.notion]`); the top level is
/// `flowc.toml`.
fn table_at(text: &str, at: usize) -> String {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    // A header itself (`[connectors.notoin]`) belongs to the table that holds it.
    let search = if before[line_start..].trim_start().starts_with('[') {
        &before[..line_start]
    } else {
        before
    };
    search
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.split(']')
                .next()
                .unwrap_or(l)
                .trim_start_matches('[')
                .to_string()
        })
        .map_or_else(|| "flowc.toml".to_string(), |t| format!("[{t}]"))
}

/// The line holding `at`, from `at` to its end when `at` starts it.
fn line_at(text: &str, at: usize) -> &str {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// The key of the `key = value` line holding `at`.
fn key_at(text: &str, at: usize) -> String {
    let before = text.get(..at).unwrap_or(text);
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    line.split('=').next().unwrap_or("").trim().to_string()
}

/// The value after the `=` following `at`, on its line.
fn value_after(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?;
    let line = rest.lines().next()?;
    let value = line.split_once('=')?.1.split('#').next()?.trim();
    (!value.is_empty() && value.chars().all(|c| c.is_ascii_digit())).then_some(value)
}
