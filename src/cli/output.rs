//! Terminal conventions shared by subcommands: colour only on a terminal and never with NO_COLOR;
//! a reader that goes away (`flowc run ... | head`) is not an error.

use std::io::{IsTerminal, Write};

/// Writes to stderr. Unlike `eprint!`, which panics when stderr is closed (its reader went
/// away: `flowc run FILE 2>&1 >/dev/null | head`), a failed write is dropped: the message was for
/// that reader, and a command must not die half-way through its work (or, in an engine task, leave
/// the run waiting forever) for it.
pub(crate) fn write_err(text: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(text);
}

/// Writes to stdout; as [`write_err`], a reader that went away (`flowc test | head -3`) does not
/// stop the command, which still does all its work and exits with its own code.
pub(crate) fn write_out(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_fmt(text).and_then(|()| stdout.flush());
}

/// `eprintln!` that survives a closed stderr ([`write_err`]).
macro_rules! errln {
    () => { $crate::cli::output::write_err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that survives a closed stderr ([`write_err`]).
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::output::write_err(format_args!($($arg)*)) };
}

/// `println!` that survives a closed stdout ([`write_out`]).
macro_rules! outln {
    () => { $crate::cli::output::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that survives a closed stdout ([`write_out`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write_out(format_args!($($arg)*)) };
}

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
