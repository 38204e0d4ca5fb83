//! Recovery-point rows. A row is written only after the store committed the
//! point, and deleted only after the store deleted its manifest.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use crate::error::{Entity, Result, on_unique};
use crate::types::{
    ItemId, NewPoint, Page, Paged, Point, PointDetail, PointFilter, PointId, PointRetention,
    VaultId,
};
use crate::types::{cursor, paginate, ts, ts_opt};
use crate::{BeginWrite, Catalog, CatalogError, with_pool};

/// Inserts one point with its origin and retention detail, taking its
/// vault from its item; no row when the item does not exist.
const INSERT: &str = "INSERT INTO points (vault_id, item_id, store_id, time, consistency,
                                     tier, size, added_bytes, rule_tags, expiry,
                                     slot_key, retain_until, rule_name, rule_expiry, hold)
    SELECT vault_id, id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
    FROM items WHERE id = $1
    RETURNING *";

/// Binds a [`NewPoint`] and its [`PointDetail`] to [`INSERT`]'s parameters.
macro_rules! bind_point {
    ($query:expr, $p:expr, $d:expr) => {
        $query
            .bind($p.item_id)
            .bind(&$p.store_id)
            .bind(ts($p.time))
            .bind(&$p.consistency)
            .bind(&$p.tier)
            .bind($p.size)
            .bind($p.added_bytes)
            .bind(Json(&$p.rule_tags))
            .bind(ts_opt($p.expiry))
            .bind(&$d.slot_key)
            .bind(ts_opt($d.retain_until))
            .bind(&$d.rule_name)
            .bind(ts_opt($d.rule_expiry))
            .bind(&$d.hold)
    };
}

impl Catalog {
    /// Records a point the store has committed. `CONFLICT` when the vault
    /// already has a row for that store point id, `NOT_FOUND` when the item
    /// does not exist.
    pub async fn insert_point(&self, p: &NewPoint) -> Result<Point> {
        self.insert_point_with(p, &PointDetail::default()).await
    }

    /// Records many points in one transaction: all or none (the expiry
    /// sweep adopting store points, bulk loads). Errors as
    /// [`Catalog::insert_point`].
    pub async fn insert_points(&self, points: &[NewPoint]) -> Result<Vec<Point>> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let mut out = Vec::with_capacity(points.len());
            let no_detail = PointDetail::default();
            for p in points {
                let row = bind_point!(sqlx::query_as(INSERT), p, no_detail)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| on_unique(e, Entity::Point, &p.store_id))?
                    .ok_or_else(|| CatalogError::not_found(Entity::Item, p.item_id))?;
                out.push(row);
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// As [`Catalog::insert_point`], recording how the point came to be and
    /// the retention detail behind its expiry.
    pub async fn insert_point_with(&self, p: &NewPoint, d: &PointDetail) -> Result<Point> {
        with_pool!(self, |pool, dialect| {
            bind_point!(sqlx::query_as(INSERT), p, d)
                .fetch_optional(pool)
                .await
                .map_err(|e| on_unique(e, Entity::Point, &p.store_id))?
                .ok_or_else(|| CatalogError::not_found(Entity::Item, p.item_id))
        })
    }

