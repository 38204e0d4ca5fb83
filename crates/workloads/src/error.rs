//! The workloads' errors: their own refusals, and what the store or the
//! NBD client reported, each with its stable code (docs/errors.md).

use lifeboat_codes::{self as codes, Code};
use thiserror::Error;

pub type Result<T> = std::result::Result<T, WorkloadError>;

#[derive(Debug, Error)]
pub enum WorkloadError {
    /// A source or restore request that cannot be taken; `target` is the
    /// field at fault (`source`, `target`, `include[2]`, …).
    #[error("{message}")]
    Refused {
        code: Code,
        target: String,
        message: String,
    },
    /// The source was fine when the item was made, but cannot be read now.
    #[error("cannot read {path}: {reason}")]
    SourceUnavailable { path: String, reason: String },
    /// A disk restore's target exists and the conflict rule is `fail`.
    #[error("{0} exists; restore with conflict overwrite or skip, or choose another target")]
    TargetExists(String),
    #[error(transparent)]
    Store(#[from] lifeboat_store::Error),
    #[error(transparent)]
    Nbd(#[from] lifeboat_nbd::Error),
}

impl WorkloadError {
    pub(crate) fn refused(
        code: Code,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        WorkloadError::Refused {
            code,
            target: target.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self::refused(codes::INVALID_ARGUMENT, target, message)
    }

    /// The stable code (docs/errors.md).
    pub fn code(&self) -> Code {
        match self {
            WorkloadError::Refused { code, .. } => *code,
            WorkloadError::SourceUnavailable { .. } => codes::SOURCE_UNAVAILABLE,
            WorkloadError::TargetExists(_) => codes::TARGET_EXISTS,
            WorkloadError::Store(e) => e.code(),
            WorkloadError::Nbd(e) => e.code(),
        }
    }

    /// The field a refusal is about, if it is one.
    pub fn target(&self) -> Option<&str> {
        match self {
            WorkloadError::Refused { target, .. } => Some(target),
            _ => None,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            WorkloadError::Refused { .. } => "correct the field named in the error and retry",
            WorkloadError::SourceUnavailable { .. } => {
                "check that the source exists and that the server may read it"
            }
            WorkloadError::TargetExists(_) => {
                "restore with conflict overwrite or skip, or choose another target"
            }
            WorkloadError::Store(e) => e.hint(),
            WorkloadError::Nbd(e) => e.hint(),
        }
    }
}
