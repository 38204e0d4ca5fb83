//! Schedules: DST gaps and overlaps in America/New_York, Europe/Berlin,
//! Australia/Lord_Howe (30-minute DST) and zones without DST; every hourly
//! combination; every weekday set; slot identity across restarts.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use lifeboat_model::Policy;
use lifeboat_model::ValidPolicy;
use lifeboat_model::calendar::DayOfWeek;
use lifeboat_model::schedule::{SlotKey, next_runs, next_slot, slot_for_key, slots};
use serde_json::json;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn daily(tz: &str, time: &str) -> ValidPolicy {
    let p: Policy = serde_json::from_value(json!({
        "timeZone": tz,
        "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": [time]},
        "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}
    }))
    .unwrap();
    p.resolve().unwrap()
}

fn weekly(tz: &str, days: &[&str], time: &str) -> ValidPolicy {
    let p: Policy = serde_json::from_value(json!({
        "timeZone": tz,
        "schedulePolicy": {"scheduleRunFrequency": "Weekly", "scheduleRunDays": days,
                           "scheduleRunTimes": [time]},
        "retentionPolicy": {"weeklySchedule": {"daysOfTheWeek": days,
            "retentionDuration": {"count": 4, "durationType": "Weeks"}}}
    }))
    .unwrap();
    p.resolve().unwrap()
}

fn hourly(tz: &str, interval: i64, start: &str, window: i64) -> ValidPolicy {
    let p: Policy = serde_json::from_value(json!({
        "policyType": "V2", "timeZone": tz,
        "schedulePolicy": {"scheduleRunFrequency": "Hourly",
            "hourlySchedule": {"interval": interval, "scheduleWindowStartTime": start,
                               "scheduleWindowDuration": window}},
        "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}
    }))
    .unwrap();
    p.resolve().unwrap()
}

fn key(s: &str) -> SlotKey {
    s.parse().unwrap()
}

#[test]
fn new_york_spring_forward_runs_at_the_end_of_the_gap() {
    // 2025-03-09: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    let p = daily("America/New_York", "02:30");
    let s = slots(&p, utc(2025, 3, 8, 0, 0), utc(2025, 3, 11, 0, 0));
    let got: Vec<(String, DateTime<Utc>)> = s.iter().map(|s| (s.key.to_string(), s.at)).collect();
    assert_eq!(
        got,
        vec![
            ("2025-03-08T02:30".into(), utc(2025, 3, 8, 7, 30)),
            ("2025-03-09T02:30".into(), utc(2025, 3, 9, 7, 0)),
            ("2025-03-10T02:30".into(), utc(2025, 3, 10, 6, 30)),
        ]
    );
}

#[test]
fn new_york_fall_back_runs_once_at_the_first_occurrence() {
    // 2025-11-02: 02:00 EDT falls back to 01:00 EST; 01:30 happens at 05:30
    // and 06:30 UTC.
    let p = daily("America/New_York", "01:30");
    let runs = next_runs(&p, utc(2025, 11, 1, 0, 0), utc(2025, 11, 4, 0, 0));
    assert_eq!(
        runs,
        vec![
            utc(2025, 11, 1, 5, 30),
            utc(2025, 11, 2, 5, 30),
            utc(2025, 11, 3, 6, 30),
        ]
    );
    // A scheduler that restarts between the two occurrences does not see the
    // slot again.
    assert!(next_runs(&p, utc(2025, 11, 2, 5, 45), utc(2025, 11, 2, 7, 0)).is_empty());
}

#[test]
fn berlin_both_transitions() {
    // 2025-03-30: 02:00 CET -> 03:00 CEST at 01:00 UTC.
    let p = daily("Europe/Berlin", "02:30");
    assert_eq!(
        next_runs(&p, utc(2025, 3, 29, 12, 0), utc(2025, 3, 31, 12, 0)),
        vec![utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 30)]
    );
    // 2025-10-26: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30 happens at
    // 00:30 and 01:30 UTC.
    assert_eq!(
        next_runs(&p, utc(2025, 10, 25, 12, 0), utc(2025, 10, 27, 12, 0)),
        vec![utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]
    );
    // 22:00 is never affected.
    let p = daily("Europe/Berlin", "22:00");
    assert_eq!(
        next_runs(&p, utc(2025, 3, 29, 12, 0), utc(2025, 3, 31, 12, 0)),
        vec![utc(2025, 3, 29, 21, 0), utc(2025, 3, 30, 20, 0)]
    );
}

