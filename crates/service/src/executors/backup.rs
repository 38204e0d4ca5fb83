//! `Backup`: the item's workload (`lifeboat-workloads`) backs its source up
//! with the item's latest point as parent, so unchanged data is not read
//! again. Sub-tasks as Azure names them: "Take
//! Snapshot" (check the source, open the vault) and "Transfer data to
//! vault" (the store's backup, which commits the point). The point row is
//! written only after the store committed; the store's tags name the item,
//! origin and time so the sweep can adopt a point whose row was never
//! written.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Item, ItemPatch, Page, PointFilter};
use lifeboat_model::item::{HealthStatus, ItemAction, LastBackupStatus};
use lifeboat_model::point::PointOrigin;
use lifeboat_model::schedule::SlotKey;
use lifeboat_store::backup::BackupOptions;
use lifeboat_store::id::PointId as StorePointId;
use lifeboat_store::manifest::Consistency as StoreConsistency;
use lifeboat_store::upload::Progress as StoreProgress;
use lifeboat_workloads::BackupJob;

use super::points::{Committed, record_point, tags};
use super::{Events, JobCtx, fail, forget_point};
use crate::error::codes;
use crate::ops::item_policy;
use crate::params::BackupParams;
use crate::report::{Detail, Ending, Report};

pub(crate) async fn run(ctx: &JobCtx, report: &mut Report) -> Ending {
    let item = match ctx.item().await {
        Ok(i) => i,
        Err(d) => return Ending::Failed(d),
    };
    let ending = backup(ctx, report, &item).await;
    if !ctx.is_lost() {
        let ok = match &ending {
            Ending::Done => Some(true),
            Ending::Failed(_) => Some(false),
            Ending::Cancelled | Ending::Requeue(_) => None,
        };
        if let Some(ok) = ok
            && let Err(e) = record_outcome(ctx, &item, ok).await
        {
            tracing::warn!(item = item.id.0, error = %e, "could not update the item's backup status");
        }
    }
    ending
}

fn origin_of(params: &BackupParams, job_slot: Option<&str>, now: DateTime<Utc>) -> PointOrigin {
    if params.on_demand {
        return PointOrigin::OnDemand {
            retain_until: params
                .retain_until
                .unwrap_or(now + TimeDelta::days(lifeboat_model::point::ON_DEMAND_DEFAULT_DAYS)),
        };
    }
    let key = params
        .slot
        .as_deref()
        .or(job_slot)
        .and_then(|k| k.parse::<SlotKey>().ok())
        .unwrap_or_else(|| {
            let l = now.naive_utc();
            SlotKey::new(l.date(), l.time())
        });
    PointOrigin::Scheduled { slot: key }
}

