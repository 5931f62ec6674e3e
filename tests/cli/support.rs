//! A project in a temporary folder and the built `flowc` run in it, with a guard against hangs.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// An entity with one database, used by the flows of these tests.
pub const ENTITY: &str = "entity studio {\n  databases Contacts\n}\n";

/// A project folder with `flowc.toml` and the given files.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"test\"\n").expect("write flowc.toml");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(path, text).expect("write a file");
    }
    dir
}

/// `flowc ARGS` in `dir`, without colour, ready to spawn.
pub fn flowc(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowc"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// Runs `flowc ARGS` in `dir` to its end (within a minute).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let child = flowc(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    finish(child, &args.join(" "))
}

/// Waits for `child` to exit and collects what it printed (read as it comes, so a full pipe
/// never blocks it); kills it and fails the test after a minute, so a hang is a failure and not
/// a stuck test run.
pub fn finish(mut child: Child, what: &str) -> Output {
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = exit_within(&mut child, Duration::from_secs(60), what);
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The exit status of `child`, which must come within `limit`.
pub fn exit_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("flowc can be waited for") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`flowc {what}` did not exit within {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
