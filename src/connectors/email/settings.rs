//! `[connectors.email]` and the per-entity sender addresses, read once and validated up front so a
//! bad address is reported when the project loads, not when the first message goes out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use reqwest::Url;

use crate::config::Config;
use crate::connectors::ConnectorError;
use crate::value::parse_duration;

/// Where the sent log lives when `sent_log` is not set (relative to the project root).
const DEFAULT_SENT_LOG_DIR: &str = ".flowc/email";
/// SMTP conversations that stall longer than this fail as transient.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// SMTP transactions in flight at once when `max_connections` is not set.
const DEFAULT_MAX_CONNECTIONS: usize = 4;

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// Plain text (`smtp://`): local relays and test servers.
    Plain,
    /// TLS from the first byte (`smtps://`, port 465).
    ImplicitTls,
    /// STARTTLS required (`smtp://...?tls=starttls`, port 587).
    StartTls,
    /// STARTTLS when offered (`smtp://...?tls=opportunistic`).
    Opportunistic,
}

/// The SMTP server, from `url`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SmtpServer {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
}

impl SmtpServer {
    /// Parses `smtp://host:port`, `smtps://host:port` or `smtp://host:port?tls=starttls`.
    pub(crate) fn parse(text: &str) -> Result<SmtpServer, String> {
        let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "must not contain credentials; name environment variables in `username_env` and `password_env` instead"
                    .to_string(),
            );
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" => tls = Some(value.to_ascii_lowercase()),
                other => return Err(format!("has an unknown parameter `{other}` (only `tls`)")),
            }
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => Security::Plain,
            ("smtp", Some("starttls" | "required")) => Security::StartTls,
            ("smtp", Some("opportunistic")) => Security::Opportunistic,
            ("smtps", None | Some("implicit")) => Security::ImplicitTls,
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "has `tls={other}`; use `tls=starttls` or `tls=opportunistic` with `smtp://`, or `smtps://` for implicit TLS"
                ))
            }
            (scheme, _) => {
                return Err(format!(
                    "has scheme `{scheme}`; use `smtp://` or `smtps://`"
                ))
            }
        };
        let default_port = match security {
            Security::Plain => 25,
            Security::ImplicitTls => 465,
            Security::StartTls | Security::Opportunistic => 587,
        };
        Ok(SmtpServer {
            host,
            port: url.port().unwrap_or(default_port),
            security,
        })
    }
}

/// Who a message is from, per entity, with the connector-wide defaults.
#[derive(Clone, Debug, Default)]
pub(crate) struct Senders {
    default_from: Option<Mailbox>,
    default_reply_to: Option<Mailbox>,
    entities: BTreeMap<String, (Option<Mailbox>, Option<Mailbox>)>,
}

impl Senders {
    /// The From address for `entity`.
    pub(crate) fn sender_for(&self, entity: &str) -> Option<&Mailbox> {
        self.entities
            .get(entity)
            .and_then(|(from, _)| from.as_ref())
            .or(self.default_from.as_ref())
    }

    /// The Reply-To address for `entity`, if any.
    pub(crate) fn reply_to_for(&self, entity: &str) -> Option<&Mailbox> {
        self.entities
            .get(entity)
            .and_then(|(_, reply_to)| reply_to.as_ref())
            .or(self.default_reply_to.as_ref())
    }
}

/// Everything the email connector reads from `flowc.toml`.
#[derive(Clone, Debug)]
pub(crate) struct EmailSettings {
    pub(crate) server: Option<SmtpServer>,
    pub(crate) outbox: Option<PathBuf>,
    pub(crate) sent_log_dir: PathBuf,
    pub(crate) username_env: Option<String>,
    pub(crate) password_env: Option<String>,
    pub(crate) timeout: Duration,
    /// SMTP transactions in flight at once (each on a connection of its own).
    pub(crate) max_connections: usize,
    pub(crate) message_id_domain: Option<String>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) senders: Senders,
}

