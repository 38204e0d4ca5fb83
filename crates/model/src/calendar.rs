//! Calendar vocabulary shared by policies, schedules and retention: days of
//! the week, weeks of the month, months of the year (spelled as Azure spells
//! them in JSON), wall-clock times of day, and IANA time-zone parsing.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ModelError;

/// A day of the week, as Azure writes it (`"Sunday"` … `"Saturday"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DayOfWeek {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl DayOfWeek {
    /// All seven, Sunday first (Azure's order).
    pub const ALL: [DayOfWeek; 7] = [
        DayOfWeek::Sunday,
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
        DayOfWeek::Saturday,
    ];

    /// The day of the week of a calendar date.
    pub fn of(date: NaiveDate) -> Self {
        date.weekday().into()
    }
}

impl From<Weekday> for DayOfWeek {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Sun => DayOfWeek::Sunday,
            Weekday::Mon => DayOfWeek::Monday,
            Weekday::Tue => DayOfWeek::Tuesday,
            Weekday::Wed => DayOfWeek::Wednesday,
            Weekday::Thu => DayOfWeek::Thursday,
            Weekday::Fri => DayOfWeek::Friday,
            Weekday::Sat => DayOfWeek::Saturday,
        }
    }
}

/// A week of the month for week-based monthly/yearly retention. `First` is
/// days 1–7, `Second` 8–14, `Third` 15–21, `Fourth` 22–28 and `Last` the
/// final seven days of the month (so `Fourth` and `Last` can overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WeekOfMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl WeekOfMonth {
    /// All five.
    pub const ALL: [WeekOfMonth; 5] = [
        WeekOfMonth::First,
        WeekOfMonth::Second,
        WeekOfMonth::Third,
        WeekOfMonth::Fourth,
        WeekOfMonth::Last,
    ];

    /// Whether `date` falls in this week of its month.
    pub fn contains(self, date: NaiveDate) -> bool {
        let day = date.day();
        match self {
            WeekOfMonth::First => day <= 7,
            WeekOfMonth::Second => (8..=14).contains(&day),
            WeekOfMonth::Third => (15..=21).contains(&day),
            WeekOfMonth::Fourth => (22..=28).contains(&day),
            WeekOfMonth::Last => day + 7 > days_in_month(date.year(), date.month()),
        }
    }
}

/// A month, as Azure writes it (`"January"` … `"December"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MonthOfYear {
    January,
    February,
    March,
    April,
    May,
    June,
    July,
    August,
    September,
    October,
    November,
    December,
}

impl MonthOfYear {
    /// All twelve, January first.
    pub const ALL: [MonthOfYear; 12] = [
        MonthOfYear::January,
        MonthOfYear::February,
        MonthOfYear::March,
        MonthOfYear::April,
        MonthOfYear::May,
        MonthOfYear::June,
        MonthOfYear::July,
        MonthOfYear::August,
        MonthOfYear::September,
        MonthOfYear::October,
        MonthOfYear::November,
        MonthOfYear::December,
    ];

    /// The month of a calendar date.
    pub fn of(date: NaiveDate) -> Self {
        Self::ALL[date.month0() as usize]
    }
}

/// Days in a month of the proleptic Gregorian calendar (leap years included).
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid month");
    first_next.pred_opt().expect("has a previous day").day()
}

/// Whether `date` is the last day of its month.
pub fn is_last_day_of_month(date: NaiveDate) -> bool {
    date.day() == days_in_month(date.year(), date.month())
}

/// A wall-clock time of day in a policy's time zone, to the minute.
///
/// Serialized as `"HH:MM"`. Accepted on input as `"HH:MM"`, `"HH:MM:SS"`, or
/// an Azure-style date-time such as `"2017-12-05T19:00:00Z"`, of which only
/// the time-of-day as written is used (Azure ignores the date and reads the
/// time in the policy's `timeZone`; so does Lifeboat, whatever the offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(NaiveTime);

