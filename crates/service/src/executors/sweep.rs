//! `ExpirySweep` of one vault: deletes the points whose expiry in force
//! has passed (store manifest first, then the row), adopts store points
//! that have no row (a backup killed between the store's commit and the
//! row insert: the manifest's tags say which item and origin), forgets
//! store points of items that no longer exist, and queues a GC when
//! anything was deleted or condemned data waits for its second GC run.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use lifeboat_catalog::{CatalogError, ItemId, Point};
use lifeboat_model::job::Progress;
use lifeboat_model::point::PointOrigin;
use lifeboat_model::schedule::SlotKey;
use lifeboat_store::gc::pending_condemnations;
use lifeboat_store::id::PointId as StorePointId;

use super::points::{Committed, record_point, tags};
use lifeboat_model::guard::{self, AlertKind};

use super::{JobCtx, fail, forget_point, is_held};
use crate::error::codes;
use crate::ops::item_policy;
use crate::report::{Detail, Ending, Report};

const BATCH: i64 = 200;

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    let vault_id = ctx.job.vault_id;
    report.start_task(0, ctx.now());
    let _ = ctx.push(report).await;
    let vault = match ctx.open_vault(vault_id).await {
        Ok(v) => v,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let now = ctx.now();
    let mut deleted = 0u64;
    let mut adopted = 0u64;
    // An immutable vault: a point is deleted only once its rules' expiry
    // has passed, whatever its `expiry` column says (a catalog-level check
    // before the store's own).
    let immutability = match crate::protect::security_of_id(ctx.catalog(), vault_id).await {
        Ok(s) => s.immutability_settings.state,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let progress = |d: u64, a: u64| Progress {
        bytes_done: 0,
        bytes_total: None,
        files_done: d + a,
        files_total: None,
    };
    loop {
        if ctx.refresh_cancel().await {
            return Ending::Cancelled;
        }
        if ctx.is_stopping() {
            return Ending::Requeue(Detail::new(
                codes::SERVER_SHUTDOWN,
                "the server shut down during the sweep; it runs again",
            ));
        }
        let expired = match ctx
            .catalog()
            .expired_points(Some(vault_id), now, BATCH)
            .await
        {
            Ok(p) => p,
            Err(e) => return Ending::Failed(fail(e)),
        };
        let n = expired.len();
        let mut held = 0usize;
        for p in expired {
            if let Err(e) = guard::check_point_delete(
                immutability,
                &p.store_id,
                crate::protect::rule_expiry(&p),
                now,
            ) {
                report.warn(Detail::new(e.code().code(), e.message().to_string()));
                held += 1;
                continue;
            }
            let v = vault.clone();
            let sid = p.store_id.clone();
            match tokio::task::spawn_blocking(move || forget_point(&v, &sid)).await {
                Ok(Ok(())) => {}
                // The store's own clock says the hold has not expired yet
                // (docs/format.md §12): it goes on a later sweep.
                Ok(Err(e)) if is_held(&e) => {
                    held += 1;
                    continue;
                }
                Ok(Err(e)) => return Ending::Failed(fail(e)),
                Err(e) => return Ending::Failed(fail(e)),
            }
            match ctx.catalog().delete_point(p.id).await {
                Ok(()) | Err(CatalogError::NotFound { .. }) => deleted += 1,
                Err(e) => return Ending::Failed(fail(e)),
            }
        }
        if held > 0 {
            report.warn(Detail::new(
                codes::IMMUTABLE_POINT_HELD,
                format!("{held} expired point(s) are still held by the locked store; a later sweep deletes them"),
            ));
        }
        report.set_progress(progress(deleted, adopted));
        let _ = ctx.push(report).await;
        if (n as i64) < BATCH || held == n {
            break;
        }
    }

    // Soft delete: purge what is due, warn of what is due soon.
    match purge(ctx, &vault, now, report).await {
        Ok(n) => deleted += n,
        Err(e) => return Ending::Failed(fail(e)),
    }
    // A locked vault: every unexpired point has its store hold.
    if let Ok(sec) = crate::protect::security_of_id(ctx.catalog(), vault_id).await
        && sec.immutability_settings.state == lifeboat_model::vault::ImmutabilityState::Locked
        && let Err(e) =
            crate::protect::seal_holds(ctx.catalog(), ctx.storage(), vault_id, now).await
    {
        report.warn(Detail::new(
            e.code(),
            format!("could not write the store's immutability holds: {e}"),
        ));
    }

    // Store points without a row.
    let v = vault.clone();
    let store_ids = match tokio::task::spawn_blocking(move || v.point_ids()).await {
        Ok(Ok(ids)) => ids,
        Ok(Err(e)) => return Ending::Failed(fail(e)),
        Err(e) => return Ending::Failed(fail(e)),
    };
    let known: HashSet<String> = match ctx.catalog().point_store_ids(vault_id).await {
        Ok(k) => k.into_iter().collect(),
        Err(e) => return Ending::Failed(fail(e)),
    };
    let mut foreign = 0u64;
    for id in store_ids {
        let hex = id.to_hex();
        if known.contains(&hex) {
            continue;
        }
        match adopt(ctx, &vault, id, &hex).await {
            Ok(Adopted::Row(item)) => {
                adopted += 1;
                report.warn(Detail::new(
                    codes::POINT_ADOPTED,
                    format!(
                        "recovery point {hex} of item {item} had no catalog row (its backup was interrupted after the store committed it); it was added"
                    ),
                ));
            }
            Ok(Adopted::Forgotten) => deleted += 1,
            Ok(Adopted::Foreign) => foreign += 1,
            Ok(Adopted::InFlight) => {}
            Err(e) => report.warn(Detail::new(
                e.code(),
                format!("could not adopt store point {hex}: {e}"),
            )),
        }
    }
    if foreign > 0 {
        tracing::info!(
            vault = vault_id.0,
            foreign,
            "store points not made by the service were left alone"
        );
    }
    report.set_progress(progress(deleted, adopted));
    // GC frees space in two runs (condemn, then delete), so it is queued
    // again while condemned packs wait, not only after deletions.
    let v = vault.clone();
    let condemned_waiting = matches!(
        tokio::task::spawn_blocking(move || pending_condemnations(v.backend())).await,
        Ok(Ok(n)) if n > 0
    );
    if (deleted > 0 || condemned_waiting)
        && let Err(e) = ctx.enqueue_gc(vault_id).await
    {
        report.warn(Detail::new(
            codes::GC_NOT_QUEUED,
            format!("could not queue garbage collection: {e}"),
        ));
    }
    report.finish_task(0, ctx.now());
    Ending::Done
}

/// Purges soft-deleted points and items whose purge time has come (store
/// manifest first, through the guarded path, then the rows), raises the
/// upcoming-purge alert of items due within 2 days, and the purge-complete
/// alert of each purged item. Returns how many points were deleted.
async fn purge(
    ctx: &JobCtx,
    vault: &std::sync::Arc<lifeboat_store::Vault>,
    now: DateTime<Utc>,
    report: &mut Report,
) -> crate::Result<u64> {
    let vault_id = ctx.job.vault_id;
    let mut deleted = 0u64;
    // Points soft-deleted by a retention cut.
    loop {
        let due = ctx.catalog().purgeable_points(vault_id, now, BATCH).await?;
        let n = due.len();
        let (gone, held) = purge_points(ctx, vault, due).await?;
        deleted += gone;
        if (n as i64) < BATCH || held == n {
            break;
        }
    }
    // Soft-deleted items.
    for item in ctx.catalog().deleted_items(vault_id).await? {
        let Some(purge_at) = item.purge_at else {
            continue;
        };
        if guard::upcoming_purge_due(purge_at, now) {
            crate::protect::alert(
                ctx.catalog(),
                vault_id,
                AlertKind::UpcomingPurge,
                Some(&item.name),
                now,
                format!(
                    "soft-deleted item '{}' is purged for good at {}; undelete it before then \
                     to keep its data",
                    item.name,
                    purge_at.to_rfc3339()
                ),
                Some(format!(
                    "upcoming-purge/{}/{}",
                    item.id,
                    purge_at.timestamp()
                )),
            )
            .await?;
        }
        if purge_at > now {
            continue;
        }
        let points = ctx.catalog().item_points(item.id).await?;
        let (gone, held) = purge_points(ctx, vault, points).await?;
        deleted += gone;
        if held > 0 {
            report.warn(Detail::new(
                codes::IMMUTABLE_POINT_HELD,
                format!(
                    "soft-deleted item '{}' still has {held} point(s) held by the locked store;                      it is purged once they expire",
                    item.name
                ),
            ));
            continue;
        }
        match ctx.catalog().delete_item(item.id).await {
            Ok(()) | Err(CatalogError::NotFound { .. }) => {}
            // Its DeleteBackupData job has not ended yet: next sweep.
            Err(CatalogError::InUse { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        crate::protect::alert(
            ctx.catalog(),
            vault_id,
            AlertKind::PurgeComplete,
            Some(&item.name),
            now,
            format!(
                "soft-deleted item '{}' was purged: its recovery points are gone for good",
                item.name
            ),
            Some(format!("purge-complete/{}", item.id)),
        )
        .await?;
    }
    Ok(deleted)
}

enum Adopted {
    Row(ItemId),
    /// The point's item no longer exists: the point was forgotten.
    Forgotten,
    /// Not made by the service (no item tag): left alone.
    Foreign,
    /// Its backup job is still running and will write the row.
    InFlight,
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

async fn adopt(
    ctx: &JobCtx,
    vault: &std::sync::Arc<lifeboat_store::Vault>,
    id: StorePointId,
    hex: &str,
) -> crate::Result<Adopted> {
    let v = vault.clone();
    let manifest = match tokio::task::spawn_blocking(move || v.load_point(&id)).await? {
        Ok(m) => m,
        // Forgotten meanwhile (a deletion running alongside).
        Err(e) if e.is_not_found() => return Ok(Adopted::Foreign),
        Err(e) => return Err(e.into()),
    };
    let Some(item_id) = tags::find(&manifest.tags, tags::ITEM).and_then(|s| s.parse::<i64>().ok())
    else {
        return Ok(Adopted::Foreign);
    };
    // Its backup still runs (between commit and row insert): it records
    // the point itself.
    if let Some(job) = tags::find(&manifest.tags, tags::JOB).and_then(|s| s.parse::<i64>().ok())
        && let Ok(j) = ctx.catalog().get_job(lifeboat_catalog::JobId(job)).await
        && j.state.is_held()
    {
        return Ok(Adopted::InFlight);
    }
    let item = match ctx.catalog().get_item_by_id(ItemId(item_id)).await {
        Ok(i) if i.vault_id == ctx.job.vault_id => i,
        Ok(_) => return Ok(Adopted::Foreign),
        Err(CatalogError::NotFound { .. }) => {
            let v = vault.clone();
            let sid = hex.to_string();
            tokio::task::spawn_blocking(move || forget_point(&v, &sid)).await??;
            return Ok(Adopted::Forgotten);
        }
        Err(e) => return Err(e.into()),
    };
    let time = parse_time(tags::find(&manifest.tags, tags::TIME)).unwrap_or(manifest.time);
    let origin = match (
        tags::find(&manifest.tags, tags::SLOT).and_then(|s| s.parse::<SlotKey>().ok()),
        parse_time(tags::find(&manifest.tags, tags::RETAIN_UNTIL)),
    ) {
        (Some(slot), _) => PointOrigin::Scheduled { slot },
        (None, Some(until)) => PointOrigin::OnDemand {
            retain_until: until,
        },
        (None, None) => {
            let l = time.naive_utc();
            PointOrigin::Scheduled {
                slot: SlotKey::new(l.date(), l.time()),
            }
        }
    };
    let policy = item_policy(ctx.catalog(), &item).await?;
    let committed = Committed {
        store_id: hex.to_string(),
        time,
        consistency: super::points::consistency_name(
            lifeboat_workloads::for_source(&item.source).consistency(),
        ),
        size: i64::try_from(manifest.summary.bytes).unwrap_or(i64::MAX),
        added_bytes: i64::try_from(manifest.summary.added_stored_bytes).unwrap_or(i64::MAX),
    };
    record_point(ctx.catalog(), &item, policy.as_ref(), origin, &committed).await?;
    Ok(Adopted::Row(item.id))
}

/// Deletes soft-deleted points for good, from the store and then the
/// catalog: (points deleted, points the store still holds under an
/// immutable vault's lock, which stay).
async fn purge_points(
    ctx: &JobCtx,
    vault: &std::sync::Arc<lifeboat_store::Vault>,
    points: Vec<Point>,
) -> crate::Result<(u64, usize)> {
    let (mut deleted, mut held) = (0u64, 0usize);
    for p in points {
        let v = vault.clone();
        let sid = p.store_id.clone();
        match tokio::task::spawn_blocking(move || forget_point(&v, &sid)).await? {
            Ok(()) => {}
            Err(e) if is_held(&e) => {
                held += 1;
                continue;
            }
            Err(e) => return Err(e),
        }
        match ctx.catalog().delete_point(p.id).await {
            Ok(()) | Err(CatalogError::NotFound { .. }) => deleted += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((deleted, held))
}
