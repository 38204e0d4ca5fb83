//! `lifeboat backup policy list|show|create|set|delete`.
//!
//! A policy is sent in the API's JSON (Azure's `AzureIaasVMProtectionPolicy`
//! properties): from `--policy @file.json` / `--policy '{…}'`, or built from
//! flags for the common shapes, or both (flags applied on top of the JSON).
//! `set` without `--policy` edits the server's current policy with the
//! flags given. The server validates; its error names the field and range.

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::client::seg;
use super::error::{CliError, Result, exit};
use super::output::TableView;
use super::vault::vault_path;
use super::{Ctx, TopArg};

pub const VIEW: TableView = &[
    ("Name", "name"),
    ("Type", "properties.policyType"),
    (
        "Frequency",
        "properties.schedulePolicy.scheduleRunFrequency",
    ),
    (
        "Time",
        "properties.schedulePolicy.scheduleRunTimes[0] || properties.schedulePolicy.dailySchedule.scheduleRunTimes[0] || properties.schedulePolicy.weeklySchedule.scheduleRunTimes[0] || properties.schedulePolicy.hourlySchedule.scheduleWindowStartTime",
    ),
    ("TimeZone", "properties.timeZone"),
    (
        "DailyRetentionDays",
        "properties.retentionPolicy.dailySchedule.retentionDuration.count",
    ),
    (
        "InstantRestoreDays",
        "properties.instantRpRetentionRangeInDays",
    ),
    ("ProtectedItems", "protectedItemsCount"),
];

