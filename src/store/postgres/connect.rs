//! Where the store's database is and how to reach it again: the URL (its password from the
//! environment, never printed) and the reconnecting loop every store thread runs its work in.

use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use crate::runtime::StoreError;

/// The environment variable the database password is read from (libpq's `PGPASSWORD` is the
/// fallback), so the URL on a command line or in flowc.toml carries none.
pub const PASSWORD_ENV: &str = "FLOWC_STORE_PASSWORD";

/// How long a store thread keeps trying to reach a database that went away (a restart, a
/// failover) before it gives up on the work in hand and reports it failed.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// How many times work undone by a conflict (see [`is_conflict`]) is done again before its
/// error is given to the caller.
const MAX_CONFLICTS: u32 = 20;

/// A PostgreSQL database to connect to.
#[derive(Clone)]
pub(crate) struct Target {
    config: postgres::Config,
    /// The URL as given (it has no password), for messages.
    pub(crate) shown: String,
}

impl Target {
    /// Reads `url` (`postgres://USER@HOST:PORT/DB`); the password comes from
    /// [`PASSWORD_ENV`] or `PGPASSWORD`. A URL with a password in it is refused, so that it is
    /// neither on a command line nor in flowc.toml.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let mut config = postgres::Config::from_str(url).map_err(|e| {
            StoreError(format!(
                "cannot read the store URL `{}`: {e}",
                strip_password(url)
            ))
        })?;
        if config.get_password().is_some() {
            return Err(StoreError(format!(
                "the store URL `{}` carries a password: remove it and set {PASSWORD_ENV} instead",
                strip_password(url)
            )));
        }
        if let Some(password) = std::env::var_os(PASSWORD_ENV).or_else(|| std::env::var_os("PGPASSWORD")) {
            config.password(password.to_string_lossy().as_bytes());
        }
        config.application_name("flowc");
        config.connect_timeout(Duration::from_secs(10));
        Ok(Target {
            config,
            shown: url.to_string(),
        })
    }

    /// One connection, or why there is none.
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        self.config
            .connect(NoTls)
            .map_err(|e| StoreError(format!("cannot connect to {}: {}", self.shown, describe(&e))))
    }
}

/// `url` with anything between `:` and `@` of its authority masked, for messages.
fn strip_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:[hidden]@{host}")
        }
        _ => url.to_string(),
    }
}

/// The error's text with the server's detail, if any.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Whether `e` means the connection is gone (the server restarted or shut down, the network
/// broke) rather than that the statement was wrong: the work is then tried again on a new one.
pub(crate) fn is_lost(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        // Class 08: connection exception; 57P01-57P03: the server is shutting down or starting.
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        None => true,
    }
}

/// Whether PostgreSQL undid the work to resolve a conflict with another transaction and asks
/// for it again: a deadlock (40P01) or a serialization failure (40001). Both roll the whole
/// transaction back, so doing it again is safe. A host's writer and its lease keeper (two
/// connections) can deadlock on the instances table; failing the writer's group for that would
/// lose the group's events.
pub(crate) fn is_conflict(e: &postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|db| matches!(db.code().code(), "40P01" | "40001"))
}

/// A connection that comes back: work given to [`Link::run`] is retried on a new connection
/// when the old one was lost, for up to [`RECONNECT_FOR`].
pub(crate) struct Link {
    target: Target,
    client: Option<Client>,
    /// Runs on every new connection (preparing statements, `LISTEN`).
    on_connect: OnConnect,
}

/// What a link does on each new connection.
type OnConnect = Box<dyn FnMut(&mut Client) -> Result<(), postgres::Error> + Send>;

impl Link {
    /// A link with a connection made already (so a wrong URL is reported at open).
    pub(crate) fn new(
        target: Target,
        client: Client,
        on_connect: impl FnMut(&mut Client) -> Result<(), postgres::Error> + Send + 'static,
    ) -> Result<Link, StoreError> {
        let mut link = Link {
            target,
            client: None,
            on_connect: Box::new(on_connect),
        };
        let mut client = client;
        (link.on_connect)(&mut client)
            .map_err(|e| StoreError(format!("cannot use {}: {}", link.target.shown, describe(&e))))?;
        link.client = Some(client);
        Ok(link)
    }

    /// Runs `work` on the connection; a lost connection is made again (with a pause that grows
    /// to a second) and `work` run again, so `work` must be safe to repeat.
    pub(crate) fn run<T>(
        &mut self,
        mut work: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        let mut conflicts = 0u32;
        loop {
            if let Some(client) = self.client.as_mut() {
                match work(client) {
                    Ok(v) => return Ok(v),
                    // Undone by the server: again on the same connection, after a pause that
                    // grows, so two transactions that collided do not collide again in step.
                    Err(e) if is_conflict(&e) && conflicts < MAX_CONFLICTS => {
                        conflicts += 1;
                        tracing::debug!(store = %self.target.shown, "{}: trying again", describe(&e));
                        std::thread::sleep(Duration::from_millis(u64::from(conflicts) * 7));
                        continue;
                    }
                    Err(e) if !is_lost(&e) => {
                        return Err(StoreError(format!("{}: {}", self.target.shown, describe(&e))))
                    }
                    Err(e) => {
                        tracing::warn!(store = %self.target.shown, "connection lost ({}): reconnecting", describe(&e));
                        self.client = None;
                    }
                }
            }
            if started.elapsed() > RECONNECT_FOR {
                return Err(StoreError(format!(
                    "{} has not answered for {}s",
                    self.target.shown,
                    RECONNECT_FOR.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
            if let Ok(mut client) = self.target.connect() {
                if (self.on_connect)(&mut client).is_ok() {
                    self.client = Some(client);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_a_password_is_refused_without_showing_it() {
        let err = Target::parse("postgres://flowc:s3cret@db.internal:5432/flowc")
            .err()
            .expect("refused");
        assert!(err.0.contains(PASSWORD_ENV), "{err}");
        assert!(!err.0.contains("s3cret"), "{err}");
        assert!(
            err.0.contains("postgres://flowc:[hidden]@db.internal:5432/flowc"),
            "{err}"
        );
    }

    #[test]
    fn a_url_without_a_password_is_taken() {
        let t = Target::parse("postgres://flowc@127.0.0.1:5432/flowc").unwrap();
        assert_eq!(t.shown, "postgres://flowc@127.0.0.1:5432/flowc");
    }
}