async fn backup(ctx: &JobCtx, report: &mut Report, item: &Item) -> Ending {
    let params: BackupParams = serde_json::from_value(ctx.job.params.clone()).unwrap_or_default();
    let state = item.state;
    if !state.takes_backups() {
        return Ending::Failed(Detail::new(
            codes::INVALID_ITEM_STATE,
            format!(
                "protection of '{}' is {:?}: no backup taken",
                item.name, state
            ),
        ));
    }
    let policy = match item_policy(ctx.catalog(), item).await {
        Ok(p) => p,
        Err(e) => return Ending::Failed(fail(e)),
    };
    if let Some(ending) = ctx.held_back("the backup").await {
        return ending;
    }
    let slot_text = params.slot.clone().or(ctx.job.slot_key.clone());
    if params.missed_slots > 0 {
        report.warn(Detail::new(
            codes::SLOTS_MISSED,
            format!(
                "{} earlier scheduled run(s) were missed while no server was running; this run stands for them",
                params.missed_slots
            ),
        ));
    }
    if let Some(late) = params.late_seconds {
        report.warn(Detail::new(
            codes::SLOT_LATE,
            format!(
                "the run for slot {} started {}h{:02}m after its scheduled time",
                slot_text.as_deref().unwrap_or("?"),
                late / 3600,
                late % 3600 / 60
            ),
        ));
    }
    if let Some(of) = params.retry_of {
        report.warn(Detail::new(
            codes::RETRY,
            format!("this backup retries job {of}, whose server was lost"),
        ));
    }
    let time = ctx.now();
    let origin = origin_of(&params, ctx.job.slot_key.as_deref(), time);

    // Take Snapshot: the source is there and the vault opens.
    report.start_task(0, time);
    let _ = ctx.push(report).await;
    let workload = lifeboat_workloads::for_source(&item.source);
    if let Err(e) = workload.check_available(&item.source) {
        return Ending::Failed(fail(e));
    }
    let vault = match ctx.open_vault(item.vault_id).await {
        Ok(v) => v,
        Err(e) => return Ending::Failed(fail(e)),
    };
    let parent = match ctx
        .catalog()
        .list_points(item.id, &PointFilter::default(), &Page::first(1))
        .await
    {
        Ok(p) => p
            .items
            .first()
            .and_then(|p| StorePointId::from_hex(&p.store_id).ok()),
        Err(e) => return Ending::Failed(fail(e)),
    };
    report.finish_task(0, ctx.now());

    // Transfer data to vault.
    report.start_task(1, ctx.now());
    let _ = ctx.push(report).await;
    let mut tag_list = vec![
        format!("{}{}", tags::ITEM, item.id),
        format!("{}{}", tags::JOB, ctx.job.id),
        format!("{}{}", tags::TIME, time.to_rfc3339()),
    ];
    match origin {
        PointOrigin::Scheduled { slot } => tag_list.push(format!("{}{slot}", tags::SLOT)),
        PointOrigin::OnDemand { retain_until } => tag_list.push(format!(
            "{}{}",
            tags::RETAIN_UNTIL,
            retain_until.to_rfc3339()
        )),
    }
    let opts = BackupOptions {
        tags: tag_list,
        host: None,
        parent,
        force_read: false,
        read_limit: ctx.shared.cfg.backup_read_limit,
    };
    let counters = Arc::new(StoreProgress::default());
    let events = Events::default();
    let (c, ev, v, src) = (
        counters.clone(),
        events.clone(),
        vault.clone(),
        item.source.clone(),
    );
    let result = ctx
        .blocking(report, Some((counters, None)), move || {
            workload
                .backup(BackupJob {
                    vault: &v,
                    source: &src,
                    options: opts,
                    progress: c,
                    events: &mut |e| ev.push(e),
                })
                .map(|b| b.outcome)
        })
        .await;
    events.report_to(report);
    let outcome = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Ending::Failed(fail(e)),
        Err(e) => return Ending::Failed(fail(e)),
    };
    let store_id = outcome.id.to_hex();
    if ctx.is_lost() {
        // Another server settled the job; the sweep adopts the point.
        return Ending::Done;
    }
    if ctx.refresh_cancel().await {
        // Cancelled during the transfer: the point goes again.
        let v = vault.clone();
        let sid = store_id.clone();
        match tokio::task::spawn_blocking(move || forget_point(&v, &sid)).await {
            Ok(Ok(())) => {
                if let Ok(Some(row)) = ctx.catalog().find_point(item.vault_id, &store_id).await {
                    let _ = ctx.catalog().delete_point(row.id).await;
                }
                return Ending::Cancelled;
            }
            Ok(Err(e)) => return Ending::Failed(fail(e)),
            Err(e) => return Ending::Failed(fail(e)),
        }
    }
    if outcome.point.consistency == StoreConsistency::ChangedDuringBackup {
        report.warn(Detail::new(
            codes::CHANGED_DURING_BACKUP,
            "files changed while they were read; the point is crash-consistent for them",
        ));
    }
    let committed = Committed {
        store_id,
        time,
        consistency: super::points::consistency_name(workload.consistency()),
        size: i64::try_from(outcome.point.summary.bytes).unwrap_or(i64::MAX),
        added_bytes: i64::try_from(outcome.point.summary.added_stored_bytes).unwrap_or(i64::MAX),
    };
    if let Err(e) = record_point(ctx.catalog(), item, policy.as_ref(), origin, &committed).await {
        return Ending::Failed(fail(e));
    }
    // A locked immutable vault: the store holds the new point too.
    if let Ok(sec) = crate::protect::security_of_id(ctx.catalog(), item.vault_id).await
        && sec.immutability_settings.state == lifeboat_model::vault::ImmutabilityState::Locked
        && let Err(e) =
            crate::protect::seal_holds(ctx.catalog(), ctx.storage(), item.vault_id, ctx.now()).await
    {
        report.warn(Detail::new(
            e.code(),
            format!("could not write the store's immutability hold: {e}; the next sweep retries"),
        ));
    }
    report.finish_task(1, ctx.now());
    Ending::Done
}

/// Last backup status and time, protection state and health after a backup.
async fn record_outcome(ctx: &JobCtx, item: &Item, ok: bool) -> crate::Result<()> {
    // The item may have changed while the job ran: read it again.
    let item = ctx.catalog().get_item_by_id(item.id).await?;
    let state = item.state;
    let action = if ok {
        ItemAction::BackupSucceeded
    } else {
        ItemAction::BackupFailed
    };
    let to = state.apply(action)?.to.unwrap_or(state);
    let status = if ok {
        LastBackupStatus::Healthy
    } else {
        LastBackupStatus::Unhealthy
    };
    let health = if ok {
        HealthStatus::Passed
    } else {
        HealthStatus::ActionRequired
    };
    ctx.catalog()
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(to),
                last_backup_time: if ok {
                    Some(Some(ctx.job.start_time.unwrap_or_else(|| ctx.now())))
                } else {
                    None
                },
                last_backup_status: Some(Some(status)),
                health: Some(health),
                ..ItemPatch::default()
            },
        )
        .await?;
    Ok(())
}
