//! Soft delete and immutable vaults (docs/security.md): the vault's
//! security settings (`PATCH /api/v1/vaults/{vault}`), its alerts,
//! undeleting an item, and soft-deleted vaults (`/api/v1/deleted-vaults`).
//! The rules are the model's and the service's (`lifeboat_service::protect`).

use axum::extract::State;
use axum::http::Uri;
use axum::{Extension, Json};
use lifeboat_model::vault::{ImmutabilityState, SoftDeleteState};
use lifeboat_service::protect::{self, SecurityUpdate};
use serde::Deserialize;
use serde_json::Value;

use crate::api::paths::{VaultItemPath, VaultPath};
use crate::api::{items, mua, vaults};
use crate::authz::Principal;
use crate::dto::{
    AlertDto, AlertList, AlertQuery, ItemDto, ItemDtoExt, UpdateVault, VaultDto, VaultList,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, PageQuery, Q, next_link, page_by_name};
use crate::state::AppState;

fn parse_enum<T: for<'de> Deserialize<'de>>(v: &str, target: &str, allowed: &str) -> ApiResult<T> {
    serde_json::from_value(Value::String(v.to_owned())).map_err(|_| {
        ApiError::invalid_argument(target, format!("{target} must be {allowed} (got {v:?})"))
    })
}

/// Update a vault's security settings.
///
/// Soft delete: `Enabled` / `Disabled` / `AlwaysON` (never leaves
/// `AlwaysON`: `SOFT_DELETE_ALWAYS_ON`), retention 14–180 days for later
/// deletes. Immutability: `Disabled` → `Unlocked` → `Locked`; `Unlocked`
/// can go back, `Locked` never changes (`IMMUTABILITY_LOCKED`) and is
/// reached only from `Unlocked` (`IMMUTABILITY_NOT_UNLOCKED`). Locking
/// also locks the vault's store. Turning soft delete off records a
/// `soft-delete-disabled` alert.
#[utoipa::path(
    patch, path = "/api/v1/vaults/{vault}", tag = "vaults",
    params(VaultPath),
    request_body = UpdateVault,
    responses(
        (status = 200, description = "The vault as updated", body = VaultDto),
        (status = 400, description = "Unknown value or days out of range", body = ErrorBody),
        (status = 409, description = "An irreversible setting would be undone", body = ErrorBody),
    ),
)]
pub async fn update_vault(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
    Body(req): Body<UpdateVault>,
) -> ApiResult<Json<VaultDto>> {
    let vault = vaults::find(&state, &name).await?;
    let upd = SecurityUpdate {
        soft_delete_state: req
            .soft_delete_state
            .as_deref()
            .map(|s| {
                parse_enum::<SoftDeleteState>(s, "softDeleteState", "Enabled, Disabled or AlwaysON")
            })
            .transpose()?,
        soft_delete_retention_period_in_days: req.soft_delete_retention_period_in_days,
        immutability_state: req
            .immutability_state
            .as_deref()
            .map(|s| {
                parse_enum::<ImmutabilityState>(
                    s,
                    "immutabilityState",
                    "Disabled, Unlocked or Locked",
                )
            })
            .transpose()?,
    };
    // Multi-user authorization: disabling soft delete or immutability on a
    // guarded vault uses an approval (after the change's own checks).
    for op in lifeboat_service::mua::security_ops(&vault, &upd)? {
        mua::authorize_critical(&state, &who, &vault, op, "").await?;
    }
    let updated = protect::update_security(
        &state.catalog,
        state.clock.as_ref(),
        &state.storage,
        &vault,
        &upd,
    )
    .await?;
    tracing::info!(vault = %vault.name, settings = ?upd, "vault security settings updated");
    Ok(Json(vaults::vault_dto(&state, updated).await?))
}

