//! Between catalog point rows and the model's retention types: a row's
//! origin and retention as `TaggedPoint`, and a model `Retention` as the
//! columns that store it. Pure conversions.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Point, PointDetail, PointRetention};
use lifeboat_model::ValidPolicy;
use lifeboat_model::point::PointOrigin;
use lifeboat_model::retention::{Hold, PointFacts, Retention, RetentionTag, TaggedPoint};
use lifeboat_model::schedule::SlotKey;

pub(crate) fn tag_str(t: RetentionTag) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{t:?}"),
    }
}

fn parse_tag(s: &str) -> Option<RetentionTag> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn hold_str(h: Hold) -> String {
    match serde_json::to_value(h) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{h:?}"),
    }
}

fn parse_hold(s: &str) -> Option<Hold> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// The origin recorded in a row. Rows written without the detail (before
/// schema 2, or synthetic ones) fall back: `on-demand` tagged rows are
/// on-demand until their expiry, others count as scheduled at their local
/// time in the policy's zone.
pub(crate) fn origin_of(p: &Point, policy: Option<&ValidPolicy>) -> PointOrigin {
    if let Some(key) = p
        .slot_key
        .as_deref()
        .and_then(|k| k.parse::<SlotKey>().ok())
    {
        return PointOrigin::Scheduled { slot: key };
    }
    if let Some(until) = p.retain_until {
        return PointOrigin::OnDemand {
            retain_until: until,
        };
    }
    if p.rule_tags.iter().any(|t| t == "on-demand") {
        return PointOrigin::OnDemand {
            retain_until: p
                .rule_expiry
                .or(p.expiry)
                .unwrap_or(p.time + TimeDelta::days(30)),
        };
    }
    let local = match policy {
        Some(pol) => p.time.with_timezone(&pol.time_zone).naive_local(),
        None => p.time.naive_utc(),
    };
    PointOrigin::Scheduled {
        slot: SlotKey::new(local.date(), local.time()),
    }
}

/// A row as the model's input to re-tagging.
pub(crate) fn tagged(p: &Point, policy: Option<&ValidPolicy>) -> TaggedPoint {
    let mut tags: Vec<RetentionTag> = p.rule_tags.iter().filter_map(|t| parse_tag(t)).collect();
    if tags.is_empty() {
        tags.push(RetentionTag::InstantRestore);
    }
    tags.sort();
    tags.dedup();
    let rule_name = p
        .rule_name
        .as_deref()
        .and_then(parse_tag)
        .or_else(|| tags.iter().copied().max())
        .unwrap_or(RetentionTag::InstantRestore);
    let expiry_time = p
        .rule_expiry
        .or(p.expiry)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    TaggedPoint {
        facts: PointFacts {
            time: p.time,
            origin: origin_of(p, policy),
        },
        retention: Retention {
            tags,
            rule_name,
            expiry_time,
            hold: p.hold.as_deref().and_then(parse_hold),
        },
    }
}

/// The columns that store a retention.
pub(crate) fn to_columns(r: &Retention) -> PointRetention {
    PointRetention {
        rule_tags: r.tags.iter().map(|t| tag_str(*t)).collect(),
        expiry: r.effective_expiry(),
        rule_name: Some(tag_str(r.rule_name)),
        rule_expiry: Some(r.expiry_time),
        hold: r.hold.map(hold_str),
    }
}

/// The detail columns of a new point.
pub(crate) fn detail_of(origin: &PointOrigin, r: &Retention) -> PointDetail {
    let (slot_key, retain_until) = match origin {
        PointOrigin::Scheduled { slot } => (Some(slot.to_string()), None),
        PointOrigin::OnDemand { retain_until } => (None, Some(*retain_until)),
    };
    PointDetail {
        slot_key,
        retain_until,
        rule_name: Some(tag_str(r.rule_name)),
        rule_expiry: Some(r.expiry_time),
        hold: r.hold.map(hold_str),
    }
}

/// Whether a row already stores `r` (so re-tagging can skip the write).
pub(crate) fn same(p: &Point, r: &Retention) -> bool {
    let c = to_columns(r);
    p.rule_tags == c.rule_tags
        && p.expiry == c.expiry.map(lifeboat_catalog::trunc_micros)
        && p.rule_name == c.rule_name
        && p.rule_expiry == c.rule_expiry.map(lifeboat_catalog::trunc_micros)
        && p.hold == c.hold
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_catalog::{ItemId, PointId, VaultId};

    fn row() -> Point {
        Point {
            id: PointId(1),
            vault_id: VaultId(1),
            item_id: ItemId(1),
            store_id: "ab".into(),
            time: DateTime::parse_from_rfc3339("2026-03-08T03:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            consistency: "file-system".into(),
            tier: "vault".into(),
            size: 1,
            added_bytes: 1,
            rule_tags: vec!["daily".into(), "weekly".into()],
            expiry: None,
            slot_key: Some("2026-03-07T22:00".into()),
            retain_until: None,
            rule_name: Some("weekly".into()),
            rule_expiry: Some(
                DateTime::parse_from_rfc3339("2026-04-05T03:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            hold: Some("retain-data".into()),
            deleted_at: None,
            purge_at: None,
        }
    }

    #[test]
    fn a_row_round_trips_through_the_model() {
        let p = row();
        let t = tagged(&p, None);
        assert_eq!(
            t.retention.tags,
            [RetentionTag::Daily, RetentionTag::Weekly]
        );
        assert_eq!(t.retention.rule_name, RetentionTag::Weekly);
        assert_eq!(t.retention.hold, Some(Hold::RetainData));
        assert_eq!(t.retention.effective_expiry(), None);
        assert!(
            matches!(t.facts.origin, PointOrigin::Scheduled { slot } if slot.to_string() == "2026-03-07T22:00")
        );
        let c = to_columns(&t.retention);
        assert_eq!(c.rule_tags, ["daily", "weekly"]);
        assert_eq!(c.hold.as_deref(), Some("retain-data"));
        assert_eq!(c.expiry, None);
        assert!(same(&p, &t.retention));
    }

    #[test]
    fn rows_without_detail_get_a_sensible_origin() {
        let mut p = row();
        p.slot_key = None;
        p.rule_tags = vec!["on-demand".into()];
        p.rule_expiry = None;
        p.expiry = Some(p.time + TimeDelta::days(3));
        assert_eq!(
            origin_of(&p, None),
            PointOrigin::OnDemand {
                retain_until: p.time + TimeDelta::days(3)
            }
        );
    }
}
