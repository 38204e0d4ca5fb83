//! The API's side of each domain action: a thin layer over
//! `lifeboat_service::ops` that supplies the catalog and clock, wakes the
//! job runner when a job was queued, and turns rows into API shapes. The
//! rules themselves (state machine, re-tagging, restore checks) live in the
//! model and the service.

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Item, Point, Policy, Vault};
use lifeboat_model::item::StopMode;
use lifeboat_service::ops as svc;
use lifeboat_service::params::RestoreRequest as SvcRestore;

use crate::api::jobs::job_dto;
use crate::dto::{JobDto, RestoreRequest};
use crate::error::ApiResult;
use crate::state::AppState;

/// When an item on `policy` first runs after `now`.
pub fn next_run(policy: &Policy, now: DateTime<Utc>) -> ApiResult<Option<DateTime<Utc>>> {
    let valid = svc::resolve_policy(&policy.document)?;
    Ok(svc::next_run(&valid, now))
}

/// A policy's document was replaced: re-tag the points of every item on it
/// and move their next runs to the new schedule.
pub async fn policy_replaced(
    state: &AppState,
    vault: &Vault,
    old_document: &serde_json::Value,
    new: &Policy,
) -> ApiResult<()> {
    let new_valid = svc::resolve_policy(&new.document)?;
    let summary = match svc::resolve_policy(old_document) {
        Ok(old_valid) => {
            svc::policy_replaced(
                &state.catalog,
                state.clock.as_ref(),
                vault.id,
                &new.name,
                &old_valid,
                &new_valid,
            )
            .await?
        }
        // An old document that no longer reads (edited by hand): evaluate
        // every point under the new policy instead of comparing.
        Err(e) => {
            tracing::warn!(vault = %vault.name, policy = %new.name, error = %e, "old policy unreadable; re-evaluating points under the new one");
            let mut total = svc::RetagSummary::default();
            for item in state
                .catalog
                .list_items_with_policy(vault.id, &new.name)
                .await?
            {
                let s = svc::apply_points_effect(
                    &state.catalog,
                    state.clock.as_ref(),
                    &item,
                    lifeboat_model::item::PointsEffect::Retag,
                    None,
                    Some(&new_valid),
                )
                .await?;
                total.points += s.points;
                total.expired += s.expired;
                let item = state.catalog.get_item_by_id(item.id).await?;
                svc::reschedule_item(&state.catalog, state.clock.as_ref(), &item).await?;
            }
            total
        }
    };
    tracing::info!(
        vault = %vault.name, policy = %new.name,
        points = summary.points, extended = summary.extended,
        shortened = summary.shortened, expired = summary.expired,
        "points re-tagged after policy change"
    );
    // Re-tagging may have queued an expiry sweep.
    state.service.wake();
    Ok(())
}

/// Queues an on-demand backup.
pub async fn backup_now(
    state: &AppState,
    vault: &Vault,
    item: &Item,
    retain_until: Option<DateTime<Utc>>,
) -> ApiResult<JobDto> {
    let job =
        svc::enqueue_backup_now(&state.catalog, state.clock.as_ref(), item, retain_until).await?;
    state.service.wake();
    tracing::info!(vault = %vault.name, item = %item.name, job = job.id.0, "on-demand backup queued");
    job_dto(state, job).await
}

/// What stopping protection answers.
pub enum StopOutcome {
    /// retain-data / retain-as-per-policy: the item as it now is.
    Stopped(Item),
    /// delete-data: the job that deletes the points and then the item.
    Deleting(JobDto),
}

pub async fn stop(
    state: &AppState,
    vault: &Vault,
    item: &Item,
    mode: StopMode,
) -> ApiResult<StopOutcome> {
    let out = svc::stop_protection(&state.catalog, state.clock.as_ref(), item, mode).await?;
    tracing::info!(vault = %vault.name, item = %item.name, ?mode, "protection stopped");
    match out.job {
        Some(job) => {
            state.service.wake();
            Ok(StopOutcome::Deleting(job_dto(state, job).await?))
        }
        None => {
            state.service.wake();
            Ok(StopOutcome::Stopped(out.item))
        }
    }
}

pub async fn resume(state: &AppState, vault: &Vault, item: &Item, policy: &str) -> ApiResult<Item> {
    let (item, summary) =
        svc::resume_protection(&state.catalog, state.clock.as_ref(), item, policy).await?;
    // Points past their expiry are swept by a job queued just now.
    state.service.wake();
    tracing::info!(vault = %vault.name, item = %item.name, %policy, expired = summary.expired, "protection resumed");
    Ok(item)
}

pub async fn change_policy(
    state: &AppState,
    vault: &Vault,
    item: &Item,
    policy: &str,
) -> ApiResult<Item> {
    let (item, summary) =
        svc::change_item_policy(&state.catalog, state.clock.as_ref(), item, policy).await?;
    state.service.wake();
    tracing::info!(vault = %vault.name, item = %item.name, %policy, points = summary.points, expired = summary.expired, "policy changed");
    Ok(item)
}

pub async fn restore(
    state: &AppState,
    vault: &Vault,
    item: &Item,
    point: &Point,
    req: RestoreRequest,
) -> ApiResult<JobDto> {
    let req = SvcRestore {
        point: point.store_id.clone(),
        target: req.target,
        conflict: req.conflict,
        include: req.include.unwrap_or_default(),
        format: req.format,
    };
    let job = svc::enqueue_restore(&state.catalog, state.clock.as_ref(), item, &req).await?;
    state.service.wake();
    tracing::info!(vault = %vault.name, item = %item.name, point = %point.store_id, job = job.id.0, "restore queued");
    job_dto(state, job).await
}
