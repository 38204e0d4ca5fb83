//! Soft delete and immutable vaults through the service, with a manual
//! clock, on SQLite and PostgreSQL: every guard is tried from the side a
//! user (or a bug) would try to get around it.

mod support;

use chrono::{Duration, TimeDelta};
use lifeboat_catalog::{CatalogError, Item, Page, Point, PointFilter, PointRetention, Vault};
use lifeboat_model::item::ProtectionState;
use lifeboat_model::item::StopMode;
use lifeboat_model::job::JobStatus;
use lifeboat_model::vault::{ImmutabilityState, SoftDeleteState};
use lifeboat_service::protect::{self, SecurityUpdate};
use lifeboat_service::{Clock, ServiceHandle, ops};
use support::{Env, daily_policy, restore_req, snapshot, utc};

async fn set(env: &Env, v: &Vault, upd: SecurityUpdate) -> Result<Vault, String> {
    let v = env.catalog.get_vault_by_id(v.id).await.unwrap();
    protect::update_security(&env.catalog, env.clock.as_ref(), &env.storage(), &v, &upd)
        .await
        .map_err(|e| e.code().to_string())
}

fn soft(state: SoftDeleteState) -> SecurityUpdate {
    SecurityUpdate {
        soft_delete_state: Some(state),
        ..SecurityUpdate::default()
    }
}

fn soft_days(days: i64) -> SecurityUpdate {
    SecurityUpdate {
        soft_delete_retention_period_in_days: Some(days),
        ..SecurityUpdate::default()
    }
}

fn immutability(state: ImmutabilityState) -> SecurityUpdate {
    SecurityUpdate {
        immutability_state: Some(state),
        ..SecurityUpdate::default()
    }
}

