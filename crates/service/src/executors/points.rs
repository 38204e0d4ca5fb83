//! Recording a point the store has committed: its retention under the
//! item's policy, and the row. Shared by the backup executor and the
//! sweep's adoption of points that have no row.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{Catalog, CatalogError, Item, NewPoint, Point};
use lifeboat_model::ValidPolicy;
use lifeboat_model::point::PointOrigin;
use lifeboat_model::retention::{self, Hold, HoldScope, PointFacts, Retention, RetentionTag};

use crate::error::Result;
use crate::retention::{detail_of, same, tagged, to_columns};

/// A point row's `consistency` column for a workload's consistency.
pub(crate) fn consistency_name(c: lifeboat_model::point::Consistency) -> &'static str {
    use lifeboat_model::point::Consistency;
    match c {
        Consistency::AppConsistent => "application",
        Consistency::FileSystemConsistent => "file-system",
        Consistency::CrashConsistent => "crash",
    }
}

/// What the store says about a committed point.
pub(crate) struct Committed {
    pub store_id: String,
    pub time: DateTime<Utc>,
    pub consistency: &'static str,
    pub size: i64,
    pub added_bytes: i64,
}

/// Tags carried in the store's manifest so a point without a row can be
/// adopted: which item, how it came to be, and the service's time.
pub(crate) mod tags {
    pub const ITEM: &str = "lifeboat:item=";
    pub const JOB: &str = "lifeboat:job=";
    pub const TIME: &str = "lifeboat:time=";
    pub const SLOT: &str = "lifeboat:slot=";
    pub const RETAIN_UNTIL: &str = "lifeboat:retain-until=";

    pub fn find<'a>(tags: &'a [String], prefix: &str) -> Option<&'a str> {
        tags.iter().find_map(|t| t.strip_prefix(prefix))
    }
}

fn retention_without_policy(facts: &PointFacts) -> Retention {
    match facts.origin {
        PointOrigin::OnDemand { retain_until } => Retention {
            tags: vec![RetentionTag::OnDemand],
            rule_name: RetentionTag::OnDemand,
            expiry_time: retain_until,
            hold: None,
        },
        PointOrigin::Scheduled { .. } => Retention {
            tags: vec![RetentionTag::InstantRestore],
            rule_name: RetentionTag::InstantRestore,
            expiry_time: facts.time + TimeDelta::days(30),
            hold: None,
        },
    }
}

/// Inserts the row of a committed point with its retention. A scheduled
/// point becomes its local day's representative, so the day's earlier
/// points are re-evaluated (hourly schedules keep one point a day for the
/// long-term rules). When the row already exists (the sweep adopted the
/// point meanwhile) that row is returned.
pub(crate) async fn record_point(
    catalog: &Catalog,
    item: &Item,
    policy: Option<&ValidPolicy>,
    origin: PointOrigin,
    c: &Committed,
) -> Result<Point> {
    let facts = PointFacts {
        time: c.time,
        origin,
    };
    let mut r = match (policy, origin) {
        (None, _) => retention_without_policy(&facts),
        (Some(p), PointOrigin::OnDemand { .. }) => retention::evaluate_point(p, &facts, false),
        (Some(p), PointOrigin::Scheduled { slot }) => {
            let date = slot.date.format("%Y-%m-%d").to_string();
            let siblings = catalog.points_of_slot_date(item.id, &date).await?;
            let siblings: Vec<Point> = siblings
                .into_iter()
                .filter(|s| s.store_id != c.store_id)
                .collect();
            let mut all: Vec<PointFacts> =
                siblings.iter().map(|s| tagged(s, Some(p)).facts).collect();
            all.push(facts);
            let mut rs = retention::evaluate_item(p, &all);
            let mine = rs.pop().unwrap_or_else(|| retention_without_policy(&facts));
            for (row, mut r) in siblings.iter().zip(rs) {
                r.hold = tagged(row, Some(p)).retention.hold;
                if !same(row, &r) {
                    catalog.set_point_retention(row.id, &to_columns(&r)).await?;
                }
            }
            mine
        }
    };
    // A point that lands after protection stopped (the backup was already
    // running) is held like the others.
    if item.state.hold_scope() == HoldScope::All {
        r.hold = Some(Hold::RetainData);
    }
    let cols = to_columns(&r);
    let row = NewPoint {
        item_id: item.id,
        store_id: c.store_id.clone(),
        time: c.time,
        consistency: c.consistency.to_string(),
        tier: "vault".to_string(),
        size: c.size,
        added_bytes: c.added_bytes,
        rule_tags: cols.rule_tags,
        expiry: cols.expiry,
    };
    match catalog
        .insert_point_with(&row, &detail_of(&origin, &r))
        .await
    {
        Ok(p) => Ok(p),
        Err(CatalogError::Conflict { .. }) => catalog
            .find_point(item.vault_id, &c.store_id)
            .await?
            .ok_or_else(|| {
                crate::ServiceError::Internal(format!(
                    "point {} conflicted but has no row",
                    c.store_id
                ))
            }),
        Err(e) => Err(e.into()),
    }
}
