//! Read-only queries the HTTP API and its metrics need beyond the
//! per-entity operations: batch lookups (names for a page of jobs), grouped
//! counts (usage of every vault, items per policy, items per state) and the
//! newest point of every item. Each is one statement, so a list or a
//! metrics scrape costs a fixed number of round trips however many rows it
//! shows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::types::{Item, ItemId, VaultId, VaultUsage};
use crate::{Catalog, with_pool};

/// One protected item's newest recovery point, for the "last successful
/// backup age" metric (a point exists only for a backup that succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastPoint {
    pub vault: String,
    pub item: String,
    /// `None` when the item has no point yet.
    pub time: Option<DateTime<Utc>>,
}

/// `(vault, items)` rows.
type ItemCount = (VaultId, i64);
/// `(vault, points, sum of sizes, sum of added bytes)` rows.
type PointSums = (VaultId, i64, i64, i64);

impl Catalog {
    /// [`VaultUsage`] of every vault that has items or points; vaults not in
    /// the map hold nothing.
    pub async fn vault_usages(&self) -> Result<HashMap<VaultId, VaultUsage>> {
        let (items, points): (Vec<ItemCount>, Vec<PointSums>) =
            with_pool!(self, |pool, dialect| {
                let items =
                    sqlx::query_as("SELECT vault_id, COUNT(*) FROM items GROUP BY vault_id")
                        .fetch_all(pool)
                        .await?;
                let points = sqlx::query_as(
                    "SELECT vault_id, COUNT(*),
                            CAST(COALESCE(SUM(size), 0) AS BIGINT),
                            CAST(COALESCE(SUM(added_bytes), 0) AS BIGINT)
                     FROM points GROUP BY vault_id",
                )
                .fetch_all(pool)
                .await?;
                (items, points)
            });
        let mut out: HashMap<VaultId, VaultUsage> = HashMap::new();
        let empty = VaultUsage {
            items: 0,
            points: 0,
            stored_bytes: 0,
            added_bytes: 0,
        };
        for (v, n) in items {
            out.entry(v).or_insert(empty).items = n;
        }
        for (v, n, size, added) in points {
            let u = out.entry(v).or_insert(empty);
            u.points = n;
            u.stored_bytes = size;
            u.added_bytes = added;
        }
        Ok(out)
    }

    /// How many items of a vault use each policy (policies without items
    /// are absent).
    pub async fn policy_item_counts(&self, vault_id: VaultId) -> Result<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "SELECT policy_name, COUNT(*) FROM items
                 WHERE vault_id = $1 AND policy_name IS NOT NULL GROUP BY policy_name",
            )
            .bind(vault_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The names of the given items (ids that do not exist are absent).
    pub async fn item_names(&self, ids: &[ItemId]) -> Result<HashMap<ItemId, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(ItemId, String)> = with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("SELECT id, name FROM items WHERE id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The item of a vault that protects `source`, if any.
    pub async fn find_item_by_source(
        &self,
        vault_id: VaultId,
        source: &lifeboat_model::source::Source,
    ) -> Result<Option<Item>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM items WHERE vault_id = $1 AND source = $2 ORDER BY id LIMIT 1",
            )
            .bind(vault_id)
            .bind(crate::types::source_key(source))
            .fetch_optional(pool)
            .await?)
        })
    }

    /// How many items each vault has in each protection state:
    /// `(vault name, state, count)`.
    pub async fn item_state_counts(&self) -> Result<Vec<(String, String, i64)>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT v.name, i.state, COUNT(*) FROM items i JOIN vaults v ON v.id = i.vault_id
                 GROUP BY v.name, i.state ORDER BY v.name, i.state",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every item with the time of its newest recovery point.
    pub async fn last_points(&self) -> Result<Vec<LastPoint>> {
        let rows: Vec<(String, String, Option<DateTime<Utc>>)> =
            with_pool!(self, |pool, dialect| {
                // A correlated subquery walks the (item_id, time) index
                // backwards once per item, instead of grouping every point.
                sqlx::query_as(
                    "SELECT v.name, i.name,
                            (SELECT p.time FROM points p WHERE p.item_id = i.id
                             ORDER BY p.time DESC LIMIT 1)
                     FROM items i JOIN vaults v ON v.id = i.vault_id
                     ORDER BY v.name, i.name",
                )
                .fetch_all(pool)
                .await?
            });
        Ok(rows
            .into_iter()
            .map(|(vault, item, time)| LastPoint { vault, item, time })
            .collect())
    }
}
