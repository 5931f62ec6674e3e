//! Checker throughput: parses and checks a generated corpus of realistic flows (≥ 100,000
//! lines) and one 500-line file, and prints lines per second and milliseconds per file.
//!
//! Run with `cargo bench --bench check`. Targets: ≥ 500,000 lines/s, < 5 ms per 500-line file.
//! Parsing and checking use every core the process may run on; for the single-thread figure,
//! run it on one core: `taskset -c 0 cargo bench --bench check`.

/// The `flowc` binary's allocator, so that the figures are those of `flowc` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use flowc::config::Config;
use flowc::{Project, Registry};

const SHARED: &str = r#"entity the_7_space "The 7 Space" {
  databases ContactProfile, Task, Practitioner, ProductService
  grant read ContactProfile, Task to higherself
  setting follow_up_days = [1, 3, 7, 14, 30]
  setting reply_within = 24h
}

entity am_consulting "AM Consulting" {
  databases ContactProfile, Task
  grant read_write ContactProfile to higherself, the_7_space
}

entity higherself "Higher Self" {
  databases Overview, ContactProfile
}

template booking_confirmation {
  subject "Your {{service}} session is confirmed"
  text """
    Hi {{client.name}},

    your {{service}} session with {{practitioner}} starts at {{starts}}.
    {{#if notes}}Notes: {{notes}}{{/if}}
  """
  html """
    <p>Hi {{client.name}},</p>
    <p>your {{service}} session with {{practitioner}} starts at {{starts}}.</p>
  """
}
"#;

/// One flow of about 50 lines using most of the language; `i` keeps names and paths unique.
fn flow(i: usize) -> String {
    format!(
        r#"/// Books a session and follows up ({i}).
flow booking_{i} for the_7_space {{
  on webhook "/hooks/bookings/{i}" unverified
  input {{
    email: email,
    name: text?,
    service: text,
    kind: text = "client",
    booking: {{ id: text, starts_at: datetime, minutes: number }},
  }}
  step client = notion.find_or_create(db: ContactProfile, match: {{ Email: input.email }}, properties: {{ Name: input.name ?? "" }})
  step p = notion.query_one(db: Practitioner, where: {{ Service: input.service }})
    retry 3 times backoff 2s..1m factor 2 jitter on transient, rate_limited
    timeout 30s
    fallback {{
      step t = notion.create_page(db: Task, properties: {{ Name: "Find a practitioner for {{{{ input.service }}}}" }})
      yield {{ alternative_suggested: true, task: t.id }}
    }}
    after client
  let starts = input.booking.starts_at
  let ends = starts + input.booking.minutes * 1m
  if p.alternative_suggested ?? false {{
    emit "booking.needs_practitioner" {{ id: input.booking.id }}
  }} else if input.kind == "artist" {{
    step note = notion.create_page(db: Task, properties: {{ Name: "Artist booking", Contact: client.id }})
  }} else {{
    step sent = email.send(to: input.email, template: "booking_confirmation", with: {{ service: input.service, client: {{ name: input.name ?? "friend" }}, practitioner: p.Name, starts, notes: none }})
  }}
  match input.kind {{
    "artist" | "gallery" => {{ emit "contact.artist" {{ id: client.id }} }}
    _ => {{ emit "contact.client" {{ id: client.id }} }}
  }}
  wait until starts - 24h
  step reply = wait for event "lead.replied" where event.email == input.email timeout 3d
  step copies = for e in [the_7_space, am_consulting] concurrency 2 {{
    step c = notion.query_one(entity: e, db: ContactProfile, where: {{ Email: input.email }})
    yield c.id
  }}
  step follow_ups = for d in the_7_space.follow_up_days concurrency 5 {{
    let due = starts + days(d)
    step task = notion.create_page(db: Task, properties: {{ Name: "Follow up {{{{ d }}}}", Due: due }})
    yield task.id
  }}
  output {{ client_id: client.id, copies, follow_ups, replied: reply != none, ends }}
  on error {{
    step alert = email.send(to: "ops@the7space.example", template: "booking_confirmation", with: {{ service: error.message, client: {{ name: "ops" }}, practitioner: "", starts: now(), notes: error.step }})
  }}
}}

"#
    )
}

/// A file of about `lines` lines of flows, numbered from `first`.
fn file(first: usize, lines: usize) -> String {
    let mut text = String::new();
    let mut i = first;
    while text.lines().count() < lines {
        text.push_str(&flow(i));
        i += 1;
    }
    text
}

/// Parses and checks `files`: (errors, parse time, check time).
fn check(files: &[(String, String)]) -> (usize, Duration, Duration) {
    let start = Instant::now();
    let project = Project::from_sources(
        Path::new("/bench"),
        Config::default(),
        files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
    );
    let parsed = start.elapsed();
    let diagnostics = flowc::check(&project, &Registry::declared_builtins());
    let checked = start.elapsed() - parsed;
    (diagnostics.errors(), parsed, checked)
}

fn main() {
    flowc::cli::allocator::tune();
    // The corpus: shared declarations plus files of ~500 lines until 100,000 lines.
    let mut files = vec![("shared.flow".to_string(), SHARED.to_string())];
    let mut lines = SHARED.lines().count();
    let mut next = 0;
    while lines < 100_000 {
        let text = file(next, 500);
        next += text.matches("\nflow ").count() + usize::from(text.starts_with("flow"));
        lines += text.lines().count();
        files.push((format!("flows/f{}.flow", files.len()), text));
    }
    let (errors, _, _) = check(&files);
    assert_eq!(errors, 0, "the generated corpus must check clean");
    let mut best = (Duration::MAX, Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        let (_, parse, check) = check(&files);
        if parse + check < best.0 {
            best = (parse + check, parse, check);
        }
    }
    let per_second = lines as f64 / best.0.as_secs_f64();
    println!(
        "corpus: {lines} lines in {} files, parse {:.1} ms + check {:.1} ms, {:.0} lines/s on {} core(s) (target 500000)",
        files.len(),
        best.1.as_secs_f64() * 1000.0,
        best.2.as_secs_f64() * 1000.0,
        per_second,
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // One 500-line file (with the shared declarations it needs).
    let one = vec![
        ("shared.flow".to_string(), SHARED.to_string()),
        ("one.flow".to_string(), file(0, 500)),
    ];
    let one_lines = one[1].1.lines().count();
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let (_, parse, check) = check(&one);
        best = best.min(parse + check);
    }
    println!(
        "one file: {one_lines} lines, parse + check {:.2} ms (target < 5 ms)",
        best.as_secs_f64() * 1000.0
    );
}
