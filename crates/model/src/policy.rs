//! Long on purpose: the policy JSON, its checks and its normal form share private shapes.
//!
//! Backup policies: the Azure VM policy JSON ([`Policy`], field names as in
//! Azure's `AzureIaasVMProtectionPolicy`), its validation, and the checked,
//! normalized form the rest of the model computes with ([`ValidPolicy`]).
//!
//! Two policy types, as in Azure:
//! - **V1** (Standard): `Daily` or `Weekly`, one run time a day on the hour or
//!   half hour; instant restore 1–5 days (default 2; a weekly schedule needs 5).
//! - **V2** (Enhanced): `Hourly` (`interval` 4/6/8/12 h, window start on the
//!   hour or half hour, window 4–24 h and a multiple of the interval), or daily
//!   / weekly through `dailySchedule` / `weeklySchedule`; instant restore
//!   1–30 days (default 7).
//!
//! Retention (`LongTermRetentionPolicy`): daily 7–9999 days, weekly 1–5163
//! weeks on chosen days, monthly 1–1188 months and yearly 1–99 years, each
//! day-based (`Daily` format: dates 1–28 and/or last) or week-based (`Weekly`
//! format: weeks of the month × days of the week).
//!
//! Coupling rules (Azure PowerShell's policy validation, which azure.md cites):
//! a daily or hourly schedule needs daily retention; a weekly schedule forbids
//! daily retention, needs weekly retention on exactly the scheduled days, and
//! its monthly/yearly retention must be week-based on scheduled days (a date
//! may fall on a day without a backup). `durationType` must match the rule
//! (Days/Weeks/Months/Years). `retentionTimes` is accepted and ignored (Azure's
//! own V2 example gives a retention time that differs from the run time).
//!
//! Lenient where Azure's own JSON is: the run frequency picks the schedule
//! fields and the format type picks the retention format; fields belonging to
//! the other choices are ignored, so a policy exported from Azure is taken
//! as-is. `timeZone` takes IANA names and the common Windows names Azure uses
//! (see [`crate::calendar::parse_time_zone`]).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::{
    DayOfWeek, MonthOfYear, TimeOfDay, WeekOfMonth, is_last_day_of_month, parse_time_zone,
};
use crate::error::ModelError;

/// The name of the policy every `recovery-services` vault starts with.
pub const DEFAULT_POLICY_NAME: &str = "DefaultPolicy";

/// Limits, from azure.md §2.2–2.3.
pub mod limits {
    use std::ops::RangeInclusive;

    /// Daily retention, days (VM minimum 7 for new or updated policies).
    pub const DAILY_DAYS: RangeInclusive<i64> = 7..=9999;
    /// Weekly retention, weeks.
    pub const WEEKLY_WEEKS: RangeInclusive<i64> = 1..=5163;
    /// Monthly retention, months.
    pub const MONTHLY_MONTHS: RangeInclusive<i64> = 1..=1188;
    /// Yearly retention, years.
    pub const YEARLY_YEARS: RangeInclusive<i64> = 1..=99;
    /// Day-based monthly/yearly retention: the highest date (plus "last").
    pub const MAX_DATE_IN_MONTH: i64 = 28;
    /// Instant restore (snapshot) days for V1.
    pub const INSTANT_RP_DAYS_V1: RangeInclusive<i64> = 1..=5;
    /// V1 default.
    pub const INSTANT_RP_DEFAULT_V1: i64 = 2;
    /// V1 with a weekly schedule: the only allowed value (and the default).
    pub const INSTANT_RP_WEEKLY_V1: i64 = 5;
    /// Instant restore days for V2.
    pub const INSTANT_RP_DAYS_V2: RangeInclusive<i64> = 1..=30;
    /// V2 default.
    pub const INSTANT_RP_DEFAULT_V2: i64 = 7;
    /// V2 hourly intervals, hours.
    pub const HOURLY_INTERVALS: [i64; 4] = [4, 6, 8, 12];
    /// V2 hourly window duration, hours (Terraform's 4–24; PowerShell says 4–23).
    pub const WINDOW_HOURS: RangeInclusive<i64> = 4..=24;
}

