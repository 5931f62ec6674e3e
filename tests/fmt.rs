//! The formatter (`flowc::syntax::format`), `flowc fmt`, and what must agree with the grammar:
//! the language reference's examples and the editor syntaxes.

#[path = "fmt/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use flowc::syntax::{format, parse};
use support::{comment_texts, corpus, parse_ok, strip_spans};

fn fmt(source: &str) -> String {
    match format(source) {
        Ok(out) => out,
        Err(d) => panic!("format refused: {d:#?}\n--- source ---\n{source}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: realistic flows, formatted

#[test]
fn corpus_formatting_is_idempotent() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let once = fmt(&source);
        let twice = fmt(&once);
        assert_eq!(once, twice, "formatting {} twice changed it", path.display());
    }
}

#[test]
fn corpus_comments_are_neither_lost_nor_duplicated() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = fmt(&source);
        assert_eq!(
            comment_texts(&source),
            comment_texts(&formatted),
            "comments of {} changed:\n{formatted}",
            path.display()
        );
    }
}

#[test]
fn corpus_meaning_is_kept() {
    for path in corpus() {
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = fmt(&source);
        assert_eq!(
            strip_spans(&parse_ok(&source)),
            strip_spans(&parse_ok(&formatted)),
            "formatting {} changed its tree:\n{formatted}",
            path.display()
        );
    }
}

#[test]
fn corpus_files_other_than_the_messy_one_are_already_formatted() {
    for path in corpus() {
        if path.ends_with("messy.flow") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let formatted = fmt(&source);
        assert_eq!(
            source,
            formatted,
            "{} is not in the canonical layout",
            path.display()
        );
    }
}

#[test]
fn messy_input_snapshot() {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt/messy.flow")).unwrap();
    insta::with_settings!({ snapshot_path => "fmt/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("messy", fmt(&source));
    });
}

// ---------------------------------------------------------------------------------------------
// Layout rules

#[test]
fn refuses_a_file_with_syntax_errors() {
    let errors = format("flow a for b {\n  step x = \n}\n").unwrap_err();
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|d| d.code.as_str() == "E0100"), "{errors:#?}");
}

#[test]
fn refuses_a_comment_it_cannot_keep() {
    let errors = format("flow a for b {\n  let x = \"{{ y /* why */ }}\"\n}\n").unwrap_err();
    assert!(errors[0].message.contains("comment inside"), "{errors:#?}");
}

#[test]
fn short_records_stay_inline_and_long_ones_break() {
    let short = "flow a for b {\n  output { a: 1, b: 2 }\n}\n";
    assert_eq!(fmt(short), short);
    let long = format!(
        "flow a for b {{\n  output {{ a: \"{}\", b: 2 }}\n}}\n",
        "x".repeat(90)
    );
    assert_eq!(
        fmt(&long),
        format!(
            "flow a for b {{\n  output {{\n    a: \"{}\",\n    b: 2,\n  }}\n}}\n",
            "x".repeat(90)
        )
    );
}

#[test]
fn every_line_fits_in_100_columns_when_it_can() {
    for path in corpus() {
        let formatted = fmt(&std::fs::read_to_string(&path).unwrap());
        for line in formatted.lines() {
            // A trailing comment may run past the limit; the code before it may not.
            let code = line.split(" //").next().unwrap_or(line);
            assert!(
                code.chars().count() <= 100,
                "{}: too long: {line}",
                path.display()
            );
        }
    }
}

#[test]
fn keeps_at_most_one_blank_line_and_none_at_block_edges() {
    let source = "flow a for b {\n\n\n  let x = 1\n\n\n\n  let y = 2\n\n}\n\n\n\nflow c for b {\n}\n";
    assert_eq!(
        fmt(source),
        "flow a for b {\n  let x = 1\n\n  let y = 2\n}\n\nflow c for b {}\n"
    );
}

#[test]
fn orders_flow_parts_and_moves_their_comments_with_them() {
    let source = "flow a for b {\n  output x // the result\n  let x = 1\n  // the trigger\n  on manual\n}\n";
    assert_eq!(
        fmt(source),
        "flow a for b {\n  // the trigger\n  on manual\n  let x = 1\n  output x // the result\n}\n"
    );
}

#[test]
fn one_statement_per_line_and_policies_on_their_own_lines() {
    let source = "flow a for b { step s = x.y(a: 1) retry 3 timeout 5s ; let t = 2 }\n";
    assert_eq!(
        fmt(source),
        "flow a for b {\n  step s = x.y(a: 1)\n    retry 3 times\n    timeout 5s\n  let t = 2\n}\n"
    );
}

