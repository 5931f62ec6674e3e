//! Running a target on one input under watch: a panic or a run past the time limit is a finding.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// How long one input may take: `FLOWC_FUZZ_LIMIT_MS`, else 5 s (debug builds on a loaded
/// machine; every hang found so far was exponential, far past any such limit).
pub fn limit() -> Duration {
    let ms = std::env::var("FLOWC_FUZZ_LIMIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    Duration::from_millis(ms)
}

/// Runs `target` in a thread of its own: `Err` naming `shown` when it panics (its message
/// included) or takes longer than [`limit`].
pub fn watch(shown: &str, target: impl FnOnce() + Send + 'static) -> Result<(), String> {
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(target)).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        });
        let _ = done.send(outcome);
    });
    let shown: String = shown.chars().take(400).collect();
    match wait.recv_timeout(limit()) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(format!("panicked ({message}) on:\n{shown}")),
        Err(_) => Err(format!("took more than {:?} on:\n{shown}", limit())),
    }
}
