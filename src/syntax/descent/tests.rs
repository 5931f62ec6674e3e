//! The fast path against the grammar: whenever it returns a tree, the grammar's parser must
//! return the same tree, span for span, and no diagnostic. Checked on every `.flow` text of
//! the repository (flows, stdlib, examples, tests, the docs' examples) and on damaged copies
//! of each of their declarations.

use std::path::{Path, PathBuf};

use super::parse;
use crate::diagnostic::FileId;
use crate::syntax::parser::parse_with_grammar;

/// Whether the fast path agrees with the grammar on `source`: `Ok(true)` when it read it,
/// `Ok(false)` when it left it to the grammar.
fn agrees(source: &str) -> Result<bool, String> {
    // As `parse_recovering` does: what the lexical pass reports or repairs is the grammar's.
    let lexical = crate::syntax::lexical::scan(source, FileId(0));
    if lexical.repaired.is_some() || !lexical.diagnostics.is_empty() {
        return Ok(false);
    }
    let Some(fast) = parse(source) else {
        return Ok(false);
    };
    let grammar = parse_with_grammar(source, FileId(0));
    if !grammar.diagnostics.is_empty() {
        return Err(format!(
            "the fast path read a file the grammar reports: {:?}\n--- source\n{source}",
            grammar.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
        ));
    }
    if grammar.module != fast {
        let (want, got) = (format!("{:#?}", grammar.module), format!("{fast:#?}"));
        let (want, got): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
        let at = want
            .iter()
            .zip(&got)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        let from = at.saturating_sub(12);
        return Err(format!(
            "the trees differ at line {at}\n--- source\n{source}\n--- grammar\n{}\n--- fast path\n{}",
            want[from..(at + 3).min(want.len())].join("\n"),
            got[from..(at + 3).min(got.len())].join("\n"),
        ));
    }
    Ok(true)
}

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            flow_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
}

/// The ```flow blocks of a Markdown page.
fn flow_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().starts_with("```flow") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// Every `.flow` text of the repository.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["flows", "stdlib", "examples", "tests"] {
        flow_files(&root.join(dir), &mut files);
    }
    files.sort();
    let mut texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|path| Some((path.display().to_string(), std::fs::read_to_string(path).ok()?)))
        .collect();
    let mut pages = Vec::new();
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    for page in pages {
        let markdown = std::fs::read_to_string(&page).unwrap_or_default();
        for (i, block) in flow_blocks(&markdown).into_iter().enumerate() {
            texts.push((format!("{} block {}", page.display(), i + 1), block));
        }
    }
    texts
}

#[test]
fn every_flow_text_of_the_repository_parses_as_the_grammar_parses_it() {
    let corpus = corpus();
    assert!(corpus.len() > 100, "only {} texts found", corpus.len());
    let mut read = 0;
    for (name, source) in &corpus {
        match agrees(source) {
            Ok(fast) => read += usize::from(fast),
            Err(e) => panic!("{name}: {e}"),
        }
        // Saved on Windows: a line break is `\r\n`.
        if let Err(e) = agrees(&source.replace('\n', "\r\n")) {
            panic!("{name}, with CRLF line breaks: {e}");
        }
    }
    // Most texts are well formed (the others are the test corpus of mistakes): the fast path
    // must read them, or it saves nothing.
    assert!(
        read * 2 > corpus.len(),
        "the fast path read {read} of {}",
        corpus.len()
    );
}

#[test]
fn the_businesses_flows_and_the_stdlib_take_the_fast_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    flow_files(&root.join("flows"), &mut files);
    flow_files(&root.join("stdlib"), &mut files);
    assert!(files.len() >= 9);
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(agrees(&source), Ok(true), "{}", path.display());
        let crlf = source.replace('\n', "\r\n");
        assert_eq!(
            agrees(&crlf),
            Ok(true),
            "{}, with CRLF line breaks",
            path.display()
        );
    }
}

