//! Security alerts of a vault (schema 4): an append-only list the API shows.

use crate::error::Result;
use crate::types::{Alert, NewAlert, VaultId, ts};
use crate::{Catalog, with_pool};

impl Catalog {
    /// Records an alert; `None` when one with the same `dedup_key` exists.
    pub async fn insert_alert(&self, a: &NewAlert) -> Result<Option<Alert>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "INSERT INTO alerts (vault_id, kind, item_name, time, message, dedup_key)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING RETURNING *",
            )
            .bind(a.vault_id)
            .bind(&a.kind)
            .bind(&a.item_name)
            .bind(ts(a.time))
            .bind(&a.message)
            .bind(&a.dedup_key)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// A vault's alerts, newest first, at most `limit`, optionally of one kind.
    pub async fn list_alerts(
        &self,
        vault_id: VaultId,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Alert>> {
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("SELECT * FROM alerts WHERE vault_id = ");
            q.push_bind(vault_id);
            if let Some(k) = kind {
                q.push(" AND kind = ").push_bind(k.to_string());
            }
            q.push(" ORDER BY time DESC, id DESC LIMIT ")
                .push_bind(limit);
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }
}
