//! Jobs the API queues (backup now, restore, delete data, sweep), their
//! cancellation, and the deletion of a vault.

use super::*;

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