impl EmailSettings {
    /// Reads `[connectors.email]` and `[entities.*] email_from / reply_to`; paths are relative to `root`.
    pub(crate) fn read(config: &Config, root: &Path) -> Result<EmailSettings, ConnectorError> {
        let table = config.connector("email");
        for key in table.keys() {
            if ![
                "url",
                "outbox",
                "sent_log",
                "username_env",
                "password_env",
                "timeout",
                "max_connections",
                "message_id_domain",
                "ca_file",
                "from",
                "reply_to",
            ]
            .contains(&key.as_str())
            {
                return Err(table_error(key, "is not a setting of the email connector (known: url, outbox, sent_log, from, reply_to, username_env, password_env, timeout, max_connections, message_id_domain, ca_file)"));
            }
        }
        let text = |key: &str| -> Result<Option<String>, ConnectorError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(table_error(key, "must be text")),
            }
        };
        let server = text("url")?
            .map(|url| SmtpServer::parse(&url).map_err(|e| table_error("url", &e)))
            .transpose()?;
        let timeout = match text("timeout")? {
            None => DEFAULT_TIMEOUT,
            Some(t) => parse_duration(&t)
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms as u64))
                .ok_or_else(|| table_error("timeout", "must be a duration such as \"30s\""))?,
        };
        let max_connections = match table.get("max_connections") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(toml::Value::Integer(n)) if (1..=1000).contains(n) => *n as usize,
            Some(_) => {
                return Err(table_error(
                    "max_connections",
                    "must be a whole number from 1 to 1000",
                ))
            }
        };
        let mailbox = |value: Option<String>, place: &dyn Fn() -> String| {
            value
                .map(|v| {
                    v.parse::<Mailbox>().map_err(|e| {
                        ConnectorError::permanent(format!(
                            "{} is not an email address (`{v}`: {e}); write `Name <address@example.com>` or `address@example.com`",
                            place()
                        ))
                    })
                })
                .transpose()
        };
        let mut senders = Senders {
            default_from: mailbox(text("from")?, &|| "`from` in `[connectors.email]`".to_string())?,
            default_reply_to: mailbox(text("reply_to")?, &|| {
                "`reply_to` in `[connectors.email]`".to_string()
            })?,
            entities: BTreeMap::new(),
        };
        for (name, entity) in &config.entities {
            let from = mailbox(entity.email_from.clone(), &|| {
                format!("`email_from` in `[entities.{name}]`")
            })?;
            let reply_to = mailbox(entity.reply_to.clone(), &|| {
                format!("`reply_to` in `[entities.{name}]`")
            })?;
            senders.entities.insert(name.clone(), (from, reply_to));
        }
        Ok(EmailSettings {
            server,
            outbox: text("outbox")?.map(|p| root.join(p)),
            sent_log_dir: root.join(text("sent_log")?.unwrap_or_else(|| DEFAULT_SENT_LOG_DIR.to_string())),
            username_env: text("username_env")?,
            password_env: text("password_env")?,
            timeout,
            max_connections,
            message_id_domain: text("message_id_domain")?,
            ca_file: text("ca_file")?.map(|p| root.join(p)),
            senders,
        })
    }
}

fn table_error(key: &str, problem: &str) -> ConnectorError {
    ConnectorError::permanent(format!(
        "`{key}` in the `[connectors.email]` table of flowc.toml {problem}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_security_and_default_ports() {
        let s = SmtpServer::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let s = SmtpServer::parse("smtps://mail.example.com").unwrap();
        assert_eq!((s.port, s.security), (465, Security::ImplicitTls));
        let s = SmtpServer::parse("smtp://mail.example.com?tls=starttls").unwrap();
        assert_eq!((s.port, s.security), (587, Security::StartTls));
        let s = SmtpServer::parse("smtp://mail.example.com:2587?tls=opportunistic").unwrap();
        assert_eq!((s.port, s.security), (2587, Security::Opportunistic));
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        assert!(SmtpServer::parse("smtp://user:pw@host")
            .unwrap_err()
            .contains("password_env"));
        assert!(SmtpServer::parse("http://host").unwrap_err().contains("`http`"));
        assert!(SmtpServer::parse("smtp://host?tls=maybe")
            .unwrap_err()
            .contains("tls=starttls"));
        assert!(SmtpServer::parse("smtp://host?port=2")
            .unwrap_err()
            .contains("`port`"));
        assert!(SmtpServer::parse("nonsense").is_err());
    }

    #[test]
    fn senders_fall_back_to_the_connector_defaults() {
        let config = Config::parse(
            r#"
            [connectors.email]
            from = "Ops <ops@example.com>"
            [entities.the_7_space]
            email_from = "The 7 Space <hello@the7space.example>"
            reply_to = "bookings@the7space.example"
            [entities.am_consulting]
            "#,
            Path::new("flowc.toml"),
        )
        .unwrap();
        let settings = EmailSettings::read(&config, Path::new("/p")).unwrap();
        let s = &settings.senders;
        assert_eq!(
            s.sender_for("the_7_space").unwrap().email.to_string(),
            "hello@the7space.example"
        );
        assert_eq!(
            s.reply_to_for("the_7_space").unwrap().email.to_string(),
            "bookings@the7space.example"
        );
        assert_eq!(
            s.sender_for("am_consulting").unwrap().email.to_string(),
            "ops@example.com"
        );
        assert!(s.reply_to_for("am_consulting").is_none());
        assert_eq!(settings.sent_log_dir, Path::new("/p/.flowc/email"));
    }

    #[test]
    fn bad_addresses_and_keys_are_reported_with_their_place() {
        let config = Config::parse(
            "[entities.x]\nemail_from = \"not an address\"",
            Path::new("flowc.toml"),
        )
        .unwrap();
        let err = EmailSettings::read(&config, Path::new(".")).unwrap_err();
        assert!(
            err.message.contains("`email_from` in `[entities.x]`"),
            "{}",
            err.message
        );

        // An unknown key is refused when flowc.toml loads (E0901), before any connector reads it.
        let err = Config::parse(
            "[connectors.email]\npassword = \"hunter2\"",
            Path::new("flowc.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }
}
