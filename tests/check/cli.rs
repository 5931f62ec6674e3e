//! The command line: formats, exit codes, colour and `explain`, run on the built binary.

use std::path::Path;
use std::process::{Command, Output};

const CLEAN: &str = r#"entity studio {
  databases Contacts
}

flow greet for studio {
  on manual
  input { email: email }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contact.id }
}
"#;

const BROKEN: &str = r#"entity studio {
  databases Contacts
}

flow greet for studio {
  on manual
  input { email: email }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contcat.id }
}
"#;

const WARNING: &str = r#"entity studio {
  databases Contacts
}

flow greet for studio {
  on manual
  input { email: email, unused: text? }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contact.id }
}
"#;

/// A project folder with `flowc.toml` and the given files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"test\"\n").expect("write flowc.toml");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(path, text).expect("write a flow");
    }
    dir
}

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .output()
        .expect("flowc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn clean_project_exits_0() {
    let dir = project(&[("greet.flow", CLEAN)]);
    let out = flowc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no problems found"), "{}", stderr(&out));
}

#[test]
fn errors_exit_1_with_a_rendered_report() {
    let dir = project(&[("greet.flow", BROKEN)]);
    let out = flowc(dir.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("E0201"), "{err}");
    assert!(err.contains("unknown name `contcat`"), "{err}");
    assert!(err.contains("did you mean `contact`?"), "{err}");
    assert!(
        err.contains("greet.flow:9:16"),
        "paths are relative to the current folder: {err}"
    );
    assert!(err.contains("1 error found"), "{err}");
    assert!(!err.contains('\u{1b}'), "NO_COLOR means no escape codes: {err}");
}

#[test]
fn json_format_has_the_documented_shape() {
    let dir = project(&[("greet.flow", BROKEN)]);
    let out = flowc(dir.path(), &["check", "--format", "json", "greet.flow"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON document");
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["warnings"], 0);
    let diagnostics = doc["diagnostics"].as_array().expect("a list");
    assert_eq!(diagnostics.len(), 1);
    let d = &diagnostics[0];
    assert_eq!(d["file"], "greet.flow");
    assert_eq!(d["code"], "E0201");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "unknown name `contcat`");
    assert_eq!(d["line"], 9);
    assert_eq!(d["column"], 16);
    assert_eq!(d["end_line"], 9);
    assert_eq!(d["end_column"], 23);
    assert_eq!(d["help"], "did you mean `contact`?");
    let keys: Vec<&str> = d
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "file",
            "code",
            "severity",
            "message",
            "line",
            "column",
            "end_line",
            "end_column",
            "help",
            "label",
            "labels"
        ]
    );
    assert_eq!(d["label"], "not declared in this flow");
    assert_eq!(d["labels"], serde_json::json!([]));
}

const TWICE: &str = r#"entity studio {
  databases Contacts
}

flow greet for studio {
  on manual
  input { email: email }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contact.id }
}
"#;

