//! What can go wrong talking to the server, with a stable code and the exit
//! code scripts see (docs/cli-backup.md, "Exit codes").

use std::fmt;

/// Exit codes of `lifeboat backup …` and `lifeboat login`. Where a meaning
/// overlaps with `lifeboat store` (docs/cli.md) the number is the same.
pub mod exit {
    pub const OK: u8 = 0;
    /// Server-side failure, a job that failed or was cancelled, anything not below.
    pub const FAILED: u8 = 1;
    /// Invalid usage or input refused by the server (400, 409, 422).
    pub const USAGE: u8 = 2;
    /// A waited-for job ended `CompletedWithWarnings`.
    pub const WARNINGS: u8 = 3;
    /// The named vault, policy, item, point or job does not exist (404).
    pub const NOT_FOUND: u8 = 4;
    /// No token, a token the server does not accept, or not allowed (401, 403).
    pub const AUTH: u8 = 5;
    /// A job found damaged or missing data in the vault's store.
    pub const DAMAGE: u8 = 6;
    /// The vault's storage is full.
    pub const STORAGE_FULL: u8 = 7;
    /// The server could not be reached.
    pub const UNREACHABLE: u8 = 8;
    /// `--timeout` ran out while the job was still running.
    pub const TIMEOUT: u8 = 9;
    /// The server's TLS certificate is not trusted (`--ca-file`).
    pub const TLS_UNTRUSTED: u8 = 10;
    /// A waited-for restore job wrote every entry, but its only warnings
    /// are recorded metadata it could not set (`METADATA_NOT_RESTORED`).
    pub const METADATA_LOST: u8 = 11;
}

/// An error of the `backup` commands. Every variant has a stable code
/// ([`CliError::code`]) and an exit code ([`CliError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error document `{code, message, target}`.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        target: Option<String>,
    },
    /// Connecting to the server failed (refused, unknown host, timeout, TLS).
    #[error(
        "cannot reach the Lifeboat server at {url}: {detail}. Is `lifeboat server` running? \
         (set the address with --server or LIFEBOAT_SERVER)"
    )]
    Unreachable { url: String, detail: String },
    /// The server's TLS certificate did not verify.
    #[error(
        "the TLS certificate of {url} is not trusted: {detail}. If the server uses a private CA, \
         give its certificate with --ca-file or LIFEBOAT_CA_FILE"
    )]
    TlsUntrusted { url: String, detail: String },
    /// The server answered something that is not the API's shape.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
    /// A flag, value or input file is not acceptable.
    #[error("{0}")]
    Usage(String),
    /// A `--policy` document the model cannot read (the server's
    /// `INVALID_POLICY`, found before sending it).
    #[error("{message}")]
    InvalidPolicy {
        target: Option<String>,
        message: String,
    },
    /// The configuration file could not be read or written.
    #[error("{0}")]
    Config(String),
    /// A waited-for job did not complete.
    #[error("{message}")]
    JobEnded {
        id: String,
        status: String,
        code: String,
        message: String,
    },
    /// `--timeout` ran out.
    #[error("job {id} is still {status} after {seconds} s")]
    WaitTimeout {
        id: String,
        status: String,
        seconds: u64,
    },
    /// The user did not confirm a destructive operation.
    #[error("{0}")]
    NotConfirmed(String),
}

impl CliError {
    /// The stable code printed in `ERROR: (CODE) …`.
    pub fn code(&self) -> &str {
        match self {
            CliError::Api { code, .. } | CliError::JobEnded { code, .. } => code,
            CliError::Unreachable { .. } => lifeboat_codes::SERVER_UNREACHABLE.as_str(),
            CliError::TlsUntrusted { .. } => lifeboat_codes::TLS_UNTRUSTED.as_str(),
            CliError::Protocol { .. } => lifeboat_codes::BAD_RESPONSE.as_str(),
            CliError::Usage(_) => lifeboat_codes::INVALID_ARGUMENT.as_str(),
            CliError::InvalidPolicy { .. } => lifeboat_codes::INVALID_POLICY.as_str(),
            CliError::Config(_) => lifeboat_codes::CONFIG_ERROR.as_str(),
            CliError::WaitTimeout { .. } => lifeboat_codes::WAIT_TIMEOUT.as_str(),
            CliError::NotConfirmed(_) => lifeboat_codes::NOT_CONFIRMED.as_str(),
        }
    }

