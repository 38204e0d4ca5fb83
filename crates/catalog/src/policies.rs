//! Backup policies: one JSON document per (vault, name).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Entity, Result, deleted_unless_referenced, is_fk_violation, on_unique};
use crate::types::{Item, Policy, VaultId, ts};
use crate::{BeginWrite, Catalog, CatalogError, with_pool};

impl Catalog {
    /// Creates a policy in a vault; `CONFLICT` when the name is taken there,
    /// `NOT_FOUND` when the vault does not exist.
    pub async fn create_policy(
        &self,
        vault_id: VaultId,
        name: &str,
        document: &Value,
        now: DateTime<Utc>,
    ) -> Result<Policy> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "INSERT INTO policies (vault_id, name, document, created, updated)
                 VALUES ($1, $2, $3, $4, $4) RETURNING *",
            )
            .bind(vault_id)
            .bind(name)
            .bind(document)
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    CatalogError::not_found(Entity::Vault, vault_id)
                } else {
                    on_unique(e, Entity::Policy, name)
                }
            })
        })
    }

    pub async fn get_policy(&self, vault_id: VaultId, name: &str) -> Result<Policy> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM policies WHERE vault_id = $1 AND name = $2")
                .bind(vault_id)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Policy, name))
        })
    }

    /// A vault's policies, by name.
    pub async fn list_policies(&self, vault_id: VaultId) -> Result<Vec<Policy>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_as("SELECT * FROM policies WHERE vault_id = $1 ORDER BY name")
                    .bind(vault_id)
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// The policies of several vaults in one query (the scheduler reads the
    /// policies of a whole batch of due items at once).
    pub async fn policies_of_vaults(&self, vault_ids: &[VaultId]) -> Result<Vec<Policy>> {
        if vault_ids.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new("SELECT * FROM policies WHERE vault_id IN (");
            let mut list = q.separated(", ");
            for v in vault_ids {
                list.push_bind(*v);
            }
            q.push(")");
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Replaces a policy's document. Re-tagging the points of the items that
    /// use it is the service's job ([`Catalog::list_items_with_policy`],
    /// [`Catalog::update_point_retention`]).
    pub async fn update_policy(
        &self,
        vault_id: VaultId,
        name: &str,
        document: &Value,
        now: DateTime<Utc>,
    ) -> Result<Policy> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "UPDATE policies SET document = $3, updated = $4
                 WHERE vault_id = $1 AND name = $2 RETURNING *",
            )
            .bind(vault_id)
            .bind(name)
            .bind(document)
            .bind(ts(now))
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Policy, name))
        })
    }

    /// Deletes a policy; `IN_USE` while items are protected with it.
    pub async fn delete_policy(&self, vault_id: VaultId, name: &str) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let users: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM items WHERE vault_id = $1 AND policy_name = $2",
            )
            .bind(vault_id)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
            if users > 0 {
                return Err(CatalogError::in_use(
                    Entity::Policy,
                    name,
                    format!(
                        "{users} protected item(s) use it; move them to another policy or stop their protection first"
                    ),
                ));
            }
            let deleted = deleted_unless_referenced(
                sqlx::query("DELETE FROM policies WHERE vault_id = $1 AND name = $2")
                    .bind(vault_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await,
                Entity::Policy,
                name,
                "an item was protected with it concurrently",
            )?
            .rows_affected();
            if deleted == 0 {
                return Err(CatalogError::not_found(Entity::Policy, name));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The items of a vault protected with policy `name`.
    pub async fn list_items_with_policy(&self, vault_id: VaultId, name: &str) -> Result<Vec<Item>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT * FROM items WHERE vault_id = $1 AND policy_name = $2 ORDER BY name",
            )
            .bind(vault_id)
            .bind(name)
            .fetch_all(pool)
            .await?)
        })
    }
}
