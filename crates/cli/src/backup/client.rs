//! The CLI's side of the typed API client (`lifeboat_api::client`): how a
//! command builds one (server, token, `--ca-file`, `LIFEBOAT_PAGE_SIZE`),
//! and how its errors become [`CliError`]s with the CLI's exit codes.
//! Requests and answers are the API crate's types; nothing here reads or
//! builds API JSON by hand.

use lifeboat_api::client::{ApiError, Client, ClientError, Options, Take};

use super::error::CliError;

pub use lifeboat_api::client::Stopped;

/// The largest page the API serves (`?limit=` is 1–1000).
pub const MAX_PAGE: usize = lifeboat_api::LIMIT_MAX as usize;

/// Page size for lists: `LIFEBOAT_PAGE_SIZE` (1–1000, for debugging and
/// tests of pagination), else the largest page the API serves.
fn page_size() -> usize {
    std::env::var("LIFEBOAT_PAGE_SIZE")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(MAX_PAGE, |n| n.clamp(1, MAX_PAGE))
}

/// How much of a list to read: the first `top` rows, or all of them.
pub fn take(top: Option<usize>) -> Take {
    Take {
        top,
        page_size: u32::try_from(page_size()).unwrap_or(lifeboat_api::LIMIT_MAX),
    }
}

/// The private CA of `LIFEBOAT_CA_FILE`, when set.
#[allow(dead_code)] // for commands without `--ca-file` of their own
pub fn ca_file_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os("LIFEBOAT_CA_FILE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// A client of `base` that trusts the system's roots and the CA
/// certificates in `ca_file` (PEM).
pub fn connect(
    base: String,
    token: Option<String>,
    ca_file: Option<&std::path::Path>,
) -> Result<Client, CliError> {
    Client::new(
        base,
        token,
        Options {
            ca_file,
            user_agent: Some(concat!("lifeboat-cli/", env!("CARGO_PKG_VERSION")).to_owned()),
            no_token_hint: Some(
                "(no token given: set LIFEBOAT_TOKEN or run `lifeboat login`)".to_owned(),
            ),
        },
    )
    .map_err(CliError::from)
}

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        CliError::Api {
            status: e.status,
            code: e.code,
            message: e.message,
            target: e.target,
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Api(e) => e.into(),
            ClientError::Unreachable { url, detail } => CliError::Unreachable { url, detail },
            ClientError::TlsUntrusted { url, detail } => CliError::TlsUntrusted { url, detail },
            ClientError::Protocol { url, detail } => CliError::Protocol { url, detail },
            ClientError::CaFile(m) => CliError::Usage(format!("--ca-file: {m}")),
            ClientError::Setup(m) => {
                CliError::Config(format!("cannot set up the HTTP client: {m}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        connect(base.to_owned(), None, None).unwrap()
    }

    #[test]
    fn error_documents_become_api_errors() {
        let e: CliError = ApiError::from_answer(
            422,
            Some("Unprocessable Entity"),
            r#"{"code":"INVALID_POLICY","message":"bad","target":"timeZone"}"#,
        )
        .into();
        assert_eq!(e.code(), "INVALID_POLICY");
        assert_eq!(e.target(), Some("timeZone"));
        assert_eq!(e.to_string(), "bad");
        let wrapped: CliError = ApiError::from_answer(
            409,
            None,
            r#"{"error":{"code":"VAULT_NOT_EMPTY","message":"m"}}"#,
        )
        .into();
        assert_eq!(wrapped.code(), "VAULT_NOT_EMPTY");
        let html: CliError =
            ApiError::from_answer(502, Some("Bad Gateway"), "<html>proxy</html>").into();
        assert_eq!(html.code(), "SERVER_ERROR");
        assert_eq!(html.to_string(), "HTTP 502: <html>proxy</html>");
        let empty: CliError = ApiError::from_answer(404, Some("Not Found"), "").into();
        assert_eq!(empty.code(), "NOT_FOUND");
        assert_eq!(empty.to_string(), "HTTP 404 Not Found");
    }

    #[test]
    fn a_closed_port_is_reported_as_unreachable() {
        let port = lifeboat_testkit::free_port();
        let c = client(&format!("http://127.0.0.1:{port}"));
        let e = CliError::from(c.list_vaults(take(None)).unwrap_err());
        assert_eq!(e.code(), "SERVER_UNREACHABLE", "{e}");
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
