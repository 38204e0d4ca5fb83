//! A vault's resource guard mapping (`/api/v1/vaults/{vault}/resourceGuard`):
//! show, attach (adds protection), detach (a critical operation).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lifeboat_catalog::Vault;
use lifeboat_model::ErrorCode;
use lifeboat_model::guard::AlertKind;
use lifeboat_model::mua::CriticalOp;

use super::{authorize_critical, model_err};
use crate::api::paths::VaultPath;
use crate::api::vaults;
use crate::authz::{Op, Principal, Target};
use crate::dto::{AttachGuard, VaultGuardDto};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P};
use crate::state::AppState;

async fn mapping_dto(state: &AppState, v: &Vault) -> ApiResult<VaultGuardDto> {
    let m = state.catalog.vault_guard(v.id).await?;
    let ops = match &m {
        Some(m) => state.catalog.get_guard_by_id(m.guard_id).await?.ops(),
        None => Vec::new(),
    };
    Ok(VaultGuardDto {
        vault: v.name.clone(),
        multi_user_authorization: if m.is_some() { "Enabled" } else { "Disabled" }.to_owned(),
        guard: m.as_ref().map(|m| m.guard_name.clone()),
        attached_time: m.map(|m| m.attached),
        critical_operations: ops,
    })
}

/// Show a vault's resource guard mapping.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/resourceGuard", tag = "security",
    params(VaultPath),
    responses(
        (status = 200, description = "The mapping (guard null when none)", body = VaultGuardDto),
    ),
)]
pub async fn show_mapping(
    State(state): State<AppState>,
    P(vault): P<String>,
) -> ApiResult<Json<VaultGuardDto>> {
    let v = vaults::find(&state, &vault).await?;
    Ok(Json(mapping_dto(&state, &v).await?))
}

/// Attach a resource guard to a vault (turns multi-user authorization on).
///
/// Needs Owner on the vault and reading the guard (holding it, or Owner
/// at server scope). Not a critical
/// operation: it adds protection. A vault has one guard; attaching another
/// is refused with `RESOURCE_GUARD_ATTACHED` (detach first: critical).
#[utoipa::path(
    put, path = "/api/v1/vaults/{vault}/resourceGuard", tag = "security",
    params(VaultPath),
    request_body = AttachGuard,
    responses(
        (status = 200, description = "The mapping", body = VaultGuardDto),
        (status = 403, description = "The caller does not hold the guard", body = ErrorBody),
        (status = 404, description = "No such vault or guard", body = ErrorBody),
        (status = 409, description = "Another guard is attached", body = ErrorBody),
    ),
)]
pub async fn attach_guard(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(vault): P<String>,
    Body(req): Body<AttachGuard>,
) -> ApiResult<Json<VaultGuardDto>> {
    let v = vaults::find(&state, &vault).await?;
    let g = state.catalog.get_guard(&req.guard_name).await?;
    // Whoever may read the guard: its holders, or an Owner at server
    // scope (who may read every guard).
    let reads = who.may(Op::GuardRead, Target::Server)
        || match who.identity_id() {
            Some(id) => state.catalog.is_guard_holder(g.id, id).await?,
            None => false,
        };
    if !reads {
        return Err(ApiError::forbidden(format!(
            "'{}' may not attach resource guard '{}': only its holders (or an Owner at server \
             scope) may put a vault under it",
            who.display_name(),
            g.name
        )));
    }
    let m = state.catalog.attach_guard(v.id, g.id, state.now()).await?;
    if m.guard_id != g.id {
        return Err(model_err(
            ErrorCode::ResourceGuardAttached,
            "guard",
            format!(
                "vault '{vault}' is already guarded by '{}'; detaching it is a critical operation \
                 that needs an approval",
                m.guard_name
            ),
        ));
    }
    tracing::info!(vault = %v.name, guard = %g.name, "resource guard attached");
    Ok(Json(mapping_dto(&state, &v).await?))
}

/// Detach a vault's resource guard (a critical operation: needs an
/// approval). Records a `mua-disabled` alert.
#[utoipa::path(
    delete, path = "/api/v1/vaults/{vault}/resourceGuard", tag = "security",
    params(VaultPath),
    responses(
        (status = 204, description = "Detached"),
        (status = 403, description = "No usable approval", body = ErrorBody),
        (status = 404, description = "No such vault, or no guard", body = ErrorBody),
    ),
)]
pub async fn detach_guard(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(vault): P<String>,
) -> ApiResult<StatusCode> {
    let v = vaults::find(&state, &vault).await?;
    let Some(m) = state.catalog.vault_guard(v.id).await? else {
        return Err(ApiError::not_found(
            "guard",
            format!("vault '{vault}' has no resource guard"),
        ));
    };
    authorize_critical(&state, &who, &v, CriticalOp::DetachGuard, "").await?;
    state.catalog.detach_guard(v.id, m.guard_id).await?;
    lifeboat_service::protect::alert(
        &state.catalog,
        v.id,
        AlertKind::MuaDisabled,
        None,
        state.now(),
        format!(
            "resource guard '{}' was detached from vault '{}' by '{}': multi-user authorization \
             is off",
            m.guard_name,
            v.name,
            who.display_name()
        ),
        None,
    )
    .await?;
    tracing::warn!(vault = %v.name, guard = %m.guard_name, "resource guard detached");
    Ok(StatusCode::NO_CONTENT)
}