#[derive(Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    cmd: PolicyCmd,
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// List the policies of a vault.
    #[command(after_help = "Examples:
  lifeboat backup policy list --vault prod -o table")]
    List {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        #[command(flatten)]
        top: TopArg,
    },
    /// Show a policy.
    #[command(after_help = "Examples:
  lifeboat backup policy show --vault prod --name DefaultPolicy
  lifeboat backup policy show --vault prod --name DefaultPolicy --query properties > policy.json")]
    Show {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// Create a policy from JSON or from flags.
    #[command(after_help = "Examples:
  lifeboat backup policy create --vault prod --name Nightly --daily --time 22:00 \\
      --time-zone Europe/Berlin --daily-retention 30 --weekly-retention 12 --weekly-days Sun \\
      --monthly-retention 12 --yearly-retention 5 --instant-restore-days 2
  lifeboat backup policy create --vault prod --name Weekly --weekly --days Sat --time 23:00 \\
      --weekly-retention 52
  lifeboat backup policy create --vault prod --name Hourly --hourly --interval 4 \\
      --window-start 08:00 --window-hours 12 --daily-retention 14
  lifeboat backup policy create --vault prod --name FromFile --policy @policy.json

Retention counts: daily in days (7-9999), weekly in weeks (1-5163), monthly in
months (1-1188), yearly in years (1-99); 0 removes the rule. Monthly and yearly
rules made from flags keep the first backup of the month (first week, on the
first weekly-retention day, else Sunday); use --policy JSON for other shapes.")]
    Create {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name (else the "name" in the --policy JSON).
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Replace a policy (re-tags the recovery points of every item on it).
    #[command(after_help = "Examples:
  lifeboat backup policy set --vault prod --name DefaultPolicy --daily-retention 60
  lifeboat backup policy set --vault prod --name Nightly --time 01:30 --time-zone UTC
  lifeboat backup policy set --vault prod --name Nightly --policy @policy.json

Without --policy the current policy is fetched and the flags are applied to it.")]
    Set {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name (else the "name" in the --policy JSON).
        #[arg(long, short = 'n')]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Delete a policy (refused while protected items use it).
    #[command(after_help = "Examples:
  lifeboat backup policy delete --vault prod --name Nightly")]
    Delete {
        /// The vault.
        #[arg(long, short = 'v')]
        vault: String,
        /// The policy name.
        #[arg(long, short = 'n')]
        name: String,
    },
}

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
    fn schedule_given(&self) -> bool {
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

    fn anything_given(&self) -> bool {
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

pub fn run(ctx: &Ctx, a: PolicyArgs) -> Result<u8> {
    match a.cmd {
        PolicyCmd::List { vault, top } => {
            let list =
                ctx.client
                    .list(&format!("{}/policies", vault_path(&vault)), &[], top.get())?;
            ctx.show(&Value::Array(list), Some(VIEW))?;
        }
        PolicyCmd::Show { vault, name } => {
            let p = ctx.client.get(&policy_path(&vault, &name))?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Create {
            vault,
            name,
            policy,
        } => {
            let (json_name, base) = match &policy.policy {
                Some(src) => {
                    let (n, props) = split_document(read_json_arg(src)?)?;
                    (n, props)
                }
                None => (None, template(&local_time_zone())),
            };
            let name = pick_name(name, json_name)?;
            let mut props = base;
            apply_flags(&mut props, &policy)?;
            let p = ctx.client.post(
                &format!("{}/policies", vault_path(&vault)),
                &json!({"name": name, "properties": props}),
            )?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Set {
            vault,
            name,
            policy,
        } => {
            let (name, mut props) = match &policy.policy {
                Some(src) => {
                    let (n, props) = split_document(read_json_arg(src)?)?;
                    (pick_name(name, n)?, props)
                }
                None => {
                    let name = name.ok_or_else(|| {
                        CliError::Usage("argument --name is required without --policy".into())
                    })?;
                    if !policy.anything_given() {
                        return Err(CliError::Usage(
                            "nothing to change: give --policy or flags such as --daily-retention"
                                .into(),
                        ));
                    }
                    let current = ctx.client.get(&policy_path(&vault, &name))?;
                    let (_, props) = split_document(current)?;
                    (name, props)
                }
            };
            apply_flags(&mut props, &policy)?;
            let p = ctx.client.put(
                &policy_path(&vault, &name),
                &json!({"name": name, "properties": props}),
            )?;
            ctx.show(&p, Some(VIEW))?;
        }
        PolicyCmd::Delete { vault, name } => {
            let v = ctx.client.delete(&policy_path(&vault, &name))?;
            if !v.is_null() {
                ctx.show(&v, Some(VIEW))?;
            }
        }
    }
    Ok(exit::OK)
}

fn policy_path(vault: &str, name: &str) -> String {
    format!("{}/policies/{}", vault_path(vault), seg(name))
}

fn pick_name(flag: Option<String>, from_json: Option<String>) -> Result<String> {
    flag.or(from_json).ok_or_else(|| {
        CliError::Usage("argument --name is required (or a \"name\" in the --policy JSON)".into())
    })
}

/// `@file` or inline JSON.
pub fn read_json_arg(src: &str) -> Result<Value> {
    let (text, origin) = match src.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
                CliError::Usage(format!("argument --policy: cannot read {path}: {e}"))
            })?;
            (text, path.to_owned())
        }
        None => (src.to_owned(), "the argument".to_owned()),
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "argument --policy: {origin} is not valid JSON: {e}"
        ))
    })
}

/// `(name, properties)` from a policy document: `{name?, properties}` as
/// the API returns it, or a bare properties object.
pub fn split_document(doc: Value) -> Result<(Option<String>, Value)> {
    let Value::Object(mut map) = doc else {
        return Err(CliError::Usage(
            "argument --policy: the policy must be a JSON object".into(),
        ));
    };
    let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
    match map.remove("properties") {
        Some(props @ Value::Object(_)) => Ok((name, props)),
        Some(_) => Err(CliError::Usage(
            "argument --policy: \"properties\" must be an object".into(),
        )),
        None => {
            // A bare properties object has no name of its own.
            map.remove("name");
            Ok((None, Value::Object(map)))
        }
    }
}

/// A new policy before flags: V1, daily at 22:00, daily points kept 30
/// days, instant restore 2 days (the shape of DefaultPolicy).
pub fn template(time_zone: &str) -> Value {
    json!({
        "policyType": "V1",
        "timeZone": time_zone,
        "instantRpRetentionRangeInDays": 2,
        "schedulePolicy": {
            "schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Daily",
            "scheduleRunTimes": ["22:00"]
        },
        "retentionPolicy": {
            "retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {
                "retentionTimes": ["22:00"],
                "retentionDuration": {"count": 30, "durationType": "Days"}
            }
        }
    })
}

