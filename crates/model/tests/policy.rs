//! Policy validation: Azure's example JSON, every limit at both edges, every
//! hourly interval × window combination, every weekday-set coupling.

use lifeboat_model::calendar::{DayOfWeek, TimeOfDay};
use lifeboat_model::policy::{DayPattern, PolicyType, Schedule};
use lifeboat_model::{ErrorCode, ModelError, Policy};
use serde_json::{Value, json};

fn parse(v: Value) -> Policy {
    serde_json::from_value(v).expect("deserializes")
}

fn err(v: Value) -> ModelError {
    let e = parse(v).validate().expect_err("must be refused");
    assert_eq!(e.code(), ErrorCode::InvalidPolicy);
    e
}

fn daily_v1(extra_retention: Value) -> Value {
    let mut retention = json!({
        "retentionPolicyType": "LongTermRetentionPolicy",
        "dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}
    });
    for (k, v) in extra_retention.as_object().unwrap() {
        retention[k] = v.clone();
    }
    json!({
        "policyType": "V1", "timeZone": "UTC",
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Daily", "scheduleRunTimes": ["22:00"]},
        "retentionPolicy": retention
    })
}

fn weekly_v1(days: &[&str], weekly_days: &[&str]) -> Value {
    json!({
        "timeZone": "UTC",
        "schedulePolicy": {"scheduleRunFrequency": "Weekly",
            "scheduleRunDays": days, "scheduleRunTimes": ["2018-01-24T10:00:00Z"]},
        "retentionPolicy": {"weeklySchedule": {"daysOfTheWeek": weekly_days,
            "retentionDuration": {"count": 4, "durationType": "Weeks"}}}
    })
}

fn hourly_v2(interval: i64, start: &str, duration: i64) -> Value {
    json!({
        "policyType": "V2", "timeZone": "UTC",
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicyV2",
            "scheduleRunFrequency": "Hourly",
            "hourlySchedule": {"interval": interval, "scheduleWindowStartTime": start,
                               "scheduleWindowDuration": duration}},
        "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}
    })
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn day_set(mask: u32) -> Vec<&'static str> {
    (0..7)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| DAYS[i])
        .collect()
}

#[test]
fn azure_complex_v1_example_is_accepted() {
    // ProtectionPolicies_CreateOrUpdate_Complex.json, timeZone as given.
    let p = parse(json!({
        "backupManagementType": "AzureIaasVM",
        "timeZone": "Pacific Standard Time",
        "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Weekly", "scheduleRunTimes": ["2018-01-24T10:00:00Z"],
            "scheduleRunDays": ["Monday", "Wednesday", "Thursday"]},
        "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
            "weeklySchedule": {"daysOfTheWeek": ["Monday", "Wednesday", "Thursday"],
                "retentionTimes": ["2018-01-24T10:00:00Z"],
                "retentionDuration": {"count": 1, "durationType": "Weeks"}},
            "monthlySchedule": {"retentionScheduleFormatType": "Weekly",
                "retentionScheduleWeekly": {"daysOfTheWeek": ["Wednesday", "Thursday"],
                    "weeksOfTheMonth": ["First", "Third"]},
                "retentionTimes": ["2018-01-24T10:00:00Z"],
                "retentionDuration": {"count": 2, "durationType": "Months"}},
            "yearlySchedule": {"retentionScheduleFormatType": "Weekly",
                "monthsOfYear": ["February", "November"],
                "retentionScheduleWeekly": {"daysOfTheWeek": ["Monday", "Thursday"],
                    "weeksOfTheMonth": ["Fourth"]},
                "retentionTimes": ["2018-01-24T10:00:00Z"],
                "retentionDuration": {"count": 4, "durationType": "Years"}}},
        "protectedItemsCount": 0
    }));
    let v = p.resolve().unwrap();
    assert_eq!(v.policy_type, PolicyType::V1);
    assert_eq!(v.time_zone.name(), "America/Los_Angeles");
    assert_eq!(v.instant_rp_days, 5, "weekly V1 defaults to 5");
    assert_eq!(
        v.schedule,
        Schedule::Weekly {
            days: [DayOfWeek::Monday, DayOfWeek::Wednesday, DayOfWeek::Thursday].into(),
            time: TimeOfDay::new(10, 0).unwrap()
        }
    );
    assert_eq!(v.retention.daily, None);
    assert_eq!(v.retention.weekly.as_ref().unwrap().weeks, 1);
    assert_eq!(v.retention.monthly.as_ref().unwrap().months, 2);
    assert_eq!(v.retention.yearly.as_ref().unwrap().years, 4);
}

