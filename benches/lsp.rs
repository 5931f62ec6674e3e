//! How long `flowc lsp` takes from a keystroke to fresh diagnostics on a 500-line file of the
//! repository's own project (flows/ and stdlib/, some 4,400 lines more, and the Notion schema):
//! the real server over stdio, alternating a clean text and one with a typo so every change
//! publishes. Target: under 10 ms (`cargo bench --bench lsp`).

// The tests' client; the bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/lsp/client.rs"]
mod client;

use std::time::{Duration, Instant};

use client::{root, Server};

/// A realistic flow: Notion queries and writes checked against the pulled schema, lets,
/// conditions, interpolation and arithmetic.
fn flow(blocks: usize) -> String {
    let mut text = String::from(
        "flow lsp_bench for am_consulting {\n  on manual\n\n  input {\n    email: email,\n  }\n\n",
    );
    for i in 0..blocks {
        text.push_str(&format!(
            "  /// Block {i}.\n  step contact{i} = notion.query_one(db: ContactProfile, where: {{ Email: input.email }})\n  let name{i} = contact{i}.\"Full Name\" ?? \"there\"\n  if name{i} != \"there\" and len(name{i}) > 2 {{\n    step task{i} = notion.create_page(db: Task, properties: {{\n      \"Task Name\": \"Call {{{{ name{i} }}}}\",\n      Status: \"To Do\",\n    }})\n  }}\n  let total{i} = {previous} + len(name{i})\n\n",
            previous = if i == 0 { "0".to_string() } else { format!("total{}", i - 1) }
        ));
    }
    let last = blocks.saturating_sub(1);
    text.push_str(&format!("  output {{ done: true, total: total{last} }}\n}}\n"));
    text
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The CPU time process `pid` has used, its ended threads included (Linux: `/proc/PID/stat`,
/// in USER_HZ ticks of 10 ms). On a shared machine the wall-clock figure includes waiting for a
/// core; this one does not.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn main() {
    // Opened as if being written in flows/: the server keeps the text in memory, nothing is
    // written to disk.
    let path = root().join("flows/lsp_bench.flow");
    let text = flow(45);
    let lines = text.lines().count();
    let broken = text.replace("output { done: true", "output { done: ture");

    let (mut server, _) = Server::start();
    let uri = server.open(&path, &text);
    let first = server.diagnostics(&uri);
    assert!(first.is_empty(), "the bench flow is clean: {first:?}");
    let mut times: Vec<Duration> = Vec::new();
    let mut cpu_before = None;
    for i in 0..60 {
        // The first rounds warm caches and the allocator.
        if i == 10 {
            cpu_before = cpu_time(server.pid());
        }
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
    let cpu = cpu_before
        .zip(cpu_time(server.pid()))
        .map(|(before, after)| format!("{:.2} ms", ms(after.saturating_sub(before)) / 50.0))
        .unwrap_or_else(|| "unknown (no /proc)".to_string());
    let mut times = times.split_off(10);
    times.sort();
    println!(
        "lsp re-check of a {lines}-line file, keystroke to diagnostics: median {:.2} ms, p90 {:.2} ms, max {:.2} ms (target < 10 ms); the server's CPU time per re-check {cpu}",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
    );
    server.shutdown();
}
