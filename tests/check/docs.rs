//! Every code is unique, documented, and its docs examples are what the checker says they are.

use std::collections::HashSet;

use flowc::diagnostic::Code;

use super::common::{check_one, fixture_root, render_all};

fn block<'p>(page: &'p str, fence: &str) -> Option<&'p str> {
    let start = page.find(fence)? + fence.len();
    let body = page[start..].strip_prefix('\n')?;
    let end = body.find("\n```")?;
    Some(&body[..end + 1])
}

#[test]
fn codes_are_unique() {
    let mut codes = HashSet::new();
    let mut slugs = HashSet::new();
    for code in Code::ALL {
        assert!(codes.insert(code.as_str()), "{} is used twice", code.as_str());
        assert!(slugs.insert(code.slug()), "{} is used twice", code.slug());
        assert_eq!(Code::parse(code.as_str()), Some(*code));
        assert_eq!(Code::parse(code.slug()), Some(*code));
    }
}

#[test]
fn every_code_is_in_the_index() {
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diagnostics.md"))
        .expect("docs/diagnostics.md exists");
    for code in Code::ALL {
        assert!(
            index.contains(&format!("[{}](diagnostics/{}.md)", code.as_str(), code.as_str())),
            "docs/diagnostics.md does not link {}",
            code.as_str()
        );
    }
}

#[test]
fn every_code_has_a_page_whose_examples_hold() {
    let root = fixture_root();
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let page = code.explanation();
        if !page.starts_with(&format!("# {}: ", code.as_str())) {
            failures.push(format!("{code}: the page does not start with `# {code}: title`"));
            continue;
        }
        // flowc.toml's codes show TOML, read as the project's configuration.
        if code.as_str().starts_with("E09") {
            failures.extend(config_example_fails(code, page));
            continue;
        }
        let (Some(wrong), Some(right)) = (block(page, "```flow wrong"), block(page, "```flow right")) else {
            failures.push(format!(
                "{code}: the page needs a ```flow wrong and a ```flow right block"
            ));
            continue;
        };
        assert_eq!(
            page.matches("```flow wrong").count(),
            1,
            "{code}: one wrong example"
        );
        assert_eq!(
            page.matches("```flow right").count(),
            1,
            "{code}: one right example"
        );
        let (sources, found) = check_one(&root, "example.flow", wrong);
        if !found.iter().any(|d| d.code == code) {
            failures.push(format!(
                "{code}: the wrong example does not yield {code}; it yields:\n{}",
                render_all(&sources, &found)
            ));
        }
        let (sources, found) = check_one(&root, "example.flow", right);
        if !found.is_empty() {
            failures.push(format!(
                "{code}: the right example is not clean:\n{}",
                render_all(&sources, &found)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// What is wrong with the ```toml wrong / ```toml right examples of flowc.toml's `code`.
fn config_example_fails(code: Code, page: &str) -> Option<String> {
    let path = std::path::Path::new("flowc.toml");
    let (Some(wrong), Some(right)) = (block(page, "```toml wrong"), block(page, "```toml right")) else {
        return Some(format!(
            "{code}: the page needs a ```toml wrong and a ```toml right block"
        ));
    };
    match flowc::config::Config::parse(wrong, path) {
        Err(flowc::config::ConfigError::Invalid { code: found, .. }) if found == code => {}
        other => return Some(format!("{code}: the wrong example gives {other:?}")),
    }
    flowc::config::Config::parse(right, path)
        .err()
        .map(|e| format!("{code}: the right example is refused:\n{e}"))
}

// ---------------------------------------------------------------------------------------------
// Every ```flow block of the other pages

/// What a ```flow block of the docs is, by its fence: a whole file (```flow), statements shown
/// out of their flow (```flow statements), or the items of a `test` block (```flow test-items).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    File,
    Statements,
    TestItems,
}

/// The ```flow blocks of `page`: (line of the fence, kind, text).
fn flow_blocks(page: &str) -> Vec<(usize, Option<Kind>, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Option<Kind>, String)> = None;
    for (i, line) in page.lines().enumerate() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```flow") {
                    let kind = match info.trim() {
                        "" => Some(Kind::File),
                        "statements" => Some(Kind::Statements),
                        "test-items" => Some(Kind::TestItems),
                        _ => None,
                    };
                    current = Some((i + 1, kind, String::new()));
                }
            }
            Some(_) if line.starts_with("```") => blocks.extend(current.take()),
            Some((_, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```flow block");
    blocks
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The `.md` pages under `docs/`, but the diagnostics pages (their own test above) and the
/// tutorial (followed by its own test below).
fn pages() -> Vec<std::path::PathBuf> {
    let mut pages: Vec<_> = walkdir::WalkDir::new(repo().join("docs"))
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| !p.starts_with(repo().join("docs/diagnostics")) && !p.ends_with("docs/tutorial.md"))
        .collect();
    pages.sort();
    pages
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            }
        })
        .collect()
}

/// Codes an excerpt may yield: it may name templates and flows it does not show, and (for
/// statements) values of the flow around it. Anything else, such as a database, property or
/// option that does not exist, or a wrong argument, makes the page say something false.
/// An example may also show a template of the stdlib again.
fn excused(kind: Kind, d: &flowc::Diagnostic) -> bool {
    let code = d.code.as_str();
    code.starts_with('W')
        || matches!(code, "E0209" | "E0210")
        || (kind == Kind::Statements && code == "E0201")
        || (code == "E0200"
            && d.message.starts_with("template `")
            && d.message.ends_with("is declared twice"))
}

/// `entities` without the entities `example` declares itself: an example showing an entity
/// stands for the project's own.
fn entities_but_those_of(entities: &str, example: &str) -> String {
    use flowc::syntax::ast::Item;
    let (shown, _) = flowc::syntax::parse(example, Default::default());
    let names: Vec<&str> = shown
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Entity(e) => Some(e.name.name.as_str()),
            _ => None,
        })
        .collect();
    let (module, _) = flowc::syntax::parse(entities, Default::default());
    let mut kept = entities.to_string();
    let mut cuts: Vec<(usize, usize)> = module
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Entity(e) if names.contains(&e.name.name.as_str()) => {
                Some((e.span.start as usize, e.span.end as usize))
            }
            _ => None,
        })
        .collect();
    cuts.sort();
    for (start, end) in cuts.into_iter().rev() {
        kept.replace_range(start..end, "");
    }
    kept
}