#[test]
fn azure_v2_examples_are_accepted() {
    // IaaS_v2_hourly.json (timeZone "India Standard Time").
    let hourly = parse(json!({
        "backupManagementType": "AzureIaasVM", "timeZone": "India Standard Time",
        "instantRpRetentionRangeInDays": 30, "policyType": "V2",
        "snapshotConsistencyType": "OnlyCrashConsistent",
        "schedulePolicy": {"hourlySchedule": {"interval": 4, "scheduleWindowDuration": 16,
                "scheduleWindowStartTime": "2021-12-17T08:00:00Z"},
            "schedulePolicyType": "SimpleSchedulePolicyV2", "scheduleRunFrequency": "Hourly"},
        "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {"retentionDuration": {"count": 180, "durationType": "Days"},
                "retentionTimes": ["2021-12-17T08:00:00+00:00"]},
            "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
                "retentionDuration": {"count": 12, "durationType": "Weeks"},
                "retentionTimes": ["2021-12-17T08:00:00+00:00"]},
            "monthlySchedule": {"retentionDuration": {"count": 60, "durationType": "Months"},
                "retentionScheduleDaily": null, "retentionScheduleFormatType": "Weekly",
                "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                "retentionTimes": ["2021-12-17T08:00:00+00:00"]},
            "yearlySchedule": {"monthsOfYear": ["January"],
                "retentionDuration": {"count": 10, "durationType": "Years"},
                "retentionScheduleDaily": null, "retentionScheduleFormatType": "Weekly",
                "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                "retentionTimes": ["2021-12-17T08:00:00+00:00"]}},
        "resourceGuardOperationRequests": null
    }));
    let v = hourly.resolve().unwrap();
    assert_eq!(v.time_zone.name(), "Asia/Kolkata");
    assert_eq!(v.instant_rp_days, 30);
    assert_eq!(
        v.schedule,
        Schedule::Hourly {
            interval_hours: 4,
            window_start: TimeOfDay::new(8, 0).unwrap(),
            window_hours: 16
        }
    );

    // IaaS_v2_daily.json: the retention time (08:00) differs from the run
    // time (10:00); Azure accepts it, so must we.
    let mut daily: Value = serde_json::to_value(&hourly).unwrap();
    daily["schedulePolicy"] = json!({"schedulePolicyType": "SimpleSchedulePolicyV2",
        "scheduleRunFrequency": "Daily",
        "dailySchedule": {"scheduleRunTimes": ["2018-01-24T10:00:00Z"]}});
    let v = parse(daily).resolve().unwrap();
    assert_eq!(
        v.schedule,
        Schedule::Daily {
            time: TimeOfDay::new(10, 0).unwrap()
        }
    );
}

#[test]
fn json_round_trips() {
    let p = parse(daily_v1(json!({
        "monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}, {"date": 0, "isLast": true}]},
            "retentionDuration": {"count": 12, "durationType": "Months"}}
    })));
    let back: Policy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let v = p.resolve().unwrap();
    assert_eq!(
        v.retention.monthly.unwrap().pattern,
        DayPattern::Dates {
            dates: [1].into(),
            last: true
        }
    );
}

fn with_count(rule: &str, count: i64) -> Value {
    match rule {
        "dailySchedule" => {
            let mut p = daily_v1(json!({}));
            p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(count);
            p
        }
        "weeklySchedule" => daily_v1(json!({"weeklySchedule": {"daysOfTheWeek": ["Sunday"],
            "retentionDuration": {"count": count, "durationType": "Weeks"}}})),
        "monthlySchedule" => daily_v1(json!({"monthlySchedule": {
            "retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}]},
            "retentionDuration": {"count": count, "durationType": "Months"}}})),
        _ => daily_v1(
            json!({"yearlySchedule": {"retentionScheduleFormatType": "Daily",
            "monthsOfYear": ["January"],
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}]},
            "retentionDuration": {"count": count, "durationType": "Years"}}}),
        ),
    }
}

