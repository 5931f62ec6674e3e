//! The ui corpus: one realistic mistake per file, each with a reviewed snapshot of what users see,
//! and the goal of issue 11 held for every file: exactly one diagnostic, with the expected code,
//! whose primary span is on the line of the mistake, with a help line.
//!
//! Each file starts with its expectation, e.g.
//! `// expect E0105 at line 58 in a copy of flows/lead_nurturing.flow`: the code, the line of the
//! mistake (counting this first line), and optionally the project file it is a copy of. A copy is
//! checked inside this repository's own project (flowc.toml, the Notion schema, every other flow
//! and stdlib file), replacing the original; a file without `in a copy of` is checked alone.

use std::path::PathBuf;

use flowc::config::Config;
use flowc::diagnostic::{position, Code, Diagnostic, Sources};
use flowc::{Project, Registry};

use super::common::{check_one, render_all};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    repo_root().join("tests/check/corpus")
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

/// What a corpus file's first line promises.
#[derive(Debug)]
struct Expectation {
    code: Code,
    line: usize,
    copy_of: Option<String>,
}

const FORMAT: &str = "the first line must be `// expect CODE at line N` (optionally followed by \
                      `in a copy of flows/NAME.flow`)";

fn expectation(text: &str) -> Result<Expectation, String> {
    let first = text.lines().next().unwrap_or("");
    let words: Vec<&str> = first.split_whitespace().collect();
    let after = |word: &str| {
        words
            .iter()
            .position(|w| *w == word)
            .and_then(|i| words.get(i + 1).copied())
    };
    if words.first() != Some(&"//") || words.get(1) != Some(&"expect") {
        return Err(FORMAT.to_string());
    }
    let code = after("expect")
        .and_then(Code::parse)
        .ok_or_else(|| format!("{FORMAT}: unknown code"))?;
    let line = after("line")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{FORMAT}: no line"))?;
    Ok(Expectation {
        code,
        line,
        copy_of: after("of").map(str::to_string),
    })
}

/// Checks a copy of project file `original` whose text is `text`, inside this repository's
/// project. Returns the sources, the diagnostics, and the id under which the copy was added.
fn check_copy(original: &str, text: &str) -> (Sources, Vec<Diagnostic>) {
    let root = repo_root();
    let config = Config::load(&root).expect("the repository's flowc.toml loads");
    let mut files: Vec<(String, String)> = Vec::new();
    for folder in &config.project.sources {
        for path in flowc::project::flow_files(&root.join(folder)) {
            let relative = path
                .strip_prefix(&root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let body = if relative == original {
                text.to_string()
            } else {
                std::fs::read_to_string(&path).expect("project files are readable")
            };
            files.push((relative, body));
        }
    }
    assert!(
        files.iter().any(|(p, _)| p == original),
        "`{original}` is not a file of the project"
    );
    let project = Project::from_sources(&root, config, files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    let mut sources = Sources::new();
    for (_, file) in project.sources.iter() {
        sources.add(
            file.path.strip_prefix(&root).unwrap_or(&file.path),
            file.text.clone(),
        );
    }
    (sources, diagnostics)
}

#[test]
fn every_code_has_a_corpus_file() {
    let files = corpus_files();
    // flowc.toml's codes (E09xx) have their corpus of TOML files in tests/config.rs.
    for code in Code::ALL.iter().filter(|c| !c.as_str().starts_with("E09")) {
        assert!(
            files
                .iter()
                .any(|(_, text)| expectation(text).is_ok_and(|e| e.code == *code)),
            "no corpus file for {code} (add one that starts with `// expect {code} at line N`)"
        );
    }
}

#[test]
fn corpus_snapshots() {
    let root = corpus_dir();
    let files = corpus_files();
    let mut failures = Vec::new();
    let mut met = 0;
    for (name, text) in &files {
        let expected = match expectation(text) {
            Ok(e) => e,
            Err(why) => {
                failures.push(format!("{name}: {why}"));
                continue;
            }
        };
        let (sources, diagnostics) = match &expected.copy_of {
            Some(original) => check_copy(original, text),
            None => check_one(&root, name, text),
        };
        let mut wrong = Vec::new();
        match diagnostics.as_slice() {
            [] => wrong.push("no diagnostic".to_string()),
            [d] => {
                if d.code != expected.code {
                    wrong.push(format!("{} instead of {}", d.code, expected.code));
                }
                let (line, ..) = position(d, &sources);
                if line != expected.line {
                    wrong.push(format!("at line {line} instead of {}", expected.line));
                }
                if d.help.is_none() {
                    wrong.push("no help".to_string());
                }
            }
            many => wrong.push(format!(
                "{} diagnostics ({})",
                many.len(),
                many.iter()
                    .map(|d| d.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        if wrong.is_empty() {
            met += 1;
        } else {
            failures.push(format!("{name}: {}", wrong.join(", ")));
        }
        let rendered = render_all(&sources, &diagnostics);
        // A copy of a project file is long: its snapshot is the expectation and what users see.
        let snapshot = match expected.copy_of {
            Some(_) => format!(
                "{}\n{}\n{rendered}",
                text.lines().next().unwrap_or(""),
                "-".repeat(100)
            ),
            None => format!("{text}\n{}\n{rendered}", "-".repeat(100)),
        };
        insta::with_settings!({
            snapshot_path => "snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name.trim_end_matches(".flow"), snapshot);
        });
    }
    println!(
        "corpus: {met} of {} mistakes ({:.1}%) give exactly one diagnostic with the expected code, \
         on the line of the mistake, with a help",
        files.len(),
        100.0 * met as f64 / files.len().max(1) as f64
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_file_without_its_expectation_is_refused() {
    assert!(expectation("flow f for e {}\n").is_err());
    assert!(expectation("// expect E9999 at line 3\n").is_err());
    assert!(expectation("// expect E0100\n").is_err());
    let e = expectation("// expect E0100 at line 7 in a copy of flows/x.flow\n").expect("valid");
    assert_eq!(
        (e.code, e.line, e.copy_of.as_deref()),
        (Code::SyntaxError, 7, Some("flows/x.flow"))
    );
}
