//! Arguments a command cannot honour are refused with exit code 2 and a reason, before anything
//! runs or is written.

use super::support::{project, run, stderr, stdout, ENTITY};

const FLOW: &str = r#"flow hello for studio {
  on manual
  output { greeting: "hello" }
}
"#;

#[test]
fn run_refuses_a_folder() {
    let dir = project(&[("flows/entities.flow", ENTITY), ("flows/hello.flow", FLOW)]);
    let out = run(dir.path(), &["run", "flows"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`flows` is a folder"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("hello"), "nothing ran: {}", stdout(&out));
}

#[test]
fn run_refuses_a_file_that_is_not_a_flow() {
    let dir = project(&[("flows/entities.flow", ENTITY), ("notes.txt", FLOW)]);
    let out = run(dir.path(), &["run", "notes.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`notes.txt` is not a `.flow` file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_refuses_a_missing_file() {
    let dir = project(&[("flows/entities.flow", ENTITY)]);
    let out = run(dir.path(), &["run", "nowhere.flow"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`nowhere.flow` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_still_runs_a_flow_file() {
    let dir = project(&[("flows/entities.flow", ENTITY), ("flows/hello.flow", FLOW)]);
    let out = run(dir.path(), &["run", "flows/hello.flow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"greeting\": \"hello\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn fmt_refuses_a_file_that_is_not_a_flow_and_leaves_it_alone() {
    // Text that the formatter would happily reformat, were it a flow.
    let messy = "flow hello for studio {\non manual\n    output { greeting: \"hello\" }\n}\n";
    let dir = project(&[
        ("flows/entities.flow", ENTITY),
        ("notes.txt", messy),
        ("hello.flow", messy),
    ]);
    let out = run(dir.path(), &["fmt", "hello.flow", "notes.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`notes.txt` is not a `.flow` file"),
        "{}",
        stderr(&out)
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("notes.txt"), messy, "the other file was rewritten");
    assert_eq!(
        read("hello.flow"),
        messy,
        "nothing is written when an argument is refused"
    );
}

#[test]
fn fmt_still_formats_flow_files_in_folders() {
    let messy = "flow hello for studio {\non manual\n    output { greeting: \"hello\" }\n}\n";
    let dir = project(&[
        ("flows/entities.flow", ENTITY),
        ("flows/hello.flow", messy),
        ("flows/notes.txt", messy),
    ]);
    let out = run(dir.path(), &["fmt", "flows"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("flows/hello.flow"), FLOW);
    assert_eq!(
        read("flows/notes.txt"),
        messy,
        "a folder's other files are not touched"
    );
}
