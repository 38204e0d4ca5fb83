//! `/api/v1/vaults/{vault}/items`: enable protection, list, show, on-demand
//! backup, stop / resume protection, change policy. State changes go
//! through the model's item state machine ([`crate::ops`]).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use lifeboat_catalog::{Item, NewItem};
use lifeboat_model::item::{HealthStatus, ProtectionState, StopMode, WorkloadKind};
use lifeboat_model::mua::CriticalOp;
use lifeboat_model::source::Source;
use lifeboat_model::vault::VaultKind;
use serde_json::Value;

use crate::api::paths::{VaultItemPath, VaultPath};
use crate::api::vaults;
use crate::dto::{
    BackupNow, EnableProtection, ItemDto, ItemDtoExt, ItemList, JobDto, PolicyRef, StopProtection,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, PageExt, PageQuery, Q, next_link};
use crate::ops::{self, StopOutcome};
use crate::state::AppState;

/// Longest item name.
pub const MAX_ITEM_NAME: usize = 100;

/// Item names go in URL paths: 1–100 letters, digits, `-`, `_`, `.`.
pub fn check_item_name(name: &str) -> ApiResult<()> {
    let ok = (1..=MAX_ITEM_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            "name",
            format!(
                "item name {name:?} is invalid: use 1 to {MAX_ITEM_NAME} letters, digits, '-', '_' \
                 or '.', not starting with '.'"
            ),
        ))
    }
}

/// The default item name for a source: `/srv/data` → `srv-data`.
pub fn default_item_name(source: &str) -> String {
    let trimmed = source.trim_matches('/');
    if trimmed.is_empty() {
        return "root".into();
    }
    let mut name: String = trimmed
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            _ => '_',
        })
        .collect();
    if name.starts_with('.') {
        name.insert(0, '_');
    }
    if name.len() > MAX_ITEM_NAME {
        // Keep the end: it is the part that tells sources apart.
        name = name[name.len() - MAX_ITEM_NAME..]
            .trim_start_matches('.')
            .to_owned();
    }
    name
}

/// Checks a source with its workload (absolute, existing, of the right
/// kind) and returns it in its normal form (no trailing slash).
pub async fn check_source(source: &str, workload: WorkloadKind) -> ApiResult<Source> {
    checked(Source::new(workload, source)).await
}

/// [`check_source`] for a typed source: its workload checks it.
async fn checked(source: Source) -> ApiResult<Source> {
    tokio::task::spawn_blocking(move || {
        lifeboat_workloads::for_source(&source).check_source(&source)
    })
    .await
    .map_err(|e| {
        ApiError::internal(
            lifeboat_codes::INTERNAL,
            format!("checking the source: {e}"),
        )
    })?
    .map_err(ApiError::from)
}

/// The item named in a path, with its vault, or `NOT_FOUND`.
pub async fn find(
    state: &AppState,
    vault: &str,
    item: &str,
) -> ApiResult<(lifeboat_catalog::Vault, Item)> {
    let v = vaults::find(state, vault).await?;
    let i = state.catalog.get_item(v.id, item).await?;
    Ok((v, i))
}

/// A job answer: `202 Accepted`, `Location: /api/v1/jobs/{id}`, the job.
pub fn accepted(job: JobDto) -> Response {
    let location = format!("/api/v1/jobs/{}", job.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(job),
    )
        .into_response()
}

/// Enable protection of a folder, file or disk image.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items", tag = "items",
    params(VaultPath),
    request_body = EnableProtection,
    responses(
        (status = 201, description = "The protected item", body = ItemDto),
        (status = 400, description = "Invalid name, workload or source", body = ErrorBody),
        (status = 404, description = "No such vault or policy", body = ErrorBody),
        (status = 409, description = "The name or source is already protected", body = ErrorBody),
    ),
)]
pub async fn enable_protection(
    State(state): State<AppState>,
    P(vault): P<String>,
    Body(req): Body<EnableProtection>,
) -> ApiResult<(StatusCode, Json<ItemDto>)> {
    let vault = vaults::find(&state, &vault).await?;
    let source = req.source()?;
    let kind: VaultKind =
        serde_json::from_value(Value::String(vault.kind.clone())).map_err(|_| {
            ApiError::internal(
                lifeboat_codes::INTERNAL,
                format!("vault kind '{}'", vault.kind),
            )
        })?;
    if !kind.accepts(source.kind()) {
        return Err(ApiError::invalid_argument(
            "workload",
            format!(
                "a '{}' vault does not take '{}' items; use a recovery-services vault",
                vault.kind,
                source.kind()
            ),
        ));
    }
    let source = checked(source).await?;
    let name = match &req.name {
        Some(n) => n.clone(),
        None => default_item_name(&source.path().to_string_lossy()),
    };
    check_item_name(&name)?;
    let policy = state
        .catalog
        .get_policy(vault.id, &req.policy)
        .await
        .map_err(ApiError::from)?;
    if let Some(other) = state.catalog.find_item_by_source(vault.id, &source).await? {
        return Err(ApiError::conflict(
            "source",
            format!(
                "{:?} is already protected in vault '{}' as item '{}'",
                source.path().display().to_string(),
                vault.name,
                other.name
            ),
        ));
    }
    let now = state.now();
    let next_run = ops::next_run(&policy, now)?;
    let item = state
        .catalog
        .create_item(&NewItem {
            vault_id: vault.id,
            name,
            source,
            policy_name: Some(policy.name.clone()),
            state: ProtectionState::Protected,
            health: HealthStatus::Passed,
            settings: Value::Object(Default::default()),
            next_run,
            created: now,
        })
        .await?;
    state.service.wake();
    tracing::info!(vault = %vault.name, item = %item.name, source = %item.source.path().display(), policy = %policy.name, "protection enabled");
    Ok((StatusCode::CREATED, Json(ItemDto::new(item, &vault.name))))
}

