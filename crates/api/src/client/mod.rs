//! A blocking client of `/api/v1`: one method per route, typed requests
//! and answers (the types of this crate), the bearer token on every call,
//! error answers as [`ApiError`] with the server's code, status and hint,
//! and paged lists followed through `nextLink` ([`Take`]).
//!
//! Blocking on purpose: a command-line call is a short sequence of
//! requests, and waiting for a job is a poll loop. The routes are grouped
//! by resource in the files next to this one; the transport (TLS roots,
//! timeouts, reading answers, where a `nextLink` may point) is here.
//!
//! Clients in other languages are generated from the OpenAPI document
//! instead (docs/api.md, "Generating a client").

mod access;
mod error;
mod items;
mod jobs;
mod mua;
mod paging;
mod system;
mod vaults;

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{ApiError, ClientError};
pub use items::Stopped;
pub use paging::Take;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// How long to wait for a connection; the server is usually local.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take. Replacing a policy re-tags every point of
/// its items, which can take a while on a big catalog.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// How a [`Client`] connects.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Also trust the CA certificates in this PEM file.
    pub ca_file: Option<&'a Path>,
    /// The `User-Agent` header (default `lifeboat-api/<version>`).
    pub user_agent: Option<String>,
    /// Added to the message of a 401 when the client has no token (how to
    /// get one, in the caller's words).
    pub no_token_hint: Option<String>,
}

/// A client of one Lifeboat server.
pub struct Client {
    /// Normalized server URL (no trailing slash).
    base: String,
    token: Option<String>,
    no_token_hint: Option<String>,
    http: Http,
}

/// Percent-encodes one path segment (everything but the unreserved
/// characters of RFC 3986).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?a=1&b=x%20y` from pairs; empty when there are none.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", seg(k), seg(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// The fields of a query type as `(name, value)` pairs, absent ones left
/// out, in name order.
fn query_pairs(query: &impl Serialize) -> std::result::Result<Vec<(String, String)>, String> {
    let value = serde_json::to_value(query).map_err(|e| format!("cannot encode the query: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("a query is not a set of fields".into());
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(format!("query field {k} is not a single value: {other}")),
        };
        out.push((k, text));
    }
    Ok(out)
}

/// The certificates of a PEM file, to trust on top of the system's roots.
fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::CaFile(format!("cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        ClientError::CaFile(format!(
            "{} is not a PEM certificate file: {}",
            path.display(),
            innermost(&e)
        ))
    })?;
    if certs.is_empty() {
        return Err(ClientError::CaFile(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

impl Client {
    /// A client of the server at `base` (`https://host:8460`, no trailing
    /// slash), sending `token` when given.
    pub fn new(
        base: impl Into<String>,
        token: Option<String>,
        opts: Options<'_>,
    ) -> Result<Client> {
        let mut builder = Http::builder();
        if let Some(path) = opts.ca_file {
            for cert in load_ca(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let agent = opts
            .user_agent
            .unwrap_or_else(|| concat!("lifeboat-api/", env!("CARGO_PKG_VERSION")).to_owned());
        let http = builder
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(agent)
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Client {
            base: base.into(),
            token,
            no_token_hint: opts.no_token_hint,
            http,
        })
    }

    /// The server's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the client sends a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path?query`, the answer read as `T`.
    fn get<T: DeserializeOwned>(&self, path: &str, query: &impl Serialize) -> Result<T> {
        let url = self.with_query(path, query)?;
        let text = self.send(self.http.get(&url), &url)?;
        self.parse(&text, &url)
    }

    /// `GET` of a full URL (a `nextLink` resolved by [`Client::resolve_link`]).
    fn get_url<T: DeserializeOwned>(&self, url: &str) -> Result<T> {
        let text = self.send(self.http.get(url), url)?;
        self.parse(&text, url)
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let url = self.url(path);
        let text = self.send(self.http.post(&url).json(body), &url)?;
        self.parse(&text, &url)
    }

    fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let url = self.url(path);
        let text = self.send(self.http.put(&url).json(body), &url)?;
        self.parse(&text, &url)
    }

    fn patch<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let url = self.url(path);
        let text = self.send(self.http.patch(&url).json(body), &url)?;
        self.parse(&text, &url)
    }

    /// `DELETE path`; the answer (204) has no body.
    fn delete(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        self.send(self.http.delete(&url), &url)?;
        Ok(())
    }

    /// `POST path` without a body of its own (`{}`), for actions such as
    /// `…/undelete` and `…/cancel`.
    fn act<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.post(path, &serde_json::Map::new())
    }

    fn with_query(&self, path: &str, query: &impl Serialize) -> Result<String> {
        let pairs = query_pairs(query).map_err(|detail| ClientError::Protocol {
            url: self.url(path),
            detail,
        })?;
        let pairs: Vec<(&str, String)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        Ok(format!("{}{}", self.url(path), query_string(&pairs)))
    }

    fn parse<T: DeserializeOwned>(&self, text: &str, url: &str) -> Result<T> {
        let text = if text.trim().is_empty() { "null" } else { text };
        serde_json::from_str(text).map_err(|e| ClientError::Protocol {
            url: url.to_owned(),
            detail: format!("the answer is not what the API sends: {e}"),
        })
    }

    /// Sends a request with the token; answers the body of a success.
    fn send(&self, req: RequestBuilder, url: &str) -> Result<String> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().map_err(|e| self.transport_error(url, e))?;
        self.read(resp, url)
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> ClientError {
        let detail = innermost(&e);
        if is_certificate_error(&e) {
            ClientError::TlsUntrusted {
                url: self.base.clone(),
                detail,
            }
        } else if e.is_connect() || e.is_timeout() {
            ClientError::Unreachable {
                url: self.base.clone(),
                detail,
            }
        } else {
            ClientError::Protocol {
                url: url.to_owned(),
                detail,
            }
        }
    }

    fn read(&self, resp: Response, url: &str) -> Result<String> {
        let status = resp.status();
        let text = resp.text().map_err(|e| ClientError::Protocol {
            url: url.to_owned(),
            detail: format!("cannot read the answer: {}", innermost(&e)),
        })?;
        if status.is_success() {
            return Ok(text);
        }
        let mut err = ApiError::from_answer(status.as_u16(), status.canonical_reason(), &text);
        if err.status == 401
            && self.token.is_none()
            && let Some(hint) = &self.no_token_hint
        {
            err.message.push(' ');
            err.message.push_str(hint);
        }
        Err(err.into())
    }

    /// Where a `nextLink` points. A path is taken relative to the server; a
    /// full URL must be on the same server, so the token never leaves it.
    pub fn resolve_link(&self, link: &str) -> Result<String> {
        let lower = link.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let same = link
                .strip_prefix(&self.base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
            return if same {
                Ok(link.to_owned())
            } else {
                Err(ClientError::Protocol {
                    url: self.base.clone(),
                    detail: format!("nextLink {link:?} points to another server"),
                })
            };
        }
        if !link.starts_with('/') {
            return Err(ClientError::Protocol {
                url: self.base.clone(),
                detail: format!("nextLink {link:?} is neither a path nor a URL"),
            });
        }
        // A server behind a path prefix may or may not include the prefix.
        let (origin, prefix) = split_base(&self.base);
        if !prefix.is_empty() && link.starts_with(prefix) {
            Ok(format!("{origin}{link}"))
        } else {
            Ok(format!("{}{link}", self.base))
        }
    }
}

/// `(origin, path prefix)` of a normalized base URL.
fn split_base(base: &str) -> (&str, &str) {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(i) => base.split_at(after_scheme + i),
        None => (base, ""),
    }
}

