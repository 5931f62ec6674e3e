//! Lowering flows to plans: each construct, dependencies, hashes and the Mermaid drawing.

use std::path::Path;

use flowc::config::Config;
use flowc::plan::{
    self, ArmTest, Builtin, Bundle, CallTarget, Dep, Expr, FallbackPlan, Name, NodeKind, NotionChange,
    SubPlan, Trigger, WebhookAuth,
};
use flowc::Project;
use petgraph::graph::NodeIndex;

const SAMPLE: &str = r#"
entity the_7_space "The 7 Space" {
  databases ContactProfile, Task
  setting follow_up_days = [1, 3]
}
template booking_confirmation {
  subject "Your {{service}} session"
  text "Hi {{name}}"
  html "<p>Hi {{name}}</p>"
}
flow booking for the_7_space {
  on manual
  input { email: email, kind: text = "wellness" }
  step client = notion.find_or_create(db: ContactProfile, match: { Email: input.email })
  step p = notion.query_one(db: ContactProfile, where: { Email: input.email })
    retry 3 times backoff 2s..1m factor 2 jitter on transient
    timeout 30s
    fallback { step t = notion.create_page(db: Task, properties: { Name: "x" }) yield { id: t.id } }
    after client
  let starts = client.id
  if p.id == "x" {
    step a = email.send(to: input.email, template: "booking_confirmation", with: { service: "s", name: "n" })
  } else {
    step b = notion.get_page(id: starts)
  }
  wait 2d
  step reply = wait for event "lead.replied" where event.email == input.email timeout 3d
  step sent = for m in [1, 2] concurrency 2 { step s = notion.get_page(id: client.id) yield s.id }
  match input.kind { "artist" | "gallery" => { emit "art" { id: client.id } } _ => { fail "nope" } }
  output { client_id: client.id, sent }
  on error { step alert = notion.get_page(id: "x") }
}
"#;

fn project(src: &str) -> Project {
    Project::from_sources(Path::new("/p"), Config::default(), [("main.flow", src)])
}

fn bundle(src: &str, flow: &str) -> Bundle {
    plan::compile(&project(src), None, flow).expect("compiles")
}

fn node(plan: &SubPlan, name: &str) -> NodeIndex {
    plan.find(name).unwrap_or_else(|| panic!("no node {name}"))
}

fn by_keyword(plan: &SubPlan, kw: &str) -> Vec<NodeIndex> {
    plan.graph
        .node_indices()
        .filter(|&i| plan.graph[i].kind.keyword() == kw)
        .collect()
}

fn edge(plan: &SubPlan, a: NodeIndex, b: NodeIndex) -> Option<Dep> {
    plan.graph.find_edge(a, b).map(|e| plan.graph[e])
}

#[test]
fn lowers_steps_with_resolved_policies() {
    let b = bundle(SAMPLE, "booking");
    let flow = b.entry_flow().unwrap();
    let body = &flow.body;
    let NodeKind::Call(p) = &body.graph[node(body, "p")].kind else {
        panic!()
    };
    assert_eq!(p.retry.attempts, 3);
    assert_eq!((p.retry.min_ms, p.retry.max_ms), (2_000, 60_000));
    assert_eq!(p.timeout_ms, Some(30_000));
    assert!(matches!(p.fallback, Some(FallbackPlan::Block(_))));
    // The default policy comes from the manifest (notion: 4 attempts).
    let NodeKind::Call(c) = &body.graph[node(body, "client")].kind else {
        panic!()
    };
    assert_eq!(c.retry.attempts, 4);
    assert_eq!(
        c.target,
        CallTarget::Action {
            connector: "notion".into(),
            action: "find_or_create".into()
        }
    );
    let NodeKind::Call(a) = &body.graph[node(body, "a")].kind else {
        panic!()
    };
    assert_eq!(a.template_params, vec!["template".to_string()]);
    assert_eq!(
        b.templates["booking_confirmation"].html.as_deref(),
        Some("<p>Hi {{name}}</p>")
    );
    assert!(flow.on_error.is_some());
    assert_eq!(flow.input.len(), 2);
    assert!(b.entities.contains_key("the_7_space"));
}

