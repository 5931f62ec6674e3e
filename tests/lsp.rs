//! `flowc lsp` driven over stdio with JSON-RPC, as an editor drives it: initialize, didOpen,
//! didChange, then requests, on the repository's own project (flows/, stdlib/, the Notion schema).
//! Files opened here are never written: the server keeps the editor's text in memory.

#[path = "lsp/client.rs"]
mod client;
#[path = "lsp/fields.rs"]
mod fields;
#[path = "lsp/hover.rs"]
mod hover;

use serde_json::{json, Value};

use client::{labels, position, root, Server};

/// A flow of am_consulting, opened as if being written in `flows/` (it is not on disk).
const SCRATCH: &str = r#"/// A scratch flow for the language server tests.
flow lsp_scratch for am_consulting {
  on manual

  input {
    /// The contact's email.
    email: email,
  }

  step contact = notion.query_one(db: ContactProfile, where: { Email: input.email })
  let full_name = contact."Full Name" ?? "there"
  step task = notion.create_page(db: Task, properties: {
    "Task Name": "Call {{ full_name }}",
    Status: "To Do",
    Assignee: am_consulting.staff_email,
  })
  output { id: task.id, full_name }
}
"#;

fn scratch() -> std::path::PathBuf {
    root().join("flows/lsp_scratch.flow")
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn initialize_announces_what_the_server_does_and_exit_is_clean() {
    let (server, init) = Server::start();
    let caps = &init["capabilities"];
    for capability in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "codeActionProvider",
        "renameProvider",
        "completionProvider",
    ] {
        assert!(!caps[capability].is_null(), "{capability} missing: {caps}");
    }
    assert_eq!(init["serverInfo"]["name"], "flowc");
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn diagnostics_follow_the_text_as_it_is_typed() {
    let (mut server, _) = Server::start();
    let uri = server.open(&scratch(), SCRATCH);
    assert_eq!(
        server.diagnostics(&uri),
        Vec::<Value>::new(),
        "the scratch flow is clean"
    );

    let typo = SCRATCH.replace("id: task.id", "id: tsak.id");
    server.change(&uri, 2, &typo);
    let diagnostics = server.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["E0201"], "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!(d["range"]["start"], position(&typo, "tsak.id", 0));
    assert_eq!(d["range"]["end"], position(&typo, "tsak.id", 4));
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "flowc");
    let message = d["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`tsak`") && message.contains("help: did you mean `task`?"),
        "{message}"
    );

    // A property the schema does not have, with the declaration as a related location.
    let property = SCRATCH.replace("Status: \"To Do\"", "Status: \"To Od\"");
    server.change(&uri, 3, &property);
    let diagnostics = server.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["E0802"], "{diagnostics:?}");

    // A name declared twice: the first declaration is a related location.
    let twice = SCRATCH.replace("  step task =", "  let full_name = \"x\"\n  step task =");
    server.change(&uri, 4, &twice);
    let diagnostics = server.diagnostics(&uri);
    let duplicate = diagnostics
        .iter()
        .find(|d| d["code"] == "E0200")
        .unwrap_or_else(|| panic!("E0200 in {diagnostics:?}"));
    let related = &duplicate["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], uri);
    assert_eq!(
        related["location"]["range"]["start"],
        position(&twice, "let full_name", 4)
    );
    assert_eq!(related["message"], "first declared here as a let");

    server.change(&uri, 5, SCRATCH);
    assert_eq!(
        server.diagnostics(&uri),
        Vec::<Value>::new(),
        "fixed: the editor is told to clear them"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn a_change_in_one_file_reports_in_the_files_it_affects() {
    let (mut server, _) = Server::start();
    let templates = root().join("stdlib/templates.flow");
    let text = std::fs::read_to_string(&templates).expect("stdlib/templates.flow");
    let uri = server.open(&templates, &text);
    let renamed = text.replace("template flow_failed {", "template flow_faild {");
    assert_ne!(renamed, text);
    server.change(&uri, 2, &renamed);
    let onboarding = client::uri(&root().join("flows/client_onboarding.flow"));
    let diagnostics = server.diagnostics(&onboarding);
    assert!(
        codes(&diagnostics).contains(&"E0209".to_string()),
        "{diagnostics:?}"
    );
    let related = diagnostics
        .iter()
        .any(|d| d["message"].as_str().unwrap_or("").contains("flow_faild"));
    assert!(
        related,
        "the help names the template that is there now: {diagnostics:?}"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn a_change_keeps_the_findings_of_the_files_it_cannot_affect() {
    let (mut server, _) = Server::start();
    let typo = SCRATCH.replace("id: task.id", "id: tsak.id");
    let uri = server.open(&scratch(), &typo);
    assert_eq!(codes(&server.diagnostics(&uri)), ["E0201"]);
    // Another new file, which nothing uses: only it is checked again when it changes.
    let other = root().join("flows/lsp_other.flow");
    let text = "flow lsp_other for am_consulting {\n  on manual\n  output { n: 1 }\n}\n";
    let other_uri = server.open(&other, text);
    assert_eq!(server.diagnostics(&other_uri), Vec::<Value>::new());
    server.change(&other_uri, 2, &text.replace("n: 1", "n: m"));
    assert_eq!(codes(&server.diagnostics(&other_uri)), ["E0201"]);
    // The scratch file's finding is kept, and still explained on hover.
    let hover = server.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": position(&typo, "tsak", 1) }),
    );
    let page = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(page.contains("**E0201**"), "{page}");
    server.change(&uri, 2, SCRATCH);
    assert_eq!(server.diagnostics(&uri), Vec::<Value>::new());
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn definition_and_references_cross_files() {
    let (mut server, _) = Server::start();
    let path = root().join("flows/client_onboarding.flow");
    let text = std::fs::read_to_string(&path).expect("client_onboarding.flow");
    let uri = server.open(&path, &text);
    let at = |needle: &str, shift: usize| json!({ "textDocument": { "uri": uri }, "position": position(&text, needle, shift) });

    // A flow of a `use`d module.
    let def = server.request("textDocument/definition", at("surveys.send_and_wait", 10));
    let surveys = root().join("stdlib/surveys.flow");
    assert_eq!(def["uri"], client::uri(&surveys));
    let surveys_text = std::fs::read_to_string(&surveys).expect("stdlib/surveys.flow");
    assert_eq!(
        def["range"]["start"],
        position(&surveys_text, "flow send_and_wait", 5)
    );
    // Its references: the declaration in stdlib/surveys.flow and the call here.
    let found = server.references(&uri, position(&text, "surveys.send_and_wait", 10));
    assert!(
        found.contains(&(
            client::uri(&surveys),
            position(&surveys_text, "flow send_and_wait", 5)
        )),
        "the declaration: {found:?}"
    );
    assert!(
        found.contains(&(uri.clone(), position(&text, "surveys.send_and_wait", 8))),
        "the call: {found:?}"
    );
    // The module itself.
    let def = server.request("textDocument/definition", at("surveys.send_and_wait", 2));
    assert_eq!(def["uri"], client::uri(&surveys));
    // A template, from its name in a string.
    let def = server.request("textDocument/definition", at("template: \"flow_failed\"", 13));
    assert!(
        def["uri"]
            .as_str()
            .unwrap_or("")
            .ends_with("stdlib/templates.flow"),
        "{def}"
    );
    // The template's references: its declaration and its uses in several flows.
    let files = server.reference_files(&uri, position(&text, "template: \"flow_failed\"", 13));
    assert!(
        files.iter().any(|f| f.ends_with("stdlib/templates.flow"))
            && files.iter().any(|f| f.ends_with("flows/client_onboarding.flow")),
        "{files:?}"
    );
    assert!(
        files.len() >= 3,
        "flow_failed is used by more than one flow: {files:?}"
    );
    // An entity's setting and the entity.
    let def = server.request("textDocument/definition", at("am_consulting.staff_email", 16));
    assert!(
        def["uri"].as_str().unwrap_or("").ends_with("flows/entities.flow"),
        "{def}"
    );
    // The entity a flow is for, and a database: to their declarations in entities.flow, in the
    // flow's entity (every entity declares a `Task`).
    let entities = root().join("flows/entities.flow");
    let entities_text = std::fs::read_to_string(&entities).expect("entities.flow");
    let def = server.request("textDocument/definition", at("for am_consulting", 6));
    assert_eq!(def["uri"], client::uri(&entities));
    assert_eq!(
        def["range"]["start"],
        position(&entities_text, "am_consulting \"AM", 0)
    );
    let def = server.request("textDocument/definition", at("db: Task", 5));
    assert_eq!(def["uri"], client::uri(&entities));
    let am = entities_text.find("entity am_consulting").expect("am_consulting");
    let task = am + entities_text[am..].find(" Task,").expect("its Task") + 1;
    let line = entities_text[..task].matches('\n').count();
    assert_eq!(def["range"]["start"]["line"], line, "{def}");
    // An input field and a let, from their uses.
    let def = server.request("textDocument/definition", at("input.id", 7));
    assert_eq!(def["uri"], uri);
    assert_eq!(def["range"]["start"], position(&text, "id: text", 0));
    let def = server.request("textDocument/definition", at("split(full_name", 7));
    assert_eq!(def["range"]["start"], position(&text, "let full_name", 4));
    // A step, used before and after.
    let refs = server.references(&uri, position(&text, "step client =", 6));
    let uses = text.matches("client.").count() + text.matches("client ").count();
    assert!(
        refs.len() >= 5 && refs.len() <= uses + 1,
        "{} references: {refs:?}",
        refs.len()
    );
    assert!(refs.iter().all(|(file, _)| *file == uri));
    // A database: declared in entities.flow, used here.
    let files = server.reference_files(&uri, position(&text, "db: FeedbackSurvey", 6));
    assert!(
        files.iter().any(|f| f.ends_with("flows/entities.flow")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("flows/client_onboarding.flow")),
        "{files:?}"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn completion_knows_actions_fields_properties_options_and_names() {
    let (mut server, _) = Server::start();
    let uri = server.open(&scratch(), SCRATCH);
    server.diagnostics(&uri);
    // Complete at the end of `prefix`, with `prefix` typed into the text at `anchor`.
    let mut version = 1;
    let mut complete = |server: &mut Server, anchor: &str, prefix: &str| -> Value {
        let text = SCRATCH.replacen(anchor, &format!("{prefix}{anchor}"), 1);
        version += 1;
        server.change(&uri, version, &text);
        let at = position(&text, prefix, prefix.len());
        server.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": at }),
        )
    };
    let anchor = "  output {";

    let actions = complete(&mut server, anchor, "  step x = notion.");
    let create = actions
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["label"] == "create_page")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        create["insertText"], "create_page(db: ${1}, properties: ${2})",
        "{create}"
    );
    assert_eq!(create["insertTextFormat"], 2);

    let properties = labels(&complete(&mut server, anchor, "  let y = contact."));
    for p in ["Full Name", "Email", "Contact Type", "id"] {
        assert!(properties.contains(&p.to_string()), "{p} in {properties:?}");
    }
    let inputs = labels(&complete(&mut server, anchor, "  let y = input."));
    assert_eq!(inputs, ["email"]);
    let settings = labels(&complete(&mut server, anchor, "  let y = am_consulting."));
    assert!(settings.contains(&"staff_email".to_string()), "{settings:?}");

    let options = labels(&complete(
        &mut server,
        anchor,
        "  step q = notion.query(db: Task, where: { Priority: \"",
    ));
    assert_eq!(options, ["Urgent", "High", "Medium", "Low"]);
    let compared = labels(&complete(&mut server, anchor, "  let open = task.Status == \""));
    assert!(compared.contains(&"In Progress".to_string()), "{compared:?}");
    let keys = labels(&complete(
        &mut server,
        anchor,
        "  step q = notion.query(db: Task, where: { Pri",
    ));
    assert!(
        keys.contains(&"Priority".to_string()) && keys.contains(&"Task Name".to_string()),
        "{keys:?}"
    );
    let templates = labels(&complete(
        &mut server,
        anchor,
        "  step m = email.send(template: \"",
    ));
    assert!(templates.contains(&"client_welcome".to_string()), "{templates:?}");

    let names = labels(&complete(&mut server, anchor, "  let z = "));
    for n in [
        "contact",
        "full_name",
        "task",
        "input",
        "Task",
        "am_consulting",
        "notion",
        "lower",
        "if",
        "none",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn rename_changes_every_use_and_refuses_bad_names() {
    let (mut server, _) = Server::start();
    let uri = server.open(&scratch(), SCRATCH);
    server.diagnostics(&uri);
    let at = position(SCRATCH, "let full_name", 6);
    let prepared = server.request(
        "textDocument/prepareRename",
        json!({ "textDocument": { "uri": uri }, "position": at }),
    );
    assert_eq!(prepared["start"], position(SCRATCH, "let full_name", 4));

    let edit = server.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": at, "newName": "name" }),
    );
    let edits = edit["changes"][&uri].as_array().cloned().unwrap_or_default();
    let mut texts: Vec<&str> = edits.iter().filter_map(|e| e["newText"].as_str()).collect();
    texts.sort_unstable();
    // The declaration, the interpolation, and the shorthand field that must keep its name.
    assert_eq!(texts, ["full_name: name", "name", "name"], "{edits:?}");

    let bad = server.call(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": at, "newName": "step" }),
    );
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not a valid name"),
        "{bad}"
    );
    let clash = server.call(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": at, "newName": "task" }),
    );
    assert!(
        clash["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already declared"),
        "{clash}"
    );
    let entity = server.call(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": position(SCRATCH, "am_consulting {", 2), "newName": "x" }),
    );
    assert!(
        entity.get("error").is_some(),
        "entities are not renamed: {entity}"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn outline_formatting_and_did_you_mean_fixes() {
    let (mut server, _) = Server::start();
    let messy = SCRATCH
        .replace("  on manual", "     on    manual")
        .replace("step contact =", "step   contact  =");
    let uri = server.open(&scratch(), &messy);
    server.diagnostics(&uri);

    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let flow = &symbols[0];
    assert_eq!(flow["name"], "lsp_scratch");
    let children: Vec<&str> = flow["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(children, ["email", "contact", "full_name", "task"]);

    let edits = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let formatted = edits[0]["newText"].as_str().unwrap_or_default();
    assert_eq!(formatted, flowc::format(&messy).expect("formats"));
    assert!(formatted.contains("  on manual\n"));

    let typo = SCRATCH.replace("notion.create_page", "notion.create_pag");
    server.change(&uri, 2, &typo);
    let diagnostics = server.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["E0206"], "{diagnostics:?}");
    let range = diagnostics[0]["range"].clone();
    let actions = server.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": range, "context": { "diagnostics": diagnostics } }),
    );
    let action = &actions[0];
    assert_eq!(action["title"], "replace with `create_page`");
    let edit = &action["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], "create_page");
    assert_eq!(edit["range"]["start"], position(&typo, "create_pag", 0));
    assert_eq!(edit["range"]["end"], position(&typo, "create_pag", 10));
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn unknown_requests_and_bad_params_get_errors_not_a_crash() {
    let (mut server, _) = Server::start();
    let unknown = server.call(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": "file:///x.flow" } }),
    );
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let bad = server.call("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    // A file of no project the server knows: nothing, not an error.
    let none = server.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": "file:///nowhere/x.flow" }, "position": { "line": 0, "character": 0 } }),
    );
    assert_eq!(none, Value::Null);
    assert_eq!(server.shutdown(), 0);
}
