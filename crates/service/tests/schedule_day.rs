//! Simulated days with a manual clock across America/New_York's DST
//! changes: a V1 daily policy and a V2 every-4-hours policy take their
//! points at the right local times, each slot exactly once, tagged as the
//! retention rules say, and the expiry sweep deletes them (store first,
//! then row) when they expire; a clock jump collapses missed slots into one
//! late run with warnings.

mod support;

#[allow(unused_imports)]
use lifeboat_model::job::JobStatus;
use lifeboat_service::Clock;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Item, Point};
use lifeboat_service::ServiceHandle;
use support::{Env, daily_policy, hourly_policy, make_tree, utc};

/// Steps the clock every 30 minutes from its current time to `end`,
/// letting the service catch up at each step.
async fn walk(env: &Env, h: &ServiceHandle, end: DateTime<Utc>) {
    let mut t = env.clock.now();
    while t < end {
        t += TimeDelta::minutes(30);
        env.settle_at(h, t).await;
    }
}

fn slots(points: &[Point]) -> Vec<(String, DateTime<Utc>)> {
    points
        .iter()
        .map(|p| (p.slot_key.clone().unwrap_or_default(), p.time))
        .collect()
}

fn expect(list: &[(&str, &str)]) -> Vec<(String, DateTime<Utc>)> {
    list.iter().map(|(k, t)| (k.to_string(), utc(t))).collect()
}

/// The item's points, oldest first, after checking their (slot, time)
/// pairs are `want` and that each slot ran [`exactly_once`].
async fn points_at(env: &Env, item: &Item, want: &[(&str, &str)]) -> Vec<Point> {
    let points = env.points(item).await;
    assert_eq!(slots(&points), expect(want));
    exactly_once(env, item, &points).await;
    points
}

fn warning_codes(job: &lifeboat_catalog::Job) -> Vec<&str> {
    job.warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["errorCode"].as_str().unwrap())
        .collect()
}

async fn backup_jobs(env: &Env, item: &Item) -> Vec<lifeboat_catalog::Job> {
    let mut j = env.jobs_of_type("Backup", Some(item)).await;
    j.reverse();
    j
}

async fn store_has(env: &Env, item: &Item, store_id: &str) -> bool {
    env.store_point_ids(item.vault_id)
        .await
        .iter()
        .any(|id| id == store_id)
}

/// Vault `v1` with a daily item (`daily_policy` at `daily_time` New York
/// time, named `daily_name`) and an every-4-hours item on trees of seeds
/// `seeds`; a started service that has caught up, walked on to `until`.
async fn daily_and_hourly(
    env: &Env,
    daily_name: &str,
    daily_time: &str,
    seeds: (u64, u64),
    until: &str,
) -> (lifeboat_catalog::Vault, Item, Item, ServiceHandle) {
    let src = env.data().join("src");
    make_tree(&src.join("daily"), seeds.0);
    make_tree(&src.join("hourly"), seeds.1);
    let v = env.vault("v1").await;
    env.policy(
        &v,
        daily_name,
        daily_policy("America/New_York", daily_time, 7),
    )
    .await;
    env.policy(
        &v,
        "Every4h",
        hourly_policy("America/New_York", 4, "00:00", 7, 2),
    )
    .await;
    let daily = env
        .item(&v, "daily", "path", &src.join("daily"), daily_name)
        .await;
    let hourly = env
        .item(&v, "hourly", "path", &src.join("hourly"), "Every4h")
        .await;
    let h = env.start().await;
    env.settle(&h).await;
    walk(env, &h, utc(until)).await;
    (v, daily, hourly, h)
}

/// Every scheduled job ran once, completed, and made one point.
async fn exactly_once(env: &Env, item: &Item, points: &[Point]) {
    let jobs = backup_jobs(env, item).await;
    let mut keys: Vec<_> = jobs.iter().filter_map(|j| j.slot_key.clone()).collect();
    assert_eq!(keys.len(), jobs.len(), "every scheduled job has a slot");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), jobs.len(), "no slot ran twice");
    for j in &jobs {
        assert_eq!(j.state, JobStatus::Completed, "{j:?}");
        assert_eq!(j.attempt, 1);
    }
    assert_eq!(jobs.len(), points.len());
}