#[test]
fn data_after_and_gate_edges() {
    let b = bundle(SAMPLE, "booking");
    let body = &b.entry_flow().unwrap().body;
    let client = node(body, "client");
    let p = node(body, "p");
    let starts = node(body, "starts");
    assert_eq!(edge(body, client, p), Some(Dep::After));
    assert_eq!(edge(body, client, starts), Some(Dep::Data));
    let branch = by_keyword(body, "if")[0];
    assert_eq!(edge(body, p, branch), Some(Dep::Data));
    let a = node(body, "a");
    let bb = node(body, "b");
    assert_eq!(edge(body, branch, a), Some(Dep::Gate));
    assert_eq!(edge(body, branch, bb), Some(Dep::Gate));
    assert_eq!(body.graph[a].gate.unwrap().arm, 0);
    assert_eq!(body.graph[bb].gate.unwrap().arm, 1);
    let NodeKind::Branch(br) = &body.graph[branch].kind else {
        panic!()
    };
    assert!(matches!(br.arms[1], ArmTest::Else));
    // The match: its arms carry gates; a wildcard arm is an else.
    let m = by_keyword(body, "match")[0];
    let NodeKind::Branch(mb) = &body.graph[m].kind else {
        panic!()
    };
    assert!(matches!(mb.arms[0], ArmTest::Pattern(_)));
    assert!(matches!(mb.arms[1], ArmTest::Else));
    let emit = by_keyword(body, "emit")[0];
    assert_eq!(edge(body, m, emit), Some(Dep::Gate));
}

#[test]
fn waits_are_barriers_of_their_block() {
    let b = bundle(SAMPLE, "booking");
    let body = &b.entry_flow().unwrap().body;
    let wait = by_keyword(body, "wait")[0];
    // Every earlier statement, nested ones included, is before the wait.
    for name in ["client", "p", "starts", "a", "b"] {
        let n = node(body, name);
        assert!(edge(body, n, wait).is_some(), "{name} before wait");
    }
    // Later statements are after it.
    for name in ["reply", "sent"] {
        assert_eq!(
            edge(body, wait, node(body, name)),
            Some(Dep::Barrier),
            "{name} after wait"
        );
    }
    let m = by_keyword(body, "match")[0];
    assert_eq!(edge(body, wait, m), Some(Dep::Barrier));
    // The output comes after the wait even though it reads nothing computed after it.
    let out = by_keyword(body, "output")[0];
    assert_eq!(edge(body, wait, out), Some(Dep::Barrier));
}

#[test]
fn fan_out_body_is_a_nested_plan_and_its_free_names_are_deps() {
    let b = bundle(SAMPLE, "booking");
    let body = &b.entry_flow().unwrap().body;
    let sent = node(body, "sent");
    let NodeKind::FanOut(f) = &body.graph[sent].kind else {
        panic!()
    };
    assert_eq!(f.var, "m");
    assert_eq!(f.concurrency, Some(2));
    assert!(f.body.find("s").is_some());
    assert_eq!(by_keyword(&f.body, "yield").len(), 1);
    // `client.id` inside the body makes the fan-out wait for `client`.
    assert!(edge(body, node(body, "client"), sent).is_some());
    let reply = node(body, "reply");
    let NodeKind::WaitEvent {
        event, timeout_ms, ..
    } = &body.graph[reply].kind
    else {
        panic!()
    };
    assert_eq!(event, "lead.replied");
    assert_eq!(*timeout_ms, Some(3 * 86_400_000));
    let out = by_keyword(body, "output")[0];
    assert_eq!(edge(body, sent, out), Some(Dep::Data));
}

