//! `/api/v1/identities`: create, list, show, disable, enable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::{all_assignments, check_name, self_lockout};
use crate::api::paths::IdentityPath;
use crate::authz::Principal;
use crate::dto::{CreateIdentity, IdentityDto, IdentityDtoExt, IdentityList};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P};
use crate::state::AppState;

/// Create an identity (a user or a service principal).
///
/// It has no role and no token yet: assign roles with
/// `POST /api/v1/roleAssignments` and make tokens with
/// `POST /api/v1/identities/{identity}/tokens`.
#[utoipa::path(
    post, path = "/api/v1/identities", tag = "access",
    request_body = CreateIdentity,
    responses(
        (status = 201, description = "The new identity", body = IdentityDto),
        (status = 400, description = "Invalid name or kind", body = ErrorBody),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 409, description = "An identity of that name exists", body = ErrorBody),
    ),
)]
pub async fn create_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateIdentity>,
) -> ApiResult<(StatusCode, Json<IdentityDto>)> {
    check_name("name", &req.name)?;
    let kind = req.kind.as_deref().unwrap_or("User");
    if !matches!(kind, "User" | "ServicePrincipal") {
        return Err(ApiError::invalid_argument(
            "kind",
            format!("kind must be 'User' or 'ServicePrincipal' (got {kind:?})"),
        ));
    }
    let identity = state
        .catalog
        .create_identity(&req.name, kind, state.now())
        .await?;
    tracing::info!(identity = %identity.name, kind, by = %who.display_name(), "identity created");
    Ok((StatusCode::CREATED, Json(IdentityDto::new(identity, &[]))))
}

/// List identities, by name, with their roles.
#[utoipa::path(
    get, path = "/api/v1/identities", tag = "access",
    responses(
        (status = 200, description = "Every identity", body = IdentityList),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
    ),
)]
pub async fn list_identities(State(state): State<AppState>) -> ApiResult<Json<IdentityList>> {
    let all = all_assignments(&state).await?;
    let value = state
        .catalog
        .list_identities()
        .await?
        .into_iter()
        .map(|i| IdentityDto::new(i, &all))
        .collect();
    Ok(Json(IdentityList { value }))
}

/// Show an identity with its roles.
#[utoipa::path(
    get, path = "/api/v1/identities/{identity}", tag = "access",
    params(IdentityPath),
    responses(
        (status = 200, description = "The identity", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
    ),
)]
pub async fn show_identity(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}

/// Disable an identity: its tokens stop working at once on this server,
/// within 10 seconds on others sharing the catalog. You cannot disable
/// yourself.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/disable", tag = "access",
    params(IdentityPath),
    responses(
        (status = 200, description = "The identity, disabled", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 409, description = "SELF_LOCKOUT: the caller's own identity", body = ErrorBody),
    ),
)]
pub async fn disable_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    if who.identity_id() == Some(identity.id) {
        return Err(self_lockout(format!(
            "'{name}' is the identity of the calling token; ask another Owner to disable it"
        )));
    }
    let identity = state
        .catalog
        .set_identity_disabled(identity.id, Some(state.now()))
        .await?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, by = %who.display_name(), "identity disabled");
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}

/// Enable a disabled identity: its tokens that are neither revoked nor
/// expired work again.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/enable", tag = "access",
    params(IdentityPath),
    responses(
        (status = 200, description = "The identity, enabled", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
    ),
)]
pub async fn enable_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    let identity = state
        .catalog
        .set_identity_disabled(identity.id, None)
        .await?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, by = %who.display_name(), "identity enabled");
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}
