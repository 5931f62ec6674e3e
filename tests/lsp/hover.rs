//! Hover over JSON-RPC: types from the checker, doc comments, connector action docs from the
//! manifests, Notion properties from the pulled schema, built-in functions, diagnostic pages.

use serde_json::json;

use super::client::{position, root, Server};
use super::{scratch, SCRATCH};

/// The hover text at `shift` characters into the first `needle` of `text`, the text of `uri`.
fn hover_text(server: &mut Server, uri: &str, text: &str, needle: &str, shift: usize) -> String {
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
fn hover_shows_types_docs_actions_properties_and_diagnostic_pages() {
    let (mut server, _) = Server::start();
    let uri = server.open(&scratch(), SCRATCH);
    server.diagnostics(&uri);
    let hover =
        |server: &mut Server, needle: &str, shift: usize| hover_text(server, &uri, SCRATCH, needle, shift);
    let step = hover(&mut server, "contact.\"Full", 2);
    assert!(
        step.contains("*step* `contact`: `page of ContactProfile?`"),
        "{step}"
    );
    assert!(
        step.contains("- `Full Name`: title"),
        "the database's properties: {step}"
    );
    let name = hover(&mut server, "let full_name", 6);
    assert!(
        name.contains("*let* `full_name`: `text`"),
        "a title property, defaulted: {name}"
    );
    let input = hover(&mut server, "input.email", 8);
    assert!(
        input.contains("*input* `email`: `email`") && input.contains("The contact's email."),
        "{input}"
    );
    let action = hover(&mut server, "create_page", 3);
    assert!(
        action.contains("notion.create_page(db: database") && action.contains("create a page in a database"),
        "{action}"
    );
    let property = hover(&mut server, "Status: \"To Do\"", 2);
    assert!(
        property.contains("Notion property `Status` of `Task`: `status`"),
        "{property}"
    );
    assert!(property.contains("`In Progress`"), "the options: {property}");
    let flow = hover(&mut server, "lsp_scratch", 2);
    assert!(
        flow.contains("A scratch flow for the language server tests."),
        "doc comment: {flow}"
    );

    let broken = SCRATCH.replace("id: task.id", "id: tsak.id");
    server.change(&uri, 2, &broken);
    server.diagnostics(&uri);
    let page = hover_text(&mut server, &uri, &broken, "tsak", 1);
    assert!(
        page.contains("**E0201**") && page.contains("# E0201"),
        "the code's page: {page}"
    );
    assert_eq!(server.shutdown(), 0);
}

/// Names whose types only the checker knows: built-in calls, arithmetic, a sub-flow's output.
const TYPED: &str = r#"/// Greets someone.
flow lsp_helper for am_consulting {
  input { name: text }
  output { greeting: "hello {{ input.name }}", length: len(input.name) }
}

flow lsp_typed for am_consulting {
  on manual
  input { name: text, count: number }
  let size = len(input.name)
  let doubled = input.count * 2 + size
  let words = split(input.name, " ")
  step shouted = for word in words {
    yield upper(word)
  }
  step hello = lsp_helper(name: input.name)
  step sent = email.send(to: "a@example.com", template: "client_welcome", with: { name: input.name })
  output { size, doubled, shouted, greeting: hello.greeting, sent: sent.message_id }
}
"#;

#[test]
fn hover_types_names_from_the_checker_and_documents_built_ins_and_actions() {
    let (mut server, _) = Server::start();
    let uri = server.open(&root().join("flows/lsp_typed.flow"), TYPED);
    server.diagnostics(&uri);
    let hover =
        |server: &mut Server, needle: &str, shift: usize| hover_text(server, &uri, TYPED, needle, shift);
    let size = hover(&mut server, "let size", 5);
    assert!(size.contains("*let* `size`: `number`"), "a built-in call: {size}");
    let doubled = hover(&mut server, "let doubled", 5);
    assert!(
        doubled.contains("*let* `doubled`: `number`"),
        "arithmetic: {doubled}"
    );
    let words = hover(&mut server, "let words", 5);
    assert!(words.contains("*let* `words`: `[text]`"), "{words}");
    let word = hover(&mut server, "for word", 4);
    assert!(
        word.contains("*loop variable* `word`: `text`"),
        "an element of the list: {word}"
    );
    let shouted = hover(&mut server, "step shouted", 6);
    assert!(
        shouted.contains("*step* `shouted`: `[text]`"),
        "what the loop yields: {shouted}"
    );
    let hello = hover(&mut server, "step hello", 6);
    assert!(
        hello.contains("*step* `hello`: `{ greeting: text, length: number }`"),
        "a sub-flow's output: {hello}"
    );
    assert!(
        hello.contains("- `greeting`: text") && hello.contains("- `length`: number"),
        "its fields: {hello}"
    );
    let used = hover(&mut server, "hello.greeting", 2);
    assert!(used.contains("*step* `hello`"), "a use shows the same: {used}");

    let len = hover(&mut server, "len(input.name)\n  let", 1);
    assert!(
        len.contains("len(value)")
            && len.contains("*built-in function* `len`")
            && len.contains("returns `number`"),
        "{len}"
    );
    let split = hover(&mut server, "split(", 0);
    assert!(
        split.contains("split(text, text)") && split.contains("returns `[text]`"),
        "{split}"
    );

    let send = hover(&mut server, "email.send", 7);
    assert!(send.contains("email.send(to: "), "the signature: {send}");
    assert!(send.contains("- `template`"), "its parameters: {send}");
    let text = TYPED.replace("  let size", "  step q = notion.query(db: Task)\n  let size");
    server.change(&uri, 2, &text);
    let query = hover_text(&mut server, &uri, &text, "notion.query", 8);
    assert!(
        query.contains("reads a database"),
        "the manifest's access: {query}"
    );
    assert!(
        query.contains("retried by default: 4 attempts in all")
            && query.contains("paced to 3 requests a second"),
        "its retry policy and rate limit: {query}"
    );
    assert_eq!(server.shutdown(), 0);
}