both!(spring_forward_day, "2026-03-07T17:00:00Z", |env| {
    let (v, daily, hourly, h) =
        daily_and_hourly(&env, "Daily0230", "02:30", (1, 2), "2026-03-09T12:00:00Z").await;

    // 02:30 does not exist on 8 March: the run happens at 03:00 EDT.
    let d = points_at(
        &env,
        &daily,
        &[
            ("2026-03-08T02:30", "2026-03-08T07:00:00Z"),
            ("2026-03-09T02:30", "2026-03-09T06:30:00Z"),
        ],
    )
    .await;
    for p in &d {
        assert_eq!(p.rule_tags, ["daily"]);
        assert_eq!(p.expiry, Some(p.time + TimeDelta::days(7)));
        assert_eq!(p.consistency, "file-system");
        assert!(p.size > 200_000);
    }
    // Every 4 wall-clock hours; 00:00 to 04:00 on 8 March is 3 real hours.
    let hp = points_at(
        &env,
        &hourly,
        &[
            ("2026-03-07T16:00", "2026-03-07T21:00:00Z"),
            ("2026-03-07T20:00", "2026-03-08T01:00:00Z"),
            ("2026-03-08T00:00", "2026-03-08T05:00:00Z"),
            ("2026-03-08T04:00", "2026-03-08T08:00:00Z"),
            ("2026-03-08T08:00", "2026-03-08T12:00:00Z"),
            ("2026-03-08T12:00", "2026-03-08T16:00:00Z"),
            ("2026-03-08T16:00", "2026-03-08T20:00:00Z"),
            ("2026-03-08T20:00", "2026-03-09T00:00:00Z"),
            ("2026-03-09T00:00", "2026-03-09T04:00:00Z"),
            ("2026-03-09T04:00", "2026-03-09T08:00:00Z"),
            ("2026-03-09T08:00", "2026-03-09T12:00:00Z"),
        ],
    )
    .await;
    // The last point of each local day is kept by the daily rule; the
    // others only for the 2 instant-restore days.
    let reps = ["2026-03-07T20:00", "2026-03-08T20:00", "2026-03-09T08:00"];
    for p in &hp {
        let key = p.slot_key.as_deref().unwrap();
        if reps.contains(&key) {
            assert_eq!(p.rule_tags, ["daily"], "{key}");
            assert_eq!(p.expiry, Some(p.time + TimeDelta::days(7)), "{key}");
        } else {
            assert_eq!(p.rule_tags, ["instant-restore"], "{key}");
            assert_eq!(p.expiry, Some(p.time + TimeDelta::days(2)), "{key}");
        }
    }

    // Jump two days: the instant-restore points up to 06:00Z on the 9th
    // expire and are swept; the missed slots collapse into one late run.
    env.settle_at(&h, utc("2026-03-11T06:00:00Z")).await;
    let after = env.points(&hourly).await;
    let gone: Vec<&Point> = hp
        .iter()
        .filter(|p| !after.iter().any(|a| a.id == p.id))
        .collect();
    let gone_keys: Vec<&str> = gone
        .iter()
        .map(|p| p.slot_key.as_deref().unwrap())
        .collect();
    assert_eq!(
        gone_keys,
        [
            "2026-03-07T16:00",
            "2026-03-08T00:00",
            "2026-03-08T04:00",
            "2026-03-08T08:00",
            "2026-03-08T12:00",
            "2026-03-08T16:00",
            "2026-03-09T00:00",
        ]
    );
    for p in &gone {
        assert!(
            !store_has(&env, &hourly, &p.store_id).await,
            "store still has {}",
            p.store_id
        );
    }
    for p in &after {
        assert!(store_has(&env, &hourly, &p.store_id).await);
    }
    let late = backup_jobs(&env, &hourly).await.pop().unwrap();
    assert_eq!(late.slot_key.as_deref(), Some("2026-03-11T00:00"));
    assert_eq!(late.state, JobStatus::CompletedWithWarnings);
    let codes = warning_codes(&late);
    assert!(codes.contains(&"SLOTS_MISSED"), "{codes:?}");
    assert_eq!(after.len(), hp.len() - gone.len() + 1);
    let daily_late = backup_jobs(&env, &daily).await.pop().unwrap();
    assert_eq!(daily_late.slot_key.as_deref(), Some("2026-03-10T02:30"));
    let codes = warning_codes(&daily_late);
    assert_eq!(codes, ["SLOT_LATE"]);
    // GC ran after the sweep deleted points.
    let gcs = env.vault_jobs(&v, "GarbageCollection").await;
    assert!(!gcs.is_empty());
    assert!(
        gcs.iter().all(|j| j.state == JobStatus::Completed),
        "{gcs:?}"
    );

    // A week after the first daily point it expires; the second not yet.
    env.settle_at(&h, utc("2026-03-16T02:00:00Z")).await;
    let d2 = env.points(&daily).await;
    assert!(!d2.iter().any(|p| p.id == d[0].id));
    assert!(!store_has(&env, &daily, &d[0].store_id).await);
    assert!(d2.iter().any(|p| p.id == d[1].id));
    h.shutdown(std::time::Duration::from_secs(10)).await;
});

