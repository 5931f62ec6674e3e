//! Linear time: nested unclosed openers, deep nesting and a 1 MB line are parsed, checked and
//! rendered without exponential backtracking (a hang guard, not a benchmark: benches/ measure).
//!
//! A test binary of its own: pest's error-detail switch is global, and the probes of other
//! tests' broken lines turning it on would slow these parses down by orders of magnitude.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use flowc::config::Config;
use flowc::diagnostic::Code;
use flowc::{Project, Registry};

/// Parses, checks and renders `source` in a thread that must finish within `seconds` (generous:
/// the same input took minutes when each unclosed opener doubled the work).
fn within(seconds: u64, source: String) -> Vec<flowc::diagnostic::Diagnostic> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let project =
                Project::from_sources(Path::new("/p"), Config::default(), [("a.flow", source.as_str())]);
            let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
            for d in &diagnostics {
                let _ = flowc::diagnostic::render(d, &project.sources, Default::default());
            }
            let _ = tx.send(diagnostics);
        })
        .expect("thread");
    rx.recv_timeout(Duration::from_secs(seconds))
        .expect("parsing and checking finished in time (no exponential backtracking)")
}

#[test]
fn nested_unclosed_openers_take_linear_time() {
    for opener in ["(", "[", "{ a: ", "f(", "{ a: [", "[{ a: (", "if a { 1 } else { "] {
        let source = format!("flow a for b {{\n  let x = {}1\n}}\n", opener.repeat(40));
        let diagnostics = within(120, source);
        // One mistake: the openers left open on one line, reported once; the rest parses.
        let codes: Vec<Code> = diagnostics
            .iter()
            .map(|d| d.code)
            .filter(|c| c.is_syntax())
            .collect();
        assert_eq!(codes, [Code::UnclosedDelimiter], "{opener}: {diagnostics:#?}");
    }
}

#[test]
fn a_one_megabyte_line_takes_linear_time_and_long_columns_render() {
    // A 1 MB line of list items, then a mistake past column 65,535.
    let items = vec!["1"; 350_000].join(", ");
    let source = format!("flow a for b {{\n  on manual\n  let x = [{items}] +* 2\n}}\n");
    let diagnostics = within(120, source.clone());
    let bad = source.find("+*").expect("mistake");
    assert!(
        diagnostics.iter().any(|d| d.span.start as usize == bad),
        "{:?}",
        diagnostics
            .iter()
            .map(|d| (&d.message, d.span))
            .collect::<Vec<_>>()
    );
}
