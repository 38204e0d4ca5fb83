//! Soft delete and immutable vaults: the guards of every destructive path
//! (docs/security.md, "Soft delete" and "Immutable vaults"). The rules are
//! the model's ([`lifeboat_model::guard`]); this module reads the vault's
//! settings, applies them to catalog rows, keeps the store's own
//! immutability objects in step, and records the security alerts.
//!
//! - Settings: [`update_security`] (soft delete state and days,
//!   immutability); locking writes the store's lock object and a hold for
//!   every unexpired point ([`seal_holds`]), so the engine itself refuses
//!   to delete them from then on.
//! - Items: stop protection with delete-data goes through
//!   [`crate::ops::enqueue_delete_data`], which calls
//!   [`check_stop_with_delete`] and, with soft delete on,
//!   [`soft_delete_item`]; [`undelete_item`] brings an item back.
//! - Vaults: [`crate::ops::delete_vault`] soft-deletes a vault that holds
//!   only soft-deleted items; [`undelete_vault`].
//! - Purging is the expiry sweep's (executors/sweep.rs).

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Catalog, Item, ItemPatch, Job, NewAlert, Point, Vault, VaultId};
use lifeboat_model::guard::{self, AlertKind};
use lifeboat_model::item::{ItemAction, PointsEffect, ProtectionState, StopMode};
use lifeboat_model::job::JobType;
use lifeboat_model::vault::{
    ImmutabilityState, SecuritySettings, SoftDeleteSettings, SoftDeleteState,
};
use lifeboat_store::id::PointId as StorePointId;
use lifeboat_store::immutable;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Result, ServiceError};
use crate::ops::{apply_points_effect, enqueue, item_policy};
use crate::storage::VaultStorage;

/// The vault's security settings (defaults when the document has none).
/// A document that does not read is an error, never "no protection".
pub fn security_of(vault: &Vault) -> Result<SecuritySettings> {
    match vault.settings.get("securitySettings") {
        None => Ok(SecuritySettings::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            ServiceError::Internal(format!(
                "vault '{}' has unreadable security settings: {e}",
                vault.name
            ))
        }),
    }
}

/// The security settings of the vault with id `id`.
pub async fn security_of_id(catalog: &Catalog, id: VaultId) -> Result<SecuritySettings> {
    security_of(&catalog.get_vault_by_id(id).await?)
}

/// The expiry a point's retention rules give it (holds aside).
pub fn rule_expiry(p: &Point) -> Option<DateTime<Utc>> {
    p.rule_expiry.or(p.expiry)
}

/// Records a security alert; with a `dedup` key, only once.
pub async fn alert(
    catalog: &Catalog,
    vault_id: VaultId,
    kind: AlertKind,
    item: Option<&str>,
    now: DateTime<Utc>,
    message: String,
    dedup: Option<String>,
) -> Result<()> {
    tracing::warn!(vault = vault_id.0, alert = kind.as_str(), item, "{message}");
    catalog
        .insert_alert(&NewAlert {
            vault_id,
            kind: kind.as_str().to_string(),
            item_name: item.map(str::to_string),
            time: now,
            message,
            dedup_key: dedup,
        })
        .await?;
    Ok(())
}

/// A change of a vault's security settings; `None` keeps a field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityUpdate {
    pub soft_delete_state: Option<SoftDeleteState>,
    pub soft_delete_retention_period_in_days: Option<i64>,
    pub immutability_state: Option<ImmutabilityState>,
}