/// `policyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyType {
    #[default]
    V1,
    V2,
}

/// `schedulePolicy.schedulePolicyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SchedulePolicyType {
    SimpleSchedulePolicy,
    SimpleSchedulePolicyV2,
}

/// `schedulePolicy.scheduleRunFrequency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ScheduleRunFrequency {
    Hourly,
    Daily,
    Weekly,
}

/// `retentionPolicy.retentionPolicyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RetentionPolicyType {
    LongTermRetentionPolicy,
}

/// `retentionDuration.durationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DurationType {
    Days,
    Weeks,
    Months,
    Years,
}

/// `retentionScheduleFormatType`: `Daily` = day-based (dates of the month),
/// `Weekly` = week-based (weeks of the month × days of the week).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RetentionScheduleFormat {
    Daily,
    Weekly,
}

/// `snapshotConsistencyType` (V2 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SnapshotConsistencyType {
    OnlyCrashConsistent,
}

/// A backup policy's `properties`, in Azure's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!(Policy::default_policy("UTC")))
)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub policy_type: PolicyType,
    /// IANA name; default `UTC`.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Instant-restore (snapshot) days; `None` takes the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 30))]
    pub instant_rp_retention_range_in_days: Option<i64>,
    pub schedule_policy: SchedulePolicy,
    pub retention_policy: RetentionPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_consistency_type: Option<SnapshotConsistencyType>,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// `schedulePolicy`. V1 uses `scheduleRunTimes` / `scheduleRunDays`; V2 uses
/// `hourlySchedule`, `dailySchedule` or `weeklySchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchedulePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_policy_type: Option<SchedulePolicyType>,
    pub schedule_run_frequency: ScheduleRunFrequency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_run_days: Option<Vec<DayOfWeek>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_run_times: Option<Vec<TimeOfDay>>,
    /// Accepted and ignored, as Azure does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_weekly_frequency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_schedule: Option<HourlySchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_schedule: Option<DailyRunSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_schedule: Option<WeeklyRunSchedule>,
}

/// V2 `hourlySchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HourlySchedule {
    /// Hours between runs: 4, 6, 8 or 12.
    #[cfg_attr(feature = "openapi", schema(minimum = 4, maximum = 12))]
    pub interval: i64,
    pub schedule_window_start_time: TimeOfDay,
    /// Hours, 4–24, a multiple of `interval`.
    #[cfg_attr(feature = "openapi", schema(minimum = 4, maximum = 24))]
    pub schedule_window_duration: i64,
}

/// V2 `dailySchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyRunSchedule {
    pub schedule_run_times: Vec<TimeOfDay>,
}

/// V2 `weeklySchedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WeeklyRunSchedule {
    pub schedule_run_days: Vec<DayOfWeek>,
    pub schedule_run_times: Vec<TimeOfDay>,
}

/// `retentionPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy_type: Option<RetentionPolicyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_schedule: Option<DailyRetentionSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly_schedule: Option<WeeklyRetentionSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_schedule: Option<MonthlyRetentionSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly_schedule: Option<YearlyRetentionSchedule>,
}

/// `retentionDuration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RetentionDuration {
    /// Days 7–9999, weeks 1–5163, months 1–1188 or years 1–99, as
    /// `durationType` says.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9999))]
    pub count: i64,
    pub duration_type: DurationType,
}

/// `dailySchedule` (retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyRetentionSchedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_times: Option<Vec<TimeOfDay>>,
    pub retention_duration: RetentionDuration,
}

/// `weeklySchedule` (retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WeeklyRetentionSchedule {
    pub days_of_the_week: Vec<DayOfWeek>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_times: Option<Vec<TimeOfDay>>,
    pub retention_duration: RetentionDuration,
}

