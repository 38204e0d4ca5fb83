//! When backups are due: the slots of a policy's schedule between two
//! instants, computed in the policy's IANA time zone.
//!
//! A **slot** is one scheduled run. Its identity, the [`SlotKey`], is the
//! nominal *local* date and wall-clock time (`2025-03-09T02:30`), so a
//! scheduler that records the keys it has started runs each slot exactly once
//! across restarts and clock changes. Its instant (`at`) is that wall-clock
//! time resolved in the zone:
//!
//! - **Spring forward** (the local time does not exist): the run happens at the
//!   first instant after the gap, i.e. the moment of the transition (02:30 on
//!   America/New_York's spring-forward day runs at 03:00 EDT, 07:00 UTC).
//! - **Fall back** (the local time happens twice): the run happens once, at the
//!   first occurrence.
//!
//! Hourly (V2) schedules step in wall-clock hours from the window start:
//! `window_hours / interval_hours` runs per window, one window starting each
//! local day; a window may cross midnight, and each run's key carries its own
//! local date. Two slots never share an instant: should DST map two keys onto
//! one instant, only the earlier key is kept.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::DayOfWeek;
use crate::policy::{Schedule, ValidPolicy};

/// The stable identity of a slot: its nominal local date and time.
/// Text form `YYYY-MM-DDTHH:MM`, which also sorts chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotKey {
    pub date: NaiveDate,
    pub time: NaiveTime,
}

impl SlotKey {
    /// The key of local `date` at `time`.
    pub fn new(date: NaiveDate, time: NaiveTime) -> Self {
        SlotKey { date, time }
    }

    fn local(self) -> NaiveDateTime {
        self.date.and_time(self.time)
    }
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.local().format("%Y-%m-%dT%H:%M"))
    }
}

impl FromStr for SlotKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .map(|dt| SlotKey::new(dt.date(), dt.time()))
            .map_err(|_| format!("invalid slot key {s:?}: expected YYYY-MM-DDTHH:MM"))
    }
}

impl Serialize for SlotKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SlotKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One scheduled run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub key: SlotKey,
    pub at: DateTime<Utc>,
}

/// Resolves a local wall-clock time in `tz` as documented in the module:
/// the first occurrence when ambiguous, the end of the gap when it does not
/// exist. `None` only if no valid time follows within two days (no real zone).
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // Inside a gap: the first existing local minute is the gap's end,
            // which is the transition instant.
            let mut probe = local;
            for _ in 0..(2 * 24 * 60) {
                probe += Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

/// The nominal keys of the windows/runs that start on local `date`.
fn keys_starting_on(schedule: &Schedule, date: NaiveDate, out: &mut Vec<SlotKey>) {
    match schedule {
        Schedule::Daily { time } => out.push(SlotKey::new(date, time.time())),
        Schedule::Weekly { days, time } => {
            if days.contains(&DayOfWeek::of(date)) {
                out.push(SlotKey::new(date, time.time()));
            }
        }
        Schedule::Hourly {
            interval_hours,
            window_start,
            window_hours,
        } => {
            let start = date.and_time(window_start.time());
            for k in 0..(window_hours / interval_hours) {
                let local = start + Duration::hours(i64::from(k * interval_hours));
                out.push(SlotKey::new(local.date(), local.time()));
            }
        }
    }
}

/// Every slot with `after < at <= until`, in time order.
pub fn slots(policy: &ValidPolicy, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Slot> {
    if until <= after {
        return Vec::new();
    }
    let tz = policy.time_zone;
    // Windows start at most a day before their runs, and a resolved instant
    // is at most a couple of hours from its nominal time: a two-day margin
    // on each side is plenty.
    let first = after.with_timezone(&tz).date_naive() - Duration::days(2);
    let last = until.with_timezone(&tz).date_naive() + Duration::days(2);
    let mut keys = Vec::new();
    let mut day = first;
    while day <= last {
        keys_starting_on(&policy.schedule, day, &mut keys);
        day = day.succ_opt().expect("date in range");
    }
    let mut out: Vec<Slot> = keys
        .into_iter()
        .filter_map(|key| resolve_local(tz, key.local()).map(|at| Slot { key, at }))
        .filter(|s| after < s.at && s.at <= until)
        .collect();
    out.sort_by_key(|s| (s.at, s.key));
    out.dedup_by_key(|s| s.at);
    out
}

/// The run instants with `after < t <= until`, in order.
pub fn next_runs(
    policy: &ValidPolicy,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    slots(policy, after, until)
        .into_iter()
        .map(|s| s.at)
        .collect()
}

/// The first slot strictly after `after` (every schedule runs at least once
/// a week, so this always finds one).
pub fn next_slot(policy: &ValidPolicy, after: DateTime<Utc>) -> Option<Slot> {
    slots(policy, after, after + Duration::days(9))
        .into_iter()
        .next()
}

/// The slot with this key, if the schedule has it (e.g. to re-derive the
/// instant of a slot recorded before a restart).
pub fn slot_for_key(policy: &ValidPolicy, key: SlotKey) -> Option<Slot> {
    let tz = policy.time_zone;
    let at = resolve_local(tz, key.local())?;
    slots(policy, at - Duration::seconds(1), at)
        .into_iter()
        .find(|s| s.key == key)
}