/// Every ```flow block of `docs/` parses, is formatted as `flowc fmt` writes it, and is checked
/// against the businesses' project (its entities, stdlib and Notion schema): only the codes of
/// [`excused`] may come out. Statements are checked inside a flow of `the_7_space`; test items
/// are parsed and formatted inside a `test` block.
#[test]
fn every_flow_block_of_the_docs_parses_is_formatted_and_checks() {
    let config = flowc::config::Config::load(&repo()).expect("flowc.toml loads");
    let entities = std::fs::read_to_string(repo().join("flows/entities.flow")).unwrap();
    let stdlib: Vec<(String, String)> = walkdir::WalkDir::new(repo().join("stdlib"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "flow"))
        .map(|e| {
            let path = e
                .path()
                .strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (path, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    let mut failures = Vec::new();
    let mut count = 0;
    for page in pages() {
        let name = page.strip_prefix(repo()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&page).unwrap();
        for (line, kind, block) in flow_blocks(&text) {
            count += 1;
            let at = format!("{name}:{line}");
            let Some(kind) = kind else {
                failures.push(format!(
                    "{at}: unknown ```flow kind (use ```flow, ```flow statements or ```flow test-items)"
                ));
                continue;
            };
            let source = match kind {
                Kind::File => block.clone(),
                Kind::Statements => format!(
                    "flow doc_example for the_7_space {{\n  on manual\n\n{}}}\n",
                    indent(&block)
                ),
                Kind::TestItems => format!("test \"doc example\" for doc_example {{\n{}}}\n", indent(&block)),
            };
            let (_, syntax) = flowc::syntax::parse(&source, Default::default());
            if !syntax.is_empty() {
                let messages: Vec<_> = syntax.iter().map(|d| d.message.clone()).collect();
                failures.push(format!("{at}: does not parse: {}", messages.join("; ")));
                continue;
            }
            match flowc::syntax::format(&source) {
                Ok(formatted) if formatted == source => {}
                Ok(formatted) => {
                    failures.push(format!("{at}: not formatted; `flowc fmt` writes:\n{formatted}"))
                }
                Err(d) => failures.push(format!("{at}: the formatter refuses it: {d:?}")),
            }
            if kind == Kind::TestItems {
                continue;
            }
            let mut files: Vec<(&str, &str)> = stdlib.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
            let entities = entities_but_those_of(&entities, &source);
            files.push(("flows/entities.flow", entities.as_str()));
            files.push(("flows/doc_example.flow", source.as_str()));
            let project = flowc::Project::from_sources(&repo(), config.clone(), files);
            let found = flowc::check(&project, &flowc::Registry::declared_builtins()).sorted();
            let example = project
                .sources
                .iter()
                .find(|(_, f)| f.path.ends_with("flows/doc_example.flow"))
                .map(|(id, _)| id);
            let wrong: Vec<String> = found
                .iter()
                .filter(|d| Some(d.file) == example && !excused(kind, d))
                .map(|d| format!("{} {}", d.code.as_str(), d.message))
                .collect();
            if !wrong.is_empty() {
                failures.push(format!("{at}: {}", wrong.join("; ")));
            }
        }
    }
    assert!(count >= 35, "expected the docs' examples, found {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} examples:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The tutorial, followed literally in a fresh folder

fn flowc_in(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok) {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// In a folder holding only what the tutorial's first paragraph names, every stage checks and is
/// formatted, stage 1 runs on the saved payload, a misspelt property is reported from the schema
/// (stage 3's claim), and stage 7's tests pass after stage 6.
#[test]
fn the_tutorial_works_when_followed_literally() {
    let page = std::fs::read_to_string(repo().join("docs/tutorial.md")).unwrap();
    let intro = &page[..page.find("## Stage 1").expect("stage 1")];
    let needed = [
        "flowc.toml",
        "flows/entities.flow",
        "stdlib/",
        "notion/schema.json",
    ];
    for name in needed {
        assert!(
            intro.contains(&format!("`{name}`")),
            "the tutorial no longer asks for `{name}`"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path();
    std::fs::create_dir_all(here.join("flows")).unwrap();
    std::fs::create_dir_all(here.join("notion")).unwrap();
    for file in ["flowc.toml", "flows/entities.flow", "notion/schema.json"] {
        std::fs::copy(repo().join(file), here.join(file)).unwrap();
    }
    copy_tree(&repo().join("stdlib"), &here.join("stdlib"));
    std::fs::copy(
        repo().join("examples/inputs/wellness_booking_tutorial.json"),
        here.join("wellness_booking.json"),
    )
    .unwrap();

    let stages: Vec<(usize, Option<Kind>, String)> = flow_blocks(&page);
    assert_eq!(stages.len(), 7, "seven stages");
    let flow = here.join("flows/wellness_booking.flow");
    for (i, (line, _, code)) in stages.iter().take(6).enumerate() {
        std::fs::write(&flow, code).unwrap();
        let (status, out) = flowc_in(here, &["check"]);
        assert_eq!(
            status,
            0,
            "stage {} (docs/tutorial.md:{line}): flowc check:\n{out}",
            i + 1
        );
        let (status, out) = flowc_in(here, &["fmt", "--check"]);
        assert_eq!(
            status,
            0,
            "stage {} (docs/tutorial.md:{line}): flowc fmt --check:\n{out}",
            i + 1
        );
        if i == 0 {
            let run = [
                "run",
                "flows/wellness_booking.flow",
                "--input",
                "@wellness_booking.json",
            ];
            let (status, out) = flowc_in(here, &run);
            assert_eq!(status, 0, "stage 1: flowc run:\n{out}");
            assert!(out.contains("\"booking_confirmed\": false"), "{out}");
        }
        if i == 2 {
            std::fs::write(&flow, code.replace("\"Session Start\"", "\"Sesion Start\"")).unwrap();
            let (status, out) = flowc_in(here, &["check"]);
            assert_eq!(status, 1, "stage 3: a misspelt property is reported:\n{out}");
            assert!(out.contains("unknown property `Sesion Start`"), "{out}");
        }
    }
    std::fs::write(&flow, format!("{}\n{}", stages[5].2, stages[6].2)).unwrap();
    let (status, out) = flowc_in(here, &["fmt", "--check"]);
    assert_eq!(status, 0, "stage 7: flowc fmt --check:\n{out}");
    let (status, out) = flowc_in(here, &["test", "flows/wellness_booking.flow"]);
    assert_eq!(status, 0, "stage 7: flowc test:\n{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
}
