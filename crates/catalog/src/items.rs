//! Protected items.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::error::{Entity, Result, deleted_unless_referenced, is_fk_violation, on_unique};
use crate::types::{
    Item, ItemId, ItemPatch, JobId, NewItem, NewJob, Page, Paged, PlanResult, PlannedSlot, VaultId,
    cursor,
};
use crate::types::{paginate, source_key, ts, ts_opt};
use crate::{BeginWrite, Catalog, CatalogError, with_pool};
use lifeboat_model::job::JobStatus;

/// Plans per statement in [`Catalog::plan_slots`]: 7 binds a job row, so
/// 500 stays far below both drivers' parameter limits.
const PLAN_ROWS_PER_STATEMENT: usize = 500;

impl Catalog {
    /// Protects a data source: `CONFLICT` when the vault already has an item
    /// of that name, `NOT_FOUND` when the vault or the policy does not exist.
    pub async fn create_item(&self, it: &NewItem) -> Result<Item> {
        let inserted: Result<Item, sqlx::Error> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "INSERT INTO items (vault_id, name, workload, source, source_spec, policy_name,
                                    state, health, settings, next_run, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
            )
            .bind(it.vault_id)
            .bind(&it.name)
            .bind(it.source.kind().as_str())
            .bind(source_key(&it.source))
            .bind(sqlx::types::Json(&it.source))
            .bind(&it.policy_name)
            .bind(it.state.as_str())
            .bind(it.health.as_str())
            .bind(&it.settings)
            .bind(ts_opt(it.next_run))
            .bind(ts(it.created))
            .fetch_one(pool)
            .await
        });
        match inserted {
            Ok(item) => Ok(item),
            Err(e) if is_fk_violation(&e) => {
                self.get_vault_by_id(it.vault_id).await?;
                Err(CatalogError::not_found(
                    Entity::Policy,
                    it.policy_name.as_deref().unwrap_or_default(),
                ))
            }
            Err(e) => Err(on_unique(e, Entity::Item, &it.name)),
        }
    }

    pub async fn get_item(&self, vault_id: VaultId, name: &str) -> Result<Item> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM items WHERE vault_id = $1 AND name = $2")
                .bind(vault_id)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Item, name))
        })
    }

    pub async fn get_item_by_id(&self, id: ItemId) -> Result<Item> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM items WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Item, id))
        })
    }

    /// A vault's items by name, a page at a time.
    pub async fn list_items(&self, vault_id: VaultId, page: &Page) -> Result<Paged<Item>> {
        let after = match &page.cursor {
            Some(c) => Some(cursor::decode_name(cursor::ITEMS, c)?),
            None => None,
        };
        let size = page.size();
        let rows: Vec<Item> = with_pool!(self, |pool, dialect| {
            match &after {
                None => {
                    sqlx::query_as("SELECT * FROM items WHERE vault_id = $1 ORDER BY name LIMIT $2")
                        .bind(vault_id)
                        .bind(size + 1)
                        .fetch_all(pool)
                        .await?
                }
                Some(after) => {
                    sqlx::query_as(
                        "SELECT * FROM items WHERE vault_id = $1 AND name > $2
                         ORDER BY name LIMIT $3",
                    )
                    .bind(vault_id)
                    .bind(after)
                    .bind(size + 1)
                    .fetch_all(pool)
                    .await?
                }
            }
        });
        Ok(paginate(rows, size, |i| {
            cursor::encode_name(cursor::ITEMS, &i.name)
        }))
    }

    /// Items whose next scheduled run is at or before `now`, soonest first.
    pub async fn due_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Item>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM items WHERE next_run IS NOT NULL AND next_run <= $1
                 ORDER BY next_run, id LIMIT $2",
            )
            .bind(ts(now))
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Applies a partial update and returns the item as it now is.
    /// `NOT_FOUND` when the item, or the policy it is moved to, is missing.
    pub async fn update_item(&self, id: ItemId, p: &ItemPatch) -> Result<Item> {
        let updated: Result<Option<Item>, sqlx::Error> = with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE items SET
                    state = COALESCE($2, state),
                    policy_name = CASE WHEN $3 THEN $4 ELSE policy_name END,
                    last_backup_time = CASE WHEN $5 THEN $6 ELSE last_backup_time END,
                    last_backup_status = CASE WHEN $7 THEN $8 ELSE last_backup_status END,
                    next_run = CASE WHEN $9 THEN $10 ELSE next_run END,
                    health = COALESCE($11, health),
                    settings = COALESCE($12, settings)
                 WHERE id = $1 RETURNING *",
            )
            .bind(id)
            .bind(p.state.map(|s| s.as_str()))
            .bind(p.policy_name.is_some())
            .bind(p.policy_name.clone().flatten())
            .bind(p.last_backup_time.is_some())
            .bind(ts_opt(p.last_backup_time.flatten()))
            .bind(p.last_backup_status.is_some())
            .bind(p.last_backup_status.flatten().map(|s| s.as_str()))
            .bind(p.next_run.is_some())
            .bind(ts_opt(p.next_run.flatten()))
            .bind(p.health.map(|h| h.as_str()))
            .bind(p.settings.as_ref())
            .fetch_optional(pool)
            .await
        });
        match updated {
            Ok(Some(item)) => Ok(item),
            Ok(None) => Err(CatalogError::not_found(Entity::Item, id)),
            Err(e) if is_fk_violation(&e) => Err(CatalogError::not_found(
                Entity::Policy,
                p.policy_name.clone().flatten().unwrap_or_default(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves an item's next run from `expected` to `next`, only if it is
    /// still `expected` (compare-and-set): of several schedulers that
    /// planned the same slot, one advances the watermark and the others
    /// see `false`, and a slow one never moves it back.
    pub async fn advance_next_run(
        &self,
        id: ItemId,
        expected: Option<DateTime<Utc>>,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let n = with_pool!(self, |pool, dialect| {
            match expected {
                Some(e) => {
                    sqlx::query("UPDATE items SET next_run = $2 WHERE id = $1 AND next_run = $3")
                        .bind(id)
                        .bind(ts_opt(next))
                        .bind(ts(e))
                        .execute(pool)
                        .await?
                        .rows_affected()
                }
                None => {
                    sqlx::query("UPDATE items SET next_run = $2 WHERE id = $1 AND next_run IS NULL")
                        .bind(id)
                        .bind(ts_opt(next))
                        .execute(pool)
                        .await?
                        .rows_affected()
                }
            }
        });
        Ok(n > 0)
    }

    /// Applies a batch of planning steps in one transaction (one durable
    /// commit for the whole batch): each queues its job like
    /// [`Catalog::enqueue`] and moves its item's watermark like
    /// [`Catalog::advance_next_run`].
    pub async fn plan_slots(&self, plans: &[PlannedSlot]) -> Result<Vec<PlanResult>> {
        if plans.is_empty() {
            return Ok(Vec::new());
        }
        // Two statements per chunk of plans, not two per plan: on
        // PostgreSQL every statement is a round trip, and a day of 10,000
        // items is tens of thousands of slots.
        let mut out = Vec::with_capacity(plans.len());
        for chunk in plans.chunks(PLAN_ROWS_PER_STATEMENT) {
            out.extend(self.plan_chunk(chunk).await?);
        }
        Ok(out)
    }

    async fn plan_chunk(&self, plans: &[PlannedSlot]) -> Result<Vec<PlanResult>> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let jobs: Vec<&NewJob> = plans.iter().filter_map(|p| p.job.as_ref()).collect();
            let mut queued: HashSet<(i64, String)> = HashSet::new();
            if !jobs.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO jobs (vault_id, item_id, job_type, state, slot_key, queued_at, params) ",
                );
                q.push_values(&jobs, |mut row, job| {
                    row.push_bind(job.vault_id)
                        .push_bind(job.item_id)
                        .push_bind(job.job_type.as_str())
                        .push("'Queued'")
                        .push_bind(&job.slot_key)
                        .push_bind(ts(job.queued_at))
                        .push_bind(&job.params);
                });
                q.push(" ON CONFLICT DO NOTHING RETURNING item_id, slot_key");
                let rows: Vec<(Option<ItemId>, Option<String>)> =
                    q.build_query_as().fetch_all(&mut *tx).await?;
                for (item, slot) in rows {
                    if let (Some(item), Some(slot)) = (item, slot) {
                        queued.insert((item.0, slot));
                    }
                }
            }
            // Compare-and-set of every watermark at once.
            let mut q = sqlx::QueryBuilder::new("WITH v (item, next_at, expected_at) AS (VALUES ");
            let mut rows = q.separated(", ");
            for p in plans {
                rows.push("(")
                    .push_bind_unseparated(p.item_id)
                    .push_unseparated(", ")
                    .push_bind_unseparated(ts_opt(p.next))
                    .push_unseparated(", ")
                    .push_bind_unseparated(ts(p.expected))
                    .push_unseparated(")");
            }
            q.push(
                ") UPDATE items SET next_run = v.next_at FROM v \
                 WHERE items.id = v.item AND items.next_run = v.expected_at RETURNING id",
            );
            let advanced: HashSet<ItemId> = q
                .build_query_scalar::<ItemId>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            tx.commit().await?;
            Ok(plans
                .iter()
                .map(|p| PlanResult {
                    queued: p.job.as_ref().is_some_and(|j| {
                        j.slot_key
                            .as_ref()
                            .is_some_and(|k| queued.contains(&(p.item_id.0, k.clone())))
                    }),
                    advanced: advanced.contains(&p.item_id),
                })
                .collect())
        })
    }

    /// Items in one of `states` with a policy but no next run: items the
    /// scheduler has not planned yet (or whose plan was reset).
    pub async fn unplanned_items(&self, states: &[&str], limit: i64) -> Result<Vec<Item>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT * FROM items WHERE next_run IS NULL AND policy_name IS NOT NULL AND state IN (",
            );
            let mut list = q.separated(", ");
            for s in states {
                list.push_bind(*s);
            }
            q.push(") ORDER BY id LIMIT ").push_bind(limit);
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Removes an item's row; its finished jobs stay, without the item.
    /// `IN_USE` while it has recovery points or queued or running jobs
    /// (delete the points through the store first).
    pub async fn delete_item(&self, id: ItemId) -> Result<()> {
        self.delete_item_for_job(id, None).await
    }

    /// As [`Catalog::delete_item`], for the job that deletes the item: that
    /// job (`job`, still in progress) does not count as a running job.
    pub async fn delete_item_for_job(&self, id: ItemId, job: Option<JobId>) -> Result<()> {
        let except = job.map(|j| j.0).unwrap_or(-1);
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM items WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(name) = name else {
                return Err(CatalogError::not_found(Entity::Item, id));
            };
            let (points, active): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM points WHERE item_id = $1),
                        (SELECT COUNT(*) FROM jobs WHERE item_id = $1 AND state IN ($2, $3, $4)
                           AND id <> $5)",
            )
            .bind(id)
            .bind(JobStatus::Queued.as_str())
            .bind(JobStatus::InProgress.as_str())
            .bind(JobStatus::Cancelling.as_str())
            .bind(except)
            .fetch_one(&mut *tx)
            .await?;
            if points > 0 || active > 0 {
                return Err(CatalogError::in_use(
                    Entity::Item,
                    name,
                    format!(
                        "it has {points} recovery point(s) and {active} queued or running job(s)"
                    ),
                ));
            }
            deleted_unless_referenced(
                sqlx::query("DELETE FROM items WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await,
                Entity::Item,
                &name,
                "a recovery point was added concurrently",
            )?;
            tx.commit().await?;
            Ok(())
        })
    }
}
