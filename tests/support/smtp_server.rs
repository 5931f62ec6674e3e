//! A real SMTP server for the email tests: Python's aiosmtpd with the handler in
//! `smtp_recorder.py`, on a free port of 127.0.0.1, killed when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One message the server accepted, as `smtp_recorder.py` parsed it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub tls: bool,
    pub content_type: String,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub parts: serde_json::Map<String, serde_json::Value>,
    pub raw: String,
}

impl Received {
    /// The header `name` (as the server saw it), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The decoded body of the part with `content_type` (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<&str> {
        self.parts.get(content_type).and_then(|v| v.as_str())
    }
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// TLS material for the TLS tests.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the server offers TLS.
#[derive(Clone, Copy)]
pub enum TlsMode {
    /// STARTTLS, required before MAIL.
    StartTls,
    /// TLS from the first byte (smtps).
    Implicit,
}

impl SmtpServer {
    /// Starts a plain server.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(None)
    }

    /// Starts a server offering TLS with `tls`, as `mode` says.
    pub fn start_with(tls: Option<(&TlsFiles, TlsMode)>) -> SmtpServer {
        require_aiosmtpd();
        let mut last_error = String::new();
        // The free port we pick can be taken before Python binds it: try a few times.
        for _ in 0..5 {
            match SmtpServer::try_start(tls) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start the aiosmtpd test server: {last_error}");
    }

    fn try_start(tls: Option<(&TlsFiles, TlsMode)>) -> Result<SmtpServer, String> {
        let port = free_port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let mut command = Command::new("python3");
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .env("PYTHONPATH", &support)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match tls {
            None => {}
            Some((files, TlsMode::StartTls)) => {
                command.arg("--tlscert").arg(&files.cert);
                command.arg("--tlskey").arg(&files.key);
            }
            Some((files, TlsMode::Implicit)) => {
                command.arg("--smtpscert").arg(&files.cert);
                command.arg("--smtpskey").arg(&files.key);
            }
        }
        command
            .args(["-c", "smtp_recorder.Recorder", "--"])
            .arg(dir.path());
        let mut child = command.spawn().map_err(|e| format!("cannot run python3: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(SmtpServer { child, port, dir });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!("aiosmtpd exited with {status}: {stderr}"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("aiosmtpd did not accept connections within 15s".to_string());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|path| {
                let json: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let raw = std::fs::read_to_string(path.with_extension("eml")).unwrap();
                Received {
                    mail_from: json["mail_from"].as_str().unwrap_or("").to_string(),
                    rcpt_tos: json["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect(),
                    tls: json["tls"].as_bool().unwrap_or(false),
                    content_type: json["content_type"].as_str().unwrap_or("").to_string(),
                    headers: json["headers"].as_object().unwrap().clone(),
                    parts: json["parts"].as_object().unwrap().clone(),
                    raw,
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived (the server writes them after answering 250).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails the test, saying how to fix it, when aiosmtpd is not installed. Never skips.
fn require_aiosmtpd() {
    let found = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "the email tests run a real SMTP server and need Python 3 with aiosmtpd: run `pip install aiosmtpd` (CI installs it in .ci/run)"
    );
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The committed self-signed certificate for 127.0.0.1 (see `tests/support/tls/README.md`).
pub fn test_certificate() -> TlsFiles {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tls");
    TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}
