//! Every catalog operation, on a real SQLite file and a real PostgreSQL
//! database: each `both!` test runs as `NAME::sqlite` and `NAME::postgres`.

#[macro_use]
mod support;

use lifeboat_model::item::HealthStatus;
use lifeboat_model::item::LastBackupStatus;
use lifeboat_model::item::ProtectionState;
use lifeboat_model::item::WorkloadKind;
use lifeboat_model::job::JobStatus;
use lifeboat_model::job::JobType;
use lifeboat_model::source::Source;
use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;
use serde_json::json;
use support::TestDb;

// ------------------------------------------------------------- fixtures

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap() + TimeDelta::microseconds(123_456)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

async fn vault(cat: &Catalog, name: &str) -> Vault {
    cat.create_vault(&NewVault {
        settings: json!({"softDelete": {"state": "Enabled", "days": 14}}),
        ..support::new_vault(name, t0())
    })
    .await
    .unwrap()
}

async fn policy(cat: &Catalog, v: &Vault, name: &str) -> Policy {
    cat.create_policy(
        v.id,
        name,
        &json!({"schedulePolicy": {"scheduleRunFrequency": "Daily"}}),
        t0(),
    )
    .await
    .unwrap()
}

fn new_item(v: &Vault, name: &str, policy: Option<&str>) -> NewItem {
    NewItem {
        vault_id: v.id,
        name: name.into(),
        source: Source::Path {
            path: format!("/srv/{name}").into(),
        },
        policy_name: policy.map(Into::into),
        state: ProtectionState::Protected,
        health: HealthStatus::Passed,
        settings: json!({}),
        next_run: None,
        created: t0(),
    }
}

async fn item(cat: &Catalog, v: &Vault, name: &str, policy: Option<&str>) -> Item {
    cat.create_item(&new_item(v, name, policy)).await.unwrap()
}

fn new_point(it: &Item, store_id: &str, time: DateTime<Utc>) -> NewPoint {
    NewPoint {
        size: 1000,
        added_bytes: 100,
        expiry: Some(time + TimeDelta::days(30)),
        ..support::point(it, store_id, time)
    }
}

fn new_job(v: &Vault, it: Option<&Item>, slot: Option<&str>, at: DateTime<Utc>) -> NewJob {
    NewJob {
        vault_id: v.id,
        item_id: it.map(|i| i.id),
        job_type: JobType::Backup,
        slot_key: slot.map(Into::into),
        params: json!({"retainUntil": null}),
        queued_at: at,
    }
}

fn outcome(state: JobStatus, end: DateTime<Utc>) -> JobOutcome {
    JobOutcome {
        state,
        end_time: end,
        progress: None,
        tasks: None,
        warnings: json!([]),
        errors: json!([]),
    }
}

#[track_caller]
fn code<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().as_str(),
    }
}

// ----------------------------------------------------------- migrations

both!(migrations_run_once_and_are_recorded, |db| {
    let cat = &db.catalog;
    let v = cat.schema_version().await.unwrap();
    assert_eq!(v, Catalog::supported_schema_version());
    assert!(v >= 1);
    // Opening again finds nothing to do and keeps the data.
    vault(cat, "kept").await;
    let again = Catalog::connect(&db.url).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), v);
    assert_eq!(again.get_vault("kept").await.unwrap().name, "kept");
    again.close().await;
});

both!(a_newer_catalog_is_refused, |db| {
    let future = Catalog::supported_schema_version() + 1;
    let empty_blob = match db.dialect() {
        Dialect::Sqlite => "X''",
        Dialect::Postgres => "'\\x'::bytea",
    };
    db.execute(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ({future}, 'from a newer lifeboat', TRUE, {empty_blob}, 0)"
    ))
    .await;
    let err = Catalog::connect(&db.url).await.unwrap_err();
    assert_eq!(err.code(), "CATALOG_TOO_NEW", "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&future.to_string()), "{msg}");
    assert!(msg.contains("newer"), "{msg}");
    match err {
        CatalogError::TooNew { found, supported } => {
            assert_eq!(found, future);
            assert_eq!(supported, Catalog::supported_schema_version());
        }
        e => panic!("{e:?}"),
    }
});

#[tokio::test]
async fn unreachable_or_unknown_databases_are_clear_errors() {
    let err = Catalog::connect("postgres://postgres@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CATALOG_UNAVAILABLE", "{err}");
    let err = Catalog::connect("mysql://root@127.0.0.1/x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_CATALOG_URL", "{err}");
    let err = Catalog::connect("postgres://u:hunter2@127.0.0.1:1/x?sslmode=bogus")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn sqlite_times_are_fixed_width_text() {
    let db = TestDb::sqlite().await;
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let it = item(cat, &v, "i", None).await;
    // Whole second, and a time with nanoseconds: both stored with 6 digits.
    let whole = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    cat.insert_point(&new_point(&it, "a", whole)).await.unwrap();
    let fine = whole + TimeDelta::nanoseconds(1_500);
    let p = cat.insert_point(&new_point(&it, "b", fine)).await.unwrap();
    assert_eq!(p.time, whole + TimeDelta::microseconds(1));
    let texts = db.strings("SELECT time FROM points ORDER BY id").await;
    assert_eq!(
        texts,
        [
            "2026-01-02T03:04:05.000000+00:00",
            "2026-01-02T03:04:05.000001+00:00"
        ]
    );
}

// ---------------------------------------------------------------- vaults

both!(vault_crud, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "alpha").await;
    assert_eq!(v.name, "alpha");
    assert_eq!(v.kind, "recovery-services");
    assert_eq!(v.created, t0());
    assert_eq!(v.settings["softDelete"]["days"], 14);

    let dup = cat
        .create_vault(&NewVault {
            name: "alpha".into(),
            kind: "backup".into(),
            redundancy: "LRS".into(),
            settings: json!({}),
            created: t0(),
        })
        .await;
    assert_eq!(code(dup), "CONFLICT");

    assert_eq!(cat.get_vault("alpha").await.unwrap(), v);
    assert_eq!(cat.get_vault_by_id(v.id).await.unwrap(), v);
    assert_eq!(code(cat.get_vault("nope").await), "NOT_FOUND");
    assert_eq!(
        code(cat.get_vault_by_id(VaultId(999_999)).await),
        "NOT_FOUND"
    );

    vault(cat, "beta").await;
    let names: Vec<_> = cat
        .list_vaults()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    let s = json!({"immutability": "Unlocked"});
    let updated = cat.update_vault_settings(v.id, &s).await.unwrap();
    assert_eq!(updated.settings, s);
    assert_eq!(cat.get_vault("alpha").await.unwrap().settings, s);
    assert_eq!(
        code(cat.update_vault_settings(VaultId(999_999), &s).await),
        "NOT_FOUND"
    );

    assert_eq!(
        cat.vault_usage(v.id).await.unwrap(),
        VaultUsage {
            items: 0,
            points: 0,
            stored_bytes: 0,
            added_bytes: 0
        }
    );
    cat.delete_vault(v.id).await.unwrap();
    assert_eq!(code(cat.get_vault("alpha").await), "NOT_FOUND");
    assert_eq!(code(cat.delete_vault(v.id).await), "NOT_FOUND");
});

