//! Fuzzing on stable Rust: proptest drives the parser, the checker, the formatter and the input
//! decoder with random and damaged inputs, each input watched for panics and hangs.
//!
//! The suite runs a bounded number of cases per target (`FLOWC_FUZZ_CASES`, 256 by default:
//! well under a minute). A long run, for hours, in release mode:
//!
//! ```sh
//! FLOWC_FUZZ_CASES=200000 FLOWC_FUZZ_LIMIT_MS=1000 cargo test --release --test fuzz
//! ```
//!
//! A failure is shrunk to a small input and its seed saved in `tests/fuzz.proptest-regressions`
//! (replayed first on every run); every finding also becomes a plain test in
//! `tests/fuzz/regressions.rs`.

#[path = "fuzz/decoder.rs"]
mod decoder;
#[path = "fuzz/guard.rs"]
mod guard;
#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/regressions.rs"]
mod regressions;
#[path = "fmt/support.rs"]
mod support;
#[path = "fuzz/targets.rs"]
mod targets;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// The cases per target: `FLOWC_FUZZ_CASES`, else 256.
fn config() -> Config {
    let cases = std::env::var("FLOWC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text(source in "\\PC{0,200}") {
        targets::source(source).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn flow_like_text(
        source in "(flow|step|let|if|match|wait|for|in|\\{|\\}|\\(|\\)|\\[|\\]|\"|\"\"\"|\\{\\{|\\}\\}|//|/\\*|\\*/|///|=|==|,|:|\\.|\\?|a|1|2d|-|not|\\?\\?|on|retry|fallback|\n| ){0,80}"
    ) {
        targets::source(source).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn damaged_seeds(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutate::mutation(), 1..8),
    ) {
        let seeds = mutate::seeds();
        let text = &seeds[file.index(seeds.len())];
        targets::source(mutate::apply(text, &mutations)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn input_decoder((fields, json) in decoder::declaration_and_input()) {
        targets::input(&fields, json).map_err(TestCaseError::fail)?;
    }
}