impl TimeOfDay {
    /// `hour:minute`, or `None` when out of range.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(TimeOfDay)
    }

    /// The time as chrono's type.
    pub fn time(self) -> NaiveTime {
        self.0
    }

    /// Hour, 0–23.
    pub fn hour(self) -> u32 {
        self.0.hour()
    }

    /// Minute, 0–59.
    pub fn minute(self) -> u32 {
        self.0.minute()
    }

    /// On the hour or on the half hour, with no seconds: the only run times
    /// Azure VM policies accept.
    pub fn is_half_hour_aligned(self) -> bool {
        self.0.minute().is_multiple_of(30) && self.0.second() == 0 && self.0.nanosecond() == 0
    }
}

impl From<NaiveTime> for TimeOfDay {
    fn from(t: NaiveTime) -> Self {
        TimeOfDay(t)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.second() == 0 && self.0.nanosecond() == 0 {
            write!(f, "{}", self.0.format("%H:%M"))
        } else {
            write!(f, "{}", self.0.format("%H:%M:%S"))
        }
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        for fmt in ["%H:%M", "%H:%M:%S"] {
            if let Ok(t) = NaiveTime::parse_from_str(s, fmt) {
                return Ok(TimeOfDay(t));
            }
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Ok(TimeOfDay(dt.naive_local().time()));
        }
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
            return Ok(TimeOfDay(dt.time()));
        }
        Err(format!(
            "invalid time of day {s:?}: expected \"HH:MM\" or a date-time like \"2017-12-05T22:00:00Z\""
        ))
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `"HH:MM"` in the OpenAPI document: the form answers use. Input may also
/// be `"HH:MM:SS"` or a date-time (see [`TimeOfDay`]); the schema names the
/// canonical form only, so every value it allows is accepted.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeOfDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$"))
            .description(Some(
                "A wall-clock time of day in the policy's time zone, HH:MM (run times on the \
                 hour or half hour)",
            ))
            .examples(["22:00"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeOfDay {}

/// Windows time-zone names (which Azure policies use) and the IANA zone each
/// stands for, as in CLDR's `windowsZones` default mapping. Only the common
/// ones; anything else must be given as an IANA name.
pub const WINDOWS_TIME_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time", "America/New_York"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
];

/// Parses a time-zone name: an IANA name (`"Europe/Berlin"`, `"UTC"`), or one
/// of the Windows names in [`WINDOWS_TIME_ZONES`] (`"Pacific Standard Time"`),
/// so policies exported from Azure are taken as they are. `target` is the
/// JSON path for the error.
pub fn parse_time_zone(name: &str, target: &str) -> Result<Tz, ModelError> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    if let Some((_, iana)) = WINDOWS_TIME_ZONES.iter().find(|(w, _)| *w == name) {
        return Ok(iana.parse().expect("table holds IANA names"));
    }
    Err(ModelError::policy(
        target,
        format!(
            "{target}: unknown time zone {name:?}; use an IANA name such as \"UTC\", \
             \"Europe/Berlin\" or \"America/New_York\""
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn days_in_month_covers_leap_years() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2025, 12), 31);
        assert_eq!(days_in_month(2025, 4), 30);
        assert!(is_last_day_of_month(d(2024, 2, 29)));
        assert!(!is_last_day_of_month(d(2024, 2, 28)));
        assert!(is_last_day_of_month(d(2023, 2, 28)));
    }

    #[test]
    fn every_day_of_a_leap_and_common_year_is_in_exactly_the_right_weeks() {
        for year in [2023, 2024] {
            let mut date = d(year, 1, 1);
            while date.year() == year {
                let dim = days_in_month(year, date.month());
                let numbered = WeekOfMonth::ALL[..4]
                    .iter()
                    .filter(|w| w.contains(date))
                    .count();
                assert_eq!(numbered, usize::from(date.day() <= 28), "{date}");
                assert_eq!(
                    WeekOfMonth::Last.contains(date),
                    date.day() > dim - 7,
                    "{date}"
                );
                date = date.succ_opt().unwrap();
            }
        }
        // February of a common year: Last == Fourth exactly.
        assert!(WeekOfMonth::Last.contains(d(2023, 2, 22)));
        assert!(!WeekOfMonth::Last.contains(d(2023, 2, 21)));
        assert!(WeekOfMonth::Last.contains(d(2024, 2, 23)));
        assert!(!WeekOfMonth::Last.contains(d(2024, 2, 22)));
    }

    #[test]
    fn weekday_and_month_names_match_azure() {
        assert_eq!(DayOfWeek::of(d(2025, 3, 9)), DayOfWeek::Sunday);
        assert_eq!(MonthOfYear::of(d(2025, 3, 9)), MonthOfYear::March);
        assert_eq!(
            serde_json::to_string(&DayOfWeek::Wednesday).unwrap(),
            "\"Wednesday\""
        );
        assert_eq!(
            serde_json::to_string(&WeekOfMonth::Last).unwrap(),
            "\"Last\""
        );
        assert_eq!(
            serde_json::to_string(&MonthOfYear::September).unwrap(),
            "\"September\""
        );
        for (i, m) in MonthOfYear::ALL.iter().enumerate() {
            assert_eq!(MonthOfYear::of(d(2025, i as u32 + 1, 1)), *m);
        }
    }

    #[test]
    fn time_of_day_parses_plain_and_azure_forms() {
        let t = TimeOfDay::new(22, 0).unwrap();
        assert_eq!("22:00".parse::<TimeOfDay>().unwrap(), t);
        assert_eq!("22:00:00".parse::<TimeOfDay>().unwrap(), t);
        assert_eq!("2017-12-05T22:00:00Z".parse::<TimeOfDay>().unwrap(), t);
        assert_eq!("2017-12-05T22:00:00+05:00".parse::<TimeOfDay>().unwrap(), t);
        assert_eq!("2017-12-05T22:00:00.000".parse::<TimeOfDay>().unwrap(), t);
        assert!("25:00".parse::<TimeOfDay>().is_err());
        assert!("noon".parse::<TimeOfDay>().is_err());
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"22:00\"");
        let back: TimeOfDay = serde_json::from_str("\"2021-12-17T08:30:00Z\"").unwrap();
        assert_eq!(back, TimeOfDay::new(8, 30).unwrap());
        assert_eq!(
            "08:15:30".parse::<TimeOfDay>().unwrap().to_string(),
            "08:15:30"
        );
    }

