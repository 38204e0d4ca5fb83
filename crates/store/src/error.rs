//! One error type for the engine. Every variant has a stable code (shown to
//! users, used by scripts and by the service's API) and a hint that says what
//! to do next.

use std::path::PathBuf;

use lifeboat_backend::{BackendError, BackendErrorKind};
use lifeboat_codes::{self as codes, Code};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is not a Lifeboat vault (no config object)")]
    NotAVault(String),
    #[error("a vault already exists at {0}")]
    VaultExists(String),
    #[error("the vault uses format version {found}; this Lifeboat reads up to version {known}")]
    VaultFormatNewer { found: u32, known: u32 },
    #[error("no passphrase slot of this vault accepts the given passphrase")]
    WrongPassphrase,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("no recovery point matches {0:?}")]
    PointNotFound(String),
    #[error("{0:?} matches more than one recovery point; give more characters")]
    PointAmbiguous(String),
    #[error("path {0:?} is not in this recovery point")]
    PathNotFound(String),
    #[error("damaged data in {object}: {reason}")]
    Corrupt { object: String, reason: String },
    #[error("chunk {0} is referenced but not in the index")]
    ChunkMissing(String),
    #[error("this writer's lease expired before it could commit; nothing was committed")]
    LeaseLost,
    #[error(
        "another gc is running on this vault (host {host}, since {since_ms} ms after the epoch)"
    )]
    GcRunning { host: String, since_ms: u64 },
    #[error("refusing to remove the last passphrase slot: the vault could never be opened again")]
    LastKey,
    #[error("the vault is immutable (locked): recovery point {point} is held until {until}")]
    PointHeld { point: String, until: String },
    #[error("restore target {0} already has {1}; pass --overwrite or --skip-existing")]
    TargetExists(PathBuf, String),
    #[error("unsafe path {0:?} in manifest: refusing to write outside the target")]
    UnsafePath(String),
    #[error("the vault's storage is full: {0}")]
    StorageFull(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    External(String),
    /// A backend failure with no closer store meaning: a backend that
    /// stayed unavailable through its retries, or a URL it cannot open.
    #[error("{0}")]
    Backend(lifeboat_backend::BackendError),
}

impl Error {
    /// A stable machine-readable code (see docs/errors.md).
    pub fn code(&self) -> Code {
        match self {
            Error::NotAVault(_) => codes::NOT_A_VAULT,
            Error::VaultExists(_) => codes::VAULT_EXISTS,
            Error::VaultFormatNewer { .. } => codes::VAULT_FORMAT_NEWER,
            Error::WrongPassphrase => codes::WRONG_PASSPHRASE,
            Error::InvalidArgument(_) => codes::INVALID_ARGUMENT,
            Error::PointNotFound(_) => codes::POINT_NOT_FOUND,
            Error::PointAmbiguous(_) => codes::POINT_AMBIGUOUS,
            Error::PathNotFound(_) => codes::PATH_NOT_FOUND,
            Error::Corrupt { .. } => codes::DATA_CORRUPT,
            Error::ChunkMissing(_) => codes::CHUNK_MISSING,
            Error::LeaseLost => codes::LEASE_LOST,
            Error::GcRunning { .. } => codes::GC_RUNNING,
            Error::LastKey => codes::LAST_KEY,
            Error::PointHeld { .. } => codes::IMMUTABLE_POINT_HELD,
            Error::TargetExists(..) => codes::TARGET_EXISTS,
            Error::UnsafePath(_) => codes::UNSAFE_PATH,
            Error::StorageFull(_) => codes::STORAGE_FULL,
            Error::Io { .. } => codes::IO_ERROR,
            Error::External(_) => codes::EXTERNAL_TOOL,
            Error::Backend(e) => e.code(),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::NotAVault(_) => "check --vault; create a vault with `lifeboat store init`",
            Error::VaultExists(_) => "choose an empty folder, or use the existing vault",
            Error::VaultFormatNewer { .. } => "upgrade Lifeboat; this vault was left untouched",
            Error::WrongPassphrase => {
                "check LIFEBOAT_PASSPHRASE / --passphrase-file; `store key list` shows the slots"
            }
            Error::InvalidArgument(_) => "see --help for the accepted values",
            Error::PointNotFound(_) => "list points with `lifeboat store points`",
            Error::PointAmbiguous(_) => "list points with `lifeboat store points`",
            Error::PathNotFound(_) => "list the point's contents with `lifeboat store ls`",
            Error::Corrupt { .. } | Error::ChunkMissing(_) => {
                "run `lifeboat store verify --read-data` to see what is affected; other points still restore"
            }
            Error::LeaseLost => "the process was paused too long; run the backup again",
            Error::GcRunning { .. } => {
                "wait for it to finish; a crashed gc's lease lapses after 10 minutes"
            }
            Error::LastKey => "add another passphrase first with `lifeboat store key add`",
            Error::PointHeld { .. } => {
                "a locked immutable vault keeps every point until its hold expires; wait for it"
            }
            Error::TargetExists(..) => "or restore into an empty folder",
            Error::UnsafePath(_) => "the manifest is damaged or malicious; run `verify`",
            Error::StorageFull(_) => {
                "free space at the vault; nothing was committed and the vault is consistent"
            }
            Error::Io { .. } => "check the path, permissions and free space",
            Error::External(_) => "check that qemu-utils is installed and the image is readable",
            Error::Backend(e) => match e.kind {
                BackendErrorKind::Transient => {
                    "the vault's storage did not answer through several retries; check it and run again (nothing half-written is visible)"
                }
                BackendErrorKind::Incomplete => {
                    "a write to the vault's storage was cut off part-way; nothing refers to it, run the backup again"
                }
                BackendErrorKind::NotBuilt => "use a local folder: --vault /path or file:///path",
                BackendErrorKind::InvalidUrl => {
                    "give a folder, or a URL such as file:///srv/vault (docs/backends.md)"
                }
                _ => "check the vault's storage",
            },
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source.raw_os_error() == Some(libc::ENOSPC)
            || source.raw_os_error() == Some(libc::EDQUOT)
        {
            return Error::StorageFull(format!("{}: {source}", context.into()));
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn corrupt(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            reason: reason.into(),
        }
    }

    /// True when the object simply does not exist (as opposed to a damaged one).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Backend failures become the store's errors: a full disk is
/// `STORAGE_FULL`, a short object `DATA_CORRUPT`, a missing object or a
/// file-system error `IO_ERROR` (as `is_not_found` expects), and the rest
/// keep the backend's own code.
impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        let context = || format!("{} {}", e.op.as_str(), e.target);
        match e.kind {
            BackendErrorKind::Full => Error::StorageFull(e.to_string()),
            BackendErrorKind::OutOfRange => Error::Corrupt {
                reason: e.message.clone(),
                object: e.target,
            },
            BackendErrorKind::NotFound | BackendErrorKind::Permanent if e.source.is_some() => {
                let context = context();
                let source = e.source.unwrap_or_else(|| std::io::ErrorKind::Other.into());
                Error::Io { context, source }
            }
            BackendErrorKind::NotFound => Error::Io {
                context: context(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, e.message),
            },
            _ => Error::Backend(e),
        }
    }
}