/// Whether a transport error is the server's certificate not being
/// trusted (unknown issuer, wrong name, expired, not a certificate).
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if s.contains("invalid peer certificate") || s.contains("UnknownIssuer") {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The most specific message in an error's source chain ("Connection
/// refused (os error 111)" rather than "error sending request").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let inner = cur.to_string();
    if inner.is_empty() {
        e.to_string()
    } else {
        inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(base.to_owned(), None, Options::default()).unwrap()
    }

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(seg("web-01"), "web-01");
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("ü"), "%C3%BC");
        assert_eq!(query_string(&[]), "");
        assert_eq!(
            query_string(&[("vault", "v 1".into()), ("limit", "5".into())]),
            "?vault=v%201&limit=5"
        );
        let q = crate::jobs::JobQuery {
            vault: Some("v 1".into()),
            limit: Some(5),
            ..Default::default()
        };
        assert_eq!(
            query_pairs(&q).unwrap(),
            vec![
                ("limit".to_owned(), "5".to_owned()),
                ("vault".to_owned(), "v 1".to_owned())
            ]
        );
    }

    #[test]
    fn next_links_stay_on_the_server() {
        let c = client("http://127.0.0.1:8460");
        assert_eq!(
            c.resolve_link("/api/v1/vaults?cursor=abc").unwrap(),
            "http://127.0.0.1:8460/api/v1/vaults?cursor=abc"
        );
        assert_eq!(
            c.resolve_link("http://127.0.0.1:8460/api/v1/vaults?cursor=abc")
                .unwrap(),
            "http://127.0.0.1:8460/api/v1/vaults?cursor=abc"
        );
        assert!(c.resolve_link("http://127.0.0.1:84601/x").is_err());
        assert!(c.resolve_link("http://elsewhere/api/v1/vaults").is_err());
        assert!(c.resolve_link("api/v1/vaults").is_err());
        let p = client("https://h/lifeboat");
        assert_eq!(
            p.resolve_link("/api/v1/jobs?cursor=1").unwrap(),
            "https://h/lifeboat/api/v1/jobs?cursor=1"
        );
        assert_eq!(
            p.resolve_link("/lifeboat/api/v1/jobs?cursor=1").unwrap(),
            "https://h/lifeboat/api/v1/jobs?cursor=1"
        );
    }

    #[test]
    fn a_closed_port_is_reported_as_unreachable() {
        let port = lifeboat_testkit::free_port();
        let c = client(&format!("http://127.0.0.1:{port}"));
        let e = c.list_vaults(Take::default()).unwrap_err();
        assert!(
            matches!(&e, ClientError::Unreachable { url, .. } if url.contains(&format!("127.0.0.1:{port}"))),
            "{e}"
        );
    }
}
