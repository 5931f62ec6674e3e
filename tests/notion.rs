//! The Notion connector against the Notion API emulator: every action, property mapping,
//! pagination, filters, limits, error classes, idempotency, rate limiting and `pull`.

#[path = "notion/support.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use flowc::connectors::notion::emulator::Emulator;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::connectors::ErrorClass;
use flowc::value::Value;
use serde_json::json;
use support::*;

fn all_properties() -> Value {
    Value::record([
        ("Full Name", text("Ada Lovelace")),
        ("Email", text("ada@example.com")),
        ("Phone", text("+44 20 7946 0000")),
        ("Website", text("https://ada.example.com")),
        ("Age", Value::Number(36.0)),
        ("Active", Value::Bool(true)),
        ("Stage", text("Client")),
        ("Tags", list(&["VIP", "Newsletter"])),
        ("Status", text("In progress")),
        (
            "Birthday",
            Value::Date(NaiveDate::from_ymd_opt(1990, 12, 10).unwrap()),
        ),
        ("Notes", text("Prefers mornings")),
        ("Related", list(&["rel-1"])),
        ("Owner", list(&["user-1"])),
    ])
}

#[tokio::test]
async fn create_get_and_update_map_every_property_type_both_ways() {
    let (emulator, notion) = setup("tok-roundtrip").await;
    let page = call(
        &notion,
        "create_page",
        vec![("db", text("ContactProfile")), ("properties", all_properties())],
        "run-1/create",
    )
    .await
    .unwrap();

    // Flow side: a flat record with the page's own fields.
    for (name, value) in match all_properties() {
        Value::Record(fields) => fields,
        _ => unreachable!(),
    } {
        assert_eq!(page.get(&name), &value, "{name}");
    }
    let id = page.get("id").as_str().unwrap().to_string();
    assert!(page
        .get("url")
        .as_str()
        .unwrap()
        .starts_with("https://www.notion.so/"));
    assert!(matches!(page.get("created_time"), Value::DateTime(_)));
    assert!(matches!(page.get("last_edited_time"), Value::DateTime(_)));
    assert_eq!(page.get("Score"), &Value::Null);

    // Notion side: each value in its type's shape.
    let stored = emulator.pages_json(ENTITY, "ContactProfile");
    assert_eq!(stored.len(), 1);
    let p = &stored[0]["properties"];
    assert_eq!(p["Full Name"]["title"][0]["text"]["content"], "Ada Lovelace");
    assert_eq!(p["Email"]["email"], "ada@example.com");
    assert_eq!(p["Age"]["number"], 36);
    assert_eq!(p["Active"]["checkbox"], true);
    assert_eq!(p["Stage"]["select"]["name"], "Client");
    assert_eq!(p["Tags"]["multi_select"][1]["name"], "Newsletter");
    assert_eq!(p["Status"]["status"]["name"], "In progress");
    assert_eq!(p["Birthday"]["date"]["start"], "1990-12-10");
    assert_eq!(p["Related"]["relation"][0]["id"], "rel-1");
    assert_eq!(p["Owner"]["people"][0], json!({"object": "user", "id": "user-1"}));
    assert_eq!(p["flowc_key"]["rich_text"][0]["plain_text"], "run-1/create");

    let fetched = call(&notion, "get_page", vec![("id", text(&id))], "k")
        .await
        .unwrap();
    assert_eq!(fetched, page);

    let updated = call(
        &notion,
        "update_page",
        vec![
            ("id", text(&id)),
            ("db", text("ContactProfile")),
            (
                "properties",
                Value::record([
                    ("Stage", text("Lead")),
                    ("Age", Value::Null),
                    ("Tags", Value::List(vec![])),
                ]),
            ),
        ],
        "k",
    )
    .await
    .unwrap();
    assert_eq!(updated.get("Stage"), &text("Lead"));
    assert_eq!(updated.get("Age"), &Value::Null);
    assert_eq!(updated.get("Tags"), &Value::List(vec![]));
    assert_eq!(updated.get("Email"), &text("ada@example.com"));

    // Without `db`, the page's own property types are used.
    let updated = call(
        &notion,
        "update_page",
        vec![
            ("id", text(&id)),
            ("properties", Value::record([("Active", Value::Bool(false))])),
        ],
        "k",
    )
    .await
    .unwrap();
    assert_eq!(updated.get("Active"), &Value::Bool(false));
    assert_eq!(
        emulator.pages(ENTITY, "ContactProfile")[0].get("Active"),
        &Value::Bool(false)
    );
}

#[tokio::test]
async fn date_times_and_ranges_round_trip() {
    let (_emulator, notion) = setup("tok-dates").await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00+00:00").unwrap();
    let page = call(
        &notion,
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Birthday", Value::DateTime(at))])),
        ],
        "k1",
    )
    .await
    .unwrap();
    assert_eq!(page.get("Birthday"), &Value::DateTime(at));
    let range = Value::record([("start", text("2026-01-05")), ("end", text("2026-01-07"))]);
    let page = call(
        &notion,
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Birthday", range)])),
        ],
        "k2",
    )
    .await
    .unwrap();
    assert_eq!(
        page.get("Birthday").get("end"),
        &Value::Date(NaiveDate::from_ymd_opt(2026, 1, 7).unwrap())
    );
}

