//! Retention: tagging against an independent oracle over two years (leap
//! year, month ends, "last"), week-based "Last", expiry arithmetic, hourly
//! day representatives, policy changes longer/shorter/daily<->weekly, holds.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use lifeboat_model::point::PointOrigin;
use lifeboat_model::retention::{
    ExpiryChange, Hold, HoldScope, PointFacts, Retention, RetentionTag, TaggedPoint, apply_holds,
    day_representatives, evaluate_item, evaluate_point, instant_restore_expiry, reapply, retag,
};
use lifeboat_model::schedule::SlotKey;
use lifeboat_model::{Policy, ValidPolicy};
use serde_json::{Value, json};

use RetentionTag::*;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn policy(v: Value) -> ValidPolicy {
    serde_json::from_value::<Policy>(v)
        .unwrap()
        .resolve()
        .unwrap()
}

fn daily_sched() -> Value {
    json!({"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["22:00"]})
}

fn daily_only(days: i64) -> ValidPolicy {
    policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
        "dailySchedule": {"retentionDuration": {"count": days, "durationType": "Days"}}}}))
}

/// Daily 7 d; weekly Sunday 4 w; monthly 1st + last 12 m; yearly January and
/// December, 1st + last, 10 y.
fn gfs() -> ValidPolicy {
    policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
        "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
        "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
            "retentionDuration": {"count": 4, "durationType": "Weeks"}},
        "monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}, {"isLast": true}]},
            "retentionDuration": {"count": 12, "durationType": "Months"}},
        "yearlySchedule": {"retentionScheduleFormatType": "Daily",
            "monthsOfYear": ["January", "December"],
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}, {"isLast": true}]},
            "retentionDuration": {"count": 10, "durationType": "Years"}}}}))
}

fn weekly_policy(day: &str, weeks: i64) -> ValidPolicy {
    policy(json!({
        "schedulePolicy": {"scheduleRunFrequency": "Weekly", "scheduleRunDays": [day],
                           "scheduleRunTimes": ["22:00"]},
        "retentionPolicy": {"weeklySchedule": {"daysOfTheWeek": [day],
            "retentionDuration": {"count": weeks, "durationType": "Weeks"}}}}))
}

fn scheduled(date: NaiveDate, time: DateTime<Utc>) -> PointFacts {
    PointFacts {
        time,
        origin: PointOrigin::Scheduled {
            slot: SlotKey::new(date, chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap()),
        },
    }
}

fn at22(date: NaiveDate) -> PointFacts {
    scheduled(date, date.and_hms_opt(22, 0, 0).unwrap().and_utc())
}

fn tagged(p: &ValidPolicy, facts: Vec<PointFacts>) -> Vec<TaggedPoint> {
    let r = evaluate_item(p, &facts);
    facts
        .into_iter()
        .zip(r)
        .map(|(facts, retention)| TaggedPoint { facts, retention })
        .collect()
}

fn days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days().take_while(|d| *d <= to).collect()
}

#[test]
fn default_policy_keeps_each_point_30_days() {
    let p = Policy::default_policy("UTC").resolve().unwrap();
    let f = at22(NaiveDate::from_ymd_opt(2025, 3, 9).unwrap());
    let r = evaluate_point(&p, &f, true);
    assert_eq!(r.tags, vec![Daily]);
    assert_eq!(r.rule_name, Daily);
    assert_eq!(r.expiry_time, f.time + Duration::days(30));
    assert_eq!(r.hold, None);
    assert_eq!(
        instant_restore_expiry(&p, f.time),
        f.time + Duration::days(2)
    );
    assert!(!r.is_expired(f.time + Duration::days(30) - Duration::seconds(1)));
    assert!(r.is_expired(f.time + Duration::days(30)));
}

