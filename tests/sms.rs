//! The sms connector against the Twilio emulator: a message sent, each error class, a 429 retried
//! after its `Retry-After` through the engine, and one message only under retry and restart.
//! Also the emulator itself on the answers Twilio documents, and a text in doubt with its
//! fallback email: one message in all.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowc::config::Config;
use flowc::connectors::sms::emulator::TwilioEmulator;
use flowc::connectors::sms::SmsConnector;
use flowc::connectors::{ActionCall, Connector, ErrorClass};
use flowc::runtime::Engine;
use flowc::value::Value;
use flowc::Project;
use serde_json::Value as Json;

#[path = "support/channels.rs"]
mod channels;

const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "twilio-test-token";
const TOKEN_ENV: &str = "STUDIO_TWILIO_TOKEN";

fn config(base_url: &str, sent_log: &Path) -> Config {
    let text = format!(
        r#"
        [entities.studio]
        [connectors.sms]
        base_url = "{base_url}"
        sent_log = "{}"
        [connectors.sms.entities.studio]
        account_sid = "{SID}"
        auth_token_env = "{TOKEN_ENV}"
        from = "+14155550100"
        status_callback = "https://hooks.studio.example/twilio/status"
        "#,
        sent_log.display()
    );
    Config::parse(&text, Path::new("flowc.toml")).unwrap()
}

fn connector(config: &Config) -> SmsConnector {
    SmsConnector::from_config_with_env(config, Path::new("/"), |name| {
        (name == TOKEN_ENV).then(|| TOKEN.to_string())
    })
    .unwrap()
}

fn send(key: &str, to: &str, body: &str) -> ActionCall {
    ActionCall {
        action: "send".into(),
        args: BTreeMap::from([
            ("to".to_string(), Value::text(to)),
            ("body".to_string(), Value::text(body)),
        ]),
        entity: "studio".into(),
        flow_entity: "studio".into(),
        instance: "i-1".into(),
        step: "notify".into(),
        attempt: 1,
        idempotency_key: key.into(),
    }
}

