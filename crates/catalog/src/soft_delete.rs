//! Soft delete (schema 4): marking vaults, items and points deleted with a
//! purge time, clearing the mark (undelete), and finding what is due for
//! purging. The rules (when, for how long) are the model's; the catalog
//! only keeps the marks. Soft-deleted vaults are invisible to
//! [`Catalog::get_vault`] and [`Catalog::list_vaults`]; soft-deleted points
//! to [`Catalog::list_points`] and [`Catalog::expired_points`].

use chrono::{DateTime, Utc};

use crate::error::{Entity, Result};
use crate::types::{Item, ItemId, Point, PointId, Vault, VaultId, ts, ts_opt};
use crate::{Catalog, CatalogError, with_pool};

/// A soft-delete mark: (deleted at, purge at); `None` clears it.
pub type DeleteMark = Option<(DateTime<Utc>, DateTime<Utc>)>;

/// Sets or clears the mark of row `$id` of `$table` and returns the row;
/// `NOT_FOUND` (as `$entity`) when there is none.
macro_rules! set_mark {
    ($cat:expr, $table:literal, $entity:expr, $id:expr, $mark:expr) => {
        with_pool!($cat, |pool, dialect| {
            sqlx::query_as(concat!(
                "UPDATE ",
                $table,
                " SET deleted_at = $2, purge_at = $3 WHERE id = $1 RETURNING *"
            ))
            .bind($id)
            .bind(ts_opt($mark.map(|m| m.0)))
            .bind(ts_opt($mark.map(|m| m.1)))
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found($entity, $id))
        })
    };
}

impl Catalog {
    /// Sets or clears an item's soft-delete mark.
    pub async fn set_item_deleted(&self, id: ItemId, mark: DeleteMark) -> Result<Item> {
        set_mark!(self, "items", Entity::Item, id, mark)
    }

    /// Sets or clears a point's soft-delete mark.
    pub async fn set_point_deleted(&self, id: PointId, mark: DeleteMark) -> Result<Point> {
        set_mark!(self, "points", Entity::Point, id, mark)
    }

    /// Sets or clears a vault's soft-delete mark.
    pub async fn set_vault_deleted(&self, id: VaultId, mark: DeleteMark) -> Result<Vault> {
        set_mark!(self, "vaults", Entity::Vault, id, mark)
    }

    /// Every vault, soft-deleted ones included (the scheduler sweeps them
    /// too, so their items get purged).
    pub async fn list_all_vaults(&self) -> Result<Vec<Vault>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as("SELECT * FROM vaults ORDER BY name")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Soft-deleted vaults, by name.
    pub async fn list_deleted_vaults(&self) -> Result<Vec<Vault>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM vaults WHERE deleted_at IS NOT NULL ORDER BY name")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// The soft-deleted vault named `name`; `NOT_FOUND` when there is none.
    pub async fn get_deleted_vault(&self, name: &str) -> Result<Vault> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM vaults WHERE name = $1 AND deleted_at IS NOT NULL")
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Vault, name))
        })
    }

    /// A vault's soft-deleted items, soonest purge first.
    pub async fn deleted_items(&self, vault_id: VaultId) -> Result<Vec<Item>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM items WHERE vault_id = $1 AND deleted_at IS NOT NULL
                 ORDER BY purge_at, id",
            )
            .bind(vault_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// A vault's soft-deleted points whose purge time is at or before `now`.
    pub async fn purgeable_points(
        &self,
        vault_id: VaultId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Point>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM points WHERE vault_id = $1 AND deleted_at IS NOT NULL
                   AND purge_at <= $2 ORDER BY purge_at, id LIMIT $3",
            )
            .bind(vault_id)
            .bind(ts(now))
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// How many items and points of a vault are *not* soft-deleted (points
    /// of a soft-deleted item count as deleted): a vault is soft-deleted
    /// only when both are 0 and it holds something.
    pub async fn live_usage(&self, vault_id: VaultId) -> Result<(i64, i64)> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM items WHERE vault_id = $1 AND deleted_at IS NULL),
                        (SELECT COUNT(*) FROM points p JOIN items i ON i.id = p.item_id
                          WHERE p.vault_id = $1 AND p.deleted_at IS NULL
                            AND i.deleted_at IS NULL)",
            )
            .bind(vault_id)
            .fetch_one(pool)
            .await?)
        })
    }
}

impl Catalog {
    /// Every point row of a vault, soft-deleted ones included (sealing
    /// store holds reads them all).
    pub async fn vault_points(&self, vault_id: VaultId) -> Result<Vec<Point>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM points WHERE vault_id = $1 ORDER BY time, id")
                    .bind(vault_id)
                    .fetch_all(pool)
                    .await?,
            )
        })
    }
}