#[tokio::test]
async fn rich_text_over_2000_characters_is_split_and_read_back_whole() {
    let (emulator, notion) = setup("tok-split").await;
    let notes: String = "Ünïcödé notes. ".repeat(300); // 4,500 characters
    let page = call(
        &notion,
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            (
                "properties",
                Value::record([("Notes", text(&notes)), ("Full Name", text("Ada"))]),
            ),
        ],
        "k",
    )
    .await
    .unwrap();
    let stored = &emulator.pages_json(ENTITY, "ContactProfile")[0]["properties"]["Notes"]["rich_text"];
    let pieces = stored.as_array().unwrap();
    assert_eq!(pieces.len(), 3);
    assert!(pieces
        .iter()
        .all(|p| p["text"]["content"].as_str().unwrap().chars().count() <= 2000));
    assert_eq!(page.get("Notes"), &text(&notes));
}

#[tokio::test]
async fn values_over_notions_limits_fail_permanently_before_sending() {
    let (emulator, notion) = setup("tok-limits").await;
    // Resolve the data source first so that the count below only sees the calls under test.
    call(&notion, "query", vec![("db", text("ContactProfile"))], "k")
        .await
        .unwrap();
    let before = emulator.request_count();
    let many: Vec<String> = (0..101).map(|i| format!("tag{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let cases = vec![
        ("Tags", list(&many), "at most 100"),
        ("Related", list(&many), "at most 100"),
        (
            "Website",
            text(&format!("https://x.example/{}", "a".repeat(2000))),
            "at most 2000",
        ),
        (
            "Email",
            text(&format!("{}@example.com", "a".repeat(200))),
            "at most 200",
        ),
        ("Notes", text(&"a".repeat(200_001)), "at most 100 text pieces"),
        ("Age", text("thirty"), "needs a number"),
        ("Active", Value::Null, "needs true or false"),
        ("Birthday", text("next tuesday"), "not a date"),
        ("Score", Value::Number(1.0), "which flows cannot write"),
    ];
    for (property, value, message) in cases {
        let error = call(
            &notion,
            "create_page",
            vec![
                ("db", text("ContactProfile")),
                ("properties", Value::record([(property, value)])),
            ],
            "k",
        )
        .await
        .unwrap_err();
        assert_eq!(error.class, ErrorClass::Permanent, "{property}");
        assert!(error.message.contains(message), "{property}: {}", error.message);
    }
    assert_eq!(emulator.request_count(), before, "nothing was sent");

    // An unknown property is looked up once more (the schema may have changed), then refused.
    let error = call(
        &notion,
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Emial", text("x@y.z"))])),
        ],
        "k",
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("did you mean `Email`?"),
        "{}",
        error.message
    );
    assert_eq!(
        emulator.request_count(),
        before + 2,
        "database and data source, no write"
    );
    assert!(emulator.pages(ENTITY, "ContactProfile").is_empty());
}

#[tokio::test]
async fn query_follows_every_cursor_past_100_pages() {
    let (emulator, notion) = setup("tok-pages").await;
    for i in 0..250 {
        emulator
            .insert_page(
                ENTITY,
                "ContactProfile",
                contact(&format!("P{i:03}"), i as f64, "Lead"),
            )
            .unwrap();
    }
    // Resolve first.
    call(&notion, "query", vec![("db", text("Task"))], "k")
        .await
        .unwrap();
    call(&notion, "query_one", vec![("db", text("ContactProfile"))], "k")
        .await
        .unwrap();

    let before = emulator.request_count();
    let all = call(&notion, "query", vec![("db", text("ContactProfile"))], "k")
        .await
        .unwrap();
    let Value::List(all) = all else { panic!("a list") };
    assert_eq!(all.len(), 250);
    assert_eq!(emulator.request_count() - before, 3, "pages of 100, 100 and 50");
    let names: Vec<&str> = all.iter().map(|p| p.get("Full Name").as_str().unwrap()).collect();
    assert_eq!(names[0], "P000");
    assert_eq!(names[249], "P249");
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique.len(), 250, "no page twice");

    let before = emulator.request_count();
    let some = call(
        &notion,
        "query",
        vec![("db", text("ContactProfile")), ("limit", Value::Number(120.0))],
        "k",
    )
    .await
    .unwrap();
    let Value::List(some) = some else { panic!("a list") };
    assert_eq!(some.len(), 120);
    assert_eq!(emulator.request_count() - before, 2, "100 then 20");
}

async fn seeded(token: &str) -> (Emulator, flowc::connectors::notion::NotionConnector) {
    let (emulator, notion) = setup(token).await;
    for (name, age, stage) in [
        ("Ada", 36.0, "Client"),
        ("Bob", 25.0, "Lead"),
        ("Cy", 40.0, "Client"),
    ] {
        emulator
            .insert_page(ENTITY, "ContactProfile", contact(name, age, stage))
            .unwrap();
    }
    emulator
        .insert_page(
            ENTITY,
            "ContactProfile",
            json!({"Full Name": {"title": [{"text": {"content": "Dee"}}]},
                   "Stage": {"select": {"name": "Lead"}},
                   "Tags": {"multi_select": [{"name": "VIP"}]}}),
        )
        .unwrap();
    (emulator, notion)
}