#[test]
fn parenthesises_by_precedence_only_where_needed() {
    let cases = [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("(a - b) - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a ?? b) ?? c", "(a ?? b) ?? c"),
        ("a ?? (b ?? c)", "a ?? b ?? c"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) == b", "(not a) == b"),
        ("not a == b", "not (a == b)"),
        ("not (a ?? b)", "not (a ?? b)"),
        ("not not a", "not not a"),
        ("-(a.b)", "-a.b"),
        ("(-3).x", "(-3).x"),
        ("(a or b) and c", "(a or b) and c"),
        ("a in (b + c)", "a in b + c"),
        ("(a ?? b) != none", "(a ?? b) != none"),
        ("a ?? (b + 1)", "a ?? (b + 1)"),
        ("a ?? b ?? c", "a ?? b ?? c"),
    ];
    for (input, expected) in cases {
        let source = format!("flow a for b {{\n  let x = {input}\n}}\n");
        let formatted = fmt(&source);
        assert_eq!(
            formatted,
            format!("flow a for b {{\n  let x = {expected}\n}}\n"),
            "{input}"
        );
        assert_eq!(
            strip_spans(&parse_ok(&source)),
            strip_spans(&parse_ok(&formatted)),
            "{input}"
        );
    }
}

#[test]
fn raw_strings_are_reindented_and_keep_their_text() {
    let source = "flow a for b {\nif x {\n        let t = \"\"\"\n              Hi,\n                 indented\n\n              bye\n  \"\"\"\n}\n}\n";
    let formatted = fmt(source);
    assert_eq!(
        formatted,
        "flow a for b {\n  if x {\n    let t = \"\"\"\n      Hi,\n         indented\n\n      bye\n    \"\"\"\n  }\n}\n"
    );
    assert_eq!(strip_spans(&parse_ok(source)), strip_spans(&parse_ok(&formatted)));
}

#[test]
fn a_fallback_record_is_not_mistaken_for_a_block() {
    // Braces that open with `name:` are a record value: no parentheses needed.
    let named = "flow a for b {\n  step s = x.y()\n    fallback { ok: false }\n}\n";
    assert_eq!(fmt(named), named);
    assert_eq!(
        fmt("flow a for b {\n  step s = x.y()\n    fallback ({ ok: false })\n}\n"),
        named
    );
    // A shorthand first field would read as a block: the parentheses stay.
    let shorthand = "flow a for b {\n  step s = x.y()\n    fallback ({ ok })\n}\n";
    assert_eq!(fmt(shorthand), shorthand);
    assert_eq!(
        strip_spans(&parse_ok(shorthand)),
        strip_spans(&parse_ok(&fmt(shorthand)))
    );
}

#[test]
fn durations_are_kept_as_written() {
    let source = "flow a for b {\n  wait until t - 24h\n  wait 90m\n}\n";
    assert_eq!(fmt(source), source);
}

#[test]
fn windows_line_endings_become_unix_ones() {
    let source = "flow a for b {\r\n  // note\r\n  let x = 1\r\n}\r\n";
    assert_eq!(fmt(source), "flow a for b {\n  // note\n  let x = 1\n}\n");
}

#[test]
fn a_file_of_only_comments_is_kept() {
    let source = "// one\n\n/* two */\n";
    assert_eq!(fmt(source), source);
    assert_eq!(fmt(""), "");
}

#[test]
fn a_doc_comment_after_a_default_value_is_not_a_division() {
    let module =
        parse_ok("flow a for b {\n  input {\n    x: text = \"\"\n    /// doc\n    y: text\n  }\n}\n");
    let Some(flowc::syntax::ast::Item::Flow(flow)) = module.items.first() else {
        panic!()
    };
    let fields = &flow.input.as_ref().unwrap().fields;
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[1].docs, ["doc"]);
}

#[test]
fn send_event_without_payload_parses() {
    let module = parse_ok("test \"t\" for f {\n  send event \"x\" after 2d\n}\n");
    let formatted = flowc::syntax::print(&module);
    assert_eq!(formatted, "test \"t\" for f {\n  send event \"x\" after 2d\n}\n");
}

// ---------------------------------------------------------------------------------------------
// `flowc fmt`