both!(fall_back_day, "2026-10-31T16:00:00Z", |env| {
    let (_v, daily, hourly, h) =
        daily_and_hourly(&env, "Daily0130", "01:30", (3, 4), "2026-11-02T12:00:00Z").await;

    // 01:30 happens twice on 1 November: the run is at the first (EDT).
    points_at(
        &env,
        &daily,
        &[
            ("2026-11-01T01:30", "2026-11-01T05:30:00Z"),
            ("2026-11-02T01:30", "2026-11-02T06:30:00Z"),
        ],
    )
    .await;
    // 00:00 to 04:00 on 1 November is 5 real hours.
    let hp = points_at(
        &env,
        &hourly,
        &[
            ("2026-10-31T16:00", "2026-10-31T20:00:00Z"),
            ("2026-10-31T20:00", "2026-11-01T00:00:00Z"),
            ("2026-11-01T00:00", "2026-11-01T04:00:00Z"),
            ("2026-11-01T04:00", "2026-11-01T09:00:00Z"),
            ("2026-11-01T08:00", "2026-11-01T13:00:00Z"),
            ("2026-11-01T12:00", "2026-11-01T17:00:00Z"),
            ("2026-11-01T16:00", "2026-11-01T21:00:00Z"),
            ("2026-11-01T20:00", "2026-11-02T01:00:00Z"),
            ("2026-11-02T00:00", "2026-11-02T05:00:00Z"),
            ("2026-11-02T04:00", "2026-11-02T09:00:00Z"),
        ],
    )
    .await;
    let tagged_daily: Vec<&str> = hp
        .iter()
        .filter(|p| p.rule_tags == ["daily"])
        .map(|p| p.slot_key.as_deref().unwrap())
        .collect();
    assert_eq!(
        tagged_daily,
        ["2026-10-31T20:00", "2026-11-01T20:00", "2026-11-02T04:00"]
    );

    // A restart in the middle of a day neither repeats nor skips a slot.
    h.shutdown(std::time::Duration::from_secs(10)).await;
    let h = env.start().await;
    env.settle(&h).await;
    walk(&env, &h, utc("2026-11-02T18:00:00Z")).await;
    let hp2 = env.points(&hourly).await;
    let new: Vec<String> = hp2[hp.len()..]
        .iter()
        .map(|p| p.slot_key.clone().unwrap())
        .collect();
    assert_eq!(new, ["2026-11-02T08:00", "2026-11-02T12:00"]);
    exactly_once(&env, &hourly, &hp2).await;
    h.shutdown(std::time::Duration::from_secs(10)).await;
});