fn names(result: &Value) -> Vec<String> {
    match result {
        Value::List(items) => items
            .iter()
            .map(|p| p.get("Full Name").as_str().unwrap_or_default().to_string())
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

#[tokio::test]
async fn where_records_filter_by_property_type_and_sorts_order() {
    let (_emulator, notion) = seeded("tok-filters").await;
    let query = |where_: Value, sort: Value| {
        let notion = &notion;
        async move {
            call(
                notion,
                "query",
                vec![("db", text("ContactProfile")), ("where", where_), ("sort", sort)],
                "k",
            )
            .await
            .unwrap()
        }
    };
    let r = query(Value::record([("Stage", text("Client"))]), list(&["-Age"])).await;
    assert_eq!(names(&r), ["Cy", "Ada"]);
    let r = query(
        Value::record([("Stage", text("Lead")), ("Age", Value::Number(25.0))]),
        Value::Null,
    )
    .await;
    assert_eq!(names(&r), ["Bob"]);
    let r = query(Value::record([("Age", Value::Null)]), Value::Null).await;
    assert_eq!(names(&r), ["Dee"]);
    let r = query(Value::record([("Tags", text("VIP"))]), Value::Null).await;
    assert_eq!(names(&r), ["Dee"]);
    let r = query(Value::record([("Email", text("bob@example.com"))]), Value::Null).await;
    assert_eq!(names(&r), ["Bob"]);
    let r = query(Value::record([("Full Name", text("Ada"))]), Value::Null).await;
    assert_eq!(names(&r), ["Ada"]);
    // Ascending, empty values last.
    let r = query(Value::Null, list(&["Age"])).await;
    assert_eq!(names(&r), ["Bob", "Ada", "Cy", "Dee"]);
    let r = query(Value::Null, list(&["-created_time"])).await;
    assert_eq!(names(&r), ["Dee", "Cy", "Bob", "Ada"]);

    let one = call(
        &notion,
        "query_one",
        vec![
            ("db", text("ContactProfile")),
            ("where", Value::record([("Stage", text("Client"))])),
            ("sort", list(&["Age"])),
        ],
        "k",
    )
    .await
    .unwrap();
    assert_eq!(one.get("Full Name"), &text("Ada"));
    let none = call(
        &notion,
        "query_one",
        vec![
            ("db", text("ContactProfile")),
            ("where", Value::record([("Full Name", text("Nobody"))])),
        ],
        "k",
    )
    .await
    .unwrap();
    assert_eq!(none, Value::Null);

    let error = call(
        &notion,
        "query",
        vec![
            ("db", text("ContactProfile")),
            ("where", Value::record([("Stag", text("Lead"))])),
        ],
        "k",
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("did you mean `Stage`?"),
        "{}",
        error.message
    );
}

/// A raw request to the emulator, as any Notion client would send it.
async fn raw(
    emulator: &Emulator,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    version: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", emulator.base_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(version) = version {
        request = request.header("Notion-Version", version);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn emulator_evaluates_notion_filters_and_compounds() {
    let (emulator, _notion) = seeded("tok-raw-filters").await;
    let source = emulator.data_source_id(ENTITY, "ContactProfile").unwrap();
    let query = |filter: serde_json::Value| {
        let emulator = &emulator;
        let source = source.clone();
        async move {
            let (status, body) = raw(
                emulator,
                reqwest::Method::POST,
                &format!("/v1/data_sources/{source}/query"),
                Some("tok-raw-filters"),
                Some("2025-09-03"),
                Some(json!({ "filter": filter, "sorts": [{"property": "Full Name", "direction": "ascending"}] })),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p["properties"]["Full Name"]["title"][0]["plain_text"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        query(json!({"or": [
            {"property": "Age", "number": {"greater_than": 35}},
            {"property": "Full Name", "title": {"starts_with": "B"}}
        ]}))
        .await,
        ["Ada", "Bob", "Cy"]
    );
    assert_eq!(
        query(json!({"and": [
            {"property": "Stage", "select": {"equals": "Client"}},
            {"property": "Age", "number": {"less_than_or_equal_to": 36}}
        ]}))
        .await,
        ["Ada"]
    );
    assert_eq!(
        query(json!({"property": "Email", "email": {"contains": "example"}})).await,
        ["Ada", "Bob", "Cy"]
    );
    assert_eq!(
        query(json!({"property": "Tags", "multi_select": {"is_not_empty": true}})).await,
        ["Dee"]
    );
    assert_eq!(
        query(json!({"timestamp": "created_time", "created_time": {"on_or_after": "2000-01-01"}}))
            .await
            .len(),
        4
    );
    // A filter whose type does not match the property is a validation error.
    let (status, body) = raw(
        &emulator,
        reqwest::Method::POST,
        &format!("/v1/data_sources/{source}/query"),
        Some("tok-raw-filters"),
        Some("2025-09-03"),
        Some(json!({"filter": {"property": "Age", "checkbox": {"equals": true}}})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn emulator_validates_requests_as_notion_does() {
    let (emulator, _notion) = setup("tok-validate").await;
    let token = Some("tok-validate");
    let v = Some("2025-09-03");
    let db = emulator.database_id(ENTITY, "ContactProfile").unwrap();
    let source = emulator.data_source_id(ENTITY, "ContactProfile").unwrap();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    let (status, body) = raw(
        &emulator,
        get.clone(),
        &format!("/v1/databases/{db}"),
        token,
        None,
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("missing_version")));
    for key in ["object", "status", "code", "message", "request_id"] {
        assert!(body.get(key).is_some(), "error JSON has {key}");
    }
    assert_eq!(body["object"], "error");

    let (status, body) = raw(
        &emulator,
        get.clone(),
        &format!("/v1/databases/{db}"),
        Some("wrong"),
        v,
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = raw(
        &emulator,
        get.clone(),
        &format!("/v1/databases/{db}"),
        None,
        v,
        None,
    )
    .await;
    assert_eq!(status, 401);

    let (status, body) = raw(
        &emulator,
        get.clone(),
        &format!("/v1/databases/{db}"),
        token,
        v,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data_sources"][0]["id"], source.as_str());
    let (status, body) = raw(
        &emulator,
        get.clone(),
        &format!("/v1/data_sources/{source}"),
        token,
        v,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["properties"]["Stage"]["select"]["options"][1]["name"],
        "Client"
    );

    let (status, body) = raw(
        &emulator,
        get.clone(),
        "/v1/databases/00000000-0000-0000-0000-000000000000",
        token,
        v,
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("object_not_found")));
    let (status, body) = raw(&emulator, get.clone(), "/v1/pages/nope", token, v, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("object_not_found")));

    let create = |properties: serde_json::Value| json!({"parent": {"type": "data_source_id", "data_source_id": source}, "properties": properties});
    let (status, body) = raw(
        &emulator,
        post.clone(),
        "/v1/pages",
        token,
        v,
        Some(create(json!({"Nickname": {"rich_text": []}}))),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("validation_error")));
    assert_eq!(body["message"], "Nickname is not a property that exists.");
    let (status, body) = raw(
        &emulator,
        post.clone(),
        "/v1/pages",
        token,
        v,
        Some(create(json!({"Age": {"rich_text": []}}))),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Age is expected to be number.");
    let (status, body) = raw(
        &emulator,
        post.clone(),
        "/v1/pages",
        token,
        v,
        Some(create(
            json!({"Notes": {"rich_text": [{"text": {"content": "x".repeat(2001)}}]}}),
        )),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("should be ≤ `2000`, instead was `2001`"));
    let (status, _) = raw(
        &emulator,
        post.clone(),
        "/v1/pages",
        token,
        v,
        Some(create(json!({"Email": {"email": 5}}))),
    )
    .await;
    assert_eq!(status, 400);

    let (status, body) = raw(
        &emulator,
        post.clone(),
        &format!("/v1/data_sources/{source}/query"),
        token,
        v,
        Some(json!({"page_size": 101})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("validation_error")));
    let (status, body) = raw(&emulator, get.clone(), "/v1/nothing", token, v, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request_url"))
    );
    assert!(emulator.pages(ENTITY, "ContactProfile").is_empty());
}

#[tokio::test]
async fn every_error_class_is_reported_with_notions_details() {
    let (emulator, notion) = setup("tok-errors").await;
    let create = |props: Value| {
        let notion = &notion;
        async move {
            call(
                notion,
                "create_page",
                vec![("db", text("Task")), ("properties", props)],
                "k",
            )
            .await
        }
    };
    // Resolve first, so injected faults hit the calls under test.
    create(Value::record([("Title", text("ok"))])).await.unwrap();

    // 400: Notion refuses an unknown status option (the connector does not know options).
    let error = call(
        &notion,
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Status", text("Finished"))])),
        ],
        "k-status",
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.details.get("code"), &text("validation_error"));
    assert_eq!(error.details.get("status"), &Value::Number(400.0));
    assert!(error
        .details
        .get("message")
        .as_str()
        .unwrap()
        .contains("Finished"));
    assert!(error.details.get("request_id").as_str().is_some());

    // 404 keeps Notion's message and request id.
    let error = call(&notion, "get_page", vec![("id", text("0000aaaa"))], "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.details.get("code"), &text("object_not_found"));
    assert!(error.message.contains("Could not find page"), "{}", error.message);

    for status in [500, 502, 503, 504] {
        emulator.fail_next(1, status, None);
        let error = create(Value::record([("Title", text("x"))])).await.unwrap_err();
        assert_eq!(error.class, ErrorClass::Transient, "{status}");
        assert_eq!(error.details.get("status"), &Value::Number(status as f64));
    }

    emulator.fail_next(1, 529, Some(1));
    let error = create(Value::record([("Title", text("x"))])).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(error.retry_after, Some(Duration::from_secs(1)));

    // One 429 is waited out (Retry-After: 1) and the request sent again.
    emulator.fail_next(1, 429, Some(1));
    let started = Instant::now();
    create(Value::record([("Title", text("after one 429"))]))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.pages(ENTITY, "Task").len(), 2);

    // Three in a row (more than the 2 resends configured by default) reach the caller.
    emulator.fail_next(3, 429, Some(1));
    let started = Instant::now();
    let error = create(Value::record([("Title", text("x"))])).await.unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.class, ErrorClass::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(error.details.get("code"), &text("rate_limited"));
    // Every caller with this token waits out the last Retry-After before sending.
    let started = Instant::now();
    create(Value::record([("Title", text("after"))])).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.pages(ENTITY, "Task").len(), 3);
}

#[tokio::test]
async fn unauthorized_unreachable_and_unconfigured_calls_fail_clearly() {
    let (emulator, mut config) = emulator("tok-right").await;
    set(&mut config, "requests_per_second", toml::Value::Float(1000.0));
    let wrong = connector(&config, "tok-wrong");
    let error = call(&wrong, "query", vec![("db", text("Task"))], "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.details.get("code"), &text("unauthorized"));
    assert_eq!(error.details.get("status"), &Value::Number(401.0));

    // No token variable set.
    let unset = flowc::connectors::notion::NotionConnector::from_config_with_env(&config, |_| None).unwrap();
    let error = call(&unset, "query", vec![("db", text("Task"))], "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("NOTION_TOKEN_THE_7_SPACE"),
        "{}",
        error.message
    );

    // Unknown database and entity.
    let right = connector(&config, "tok-right");
    let error = call(&right, "query", vec![("db", text("Invoices"))], "k")
        .await
        .unwrap_err();
    assert!(
        error.message.contains("[entities.the_7_space.databases]"),
        "{}",
        error.message
    );
    let error = call_as(&right, "nobody", "query", vec![("db", text("Task"))], "k", 1)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);

    // Another entity's workspace through the same connector.
    let page = call_as(
        &right,
        "am_consulting",
        "create_page",
        vec![
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Name", text("Amelia"))])),
        ],
        "k",
        1,
    )
    .await
    .unwrap();
    assert_eq!(page.get("Name"), &text("Amelia"));
    assert_eq!(emulator.pages("am_consulting", "ContactProfile").len(), 1);

    // Nobody listening: a network error is transient.
    let port = emulator.addr().port();
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    set(
        &mut config,
        "base_url",
        toml::Value::String(format!("http://127.0.0.1:{port}")),
    );
    let gone = connector(&config, "tok-right");
    let error = call(&gone, "get_page", vec![("id", text("abc"))], "k")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient, "{error}");
}

#[tokio::test]
async fn a_retried_create_makes_one_page() {
    let (emulator, notion) = setup("tok-idem").await;
    let props = Value::record([("Full Name", text("Ada")), ("Email", text("ada@example.com"))]);
    let create = |key: &'static str, attempt: u32| {
        let notion = &notion;
        let props = props.clone();
        async move {
            call_as(
                notion,
                ENTITY,
                "create_page",
                vec![("db", text("ContactProfile")), ("properties", props)],
                key,
                attempt,
            )
            .await
        }
    };
    // The page is stored but the answer is lost (a gateway timeout after the write).
    emulator.fail_next_write(504);
    let error = create("instance-1/step-a", 1).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert_eq!(emulator.pages(ENTITY, "ContactProfile").len(), 1);
    // The retry finds the page by its key instead of making a second one.
    let page = create("instance-1/step-a", 2).await.unwrap();
    let again = create("instance-1/step-a", 3).await.unwrap();
    let stored = emulator.pages(ENTITY, "ContactProfile");
    assert_eq!(stored.len(), 1);
    assert_eq!(page.get("id"), stored[0].get("id"));
    assert_eq!(again.get("id"), stored[0].get("id"));
    // Another step (another key) is another page.
    create("instance-1/step-b", 1).await.unwrap();
    assert_eq!(emulator.pages(ENTITY, "ContactProfile").len(), 2);

    // A database without the key property has no such protection: the documented limit.
    emulator.fail_next_write(504);
    let task = || {
        call(
            &notion,
            "create_page",
            vec![
                ("db", text("Task")),
                ("properties", Value::record([("Title", text("t"))])),
            ],
            "instance-1/step-c",
        )
    };
    assert!(task().await.is_err());
    task().await.unwrap();
    assert_eq!(emulator.pages(ENTITY, "Task").len(), 2);
}

#[tokio::test]
async fn find_or_create_finds_by_the_unique_property_or_creates_once() {
    let (emulator, notion) = setup("tok-foc").await;
    let foc = |key: &'static str| {
        let notion = &notion;
        async move {
            call(
                notion,
                "find_or_create",
                vec![
                    ("db", text("ContactProfile")),
                    ("match", Value::record([("Email", text("ada@example.com"))])),
                    (
                        "properties",
                        Value::record([("Full Name", text("Ada")), ("Stage", text("Lead"))]),
                    ),
                ],
                key,
            )
            .await
        }
    };
    emulator.fail_next_write(504);
    assert!(foc("run-1/client").await.is_err());
    let first = foc("run-1/client").await.unwrap();
    assert_eq!(
        first.get("created"),
        &Value::Bool(true),
        "the retry of the creating step"
    );
    assert_eq!(first.get("Email"), &text("ada@example.com"));
    assert_eq!(first.get("Full Name"), &text("Ada"));
    let second = foc("run-2/client").await.unwrap();
    assert_eq!(second.get("created"), &Value::Bool(false));
    assert_eq!(second.get("id"), first.get("id"));
    assert_eq!(emulator.pages(ENTITY, "ContactProfile").len(), 1);

    let error = call(
        &notion,
        "find_or_create",
        vec![
            ("db", text("ContactProfile")),
            ("match", Value::record::<&str>([])),
        ],
        "k",
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn a_burst_of_creates_stays_under_the_rate_limit_without_failures() {
    let token = "tok-burst";
    let (emulator, mut config) = emulator(token).await;
    // Notion allows 3 requests per second; 20 keeps the test short with the same mechanics.
    emulator.set_rate_limit(Some((20.0, 6)));
    set(&mut config, "requests_per_second", toml::Value::Float(20.0));
    set(&mut config, "burst", toml::Value::Integer(4));
    let notion = connector(&config, token);
    let started = Instant::now();
    let calls = (0..50).map(|i| {
        let notion = &notion;
        async move {
            call(
                notion,
                "create_page",
                vec![
                    ("db", text("Task")),
                    (
                        "properties",
                        Value::record([("Title", text(&format!("task {i}")))]),
                    ),
                ],
                &format!("burst/{i}"),
            )
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let elapsed = started.elapsed();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    // Pacing keeps Notion from having to say no; a loaded machine may bunch a request or two
    // together, which the client then waits out rather than failing.
    assert!(
        emulator.rate_limited_count() <= 2,
        "{}",
        emulator.rate_limited_count()
    );
    assert_eq!(emulator.pages(ENTITY, "Task").len(), 50);
    // 52 requests (2 to resolve the database) at 20/s after a burst of 4.
    assert!(elapsed >= Duration::from_secs_f64(2.2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn emulator_rate_limit_answers_429_with_retry_after() {
    let (emulator, _notion) = setup("tok-429").await;
    emulator.set_rate_limit(Some((1.0, 2)));
    let db = emulator.database_id(ENTITY, "Task").unwrap();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/databases/{db}", emulator.base_url()))
            .bearer_auth("tok-429")
            .header("Notion-Version", "2025-09-03")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if let Some(v) = response.headers().get("retry-after") {
            retry_after = Some(v.to_str().unwrap().to_string());
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(emulator.rate_limited_count(), 1);
}

#[tokio::test]
async fn pull_saves_every_database_schema() {
    let token = "tok-pull";
    let (_emulator, mut config) = emulator(token).await;
    let dir = tempfile::tempdir().unwrap();
    config.project.notion_schema = Some("schemas/notion.json".into());
    let report = flowc::connectors::notion::pull_with(connector(&config, token), &config, dir.path())
        .await
        .unwrap();
    assert_eq!(report.path, dir.path().join("schemas/notion.json"));
    assert_eq!(report.databases.len(), 3);
    let pulled = NotionSchemas::load(&report.path).unwrap();
    let expected = schemas();
    for (entity, databases) in &expected.entities {
        for (name, schema) in databases {
            let got = pulled.database(entity, name).unwrap();
            assert_eq!(got.properties.len(), schema.properties.len(), "{entity}.{name}");
            for (property, p) in &schema.properties {
                let g = &got.properties[property];
                assert_eq!((&g.kind, &g.options), (&p.kind, &p.options), "{property}");
            }
        }
    }

    // A refused token writes nothing.
    let other = tempfile::tempdir().unwrap();
    let error = flowc::connectors::notion::pull_with(connector(&config, "tok-nope"), &config, other.path())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unauthorized"), "{error}");
    assert!(!other.path().join("schemas/notion.json").exists());
}

#[tokio::test]
async fn a_property_added_in_notion_is_seen_without_restarting() {
    let (emulator, notion) = setup("tok-schema-change").await;
    call(&notion, "query", vec![("db", text("Task"))], "k")
        .await
        .unwrap();
    assert!(emulator.add_property(ENTITY, "Task", "Due", "date"));
    let page = call(
        &notion,
        "create_page",
        vec![
            ("db", text("Task")),
            (
                "properties",
                Value::record([("Title", text("t")), ("Due", text("2026-02-01"))]),
            ),
        ],
        "k",
    )
    .await
    .unwrap();
    assert_eq!(
        page.get("Due"),
        &Value::Date(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())
    );
    // Still unknown after a fresh look: a permanent error.
    let error = call(
        &notion,
        "create_page",
        vec![
            ("db", text("Task")),
            ("properties", Value::record([("Nope", text("x"))])),
        ],
        "k2",
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
}

#[tokio::test]
async fn flowc_notion_pull_writes_the_project_schema_file() {
    let token = "tok-cli-pull";
    let (emulator, _config) = emulator(token).await;
    let dir = tempfile::tempdir().unwrap();
    let task = emulator.database_id(ENTITY, "Task").unwrap();
    let toml = format!(
        "[project]\nname = \"cli\"\n\n[entities.the_7_space]\nnotion_token_env = \"FLOWC_TEST_NOTION_TOKEN\"\n\n[entities.the_7_space.databases]\nTask = \"{task}\"\n\n[connectors.notion]\nbase_url = \"{}\"\n",
        emulator.base_url()
    );
    std::fs::write(dir.path().join("flowc.toml"), toml).unwrap();
    let run = |token: &'static str| {
        let root = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
                .args(["notion", "pull"])
                .arg(&root)
                .env("FLOWC_TEST_NOTION_TOKEN", token)
                .output()
                .unwrap()
        })
    };

    let output = run("tok-cli-bad").await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unauthorized"), "{stderr}");
    assert!(!dir.path().join("notion/schema.json").exists());

    let output = run(token).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pulled the_7_space.Task (2 properties)"),
        "{stdout}"
    );
    let pulled = NotionSchemas::load(&dir.path().join("notion/schema.json")).unwrap();
    assert_eq!(
        pulled.database(ENTITY, "Task").unwrap().properties["Done"].kind,
        "checkbox"
    );
}

/// One `action` made by a flow of `flow_entity` acting as `entity`.
async fn as_flow(
    connector: &flowc::connectors::notion::NotionConnector,
    flow_entity: &str,
    entity: &str,
    action: &str,
    args: Vec<(&str, Value)>,
) -> Result<Value, flowc::connectors::ConnectorError> {
    use flowc::connectors::Connector;
    connector
        .call(flowc::connectors::ActionCall {
            action: action.into(),
            args: args.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            entity: entity.into(),
            flow_entity: flow_entity.into(),
            instance: "instance-1".into(),
            step: "step".into(),
            attempt: 1,
            idempotency_key: format!("grants/{action}").into(),
        })
        .await
}

/// Two workspaces with a token each, as in Notion; the connector knows both tokens and `grants`.
async fn workspaces(
    grants: flowc::connectors::Grants,
) -> (
    Emulator,
    flowc::connectors::notion::NotionConnector,
    String,
    String,
) {
    let emulator = Emulator::start(&schemas(), &[]).await.unwrap();
    emulator.add_workspace_token("secret_ws_seven", "the_7_space");
    emulator.add_workspace_token("secret_ws_am", "am_consulting");
    let mut config = emulator.config("unused");
    for (entity, var) in [("the_7_space", "TOKEN_SEVEN"), ("am_consulting", "TOKEN_AM")] {
        config.entities.get_mut(entity).unwrap().notion_token_env = Some(var.into());
    }
    set(&mut config, "requests_per_second", toml::Value::Float(1000.0));
    set(&mut config, "burst", toml::Value::Integer(1000));
    let connector =
        flowc::connectors::notion::NotionConnector::from_config_with_env(&config, |var| match var {
            "TOKEN_SEVEN" => Some("secret_ws_seven".into()),
            "TOKEN_AM" => Some("secret_ws_am".into()),
            _ => None,
        })
        .unwrap()
        .with_grants(grants);
    let am_page = emulator
        .insert_page(
            "am_consulting",
            "ContactProfile",
            json!({"Name": {"title": [{"text": {"content": "Sam"}}]}}),
        )
        .unwrap();
    let seven_page = emulator
        .insert_page(
            "the_7_space",
            "Task",
            json!({"Title": {"title": [{"text": {"content": "Hang"}}]}}),
        )
        .unwrap();
    (emulator, connector, am_page, seven_page)
}

fn refused(result: Result<Value, flowc::connectors::ConnectorError>, words: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{}", err.message);
    assert_eq!(
        err.details.get("code"),
        &Value::text("not_granted"),
        "{}",
        err.message
    );
    assert!(err.message.contains(words), "{}", err.message);
}

#[tokio::test]
async fn pages_reached_by_id_are_checked_against_grants_at_run_time() {
    use flowc::syntax::ast::GrantAccess;
    // am_consulting grants the_7_space read of its Task database only (not ContactProfile), and
    // read of ContactProfile to higherself only: neither reaches Sam's ContactProfile page.
    let mut grants = flowc::connectors::Grants::default();
    grants.add("am_consulting", "Task", "the_7_space", GrantAccess::ReadWrite);
    grants.add(
        "am_consulting",
        "ContactProfile",
        "higherself",
        GrantAccess::ReadWrite,
    );
    let (_emulator, connector, am_page, seven_page) = workspaces(grants).await;
    let id = |p: &str| vec![("id", text(p))];
    // Its own page: always.
    let own = as_flow(
        &connector,
        "the_7_space",
        "the_7_space",
        "get_page",
        id(&seven_page),
    )
    .await;
    assert_eq!(own.unwrap().get("Title"), &text("Hang"));
    // Wrong database named in the grant.
    refused(
        as_flow(
            &connector,
            "the_7_space",
            "am_consulting",
            "get_page",
            id(&am_page),
        )
        .await,
        "`ContactProfile` of `am_consulting`",
    );
    // Granted to another entity.
    let mut update = id(&am_page);
    update.push(("properties", Value::record([("Name", text("Changed"))])));
    refused(
        as_flow(
            &connector,
            "the_7_space",
            "am_consulting",
            "update_page",
            update.clone(),
        )
        .await,
        "may not write",
    );

    // The right grant lets the same calls through; read does not cover write.
    let mut grants = flowc::connectors::Grants::default();
    grants.add(
        "am_consulting",
        "ContactProfile",
        "the_7_space",
        GrantAccess::Read,
    );
    let (emulator, connector, am_page, _) = workspaces(grants).await;
    let page = as_flow(
        &connector,
        "the_7_space",
        "am_consulting",
        "get_page",
        id(&am_page),
    )
    .await;
    assert_eq!(page.unwrap().get("Name"), &text("Sam"));
    let mut update = id(&am_page);
    update.push(("properties", Value::record([("Name", text("Changed"))])));
    refused(
        as_flow(
            &connector,
            "the_7_space",
            "am_consulting",
            "update_page",
            update.clone(),
        )
        .await,
        "grants no write access to `the_7_space`",
    );
    assert_eq!(
        emulator.pages("am_consulting", "ContactProfile")[0].get("Name"),
        &text("Sam")
    );

    // A page id of another workspace handed to this workspace's token: the token cannot see
    // it (Notion's 404), and the connector would refuse it anyway.
    let err = as_flow(&connector, "the_7_space", "the_7_space", "get_page", id(&am_page))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(
        err.details.get("code"),
        &text("object_not_found"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn update_page_refuses_a_page_outside_the_db_it_names() {
    let (_emulator, connector, _, seven_page) = workspaces(flowc::connectors::Grants::default()).await;
    let err = as_flow(
        &connector,
        "the_7_space",
        "the_7_space",
        "update_page",
        vec![
            ("id", text(&seven_page)),
            ("db", text("ContactProfile")),
            ("properties", Value::record([("Notes", text("x"))])),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        err.message.contains("is in `Task`, not in `ContactProfile`"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_workspace_token_sees_only_its_workspace() {
    let (emulator, _, am_page, seven_page) = workspaces(flowc::connectors::Grants::default()).await;
    let get = |token: &'static str, path: String| {
        let url = format!("{}{path}", emulator.base_url());
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .header("Notion-Version", flowc::connectors::notion::NOTION_VERSION)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = get("secret_ws_seven", format!("/v1/pages/{am_page}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "object_not_found");
    assert_eq!(body["object"], "error");
    assert_eq!(get("secret_ws_am", format!("/v1/pages/{am_page}")).await.0, 200);
    assert_eq!(
        get("secret_ws_am", format!("/v1/pages/{seven_page}")).await.0,
        404
    );
    let am_db = emulator.database_id("am_consulting", "ContactProfile").unwrap();
    assert_eq!(
        get("secret_ws_seven", format!("/v1/databases/{am_db}")).await.0,
        404
    );
    assert_eq!(get("secret_ws_am", format!("/v1/databases/{am_db}")).await.0, 200);
}

/// The emulator's own rules against what Notion documents (request limits, the date rule, the
/// error object), sent raw so the connector's own checks are not involved.
#[tokio::test]
async fn emulator_keeps_notions_documented_limits_and_date_rule() {
    let (emulator, _notion) = setup("tok-contract").await;
    let source = emulator.data_source_id(ENTITY, "ContactProfile").unwrap();
    let create = |properties: serde_json::Value| {
        raw(
            &emulator,
            reqwest::Method::POST,
            "/v1/pages",
            Some("tok-contract"),
            Some(flowc::connectors::notion::NOTION_VERSION),
            Some(json!({ "parent": { "data_source_id": source }, "properties": properties })),
        )
    };
    let (status, body) =
        create(json!({ "Notes": { "rich_text": [{ "text": { "content": "x".repeat(2001) } }] } })).await;
    assert_eq!(status, 400);
    assert_eq!(body["object"], "error");
    assert_eq!(body["status"], 400);
    assert_eq!(body["code"], "validation_error");
    assert_eq!(
        body["message"],
        "body failed validation: body.properties.Notes.rich_text[0].text.content.length should be ≤ `2000`, instead was `2001`."
    );
    assert!(body["request_id"].is_string());
    let (status, _) =
        create(json!({ "Notes": { "rich_text": [{ "text": { "content": "x".repeat(2000) } }] } })).await;
    assert_eq!(status, 200);
    let (status, body) =
        create(json!({ "Email": { "email": format!("{}@x.example", "a".repeat(191)) } })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("validation_error")));
    // A date-time without an offset is a valid ISO 8601 start (the property's time zone applies).
    let (status, body) = create(json!({ "Birthday": { "date": { "start": "2026-01-05T09:00" } } })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create(json!({ "Birthday": { "date": { "start": "05/01/2026" } } })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn a_fault_plan_fails_its_share_of_requests_reproducibly() {
    use flowc::connectors::faults::FaultPlan;
    let plan: FaultPlan = "notion:503=100%".parse().unwrap();
    let (emulator, notion) = setup("tok-fault-plan").await;
    emulator.set_fault_plan(plan.service("notion"), 1);
    let err = call(&notion, "query", vec![("db", text("Task"))], "k")
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(err.details.get("code"), &text("service_unavailable"));

    // 30% of 429s with a fixed seed: the same requests fail on every run, and the connector
    // waits each one out (Retry-After) and resends it.
    let outcome = |seed| async move {
        let (emulator, notion) = setup(&format!("tok-fault-plan-{seed}")).await;
        emulator.set_fault_plan(
            "notion:429=30%".parse::<FaultPlan>().unwrap().service("notion"),
            seed,
        );
        let mut results = Vec::new();
        for n in 0..6 {
            let page = call(
                &notion,
                "create_page",
                vec![
                    ("db", text("Task")),
                    ("properties", Value::record([("Title", text("t"))])),
                ],
                &format!("k{n}"),
            )
            .await;
            results.push(page.is_ok());
        }
        (results, emulator.request_count())
    };
    let (first, requests) = outcome(3).await;
    assert_eq!(outcome(3).await, (first.clone(), requests));
    // Without faults: the database and its data source once, then one request per page.
    assert!(
        requests > 2 + 6,
        "some requests were refused and resent: {requests}"
    );
}
