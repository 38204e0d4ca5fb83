//! Retention: which rules keep a recovery point, when it expires, and how
//! expiries move when the policy changes or protection stops (azure.md §3).
//!
//! **Tagging.** A scheduled point is matched on the *local date of its slot*
//! (so a backup that finishes after midnight still counts for its day):
//! `daily` if the policy has daily retention, `weekly` if that date's weekday
//! is a weekly-retention day, `monthly` / `yearly` if the date matches the
//! day-based or week-based pattern (and, for yearly, the month). One point can
//! carry several tags; it expires at the **longest**: expiry = point time +
//! the rule's duration, and `ruleName` is that rule (ties go to the coarser
//! rule). An on-demand point carries `on-demand` and expires at its
//! retain-until date, whatever the policy says, now or later.
//!
//! **One point per day.** Only the last scheduled point of each local date is
//! matched against the rules (Azure: "the last backup of the day is
//! transferred to the vault"). V1 schedules take one a day, so this only
//! matters for hourly (V2) schedules; the other points of the day get the
//! `instant-restore` tag and expire after the policy's instant-restore days.
//! Deliberate difference: Azure picks the last *scheduled* backup; Lifeboat
//! picks the last point that *exists*, so a failed final run does not leave
//! the day without a long-term point. A scheduled point that no rule matches
//! (possible only after a policy change) also falls back to `instant-restore`.
//!
//! **Policy change** ([`retag`]), as azure.md states it:
//! - Durations changed → the new policy applies retroactively to every
//!   scheduled point: longer extends, shorter shortens, and a point whose new
//!   expiry has passed is marked for cleanup ([`ExpiryChange::Expired`]).
//!   A point keeps each tag whose rule still exists (so a changed weekday or
//!   date only affects new points) and gains the tags the new rules give it.
//!   Daily → weekly: daily points lose `daily` and, unless they fall on a
//!   weekly day, are cleaned up. Weekly → daily: weekly points gain `daily`
//!   and are kept for the new daily duration (plus weekly, if still there).
//! - Durations unchanged (only schedule days, times, tags, the time zone or
//!   the instant-restore days changed) → existing points keep their current
//!   tags and expiry; the change applies to new points.
//!
//! **Holds.** Stopping protection with retain-data holds every point forever;
//! retain-as-per-policy holds only the latest. A hold overrides the expiry
//! (`expiryTime` still shows what the rules say); resuming recomputes every
//! point under the new policy and clears holds, so points already past their
//! expiry are cleaned up at once (Azure: "the garbage collector runs as soon
//! as the resume operation completes").

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{DayOfWeek, MonthOfYear};
use crate::point::PointOrigin;
use crate::policy::ValidPolicy;

/// A reason a point is kept. Serialized kebab-case (`on-demand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetentionTag {
    /// Kept only for the instant-restore days (Lifeboat addition).
    InstantRestore,
    OnDemand,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// Why a point is kept regardless of its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hold {
    /// Protection stopped with retain-data: every point, forever.
    RetainData,
    /// Protection stopped with retain-as-per-policy: the latest point, forever.
    LatestPoint,
}

/// Which points of an item are held, from the item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldScope {
    /// Nothing held: points expire by policy.
    None,
    /// The latest point is held ([`Hold::LatestPoint`]).
    Latest,
    /// Every point is held ([`Hold::RetainData`]).
    All,
}

/// A point's retention: its tags, the rule that decides its expiry, the
/// expiry that rule gives, and an optional hold that overrides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    pub tags: Vec<RetentionTag>,
    /// Azure's `ruleName`: the tag with the longest expiry.
    pub rule_name: RetentionTag,
    /// Azure's `expiryTime`: when the rules let the point go.
    pub expiry_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

impl Retention {
    /// The expiry in force: `None` while held (kept indefinitely).
    pub fn effective_expiry(&self) -> Option<DateTime<Utc>> {
        match self.hold {
            Some(_) => None,
            None => Some(self.expiry_time),
        }
    }

    /// Whether the expiry sweep should delete the point at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.effective_expiry().is_some_and(|e| e <= now)
    }
}

/// What retention is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointFacts {
    pub time: DateTime<Utc>,
    pub origin: PointOrigin,
}

/// A point with its current retention, input to [`retag`] and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedPoint {
    pub facts: PointFacts,
    pub retention: Retention,
}

/// How a point's effective expiry moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpiryChange {
    Unchanged,
    /// Later than before (or now held).
    Extended,
    /// Earlier than before, but still in the future.
    Shortened,
    /// The expiry in force has passed: mark for cleanup.
    Expired,
}

