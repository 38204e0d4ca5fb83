//! What a backend operation can fail with. The kind says whether trying
//! again can help ([`BackendErrorKind::Transient`]) or not (everything
//! else), so retries are decided in one place ([`crate::Retrying`]).

use std::fmt;

use lifeboat_codes::{self as codes, Code};

/// Why a backend operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The object does not exist.
    NotFound,
    /// A ranged read asked for bytes past the object's end, or the backend
    /// answered with fewer bytes than asked for.
    OutOfRange,
    /// No space or quota left where the vault lives.
    Full,
    /// Worth trying again: a timeout, an interrupted call, a dropped
    /// connection, throttling.
    Transient,
    /// Trying again will not help: permissions, a bad name, a failing medium.
    Permanent,
    /// A write failed part-way and the name now holds other bytes than
    /// the ones written: what an interrupted upload can leave on storage
    /// that does not store objects all-or-nothing. Not retried.
    Incomplete,
    /// The URL names a backend this build of Lifeboat does not have yet.
    NotBuilt,
    /// The URL cannot be understood.
    InvalidUrl,
}

/// Which operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Put,
    Get,
    GetRange,
    List,
    Delete,
    Exists,
    Open,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Put => "storing",
            Op::Get | Op::GetRange => "reading",
            Op::List => "listing",
            Op::Delete => "deleting",
            Op::Exists => "looking up",
            Op::Open => "opening",
        }
    }
}

/// A failed backend operation: the kind, the operation, what it was about
/// (an object name or the backend's location) and the cause.
#[derive(Debug, thiserror::Error)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub op: Op,
    /// The object (or, for `Open` and listings, the location) concerned.
    pub target: String,
    pub message: String,
    /// How many attempts were made before giving up (1 without retries).
    pub attempts: u32,
    #[source]
    pub source: Option<std::io::Error>,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op.as_str(), self.target, self.message)?;
        if self.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

pub type BackendResult<T> = std::result::Result<T, BackendError>;

impl BackendError {
    pub fn new(
        kind: BackendErrorKind,
        op: Op,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            op,
            target: target.into(),
            message: message.into(),
            attempts: 1,
            source: None,
        }
    }

    /// An operating-system error, classified by its errno.
    pub fn io(op: Op, target: impl Into<String>, source: std::io::Error) -> Self {
        Self {
            kind: classify_io(&source),
            op,
            target: target.into(),
            message: source.to_string(),
            attempts: 1,
            source: Some(source),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == BackendErrorKind::Transient
    }

    /// True when the object simply does not exist (as opposed to a damaged one).
    pub fn is_not_found(&self) -> bool {
        self.kind == BackendErrorKind::NotFound
    }

    /// A stable code for the kinds that reach users as themselves
    /// (docs/errors.md); the store maps the others onto its own codes.
    pub fn code(&self) -> Code {
        match self.kind {
            BackendErrorKind::NotFound | BackendErrorKind::Permanent => codes::IO_ERROR,
            BackendErrorKind::OutOfRange => codes::DATA_CORRUPT,
            BackendErrorKind::Full => codes::STORAGE_FULL,
            BackendErrorKind::Transient => codes::BACKEND_UNAVAILABLE,
            BackendErrorKind::Incomplete => codes::BACKEND_PARTIAL_WRITE,
            BackendErrorKind::NotBuilt => codes::BACKEND_NOT_BUILT,
            BackendErrorKind::InvalidUrl => codes::INVALID_BACKEND_URL,
        }
    }
}

/// Errnos that say "not now" rather than "never". Everything else is
/// permanent: retrying a permission error or a failing disk only delays
/// the message.
fn classify_io(e: &std::io::Error) -> BackendErrorKind {
    use std::io::ErrorKind as K;
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => return BackendErrorKind::Full,
        Some(
            libc::EINTR
            | libc::EAGAIN
            | libc::EBUSY
            | libc::ETIMEDOUT
            | libc::ECONNRESET
            | libc::ECONNABORTED
            | libc::ENETDOWN
            | libc::ENETUNREACH
            | libc::EHOSTUNREACH
            | libc::ESTALE,
        ) => return BackendErrorKind::Transient,
        _ => {}
    }
    match e.kind() {
        K::NotFound => BackendErrorKind::NotFound,
        K::UnexpectedEof => BackendErrorKind::OutOfRange,
        K::Interrupted
        | K::WouldBlock
        | K::TimedOut
        | K::ConnectionReset
        | K::ConnectionAborted => BackendErrorKind::Transient,
        _ => BackendErrorKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_are_classified() {
        let k = |errno| classify_io(&std::io::Error::from_raw_os_error(errno));
        assert_eq!(k(libc::ENOSPC), BackendErrorKind::Full);
        assert_eq!(k(libc::EDQUOT), BackendErrorKind::Full);
        assert_eq!(k(libc::ENOENT), BackendErrorKind::NotFound);
        assert_eq!(k(libc::ETIMEDOUT), BackendErrorKind::Transient);
        assert_eq!(k(libc::EINTR), BackendErrorKind::Transient);
        assert_eq!(k(libc::EACCES), BackendErrorKind::Permanent);
        assert_eq!(k(libc::EIO), BackendErrorKind::Permanent);
    }
}
