//! The survey connector against the Typeform emulator: forms from the stdlib templates, responses
//! with pagination, typed answers, hidden fields, auth and error classes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use flowc::config::Config;
use flowc::connectors::survey::emulator::TypeformEmulator;
use flowc::connectors::survey::SurveyConnector;
use flowc::connectors::{ActionCall, Connector, ErrorClass};
use flowc::value::Value;
use serde_json::json;

const TOKEN: &str = "tfp_test_token";

/// A project root for the created-form logs, outside the repository.
fn state_root() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// A connector for `emulator`, reading its token from `token_env` (set here), with the stdlib
/// templates of this repository and a created-form log per `token_env`.
fn connector(base_url: &str, token_env: &str, extra: &str) -> SurveyConnector {
    std::env::set_var(token_env, TOKEN);
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/surveys");
    let text = format!(
        "[connectors.survey]\nbase_url = \"{base_url}\"\ntoken_env = \"{token_env}\"\ntemplates = \"{}\"\ncreated_log = \"state/{token_env}\"\n{extra}",
        templates.display()
    );
    let config = Config::parse(&text, Path::new("flowc.toml")).unwrap();
    SurveyConnector::from_config(&config, state_root()).unwrap()
}

/// A call with a fresh idempotency key (each is a different step).
fn call(action: &str, args: Vec<(&str, Value)>) -> ActionCall {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    ActionCall {
        action: action.into(),
        args: args
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
        entity: "am_consulting".into(),
        flow_entity: "am_consulting".into(),
        instance: "i-1".into(),
        step: "survey".into(),
        attempt: 1,
        idempotency_key: format!("i-{n}/survey").into(),
    }
}

async fn create(survey: &SurveyConnector, template: &str, hidden: Value) -> (String, String) {
    let out = survey
        .call(call(
            "create",
            vec![("template", Value::text(template)), ("hidden", hidden)],
        ))
        .await
        .unwrap();
    let id = out.get("form_id").as_str().unwrap().to_string();
    let url = out.get("url").as_str().unwrap().to_string();
    (id, url)
}

fn text(s: &str) -> Value {
    Value::text(s)
}

#[tokio::test]
async fn create_builds_the_form_from_the_template() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_CREATE", "");
    let hidden = Value::record([("client_id", text("c-42")), ("entity", text("am consulting"))]);
    let (form_id, url) = create(&survey, "client_needs_assessment", hidden).await;
    assert_eq!(
        url,
        format!(
            "{}/to/{form_id}#client_id=c-42&entity=am%20consulting",
            emulator.base_url()
        )
    );

    let form = emulator.form(&form_id).unwrap();
    assert_eq!(form["title"], "Getting to know your needs");
    assert_eq!(form["hidden"], json!(["client_id", "entity"]));
    let fields = form["fields"].as_array().unwrap();
    let services = fields.iter().find(|f| f["ref"] == "services").unwrap();
    assert_eq!(services["type"], "multiple_choice");
    assert_eq!(services["properties"]["allow_multiple_selection"], true);
    assert_eq!(
        services["properties"]["choices"][0]["label"],
        "Strategy and planning"
    );
    assert_eq!(services["validations"]["required"], true);
    assert_eq!(form["thankyou_screens"][0]["ref"], "thank_you");

    // A title override, and hidden values the template does not declare become hidden fields.
    let out = survey
        .call(call(
            "create",
            vec![
                ("template", text("event_feedback")),
                ("title", text("How was the opening night?")),
                (
                    "hidden",
                    Value::record([("client_id", text("c-1")), ("booking_id", Value::Number(17.0))]),
                ),
            ],
        ))
        .await
        .unwrap();
    let form = emulator.form(out.get("form_id").as_str().unwrap()).unwrap();
    assert_eq!(form["title"], "How was the opening night?");
    assert_eq!(form["hidden"], json!(["client_id", "event_id", "booking_id"]));
    assert!(out
        .get("url")
        .as_str()
        .unwrap()
        .ends_with("#booking_id=17&client_id=c-1"));

    // Every stdlib template is accepted by the Create API's checks.
    create(&survey, "project_closing_feedback", Value::Null).await;
    assert_eq!(emulator.form_ids().len(), 3);
}