fn flowc(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const UGLY: &str = "flow a for b {\n    let x = 1\n}\n";
const PRETTY: &str = "flow a for b {\n  let x = 1\n}\n";

#[test]
fn cli_check_lists_unformatted_files_with_a_diff_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/ugly.flow"), UGLY).unwrap();
    std::fs::write(dir.path().join("pretty.flow"), PRETTY).unwrap();
    let (code, stdout, _) = flowc(dir.path(), &["fmt", "--check"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("ugly.flow is not formatted"), "{stdout}");
    assert!(!stdout.contains("pretty.flow"), "{stdout}");
    assert!(stdout.contains("-    let x = 1\n+  let x = 1\n"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flows/ugly.flow")).unwrap(),
        UGLY
    );
}

#[test]
fn cli_without_paths_formats_the_project_sources_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flowc.toml"),
        "[project]\nsources = [\"flows\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("flows/ugly.flow"), UGLY).unwrap();
    // A fixture outside the sources (e.g. a corpus of deliberate mistakes) is not touched.
    std::fs::write(dir.path().join("tests/fixture.flow"), UGLY).unwrap();
    let (code, stdout, _) = flowc(dir.path(), &["fmt", "--check"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("ugly.flow is not formatted"), "{stdout}");
    assert!(!stdout.contains("fixture.flow"), "{stdout}");
    // From inside a source folder the same sources are meant.
    let (code, stdout, _) = flowc(&dir.path().join("flows"), &["fmt", "--check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("ugly.flow is not formatted"), "{stdout}");
}

#[test]
fn cli_refuses_a_file_that_is_not_utf8_at_its_line_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    // `café` saved as Latin-1 on line 2.
    let bytes = b"flow a for b {\n  let x = \"caf\xe9\"\n}\n".to_vec();
    std::fs::write(dir.path().join("latin1.flow"), &bytes).unwrap();
    for args in [&["fmt", "latin1.flow"][..], &["fmt", "--check", "latin1.flow"]] {
        let (code, _, stderr) = flowc(dir.path(), args);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("E0112"), "{stderr}");
        assert!(stderr.contains("latin1.flow:2:"), "{stderr}");
        assert!(stderr.contains("left unchanged"), "{stderr}");
        assert_eq!(std::fs::read(dir.path().join("latin1.flow")).unwrap(), bytes);
    }
    // From standard input: the diagnostic, exit 1, and the bytes are not echoed as `�`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["fmt", "-"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0112"));
    assert_eq!(
        out.stdout, bytes,
        "an editor filtering through `flowc fmt -` keeps its bytes"
    );
}

#[test]
fn cli_rewrites_files_in_place_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/ugly.flow"), UGLY).unwrap();
    std::fs::write(dir.path().join("notes.txt"), UGLY).unwrap();
    let (code, stdout, _) = flowc(dir.path(), &["fmt", "flows"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("formatted flows/ugly.flow"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flows/ugly.flow")).unwrap(),
        PRETTY
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        UGLY
    );
    let (code, _, _) = flowc(dir.path(), &["fmt", "--check", "flows/ugly.flow"]);
    assert_eq!(code, 0);
}

#[test]
fn cli_leaves_files_with_syntax_errors_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "flow a for b {\n    step x =\n}\n";
    std::fs::write(dir.path().join("broken.flow"), broken).unwrap();
    std::fs::write(dir.path().join("ugly.flow"), UGLY).unwrap();
    let (code, _, stderr) = flowc(dir.path(), &["fmt"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("E0100"), "{stderr}");
    assert!(stderr.contains("broken.flow was left unchanged"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("broken.flow")).unwrap(),
        broken
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ugly.flow")).unwrap(),
        PRETTY
    );
}

#[test]
fn cli_formats_standard_input_for_editors() {
    use std::io::Write;
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["fmt", "-"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    assert_eq!(run(UGLY), (Some(0), PRETTY.to_string()));
    // Broken text comes back unchanged, so an editor filter loses nothing.
    let broken = "flow a for b {\n    step x =\n}\n";
    assert_eq!(run(broken), (Some(1), broken.to_string()));
}

#[test]
fn cli_missing_path_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = flowc(dir.path(), &["fmt", "nowhere"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`nowhere` does not exist"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// The language reference: every example parses and is formatted

fn flow_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```flow") => current = Some((n + 1, String::new())),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```flow block");
    blocks
}

#[test]
fn language_reference_examples_parse_and_are_formatted() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md")).unwrap();
    let blocks = flow_blocks(&doc);
    assert!(
        blocks.len() >= 30,
        "expected an example per construct, found {}",
        blocks.len()
    );
    for (line, block) in blocks {
        let (_, diagnostics) = parse(&block, Default::default());
        assert!(
            diagnostics.is_empty(),
            "docs/language.md:{line}: the example does not parse: {diagnostics:#?}\n{block}"
        );
        let formatted = fmt(&block);
        assert_eq!(
            formatted, block,
            "docs/language.md:{line}: the example is not formatted"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Editors: the syntaxes know every keyword of the grammar

/// The keywords of `grammar/flow.pest`: the words of its `kw_*` rules.
fn grammar_keywords() -> Vec<String> {
    let grammar =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/flow.pest")).unwrap();
    let mut words = Vec::new();
    for line in grammar.lines() {
        let line = line.trim();
        // Every reserved word also has its `kw_*` rule (the `keyword` rule is a letter trie).
        if line.starts_with("kw_") {
            let mut rest = line;
            while let Some(start) = rest.find('"') {
                let after = &rest[start + 1..];
                let Some(end) = after.find('"') else { break };
                let word = &after[..end];
                if word.chars().all(|c| c.is_ascii_alphabetic() || c == '_') && !word.is_empty() {
                    words.push(word.to_string());
                }
                rest = &after[end + 1..];
            }
        }
    }
    words.sort();
    words.dedup();
    assert!(
        words.len() > 60,
        "could not read the keywords of the grammar: {words:?}"
    );
    words
}

#[test]
fn textmate_grammar_is_json_and_knows_every_keyword() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    let grammar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("syntaxes/flow.tmLanguage.json")).unwrap())
            .unwrap();
    assert_eq!(grammar["scopeName"], "source.flow");
    let text = grammar.to_string();
    for word in grammar_keywords() {
        assert!(
            text.contains(&format!("\\\\b{word}\\\\b"))
                || text.contains(&format!("|{word}|"))
                || text.contains(&format!("({word}|"))
                || text.contains(&format!("|{word})")),
            "the TextMate grammar does not know `{word}`"
        );
    }
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("package.json")).unwrap()).unwrap();
    assert_eq!(package["contributes"]["languages"][0]["extensions"][0], ".flow");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("language-configuration.json")).unwrap())
            .unwrap();
    assert_eq!(config["comments"]["lineComment"], "//");
}