/// `monthlySchedule` (retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MonthlyRetentionSchedule {
    pub retention_schedule_format_type: RetentionScheduleFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_schedule_daily: Option<DailyRetentionFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_schedule_weekly: Option<WeeklyRetentionFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_times: Option<Vec<TimeOfDay>>,
    pub retention_duration: RetentionDuration,
}

/// `yearlySchedule` (retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct YearlyRetentionSchedule {
    pub retention_schedule_format_type: RetentionScheduleFormat,
    pub months_of_year: Vec<MonthOfYear>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_schedule_daily: Option<DailyRetentionFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_schedule_weekly: Option<WeeklyRetentionFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_times: Option<Vec<TimeOfDay>>,
    pub retention_duration: RetentionDuration,
}

/// `retentionScheduleDaily` (day-based format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DailyRetentionFormat {
    pub days_of_the_month: Vec<DayOfMonth>,
}

/// One entry of `daysOfTheMonth`: a date 1–28, or `isLast` (date ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DayOfMonth {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 28))]
    pub date: i64,
    #[serde(default)]
    pub is_last: bool,
}

/// `retentionScheduleWeekly` (week-based format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WeeklyRetentionFormat {
    pub days_of_the_week: Vec<DayOfWeek>,
    pub weeks_of_the_month: Vec<WeekOfMonth>,
}

// ---------------------------------------------------------------------------
// The checked form.

/// When backups run, normalized from `schedulePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Once a day at `time`.
    Daily { time: TimeOfDay },
    /// Once a day at `time` on `days`.
    Weekly {
        days: BTreeSet<DayOfWeek>,
        time: TimeOfDay,
    },
    /// Every `interval_hours` from `window_start`, `window_hours / interval_hours`
    /// runs a day (V2).
    Hourly {
        interval_hours: u32,
        window_start: TimeOfDay,
        window_hours: u32,
    },
}

impl Schedule {
    /// The run time of a daily or weekly schedule.
    pub fn run_time(&self) -> Option<TimeOfDay> {
        match self {
            Schedule::Daily { time } | Schedule::Weekly { time, .. } => Some(*time),
            Schedule::Hourly { .. } => None,
        }
    }

    /// The days a backup runs on (all seven unless weekly).
    pub fn run_days(&self) -> BTreeSet<DayOfWeek> {
        match self {
            Schedule::Weekly { days, .. } => days.clone(),
            _ => DayOfWeek::ALL.into_iter().collect(),
        }
    }
}

/// Which days of a month a monthly or yearly rule keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayPattern {
    /// Day-based: these dates (1–28), and the last day of the month if `last`.
    Dates { dates: BTreeSet<u32>, last: bool },
    /// Week-based: these days of the week in these weeks of the month.
    Weeks {
        weeks: BTreeSet<WeekOfMonth>,
        days: BTreeSet<DayOfWeek>,
    },
}

impl DayPattern {
    /// Whether `date` matches.
    pub fn matches(&self, date: NaiveDate) -> bool {
        match self {
            DayPattern::Dates { dates, last } => {
                dates.contains(&date.day()) || (*last && is_last_day_of_month(date))
            }
            DayPattern::Weeks { weeks, days } => {
                days.contains(&DayOfWeek::of(date)) && weeks.iter().any(|w| w.contains(date))
            }
        }
    }
}

/// Weekly retention: points taken on `days` are kept `weeks` weeks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyRule {
    pub days: BTreeSet<DayOfWeek>,
    pub weeks: u32,
}

/// Monthly retention: points on `pattern` days are kept `months` months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyRule {
    pub pattern: DayPattern,
    pub months: u32,
}

/// Yearly retention: points on `pattern` days of `months_of_year` are kept
/// `years` years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearlyRule {
    pub months_of_year: BTreeSet<MonthOfYear>,
    pub pattern: DayPattern,
    pub years: u32,
}

/// The retention rules, normalized from `retentionPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionRules {
    /// Days.
    pub daily: Option<u32>,
    pub weekly: Option<WeeklyRule>,
    pub monthly: Option<MonthlyRule>,
    pub yearly: Option<YearlyRule>,
}

