//! The API's one error type: [`ApiError`], answered as `{code, message,
//! target}` with an HTTP status. Every code is stable and listed in
//! docs/errors.md; model, catalog and service errors keep their own codes,
//! and the server adds `AUTH_*`, `BAD_REQUEST`, `ROUTE_NOT_FOUND`, …

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lifeboat_catalog::{CatalogError, Entity};
use lifeboat_model::{ErrorCode, ModelError};
use lifeboat_service::ServiceError;
use lifeboat_service::error::codes::{self, Code};

pub use lifeboat_api::ErrorBody;

/// A refused or failed request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub target: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Code>,
        target: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            target: target.map(str::to_owned),
        }
    }

    /// A request the server cannot parse (malformed JSON, wrong types).
    pub fn bad_request(target: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, target, message)
    }

    /// A well-formed value outside what is allowed.
    pub fn invalid_argument(target: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArgument,
            Some(target),
            message,
        )
    }

    pub fn not_found(target: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            Some(target),
            message,
        )
    }

    pub fn conflict(target: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, codes::CONFLICT, Some(target), message)
    }

    pub fn auth_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::AUTH_REQUIRED,
            None,
            "this call needs a token: send 'Authorization: Bearer <token>' \
             (the token printed at the server's first start, or LIFEBOAT_ADMIN_TOKEN)",
        )
    }

    pub fn auth_invalid(why: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::AUTH_INVALID,
            None,
            format!("{why}; check the token (LIFEBOAT_TOKEN or `lifeboat login`)"),
        )
    }

    /// A token past its expiry time (the name, never the secret).
    pub fn token_expired(name: &str, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_EXPIRED,
            None,
            format!(
                "token '{name}' expired at {}; ask an Owner for a new one (`lifeboat token create`)",
                at.to_rfc3339()
            ),
        )
    }

    /// A revoked token (the name, never the secret).
    pub fn token_revoked(name: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::TOKEN_REVOKED,
            None,
            format!("token '{name}' was revoked; ask an Owner for a new one"),
        )
    }

    /// A token of a disabled identity.
    pub fn identity_disabled(name: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::IDENTITY_DISABLED,
            None,
            format!("identity '{name}' is disabled; an Owner can enable it again"),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, None, message)
    }

    /// A failure of the server itself; the details go to the log.
    pub fn internal(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, None, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
            target: self.target.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.code, message = %self.message, "request failed");
        }
        let mut resp = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The `target` a catalog entity is reported under: the path parameter or
/// body field that names it.
fn entity_target(e: Entity) -> &'static str {
    match e {
        Entity::Vault => "vault",
        Entity::Policy => "policy",
        Entity::Item => "item",
        Entity::Point => "point",
        Entity::Job => "job",
        Entity::Token => "token",
        Entity::Identity => "identity",
        Entity::RoleAssignment => "assignment",
        Entity::ResourceGuard => "guard",
        Entity::MuaRequest => "request",
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let message = e.to_string();
        match &e {
            CatalogError::NotFound { entity, .. } => {
                ApiError::not_found(entity_target(*entity), message)
            }
            CatalogError::Conflict { .. } => ApiError::conflict("name", message),
            // A vault or policy still in use gets a code of its own: clients
            // act on these two (empty the vault, move the items).
            CatalogError::InUse { entity, .. } => {
                let code = match entity {
                    Entity::Vault => codes::VAULT_NOT_EMPTY,
                    Entity::Policy => codes::POLICY_IN_USE,
                    _ => e.code(),
                };
                ApiError::new(
                    StatusCode::CONFLICT,
                    code,
                    Some(entity_target(*entity)),
                    message,
                )
            }
            CatalogError::InvalidState { entity, .. } => ApiError::new(
                StatusCode::CONFLICT,
                e.code(),
                Some(entity_target(*entity)),
                message,
            ),
            CatalogError::LeaseLost { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.code(), Some("job"), message)
            }
            CatalogError::InvalidCursor => {
                ApiError::new(StatusCode::BAD_REQUEST, e.code(), Some("cursor"), message)
            }
            CatalogError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), None, message)
            }
            CatalogError::TooNew { .. }
            | CatalogError::InvalidUrl { .. }
            | CatalogError::Migration(_)
            | CatalogError::Db(_) => ApiError::internal(e.code(), message),
        }
    }
}

