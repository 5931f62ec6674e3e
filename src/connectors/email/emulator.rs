//! A small SMTP server (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for
//! `flowc emulate`: each message it accepts is written to its outbox folder as an `.eml` file
//! (with `Return-Path` and `Delivered-To` added, as a delivery agent does) and fsynced before the
//! `250` answer, as an MTA commits its queue file before accepting. It stores every transmission:
//! deduplicating by Message-ID is the reader's business, as it is a mailbox store's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Messages larger than this are refused with `552`.
const MAX_MESSAGE: usize = 25 * 1024 * 1024;
/// Command lines longer than this are refused with `500` (RFC 5321 allows 512).
const MAX_LINE: usize = 4096;
const HOST: &str = "flowc-emulator";

/// A running SMTP server; it stops when `stop` is called or it is dropped.
pub struct SmtpEmulator {
    addr: SocketAddr,
    outbox: PathBuf,
    stop: watch::Sender<bool>,
    mailroom: Arc<Mailroom>,
}

impl SmtpEmulator {
    /// Listens on `listen` and writes messages into `outbox` (created if needed).
    pub async fn start(listen: SocketAddr, outbox: &Path) -> std::io::Result<SmtpEmulator> {
        std::fs::create_dir_all(outbox)?;
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Mailroom {
            outbox: outbox.to_path_buf(),
            seq: AtomicU64::new(0),
            faults: std::sync::Mutex::new(None),
        });
        tokio::spawn(accept(listener, Arc::clone(&shared), stopped));
        Ok(SmtpEmulator {
            addr,
            outbox: outbox.to_path_buf(),
            stop,
            mailroom: shared,
        })
    }

    /// Follows a fault plan's SMTP part from now on (`flowc emulate --faults smtp:...`), drawn
    /// once per message at the end of DATA: see [`Mailroom::faulted`].
    pub fn set_faults(&self, gate: Arc<crate::connectors::faults::FaultGate>) {
        *self.mailroom.faults.lock().unwrap_or_else(|e| e.into_inner()) = Some(gate);
    }

    /// `smtp://HOST:PORT`, for `[connectors.email] url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The folder messages are written to.
    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// Stops accepting connections; conversations in progress end at their next command.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for SmtpEmulator {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Mailroom {
    outbox: PathBuf,
    seq: AtomicU64,
    /// A fault plan's SMTP part.
    faults: std::sync::Mutex<Option<Arc<crate::connectors::faults::FaultGate>>>,
}

async fn accept(listener: TcpListener, mailroom: Arc<Mailroom>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let mailroom = Arc::clone(&mailroom);
                    let stopped = stopped.clone();
                    tokio::spawn(async move {
                        if let Err(e) = converse(stream, &mailroom, stopped).await {
                            tracing::debug!("SMTP conversation ended: {e}");
                        }
                    });
                }
                Err(e) => tracing::warn!("the SMTP emulator cannot accept a connection: {e}"),
            },
        }
    }
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

