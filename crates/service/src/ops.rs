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

/// The validated policy an item is bound to, if any.
pub async fn item_policy(catalog: &Catalog, item: &Item) -> Result<Option<ValidPolicy>> {
    match &item.policy_name {
        None => Ok(None),
        Some(name) => {
            let p = catalog.get_policy(item.vault_id, name).await?;
            Ok(Some(resolve_policy(&p.document)?))
        }
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

// ------------------------------------------------------- item transitions

/// Moves an item to another policy of its vault (`POST …/items/{item}/policy`):
/// re-tags its points and reschedules it.
pub async fn change_item_policy(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    policy_name: &str,
) -> Result<(Item, RetagSummary)> {
    let state = item.state;
    let t = state.apply(ItemAction::ChangePolicy)?;
    let old = item_policy(catalog, item).await?;
    let new_row = catalog.get_policy(item.vault_id, policy_name).await?;
    let new = resolve_policy(&new_row.document)?;
    if let Some(old) = &old {
        let sec = crate::protect::security_of_id(catalog, item.vault_id).await?;
        lifeboat_model::guard::check_policy_swap(
            sec.immutability_settings.state,
            &item.name,
            old,
            &new,
        )?;
    }
    let item = catalog
        .update_item(
            item.id,
            &ItemPatch {
                policy_name: Some(Some(policy_name.to_string())),
                ..ItemPatch::default()
            },
        )
        .await?;
    let summary =
        apply_points_effect(catalog, clock, &item, t.points, old.as_ref(), Some(&new)).await?;
    // The old schedule's next run no longer applies.
    let item = catalog
        .update_item(
            item.id,
            &ItemPatch {
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    let item = reschedule_item(catalog, clock, &item).await?;
    Ok((item, summary))
}

/// What stopping protection did.
#[derive(Debug, Clone)]
pub struct StopOutcome {
    /// The item as it now is.
    pub item: Item,
    /// The `DeleteBackupData` job, for `delete-data`.
    pub job: Option<Job>,
    pub points: RetagSummary,
}

/// Stops protection (`POST …/items/{item}/stop`): `retain-data` holds every
/// point, `retain-as-per-policy` lets points expire but holds the latest,
/// `delete-data` queues a `DeleteBackupData` job. No more scheduled runs.
pub async fn stop_protection(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    mode: StopMode,
) -> Result<StopOutcome> {
    if mode == StopMode::DeleteData {
        let job = enqueue_delete_data(catalog, clock, item).await?;
        let item = catalog.get_item_by_id(item.id).await?;
        return Ok(StopOutcome {
            item,
            job: Some(job),
            points: RetagSummary::default(),
        });
    }
    let state = item.state;
    let t = state.apply(ItemAction::StopProtection {
        mode,
        soft_delete: false,
    })?;
    let to = t.to.unwrap_or(state);
    let item = catalog
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(to),
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    let policy = item_policy(catalog, &item).await?;
    let points = apply_points_effect(
        catalog,
        clock,
        &item,
        t.points,
        policy.as_ref(),
        policy.as_ref(),
    )
    .await?;
    Ok(StopOutcome {
        item,
        job: None,
        points,
    })
}

/// Resumes protection with a policy (`POST …/items/{item}/resume`): points
/// are re-evaluated under it, holds cleared, and those already past their
/// expiry cleaned up by a sweep queued at once.
pub async fn resume_protection(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    policy_name: &str,
) -> Result<(Item, RetagSummary)> {
    let state = item.state;
    let t = state.apply(ItemAction::Resume)?;
    let new_row = catalog.get_policy(item.vault_id, policy_name).await?;
    let new = resolve_policy(&new_row.document)?;
    let sec = crate::protect::security_of_id(catalog, item.vault_id).await?;
    if sec.immutability_settings.state.is_on() {
        // Resuming re-evaluates every point under the policy: none may end
        // earlier than its rules said.
        let rows = catalog.item_points(item.id).await?;
        let points: Vec<_> = rows.iter().map(|p| tagged(p, Some(&new))).collect();
        let outs = retention::reapply(&points, &new, HoldScope::None, clock.now());
        let changes: Vec<_> = rows
            .iter()
            .zip(&outs)
            .filter(|(r, _)| r.deleted_at.is_none())
            .map(|(r, o)| (crate::protect::rule_expiry(r), o.retention.expiry_time))
            .collect();
        lifeboat_model::guard::check_points_kept(
            sec.immutability_settings.state,
            &item.name,
            &changes,
            clock.now(),
        )?;
    }
    let to = t.to.unwrap_or(ProtectionState::Protected);
    let item = catalog
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(to),
                policy_name: Some(Some(policy_name.to_string())),
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    let summary = apply_points_effect(catalog, clock, &item, t.points, None, Some(&new)).await?;
    let item = reschedule_item(catalog, clock, &item).await?;
    Ok((item, summary))
}

// ------------------------------------------------------------------ jobs

pub(crate) async fn enqueue(
    catalog: &Catalog,
    vault_id: VaultId,
    item_id: Option<lifeboat_catalog::ItemId>,
    kind: JobType,
    params: Value,
    now: DateTime<Utc>,
) -> Result<Job> {
    let id = catalog
        .enqueue(&NewJob {
            vault_id,
            item_id,
            job_type: kind,
            slot_key: None,
            params,
            queued_at: now,
        })
        .await?
        .ok_or_else(|| ServiceError::Internal("a job without a slot was not queued".into()))?;
    Ok(catalog.get_job(id).await?)
}

/// Queues an on-demand backup (`POST …/items/{item}/backup`), kept until
/// `retain_until` (default now + 30 days, at most 99 years).
pub async fn enqueue_backup_now(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    retain_until: Option<DateTime<Utc>>,
) -> Result<Job> {
    let now = clock.now();
    item.state.check_backup()?;
    let until = lifeboat_model::point::on_demand_retain_until(retain_until, now)?;
    let p = BackupParams {
        retain_until: Some(until),
        on_demand: true,
        ..BackupParams::default()
    };
    let params = serde_json::to_value(&p).map_err(|e| ServiceError::Internal(e.to_string()))?;
    enqueue(
        catalog,
        item.vault_id,
        Some(item.id),
        JobType::Backup,
        params,
        now,
    )
    .await
}

/// Checks a restore request against the item (its workload decides what
/// a target may be) and returns its job params.
pub fn restore_params(item: &Item, req: &RestoreRequest) -> Result<RestoreParams> {
    let request = lifeboat_model::source::RestoreRequest::from_parts(
        item.source.kind(),
        &req.target,
        req.conflict.as_deref(),
        &req.include,
        req.format.as_deref(),
    )?;
    lifeboat_workloads::for_source(&item.source).check_restore(&item.source, &request)?;
    Ok(RestoreParams {
        point: req.point.clone(),
        request,
    })
}

/// Queues a restore of one of the item's points
/// (`POST …/items/{item}/points/{point}/restore`).
pub async fn enqueue_restore(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    req: &RestoreRequest,
) -> Result<Job> {
    item.state.check_restore()?;
    match catalog.find_point(item.vault_id, &req.point).await? {
        Some(p) if p.item_id == item.id && p.deleted_at.is_some() => {
            return Err(ServiceError::refused(
                codes::POINT_SOFT_DELETED,
                "point",
                format!(
                    "recovery point {:?} of '{}' was soft-deleted by a retention cut; raise the                      policy's retention to bring it back before its purge time",
                    req.point, item.name
                ),
            ));
        }
        Some(p) if p.item_id == item.id => {}
        _ => {
            return Err(ServiceError::refused(
                codes::POINT_NOT_FOUND,
                "point",
                format!(
                    "item '{}' has no recovery point {:?}; list them with GET …/items/{}/points",
                    item.name, req.point, item.name
                ),
            ));
        }
    }
    let p = restore_params(item, req)?;
    let params = serde_json::to_value(&p).map_err(|e| ServiceError::Internal(e.to_string()))?;
    enqueue(
        catalog,
        item.vault_id,
        Some(item.id),
        JobType::Restore,
        params,
        clock.now(),
    )
    .await
}

/// Stops protection with delete-data: the item takes no more backups and a
/// `DeleteBackupData` job deletes its points, then the item.
///
/// Guarded: in an immutable vault only once every point has expired
/// (`IMMUTABLE_STOP_WITH_DELETE`); with soft delete on, the item is
/// soft-deleted instead ([`crate::protect::soft_delete_item`]) and the job
/// only ends its other jobs.
pub async fn enqueue_delete_data(catalog: &Catalog, clock: &dyn Clock, item: &Item) -> Result<Job> {
    let state = item.state;
    state.apply(ItemAction::StopProtection {
        mode: StopMode::DeleteData,
        soft_delete: false,
    })?;
    crate::protect::check_stop_with_delete(catalog, clock, item).await?;
    let sec = crate::protect::security_of_id(catalog, item.vault_id).await?;
    if sec.soft_delete_settings.is_on() {
        let (_, job) =
            crate::protect::soft_delete_item(catalog, clock, item, &sec.soft_delete_settings)
                .await?;
        return Ok(job);
    }
    catalog
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(ProtectionState::ProtectionStopped),
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    enqueue(
        catalog,
        item.vault_id,
        Some(item.id),
        JobType::DeleteBackupData,
        params::empty(),
        clock.now(),
    )
    .await
}

/// Queues an expiry sweep of a vault now (besides the hourly ones).
pub async fn enqueue_sweep(catalog: &Catalog, clock: &dyn Clock, vault_id: VaultId) -> Result<Job> {
    enqueue(
        catalog,
        vault_id,
        None,
        JobType::ExpirySweep,
        params::empty(),
        clock.now(),
    )
    .await
}

/// Cancels a job (`POST /jobs/{id}/cancel`): a queued one ends at once, a
/// running one is asked to stop at its next safe point. A running
/// `DeleteBackupData` cannot be cancelled (`INVALID_JOB_STATE`).
pub async fn cancel_job(catalog: &Catalog, clock: &dyn Clock, id: JobId) -> Result<Job> {
    let job = catalog.get_job(id).await?;
    if job.state.is_held() && !job.job_type.cancellable_while_running() {
        return Err(ModelError::new(
            ErrorCode::InvalidJobState,
            "status",
            format!(
                "job {id} ({}) cannot be cancelled once it has started",
                job.job_type
            ),
        )
        .into());
    }
    match catalog.cancel_job(id, clock.now()).await {
        Ok(j) => Ok(j),
        Err(CatalogError::InvalidState { detail, .. }) => Err(ModelError::new(
            ErrorCode::InvalidJobState,
            "status",
            format!("job {id}: {detail}"),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- vaults

/// Deletes a vault: refused with `VAULT_NOT_EMPTY` while it has protected
/// items or recovery points that are not soft-deleted; a vault that holds
/// only soft-deleted items is soft-deleted itself (listed by
/// `GET /deleted-vaults`, purged with its last item). An empty vault: its
/// queued sweeps are cancelled, then the row, then the store and its key.
pub async fn delete_vault(
    catalog: &Catalog,
    clock: &dyn Clock,
    storage: &VaultStorage,
    vault: &Vault,
) -> Result<()> {
    let usage = catalog.vault_usage(vault.id).await?;
    let (live_items, live_points) = catalog.live_usage(vault.id).await?;
    if usage.items > 0 && live_items == 0 && live_points == 0 {
        // Only soft-deleted items: the vault is soft-deleted with them.
        crate::protect::soft_delete_vault(catalog, clock, vault).await?;
        return Ok(());
    }
    if usage.items > 0 || usage.points > 0 {
        return Err(ServiceError::refused(
            codes::VAULT_NOT_EMPTY,
            vault.name.clone(),
            format!(
                "vault '{}' has {} protected item(s) and {} recovery point(s); \
                 stop protection with delete-data for every item first",
                vault.name, usage.items, usage.points
            ),
        ));
    }
    // Housekeeping jobs (sweeps, GC) queued for the vault would block it.
    let queued = catalog
        .list_jobs(
            &JobFilter {
                vault_id: Some(vault.id),
                state: Some(JobStatus::Queued),
                ..JobFilter::default()
            },
            &Page::first(lifeboat_catalog::MAX_PAGE),
        )
        .await?;
    for j in queued.items.iter().filter(|j| j.item_id.is_none()) {
        let _ = catalog.cancel_job(j.id, clock.now()).await;
    }
    match catalog.delete_vault(vault.id).await {
        Ok(()) => {}
        Err(CatalogError::InUse { detail, .. }) => {
            return Err(ServiceError::refused(
                codes::VAULT_NOT_EMPTY,
                vault.name.clone(),
                format!("vault '{}' cannot be deleted yet: {detail}", vault.name),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    storage.remove_async(vault.id).await
}
