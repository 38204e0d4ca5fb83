//! A day of schedule across America/New_York's DST changes, through a real
//! `lifeboat server --time-zone America/New_York --clock-file F` (SQLite
//! catalog) and the real `lifeboat backup` CLI. The test moves the clock
//! file hour by hour, waits for the jobs, and checks the recovery points
//! against instants it computes itself with chrono-tz from the documented
//! rules (model::schedule): a local time in the spring-forward gap runs at
//! the end of the gap, an ambiguous one at its first occurrence, and two
//! keys on one instant run once. Then it moves the clock past the points'
//! expiry and watches the hourly expiry sweep delete them.

mod server_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Tz;
use serde_json::Value;
use server_support::*;

const GUARD: Duration = Duration::from_secs(120);
/// The policy's retention: daily points 7 days, the rest (instant restore) 1.
const DAILY_DAYS: i64 = 7;
const IR_DAYS: i64 = 1;

/// Where a nominal local time runs, computed here without the model: the
/// earlier instant when it occurs twice; inside a gap, the first instant
/// whose local time is not before it (the end of the gap).
fn run_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Walk UTC minutes from an hour before the gap.
            let before = tz
                .from_local_datetime(&(local - TimeDelta::hours(3)))
                .earliest()
                .expect("three hours earlier exists")
                .with_timezone(&Utc);
            let mut t = before;
            while t.with_timezone(&tz).naive_local() < local {
                t += TimeDelta::minutes(1);
            }
            t
        }
    }
}

/// The run instants of an hourly (V2) schedule, `interval` hours from
/// `window_start` for a 24-hour window each local day, on the local dates
/// `from..=to`; two keys on one instant run once.
fn hourly_runs(
    tz: Tz,
    window_start: u32,
    interval: u32,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let start = day.and_hms_opt(window_start, 0, 0).expect("window start");
        for k in 0..(24 / interval) {
            out.push(run_instant(
                tz,
                start + TimeDelta::hours(i64::from(k * interval)),
            ));
        }
        day = day.succ_opt().expect("next day");
    }
    out.sort();
    out.dedup();
    out
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// One server with its clock file, a vault `prod` with the hourly policy
/// and a protected folder `data`.
struct Day {
    // Dropped in this order: the server (which prints its log if the test
    // failed) before its folder.
    srv: ServerProc,
    cli: Cli,
    clock: PathBuf,
    dir: tempfile::TempDir,
}

impl Day {
    fn start(t0: DateTime<Utc>, window_start: &str) -> Day {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = dir.path().join("clock");
        set_clock(&clock, t0);
        let srv = ServerProc::start(ServerOpts {
            time_zone: "America/New_York".to_owned(),
            clock_file: Some(clock.clone()),
            tick_ms: Some(200),
            ..ServerOpts::new(&dir.path().join("data"), &dir.path().join("server.log"))
        });
        let cli = Cli::new(&dir.path().join("client"));
        let day = Day {
            srv,
            cli,
            clock,
            dir,
        };
        day.backup(&["vault", "create", "--name", "prod"]);
        day.backup(&[
            "policy",
            "create",
            "--vault",
            "prod",
            "--name",
            "Hourly",
            "--hourly",
            "--interval",
            "4",
            "--window-start",
            window_start,
            "--window-hours",
            "24",
            "--time-zone",
            "America/New_York",
            "--daily-retention",
            &DAILY_DAYS.to_string(),
            "--instant-restore-days",
            &IR_DAYS.to_string(),
        ]);
        let src = day.dir.path().join("src");
        make_tree(&src, 42, 2, 16 * 1024);
        day.backup(&[
            "protection",
            "enable",
            "--vault",
            "prod",
            "--policy",
            "Hourly",
            "--path",
            s(&src),
            "--name",
            "data",
        ]);
        day
    }

    fn backup(&self, args: &[&str]) -> Value {
        self.cli.backup(&self.srv, args).ok().json()
    }

    fn jobs(&self) -> Vec<Value> {
        self.cli.jobs(&self.srv, "prod", None)
    }

    fn points(&self) -> Vec<Value> {
        self.cli.points(&self.srv, "prod", "data")
    }

    fn next_run(&self) -> Option<DateTime<Utc>> {
        let item = self.backup(&["item", "show", "--vault", "prod", "--name", "data"]);
        item["nextRunTime"].as_str().map(utc)
    }

    /// Moves the clock to `t` (a new UTC hour), waits until the scheduler
    /// has ticked there (the hour's expiry sweep is queued in the same tick,
    /// after the slots) and until every job has ended.
    fn step(&self, t: DateTime<Utc>) -> Vec<Value> {
        set_clock(&self.clock, t);
        wait_for(&format!("the scheduler at {t}"), GUARD, || {
            let jobs = self.jobs();
            let swept = jobs
                .iter()
                .any(|j| j["jobType"] == "ExpirySweep" && time_of(j, "queuedTime") == t);
            (swept && jobs.iter().all(terminal)).then_some(jobs)
        })
    }
}

