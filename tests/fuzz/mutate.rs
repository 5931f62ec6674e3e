//! Damaged flow sources: the seeds (the formatter corpus, the businesses' flows and the stdlib)
//! and the mutations applied to them.

#![allow(dead_code)]

use std::path::Path;

use proptest::prelude::*;

/// The formatter corpus (`tests/fmt/`), as text.
pub fn corpus_texts() -> Vec<String> {
    super::support::corpus()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Every seed: the formatter corpus, then every `.flow` of `flows/` and `stdlib/`.
pub fn seeds() -> Vec<String> {
    let mut texts = corpus_texts();
    for folder in ["flows", "stdlib"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut files: Vec<_> = walk(&dir);
        files.sort();
        texts.extend(files.iter().map(|p| std::fs::read_to_string(p).unwrap()));
    }
    texts
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a seed folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|x| x == "flow") {
            out.push(path);
        }
    }
    out
}

/// One change to a text: the kinds of damage an editor session or a bad merge does.
#[derive(Clone, Debug)]
pub enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Swap(usize, usize),
    Truncate(usize),
}

/// A random [`Mutation`], inserting tokens of the language more often than noise.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"\"\"",
        "{{",
        "}}",
        "//",
        "/*",
        "*/",
        "///",
        "\n",
        ",",
        ":",
        "=",
        "..",
        "step",
        "if",
        "else",
        "-",
        "not",
        "??",
        "é",
        "\\",
        "retry",
        "on",
        "after",
        "0",
        "99999999999999999999",
        "1.5h",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), token).prop_map(|(at, t)| Mutation::Insert(at, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// `text` with `mutations` applied in order (positions taken modulo the length).
pub fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Insert(at, token) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Swap(a, b) => {
                if !bytes.is_empty() {
                    let (a, b) = (a % bytes.len(), b % bytes.len());
                    bytes.swap(a, b);
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
        }
    }
    // Swapping bytes can split a character; the parser takes text, so repair it.
    String::from_utf8_lossy(&bytes).into_owned()
}
