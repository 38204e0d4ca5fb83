//! The NBD client's errors. Every variant has a stable code (docs/errors.md)
//! and a hint; they reach users as `lifeboat_store::Error` values whose
//! message starts with the code.

use lifeboat_codes::{self as codes, Code};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server sent something the protocol does not allow (bad magic,
    /// a length over our bounds, a chunk outside the request, a cut stream).
    #[error("NBD protocol violation: {0}")]
    Protocol(String),
    /// The server refused an option during the handshake (no such export,
    /// no such bitmap, TLS required, ...).
    #[error("the NBD server refused {option}: {reason}")]
    ExportFailed {
        option: &'static str,
        reason: String,
    },
    /// The server lacks something Lifeboat needs (structured replies, fixed
    /// newstyle negotiation).
    #[error("the NBD server does not support {0}")]
    Unsupported(String),
    /// A read or block-status command failed on the server.
    #[error("NBD {command} at offset {offset} (+{len}) failed: {errno_name} ({errno}){message}")]
    Command {
        command: &'static str,
        offset: u64,
        len: u64,
        errno: u32,
        errno_name: &'static str,
        /// Empty, or ": " and the server's own words.
        message: String,
    },
    /// A request outside the export or larger than the client allows.
    #[error("{0}")]
    Range(String),
    /// The image is locked by another process (a running VM) and shared
    /// reading was not asked for.
    #[error("{image} is in use by another process: {detail}")]
    ImageLocked { image: String, detail: String },
    /// `qemu-nbd` / `qemu-img` could not be run, or exited early.
    #[error("{0}")]
    Qemu(String),
    /// The socket failed (closed, timed out, reset).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A stable machine-readable code (docs/errors.md).
    pub fn code(&self) -> Code {
        match self {
            Error::Protocol(_) => codes::NBD_PROTOCOL,
            Error::ExportFailed { .. } => codes::NBD_EXPORT_FAILED,
            Error::Unsupported(_) => codes::NBD_UNSUPPORTED,
            Error::Command { .. } => codes::NBD_COMMAND_FAILED,
            Error::Range(_) => codes::NBD_RANGE,
            Error::ImageLocked { .. } => codes::NBD_IMAGE_LOCKED,
            Error::Qemu(_) => codes::NBD_QEMU_FAILED,
            Error::Io { .. } => codes::NBD_IO,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::Protocol(_) => {
                "the NBD server misbehaved; check the qemu-nbd version (qemu-utils 7.2 or later)"
            }
            Error::ExportFailed { .. } => {
                "check the export name and, for incremental reads, that the image has the bitmap (`qemu-img info`)"
            }
            Error::Unsupported(_) => "use qemu-nbd from qemu-utils 7.2 or later",
            Error::Command { .. } => {
                "the image could not be read there; check it with `qemu-img check`"
            }
            Error::Range(_) => "this is a bug in the caller; please report it",
            Error::ImageLocked { .. } => {
                "stop the VM or back it up as a VM workload; force-share reads it as it is, possibly inconsistent"
            }
            Error::Qemu(_) => "check that qemu-utils is installed and the image is readable",
            Error::Io { .. } => "the NBD server went away; check that qemu-nbd is still running",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Errors reach the engine as its own type, keeping the code and hint in
/// the message (the store's `External` code is for external tools).
impl From<Error> for lifeboat_store::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io { context, source } => {
                lifeboat_store::Error::io(format!("{}: {context}", codes::NBD_IO), source)
            }
            Error::Range(m) => {
                lifeboat_store::Error::InvalidArgument(format!("{}: {m}", codes::NBD_RANGE))
            }
            other => lifeboat_store::Error::External(format!(
                "{}: {other} ({})",
                other.code(),
                other.hint()
            )),
        }
    }
}

/// The names of the error values the protocol defines (any other number is
/// shown as it is).
pub(crate) fn errno_name(errno: u32) -> &'static str {
    match errno {
        1 => "EPERM",
        5 => "EIO",
        12 => "ENOMEM",
        22 => "EINVAL",
        28 => "ENOSPC",
        75 => "EOVERFLOW",
        95 => "ENOTSUP",
        108 => "ESHUTDOWN",
        _ => "unknown error",
    }
}