async fn alerts(env: &Env, v: &Vault) -> Vec<String> {
    let mut a: Vec<String> = env
        .catalog
        .list_alerts(v.id, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    a.reverse();
    a
}

async fn item(env: &Env, it: &Item) -> Item {
    env.catalog.get_item_by_id(it.id).await.unwrap()
}

async fn stop_delete(env: &Env, it: &Item) -> Result<ops::StopOutcome, String> {
    let it = item(env, it).await;
    ops::stop_protection(&env.catalog, env.clock.as_ref(), &it, StopMode::DeleteData)
        .await
        .map_err(|e| e.code().to_string())
}

/// Stop with delete-data soft-deletes `it`.
async fn assert_soft_deletes(env: &Env, it: &Item) {
    assert_eq!(
        stop_delete(env, it).await.unwrap().item.state,
        ProtectionState::SoftDeleted
    );
}

async fn store_points(env: &Env, v: &Vault) -> usize {
    env.store_point_ids(v.id).await.len()
}

async fn delete_vault(env: &Env, v: &Vault) -> Result<(), String> {
    ops::delete_vault(&env.catalog, env.clock.as_ref(), &env.storage(), v)
        .await
        .map(|_| ())
        .map_err(|e| e.code().to_string())
}

/// Resumes protection of `it` (as given, not re-read) under `policy`.
async fn resume(env: &Env, it: &Item, policy: &str) -> Result<Item, String> {
    ops::resume_protection(&env.catalog, env.clock.as_ref(), it, policy)
        .await
        .map(|(resumed, _)| resumed)
        .map_err(|e| e.code().to_string())
}

/// Moves `it` (re-read) to `policy`.
async fn change_policy(env: &Env, it: &Item, policy: &str) -> Result<(), String> {
    ops::change_item_policy(
        &env.catalog,
        env.clock.as_ref(),
        &item(env, it).await,
        policy,
    )
    .await
    .map(|_| ())
    .map_err(|e| e.code().to_string())
}

/// Stops protection of `it` (re-read) with retain-data.
async fn stop_retain(env: &Env, it: &Item) -> Item {
    ops::stop_protection(
        &env.catalog,
        env.clock.as_ref(),
        &item(env, it).await,
        StopMode::RetainData,
    )
    .await
    .unwrap()
    .item
}

/// Gives point `p` the retention `r` in the catalog, then runs an expiry
/// sweep of `v`, which must complete with warnings; returns them.
async fn sweep_after(
    env: &Env,
    h: &ServiceHandle,
    v: &Vault,
    p: &Point,
    r: &PointRetention,
) -> String {
    env.catalog.set_point_retention(p.id, r).await.unwrap();
    let sweep = ops::enqueue_sweep(&env.catalog, env.clock.as_ref(), v.id)
        .await
        .unwrap();
    h.wake();
    let done = env.wait_job(sweep.id).await;
    assert_eq!(done.state, JobStatus::CompletedWithWarnings, "{done:?}");
    done.warnings.to_string()
}

both!(
    delete_restore_undelete_resume,
    "2026-04-01T12:00:00Z",
    |env| {
        let (src, v, it) = env.protected_tree("src", 3, "v", "docs").await;
        let h = env.start().await;
        let (_, p1) = env.backup_now(&h, &it).await;
        env.backup_now(&h, &it).await;

        // Soft delete is on by default: delete-data soft-deletes.
        let out = stop_delete(&env, &it).await.unwrap();
        let now = env.clock.now();
        assert_eq!(out.item.state, ProtectionState::SoftDeleted);
        assert_eq!(out.item.deleted_at, Some(now));
        assert_eq!(out.item.purge_at, Some(now + Duration::days(14)));
        assert_eq!(out.item.next_run, None);
        let job = env.wait_job(out.job.unwrap().id).await;
        assert_eq!(job.state, JobStatus::Completed, "{job:?}");
        env.settle(&h).await;
        // The data stays, held.
        let pts = env.points(&it).await;
        assert_eq!(pts.len(), 2);
        assert!(pts.iter().all(|p| p.hold.as_deref() == Some("retain-data")));
        assert_eq!(store_points(&env, &v).await, 2);
        assert_eq!(alerts(&env, &v).await, ["delete-backup-data"]);
        // No backups, no second delete.
        let e = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &out.item, None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ITEM_STATE");
        assert_eq!(
            stop_delete(&env, &it).await.unwrap_err(),
            "INVALID_ITEM_STATE"
        );
        // Resume is refused until undeleted.
        assert_eq!(
            resume(&env, &out.item, "P").await.unwrap_err(),
            "INVALID_ITEM_STATE"
        );

        // A restore from the soft-deleted item works.
        let alt = env.data().join("alt");
        let req = restore_req(&p1.store_id, alt.to_str().unwrap(), None, &[]);
        let job = env.restore(&h, &out.item, &req).await;
        assert_eq!(job.state, JobStatus::Completed, "{job:?}");
        assert_eq!(
            snapshot(&alt.join(src.strip_prefix("/").unwrap())),
            snapshot(&src)
        );

        // A vault with an active item cannot be deleted; one with only a
        // soft-deleted item is soft-deleted, and comes back.
        let other = env.item(&v, "other", "path", &src, "P").await;
        assert_eq!(delete_vault(&env, &v).await.unwrap_err(), "VAULT_NOT_EMPTY");
        env.catalog.delete_item(other.id).await.unwrap();
        delete_vault(&env, &v).await.unwrap();
        assert!(matches!(
            env.catalog.get_vault("v").await,
            Err(CatalogError::NotFound { .. })
        ));
        assert!(env.catalog.list_vaults().await.unwrap().is_empty());
        let dv = env.catalog.get_deleted_vault("v").await.unwrap();
        assert_eq!(dv.purge_at, out.item.purge_at);
        assert_eq!(env.catalog.list_deleted_vaults().await.unwrap().len(), 1);
        protect::undelete_vault(&env.catalog, &dv).await.unwrap();
        assert_eq!(env.catalog.get_vault("v").await.unwrap().deleted_at, None);
        assert_eq!(store_points(&env, &v).await, 2);

        // Undelete: protection stopped with retained data; then resume.
        let back = protect::undelete_item(&env.catalog, env.clock.as_ref(), &item(&env, &it).await)
            .await
            .unwrap();
        assert_eq!(back.state, ProtectionState::ProtectionStopped);
        assert_eq!((back.deleted_at, back.purge_at), (None, None));
        let e = protect::undelete_item(&env.catalog, env.clock.as_ref(), &back)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ITEM_STATE");
        let resumed = resume(&env, &back, "P").await.unwrap();
        assert_eq!(resumed.state, ProtectionState::Protected);
        assert!(resumed.next_run.is_some());
        assert_eq!(env.points(&it).await.len(), 2);
        // Long after the old purge time nothing was purged (and scheduled
        // backups run again).
        env.settle_at(&h, now + Duration::days(20)).await;
        let pts = env.points(&it).await;
        assert!(pts.len() >= 3, "{pts:?}");
        assert!(pts.iter().any(|p| p.store_id == p1.store_id));
        h.shutdown(std::time::Duration::from_secs(10)).await;
    }
);

both!(
    purged_after_the_period_with_alerts,
    "2026-04-01T12:00:00Z",
    |env| {
        let (_src, v, it) = env.protected_tree("src", 4, "v", "docs").await;
        let h = env.start().await;
        env.backup_now(&h, &it).await;
        // The retention in force at delete time governs: 20 days, then lowered.
        set(&env, &v, soft_days(20)).await.unwrap();
        let out = stop_delete(&env, &it).await.unwrap();
        let t0 = env.clock.now();
        assert_eq!(out.item.purge_at, Some(t0 + Duration::days(20)));
        set(&env, &v, soft_days(14)).await.unwrap();
        assert_eq!(
            item(&env, &it).await.purge_at,
            Some(t0 + Duration::days(20))
        );
        // The vault now holds only a soft-deleted item: it is soft-deleted too.
        delete_vault(&env, &v).await.unwrap();
        let dv = env.catalog.get_deleted_vault("v").await.unwrap();
        assert_eq!(dv.purge_at, Some(t0 + Duration::days(20)));

        // Day 17: still there, no warning yet.
        env.settle_at(&h, t0 + Duration::days(17) + Duration::hours(1))
            .await;
        assert_eq!(env.points(&it).await.len(), 1);
        assert_eq!(alerts(&env, &v).await, ["delete-backup-data"]);
        // Day 18.5: the upcoming-purge alert, once however many sweeps run.
        env.settle_at(&h, t0 + Duration::days(18) + Duration::hours(12))
            .await;
        env.settle_at(&h, t0 + Duration::days(18) + Duration::hours(14))
            .await;
        assert_eq!(
            alerts(&env, &v).await,
            ["delete-backup-data", "upcoming-purge"]
        );
        assert_eq!(store_points(&env, &v).await, 1);
        // Day 20: purged, in the catalog and in the store.
        env.settle_at(&h, t0 + Duration::days(20) + Duration::hours(1))
            .await;
        assert!(matches!(
            env.catalog.get_item_by_id(it.id).await,
            Err(CatalogError::NotFound { .. })
        ));
        assert_eq!(store_points(&env, &v).await, 0);
        assert_eq!(
            alerts(&env, &v).await,
            ["delete-backup-data", "upcoming-purge", "purge-complete"]
        );
        // The empty soft-deleted vault goes for good at the next hour, store
        // and all.
        assert!(env.catalog.get_deleted_vault("v").await.is_ok());
        env.settle_at(&h, t0 + Duration::days(20) + Duration::hours(2))
            .await;
        assert!(matches!(
            env.catalog.get_vault_by_id(v.id).await,
            Err(CatalogError::NotFound { .. })
        ));
        assert!(!env.storage().exists(v.id));
        h.shutdown(std::time::Duration::from_secs(10)).await;
    }
);

both!(
    always_on_and_disabled_soft_delete,
    "2026-04-01T12:00:00Z",
    |env| {
        let src = env.tree("src", 5);
        let v = env.daily_vault("v").await;
        // Days out of range.
        for d in [13, 181] {
            let e = set(&env, &v, soft_days(d)).await.unwrap_err();
            assert_eq!(e, "INVALID_VAULT_SETTINGS");
        }
        // Disabled: an alert, and delete-data deletes at once.
        set(&env, &v, soft(SoftDeleteState::Disabled))
            .await
            .unwrap();
        assert_eq!(alerts(&env, &v).await, ["soft-delete-disabled"]);
        let it = env.item(&v, "docs", "path", &src, "P").await;
        let h = env.start().await;
        env.backup_now(&h, &it).await;
        let out = stop_delete(&env, &it).await.unwrap();
        env.wait_job(out.job.unwrap().id).await;
        env.settle(&h).await;
        assert!(env.catalog.get_item_by_id(it.id).await.is_err());
        assert_eq!(store_points(&env, &v).await, 0);
        // AlwaysON: can never be lowered again, by any route.
        set(&env, &v, soft(SoftDeleteState::AlwaysOn))
            .await
            .unwrap();
        for s in [SoftDeleteState::Disabled, SoftDeleteState::Enabled] {
            assert_eq!(
                set(&env, &v, soft(s)).await.unwrap_err(),
                "SOFT_DELETE_ALWAYS_ON"
            );
        }
        set(&env, &v, soft(SoftDeleteState::AlwaysOn))
            .await
            .unwrap();
        let sec = protect::security_of(&env.catalog.get_vault_by_id(v.id).await.unwrap()).unwrap();
        assert_eq!(
            sec.soft_delete_settings.soft_delete_state,
            SoftDeleteState::AlwaysOn
        );
        // And it soft-deletes.
        let it = env.item(&v, "again", "path", &src, "P").await;
        env.backup_now(&h, &it).await;
        assert_soft_deletes(&env, &it).await;
        h.shutdown(std::time::Duration::from_secs(10)).await;
    }
);

both!(
    retention_cut_soft_deletes_points,
    "2026-04-01T12:00:00Z",
    |env| {
        let (_src, v, it) = env.protected_tree("s", 6, "v", "s").await;
        let h = env.start().await;
        for day in 1..=9 {
            env.settle_at(&h, utc(&format!("2026-04-0{day}T22:00:00Z")))
                .await;
        }
        assert_eq!(env.points(&it).await.len(), 9);
        let replace = |days: i64| env.replace_policy(&v, "P", daily_policy("UTC", "22:00", days));
        let all = |_: &Env| {
            let cat = env.catalog.clone();
            async move {
                cat.list_points_ext(it.id, &PointFilter::default(), &Page::first(100), true)
                    .await
                    .unwrap()
                    .items
            }
        };
        // Cut to 7 days: the two oldest (1–2 April) are soft-deleted, not gone.
        let s = replace(7).await;
        assert_eq!((s.expired, s.soft_deleted), (2, 2));
        h.wake();
        env.settle(&h).await;
        assert_eq!(env.points(&it).await.len(), 7);
        let rows = all(&env).await;
        assert_eq!(rows.len(), 9);
        let deleted: Vec<_> = rows.iter().filter(|p| p.deleted_at.is_some()).collect();
        assert_eq!(deleted.len(), 2);
        let now = env.clock.now();
        assert!(
            deleted
                .iter()
                .all(|p| p.purge_at == Some(now + Duration::days(14)))
        );
        assert_eq!(store_points(&env, &v).await, 9);
        // Not restorable while soft-deleted.
        let e = ops::enqueue_restore(
            &env.catalog,
            env.clock.as_ref(),
            &it,
            &restore_req(
                &deleted[0].store_id,
                env.data().join("x").to_str().unwrap(),
                None,
                &[],
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "POINT_SOFT_DELETED");
        // Raised again within the period: they come back.
        let s = replace(30).await;
        assert_eq!(s.restored, 2);
        assert_eq!(env.points(&it).await.len(), 9);
        assert!(all(&env).await.iter().all(|p| p.deleted_at.is_none()));
        // Cut again, and let the period pass: purged from catalog and store.
        let s = replace(7).await;
        assert_eq!(s.soft_deleted, 2, "{s:?}");
        let cut = env.clock.now();
        env.settle_at(&h, cut + Duration::days(13)).await;
        assert!(all(&env).await.iter().any(|p| p.deleted_at.is_some()));
        env.settle_at(&h, cut + Duration::days(14) + Duration::hours(1))
            .await;
        assert!(all(&env).await.iter().all(|p| p.deleted_at.is_none()));
        let left = all(&env).await.len();
        assert_eq!(store_points(&env, &v).await, left);
        h.shutdown(std::time::Duration::from_secs(10)).await;
    }
);

both!(immutable_vault_refusals, "2026-04-01T12:00:00Z", |env| {
    let (_src, v, it) = env.protected_tree("src", 8, "v", "docs").await;
    env.policy(&v, "Short", daily_policy("UTC", "22:00", 7))
        .await;
    env.policy(&v, "Long", daily_policy("UTC", "22:00", 60))
        .await;
    let h = env.start().await;
    // A scheduled point (on-demand ones keep their own retain-until).
    env.settle_at(&h, utc("2026-04-01T22:00:00Z")).await;
    assert_eq!(env.points(&it).await.len(), 1);
    // Disabled cannot jump to Locked.
    assert_eq!(
        set(&env, &v, immutability(ImmutabilityState::Locked))
            .await
            .unwrap_err(),
        "IMMUTABILITY_NOT_UNLOCKED"
    );
    for state in [ImmutabilityState::Unlocked, ImmutabilityState::Locked] {
        if state == ImmutabilityState::Locked {
            // Unlocked can go back to Disabled, and on again.
            set(&env, &v, immutability(ImmutabilityState::Disabled))
                .await
                .unwrap();
            set(&env, &v, immutability(ImmutabilityState::Unlocked))
                .await
                .unwrap();
        }
        set(&env, &v, immutability(state)).await.unwrap();
        // Stop with delete-data before expiry.
        assert_eq!(
            stop_delete(&env, &it).await.unwrap_err(),
            "IMMUTABLE_STOP_WITH_DELETE"
        );
        assert_eq!(item(&env, &it).await.state, ProtectionState::Protected);
        // A policy edit that cuts retention; raising it is fine.
        let vault = env.catalog.get_vault_by_id(v.id).await.unwrap();
        let old = env.catalog.get_policy(v.id, "P").await.unwrap().document;
        let short = ops::resolve_policy(&daily_policy("UTC", "22:00", 7)).unwrap();
        let long = ops::resolve_policy(&daily_policy("UTC", "22:00", 90)).unwrap();
        let e = protect::check_policy_edit(&vault, "P", &old, &short).unwrap_err();
        assert_eq!(e.code(), "IMMUTABLE_RETENTION_REDUCTION");
        protect::check_policy_edit(&vault, "P", &old, &long).unwrap();
        // Moving the item to a shorter policy; to a longer one is fine.
        assert_eq!(
            change_policy(&env, &it, "Short").await.unwrap_err(),
            "IMMUTABLE_POLICY_SWAP_REDUCTION"
        );
        change_policy(&env, &it, "Long").await.unwrap();
        change_policy(&env, &it, "P").await.unwrap_err();
        // Stop with retain-data is allowed; resuming with a policy that
        // lets points go earlier is not.
        let stopped = stop_retain(&env, &it).await;
        assert_eq!(
            resume(&env, &stopped, "Short").await.unwrap_err(),
            "IMMUTABLE_POLICY_SWAP_REDUCTION"
        );
        resume(&env, &stopped, "Long").await.unwrap();
    }
    // Locked is for ever.
    for s in [ImmutabilityState::Unlocked, ImmutabilityState::Disabled] {
        assert_eq!(
            set(&env, &v, immutability(s)).await.unwrap_err(),
            "IMMUTABILITY_LOCKED"
        );
    }
    set(&env, &v, immutability(ImmutabilityState::Locked))
        .await
        .unwrap();
    // Once every point has expired, delete-data is allowed again.
    stop_retain(&env, &it).await;
    env.clock.set(env.clock.now() + Duration::days(61));
    assert_soft_deletes(&env, &it).await;
    h.shutdown(std::time::Duration::from_secs(10)).await;
});

// The manual clock runs years ahead of the machine's, so that the store,
// which compares holds with the system clock, sees them unexpired.
both!(
    locked_store_refuses_direct_deletes,
    "2031-01-10T12:00:00Z",
    |env| {
        let (_src, v, it) = env.protected_tree("src", 9, "v", "docs").await;
        let h = env.start().await;
        let (_, before) = env.backup_now(&h, &it).await;
        set(&env, &v, immutability(ImmutabilityState::Unlocked))
            .await
            .unwrap();
        set(&env, &v, immutability(ImmutabilityState::Locked))
            .await
            .unwrap();
        let (_, after) = env.backup_now(&h, &it).await;
        let store = env.storage().open(v.id).unwrap();
        assert!(lifeboat_store::immutable::is_locked(&store).unwrap());
        for p in [&before, &after] {
            let id = lifeboat_store::id::PointId::from_hex(&p.store_id).unwrap();
            let until = lifeboat_store::immutable::held_until(&store, &id)
                .unwrap()
                .unwrap();
            assert_eq!(
                until.timestamp_millis(),
                p.rule_expiry.unwrap().timestamp_millis()
            );
            // The engine itself refuses, whoever calls it.
            let e = lifeboat_store::immutable::forget_point(&store, &id).unwrap_err();
            assert_eq!(e.code(), "IMMUTABLE_POINT_HELD");
        }
        // A bug that marks a point expired in the catalog: the sweep checks
        // the rules' expiry and refuses.
        let mut r = PointRetention {
            rule_tags: before.rule_tags.clone(),
            expiry: Some(env.clock.now() - TimeDelta::hours(1)),
            rule_name: before.rule_name.clone(),
            rule_expiry: before.rule_expiry,
            hold: None,
        };
        let warnings = sweep_after(&env, &h, &v, &before, &r).await;
        assert!(warnings.contains("IMMUTABLE_POINT_NOT_EXPIRED"));
        assert_eq!(store_points(&env, &v).await, 2);
        // A worse bug that gets the rules' expiry wrong too: the store itself
        // refuses, nothing is lost.
        r.rule_expiry = r.expiry;
        let warnings = sweep_after(&env, &h, &v, &before, &r).await;
        assert!(warnings.contains("IMMUTABLE_POINT_HELD"));
        assert_eq!(store_points(&env, &v).await, 2);
        assert_eq!(env.points(&it).await.len(), 2);
        r.rule_expiry = before.rule_expiry;
        r.expiry = before.expiry;
        env.catalog
            .set_point_retention(before.id, &r)
            .await
            .unwrap();
        h.shutdown(std::time::Duration::from_secs(10)).await;
    }
);
