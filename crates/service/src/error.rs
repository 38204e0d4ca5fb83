//! The service's error: every failure has a stable code (the model's, the
//! catalog's, the store's, or one of the service's own in the register), an optional
//! target (the request field or resource it is about) and a message that
//! says what to do.

use lifeboat_catalog::CatalogError;
use lifeboat_model::ModelError;

/// The register of codes. The service's own (`VAULT_STORAGE`, `KEY_*`,
/// the codes of job errors and warnings, …) are there with all the others;
/// `crate::error::codes::X` names the register's constant.
pub use lifeboat_codes as codes;
use lifeboat_codes::Code;

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
        code: Code,
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
        code: Code,
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
    pub fn code(&self) -> Code {
        match self {
            ServiceError::Model(e) => e.code().code(),
            ServiceError::Catalog(e) => e.code(),
            ServiceError::Store(e) => e.code(),
            ServiceError::Workload(e) => e.code(),
            ServiceError::Refused { code, .. } => *code,
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
