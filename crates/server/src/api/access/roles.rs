//! `/api/v1/roleAssignments`: assign a role on the server or a vault,
//! list, remove.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lifeboat_catalog::{AssignmentFilter, AssignmentId};

use super::self_lockout;
use crate::authz::{Op, Principal, Role, Visible};
use crate::dto::{
    CreateRoleAssignment, RoleAssignmentDto, RoleAssignmentList, RoleAssignmentQuery,
    assignment_dto,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, Q};
use crate::state::AppState;

/// Give an identity a role, on the whole server or on one vault.
///
/// A server-scope Owner may assign anywhere; an Owner of a vault, on that
/// vault. `Agent` is assignable on a vault only; the Site Recovery roles
/// are accepted and permit nothing yet.
#[utoipa::path(
    post, path = "/api/v1/roleAssignments", tag = "access",
    request_body = CreateRoleAssignment,
    responses(
        (status = 201, description = "The assignment", body = RoleAssignmentDto),
        (status = 400, description = "INVALID_ROLE, or Agent at server scope", body = ErrorBody),
        (status = 403, description = "Not an Owner of the scope", body = ErrorBody),
        (status = 404, description = "No such identity or vault", body = ErrorBody),
        (status = 409, description = "The identity has that role there", body = ErrorBody),
    ),
)]
pub async fn create_role_assignment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateRoleAssignment>,
) -> ApiResult<(StatusCode, Json<RoleAssignmentDto>)> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            lifeboat_codes::INVALID_ROLE,
            Some("role"),
            format!(
                "unknown role {:?}; roles are {}",
                req.role,
                Role::ALL.map(Role::name).join(", ")
            ),
        )
    })?;
    if role.vault_scope_only() && req.vault.is_none() {
        return Err(ApiError::invalid_argument(
            "vault",
            format!("{role} is assignable on one vault only: give vault"),
        ));
    }
    let identity = state.catalog.get_identity(&req.identity).await?;
    let vault = match &req.vault {
        Some(v) => Some(state.catalog.get_vault(v).await?.id),
        None => None,
    };
    let a = state
        .catalog
        .assign_role(identity.id, role.name(), vault, state.now())
        .await
        .map_err(|e| match e {
            lifeboat_catalog::CatalogError::Conflict { .. } => ApiError::conflict(
                "role",
                format!(
                    "identity '{}' already has {role} {}",
                    identity.name,
                    match &req.vault {
                        Some(v) => format!("on vault '{v}'"),
                        None => "at server scope".to_owned(),
                    }
                ),
            ),
            e => e.into(),
        })?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, role = %role, vault = ?req.vault, by = %who.display_name(), "role assigned");
    Ok((StatusCode::CREATED, Json(assignment_dto(a))))
}

/// List role assignments, optionally of one identity or on one vault. A
/// caller whose Owner role is on some vaults sees the assignments on
/// those vaults.
#[utoipa::path(
    get, path = "/api/v1/roleAssignments", tag = "access",
    params(RoleAssignmentQuery),
    responses(
        (status = 200, description = "The assignments", body = RoleAssignmentList),
        (status = 403, description = "Not an Owner anywhere", body = ErrorBody),
        (status = 404, description = "No such identity or vault", body = ErrorBody),
    ),
)]
pub async fn list_role_assignments(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Q(q): Q<RoleAssignmentQuery>,
) -> ApiResult<Json<RoleAssignmentList>> {
    let mut f = AssignmentFilter::default();
    if let Some(i) = &q.identity {
        f.identity_id = Some(state.catalog.get_identity(i).await?.id);
    }
    if let Some(v) = &q.vault {
        f.vault_id = Some(state.catalog.get_vault(v).await?.id);
    }
    let visible = who.visible(Op::RoleRead);
    let value = state
        .catalog
        .list_role_assignments(&f)
        .await?
        .into_iter()
        .filter(|a| match (&visible, a.vault_id) {
            (Visible::All, _) => true,
            (Visible::Only(_), None) => false,
            (Visible::Only(s), Some(v)) => s.contains(&v),
        })
        .map(assignment_dto)
        .collect();
    Ok(Json(RoleAssignmentList { value }))
}

/// Remove a role assignment. Its identity's tokens lose the role at once
/// on this server, within 10 seconds on others. You cannot remove your own
/// server-scope Owner role.
#[utoipa::path(
    delete, path = "/api/v1/roleAssignments/{id}", tag = "access",
    params(("id" = i64, Path, description = "Assignment id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an Owner of the scope", body = ErrorBody),
        (status = 409, description = "SELF_LOCKOUT: the caller's own server-scope Owner role", body = ErrorBody),
    ),
)]
pub async fn delete_role_assignment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(id): P<i64>,
) -> ApiResult<StatusCode> {
    let a = state.catalog.get_role_assignment(AssignmentId(id)).await?;
    if who.identity_id() == Some(a.identity_id)
        && a.vault_id.is_none()
        && Role::parse(&a.role) == Some(Role::Owner)
    {
        return Err(self_lockout(
            "this is the calling identity's own server-scope Owner role; ask another Owner to remove it"
                .to_owned(),
        ));
    }
    state.catalog.delete_role_assignment(a.id).await?;
    state.tokens.forget_identity(a.identity_id);
    tracing::info!(identity = %a.identity_name, role = %a.role, vault = ?a.vault_name, by = %who.display_name(), "role removed");
    Ok(StatusCode::NO_CONTENT)
}