impl RetentionRules {
    /// The durations (daily days, weekly weeks, monthly months, yearly years),
    /// `None` where a rule is absent.
    pub fn durations(&self) -> [Option<u32>; 4] {
        [
            self.daily,
            self.weekly.as_ref().map(|w| w.weeks),
            self.monthly.as_ref().map(|m| m.months),
            self.yearly.as_ref().map(|y| y.years),
        ]
    }
}

/// A policy that passed validation, in normalized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPolicy {
    pub policy_type: PolicyType,
    pub time_zone: Tz,
    pub schedule: Schedule,
    /// Instant-restore (snapshot) days, defaults applied.
    pub instant_rp_days: u32,
    pub retention: RetentionRules,
}

impl ValidPolicy {
    /// Whether switching from `self` to `new` shortens or removes any
    /// retention (rule durations or instant-restore days): the "reduced
    /// retention" that an immutable vault or multi-user authorization guards.
    pub fn reduces_retention_to(&self, new: &ValidPolicy) -> bool {
        let shorter = |old: Option<u32>, new: Option<u32>| match (old, new) {
            (Some(_), None) => true,
            (Some(o), Some(n)) => n < o,
            _ => false,
        };
        new.instant_rp_days < self.instant_rp_days
            || self
                .retention
                .durations()
                .into_iter()
                .zip(new.retention.durations())
                .any(|(o, n)| shorter(o, n))
    }
}

// ---------------------------------------------------------------------------
// Validation.

fn check_range(
    target: &str,
    value: i64,
    range: RangeInclusive<i64>,
    unit: &str,
) -> Result<u32, ModelError> {
    if range.contains(&value) {
        Ok(value as u32)
    } else {
        Err(ModelError::policy(
            target,
            format!(
                "{target} must be between {} and {} {unit} (got {value})",
                range.start(),
                range.end()
            ),
        ))
    }
}

fn unique_nonempty<T: Ord + Copy + std::fmt::Debug>(
    target: &str,
    items: &[T],
    what: &str,
) -> Result<BTreeSet<T>, ModelError> {
    if items.is_empty() {
        return Err(ModelError::policy(
            target,
            format!("{target} must list at least one {what}"),
        ));
    }
    let set: BTreeSet<T> = items.iter().copied().collect();
    if set.len() != items.len() {
        return Err(ModelError::policy(
            target,
            format!("{target} lists a {what} more than once"),
        ));
    }
    Ok(set)
}

fn one_aligned_time(target: &str, times: Option<&[TimeOfDay]>) -> Result<TimeOfDay, ModelError> {
    let times = times.unwrap_or_default();
    if times.len() != 1 {
        return Err(ModelError::policy(
            target,
            format!(
                "{target} must hold exactly one time (got {}): this policy runs once a day",
                times.len()
            ),
        ));
    }
    aligned(&format!("{target}[0]"), times[0])
}

fn aligned(target: &str, t: TimeOfDay) -> Result<TimeOfDay, ModelError> {
    if t.is_half_hour_aligned() {
        Ok(t)
    } else {
        Err(ModelError::policy(
            target,
            format!("{target} must be on the hour or on the half hour (got {t})"),
        ))
    }
}

fn check_duration(
    target: &str,
    d: &RetentionDuration,
    expect: DurationType,
    range: RangeInclusive<i64>,
) -> Result<u32, ModelError> {
    if d.duration_type != expect {
        let t = format!("{target}.durationType");
        return Err(ModelError::policy(
            &t,
            format!("{t} must be {expect:?} (got {:?})", d.duration_type),
        ));
    }
    let unit = format!("{expect:?}").to_lowercase();
    check_range(&format!("{target}.count"), d.count, range, &unit)
}

