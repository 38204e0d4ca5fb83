//! The domain operations the API calls. Each takes the catalog, the clock
//! and the rows the API already looked up (by name), checks the action
//! with the model's rules, writes the catalog, and returns what the API
//! shows; none waits for a job (the runner does the work; call
//! [`crate::ServiceHandle::wake`] after queueing one).
//!
//! Errors carry stable codes ([`ServiceError::code`]): the model's
//! (`INVALID_ITEM_STATE`, `INVALID_ARGUMENT`, `INVALID_JOB_STATE`,
//! `INVALID_POLICY`), the catalog's (`NOT_FOUND`, `CONFLICT`, …) and the
//! service's own ([`crate::error::codes`]).

use chrono::{DateTime, Utc};
use lifeboat_catalog::{
    Catalog, CatalogError, Item, ItemPatch, Job, JobFilter, JobId, NewJob, Page, Vault, VaultId,
};
use lifeboat_model::item::{ItemAction, PointsEffect, ProtectionState, StopMode};
use lifeboat_model::job::{JobStatus, JobType};
use lifeboat_model::retention::{self, ExpiryChange, HoldScope, RetagOutcome};
use lifeboat_model::{ErrorCode, ModelError, Policy, ValidPolicy};
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{Result, ServiceError, codes};
use crate::params::{self, BackupParams, RestoreParams, RestoreRequest};
use crate::retention::{tagged, to_columns};
use crate::storage::VaultStorage;

mod jobs;
mod transitions;
pub use jobs::*;
pub use transitions::*;

// ------------------------------------------------------------- policies

/// A stored policy document (the model's `Policy`, Azure's `properties`;
/// a document wrapped as `{properties: …}` is accepted too), validated.
pub fn resolve_policy(document: &Value) -> Result<ValidPolicy> {
    let doc = document.get("properties").unwrap_or(document);
    let policy: Policy = serde_json::from_value(doc.clone()).map_err(|e| {
        ServiceError::refused(
            codes::POLICY_UNREADABLE,
            "properties",
            format!("the policy document does not parse: {e}"),
        )
    })?;
    Ok(policy.resolve()?)
}

/// The first scheduled run of `policy` strictly after `after`: a new or
/// rescheduled item's `next_run`.
pub fn next_run(policy: &ValidPolicy, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    crate::plan::next_run(policy, after)
}

/// The validated policy `name` of a vault.
pub async fn named_policy(catalog: &Catalog, vault_id: VaultId, name: &str) -> Result<ValidPolicy> {
    resolve_policy(&catalog.get_policy(vault_id, name).await?.document)
}

/// The validated policy an item is bound to, if any.
pub async fn item_policy(catalog: &Catalog, item: &Item) -> Result<Option<ValidPolicy>> {
    match &item.policy_name {
        None => Ok(None),
        Some(name) => Ok(Some(named_policy(catalog, item.vault_id, name).await?)),
    }
}

/// Sets an item's `next_run` from its policy and state: the next slot after
/// now for an item that takes backups, none otherwise. A run that is
/// already due is left for the scheduler (it re-checks it against the
/// current policy), so rescheduling never skips a due slot.
pub async fn reschedule_item(catalog: &Catalog, clock: &dyn Clock, item: &Item) -> Result<Item> {
    let now = clock.now();
    let state = item.state;
    let next = if state.takes_backups() {
        match item_policy(catalog, item).await? {
            Some(p) => match item.next_run {
                Some(due) if due <= now => Some(due),
                _ => next_run(&p, now),
            },
            None => None,
        }
    } else {
        None
    };
    if next == item.next_run {
        return Ok(item.clone());
    }
    Ok(catalog
        .update_item(
            item.id,
            &ItemPatch {
                next_run: Some(next),
                ..ItemPatch::default()
            },
        )
        .await?)
}

// ------------------------------------------------------------ re-tagging

/// What re-tagging did to an item's points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetagSummary {
    pub points: u64,
    pub unchanged: u64,
    pub extended: u64,
    pub shortened: u64,
    /// Marked for cleanup: their expiry in force has passed; the expiry
    /// sweep queued for the vault deletes them (unless soft-deleted).
    pub expired: u64,
    /// Of the expired, soft-deleted instead (a retention cut with soft
    /// delete on): purged after the soft-delete period.
    pub soft_deleted: u64,
    /// Soft-deleted points brought back (retention raised again).
    pub restored: u64,
}

impl RetagSummary {
    fn add(&mut self, o: &RetagSummary) {
        self.points += o.points;
        self.unchanged += o.unchanged;
        self.extended += o.extended;
        self.shortened += o.shortened;
        self.expired += o.expired;
        self.soft_deleted += o.soft_deleted;
        self.restored += o.restored;
    }
}