#[test]
fn sub_flows_are_bundled() {
    let main = r#"
use lib.contacts
entity e { databases ContactProfile }
flow main for e {
  step c = contacts.find(email: "a")
  step d = helper(x: 1)
  output { c, d }
}
flow helper for e { input { x: number } output { x: input.x } }
"#;
    let lib = r#"flow find for e { input { email: text } output { email: input.email } }"#;
    let project = Project::from_sources(
        Path::new("/p"),
        Config::default(),
        [("main.flow", main), ("lib/contacts.flow", lib)],
    );
    let b = plan::compile(&project, None, "main").unwrap();
    assert_eq!(b.entry, "main.main");
    let keys: Vec<_> = b.flows.keys().cloned().collect();
    assert_eq!(keys, vec!["lib.contacts.find", "main.helper", "main.main"]);
    let body = &b.flows["main.main"].body;
    let NodeKind::Call(c) = &body.graph[node(body, "c")].kind else {
        panic!()
    };
    assert_eq!(
        c.target,
        CallTarget::Flow {
            key: "lib.contacts.find".into()
        }
    );
}

#[test]
fn compile_refuses_a_project_with_check_errors() {
    let cases = [
        ("entity e {} flow f for e { step a = nope.x() }", "E0205"),
        ("entity e {} flow f for e { step a = notion.get_page(id: b.id) step b = notion.get_page(id: a.id) }", "E0"),
        ("entity e {} flow f for e { step a = notion.get_page(id: \"x\") after zz }", "E0"),
        ("entity e {} flow f for e { step a = email.send(to: \"x\", template: \"missing\") }", "E0"),
    ];
    for (src, code) in cases {
        let e = plan::compile(&project(src), None, "f").unwrap_err();
        assert!(
            e.message.starts_with("`flowc check` finds"),
            "{src}: {}",
            e.message
        );
        assert!(e.message.contains(&format!("[{code}")), "{src}: {}", e.message);
    }
    assert!(plan::compile(&project(SAMPLE), None, "nope").is_err());
}