fn day_pattern(
    target: &str,
    format: RetentionScheduleFormat,
    daily: Option<&DailyRetentionFormat>,
    weekly: Option<&WeeklyRetentionFormat>,
    schedule: &Schedule,
) -> Result<DayPattern, ModelError> {
    match format {
        RetentionScheduleFormat::Daily => {
            if matches!(schedule, Schedule::Weekly { .. }) {
                let t = format!("{target}.retentionScheduleFormatType");
                return Err(ModelError::policy(
                    &t,
                    format!(
                        "{t} must be Weekly with a weekly backup schedule: a date of the month \
                         may fall on a day without a backup"
                    ),
                ));
            }
            let t = format!("{target}.retentionScheduleDaily.daysOfTheMonth");
            let Some(daily) = daily else {
                return Err(ModelError::policy(
                    &t,
                    format!("{t} is required when retentionScheduleFormatType is Daily"),
                ));
            };
            if daily.days_of_the_month.is_empty() {
                return Err(ModelError::policy(
                    &t,
                    format!("{t} must list at least one date"),
                ));
            }
            let mut dates = BTreeSet::new();
            let mut last = false;
            for (i, d) in daily.days_of_the_month.iter().enumerate() {
                let fresh = if d.is_last {
                    !std::mem::replace(&mut last, true)
                } else {
                    let date = check_range(
                        &format!("{t}[{i}].date"),
                        d.date,
                        1..=limits::MAX_DATE_IN_MONTH,
                        "(use isLast for the end of the month)",
                    )?;
                    dates.insert(date)
                };
                if !fresh {
                    return Err(ModelError::policy(
                        &t,
                        format!("{t} lists a date more than once"),
                    ));
                }
            }
            Ok(DayPattern::Dates { dates, last })
        }
        RetentionScheduleFormat::Weekly => {
            let t = format!("{target}.retentionScheduleWeekly");
            let Some(weekly) = weekly else {
                return Err(ModelError::policy(
                    &t,
                    format!("{t} is required when retentionScheduleFormatType is Weekly"),
                ));
            };
            let days = unique_nonempty(
                &format!("{t}.daysOfTheWeek"),
                &weekly.days_of_the_week,
                "day",
            )?;
            let weeks = unique_nonempty(
                &format!("{t}.weeksOfTheMonth"),
                &weekly.weeks_of_the_month,
                "week",
            )?;
            if let Schedule::Weekly { days: run, .. } = schedule
                && !days.is_subset(run)
            {
                let t = format!("{t}.daysOfTheWeek");
                return Err(ModelError::policy(
                    &t,
                    format!(
                        "{t} must be among the scheduled backup days {:?}",
                        run.iter().collect::<Vec<_>>()
                    ),
                ));
            }
            Ok(DayPattern::Weeks { weeks, days })
        }
    }
}

impl Policy {
    /// The `DefaultPolicy` of a new vault: V1, daily at 22:00 in `time_zone`
    /// (an IANA name), daily points kept 30 days, instant restore 2 days.
    pub fn default_policy(time_zone: &str) -> Policy {
        let at = TimeOfDay::new(22, 0).expect("valid time");
        Policy {
            policy_type: PolicyType::V1,
            time_zone: time_zone.to_owned(),
            instant_rp_retention_range_in_days: Some(limits::INSTANT_RP_DEFAULT_V1),
            schedule_policy: SchedulePolicy {
                schedule_policy_type: Some(SchedulePolicyType::SimpleSchedulePolicy),
                schedule_run_frequency: ScheduleRunFrequency::Daily,
                schedule_run_days: None,
                schedule_run_times: Some(vec![at]),
                schedule_weekly_frequency: Some(0),
                hourly_schedule: None,
                daily_schedule: None,
                weekly_schedule: None,
            },
            retention_policy: RetentionPolicy {
                retention_policy_type: Some(RetentionPolicyType::LongTermRetentionPolicy),
                daily_schedule: Some(DailyRetentionSchedule {
                    retention_times: Some(vec![at]),
                    retention_duration: RetentionDuration {
                        count: 30,
                        duration_type: DurationType::Days,
                    },
                }),
                weekly_schedule: None,
                monthly_schedule: None,
                yearly_schedule: None,
            },
            snapshot_consistency_type: None,
        }
    }