#[tokio::test]
async fn responses_follow_pagination_and_map_answers_by_ref() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_RESPONSES", "page_size = 2");
    let (form_id, _) = create(&survey, "event_feedback", Value::Null).await;
    for (i, day) in [3, 1, 5, 2, 4].iter().enumerate() {
        emulator
            .submit(
                &form_id,
                &format!("2026-03-0{day}T18:30:00Z"),
                json!({
                    "overall": 3 + (i % 3),
                    "highlights": ["The artwork", "The venue"],
                    "improve": format!("answer {day}"),
                    "recommend": 9,
                    "next_interest": "Artist talk",
                    "newsletter": day % 2 == 1,
                }),
                json!({ "client_id": format!("c-{day}"), "not_declared": "dropped" }),
            )
            .unwrap();
    }
    let out = survey
        .call(call("responses", vec![("form_id", text(&form_id))]))
        .await
        .unwrap();
    let Value::List(records) = out else {
        panic!("{out:?}")
    };
    assert_eq!(records.len(), 5);
    let days: Vec<String> = records
        .iter()
        .map(|r| r.get("answers").get("improve").as_str().unwrap().to_string())
        .collect();
    assert_eq!(days, ["answer 5", "answer 4", "answer 3", "answer 2", "answer 1"]);
    let newest = &records[0];
    assert_eq!(newest.get("hidden").get("client_id"), &text("c-5"));
    assert_eq!(newest.get("hidden").get("not_declared"), &Value::Null);
    let answers = newest.get("answers");
    assert_eq!(answers.get("overall"), &Value::Number(5.0));
    assert_eq!(answers.get("recommend"), &Value::Number(9.0));
    assert_eq!(
        answers.get("highlights"),
        &Value::List(vec![text("The artwork"), text("The venue")])
    );
    assert_eq!(answers.get("next_interest"), &text("Artist talk"));
    assert_eq!(answers.get("newsletter"), &Value::Bool(true));
    assert!(
        matches!(newest.get("submitted_at"), Value::DateTime(t) if t.to_rfc3339() == "2026-03-05T18:30:00+00:00")
    );

    // Three pages of two, each after the last token of the one before.
    let listed: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.contains("/responses"))
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].ends_with("page_size=2"), "{listed:?}");
    let second_token = records[1].get("response_id").as_str().unwrap();
    assert!(
        listed[1].ends_with(&format!("before={second_token}")),
        "{listed:?}"
    );

    // `since` keeps only later submissions.
    let since = chrono::DateTime::parse_from_rfc3339("2026-03-03T18:30:00Z").unwrap();
    let out = survey
        .call(call(
            "responses",
            vec![("form_id", text(&form_id)), ("since", Value::DateTime(since))],
        ))
        .await
        .unwrap();
    let Value::List(records) = out else { panic!() };
    assert_eq!(records.len(), 2);
    assert!(emulator
        .requests()
        .last()
        .unwrap()
        .contains("since=2026-03-03T18%3A30%3A00"));
}

