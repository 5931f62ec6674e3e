//! The typed flow the checker computes once: every step's and let's type, as editors show it.

use std::path::Path;

use flowc::config::Config;
use flowc::{Project, Registry};

#[test]
fn steps_and_lets_carry_the_types_the_checker_worked_out() {
    let src = "entity e {\n  databases Contacts\n}\n\nflow f for e {\n  on manual\n  input { email: email, tags: [text] }\n  step found = notion.query(db: Contacts, where: { Email: input.email })\n  let count = len(input.tags) + len(found)\n  let first_id = first(found).id\n  output { count, first_id }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let file = project.modules[0].file;
    let flows = flowc::check::flow_types(&project, &Registry::declared_builtins(), file);
    assert_eq!(flows.len(), 1);
    let (name, decls) = &flows[0];
    assert_eq!(name, "f");
    let shown: Vec<(String, String)> = decls.iter().map(|d| (d.name.clone(), d.ty.to_string())).collect();
    assert_eq!(shown[1], ("count".to_string(), "number".to_string()));
    assert!(shown[0].1.starts_with('['), "a query gives a list: {shown:?}");
    assert!(
        shown[2].1.ends_with('?'),
        "a field of `first(...)` may be none: {shown:?}"
    );
    assert_eq!(&src[decls[1].span.range()], "count");
}
