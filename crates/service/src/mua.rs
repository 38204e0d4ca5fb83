//! Multi-user authorization (docs/security.md, "Multi-user
//! authorization"): which changes are critical operations, and using an
//! approval for one. The API calls these before it changes anything:
//! first the change's own checks (so a change refused anyway does not use
//! up an approval), then [`require_approval`], then the change.
//!
//! The rules and the request state machine are the model's
//! ([`lifeboat_model::mua`]); the catalog stores guards and requests.

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Catalog, IdentityId, Item, MuaRequestId, ResourceGuard, Vault, VaultId};
use lifeboat_model::guard;
use lifeboat_model::item::{ItemAction, StopMode};
use lifeboat_model::mua::{self, CriticalOp, RequestState};
use lifeboat_model::retention::{self, HoldScope};
use lifeboat_model::vault::{ImmutabilityState, SoftDeleteState};
use lifeboat_model::{ErrorCode, ModelError, ValidPolicy};

use crate::clock::Clock;
use crate::error::Result;
use crate::ops::{item_policy, named_policy, resolve_policy};
use crate::protect::{SecurityUpdate, rule_expiry, security_of};
use crate::retention::tagged;

/// The guard attached to a vault, if any.
pub async fn vault_guard(catalog: &Catalog, vault: VaultId) -> Result<Option<ResourceGuard>> {
    match catalog.vault_guard(vault).await? {
        Some(m) => Ok(Some(catalog.get_guard_by_id(m.guard_id).await?)),
        None => Ok(None),
    }
}

/// Whether `guard` protects `op` (mandatory operations always).
pub fn protects(guard: &ResourceGuard, op: CriticalOp) -> bool {
    op.is_mandatory() || guard.ops().iter().any(|o| o == op.as_str())
}

/// The command that asks for an approval, for messages.
pub fn request_hint(vault: &str, op: CriticalOp, target: &str) -> String {
    let t = if target.is_empty() {
        String::new()
    } else {
        format!(" --target {target}")
    };
    format!("lifeboat backup resource-guard request create --vault {vault} --operation {op}{t}")
}

/// Uses an approval for `op` on `target` of `vault` when the vault's guard
/// protects `op`: the caller's oldest approved, unexpired request for
/// exactly this vault, operation and target becomes `Used`. Answers the
/// request used (`None`: no guard, or the guard does not protect `op`).
///
/// Refusals (403): `MUA_APPROVAL_EXPIRED` when the caller's newest such
/// request is an approval that expired, else `MUA_APPROVAL_REQUIRED` (a
/// caller without an identity — a token from before identities — can
/// never have one).
pub async fn require_approval(
    catalog: &Catalog,
    clock: &dyn Clock,
    vault: &Vault,
    requester: Option<IdentityId>,
    op: CriticalOp,
    target: &str,
) -> Result<Option<MuaRequestId>> {
    let Some(guard) = vault_guard(catalog, vault.id).await? else {
        return Ok(None);
    };
    if !protects(&guard, op) {
        return Ok(None);
    }
    let now = clock.now();
    let required = |detail: String| -> crate::ServiceError {
        ModelError::new(
            ErrorCode::MuaApprovalRequired,
            "request",
            format!(
                "vault '{}' is protected by resource guard '{}': {op}{} needs an approval by a \
                 holder of the guard{detail}; ask for one with `{}`",
                vault.name,
                guard.name,
                if target.is_empty() {
                    String::new()
                } else {
                    format!(" of '{target}'")
                },
                request_hint(&vault.name, op, target)
            ),
        )
        .into()
    };
    let Some(who) = requester else {
        return Err(required(
            " (this token has no identity, so it cannot ask for one)".into(),
        ));
    };
    if let Some(id) = catalog
        .use_mua_approval(vault.id, who, op.as_str(), target, now)
        .await?
    {
        return Ok(Some(id));
    }
    let latest = catalog
        .latest_mua_request(vault.id, who, op.as_str(), target)
        .await?;
    match latest {
        Some(r) => {
            let stored = RequestState::parse(&r.state)?;
            let expired_approval = r.decided.is_some()
                && matches!(stored, RequestState::Approved | RequestState::Expired)
                && mua::effective_state(stored, r.expires_at, now) == RequestState::Expired;
            if expired_approval {
                return Err(ModelError::new(
                    ErrorCode::MuaApprovalExpired,
                    "request",
                    format!(
                        "the approval of request {} for {op} on vault '{}' expired at {}; ask \
                         for a new one with `{}`",
                        r.id,
                        vault.name,
                        r.expires_at.to_rfc3339(),
                        request_hint(&vault.name, op, target)
                    ),
                )
                .into());
            }
            let state = mua::effective_state(stored, r.expires_at, now);
            Err(required(format!(" (request {} is {state})", r.id)))
        }
        None => Err(required(String::new())),
    }
}

