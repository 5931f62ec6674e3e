//! The slack connector against the Slack emulator: a message posted with blocks, each error
//! class, a 429 retried after its `Retry-After` through the engine, and one message only under
//! retry and restart, also when a post's answer was lost (looked up in the conversation's
//! history, or failing with the outcome unknown while the history cannot be read). Also the
//! emulator itself on the answers Slack documents (posting, history pages, channels, direct
//! channels).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowc::config::Config;
use flowc::connectors::slack::emulator::SlackEmulator;
use flowc::connectors::slack::SlackConnector;
use flowc::connectors::{ActionCall, Connector, ErrorClass};
use flowc::runtime::Engine;
use flowc::value::Value;
use flowc::Project;
use serde_json::{json, Value as Json};

#[path = "support/channels.rs"]
mod channels;

const TOKEN: &str = "xoxb-test-token";
const TOKEN_ENV: &str = "STUDIO_SLACK_TOKEN";

fn config(base_url: &str, sent_log: &Path) -> Config {
    let text = format!(
        r#"
        [entities.studio]
        [connectors.slack]
        base_url = "{base_url}"
        sent_log = "{}"
        [connectors.slack.entities.studio]
        token_env = "{TOKEN_ENV}"
        "#,
        sent_log.display()
    );
    Config::parse(&text, Path::new("flowc.toml")).unwrap()
}

fn connector(config: &Config) -> SlackConnector {
    SlackConnector::from_config_with_env(config, Path::new("/"), |name| {
        (name == TOKEN_ENV).then(|| TOKEN.to_string())
    })
    .unwrap()
}

fn post(key: &str, channel: &str, text: &str, blocks: Option<Value>) -> ActionCall {
    let mut args = BTreeMap::from([
        ("channel".to_string(), Value::text(channel)),
        ("text".to_string(), Value::text(text)),
    ]);
    if let Some(blocks) = blocks {
        args.insert("blocks".to_string(), blocks);
    }
    ActionCall {
        action: "post".into(),
        args,
        entity: "studio".into(),
        flow_entity: "studio".into(),
        instance: "i-1".into(),
        step: "alert".into(),
        attempt: 1,
        idempotency_key: key.into(),
    }
}

struct Rig {
    slack: SlackEmulator,
    config: Config,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let slack = SlackEmulator::start(&[TOKEN]).await.unwrap();
    slack.channel("team-alerts", "C0ALERTS01", true, false);
    slack.channel("leads", "C0LEADS001", false, false);
    slack.channel("old", "C0OLD00001", true, true);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&slack.base_url(), dir.path());
    Rig {
        slack,
        config,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_message_is_posted_with_its_blocks() {
    let r = rig().await;
    let blocks = Value::from_json(&json!([
        { "type": "section", "text": { "type": "mrkdwn", "text": "*New lead*: Amelia" } }
    ]));
    let out = connector(&r.config)
        .call(post("k1", "#team-alerts", "New lead: Amelia", Some(blocks)))
        .await
        .unwrap();
    let messages = r.slack.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["channel"], "C0ALERTS01");
    assert_eq!(m["message"]["text"], "New lead: Amelia");
    assert_eq!(m["message"]["blocks"][0]["text"]["text"], "*New lead*: Amelia");
    assert_eq!(out.get("channel"), &Value::text("C0ALERTS01"));
    assert_eq!(out.get("ts"), &Value::text(m["ts"].as_str().unwrap()));
}

