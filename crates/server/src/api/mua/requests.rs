//! Approval requests: ask for one on a guarded vault, list a guard's,
//! approve or reject (a holder other than the requester).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use lifeboat_catalog::{NewMuaRequest, mua_state};
use lifeboat_model::ErrorCode;
use lifeboat_model::mua::{self, Action, CriticalOp, RequestState};
use lifeboat_service::mua as svc;

use super::{find_guard, find_request, model_err, sweep_expired};
use crate::api::paths::{GuardPath, GuardRequestPath, VaultPath};
use crate::api::vaults;
use crate::authz::Principal;
use crate::dto::{
    ApproveBody, CreateMuaRequest, MuaRequestDto, MuaRequestDtoExt, MuaRequestList, RequestQuery,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, Q};
use crate::state::AppState;

/// List a guard's approval requests, newest first.
#[utoipa::path(
    get, path = "/api/v1/resourceGuards/{guard}/requests", tag = "security",
    params(GuardPath, RequestQuery),
    responses(
        (status = 200, description = "The requests", body = MuaRequestList),
        (status = 400, description = "Unknown status", body = ErrorBody),
    ),
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
    params(GuardRequestPath),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "The request, approved", body = MuaRequestDto),
        (status = 400, description = "validForMinutes out of range", body = ErrorBody),
        (status = 403, description = "The caller made the request", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not pending", body = ErrorBody),
    ),
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
    params(GuardRequestPath),
    responses(
        (status = 200, description = "The request, rejected", body = MuaRequestDto),
        (status = 403, description = "The caller made the request", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not pending", body = ErrorBody),
    ),
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
    params(VaultPath),
    request_body = CreateMuaRequest,
    responses(
        (status = 201, description = "The request, pending", body = MuaRequestDto),
        (status = 400, description = "Unknown operation, bad target, or not protected", body = ErrorBody),
        (status = 404, description = "No such vault, or it has no guard", body = ErrorBody),
    ),
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
