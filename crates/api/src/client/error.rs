//! What a call can end with besides its answer: the server's refusal
//! ([`ApiError`], with its stable code, status and hint), or no usable
//! answer at all ([`ClientError`]).

use crate::ErrorBody;

/// A refusal or failure the server answered with its error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status (400, 401, 403, 404, 409, 413, 422, 500, 503, …).
    pub status: u16,
    /// The stable code (docs/errors.md), e.g. `VAULT_NOT_EMPTY`.
    pub code: String,
    /// The server's message: what went wrong and what to do next.
    pub message: String,
    /// The field or resource the error is about, when the server named one.
    pub target: Option<String>,
}

impl ApiError {
    /// What to do about it, in the server's words.
    pub fn hint(&self) -> &str {
        &self.message
    }

    /// An error answer: the API's `{code, message, target}` (also accepted
    /// wrapped as `{"error": {…}}`, as Azure writes it), else the status
    /// and the body text (a proxy's page, say) under a code chosen by
    /// status.
    pub fn from_answer(status: u16, reason: Option<&str>, body: &str) -> ApiError {
        #[derive(serde::Deserialize)]
        struct Wrapped {
            error: ErrorBody,
        }
        let parsed = serde_json::from_str::<ErrorBody>(body)
            .ok()
            .or_else(|| serde_json::from_str::<Wrapped>(body).ok().map(|w| w.error));
        if let Some(b) = parsed {
            return ApiError {
                status,
                code: b.code,
                message: b.message,
                target: b.target,
            };
        }
        #[derive(serde::Deserialize)]
        struct CodeOnly {
            code: String,
        }
        if let Ok(c) = serde_json::from_str::<CodeOnly>(body) {
            return ApiError {
                status,
                code: c.code,
                message: reason.unwrap_or("error").to_owned(),
                target: None,
            };
        }
        let text = body.trim();
        let message = if text.is_empty() {
            format!("HTTP {status} {}", reason.unwrap_or(""))
                .trim_end()
                .to_owned()
        } else {
            format!("HTTP {status}: {}", truncate(text, 500))
        };
        ApiError {
            status,
            code: fallback_code(status).to_owned(),
            message,
            target: None,
        }
    }
}

/// A code for an error answer that did not carry one.
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

/// Why a call has no answer to give.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused or failed the request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Connecting failed (refused, unknown host, timeout).
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The server's TLS certificate did not verify.
    #[error("the TLS certificate of {url} is not trusted: {detail}")]
    TlsUntrusted { url: String, detail: String },
    /// The server answered something that is not the API's shape.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
    /// The CA file to trust cannot be used.
    #[error("{0}")]
    CaFile(String),
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl ClientError {
    /// The server's error, when it answered one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_become_api_errors() {
        let e = ApiError::from_answer(
            422,
            Some("Unprocessable Entity"),
            r#"{"code":"INVALID_POLICY","message":"bad","target":"timeZone"}"#,
        );
        assert_eq!(e.code, "INVALID_POLICY");
        assert_eq!(e.target.as_deref(), Some("timeZone"));
        assert_eq!(e.to_string(), "bad");
        assert_eq!(e.hint(), "bad");
        let wrapped = ApiError::from_answer(
            409,
            None,
            r#"{"error":{"code":"VAULT_NOT_EMPTY","message":"m"}}"#,
        );
        assert_eq!(wrapped.code, "VAULT_NOT_EMPTY");
        let html = ApiError::from_answer(502, Some("Bad Gateway"), "<html>proxy</html>");
        assert_eq!(html.code, "SERVER_ERROR");
        assert_eq!(html.to_string(), "HTTP 502: <html>proxy</html>");
        let empty = ApiError::from_answer(404, Some("Not Found"), "");
        assert_eq!(empty.code, "NOT_FOUND");
        assert_eq!(empty.to_string(), "HTTP 404 Not Found");
    }
}
