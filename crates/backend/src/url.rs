//! Choosing a backend by URL: `file:///abs/path` (or a plain path) is a
//! local folder; `s3://bucket/prefix` and `azblob://container/prefix` are
//! recognised and refused until their issue builds them (docs/backends.md).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{BackendError, BackendErrorKind, Op};
use crate::{Backend, LocalBackend, RetryPolicy, Retrying};

/// Where a vault lives, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendUrl {
    /// A local folder (`file:///…` or a plain path, kept as given).
    File(PathBuf),
    /// An S3 bucket (not built yet).
    S3 { bucket: String, prefix: String },
    /// An Azure Blob container (not built yet).
    AzBlob { container: String, prefix: String },
}

impl BackendUrl {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        BackendUrl::File(path.into())
    }

    /// The folder, for a local backend.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            BackendUrl::File(p) => Some(p),
            _ => None,
        }
    }
}

fn invalid(url: &str, why: impl Into<String>) -> BackendError {
    BackendError::new(BackendErrorKind::InvalidUrl, Op::Open, url, why)
}

/// `%xx` escapes to bytes; anything else is kept.
fn percent_decode(s: &str, url: &str) -> Result<String, BackendError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(url, "a `%` escape needs two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(url, "the path is not UTF-8 once decoded"))
}

/// The scheme of `s` when it is written as a URL (`scheme://…`); a plain
/// path has none (`./a://b` starts with `.`, `a/b://c` has a `/` first).
fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn bucket_and_prefix(url: &str, rest: &str) -> Result<(String, String), BackendError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid(url, "the URL names no bucket or container"));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl FromStr for BackendUrl {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, BackendError> {
        if s.is_empty() {
            return Err(invalid(s, "empty vault location"));
        }
        let Some(scheme) = scheme_of(s) else {
            return Ok(BackendUrl::File(PathBuf::from(s)));
        };
        let rest = &s[scheme.len() + 3..];
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                // file:///abs/path, or file://localhost/abs/path.
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(invalid(
                        s,
                        "a file URL needs an absolute path and no host: file:///srv/vault",
                    ));
                }
                let path = percent_decode(path, s)?;
                Ok(BackendUrl::File(PathBuf::from(path)))
            }
            "s3" => {
                let (bucket, prefix) = bucket_and_prefix(s, rest)?;
                Ok(BackendUrl::S3 { bucket, prefix })
            }
            "azblob" => {
                let (container, prefix) = bucket_and_prefix(s, rest)?;
                Ok(BackendUrl::AzBlob { container, prefix })
            }
            other => Err(invalid(
                s,
                format!(
                    "unknown backend `{other}://`; use file:///path (s3:// and azblob:// are planned)"
                ),
            )),
        }
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |p: &str| {
            if p.is_empty() {
                String::new()
            } else {
                format!("/{p}")
            }
        };
        match self {
            BackendUrl::File(p) => write!(f, "{}", p.display()),
            BackendUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}{}", join(prefix)),
            BackendUrl::AzBlob { container, prefix } => {
                write!(f, "azblob://{container}{}", join(prefix))
            }
        }
    }
}

/// Opens the backend a URL names, with the default retries of transient
/// failures.
pub fn open(url: &BackendUrl) -> Result<Arc<dyn Backend>, BackendError> {
    open_with(url, RetryPolicy::default())
}

/// Opens the backend `location` names: a URL (`file:///srv/vault`) or a
/// plain path (a local folder).
pub fn open_location(location: &str) -> Result<Arc<dyn Backend>, BackendError> {
    open(&location.parse()?)
}

/// [`open`] with a chosen retry policy.
pub fn open_with(url: &BackendUrl, retry: RetryPolicy) -> Result<Arc<dyn Backend>, BackendError> {
    let inner: Arc<dyn Backend> = match url {
        BackendUrl::File(p) => Arc::new(LocalBackend::new(p)),
        BackendUrl::S3 { .. } | BackendUrl::AzBlob { .. } => {
            return Err(BackendError::new(
                BackendErrorKind::NotBuilt,
                Op::Open,
                url.to_string(),
                "this backend is not built yet; use a local folder (file:///path) for now",
            ));
        }
    };
    Ok(Arc::new(Retrying::new(inner, retry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<BackendUrl, BackendErrorKind> {
        s.parse::<BackendUrl>().map_err(|e| e.kind)
    }

    #[test]
    fn urls_parse() {
        assert_eq!(parse("./v"), Ok(BackendUrl::file("./v")));
        assert_eq!(parse("/srv/v"), Ok(BackendUrl::file("/srv/v")));
        assert_eq!(parse("file:///srv/v"), Ok(BackendUrl::file("/srv/v")));
        assert_eq!(
            parse("file://localhost/srv/a%20b"),
            Ok(BackendUrl::file("/srv/a b"))
        );
        assert_eq!(parse("./x://y"), Ok(BackendUrl::file("./x://y")));
        assert_eq!(parse("file://host/srv"), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(parse("file://rel"), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(parse("file:///a%2"), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(parse(""), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(parse("ftp://x/y"), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(
            parse("s3://bucket/some/prefix/"),
            Ok(BackendUrl::S3 {
                bucket: "bucket".into(),
                prefix: "some/prefix".into()
            })
        );
        assert_eq!(parse("s3:///x"), Err(BackendErrorKind::InvalidUrl));
        assert_eq!(
            parse("azblob://c").map(|u| u.to_string()),
            Ok("azblob://c".to_string())
        );
    }

    #[test]
    fn object_stores_are_refused_as_not_built() {
        for u in ["s3://b/p", "azblob://c/p"] {
            let e = open(&u.parse().unwrap()).err().unwrap();
            assert_eq!(e.kind, BackendErrorKind::NotBuilt, "{u}");
            assert_eq!(e.code(), "BACKEND_NOT_BUILT");
            assert!(e.to_string().contains(u), "{e}");
        }
    }
}