/// This machine's IANA time zone: `TZ`, else the `/etc/localtime` link,
/// else `/etc/timezone`, else UTC.
fn local_time_zone() -> String {
    let plausible = |s: &str| {
        let s = s.trim().trim_start_matches(':');
        (!s.is_empty() && !s.contains(char::is_whitespace) && !s.starts_with('/'))
            .then(|| s.to_owned())
    };
    if let Some(tz) = std::env::var("TZ").ok().as_deref().and_then(plausible) {
        return tz;
    }
    if let Ok(target) = std::fs::read_link("/etc/localtime")
        && let Some(s) = target.to_str()
        && let Some((_, zone)) = s.split_once("zoneinfo/")
        && let Some(z) = plausible(zone)
    {
        return z;
    }
    if let Ok(text) = std::fs::read_to_string("/etc/timezone")
        && let Some(z) = plausible(&text)
    {
        return z;
    }
    "UTC".to_owned()
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
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A full day or month name from a name or its first three letters, any case.
fn canonical(input: &str, names: &[&str], arg: &str) -> Result<String> {
    let s = input.trim().to_ascii_lowercase();
    names
        .iter()
        .find(|n| {
            let n = n.to_ascii_lowercase();
            n == s || (s.len() >= 3 && n.starts_with(&s))
        })
        .map(|n| (*n).to_owned())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "argument {arg}: {input:?} is not one of {}",
                names.join(", ")
            ))
        })
}

