//! A throwaway PostgreSQL cluster for the tests, its data under `target/`: made with `initdb`
//! the first time, started on a free port, and shared by every test binary (the first to need
//! it starts it, under a file lock; `.ci/test` stops it at the end). Each test takes a database
//! of its own. A test that restarts the server takes a cluster of its own ([`Cluster::own`]).
//!
//! PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user (which
//! Debian's package creates) on folders given to it.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running cluster.
pub struct Cluster {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    root: PathBuf,
}

/// The cluster the tests share.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| Cluster::start("flowc-postgres"))
}

/// A fresh, empty database on the shared cluster: its URL.
pub fn database() -> String {
    shared().database()
}

impl Cluster {
    /// A cluster in `target/NAME` of its own (for a test that stops or restarts it).
    pub fn own(name: &str) -> Cluster {
        Cluster::start(name)
    }

    fn start(name: &str) -> Cluster {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(name);
        std::fs::create_dir_all(&root).unwrap();
        let lock = File::create(root.join("lock")).unwrap();
        lock.lock().unwrap();
        let mut cluster = Cluster { port: 0, root };
        cluster.port = match cluster.running_port() {
            Some(port) => port,
            None => cluster.boot(),
        };
        drop(lock);
        cluster
    }

    /// The port of the server started before, if it still answers.
    fn running_port(&self) -> Option<u16> {
        let port: u16 = std::fs::read_to_string(self.root.join("port"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        answers(port).then_some(port)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Makes the cluster if needed and starts it on a free port.
    fn boot(&self) -> u16 {
        let as_root = is_root();
        if as_root {
            run(Command::new("chown").arg("postgres:postgres").arg(&self.root));
        }
        if !self.data().join("PG_VERSION").exists() {
            let _ = std::fs::remove_dir_all(self.data());
            run(pg(as_root, "initdb")
                .args(["-U", "flowc", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
                .arg(self.data()));
        }
        let port = free_port();
        self.pg_ctl_start(port);
        std::fs::write(self.root.join("port"), port.to_string()).unwrap();
        port
    }

    fn pg_ctl_start(&self, port: u16) {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=64MB",
            self.root.display()
        );
        run(pg(is_root(), "pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(self.root.join("log"))
            .args(["-o", &options, "start"]));
        let started = Instant::now();
        while !answers(port) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast: open connections are closed).
    pub fn stop(&self) {
        run(pg(is_root(), "pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop"));
    }

    /// Starts it again on its port.
    pub fn restart(&self) {
        self.pg_ctl_start(self.port);
    }

    /// The URL of database `name` (made by [`Cluster::database`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://flowc@127.0.0.1:{}/{name}", self.port)
    }

    /// A fresh, empty database: its URL.
    pub fn database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = self.url("postgres");
        let create = format!("CREATE DATABASE {name}");
        // The blocking client runs a runtime of its own: not on a tokio test's thread.
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&create).unwrap();
        })
        .join()
        .unwrap();
        self.url(&name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Only clusters of one test stop with it; the shared one lives in a static.
        if self.root.file_name().is_some_and(|n| n != "flowc-postgres") {
            self.stop();
        }
    }
}

/// Whether a server answers on `port`.
fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program: from PATH, or from Debian's versioned folder.
fn program(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if let Some(p) = on_path {
        return p;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's `{name}` is not installed: run `bash .ci/test`, which installs it")
    })
}

/// `name` run as the `postgres` user when we are root.
fn pg(as_root: bool, name: &str) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program(name));
        c
    } else {
        Command::new(program(name))
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