#[test]
fn a_bad_date_format_or_time_zone_is_refused_at_compile_time() {
    for (call, want) in [
        (r#"format_date(now(), "%Q")"#, "`%Q`"),
        (r#"format_date(now(), "%H", "Mars/Olympus")"#, "`Mars/Olympus`"),
    ] {
        let src = format!("entity e {{}} flow f for e {{ on manual let x = {call} output {{ x }} }}");
        let e = plan::compile(&project(&src), None, "f").unwrap_err();
        assert!(e.message.contains(want), "{call}: {}", e.message);
    }
}

#[test]
fn names_are_resolved_and_built_ins_chosen() {
    let src = r#"
entity e { databases Task setting reply_within = 24h }
entity other {}
flow f for e {
  on manual
  input { email: email, n: number = 2 }
  let a = input.email
  let b = entity.reply_within
  let c = [a, Task, other.name, upper(a)]
  step w = wait for event "x" where event.email == a timeout 1d
  output { c, w }
}
"#;
    let b = bundle(src, "f");
    let body = &b.entry_flow().unwrap().body;
    let value = |name: &str| match &body.graph[node(body, name)].kind {
        NodeKind::Let { value } => value.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value("a"), Expr::Path(Name::Input, vec!["email".into()]));
    assert_eq!(value("b"), Expr::Path(Name::Entity, vec!["reply_within".into()]));
    let Expr::List(items) = value("c") else { panic!() };
    assert_eq!(items[0], Expr::Name(Name::Local("a".into())));
    assert_eq!(items[1], Expr::Name(Name::Database("Task".into())));
    assert_eq!(
        items[2],
        Expr::Path(Name::EntityNamed("other".into()), vec!["name".into()])
    );
    assert!(matches!(&items[3], Expr::Call(Builtin::Upper, args) if args.len() == 1));
    let NodeKind::WaitEvent {
        filter: Some(Expr::Binary(_, left, _)),
        ..
    } = &body.graph[node(body, "w")].kind
    else {
        panic!()
    };
    assert_eq!(**left, Expr::Path(Name::Event, vec!["email".into()]));
    let flow = b.entry_flow().unwrap();
    assert_eq!(flow.input[0].ty.shape, plan::Shape::Email);
    assert_eq!(flow.input[1].default, Some(Expr::Int(2)));
}

#[test]
fn every_trigger_is_in_the_plan() {
    let src = r#"
entity e { databases ContactProfile }
flow f for e {
  on manual
  on webhook "/hooks/a" verified by amelia
  on webhook "/hooks/b" unverified
  on schedule "0 9 * * MON-FRI" in "Europe/London"
  on schedule "*/5 * * * *"
  on notion ContactProfile created
  on notion ContactProfile changed "Status" to "Client"
  on event "contact.created"
}
"#;
    let config = Config::parse(
        "[webhooks.amelia]\nscheme = \"hmac-sha256\"\nheader = \"X-Signature\"\nsecret_env = \"AMELIA_SECRET\"\nencoding = \"hex\"\n",
        Path::new("/p/flowc.toml"),
    )
    .expect("config");
    let project = Project::from_sources(Path::new("/p"), config, [("main.flow", src)]);
    let b = plan::compile(&project, None, "f").expect("compiles");
    let flow = b.entry_flow().unwrap();
    assert_eq!(
        flow.triggers,
        vec![
            Trigger::Manual,
            Trigger::Webhook {
                path: "/hooks/a".into(),
                auth: WebhookAuth::VerifiedBy("amelia".into())
            },
            Trigger::Webhook {
                path: "/hooks/b".into(),
                auth: WebhookAuth::Unverified
            },
            Trigger::Schedule {
                cron: "0 9 * * MON-FRI".into(),
                zone: Some(plan::Zone::parse("Europe/London").unwrap()),
            },
            Trigger::Schedule {
                cron: "*/5 * * * *".into(),
                zone: None
            },
            Trigger::Notion {
                database: "ContactProfile".into(),
                change: NotionChange::Created
            },
            Trigger::Notion {
                database: "ContactProfile".into(),
                change: NotionChange::Changed {
                    property: "Status".into(),
                    to: Some(Expr::Text("Client".into())),
                },
            },
            Trigger::Event {
                name: "contact.created".into()
            },
        ]
    );
    assert!(flow.listens_to("contact.created"));
    // A host reads them back from the plan file.
    let back: Bundle = serde_json::from_str(&plan::to_json(&b)).unwrap();
    assert_eq!(back.entry_flow().unwrap().triggers, flow.triggers);
}

#[tokio::test]
async fn the_engine_refuses_a_project_with_check_errors() {
    let broken = project("entity e {} flow f for e { on manual step a = nope.x() }");
    let err = flowc::Engine::builder()
        .project_value(broken)
        .build()
        .err()
        .expect("refused");
    assert!(err.to_string().contains("unknown connector `nope`"), "{err}");
    let fine = project("entity e {} flow f for e { on manual output { ok: true } }");
    assert!(flowc::Engine::builder().project_value(fine).build().is_ok());
}

#[test]
fn the_runtime_never_reads_the_syntax_tree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let mut seen = 0;
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "rs") {
            seen += 1;
            let text = std::fs::read_to_string(entry.path()).unwrap();
            assert!(
                !text.contains("syntax::") && !text.contains("crate::syntax"),
                "{} reads the syntax tree",
                entry.path().display()
            );
        }
    }
    assert!(seen > 5, "no runtime sources under {}", dir.display());
}

#[test]
fn hash_is_stable_and_changes_with_the_flow() {
    let a = bundle(SAMPLE, "booking");
    let b = bundle(SAMPLE, "booking");
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.hash.len(), 64);
    assert_eq!(plan::content_hash(&a), a.hash);
    let changed = SAMPLE.replace("concurrency 2", "concurrency 3");
    assert_ne!(bundle(&changed, "booking").hash, a.hash);
    // The JSON round-trips and carries its version.
    let json = plan::to_json(&a);
    let back: Bundle = serde_json::from_str(&json).unwrap();
    assert_eq!(back.format_version, plan::FORMAT_VERSION);
    assert_eq!(plan::content_hash(&back), a.hash);
}

