//! Recovery points: what the catalog records about one backup of one item —
//! identity, time, consistency, tier, sizes, how it came to be (a schedule
//! slot or an on-demand backup with a retain-until date) and the retention
//! that keeps it ([`crate::retention::Retention`]).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};
use crate::retention::{PointFacts, Retention, TaggedPoint};
use crate::schedule::SlotKey;

/// A recovery point id (assigned by the store; opaque here).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecoveryPointId(pub String);

impl fmt::Display for RecoveryPointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Azure's `recoveryPointType` values that Lifeboat produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Consistency {
    /// Application-consistent (pre/post scripts ran). Reserved.
    AppConsistent,
    FileSystemConsistent,
    CrashConsistent,
}

/// Where the point's data lives. Only `vault` exists today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Instant-restore snapshot tier (Azure `InstantRP`). Reserved.
    Snapshot,
    /// Vault-standard (Azure `HardenedRP`).
    #[default]
    Vault,
    /// Archive (Azure `ArchivedRP`). Reserved.
    Archive,
}

/// How a point came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PointOrigin {
    /// Taken for a schedule slot; retention rules match on the slot's local
    /// date, not on when the backup finished.
    #[serde(rename_all = "camelCase")]
    Scheduled { slot: SlotKey },
    /// `backup-now`: kept until `retain_until`, whatever the policy says.
    #[serde(rename_all = "camelCase")]
    OnDemand { retain_until: DateTime<Utc> },
}

/// Default retention of an on-demand backup when no `retainUntil` is given.
pub const ON_DEMAND_DEFAULT_DAYS: i64 = 30;
/// The furthest an on-demand `retainUntil` may be (the yearly maximum, 99 years).
pub const ON_DEMAND_MAX_DAYS: i64 = 99 * 366;

/// Checks an on-demand backup's `retainUntil` (`None` = 30 days from `now`)
/// and returns it: after `now`, at most 99 years ahead.
pub fn on_demand_retain_until(
    retain_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ModelError> {
    let until = retain_until.unwrap_or(now + Duration::days(ON_DEMAND_DEFAULT_DAYS));
    if until <= now {
        return Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "retainUntil",
            format!("retainUntil must be in the future (got {until}, now {now})"),
        ));
    }
    if until > now + Duration::days(ON_DEMAND_MAX_DAYS) {
        return Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "retainUntil",
            format!("retainUntil must be at most 99 years ahead (got {until})"),
        ));
    }
    Ok(until)
}

/// A recovery point as the catalog and API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    pub id: RecoveryPointId,
    /// Server-received time.
    pub time: DateTime<Utc>,
    pub consistency: Consistency,
    pub tier: Tier,
    /// Logical size of the protected data, bytes.
    pub size_bytes: u64,
    /// Bytes this point added to the vault (after dedup and compression).
    pub added_bytes: u64,
    pub origin: PointOrigin,
    #[serde(flatten)]
    pub retention: Retention,
}

impl RecoveryPoint {
    /// The facts retention is computed from.
    pub fn facts(&self) -> PointFacts {
        PointFacts {
            time: self.time,
            origin: self.origin,
        }
    }

    /// Facts plus current retention, for [`crate::retention::retag`].
    pub fn tagged(&self) -> TaggedPoint {
        TaggedPoint {
            facts: self.facts(),
            retention: self.retention.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::RetentionTag;
    use chrono::TimeZone;

    #[test]
    fn retain_until_defaults_and_edges() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            on_demand_retain_until(None, now).unwrap(),
            now + Duration::days(30)
        );
        assert!(on_demand_retain_until(Some(now), now).is_err());
        assert!(on_demand_retain_until(Some(now + Duration::seconds(1)), now).is_ok());
        let max = now + Duration::days(ON_DEMAND_MAX_DAYS);
        assert!(on_demand_retain_until(Some(max), now).is_ok());
        let e = on_demand_retain_until(Some(max + Duration::seconds(1)), now).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(e.target(), "retainUntil");
    }

    #[test]
    fn point_json_shape() {
        let t = Utc.with_ymd_and_hms(2025, 3, 9, 22, 5, 0).unwrap();
        let p = RecoveryPoint {
            id: RecoveryPointId("rp1".into()),
            time: t,
            consistency: Consistency::FileSystemConsistent,
            tier: Tier::Vault,
            size_bytes: 10,
            added_bytes: 3,
            origin: PointOrigin::Scheduled {
                slot: "2025-03-09T22:00".parse().unwrap(),
            },
            retention: Retention {
                tags: vec![RetentionTag::Daily, RetentionTag::Weekly],
                rule_name: RetentionTag::Weekly,
                expiry_time: t + Duration::weeks(4),
                hold: None,
            },
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["id"], "rp1");
        assert_eq!(v["consistency"], "FileSystemConsistent");
        assert_eq!(v["tier"], "vault");
        assert_eq!(v["sizeBytes"], 10);
        assert_eq!(v["addedBytes"], 3);
        assert_eq!(
            v["origin"],
            serde_json::json!({"kind": "scheduled", "slot": "2025-03-09T22:00"})
        );
        assert_eq!(v["tags"], serde_json::json!(["daily", "weekly"]));
        assert_eq!(v["ruleName"], "weekly");
        assert_eq!(v["expiryTime"], "2025-04-06T22:05:00Z");
        assert!(v.get("hold").is_none());
        let back: RecoveryPoint = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        let od = PointOrigin::OnDemand { retain_until: t };
        assert_eq!(
            serde_json::to_value(od).unwrap(),
            serde_json::json!({"kind": "onDemand", "retainUntil": "2025-03-09T22:05:00Z"})
        );
        assert_eq!(p.tagged().facts, p.facts());
    }
}