/// List a vault's protected items, by name.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/items", tag = "items",
    params(VaultPath, PageQuery),
    responses((status = 200, description = "A page of items", body = ItemList)),
)]
pub async fn list_items(
    State(state): State<AppState>,
    uri: Uri,
    P(vault): P<String>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<ItemList>> {
    let vault = vaults::find(&state, &vault).await?;
    let page = state.catalog.list_items(vault.id, &q.page()?).await?;
    Ok(Json(ItemList {
        value: page
            .items
            .into_iter()
            .map(|i| ItemDto::new(i, &vault.name))
            .collect(),
        next_link: next_link(&uri, page.next_cursor),
    }))
}

/// Show a protected item.
#[utoipa::path(
    get, path = "/api/v1/vaults/{vault}/items/{item}", tag = "items",
    params(VaultItemPath),
    responses((status = 200, description = "The item", body = ItemDto)),
)]
pub async fn show_item(
    State(state): State<AppState>,
    P((vault, item)): P<(String, String)>,
) -> ApiResult<Json<ItemDto>> {
    let (v, i) = find(&state, &vault, &item).await?;
    Ok(Json(ItemDto::new(i, &v.name)))
}

/// Back up now (on demand).
///
/// The point is kept until `retainUntil` (default 30 days), whatever the
/// policy says.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/backup", tag = "items",
    params(VaultItemPath),
    request_body(content = BackupNow, description = "Optional; an empty body takes the defaults"),
    responses(
        (status = 202, description = "The queued backup job", body = JobDto),
        (status = 400, description = "retainUntil out of range", body = ErrorBody),
        (status = 409, description = "Protection is stopped", body = ErrorBody),
    ),
)]
pub async fn backup_now(
    State(state): State<AppState>,
    P((vault, item)): P<(String, String)>,
    Body(req): Body<BackupNow>,
) -> ApiResult<Response> {
    let (v, i) = find(&state, &vault, &item).await?;
    let job = ops::backup_now(&state, &v, &i, req.retain_until).await?;
    Ok(accepted(job))
}

/// Stop protection.
///
/// `retain-data` keeps every point forever (`ProtectionStopped`);
/// `retain-as-per-policy` lets points expire but keeps the latest
/// (`BackupsSuspended`); `delete-data` queues a job that deletes every
/// point and then the item (answered with `202` and the job).
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/stop", tag = "items",
    params(VaultItemPath),
    request_body = StopProtection,
    responses(
        (status = 200, description = "The item, protection stopped", body = ItemDto),
        (status = 202, description = "delete-data: the queued job", body = JobDto),
        (status = 400, description = "Unknown mode", body = ErrorBody),
        (status = 409, description = "The item's state does not allow it", body = ErrorBody),
    ),
)]
pub async fn stop_protection(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<crate::authz::Principal>,
    P((vault, item)): P<(String, String)>,
    Body(req): Body<StopProtection>,
) -> ApiResult<Response> {
    let mode: StopMode = serde_json::from_value(Value::String(req.mode.clone())).map_err(|_| {
        ApiError::invalid_argument(
            "mode",
            format!(
                "mode must be 'retain-data', 'retain-as-per-policy' or 'delete-data' (got {:?})",
                req.mode
            ),
        )
    })?;
    let (v, i) = find(&state, &vault, &item).await?;
    if mode == StopMode::DeleteData {
        // Its own checks first, so a refused stop does not use an approval.
        lifeboat_service::mua::precheck_stop_with_delete(&state.catalog, state.clock.as_ref(), &i)
            .await?;
        crate::api::mua::authorize_critical(
            &state,
            &who,
            &v,
            CriticalOp::StopProtectionDeleteData,
            &i.name,
        )
        .await?;
    }
    match ops::stop(&state, &v, &i, mode).await? {
        StopOutcome::Stopped(item) => Ok(Json(ItemDto::new(item, &v.name)).into_response()),
        StopOutcome::Deleting(job) => Ok(accepted(job)),
    }
}

