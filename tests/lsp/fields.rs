//! The fields of a step's or let's result over JSON-RPC: hover types a field where it is used
//! (`hello.greeting`, `sent.message_id`, `hello.parts.first`) and completion after `.` offers the
//! fields, from the called flow's body or the action's manifest as the checker types them.

use serde_json::{json, Value};

use super::client::{labels, position, root, Server};

const FIELDS: &str = r#"flow lsp_parts for am_consulting {
  input { name: text }
  output { greeting: "hello {{ input.name }}", parts: { first: input.name, count: len(input.name) } }
}

flow lsp_fields for am_consulting {
  on manual
  input { name: text }
  step hello = lsp_parts(name: input.name)
  step sent = email.send(to: "a@example.com", template: "client_welcome", with: {
    first_name: input.name, consultant: "Ann", project_url: "https://example.com",
  })
  let pair = { left: 1, right: "r" }
  output { greeting: hello.greeting, first: hello.parts.first, id: sent.message_id, left: pair.left }
}
"#;

fn hover(server: &mut Server, uri: &str, text: &str, needle: &str, shift: usize) -> String {
    let result = server.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position(text, needle, shift) }),
    );
    result["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn hover_types_the_fields_of_results() {
    let (mut server, _) = Server::start();
    let uri = server.open(&root().join("flows/lsp_fields.flow"), FIELDS);
    assert_eq!(server.diagnostics(&uri), Vec::<Value>::new(), "the flow is clean");
    let greeting = hover(&mut server, &uri, FIELDS, "hello.greeting", 8);
    assert!(
        greeting.contains("*field* `greeting` of step `hello`: `text`"),
        "a sub-flow's output field: {greeting}"
    );
    let first = hover(&mut server, &uri, FIELDS, "hello.parts.first", 13);
    assert!(
        first.contains("*field* `parts.first` of step `hello`: `text`"),
        "down a nested record: {first}"
    );
    let parts = hover(&mut server, &uri, FIELDS, "hello.parts.first", 7);
    assert!(
        parts.contains("*field* `parts` of step `hello`: `{ count: number, first: text }`"),
        "{parts}"
    );
    let id = hover(&mut server, &uri, FIELDS, "sent.message_id", 6);
    assert!(
        id.contains("*field* `message_id` of step `sent`: `text`"),
        "an action's result field: {id}"
    );
    let left = hover(&mut server, &uri, FIELDS, "pair.left", 6);
    assert!(
        left.contains("*field* `left` of let `pair`: `number`"),
        "a let's record: {left}"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn completion_after_a_dot_offers_the_fields_of_results() {
    let (mut server, _) = Server::start();
    let uri = server.open(&root().join("flows/lsp_fields.flow"), FIELDS);
    server.diagnostics(&uri);
    let mut version = 1;
    let mut complete = |server: &mut Server, prefix: &str| -> Vec<String> {
        let anchor = "  output { greeting: hello.greeting";
        let text = FIELDS.replacen(anchor, &format!("{prefix}\n{anchor}"), 1);
        version += 1;
        server.change(&uri, version, &text);
        let result = server.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": position(&text, prefix, prefix.len()) }),
        );
        let mut found = labels(&result);
        found.sort();
        found
    };
    assert_eq!(complete(&mut server, "  let x = hello."), ["greeting", "parts"]);
    assert_eq!(
        complete(&mut server, "  let x = sent."),
        ["message_id", "sent_by", "subject", "to"]
    );
    assert_eq!(complete(&mut server, "  let x = pair."), ["left", "right"]);
    assert_eq!(
        complete(&mut server, "  let x = hello.parts."),
        ["count", "first"],
        "down a nested record"
    );
    assert_eq!(
        complete(&mut server, "  let x = hello.parts.fi"),
        ["count", "first"],
        "a name begun: the editor filters"
    );
    assert_eq!(server.shutdown(), 0);
}

/// A loop over a Notion query's pages (`for member in members`): the loop variable is a page of
/// the query's database, so its fields are that database's properties, in hover and completion.
#[test]
fn a_loop_variable_over_notion_pages_has_the_databases_properties() {
    let (mut server, _) = Server::start();
    let path = root().join("flows/community_event.flow");
    let text = std::fs::read_to_string(&path).expect("community_event.flow");
    let uri = server.open(&path, &text);
    server.diagnostics(&uri);
    let member = hover(&mut server, &uri, &text, "for member in members", 4);
    assert!(
        member.contains("*loop variable* `member`: `page of CommunityMember`")
            && member.contains("Notion properties:"),
        "{member}"
    );
    let email = hover(&mut server, &uri, &text, "member.Email", 8);
    assert!(
        email.contains("Notion property `Email` of `CommunityMember`"),
        "{email}"
    );
    let anchor = "for member in members concurrency 10 {\n";
    let typed = text.replacen(anchor, &format!("{anchor}      let probe = member.\n"), 1);
    server.change(&uri, 2, &typed);
    let result = server.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": position(&typed, "probe = member.", 15) }),
    );
    let found = labels(&result);
    for property in ["Email", "Name", "Event Announcements", "id"] {
        assert!(found.contains(&property.to_string()), "{property} in {found:?}");
    }
    assert_eq!(server.shutdown(), 0);
}
