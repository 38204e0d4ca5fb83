//! The flags that shape a policy (`--daily`, `--time`, `--daily-retention`,
//! …) and [`apply_flags`], which edits the model's typed [`Policy`] with
//! them: on the template for `create`, on the server's copy for `set`.

use clap::Args;
use lifeboat_model::Policy;
use lifeboat_model::calendar::{DayOfWeek, MonthOfYear, TimeOfDay, WeekOfMonth};
use lifeboat_model::policy::{
    DailyRetentionSchedule, DurationType, MonthlyRetentionSchedule, PolicyType, RetentionDuration,
    RetentionPolicyType, RetentionScheduleFormat, ScheduleRunFrequency, WeeklyRetentionFormat,
    WeeklyRetentionSchedule, YearlyRetentionSchedule,
};

use super::schedule::{run_days, run_time, schedule_of};
use crate::backup::error::{CliError, Result};

/// The policy document and the flags that shape it.
#[derive(Args, Default, Clone, Debug)]
pub struct PolicyFlags {
    /// The policy as JSON: '@file.json' or inline '{…}'. Either the
    /// properties object or {name, properties} as `policy show` prints it.
    #[arg(long, value_name = "JSON|@FILE")]
    pub policy: Option<String>,
    /// Back up once a day (at --time).
    #[arg(long, conflicts_with_all = ["weekly", "hourly"], help_heading = "Schedule")]
    pub daily: bool,
    /// Back up once a day on --days (at --time).
    #[arg(long, conflicts_with = "hourly", help_heading = "Schedule")]
    pub weekly: bool,
    /// Back up every --interval hours within a daily window (an Enhanced, V2 policy).
    #[arg(long, help_heading = "Schedule")]
    pub hourly: bool,
    /// Run time, on the hour or half hour [default for a new policy: 22:00].
    #[arg(long, value_name = "HH:MM", help_heading = "Schedule")]
    pub time: Option<String>,
    /// Days a weekly schedule runs, e.g. Sun,Wed.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "DAYS",
        help_heading = "Schedule"
    )]
    pub days: Vec<String>,
    /// IANA time zone of the schedule [default for a new policy: this machine's, else UTC].
    #[arg(long, value_name = "ZONE", help_heading = "Schedule")]
    pub time_zone: Option<String>,
    /// Make a daily or weekly policy Enhanced (V2).
    #[arg(long, help_heading = "Schedule")]
    pub enhanced: bool,
    /// Hours between hourly backups: 4, 6, 8 or 12 [default 4].
    #[arg(long, value_name = "HOURS", help_heading = "Schedule")]
    pub interval: Option<i64>,
    /// Start of the hourly window [default 08:00].
    #[arg(long, value_name = "HH:MM", help_heading = "Schedule")]
    pub window_start: Option<String>,
    /// Length of the hourly window in hours [default 12].
    #[arg(long, value_name = "HOURS", help_heading = "Schedule")]
    pub window_hours: Option<i64>,
    /// Days instant-restore snapshots are kept (V1 1-5, weekly 5; V2 1-30).
    #[arg(long, value_name = "DAYS", help_heading = "Retention")]
    pub instant_restore_days: Option<i64>,
    /// Keep daily points this many days.
    #[arg(long, value_name = "DAYS", help_heading = "Retention")]
    pub daily_retention: Option<i64>,
    /// Keep weekly points this many weeks.
    #[arg(long, value_name = "WEEKS", help_heading = "Retention")]
    pub weekly_retention: Option<i64>,
    /// Days whose point is the weekly one, e.g. Sun [default: the scheduled days of a weekly policy, else Sunday].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "DAYS",
        help_heading = "Retention"
    )]
    pub weekly_days: Vec<String>,
    /// Keep monthly points this many months.
    #[arg(long, value_name = "MONTHS", help_heading = "Retention")]
    pub monthly_retention: Option<i64>,
    /// Keep yearly points this many years.
    #[arg(long, value_name = "YEARS", help_heading = "Retention")]
    pub yearly_retention: Option<i64>,
    /// Months whose point is the yearly one [default January].
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "MONTHS",
        help_heading = "Retention"
    )]
    pub yearly_months: Vec<String>,
}