/// Re-tags an item's points after its policy changed from `old` to `new`
/// (the policy was edited, or the item moved to another policy): Azure's
/// rules as `lifeboat_model::retention::retag` implements them: longer
/// retention extends, shorter shortens, and points whose new expiry has
/// passed are marked for cleanup (an expiry sweep is queued for them).
pub async fn retag_item_points(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    old: &ValidPolicy,
    new: &ValidPolicy,
) -> Result<RetagSummary> {
    apply_points_effect(
        catalog,
        clock,
        item,
        PointsEffect::Retag,
        Some(old),
        Some(new),
    )
    .await
}

/// Applies what an item transition does to its points (the model's
/// [`PointsEffect`]): holds when protection stops, re-evaluation under
/// `new` when it resumes, re-tagging from `old` to `new` on a policy
/// change. `DeleteAll` and `Unchanged` write nothing here.
pub async fn apply_points_effect(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    effect: PointsEffect,
    old: Option<&ValidPolicy>,
    new: Option<&ValidPolicy>,
) -> Result<RetagSummary> {
    let now = clock.now();
    if matches!(effect, PointsEffect::Unchanged | PointsEffect::DeleteAll) {
        return Ok(RetagSummary::default());
    }
    let rows = catalog.item_points(item.id).await?;
    if rows.is_empty() {
        return Ok(RetagSummary::default());
    }
    let tz_policy = new.or(old);
    let points: Vec<_> = rows.iter().map(|p| tagged(p, tz_policy)).collect();
    let state = item.state;
    let outcomes: Vec<RetagOutcome> = match (effect, old, new) {
        (PointsEffect::Hold(scope), _, _) => retention::apply_holds(&points, scope, now),
        (PointsEffect::Reapply, _, Some(new)) => {
            retention::reapply(&points, new, HoldScope::None, now)
        }
        (PointsEffect::Retag, Some(old), Some(new)) => {
            retention::retag(&points, old, new, state.hold_scope(), now)
        }
        // No previous policy to compare with: evaluate under the new one.
        (PointsEffect::Retag, None, Some(new)) => {
            retention::reapply(&points, new, state.hold_scope(), now)
        }
        _ => {
            return Err(ServiceError::Internal(format!(
                "points effect {effect:?} needs a policy"
            )));
        }
    };
    // Soft delete of points: a retention cut (policy edit or swap) that
    // expires a point that was still kept soft-deletes it instead of
    // leaving it to the sweep; raising retention (or resuming) within the
    // soft-delete period brings it back.
    let (may_soft_delete, may_restore) = crate::protect::effect_moves_points(effect);
    let soft = if may_soft_delete || may_restore {
        Some(
            crate::protect::security_of_id(catalog, item.vault_id)
                .await?
                .soft_delete_settings,
        )
    } else {
        None
    };
    let mut summary = RetagSummary::default();
    for (row, out) in rows.iter().zip(&outcomes) {
        summary.points += 1;
        match out.change {
            ExpiryChange::Unchanged => summary.unchanged += 1,
            ExpiryChange::Extended => summary.extended += 1,
            ExpiryChange::Shortened => summary.shortened += 1,
            ExpiryChange::Expired => summary.expired += 1,
        }
        if !crate::retention::same(row, &out.retention) {
            catalog
                .set_point_retention(row.id, &to_columns(&out.retention))
                .await?;
        }
        if let Some(sd) = &soft {
            let expired = out.retention.is_expired(now);
            if row.deleted_at.is_some() {
                if may_restore && !expired {
                    catalog.set_point_deleted(row.id, None).await?;
                    summary.restored += 1;
                }
            } else if may_soft_delete && expired && sd.is_on() && row.expiry.is_none_or(|e| e > now)
            {
                catalog
                    .set_point_deleted(row.id, Some((now, sd.purge_time(now))))
                    .await?;
                summary.soft_deleted += 1;
            }
        }
    }
    if summary.expired > summary.soft_deleted {
        enqueue_sweep(catalog, clock, item.vault_id).await?;
    }
    Ok(summary)
}

/// A policy's document was replaced (`PUT …/policies/{policy}`): re-tags
/// the points of every item on it and moves their next runs to the new
/// schedule. Call after the catalog holds the new document.
pub async fn policy_replaced(
    catalog: &Catalog,
    clock: &dyn Clock,
    vault_id: VaultId,
    policy_name: &str,
    old: &ValidPolicy,
    new: &ValidPolicy,
) -> Result<RetagSummary> {
    let mut total = RetagSummary::default();
    for item in catalog
        .list_items_with_policy(vault_id, policy_name)
        .await?
    {
        let s = retag_item_points(catalog, clock, &item, old, new).await?;
        total.add(&s);
        let item = catalog.get_item_by_id(item.id).await?;
        reschedule_item(catalog, clock, &item).await?;
    }
    Ok(total)
}