/// The critical operations a security-settings change does, after the
/// change's own checks (`SOFT_DELETE_ALWAYS_ON`, `IMMUTABILITY_LOCKED`, …)
/// passed: soft delete `Enabled` → `Disabled`, immutability `Unlocked` →
/// `Disabled`.
pub fn security_ops(vault: &Vault, upd: &SecurityUpdate) -> Result<Vec<CriticalOp>> {
    let old = security_of(vault)?;
    let mut ops = Vec::new();
    if let Some(new) = upd.soft_delete_state {
        let from = old.soft_delete_settings.soft_delete_state;
        guard::check_soft_delete_change(from, new)?;
        if from != SoftDeleteState::Disabled && new == SoftDeleteState::Disabled {
            ops.push(CriticalOp::DisableSoftDelete);
        }
    }
    if let Some(new) = upd.immutability_state {
        let from = old.immutability_settings.state;
        guard::check_immutability_change(from, new)?;
        if from != ImmutabilityState::Disabled && new == ImmutabilityState::Disabled {
            ops.push(CriticalOp::DisableImmutability);
        }
    }
    Ok(ops)
}

/// Whether replacing a policy's `old_document` by `new` shortens or removes
/// a retention. An old document that no longer reads cannot be compared:
/// it counts as a reduction (fail closed).
pub fn policy_edit_reduces(old_document: &serde_json::Value, new: &ValidPolicy) -> bool {
    match resolve_policy(old_document) {
        Ok(old) => old.reduces_retention_to(new),
        Err(_) => true,
    }
}

/// The checks of moving `item` to policy `policy_name` that come before
/// the approval (the item's state; an immutable vault refuses a shorter
/// policy), then whether the move keeps points less long (the item's
/// current policy has a longer or extra retention).
pub async fn precheck_policy_change(
    catalog: &Catalog,
    item: &Item,
    policy_name: &str,
) -> Result<bool> {
    item.state.apply(ItemAction::ChangePolicy)?;
    let new = named_policy(catalog, item.vault_id, policy_name).await?;
    let old = match item_policy(catalog, item).await {
        Ok(old) => old,
        // The old policy is gone or unreadable: cannot compare, fail closed.
        Err(_) => return Ok(true),
    };
    let Some(old) = old else {
        return Ok(false);
    };
    let sec = crate::protect::security_of_id(catalog, item.vault_id).await?;
    guard::check_policy_swap(sec.immutability_settings.state, &item.name, &old, &new)?;
    Ok(old.reduces_retention_to(&new))
}

/// The state check of resuming `item` with `policy_name`, then whether
/// resuming cuts retention: the policy has shorter or fewer retentions
/// than the item's last one, or a kept point would go earlier than its
/// rules say now.
pub async fn precheck_resume(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    policy_name: &str,
) -> Result<bool> {
    item.state.apply(ItemAction::Resume)?;
    let new = named_policy(catalog, item.vault_id, policy_name).await?;
    match item_policy(catalog, item).await {
        Ok(Some(old)) if old.reduces_retention_to(&new) => return Ok(true),
        Ok(_) => {}
        Err(_) => return Ok(true),
    }
    let now: DateTime<Utc> = clock.now();
    let rows = catalog.item_points(item.id).await?;
    let points: Vec<_> = rows.iter().map(|p| tagged(p, Some(&new))).collect();
    let outs = retention::reapply(&points, &new, HoldScope::None, now);
    Ok(rows
        .iter()
        .zip(&outs)
        .filter(|(r, _)| r.deleted_at.is_none())
        .any(|(r, o)| {
            let old = rule_expiry(r);
            guard::is_unexpired(old, now) && old.is_none_or(|e| o.retention.expiry_time < e)
        }))
}

/// The checks of stopping protection with delete-data that come before
/// the approval: the item's state allows it, and an immutable vault has
/// no unexpired point (`IMMUTABLE_STOP_WITH_DELETE`).
pub async fn precheck_stop_with_delete(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
) -> Result<()> {
    item.state.apply(ItemAction::StopProtection {
        mode: StopMode::DeleteData,
        soft_delete: false,
    })?;
    crate::protect::check_stop_with_delete(catalog, clock, item).await
}
