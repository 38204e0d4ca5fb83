//! Vaults.

use serde_json::Value;

use crate::error::{Entity, Result, deleted_unless_referenced, on_unique};
use crate::types::{NewVault, Vault, VaultId, VaultUsage, ts};
use crate::{BeginWrite, Catalog, CatalogError, with_pool};
use lifeboat_model::job::JobStatus;

impl Catalog {
    /// Creates a vault; `CONFLICT` when the name is taken.
    pub async fn create_vault(&self, v: &NewVault) -> Result<Vault> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "INSERT INTO vaults (name, kind, redundancy, settings, created)
                 VALUES ($1, $2, $3, $4, $5) RETURNING *",
            )
            .bind(&v.name)
            .bind(&v.kind)
            .bind(&v.redundancy)
            .bind(&v.settings)
            .bind(ts(v.created))
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, Entity::Vault, &v.name))
        })
    }

    /// The vault named `name`; `NOT_FOUND` when there is none (or it is
    /// soft-deleted: see [`Catalog::get_deleted_vault`]).
    pub async fn get_vault(&self, name: &str) -> Result<Vault> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM vaults WHERE name = $1 AND deleted_at IS NULL")
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Vault, name))
        })
    }

    pub async fn get_vault_by_id(&self, id: VaultId) -> Result<Vault> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM vaults WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Vault, id))
        })
    }

    /// Every vault that is not soft-deleted, by name.
    pub async fn list_vaults(&self) -> Result<Vec<Vault>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM vaults WHERE deleted_at IS NULL ORDER BY name")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// Replaces a vault's settings document.
    pub async fn update_vault_settings(&self, id: VaultId, settings: &Value) -> Result<Vault> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("UPDATE vaults SET settings = $2 WHERE id = $1 RETURNING *")
                .bind(id)
                .bind(settings)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Vault, id))
        })
    }

    /// Counts and sizes of what the vault holds.
    pub async fn vault_usage(&self, id: VaultId) -> Result<VaultUsage> {
        with_pool!(self, |pool, dialect| {
            let (items,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM items WHERE vault_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await?;
            let (points, stored_bytes, added_bytes): (i64, i64, i64) = sqlx::query_as(
                "SELECT COUNT(*),
                        CAST(COALESCE(SUM(size), 0) AS BIGINT),
                        CAST(COALESCE(SUM(added_bytes), 0) AS BIGINT)
                 FROM points WHERE vault_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await?;
            Ok(VaultUsage {
                items,
                points,
                stored_bytes,
                added_bytes,
            })
        })
    }

    /// Deletes a vault with its policies and its finished jobs. Refused with
    /// `IN_USE` while it has protected items, recovery points, or queued or
    /// running jobs; `NOT_FOUND` when there is no such vault.
    pub async fn delete_vault(&self, id: VaultId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM vaults WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(name) = name else {
                return Err(CatalogError::not_found(Entity::Vault, id));
            };
            let (items, points, active): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM items WHERE vault_id = $1),
                        (SELECT COUNT(*) FROM points WHERE vault_id = $1),
                        (SELECT COUNT(*) FROM jobs WHERE vault_id = $1 AND state IN ($2, $3, $4))",
            )
            .bind(id)
            .bind(JobStatus::Queued.as_str())
            .bind(JobStatus::InProgress.as_str())
            .bind(JobStatus::Cancelling.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if items > 0 || points > 0 || active > 0 {
                return Err(CatalogError::in_use(
                    Entity::Vault,
                    name,
                    format!(
                        "it has {items} protected item(s), {points} recovery point(s) and \
                         {active} queued or running job(s); stop protection with delete-data \
                         for every item first"
                    ),
                ));
            }
            // An item or point inserted by another connection since the check.
            deleted_unless_referenced(
                sqlx::query("DELETE FROM vaults WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await,
                Entity::Vault,
                &name,
                "protected items or recovery points were added concurrently",
            )?;
            tx.commit().await?;
            Ok(())
        })
    }
}
