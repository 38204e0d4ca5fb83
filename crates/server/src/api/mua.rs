//! Multi-user authorization (docs/security.md, "Multi-user
//! authorization"): resource guards (`/api/v1/resourceGuards`), the vault
//! → guard mapping (`/api/v1/vaults/{vault}/resourceGuard`), approval
//! requests, and [`authorize_critical`], which every critical operation's
//! handler calls after its own checks and before it changes anything.
//!
//! Who may do what: creating a guard needs Owner at server scope; a
//! guard's own routes are for its holders (its owner and the members they
//! add; `authz::At::Guard`), reading one also for server-scope Owners.
//! Attaching a guard needs Owner on the vault *and* being able to read
//! the guard: holding it, or Owner at server scope (as Azure wants Reader
//! on the guard: nobody puts a vault under the guard of people they cannot
//! see). Asking for an approval needs a Contributor role on the vault;
//! deciding a request, holding the guard and not being its requester.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use lifeboat_catalog::{
    CatalogError, MuaRequest, MuaRequestId, NewMuaRequest, ResourceGuard, Vault, mua_state,
};
use lifeboat_model::guard::AlertKind;
use lifeboat_model::mua::{self, Action, CriticalOp, RequestState};
use lifeboat_model::{ErrorCode, ModelError};
use lifeboat_service::mua as svc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::vaults;
use crate::audit;
use crate::authz::{Op, Principal, Target};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, Q};
use crate::state::AppState;

/// The longest guard description.
const MAX_DESCRIPTION: usize = 1000;

// ------------------------------------------------------------------ shapes

/// `POST /api/v1/resourceGuards`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateResourceGuard {
    /// 2–50 letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// The identity that owns (and first holds) the guard; default the
    /// caller. An Owner can make a guard for a separate security admin.
    pub owner: Option<String>,
    pub description: Option<String>,
    /// The operations it protects (default all five);
    /// `disable-soft-delete` and `detach-guard` are mandatory.
    pub critical_operations: Option<Vec<String>>,
}

/// A resource guard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGuardDto {
    pub name: String,
    pub owner: String,
    pub description: String,
    pub critical_operations: Vec<String>,
    /// Holders besides the owner.
    pub members: Vec<String>,
    /// The vaults it guards.
    pub vaults: Vec<String>,
    pub created_time: DateTime<Utc>,
}

/// `{value: [guards]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGuardList {
    pub value: Vec<ResourceGuardDto>,
    pub next_link: Option<String>,
}

/// `POST /api/v1/resourceGuards/{guard}/members`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardMemberBody {
    /// The identity's name.
    pub identity: String,
}

/// `PUT /api/v1/vaults/{vault}/resourceGuard`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachGuard {
    pub guard_name: String,
}

/// A vault's resource guard mapping.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultGuardDto {
    pub vault: String,
    /// `null`: no guard.
    pub guard: Option<String>,
    /// `Enabled` with a guard, else `Disabled`.
    pub multi_user_authorization: String,
    pub attached_time: Option<DateTime<Utc>>,
    /// The operations that need an approval.
    pub critical_operations: Vec<String>,
}

/// `POST /api/v1/vaults/{vault}/resourceGuard/requests`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMuaRequest {
    /// `disable-soft-delete`, `reduce-retention`,
    /// `stop-protection-delete-data`, `disable-immutability`,
    /// `detach-guard`.
    pub operation: String,
    /// The item (stop with delete-data, policy change, resume) or policy
    /// (policy edit); none for vault-level operations.
    pub target: Option<String>,
}

/// `POST …/requests/{id}/approve`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// How long the approval may be used, 1–1440 minutes (default 60).
    pub valid_for_minutes: Option<i64>,
}

/// An approval request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuaRequestDto {
    pub id: i64,
    pub guard: String,
    pub vault: String,
    pub operation: String,
    pub target: String,
    pub requester: String,
    /// `Pending`, `Approved`, `Used`, `Rejected` or `Expired` (as of now).
    pub status: String,
    pub requested_time: DateTime<Utc>,
    /// When the pending request lapses, or the approval does.
    pub expires_time: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_time: Option<DateTime<Utc>>,
    pub used_time: Option<DateTime<Utc>>,
}