#[tokio::test]
async fn errors_are_classified_as_slack_documents_them() {
    let r = rig().await;
    let slack = connector(&r.config);
    let class = |e: &flowc::connectors::ConnectorError| (e.class, e.details.get("error").clone());
    let e = slack.call(post("a", "#nowhere", "hi", None)).await.unwrap_err();
    assert_eq!(
        class(&e),
        (ErrorClass::Permanent, Value::text("channel_not_found"))
    );
    let e = slack.call(post("b", "#leads", "hi", None)).await.unwrap_err();
    assert_eq!(class(&e), (ErrorClass::Permanent, Value::text("not_in_channel")));
    assert!(e.message.contains("/invite"), "{}", e.message);
    let e = slack.call(post("c", "C0OLD00001", "hi", None)).await.unwrap_err();
    assert_eq!(class(&e), (ErrorClass::Permanent, Value::text("is_archived")));
    let wrong =
        SlackConnector::from_config_with_env(&r.config, Path::new("/"), |_| Some("xoxb-revoked".into()))
            .unwrap();
    let e = wrong
        .call(post("d", "#team-alerts", "hi", None))
        .await
        .unwrap_err();
    assert_eq!(class(&e), (ErrorClass::Permanent, Value::text("invalid_auth")));
    r.slack.fail_next(429, 1, Some(30));
    let e = slack
        .call(post("e", "#team-alerts", "hi", None))
        .await
        .unwrap_err();
    assert_eq!(class(&e), (ErrorClass::RateLimited, Value::text("ratelimited")));
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    r.slack.fail_next(503, 1, None);
    let e = slack
        .call(post("e", "#team-alerts", "hi", None))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    let e = slack
        .call(post("f", "#team-alerts", "hi", Some(Value::text("not blocks"))))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(r.slack.messages().is_empty());
}

#[tokio::test]
async fn a_retry_and_a_restart_post_the_message_once() {
    let r = rig().await;
    let call = || post("inst/alert", "#team-alerts", "Urgent lead", None);
    let first = connector(&r.config).call(call()).await.unwrap();
    let again = connector(&r.config).call(call()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(r.slack.messages().len(), 1);
    connector(&r.config)
        .call(post("inst2/alert", "#team-alerts", "Urgent lead", None))
        .await
        .unwrap();
    assert_eq!(r.slack.messages().len(), 2);
}

#[tokio::test]
async fn a_flow_step_waits_out_a_429_and_posts_once() {
    let r = rig().await;
    r.slack.fail_next(429, 1, Some(1));
    let src = r##"entity studio {}
flow alert for studio {
  input { name: text }
  step posted = slack.post(channel: "#team-alerts", text: "New lead: {{ input.name }}")
  output { ts: posted.ts }
}
"##;
    let project = Project::from_sources(Path::new("/t"), r.config.clone(), [("t.flow", src)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(Arc::new(connector(&r.config)))
        .build()
        .unwrap();
    let started = Instant::now();
    let id = engine.start("alert", json!({ "name": "Amelia" })).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), engine.output(&id))
        .await
        .expect("the instance ends")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not waited"
    );
    let messages = r.slack.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["message"]["text"], "New lead: Amelia");
    assert_eq!(out.get("ts"), &Value::text(messages[0]["ts"].as_str().unwrap()));
}

/// The emulator on the documented answers, spoken to as any client would.
#[tokio::test]
async fn the_emulator_answers_as_slack_documents() {
    let r = rig().await;
    let url = format!("{}/chat.postMessage", r.slack.base_url());
    let client = reqwest::Client::new();
    let ask = |token: Option<&str>, body: Json| {
        let mut request = client.post(&url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let ok = ask(Some(TOKEN), json!({ "channel": "C0ALERTS01", "text": "hello" }))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let answer: Json = ok.json().await.unwrap();
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["channel"], "C0ALERTS01");
    assert_eq!(answer["message"]["subtype"], "bot_message");
    let ts = answer["ts"].as_str().unwrap();
    assert!(
        ts.split_once('.')
            .is_some_and(|(s, f)| s.parse::<u64>().is_ok() && f.len() == 6),
        "{ts}"
    );

    let cases = [
        (
            None,
            json!({ "channel": "#team-alerts", "text": "x" }),
            "not_authed",
        ),
        (
            Some("xoxb-other"),
            json!({ "channel": "#team-alerts", "text": "x" }),
            "invalid_auth",
        ),
        (
            Some(TOKEN),
            json!({ "channel": "#nope", "text": "x" }),
            "channel_not_found",
        ),
        (
            Some(TOKEN),
            json!({ "channel": "#leads", "text": "x" }),
            "not_in_channel",
        ),
        (Some(TOKEN), json!({ "channel": "#team-alerts" }), "no_text"),
        (
            Some(TOKEN),
            json!({ "channel": "#team-alerts", "text": "x".repeat(40_001) }),
            "msg_too_long",
        ),
        (
            Some(TOKEN),
            json!({ "channel": "#team-alerts", "text": "x", "blocks": "nope" }),
            "invalid_blocks",
        ),
    ];
    for (token, body, error) in cases {
        let answer = ask(token, body).await.unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{error}");
        let answer: Json = answer.json().await.unwrap();
        assert_eq!(answer, json!({ "ok": false, "error": error }));
    }
    r.slack.fail_next(429, 1, Some(12));
    let limited = ask(Some(TOKEN), json!({ "channel": "#team-alerts", "text": "x" }))
        .await
        .unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "12");
    let answer: Json = limited.json().await.unwrap();
    assert_eq!(answer["error"], "ratelimited");
    assert_eq!(r.slack.messages().len(), 1);
}