#[tokio::test]
async fn latest_response_is_the_newest_or_none() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_LATEST", "");
    let (form_id, _) = create(&survey, "client_needs_assessment", Value::Null).await;
    let latest = survey
        .call(call("latest_response", vec![("form_id", text(&form_id))]))
        .await
        .unwrap();
    assert_eq!(latest, Value::Null);

    let answers = |name: &str| {
        json!({
            "full_name": name,
            "email": format!("{}@client.example", name.to_lowercase()),
            "services": ["Team coaching"],
            "needs": ["Leadership"],
            "goals": "A calmer team",
            "budget": "£1,000 to £5,000",
            "start_date": "2026-04-01",
            "urgency": 4,
            "worked_with_consultant": false,
        })
    };
    emulator
        .submit(
            &form_id,
            "2026-03-02T10:00:00Z",
            answers("Ada"),
            json!({"client_id": "c-ada"}),
        )
        .unwrap();
    emulator
        .submit(
            &form_id,
            "2026-03-01T10:00:00Z",
            answers("Bo"),
            json!({"client_id": "c-bo"}),
        )
        .unwrap();
    let latest = survey
        .call(call("latest_response", vec![("form_id", text(&form_id))]))
        .await
        .unwrap();
    let a = latest.get("answers");
    assert_eq!(a.get("full_name"), &text("Ada"));
    assert_eq!(a.get("email"), &text("ada@client.example"));
    assert_eq!(a.get("budget"), &text("£1,000 to £5,000"));
    assert_eq!(
        a.get("start_date"),
        &Value::Date(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap())
    );
    assert_eq!(a.get("urgency"), &Value::Number(4.0));
    assert_eq!(a.get("worked_with_consultant"), &Value::Bool(false));
    assert_eq!(a.get("phone"), &Value::Null);
    assert_eq!(latest.get("hidden").get("client_id"), &text("c-ada"));

    // The emulator types answers by field and refuses ones that do not fit.
    assert!(emulator
        .submit(
            &form_id,
            "2026-03-03T10:00:00Z",
            json!({"budget": "A million"}),
            json!({})
        )
        .is_err());
    let mut wrong = answers("Cy");
    wrong["urgency"] = json!("high");
    assert!(emulator
        .submit(&form_id, "2026-03-03T10:00:00Z", wrong, json!({}))
        .is_err());
}