impl PolicyFlags {
    pub fn schedule_given(&self) -> bool {
        self.daily
            || self.weekly
            || self.hourly
            || self.time.is_some()
            || !self.days.is_empty()
            || self.enhanced
            || self.interval.is_some()
            || self.window_start.is_some()
            || self.window_hours.is_some()
    }

    pub fn anything_given(&self) -> bool {
        self.schedule_given()
            || self.time_zone.is_some()
            || self.instant_restore_days.is_some()
            || self.daily_retention.is_some()
            || self.weekly_retention.is_some()
            || !self.weekly_days.is_empty()
            || self.monthly_retention.is_some()
            || self.yearly_retention.is_some()
            || !self.yearly_months.is_empty()
    }
}

/// A day or month from its name or its first three letters, any case.
fn canonical<T: Copy + serde::Serialize + std::fmt::Debug>(
    input: &str,
    all: &[T],
    arg: &str,
) -> Result<T> {
    let s = input.trim().to_ascii_lowercase();
    let names: Vec<String> = all.iter().map(lifeboat_api::wire_name).collect();
    all.iter()
        .zip(&names)
        .find(|(_, n)| {
            let n = n.to_ascii_lowercase();
            n == s || (s.len() >= 3 && n.starts_with(&s))
        })
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "argument {arg}: {input:?} is not one of {}",
                names.join(", ")
            ))
        })
}