    /// Checks every rule and limit; the error names the field and the range.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.resolve().map(|_| ())
    }

    /// Validates and normalizes.
    pub fn resolve(&self) -> Result<ValidPolicy, ModelError> {
        let time_zone = parse_time_zone(&self.time_zone, "timeZone")?;
        let schedule = self.resolve_schedule()?;
        let instant_rp_days = self.resolve_instant_rp(&schedule)?;
        let retention = self.resolve_retention(&schedule)?;
        if self.snapshot_consistency_type.is_some() && self.policy_type == PolicyType::V1 {
            return Err(ModelError::policy(
                "snapshotConsistencyType",
                "snapshotConsistencyType is only allowed with policyType V2",
            ));
        }
        Ok(ValidPolicy {
            policy_type: self.policy_type,
            time_zone,
            schedule,
            instant_rp_days,
            retention,
        })
    }

    fn resolve_schedule(&self) -> Result<Schedule, ModelError> {
        let sp = &self.schedule_policy;
        let expected_type = match self.policy_type {
            PolicyType::V1 => SchedulePolicyType::SimpleSchedulePolicy,
            PolicyType::V2 => SchedulePolicyType::SimpleSchedulePolicyV2,
        };
        if let Some(t) = sp.schedule_policy_type
            && t != expected_type
        {
            return Err(ModelError::policy(
                "schedulePolicy.schedulePolicyType",
                format!(
                    "schedulePolicy.schedulePolicyType must be {expected_type:?} for policyType {:?} (got {t:?})",
                    self.policy_type
                ),
            ));
        }
        let run_days = |target: &str, days: Option<&[DayOfWeek]>| {
            unique_nonempty(target, days.unwrap_or_default(), "day")
        };
        match (self.policy_type, sp.schedule_run_frequency) {
            (PolicyType::V1, ScheduleRunFrequency::Hourly) => Err(ModelError::policy(
                "schedulePolicy.scheduleRunFrequency",
                "schedulePolicy.scheduleRunFrequency Hourly needs policyType V2; V1 allows Daily or Weekly",
            )),
            (PolicyType::V1, ScheduleRunFrequency::Daily) => Ok(Schedule::Daily {
                time: one_aligned_time(
                    "schedulePolicy.scheduleRunTimes",
                    sp.schedule_run_times.as_deref(),
                )?,
            }),
            (PolicyType::V1, ScheduleRunFrequency::Weekly) => Ok(Schedule::Weekly {
                days: run_days(
                    "schedulePolicy.scheduleRunDays",
                    sp.schedule_run_days.as_deref(),
                )?,
                time: one_aligned_time(
                    "schedulePolicy.scheduleRunTimes",
                    sp.schedule_run_times.as_deref(),
                )?,
            }),
            (PolicyType::V2, ScheduleRunFrequency::Daily) => {
                let Some(d) = &sp.daily_schedule else {
                    return Err(ModelError::policy(
                        "schedulePolicy.dailySchedule",
                        "schedulePolicy.dailySchedule is required for a V2 Daily schedule",
                    ));
                };
                Ok(Schedule::Daily {
                    time: one_aligned_time(
                        "schedulePolicy.dailySchedule.scheduleRunTimes",
                        Some(&d.schedule_run_times),
                    )?,
                })
            }
            (PolicyType::V2, ScheduleRunFrequency::Weekly) => {
                let Some(w) = &sp.weekly_schedule else {
                    return Err(ModelError::policy(
                        "schedulePolicy.weeklySchedule",
                        "schedulePolicy.weeklySchedule is required for a V2 Weekly schedule",
                    ));
                };
                Ok(Schedule::Weekly {
                    days: run_days(
                        "schedulePolicy.weeklySchedule.scheduleRunDays",
                        Some(&w.schedule_run_days),
                    )?,
                    time: one_aligned_time(
                        "schedulePolicy.weeklySchedule.scheduleRunTimes",
                        Some(&w.schedule_run_times),
                    )?,
                })
            }
            (PolicyType::V2, ScheduleRunFrequency::Hourly) => {
                let Some(h) = &sp.hourly_schedule else {
                    return Err(ModelError::policy(
                        "schedulePolicy.hourlySchedule",
                        "schedulePolicy.hourlySchedule is required for an Hourly schedule",
                    ));
                };
                check_hourly(h)
            }
        }
    }

    fn resolve_instant_rp(&self, schedule: &Schedule) -> Result<u32, ModelError> {
        const T: &str = "instantRpRetentionRangeInDays";
        let weekly = matches!(schedule, Schedule::Weekly { .. });
        match self.policy_type {
            PolicyType::V1 if weekly => {
                let v = self
                    .instant_rp_retention_range_in_days
                    .unwrap_or(limits::INSTANT_RP_WEEKLY_V1);
                if v != limits::INSTANT_RP_WEEKLY_V1 {
                    return Err(ModelError::policy(
                        T,
                        format!("{T} must be 5 for a weekly V1 schedule (got {v})"),
                    ));
                }
                Ok(v as u32)
            }
            PolicyType::V1 => check_range(
                T,
                self.instant_rp_retention_range_in_days
                    .unwrap_or(limits::INSTANT_RP_DEFAULT_V1),
                limits::INSTANT_RP_DAYS_V1,
                "days for a V1 policy",
            ),
            PolicyType::V2 => check_range(
                T,
                self.instant_rp_retention_range_in_days
                    .unwrap_or(limits::INSTANT_RP_DEFAULT_V2),
                limits::INSTANT_RP_DAYS_V2,
                "days for a V2 policy",
            ),
        }
    }

    fn resolve_retention(&self, schedule: &Schedule) -> Result<RetentionRules, ModelError> {
        let rp = &self.retention_policy;
        let mut rules = RetentionRules::default();

        const D: &str = "retentionPolicy.dailySchedule";
        match (&rp.daily_schedule, schedule) {
            (Some(_), Schedule::Weekly { .. }) => {
                return Err(ModelError::policy(
                    D,
                    format!("{D} is not allowed with a weekly backup schedule; use weeklySchedule"),
                ));
            }
            (None, Schedule::Daily { .. } | Schedule::Hourly { .. }) => {
                return Err(ModelError::policy(
                    D,
                    format!("{D} is required with a daily or hourly backup schedule"),
                ));
            }
            (Some(d), _) => {
                rules.daily = Some(check_duration(
                    &format!("{D}.retentionDuration"),
                    &d.retention_duration,
                    DurationType::Days,
                    limits::DAILY_DAYS,
                )?);
            }
            (None, Schedule::Weekly { .. }) => {}
        }

        const W: &str = "retentionPolicy.weeklySchedule";
        match (&rp.weekly_schedule, schedule) {
            (None, Schedule::Weekly { .. }) => {
                return Err(ModelError::policy(
                    W,
                    format!("{W} is required with a weekly backup schedule"),
                ));
            }
            (None, _) => {}
            (Some(w), _) => {
                let t = format!("{W}.daysOfTheWeek");
                let days = unique_nonempty(&t, &w.days_of_the_week, "day")?;
                if let Schedule::Weekly { days: run, .. } = schedule
                    && &days != run
                {
                    return Err(ModelError::policy(
                        &t,
                        format!(
                            "{t} must be the scheduled backup days {:?}: a point taken on any \
                             other scheduled day would be kept by no rule",
                            run.iter().collect::<Vec<_>>()
                        ),
                    ));
                }
                let weeks = check_duration(
                    &format!("{W}.retentionDuration"),
                    &w.retention_duration,
                    DurationType::Weeks,
                    limits::WEEKLY_WEEKS,
                )?;
                rules.weekly = Some(WeeklyRule { days, weeks });
            }
        }

        const M: &str = "retentionPolicy.monthlySchedule";
        if let Some(m) = &rp.monthly_schedule {
            let pattern = day_pattern(
                M,
                m.retention_schedule_format_type,
                m.retention_schedule_daily.as_ref(),
                m.retention_schedule_weekly.as_ref(),
                schedule,
            )?;
            let months = check_duration(
                &format!("{M}.retentionDuration"),
                &m.retention_duration,
                DurationType::Months,
                limits::MONTHLY_MONTHS,
            )?;
            rules.monthly = Some(MonthlyRule { pattern, months });
        }

        const Y: &str = "retentionPolicy.yearlySchedule";
        if let Some(y) = &rp.yearly_schedule {
            let months_of_year =
                unique_nonempty(&format!("{Y}.monthsOfYear"), &y.months_of_year, "month")?;
            let pattern = day_pattern(
                Y,
                y.retention_schedule_format_type,
                y.retention_schedule_daily.as_ref(),
                y.retention_schedule_weekly.as_ref(),
                schedule,
            )?;
            let years = check_duration(
                &format!("{Y}.retentionDuration"),
                &y.retention_duration,
                DurationType::Years,
                limits::YEARLY_YEARS,
            )?;
            rules.yearly = Some(YearlyRule {
                months_of_year,
                pattern,
                years,
            });
        }
        Ok(rules)
    }
}

