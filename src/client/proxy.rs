//! Which proxy the harness goes through: `--proxy URL`, or `HTTPS_PROXY` / `HTTP_PROXY` from the
//! environment (the command line gathers them; the library never reads the environment), minus
//! the hosts `NO_PROXY` names. A run talks to one target, so the choice is made once, and the
//! label, the errors and the client all see the same answer. A proxy URL may carry credentials;
//! they are shown as `***` wherever the URL is displayed.

use super::ClientError;
use std::net::IpAddr;

/// A proxy's URL. `Display` and `Debug` redact its user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub(super) url: Box<url::Url>,
}

impl ProxyUrl {
    /// Parses a proxy URL (`http://[user:password@]host:port`); `source` names where it came
    /// from (`--proxy`, `HTTPS_PROXY`) in the error, which never holds the credentials.
    pub fn parse(source: &str, text: &str) -> Result<ProxyUrl, ClientError> {
        let text = text.trim();
        // Like curl, a bare host:port means http://host:port.
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| {
            ClientError::Proxy(format!(
                "{source} {}: not a URL ({e}); expected http://[user:password@]host:port",
                redact_text(text)
            ))
        })?;
        let p = ProxyUrl { url: Box::new(url) };
        if !matches!(p.url.scheme(), "http" | "https") || p.url.host().is_none() {
            return Err(ClientError::Proxy(format!(
                "{source} {p}: expected an http:// or https:// proxy URL with a host"
            )));
        }
        Ok(p)
    }

    fn has_credentials(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }

    /// `text` with this proxy's credentials replaced by `***`.
    pub fn redact_in(&self, text: &str) -> String {
        if !self.has_credentials() {
            return text.to_string();
        }
        let mut out = text.replace(self.url.as_str(), &self.to_string());
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = self.url.username();
        let password = self.url.password().unwrap_or("");
        for secret in [
            format!("{user}:{password}"),
            format!("{}:{}", decode(user), decode(password)),
            password.to_string(),
            decode(password),
        ] {
            if secret.len() >= 3 && secret != ":" {
                out = out.replace(&secret, "***");
            }
        }
        out
    }
}

/// A URL's text with anything between `://` and `@` replaced by `***`.
fn redact_text(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => format!("{}***{}", &text[..s + 3], &text[at..]),
        (None, Some(at)) => format!("***{}", &text[at..]),
        _ => text.to_string(),
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = (*self.url).clone();
        if self.has_credentials() {
            let _ = shown.set_password(None);
            let _ = shown.set_username("***");
        }
        f.write_str(shown.as_str().trim_end_matches('/'))
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// The proxies a run may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    /// `--proxy` (or the config file's `proxy`): every request, whatever the scheme.
    pub all: Option<ProxyUrl>,
    /// `HTTPS_PROXY` / `https_proxy`: requests to https:// targets.
    pub https: Option<ProxyUrl>,
    /// `HTTP_PROXY` / `http_proxy`: requests to http:// targets.
    pub http: Option<ProxyUrl>,
    /// `NO_PROXY` / `no_proxy`: hosts reached directly, comma-separated (`*`, `example.com`,
    /// `.example.com`, `10.0.0.1`, `10.0.0.0/8`).
    pub no_proxy: Option<String>,
}

impl Proxies {
    /// The proxies named by environment variables, looked up with `var` (upper case first, then
    /// lower case, like curl).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Proxies, ClientError> {
        let get = |name: &str| {
            var(name)
                .or_else(|| var(&name.to_ascii_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        let parse = |name: &str| get(name).map(|v| ProxyUrl::parse(name, &v)).transpose();
        Ok(Proxies {
            all: None,
            https: parse("HTTPS_PROXY")?,
            http: parse("HTTP_PROXY")?,
            no_proxy: get("NO_PROXY"),
        })
    }

    /// The proxy requests to `target` go through, if any.
    pub fn for_url(&self, target: &str) -> Option<&ProxyUrl> {
        let url = url::Url::parse(target).ok()?;
        let chosen = self.all.as_ref().or(match url.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        })?;
        let host = url.host_str()?;
        match &self.no_proxy {
            Some(list) if no_proxy_matches(list, host) => None,
            _ => Some(chosen),
        }
    }
}

/// Whether a `NO_PROXY` list names `host`.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    list.split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some(ip) = ip {
                let entry = entry.trim_start_matches('[').trim_end_matches(']');
                return match entry.split_once('/') {
                    Some((net, bits)) => match (net.parse::<IpAddr>(), bits.parse::<u32>()) {
                        (Ok(net), Ok(bits)) => in_network(ip, net, bits),
                        _ => false,
                    },
                    None => entry.parse::<IpAddr>().is_ok_and(|e| e == ip),
                };
            }
            let domain = entry.trim_start_matches("*.").trim_start_matches('.');
            host == domain || host.ends_with(&format!(".{domain}"))
        })
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        let p = ProxyUrl::parse("--proxy", "http://bob:s3cr%40t@proxy.lan:3128").unwrap();
        assert_eq!(p.to_string(), "http://***@proxy.lan:3128");
        assert!(!format!("{p:?}").contains("s3cr"));
        let line = p.redact_in("tunnel to http://bob:s3cr%40t@proxy.lan:3128/ failed: s3cr@t");
        assert!(!line.contains("s3cr"), "{line}");
        let e = ProxyUrl::parse("--proxy", "ftp://bob:hunter2@x").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("--proxy") && !e.contains("hunter2"), "{e}");
        let e = ProxyUrl::parse("HTTPS_PROXY", "http://bob:hunter2@[::1").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("HTTPS_PROXY") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_proxy_follows_the_scheme_and_no_proxy() {
        let env = [
            ("https_proxy", "http://p1:8080"),
            ("HTTP_PROXY", "p2:3128"),
            ("NO_PROXY", "example.com, 10.0.0.0/8,::1"),
        ];
        let var = |n: &str| {
            env.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        let p = Proxies::from_env(var).unwrap();
        assert_eq!(
            p.for_url("https://cluster1").map(|p| p.to_string()),
            Some("http://p1:8080".into())
        );
        assert_eq!(
            p.for_url("http://cluster1").map(|p| p.to_string()),
            Some("http://p2:3128".into())
        );
        for direct in [
            "https://example.com",
            "https://c1.example.com:443",
            "https://10.1.2.3",
            "https://[::1]:8443",
        ] {
            assert_eq!(p.for_url(direct), None, "{direct}");
        }
        assert!(p.for_url("https://notexample.com").is_some());
        assert!(p.for_url("https://11.0.0.1").is_some());
        assert!(no_proxy_matches("*", "anything"));
    }
}
