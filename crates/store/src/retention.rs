//! Which points `forget` keeps: pure logic, no I/O, tested exhaustively.
//!
//! Rules work like the keep options users know from other tools: points are
//! taken newest first; `last` keeps the newest N; each calendar rule keeps
//! the newest point of each of the N most recent hours / days / ISO weeks /
//! months / years that have a point; `within` keeps everything newer than
//! a duration before the newest point. A point is kept when any rule keeps
//! it, and the reasons are reported. Calendar buckets are taken in UTC.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeepPolicy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    pub within: Option<Duration>,
}

impl KeepPolicy {
    pub fn is_empty(&self) -> bool {
        self.last == 0
            && self.hourly == 0
            && self.daily == 0
            && self.weekly == 0
            && self.monthly == 0
            && self.yearly == 0
            && self.within.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<T> {
    pub item: T,
    pub time: DateTime<Utc>,
    pub keep: bool,
    pub reasons: Vec<&'static str>,
}

/// Parses `7d`, `12h`, `2w`, `1m` (30 days), `1y` (365 days), or combinations like `1y6m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        total += match ch {
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            'w' => Duration::weeks(n),
            'm' => Duration::days(30 * n),
            'y' => Duration::days(365 * n),
            _ => return None,
        };
    }
    (num.is_empty() && !s.is_empty()).then_some(total)
}

/// Decides for every point. `points` may be in any order; the result is newest first.
pub fn decide<T: Clone>(points: &[(T, DateTime<Utc>)], policy: &KeepPolicy) -> Vec<Decision<T>> {
    let mut sorted: Vec<(T, DateTime<Utc>)> = points.to_vec();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.1));
    let mut out: Vec<Decision<T>> = sorted
        .iter()
        .map(|(item, time)| Decision {
            item: item.clone(),
            time: *time,
            keep: false,
            reasons: vec![],
        })
        .collect();
    let newest = sorted.first().map(|p| p.1);
    for (i, d) in out.iter_mut().enumerate() {
        if (i as u32) < policy.last {
            d.keep = true;
            d.reasons.push("last");
        }
        if let (Some(w), Some(newest)) = (policy.within, newest)
            && d.time >= newest - w
        {
            d.keep = true;
            d.reasons.push("within");
        }
    }
    type Bucket = fn(&DateTime<Utc>) -> i64;
    let rules: [(u32, &'static str, Bucket); 5] = [
        (policy.hourly, "hourly", |t| t.timestamp().div_euclid(3600)),
        (policy.daily, "daily", |t| t.num_days_from_ce() as i64),
        (policy.weekly, "weekly", |t| {
            let w = t.iso_week();
            w.year() as i64 * 100 + w.week() as i64
        }),
        (policy.monthly, "monthly", |t| {
            t.year() as i64 * 100 + t.month() as i64
        }),
        (policy.yearly, "yearly", |t| t.year() as i64),
    ];
    for (count, name, bucket) in rules {
        let mut left = count;
        let mut last_bucket = None;
        for d in out.iter_mut() {
            if left == 0 {
                break;
            }
            let b = bucket(&d.time);
            if last_bucket != Some(b) {
                last_bucket = Some(b);
                d.keep = true;
                d.reasons.push(name);
                left -= 1;
            }
        }
    }
    out
}