#[tokio::test]
async fn rate_limits_server_errors_and_missing_forms_are_classified() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_ERRORS", "");
    let (form_id, _) = create(&survey, "event_feedback", Value::Null).await;
    let list = || survey.call(call("responses", vec![("form_id", text(&form_id))]));

    emulator.fail_next(429, 1, Some(4));
    let err = list().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(4)));
    assert_eq!(err.details.get("code"), &text("RATE_LIMIT_EXCEEDED"));

    emulator.fail_next(503, 1, None);
    let err = list().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);

    // After the injected failures, the same call works.
    assert_eq!(list().await.unwrap(), Value::List(vec![]));

    let err = survey
        .call(call("latest_response", vec![("form_id", text("nope123"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("404"), "{}", err.message);
    assert!(err.message.contains("FORM_NOT_FOUND"), "{}", err.message);

    let err = survey
        .call(call("responses", vec![("form_id", text("../admin"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn authentication_and_configuration_errors_are_permanent_and_named() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_AUTH", "");
    // The token is read at each call: a wrong one is refused by the API.
    let wrong = connector(&emulator.base_url(), "FLOWC_TEST_TF_AUTH_WRONG", "");
    std::env::set_var("FLOWC_TEST_TF_AUTH_WRONG", "tfp_wrong");
    let err = wrong
        .call(call("create", vec![("template", text("event_feedback"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("401"), "{}", err.message);
    assert!(err.message.contains("AUTHENTICATION_FAILED"), "{}", err.message);
    assert!(emulator.form_ids().is_empty());

    let unset = {
        let text = format!(
            "[connectors.survey]\nbase_url = \"{}\"\ntoken_env = \"FLOWC_TEST_TF_NEVER_SET\"",
            emulator.base_url()
        );
        SurveyConnector::from_config(
            &Config::parse(&text, Path::new("flowc.toml")).unwrap(),
            Path::new("."),
        )
        .unwrap()
    };
    let err = unset
        .call(call("latest_response", vec![("form_id", text("abc"))]))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("`FLOWC_TEST_TF_NEVER_SET`"),
        "{}",
        err.message
    );

    let err = survey
        .call(call("create", vec![("template", text("no_such_survey"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("`no_such_survey`"), "{}", err.message);
    assert!(
        err.message.contains("stdlib/surveys/no_such_survey.json"),
        "{}",
        err.message
    );

    let err = survey
        .call(call(
            "create",
            vec![
                ("template", text("event_feedback")),
                ("hidden", Value::record([("Client", text("x"))])),
            ],
        ))
        .await
        .unwrap_err();
    assert!(err.message.contains("`Client`"), "{}", err.message);

    let bad = Config::parse("[connectors.survey]\npage_size = 5000", Path::new("flowc.toml")).unwrap();
    let err = SurveyConnector::from_config(&bad, Path::new(".")).err().unwrap();
    assert!(err.message.contains("`page_size`"), "{}", err.message);
}

#[tokio::test]
async fn typeform_down_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let survey = connector(&format!("http://127.0.0.1:{port}"), "FLOWC_TEST_TF_DOWN", "");
    let err = survey
        .call(call("responses", vec![("form_id", text("abc"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");
}

#[tokio::test]
async fn the_emulator_validates_create_payloads_like_the_api() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value, token: Option<&str>| {
        let mut request = client.post(format!("{}/forms", emulator.base_url())).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let response = post(json!({"title": "x"}), None).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "AUTHENTICATION_FAILED");

    let response = post(
        json!({
            "fields": [
                {"ref": "a", "type": "slider", "title": "Q"},
                {"ref": "a", "type": "dropdown", "title": "Q2", "properties": {"choices": []}},
                {"type": "short_text"}
            ],
            "hidden": ["Bad Name"]
        }),
        Some(TOKEN),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "VALIDATION_ERROR");
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "/title",
            "/fields/0/type",
            "/fields/1/properties/choices",
            "/fields/1/ref",
            "/fields/2/title",
            "/hidden/0"
        ]
    );

    let response = post(
        json!({"title": "Minimal", "fields": [{"type": "short_text", "title": "Name?"}]}),
        Some(TOKEN),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        body["_links"]["display"],
        format!("{}/to/{id}", emulator.base_url())
    );

    let response = client
        .get(format!(
            "{}/forms/{id}/responses?page_size=0",
            emulator.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn create_replayed_with_the_same_key_returns_the_same_form() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let survey = connector(&emulator.base_url(), "FLOWC_TEST_TF_REPLAY", "");
    let first_call = call(
        "create",
        vec![
            ("template", text("project_closing_feedback")),
            ("hidden", Value::record([("client_id", text("c-9"))])),
        ],
    );
    let first = survey.call(first_call.clone()).await.unwrap();
    let again = survey.call(first_call.clone()).await.unwrap();
    assert_eq!(first, again);
    // A new process reading the same log.
    let restarted = connector(&emulator.base_url(), "FLOWC_TEST_TF_REPLAY", "");
    assert_eq!(restarted.call(first_call).await.unwrap(), first);
    assert_eq!(emulator.form_ids().len(), 1);
    // Another step creates another form.
    survey
        .call(call(
            "create",
            vec![("template", text("project_closing_feedback"))],
        ))
        .await
        .unwrap();
    assert_eq!(emulator.form_ids().len(), 2);
}

/// The emulator judges a form by Typeform's documented field types and ref rule (its own
/// reading), not by what the connector's templates allow: a field type the templates do not use
/// is still a form Typeform takes, and a bad ref is Typeform's 400 with its error JSON.
#[tokio::test]
async fn emulator_judges_forms_by_typeforms_documented_rules() {
    let emulator = TypeformEmulator::start(TOKEN).await.unwrap();
    let post = |form: serde_json::Value| {
        let url = format!("{}/forms", emulator.base_url());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&form)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = post(serde_json::json!({
        "title": "Pick one",
        "fields": [{ "ref": "photo", "type": "picture_choice", "title": "Which one?" }],
    }))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["fields"][0]["ref"], "photo");
    let (status, body) = post(serde_json::json!({
        "title": "Bad ref",
        "fields": [{ "ref": "two words", "type": "short_text", "title": "Name?" }],
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["code"].is_string() && body["description"].is_string(),
        "{body}"
    );
}
