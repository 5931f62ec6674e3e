//! How long `flowc lsp` takes from a keystroke to fresh diagnostics on a 500-line file: the real
//! server over stdio, alternating a clean text and one with a typo so every change publishes.
//! Target: under 10 ms (`cargo bench --bench lsp`).

// The tests' client; the bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/lsp/client.rs"]
mod client;

use std::time::{Duration, Instant};

use client::Server;

/// A realistic flow: Notion queries and writes, lets, conditions and interpolation.
fn flow(blocks: usize) -> String {
    let mut text =
        String::from("flow big for studio {\n  on manual\n\n  input {\n    email: email,\n  }\n\n");
    for i in 0..blocks {
        text.push_str(&format!(
            "  /// Block {i}.\n  step contact{i} = notion.query_one(db: Contacts, where: {{ Email: input.email }})\n  let name{i} = contact{i}.\"Full Name\" ?? \"there\"\n  if name{i} != \"there\" and len(name{i}) > 2 {{\n    step task{i} = notion.create_page(db: Tasks, properties: {{\n      Name: \"Call {{{{ name{i} }}}}\",\n      Status: \"Open\",\n    }})\n  }}\n  let total{i} = {i} + 1\n\n"
        ));
    }
    text.push_str("  output { done: true }\n}\n");
    text
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    std::fs::write(root.join("flowc.toml"), "[project]\nname = \"bench\"\n").expect("flowc.toml");
    std::fs::write(
        root.join("entity.flow"),
        "entity studio {\n  databases Contacts, Tasks\n}\n",
    )
    .expect("entity");
    let text = flow(45);
    let lines = text.lines().count();
    let path = root.join("big.flow");
    std::fs::write(&path, &text).expect("big.flow");
    let broken = text.replace("output { done: true }", "output { done: ture }");

    let (mut server, _) = Server::start();
    let uri = server.open(&path, &text);
    let first = server.diagnostics(&uri);
    assert!(first.is_empty(), "the bench flow is clean: {first:?}");
    let mut times: Vec<Duration> = Vec::new();
    for i in 0..60 {
        let (body, expect_errors) = if i % 2 == 0 {
            (&broken, true)
        } else {
            (&text, false)
        };
        let start = Instant::now();
        server.change(&uri, i + 2, body);
        let diagnostics = server.diagnostics(&uri);
        times.push(start.elapsed());
        assert_eq!(!diagnostics.is_empty(), expect_errors);
    }
    // The first rounds warm caches and the allocator.
    let mut times = times.split_off(10);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "lsp re-check of a {lines}-line file, keystroke to diagnostics: median {:.2} ms, p90 {:.2} ms, max {:.2} ms (target < 10 ms)",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
    );
    server.shutdown();
}
