//! Pure scheduling decisions: given a policy, an item's watermark (its
//! `next_run`, the instant of the next slot not yet queued) and the time,
//! which slot to queue and where the watermark goes next. No I/O; the
//! scheduler ([`crate::scheduler`]) applies the decision to the catalog.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_model::ValidPolicy;
use lifeboat_model::policy::Schedule;
use lifeboat_model::schedule::{self, Slot};

/// What to do for one due item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The slot to queue now, if one is due.
    pub enqueue: Option<DueSlot>,
    /// The new watermark: the first slot after `now` (and after the queued
    /// slot); `None` only for a schedule without any slot ahead.
    pub next_run: Option<DateTime<Utc>>,
}

/// A slot to queue, with what the job should warn about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueSlot {
    pub slot: Slot,
    /// Earlier due slots that collapse into this one (missed while no
    /// server ran, or the clock jumped).
    pub missed: u32,
    /// How late the slot is, when more than the policy's window.
    pub late: Option<TimeDelta>,
}

/// The first slot strictly after `after`: an item's next run.
pub fn next_run(policy: &ValidPolicy, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule::next_slot(policy, after).map(|s| s.at)
}

/// How late a slot may start before the job says so: an hourly schedule's
/// interval, two hours for daily and weekly ones (Azure starts scheduled VM
/// backups within about two hours of the scheduled time).
pub fn late_window(policy: &ValidPolicy) -> TimeDelta {
    match policy.schedule {
        Schedule::Hourly { interval_hours, .. } => TimeDelta::hours(i64::from(interval_hours)),
        Schedule::Daily { .. } | Schedule::Weekly { .. } => TimeDelta::hours(2),
    }
}

/// Decides for an item whose watermark `next_run` is at or before `now`.
///
/// Due slots are those at or after the watermark and at or before `now`.
/// The latest is queued; older ones are reported as missed. When none is
/// due (the policy changed since the watermark was set) nothing is queued
/// and the watermark moves to the next slot after `now`.
pub fn decide(policy: &ValidPolicy, watermark: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
    let due = schedule::slots(policy, watermark - TimeDelta::microseconds(1), now);
    match due.last() {
        None => Decision {
            enqueue: None,
            next_run: next_run(policy, now.max(watermark)),
        },
        Some(&last) => {
            let lateness = now - last.at;
            Decision {
                enqueue: Some(DueSlot {
                    slot: last,
                    missed: u32::try_from(due.len() - 1).unwrap_or(u32::MAX),
                    late: (lateness > late_window(policy)).then_some(lateness),
                }),
                next_run: next_run(policy, now.max(last.at)),
            }
        }
    }
}

/// The hourly slot key of vault-wide periodic jobs (expiry sweep, GC):
/// the UTC hour, `YYYY-MM-DDTHH`.
pub fn hourly_key(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_model::Policy;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn daily_ny() -> ValidPolicy {
        Policy::default_policy("America/New_York")
            .resolve()
            .unwrap()
    }

    #[test]
    fn a_due_slot_is_queued_and_the_watermark_moves_a_day() {
        let p = daily_ny();
        // 22:00 EST = 03:00 UTC next day.
        let slot_at = utc("2026-01-06T03:00:00Z");
        let d = decide(&p, slot_at, slot_at + TimeDelta::seconds(1));
        let q = d.enqueue.unwrap();
        assert_eq!(q.slot.at, slot_at);
        assert_eq!(q.slot.key.to_string(), "2026-01-05T22:00");
        assert_eq!(q.missed, 0);
        assert_eq!(q.late, None);
        assert_eq!(d.next_run, Some(utc("2026-01-07T03:00:00Z")));
    }

    #[test]
    fn missed_days_collapse_into_one_late_run() {
        let p = daily_ny();
        let d = decide(&p, utc("2026-01-06T03:00:00Z"), utc("2026-01-09T12:00:00Z"));
        let q = d.enqueue.unwrap();
        assert_eq!(q.slot.key.to_string(), "2026-01-08T22:00");
        assert_eq!(q.missed, 3);
        assert_eq!(q.late, Some(TimeDelta::hours(9)));
        assert_eq!(d.next_run, Some(utc("2026-01-10T03:00:00Z")));
    }

    #[test]
    fn a_stale_watermark_after_a_policy_change_queues_nothing() {
        let p = daily_ny();
        // Watermark 21:00 local, no slot between it and 21:30.
        let d = decide(&p, utc("2026-01-06T02:00:00Z"), utc("2026-01-06T02:30:00Z"));
        assert_eq!(d.enqueue, None);
        assert_eq!(d.next_run, Some(utc("2026-01-06T03:00:00Z")));
    }

    #[test]
    fn hourly_key_is_the_utc_hour() {
        assert_eq!(hourly_key(utc("2026-03-08T07:59:59Z")), "2026-03-08T07");
    }
}