both!(delete_vault_refuses_while_in_use, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "busy").await;
    policy(cat, &v, "DefaultPolicy").await;
    let it = item(cat, &v, "data", Some("DefaultPolicy")).await;

    let err = cat.delete_vault(v.id).await.unwrap_err();
    assert_eq!(err.code(), "IN_USE");
    assert!(err.to_string().contains("1 protected item"), "{err}");

    let p = cat.insert_point(&new_point(&it, "p1", t0())).await.unwrap();
    let err = cat.delete_vault(v.id).await.unwrap_err();
    assert_eq!(err.code(), "IN_USE");
    assert!(err.to_string().contains("1 recovery point"), "{err}");
    // The item cannot go while it has points either.
    assert_eq!(code(cat.delete_item(it.id).await), "IN_USE");

    cat.delete_point(p.id).await.unwrap();
    let job = cat
        .enqueue(&new_job(&v, Some(&it), Some("s1"), t0()))
        .await
        .unwrap()
        .unwrap();
    // A queued job keeps item and vault alive.
    assert_eq!(code(cat.delete_item(it.id).await), "IN_USE");
    let claimed = cat.claim_next("srv", 60, t0()).await.unwrap().unwrap();
    assert_eq!(claimed.id, job);
    cat.finish_job(job, "srv", &outcome(JobStatus::Completed, t0() + secs(5)))
        .await
        .unwrap();

    cat.delete_item(it.id).await.unwrap();
    assert_eq!(code(cat.delete_item(it.id).await), "NOT_FOUND");
    // The finished job stays, without its item.
    assert_eq!(cat.get_job(job).await.unwrap().item_id, None);

    cat.delete_vault(v.id).await.unwrap();
    // Policies and finished jobs went with the vault.
    assert_eq!(
        code(cat.get_policy(v.id, "DefaultPolicy").await),
        "NOT_FOUND"
    );
    assert_eq!(code(cat.get_job(job).await), "NOT_FOUND");
});

// -------------------------------------------------------------- policies