/// Hour of day, for callers that show buckets.
pub fn hour_of(t: &DateTime<Utc>) -> u32 {
    t.hour()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap()
    }

    fn kept(points: &[(u32, DateTime<Utc>)], p: &KeepPolicy) -> Vec<u32> {
        let mut k: Vec<u32> = decide(points, p)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.item)
            .collect();
        k.sort();
        k
    }

    #[test]
    fn empty_policy_keeps_nothing_and_is_empty() {
        let pts = vec![(1, at(2026, 1, 1, 0))];
        assert!(KeepPolicy::default().is_empty());
        assert!(kept(&pts, &KeepPolicy::default()).is_empty());
    }

    #[test]
    fn last_n() {
        let pts: Vec<_> = (0..10).map(|i| (i, at(2026, 1, 1, i))).collect();
        assert_eq!(
            kept(
                &pts,
                &KeepPolicy {
                    last: 3,
                    ..Default::default()
                }
            ),
            vec![7, 8, 9]
        );
        assert_eq!(
            kept(
                &pts,
                &KeepPolicy {
                    last: 30,
                    ..Default::default()
                }
            )
            .len(),
            10
        );
    }

    #[test]
    fn daily_keeps_newest_of_each_day() {
        // Four points a day for 10 days.
        let mut pts = Vec::new();
        for d in 1..=10 {
            for h in [1, 7, 13, 19] {
                pts.push((d * 100 + h, at(2026, 3, d, h)));
            }
        }
        let k = kept(
            &pts,
            &KeepPolicy {
                daily: 3,
                ..Default::default()
            },
        );
        assert_eq!(k, vec![819, 919, 1019]);
    }

    #[test]
    fn weekly_monthly_yearly_buckets() {
        let mut pts = Vec::new();
        let mut t = at(2024, 1, 1, 12);
        let mut i = 0;
        while t < at(2026, 12, 31, 0) {
            pts.push((i, t));
            t += Duration::days(1);
            i += 1;
        }
        let dec = decide(
            &pts,
            &KeepPolicy {
                weekly: 4,
                monthly: 6,
                yearly: 3,
                ..Default::default()
            },
        );
        let weekly = dec.iter().filter(|d| d.reasons.contains(&"weekly")).count();
        let monthly: Vec<_> = dec
            .iter()
            .filter(|d| d.reasons.contains(&"monthly"))
            .collect();
        let yearly: Vec<_> = dec
            .iter()
            .filter(|d| d.reasons.contains(&"yearly"))
            .collect();
        assert_eq!(weekly, 4);
        assert_eq!(monthly.len(), 6);
        assert_eq!(yearly.len(), 3);
        // Each monthly keeper is the last day present of its month.
        for m in &monthly {
            assert!(
                (m.time + Duration::days(1)).month() != m.time.month()
                    || m.time.date_naive() == at(2026, 12, 30, 0).date_naive()
            );
        }
        assert_eq!(
            yearly.iter().map(|d| d.time.year()).collect::<Vec<_>>(),
            vec![2026, 2025, 2024]
        );
        // Weekly keepers fall in four distinct ISO weeks.
        let weeks: std::collections::HashSet<_> = dec
            .iter()
            .filter(|d| d.reasons.contains(&"weekly"))
            .map(|d| d.time.iso_week())
            .collect();
        assert_eq!(weeks.len(), 4);
    }

    #[test]
    fn within_is_relative_to_newest_point() {
        let pts: Vec<_> = (0..20)
            .map(|i| (i, at(2026, 5, 1, 0) + Duration::days(i as i64)))
            .collect();
        let k = kept(
            &pts,
            &KeepPolicy {
                within: Some(Duration::days(3)),
                ..Default::default()
            },
        );
        assert_eq!(k, vec![16, 17, 18, 19]);
    }

    #[test]
    fn rules_combine_and_every_point_gets_a_decision() {
        // Exhaustive over small shapes: every point is decided exactly once,
        // keepers are a superset of each rule alone.
        let base = at(2026, 1, 1, 0);
        for n in 0..30u32 {
            let pts: Vec<_> = (0..n)
                .map(|i| (i, base + Duration::hours(7 * i as i64)))
                .collect();
            for last in 0..3 {
                for daily in 0..4 {
                    let p = KeepPolicy {
                        last,
                        daily,
                        ..Default::default()
                    };
                    let d = decide(&pts, &p);
                    assert_eq!(d.len(), n as usize);
                    let both = kept(&pts, &p);
                    let only_last = kept(
                        &pts,
                        &KeepPolicy {
                            last,
                            ..Default::default()
                        },
                    );
                    let only_daily = kept(
                        &pts,
                        &KeepPolicy {
                            daily,
                            ..Default::default()
                        },
                    );
                    assert!(only_last.iter().all(|x| both.contains(x)));
                    assert!(only_daily.iter().all(|x| both.contains(x)));
                    assert_eq!(only_last.len(), (last as usize).min(n as usize));
                }
            }
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(Duration::days(7)));
        assert_eq!(parse_duration("1y6m"), Some(Duration::days(365 + 180)));
        assert_eq!(parse_duration("12h"), Some(Duration::hours(12)));
        for bad in ["", "7", "d", "7x", "-1d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