async fn converse(
    stream: TcpStream,
    mailroom: &Mailroom,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write
        .write_all(format!("220 {HOST} ESMTP\r\n").as_bytes())
        .await?;
    let mut envelope = Envelope::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = tokio::select! {
            _ = stopped.changed() => {
                write.write_all(b"421 4.3.2 shutting down\r\n").await?;
                return Ok(());
            }
            n = read_line(&mut reader, &mut line, MAX_LINE) => n?,
        };
        if n == 0 {
            return Ok(());
        }
        let Some(text) = std::str::from_utf8(&line)
            .ok()
            .map(|t| t.trim_end_matches(['\r', '\n']))
        else {
            write.write_all(b"500 5.5.2 command is not UTF-8\r\n").await?;
            continue;
        };
        if n > MAX_LINE {
            write.write_all(b"500 5.5.2 line too long\r\n").await?;
            continue;
        }
        let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let arg = text.get(verb.len()..).unwrap_or("").trim();
        let reply: String = match verb.as_str() {
            "EHLO" => format!("250-{HOST}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}\r\n"),
            "HELO" => format!("250 {HOST}\r\n"),
            "MAIL" => match path_arg(arg, "FROM:") {
                Some(from) => {
                    envelope = Envelope {
                        from: Some(from),
                        to: Vec::new(),
                    };
                    "250 2.1.0 OK\r\n".into()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" if envelope.from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => match path_arg(arg, "TO:").filter(|a| !a.is_empty()) {
                Some(to) => {
                    envelope.to.push(to);
                    "250 2.1.5 OK\r\n".into()
                }
                None => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" if envelope.to.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let envelope = std::mem::take(&mut envelope);
                match read_data(&mut reader).await? {
                    Some(body) => match mailroom.faulted(&envelope, &body).await {
                        Faulted::Reply(reply) => {
                            write.write_all(reply.as_bytes()).await?;
                            continue;
                        }
                        Faulted::Hang => return Ok(()),
                        Faulted::Hangup(reply) => {
                            write.write_all(reply.as_bytes()).await?;
                            return Ok(());
                        }
                        Faulted::No => match mailroom.deliver(&envelope, &body).await {
                            Ok(name) => format!("250 2.0.0 OK queued as {name}\r\n"),
                            Err(e) => {
                                tracing::warn!("the SMTP emulator cannot write a message: {e}");
                                "451 4.3.0 cannot store the message\r\n".into()
                            }
                        },
                    },
                    None => "552 5.3.4 message too big\r\n".into(),
                }
            }
            "RSET" => {
                envelope = Envelope::default();
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "VRFY" => "252 2.5.0 cannot verify\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not implemented\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// Reads one line (up to `\n`) into `line`, keeping at most `max` + 1 bytes of it; returns how
/// many bytes the line had (0 at the end of the stream).
async fn read_line(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let len = chunk.len();
        let room = (max + 1).saturating_sub(line.len());
        line.extend_from_slice(&chunk[..len.min(room)]);
        reader.consume(len);
        total += len;
        if done {
            return Ok(total);
        }
    }
}

/// The message after `354`, dot-unstuffed, or None when it is larger than [`MAX_MESSAGE`]
/// (read to its end all the same, so the conversation can go on).
async fn read_data(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = read_line(reader, &mut line, MAX_MESSAGE).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the client left during DATA",
            ));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok((!too_big).then_some(body));
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        if body.len() + unstuffed.len() > MAX_MESSAGE {
            too_big = true;
            body.clear();
        } else if !too_big {
            body.extend_from_slice(unstuffed);
        }
    }
}

