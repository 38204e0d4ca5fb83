//! The HTTP side: a blocking client for `/api/v1` that sends the bearer
//! token, turns error documents into [`CliError::Api`], and follows
//! `nextLink` through paginated lists.

use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use serde_json::Value;

use super::error::{CliError, Result};

/// How long to wait for a connection; the server is usually local.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take. Replacing a policy re-tags every point of
/// its items, which can take a while on a big catalog.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest page the API serves (`?limit=` is 1–1000).
pub const MAX_PAGE: usize = 1000;

pub struct Client {
    /// Normalized server URL (no trailing slash).
    base: String,
    token: Option<String>,
    http: Http,
}

/// Page size for lists: `LIFEBOAT_PAGE_SIZE` (1–1000, for debugging and
/// tests of pagination), else the largest page the API serves.
fn page_size() -> usize {
    std::env::var("LIFEBOAT_PAGE_SIZE")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(MAX_PAGE, |n| n.clamp(1, MAX_PAGE))
}

/// Percent-encodes one path segment or query value (everything but the
/// unreserved characters of RFC 3986).
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

/// The private CA of `LIFEBOAT_CA_FILE`, when set.
#[allow(dead_code)] // for commands without `--ca-file` of their own
pub fn ca_file_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os("LIFEBOAT_CA_FILE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// The certificates of a PEM file, to trust on top of the system's roots.
fn load_ca(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("--ca-file: cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        CliError::Usage(format!(
            "--ca-file: {} is not a PEM certificate file: {}",
            path.display(),
            innermost(&e)
        ))
    })?;
    if certs.is_empty() {
        return Err(CliError::Usage(format!(
            "--ca-file: no certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

impl Client {
    /// A client that trusts the system's roots and `LIFEBOAT_CA_FILE`.
    #[allow(dead_code)] // for commands without `--ca-file` of their own
    pub fn new(base: String, token: Option<String>) -> Result<Client> {
        Self::with_ca(base, token, ca_file_from_env().as_deref())
    }

    /// A client that also trusts the CA certificates in `ca_file` (PEM).
    pub fn with_ca(
        base: String,
        token: Option<String>,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Client> {
        let mut builder = Http::builder();
        if let Some(path) = ca_file {
            for cert in load_ca(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("lifeboat-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { base, token, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path` (path starts with `/`, e.g. `/api/v1/vaults`).
    pub fn get(&self, path: &str) -> Result<Value> {
        let url = self.url(path);
        self.send(self.http.get(&url), &url)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = self.url(path);
        self.send(self.http.post(&url).json(body), &url)
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value> {
        let url = self.url(path);
        self.send(self.http.put(&url).json(body), &url)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        let url = self.url(path);
        self.send(self.http.patch(&url).json(body), &url)
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        let url = self.url(path);
        self.send(self.http.delete(&url), &url)
    }

    /// Every element of a list, following `nextLink`, or the first `top`.
    pub fn list(
        &self,
        path: &str,
        filters: &[(&str, String)],
        top: Option<usize>,
    ) -> Result<Vec<Value>> {
        let limit = top.map_or(page_size(), |t| t.clamp(1, page_size()));
        let mut pairs = filters.to_vec();
        pairs.push(("limit", limit.to_string()));
        let mut url = self.url(&format!("{path}{}", query_string(&pairs)));
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.clone()) {
                return Err(CliError::Protocol {
                    url,
                    detail: "nextLink repeats a page already read".into(),
                });
            }
            let page = self.send(self.http.get(&url), &url)?;
            let (items, next) = split_page(page).map_err(|detail| CliError::Protocol {
                url: url.clone(),
                detail,
            })?;
            out.extend(items);
            if let Some(t) = top
                && out.len() >= t
            {
                out.truncate(t);
                break;
            }
            match next {
                Some(link) => url = self.resolve_link(&link)?,
                None => break,
            }
        }
        Ok(out)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
                Err(CliError::Protocol {
                    url: self.base.clone(),
                    detail: format!("nextLink {link:?} points to another server"),
                })
            };
        }
        if !link.starts_with('/') {
            return Err(CliError::Protocol {
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

    fn send(&self, req: RequestBuilder, url: &str) -> Result<Value> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().map_err(|e| self.transport_error(url, e))?;
        self.read(resp, url)
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> CliError {
        let detail = innermost(&e);
        if is_certificate_error(&e) {
            CliError::TlsUntrusted {
                url: self.base.clone(),
                detail,
            }
        } else if e.is_connect() || e.is_timeout() {
            CliError::Unreachable {
                url: self.base.clone(),
                detail,
            }
        } else {
            CliError::Protocol {
                url: url.to_owned(),
                detail,
            }
        }
    }

    fn read(&self, resp: Response, url: &str) -> Result<Value> {
        let status = resp.status();
        let text = resp.text().map_err(|e| CliError::Protocol {
            url: url.to_owned(),
            detail: format!("cannot read the answer: {}", innermost(&e)),
        })?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| CliError::Protocol {
                url: url.to_owned(),
                detail: format!("the answer is not JSON: {e}"),
            });
        }
        let mut err = api_error(status.as_u16(), status.canonical_reason(), &text);
        if let CliError::Api {
            status: 401,
            message,
            ..
        } = &mut err
            && self.token.is_none()
        {
            message.push_str(" (no token given: set LIFEBOAT_TOKEN or run `lifeboat login`)");
        }
        Err(err)
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

/// The elements and next link of a list page `{"value": [...], "nextLink": …}`.
fn split_page(page: Value) -> std::result::Result<(Vec<Value>, Option<String>), String> {
    let Value::Object(mut map) = page else {
        return Err("a list page is not an object".into());
    };
    let items = match map.remove("value") {
        Some(Value::Array(items)) => items,
        _ => return Err("a list page has no \"value\" array".into()),
    };
    let next = match map.remove("nextLink") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        None | Some(Value::Null) => None,
        Some(Value::String(_)) => None,
        Some(other) => return Err(format!("nextLink is not a string: {other}")),
    };
    Ok((items, next))
}

/// An error answer: the API's `{code, message, target}` (also accepted
/// wrapped as `{"error": {…}}`), else the status and body text.
pub fn api_error(status: u16, reason: Option<&str>, body: &str) -> CliError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let doc = parsed.as_ref().map(|v| match v.get("error") {
        Some(inner) if inner.is_object() => inner,
        _ => v,
    });
    let field = |k: &str| {
        doc.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match field("code") {
        Some(code) => CliError::Api {
            status,
            code,
            message: field("message").unwrap_or_else(|| reason.unwrap_or("error").to_owned()),
            target: field("target"),
        },
        None => {
            let text = body.trim();
            let message = if text.is_empty() {
                format!("HTTP {status} {}", reason.unwrap_or(""))
                    .trim_end()
                    .to_owned()
            } else {
                format!("HTTP {status}: {}", truncate(text, 500))
            };
            CliError::Api {
                status,
                code: fallback_code(status).to_owned(),
                message,
                target: None,
            }
        }
    }
}

/// A code for an error answer that did not carry one (a proxy's page, …).
fn fallback_code(status: u16) -> &'static str {
    match status {
        400 | 422 => lifeboat_codes::BAD_REQUEST.as_str(),
        401 => lifeboat_codes::AUTH_REQUIRED.as_str(),
        403 => lifeboat_codes::AUTH_FORBIDDEN.as_str(),
        404 => lifeboat_codes::NOT_FOUND.as_str(),
        409 => lifeboat_codes::CONFLICT.as_str(),
        _ => lifeboat_codes::SERVER_ERROR.as_str(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// The most specific message in an error's source chain ("Connection
/// refused (os error 111)" rather than "error sending request").
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
    use serde_json::json;

    fn client(base: &str) -> Client {
        Client::new(base.to_owned(), None).unwrap()
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
    fn pages_are_split_into_items_and_next() {
        let (items, next) =
            split_page(json!({"value": [1, 2], "nextLink": "/api/v1/x?cursor=2"})).unwrap();
        assert_eq!(items, vec![json!(1), json!(2)]);
        assert_eq!(next.as_deref(), Some("/api/v1/x?cursor=2"));
        let (_, next) = split_page(json!({"value": [], "nextLink": null})).unwrap();
        assert_eq!(next, None);
        assert!(split_page(json!([1])).is_err());
        assert!(split_page(json!({"items": []})).is_err());
    }

    #[test]
    fn error_documents_become_api_errors() {
        let e = api_error(
            422,
            Some("Unprocessable Entity"),
            r#"{"code":"INVALID_POLICY","message":"bad","target":"timeZone"}"#,
        );
        assert_eq!(e.code(), "INVALID_POLICY");
        assert_eq!(e.target(), Some("timeZone"));
        assert_eq!(e.to_string(), "bad");
        let wrapped = api_error(
            409,
            None,
            r#"{"error":{"code":"VAULT_NOT_EMPTY","message":"m"}}"#,
        );
        assert_eq!(wrapped.code(), "VAULT_NOT_EMPTY");
        let html = api_error(502, Some("Bad Gateway"), "<html>proxy</html>");
        assert_eq!(html.code(), "SERVER_ERROR");
        assert_eq!(html.to_string(), "HTTP 502: <html>proxy</html>");
        let empty = api_error(404, Some("Not Found"), "");
        assert_eq!(empty.code(), "NOT_FOUND");
        assert_eq!(empty.to_string(), "HTTP 404 Not Found");
    }

    #[test]
    fn a_closed_port_is_reported_as_unreachable() {
        // Bind to get a free port, then close it: nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = client(&format!("http://127.0.0.1:{port}"));
        let e = c.get("/api/v1/vaults").unwrap_err();
        assert_eq!(e.code(), "SERVER_UNREACHABLE", "{e}");
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