struct Rig {
    twilio: TwilioEmulator,
    config: Config,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let twilio = TwilioEmulator::start(&[(SID, TOKEN)]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&twilio.base_url(), dir.path());
    Rig {
        twilio,
        config,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_message_is_sent_form_encoded_with_the_status_callback() {
    let r = rig().await;
    let out = connector(&r.config)
        .call(send("k1", "+14155550123", "Your session is confirmed for 10:00"))
        .await
        .unwrap();
    let messages = r.twilio.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["to"], "+14155550123");
    assert_eq!(m["from"], "+14155550100");
    assert_eq!(m["body"], "Your session is confirmed for 10:00");
    assert_eq!(m["status_callback"], "https://hooks.studio.example/twilio/status");
    assert_eq!(out.get("sid"), &Value::text(m["sid"].as_str().unwrap()));
    assert_eq!(out.get("status"), &Value::text("queued"));
    assert_eq!(out.get("segments"), &Value::Int(1));
}

#[tokio::test]
async fn errors_are_classified_as_twilio_documents_them() {
    let r = rig().await;
    let sms = connector(&r.config);
    // Not E.164: refused before any request.
    let e = sms.call(send("a", "+1 415 555 0123", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert!(e.message.contains("E.164"), "{}", e.message);
    // The message names the value's shape, never the number (personal data).
    assert!(e.message.contains("it has spaces"), "{}", e.message);
    assert!(!e.message.contains("415 555"), "{}", e.message);
    // E.164 but a number that cannot exist: Twilio's 400 with error 21211.
    let e = sms.call(send("b", "+1555123", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.details.get("code"), &Value::Int(21211), "{}", e.message);
    // 429 with Retry-After, then 503.
    r.twilio.fail_next(429, 1, Some(2));
    let e = sms.call(send("c", "+14155550123", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
    r.twilio.fail_next(503, 1, None);
    let e = sms.call(send("c", "+14155550123", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    // A wrong auth token: 401, error 20003.
    let wrong =
        SmsConnector::from_config_with_env(&r.config, Path::new("/"), |_| Some("nope".into())).unwrap();
    let e = wrong.call(send("d", "+14155550123", "hi")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.details.get("code"), &Value::Int(20003), "{}", e.message);
    // An entity without an account.
    let mut other = send("e", "+14155550123", "hi");
    other.entity = "elsewhere".into();
    let e = sms.call(other).await.unwrap_err();
    assert!(
        e.message.contains("[connectors.sms.entities.elsewhere]"),
        "{}",
        e.message
    );
    assert!(r.twilio.messages().is_empty());
}

#[tokio::test]
async fn a_retry_and_a_restart_send_the_message_once() {
    let r = rig().await;
    let first = connector(&r.config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    let again = connector(&r.config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    // A new process on the same sent log.
    let restarted = connector(&r.config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(first, restarted);
    assert_eq!(r.twilio.messages().len(), 1);
    // Another key is another message.
    connector(&r.config)
        .call(send("inst2/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    assert_eq!(r.twilio.messages().len(), 2);
}

#[tokio::test]
async fn a_flow_step_waits_out_a_429_and_sends_once() {
    let r = rig().await;
    r.twilio.fail_next(429, 1, Some(1));
    let src = r#"entity studio {}
flow notify for studio {
  input { phone: text }
  step text = sms.send(to: input.phone, body: "Your booking is confirmed")
  output { sid: text.sid }
}
"#;
    let project = Project::from_sources(Path::new("/t"), r.config.clone(), [("t.flow", src)]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(Arc::new(connector(&r.config)))
        .build()
        .unwrap();
    let started = Instant::now();
    let id = engine
        .start("notify", serde_json::json!({ "phone": "+14155550123" }))
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), engine.output(&id))
        .await
        .expect("the instance ends")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not waited"
    );
    let messages = r.twilio.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(out.get("sid"), &Value::text(messages[0]["sid"].as_str().unwrap()));
}

/// The emulator on the documented answers, spoken to as any client would.
#[tokio::test]
async fn the_emulator_answers_as_twilio_documents() {
    let r = rig().await;
    let url = format!("{}/2010-04-01/Accounts/{SID}/Messages.json", r.twilio.base_url());
    let client = reqwest::Client::new();
    let post = |form: Vec<(&'static str, String)>, password: &str| {
        client
            .post(&url)
            .basic_auth(SID, Some(password))
            .form(&form)
            .send()
    };
    let created = post(
        vec![
            ("To", "+447700900123".into()),
            ("From", "+14155550100".into()),
            ("Body", "a".repeat(161)),
        ],
        TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let message: Json = created.json().await.unwrap();
    assert!(message["sid"].as_str().unwrap().starts_with("SM"));
    assert_eq!(message["sid"].as_str().unwrap().len(), 34);
    assert_eq!(message["num_segments"], "2");
    assert_eq!(message["direction"], "outbound-api");
    assert!(chrono::DateTime::parse_from_rfc2822(message["date_created"].as_str().unwrap()).is_ok());

    type Form = Vec<(&'static str, String)>;
    let cases: Vec<(Form, &str, u16, i64)> = vec![
        (
            vec![
                ("To", "+14155550123".into()),
                ("From", "+14155550100".into()),
                ("Body", "x".into()),
            ],
            "wrong",
            401,
            20003,
        ),
        (
            vec![("From", "+14155550100".into()), ("Body", "x".into())],
            TOKEN,
            400,
            21604,
        ),
        (
            vec![("To", "+14155550123".into()), ("Body", "x".into())],
            TOKEN,
            400,
            21603,
        ),
        (
            vec![("To", "+14155550123".into()), ("From", "+14155550100".into())],
            TOKEN,
            400,
            21602,
        ),
        (
            vec![
                ("To", "+14155550123".into()),
                ("From", "+14155550100".into()),
                ("Body", "x".repeat(1601)),
            ],
            TOKEN,
            400,
            21617,
        ),
        (
            vec![
                ("To", "+14155550100".into()),
                ("From", "+14155550100".into()),
                ("Body", "x".into()),
            ],
            TOKEN,
            400,
            21211,
        ),
    ];
    for (form, password, status, code) in cases {
        let answer = post(form, password).await.unwrap();
        assert_eq!(answer.status().as_u16(), status);
        let error: Json = answer.json().await.unwrap();
        assert_eq!(error["code"], code, "{error}");
        assert_eq!(error["status"], status);
        assert_eq!(
            error["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    r.twilio.fail_next(429, 1, Some(7));
    let limited = post(vec![("To", "+14155550123".into())], TOKEN).await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let error: Json = limited.json().await.unwrap();
    assert_eq!(error["code"], 20429);
    assert_eq!(r.twilio.messages().len(), 1);
}

#[test]
fn settings_are_checked_when_the_connector_is_built() {
    let built = |extra: &str| {
        let text =
            format!("[entities.studio]\n[connectors.sms.entities.studio]\nauth_token_env = \"T\"\n{extra}");
        SmsConnector::from_config(
            &Config::parse(&text, Path::new("flowc.toml")).unwrap(),
            Path::new("/"),
        )
    };
    assert!(built(&format!("account_sid = \"{SID}\"\nfrom = \"+14155550100\"")).is_ok());
    assert!(built(&format!("account_sid = \"{SID}\"\nfrom = \"Studio\"")).is_ok());
    let err = |extra: &str| built(extra).err().unwrap().message;
    assert!(err("from = \"+14155550100\"").contains("`account_sid`"));
    assert!(err(&format!("account_sid = \"{SID}\"\nfrom = \"0415 555\"")).contains("E.164"));
    assert!(err("account_sid = \"SK123\"\nfrom = \"+14155550100\"").contains("account SID"));
    // An unknown key is refused when flowc.toml loads.
    let refused = Config::parse(
        "[connectors.sms.entities.studio]\nauth_token = \"hunter2\"",
        Path::new("flowc.toml"),
    );
    assert!(refused.unwrap_err().to_string().contains("auth_token"));
}

/// `flowc run --emulate` with a flow that texts and posts: both go to the emulators, and the
/// messages are kept in the run's outbox (`sms/` and `slack/`).
#[test]
fn a_flow_texts_and_posts_under_flowc_run_emulate() {
    let project = tempfile::tempdir().unwrap();
    let outbox = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("flowc.toml"), "[entities.studio]\n").unwrap();
    let flow = r##"entity studio {}

flow booked for studio {
  on manual
  input { phone: text, name: text }

  step text = sms.send(to: input.phone, body: "Hi {{ input.name }}, your session is booked")
  step alert = slack.post(channel: "#bookings", text: "{{ input.name }} booked a session")

  output { sid: text.sid, ts: alert.ts }
}
"##;
    std::fs::write(project.path().join("booked.flow"), flow).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "booked.flow", "--emulate", "--outbox"])
        .arg(outbox.path())
        .args(["--input", r#"{"phone": "+14155550123", "name": "Amelia"}"#])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let output: Json = serde_json::from_slice(&out.stdout).unwrap();
    let run = std::fs::read_dir(outbox.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let kept = |folder: &str| -> Vec<Json> {
        std::fs::read_dir(run.join(folder))
            .unwrap()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap())
            .collect()
    };
    let texts = kept("sms");
    assert_eq!(texts.len(), 1, "{stderr}");
    assert_eq!(texts[0]["to"], "+14155550123");
    assert_eq!(texts[0]["body"], "Hi Amelia, your session is booked");
    assert_eq!(output["sid"], texts[0]["sid"], "{output}");
    let posts = kept("slack");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["channel_name"], "#bookings");
    assert_eq!(posts[0]["message"]["text"], "Amelia booked a session");
}

#[tokio::test]
async fn a_fault_plan_fails_the_requests_it_draws() {
    let r = rig().await;
    let faults = flowc::connectors::faults::ServiceFaults {
        statuses: vec![(503, 1.0)],
        ..Default::default()
    };
    r.twilio.set_fault_plan(faults, 7);
    let e = connector(&r.config)
        .call(send("f", "+14155550123", "hi"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(r.twilio.messages().is_empty());
}

#[tokio::test]
async fn a_fault_plans_twilio_part_is_played_by_the_emulator() {
    use flowc::connectors::faults::{FaultPlan, FaultTime};
    let r = rig().await;
    let plan: FaultPlan = "twilio:429=100%;slack:503=5%".parse().unwrap();
    r.twilio
        .set_faults(plan.gate("twilio", 11, FaultTime::Wall).unwrap());
    let e = connector(&r.config)
        .call(send("t", "+14155550123", "hi"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited, "{}", e.message);
    assert_eq!(e.details.get("code"), &Value::Int(20429));
    assert!(r.twilio.messages().is_empty());
}

/// A template's `sms` and `slack` parts are what `sms.send` and `slack.post` send with
/// `template:`; and `--faults` fails Twilio's requests as the plan's `twilio` part says.
#[test]
fn templates_go_by_sms_and_slack_and_a_twilio_fault_plan_is_followed() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("flowc.toml"), "[entities.studio]\n").unwrap();
    let flow = r##"entity studio {}

template booked {
  sms "Hi {{name}}, your {{service}} is booked"
  slack "*{{name}}* booked {{service}}"
  example { name: "Amelia Jones", service: "Reiki session" }
}

flow booked for studio {
  on manual
  input { phone: text, name: text }

  step text = sms.send(to: input.phone, template: "booked", with: { name: input.name, service: "Reiki" })
  step alert = slack.post(channel: "#bookings", template: "booked", with: { name: input.name, service: "Reiki" })

  output { sid: text.sid, ts: alert.ts }
}
"##;
    std::fs::write(project.path().join("booked.flow"), flow).unwrap();
    let run = |faults: &[&str]| {
        let outbox = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["run", "booked.flow", "--emulate", "--virtual-clock", "--outbox"])
            .arg(outbox.path())
            .args(faults)
            .args(["--input", r#"{"phone": "+14155550123", "name": "Amelia"}"#])
            .current_dir(project.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let kept = |folder: &str| -> Vec<Json> {
            let Some(run) = std::fs::read_dir(outbox.path()).unwrap().next() else {
                return Vec::new();
            };
            std::fs::read_dir(run.unwrap().path().join(folder))
                .into_iter()
                .flatten()
                .map(|f| serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap())
                .collect()
        };
        (out, kept("sms"), kept("slack"))
    };
    let (out, texts, posts) = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(texts.len(), 1, "{stderr}");
    assert_eq!(texts[0]["body"], "Hi Amelia, your Reiki is booked");
    assert_eq!(posts.len(), 1, "{stderr}");
    assert_eq!(posts[0]["message"]["text"], "*Amelia* booked Reiki");

    let (out, texts, posts) = run(&["--faults", "twilio:503=100%", "--faults-seed", "5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("faults: twilio:503=100%"), "{stderr}");
    assert!(texts.is_empty(), "{texts:?}");
    // Slack is not in the plan: its post went through.
    assert_eq!(posts.len(), 1, "{stderr}");
}

/// The rig's configuration with a short timeout, so a held answer is lost quickly.
fn impatient(r: &Rig) -> Config {
    channels::impatient(&r.config, "sms")
}

#[tokio::test]
async fn a_message_whose_answer_was_lost_is_found_in_twilios_list_not_sent_again() {
    let r = rig().await;
    let config = impatient(&r);
    r.twilio.accept_then_hang(1, Duration::from_secs(5));
    let lost = connector(&config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap_err();
    assert_eq!(lost.class, ErrorClass::Transient, "{lost:?}");
    assert_eq!(r.twilio.messages().len(), 1, "Twilio has it");
    // The retry (here a new process on the same logs) asks Twilio before sending.
    let retried = connector(&config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    assert_eq!(r.twilio.messages().len(), 1, "sent once");
    assert_eq!(
        retried.get("sid").as_str(),
        r.twilio.messages()[0]["sid"].as_str()
    );
    // Found once, it is recorded: a later retry neither lists nor sends.
    r.twilio.fail_next_lists(1);
    let again = connector(&config)
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    assert_eq!(again, retried);
    assert_eq!(r.twilio.messages().len(), 1);
}

#[tokio::test]
async fn a_message_twilio_does_not_have_is_sent_on_retry() {
    let r = rig().await;
    // The first attempt is refused with a 503 before Twilio creates anything.
    r.twilio.fail_next(503, 1, None);
    let c = connector(&r.config);
    let failed = c
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap_err();
    assert_eq!(failed.class, ErrorClass::Transient);
    // Another message to the same number with another text is not taken for it.
    c.call(send("other/notify", "+14155550123", "Another text"))
        .await
        .unwrap();
    c.call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    let bodies: Vec<_> = r.twilio.messages().iter().map(|m| m["body"].clone()).collect();
    assert_eq!(
        bodies,
        vec![Json::from("Another text"), Json::from("See you at 10")]
    );
}

#[tokio::test]
async fn an_unknown_outcome_that_cannot_be_resolved_sends_nothing_until_it_can() {
    let r = rig().await;
    let config = impatient(&r);
    r.twilio.accept_then_hang(1, Duration::from_secs(5));
    let c = connector(&config);
    c.call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap_err();
    r.twilio.fail_next_lists(1);
    let unknown = c
        .call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap_err();
    channels::assert_outcome_unknown(&unknown);
    assert_eq!(r.twilio.messages().len(), 1, "not sent again while in doubt");
    c.call(send("inst/notify", "+14155550123", "See you at 10"))
        .await
        .unwrap();
    assert_eq!(r.twilio.messages().len(), 1);
}

#[tokio::test]
async fn the_emulator_lists_an_accounts_messages_newest_first_by_to_and_from() {
    let r = rig().await;
    let c = connector(&r.config);
    c.call(send("a", "+14155550123", "first")).await.unwrap();
    c.call(send("b", "+14155550124", "other number")).await.unwrap();
    c.call(send("c", "+14155550123", "second")).await.unwrap();
    let url = format!("{}/2010-04-01/Accounts/{SID}/Messages.json", r.twilio.base_url());
    let client = reqwest::Client::new();
    let page: Json = client
        .get(&url)
        .basic_auth(SID, Some(TOKEN))
        .query(&[("To", "+14155550123"), ("From", "+14155550100")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, vec![Json::from("second"), Json::from("first")]);
    let refused = client
        .get(&url)
        .basic_auth(SID, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn a_text_whose_answer_was_lost_is_not_followed_by_the_fallback_email() {
    // The pattern of stdlib/notify's `notice`: the text, and the email only if the text failed.
    let r = rig().await;
    // Every answer would be lost: without the lookup, each attempt would send another text and
    // the fallback would email as well.
    r.twilio.accept_then_hang(3, Duration::from_secs(5));
    let src = r#"entity studio {}
flow notice for studio {
  input { phone: text, email: email }
  step texted = sms.send(to: input.phone, body: "Your booking is confirmed")
    retry 3 times backoff 1s..1s no jitter on transient
    fallback {
      step emailed = email.send(to: input.email, template: "booked")
      yield { sid: "", to: emailed.to, status: "emailed instead", segments: 0 }
    }
  output { status: texted.status, sid: texted.sid }
}
template booked {
  subject "Booked"
  text "Your booking is confirmed"
  html "<p>Your booking is confirmed</p>"
}
"#;
    let (out, texts, emails) = text_or_email(&r, src).await;
    let messages = r.twilio.messages();
    assert_eq!((texts, emails), (1, 0), "one text, no fallback email");
    assert_eq!(out.get("sid"), &Value::text(messages[0]["sid"].as_str().unwrap()));
    assert_ne!(out.get("status"), &Value::text("emailed instead"));
}

/// The pattern of stdlib/notify's `notice` with its shared notification: a text, and the
/// email only if the text failed for good; the two are one notification.
const ONE_NOTIFICATION: &str = r#"entity studio {}
flow notice for studio {
  input { phone: text, email: email }
  step texted = sms.send(to: input.phone, body: "Your booking is confirmed", notification: "booked")
    retry 2 times backoff 1s..1s no jitter on transient
    fallback {
      step emailed = email.send(to: input.email, template: "booked", notification: "booked")
        retry 5 times backoff 1s..1s no jitter on transient
      yield { sid: "", to: emailed.to, status: "emailed instead", segments: 0, sent_by: emailed.sent_by }
    }
  output { status: texted.status, sent_by: texted.sent_by ?? "" }
}
template booked {
  subject "Booked"
  text "Your booking is confirmed"
  html "<p>Your booking is confirmed</p>"
}
"#;

/// Runs `notice` of `src` (a text, then email) with the sms and email connectors sharing a
/// notification ledger: its output, the texts Twilio has and the emails written.
async fn text_or_email(r: &Rig, src: &str) -> (Value, usize, usize) {
    let outbox = tempfile::tempdir().unwrap();
    let config = channels::with_outbox(impatient(r), outbox.path());
    let input = serde_json::json!({ "phone": "+14155550123", "email": "maya@example.com" });
    let ledger = outbox.path().join("ledger");
    let out = channels::run_with_email(&config, &ledger, (src, "notice"), input, |n| {
        Arc::new(connector(&config).with_notifications(n))
    })
    .await;
    (out, r.twilio.messages().len(), channels::emails_in(outbox.path()))
}

#[tokio::test]
async fn a_text_in_doubt_through_every_attempt_is_not_followed_by_the_fallback_email() {
    let r = rig().await;
    // Twilio takes the text and its answer is lost; its list then fails for the text's second
    // attempt and the email's first: the text step fails with the outcome unknown, and the
    // fallback email waits until the list says Twilio has the text.
    r.twilio.accept_then_hang(1, Duration::from_secs(5));
    r.twilio.fail_next_lists(2);
    let (out, texts, emails) = text_or_email(&r, ONE_NOTIFICATION).await;
    assert_eq!((texts, emails), (1, 0), "exactly one message: the text");
    assert_eq!(out.get("status"), &Value::text("emailed instead"));
    assert_eq!(
        out.get("sent_by"),
        &Value::text("sms"),
        "the email found the text sent"
    );
}

#[tokio::test]
async fn a_text_twilio_never_took_is_followed_by_the_fallback_email() {
    let r = rig().await;
    // Both attempts are refused before Twilio creates anything: the email asks, hears that
    // Twilio has no such text, and goes.
    r.twilio.fail_next(503, 2, None);
    let (out, texts, emails) = text_or_email(&r, ONE_NOTIFICATION).await;
    assert_eq!((texts, emails), (0, 1), "exactly one message: the email");
    assert_eq!(out.get("status"), &Value::text("emailed instead"));
    assert_eq!(out.get("sent_by"), &Value::text(""));
}