    #[test]
    fn half_hour_alignment_checks_every_minute_of_the_day() {
        for h in 0..24 {
            for m in 0..60 {
                let t = TimeOfDay::new(h, m).unwrap();
                assert_eq!(t.is_half_hour_aligned(), m == 0 || m == 30, "{t}");
            }
        }
        assert!(
            !"10:00:01"
                .parse::<TimeOfDay>()
                .unwrap()
                .is_half_hour_aligned()
        );
    }

    #[test]
    fn time_zones_iana_and_common_windows_names() {
        assert_eq!(parse_time_zone("UTC", "timeZone").unwrap(), Tz::UTC);
        assert_eq!(
            parse_time_zone("Europe/Berlin", "timeZone").unwrap(),
            Tz::Europe__Berlin
        );
        for (windows, iana) in WINDOWS_TIME_ZONES {
            let tz = parse_time_zone(windows, "timeZone").unwrap();
            assert_eq!(tz.name(), *iana, "{windows}");
        }
        assert_eq!(
            parse_time_zone("Pacific Standard Time", "timeZone").unwrap(),
            Tz::America__Los_Angeles
        );
        let e = parse_time_zone("Mars Standard Time", "timeZone").unwrap_err();
        assert_eq!(e.target(), "timeZone");
        assert!(e.message().contains("IANA"), "{}", e.message());
    }
}