/// The result of re-evaluating one point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetagOutcome {
    pub retention: Retention,
    pub change: ExpiryChange,
}

/// The end of the snapshot (instant-restore) tier for a point taken at `time`.
pub fn instant_restore_expiry(policy: &ValidPolicy, time: DateTime<Utc>) -> DateTime<Utc> {
    time + Duration::days(i64::from(policy.instant_rp_days))
}

fn add_months(t: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The expiry `tag` gives a point under `policy` (durations counted in UTC:
/// days of 24 h, calendar months clamped to the month's end). A tag whose
/// rule the policy lacks gives the instant-restore expiry.
pub fn expiry_for(policy: &ValidPolicy, facts: &PointFacts, tag: RetentionTag) -> DateTime<Utc> {
    let r = &policy.retention;
    let t = facts.time;
    let ir = instant_restore_expiry(policy, t);
    match tag {
        RetentionTag::InstantRestore => ir,
        RetentionTag::OnDemand => match facts.origin {
            PointOrigin::OnDemand { retain_until } => retain_until,
            PointOrigin::Scheduled { .. } => ir,
        },
        RetentionTag::Daily => r.daily.map_or(ir, |d| t + Duration::days(i64::from(d))),
        RetentionTag::Weekly => r
            .weekly
            .as_ref()
            .map_or(ir, |w| t + Duration::weeks(i64::from(w.weeks))),
        RetentionTag::Monthly => r.monthly.as_ref().map_or(ir, |m| add_months(t, m.months)),
        RetentionTag::Yearly => r
            .yearly
            .as_ref()
            .map_or(ir, |y| add_months(t, y.years.saturating_mul(12))),
    }
}

/// The rule tags `policy` gives a point. `representative`: the point is the
/// last scheduled point of its slot's local date (see the module docs).
pub fn tags_for(
    policy: &ValidPolicy,
    facts: &PointFacts,
    representative: bool,
) -> Vec<RetentionTag> {
    let slot = match facts.origin {
        PointOrigin::OnDemand { .. } => return vec![RetentionTag::OnDemand],
        PointOrigin::Scheduled { slot } => slot,
    };
    let mut tags = Vec::new();
    if representative {
        let r = &policy.retention;
        let date = slot.date;
        if r.daily.is_some() {
            tags.push(RetentionTag::Daily);
        }
        if r.weekly
            .as_ref()
            .is_some_and(|w| w.days.contains(&DayOfWeek::of(date)))
        {
            tags.push(RetentionTag::Weekly);
        }
        if r.monthly.as_ref().is_some_and(|m| m.pattern.matches(date)) {
            tags.push(RetentionTag::Monthly);
        }
        if r.yearly.as_ref().is_some_and(|y| {
            y.months_of_year.contains(&MonthOfYear::of(date)) && y.pattern.matches(date)
        }) {
            tags.push(RetentionTag::Yearly);
        }
    }
    if tags.is_empty() {
        tags.push(RetentionTag::InstantRestore);
    }
    tags
}

fn build(policy: &ValidPolicy, facts: &PointFacts, mut tags: Vec<RetentionTag>) -> Retention {
    tags.sort();
    tags.dedup();
    let (expiry_time, rule_name) = tags
        .iter()
        .map(|&t| (expiry_for(policy, facts, t), t))
        .max()
        .expect("at least one tag");
    Retention {
        tags,
        rule_name,
        expiry_time,
        hold: None,
    }
}

/// Retention of one new point. `representative` as for [`tags_for`].
pub fn evaluate_point(policy: &ValidPolicy, facts: &PointFacts, representative: bool) -> Retention {
    build(policy, facts, tags_for(policy, facts, representative))
}

/// For each point, whether it is the last scheduled point of its slot's
/// local date (on-demand points: `false`).
pub fn day_representatives(points: &[PointFacts]) -> Vec<bool> {
    let mut best: HashMap<chrono::NaiveDate, usize> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        let PointOrigin::Scheduled { slot } = p.origin else {
            continue;
        };
        let rank = |j: usize| match points[j].origin {
            PointOrigin::Scheduled { slot } => (slot, points[j].time),
            PointOrigin::OnDemand { .. } => unreachable!("only scheduled points are ranked"),
        };
        best.entry(slot.date)
            .and_modify(|b| {
                if rank(i) > rank(*b) {
                    *b = i;
                }
            })
            .or_insert(i);
    }
    let mut out = vec![false; points.len()];
    for i in best.into_values() {
        out[i] = true;
    }
    out
}

/// Fresh retention for all points of one item (call again for the day's
/// points when a new point arrives: an earlier point of the same day stops
/// being the day's representative).
pub fn evaluate_item(policy: &ValidPolicy, points: &[PointFacts]) -> Vec<Retention> {
    let reps = day_representatives(points);
    points
        .iter()
        .zip(reps)
        .map(|(p, rep)| evaluate_point(policy, p, rep))
        .collect()
}

fn latest_index(points: &[TaggedPoint]) -> Option<usize> {
    points
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| p.facts.time)
        .map(|(i, _)| i)
}