#[test]
fn retention_counts_at_both_edges() {
    for (rule, unit, lo, hi) in [
        ("dailySchedule", "days", 7, 9999),
        ("weeklySchedule", "weeks", 1, 5163),
        ("monthlySchedule", "months", 1, 1188),
        ("yearlySchedule", "years", 1, 99),
    ] {
        for count in [-1, 0, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, i64::MAX] {
            let r = parse(with_count(rule, count)).validate();
            assert_eq!(
                r.is_ok(),
                (lo..=hi).contains(&count),
                "{rule} {count}: {r:?}"
            );
            if let Err(e) = r {
                assert_eq!(
                    e.target(),
                    format!("retentionPolicy.{rule}.retentionDuration.count")
                );
                assert!(
                    e.message()
                        .contains(&format!("between {lo} and {hi} {unit}")),
                    "{}",
                    e.message()
                );
                assert!(e.message().contains(&format!("(got {count})")));
            }
        }
    }
}

#[test]
fn duration_type_must_match_the_rule() {
    let mut p = daily_v1(json!({}));
    p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["durationType"] = json!("Weeks");
    let e = err(p);
    assert_eq!(
        e.target(),
        "retentionPolicy.dailySchedule.retentionDuration.durationType"
    );
    assert!(e.message().contains("must be Days"));
}

#[test]
fn instant_restore_days_v1_v2_and_weekly() {
    for days in -1..=32 {
        let mut v1 = daily_v1(json!({}));
        v1["instantRpRetentionRangeInDays"] = json!(days);
        let r = parse(v1).resolve();
        assert_eq!(r.is_ok(), (1..=5).contains(&days), "V1 {days}");
        if let Err(e) = r {
            assert_eq!(e.target(), "instantRpRetentionRangeInDays");
            assert!(e.message().contains("between 1 and 5"));
        }
        let mut v2 = hourly_v2(4, "08:00", 16);
        v2["instantRpRetentionRangeInDays"] = json!(days);
        let r = parse(v2).resolve();
        assert_eq!(r.is_ok(), (1..=30).contains(&days), "V2 {days}");
        if let Err(e) = r {
            assert!(e.message().contains("between 1 and 30"));
        }
        let mut weekly = weekly_v1(&["Sunday"], &["Sunday"]);
        weekly["instantRpRetentionRangeInDays"] = json!(days);
        let r = parse(weekly).resolve();
        assert_eq!(r.is_ok(), days == 5, "weekly {days}");
        if let Err(e) = r {
            assert!(e.message().contains("must be 5"));
        }
    }
    assert_eq!(
        parse(daily_v1(json!({})))
            .resolve()
            .unwrap()
            .instant_rp_days,
        2
    );
    assert_eq!(
        parse(hourly_v2(4, "08:00", 16))
            .resolve()
            .unwrap()
            .instant_rp_days,
        7
    );
    assert_eq!(
        parse(weekly_v1(&["Sunday"], &["Sunday"]))
            .resolve()
            .unwrap()
            .instant_rp_days,
        5
    );
}

#[test]
fn every_hourly_interval_and_window_combination() {
    let mut accepted = 0;
    for interval in 0..=25 {
        for duration in 0..=26 {
            let r = parse(hourly_v2(interval, "08:00", duration)).resolve();
            let ok = [4, 6, 8, 12].contains(&interval)
                && (4..=24).contains(&duration)
                && duration % interval == 0;
            assert_eq!(
                r.is_ok(),
                ok,
                "interval {interval} window {duration}: {r:?}"
            );
            match r {
                Ok(v) => {
                    accepted += 1;
                    assert_eq!(
                        v.schedule,
                        Schedule::Hourly {
                            interval_hours: interval as u32,
                            window_start: TimeOfDay::new(8, 0).unwrap(),
                            window_hours: duration as u32
                        }
                    );
                }
                Err(e) if ![4, 6, 8, 12].contains(&interval) => {
                    assert_eq!(e.target(), "schedulePolicy.hourlySchedule.interval");
                    assert!(e.message().contains("4, 6, 8 or 12"));
                }
                Err(e) => {
                    assert_eq!(
                        e.target(),
                        "schedulePolicy.hourlySchedule.scheduleWindowDuration"
                    )
                }
            }
        }
    }
    // 4: 4,8,…,24 (6); 6: 6,12,18,24 (4); 8: 8,16,24 (3); 12: 12,24 (2).
    assert_eq!(accepted, 15);
}

