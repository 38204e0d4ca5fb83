//! The scheduler loop: every tick it queues the due slots of Protected
//! items (the decision is [`crate::plan::decide`]; this file applies it),
//! plans items that have no next run yet, and queues the hourly expiry
//! sweep of every vault. Each slot is one job: the enqueue is keyed by
//! (item, slot) and the watermark moves by compare-and-set, so any number
//! of servers may plan at once. A batch of due items is applied in one
//! catalog transaction, so 10,000 items due at once cost a few dozen
//! durable commits, not 20,000.

use lifeboat_model::job::JobType;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Item, ItemId, NewJob, PlannedSlot, Policy, VaultId};
use lifeboat_model::ValidPolicy;

use crate::error::Result;
use crate::ops::resolve_policy;
use crate::params::{self, BackupParams};
use crate::plan;
use crate::runner::Shared;

/// Items planned per catalog round trip.
const BATCH: i64 = 500;
/// States whose items the scheduler plans.
const ACTIVE: [&str; 2] = ["Protected", "ProtectionError"];

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut last_sweep_hour: Option<String> = None;
    loop {
        if shared.is_stopping() {
            break;
        }
        if let Err(e) = tick(&shared, &mut last_sweep_hour).await {
            tracing::warn!(error = %e, "scheduler tick failed");
        }
        tokio::time::sleep(shared.cfg.tick).await;
    }
}

type PolicyCache = HashMap<(VaultId, String), Option<ValidPolicy>>;

/// A policy row as the scheduler uses it: validated, or `None` (logged)
/// when its document does not validate.
fn usable(row: &Policy) -> Option<ValidPolicy> {
    match resolve_policy(&row.document) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(vault = row.vault_id.0, policy = %row.name, error = %e, "policy does not validate; its items are not scheduled");
            None
        }
    }
}

/// Fills the cache with every policy of the vaults of `items` in one query,
/// instead of one query per (vault, policy) as the items come.
async fn prefetch_policies(shared: &Shared, cache: &mut PolicyCache, items: &[Item]) {
    let vaults: BTreeSet<VaultId> = items
        .iter()
        .filter(|i| {
            i.policy_name
                .as_ref()
                .is_some_and(|n| !cache.contains_key(&(i.vault_id, n.clone())))
        })
        .map(|i| i.vault_id)
        .collect();
    if vaults.is_empty() {
        return;
    }
    let vaults: Vec<VaultId> = vaults.into_iter().collect();
    match shared.catalog.policies_of_vaults(&vaults).await {
        Ok(rows) => {
            for row in &rows {
                cache
                    .entry((row.vault_id, row.name.clone()))
                    .or_insert_with(|| usable(row));
            }
        }
        // `policy_for` falls back to one lookup per policy.
        Err(e) => tracing::warn!(error = %e, "cannot read the policies of due items"),
    }
}

async fn policy_for(shared: &Shared, cache: &mut PolicyCache, item: &Item) -> Option<ValidPolicy> {
    let name = item.policy_name.clone()?;
    let key = (item.vault_id, name);
    if let Some(p) = cache.get(&key) {
        return p.clone();
    }
    let p = match shared.catalog.get_policy(item.vault_id, &key.1).await {
        Ok(row) => usable(&row),
        Err(e) => {
            tracing::warn!(vault = item.vault_id.0, policy = %key.1, error = %e, "cannot read policy");
            None
        }
    };
    cache.insert(key, p.clone());
    p
}