#[test]
fn settings_are_checked_when_the_connector_is_built() {
    let built = |text: &str| {
        SlackConnector::from_config(
            &Config::parse(text, Path::new("flowc.toml")).unwrap(),
            Path::new("/"),
        )
    };
    assert!(built("[entities.studio]\n[connectors.slack.entities.studio]\ntoken_env = \"T\"").is_ok());
    let err = |text: &str| built(text).err().unwrap().message;
    assert!(err("[entities.studio]\n[connectors.slack.entities.studio]\n").contains("`token_env`"));
    assert!(err("[connectors.slack.entities.ghost]\ntoken_env = \"T\"").contains("`ghost`"));
    assert!(err("[connectors.slack]\nbase_url = \"ftp://x\"").contains("http(s)"));
    let refused = Config::parse("[connectors.slack]\ntoken = \"xoxb-1\"", Path::new("flowc.toml"));
    assert!(refused.unwrap_err().to_string().contains("token"));
}

#[tokio::test]
async fn a_fault_plans_slack_part_is_played_by_the_emulator() {
    use flowc::connectors::faults::{FaultPlan, FaultTime};
    let r = rig().await;
    let plan: FaultPlan = "slack:429=100%".parse().unwrap();
    r.slack
        .set_faults(plan.gate("slack", 3, FaultTime::Wall).unwrap());
    let e = connector(&r.config)
        .call(post("f", "#team-alerts", "hi", None))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited, "{}", e.message);
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
    assert!(r.slack.messages().is_empty());
    // The plan's other services leave Slack alone.
    let r = rig().await;
    let plan: FaultPlan = "twilio:503=100%".parse().unwrap();
    assert!(plan.gate("slack", 3, FaultTime::Wall).is_none());
    connector(&r.config)
        .call(post("g", "#team-alerts", "hi", None))
        .await
        .unwrap();
}