#[test]
fn gfs_tags_match_an_independent_oracle_for_two_years() {
    let p = gfs();
    for date in days(
        NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
    ) {
        let f = at22(date);
        let r = evaluate_point(&p, &f, true);
        let last = date.succ_opt().unwrap().month() != date.month();
        let monthly = date.day() == 1 || last;
        let mut want = vec![Daily];
        if date.weekday() == Weekday::Sun {
            want.push(Weekly);
        }
        if monthly {
            want.push(Monthly);
        }
        if monthly && (date.month() == 1 || date.month() == 12) {
            want.push(Yearly);
        }
        assert_eq!(r.tags, want, "{date}");
        let t = f.time;
        let want_expiry = match want.last().unwrap() {
            Daily => t + Duration::days(7),
            Weekly => t + Duration::weeks(4),
            Monthly => t.checked_add_months(chrono::Months::new(12)).unwrap(),
            _ => t.checked_add_months(chrono::Months::new(120)).unwrap(),
        };
        assert_eq!(r.expiry_time, want_expiry, "{date}");
        assert_eq!(r.rule_name, *want.last().unwrap());
    }
    // Leap day is the last day of February 2024; the 28th is not.
    let r = evaluate_point(
        &p,
        &at22(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
        true,
    );
    assert!(r.tags.contains(&Monthly));
    let r = evaluate_point(
        &p,
        &at22(NaiveDate::from_ymd_opt(2024, 2, 28).unwrap()),
        true,
    );
    assert!(!r.tags.contains(&Monthly));
    let r = evaluate_point(
        &p,
        &at22(NaiveDate::from_ymd_opt(2023, 2, 28).unwrap()),
        true,
    );
    assert!(r.tags.contains(&Monthly));
}

#[test]
fn week_based_last_and_first_weekday_of_every_month() {
    let p = policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
        "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
        "monthlySchedule": {"retentionScheduleFormatType": "Weekly",
            "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["Last"]},
            "retentionDuration": {"count": 6, "durationType": "Months"}},
        "yearlySchedule": {"retentionScheduleFormatType": "Weekly", "monthsOfYear": ["March"],
            "retentionScheduleWeekly": {"daysOfTheWeek": ["Friday"], "weeksOfTheMonth": ["First"]},
            "retentionDuration": {"count": 2, "durationType": "Years"}}}}));
    let all = days(
        NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
    );
    for year in [2023, 2024] {
        for month in 1..=12 {
            let in_month: Vec<NaiveDate> = all
                .iter()
                .copied()
                .filter(|d| d.year() == year && d.month() == month)
                .collect();
            let monthly: Vec<NaiveDate> = in_month
                .iter()
                .copied()
                .filter(|d| evaluate_point(&p, &at22(*d), true).tags.contains(&Monthly))
                .collect();
            let last_sunday = in_month
                .iter()
                .copied()
                .filter(|d| d.weekday() == Weekday::Sun)
                .max()
                .unwrap();
            assert_eq!(monthly, vec![last_sunday], "{year}-{month}");
            let yearly: Vec<NaiveDate> = in_month
                .iter()
                .copied()
                .filter(|d| evaluate_point(&p, &at22(*d), true).tags.contains(&Yearly))
                .collect();
            if month == 3 {
                let first_friday = in_month
                    .iter()
                    .copied()
                    .find(|d| d.weekday() == Weekday::Fri)
                    .unwrap();
                assert_eq!(yearly, vec![first_friday]);
            } else {
                assert!(yearly.is_empty());
            }
        }
    }
}

#[test]
fn month_arithmetic_clamps_to_month_end() {
    let monthly1 = policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
        "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
        "monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"isLast": true}]},
            "retentionDuration": {"count": 1, "durationType": "Months"}},
        "yearlySchedule": {"retentionScheduleFormatType": "Daily", "monthsOfYear": ["February"],
            "retentionScheduleDaily": {"daysOfTheMonth": [{"isLast": true}]},
            "retentionDuration": {"count": 1, "durationType": "Years"}}}}));
    let jan31_leap = at22(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
    assert_eq!(
        evaluate_point(&monthly1, &jan31_leap, true).expiry_time,
        utc(2024, 2, 29, 22, 0)
    );
    let jan31 = at22(NaiveDate::from_ymd_opt(2023, 1, 31).unwrap());
    assert_eq!(
        evaluate_point(&monthly1, &jan31, true).expiry_time,
        utc(2023, 2, 28, 22, 0)
    );
    let feb29 = at22(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
    let r = evaluate_point(&monthly1, &feb29, true);
    assert_eq!(r.tags, vec![Daily, Monthly, Yearly]);
    assert_eq!(r.expiry_time, utc(2025, 2, 28, 22, 0));
    assert_eq!(r.rule_name, Yearly);
}

#[test]
fn equal_expiries_go_to_the_coarser_rule() {
    let p = policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
        "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
        "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
            "retentionDuration": {"count": 1, "durationType": "Weeks"}}}}));
    let r = evaluate_point(
        &p,
        &at22(NaiveDate::from_ymd_opt(2025, 3, 9).unwrap()),
        true,
    );
    assert_eq!(r.tags, vec![Daily, Weekly]);
    assert_eq!(r.rule_name, Weekly);
}