/// Changes a vault's soft-delete and immutability settings under the
/// model's rules (`SOFT_DELETE_ALWAYS_ON`, `IMMUTABILITY_LOCKED`,
/// `IMMUTABILITY_NOT_UNLOCKED`, `INVALID_VAULT_SETTINGS` for the days).
/// Turning soft delete off raises a `soft-delete-disabled` alert; locking
/// immutability locks the store too (holds first, then the lock object,
/// then the catalog: the store is never less strict than the catalog says).
pub async fn update_security(
    catalog: &Catalog,
    clock: &dyn Clock,
    storage: &VaultStorage,
    vault: &Vault,
    upd: &SecurityUpdate,
) -> Result<Vault> {
    let old = security_of(vault)?;
    let mut new = old;
    if let Some(s) = upd.soft_delete_state {
        new.soft_delete_settings.soft_delete_state = s;
    }
    if let Some(d) = upd.soft_delete_retention_period_in_days {
        new.soft_delete_settings
            .soft_delete_retention_period_in_days = d;
    }
    if let Some(s) = upd.immutability_state {
        new.immutability_settings.state = s;
    }
    new.soft_delete_settings.check_retention()?;
    guard::check_soft_delete_change(
        old.soft_delete_settings.soft_delete_state,
        new.soft_delete_settings.soft_delete_state,
    )?;
    guard::check_immutability_change(
        old.immutability_settings.state,
        new.immutability_settings.state,
    )?;
    let now = clock.now();
    if new.immutability_settings.state == ImmutabilityState::Locked {
        // Idempotent: also repairs a store whose lock was lost.
        seal_holds(catalog, storage, vault.id, now).await?;
        let store = storage.open_async(vault.id).await?;
        tokio::task::spawn_blocking(move || immutable::lock(&store)).await??;
    }
    let mut doc = vault.settings.clone();
    if !doc.is_object() {
        doc = serde_json::json!({});
    }
    doc["securitySettings"] =
        serde_json::to_value(new).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let updated = catalog.update_vault_settings(vault.id, &doc).await?;
    if old.soft_delete_settings.is_on() && !new.soft_delete_settings.is_on() {
        alert(
            catalog,
            vault.id,
            AlertKind::SoftDeleteDisabled,
            None,
            now,
            format!(
                "soft delete was disabled for vault '{}': deleted backup data is now removed at \
                 once (items already soft-deleted keep their purge time)",
                vault.name
            ),
            None,
        )
        .await?;
    }
    Ok(updated)
}

/// Writes a store hold for every point of the vault whose rules keep it
/// past `now` (idempotent: holds only grow). Called when a vault is
/// locked, after each backup and on each sweep of a locked vault.
pub async fn seal_holds(
    catalog: &Catalog,
    storage: &VaultStorage,
    vault_id: VaultId,
    now: DateTime<Utc>,
) -> Result<u64> {
    let holds: Vec<(String, DateTime<Utc>)> = catalog
        .vault_points(vault_id)
        .await?
        .iter()
        .filter_map(|p| {
            rule_expiry(p)
                .filter(|e| *e > now)
                .map(|e| (p.store_id.clone(), e))
        })
        .collect();
    if holds.is_empty() {
        return Ok(0);
    }
    let store = storage.open_async(vault_id).await?;
    let n = holds.len() as u64;
    tokio::task::spawn_blocking(move || -> Result<()> {
        for (sid, until) in holds {
            let id = StorePointId::from_hex(&sid)?;
            immutable::hold(&store, &id, until)?;
        }
        Ok(())
    })
    .await??;
    Ok(n)
}

/// `Ok` if protection of `item` may stop with delete-data: in an
/// immutable vault only when every point has reached its expiry
/// (`IMMUTABLE_STOP_WITH_DELETE`).
pub async fn check_stop_with_delete(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
) -> Result<()> {
    let sec = security_of_id(catalog, item.vault_id).await?;
    if !sec.immutability_settings.state.is_on() {
        return Ok(());
    }
    let expiries: Vec<_> = catalog
        .item_points(item.id)
        .await?
        .iter()
        .map(rule_expiry)
        .collect();
    guard::check_stop_with_delete(
        sec.immutability_settings.state,
        &item.name,
        &expiries,
        clock.now(),
    )?;
    Ok(())
}

