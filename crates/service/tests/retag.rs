//! Policy changes re-tag existing points as Azure does: a longer retention
//! extends them, a shorter one shortens them, moving from daily to weekly
//! retention cleans up the points no weekly rule keeps (the sweep deletes
//! them); stopping protection with retain-data holds every point through
//! any expiry, and resuming re-evaluates them under the policy.

mod support;

use chrono::TimeDelta;
use lifeboat_catalog::Point;
use lifeboat_model::item::ProtectionState;
use lifeboat_model::item::StopMode;
use lifeboat_service::ops;
use serde_json::json;
use support::{daily_policy, utc};

fn weekly_sunday(weeks: i64) -> serde_json::Value {
    json!({
        "policyType": "V1", "timeZone": "UTC", "instantRpRetentionRangeInDays": 5,
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Weekly", "scheduleRunDays": ["Sunday"],
            "scheduleRunTimes": ["22:00"]},
        "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
            "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
                "retentionDuration": {"count": weeks, "durationType": "Weeks"}}}
    })
}

fn expiries(points: &[Point]) -> Vec<Option<TimeDelta>> {
    points
        .iter()
        .map(|p| p.expiry.map(|e| e - p.time))
        .collect()
}

both!(policy_changes_retag_points, "2026-04-01T12:00:00Z", |env| {
    let (_src, v, item) = env.protected_tree("s", 5, "v", "s").await;
    env.policy(&v, "W", weekly_sunday(4)).await;
    let h = env.start().await;
    // Wednesday 1 April to Monday 6 April, one point a day at 22:00.
    for day in 1..=6 {
        env.settle_at(&h, utc(&format!("2026-04-0{day}T22:00:00Z")))
            .await;
    }
    let pts = env.points(&item).await;
    assert_eq!(pts.len(), 6);
    assert!(
        expiries(&pts)
            .iter()
            .all(|e| *e == Some(TimeDelta::days(30)))
    );

    let replace = |days: i64| env.replace_policy(&v, "P", daily_policy("UTC", "22:00", days));
    // Longer: every point is kept longer.
    let s = replace(60).await;
    assert_eq!((s.points, s.extended), (6, 6));
    assert!(
        expiries(&env.points(&item).await)
            .iter()
            .all(|e| *e == Some(TimeDelta::days(60)))
    );
    // Shorter: every point is kept less long, none has expired yet.
    let s = replace(7).await;
    assert_eq!((s.points, s.shortened, s.expired), (6, 6, 0));
    assert!(
        expiries(&env.points(&item).await)
            .iter()
            .all(|e| *e == Some(TimeDelta::days(7)))
    );

    // Daily to weekly-on-Sunday: Sunday's point is kept 4 weeks; the others
    // fall back to the 5 instant-restore days, and Wednesday's (taken 5
    // days ago) is cleaned up by the sweep.
    let it = env.catalog.get_item_by_id(item.id).await.unwrap();
    let (moved, s) = ops::change_item_policy(&env.catalog, env.clock.as_ref(), &it, "W")
        .await
        .unwrap();
    assert_eq!(moved.policy_name.as_deref(), Some("W"));
    assert_eq!(moved.next_run, Some(utc("2026-04-12T22:00:00Z")));
    assert_eq!((s.points, s.expired), (6, 1));
    h.wake();
    env.settle(&h).await;
    let pts = env.points(&item).await;
    assert_eq!(pts.len(), 5);
    for p in &pts {
        if p.time == utc("2026-04-05T22:00:00Z") {
            assert_eq!(p.rule_tags, ["weekly"]);
            assert_eq!(p.expiry, Some(p.time + TimeDelta::weeks(4)));
        } else {
            assert_eq!(p.rule_tags, ["instant-restore"]);
            assert_eq!(p.expiry, Some(p.time + TimeDelta::days(5)));
        }
    }

    // Stop with retain-data: nothing expires, however long we wait.
    let it = env.catalog.get_item_by_id(item.id).await.unwrap();
    let stop = ops::stop_protection(&env.catalog, env.clock.as_ref(), &it, StopMode::RetainData)
        .await
        .unwrap();
    assert_eq!(stop.item.state, ProtectionState::ProtectionStopped);
    assert_eq!(stop.item.next_run, None);
    let held = env.points(&item).await;
    assert!(
        held.iter()
            .all(|p| p.expiry.is_none() && p.hold.as_deref() == Some("retain-data"))
    );
    env.settle_at(&h, utc("2026-06-01T00:00:00Z")).await;
    assert_eq!(env.points(&item).await.len(), 5);
    let e = ops::enqueue_backup_now(&env.catalog, env.clock.as_ref(), &stop.item, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ITEM_STATE");

    // Resume: re-evaluated under P (7 days), so all are past expiry and go.
    let (resumed, s) = ops::resume_protection(&env.catalog, env.clock.as_ref(), &stop.item, "P")
        .await
        .unwrap();
    assert_eq!(resumed.state, ProtectionState::Protected);
    assert_eq!(resumed.next_run, Some(utc("2026-06-01T22:00:00Z")));
    assert_eq!(s.expired, 5);
    h.wake();
    env.settle(&h).await;
    assert!(env.points(&item).await.is_empty());
    let e = ops::resume_protection(&env.catalog, env.clock.as_ref(), &resumed, "P")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ITEM_STATE");
    h.shutdown(std::time::Duration::from_secs(10)).await;
});
