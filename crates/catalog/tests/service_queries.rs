//! The queries the job service needs (schema 2), on a real SQLite file and
//! a real PostgreSQL database: point origin and retention detail, the
//! planning watermark's compare-and-set, one sweep per vault and hour,
//! taking over a dead owner's jobs, cancelling an item's jobs, and deleting
//! an item from its own deletion job.

#[macro_use]
mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lifeboat_catalog::*;
use lifeboat_model::job::JobStatus;
use serde_json::json;
use support::{point, vault_with_item};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap() + TimeDelta::microseconds(654_321)
}

async fn setup(cat: &Catalog) -> (Vault, Item) {
    vault_with_item(cat, t0(), Some(t0())).await
}

fn job(v: &Vault, it: Option<&Item>, kind: &str, slot: Option<&str>) -> NewJob {
    NewJob {
        vault_id: v.id,
        item_id: it.map(|i| i.id),
        job_type: kind.parse().expect("a job type"),
        slot_key: slot.map(Into::into),
        params: json!({}),
        queued_at: t0(),
    }
}

/// How a job ended, without progress, tasks, warnings or errors.
fn ended(state: &str, end_time: DateTime<Utc>) -> JobOutcome {
    JobOutcome {
        state: state.parse().expect("a job status"),
        end_time,
        progress: None,
        tasks: None,
        warnings: json!([]),
        errors: json!([]),
    }
}