fn check_hourly(h: &HourlySchedule) -> Result<Schedule, ModelError> {
    const H: &str = "schedulePolicy.hourlySchedule";
    if !limits::HOURLY_INTERVALS.contains(&h.interval) {
        return Err(ModelError::policy(
            format!("{H}.interval"),
            format!(
                "{H}.interval must be 4, 6, 8 or 12 hours (got {})",
                h.interval
            ),
        ));
    }
    let window_start = aligned(
        &format!("{H}.scheduleWindowStartTime"),
        h.schedule_window_start_time,
    )?;
    let t = format!("{H}.scheduleWindowDuration");
    let window_hours = check_range(
        &t,
        h.schedule_window_duration,
        limits::WINDOW_HOURS,
        "hours",
    )?;
    if h.schedule_window_duration % h.interval != 0 {
        return Err(ModelError::policy(
            &t,
            format!(
                "{t} must be a multiple of the interval {} hours (got {})",
                h.interval, h.schedule_window_duration
            ),
        ));
    }
    Ok(Schedule::Hourly {
        interval_hours: h.interval as u32,
        window_start,
        window_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_shaped_like_azure() {
        let p = Policy::default_policy("Europe/Berlin");
        let v = p.resolve().unwrap();
        assert_eq!(v.time_zone, Tz::Europe__Berlin);
        assert_eq!(
            v.schedule,
            Schedule::Daily {
                time: TimeOfDay::new(22, 0).unwrap()
            }
        );
        assert_eq!(v.instant_rp_days, 2);
        assert_eq!(v.retention.daily, Some(30));
        assert_eq!(v.retention.weekly, None);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "policyType": "V1", "timeZone": "Europe/Berlin",
                "instantRpRetentionRangeInDays": 2,
                "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
                    "scheduleRunFrequency": "Daily", "scheduleRunTimes": ["22:00"],
                    "scheduleWeeklyFrequency": 0},
                "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
                    "dailySchedule": {"retentionTimes": ["22:00"],
                        "retentionDuration": {"count": 30, "durationType": "Days"}}}
            })
        );
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn reduces_retention_compares_every_rule() {
        let base = Policy::default_policy("UTC").resolve().unwrap();
        let mut longer = base.clone();
        longer.retention.daily = Some(31);
        assert!(!base.reduces_retention_to(&longer));
        assert!(longer.reduces_retention_to(&base));
        let mut fewer_ir = base.clone();
        fewer_ir.instant_rp_days = 1;
        assert!(base.reduces_retention_to(&fewer_ir));
        let mut with_yearly = base.clone();
        with_yearly.retention.yearly = Some(YearlyRule {
            months_of_year: [MonthOfYear::January].into(),
            pattern: DayPattern::Dates {
                dates: [1].into(),
                last: false,
            },
            years: 1,
        });
        assert!(!base.reduces_retention_to(&with_yearly));
        assert!(with_yearly.reduces_retention_to(&base));
        assert!(!base.reduces_retention_to(&base));
    }
}