/// Stop protection with delete-data under soft delete: the item becomes
/// `SoftDeleted` with its purge time (from the settings in force now),
/// every point is held, a `DeleteBackupData` job ends the item's other
/// jobs, and a `delete-backup-data` alert is recorded.
pub async fn soft_delete_item(
    catalog: &Catalog,
    clock: &dyn Clock,
    item: &Item,
    settings: &SoftDeleteSettings,
) -> Result<(Item, Job)> {
    let state = item.state;
    let t = state.apply(ItemAction::StopProtection {
        mode: StopMode::DeleteData,
        soft_delete: true,
    })?;
    let now = clock.now();
    let purge = settings.purge_time(now);
    catalog
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(t.to.unwrap_or(ProtectionState::SoftDeleted)),
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    let item = catalog
        .set_item_deleted(item.id, Some((now, purge)))
        .await?;
    let policy = item_policy(catalog, &item).await.ok().flatten();
    apply_points_effect(
        catalog,
        clock,
        &item,
        t.points,
        policy.as_ref(),
        policy.as_ref(),
    )
    .await?;
    let job = enqueue(
        catalog,
        item.vault_id,
        Some(item.id),
        JobType::DeleteBackupData,
        serde_json::json!({"softDelete": true}),
        now,
    )
    .await?;
    alert(
        catalog,
        item.vault_id,
        AlertKind::DeleteBackupData,
        Some(&item.name),
        now,
        format!(
            "protection of '{}' was stopped with delete-data: the item is soft-deleted and its \
             data is purged at {} unless it is undeleted",
            item.name,
            purge.to_rfc3339()
        ),
        None,
    )
    .await?;
    Ok((item, job))
}

/// Undeletes a soft-deleted item (`POST …/items/{item}/undelete`): it
/// returns as `ProtectionStopped` with every point held; resume it with a
/// policy to take backups again.
pub async fn undelete_item(catalog: &Catalog, clock: &dyn Clock, item: &Item) -> Result<Item> {
    let state = item.state;
    let t = state.apply(ItemAction::Undelete)?;
    catalog
        .update_item(
            item.id,
            &ItemPatch {
                state: Some(t.to.unwrap_or(ProtectionState::ProtectionStopped)),
                next_run: Some(None),
                ..ItemPatch::default()
            },
        )
        .await?;
    let item = catalog.set_item_deleted(item.id, None).await?;
    apply_points_effect(catalog, clock, &item, t.points, None, None).await?;
    Ok(item)
}

/// Soft-deletes a vault that holds only soft-deleted items: hidden from
/// vault lists and lookups, purged with its last item.
pub async fn soft_delete_vault(
    catalog: &Catalog,
    clock: &dyn Clock,
    vault: &Vault,
) -> Result<Vault> {
    let now = clock.now();
    let sec = security_of(vault)?;
    let purge = catalog
        .deleted_items(vault.id)
        .await?
        .iter()
        .filter_map(|i| i.purge_at)
        .max()
        .unwrap_or_else(|| sec.soft_delete_settings.purge_time(now));
    Ok(catalog
        .set_vault_deleted(vault.id, Some((now, purge)))
        .await?)
}

/// Undeletes a soft-deleted vault (`POST /deleted-vaults/{vault}/undelete`);
/// its items stay soft-deleted until undeleted one by one.
pub async fn undelete_vault(catalog: &Catalog, vault: &Vault) -> Result<Vault> {
    Ok(catalog.set_vault_deleted(vault.id, None).await?)
}

/// Whether `effect` may soft-delete points whose new expiry has passed (a
/// retention cut) and bring back soft-deleted ones that are kept again.
pub(crate) fn effect_moves_points(effect: PointsEffect) -> (bool, bool) {
    match effect {
        PointsEffect::Retag => (true, true),
        PointsEffect::Reapply => (false, true),
        _ => (false, false),
    }
}

/// `Ok` if policy `name` of `vault` may be replaced by `new`: an immutable
/// vault refuses a retention cut (`IMMUTABLE_RETENTION_REDUCTION`). An old
/// document that no longer reads cannot be compared, and is refused too in
/// an immutable vault.
pub fn check_policy_edit(
    vault: &Vault,
    name: &str,
    old_document: &serde_json::Value,
    new: &lifeboat_model::ValidPolicy,
) -> Result<()> {
    let sec = security_of(vault)?;
    let state = sec.immutability_settings.state;
    if !state.is_on() {
        return Ok(());
    }
    let old = crate::ops::resolve_policy(old_document)?;
    guard::check_policy_edit(state, name, &old, new)?;
    Ok(())
}
