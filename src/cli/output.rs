//! Terminal conventions shared by subcommands: colour only on a terminal and never with NO_COLOR.

use std::io::IsTerminal;

/// Whether to colour output written to stdout (`stderr = false`) or stderr.
pub(crate) fn use_color(stderr: bool) -> bool {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    }
}

/// Terminal width for rendering, 100 when unknown.
pub(crate) fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
