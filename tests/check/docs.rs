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