/// The HTTP status of a model error code.
pub fn model_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidPolicy
        | ErrorCode::InvalidVaultName
        | ErrorCode::InvalidVaultSettings
        | ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorCode::NotSupported => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidItemState | ErrorCode::InvalidJobState => StatusCode::CONFLICT,
        // Soft delete and immutability guards: the request is well-formed,
        // the vault's protection refuses it.
        ErrorCode::SoftDeleteAlwaysOn
        | ErrorCode::ImmutabilityLocked
        | ErrorCode::ImmutabilityNotUnlocked
        | ErrorCode::ImmutablePointNotExpired
        | ErrorCode::ImmutableStopWithDelete
        | ErrorCode::ImmutableRetentionReduction
        | ErrorCode::ImmutablePolicySwapReduction => StatusCode::CONFLICT,
        // Multi-user authorization: the caller lacks a second principal's
        // approval (or is that principal).
        ErrorCode::MuaApprovalRequired
        | ErrorCode::MuaApprovalExpired
        | ErrorCode::MuaSelfApproval => StatusCode::FORBIDDEN,
        ErrorCode::MuaRequestState
        | ErrorCode::ResourceGuardInUse
        | ErrorCode::ResourceGuardAttached => StatusCode::CONFLICT,
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        ApiError::new(
            model_status(e.code()),
            e.code(),
            Some(e.target()),
            e.message(),
        )
    }
}

/// The HTTP status of a store error (the store's codes pass through).
fn store_status(e: &lifeboat_store::Error) -> StatusCode {
    use lifeboat_store::Error as E;
    match e {
        E::PointNotFound(_) | E::PathNotFound(_) => StatusCode::NOT_FOUND,
        E::InvalidArgument(_) | E::PointAmbiguous(_) => StatusCode::BAD_REQUEST,
        E::TargetExists(..)
        | E::VaultExists(_)
        | E::LeaseLost
        | E::GcRunning { .. }
        | E::LastKey
        | E::PointHeld { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<lifeboat_workloads::WorkloadError> for ApiError {
    fn from(e: lifeboat_workloads::WorkloadError) -> Self {
        use lifeboat_workloads::WorkloadError as W;
        match e {
            W::Refused {
                code,
                target,
                message,
            } => ApiError::new(StatusCode::BAD_REQUEST, code, Some(&target), message),
            W::TargetExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                e.code(),
                Some("target"),
                e.to_string(),
            ),
            W::Store(s) => ServiceError::Store(s).into(),
            other => ApiError::internal(other.code(), format!("{other} ({})", other.hint())),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Model(m) => m.into(),
            ServiceError::Catalog(c) => c.into(),
            ServiceError::Workload(w) => w.into(),
            ServiceError::Store(s) => ApiError::new(
                store_status(&s),
                s.code(),
                None,
                format!("{s} ({})", s.hint()),
            ),
            ServiceError::Refused {
                code,
                target,
                message,
            } => {
                let status = match code {
                    codes::INVALID_ARGUMENT => StatusCode::BAD_REQUEST,
                    codes::POINT_NOT_FOUND => StatusCode::NOT_FOUND,
                    codes::VAULT_NOT_EMPTY | codes::POINT_SOFT_DELETED => StatusCode::CONFLICT,
                    codes::SHUTTING_DOWN | codes::KEY_UNAVAILABLE => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    codes::KEY_MISMATCH => StatusCode::CONFLICT,
                    codes::VAULT_STORAGE
                    | codes::KEY_FILE_DAMAGED
                    | codes::POLICY_UNREADABLE
                    | codes::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                let target = (!target.is_empty()).then_some(target);
                ApiError::new(status, code, target.as_deref(), message)
            }
            other => {
                let code = other.code();
                ApiError::internal(code, other.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_refusals_keep_their_codes() {
        let e: ApiError = ServiceError::Refused {
            code: codes::VAULT_NOT_EMPTY,
            target: "v1".into(),
            message: "has items".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.code.as_ref(), e.target.as_deref()),
            (StatusCode::CONFLICT, "VAULT_NOT_EMPTY", Some("v1"))
        );
        let e: ApiError = ServiceError::Refused {
            code: codes::POINT_NOT_FOUND,
            target: "point".into(),
            message: "no".into(),
        }
        .into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn catalog_codes_map_to_statuses() {
        let e: ApiError = CatalogError::InUse {
            entity: Entity::Vault,
            name: "v".into(),
            detail: "x".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.code.as_ref()),
            (StatusCode::CONFLICT, "VAULT_NOT_EMPTY")
        );
        let e: ApiError = CatalogError::InUse {
            entity: Entity::Policy,
            name: "p".into(),
            detail: "x".into(),
        }
        .into();
        assert_eq!(e.code, "POLICY_IN_USE");
        let e: ApiError = CatalogError::NotFound {
            entity: Entity::Item,
            name: "i".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.code.as_ref(), e.target.as_deref()),
            (StatusCode::NOT_FOUND, "NOT_FOUND", Some("item"))
        );
        let e: ApiError = CatalogError::InvalidCursor.into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn model_errors_keep_code_and_target() {
        let e: ApiError = ModelError::policy("timeZone", "bad zone").into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "INVALID_POLICY");
        assert_eq!(e.target.as_deref(), Some("timeZone"));
        for code in ErrorCode::ALL {
            let s = model_status(code);
            assert!(s.is_client_error(), "{code} -> {s}");
        }
    }
}