#[test]
fn run_times_must_be_on_the_hour_or_half_hour() {
    for m in 0..60 {
        let t = format!("10:{m:02}");
        let mut p = daily_v1(json!({}));
        p["schedulePolicy"]["scheduleRunTimes"] = json!([t]);
        let r = parse(p).validate();
        assert_eq!(r.is_ok(), m % 30 == 0, "{t}");
        if let Err(e) = r {
            assert_eq!(e.target(), "schedulePolicy.scheduleRunTimes[0]");
        }
        let r = parse(hourly_v2(4, &t, 24)).validate();
        assert_eq!(r.is_ok(), m % 30 == 0, "window {t}");
        if let Err(e) = r {
            assert_eq!(
                e.target(),
                "schedulePolicy.hourlySchedule.scheduleWindowStartTime"
            );
        }
    }
    for times in [json!([]), json!(["10:00", "22:00"]), json!(null)] {
        let mut p = daily_v1(json!({}));
        p["schedulePolicy"]["scheduleRunTimes"] = times;
        let e = err(p);
        assert_eq!(e.target(), "schedulePolicy.scheduleRunTimes");
        assert!(e.message().contains("exactly one"));
    }
}

#[test]
fn weekly_schedule_couplings_for_every_weekday_set() {
    // Weekly retention days must equal the schedule days.
    for s in 1u32..128 {
        for r in [s, s ^ 1, s | 0b100_0000, (!s) & 0x7f] {
            if r == 0 {
                continue;
            }
            let res = parse(weekly_v1(&day_set(s), &day_set(r))).validate();
            assert_eq!(res.is_ok(), r == s, "schedule {s:07b} retention {r:07b}");
            if let Err(e) = res {
                assert_eq!(e.target(), "retentionPolicy.weeklySchedule.daysOfTheWeek");
            }
        }
    }
    // Week-based monthly retention days must be among the schedule days.
    for s in 1u32..128 {
        for m in 1u32..128 {
            let mut p = weekly_v1(&day_set(s), &day_set(s));
            p["retentionPolicy"]["monthlySchedule"] = json!({
                "retentionScheduleFormatType": "Weekly",
                "retentionScheduleWeekly": {"daysOfTheWeek": day_set(m), "weeksOfTheMonth": ["Last"]},
                "retentionDuration": {"count": 3, "durationType": "Months"}});
            let res = parse(p).validate();
            assert_eq!(res.is_ok(), m & !s == 0, "schedule {s:07b} monthly {m:07b}");
            if let Err(e) = res {
                assert_eq!(
                    e.target(),
                    "retentionPolicy.monthlySchedule.retentionScheduleWeekly.daysOfTheWeek"
                );
            }
        }
    }
}

#[test]
fn weekly_schedule_forbids_daily_retention_and_day_based_long_term() {
    let mut p = weekly_v1(&["Sunday"], &["Sunday"]);
    p["retentionPolicy"]["dailySchedule"] =
        json!({"retentionDuration": {"count": 30, "durationType": "Days"}});
    assert_eq!(err(p).target(), "retentionPolicy.dailySchedule");

    let mut p = weekly_v1(&["Sunday"], &["Sunday"]);
    p["retentionPolicy"]["yearlySchedule"] = json!({"retentionScheduleFormatType": "Daily",
        "monthsOfYear": ["January"],
        "retentionScheduleDaily": {"daysOfTheMonth": [{"date": 1}]},
        "retentionDuration": {"count": 1, "durationType": "Years"}});
    assert_eq!(
        err(p).target(),
        "retentionPolicy.yearlySchedule.retentionScheduleFormatType"
    );

    let mut p = weekly_v1(&["Sunday"], &["Sunday"]);
    p["retentionPolicy"]
        .as_object_mut()
        .unwrap()
        .remove("weeklySchedule");
    assert_eq!(err(p).target(), "retentionPolicy.weeklySchedule");

    let p = weekly_v1(&[], &["Sunday"]);
    assert_eq!(err(p).target(), "schedulePolicy.scheduleRunDays");
    let p = weekly_v1(&["Sunday", "Sunday"], &["Sunday"]);
    assert!(err(p).message().contains("more than once"));
}

#[test]
fn daily_and_hourly_schedules_need_daily_retention() {
    let mut p = daily_v1(json!({"weeklySchedule": {"daysOfTheWeek": ["Sunday"],
        "retentionDuration": {"count": 4, "durationType": "Weeks"}}}));
    p["retentionPolicy"]
        .as_object_mut()
        .unwrap()
        .remove("dailySchedule");
    assert_eq!(err(p).target(), "retentionPolicy.dailySchedule");
    let mut p = hourly_v2(4, "08:00", 24);
    p["retentionPolicy"] = json!({});
    assert_eq!(err(p).target(), "retentionPolicy.dailySchedule");
}

