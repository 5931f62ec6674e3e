//! `flowc check FILE` end to end in this repository's project: the built binary, run on one flow
//! of the businesses, as an editor on save runs it. Prints the median and the slowest of 30 runs.
//!
//! Run with `cargo bench --bench check_file`. Target: under 10 ms.

use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["flows/lead_nurturing.flow", "flows/entities.flow"] {
        let mut times: Vec<Duration> = (0..30)
            .map(|_| {
                let start = Instant::now();
                let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
                    .args(["check", file])
                    .current_dir(root)
                    .output()
                    .expect("flowc runs");
                let took = start.elapsed();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                took
            })
            .collect();
        times.sort();
        println!(
            "flowc check {file}: median {:.1} ms, slowest {:.1} ms (target < 10 ms)",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
        );
    }
}
