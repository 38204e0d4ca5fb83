//! Request extractors whose refusals are JSON `{code, message, target}`
//! like every other error (axum's own answer in plain text), and the
//! pagination helpers every list shares.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::Uri;
use axum::http::request::Parts;
use lifeboat_api::{LIMIT_MAX, LIMIT_MIN, PageParams};
use lifeboat_catalog::{MAX_PAGE, Page};
use lifeboat_codes as codes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body the API reads (policies are the biggest, a few KiB).
pub const MAX_BODY: usize = 1 << 20;

/// A JSON request body. An empty body reads as `{}` (so `POST …/backup`
/// needs none); a bad one is refused with `BAD_REQUEST` and the JSON path
/// of the offending field as `target`.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let code = if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                codes::PAYLOAD_TOO_LARGE
            } else {
                codes::BAD_REQUEST
            };
            ApiError::new(e.status(), code, None, e.body_text())
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON, naming the failing field's path in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let target = (path != ".").then_some(path);
        ApiError::bad_request(
            target.as_deref(),
            format!("invalid request body: {}", e.inner()),
        )
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(None, format!("invalid request body: {e}")))?;
    Ok(value)
}

/// Deserializes a JSON value into `T`, naming the failing field's path
/// (prefixed with `prefix`) in an error with `code`.
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    code: codes::Code,
    prefix: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let target = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => None,
            (true, p) => Some(p.to_owned()),
            (false, ".") => Some(prefix.to_owned()),
            (false, p) => Some(format!("{prefix}.{p}")),
        };
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            code,
            target.as_deref(),
            format!(
                "{}: {}",
                target.as_deref().unwrap_or("request body"),
                e.inner()
            ),
        )
    })
}

/// Query parameters; a bad one is refused with `INVALID_ARGUMENT`.
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Q)
            .map_err(|e| ApiError::invalid_argument("query", format!("invalid query: {e}")))
    }
}

/// Path parameters.
pub struct P<T>(pub T);

impl<T, S> FromRequestParts<S> for P<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| P(v))
            .map_err(|e| ApiError::invalid_argument("path", e.body_text()))
    }
}

/// `?limit=&cursor=` of every list (the API crate's [`PageParams`]).
pub type PageQuery = PageParams;

/// Checks a list's `limit` and turns it into the catalog's page.
pub trait PageExt {
    fn page(&self) -> Result<Page, ApiError>;
}

impl PageExt for PageParams {
    fn page(&self) -> Result<Page, ApiError> {
        if let Some(l) = self.limit
            && !(LIMIT_MIN..=MAX_PAGE).contains(&l)
        {
            return Err(ApiError::invalid_argument(
                "limit",
                format!("limit must be between {LIMIT_MIN} and {MAX_PAGE} (got {l})"),
            ));
        }
        Ok(Page::after(self.limit.unwrap_or(0), self.cursor.clone()))
    }
}

// The document's `limit` bounds are the catalog's.
const _: () = assert!(MAX_PAGE == LIMIT_MAX);

/// The `nextLink` of a page: the request's path and query with `cursor`
/// set to the next page's cursor; `None` on the last page.
pub fn next_link(uri: &Uri, next_cursor: Option<String>) -> Option<String> {
    let cursor = next_cursor?;
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    pairs.retain(|(k, _)| k != "cursor");
    pairs.push(("cursor".into(), cursor));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    Some(format!("{}?{query}", uri.path()))
}

/// Pages a list the catalog returns whole (vaults, policies), by name: the
/// cursor is the last name of the previous page, hex-encoded under a tag
/// of its own so a cursor of another list is refused.
pub fn page_by_name<T>(
    rows: Vec<T>,
    name: impl Fn(&T) -> &str,
    q: &PageQuery,
    tag: u8,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let page = q.page()?;
    let size = match page.limit {
        0 => lifeboat_catalog::DEFAULT_PAGE,
        n => n,
    } as usize;
    let after = match &page.cursor {
        None => None,
        Some(c) => {
            let bad = || {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    codes::INVALID_CURSOR,
                    Some("cursor"),
                    "invalid pagination cursor; start again without a cursor",
                )
            };
            let b = hex::decode(c).map_err(|_| bad())?;
            if b.first() != Some(&tag) {
                return Err(bad());
            }
            Some(String::from_utf8(b[1..].to_vec()).map_err(|_| bad())?)
        }
    };
    let mut rest: Vec<T> = rows
        .into_iter()
        .filter(|r| after.as_deref().is_none_or(|a| name(r) > a))
        .collect();
    let next = if rest.len() > size {
        rest.truncate(size);
        rest.last().map(|r| {
            let mut b = vec![tag];
            b.extend_from_slice(name(r).as_bytes());
            hex::encode(b)
        })
    } else {
        None
    };
    Ok((rest, next))
}

/// A page of a list: `{value: [...], nextLink}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOf<T> {
    pub value: Vec<T>,
    pub next_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_keeps_filters_and_replaces_cursor() {
        let uri: Uri = "/api/v1/jobs?vault=v1&cursor=old&limit=5".parse().unwrap();
        assert_eq!(
            next_link(&uri, Some("abc".into())).as_deref(),
            Some("/api/v1/jobs?vault=v1&limit=5&cursor=abc")
        );
        assert_eq!(next_link(&uri, None), None);
        let uri: Uri = "/api/v1/vaults".parse().unwrap();
        assert_eq!(
            next_link(&uri, Some("x y".into())).as_deref(),
            Some("/api/v1/vaults?cursor=x+y")
        );
    }

    #[test]
    fn limits_are_checked() {
        for (limit, ok) in [
            (Some(0), false),
            (Some(1), true),
            (Some(1000), true),
            (Some(1001), false),
            (None, true),
        ] {
            let q = PageQuery {
                limit,
                cursor: None,
            };
            assert_eq!(q.page().is_ok(), ok, "{limit:?}");
        }
    }

    #[test]
    fn paging_by_name_visits_every_row_once() {
        let names: Vec<String> = (0..25).map(|i| format!("n{i:02}")).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let q = PageQuery {
                limit: Some(7),
                cursor: cursor.clone(),
            };
            let (rows, next) = page_by_name(names.clone(), |s| s.as_str(), &q, b'v').unwrap();
            seen.extend(rows);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, names);
        let q = PageQuery {
            limit: None,
            cursor: Some("zz".into()),
        };
        assert!(page_by_name(names.clone(), |s| s.as_str(), &q, b'v').is_err());
        let other = hex::encode(b"pn03");
        let q = PageQuery {
            limit: None,
            cursor: Some(other),
        };
        assert!(page_by_name(names, |s| s.as_str(), &q, b'v').is_err());
    }

    #[test]
    fn bodies_name_the_failing_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct B {
            a: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            n: u32,
        }
        let e = parse_json::<B>(br#"{"a": {"n": "x"}}"#).unwrap_err();
        assert_eq!(e.code, "BAD_REQUEST");
        assert_eq!(e.target.as_deref(), Some("a.n"));
        let e = parse_json::<B>(b"{").unwrap_err();
        assert_eq!(e.code, "BAD_REQUEST");
        #[derive(Debug, serde::Deserialize)]
        struct Opt {
            x: Option<u32>,
        }
        assert_eq!(parse_json::<Opt>(b"").unwrap().x, None);
    }
}