    /// The field or argument the error is about, when the server named one.
    pub fn target(&self) -> Option<&str> {
        match self {
            CliError::Api { target, .. } | CliError::InvalidPolicy { target, .. } => {
                target.as_deref().filter(|t| !t.is_empty())
            }
            _ => None,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Api { status, code, .. } => api_exit_code(*status, code),
            CliError::JobEnded { code, .. } => job_exit_code(code),
            CliError::Unreachable { .. } => exit::UNREACHABLE,
            CliError::TlsUntrusted { .. } => exit::TLS_UNTRUSTED,
            CliError::Protocol { .. } | CliError::Config(_) => exit::FAILED,
            CliError::Usage(_) | CliError::InvalidPolicy { .. } | CliError::NotConfirmed(_) => {
                exit::USAGE
            }
            CliError::WaitTimeout { .. } => exit::TIMEOUT,
        }
    }
}

/// Exit code for an API error: the code decides where it names storage
/// trouble, else the HTTP status.
pub fn api_exit_code(status: u16, code: &str) -> u8 {
    if let Some(storage) = storage_exit_code(code) {
        return storage;
    }
    match status {
        401 | 403 => exit::AUTH,
        404 => exit::NOT_FOUND,
        400 | 405 | 409 | 413 | 415 | 422 => exit::USAGE,
        _ => exit::FAILED,
    }
}

/// Exit code for a job that ended without success, from its first error code.
pub fn job_exit_code(code: &str) -> u8 {
    storage_exit_code(code).unwrap_or(exit::FAILED)
}

/// The exit code of a server or job code that names trouble in the vault's
/// store (full, or damaged), whatever the HTTP status.
fn storage_exit_code(code: &str) -> Option<u8> {
    use lifeboat_codes::{CHUNK_MISSING, DATA_CORRUPT, STORAGE_FULL, UNSAFE_PATH};
    match lifeboat_codes::Code::parse(code)? {
        STORAGE_FULL => Some(exit::STORAGE_FULL),
        DATA_CORRUPT | CHUNK_MISSING | UNSAFE_PATH => Some(exit::DAMAGE),
        _ => None,
    }
}

/// `ERROR: (CODE) message`, plus `Target: …` when the server named a field.
pub struct Report<'a>(pub &'a CliError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR: ({}) {}", self.0.code(), self.0)?;
        if let Some(t) = self.0.target() {
            write!(f, "\nTarget: {t}")?;
        }
        Ok(())
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_documented_exit_codes() {
        assert_eq!(api_exit_code(401, "AUTH_INVALID_TOKEN"), exit::AUTH);
        assert_eq!(api_exit_code(403, "AUTH_FORBIDDEN"), exit::AUTH);
        assert_eq!(api_exit_code(404, "NOT_FOUND"), exit::NOT_FOUND);
        assert_eq!(api_exit_code(422, "INVALID_POLICY"), exit::USAGE);
        assert_eq!(api_exit_code(409, "VAULT_NOT_EMPTY"), exit::USAGE);
        assert_eq!(api_exit_code(500, "INTERNAL"), exit::FAILED);
        assert_eq!(api_exit_code(500, "STORAGE_FULL"), exit::STORAGE_FULL);
        assert_eq!(api_exit_code(500, "DATA_CORRUPT"), exit::DAMAGE);
        assert_eq!(job_exit_code("CHUNK_MISSING"), exit::DAMAGE);
        assert_eq!(job_exit_code("SERVER_LOST"), exit::FAILED);
    }

    #[test]
    fn report_names_code_message_and_target() {
        let e = CliError::Api {
            status: 422,
            code: "INVALID_POLICY".into(),
            message: "daily retention must be 7-9999 days".into(),
            target: Some("retentionPolicy.dailySchedule.retentionDuration.count".into()),
        };
        assert_eq!(
            Report(&e).to_string(),
            "ERROR: (INVALID_POLICY) daily retention must be 7-9999 days\n\
             Target: retentionPolicy.dailySchedule.retentionDuration.count"
        );
        let u = CliError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        };
        let text = Report(&u).to_string();
        assert!(text.starts_with("ERROR: (SERVER_UNREACHABLE) cannot reach"));
        assert!(text.contains("http://127.0.0.1:1"));
        assert!(text.contains("lifeboat server"));
        assert_eq!(u.exit_code(), exit::UNREACHABLE);
    }
}