/// A small deterministic generator, so that a failure names a reproducible case.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// What authors slip in or leave out.
const INSERTS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "=",
    "==",
    "!",
    "&&",
    "||",
    "-",
    ".",
    "..",
    "\n",
    " ",
    "/",
    "//",
    "/*",
    "#",
    "'",
    "?",
    "??",
    "|",
    "=>",
    ";",
    "_",
    "0",
    "9x",
    "2 days",
    "1.5",
    "\\",
    "{{",
    "}}",
    "\"\"\"",
    "if ",
    "else ",
    "elif ",
    "step ",
    "on ",
    "on error ",
    "not ",
    "in ",
    "and ",
    "or ",
    "null",
    "True",
    "none",
    "wait ",
    "for ",
    "after ",
    "retry 2 ",
    "timeout 1s ",
    "fallback ",
    "no jitter ",
    "as ",
    "///",
    "x",
    "Status: Done",
];

/// Damaged copies of `source`: a byte removed, a line removed, a slip inserted, two
/// characters swapped.
fn damaged(source: &str, rng: &mut Lcg, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    let boundaries: Vec<usize> = (0..=source.len())
        .filter(|i| source.is_char_boundary(*i))
        .collect();
    for _ in 0..count {
        let at = boundaries[rng.below(boundaries.len())];
        let mut text = source.to_string();
        match rng.below(4) {
            0 => {
                if let Some(c) = text[at..].chars().next() {
                    text.replace_range(at..at + c.len_utf8(), "");
                }
            }
            1 => {
                let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                text.replace_range(start..end, "");
            }
            2 => text.insert_str(at, INSERTS[rng.below(INSERTS.len())]),
            _ => {
                let mut chars = text[at..].chars();
                if let (Some(a), Some(b)) = (chars.next(), chars.next()) {
                    text.replace_range(at..at + a.len_utf8() + b.len_utf8(), &format!("{b}{a}"));
                }
            }
        }
        out.push(text);
    }
    out
}