/// The rig's configuration with a short timeout, so a held answer is lost quickly.
fn impatient(r: &Rig) -> Config {
    channels::impatient(&r.config, "slack")
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_found_in_the_history_not_posted_again() {
    let r = rig().await;
    let config = impatient(&r);
    // By id, by name (conversations.list) and to a user (conversations.open): each is looked
    // up in the conversation the post landed in.
    for (n, channel) in ["C0ALERTS01", "#team-alerts", "U0123ANA"].into_iter().enumerate() {
        let key = format!("inst{n}/alert");
        r.slack.accept_then_hang(1, Duration::from_secs(5));
        let lost = connector(&config)
            .call(post(&key, channel, "Urgent lead: Amelia", None))
            .await
            .unwrap_err();
        assert_eq!(lost.class, ErrorClass::Transient, "{lost:?}");
        assert_eq!(r.slack.messages().len(), n + 1, "Slack has it");
        // The retry (here a new process on the same logs) reads the history before posting.
        let retried = connector(&config)
            .call(post(&key, channel, "Urgent lead: Amelia", None))
            .await
            .unwrap();
        let messages = r.slack.messages();
        assert_eq!(messages.len(), n + 1, "{channel}: posted once");
        let landed = &messages[n];
        assert_eq!(retried.get("ts").as_str(), landed["ts"].as_str(), "{channel}");
        assert_eq!(
            retried.get("channel").as_str(),
            landed["channel"].as_str(),
            "{channel}"
        );
        // Found once, it is recorded: a later retry neither reads nor posts.
        r.slack.fail_next_reads(1);
        let again = connector(&config)
            .call(post(&key, channel, "Urgent lead: Amelia", None))
            .await
            .unwrap();
        assert_eq!(again, retried);
        assert_eq!(
            read_status(&r).await,
            503,
            "the failure set up for a read is still there"
        );
    }
    assert_eq!(
        r.slack.messages()[2]["channel"].as_str().map(|c| &c[..1]),
        Some("D")
    );
}

/// The status of a `conversations.history` read of `#team-alerts`.
async fn read_status(r: &Rig) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/conversations.history", r.slack.base_url()))
        .bearer_auth(TOKEN)
        .query(&[("channel", "C0ALERTS01")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_post_slack_does_not_have_is_posted_on_retry() {
    let r = rig().await;
    // Refused with a 503 before Slack posts anything.
    r.slack.fail_next(503, 1, None);
    let c = connector(&r.config);
    let failed = c
        .call(post("inst/alert", "#team-alerts", "Urgent lead", None))
        .await
        .unwrap_err();
    assert_eq!(failed.class, ErrorClass::Transient);
    // Another message with another text in the channel is not taken for it.
    c.call(post("other/alert", "#team-alerts", "Another lead", None))
        .await
        .unwrap();
    c.call(post("inst/alert", "#team-alerts", "Urgent lead", None))
        .await
        .unwrap();
    let texts: Vec<_> = r
        .slack
        .messages()
        .iter()
        .map(|m| m["message"]["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("Another lead"), json!("Urgent lead")]);
}

#[tokio::test]
async fn a_history_that_cannot_be_read_fails_the_attempt_and_posts_nothing() {
    let r = rig().await;
    let config = impatient(&r);
    r.slack.accept_then_hang(1, Duration::from_secs(5));
    let c = connector(&config);
    c.call(post("inst/alert", "C0ALERTS01", "Urgent lead", None))
        .await
        .unwrap_err();
    r.slack.fail_next_reads(1);
    let unknown = c
        .call(post("inst/alert", "C0ALERTS01", "Urgent lead", None))
        .await
        .unwrap_err();
    channels::assert_outcome_unknown(&unknown);
    assert_eq!(r.slack.messages().len(), 1, "not posted again while in doubt");
    c.call(post("inst/alert", "C0ALERTS01", "Urgent lead", None))
        .await
        .unwrap();
    assert_eq!(r.slack.messages().len(), 1);
}

/// `conversations.history`, `.list` and `.open` as a client reads them.
#[tokio::test]
async fn the_emulator_pages_history_newest_first_and_refuses_as_slack_documents() {
    let r = rig().await;
    let c = connector(&r.config);
    for n in 0..5 {
        c.call(post(&format!("k{n}"), "C0ALERTS01", &format!("m{n}"), None))
            .await
            .unwrap();
    }
    let client = reqwest::Client::new();
    let get = |method: &str, query: Vec<(&str, String)>, token: Option<&str>| {
        let mut request = client
            .get(format!("{}/{method}", r.slack.base_url()))
            .query(&query);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().json::<Json>().await.unwrap() }
    };
    let history = |query: Vec<(&str, String)>| get("conversations.history", query, Some(TOKEN));
    let channel = || ("channel", "C0ALERTS01".to_string());
    // Pages of two, newest first, until `has_more` is false.
    let (mut texts, mut cursor) = (Vec::new(), String::new());
    loop {
        let mut query = vec![channel(), ("limit", "2".to_string())];
        if !cursor.is_empty() {
            query.push(("cursor", cursor.clone()));
        }
        let page = history(query).await;
        assert_eq!(page["ok"], true, "{page}");
        let messages = page["messages"].as_array().unwrap();
        assert!(messages.len() <= 2);
        texts.extend(messages.iter().map(|m| m["text"].as_str().unwrap().to_string()));
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(page["has_more"], !cursor.is_empty());
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(texts, ["m4", "m3", "m2", "m1", "m0"]);
    // `oldest` excludes its own message unless `inclusive`.
    let ts2 = r.slack.messages()[2]["ts"].as_str().unwrap().to_string();
    let newer = history(vec![channel(), ("oldest", ts2.clone())]).await;
    assert_eq!(newer["messages"].as_array().unwrap().len(), 2);
    let inclusive = history(vec![channel(), ("oldest", ts2), ("inclusive", "true".into())]).await;
    assert_eq!(inclusive["messages"].as_array().unwrap().len(), 3);
    let refusals = [
        (
            vec![("channel", "C0NOWHERE1".to_string())],
            Some(TOKEN),
            "channel_not_found",
        ),
        (
            vec![("channel", "C0LEADS001".to_string())],
            Some(TOKEN),
            "not_in_channel",
        ),
        (
            vec![channel(), ("cursor", "garbage!".to_string())],
            Some(TOKEN),
            "invalid_cursor",
        ),
        (vec![channel()], None, "not_authed"),
        (vec![channel()], Some("xoxb-other"), "invalid_auth"),
    ];
    for (query, token, error) in refusals {
        let answer = get("conversations.history", query, token).await;
        assert_eq!(answer, json!({ "ok": false, "error": error }));
    }
    // Channels by name, a page at a time; archived ones left out when asked.
    let mut names = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut query = vec![
            ("limit", "1".to_string()),
            ("exclude_archived", "true".to_string()),
        ];
        if !cursor.is_empty() {
            query.push(("cursor", cursor.clone()));
        }
        let page = get("conversations.list", query, Some(TOKEN)).await;
        names.extend(
            page["channels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].clone()),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(names, vec![json!("leads"), json!("team-alerts")]);
    // A user's direct channel: the one a post to the user lands in.
    let opened: Json = client
        .post(format!("{}/conversations.open", r.slack.base_url()))
        .bearer_auth(TOKEN)
        .form(&[("users", "U0123ANA")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let direct = opened["channel"]["id"].as_str().unwrap().to_string();
    let posted = c.call(post("dm", "U0123ANA", "hello", None)).await.unwrap();
    assert_eq!(posted.get("channel").as_str(), Some(direct.as_str()));
    let dm = history(vec![("channel", direct)]).await;
    assert_eq!(dm["messages"][0]["text"], "hello");
    r.slack.fail_next_reads(1);
    assert_eq!(read_status(&r).await, 503);
    assert_eq!(read_status(&r).await, 200);
}

#[tokio::test]
async fn a_team_alert_in_doubt_through_every_attempt_is_not_followed_by_the_fallback_email() {
    // The pattern of stdlib/notify's `team`: Slack, and the email only if Slack failed for
    // good; the two are one notification.
    let r = rig().await;
    let outbox = tempfile::tempdir().unwrap();
    let config = channels::with_outbox(impatient(&r), outbox.path());
    // Slack posts the alert and its answer is lost; the history then fails for the post's
    // second attempt and the email's first.
    r.slack.accept_then_hang(1, Duration::from_secs(5));
    r.slack.fail_next_reads(2);
    let src = r##"entity studio {}
flow alert for studio {
  input { team: email }
  step posted = slack.post(channel: "C0ALERTS01", text: "New lead: Amelia", notification: "alert")
    retry 2 times backoff 1s..1s no jitter on transient
    fallback {
      step emailed = email.send(to: input.team, template: "lead", notification: "alert")
        retry 5 times backoff 1s..1s no jitter on transient
      yield { channel: "", ts: "", sent_by: emailed.sent_by }
    }
  output { ts: posted.ts, sent_by: posted.sent_by ?? "" }
}
template lead {
  subject "New lead"
  text "New lead: Amelia"
  html "<p>New lead: Amelia</p>"
}
"##;
    let input = json!({ "team": "team@studio.example" });
    let ledger = outbox.path().join("ledger");
    let out = channels::run_with_email(&config, &ledger, (src, "alert"), input, |n| {
        Arc::new(connector(&config).with_notifications(n))
    })
    .await;
    let emails = channels::emails_in(outbox.path());
    assert_eq!(
        (r.slack.messages().len(), emails),
        (1, 0),
        "exactly one message: the post"
    );
    assert_eq!(out.get("sent_by"), &Value::text("slack"));
}
