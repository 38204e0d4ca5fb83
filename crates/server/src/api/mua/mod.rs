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
//!
//! One file per concept: the guards and their holders ([`guards`]),
//! approval requests ([`requests`]), the vault → guard mapping
//! ([`mapping`]); here, the check every critical operation calls. The
//! request and answer types are `lifeboat_api::mua`'s.

pub mod guards;
pub mod mapping;
pub mod requests;

use lifeboat_catalog::{CatalogError, MuaRequest, MuaRequestId, ResourceGuard, Vault};
use lifeboat_model::mua::CriticalOp;
use lifeboat_model::{ErrorCode, ModelError};
use lifeboat_service::mua as svc;

use crate::audit;
use crate::authz::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) fn who_of(p: &Principal) -> (&str, Option<i64>) {
    (p.display_name(), Some(p.token_id.0))
}

pub(crate) fn request_path(r: &MuaRequest) -> String {
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
pub(crate) async fn find_guard(state: &AppState, name: &str) -> ApiResult<ResourceGuard> {
    Ok(state.catalog.get_guard(name).await?)
}

/// A request of `guard` by id (`NOT_FOUND` for another guard's).
pub(crate) async fn find_request(
    state: &AppState,
    guard: &ResourceGuard,
    id: i64,
) -> ApiResult<MuaRequest> {
    match state.catalog.get_mua_request(MuaRequestId(id)).await {
        Ok(r) if r.guard_id == guard.id => Ok(r),
        Ok(_) | Err(CatalogError::NotFound { .. }) => Err(ApiError::not_found(
            "request",
            format!("resource guard '{}' has no request {id}", guard.name),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn model_err(code: ErrorCode, target: &str, message: String) -> ApiError {
    ModelError::new(code, target, message).into()
}
