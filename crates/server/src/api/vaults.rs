//! `/api/v1/vaults`: create (with its store and, for a Recovery Services
//! vault, `DefaultPolicy`), list, show with usage, delete when empty.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::{Extension, Json};
use lifeboat_catalog::{NewVault, Vault};
use lifeboat_model::policy::{DEFAULT_POLICY_NAME, Policy};
use lifeboat_model::vault::{
    RedundancySettings, SecuritySettings, StorageRedundancy, VaultKind, VaultName, VaultSettings,
};
use serde_json::Value;

use crate::api::paths::VaultPath;
use crate::authz::{Op, Principal};
use crate::dto::{CreateVault, VaultDto, VaultDtoExt, VaultList};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, PageQuery, Q, from_value, next_link, page_by_name};
use crate::state::AppState;

/// The vault named in a path, or `NOT_FOUND`.
pub async fn find(state: &AppState, name: &str) -> ApiResult<Vault> {
    Ok(state.catalog.get_vault(name).await?)
}

/// A vault as the API shows it: with its usage and whether a resource
/// guard is attached.
pub async fn vault_dto(state: &AppState, vault: Vault) -> ApiResult<VaultDto> {
    let usage = state.catalog.vault_usage(vault.id).await?;
    let guarded = state.catalog.vault_guard(vault.id).await?.is_some();
    Ok(VaultDto::new(vault, usage).with_mua(guarded))
}

fn parse_kind(kind: &str) -> ApiResult<VaultKind> {
    serde_json::from_value(Value::String(kind.to_owned())).map_err(|_| {
        ApiError::invalid_argument(
            "kind",
            format!("kind must be 'recovery-services' or 'backup' (got {kind:?})"),
        )
    })
}

fn parse_redundancy(r: &str) -> ApiResult<StorageRedundancy> {
    serde_json::from_value(Value::String(r.to_owned())).map_err(|_| {
        ApiError::invalid_argument(
            "storageRedundancy",
            format!(
                "storageRedundancy must be LocallyRedundant, ZoneRedundant, GeoRedundant or \
                 ReadAccessGeoRedundant (got {r:?})"
            ),
        )
    })
}

/// Checks a create request and returns the name and settings.
fn settings_of(req: &CreateVault) -> ApiResult<(VaultName, VaultSettings)> {
    let name = VaultName::parse(&req.name)?;
    let kind = parse_kind(&req.kind)?;
    let mut settings = VaultSettings::new(kind);
    if let Some(props) = &req.properties {
        if !props.is_object() {
            return Err(ApiError::bad_request(
                Some("properties"),
                "properties must be an object",
            ));
        }
        if let Some(sec) = props.get("securitySettings") {
            settings.security_settings = from_value::<SecuritySettings>(
                sec.clone(),
                lifeboat_codes::BAD_REQUEST,
                "properties.securitySettings",
            )?;
        }
        if let Some(red) = props.get("redundancySettings") {
            settings.redundancy_settings = from_value::<RedundancySettings>(
                red.clone(),
                lifeboat_codes::BAD_REQUEST,
                "properties.redundancySettings",
            )?;
        }
    }
    if let Some(r) = &req.storage_redundancy {
        let r = parse_redundancy(r)?;
        let given = req
            .properties
            .as_ref()
            .and_then(|p| p.get("redundancySettings"))
            .is_some();
        if given
            && settings
                .redundancy_settings
                .standard_tier_storage_redundancy
                != r
        {
            return Err(ApiError::invalid_argument(
                "storageRedundancy",
                "storageRedundancy and properties.redundancySettings.standardTierStorageRedundancy disagree",
            ));
        }
        settings
            .redundancy_settings
            .standard_tier_storage_redundancy = r;
        // Report it under the field the client used.
        r.check_supported().map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code(),
                Some("storageRedundancy"),
                e.message(),
            )
        })?;
    }
    settings.validate()?;
    Ok((name, settings))
}

fn redundancy_name(r: StorageRedundancy) -> String {
    match serde_json::to_value(r) {
        Ok(Value::String(s)) => s,
        _ => format!("{r:?}"),
    }
}

