//! What a syntax error costs the rest of the file: the names whose declaration was lost to it,
//! so the checker does not report their uses as unknown (one mistake, one diagnostic).

use crate::diagnostic::{Code, Diagnostic};

/// Names declared by statements that did not parse (`step client = ...` with a typo inside), in
/// one file. Their uses are not "unknown": the author did declare them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LostNames {
    names: Vec<String>,
}

impl LostNames {
    /// Whether `name` was declared by a statement lost to a syntax error.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Whether no declaration was lost.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `diagnostic` (of the file these names belong to, whose text is `text`) follows
    /// from a lost declaration: an unknown name or step that is one of them.
    pub fn explains(&self, diagnostic: &Diagnostic, text: &str) -> bool {
        matches!(diagnostic.code, Code::UnknownName | Code::UnknownStep)
            && text
                .get(diagnostic.span.range())
                .is_some_and(|name| self.contains(name))
    }

    /// Notes the name a broken line declares, if it declares one (`step NAME =`, `let NAME =`,
    /// with the keyword possibly misspelt).
    pub(crate) fn note_line(&mut self, text: &str) {
        // A broken line may have swallowed a whole block (`bad_braces`), with its declarations.
        for line in text.lines() {
            self.note_one(line);
        }
    }

    fn note_one(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let (Some(keyword), Some(name), Some(rest)) = (words.next(), words.next(), words.next()) else {
            return;
        };
        let declares = ["step", "let"]
            .iter()
            .any(|k| *k == keyword || (keyword.len() >= 2 && strsim::damerau_levenshtein(keyword, k) <= 1));
        let name_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty();
        if declares && name_ok && rest.starts_with('=') && !self.contains(name) {
            self.names.push(name.to_string());
        }
    }
}

/// Statement and clause keywords a misspelling may be meant as.
const KEYWORDS: &[&str] = &[
    "after",
    "backoff",
    "changed",
    "concurrency",
    "created",
    "databases",
    "else",
    "emit",
    "entity",
    "event",
    "expect",
    "fail",
    "fallback",
    "flow",
    "for",
    "grant",
    "if",
    "input",
    "jitter",
    "let",
    "manual",
    "match",
    "notion",
    "on",
    "output",
    "retry",
    "schedule",
    "setting",
    "step",
    "stub",
    "template",
    "test",
    "timeout",
    "until",
    "use",
    "wait",
    "webhook",
    "yield",
];

/// The keyword `found` is probably a misspelling of.
pub(crate) fn misspelt_keyword(found: &str) -> Option<&'static str> {
    if found.len() < 2 || KEYWORDS.contains(&found) {
        return None;
    }
    let lower = found.to_ascii_lowercase();
    if KEYWORDS.contains(&lower.as_str()) {
        return KEYWORDS.iter().find(|k| **k == lower).copied();
    }
    KEYWORDS
        .iter()
        .map(|k| (k, strsim::damerau_levenshtein(&lower, k)))
        .filter(|(k, d)| *d <= 1 + k.len() / 5)
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| *k)
}

/// Whether a `///` comment at the start of `rest` documents a construct (whose own line is then
/// the one to blame if it does not parse).
pub(crate) fn doc_precedes_construct(rest: &str) -> bool {
    let next = rest
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with("///"));
    let Some(next) = next else { return false };
    let word: String = next
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    // Any word: a documented construct, a field, or a misspelt keyword; not a closing brace.
    !word.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_declarations_lose_their_names() {
        let mut lost = LostNames::default();
        lost.note_line("  step client = notion.find(db: X match: {})");
        lost.note_line("stpe task = notion.create_page(");
        lost.note_line("  let total = a +");
        lost.note_line("  output { client }");
        lost.note_line("  if x == 1 {");
        assert!(lost.contains("client") && lost.contains("task") && lost.contains("total"));
        assert!(!lost.contains("x") && !lost.contains("output"));
    }

    #[test]
    fn misspellings_are_matched_to_keywords() {
        assert_eq!(misspelt_keyword("stpe"), Some("step"));
        assert_eq!(misspelt_keyword("retyr"), Some("retry"));
        assert_eq!(misspelt_keyword("fallbak"), Some("fallback"));
        assert_eq!(misspelt_keyword("Step"), Some("step"));
        assert_eq!(misspelt_keyword("client"), None);
        assert_eq!(misspelt_keyword("step"), None);
    }
}
