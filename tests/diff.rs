//! `flowc diff OLD NEW` through the binary: project folders and plan files, what is safe for
//! waiting instances, what is not, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn flowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const V1: &str = r#"
entity shop { databases Task }
flow booking for shop {
  on manual
  input { email: email }
  step client = notion.query_one(db: Task, where: { Email: input.email })
  wait 2d
  step reply = wait for event "lead.replied" where event.email == input.email timeout 3d
  output { id: client.id, replied: reply != none }
}
flow helper for shop {
  on manual
  output { ok: true }
}
"#;

/// A project folder holding `source` as its only flow file.
fn project(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"shop\"\n").unwrap();
    std::fs::write(dir.path().join("main.flow"), source).unwrap();
    dir
}

fn diff(old: &Path, new: &Path) -> (i32, String) {
    let out = flowc(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    let code = out.status.code().unwrap_or(-1);
    (code, format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

fn diff_sources(new: &str) -> (i32, String) {
    let (a, b) = (project(V1), project(new));
    diff(a.path(), b.path())
}

#[test]
fn comments_and_layout_are_no_change() {
    let edited = V1
        .replace("  wait 2d", "  // two days for the client to think\n  wait 2d")
        .replace("flow helper", "/// The helper.\nflow helper");
    let (code, out) = diff_sources(&edited);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("flow main.booking: unchanged"), "{out}");
    assert!(out.contains("flow main.helper: unchanged"), "{out}");
    assert!(
        out.contains("every change is safe for waiting instances"),
        "{out}"
    );
}

#[test]
fn new_steps_and_changed_arguments_are_safe() {
    let edited = V1
        .replace("timeout 3d", "timeout 5d")
        .replace(
            "  wait 2d",
            "  step note = notion.query_one(db: Task, where: { Email: \"x\" })\n  wait 2d",
        )
        .replace("input { email: email }", "input { email: email, phone: text? }");
    let (code, out) = diff_sources(&edited);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("flow main.booking: changed, safe for waiting instances"),
        "{out}"
    );
    assert!(out.contains("  + step `note` (notion.query_one) added"), "{out}");
    assert!(out.contains("  + optional input field `phone` added"), "{out}");
}

#[test]
fn renamed_removed_and_retyped_steps_are_not_safe() {
    let renamed = V1
        .replace("step client =", "step customer =")
        .replace("client.id", "customer.id");
    let (code, out) = diff_sources(&renamed);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("flow main.booking: changed, NOT safe for waiting instances"),
        "{out}"
    );
    assert!(out.contains("  - step `client` renamed to `customer`"), "{out}");
    assert!(out.contains("flow main.helper: unchanged"), "{out}");
    assert!(
        out.contains("1 flow(s) changed in ways that break waiting instances"),
        "{out}"
    );

    let (code, out) = diff_sources(&V1.replace("  wait 2d\n", ""));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("  - wait #1 of the body (wait for a duration) removed"),
        "{out}"
    );

    let (code, out) = diff_sources(&V1.replace("\"lead.replied\"", "\"lead.answered\""));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "  - step `reply` retyped: wait for event \"lead.replied\" → wait for event \"lead.answered\""
        ),
        "{out}"
    );

    let retyped = V1
        .replace("notion.query_one(db: Task", "notion.query(db: Task")
        .replace("client.id", "client");
    let (code, out) = diff_sources(&retyped);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("  - step `client` retyped: notion.query_one → notion.query"),
        "{out}"
    );

    let (code, out) = diff_sources(&V1.replace("input { email: email }", "input { email: text }"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("  - input field `email` retyped: email → text"),
        "{out}"
    );

    let (code, out) =
        diff_sources(&V1.replace("input { email: email }", "input { email: email, phone: text }"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("  - required input field `phone` added"), "{out}");

    let without_helper = V1.replace(
        "flow helper for shop {\n  on manual\n  output { ok: true }\n}\n",
        "",
    );
    let (code, out) = diff_sources(&without_helper);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("flow main.helper: removed, NOT safe for waiting instances"),
        "{out}"
    );
}

#[test]
fn plan_files_compare_like_folders() {
    let (a, b) = (
        project(V1),
        project(
            &V1.replace("step client =", "step customer =")
                .replace("client.id", "customer.id"),
        ),
    );
    let out_a = tempfile::tempdir().unwrap();
    let out_b = tempfile::tempdir().unwrap();
    for (dir, out) in [(&a, &out_a), (&b, &out_b)] {
        let built = flowc(&[
            "build",
            dir.path().to_str().unwrap(),
            "-o",
            out.path().to_str().unwrap(),
        ]);
        assert_eq!(built.status.code(), Some(0), "{}", text(&built.stderr));
    }
    let (code, out) = diff(
        &out_a.path().join("booking.plan.json"),
        &out_b.path().join("booking.plan.json"),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("  - step `client` renamed to `customer`"), "{out}");
    // A plan file against the project it was built from: the same flow, and the project's
    // other flows are new to the comparison.
    let (code, out) = diff(&out_a.path().join("helper.plan.json"), a.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("flow main.helper: unchanged"), "{out}");
    assert!(out.contains("flow main.booking: added"), "{out}");
}

#[test]
fn what_cannot_be_read_is_exit_2() {
    let a = project(V1);
    let missing = a.path().join("nope.plan.json");
    let (code, out) = diff(&missing, a.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read"), "{out}");

    let old_format = a.path().join("old.plan.json");
    std::fs::write(
        &old_format,
        r#"{"format_version": 1, "hash": "", "entry": "f", "flows": {}}"#,
    )
    .unwrap();
    let (code, out) = diff(&old_format, a.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("rebuild it with `flowc build`"), "{out}");

    let broken = project("entity shop {} flow f for shop { step a = nope.x() }");
    let (code, out) = diff(a.path(), broken.path());
    assert_eq!(code, 2, "{out}");
    // The checker's own wording may change; what matters is that the folder names the problem.
    assert!(out.contains(broken.path().to_str().unwrap()), "{out}");
    assert!(out.contains("error"), "{out}");

    let (code, out) = diff(a.path(), &a.path().join("missing-folder/"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read"), "{out}");

    let not_a_plan = a.path().join("main.flow");
    let (code, out) = diff(&not_a_plan, a.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a plan file"), "{out}");
}