pub(crate) async fn tick(shared: &Shared, last_sweep_hour: &mut Option<String>) -> Result<()> {
    let now = shared.now();
    let mut cache = PolicyCache::new();
    let mut lag = 0.0;
    let mut seen: HashSet<ItemId> = HashSet::new();
    let mut first = true;
    loop {
        let due = shared.catalog.due_items(now, BATCH).await?;
        if first {
            lag = due
                .first()
                .and_then(|i| i.next_run)
                .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            first = false;
        }
        prefetch_policies(shared, &mut cache, &due).await;
        let mut plans = Vec::with_capacity(due.len());
        for item in &due {
            if !seen.insert(item.id) {
                continue;
            }
            if let Some(p) = plan_item(shared, &mut cache, item, now).await {
                plans.push(p);
            }
        }
        let progressed = !plans.is_empty();
        // One transaction per batch: one durable commit for up to BATCH
        // slots instead of two per slot.
        let results = shared.catalog.plan_slots(&plans).await?;
        let mut queued = 0u64;
        for (p, r) in plans.iter().zip(&results) {
            if r.queued {
                queued += 1;
                if let Some(job) = &p.job {
                    let late = job.params.get("lateSeconds").and_then(|v| v.as_i64());
                    let missed = job.params.get("missedSlots").and_then(|v| v.as_u64());
                    if late.is_some() || missed.is_some() {
                        tracing::warn!(item = p.item_id.0, slot = ?job.slot_key, ?missed, late_secs = ?late, "queued a late slot");
                    }
                }
            }
        }
        if queued > 0 {
            shared
                .counters
                .slots_queued
                .fetch_add(queued, Ordering::Relaxed);
            shared.wake.notify_one();
        }
        if (due.len() as i64) < BATCH || !progressed || shared.is_stopping() {
            break;
        }
    }
    let unplanned = shared.catalog.unplanned_items(&ACTIVE, BATCH).await?;
    prefetch_policies(shared, &mut cache, &unplanned).await;
    for item in unplanned {
        if let Some(p) = policy_for(shared, &mut cache, &item).await {
            let next = plan::next_run(&p, now);
            shared.catalog.advance_next_run(item.id, None, next).await?;
        }
    }
    let hour = plan::hourly_key(now);
    if last_sweep_hour.as_deref() != Some(hour.as_str()) {
        enqueue_sweeps(shared, &hour, now).await?;
        *last_sweep_hour = Some(hour);
    }
    let mut s = shared.sched.lock().unwrap_or_else(|p| p.into_inner());
    s.lag_seconds = lag;
    s.last_tick = Some(now);
    s.ticks += 1;
    Ok(())
}

/// The planning step of one due item: the slot to queue (if any) and
/// where its watermark goes.
async fn plan_item(
    shared: &Shared,
    cache: &mut PolicyCache,
    item: &Item,
    now: DateTime<Utc>,
) -> Option<PlannedSlot> {
    let watermark = item.next_run?;
    let takes_backups = item.state.takes_backups();
    let policy = if takes_backups {
        policy_for(shared, cache, item).await
    } else {
        None
    };
    let Some(policy) = policy else {
        // Stopped, or no usable policy: nothing to plan until the API
        // resumes it (which sets a new next run).
        return Some(PlannedSlot {
            item_id: item.id,
            job: None,
            expected: watermark,
            next: None,
        });
    };
    let d = plan::decide(&policy, watermark, now);
    let job = d.enqueue.map(|q| {
        let key = q.slot.key.to_string();
        let p = BackupParams {
            retain_until: None,
            on_demand: false,
            slot: Some(key.clone()),
            missed_slots: q.missed,
            late_seconds: q.late.map(|l| l.num_seconds()),
            retry_of: None,
        };
        NewJob {
            vault_id: item.vault_id,
            item_id: Some(item.id),
            job_type: JobType::Backup,
            slot_key: Some(key),
            params: serde_json::to_value(&p).unwrap_or_else(|_| params::empty()),
            queued_at: q.slot.at,
        }
    });
    Some(PlannedSlot {
        item_id: item.id,
        job,
        expected: watermark,
        next: d.next_run,
    })
}

/// The hourly expiry sweep of every vault with storage (soft-deleted
/// vaults too: their items are purged by it), keyed by the UTC hour so that
/// several servers queue one.
async fn enqueue_sweeps(shared: &Shared, hour: &str, now: DateTime<Utc>) -> Result<()> {
    for v in shared.catalog.list_all_vaults().await? {
        if !shared.storage.exists(v.id) {
            continue;
        }
        // A soft-deleted vault past its purge time whose items have all
        // been purged goes for good (refused, and tried again next hour,
        // while anything is left or a job still runs).
        if v.deleted_at.is_some() && v.purge_at.is_some_and(|p| p <= now) {
            let usage = shared.catalog.vault_usage(v.id).await?;
            if usage.items == 0 && usage.points == 0 {
                match crate::ops::delete_vault(
                    &shared.catalog,
                    shared.clock.as_ref(),
                    &shared.storage,
                    &v,
                )
                .await
                {
                    Ok(()) => {
                        tracing::info!(vault = %v.name, "soft-deleted vault purged");
                        continue;
                    }
                    Err(e) => {
                        tracing::info!(vault = %v.name, error = %e, "soft-deleted vault not purged yet")
                    }
                }
            }
        }
        shared
            .catalog
            .enqueue(&NewJob {
                vault_id: v.id,
                item_id: None,
                job_type: JobType::ExpirySweep,
                slot_key: Some(hour.to_string()),
                params: params::empty(),
                queued_at: now,
            })
            .await?;
    }
    shared.wake.notify_one();
    Ok(())
}
