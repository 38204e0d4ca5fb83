//! The schedule part of a policy: what it is now (run time, run days,
//! whichever form V1 or V2 writes them in) and the schedule the flags ask
//! for.

use lifeboat_model::calendar::{DayOfWeek, TimeOfDay};
use lifeboat_model::policy::{
    DailyRunSchedule, HourlySchedule, SchedulePolicy, SchedulePolicyType, ScheduleRunFrequency,
    WeeklyRunSchedule,
};

use super::flags::{PolicyFlags, time_of_day};
use crate::backup::error::{CliError, Result};

/// The first run time of a schedule, whichever form it takes.
pub(super) fn run_time(s: &SchedulePolicy) -> Option<TimeOfDay> {
    s.schedule_run_times
        .iter()
        .flatten()
        .chain(s.daily_schedule.iter().flat_map(|d| &d.schedule_run_times))
        .chain(s.weekly_schedule.iter().flat_map(|w| &w.schedule_run_times))
        .next()
        .copied()
}

/// The run days of a weekly schedule, whichever form it takes.
pub(super) fn run_days(s: &SchedulePolicy) -> Vec<DayOfWeek> {
    match &s.schedule_run_days {
        Some(d) if !d.is_empty() => d.clone(),
        _ => s
            .weekly_schedule
            .as_ref()
            .map(|w| w.schedule_run_days.clone())
            .unwrap_or_default(),
    }
}

/// The schedule the flags ask for.
pub(super) fn schedule_of(
    f: &PolicyFlags,
    cur: &SchedulePolicy,
    freq: ScheduleRunFrequency,
    v2: bool,
    time: TimeOfDay,
    days: &[DayOfWeek],
) -> Result<SchedulePolicy> {
    let empty = |t: SchedulePolicyType, freq| SchedulePolicy {
        schedule_policy_type: Some(t),
        schedule_run_frequency: freq,
        schedule_run_days: None,
        schedule_run_times: None,
        schedule_weekly_frequency: None,
        hourly_schedule: None,
        daily_schedule: None,
        weekly_schedule: None,
    };
    use ScheduleRunFrequency::{Daily, Hourly, Weekly};
    Ok(match (freq, v2) {
        (Hourly, _) => {
            let h = cur.hourly_schedule.as_ref();
            let start = match &f.window_start {
                Some(s) => time_of_day(s, "--window-start")?,
                None => h
                    .map(|h| h.schedule_window_start_time)
                    .or_else(|| TimeOfDay::new(8, 0))
                    .ok_or_else(|| CliError::Usage("no window start".into()))?,
            };
            SchedulePolicy {
                hourly_schedule: Some(HourlySchedule {
                    interval: f.interval.or(h.map(|h| h.interval)).unwrap_or(4),
                    schedule_window_start_time: start,
                    schedule_window_duration: f
                        .window_hours
                        .or(h.map(|h| h.schedule_window_duration))
                        .unwrap_or(12),
                }),
                ..empty(SchedulePolicyType::SimpleSchedulePolicyV2, Hourly)
            }
        }
        (Weekly, true) => SchedulePolicy {
            weekly_schedule: Some(WeeklyRunSchedule {
                schedule_run_days: days.to_vec(),
                schedule_run_times: vec![time],
            }),
            ..empty(SchedulePolicyType::SimpleSchedulePolicyV2, Weekly)
        },
        (Daily, true) => SchedulePolicy {
            daily_schedule: Some(DailyRunSchedule {
                schedule_run_times: vec![time],
            }),
            ..empty(SchedulePolicyType::SimpleSchedulePolicyV2, Daily)
        },
        (Weekly, false) => SchedulePolicy {
            schedule_run_days: Some(days.to_vec()),
            schedule_run_times: Some(vec![time]),
            ..empty(SchedulePolicyType::SimpleSchedulePolicy, Weekly)
        },
        (Daily, false) => SchedulePolicy {
            schedule_run_times: Some(vec![time]),
            ..empty(SchedulePolicyType::SimpleSchedulePolicy, Daily)
        },
    })
}