both!(points_keep_origin_and_retention_detail, |db| {
    let cat = &db.catalog;
    let (v, it) = setup(cat).await;
    let t = t0();
    let p = cat
        .insert_point_with(
            &point(&it, "aa", t),
            &PointDetail {
                slot_key: Some("2026-03-01T17:00".into()),
                retain_until: None,
                rule_name: Some("daily".into()),
                rule_expiry: Some(t + TimeDelta::days(7)),
                hold: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(p.slot_key.as_deref(), Some("2026-03-01T17:00"));
    assert_eq!(p.rule_expiry, Some(trunc_micros(t + TimeDelta::days(7))));
    // A point without detail (older rows, bulk loads) has none.
    let q = cat
        .insert_point(&point(&it, "bb", t + TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!((q.slot_key, q.rule_name, q.hold), (None, None, None));
    let od = cat
        .insert_point_with(
            &point(&it, "cc", t + TimeDelta::hours(2)),
            &PointDetail {
                retain_until: Some(t + TimeDelta::days(30)),
                ..PointDetail::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(od.retain_until, Some(trunc_micros(t + TimeDelta::days(30))));
    assert_eq!(
        cat.insert_point_with(&point(&it, "aa", t), &PointDetail::default())
            .await
            .unwrap_err()
            .code(),
        "CONFLICT"
    );
    // Held: no expiry in force, the rule's expiry kept.
    let held = cat
        .set_point_retention(
            p.id,
            &PointRetention {
                rule_tags: vec!["daily".into(), "weekly".into()],
                expiry: None,
                rule_name: Some("weekly".into()),
                rule_expiry: Some(t + TimeDelta::weeks(4)),
                hold: Some("retain-data".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(held.expiry, None);
    assert_eq!(held.hold.as_deref(), Some("retain-data"));
    assert_eq!(held.rule_tags, ["daily", "weekly"]);
    let same_day = cat.points_of_slot_date(it.id, "2026-03-01").await.unwrap();
    assert_eq!(
        same_day
            .iter()
            .map(|p| p.store_id.as_str())
            .collect::<Vec<_>>(),
        ["aa"]
    );
    assert!(
        cat.points_of_slot_date(it.id, "2026-03-02")
            .await
            .unwrap()
            .is_empty()
    );
    let mut ids = cat.point_store_ids(v.id).await.unwrap();
    ids.sort();
    assert_eq!(ids, ["aa", "bb", "cc"]);
    let all = cat.item_points(it.id).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.store_id.as_str()).collect::<Vec<_>>(),
        ["aa", "bb", "cc"]
    );
});

both!(next_run_moves_by_compare_and_set, |db| {
    let cat = &db.catalog;
    let (_v, it) = setup(cat).await;
    let next = t0() + TimeDelta::days(1);
    assert!(
        !cat.advance_next_run(it.id, Some(t0() - TimeDelta::hours(1)), Some(next))
            .await
            .unwrap()
    );
    assert!(
        cat.advance_next_run(it.id, it.next_run, Some(next))
            .await
            .unwrap()
    );
    // A second scheduler holding the old value loses.
    assert!(
        !cat.advance_next_run(it.id, it.next_run, Some(t0()))
            .await
            .unwrap()
    );
    assert_eq!(
        cat.get_item_by_id(it.id).await.unwrap().next_run,
        Some(trunc_micros(next))
    );
    assert!(
        cat.unplanned_items(&["Protected"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cat.advance_next_run(it.id, Some(next), None).await.unwrap());
    let un = cat
        .unplanned_items(&["Protected", "ProtectionError"], 10)
        .await
        .unwrap();
    assert_eq!(un.len(), 1);
    assert!(
        cat.unplanned_items(&["ProtectionStopped"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cat.advance_next_run(it.id, None, Some(next)).await.unwrap());
    assert!(!cat.advance_next_run(it.id, None, Some(next)).await.unwrap());
});

both!(one_sweep_per_vault_and_hour, |db| {
    let cat = &db.catalog;
    let (v, it) = setup(cat).await;
    let first = cat
        .enqueue(&job(&v, None, "ExpirySweep", Some("2026-03-01T22")))
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        cat.enqueue(&job(&v, None, "ExpirySweep", Some("2026-03-01T22")))
            .await
            .unwrap(),
        None
    );
    assert!(
        cat.enqueue(&job(&v, None, "ExpirySweep", Some("2026-03-01T23")))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cat.enqueue(&job(&v, None, "GarbageCollection", Some("2026-03-01T22")))
            .await
            .unwrap()
            .is_some()
    );
    // Without a slot, always added.
    assert!(
        cat.enqueue(&job(&v, None, "ExpirySweep", None))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cat.enqueue(&job(&v, None, "ExpirySweep", None))
            .await
            .unwrap()
            .is_some()
    );
    // Item slots stay per item, and deleting items never collides.
    assert!(
        cat.enqueue(&job(&v, Some(&it), "Backup", Some("2026-03-01T22")))
            .await
            .unwrap()
            .is_some()
    );
});

both!(a_dead_owners_jobs_are_taken_over, |db| {
    let cat = &db.catalog;
    let (v, it) = setup(cat).await;
    for i in 0..3 {
        cat.enqueue(&job(&v, Some(&it), "Backup", Some(&format!("s{i}"))))
            .await
            .unwrap();
    }
    let now = t0() + TimeDelta::minutes(1);
    cat.claim_next("dead", 600, now).await.unwrap().unwrap();
    cat.claim_next("dead", 600, now).await.unwrap().unwrap();
    cat.claim_next("alive", 600, now).await.unwrap().unwrap();
    let mut owners = cat.held_job_owners().await.unwrap();
    owners.sort();
    assert_eq!(owners, ["alive", "dead"]);
    let got = cat.reclaim_from("dead", "me", 60, now).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(
        |r| r.job.owner.as_deref() == Some("me") && r.previous_owner.as_deref() == Some("dead")
    ));
    assert!(
        cat.reclaim_from("dead", "other", 60, now)
            .await
            .unwrap()
            .is_empty()
    );
});

both!(
    an_items_jobs_are_cancelled_and_its_deletion_job_may_delete_it,
    |db| {
        let cat = &db.catalog;
        let (v, it) = setup(cat).await;
        let queued = cat
            .enqueue(&job(&v, Some(&it), "Backup", Some("s1")))
            .await
            .unwrap()
            .unwrap();
        let running = cat
            .enqueue(&job(&v, Some(&it), "Backup", Some("s2")))
            .await
            .unwrap()
            .unwrap();
        let now = t0() + TimeDelta::minutes(1);
        // Claims the oldest first: both have the same time, so by id.
        assert_eq!(
            cat.claim_next("w", 60, now).await.unwrap().unwrap().id,
            queued
        );
        let del = cat
            .enqueue(&job(&v, Some(&it), "DeleteBackupData", None))
            .await
            .unwrap()
            .unwrap();
        // `queued` is now running, `running` still queued: swap names for clarity.
        let (held, waiting) = (queued, running);
        assert_eq!(
            cat.claim_next("w", 60, now).await.unwrap().unwrap().id,
            waiting
        );
        cat.finish_job(waiting, "w", &ended("Completed", now))
            .await
            .unwrap();
        assert_eq!(cat.claim_next("w", 60, now).await.unwrap().unwrap().id, del);
        assert_eq!(cat.cancel_item_jobs(it.id, del, now).await.unwrap(), 1);
        assert_eq!(
            cat.get_job(held).await.unwrap().state,
            JobStatus::Cancelling
        );
        assert_eq!(cat.get_job(del).await.unwrap().state, JobStatus::InProgress);
        assert_eq!(
            cat.delete_item_for_job(it.id, Some(del))
                .await
                .unwrap_err()
                .code(),
            "IN_USE"
        );
        cat.finish_job(held, "w", &ended("Cancelled", now))
            .await
            .unwrap();
        assert_eq!(cat.cancel_item_jobs(it.id, del, now).await.unwrap(), 0);
        // The deletion job itself does not block; a plain delete would.
        assert_eq!(cat.delete_item(it.id).await.unwrap_err().code(), "IN_USE");
        cat.delete_item_for_job(it.id, Some(del)).await.unwrap();
        assert_eq!(
            cat.get_item_by_id(it.id).await.unwrap_err().code(),
            "NOT_FOUND"
        );
        assert_eq!(cat.get_job(del).await.unwrap().item_id, None);
    }
);

both!(a_batch_of_plans_is_applied_together, |db| {
    let cat = &db.catalog;
    let (v, it) = setup(cat).await;
    let next = t0() + TimeDelta::days(1);
    let plan = |expected| PlannedSlot {
        item_id: it.id,
        job: Some(job(&v, Some(&it), "Backup", Some("2026-03-01T22:00"))),
        expected,
        next: Some(next),
    };
    let r = cat.plan_slots(&[plan(t0())]).await.unwrap();
    assert_eq!(
        r,
        [PlanResult {
            queued: true,
            advanced: true
        }]
    );
    // A second scheduler with the same view: neither queues nor moves.
    let r = cat.plan_slots(&[plan(t0())]).await.unwrap();
    assert_eq!(
        r,
        [PlanResult {
            queued: false,
            advanced: false
        }]
    );
    assert_eq!(
        cat.get_item_by_id(it.id).await.unwrap().next_run,
        Some(trunc_micros(next))
    );
    // A stopped item: no job, the watermark cleared.
    let r = cat
        .plan_slots(&[PlannedSlot {
            item_id: it.id,
            job: None,
            expected: trunc_micros(next),
            next: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        r,
        [PlanResult {
            queued: false,
            advanced: true
        }]
    );
    assert_eq!(cat.get_item_by_id(it.id).await.unwrap().next_run, None);
    assert!(cat.plan_slots(&[]).await.unwrap().is_empty());
});