#[test]
fn damaged_declarations_are_read_as_the_grammar_reads_them_or_left_to_it() {
    let mut rng = Lcg(0x5eed);
    let mut checked = 0;
    for (name, source) in corpus() {
        let grammar = parse_with_grammar(&source, FileId(0));
        for item in &grammar.module.items {
            let Some(text) = source.get(item.span().range()) else {
                continue;
            };
            for copy in damaged(text, &mut rng, 12) {
                if let Err(e) = agrees(&copy) {
                    panic!("{name}, a damaged declaration: {e}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "only {checked} damaged copies");
}

#[test]
fn what_the_grammar_reads_as_a_habit_is_left_to_it() {
    for source in [
        "flow f for e {\n  if a && b { fail \"x\" }\n}\n",
        "flow f for e {\n  if a = 1 { fail \"x\" }\n}\n",
        "flow f for e {\n  let x = null\n}\n",
        "flow f for e {\n  wait 2 days\n}\n",
        "flow f for e {\n  wait 5mins\n}\n",
        "flow f for e {\n  if a { fail \"x\" } elif b { fail \"y\" }\n}\n",
        "flow f for e {\n  on webhook /hooks/x unverified\n}\n",
        "flow f for e {\n  step s = notion.create_page(db: Task, properties: { Status: Done })\n}\n",
        "flow f for e {\n  let x = { a b }\n}\n",
        "flow f for e {\n  let x = 99999999999999999999\n}\n",
        "flow f for e {\n  input { a: text }\n  input { b: text }\n}\n",
        "flow f for e {\n  let x = !a\n}\n",
    ] {
        assert_eq!(parse(source), None, "{source}");
        assert!(
            !parse_with_grammar(source, FileId(0)).diagnostics.is_empty(),
            "{source}"
        );
    }
}

#[test]
fn the_grammars_corners_read_the_same() {
    for source in [
        // A duration alone after `timeout`, and one computed.
        "flow f for e {\n  step s = a.b()\n    timeout 30s\n  step t = a.b()\n    timeout (2d)\n  step u = a.b() timeout input.d - 1m\n}\n",
        // Braces with a field are a record value, other braces a block.
        "flow f for e {\n  step s = a.b() fallback { id: \"x\" }\n  step t = a.b() fallback {\n    yield 1\n  }\n}\n",
        // `on error` after a retry is the handler, not the retry's classes.
        "flow f for e {\n  step s = a.b()\n    retry 3 times backoff 1s..1m factor 1.5 no\n jitter on transient, rate_limited\n  on error {\n    fail \"x\"\n  }\n}\n",
        // Precedence: `not` below comparisons, `??` to the right, `-` folded into literals.
        "flow f for e {\n  let a = not x == 1 and y or -2 * -z.w[0] ?? b ?? c - -1d\n  let b = if a { 1 } else if b { 2 } else { 3 }\n}\n",
        // Calls across blanks and comments, keywords as field names, quoted fields.
        "flow f for e {\n  let a = len /* n */ (x).in.\"a b\"\n  let b = { if: 1, \"x y\": 2 z }\n}\n",
        // Strings: escapes, interpolations, triple quotes.
        "flow f for e {\n  let a = \"a\\\"b\\n{{ x.y + 1 }}\\{\\{c\"\n  let b = \"\"\"\n    two\n      lines\n    \"\"\"\n}\n",
        // Match values and statements, docs everywhere they may be.
        "/// e\nentity e \"E\" {\n  grant read_write A to x\n  databases A, B,\n  /// s\n  setting s = [1, 2,]\n}\n/// f\nflow f for e {\n  /// m\n  match x {\n    /// one\n    1 | 2 => { yield match y { \"a\" => 1, _ => 2 } }\n    _ => {}\n  }\n}\n",
        // Tests: events with and without payloads, stubs, expectations.
        "test \"t\" for f {\n  input { a: 1 }\n  start at \"2026-01-01T00:00:00Z\"\n  stub a.b returns 1 then fails transient \"x\" 2 times then hangs\n  stub step s returns none\n  send event \"e\"\n  send event \"e\" { a: 1 } after 2d\n  expect step s ran\n  expect call a.b 2 times with { x: 1 }\n  expect no call a.c\n  expect no == 1\n}\n",
        // Templates and modules.
        "use stdlib.contacts as people\ntemplate t {\n  subject \"Hi \\\"{{name}}\\\"\"\n  text \"\"\"\n    Hello\n  \"\"\"\n  example { name: \"M\" }\n}\n",
        // Triggers and input types.
        "flow f for e {\n  on webhook \"/x\" verified by k\n  on notion Task changed \"Status\" to \"Done\"\n  on schedule \"0 9 * * *\" in \"Europe/London\"\n  on manual\n  on event \"a.b\"\n  input {\n    /// a\n    a: [{ b: text?, c: number = 2 }]?,\n    d: text = \"x\"\n  }\n  output { a }\n}\n",
    ] {
        assert_eq!(agrees(source), Ok(true), "{source}");
    }
}

#[test]
fn absurd_nesting_is_left_to_the_grammar_without_overflowing_the_stack() {
    for (open, close) in [
        ("(", ")"),
        ("[", "]"),
        ("{ a: ", " }"),
        ("- ", ""),
        ("not ", ""),
        ("a ?? ", ""),
        ("a + ", ""),
        ("a.b", ""),
        ("if a { 1 } else if b { 2 } else { ", " }"),
    ] {
        let deep = format!(
            "flow f for e {{\n  let x = {}1{}\n}}\n",
            open.repeat(20_000),
            close.repeat(20_000)
        );
        assert_eq!(parse(&deep), None, "{open}");
        // Just under the bound, the same text is read.
        let shallow = format!(
            "flow f for e {{\n  let x = {}1{}\n}}\n",
            open.repeat(30),
            close.repeat(30)
        );
        assert_eq!(agrees(&shallow), Ok(true), "{open}");
    }
}