fn canonical_list<T: Copy + PartialEq + serde::Serialize + std::fmt::Debug>(
    inputs: &[String],
    all: &[T],
    arg: &str,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    for i in inputs.iter().filter(|i| !i.trim().is_empty()) {
        let c = canonical(i, all, arg)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// `HH:MM` (hours 0-23, minutes 0-59); alignment is the server's check.
pub(super) fn time_of_day(s: &str, arg: &str) -> Result<TimeOfDay> {
    let bad = || CliError::Usage(format!("argument {arg}: {s:?} is not a time of day HH:MM"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    TimeOfDay::new(h, m).ok_or_else(bad)
}

fn duration(count: i64, duration_type: DurationType) -> RetentionDuration {
    RetentionDuration {
        count,
        duration_type,
    }
}

/// Applies the flags to a policy.
pub fn apply_flags(p: &mut Policy, f: &PolicyFlags) -> Result<()> {
    use ScheduleRunFrequency::{Daily, Hourly, Weekly};
    if let Some(tz) = &f.time_zone {
        p.time_zone = tz.clone();
    }

    // What the schedule is now.
    let cur_v2 = p.policy_type == PolicyType::V2;
    let freq = if f.hourly {
        Hourly
    } else if f.daily {
        Daily
    } else if f.weekly {
        Weekly
    } else {
        p.schedule_policy.schedule_run_frequency
    };
    let v2 = f.hourly || f.enhanced || cur_v2 || freq == Hourly;
    let time = match &f.time {
        Some(t) => time_of_day(t, "--time")?,
        None => run_time(&p.schedule_policy)
            .or_else(|| TimeOfDay::new(22, 0))
            .ok_or_else(|| CliError::Usage("no run time".into()))?,
    };
    let days = if f.days.is_empty() {
        run_days(&p.schedule_policy)
    } else {
        canonical_list(&f.days, &DayOfWeek::ALL, "--days")?
    };

    if f.schedule_given() {
        if freq == Weekly && days.is_empty() {
            return Err(CliError::Usage(
                "argument --days is required for a weekly schedule, e.g. --days Sun".into(),
            ));
        }
        p.schedule_policy = schedule_of(f, &p.schedule_policy, freq, v2, time, &days)?;
        p.policy_type = if v2 { PolicyType::V2 } else { PolicyType::V1 };
        if !v2 && freq == Weekly && f.instant_restore_days.is_none() {
            // A V1 weekly schedule allows exactly 5 instant-restore days.
            p.instant_rp_retention_range_in_days = Some(5);
        }
    }
    if let Some(d) = f.instant_restore_days {
        p.instant_rp_retention_range_in_days = Some(d);
    }

    // Retention rules: their retention times follow the run time (Azure
    // writes them so; the server ignores them).
    let retention_times = (freq != Hourly).then(|| vec![time]);
    let ret = &mut p.retention_policy;
    ret.retention_policy_type = Some(RetentionPolicyType::LongTermRetentionPolicy);

    match f.daily_retention {
        Some(0) => ret.daily_schedule = None,
        Some(n) => {
            ret.daily_schedule = Some(DailyRetentionSchedule {
                retention_times: retention_times.clone(),
                retention_duration: duration(n, DurationType::Days),
            })
        }
        // A weekly schedule has no daily points to keep.
        None if f.schedule_given() && freq == Weekly => ret.daily_schedule = None,
        None => {}
    }

    let weekly_days_flag = canonical_list(&f.weekly_days, &DayOfWeek::ALL, "--weekly-days")?;
    let weekly_days = if !weekly_days_flag.is_empty() {
        weekly_days_flag.clone()
    } else if freq == Weekly {
        days.clone()
    } else {
        match &ret.weekly_schedule {
            Some(w) if !w.days_of_the_week.is_empty() => w.days_of_the_week.clone(),
            _ => vec![DayOfWeek::Sunday],
        }
    };
    match f.weekly_retention {
        Some(0) => ret.weekly_schedule = None,
        Some(n) => {
            ret.weekly_schedule = Some(WeeklyRetentionSchedule {
                days_of_the_week: weekly_days.clone(),
                retention_times: retention_times.clone(),
                retention_duration: duration(n, DurationType::Weeks),
            })
        }
        None => match &mut ret.weekly_schedule {
            Some(w) if !weekly_days_flag.is_empty() || (f.schedule_given() && freq == Weekly) => {
                w.days_of_the_week = weekly_days.clone();
            }
            Some(_) => {}
            None if !weekly_days_flag.is_empty() => {
                return Err(CliError::Usage(
                    "argument --weekly-days needs weekly retention: add --weekly-retention".into(),
                ));
            }
            None => {}
        },
    }

    // Monthly and yearly rules from flags keep the first backup of the
    // month: week-based, first week, on the first weekly day.
    let first_day = weekly_days.first().copied().unwrap_or(DayOfWeek::Sunday);
    let week_based = || WeeklyRetentionFormat {
        days_of_the_week: vec![first_day],
        weeks_of_the_month: vec![WeekOfMonth::First],
    };
    match f.monthly_retention {
        Some(0) => ret.monthly_schedule = None,
        Some(n) => match &mut ret.monthly_schedule {
            Some(m) => m.retention_duration = duration(n, DurationType::Months),
            None => {
                ret.monthly_schedule = Some(MonthlyRetentionSchedule {
                    retention_schedule_format_type: RetentionScheduleFormat::Weekly,
                    retention_schedule_daily: None,
                    retention_schedule_weekly: Some(week_based()),
                    retention_times: retention_times.clone(),
                    retention_duration: duration(n, DurationType::Months),
                })
            }
        },
        None => {}
    }
    let months = canonical_list(&f.yearly_months, &MonthOfYear::ALL, "--yearly-months")?;
    match f.yearly_retention {
        Some(0) => ret.yearly_schedule = None,
        Some(n) => match &mut ret.yearly_schedule {
            Some(y) => {
                y.retention_duration = duration(n, DurationType::Years);
                if !months.is_empty() {
                    y.months_of_year = months;
                }
            }
            None => {
                ret.yearly_schedule = Some(YearlyRetentionSchedule {
                    retention_schedule_format_type: RetentionScheduleFormat::Weekly,
                    months_of_year: if months.is_empty() {
                        vec![MonthOfYear::January]
                    } else {
                        months
                    },
                    retention_schedule_daily: None,
                    retention_schedule_weekly: Some(week_based()),
                    retention_times: retention_times.clone(),
                    retention_duration: duration(n, DurationType::Years),
                })
            }
        },
        None if !months.is_empty() => match &mut ret.yearly_schedule {
            Some(y) => y.months_of_year = months,
            None => {
                return Err(CliError::Usage(
                    "argument --yearly-months needs yearly retention: add --yearly-retention"
                        .into(),
                ));
            }
        },
        None => {}
    }
    if f.schedule_given()
        && let Some(t) = &retention_times
    {
        if let Some(r) = &mut ret.daily_schedule {
            r.retention_times = Some(t.clone());
        }
        if let Some(r) = &mut ret.weekly_schedule {
            r.retention_times = Some(t.clone());
        }
        if let Some(r) = &mut ret.monthly_schedule {
            r.retention_times = Some(t.clone());
        }
        if let Some(r) = &mut ret.yearly_schedule {
            r.retention_times = Some(t.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::policy::document::template;
    use serde_json::{Value, json};

    /// The policy as it goes on the wire.
    fn wire(p: &Policy) -> Value {
        serde_json::to_value(p).unwrap()
    }

    fn flags() -> PolicyFlags {
        PolicyFlags::default()
    }

    #[test]
    fn the_common_daily_case_from_flags() {
        let mut p = template("UTC");
        let f = PolicyFlags {
            daily: true,
            time: Some("22:00".into()),
            time_zone: Some("Europe/Berlin".into()),
            daily_retention: Some(30),
            weekly_retention: Some(12),
            weekly_days: vec!["Sun".into()],
            monthly_retention: Some(12),
            yearly_retention: Some(5),
            instant_restore_days: Some(2),
            ..flags()
        };
        apply_flags(&mut p, &f).unwrap();
        let p = wire(&p);
        assert_eq!(
            p,
            json!({
                "policyType": "V1",
                "timeZone": "Europe/Berlin",
                "instantRpRetentionRangeInDays": 2,
                "schedulePolicy": {
                    "schedulePolicyType": "SimpleSchedulePolicy",
                    "scheduleRunFrequency": "Daily",
                    "scheduleRunTimes": ["22:00"]
                },
                "retentionPolicy": {
                    "retentionPolicyType": "LongTermRetentionPolicy",
                    "dailySchedule": {"retentionTimes": ["22:00"],
                        "retentionDuration": {"count": 30, "durationType": "Days"}},
                    "weeklySchedule": {"daysOfTheWeek": ["Sunday"], "retentionTimes": ["22:00"],
                        "retentionDuration": {"count": 12, "durationType": "Weeks"}},
                    "monthlySchedule": {"retentionScheduleFormatType": "Weekly",
                        "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                        "retentionTimes": ["22:00"],
                        "retentionDuration": {"count": 12, "durationType": "Months"}},
                    "yearlySchedule": {"retentionScheduleFormatType": "Weekly",
                        "monthsOfYear": ["January"],
                        "retentionScheduleWeekly": {"daysOfTheWeek": ["Sunday"], "weeksOfTheMonth": ["First"]},
                        "retentionTimes": ["22:00"],
                        "retentionDuration": {"count": 5, "durationType": "Years"}}
                }
            })
        );
    }

    #[test]
    fn the_hourly_case_makes_a_v2_policy() {
        let mut p = template("UTC");
        let f = PolicyFlags {
            hourly: true,
            interval: Some(4),
            window_start: Some("8:00".into()),
            window_hours: Some(12),
            ..flags()
        };
        apply_flags(&mut p, &f).unwrap();
        let p = wire(&p);
        assert_eq!(p["policyType"], "V2");
        assert_eq!(
            p["schedulePolicy"],
            json!({
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Hourly",
                "hourlySchedule": {"interval": 4, "scheduleWindowStartTime": "08:00",
                    "scheduleWindowDuration": 12}
            })
        );
        // The template's daily retention stays: hourly schedules need it.
        assert_eq!(
            p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"],
            30
        );
    }

    #[test]
    fn weekly_schedule_drops_daily_retention_and_aligns_days() {
        let mut p = template("UTC");
        let f = PolicyFlags {
            weekly: true,
            days: vec!["sat".into(), "Wednesday".into()],
            time: Some("23:30".into()),
            weekly_retention: Some(52),
            monthly_retention: Some(6),
            ..flags()
        };
        apply_flags(&mut p, &f).unwrap();
        let p = wire(&p);
        assert_eq!(
            p["schedulePolicy"]["scheduleRunDays"],
            json!(["Saturday", "Wednesday"])
        );
        assert_eq!(p["instantRpRetentionRangeInDays"], 5);
        let r = &p["retentionPolicy"];
        assert!(r.get("dailySchedule").is_none());
        assert_eq!(
            r["weeklySchedule"]["daysOfTheWeek"],
            json!(["Saturday", "Wednesday"])
        );
        assert_eq!(
            r["monthlySchedule"]["retentionScheduleWeekly"]["daysOfTheWeek"],
            json!(["Saturday"])
        );
        assert_eq!(r["weeklySchedule"]["retentionTimes"], json!(["23:30"]));
    }

    #[test]
    fn set_edits_only_what_the_flags_name() {
        let mut p = template("Europe/Berlin");
        apply_flags(
            &mut p,
            &PolicyFlags {
                daily_retention: Some(60),
                ..flags()
            },
        )
        .unwrap();
        let mut expected = wire(&template("Europe/Berlin"));
        expected["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(60);
        assert_eq!(wire(&p), expected);

        // A new run time moves the retention times along.
        apply_flags(
            &mut p,
            &PolicyFlags {
                time: Some("01:30".into()),
                ..flags()
            },
        )
        .unwrap();
        assert_eq!(
            wire(&p)["schedulePolicy"]["scheduleRunTimes"],
            json!(["01:30"])
        );
        assert_eq!(
            wire(&p)["retentionPolicy"]["dailySchedule"]["retentionTimes"],
            json!(["01:30"])
        );
        // 0 removes a rule.
        apply_flags(
            &mut p,
            &PolicyFlags {
                yearly_retention: Some(3),
                ..flags()
            },
        )
        .unwrap();
        assert!(wire(&p)["retentionPolicy"].get("yearlySchedule").is_some());
        apply_flags(
            &mut p,
            &PolicyFlags {
                yearly_retention: Some(0),
                ..flags()
            },
        )
        .unwrap();
        assert!(wire(&p)["retentionPolicy"].get("yearlySchedule").is_none());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        let mut p = template("UTC");
        for f in [
            PolicyFlags {
                time: Some("25:00".into()),
                ..flags()
            },
            PolicyFlags {
                time: Some("noon".into()),
                ..flags()
            },
            PolicyFlags {
                weekly: true,
                ..flags()
            },
            PolicyFlags {
                weekly_retention: Some(4),
                weekly_days: vec!["Funday".into()],
                ..flags()
            },
            PolicyFlags {
                yearly_months: vec!["Jan".into()],
                ..flags()
            },
        ] {
            let e = apply_flags(&mut p, &f).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT", "{f:?}");
        }
        // Out-of-range counts are the server's to refuse (it names the range).
        apply_flags(
            &mut p,
            &PolicyFlags {
                daily_retention: Some(3),
                ..flags()
            },
        )
        .unwrap();
    }
}