#[test]
fn vscode_extension_formats_through_flowc() {
    // The extension's formatting half runs in Node. A missing Node fails the test rather than
    // skipping it (a skipped check passes silently); `.ci/test` installs it.
    if let Err(e) = Command::new("node").arg("--version").output() {
        panic!("`node` cannot run ({e}): run `bash .ci/test`, which installs it");
    }
    let extension = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode/extension.js");
    let script = format!(
        r#"
        const {{ formatText }} = require({extension:?});
        (async () => {{
          const problems = [];
          const ok = await formatText({flowc:?}, {ugly:?}, ".", (p) => problems.push(p));
          const broken = await formatText({flowc:?}, "flow a for b {{\n  step x =\n}}\n", ".", (p) => problems.push(p));
          const missing = await formatText("/nonexistent/flowc", "x", ".", (p) => problems.push(p));
          console.log(JSON.stringify({{ ok, broken, missing, problems: problems.length }}));
        }})();
        "#,
        extension = extension.display().to_string(),
        flowc = env!("CARGO_BIN_EXE_flowc"),
        ugly = UGLY,
    );
    let out = Command::new("node").arg("-e").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["ok"], PRETTY);
    assert_eq!(result["broken"], serde_json::Value::Null);
    assert_eq!(result["missing"], serde_json::Value::Null);
    assert_eq!(result["problems"], 2, "one problem reported per failure");
}

#[test]
fn vim_syntax_knows_every_keyword() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vim");
    let syntax = std::fs::read_to_string(root.join("syntax/flow.vim")).unwrap();
    let words: Vec<&str> = syntax
        .lines()
        .filter(|l| l.starts_with("syn keyword"))
        .flat_map(|l| l.split_whitespace().skip(3))
        .collect();
    for word in grammar_keywords() {
        assert!(
            words.contains(&word.as_str()),
            "the Vim syntax does not know `{word}`"
        );
    }
    let ftdetect = std::fs::read_to_string(root.join("ftdetect/flow.vim")).unwrap();
    assert!(ftdetect.contains("*.flow"));
}

#[test]
fn a_computed_timeout_is_an_expression_and_a_written_one_a_duration() {
    use flowc::syntax::ast::{Item, Policy, Stmt};
    let source = "entity e {}\nflow f for e {\n  input { deadline: datetime }\n  step a = http.get(url: \"https://x.test\")\n    timeout input.deadline-now()\n  step b = http.get(url: \"https://x.test\")\n    timeout 30s\n    fallback none\n  step c = wait for event \"go\"\n    timeout (2d)\n}\n";
    let formatted = fmt(source);
    assert!(
        formatted.contains("    timeout input.deadline - now()\n"),
        "{formatted}"
    );
    assert!(
        formatted.contains("    timeout 30s\n    fallback none\n"),
        "{formatted}"
    );
    assert!(formatted.contains("    timeout 2d\n"), "{formatted}");
    assert_eq!(fmt(&formatted), formatted);
    let (module, diagnostics) = parse(&formatted, flowc::diagnostic::FileId(0));
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let Some(Item::Flow(flow)) = module.items.get(1) else {
        panic!("a flow")
    };
    let policy = |i: usize| match &flow.body[i] {
        Stmt::Step(s) => s.policies[0].clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(policy(0), Policy::TimeoutExpr(_)));
    assert!(matches!(policy(1), Policy::Timeout(d) if d.ms == 30_000));
    assert!(matches!(policy(2), Policy::Timeout(d) if d.ms == 172_800_000));
}