fn outcome(old: &Retention, new: Retention, now: DateTime<Utc>) -> RetagOutcome {
    let change = match (old.effective_expiry(), new.effective_expiry()) {
        (_, Some(n)) if n <= now => ExpiryChange::Expired,
        (None, None) => ExpiryChange::Unchanged,
        (Some(_), None) => ExpiryChange::Extended,
        (None, Some(_)) => ExpiryChange::Shortened,
        (Some(o), Some(n)) if n > o => ExpiryChange::Extended,
        (Some(o), Some(n)) if n < o => ExpiryChange::Shortened,
        _ => ExpiryChange::Unchanged,
    };
    RetagOutcome {
        retention: new,
        change,
    }
}

fn with_holds(
    points: &[TaggedPoint],
    mut retentions: Vec<Retention>,
    scope: HoldScope,
    now: DateTime<Utc>,
) -> Vec<RetagOutcome> {
    let latest = latest_index(points);
    for (i, r) in retentions.iter_mut().enumerate() {
        r.hold = match scope {
            HoldScope::None => None,
            HoldScope::All => Some(Hold::RetainData),
            HoldScope::Latest if Some(i) == latest => Some(Hold::LatestPoint),
            HoldScope::Latest => None,
        };
    }
    points
        .iter()
        .zip(retentions)
        .map(|(p, r)| outcome(&p.retention, r, now))
        .collect()
}

/// Sets the holds of `scope` on points whose retention stays as it is
/// (stopping protection, undelete). Points not covered lose any hold.
pub fn apply_holds(
    points: &[TaggedPoint],
    scope: HoldScope,
    now: DateTime<Utc>,
) -> Vec<RetagOutcome> {
    let current = points.iter().map(|p| p.retention.clone()).collect();
    with_holds(points, current, scope, now)
}

/// Re-evaluates every point under `policy` (resume, or a policy change that
/// alters durations): each point keeps the tags whose rules `policy` still
/// has, gains those `policy` now gives it, and gets `scope`'s holds.
pub fn reapply(
    points: &[TaggedPoint],
    policy: &ValidPolicy,
    scope: HoldScope,
    now: DateTime<Utc>,
) -> Vec<RetagOutcome> {
    let facts: Vec<PointFacts> = points.iter().map(|p| p.facts).collect();
    let reps = day_representatives(&facts);
    let r = &policy.retention;
    let still_exists = |t: RetentionTag| match t {
        RetentionTag::Daily => r.daily.is_some(),
        RetentionTag::Weekly => r.weekly.is_some(),
        RetentionTag::Monthly => r.monthly.is_some(),
        RetentionTag::Yearly => r.yearly.is_some(),
        RetentionTag::OnDemand | RetentionTag::InstantRestore => false,
    };
    let retentions = points
        .iter()
        .zip(reps)
        .map(|(p, rep)| {
            let mut tags: Vec<RetentionTag> = p
                .retention
                .tags
                .iter()
                .copied()
                .filter(|&t| still_exists(t))
                .collect();
            let fresh = tags_for(policy, &p.facts, rep);
            if tags.is_empty() || fresh != [RetentionTag::InstantRestore] {
                tags.extend(fresh);
            }
            build(policy, &p.facts, tags)
        })
        .collect();
    with_holds(points, retentions, scope, now)
}

/// Re-tags an item's points after its policy changed from `old` to `new`
/// (editing the policy, or moving the item to another policy). See the
/// module docs for the rules; `scope` comes from the item's state.
pub fn retag(
    points: &[TaggedPoint],
    old: &ValidPolicy,
    new: &ValidPolicy,
    scope: HoldScope,
    now: DateTime<Utc>,
) -> Vec<RetagOutcome> {
    if old.retention.durations() == new.retention.durations() {
        apply_holds(points, scope, now)
    } else {
        reapply(points, new, scope, now)
    }
}
