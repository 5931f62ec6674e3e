//! The corpus: one mistake per file, named after the code it shows (`e0201_typo.flow`), each with
//! a reviewed snapshot of the source and the rendered diagnostics.

use std::path::Path;

use flowc::diagnostic::Code;

use super::common::{check_one, render_all};

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/corpus")
}

fn corpus_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(corpus_dir())
        .expect("the corpus folder exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).expect("corpus files are readable");
            (name, text)
        })
        .collect();
    files.sort();
    files
}

fn code_of(name: &str) -> Option<Code> {
    Code::parse(name.split('_').next()?)
}

#[test]
fn every_code_has_a_corpus_file() {
    let files = corpus_files();
    for code in Code::ALL {
        assert!(
            files.iter().any(|(name, _)| code_of(name) == Some(*code)),
            "no corpus file for {code} (name it `{}_what.flow`)",
            code.as_str().to_lowercase()
        );
    }
}

#[test]
fn corpus_snapshots() {
    let root = corpus_dir();
    let mut failures = Vec::new();
    for (name, text) in corpus_files() {
        let Some(code) = code_of(&name) else {
            failures.push(format!(
                "{name}: the name must start with the code it shows, e.g. `e0201_`"
            ));
            continue;
        };
        let (sources, diagnostics) = check_one(&root, &name, &text);
        if diagnostics.is_empty() {
            failures.push(format!("{name}: no diagnostics"));
            continue;
        }
        if !diagnostics.iter().any(|d| d.code == code) {
            failures.push(format!("{name}: does not yield {code}"));
        }
        let rendered = render_all(&sources, &diagnostics);
        let snapshot = format!("{text}\n{}\n{rendered}", "-".repeat(100));
        insta::with_settings!({
            snapshot_path => "snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name.trim_end_matches(".flow"), snapshot);
        });
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