    /// Sets a point's retention (tags, expiry in force, rule, rule expiry,
    /// hold) after re-tagging or a change of holds.
    pub async fn set_point_retention(&self, id: PointId, r: &PointRetention) -> Result<Point> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE points SET rule_tags = $2, expiry = $3, rule_name = $4,
                    rule_expiry = $5, hold = $6
                 WHERE id = $1 RETURNING *",
            )
            .bind(id)
            .bind(Json(&r.rule_tags))
            .bind(ts_opt(r.expiry))
            .bind(&r.rule_name)
            .bind(ts_opt(r.rule_expiry))
            .bind(&r.hold)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Point, id))
        })
    }

    /// An item's scheduled points whose slot falls on local date `date`
    /// (`YYYY-MM-DD`), oldest first: the points that compete to be the day's
    /// representative for retention.
    pub async fn points_of_slot_date(&self, item_id: ItemId, date: &str) -> Result<Vec<Point>> {
        let lo = format!("{date}T");
        let hi = format!("{date}U");
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM points WHERE item_id = $1 AND slot_key >= $2 AND slot_key < $3
                 ORDER BY time, id",
            )
            .bind(item_id)
            .bind(&lo)
            .bind(&hi)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every point of an item, oldest first (re-tagging reads them all).
    pub async fn item_points(&self, item_id: ItemId) -> Result<Vec<Point>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM points WHERE item_id = $1 ORDER BY time, id")
                    .bind(item_id)
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// The store point ids a vault's rows name (the sweep compares them
    /// with the store's own list to find points to adopt).
    pub async fn point_store_ids(&self, vault_id: VaultId) -> Result<Vec<String>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_scalar("SELECT store_id FROM points WHERE vault_id = $1")
                    .bind(vault_id)
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    pub async fn get_point(&self, id: PointId) -> Result<Point> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM points WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Point, id))
        })
    }

    /// The row for a store point id, if any: the expiry sweep adopts store
    /// points that have none.
    pub async fn find_point(&self, vault_id: VaultId, store_id: &str) -> Result<Option<Point>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM points WHERE vault_id = $1 AND store_id = $2")
                    .bind(vault_id)
                    .bind(store_id)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// An item's points, newest first, a page at a time; soft-deleted
    /// points are left out.
    pub async fn list_points(
        &self,
        item_id: ItemId,
        filter: &PointFilter,
        page: &Page,
    ) -> Result<Paged<Point>> {
        self.list_points_ext(item_id, filter, page, false).await
    }

    /// As [`Catalog::list_points`]; `include_deleted` lists soft-deleted
    /// points too (schema 4).
    pub async fn list_points_ext(
        &self,
        item_id: ItemId,
        filter: &PointFilter,
        page: &Page,
        include_deleted: bool,
    ) -> Result<Paged<Point>> {
        let after = match &page.cursor {
            Some(c) => Some(cursor::decode_time(cursor::POINTS, c)?),
            None => None,
        };
        let size = page.size();
        let rows: Vec<Point> = with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("SELECT * FROM points WHERE item_id = ");
            q.push_bind(item_id);
            if !include_deleted {
                q.push(" AND deleted_at IS NULL");
            }
            if let Some(from) = filter.from {
                q.push(" AND time >= ").push_bind(ts(from));
            }
            if let Some(to) = filter.to {
                q.push(" AND time < ").push_bind(ts(to));
            }
            if let Some((time, id)) = after {
                q.push(" AND (time, id) < (")
                    .push_bind(ts(time))
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            q.push(" ORDER BY time DESC, id DESC LIMIT ")
                .push_bind(size + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(paginate(rows, size, |p| {
            cursor::encode_time(cursor::POINTS, p.time, p.id.0)
        }))
    }

    /// Points whose expiry is at or before `now`, oldest expiry first, in
    /// one vault or in all; soft-deleted points wait for their purge time
    /// instead ([`Catalog::purgeable_points`]).
    pub async fn expired_points(
        &self,
        vault_id: Option<VaultId>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Point>> {
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT * FROM points WHERE deleted_at IS NULL AND expiry IS NOT NULL AND expiry <= ",
            );
            q.push_bind(ts(now));
            if let Some(v) = vault_id {
                q.push(" AND vault_id = ").push_bind(v);
            }
            q.push(" ORDER BY expiry, id LIMIT ").push_bind(limit);
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Re-tags a point after a policy change: new retention rules and expiry.
    pub async fn update_point_retention(
        &self,
        id: PointId,
        rule_tags: &[String],
        expiry: Option<DateTime<Utc>>,
    ) -> Result<Point> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE points SET rule_tags = $2, expiry = $3 WHERE id = $1 RETURNING *",
            )
            .bind(id)
            .bind(Json(rule_tags))
            .bind(ts_opt(expiry))
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Point, id))
        })
    }

    /// Deletes a point's row (after the store deleted the point).
    pub async fn delete_point(&self, id: PointId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query("DELETE FROM points WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::Point, id));
            }
            Ok(())
        })
    }
}