/// The address of `FROM:<a@b> PARAMS` (or `TO:`); `<>` is the empty address.
fn path_arg(arg: &str, prefix: &str) -> Option<String> {
    let rest = arg
        .get(..prefix.len())?
        .eq_ignore_ascii_case(prefix)
        .then(|| &arg[prefix.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// What a fault plan does to one message.
enum Faulted {
    /// Nothing: the message is stored and accepted.
    No,
    /// This reply instead of storing it; the conversation goes on.
    Reply(String),
    /// This reply, then the connection is closed (the server is down).
    Hangup(String),
    /// Stored, but the connection is closed without a reply (after the hold).
    Hang,
}

impl Mailroom {
    /// The fault drawn for a message that came to the end of DATA: `down` answers 421 and hangs
    /// up, a 4xx or 5xx status is that reply (nothing stored), a timeout stores the message and
    /// never answers: the client cannot know it was taken, which is what resending must cope
    /// with.
    async fn faulted(&self, envelope: &Envelope, body: &[u8]) -> Faulted {
        use crate::connectors::faults::Fault;
        let gate = self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(gate) = gate else {
            return Faulted::No;
        };
        match gate.next().await {
            None => Faulted::No,
            Some(Fault::Down) => {
                Faulted::Hangup("421 4.3.2 service not available (emulated: the server is down)\r\n".into())
            }
            Some(Fault::Status(code)) => {
                Faulted::Reply(format!("{code} {}.0.0 emulated fault\r\n", code / 100))
            }
            Some(Fault::Timeout) => {
                if let Err(e) = self.deliver(envelope, body).await {
                    tracing::warn!("the SMTP emulator cannot write a message: {e}");
                }
                gate.hold().await;
                Faulted::Hang
            }
        }
    }

    /// Writes the message to `OUTBOX/NAME.eml` (durably) and returns NAME.
    async fn deliver(&self, envelope: &Envelope, body: &[u8]) -> std::io::Result<String> {
        let now = chrono::Utc::now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        // Sorted by arrival, unique within and across runs of the server.
        let name = format!("{}-{seq:06}", now.format("%Y%m%dT%H%M%S%.6fZ"));
        let mut file = format!("Return-Path: <{}>\r\n", envelope.from.as_deref().unwrap_or(""));
        for to in &envelope.to {
            file.push_str(&format!("Delivered-To: {to}\r\n"));
        }
        let mut bytes = file.into_bytes();
        bytes.extend_from_slice(body);
        let path = self.outbox.join(format!("{name}.eml"));
        let partial = self.outbox.join(format!(".{name}.partial"));
        let mut out = tokio::fs::File::create(&partial).await?;
        out.write_all(&bytes).await?;
        out.sync_all().await?;
        tokio::fs::rename(&partial, &path).await?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `line` (none: just read) and returns the reply's last line.
    async fn say(reader: &mut BufReader<TcpStream>, line: Option<&str>) -> String {
        if let Some(line) = line {
            reader
                .get_mut()
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
        }
        loop {
            let mut reply = String::new();
            reader.read_line(&mut reply).await.unwrap();
            // `250-...` continues, `250 ...` ends the reply.
            if reply.as_bytes().get(3) != Some(&b'-') {
                return reply.trim_end().to_string();
            }
        }
    }

    #[tokio::test]
    async fn a_conversation_keeps_order_unstuffs_dots_and_writes_the_message() {
        let outbox = tempfile::tempdir().unwrap();
        let server = SmtpEmulator::start("127.0.0.1:0".parse().unwrap(), outbox.path())
            .await
            .unwrap();
        let addr = server.url().trim_start_matches("smtp://").to_string();
        let mut c = BufReader::new(TcpStream::connect(addr).await.unwrap());
        assert!(say(&mut c, None).await.starts_with("220 "));
        assert!(say(&mut c, Some("EHLO client.example"))
            .await
            .starts_with("250 SIZE"));
        assert!(say(&mut c, Some("RCPT TO:<a@b.c>")).await.starts_with("503"));
        assert!(say(&mut c, Some("DATA")).await.starts_with("503"));
        assert!(say(&mut c, Some("MAIL FROM:<shop@shop.example> BODY=8BITMIME"))
            .await
            .starts_with("250"));
        assert!(say(&mut c, Some("RCPT TO:nobody")).await.starts_with("501"));
        assert!(say(&mut c, Some("RCPT TO:<ada@client.example>"))
            .await
            .starts_with("250"));
        assert!(say(&mut c, Some("DATA")).await.starts_with("354"));
        let body = "Message-ID: <k1@shop.example>\r\nSubject: Hi\r\n\r\n..dotted\r\nend\r\n.";
        assert!(say(&mut c, Some(body))
            .await
            .starts_with("250 2.0.0 OK queued as "));
        assert!(say(&mut c, Some("NOOP")).await.starts_with("250"));
        assert!(say(&mut c, Some("QUIT")).await.starts_with("221"));

        let files: Vec<_> = std::fs::read_dir(outbox.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().unwrap(), "eml");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            text.starts_with("Return-Path: <shop@shop.example>\r\nDelivered-To: ada@client.example\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\n.dotted\r\nend\r\n"), "{text}");
        assert!(!text.contains("..dotted"), "{text}");
    }

    #[test]
    fn paths_are_read_from_mail_and_rcpt_arguments() {
        assert_eq!(
            path_arg("FROM:<a@b.c> BODY=8BITMIME", "FROM:").as_deref(),
            Some("a@b.c")
        );
        assert_eq!(path_arg("from: <>", "FROM:").as_deref(), Some(""));
        assert_eq!(path_arg("TO:a@b.c", "TO:"), None);
        assert_eq!(path_arg("FROM", "FROM:"), None);
    }
}
