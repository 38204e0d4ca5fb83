//! Resource guards (`/api/v1/resourceGuards`) and their holders: create,
//! list, show, delete; add and remove members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lifeboat_catalog::{CatalogError, ResourceGuard};
use lifeboat_model::ErrorCode;
use lifeboat_model::mua;

use super::{find_guard, model_err};
use crate::api::paths::GuardPath;
use crate::authz::{Op, Principal, Target};
use crate::dto::{CreateResourceGuard, GuardMemberBody, ResourceGuardDto, ResourceGuardList};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P};
use crate::state::AppState;

use lifeboat_api::mua::MAX_DESCRIPTION;

fn check_guard_name(name: &str) -> ApiResult<()> {
    let ok = (2..=50).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            "name",
            format!(
                "a resource guard name has 2–50 letters, digits and hyphens and starts with a \
                 letter (got {name:?})"
            ),
        ))
    }
}

pub(crate) async fn guard_dto(state: &AppState, g: ResourceGuard) -> ApiResult<ResourceGuardDto> {
    let members = state
        .catalog
        .guard_members(g.id)
        .await?
        .into_iter()
        .map(|m| m.identity_name)
        .collect();
    let mut vaults = Vec::new();
    for v in state.catalog.list_vaults().await? {
        if state
            .catalog
            .vault_guard(v.id)
            .await?
            .is_some_and(|m| m.guard_id == g.id)
        {
            vaults.push(v.name);
        }
    }
    Ok(ResourceGuardDto {
        critical_operations: g.ops(),
        name: g.name,
        owner: g.owner_name,
        description: g.description,
        members,
        vaults,
        created_time: g.created,
    })
}

/// Create a resource guard.
///
/// The caller (or the identity named as `owner`) holds it; holders add
/// others with `POST …/members`.
#[utoipa::path(
    post, path = "/api/v1/resourceGuards", tag = "security",
    request_body = CreateResourceGuard,
    responses(
        (status = 201, description = "The new guard", body = ResourceGuardDto),
        (status = 400, description = "Invalid name, description or operations", body = ErrorBody),
        (status = 404, description = "No such owner identity", body = ErrorBody),
        (status = 409, description = "A guard of that name exists", body = ErrorBody),
    ),
)]
pub async fn create_guard(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateResourceGuard>,
) -> ApiResult<(StatusCode, Json<ResourceGuardDto>)> {
    check_guard_name(&req.name)?;
    let ops = mua::critical_ops(req.critical_operations.as_deref())?;
    let description = req.description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid_argument(
            "description",
            format!("description has at most {MAX_DESCRIPTION} characters"),
        ));
    }
    let owner = match (&req.owner, who.identity_id()) {
        (Some(name), _) => state.catalog.get_identity(name).await?.id,
        (None, Some(id)) => id,
        (None, None) => {
            return Err(ApiError::invalid_argument(
                "owner",
                "this token has no identity: name the guard's owner",
            ));
        }
    };
    let names: Vec<String> = ops.iter().map(|o| o.as_str().to_owned()).collect();
    let g = state
        .catalog
        .create_guard(&req.name, owner, &description, &names, state.now())
        .await?;
    tracing::info!(guard = %g.name, owner = %g.owner_name, "resource guard created");
    Ok((StatusCode::CREATED, Json(guard_dto(&state, g).await?)))
}

/// List resource guards: those the caller holds (every guard for an
/// Owner at server scope).
#[utoipa::path(
    get, path = "/api/v1/resourceGuards", tag = "security",
    responses((status = 200, description = "The guards", body = ResourceGuardList)),
)]
pub async fn list_guards(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<ResourceGuardList>> {
    let all = who.may(Op::GuardRead, Target::Server);
    let mut value = Vec::new();
    for g in state.catalog.list_guards().await? {
        let holds = match who.identity_id() {
            Some(id) => state.catalog.is_guard_holder(g.id, id).await?,
            None => false,
        };
        if all || holds {
            value.push(guard_dto(&state, g).await?);
        }
    }
    Ok(Json(ResourceGuardList {
        value,
        next_link: None,
    }))
}

/// Show a resource guard.
#[utoipa::path(
    get, path = "/api/v1/resourceGuards/{guard}", tag = "security",
    params(GuardPath),
    responses((status = 200, description = "The guard", body = ResourceGuardDto)),
)]
pub async fn show_guard(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<ResourceGuardDto>> {
    let g = find_guard(&state, &name).await?;
    Ok(Json(guard_dto(&state, g).await?))
}

/// Delete a resource guard; refused with `RESOURCE_GUARD_IN_USE` while a
/// vault uses it.
#[utoipa::path(
    delete, path = "/api/v1/resourceGuards/{guard}", tag = "security",
    params(GuardPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "A vault uses it", body = ErrorBody),
    ),
)]
pub async fn delete_guard(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<StatusCode> {
    let g = find_guard(&state, &name).await?;
    match state.catalog.delete_guard(g.id).await {
        Ok(()) => {}
        Err(CatalogError::InUse { detail, .. }) => {
            return Err(model_err(
                ErrorCode::ResourceGuardInUse,
                "guard",
                format!(
                    "resource guard '{name}' cannot be deleted while {detail}; detach it from \
                     them first (a critical operation)"
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(guard = %name, "resource guard deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Add a holder to a resource guard.
#[utoipa::path(
    post, path = "/api/v1/resourceGuards/{guard}/members", tag = "security",
    params(GuardPath),
    request_body = GuardMemberBody,
    responses(
        (status = 200, description = "The guard", body = ResourceGuardDto),
        (status = 404, description = "No such guard or identity", body = ErrorBody),
        (status = 409, description = "Already a holder", body = ErrorBody),
    ),
)]
pub async fn add_member(
    State(state): State<AppState>,
    P(name): P<String>,
    Body(req): Body<GuardMemberBody>,
) -> ApiResult<Json<ResourceGuardDto>> {
    let g = find_guard(&state, &name).await?;
    let id = state.catalog.get_identity(&req.identity).await?.id;
    if id == g.owner_id {
        return Err(ApiError::conflict(
            "identity",
            format!("'{}' owns resource guard '{name}'", req.identity),
        ));
    }
    state
        .catalog
        .add_guard_member(g.id, id, state.now())
        .await
        .map_err(|e| match e {
            CatalogError::Conflict { .. } => ApiError::conflict(
                "identity",
                format!("'{}' already holds resource guard '{name}'", req.identity),
            ),
            e => e.into(),
        })?;
    tracing::info!(guard = %name, identity = %req.identity, "resource guard holder added");
    Ok(Json(guard_dto(&state, g).await?))
}

/// Remove a holder from a resource guard (never its owner).
#[utoipa::path(
    delete, path = "/api/v1/resourceGuards/{guard}/members/{identity}", tag = "security",
    params(
        ("guard" = String, Path, description = "Guard name"),
        ("identity" = String, Path, description = "Identity name"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The owner cannot be removed", body = ErrorBody),
        (status = 404, description = "No such guard or holder", body = ErrorBody),
    ),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    P((name, identity)): P<(String, String)>,
) -> ApiResult<StatusCode> {
    let g = find_guard(&state, &name).await?;
    let id = state.catalog.get_identity(&identity).await?.id;
    if id == g.owner_id {
        return Err(ApiError::invalid_argument(
            "identity",
            format!("'{identity}' owns resource guard '{name}' and stays a holder"),
        ));
    }
    state.catalog.remove_guard_member(g.id, id).await?;
    tracing::info!(guard = %name, %identity, "resource guard holder removed");
    Ok(StatusCode::NO_CONTENT)
}
