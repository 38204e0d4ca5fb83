//! The service's error: every failure has a stable code (the model's, the
//! catalog's, the store's, or one of the service's own below), an optional
//! target (the request field or resource it is about) and a message that
//! says what to do.

use lifeboat_catalog::CatalogError;
use lifeboat_model::ModelError;

/// Codes the service itself adds (the others come from the crates below).
pub mod codes {
    /// The vault's storage folder or key file is missing, damaged or
    /// already there.
    pub const VAULT_STORAGE: &str = "VAULT_STORAGE";
    /// A request argument the model does not check (restore target, point).
    pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
    /// The recovery point is not one of the item's.
    pub const POINT_NOT_FOUND: &str = "POINT_NOT_FOUND";
    /// The vault still has protected items or recovery points.
    pub const VAULT_NOT_EMPTY: &str = "VAULT_NOT_EMPTY";
    /// A stored policy document no longer validates (edited by hand).
    pub const POLICY_UNREADABLE: &str = "POLICY_UNREADABLE";
    /// The recovery point was soft-deleted by a retention cut.
    pub const POINT_SOFT_DELETED: &str = "POINT_SOFT_DELETED";
    /// The service is shutting down.
    pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
    /// A vault's key-encryption key cannot be had: the customer key file
    /// is missing or unreadable, the key command failed or timed out, or
    /// no provider of the vault's kind is configured.
    pub const KEY_UNAVAILABLE: &str = "KEY_UNAVAILABLE";
    /// A key-encryption key is there but is not the one the vault's secret
    /// is wrapped with (another key file, a wrong command answer).
    pub const KEY_MISMATCH: &str = "KEY_MISMATCH";
    /// A vault's wrapped key file is damaged or of an unknown version.
    pub const KEY_FILE_DAMAGED: &str = "KEY_FILE_DAMAGED";
    /// A background task failed in a way that is a bug.
    pub const INTERNAL: &str = "INTERNAL";
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("vault store: {0}")]
    Store(#[from] lifeboat_store::Error),
    #[error(transparent)]
    Workload(#[from] lifeboat_workloads::WorkloadError),
    /// One of the service's own refusals ([`codes`]).
    #[error("{message}")]
    Refused {
        code: &'static str,
        target: String,
        message: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub(crate) fn refused(
        code: &'static str,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ServiceError::Refused {
            code,
            target: target.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ServiceError::Io {
            context: context.into(),
            source,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Model(e) => e.code().as_str(),
            ServiceError::Catalog(e) => e.code(),
            ServiceError::Store(e) => e.code(),
            ServiceError::Workload(e) => e.code(),
            ServiceError::Refused { code, .. } => code,
            ServiceError::Io { .. } => codes::VAULT_STORAGE,
            ServiceError::Internal(_) => codes::INTERNAL,
        }
    }

    /// The field or resource the error is about, when known.
    pub fn target(&self) -> Option<&str> {
        match self {
            ServiceError::Model(e) => Some(e.target()),
            ServiceError::Refused { target, .. } if !target.is_empty() => Some(target),
            ServiceError::Workload(e) => e.target(),
            _ => None,
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        ServiceError::Internal(format!("a blocking task failed: {e}"))
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