/// List a vault's security alerts, newest first.
///
/// `delete-backup-data` (stop protection with delete-data), `upcoming-purge`
/// (2 days before a soft-deleted item is purged), `purge-complete`,
/// `soft-delete-disabled`.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/alerts", tag = "vaults",
    params(VaultPath, AlertQuery),
    responses((status = 200, description = "The alerts", body = AlertList)),
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    P(name): P<String>,
    Q(q): Q<AlertQuery>,
) -> ApiResult<Json<AlertList>> {
    let vault = vaults::find(&state, &name).await?;
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let rows = state
        .catalog
        .list_alerts(vault.id, q.kind.as_deref(), limit)
        .await?;
    Ok(Json(AlertList {
        value: rows
            .into_iter()
            .map(|a| AlertDto {
                id: a.id,
                vault: vault.name.clone(),
                kind: a.kind,
                item: a.item_name,
                time: a.time,
                message: a.message,
            })
            .collect(),
        next_link: None,
    }))
}

/// Undelete a soft-deleted item.
///
/// The item comes back as `ProtectionStopped` with every point kept;
/// resume it with a policy (`POST …/resume`) to take backups again.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/undelete", tag = "items",
    params(VaultItemPath),
    responses(
        (status = 200, description = "The item, protection stopped", body = ItemDto),
        (status = 409, description = "The item is not soft-deleted", body = ErrorBody),
    ),
)]
pub async fn undelete_item(
    State(state): State<AppState>,
    P((vault, item)): P<(String, String)>,
) -> ApiResult<Json<ItemDto>> {
    let (v, i) = items::find(&state, &vault, &item).await?;
    let i = protect::undelete_item(&state.catalog, state.clock.as_ref(), &i).await?;
    tracing::info!(vault = %v.name, item = %i.name, "item undeleted");
    Ok(Json(ItemDto::new(i, &v.name)))
}

/// List soft-deleted vaults.
///
/// A vault that holds only soft-deleted items is soft-deleted by
/// `DELETE /api/v1/vaults/{vault}`; it is purged with its last item.
#[utoipa::path(
    get, path = "/api/v1/deleted-vaults", tag = "vaults",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of soft-deleted vaults", body = VaultList),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list_deleted_vaults(
    State(state): State<AppState>,
    uri: Uri,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<VaultList>> {
    let vaults = state.catalog.list_deleted_vaults().await?;
    let (page, next) = page_by_name(vaults, |v| v.name.as_str(), &q, b'd')?;
    let mut value = Vec::with_capacity(page.len());
    for v in page {
        value.push(vaults::vault_dto(&state, v).await?);
    }
    Ok(Json(VaultList {
        value,
        next_link: next_link(&uri, next),
    }))
}

/// Show a soft-deleted vault.
#[utoipa::path(
    get, path = "/api/v1/deleted-vaults/{vault}", tag = "vaults",
    params(VaultPath),
    responses(
        (status = 200, description = "The soft-deleted vault", body = VaultDto),
        (status = 404, description = "No soft-deleted vault of that name", body = ErrorBody),
    ),
)]
pub async fn show_deleted_vault(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<VaultDto>> {
    let v = state.catalog.get_deleted_vault(&name).await?;
    Ok(Json(vaults::vault_dto(&state, v).await?))
}

/// Undelete a soft-deleted vault.
///
/// The vault is back; its items stay soft-deleted until each is undeleted.
#[utoipa::path(
    post, path = "/api/v1/deleted-vaults/{vault}/undelete", tag = "vaults",
    params(VaultPath),
    responses(
        (status = 200, description = "The vault", body = VaultDto),
        (status = 404, description = "No soft-deleted vault of that name", body = ErrorBody),
    ),
)]
pub async fn undelete_vault(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<VaultDto>> {
    let v = state.catalog.get_deleted_vault(&name).await?;
    let v = protect::undelete_vault(&state.catalog, &v).await?;
    tracing::info!(vault = %v.name, "vault undeleted");
    Ok(Json(vaults::vault_dto(&state, v).await?))
}