impl MuaRequestDto {
    fn new(r: MuaRequest, now: DateTime<Utc>) -> Self {
        let status = match RequestState::parse(&r.state) {
            Ok(s) => mua::effective_state(s, r.expires_at, now)
                .as_str()
                .to_owned(),
            Err(_) => r.state.clone(),
        };
        MuaRequestDto {
            id: r.id.0,
            guard: r.guard_name,
            vault: r.vault_name,
            operation: r.operation,
            target: r.target,
            requester: r.requester_name,
            status,
            requested_time: r.requested,
            expires_time: r.expires_at,
            decided_by: r.decided_by_name,
            decided_time: r.decided,
            used_time: r.used,
        }
    }
}

/// `{value: [requests]}`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuaRequestList {
    pub value: Vec<MuaRequestDto>,
    pub next_link: Option<String>,
}

/// `?status=` of the request list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Only requests in this state (as of now).
    pub status: Option<String>,
}

// ---------------------------------------------------------------- helpers

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

async fn guard_dto(state: &AppState, g: ResourceGuard) -> ApiResult<ResourceGuardDto> {
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

fn who_of(p: &Principal) -> (&str, Option<i64>) {
    (p.display_name(), Some(p.token_id.0))
}

fn request_path(r: &MuaRequest) -> String {
    format!("/api/v1/resourceGuards/{}/requests/{}", r.guard_name, r.id)
}

/// Marks requests past their expiry as `Expired`, each with an audit row
/// (`mua.approval_expired` for an approval, `mua.request_expired` for a
/// request never decided). Expiry itself never waits for this: every
/// check compares `expires_at` with the clock.
pub async fn sweep_expired(state: &AppState) -> ApiResult<()> {
    for r in state.catalog.expire_mua_requests(state.now()).await? {
        let op = if r.decided.is_some() {
            "mua.approval_expired"
        } else {
            "mua.request_expired"
        };
        tracing::info!(request = r.id.0, vault = %r.vault_name, operation = %r.operation, "{op}");
        audit::event(state, (audit::SYSTEM, None), op, &request_path(&r)).await?;
    }
    Ok(())
}

/// The MUA check of a critical operation, called after the operation's
/// own checks and before it changes anything: when the vault's guard
/// protects `op`, uses the caller's approval for `op` on `target` (single
/// use) and records `mua.approval_used`; refuses with
/// `MUA_APPROVAL_REQUIRED` or `MUA_APPROVAL_EXPIRED` otherwise.
pub async fn authorize_critical(
    state: &AppState,
    who: &Principal,
    vault: &Vault,
    op: CriticalOp,
    target: &str,
) -> ApiResult<()> {
    sweep_expired(state).await?;
    let used = svc::require_approval(
        &state.catalog,
        state.clock.as_ref(),
        vault,
        who.identity_id(),
        op,
        target,
    )
    .await;
    let used = match used {
        Ok(u) => u,
        Err(e) => {
            tracing::info!(vault = %vault.name, operation = %op, target, principal = %who.display_name(), error = %e, "critical operation refused");
            return Err(e.into());
        }
    };
    if let Some(id) = used {
        let r = state.catalog.get_mua_request(id).await?;
        tracing::info!(request = id.0, vault = %vault.name, operation = %op, target, principal = %who.display_name(), "approval used");
        audit::event(state, who_of(who), "mua.approval_used", &request_path(&r)).await?;
    }
    Ok(())
}

/// The guard `{guard}` (the middleware checked the caller holds it).
async fn find_guard(state: &AppState, name: &str) -> ApiResult<ResourceGuard> {
    Ok(state.catalog.get_guard(name).await?)
}

/// A request of `guard` by id (`NOT_FOUND` for another guard's).
async fn find_request(state: &AppState, guard: &ResourceGuard, id: i64) -> ApiResult<MuaRequest> {
    match state.catalog.get_mua_request(MuaRequestId(id)).await {
        Ok(r) if r.guard_id == guard.id => Ok(r),
        Ok(_) | Err(CatalogError::NotFound { .. }) => Err(ApiError::not_found(
            "request",
            format!("resource guard '{}' has no request {id}", guard.name),
        )),
        Err(e) => Err(e.into()),
    }
}

fn model_err(code: ErrorCode, target: &str, message: String) -> ApiError {
    ModelError::new(code, target, message).into()
}

// ----------------------------------------------------------------- guards

/// Create a resource guard.
///
/// The caller (or the identity named as `owner`) holds it; holders add
/// others with `POST …/members`.
#[utoipa::path(
    post, path = "/api/v1/resourceGuards", tag = "security",
    request_body = CreateResourceGuard,
    responses(
        (status = 201, description = "The new guard", body = ResourceGuardDto),
        (status = 400, description = "Invalid name or operations", body = ErrorBody),
        (status = 409, description = "A guard of that name exists", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    security(("bearer" = []))
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
    params(("guard" = String, Path, description = "Guard name")),
    responses(
        (status = 200, description = "The guard", body = ResourceGuardDto),
        (status = 404, description = "No such guard", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    params(("guard" = String, Path, description = "Guard name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such guard", body = ErrorBody),
        (status = 409, description = "A vault uses it", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    params(("guard" = String, Path, description = "Guard name")),
    request_body = GuardMemberBody,
    responses(
        (status = 200, description = "The guard", body = ResourceGuardDto),
        (status = 404, description = "No such guard or identity", body = ErrorBody),
        (status = 409, description = "Already a holder", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    security(("bearer" = []))
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

// --------------------------------------------------------------- requests

/// List a guard's approval requests, newest first.
#[utoipa::path(
    get, path = "/api/v1/resourceGuards/{guard}/requests", tag = "security",
    params(("guard" = String, Path, description = "Guard name"), RequestQuery),
    responses(
        (status = 200, description = "The requests", body = MuaRequestList),
        (status = 400, description = "Unknown status", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_requests(
    State(state): State<AppState>,
    P(name): P<String>,
    Q(q): Q<RequestQuery>,
) -> ApiResult<Json<MuaRequestList>> {
    let g = find_guard(&state, &name).await?;
    let want = q.status.as_deref().map(RequestState::parse).transpose()?;
    sweep_expired(&state).await?;
    let now = state.now();
    let value = state
        .catalog
        .list_mua_requests(g.id, None)
        .await?
        .into_iter()
        .map(|r| MuaRequestDto::new(r, now))
        .filter(|r| want.is_none_or(|w| r.status == w.as_str()))
        .collect();
    Ok(Json(MuaRequestList {
        value,
        next_link: None,
    }))
}

async fn decide(
    state: &AppState,
    who: &Principal,
    guard: &str,
    id: i64,
    action: Action,
    minutes: Option<i64>,
) -> ApiResult<MuaRequestDto> {
    let g = find_guard(state, guard).await?;
    let r = find_request(state, &g, id).await?;
    let Some(me) = who.identity_id() else {
        return Err(ApiError::forbidden(
            "a token without an identity cannot decide requests",
        ));
    };
    mua::check_decider(r.requester_id.0, me.0)?;
    let now = state.now();
    let stored = RequestState::parse(&r.state)?;
    mua::apply(stored, r.expires_at, now, action)?;
    let (to, expires) = match action {
        Action::Approve => (
            mua_state::APPROVED,
            Some(mua::approval_expiry(now, minutes)?),
        ),
        _ => (mua_state::REJECTED, None),
    };
    if !state
        .catalog
        .decide_mua_request(r.id, to, me, now, expires)
        .await?
    {
        // Decided by another holder, or expired, since it was read.
        let r = state.catalog.get_mua_request(r.id).await?;
        return Err(model_err(
            ErrorCode::MuaRequestState,
            "request",
            format!(
                "request {id} is {} now and cannot be decided",
                MuaRequestDto::new(r, now).status
            ),
        ));
    }
    let r = state.catalog.get_mua_request(r.id).await?;
    tracing::info!(request = id, guard = %g.name, vault = %r.vault_name, operation = %r.operation, decided = to, by = %who.display_name(), "approval request decided");
    Ok(MuaRequestDto::new(r, now))
}

/// Approve a pending request (not one's own) for `validForMinutes`.
#[utoipa::path(
    post, path = "/api/v1/resourceGuards/{guard}/requests/{id}/approve", tag = "security",
    params(
        ("guard" = String, Path, description = "Guard name"),
        ("id" = i64, Path, description = "Request id"),
    ),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "The request, approved", body = MuaRequestDto),
        (status = 400, description = "validForMinutes out of range", body = ErrorBody),
        (status = 403, description = "The caller made the request", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not pending", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn approve_request(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P((guard, id)): P<(String, i64)>,
    Body(body): Body<ApproveBody>,
) -> ApiResult<Json<MuaRequestDto>> {
    let minutes = body.valid_for_minutes;
    sweep_expired(&state).await?;
    Ok(Json(
        decide(&state, &who, &guard, id, Action::Approve, minutes).await?,
    ))
}

/// Reject a pending request (not one's own).
#[utoipa::path(
    post, path = "/api/v1/resourceGuards/{guard}/requests/{id}/reject", tag = "security",
    params(
        ("guard" = String, Path, description = "Guard name"),
        ("id" = i64, Path, description = "Request id"),
    ),
    responses(
        (status = 200, description = "The request, rejected", body = MuaRequestDto),
        (status = 403, description = "The caller made the request", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not pending", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reject_request(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P((guard, id)): P<(String, i64)>,
) -> ApiResult<Json<MuaRequestDto>> {
    sweep_expired(&state).await?;
    Ok(Json(
        decide(&state, &who, &guard, id, Action::Reject, None).await?,
    ))
}

/// Ask for an approval of a critical operation on a guarded vault.
///
/// The request is `Pending` until a holder of the vault's guard other
/// than the caller approves or rejects it, or 24 hours pass.
#[utoipa::path(
    post, path = "/api/v1/vaults/{vault}/resourceGuard/requests", tag = "security",
    params(("vault" = String, Path, description = "Vault name")),
    request_body = CreateMuaRequest,
    responses(
        (status = 201, description = "The request, pending", body = MuaRequestDto),
        (status = 400, description = "Unknown operation, bad target, or not protected", body = ErrorBody),
        (status = 404, description = "No such vault, or it has no guard", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_request(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(vault): P<String>,
    Body(req): Body<CreateMuaRequest>,
) -> ApiResult<(StatusCode, Json<MuaRequestDto>)> {
    let v = vaults::find(&state, &vault).await?;
    let op = CriticalOp::parse(&req.operation)?;
    let target = mua::check_target(op, req.target.as_deref())?;
    let Some(g) = svc::vault_guard(&state.catalog, v.id).await? else {
        return Err(ApiError::not_found(
            "guard",
            format!("vault '{vault}' has no resource guard: no approval is needed"),
        ));
    };
    if !svc::protects(&g, op) {
        return Err(ApiError::invalid_argument(
            "operation",
            format!(
                "resource guard '{}' does not protect {op}: no approval is needed",
                g.name
            ),
        ));
    }
    let Some(me) = who.identity_id() else {
        return Err(ApiError::invalid_argument(
            "token",
            "a token without an identity cannot ask for approvals: use an identity's token",
        ));
    };
    sweep_expired(&state).await?;
    let now = state.now();
    let r = state
        .catalog
        .create_mua_request(&NewMuaRequest {
            guard_id: g.id,
            vault_id: v.id,
            operation: op.as_str().to_owned(),
            target,
            requester_id: me,
            requested: now,
            expires_at: mua::pending_expiry(now),
        })
        .await?;
    tracing::info!(request = r.id.0, guard = %g.name, vault = %v.name, operation = %op, target = %r.target, by = %who.display_name(), "approval requested");
    Ok((StatusCode::CREATED, Json(MuaRequestDto::new(r, now))))
}

// ---------------------------------------------------------------- mapping

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
    params(("vault" = String, Path, description = "Vault name")),
    responses(
        (status = 200, description = "The mapping (guard null when none)", body = VaultGuardDto),
        (status = 404, description = "No such vault", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    params(("vault" = String, Path, description = "Vault name")),
    request_body = AttachGuard,
    responses(
        (status = 200, description = "The mapping", body = VaultGuardDto),
        (status = 403, description = "The caller does not hold the guard", body = ErrorBody),
        (status = 404, description = "No such vault or guard", body = ErrorBody),
        (status = 409, description = "Another guard is attached", body = ErrorBody),
    ),
    security(("bearer" = []))
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
    params(("vault" = String, Path, description = "Vault name")),
    responses(
        (status = 204, description = "Detached"),
        (status = 403, description = "No usable approval", body = ErrorBody),
        (status = 404, description = "No such vault, or no guard", body = ErrorBody),
    ),
    security(("bearer" = []))
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

/// Sets `securitySettings.multiUserAuthorization` (`Enabled` when the vault
/// has a guard) in a vault answer's properties.
pub fn set_mua(properties: &mut serde_json::Value, enabled: bool) {
    if !properties.is_object() {
        return;
    }
    let sec = &mut properties["securitySettings"];
    if !sec.is_object() {
        *sec = serde_json::json!({});
    }
    sec["multiUserAuthorization"] =
        serde_json::Value::String(if enabled { "Enabled" } else { "Disabled" }.to_owned());
}