/// Resume protection with a policy.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/resume", tag = "items",
    params(VaultItemPath),
    request_body = PolicyRef,
    responses(
        (status = 200, description = "The item, protected again", body = ItemDto),
        (status = 404, description = "No such vault, item or policy", body = ErrorBody),
        (status = 409, description = "The item is not stopped", body = ErrorBody),
    ),
)]
pub async fn resume_protection(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<crate::authz::Principal>,
    P((vault, item)): P<(String, String)>,
    Body(req): Body<PolicyRef>,
) -> ApiResult<Json<ItemDto>> {
    let (v, i) = find(&state, &vault, &item).await?;
    if lifeboat_service::mua::precheck_resume(&state.catalog, state.clock.as_ref(), &i, &req.policy)
        .await?
    {
        crate::api::mua::authorize_critical(&state, &who, &v, CriticalOp::ReduceRetention, &i.name)
            .await?;
    }
    let item = ops::resume(&state, &v, &i, &req.policy).await?;
    Ok(Json(ItemDto::new(item, &v.name)))
}

/// Change an item's policy (its points are re-tagged).
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/items/{item}/policy", tag = "items",
    params(VaultItemPath),
    request_body = PolicyRef,
    responses(
        (status = 200, description = "The item on its new policy", body = ItemDto),
        (status = 404, description = "No such vault, item or policy", body = ErrorBody),
        (status = 409, description = "Protection is stopped: resume instead", body = ErrorBody),
    ),
)]
pub async fn change_policy(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<crate::authz::Principal>,
    P((vault, item)): P<(String, String)>,
    Body(req): Body<PolicyRef>,
) -> ApiResult<Json<ItemDto>> {
    let (v, i) = find(&state, &vault, &item).await?;
    if lifeboat_service::mua::precheck_policy_change(&state.catalog, &i, &req.policy).await? {
        crate::api::mua::authorize_critical(&state, &who, &v, CriticalOp::ReduceRetention, &i.name)
            .await?;
    }
    let item = ops::change_policy(&state, &v, &i, &req.policy).await?;
    Ok(Json(ItemDto::new(item, &v.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(default_item_name("/srv/data"), "srv-data");
        assert_eq!(default_item_name("/srv/data/"), "srv-data");
        assert_eq!(default_item_name("/"), "root");
        assert_eq!(default_item_name("/home/ann/my files"), "home-ann-my_files");
        assert_eq!(default_item_name("/.hidden"), "_.hidden");
        let long = format!("/{}", "d/".repeat(80));
        let n = default_item_name(&long);
        assert!(n.len() <= MAX_ITEM_NAME);
        assert!(check_item_name(&n).is_ok(), "{n}");
        for s in ["/srv/data", "/", "/a b/c", "/.x"] {
            assert!(check_item_name(&default_item_name(s)).is_ok(), "{s}");
        }
    }

    #[test]
    fn item_names() {
        assert!(check_item_name("srv-data").is_ok());
        assert!(check_item_name("").is_err());
        assert!(check_item_name("a/b").is_err());
        assert!(check_item_name("..").is_err());
    }

    #[tokio::test]
    async fn sources_must_be_absolute_and_exist() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        let folder = Source::Path {
            path: d.clone().into(),
        };
        assert_eq!(check_source(&d, WorkloadKind::Path).await.unwrap(), folder);
        assert_eq!(
            check_source(&format!("{d}/"), WorkloadKind::Path)
                .await
                .unwrap(),
            folder
        );
        let e = check_source("relative/x", WorkloadKind::Path)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.target.as_deref()),
            ("INVALID_ARGUMENT", Some("source"))
        );
        let e = check_source(&format!("{d}/missing"), WorkloadKind::Path)
            .await
            .unwrap_err();
        assert_eq!(e.code, "SOURCE_NOT_FOUND");
        let e = check_source(&d, WorkloadKind::Disk).await.unwrap_err();
        assert_eq!(e.code, "INVALID_ARGUMENT");
        let f = dir.path().join("disk.raw");
        std::fs::write(&f, [0u8; 512]).unwrap();
        assert!(
            check_source(f.to_str().unwrap(), WorkloadKind::Disk)
                .await
                .is_ok()
        );
        let e = check_source(&format!("{d}/../x"), WorkloadKind::Path)
            .await
            .unwrap_err();
        assert_eq!(e.code, "INVALID_ARGUMENT");
    }
}