fn backups(jobs: &[Value]) -> Vec<&Value> {
    let mut b: Vec<&Value> = jobs.iter().filter(|j| j["jobType"] == "Backup").collect();
    b.sort_by_key(|j| time_of(j, "queuedTime"));
    b
}

/// Every point's tags and expiry as the documented rules give them: the
/// latest point of each local date is the day's `daily` one (kept
/// DAILY_DAYS), the earlier ones are `instant-restore` (kept IR_DAYS).
fn check_retention(points: &[Value]) {
    let mut latest: BTreeMap<NaiveDate, DateTime<Utc>> = BTreeMap::new();
    for p in points {
        let t = time_of(p, "time");
        let d = t.with_timezone(&New_York).date_naive();
        let e = latest.entry(d).or_insert(t);
        *e = (*e).max(t);
    }
    for p in points {
        let t = time_of(p, "time");
        let d = t.with_timezone(&New_York).date_naive();
        let (tag, days) = if latest[&d] == t {
            ("daily", DAILY_DAYS)
        } else {
            ("instant-restore", IR_DAYS)
        };
        assert_eq!(p["retentionTags"], serde_json::json!([tag]), "{p}");
        assert_eq!(p["ruleName"], tag, "{p}");
        assert_eq!(time_of(p, "expiryTime"), t + TimeDelta::days(days), "{p}");
    }
}

/// Point times, oldest first.
fn point_times(points: &[Value]) -> Vec<DateTime<Utc>> {
    let mut t: Vec<DateTime<Utc>> = points.iter().map(|p| time_of(p, "time")).collect();
    t.sort();
    t
}

/// Walks the clock hour by hour over `hours` from `t0`; after each step the
/// backups are exactly the runs due by then, each once, each completed, its
/// point taken at the run's instant, tagged as the rules say.
fn walk(day: &Day, t0: DateTime<Utc>, hours: i64, runs: &[DateTime<Utc>]) {
    for h in 1..=hours {
        let now = t0 + TimeDelta::hours(h);
        let jobs = day.step(now);
        let due: Vec<DateTime<Utc>> = runs
            .iter()
            .copied()
            .filter(|r| *r > t0 && *r <= now)
            .collect();
        let b = backups(&jobs);
        let queued: Vec<DateTime<Utc>> = b.iter().map(|j| time_of(j, "queuedTime")).collect();
        assert_eq!(queued, due, "backups queued by {now}");
        for j in &b {
            assert_eq!(j["status"], "Completed", "{j}");
        }
        let points = day.points();
        assert_eq!(point_times(&points), due, "points by {now}");
        check_retention(&points);
    }
}