#[test]
fn the_slot_date_decides_not_the_finish_time() {
    // Sunday's 22:00 backup received on Monday 01:30 is still Sunday's.
    let p = gfs();
    let sunday = NaiveDate::from_ymd_opt(2025, 3, 9).unwrap();
    let f = scheduled(sunday, utc(2025, 3, 10, 1, 30));
    let r = evaluate_point(&p, &f, true);
    assert_eq!(r.tags, vec![Daily, Weekly]);
    assert_eq!(r.expiry_time, f.time + Duration::weeks(4));
}

#[test]
fn on_demand_points_keep_their_retain_until() {
    let p = gfs();
    let until = utc(2030, 1, 1, 0, 0);
    let f = PointFacts {
        time: utc(2025, 3, 9, 12, 0),
        origin: PointOrigin::OnDemand {
            retain_until: until,
        },
    };
    let r = evaluate_point(&p, &f, true);
    assert_eq!(r.tags, vec![OnDemand]);
    assert_eq!((r.rule_name, r.expiry_time), (OnDemand, until));
    // A policy change touches nothing.
    let pts = tagged(&p, vec![f]);
    for new in [daily_only(7), daily_only(9999), weekly_policy("Monday", 1)] {
        let o = retag(&pts, &p, &new, HoldScope::None, utc(2025, 4, 1, 0, 0));
        assert_eq!(o[0].change, ExpiryChange::Unchanged);
        assert_eq!(o[0].retention.expiry_time, until);
    }
}