/// Create a vault.
///
/// Makes the catalog row and the vault's store; a `recovery-services` vault
/// also gets `DefaultPolicy` (daily at 22:00 in the server's time zone,
/// 30 days, 2 instant-restore days).
#[utoipa::path(
    post, path = "/api/v1/vaults", tag = "vaults",
    request_body = CreateVault,
    responses(
        (status = 201, description = "The new vault", body = VaultDto),
        (status = 400, description = "Invalid name, kind or settings", body = ErrorBody),
        (status = 409, description = "A vault of that name exists", body = ErrorBody),
        (status = 422, description = "Storage redundancy not supported yet", body = ErrorBody),
    ),
)]
pub async fn create_vault(
    State(state): State<AppState>,
    Body(req): Body<CreateVault>,
) -> ApiResult<(StatusCode, Json<VaultDto>)> {
    let (name, settings) = settings_of(&req)?;
    // Azure treats vault names case-insensitively; so does Lifeboat.
    if let Some(v) = state
        .catalog
        .list_vaults()
        .await?
        .into_iter()
        .find(|v| v.name.eq_ignore_ascii_case(name.as_str()))
    {
        return Err(ApiError::conflict(
            "name",
            format!("vault '{}' already exists", v.name),
        ));
    }
    let now = state.now();
    let doc = serde_json::to_value(settings).map_err(|e| {
        ApiError::internal(lifeboat_codes::INTERNAL, format!("vault settings: {e}"))
    })?;
    let vault = state
        .catalog
        .create_vault(&NewVault {
            name: name.as_str().to_owned(),
            kind: req.kind.clone(),
            redundancy: redundancy_name(
                settings
                    .redundancy_settings
                    .standard_tier_storage_redundancy,
            ),
            settings: doc,
            created: now,
        })
        .await?;
    // The row exists first (the store is named by its id); undo it if the
    // store or the default policy cannot be made.
    let undo = |state: AppState, vault: Vault, storage_made: bool| async move {
        if storage_made && let Err(e) = state.storage.remove_async(vault.id).await {
            tracing::error!(vault = %vault.name, error = %e, "could not remove the store of a vault whose creation failed");
        }
        if let Err(e) = state.catalog.delete_vault(vault.id).await {
            tracing::error!(vault = %vault.name, error = %e, "could not remove a vault whose creation failed");
        }
    };
    if let Err(e) = state.storage.create_async(vault.id).await {
        undo(state.clone(), vault, false).await;
        return Err(e.into());
    }
    if settings.kind.has_default_policy() {
        let policy = Policy::default_policy(&state.time_zone);
        let created = match serde_json::to_value(&policy) {
            Ok(doc) => state
                .catalog
                .create_policy(vault.id, DEFAULT_POLICY_NAME, &doc, now)
                .await
                .map_err(ApiError::from),
            Err(e) => Err(ApiError::internal(
                lifeboat_codes::INTERNAL,
                format!("default policy: {e}"),
            )),
        };
        if let Err(e) = created {
            undo(state.clone(), vault, true).await;
            return Err(e);
        }
    }
    tracing::info!(vault = %vault.name, kind = %vault.kind, "vault created");
    let usage = state.catalog.vault_usage(vault.id).await?;
    Ok((StatusCode::CREATED, Json(VaultDto::new(vault, usage))))
}

/// List vaults, by name.
#[utoipa::path(
    get, path = "/api/v1/vaults", tag = "vaults",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of vaults", body = VaultList),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list_vaults(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    uri: Uri,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<VaultList>> {
    // Only the vaults the caller's roles reach.
    let visible = who.visible(Op::VaultRead);
    let mut vaults = state.catalog.list_vaults().await?;
    vaults.retain(|v| visible.contains(v.id));
    let (page, next) = page_by_name(vaults, |v| v.name.as_str(), &q, b'v')?;
    let usages = state.catalog.vault_usages().await?;
    let guarded = state.catalog.guarded_vaults().await?;
    let value = page
        .into_iter()
        .map(|v| {
            let u = usages
                .get(&v.id)
                .copied()
                .unwrap_or(lifeboat_catalog::VaultUsage {
                    items: 0,
                    points: 0,
                    stored_bytes: 0,
                    added_bytes: 0,
                });
            let g = guarded.contains(&v.id);
            VaultDto::new(v, u).with_mua(g)
        })
        .collect();
    Ok(Json(VaultList {
        value,
        next_link: next_link(&uri, next),
    }))
}

/// Show a vault with its usage.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}", tag = "vaults",
    params(VaultPath),
    responses((status = 200, description = "The vault", body = VaultDto)),
)]
pub async fn show_vault(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<VaultDto>> {
    let vault = find(&state, &name).await?;
    Ok(Json(vault_dto(&state, vault).await?))
}

/// Delete a vault.
///
/// Refused with `VAULT_NOT_EMPTY` while it has protected items, recovery
/// points or running jobs: stop protection with `delete-data` first.
#[utoipa::path(
    delete, path = "/api/v1/vaults/{vault}", tag = "vaults",
    params(VaultPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The vault still holds items or points", body = ErrorBody),
    ),
)]
pub async fn delete_vault(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<StatusCode> {
    let vault = find(&state, &name).await?;
    lifeboat_service::ops::delete_vault(
        &state.catalog,
        state.clock.as_ref(),
        &state.storage,
        &vault,
    )
    .await?;
    tracing::info!(vault = %vault.name, "vault deleted");
    Ok(StatusCode::NO_CONTENT)
}
