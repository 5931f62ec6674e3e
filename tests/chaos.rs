//! Chaos: the nine automations of `flows/` on a bad day. Each runs on the real connectors against
//! the Notion and Typeform emulators and the email outbox (what `flowc run --emulate` uses), on a
//! virtual clock, with a fault plan failing, slowing or timing out a fifth of the requests of
//! every service, under several seeds. Each instance must complete or end in its `on error`
//! handler, and nothing may be written twice: Notion pages are counted at the emulator, messages
//! in the outbox, against a run of the same flow without faults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowc::connectors::email::EmailConnector;
use flowc::connectors::faults::{FaultPlan, FaultTime};
use flowc::connectors::http::HttpConnector;
use flowc::connectors::notion::emulator::Emulator;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::connectors::notion::NotionConnector;
use flowc::connectors::survey::emulator::TypeformEmulator;
use flowc::connectors::survey::SurveyConnector;
use flowc::runtime::{Clock, Engine, EventKind, VirtualClock};
use flowc::Project;
use serde_json::{json, Value as Json};

const START: &str = "2026-12-01T09:00:00Z";
const TYPEFORM_TOKEN: &str = "tfp_chaos";
const TYPEFORM_TOKEN_ENV: &str = "FLOWC_CHAOS_TYPEFORM_TOKEN";

/// A fifth of every service's requests go wrong, in every way the plans can say.
const BAD_DAY: &str = "notion:429=2%,500=4%,502=3%,503=6%,timeout=5%,latency=50ms..2s;\
                       typeform:429=2%,500=5%,503=8%,timeout=5%,latency=100ms..1s;\
                       smtp:421=8%,451=7%,timeout=5%,latency=10ms..500ms";
const SEEDS: [u64; 3] = [1, 2, 3];

