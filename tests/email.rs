//! The email connector against a real SMTP server (aiosmtpd, started per test): headers, both
//! parts, per-entity senders, error classes, idempotent retries, outbox mode and STARTTLS.

#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use flowc::config::Config;
use flowc::connectors::email::EmailConnector;
use flowc::connectors::{ActionCall, Connector, ErrorClass};
use flowc::value::Value;
use smtp_server::{free_port, test_certificate, SmtpServer, TlsMode};

const ENTITIES: &str = r#"
[entities.the_7_space]
email_from = "The 7 Space <hello@the7space.example>"
reply_to = "bookings@the7space.example"

[entities.am_consulting]
"#;

/// A connector for `url`, keeping its sent log in `root`.
fn connector(root: &Path, email_table: &str) -> EmailConnector {
    let text = format!(
        "[connectors.email]\n{email_table}\nfrom = \"Higher Self <ops@higherself.example>\"\n{ENTITIES}"
    );
    let config = Config::parse(&text, Path::new("flowc.toml")).unwrap();
    EmailConnector::from_config(&config, root).unwrap()
}

fn send_call(entity: &str, key: &str, to: &str, args: Vec<(&str, Value)>) -> ActionCall {
    let mut all: BTreeMap<String, Value> = BTreeMap::new();
    all.insert("to".into(), Value::text(to));
    all.insert("template".into(), Value::text("booking_confirmation"));
    all.insert(
        "with".into(),
        Value::record([
            ("service", Value::text("Reiki")),
            ("client", Value::record([("name", Value::text("Ada"))])),
        ]),
    );
    all.insert("subject".into(), Value::text("Your Reiki session is confirmed"));
    all.insert(
        "text".into(),
        Value::text("Hi Ada,\n\nSee you on Monday at 10:00.\n"),
    );
    all.insert(
        "html".into(),
        Value::text("<p>Hi Ada,</p><p>See you on <b>Monday at 10:00</b>.</p>"),
    );
    for (k, v) in args {
        if v.is_null() {
            all.remove(k);
        } else {
            all.insert(k.to_string(), v);
        }
    }
    ActionCall {
        action: "send".into(),
        args: all,
        entity: entity.into(),
        flow_entity: entity.into(),
        instance: "inst-1".into(),
        step: "confirm".into(),
        attempt: 1,
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn sends_multipart_message_with_entity_sender() {
    let server = SmtpServer::start();
    let root = tempfile::tempdir().unwrap();
    let email = connector(root.path(), &format!("url = \"{}\"", server.url()));
    let out = email
        .call(send_call(
            "the_7_space",
            "inst-1/confirm",
            "ada@client.example",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(
        out.get("message_id"),
        &Value::text("<inst-1/confirm@the7space.example>")
    );
    assert_eq!(out.get("to"), &Value::text("ada@client.example"));
    assert_eq!(
        out.get("subject"),
        &Value::text("Your Reiki session is confirmed")
    );

    let messages = server.wait_for(1);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.mail_from, "hello@the7space.example");
    assert_eq!(m.rcpt_tos, vec!["ada@client.example".to_string()]);
    assert_eq!(m.header("From"), "The 7 Space <hello@the7space.example>");
    assert_eq!(m.header("To"), "ada@client.example");
    assert_eq!(m.header("Reply-To"), "bookings@the7space.example");
    assert_eq!(m.header("Subject"), "Your Reiki session is confirmed");
    assert_eq!(m.header("Message-ID"), "<inst-1/confirm@the7space.example>");
    assert!(!m.header("Date").is_empty());
    assert_eq!(m.content_type, "multipart/alternative");
    // SMTP carries CRLF line ends.
    assert_eq!(
        m.part("text/plain").unwrap().replace("\r\n", "\n").trim_end(),
        "Hi Ada,\n\nSee you on Monday at 10:00."
    );
    assert_eq!(
        m.part("text/html").unwrap().trim_end(),
        "<p>Hi Ada,</p><p>See you on <b>Monday at 10:00</b>.</p>"
    );
    assert!(!m.tls);
    assert!(m.raw.contains("Content-Type: multipart/alternative"), "{}", m.raw);
}

#[tokio::test]
async fn defaults_overrides_single_parts_and_copies() {
    let server = SmtpServer::start();
    let root = tempfile::tempdir().unwrap();
    let email = connector(root.path(), &format!("url = \"{}\"", server.url()));
    // am_consulting has no sender of its own: the connector's `from`; an explicit reply_to; text only.
    email
        .call(send_call(
            "am_consulting",
            "k-text",
            "Bo Client <bo@client.example>",
            vec![
                ("html", Value::Null),
                ("reply_to", Value::text("amelia@am.example")),
                ("cc", Value::List(vec![Value::text("files@am.example")])),
                ("subject", Value::text("Café ☕ notes")),
            ],
        ))
        .await
        .unwrap();
    // HTML only.
    email
        .call(send_call(
            "the_7_space",
            "k-html",
            "cy@client.example",
            vec![("text", Value::Null)],
        ))
        .await
        .unwrap();
    let messages = server.wait_for(2);
    assert_eq!(messages.len(), 2);
    let text_only = &messages[0];
    assert_eq!(text_only.header("From"), "Higher Self <ops@higherself.example>");
    assert_eq!(text_only.header("Reply-To"), "amelia@am.example");
    assert_eq!(text_only.header("To"), "Bo Client <bo@client.example>");
    assert_eq!(text_only.header("Cc"), "files@am.example");
    assert_eq!(text_only.header("Subject"), "Café ☕ notes");
    assert_eq!(text_only.header("Message-ID"), "<k-text@higherself.example>");
    assert_eq!(text_only.content_type, "text/plain");
    let mut rcpts = text_only.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(rcpts, vec!["bo@client.example", "files@am.example"]);

    let html_only = &messages[1];
    assert_eq!(html_only.content_type, "text/html");
    assert!(html_only
        .part("text/html")
        .unwrap()
        .contains("<b>Monday at 10:00</b>"));
}

#[tokio::test]
async fn retry_with_the_same_key_sends_once() {
    let server = SmtpServer::start();
    let root = tempfile::tempdir().unwrap();
    let table = format!("url = \"{}\"\nsent_log = \"state/email\"", server.url());
    let email = Arc::new(connector(root.path(), &table));
    let call = send_call("the_7_space", "inst-7/confirm", "ada@client.example", vec![]);

    let first = email.call(call.clone()).await.unwrap();
    let mut retry = call.clone();
    retry.attempt = 2;
    let second = email.call(retry).await.unwrap();
    assert_eq!(first, second);

    // Concurrent attempts of one key, and a restarted process reading the same sent log.
    let (a, b) = tokio::join!(email.call(call.clone()), email.call(call.clone()));
    assert_eq!(a.unwrap(), first);
    assert_eq!(b.unwrap(), first);
    let restarted = connector(root.path(), &table);
    assert_eq!(restarted.call(call.clone()).await.unwrap(), first);
    assert!(root.path().join("state/email/sent.jsonl").is_file());

    // A different key is a different message.
    email
        .call(send_call(
            "the_7_space",
            "inst-8/confirm",
            "ada@client.example",
            vec![],
        ))
        .await
        .unwrap();
    let messages = server.wait_for(2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let messages_after = server.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages_after.len(), 2, "a retry sent a second copy");
    assert_eq!(
        messages_after[0].header("Message-ID"),
        "<inst-7/confirm@the7space.example>"
    );
    assert_eq!(
        messages_after[1].header("Message-ID"),
        "<inst-8/confirm@the7space.example>"
    );
}

#[tokio::test]
async fn rejected_recipient_is_permanent_and_deferral_transient() {
    let server = SmtpServer::start();
    let root = tempfile::tempdir().unwrap();
    let email = connector(root.path(), &format!("url = \"{}\"", server.url()));
    let err = email
        .call(send_call(
            "the_7_space",
            "k-rej",
            "reject.me@client.example",
            vec![],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert!(err.message.contains("rejected"), "{}", err.message);
    assert_eq!(err.details.get("smtp_code"), &Value::text("550"));

    let err = email
        .call(send_call("the_7_space", "k-def", "defer@client.example", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
    assert_eq!(err.details.get("smtp_code"), &Value::text("451"));

    // A failed send is not recorded: once the recipient is fixed the same key sends.
    email
        .call(send_call("the_7_space", "k-rej", "ada@client.example", vec![]))
        .await
        .unwrap();
    assert_eq!(server.wait_for(1).len(), 1);
}

#[tokio::test]
async fn smtp_server_down_is_transient() {
    let root = tempfile::tempdir().unwrap();
    let port = free_port();
    let email = connector(
        root.path(),
        &format!("url = \"smtp://127.0.0.1:{port}\"\ntimeout = \"3s\""),
    );
    let err = email
        .call(send_call("the_7_space", "k-down", "ada@client.example", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
    assert!(
        err.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn unrendered_template_and_missing_configuration_are_permanent() {
    let root = tempfile::tempdir().unwrap();
    let email = connector(root.path(), "url = \"smtp://127.0.0.1:1\"");
    let err = email
        .call(send_call(
            "the_7_space",
            "k",
            "ada@client.example",
            vec![("subject", Value::Null)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("template not rendered"), "{}", err.message);
    assert!(err.message.contains("`booking_confirmation`"), "{}", err.message);

    let err = email
        .call(send_call("the_7_space", "k", "not an address", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("`to`"), "{}", err.message);

    // No [connectors.email] at all: loading works, sending says what to configure.
    let bare = EmailConnector::from_config(
        &Config::parse(ENTITIES, Path::new("flowc.toml")).unwrap(),
        root.path(),
    )
    .unwrap();
    let err = bare
        .call(send_call("the_7_space", "k", "ada@client.example", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("`url"), "{}", err.message);
    let err = bare
        .call(send_call("am_consulting", "k", "ada@client.example", vec![]))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("`[entities.am_consulting]`"),
        "{}",
        err.message
    );

    // Credentials come from environment variables; a missing one is named.
    let with_auth = connector(
        root.path(),
        "url = \"smtp://127.0.0.1:1\"\nusername_env = \"FLOWC_TEST_SMTP_USER_UNSET\"\npassword_env = \"FLOWC_TEST_SMTP_PASSWORD_UNSET\"",
    );
    let err = with_auth
        .call(send_call("the_7_space", "k", "ada@client.example", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("`FLOWC_TEST_SMTP_USER_UNSET`"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn outbox_mode_writes_one_eml_per_key() {
    let root = tempfile::tempdir().unwrap();
    // The url points nowhere: outbox mode must not connect.
    let email = connector(root.path(), "url = \"smtp://127.0.0.1:1\"\noutbox = \"outbox\"");
    let call = send_call("the_7_space", "inst-1/confirm", "ada@client.example", vec![]);
    let first = email.call(call.clone()).await.unwrap();
    let again = email.call(call).await.unwrap();
    assert_eq!(first, again);
    let files: Vec<_> = std::fs::read_dir(root.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].file_name().unwrap(), "inst-1_2Fconfirm.eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        eml.contains("From: \"The 7 Space\" <hello@the7space.example>"),
        "{eml}"
    );
    assert!(
        eml.contains("Message-ID: <inst-1/confirm@the7space.example>"),
        "{eml}"
    );
    assert!(eml.contains("Subject: Your Reiki session is confirmed"), "{eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    // Dry runs leave the sent log alone.
    assert!(!root.path().join(".flowc/email/sent.jsonl").exists());

    // `with_outbox` turns any connector into a dry-run one.
    let dry = connector(root.path(), "url = \"smtp://127.0.0.1:1\"").with_outbox(root.path().join("dry"));
    dry.call(send_call("the_7_space", "k2", "ada@client.example", vec![]))
        .await
        .unwrap();
    assert!(root.path().join("dry/k2.eml").is_file());
}

#[tokio::test]
async fn starttls_with_a_custom_root_certificate() {
    let tls = test_certificate();
    let server = SmtpServer::start_with(Some((&tls, TlsMode::StartTls)));
    let root = tempfile::tempdir().unwrap();
    let table = format!(
        "url = \"smtp://127.0.0.1:{}?tls=starttls\"\nca_file = \"{}\"",
        server.port,
        tls.cert.display()
    );
    let email = connector(root.path(), &table);
    email
        .call(send_call("the_7_space", "k-tls", "ada@client.example", vec![]))
        .await
        .unwrap();
    let messages = server.wait_for(1);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls, "the message did not travel over TLS");

    // Without the root certificate the server is not trusted: permanent, not retried forever.
    let untrusted = connector(
        root.path(),
        &format!("url = \"smtp://127.0.0.1:{}?tls=starttls\"", server.port),
    );
    let err = untrusted
        .call(send_call("the_7_space", "k-tls2", "ada@client.example", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert!(err.message.contains("ca_file"), "{}", err.message);
}

#[tokio::test]
async fn implicit_tls_with_smtps() {
    let tls = test_certificate();
    let server = SmtpServer::start_with(Some((&tls, TlsMode::Implicit)));
    let root = tempfile::tempdir().unwrap();
    let table = format!(
        "url = \"smtps://127.0.0.1:{}\"\nca_file = \"{}\"",
        server.port,
        tls.cert.display()
    );
    let email = connector(root.path(), &table);
    email
        .call(send_call("the_7_space", "k-smtps", "ada@client.example", vec![]))
        .await
        .unwrap();
    let messages = server.wait_for(1);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls, "the message did not travel over TLS");
    assert_eq!(messages[0].header("Message-ID"), "<k-smtps@the7space.example>");
}
