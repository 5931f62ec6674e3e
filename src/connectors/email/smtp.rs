//! The SMTP side: a lettre transport built from the settings, and SMTP failures → error classes.

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::settings::{EmailSettings, Security, SmtpServer};
use crate::connectors::connector::error_chain;
use crate::connectors::ConnectorError;
use crate::value::Value;

/// The transport flows send through.
pub(crate) type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the transport; fails (permanently) when a named variable or the CA file is missing.
pub(crate) fn transport(settings: &EmailSettings, server: &SmtpServer) -> Result<Transport, ConnectorError> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
        .port(server.port)
        .timeout(Some(settings.timeout));
    let tls_parameters = || -> Result<TlsParameters, ConnectorError> {
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ConnectorError::permanent(format!(
                    "cannot read `ca_file` {} from `[connectors.email]`: {e}",
                    path.display()
                ))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                ConnectorError::permanent(format!(
                    "`ca_file` {} is not a PEM certificate: {e}",
                    path.display()
                ))
            })?;
            tls = tls.add_root_certificate(cert);
        }
        tls.build_rustls()
            .map_err(|e| ConnectorError::permanent(format!("cannot set up TLS for `{}`: {e}", server.host)))
    };
    builder = match server.security {
        Security::Plain => builder.tls(Tls::None),
        Security::ImplicitTls => builder.tls(Tls::Wrapper(tls_parameters()?)),
        Security::StartTls => builder.tls(Tls::Required(tls_parameters()?)),
        Security::Opportunistic => builder.tls(Tls::Opportunistic(tls_parameters()?)),
    };
    match (&settings.username_env, &settings.password_env) {
        (None, None) => {}
        (Some(user_env), Some(password_env)) => {
            let user = env_var(user_env, "username_env")?;
            let password = env_var(password_env, "password_env")?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        _ => return Err(ConnectorError::permanent(
            "`[connectors.email]` sets only one of `username_env` and `password_env`; set both or neither",
        )),
    }
    Ok(builder.build())
}

fn env_var(name: &str, key: &str) -> Result<String, ConnectorError> {
    std::env::var(name).map_err(|_| {
        ConnectorError::permanent(format!(
            "environment variable `{name}` (named by `{key}` in `[connectors.email]`) is not set"
        ))
    })
}

/// 5xx replies (a rejected recipient, a refused message) fail the same way again; 4xx replies,
/// timeouts and connection failures may pass later.
pub(crate) fn classify(err: &lettre::transport::smtp::Error, server: &SmtpServer) -> ConnectorError {
    let text = err.to_string();
    let details = match err.status() {
        Some(code) => Value::record([("smtp_code", Value::text(code.to_string()))]),
        None => Value::Null,
    };
    let error = if err.is_permanent() {
        ConnectorError::permanent(format!("the SMTP server rejected the message: {text}"))
    } else if err.is_transient() {
        ConnectorError::transient(format!("the SMTP server deferred the message: {text}"))
    } else if err.is_timeout() {
        ConnectorError::transient(format!(
            "the SMTP server {}:{} timed out: {text}",
            server.host, server.port
        ))
    } else if err.is_tls() || error_chain(err).contains("invalid peer certificate") {
        // A certificate or protocol mismatch does not fix itself between attempts.
        // rustls reports an untrusted certificate inside a connection error, hence the text test.
        ConnectorError::permanent(format!(
            "TLS with the SMTP server {}:{} failed: {} (if the server's certificate comes from a private authority, set `ca_file` in `[connectors.email]`)",
            server.host,
            server.port,
            error_chain(err)
        ))
    } else if err.is_client() {
        ConnectorError::permanent(format!("the message could not be sent: {text}"))
    } else {
        ConnectorError::transient(format!(
            "cannot reach the SMTP server {}:{}: {}",
            server.host,
            server.port,
            error_chain(err)
        ))
    };
    error.with_details(details)
}