/// The seeds of a run: [`SEEDS`], or `CHAOS_SEEDS=N` of them for a longer search.
fn seeds() -> Vec<u64> {
    match std::env::var("CHAOS_SEEDS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => (1..=n).collect(),
        None => SEEDS.to_vec(),
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// One automation and how to start it: its flow and an input made against the seeded workspaces.
struct Case {
    flow: &'static str,
    input: fn(&Emulator) -> Json,
}

fn example(name: &str) -> Json {
    let text = std::fs::read_to_string(root().join(format!("examples/inputs/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            flow: "wellness_booking",
            input: |_| example("wellness_booking"),
        },
        Case {
            flow: "client_onboarding",
            input: |_| example("client_onboarding"),
        },
        Case {
            flow: "community_event",
            input: |_| example("community_event"),
        },
        Case {
            flow: "exhibition_planning",
            input: |_| example("exhibition_planning"),
        },
        Case {
            flow: "lead_nurturing",
            input: |_| example("lead_nurturing"),
        },
        Case {
            flow: "multi_entity_coordination",
            input: |_| {
                json!({
                    "contact_id": "c-1",
                    "email": "lena@studio.example",
                    "name": "Lena Ward",
                    "contact_type": "Artist",
                    "source": "Website",
                    "origin": "the_7_space",
                })
            },
        },
        Case {
            flow: "platform_integration",
            input: |_| {
                json!({
                    "source": "Shopify",
                    "kind": "Order",
                    "external_id": "5500112233",
                    "email": "collector@example.com",
                    "name": "Ada Byrne",
                    "summary": "Order #1042: 1 item(s), 450.00 GBP",
                    "amount": 450,
                    "currency": "GBP",
                    "received_at": START,
                })
            },
        },
        Case {
            flow: "project_delivery",
            input: |notion| {
                let client = notion
                    .insert_page(
                        "am_consulting",
                        "ContactProfile",
                        json!({
                            "Full Name": { "title": [{ "text": { "content": "Sam Lee" } }] },
                            "Email": { "email": "sam@acme.example" },
                        }),
                    )
                    .unwrap();
                let project = notion
                    .insert_page(
                        "am_consulting",
                        "ProductService",
                        json!({
                            "Name": { "title": [{ "text": { "content": "Acme Ltd: consulting project" } }] },
                            "Type": { "select": { "name": "Client Project" } },
                            "Status": { "status": { "name": "Planned" } },
                        }),
                    )
                    .unwrap();
                json!({
                    "project_id": project,
                    "project_name": "Acme Ltd: consulting project",
                    "client_id": client,
                    "client_email": "sam@acme.example",
                    "client_name": "Sam",
                    "lead_email": "team@amconsulting.example",
                    "milestones": [
                        { "name": "Discovery", "due": "2026-12-15T17:00:00Z" },
                        { "name": "Strategy", "due": "2027-01-12T17:00:00Z" },
                    ],
                })
            },
        },
        Case {
            flow: "system_monitoring",
            input: |_| json!({}),
        },
    ]
}

/// What one run left behind.
#[derive(Debug)]
struct Outcome {
    /// The output, or why the instance failed.
    result: Result<Json, String>,
    /// Whether the flow's `on error` handler started.
    handler_ran: bool,
    /// Failed attempts of steps (the faults the flow felt).
    failed_attempts: usize,
    /// Pages by content (id, url and idempotency key left out), with how many have it.
    pages: BTreeMap<String, usize>,
    /// Messages by recipient and subject, with how many went out.
    messages: BTreeMap<String, usize>,
    /// Typeform forms by title, with how many were created.
    forms: BTreeMap<String, usize>,
}

/// Runs `case` once against fresh emulators, with `plan` drawn from `seed` (no faults when the
/// plan is empty).
async fn run(case: &Case, plan: &FaultPlan, seed: u64) -> Outcome {
    let mut project = Project::load(&root().join("flows")).expect("the repository's project loads");
    let schemas = NotionSchemas::load(&root().join("notion/schema.json")).unwrap();
    let tokens: BTreeMap<String, String> = project
        .config
        .entities
        .iter()
        .filter_map(|(name, e)| Some((e.notion_token_env.clone()?, format!("secret_chaos_{name}"))))
        .collect();
    let workspace_tokens: Vec<(String, String)> = project
        .config
        .entities
        .iter()
        .filter_map(|(name, e)| Some((name.clone(), tokens[e.notion_token_env.as_deref()?].clone())))
        .collect();
    let refs: Vec<(&str, &str)> = workspace_tokens
        .iter()
        .map(|(e, t)| (e.as_str(), t.as_str()))
        .collect();
    let notion = Emulator::start_for(&schemas, &refs, &project.config)
        .await
        .unwrap();
    notion.seed_file(&root().join("notion/seed.json")).unwrap();
    let typeform = TypeformEmulator::start(TYPEFORM_TOKEN).await.unwrap();
    static TOKEN_SET: std::sync::Once = std::sync::Once::new();
    TOKEN_SET.call_once(|| std::env::set_var(TYPEFORM_TOKEN_ENV, TYPEFORM_TOKEN));
    let input = (case.input)(&notion);

    let clock = Arc::new(VirtualClock::new(at(START)));
    let gate = |service: &str| plan.gate(service, seed, FaultTime::Virtual(clock.clone()));
    if let Some(gate) = gate("notion") {
        notion.set_faults(gate);
    }
    if let Some(gate) = gate("typeform") {
        typeform.set_faults(gate);
    }

    let state = tempfile::tempdir().unwrap();
    let outbox = state.path().join("outbox");
    let s = |t: &str| toml::Value::String(t.to_string());
    let config = &mut project.config;
    let notion_table = config.connectors.entry("notion".into()).or_default();
    notion_table.insert("base_url".into(), s(&notion.base_url()));
    notion_table.insert("requests_per_second".into(), toml::Value::Float(1000.0));
    notion_table.insert("burst".into(), toml::Value::Integer(1000));
    let mut mail = toml::Table::new();
    mail.insert("outbox".into(), s(outbox.to_str().unwrap()));
    config.connectors.insert("email".into(), mail);
    let survey_table = config.connectors.entry("survey".into()).or_default();
    survey_table.insert("base_url".into(), s(&typeform.base_url()));
    survey_table.insert("token_env".into(), s(TYPEFORM_TOKEN_ENV));
    survey_table.insert(
        "created_log".into(),
        s(state.path().join("survey").to_str().unwrap()),
    );
    survey_table.remove("workspace_href");

    let notion_connector =
        NotionConnector::from_config_with_env(&project.config, move |name| tokens.get(name).cloned())
            .unwrap()
            .with_grants(flowc::connectors::Grants::from_project(&project));
    let mut email = EmailConnector::from_config(&project.config, &project.root).unwrap();
    if let Some(gate) = gate("smtp") {
        email = email.with_faults(gate);
    }
    let survey = SurveyConnector::from_config(&project.config, &project.root).unwrap();
    let http = HttpConnector::from_config(&project.config, &project.root).unwrap();
    let engine = Engine::builder()
        .project_value(project)
        .clock(clock.clone())
        .connector(Arc::new(notion_connector))
        .connector(Arc::new(email))
        .connector(Arc::new(survey))
        .connector(Arc::new(http))
        .start_triggered_flows(false)
        .build()
        .unwrap();

    let id = engine.start(case.flow, input).await.unwrap();
    let Ok(result) = tokio::time::timeout(Duration::from_secs(120), engine.output(&id)).await else {
        let history: Vec<String> = engine
            .history(&id)
            .iter()
            .rev()
            .take(12)
            .map(|e| format!("{:?}", e.kind))
            .collect();
        panic!(
            "`{}` (seed {seed}) did not end within two minutes of real time; the clock reads {} \
             ({} busy, sleepers: {}); last events: {history:#?}",
            case.flow,
            clock.now(),
            clock.busy(),
            clock.has_sleepers()
        );
    };
    let result = result.map(|v| v.to_json()).map_err(|e| e.to_string());
    let handler_ran = engine.history(&id).iter().any(|e| match &e.kind {
        EventKind::StepScheduled { step } | EventKind::StepStarted { step, .. } => {
            step.starts_with("on_error.")
        }
        _ => false,
    });
    let failed_attempts = engine
        .history(&id)
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StepFailed { .. }))
        .count();
    engine.shutdown().await;
    Outcome {
        result,
        handler_ran,
        failed_attempts,
        pages: pages(&notion, &schemas_of()),
        messages: messages(&outbox),
        forms: typeform
            .form_ids()
            .iter()
            .filter_map(|id| typeform.form(id))
            .fold(BTreeMap::new(), |mut forms, form| {
                *forms.entry(form["title"].to_string()).or_default() += 1;
                forms
            }),
    }
}

/// Every entity's databases, as notion/schema.json lists them.
fn schemas_of() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("notion/schema.json")).unwrap();
    let schema: Json = serde_json::from_str(&text).unwrap();
    schema["entities"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(entity, dbs)| {
            dbs.as_object()
                .unwrap()
                .keys()
                .map(|db| (entity.clone(), db.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pages(notion: &Emulator, databases: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (entity, db) in databases {
        for page in notion.pages(entity, db) {
            let mut page = page.to_json();
            if let Some(fields) = page.as_object_mut() {
                for key in ["id", "url", "flowc_key"] {
                    fields.remove(key);
                }
            }
            *counts.entry(format!("{entity}.{db} {page}")).or_default() += 1;
        }
    }
    counts
}

fn messages(outbox: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let files: Vec<PathBuf> = std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_string()
        };
        *counts
            .entry(format!("to {} | {}", header("To"), header("Subject")))
            .or_default() += 1;
    }
    counts
}

/// What `faulted` has more of than `baseline` (a fault-free run of the same flow) allows: each
/// page or message as many times as without faults, and once when the faults took the run down
/// another path.
fn duplicates(faulted: &BTreeMap<String, usize>, baseline: &BTreeMap<String, usize>) -> Vec<String> {
    faulted
        .iter()
        .filter(|(what, n)| **n > baseline.get(*what).copied().unwrap_or(0).max(1))
        .map(|(what, n)| format!("{n} x {what}"))
        .collect()
}

/// What the runs of every automation under one plan showed.
#[derive(Default)]
struct Report {
    /// Instances that failed without their `on error`, and anything written twice.
    problems: Vec<String>,
    /// How the instances ended.
    ended: BTreeMap<&'static str, usize>,
    /// Failed attempts of steps, over every run.
    failed_attempts: usize,
}

/// Runs every automation (or `CHAOS_ONLY`'s) without faults, then under `plan` with each seed.
async fn rehearse(plan: &FaultPlan, seeds: &[u64]) -> Report {
    let mut report = Report::default();
    let only = std::env::var("CHAOS_ONLY").ok();
    for case in cases() {
        if only.as_deref().is_some_and(|o| o != case.flow) {
            continue;
        }
        let baseline = run(&case, &FaultPlan::default(), 0).await;
        assert!(
            baseline.result.is_ok(),
            "`{}` fails without faults: {:?}",
            case.flow,
            baseline.result
        );
        for &seed in seeds {
            let faulted = run(&case, plan, seed).await;
            let label = format!("{} (seed {seed})", case.flow);
            report.failed_attempts += faulted.failed_attempts;
            match &faulted.result {
                Ok(_) => *report.ended.entry("completed").or_default() += 1,
                Err(_) if faulted.handler_ran => *report.ended.entry("on error").or_default() += 1,
                Err(e) => report
                    .problems
                    .push(format!("{label}: failed without its `on error`: {e}")),
            }
            for (what, faulted, baseline) in [
                ("pages", &faulted.pages, &baseline.pages),
                ("messages", &faulted.messages, &baseline.messages),
                ("forms", &faulted.forms, &baseline.forms),
            ] {
                for duplicate in duplicates(faulted, baseline) {
                    report
                        .problems
                        .push(format!("{label}: {what} written twice: {duplicate}"));
                }
            }
        }
    }
    eprintln!(
        "{plan}: {:?}, {} failed attempts",
        report.ended, report.failed_attempts
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_automation_survives_a_bad_day_without_writing_twice() {
    let report = rehearse(&BAD_DAY.parse().unwrap(), &seeds()).await;
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    // The faults were felt: steps failed and were retried (or fell back) in many runs.
    assert!(
        report.failed_attempts >= seeds().len() * 9,
        "only {} failed attempts",
        report.failed_attempts
    );
}

/// A quarter of the answers are lost after the work was done (a page created, a form made, a
/// message handed over): the retries must find the work, not do it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_the_work_was_done_never_duplicate_it() {
    let plan: FaultPlan = "notion:timeout=25%;typeform:timeout=25%;smtp:timeout=25%"
        .parse()
        .unwrap();
    let report = rehearse(&plan, &[1, 2]).await;
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert!(
        report.failed_attempts >= 18,
        "only {} failed attempts",
        report.failed_attempts
    );
}

/// The mail relay is down for the first minute of the run, then back: whatever the booking's
/// steps make of it, no message is written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_never_sent_twice_while_the_relay_is_down() {
    let case = &cases()[0];
    assert_eq!(case.flow, "wellness_booking");
    let baseline = run(case, &FaultPlan::default(), 0).await;
    let down: FaultPlan = "smtp:down=60s".parse().unwrap();
    for seed in SEEDS {
        let outcome = run(case, &down, seed).await;
        assert!(outcome.failed_attempts > 0, "the relay was down at first");
        assert!(
            outcome.result.is_ok() || outcome.handler_ran,
            "{:?}",
            outcome.result
        );
        assert_eq!(
            duplicates(&outcome.messages, &baseline.messages),
            Vec::<String>::new()
        );
    }
}

/// The mail relay is down for the first minute of the run, then back: every message of a
/// booking goes out, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_sent_while_the_relay_is_down_goes_out_once_it_is_back() {
    let case = &cases()[0];
    let baseline = run(case, &FaultPlan::default(), 0).await;
    assert!(!baseline.messages.is_empty());
    let down: FaultPlan = "smtp:down=60s".parse().unwrap();
    for seed in SEEDS {
        let outcome = run(case, &down, seed).await;
        assert!(outcome.result.is_ok(), "seed {seed}: {:?}", outcome.result);
        assert_eq!(outcome.messages, baseline.messages, "seed {seed}");
    }
}

// ---------------------------------------------------------------------------------------------
// The command line: `--faults`, `--faults-seed` and flowc.toml's `[faults]`.

fn flowc(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the repository's project with `extra` added to its flowc.toml.
fn project_with(extra: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap().flatten() {
                copy(&entry.path(), &to.join(entry.file_name()));
            }
        } else {
            std::fs::copy(from, to).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for entry in ["flowc.toml", "flows", "stdlib", "notion", "examples"] {
        copy(&root().join(entry), &dir.path().join(entry));
    }
    let toml = dir.path().join("flowc.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n{extra}")).unwrap();
    dir
}

const BOOKING: [&str; 6] = [
    "run",
    "flows/wellness_booking.flow",
    "--input",
    "@examples/inputs/wellness_booking.json",
    "--emulate",
    "--clock-start=2026-12-01T09:00:00Z",
];

#[test]
fn a_run_takes_its_faults_from_the_command_line_and_says_how_to_replay_them() {
    let outbox = tempfile::tempdir().unwrap();
    let mut args = BOOKING.to_vec();
    args.extend([
        "--outbox",
        outbox.path().to_str().unwrap(),
        "--faults",
        "notion:503=10%,latency=10ms..2s;smtp:421=10%",
        "--faults-seed",
        "7",
    ]);
    let (code, stderr) = flowc(root(), &args);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(
        stderr.contains(
            "faults: notion:503=10%,latency=10ms..2s;smtp:421=10% (seed 7: replay with --faults-seed 7)"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_fault_plans_are_refused_with_the_reason() {
    let cases = [
        (vec!["--faults", "notion:429"], "needs a value"),
        (vec!["--faults", "stripe:503=5%"], "not an emulated service"),
        (vec!["--faults", "notion:503=150%"], "percentage"),
    ];
    for (extra, reason) in cases {
        let mut args = BOOKING.to_vec();
        args.extend(extra);
        let (code, stderr) = flowc(root(), &args);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(reason), "{reason}: {stderr}");
    }
    // Faults are the emulators' business: never asked of the real services.
    let (code, stderr) = flowc(
        root(),
        &["run", "flows/wellness_booking.flow", "--faults", "notion:503=5%"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--emulate"), "{stderr}");
}

#[test]
fn flowc_toml_gives_the_faults_and_seed_of_emulated_runs() {
    let project = project_with("[faults]\nseed = 5\nsmtp = \"down=30s\"\n");
    let outbox = project.path().join("outbox");
    let mut args = BOOKING.to_vec();
    args.extend(["--outbox", outbox.to_str().unwrap()]);
    let (code, stderr) = flowc(project.path(), &args);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(
        stderr.contains("faults: smtp:down=30s (seed 5: replay with --faults-seed 5)"),
        "{stderr}"
    );
    // The command line's plan replaces the file's.
    args.extend(["--faults", "typeform:503=1%"]);
    let (_, stderr) = flowc(project.path(), &args);
    assert!(stderr.contains("faults: typeform:503=1% (seed 5"), "{stderr}");

    let project = project_with("[faults]\nnotion = \"503=5%\"\nstripe = \"503=5%\"\n");
    let (code, stderr) = flowc(project.path(), &BOOKING);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown key `stripe` in `[faults]`"), "{stderr}");
    let project = project_with("[faults]\nsmtp = \"down=soon\"\n");
    let (code, stderr) = flowc(project.path(), &BOOKING);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a duration"), "{stderr}");
}

/// docs/faults.md says only what is true: its flowc.toml table is read as written, and the plan
/// of its command is the one the run announces.
#[test]
fn the_page_on_faults_shows_working_examples() {
    let page = std::fs::read_to_string(root().join("docs/faults.md")).unwrap();
    let blocks = |lang: &str| -> Vec<String> {
        page.split(&format!("```{lang}\n"))
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap().to_string())
            .collect()
    };
    let tables = blocks("toml");
    assert_eq!(tables.len(), 1);
    let config = flowc::config::Config::parse(&tables[0], Path::new("flowc.toml")).unwrap();
    assert_eq!(config.faults.seed, Some(7));
    assert_eq!(
        config.faults.to_string(),
        "notion:429=10%,503=5%,latency=50ms..2s;slack:503=5%;smtp:down=1m;twilio:429=10%;typeform:timeout=5%"
    );
    let command = &blocks("sh")[0];
    let plan = command.split('\'').nth(1).unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mut args = BOOKING.to_vec();
    args.extend(["--outbox", outbox.path().to_str().unwrap(), "--faults", plan]);
    let (code, stderr) = flowc(root(), &args);
    assert!(code == 0 || code == 1, "{stderr}");
    let announced = blocks("text")[0].split(" (seed").next().unwrap().to_string();
    assert!(stderr.contains(&announced), "{announced}\n{stderr}");
    assert!(command.contains(&BOOKING[1..].join(" ").replace("--emulate ", "\\\n  --emulate ")));
}

/// `flowc emulate`'s SMTP server on a bad day: refused with 421 while it is down, then back, and
/// a message whose answer is lost is stored all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smtp_emulator_refuses_while_down_then_takes_the_mail() {
    use flowc::connectors::email::SmtpEmulator;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let outbox = tempfile::tempdir().unwrap();
    let smtp = SmtpEmulator::start("127.0.0.1:0".parse().unwrap(), outbox.path())
        .await
        .unwrap();
    let clock = Arc::new(VirtualClock::new(at(START)));
    let plan: FaultPlan = "smtp:down=60s".parse().unwrap();
    smtp.set_faults(plan.gate("smtp", 1, FaultTime::Virtual(clock.clone())).unwrap());
    let port: u16 = smtp.url().rsplit(':').next().unwrap().parse().unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(Duration::from_secs(5)))
        .build();
    let message = || {
        Message::builder()
            .from("studio@the7space.example".parse().unwrap())
            .to("maya@example.com".parse().unwrap())
            .subject("Your session is confirmed")
            .body("See you on Thursday.".to_string())
            .unwrap()
    };
    let stored = || std::fs::read_dir(outbox.path()).unwrap().count();
    let refused = transport.send(message()).await.unwrap_err();
    assert!(refused.is_transient(), "{refused}");
    assert!(refused.to_string().contains("421"), "{refused}");
    assert_eq!(stored(), 0);
    // A minute later (on the run's clock) it is back.
    clock.enter();
    let later = clock.sleep_until(at(START) + chrono::Duration::seconds(61));
    clock.leave();
    later.await;
    transport.send(message()).await.unwrap();
    assert_eq!(stored(), 1);
    // A lost answer: the message is taken, the client hears nothing.
    smtp.set_faults(
        "smtp:timeout=100%"
            .parse::<FaultPlan>()
            .unwrap()
            .gate("smtp", 1, FaultTime::Virtual(clock.clone()))
            .unwrap(),
    );
    assert!(transport.send(message()).await.is_err());
    assert_eq!(stored(), 2);
    clock.leave();
}

#[test]
fn flowc_emulate_follows_a_fault_plan() {
    let state = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "emulate",
            "--state",
            state.path().to_str().unwrap(),
            "--faults",
            "notion:503=100%",
            "--faults-seed",
            "3",
        ])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let notion = lines.next().unwrap().unwrap();
    let url = notion.strip_prefix("notion ").unwrap().to_string();
    let status = {
        use std::io::{Read, Write};
        let address = url.trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .write_all(b"GET /v1/databases/x HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_string()
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.contains(" 503 "), "{status}\n{stderr}");
    assert!(
        stderr.contains("faults: notion:503=100% (seed 3: replay with --faults-seed 3)"),
        "{stderr}"
    );
}