#[test]
fn lord_howe_half_hour_dst() {
    // Standard +10:30, summer +11:00. 2025-10-05 02:00 -> 02:30 (15:30 UTC
    // on the 4th); 2025-04-06 02:00 -> 01:30 (01:30 happens at 14:30 and
    // 15:00 UTC on the 5th).
    let p = daily("Australia/Lord_Howe", "02:00");
    assert_eq!(
        next_runs(&p, utc(2025, 10, 3, 0, 0), utc(2025, 10, 6, 0, 0)),
        vec![
            utc(2025, 10, 3, 15, 30),
            utc(2025, 10, 4, 15, 30),
            utc(2025, 10, 5, 15, 0),
        ]
    );
    let p = daily("Australia/Lord_Howe", "01:30");
    assert_eq!(
        next_runs(&p, utc(2025, 4, 4, 0, 0), utc(2025, 4, 7, 0, 0)),
        vec![
            utc(2025, 4, 4, 14, 30),
            utc(2025, 4, 5, 14, 30),
            utc(2025, 4, 6, 15, 0),
        ]
    );
    // 02:30 exists on the spring-forward day and is its own slot.
    let p = daily("Australia/Lord_Howe", "02:30");
    let s = slots(&p, utc(2025, 10, 4, 0, 0), utc(2025, 10, 5, 0, 0));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].key, key("2025-10-05T02:30"));
    assert_eq!(s[0].at, utc(2025, 10, 4, 15, 30));
}

#[test]
fn a_local_year_has_one_run_per_day_in_every_zone_and_time() {
    for tz in [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "Asia/Tokyo",
        "UTC",
    ] {
        let zone: Tz = tz.parse().unwrap();
        let from = zone
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let to = zone
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        for h in 0..24 {
            for m in [0, 30] {
                let p = daily(tz, &format!("{h:02}:{m:02}"));
                let s = slots(&p, from - Duration::seconds(1), to - Duration::seconds(1));
                assert_eq!(s.len(), 366, "{tz} {h:02}:{m:02} (2024 is a leap year)");
                let dates: BTreeSet<NaiveDate> = s.iter().map(|s| s.key.date).collect();
                assert_eq!(dates.len(), 366);
                for w in s.windows(2) {
                    assert!(w[0].at < w[1].at);
                    // Runs are 24 h apart, give or take a DST shift.
                    let gap = w[1].at - w[0].at;
                    assert!(
                        gap >= Duration::hours(22) && gap <= Duration::hours(26),
                        "{tz} {} -> {}",
                        w[0].key,
                        w[1].key
                    );
                }
                for slot in &s {
                    // The run is at the nominal local time, or (in a gap) at
                    // most an hour later.
                    let local = slot.at.with_timezone(&zone).naive_local();
                    let nominal = slot.key.date.and_time(slot.key.time);
                    let late = local - nominal;
                    assert!(late >= Duration::zero() && late <= Duration::hours(1));
                    if tz == "Asia/Tokyo" || tz == "UTC" {
                        assert_eq!(late, Duration::zero());
                    }
                }
            }
        }
    }
}

#[test]
fn zones_without_dst_are_plain_offsets() {
    let p = daily("Asia/Kolkata", "22:00");
    assert_eq!(
        next_runs(&p, utc(2025, 3, 9, 0, 0), utc(2025, 3, 11, 0, 0)),
        vec![utc(2025, 3, 9, 16, 30), utc(2025, 3, 10, 16, 30)]
    );
}

