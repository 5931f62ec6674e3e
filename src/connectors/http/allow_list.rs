//! `[connectors.http] allow_hosts`: the only hosts flows may reach, so a flow cannot be turned
//! into a way to call arbitrary services (or the machine's own network) with the project's secrets.

use reqwest::Url;

use crate::connectors::ConnectorError;

/// Which ports an entry allows. A bare host means the scheme's own port (80 for http, 443 for
/// https): allowing `api.example.com` must not open every service that machine runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ports {
    /// `api.example.com`: the URL names no port (or the scheme's default).
    SchemeDefault,
    /// `127.0.0.1:8080`.
    Exactly(u16),
    /// `127.0.0.1:*`: any port, said explicitly.
    Any,
}

/// One allowed host: exact (`api.example.com`), a wildcard over subdomains (`*.example.com`),
/// with a port (`127.0.0.1:8080`), any port (`127.0.0.1:*`) or, without one, the scheme's own.
#[derive(Clone, Debug, PartialEq)]
struct HostPattern {
    host: String,
    subdomains: bool,
    ports: Ports,
}

impl HostPattern {
    fn parse(entry: &str) -> Result<HostPattern, String> {
        let trimmed = entry.trim();
        let (subdomains, rest) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (any_port, rest) = match rest.strip_suffix(":*") {
            Some(host) => (true, host),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('/') || rest.contains('*') {
            return Err(format!(
                "`{entry}` is not a host (write `api.example.com`, `*.example.com`, `host:port` or `host:*`)"
            ));
        }
        let url =
            Url::parse(&format!("http://{rest}/")).map_err(|e| format!("`{entry}` is not a host: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{entry}` is not a host"))?
            .to_ascii_lowercase();
        // The port as written: `Url` forgets one equal to http's default (`x.com:80`).
        let written_port = rest
            .rsplit_once(':')
            .filter(|(host, port)| !host.ends_with(':') && !port.ends_with(']'))
            .and_then(|(_, port)| port.parse::<u16>().ok());
        let ports = match (any_port, written_port) {
            (true, None) => Ports::Any,
            (true, Some(_)) => return Err(format!("`{entry}` names two ports")),
            (false, Some(port)) => Ports::Exactly(port),
            (false, None) => Ports::SchemeDefault,
        };
        Ok(HostPattern {
            host,
            subdomains,
            ports,
        })
    }

    /// `port` is the URL's explicit port: `None` when it names none or the scheme's default.
    fn matches(&self, host: &str, port: Option<u16>, default_port: Option<u16>) -> bool {
        let host_ok = if self.subdomains {
            host.len() > self.host.len() + 1
                && host.ends_with(&self.host)
                && host[..host.len() - self.host.len()].ends_with('.')
        } else {
            host == self.host
        };
        let port_ok = match self.ports {
            Ports::Any => true,
            Ports::SchemeDefault => port.is_none(),
            Ports::Exactly(p) => port.or(default_port) == Some(p),
        };
        host_ok && port_ok
    }
}

/// The allowed hosts.
#[derive(Clone, Debug, Default)]
pub(crate) struct AllowList {
    patterns: Vec<HostPattern>,
}

impl AllowList {
    /// Parses the entries of `allow_hosts`.
    pub(crate) fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowList, String> {
        let patterns = entries
            .into_iter()
            .map(HostPattern::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { patterns })
    }

    /// Whether `url` may be requested.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        // `Url` already drops a port equal to the scheme's default (`https://x:443` → none).
        let (port, default_port) = (url.port(), url.port_or_known_default());
        self.patterns.iter().any(|p| p.matches(&host, port, default_port))
    }

    /// `Ok` when `url` may be requested, else the permanent error flows see.
    pub(crate) fn check(&self, url: &Url) -> Result<(), ConnectorError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::permanent(format!(
                "`{url}` is not an http or https URL"
            )));
        }
        if self.allows(url) {
            return Ok(());
        }
        Err(ConnectorError::permanent(refusal(url)))
    }
}

/// Why `url` was refused, naming the config key that would allow it.
pub(crate) fn refusal(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    let shown = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    format!(
        "host `{shown}` is not allowed; add \"{shown}\" to `allow_hosts` in the `[connectors.http]` table of flowc.toml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn exact_wildcard_and_port_entries() {
        let list = AllowList::parse(["API.example.com", "*.hooks.dev", "127.0.0.1:8080"]).unwrap();
        assert!(list.allows(&url("https://api.example.com/x")));
        assert!(list.allows(&url("https://api.example.com:443/x")));
        assert!(list.allows(&url("http://api.example.com/x")));
        // A bare host is the scheme's own port, not every service on that machine.
        assert!(!list.allows(&url("https://api.EXAMPLE.com:8443/x")));
        assert!(!list.allows(&url("http://api.example.com:6379/")));
        assert!(!list.allows(&url("https://example.com/")));
        assert!(!list.allows(&url("https://api.example.com.evil.net/")));
        assert!(list.allows(&url("https://a.b.hooks.dev/")));
        assert!(!list.allows(&url("https://hooks.dev/")));
        assert!(!list.allows(&url("https://evilhooks.dev/")));
        assert!(list.allows(&url("http://127.0.0.1:8080/")));
        assert!(!list.allows(&url("http://127.0.0.1:8081/")));
        assert!(!list.allows(&url("http://127.0.0.1/")));
        let any = AllowList::parse(["localhost:*"]).unwrap();
        assert!(any.allows(&url("http://localhost:9/")));
        assert!(any.allows(&url("http://localhost/")));
        assert!(!any.allows(&url("http://127.0.0.1:9/")));
        let port = AllowList::parse(["api.example.com:443"]).unwrap();
        assert!(port.allows(&url("https://api.example.com/")));
        assert!(!port.allows(&url("http://api.example.com/")));
        let http_port = AllowList::parse(["api.example.com:80"]).unwrap();
        assert!(http_port.allows(&url("http://api.example.com/")));
        assert!(!http_port.allows(&url("https://api.example.com/")));
    }

    #[test]
    fn bad_entries_are_reported() {
        assert!(AllowList::parse(["https://x.com/path"]).is_err());
        assert!(AllowList::parse(["*"]).is_err());
        assert!(AllowList::parse([""]).is_err());
        assert!(AllowList::parse(["x.com:80:*"]).is_err());
    }

    #[test]
    fn refusal_names_host_and_key() {
        let list = AllowList::default();
        let err = list.check(&url("https://evil.example:444/a")).unwrap_err();
        assert!(err.message.contains("`evil.example:444`"), "{}", err.message);
        assert!(err.message.contains("allow_hosts"));
        assert!(err.message.contains("[connectors.http]"));
        let err = list.check(&url("ftp://x.com/")).unwrap_err();
        assert!(err.message.contains("not an http"));
    }
}
