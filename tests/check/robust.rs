//! The checker never panics, whatever the text: every corpus file, cut and spliced at many
//! places, is checked and rendered.

use std::path::Path;

use super::common::{check_one, render_all};

/// A small deterministic generator, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "\"",
    "\"\"\"",
    "{{",
    "}}",
    "yield 1",
    "fail \"x\"",
    "step",
    "let x =",
    ".",
    ",",
    "for e in [a] {",
    "retry 0",
    "timeout 0s",
    "after",
    "entity",
    "input.",
    "é",
    "\n",
    "??",
    "match x {",
];

#[test]
fn mutated_sources_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    let mut rng = Lcg(42);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        for _ in 0..12 {
            let mut mutated = text.clone();
            let mut at = rng.below(mutated.len());
            while !mutated.is_char_boundary(at) {
                at -= 1;
            }
            if rng.below(2) == 0 {
                let mut end = (at + rng.below(40)).min(mutated.len());
                while !mutated.is_char_boundary(end) {
                    end -= 1;
                }
                mutated.replace_range(at..end, "");
            } else {
                mutated.insert_str(at, PIECES[rng.below(PIECES.len())]);
            }
            let (sources, diagnostics) = check_one(&dir, "mutated.flow", &mutated);
            let _ = render_all(&sources, &diagnostics);
        }
    }
}

#[test]
fn absurdly_long_expressions_are_reported_not_crashed_on() {
    let terms = vec!["1"; 5000].join(" + ");
    let text = format!(
        "entity studio {{\n  databases Contacts\n}}\n\nflow f for studio {{\n  on manual\n  let x = {terms}\n  output {{ x }}\n}}\n"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/corpus");
    let (_, diagnostics) = check_one(&dir, "long.flow", &text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(
        diagnostics[0].message.contains("nested"),
        "{}",
        diagnostics[0].message
    );
}