#[test]
fn every_hourly_combination_runs_window_over_interval_times_a_day() {
    for tz in ["Asia/Tokyo", "America/New_York"] {
        for interval in [4i64, 6, 8, 12] {
            for window in (4..=24).filter(|w| w % interval == 0) {
                for start in ["00:00", "08:30", "20:00", "23:30"] {
                    let p = hourly(tz, interval, start, window);
                    // A quiet fortnight (no DST change in either zone).
                    let s = slots(&p, utc(2025, 6, 1, 0, 0), utc(2025, 6, 15, 0, 0));
                    let per_day = (window / interval) as usize;
                    // Every local window start day strictly inside the range
                    // contributes all its runs.
                    let zone: Tz = tz.parse().unwrap();
                    let mut by_window: std::collections::BTreeMap<NaiveDate, Vec<DateTime<Utc>>> =
                        Default::default();
                    for slot in &s {
                        let nominal = slot.key.date.and_time(slot.key.time);
                        let st = chrono::NaiveTime::parse_from_str(start, "%H:%M").unwrap();
                        let mut wd = slot.key.date;
                        if nominal < wd.and_time(st) {
                            wd = wd.pred_opt().unwrap();
                        }
                        let off = nominal - wd.and_time(st);
                        assert_eq!(off.num_minutes() % (interval * 60), 0, "{tz} {start}");
                        assert!(off < Duration::hours(window));
                        assert_eq!(
                            slot.at.with_timezone(&zone).naive_local(),
                            nominal,
                            "no DST here"
                        );
                        by_window.entry(wd).or_default().push(slot.at);
                    }
                    let full: Vec<_> = by_window.values().filter(|v| v.len() == per_day).collect();
                    assert!(full.len() >= 12, "{tz} {interval} {window} {start}");
                    assert!(by_window.values().all(|v| v.len() <= per_day));
                    for runs in full {
                        for w in runs.windows(2) {
                            assert_eq!(w[1] - w[0], Duration::hours(interval));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn hourly_across_spring_forward_keeps_every_slot_once() {
    // Every 4 h from 22:00 over 24 h: 22, 02, 06, 10, 14, 18. On 2025-03-09
    // the 02:00 run (of the window that began on the 8th) falls in the gap
    // and runs at 03:00 EDT.
    let p = hourly("America/New_York", 4, "22:00", 24);
    let s = slots(&p, utc(2025, 3, 9, 0, 0), utc(2025, 3, 10, 0, 0));
    let got: Vec<(String, DateTime<Utc>)> = s.iter().map(|s| (s.key.to_string(), s.at)).collect();
    assert_eq!(
        got,
        vec![
            ("2025-03-08T22:00".into(), utc(2025, 3, 9, 3, 0)),
            ("2025-03-09T02:00".into(), utc(2025, 3, 9, 7, 0)),
            ("2025-03-09T06:00".into(), utc(2025, 3, 9, 10, 0)),
            ("2025-03-09T10:00".into(), utc(2025, 3, 9, 14, 0)),
            ("2025-03-09T14:00".into(), utc(2025, 3, 9, 18, 0)),
            ("2025-03-09T18:00".into(), utc(2025, 3, 9, 22, 0)),
        ]
    );
    // Fall back: on 2025-11-02 01:00–02:00 happens twice; every 6 h from
    // 01:00 runs in the repeated hour once, at its first occurrence.
    let p = hourly("America/New_York", 6, "01:00", 24);
    let s = slots(&p, utc(2025, 11, 2, 0, 0), utc(2025, 11, 3, 0, 0));
    let keys: Vec<String> = s.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        keys,
        [
            "2025-11-02T01:00",
            "2025-11-02T07:00",
            "2025-11-02T13:00",
            "2025-11-02T19:00"
        ]
    );
    assert_eq!(s[0].at, utc(2025, 11, 2, 5, 0), "first 01:00 is EDT");
}

#[test]
fn every_weekday_set_runs_on_exactly_those_days() {
    for tz in ["Europe/Berlin", "Australia/Lord_Howe"] {
        for mask in 1u32..128 {
            let days: Vec<&str> = (0..7)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| {
                    [
                        "Sunday",
                        "Monday",
                        "Tuesday",
                        "Wednesday",
                        "Thursday",
                        "Friday",
                        "Saturday",
                    ][i]
                })
                .collect();
            let p = weekly(tz, &days, "02:00");
            // Four local weeks spanning Berlin's spring-forward and Lord
            // Howe's fall-back days.
            let zone: Tz = tz.parse().unwrap();
            let local_midnight = |m: u32, d: u32| {
                zone.with_ymd_and_hms(2025, m, d, 0, 0, 0)
                    .unwrap()
                    .with_timezone(&Utc)
            };
            let s = slots(&p, local_midnight(3, 16), local_midnight(4, 13));
            assert_eq!(s.len(), 4 * mask.count_ones() as usize, "{tz} {mask:07b}");
            for slot in &s {
                let d = DayOfWeek::of(slot.key.date) as u32;
                assert!(mask & (1 << d) != 0, "{tz} {mask:07b} ran on {}", slot.key);
                assert_eq!(slot.key.time.hour(), 2);
            }
        }
    }
}

#[test]
fn range_is_after_exclusive_until_inclusive() {
    let p = daily("UTC", "22:00");
    let at = utc(2025, 1, 1, 22, 0);
    assert_eq!(
        next_runs(&p, at, at + Duration::days(1)),
        vec![at + Duration::days(1)]
    );
    assert_eq!(next_runs(&p, at - Duration::seconds(1), at), vec![at]);
    assert!(next_runs(&p, at, at).is_empty());
    assert!(next_runs(&p, at, at - Duration::days(3)).is_empty());
}

#[test]
fn next_slot_finds_the_following_run_for_every_schedule_kind() {
    let p = daily("Europe/Berlin", "22:00");
    // 22:00 CET is 21:00 UTC.
    let s = next_slot(&p, utc(2025, 1, 1, 20, 59)).unwrap();
    assert_eq!(
        (s.key, s.at),
        (key("2025-01-01T22:00"), utc(2025, 1, 1, 21, 0))
    );
    let s = next_slot(&p, utc(2025, 1, 1, 21, 0)).unwrap();
    assert_eq!(s.key, key("2025-01-02T22:00"));
    // Weekly on Saturday only, asked just after Saturday's run.
    let p = weekly("UTC", &["Saturday"], "10:00");
    let s = next_slot(&p, utc(2025, 1, 4, 10, 0)).unwrap();
    assert_eq!(s.at, utc(2025, 1, 11, 10, 0));
    let p = hourly("UTC", 12, "08:00", 12);
    assert_eq!(
        next_slot(&p, utc(2025, 1, 1, 8, 0)).unwrap().at,
        utc(2025, 1, 2, 8, 0)
    );
}

#[test]
fn slot_keys_round_trip_and_resolve() {
    let k = key("2025-03-09T02:30");
    assert_eq!(k.to_string(), "2025-03-09T02:30");
    assert_eq!(serde_json::to_string(&k).unwrap(), "\"2025-03-09T02:30\"");
    assert_eq!(
        serde_json::from_str::<SlotKey>("\"2025-03-09T02:30\"").unwrap(),
        k
    );
    assert!("2025-03-09 02:30".parse::<SlotKey>().is_err());
    let p = daily("America/New_York", "02:30");
    assert_eq!(slot_for_key(&p, k).unwrap().at, utc(2025, 3, 9, 7, 0));
    assert!(
        slot_for_key(&p, key("2025-03-09T03:30")).is_none(),
        "not a slot of this policy"
    );
    // Keys sort like time.
    assert!(key("2025-03-09T02:30") < key("2025-03-09T10:00"));
    assert!(key("2025-03-09T22:00") < key("2025-03-10T00:00"));
}

#[test]
fn ticking_in_uneven_steps_sees_every_slot_exactly_once() {
    // A scheduler that wakes at arbitrary times (restarts, lag) and asks for
    // (last_tick, now] must see each slot once; checked over a whole year
    // with DST in both directions.
    for p in [
        daily("America/New_York", "01:30"),
        daily("Australia/Lord_Howe", "02:00"),
        hourly("Europe/Berlin", 4, "02:00", 24),
    ] {
        let start = utc(2025, 1, 1, 0, 0);
        let end = utc(2026, 1, 1, 0, 0);
        let all = slots(&p, start, end);
        let mut seen = Vec::new();
        let mut t = start;
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        while t < end {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let step = Duration::minutes((rng % (3 * 24 * 60)) as i64 + 1);
            let next = (t + step).min(end);
            seen.extend(slots(&p, t, next));
            t = next;
        }
        assert_eq!(seen, all);
        let keys: BTreeSet<SlotKey> = seen.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), seen.len());
        assert!(all.len() >= 365);
    }
}