#[test]
fn spring_forward_day_runs_every_slot_once_and_expiry_sweeps_delete_them() {
    // 2026-03-08: at 02:00 EST the clocks go to 03:00 EDT (07:00 UTC).
    let runs = hourly_runs(New_York, 2, 4, date("2026-03-06"), date("2026-03-10"));
    // What the rules give, spelled out: the 02:00 run falls into the gap
    // and runs when it ends, 03:00 EDT; the day has six runs; 02:00 to
    // 06:00 local is three real hours there, four everywhere else.
    let on_the_day: Vec<String> = runs
        .iter()
        .filter(|t| t.with_timezone(&New_York).date_naive() == date("2026-03-08"))
        .map(|t| t.with_timezone(&New_York).format("%H:%M%z").to_string())
        .collect();
    assert_eq!(
        on_the_day,
        [
            "03:00-0400",
            "06:00-0400",
            "10:00-0400",
            "14:00-0400",
            "18:00-0400",
            "22:00-0400"
        ]
    );

    let t0 = utc("2026-03-08T00:00:00Z"); // 2026-03-07 19:00 EST
    let day = Day::start(t0, "02:00");
    let first = wait_for("the item's first run to be planned", GUARD, || {
        day.next_run()
    });
    assert_eq!(first, utc("2026-03-08T03:00:00Z")); // 22:00 EST
    assert_eq!(runs.iter().find(|r| **r > t0), Some(&first));

    // Hour by hour to 2026-03-09T03:00Z (23:00 EDT on the 8th).
    walk(&day, t0, 27, &runs);
    let points = day.points();
    let local: Vec<String> = point_times(&points)
        .iter()
        .map(|t| {
            t.with_timezone(&New_York)
                .format("%Y-%m-%dT%H:%M%z")
                .to_string()
        })
        .collect();
    assert_eq!(
        local,
        [
            "2026-03-07T22:00-0500",
            "2026-03-08T03:00-0400",
            "2026-03-08T06:00-0400",
            "2026-03-08T10:00-0400",
            "2026-03-08T14:00-0400",
            "2026-03-08T18:00-0400",
            "2026-03-08T22:00-0400",
        ]
    );
    assert_eq!(day.next_run(), Some(utc("2026-03-09T06:00:00Z")));

    // Past the instant-restore expiry of the 8th's early points (the last
    // one, 18:00 EDT, expires 2026-03-09T22:00Z): the sweep of the hour
    // deletes those five; the daily ones stay. The scheduler meanwhile
    // queues the latest missed run (18:00 EDT on the 9th) once, late.
    let t1 = utc("2026-03-09T22:30:00Z");
    let jobs = day.step(t1);
    let sweep = jobs
        .iter()
        .find(|j| j["jobType"] == "ExpirySweep" && time_of(j, "queuedTime") == t1)
        .expect("the sweep of the hour");
    assert_eq!(sweep["status"], "Completed", "{sweep}");
    let b = backups(&jobs);
    // The 7th's 22:00, the 8th's six, and this one.
    assert_eq!(b.len(), 8, "{b:?}");
    let late = b[7];
    assert_eq!(time_of(late, "queuedTime"), utc("2026-03-09T22:00:00Z"));
    assert_eq!(late["status"], "CompletedWithWarnings", "{late}");
    assert_eq!(codes(late, "warnings"), ["SLOTS_MISSED"], "{late}");
    assert!(
        jobs.iter()
            .any(|j| j["jobType"] == "GarbageCollection" && j["status"] == "Completed"),
        "a sweep that deleted points queues a GC: {jobs:?}"
    );
    let points = day.points();
    assert_eq!(
        point_times(&points),
        [utc("2026-03-08T03:00:00Z"), utc("2026-03-09T02:00:00Z"), t1]
    );
    check_retention(&points);

    // Past the daily expiry of the 7th's and the 8th's points (2026-03-15
    // 03:00Z and 2026-03-16 02:00Z); the 9th's (2026-03-16 22:30Z) stays.
    let t2 = utc("2026-03-16T02:30:00Z");
    let jobs = day.step(t2);
    let b = backups(&jobs);
    assert_eq!(b.len(), 9, "{b:?}");
    // 22:00 EDT on the 15th.
    assert_eq!(time_of(b[8], "queuedTime"), utc("2026-03-16T02:00:00Z"));
    let points = day.points();
    assert_eq!(point_times(&points), [t1, t2]);
    check_retention(&points);
    assert_eq!(
        jobs.iter()
            .filter(|j| j["jobType"] == "GarbageCollection")
            .count(),
        2,
        "{jobs:?}"
    );
}

#[test]
fn fall_back_day_runs_the_repeated_hour_once() {
    // 2026-11-01: at 02:00 EDT the clocks go back to 01:00 EST, so 01:00 to
    // 02:00 local happens twice (05:00-06:00Z and 06:00-07:00Z).
    let runs = hourly_runs(New_York, 1, 4, date("2026-10-30"), date("2026-11-03"));
    let on_the_day: Vec<String> = runs
        .iter()
        .filter(|t| t.with_timezone(&New_York).date_naive() == date("2026-11-01"))
        .map(|t| t.with_timezone(&New_York).format("%H:%M%z").to_string())
        .collect();
    assert_eq!(
        on_the_day,
        [
            "01:00-0400",
            "05:00-0500",
            "09:00-0500",
            "13:00-0500",
            "17:00-0500",
            "21:00-0500"
        ]
    );

    let t0 = utc("2026-11-01T00:00:00Z"); // 2026-10-31 20:00 EDT
    let day = Day::start(t0, "01:00");
    let first = wait_for("the item's first run to be planned", GUARD, || {
        day.next_run()
    });
    assert_eq!(first, utc("2026-11-01T01:00:00Z")); // 21:00 EDT
    // To 2026-11-01T11:00Z (06:00 EST), through both 01:00s: the second
    // (06:00Z) queues nothing.
    walk(&day, t0, 11, &runs);
    let local: Vec<String> = point_times(&day.points())
        .iter()
        .map(|t| {
            t.with_timezone(&New_York)
                .format("%Y-%m-%dT%H:%M%z")
                .to_string()
        })
        .collect();
    assert_eq!(
        local,
        [
            "2026-10-31T21:00-0400",
            "2026-11-01T01:00-0400",
            "2026-11-01T05:00-0500",
        ]
    );
    assert_eq!(day.next_run(), Some(utc("2026-11-01T14:00:00Z")));
}