fn canonical_list(inputs: &[String], names: &[&str], arg: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for i in inputs.iter().filter(|i| !i.trim().is_empty()) {
        let c = canonical(i, names, arg)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// `HH:MM` (hours 0-23, minutes 0-59); alignment is the server's check.
fn time_of_day(s: &str, arg: &str) -> Result<String> {
    let bad = || CliError::Usage(format!("argument {arg}: {s:?} is not a time of day HH:MM"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(format!("{h:02}:{m:02}"))
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn duration(count: i64, unit: &str) -> Value {
    json!({"count": count, "durationType": unit})
}

/// Applies the flags to a policy's properties.
pub fn apply_flags(props: &mut Value, f: &PolicyFlags) -> Result<()> {
    let p = obj(props);
    if let Some(tz) = &f.time_zone {
        p.insert("timeZone".into(), Value::String(tz.clone()));
    }

    // What the schedule is now.
    let sched = p.get("schedulePolicy").cloned().unwrap_or(Value::Null);
    let cur_freq = sched
        .get("scheduleRunFrequency")
        .and_then(Value::as_str)
        .unwrap_or("Daily")
        .to_owned();
    let cur_v2 = p.get("policyType").and_then(Value::as_str) == Some("V2");
    let cur_time = strings(sched.get("scheduleRunTimes"))
        .into_iter()
        .chain(strings(sched.pointer("/dailySchedule/scheduleRunTimes")))
        .chain(strings(sched.pointer("/weeklySchedule/scheduleRunTimes")))
        .next();
    let cur_days = {
        let d = strings(sched.get("scheduleRunDays"));
        if d.is_empty() {
            strings(sched.pointer("/weeklySchedule/scheduleRunDays"))
        } else {
            d
        }
    };

    let freq = if f.hourly {
        "Hourly"
    } else if f.daily {
        "Daily"
    } else if f.weekly {
        "Weekly"
    } else {
        cur_freq.as_str()
    }
    .to_owned();
    let v2 = f.hourly || f.enhanced || cur_v2 || freq == "Hourly";
    let time = match &f.time {
        Some(t) => time_of_day(t, "--time")?,
        None => cur_time.clone().unwrap_or_else(|| "22:00".to_owned()),
    };
    let days = if f.days.is_empty() {
        cur_days
    } else {
        canonical_list(&f.days, &DAYS, "--days")?
    };

    if f.schedule_given() {
        if freq == "Weekly" && days.is_empty() {
            return Err(CliError::Usage(
                "argument --days is required for a weekly schedule, e.g. --days Sun".into(),
            ));
        }
        let schedule = if freq == "Hourly" {
            let cur = sched.get("hourlySchedule");
            let interval = f
                .interval
                .or_else(|| cur.and_then(|h| h.get("interval")).and_then(Value::as_i64))
                .unwrap_or(4);
            let start = match &f.window_start {
                Some(s) => time_of_day(s, "--window-start")?,
                None => cur
                    .and_then(|h| h.get("scheduleWindowStartTime"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| "08:00".to_owned()),
            };
            let hours = f
                .window_hours
                .or_else(|| {
                    cur.and_then(|h| h.get("scheduleWindowDuration"))
                        .and_then(Value::as_i64)
                })
                .unwrap_or(12);
            json!({
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Hourly",
                "hourlySchedule": {
                    "interval": interval,
                    "scheduleWindowStartTime": start,
                    "scheduleWindowDuration": hours
                }
            })
        } else if v2 && freq == "Weekly" {
            json!({
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Weekly",
                "weeklySchedule": {"scheduleRunDays": days, "scheduleRunTimes": [time]}
            })
        } else if v2 {
            json!({
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": "Daily",
                "dailySchedule": {"scheduleRunTimes": [time]}
            })
        } else if freq == "Weekly" {
            json!({
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Weekly",
                "scheduleRunDays": days,
                "scheduleRunTimes": [time]
            })
        } else {
            json!({
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": [time]
            })
        };
        p.insert("schedulePolicy".into(), schedule);
        p.insert("policyType".into(), json!(if v2 { "V2" } else { "V1" }));
        if !v2 && freq == "Weekly" && f.instant_restore_days.is_none() {
            // A V1 weekly schedule allows exactly 5 instant-restore days.
            p.insert("instantRpRetentionRangeInDays".into(), json!(5));
        }
    }
    if let Some(d) = f.instant_restore_days {
        p.insert("instantRpRetentionRangeInDays".into(), json!(d));
    }

    // Retention rules: their retention times follow the run time (Azure
    // writes them so; the server ignores them).
    let retention_times = (freq != "Hourly").then(|| json!([time]));
    let ret = obj(p
        .entry("retentionPolicy")
        .or_insert_with(|| Value::Object(Map::new())));
    ret.insert(
        "retentionPolicyType".into(),
        json!("LongTermRetentionPolicy"),
    );
    let rule = |count: i64, unit: &str| {
        let mut r = Map::new();
        if let Some(t) = &retention_times {
            r.insert("retentionTimes".into(), t.clone());
        }
        r.insert("retentionDuration".into(), duration(count, unit));
        r
    };

    match f.daily_retention {
        Some(0) => {
            ret.remove("dailySchedule");
        }
        Some(n) => {
            ret.insert("dailySchedule".into(), Value::Object(rule(n, "Days")));
        }
        // A weekly schedule has no daily points to keep.
        None if f.schedule_given() && freq == "Weekly" => {
            ret.remove("dailySchedule");
        }
        None => {}
    }

    let weekly_days_flag = canonical_list(&f.weekly_days, &DAYS, "--weekly-days")?;
    let weekly_days = if !weekly_days_flag.is_empty() {
        weekly_days_flag.clone()
    } else if freq == "Weekly" {
        days.clone()
    } else {
        let existing = strings(
            ret.get("weeklySchedule")
                .and_then(|w| w.get("daysOfTheWeek")),
        );
        if existing.is_empty() {
            vec!["Sunday".to_owned()]
        } else {
            existing
        }
    };
    match f.weekly_retention {
        Some(0) => {
            ret.remove("weeklySchedule");
        }
        Some(n) => {
            let mut r = rule(n, "Weeks");
            r.insert("daysOfTheWeek".into(), json!(weekly_days));
            ret.insert("weeklySchedule".into(), Value::Object(r));
        }
        None => {
            if let Some(Value::Object(w)) = ret.get_mut("weeklySchedule")
                && (!weekly_days_flag.is_empty() || (f.schedule_given() && freq == "Weekly"))
            {
                w.insert("daysOfTheWeek".into(), json!(weekly_days));
            } else if !weekly_days_flag.is_empty() {
                return Err(CliError::Usage(
                    "argument --weekly-days needs weekly retention: add --weekly-retention".into(),
                ));
            }
        }
    }

    // Monthly and yearly rules from flags keep the first backup of the
    // month: week-based, first week, on the first weekly day.
    let first_day = weekly_days
        .first()
        .cloned()
        .unwrap_or_else(|| "Sunday".to_owned());
    let week_based = || json!({"daysOfTheWeek": [first_day], "weeksOfTheMonth": ["First"]});
    match f.monthly_retention {
        Some(0) => {
            ret.remove("monthlySchedule");
        }
        Some(n) => match ret.get_mut("monthlySchedule") {
            Some(Value::Object(m)) => {
                m.insert("retentionDuration".into(), duration(n, "Months"));
            }
            _ => {
                let mut r = rule(n, "Months");
                r.insert("retentionScheduleFormatType".into(), json!("Weekly"));
                r.insert("retentionScheduleWeekly".into(), week_based());
                ret.insert("monthlySchedule".into(), Value::Object(r));
            }
        },
        None => {}
    }
    let months = canonical_list(&f.yearly_months, &MONTHS, "--yearly-months")?;
    match f.yearly_retention {
        Some(0) => {
            ret.remove("yearlySchedule");
        }
        Some(n) => match ret.get_mut("yearlySchedule") {
            Some(Value::Object(y)) => {
                y.insert("retentionDuration".into(), duration(n, "Years"));
                if !months.is_empty() {
                    y.insert("monthsOfYear".into(), json!(months));
                }
            }
            _ => {
                let mut r = rule(n, "Years");
                r.insert("retentionScheduleFormatType".into(), json!("Weekly"));
                r.insert(
                    "monthsOfYear".into(),
                    if months.is_empty() {
                        json!(["January"])
                    } else {
                        json!(months)
                    },
                );
                r.insert("retentionScheduleWeekly".into(), week_based());
                ret.insert("yearlySchedule".into(), Value::Object(r));
            }
        },
        None => {
            if !months.is_empty() {
                match ret.get_mut("yearlySchedule") {
                    Some(Value::Object(y)) => {
                        y.insert("monthsOfYear".into(), json!(months));
                    }
                    _ => {
                        return Err(CliError::Usage(
                            "argument --yearly-months needs yearly retention: add --yearly-retention"
                                .into(),
                        ));
                    }
                }
            }
        }
    }
    if f.schedule_given()
        && let Some(t) = &retention_times
    {
        for key in [
            "dailySchedule",
            "weeklySchedule",
            "monthlySchedule",
            "yearlySchedule",
        ] {
            if let Some(Value::Object(r)) = ret.get_mut(key) {
                r.insert("retentionTimes".into(), t.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut expected = template("Europe/Berlin");
        expected["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = json!(60);
        assert_eq!(p, expected);

        // A new run time moves the retention times along.
        apply_flags(
            &mut p,
            &PolicyFlags {
                time: Some("01:30".into()),
                ..flags()
            },
        )
        .unwrap();
        assert_eq!(p["schedulePolicy"]["scheduleRunTimes"], json!(["01:30"]));
        assert_eq!(
            p["retentionPolicy"]["dailySchedule"]["retentionTimes"],
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
        assert!(p["retentionPolicy"].get("yearlySchedule").is_some());
        apply_flags(
            &mut p,
            &PolicyFlags {
                yearly_retention: Some(0),
                ..flags()
            },
        )
        .unwrap();
        assert!(p["retentionPolicy"].get("yearlySchedule").is_none());
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

    #[test]
    fn documents_split_into_name_and_properties() {
        let (n, props) =
            split_document(json!({"name": "P", "properties": {"timeZone": "UTC"}, "id": 3}))
                .unwrap();
        assert_eq!(n.as_deref(), Some("P"));
        assert_eq!(props, json!({"timeZone": "UTC"}));
        let (n, props) = split_document(json!({"timeZone": "UTC"})).unwrap();
        assert_eq!(n, None);
        assert_eq!(props, json!({"timeZone": "UTC"}));
        assert!(split_document(json!([1])).is_err());
    }

    #[test]
    fn json_arguments_come_inline_or_from_a_file() {
        assert_eq!(read_json_arg(r#"{"a":1}"#).unwrap(), json!({"a": 1}));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, r#"{"name":"X","properties":{}}"#).unwrap();
        assert_eq!(
            read_json_arg(&format!("@{}", path.display())).unwrap()["name"],
            "X"
        );
        assert!(read_json_arg("@/nonexistent/p.json").is_err());
        assert!(read_json_arg("{oops").is_err());
    }
}