/// SAMPLE with comments, doc comments, blank lines and another layout: the same plan.
fn reworded(src: &str, lines: &[usize]) -> String {
    let mut out = String::new();
    for (i, line) in src.lines().enumerate() {
        if lines.contains(&i) {
            out.push_str("  // a comment that changes nothing\n\n");
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("step ") || trimmed.starts_with("let ") || trimmed.starts_with("entity ") {
            out.push_str("/// what this does, in words\n");
        }
        out.push_str(line);
        out.push_str("   \n");
    }
    out
}

#[test]
fn the_hash_ignores_comments_docs_and_layout() {
    let base = bundle(SAMPLE, "booking").hash;
    let lines: Vec<usize> = (1..SAMPLE.lines().count()).step_by(3).collect();
    assert_eq!(bundle(&reworded(SAMPLE, &lines), "booking").hash, base);
    let formatted = flowc::format(SAMPLE).expect("formats");
    assert_ne!(formatted, SAMPLE);
    assert_eq!(bundle(&formatted, "booking").hash, base);
}

#[test]
fn the_hash_changes_with_every_semantic_edit() {
    let base = bundle(SAMPLE, "booking").hash;
    let edits = [
        ("step client =", "step customer ="),
        ("client.id", "client.name"),
        ("retry 3 times", "retry 4 times"),
        ("timeout 30s", "timeout 31s"),
        ("wait 2d", "wait 3d"),
        ("\"lead.replied\"", "\"lead.answered\""),
        ("concurrency 2", "concurrency 3"),
        ("Hi {{name}}\"\n  html", "Hello {{name}}\"\n  html"),
        ("kind: text = \"wellness\"", "kind: text = \"yoga\""),
        ("follow_up_days = [1, 3]", "follow_up_days = [1, 4]"),
        ("on manual", "on event \"booked\""),
        ("fail \"nope\"", "fail \"no\""),
        ("\"The 7 Space\"", "\"The Seven Space\""),
    ];
    for (from, to) in edits {
        assert!(SAMPLE.contains(from), "{from}");
        let edited = SAMPLE.replacen(from, to, 1);
        let edited = if from == "step client =" {
            edited
                .replace("client.", "customer.")
                .replace("after client", "after customer")
        } else {
            edited
        };
        assert_ne!(bundle(&edited, "booking").hash, base, "{from} → {to}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn comments_anywhere_between_lines_keep_the_hash(lines in proptest::collection::vec(1usize..40, 0..8)) {
        let base = bundle(SAMPLE, "booking").hash;
        proptest::prop_assert_eq!(bundle(&reworded(SAMPLE, &lines), "booking").hash, base);
    }
}

#[test]
fn mermaid_drawing() {
    let b = bundle(SAMPLE, "booking");
    insta::assert_snapshot!(plan::to_mermaid(b.entry_flow().unwrap()));
    let dot = plan::to_dot(b.entry_flow().unwrap());
    assert!(dot.starts_with("digraph \"booking\""));
    assert!(dot.contains("cluster_on_error"));
}

#[test]
fn a_computed_timeout_is_kept_as_an_expression_and_waits_for_what_it_reads() {
    let src = r#"
entity shop {}
flow f for shop {
  input { deadline: datetime }
  let grace = input.deadline - now()
  step a = http.get(url: "https://x.test")
    timeout grace
  step b = http.get(url: "https://x.test")
    timeout 30s
}
"#;
    let b = bundle(src, "f");
    let body = &b.flows.values().next().expect("one flow").body;
    let (grace, a) = (node(body, "grace"), node(body, "a"));
    assert_eq!(edge(body, grace, a), Some(Dep::Data));
    match &body.graph[a].kind {
        NodeKind::Call(c) => {
            assert_eq!(c.timeout_ms, None);
            assert!(c.timeout.is_some());
        }
        other => panic!("{other:?}"),
    }
    match &body.graph[node(body, "b")].kind {
        NodeKind::Call(c) => {
            assert_eq!(c.timeout_ms, Some(30_000));
            assert!(c.timeout.is_none());
        }
        other => panic!("{other:?}"),
    }
}