#[test]
fn json_format_keeps_secondary_labels() {
    let dir = project(&[("greet.flow", TWICE)]);
    let out = flowc(dir.path(), &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON document");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "E0200");
    assert_eq!(d["line"], 9);
    assert_eq!(
        d["labels"],
        serde_json::json!([{
            "message": "first declared here as a step",
            "line": 8,
            "column": 8,
            "end_line": 8,
            "end_column": 15,
        }])
    );
}

#[test]
fn short_format_is_one_line_per_diagnostic() {
    let dir = project(&[
        ("greet.flow", BROKEN),
        ("again.flow", &TWICE.replace("greet", "again")),
    ]);
    let out = flowc(dir.path(), &["check", "--format", "short"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "again.flow:9:8: error[E0200]: `contact` is declared twice in this flow\n\
         greet.flow:1:8: error[E0200]: entity `studio` is declared twice\n\
         greet.flow:9:16: error[E0201]: unknown name `contcat`\n"
    );
}

#[test]
fn github_format_prints_workflow_commands() {
    let dir = project(&[("greet.flow", BROKEN)]);
    let out = flowc(dir.path(), &["check", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = text.lines().next().expect("one line");
    assert!(
        line.starts_with("::error file=greet.flow,line=9,col=16,endLine=9,endColumn=23,title=E0201::unknown name `contcat`"),
        "{line}"
    );
    assert!(
        line.contains("%0A"),
        "newlines in the message are escaped: {line}"
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = project(&[("greet.flow", WARNING)]);
    let out = flowc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("W0004"));
    assert!(stderr(&out).contains("1 warning found"), "{}", stderr(&out));
    let out = flowc(dir.path(), &["check", "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(1));
    let out = flowc(dir.path(), &["check", "--format", "github"]);
    assert!(
        stdout(&out).starts_with("::warning file=greet.flow,"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn only_files_under_the_given_paths_are_reported() {
    // The entity is declared once, in the good file; the bad file's flow uses it.
    let bad = BROKEN.replace("entity studio {\n  databases Contacts\n}\n", "");
    let dir = project(&[("good/greet.flow", CLEAN), ("bad/greet.flow", &bad)]);
    let out = flowc(dir.path(), &["check", "good"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = flowc(dir.path(), &["check", "bad", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["diagnostics"][0]["file"], "bad/greet.flow");
}

#[test]
fn missing_path_exits_2() {
    let dir = project(&[("greet.flow", CLEAN)]);
    let out = flowc(dir.path(), &["check", "nowhere.flow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`nowhere.flow` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_format_is_a_usage_error() {
    let dir = project(&[("greet.flow", CLEAN)]);
    let out = flowc(dir.path(), &["check", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_the_page() {
    let dir = project(&[]);
    let out = flowc(dir.path(), &["explain", "E0201"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("# E0201: unknown name"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("```flow wrong"));
    let out = flowc(dir.path(), &["explain", "e0201"]);
    assert_eq!(out.status.code(), Some(0));
    let out = flowc(dir.path(), &["explain", "unknown-name"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn explain_unknown_code_exits_2() {
    let dir = project(&[]);
    let out = flowc(dir.path(), &["explain", "E9999"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`E9999` is not a diagnostic code"), "{err}");
    assert!(err.contains("flowc check"), "says where codes come from: {err}");
}

#[test]
fn a_file_that_is_not_a_flow_is_a_usage_error() {
    let dir = project(&[("greet.flow", CLEAN), ("notes.md", "# notes")]);
    let out = flowc(dir.path(), &["check", "notes.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a `.flow` file"), "{}", stderr(&out));
}

#[test]
fn several_paths_of_one_project_report_each_file_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // No flowc.toml: the folder is the project.
    let second = BROKEN
        .replace("entity studio {\n  databases Contacts\n}\n", "")
        .replace("greet", "again");
    std::fs::write(dir.path().join("greet.flow"), BROKEN).expect("write");
    std::fs::write(dir.path().join("again.flow"), second).expect("write");
    let out = flowc(
        dir.path(),
        &["check", "--format", "json", "greet.flow", "again.flow", "."],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let files: Vec<&str> = doc["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["file"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(files, ["again.flow", "greet.flow"]);
}

const HOOK_A: &str = r#"entity studio {
  databases Contacts
}

flow from_form for studio {
  on webhook "/hooks/form" unverified
  input { email: email }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contact.id }
}
"#;

const HOOK_B: &str = r#"flow from_shop for studio {
  on webhook "/hooks/form" unverified
  input { email: email }
  step contact = notion.find_or_create(db: Contacts, match: { Email: input.email })
  output { id: contact.id }
}
"#;

#[test]
fn checking_one_file_reports_what_it_breaks_elsewhere() {
    // `a.flow` takes the path first, so the error is reported where the second flow listens:
    // checking `a.flow` alone must still show it.
    let dir = project(&[("a.flow", HOOK_A), ("b.flow", HOOK_B)]);
    let out = flowc(dir.path(), &["check", "--format", "short", "a.flow"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "b.flow:2:14: error[E0404]: webhook path `/hooks/form` is already used by flow `from_form`\n"
    );
}

#[test]
fn a_missing_notion_schema_is_an_error_naming_the_file() {
    let dir = project(&[("greet.flow", CLEAN)]);
    std::fs::write(
        dir.path().join("flowc.toml"),
        "[project]\nname = \"test\"\nnotion_schema = \"notion/schema.json\"\n",
    )
    .expect("write flowc.toml");
    let out = flowc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("notion/schema.json"), "{}", stderr(&out));
    // Present but not a schema: an error too, never "no problems found".
    std::fs::create_dir_all(dir.path().join("notion")).expect("a folder");
    std::fs::write(dir.path().join("notion/schema.json"), "{ not json").expect("write");
    let out = flowc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("notion/schema.json"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("no problems found"), "{}", stderr(&out));
}

const TEMPLATES: &str = r#"template welcome {
  subject "Welcome"
  text "Hi {{name}}"
}

template broken {
  subject "Broken"
  text "Hi {{#if name}}"
}
"#;

const SENDS_WELCOME: &str = r#"entity studio {
  databases Contacts
}

flow greet for studio {
  on manual
  input { email: email }
  step sent = email.send(to: input.email, template: "welcome", with: { nam: "Maya" })
}
"#;

#[test]
fn checking_one_file_compiles_the_templates_it_sends_not_the_others() {
    let dir = project(&[("templates.flow", TEMPLATES), ("greet.flow", SENDS_WELCOME)]);
    let codes = |args: &[&str]| {
        let out = flowc(dir.path(), args);
        stdout(&out)
            .lines()
            .filter_map(|l| {
                l.split_once("error[")
                    .map(|(file, rest)| format!("{file}{}", &rest[..5]))
            })
            .collect::<Vec<_>>()
    };
    // The flow's `with:` is checked against the variables of the template it sends, though the
    // template is another file's; that file's broken template is not this file's to report.
    let one = codes(&["check", "--format", "short", "greet.flow"]);
    assert!(
        one.iter()
            .any(|c| c.starts_with("greet.flow") && c.ends_with("E0501")),
        "{one:?}"
    );
    assert!(!one.iter().any(|c| c.ends_with("E0500")), "{one:?}");
    // Checked itself, or with the whole project, the template file reports its broken template.
    let own = codes(&["check", "--format", "short", "templates.flow"]);
    assert!(
        own.iter()
            .any(|c| c.starts_with("templates.flow") && c.ends_with("E0500")),
        "{own:?}"
    );
    let all = codes(&["check", "--format", "short"]);
    assert!(
        all.iter().any(|c| c.ends_with("E0500")) && all.iter().any(|c| c.ends_with("E0501")),
        "{all:?}"
    );
}