#[test]
fn day_based_dates_1_to_28_or_last() {
    for date in -1..=32 {
        let p = daily_v1(
            json!({"monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": date, "isLast": false}]},
            "retentionDuration": {"count": 1, "durationType": "Months"}}}),
        );
        let r = parse(p).validate();
        assert_eq!(r.is_ok(), (1..=28).contains(&date), "date {date}");
        if let Err(e) = r {
            assert_eq!(
                e.target(),
                "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth[0].date"
            );
            assert!(e.message().contains("between 1 and 28"));
        }
        // With isLast the date is ignored.
        let p = daily_v1(
            json!({"monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": [{"date": date, "isLast": true}]},
            "retentionDuration": {"count": 1, "durationType": "Months"}}}),
        );
        assert!(parse(p).validate().is_ok());
    }
    for dup in [
        json!([{"date": 3}, {"date": 3}]),
        json!([{"isLast": true}, {"isLast": true}]),
    ] {
        let p = daily_v1(
            json!({"monthlySchedule": {"retentionScheduleFormatType": "Daily",
            "retentionScheduleDaily": {"daysOfTheMonth": dup},
            "retentionDuration": {"count": 1, "durationType": "Months"}}}),
        );
        assert!(err(p).message().contains("more than once"));
    }
    let p = daily_v1(
        json!({"monthlySchedule": {"retentionScheduleFormatType": "Daily",
        "retentionDuration": {"count": 1, "durationType": "Months"}}}),
    );
    assert!(err(p).message().contains("is required"));
}

#[test]
fn week_based_needs_weeks_days_and_yearly_months() {
    let p = daily_v1(
        json!({"yearlySchedule": {"retentionScheduleFormatType": "Weekly",
        "monthsOfYear": [],
        "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["Last"]},
        "retentionDuration": {"count": 1, "durationType": "Years"}}}),
    );
    assert_eq!(
        err(p).target(),
        "retentionPolicy.yearlySchedule.monthsOfYear"
    );
    let p = daily_v1(
        json!({"yearlySchedule": {"retentionScheduleFormatType": "Weekly",
        "monthsOfYear": ["March"],
        "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": []},
        "retentionDuration": {"count": 1, "durationType": "Years"}}}),
    );
    assert_eq!(
        err(p).target(),
        "retentionPolicy.yearlySchedule.retentionScheduleWeekly.weeksOfTheMonth"
    );
    let p = daily_v1(
        json!({"monthlySchedule": {"retentionScheduleFormatType": "Weekly",
        "retentionDuration": {"count": 1, "durationType": "Months"}}}),
    );
    assert_eq!(
        err(p).target(),
        "retentionPolicy.monthlySchedule.retentionScheduleWeekly"
    );
}

#[test]
fn policy_type_and_schedule_shape_must_agree() {
    let mut p = daily_v1(json!({}));
    p["schedulePolicy"]["scheduleRunFrequency"] = json!("Hourly");
    let e = err(p);
    assert_eq!(e.target(), "schedulePolicy.scheduleRunFrequency");
    assert!(e.message().contains("V2"));

    let mut p = daily_v1(json!({}));
    p["policyType"] = json!("V2");
    assert_eq!(err(p).target(), "schedulePolicy.schedulePolicyType");

    let mut p = hourly_v2(4, "08:00", 24);
    p["schedulePolicy"]
        .as_object_mut()
        .unwrap()
        .remove("hourlySchedule");
    assert_eq!(err(p).target(), "schedulePolicy.hourlySchedule");

    let mut p = hourly_v2(4, "08:00", 24);
    p["schedulePolicy"]["scheduleRunFrequency"] = json!("Weekly");
    assert_eq!(err(p).target(), "schedulePolicy.weeklySchedule");

    let mut p = daily_v1(json!({}));
    p["snapshotConsistencyType"] = json!("OnlyCrashConsistent");
    assert_eq!(err(p).target(), "snapshotConsistencyType");

    let mut p = daily_v1(json!({}));
    p["timeZone"] = json!("Nowhere/Special");
    assert_eq!(err(p).target(), "timeZone");
}

#[test]
fn missing_time_zone_and_policy_type_default_to_utc_and_v1() {
    let p = parse(json!({
        "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["01:30"]},
        "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}}}
    }));
    let v = p.resolve().unwrap();
    assert_eq!(v.policy_type, PolicyType::V1);
    assert_eq!(v.time_zone, chrono_tz::Tz::UTC);
    assert_eq!(v.retention.daily, Some(7));
}
