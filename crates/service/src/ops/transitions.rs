//! Item transitions: change of policy, stop and resume of protection.

use super::*;

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
    let new = named_policy(catalog, item.vault_id, policy_name).await?;
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
    let new = named_policy(catalog, item.vault_id, policy_name).await?;
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