fn hourly_policy() -> ValidPolicy {
    policy(json!({"policyType": "V2",
        "schedulePolicy": {"scheduleRunFrequency": "Hourly", "hourlySchedule":
            {"interval": 4, "scheduleWindowStartTime": "00:00", "scheduleWindowDuration": 24}},
        "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}}))
}

fn hourly_point(date: NaiveDate, hour: u32) -> PointFacts {
    PointFacts {
        time: date.and_hms_opt(hour, 10, 0).unwrap().and_utc(),
        origin: PointOrigin::Scheduled {
            slot: SlotKey::new(date, chrono::NaiveTime::from_hms_opt(hour, 0, 0).unwrap()),
        },
    }
}

#[test]
fn hourly_points_only_the_last_of_each_day_is_kept_long_term() {
    let p = hourly_policy();
    let d1 = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let d2 = d1.succ_opt().unwrap();
    let mut pts: Vec<PointFacts> = (0..6).map(|k| hourly_point(d1, 4 * k)).collect();
    // Day 2's last run (20:00) failed: its 16:00 point represents the day.
    pts.extend((0..5).map(|k| hourly_point(d2, 4 * k)));
    // An on-demand point in between is never a representative.
    pts.push(PointFacts {
        time: utc(2025, 6, 1, 23, 0),
        origin: PointOrigin::OnDemand {
            retain_until: utc(2025, 7, 1, 0, 0),
        },
    });
    let reps = day_representatives(&pts);
    let want: Vec<bool> = (0..11).map(|i| i == 5 || i == 10).chain([false]).collect();
    assert_eq!(reps, want);
    let r = evaluate_item(&p, &pts);
    for (i, (f, r)) in pts.iter().zip(&r).enumerate() {
        if i == 11 {
            assert_eq!(r.tags, vec![OnDemand]);
        } else if want[i] {
            assert_eq!(r.tags, vec![Daily], "{i}");
            assert_eq!(r.expiry_time, f.time + Duration::days(30));
        } else {
            assert_eq!(r.tags, vec![InstantRestore], "{i}");
            assert_eq!(
                r.expiry_time,
                f.time + Duration::days(7),
                "V2 default IR days"
            );
        }
    }
}

#[test]
fn longer_retention_extends_every_point() {
    let old = daily_only(30);
    let new = daily_only(60);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let pts = tagged(
        &old,
        days(start, start + Duration::days(29))
            .into_iter()
            .map(at22)
            .collect(),
    );
    let now = utc(2025, 1, 31, 0, 0);
    for (p, o) in pts
        .iter()
        .zip(retag(&pts, &old, &new, HoldScope::None, now))
    {
        assert_eq!(o.change, ExpiryChange::Extended);
        assert_eq!(o.retention.expiry_time, p.facts.time + Duration::days(60));
    }
}

#[test]
fn shorter_retention_shortens_and_marks_past_points_for_cleanup() {
    let old = daily_only(60);
    let new = daily_only(7);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let pts = tagged(
        &old,
        days(start, start + Duration::days(59))
            .into_iter()
            .map(at22)
            .collect(),
    );
    let now = utc(2025, 3, 1, 23, 0); // just after the last point (Mar 1 22:00)
    let out = retag(&pts, &old, &new, HoldScope::None, now);
    let mut expired = 0;
    for (p, o) in pts.iter().zip(&out) {
        let e = p.facts.time + Duration::days(7);
        assert_eq!(o.retention.expiry_time, e);
        if e <= now {
            expired += 1;
            assert_eq!(o.change, ExpiryChange::Expired);
        } else {
            assert_eq!(o.change, ExpiryChange::Shortened);
        }
    }
    assert_eq!(expired, 53, "all but the last 7 days");
}

#[test]
fn daily_to_weekly_cleans_up_daily_points_and_keeps_weekly_days() {
    let old = daily_only(30);
    let new = weekly_policy("Sunday", 12);
    let start = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    let pts = tagged(
        &old,
        days(start, start + Duration::days(27))
            .into_iter()
            .map(at22)
            .collect(),
    );
    let now = utc(2025, 3, 29, 12, 0);
    for (p, o) in pts
        .iter()
        .zip(retag(&pts, &old, &new, HoldScope::None, now))
    {
        let PointOrigin::Scheduled { slot } = p.facts.origin else {
            unreachable!()
        };
        if slot.date.weekday() == Weekday::Sun {
            assert_eq!(o.retention.tags, vec![Weekly]);
            assert_eq!(o.retention.expiry_time, p.facts.time + Duration::weeks(12));
            assert_eq!(o.change, ExpiryChange::Extended);
        } else {
            assert_eq!(o.retention.tags, vec![InstantRestore], "{}", slot.date);
            // Kept only for the new instant-restore days (5 for weekly).
            let e = p.facts.time + Duration::days(5);
            assert_eq!(o.retention.expiry_time, e);
            let want = if e <= now {
                ExpiryChange::Expired
            } else {
                ExpiryChange::Shortened
            };
            assert_eq!(o.change, want, "{}", slot.date);
        }
    }
}

#[test]
fn weekly_to_daily_keeps_weekly_points_for_the_new_daily_days() {
    let old = weekly_policy("Sunday", 12);
    let new = daily_only(30);
    let sundays: Vec<PointFacts> = (0..12)
        .map(|w| at22(NaiveDate::from_ymd_opt(2025, 1, 5).unwrap() + Duration::weeks(w)))
        .collect();
    let pts = tagged(&old, sundays);
    let now = utc(2025, 3, 24, 0, 0);
    for (p, o) in pts
        .iter()
        .zip(retag(&pts, &old, &new, HoldScope::None, now))
    {
        assert_eq!(o.retention.tags, vec![Daily]);
        let e = p.facts.time + Duration::days(30);
        assert_eq!(o.retention.expiry_time, e);
        assert_eq!(
            o.change,
            if e <= now {
                ExpiryChange::Expired
            } else {
                ExpiryChange::Shortened
            }
        );
    }
}

#[test]
fn changing_only_days_leaves_existing_points_alone() {
    let with_weekly = |day: &str, weeks: i64| {
        policy(json!({"schedulePolicy": daily_sched(), "retentionPolicy": {
            "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
            "weeklySchedule": {"daysOfTheWeek": [day],
                "retentionDuration": {"count": weeks, "durationType": "Weeks"}}}}))
    };
    let old = with_weekly("Sunday", 4);
    let start = NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(); // a Sunday
    let pts = tagged(
        &old,
        days(start, start + Duration::days(13))
            .into_iter()
            .map(at22)
            .collect(),
    );
    let now = utc(2025, 3, 16, 12, 0);

    // Same durations, different day: nothing moves.
    let same = retag(&pts, &old, &with_weekly("Monday", 4), HoldScope::None, now);
    for (p, o) in pts.iter().zip(&same) {
        assert_eq!(o.retention, p.retention);
        let want = if p.retention.expiry_time <= now {
            ExpiryChange::Expired
        } else {
            ExpiryChange::Unchanged
        };
        assert_eq!(o.change, want);
    }

    // Longer weeks and a different day: Sunday points keep their weekly tag
    // with the new duration, Monday points gain it.
    let longer = retag(&pts, &old, &with_weekly("Monday", 8), HoldScope::None, now);
    for (p, o) in pts.iter().zip(&longer) {
        let PointOrigin::Scheduled { slot } = p.facts.origin else {
            unreachable!()
        };
        let weekly = matches!(slot.date.weekday(), Weekday::Sun | Weekday::Mon);
        assert_eq!(o.retention.tags.contains(&Weekly), weekly, "{}", slot.date);
        if weekly {
            assert_eq!(o.retention.expiry_time, p.facts.time + Duration::weeks(8));
        }
    }
}

#[test]
fn holds_for_stop_and_resume() {
    let p = daily_only(7);
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut facts: Vec<PointFacts> = days(start, start + Duration::days(9))
        .into_iter()
        .map(at22)
        .collect();
    facts.swap(0, 9); // the latest need not be last in the list
    let pts = tagged(&p, facts);
    let now = utc(2025, 1, 11, 0, 0);

    // Retain data: everything held, nothing expires.
    let all = apply_holds(&pts, HoldScope::All, now);
    assert!(
        all.iter()
            .all(|o| o.retention.hold == Some(Hold::RetainData)
                && o.retention.effective_expiry().is_none()
                && !o.retention.is_expired(now + Duration::days(10_000)))
    );
    assert!(all.iter().all(|o| o.change == ExpiryChange::Extended));

    // Retain as per policy: only the latest (index 0 here) is held.
    let latest = apply_holds(&pts, HoldScope::Latest, now);
    for (i, o) in latest.iter().enumerate() {
        assert_eq!(o.retention.hold.is_some(), i == 0, "{i}");
    }
    assert_eq!(latest[0].retention.hold, Some(Hold::LatestPoint));
    assert_eq!(latest[0].change, ExpiryChange::Extended);
    // Points already past their expiry are due for cleanup.
    assert_eq!(latest[8].change, ExpiryChange::Unchanged); // 2025-01-09 + 7 d > now
    assert_eq!(latest[1].change, ExpiryChange::Expired); // 2025-01-02 + 7 d <= now
    assert_eq!(latest[9].change, ExpiryChange::Expired); // 2025-01-01, swapped

    // Resume much later: holds cleared and old points swept at once.
    let held: Vec<TaggedPoint> = pts
        .iter()
        .zip(all)
        .map(|(p, o)| TaggedPoint {
            facts: p.facts,
            retention: o.retention,
        })
        .collect();
    let later = utc(2025, 6, 1, 0, 0);
    let resumed = reapply(&held, &daily_only(30), HoldScope::None, later);
    assert!(resumed.iter().all(|o| o.retention.hold.is_none()));
    assert!(resumed.iter().all(|o| o.change == ExpiryChange::Expired));
    let resumed_soon = reapply(&held, &daily_only(30), HoldScope::None, now);
    assert!(
        resumed_soon
            .iter()
            .all(|o| o.change == ExpiryChange::Shortened)
    );
}

#[test]
fn retention_json_shape() {
    let r = Retention {
        tags: vec![Daily, OnDemand, InstantRestore],
        rule_name: OnDemand,
        expiry_time: utc(2025, 1, 1, 0, 0),
        hold: Some(Hold::LatestPoint),
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"tags": ["daily", "on-demand", "instant-restore"], "ruleName": "on-demand",
               "expiryTime": "2025-01-01T00:00:00Z", "hold": "latest-point"})
    );
}