both!(policy_crud, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let other = vault(cat, "w").await;
    let doc = json!({"name": "Daily", "retentionPolicy": {"dailySchedule": {"count": 30}}});
    let p = cat.create_policy(v.id, "Daily", &doc, t0()).await.unwrap();
    assert_eq!(p.document, doc);
    assert_eq!(p.created, t0());
    assert_eq!(p.updated, t0());
    assert_eq!(
        code(cat.create_policy(v.id, "Daily", &doc, t0()).await),
        "CONFLICT"
    );
    assert_eq!(
        code(
            cat.create_policy(VaultId(999_999), "Daily", &doc, t0())
                .await
        ),
        "NOT_FOUND"
    );
    // Names are unique per vault only.
    cat.create_policy(other.id, "Daily", &doc, t0())
        .await
        .unwrap();
    cat.create_policy(v.id, "Aaa", &doc, t0()).await.unwrap();

    assert_eq!(cat.get_policy(v.id, "Daily").await.unwrap(), p);
    assert_eq!(code(cat.get_policy(v.id, "nope").await), "NOT_FOUND");
    let names: Vec<_> = cat
        .list_policies(v.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Aaa", "Daily"]);

    let doc2 = json!({"name": "Daily", "retentionPolicy": {"dailySchedule": {"count": 60}}});
    let later = t0() + TimeDelta::hours(1);
    let p2 = cat
        .update_policy(v.id, "Daily", &doc2, later)
        .await
        .unwrap();
    assert_eq!(p2.document, doc2);
    assert_eq!(p2.created, t0());
    assert_eq!(p2.updated, later);
    assert_eq!(
        code(cat.update_policy(v.id, "nope", &doc2, later).await),
        "NOT_FOUND"
    );

    let it = item(cat, &v, "data", Some("Daily")).await;
    let users = cat.list_items_with_policy(v.id, "Daily").await.unwrap();
    assert_eq!(users, std::slice::from_ref(&it));
    let err = cat.delete_policy(v.id, "Daily").await.unwrap_err();
    assert_eq!(err.code(), "IN_USE");
    assert!(err.to_string().contains("1 protected item"), "{err}");

    // Stop protection without a policy: then the policy can go.
    cat.update_item(
        it.id,
        &ItemPatch {
            policy_name: Some(None),
            state: Some(ProtectionState::ProtectionStopped),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    cat.delete_policy(v.id, "Daily").await.unwrap();
    assert_eq!(code(cat.delete_policy(v.id, "Daily").await), "NOT_FOUND");
    assert_eq!(code(cat.get_policy(v.id, "Daily").await), "NOT_FOUND");
    assert!(cat.get_policy(other.id, "Daily").await.is_ok());
});

// ----------------------------------------------------------------- items

both!(item_crud_and_updates, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let w = vault(cat, "w").await;
    policy(cat, &v, "DefaultPolicy").await;
    policy(cat, &v, "Hourly").await;

    let it = item(cat, &v, "data", Some("DefaultPolicy")).await;
    assert_eq!(it.source.kind(), WorkloadKind::Path);
    assert_eq!(it.source.path(), std::path::Path::new("/srv/data"));
    assert_eq!(it.policy_name.as_deref(), Some("DefaultPolicy"));
    assert_eq!(it.last_backup_time, None);
    assert_eq!(
        code(cat.create_item(&new_item(&v, "data", None)).await),
        "CONFLICT"
    );
    let err = cat
        .create_item(&new_item(&v, "x", Some("NoSuchPolicy")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    assert!(err.to_string().contains("NoSuchPolicy"), "{err}");
    // A policy of another vault does not count.
    assert_eq!(
        code(
            cat.create_item(&new_item(&w, "x", Some("DefaultPolicy")))
                .await
        ),
        "NOT_FOUND"
    );
    let mut ghost = new_item(&v, "x", None);
    ghost.vault_id = VaultId(999_999);
    assert_eq!(code(cat.create_item(&ghost).await), "NOT_FOUND");
    // Same name in another vault is fine.
    let mut disk = new_item(&w, "data", None);
    disk.source = Source::Disk {
        image: "/images/vm.raw".into(),
    };
    let disk = cat.create_item(&disk).await.unwrap();
    assert_eq!(disk.source.kind(), WorkloadKind::Disk);

    assert_eq!(cat.get_item(v.id, "data").await.unwrap(), it);
    assert_eq!(cat.get_item_by_id(it.id).await.unwrap(), it);
    assert_eq!(code(cat.get_item(v.id, "nope").await), "NOT_FOUND");
    assert_eq!(code(cat.get_item_by_id(ItemId(999_999)).await), "NOT_FOUND");

    // Partial updates touch only what they name.
    let backup_at = t0() + secs(90);
    let next = t0() + TimeDelta::days(1);
    let u = cat
        .update_item(
            it.id,
            &ItemPatch {
                last_backup_time: Some(Some(backup_at)),
                last_backup_status: Some(Some(LastBackupStatus::Healthy)),
                next_run: Some(Some(next)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.last_backup_time, Some(backup_at));
    assert_eq!(u.last_backup_status.as_deref(), Some("Healthy"));
    assert_eq!(u.next_run, Some(next));
    assert_eq!(u.state, ProtectionState::Protected);
    assert_eq!(u.policy_name.as_deref(), Some("DefaultPolicy"));

    let u = cat
        .update_item(
            it.id,
            &ItemPatch {
                policy_name: Some(Some("Hourly".into())),
                health: Some(HealthStatus::ActionRequired),
                settings: Some(json!({"exclude": ["*.tmp"]})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.policy_name.as_deref(), Some("Hourly"));
    assert_eq!(u.health, HealthStatus::ActionRequired);
    assert_eq!(u.settings, json!({"exclude": ["*.tmp"]}));
    assert_eq!(u.last_backup_time, Some(backup_at));

    let u = cat
        .update_item(
            it.id,
            &ItemPatch {
                state: Some(ProtectionState::ProtectionStopped),
                policy_name: Some(None),
                next_run: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.state, ProtectionState::ProtectionStopped);
    assert_eq!(u.policy_name, None);
    assert_eq!(u.next_run, None);
    assert_eq!(u.last_backup_status.as_deref(), Some("Healthy"));
    assert_eq!(cat.get_item_by_id(it.id).await.unwrap(), u);

    assert_eq!(
        code(
            cat.update_item(
                it.id,
                &ItemPatch {
                    policy_name: Some(Some("Missing".into())),
                    ..Default::default()
                }
            )
            .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            cat.update_item(ItemId(999_999), &ItemPatch::default())
                .await
        ),
        "NOT_FOUND"
    );
});

both!(items_due_and_paginated, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let mut names = Vec::new();
    for i in 0..25 {
        let name = format!("item-{:02}", (i * 7) % 25);
        let mut n = new_item(&v, &name, None);
        // Items 0..5 are due at t0 + i minutes.
        if i < 5 {
            n.next_run = Some(t0() + TimeDelta::minutes(i));
        } else {
            n.next_run = Some(t0() + TimeDelta::days(1));
        }
        cat.create_item(&n).await.unwrap();
        names.push(name);
    }
    names.sort();

    let mut seen = Vec::new();
    let mut page = Page::first(10);
    let mut pages = 0;
    loop {
        let r = cat.list_items(v.id, &page).await.unwrap();
        pages += 1;
        assert!(r.items.len() <= 10);
        seen.extend(r.items.into_iter().map(|i| i.name));
        match r.next_cursor {
            Some(c) => page = Page::after(10, Some(c)),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);

    let due = cat
        .due_items(t0() + TimeDelta::minutes(3), 100)
        .await
        .unwrap();
    let due_times: Vec<_> = due.iter().map(|i| i.next_run.unwrap()).collect();
    assert_eq!(
        due_times,
        (0..4)
            .map(|m| t0() + TimeDelta::minutes(m))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        cat.due_items(t0() + TimeDelta::minutes(3), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(cat.due_items(t0() - secs(1), 100).await.unwrap().len(), 0);

    assert_eq!(
        code(
            cat.list_items(v.id, &Page::after(10, Some("zz".into())))
                .await
        ),
        "INVALID_CURSOR"
    );
    // A cursor of another list is refused too.
    let it = cat.get_item(v.id, "item-00").await.unwrap();
    for i in 0..3 {
        cat.insert_point(&new_point(&it, &format!("p{i}"), t0() + secs(i)))
            .await
            .unwrap();
    }
    let pts = cat
        .list_points(it.id, &PointFilter::default(), &Page::first(1))
        .await
        .unwrap();
    assert_eq!(
        code(
            cat.list_items(v.id, &Page::after(10, pts.next_cursor))
                .await
        ),
        "INVALID_CURSOR"
    );
});

// ---------------------------------------------------------------- points

both!(point_operations, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let w = vault(cat, "w").await;
    let a = item(cat, &v, "a", None).await;
    let b = item(cat, &v, "b", None).await;
    let c = item(cat, &w, "c", None).await;

    let mut np = new_point(&a, "store-1", t0());
    np.rule_tags = vec!["daily".into(), "weekly".into()];
    np.size = 5000;
    np.added_bytes = 700;
    let p1 = cat.insert_point(&np).await.unwrap();
    assert_eq!(p1.vault_id, v.id);
    assert_eq!(p1.item_id, a.id);
    assert_eq!(p1.store_id, "store-1");
    assert_eq!(p1.time, t0());
    assert_eq!(p1.rule_tags, ["daily", "weekly"]);
    assert_eq!(p1.expiry, Some(t0() + TimeDelta::days(30)));
    assert_eq!(cat.get_point(p1.id).await.unwrap(), p1);
    assert_eq!(code(cat.get_point(PointId(999_999)).await), "NOT_FOUND");

    // The store's id is unique in a vault, not across vaults.
    assert_eq!(
        code(cat.insert_point(&new_point(&b, "store-1", t0())).await),
        "CONFLICT"
    );
    cat.insert_point(&new_point(&c, "store-1", t0()))
        .await
        .unwrap();
    let mut ghost = new_point(&a, "ghost", t0());
    ghost.item_id = ItemId(999_999);
    assert_eq!(code(cat.insert_point(&ghost).await), "NOT_FOUND");

    assert_eq!(
        cat.find_point(v.id, "store-1").await.unwrap(),
        Some(p1.clone())
    );
    assert_eq!(cat.find_point(v.id, "nope").await.unwrap(), None);

    let p2 = cat
        .insert_point(&new_point(&a, "store-2", t0() + TimeDelta::days(1)))
        .await
        .unwrap();
    let mut forever = new_point(&a, "store-3", t0() + TimeDelta::days(2));
    forever.expiry = None;
    forever.rule_tags = vec!["on-demand".into()];
    let p3 = cat.insert_point(&forever).await.unwrap();
    let pb = cat
        .insert_point(&new_point(&b, "store-b", t0()))
        .await
        .unwrap();

    let all = cat
        .list_points(a.id, &PointFilter::default(), &Page::default())
        .await
        .unwrap();
    assert_eq!(all.items, [p3.clone(), p2.clone(), p1.clone()]);
    assert_eq!(all.next_cursor, None);
    let window = cat
        .list_points(
            a.id,
            &PointFilter {
                from: Some(t0() + secs(1)),
                to: Some(t0() + TimeDelta::days(2)),
            },
            &Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(window.items, std::slice::from_ref(&p2));

    let usage = cat.vault_usage(v.id).await.unwrap();
    assert_eq!(
        usage,
        VaultUsage {
            items: 2,
            points: 4,
            stored_bytes: 5000 + 3 * 1000,
            added_bytes: 700 + 3 * 100
        }
    );

    // Expiry: p1 and pb expire at t0 + 30 d, p2 a day later, p3 never.
    let at = t0() + TimeDelta::days(30);
    let expired = cat.expired_points(None, at, 100).await.unwrap();
    let ids: BTreeSet<_> = expired.iter().map(|p| p.id).collect();
    let c_point = cat.find_point(w.id, "store-1").await.unwrap().unwrap();
    assert_eq!(ids, BTreeSet::from([p1.id, pb.id, c_point.id]));
    let in_v = cat.expired_points(Some(v.id), at, 100).await.unwrap();
    assert_eq!(in_v.len(), 2);
    assert_eq!(
        cat.expired_points(Some(v.id), at, 1).await.unwrap().len(),
        1
    );
    assert!(
        cat.expired_points(None, at - TimeDelta::microseconds(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let later = cat
        .expired_points(Some(v.id), at + TimeDelta::days(1), 100)
        .await
        .unwrap();
    assert_eq!(later.len(), 3);
    assert_eq!(later.last().unwrap().id, p2.id);

    // A policy change re-tags: p1 now kept longer.
    let keep = t0() + TimeDelta::days(90);
    let r = cat
        .update_point_retention(p1.id, &["monthly".to_string()], Some(keep))
        .await
        .unwrap();
    assert_eq!(r.rule_tags, ["monthly"]);
    assert_eq!(r.expiry, Some(keep));
    assert_eq!(
        cat.expired_points(Some(v.id), at, 100).await.unwrap(),
        std::slice::from_ref(&pb)
    );
    assert_eq!(
        code(
            cat.update_point_retention(PointId(999_999), &[], None)
                .await
        ),
        "NOT_FOUND"
    );

    // A batch goes in whole or not at all.
    let batch = [
        new_point(&b, "batch-1", t0() + secs(1)),
        new_point(&b, "batch-2", t0() + secs(2)),
    ];
    let rows = cat.insert_points(&batch).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].store_id, "batch-2");
    assert_eq!(rows[1].vault_id, v.id);
    let bad = [
        new_point(&b, "batch-3", t0() + secs(3)),
        new_point(&b, "batch-1", t0() + secs(4)),
    ];
    assert_eq!(code(cat.insert_points(&bad).await), "CONFLICT");
    assert_eq!(cat.find_point(v.id, "batch-3").await.unwrap(), None);
    for r in rows {
        cat.delete_point(r.id).await.unwrap();
    }

    cat.delete_point(pb.id).await.unwrap();
    assert_eq!(code(cat.delete_point(pb.id).await), "NOT_FOUND");
    assert_eq!(cat.vault_usage(v.id).await.unwrap().points, 3);
});

both!(point_pagination_is_stable_and_complete, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let it = item(cat, &v, "data", None).await;
    // 1,000 points, three to a timestamp, so ids break ties.
    let mut original = Vec::new();
    for i in 0..1000 {
        let p = cat
            .insert_point(&new_point(&it, &format!("p{i:04}"), t0() + secs(i / 3)))
            .await
            .unwrap();
        original.push((p.time, p.id));
    }
    original.sort();
    original.reverse();

    let mut seen = Vec::new();
    let mut page = Page::first(37);
    let mut n = 0;
    loop {
        let r = cat
            .list_points(it.id, &PointFilter::default(), &page)
            .await
            .unwrap();
        seen.extend(r.items.iter().map(|p| (p.time, p.id)));
        // Points arrive while the client pages: newer ones, and one sharing
        // the timestamp of the page's last row (a higher id, so it sorts
        // before the cursor).
        if let Some(last) = r.items.last() {
            cat.insert_point(&new_point(
                &it,
                &format!("new-{n}"),
                t0() + TimeDelta::days(1),
            ))
            .await
            .unwrap();
            cat.insert_point(&new_point(&it, &format!("tie-{n}"), last.time))
                .await
                .unwrap();
        }
        n += 1;
        match r.next_cursor {
            Some(c) => page = Page::after(37, Some(c)),
            None => break,
        }
    }
    assert_eq!(n, 1000 / 37 + 1);
    assert_eq!(seen, original, "every point once, newest first, none added");

    // A fresh listing sees everything.
    let mut total = 0;
    let mut page = Page::first(MAX_PAGE + 500);
    loop {
        let r = cat
            .list_points(it.id, &PointFilter::default(), &page)
            .await
            .unwrap();
        assert!(r.items.len() <= MAX_PAGE as usize);
        total += r.items.len();
        match r.next_cursor {
            Some(c) => page = Page::after(MAX_PAGE, Some(c)),
            None => break,
        }
    }
    assert_eq!(total, 1000 + 2 * n);
});

// ------------------------------------------------------------------ jobs

both!(enqueue_once_per_slot, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let a = item(cat, &v, "a", None).await;
    let b = item(cat, &v, "b", None).await;
    let slot = "2026-03-01T22:00";
    let first = cat
        .enqueue(&new_job(&v, Some(&a), Some(slot), t0()))
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        cat.enqueue(&new_job(&v, Some(&a), Some(slot), t0() + secs(5)))
            .await
            .unwrap(),
        None
    );
    // Another slot, another item, and on-demand jobs are separate.
    assert!(
        cat.enqueue(&new_job(&v, Some(&a), Some("2026-03-02T22:00"), t0()))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cat.enqueue(&new_job(&v, Some(&b), Some(slot), t0()))
            .await
            .unwrap()
            .is_some()
    );
    for _ in 0..2 {
        assert!(
            cat.enqueue(&new_job(&v, Some(&a), None, t0()))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            cat.enqueue(&new_job(&v, None, None, t0()))
                .await
                .unwrap()
                .is_some()
        );
    }
    let job = cat.get_job(first.unwrap()).await.unwrap();
    assert_eq!(job.state, JobStatus::Queued);
    assert_eq!(job.slot_key.as_deref(), Some(slot));
    assert_eq!(job.queued_at, t0());
    assert_eq!(job.params, json!({"retainUntil": null}));
    assert_eq!(job.progress, json!({}));
    assert_eq!(job.tasks, json!([]));
    assert_eq!(job.attempt, 0);

    let mut ghost = new_job(&v, Some(&a), None, t0());
    ghost.item_id = Some(ItemId(999_999));
    assert_eq!(code(cat.enqueue(&ghost).await), "NOT_FOUND");
    ghost.vault_id = VaultId(999_999);
    ghost.item_id = None;
    assert_eq!(code(cat.enqueue(&ghost).await), "NOT_FOUND");
});

both!(concurrent_enqueuers_make_one_job_per_slot, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let it = item(cat, &v, "a", None).await;
    // Four "servers" plan the same 25 slots at the same moment.
    let mut tasks = Vec::new();
    for server in 0..4 {
        let cat = cat.clone();
        let (v, it) = (v.clone(), it.clone());
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for s in 0..25 {
                let slot = format!("slot-{s}");
                let r = cat
                    .enqueue(&new_job(&v, Some(&it), Some(&slot), t0() + secs(server)))
                    .await
                    .unwrap();
                if let Some(id) = r {
                    won.push((slot, id));
                }
            }
            won
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    let slots: HashSet<_> = winners.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(winners.len(), 25, "exactly one enqueue per slot succeeded");
    assert_eq!(slots.len(), 25);
    let listed = cat
        .list_jobs(
            &JobFilter {
                item_id: Some(it.id),
                ..Default::default()
            },
            &Page::first(MAX_PAGE),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 25);
});

both!(concurrent_claims_are_disjoint, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let it = item(cat, &v, "a", None).await;
    let mut queued = BTreeSet::new();
    for i in 0..200 {
        let id = cat
            .enqueue(&new_job(
                &v,
                Some(&it),
                Some(&format!("s{i}")),
                t0() + secs(i),
            ))
            .await
            .unwrap()
            .unwrap();
        queued.insert(id);
    }
    let now = t0() + TimeDelta::hours(1);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let cat = cat.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut got = Vec::new();
            while let Some(job) = cat.claim_next(&owner, 60, now).await.unwrap() {
                assert_eq!(job.owner.as_deref(), Some(owner.as_str()));
                assert_eq!(job.state, JobStatus::InProgress);
                assert_eq!(job.attempt, 1);
                assert_eq!(job.start_time, Some(now));
                assert_eq!(job.lease_until, Some(now + secs(60)));
                got.push(job.id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    let mut workers_with_jobs = 0;
    for t in tasks {
        let got = t.await.unwrap();
        if !got.is_empty() {
            workers_with_jobs += 1;
        }
        claimed.extend(got);
    }
    let unique: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a job was claimed twice");
    assert_eq!(unique, queued, "every job claimed");
    assert!(workers_with_jobs > 1, "claims ran in parallel");
    assert!(cat.claim_next("late", 60, now).await.unwrap().is_none());
});

both!(claims_run_oldest_first_and_not_early, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let late = cat
        .enqueue(&new_job(&v, None, None, t0() + secs(100)))
        .await
        .unwrap()
        .unwrap();
    let early = cat
        .enqueue(&new_job(&v, None, None, t0()))
        .await
        .unwrap()
        .unwrap();
    assert!(
        cat.claim_next("w", 30, t0() - secs(1))
            .await
            .unwrap()
            .is_none()
    );
    let j = cat.claim_next("w", 30, t0()).await.unwrap().unwrap();
    assert_eq!(j.id, early);
    assert!(
        cat.claim_next("w", 30, t0() + secs(99))
            .await
            .unwrap()
            .is_none()
    );
    let j = cat
        .claim_next("w", 30, t0() + secs(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.id, late);
});

both!(leases_renew_lapse_and_are_reclaimed, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            cat.enqueue(&new_job(&v, None, None, t0()))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    for _ in 0..4 {
        cat.claim_next("dead", 30, t0()).await.unwrap().unwrap();
    }
    // Server "dead" renews job 0 at +20 s, finishes job 3, then dies.
    let renewed = cat
        .renew("dead", &[ids[0]], 30, t0() + secs(20))
        .await
        .unwrap();
    assert_eq!(
        renewed,
        [Renewed {
            id: ids[0],
            cancel_requested: false
        }]
    );
    assert_eq!(
        cat.get_job(ids[0]).await.unwrap().lease_until,
        Some(t0() + secs(50))
    );
    cat.finish_job(
        ids[3],
        "dead",
        &outcome(JobStatus::Completed, t0() + secs(25)),
    )
    .await
    .unwrap();
    // Renewing someone else's job, or a finished one, renews nothing.
    assert!(
        cat.renew("other", &[ids[1]], 30, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        cat.renew("dead", &[ids[3]], 30, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cat.renew("dead", &[], 30, t0()).await.unwrap().is_empty());

    // At +30 s nothing has lapsed yet (lease_until = +30 s is not before now).
    assert!(
        cat.reclaim_expired("alive", 30, t0() + secs(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // At +40 s jobs 1 and 2 have lapsed; job 0 was renewed.
    let at = t0() + secs(40);
    let got = cat.reclaim_expired("alive", 30, at, 100).await.unwrap();
    let got_ids: Vec<_> = got.iter().map(|r| r.job.id).collect();
    assert_eq!(got_ids, [ids[1], ids[2]]);
    for r in &got {
        assert_eq!(r.previous_owner.as_deref(), Some("dead"));
        assert_eq!(r.job.owner.as_deref(), Some("alive"));
        assert_eq!(r.job.state, JobStatus::InProgress);
        assert_eq!(r.job.lease_until, Some(at + secs(30)));
    }
    assert!(
        cat.reclaim_expired("third", 30, at, 100)
            .await
            .unwrap()
            .is_empty(),
        "reclaimed jobs are held again"
    );

    // The dead server's late writes are refused.
    let p = json!({"percent": 50});
    let err = cat
        .update_progress(ids[1], "dead", &p, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "LEASE_LOST");
    assert_eq!(
        code(
            cat.finish_job(ids[1], "dead", &outcome(JobStatus::Completed, at))
                .await
        ),
        "LEASE_LOST"
    );
    assert!(
        cat.renew("dead", &[ids[1]], 30, at)
            .await
            .unwrap()
            .is_empty()
    );

    // The new owner fails one (server lost) and re-queues the other.
    let mut failed = outcome(JobStatus::Failed, at);
    failed.errors = json!([{"code": "SERVER_LOST", "message": "server dead stopped renewing"}]);
    let f = cat.finish_job(ids[1], "alive", &failed).await.unwrap();
    assert_eq!(f.state, JobStatus::Failed);
    assert_eq!(f.end_time, Some(at));
    assert_eq!(f.lease_until, None);
    assert_eq!(f.errors[0]["code"], "SERVER_LOST");

    let warn = json!([{"code": "SERVER_LOST"}]);
    let q = cat.requeue_job(ids[2], "alive", Some(&warn)).await.unwrap();
    assert_eq!(q.state, JobStatus::Queued);
    assert_eq!(q.owner, None);
    assert_eq!(q.lease_until, None);
    assert_eq!(q.warnings, warn);
    assert_eq!(q.queued_at, t0(), "keeps its place in the queue");
    let again = cat.claim_next("alive", 30, at).await.unwrap().unwrap();
    assert_eq!(again.id, ids[2]);
    assert_eq!(again.attempt, 2);
    assert_eq!(
        code(cat.requeue_job(ids[2], "dead", None).await),
        "LEASE_LOST"
    );
    assert_eq!(
        code(cat.requeue_job(JobId(999_999), "alive", None).await),
        "NOT_FOUND"
    );
});

both!(concurrent_reclaimers_split_lapsed_jobs, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    for _ in 0..60 {
        cat.enqueue(&new_job(&v, None, None, t0())).await.unwrap();
    }
    while cat.claim_next("dead", 10, t0()).await.unwrap().is_some() {}
    let at = t0() + secs(60);
    let mut tasks = Vec::new();
    for s in 0..4 {
        let cat = cat.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("server-{s}");
            let mut got = Vec::new();
            loop {
                let batch = cat.reclaim_expired(&owner, 30, at, 7).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                for r in batch {
                    assert_eq!(r.job.owner.as_deref(), Some(owner.as_str()));
                    assert_eq!(r.previous_owner.as_deref(), Some("dead"));
                    got.push(r.job.id);
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a lapsed job was taken twice");
    assert_eq!(all.len(), 60);
});

both!(job_progress_finish_and_cancel, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let it = item(cat, &v, "a", None).await;
    let j1 = cat
        .enqueue(&new_job(&v, Some(&it), None, t0()))
        .await
        .unwrap()
        .unwrap();
    let j2 = cat
        .enqueue(&new_job(&v, Some(&it), None, t0() + secs(1)))
        .await
        .unwrap()
        .unwrap();
    let j3 = cat
        .enqueue(&new_job(&v, Some(&it), None, t0() + secs(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cat.oldest_queued().await.unwrap(), Some(t0()));

    let now = t0() + secs(10);
    assert_eq!(cat.claim_next("w", 60, now).await.unwrap().unwrap().id, j1);
    assert_eq!(cat.oldest_queued().await.unwrap(), Some(t0() + secs(1)));

    let tasks = json!([{"name": "Take snapshot", "state": "Completed"},
                       {"name": "Transfer data to vault", "state": "InProgress"}]);
    let progress = json!({"bytes": 1024, "files": 3, "percent": 12.5});
    cat.update_progress(j1, "w", &progress, Some(&tasks))
        .await
        .unwrap();
    let p2 = json!({"bytes": 2048, "files": 5, "percent": 25.0});
    cat.update_progress(j1, "w", &p2, None).await.unwrap();
    let j = cat.get_job(j1).await.unwrap();
    assert_eq!(j.progress, p2);
    assert_eq!(j.tasks, tasks, "tasks kept when not given");
    assert_eq!(
        code(cat.update_progress(JobId(999_999), "w", &p2, None).await),
        "NOT_FOUND"
    );

    let bad = cat
        .finish_job(j1, "w", &outcome(JobStatus::Queued, now))
        .await;
    assert_eq!(code(bad), "INVALID_STATE");

    let mut done = outcome(JobStatus::CompletedWithWarnings, now + secs(60));
    done.warnings = json!([{"code": "FILE_CHANGED", "target": "/srv/a/log"}]);
    done.progress = Some(json!({"bytes": 4096, "percent": 100.0}));
    let fin = cat.finish_job(j1, "w", &done).await.unwrap();
    assert_eq!(fin.state, JobStatus::CompletedWithWarnings);
    assert_eq!(fin.start_time, Some(now));
    assert_eq!(fin.end_time, Some(now + secs(60)));
    assert_eq!(fin.progress["percent"], 100.0);
    assert_eq!(fin.tasks, tasks);
    assert_eq!(fin.warnings, done.warnings);
    assert_eq!(
        fin.owner.as_deref(),
        Some("w"),
        "the record keeps who ran it"
    );
    assert_eq!(
        code(cat.finish_job(j1, "w", &done).await),
        "LEASE_LOST",
        "a job ends once"
    );

    // Cancelling a queued job ends it; a running one gets the flag.
    let c = cat.cancel_job(j3, now).await.unwrap();
    assert_eq!(c.state, JobStatus::Cancelled);
    assert_eq!(c.end_time, Some(now));
    assert_eq!(cat.claim_next("w", 60, now).await.unwrap().unwrap().id, j2);
    assert!(
        cat.claim_next("w", 60, now).await.unwrap().is_none(),
        "cancelled jobs are not claimed"
    );
    let c = cat.cancel_job(j2, now).await.unwrap();
    assert_eq!(c.state, JobStatus::Cancelling);
    assert!(c.cancel_requested);
    assert_eq!(c.end_time, None);
    // Asking twice is harmless.
    assert_eq!(cat.cancel_job(j2, now).await.unwrap(), c);
    // The worker still holds a cancelling job: it renews and reports.
    assert_eq!(
        cat.renew("w", &[j2], 60, now).await.unwrap(),
        [Renewed {
            id: j2,
            cancel_requested: true
        }]
    );
    cat.update_progress(j2, "w", &json!({"percent": 40.0}), None)
        .await
        .unwrap();
    assert_eq!(
        code(cat.requeue_job(j2, "w", None).await),
        "INVALID_STATE",
        "a job being cancelled is not re-queued"
    );
    // A cancelling job whose server died is reclaimed like any other.
    let r = cat
        .reclaim_expired("w2", 60, now + secs(61), 10)
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].job.id, j2);
    assert_eq!(r[0].job.state, JobStatus::Cancelling);
    assert_eq!(code(cat.delete_item(it.id).await), "IN_USE");
    cat.finish_job(j2, "w2", &outcome(JobStatus::Cancelled, now + secs(62)))
        .await
        .unwrap();
    assert_eq!(code(cat.cancel_job(j2, now).await), "INVALID_STATE");
    assert_eq!(code(cat.cancel_job(JobId(999_999), now).await), "NOT_FOUND");
    assert_eq!(code(cat.get_job(JobId(999_999)).await), "NOT_FOUND");

    assert_eq!(
        cat.job_counts().await.unwrap(),
        [
            (JobStatus::Cancelled.to_string(), 2),
            (JobStatus::CompletedWithWarnings.to_string(), 1)
        ]
    );
    assert_eq!(cat.oldest_queued().await.unwrap(), None);
});

both!(job_listing_filters_and_pages, |db| {
    let cat = &db.catalog;
    let v = vault(cat, "v").await;
    let w = vault(cat, "w").await;
    let a = item(cat, &v, "a", None).await;
    let b = item(cat, &v, "b", None).await;
    // 60 jobs: alternating items, every third a restore, two per second.
    let mut all = Vec::new();
    for i in 0..60i64 {
        let it = if i % 2 == 0 { &a } else { &b };
        let mut j = new_job(&v, Some(it), None, t0() + secs(i / 2));
        if i % 3 == 0 {
            j.job_type = JobType::Restore;
        }
        let id = cat.enqueue(&j).await.unwrap().unwrap();
        all.push((j.queued_at, id, it.id, j.job_type));
    }
    cat.enqueue(&new_job(&w, None, None, t0() + secs(100)))
        .await
        .unwrap();
    // Run the oldest 10.
    for _ in 0..10 {
        cat.claim_next("w", 60, t0() + TimeDelta::hours(1))
            .await
            .unwrap()
            .unwrap();
    }
    all.sort();
    all.reverse();

    async fn collect(cat: &Catalog, f: &JobFilter, limit: u32) -> Vec<JobId> {
        let mut out = Vec::new();
        let mut page = Page::first(limit);
        loop {
            let r = cat.list_jobs(f, &page).await.unwrap();
            assert!(r.items.len() <= limit as usize);
            out.extend(r.items.iter().map(|j| j.id));
            match r.next_cursor {
                Some(c) => page = Page::after(limit, Some(c)),
                None => return out,
            }
        }
    }

    let in_v = JobFilter {
        vault_id: Some(v.id),
        ..Default::default()
    };
    let ids = collect(cat, &in_v, 7).await;
    assert_eq!(ids, all.iter().map(|x| x.1).collect::<Vec<_>>());
    assert_eq!(collect(cat, &JobFilter::default(), 1000).await.len(), 61);

    let only_a_restores = JobFilter {
        item_id: Some(a.id),
        job_type: Some(JobType::Restore),
        ..Default::default()
    };
    let expect: Vec<_> = all
        .iter()
        .filter(|x| x.2 == a.id && x.3 == JobType::Restore)
        .map(|x| x.1)
        .collect();
    assert_eq!(expect.len(), 10);
    assert_eq!(collect(cat, &only_a_restores, 3).await, expect);

    let running = JobFilter {
        state: Some(JobStatus::InProgress),
        ..Default::default()
    };
    let expect: Vec<_> = all.iter().rev().take(10).rev().map(|x| x.1).collect();
    assert_eq!(collect(cat, &running, 4).await, expect);

    let window = JobFilter {
        vault_id: Some(v.id),
        from: Some(t0() + secs(5)),
        to: Some(t0() + secs(10)),
        ..Default::default()
    };
    let expect: Vec<_> = all
        .iter()
        .filter(|x| x.0 >= t0() + secs(5) && x.0 < t0() + secs(10))
        .map(|x| x.1)
        .collect();
    assert_eq!(expect.len(), 10);
    assert_eq!(collect(cat, &window, 3).await, expect);

    // Jobs added while paging (newer) do not disturb the pages to come.
    let mut seen = Vec::new();
    let mut page = Page::first(9);
    loop {
        let r = cat.list_jobs(&in_v, &page).await.unwrap();
        seen.extend(r.items.iter().map(|j| j.id));
        cat.enqueue(&new_job(&v, Some(&a), None, t0() + TimeDelta::hours(2)))
            .await
            .unwrap();
        match r.next_cursor {
            Some(c) => page = Page::after(9, Some(c)),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(|x| x.1).collect::<Vec<_>>());

    assert_eq!(
        code(
            cat.list_jobs(&in_v, &Page::after(5, Some("not-hex".into())))
                .await
        ),
        "INVALID_CURSOR"
    );
});

// ---------------------------------------------------------------- tokens

both!(tokens_are_stored_hashed, |db| {
    let cat = &db.catalog;
    let secret = "lb_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let t = cat
        .create_token("admin", "Admin", secret, t0())
        .await
        .unwrap();
    assert_eq!(t.name, "admin");
    assert_eq!(t.role, "Admin");
    assert_eq!(t.last_used, None);
    assert_eq!(
        code(cat.create_token("admin", "Reader", "other", t0()).await),
        "CONFLICT"
    );
    // Only the hash is in the table.
    let stored = db.strings("SELECT hash FROM tokens").await;
    assert_eq!(stored, [hash_token(secret)]);
    assert_ne!(stored[0], secret);
    assert_eq!(stored[0].len(), 64);
    let everything = db
        .strings("SELECT name || role || hash FROM tokens")
        .await
        .concat();
    assert!(!everything.contains(secret));

    assert_eq!(cat.find_token(secret).await.unwrap(), Some(t.clone()));
    assert_eq!(cat.find_token("lb_wrong").await.unwrap(), None);

    let used = t0() + secs(5);
    cat.touch_token(t.id, used).await.unwrap();
    assert_eq!(
        cat.find_token(secret).await.unwrap().unwrap().last_used,
        Some(used)
    );
    cat.create_token("backup-bot", "Operator", "second", t0())
        .await
        .unwrap();
    let names: Vec<_> = cat
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["admin", "backup-bot"]);
    cat.delete_token(t.id).await.unwrap();
    assert_eq!(cat.find_token(secret).await.unwrap(), None);
    assert_eq!(code(cat.delete_token(t.id).await), "NOT_FOUND");
    assert_eq!(code(cat.touch_token(t.id, used).await), "NOT_FOUND");
});

#[test]
fn token_hash_is_stable_and_distinct() {
    assert_eq!(hash_token("a"), hash_token("a"));
    assert_ne!(hash_token("a"), hash_token("b"));
    assert_ne!(hash_token("a"), blake3::hash(b"a").to_hex().to_string());
}
