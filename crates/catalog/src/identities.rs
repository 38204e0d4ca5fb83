//! Identities (users and service principals) and their role assignments,
//! at server scope or on one vault. The catalog stores role *names*; the
//! server decides what each role may do, and a name it does not know
//! permits nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Entity, Result, is_fk_violation, on_unique};
use crate::types::{AssignmentId, IdentityId, Job, JobFilter, Page, Paged, VaultId, ts};
use crate::{Catalog, CatalogError, with_pool};

/// A user or a service principal.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Identity {
    pub id: IdentityId,
    pub name: String,
    /// `User` or `ServicePrincipal` (the server checks the value).
    pub kind: String,
    pub created: DateTime<Utc>,
    /// When it was disabled: its tokens stop working.
    pub disabled: Option<DateTime<Utc>>,
}

/// A role given to an identity, on the whole server (`vault_id` `None`) or
/// on one vault.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RoleAssignment {
    pub id: AssignmentId,
    pub identity_id: IdentityId,
    pub identity_name: String,
    pub role: String,
    pub vault_id: Option<VaultId>,
    pub vault_name: Option<String>,
    pub created: DateTime<Utc>,
}

/// Which role assignments to list.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub identity_id: Option<IdentityId>,
    pub vault_id: Option<VaultId>,
    /// Only server-scope assignments.
    pub server_only: bool,
}

macro_rules! assignment_select {
    () => {
        "SELECT a.id, a.identity_id, i.name AS identity_name, a.role, a.vault_id,
                v.name AS vault_name, a.created
         FROM role_assignments a
         JOIN identities i ON i.id = a.identity_id
         LEFT JOIN vaults v ON v.id = a.vault_id"
    };
}

impl Catalog {
    /// Makes an identity; `CONFLICT` when the name is taken.
    pub async fn create_identity(
        &self,
        name: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Identity> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "INSERT INTO identities (name, kind, created) VALUES ($1, $2, $3)
                 RETURNING id, name, kind, created, disabled",
            )
            .bind(name)
            .bind(kind)
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, Entity::Identity, name))
        })
    }

    /// One identity by name.
    pub async fn get_identity(&self, name: &str) -> Result<Identity> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM identities WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Identity, name))
        })
    }

    /// One identity by id.
    pub async fn get_identity_by_id(&self, id: IdentityId) -> Result<Identity> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as("SELECT * FROM identities WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Identity, id))
        })
    }

    /// Every identity, by name.
    pub async fn list_identities(&self) -> Result<Vec<Identity>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as("SELECT * FROM identities ORDER BY name")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Disables (`Some(now)`) or enables (`None`) an identity. Disabling a
    /// disabled identity keeps the first time.
    pub async fn set_identity_disabled(
        &self,
        id: IdentityId,
        disabled: Option<DateTime<Utc>>,
    ) -> Result<Identity> {
        with_pool!(self, |pool, dialect| {
            let q = match disabled {
                Some(now) => sqlx::query_as(
                    "UPDATE identities SET disabled = COALESCE(disabled, $2) WHERE id = $1
                     RETURNING id, name, kind, created, disabled",
                )
                .bind(id)
                .bind(ts(now)),
                None => sqlx::query_as(
                    "UPDATE identities SET disabled = NULL WHERE id = $1
                     RETURNING id, name, kind, created, disabled",
                )
                .bind(id),
            };
            q.fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::Identity, id))
        })
    }

    /// Gives `role` to an identity on `vault` (`None`: the whole server).
    /// `CONFLICT` when it already has it there; `NOT_FOUND` when the
    /// identity or the vault is gone.
    pub async fn assign_role(
        &self,
        identity: IdentityId,
        role: &str,
        vault: Option<VaultId>,
        now: DateTime<Utc>,
    ) -> Result<RoleAssignment> {
        let id: AssignmentId = with_pool!(self, |pool, dialect| {
            sqlx::query_scalar(
                "INSERT INTO role_assignments (identity_id, role, vault_id, created)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(identity)
            .bind(role)
            .bind(vault)
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    match vault {
                        Some(v) => CatalogError::not_found(Entity::Vault, v),
                        None => CatalogError::not_found(Entity::Identity, identity),
                    }
                } else {
                    on_unique(e, Entity::RoleAssignment, role)
                }
            })?
        });
        self.get_role_assignment(id).await
    }

    /// One role assignment.
    pub async fn get_role_assignment(&self, id: AssignmentId) -> Result<RoleAssignment> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(assignment_select!(), " WHERE a.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::RoleAssignment, id))
        })
    }

    /// Role assignments, by identity name, then server scope first, then
    /// vault name, then role.
    pub async fn list_role_assignments(&self, f: &AssignmentFilter) -> Result<Vec<RoleAssignment>> {
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new(concat!(assignment_select!(), " WHERE 1 = 1"));
            if let Some(i) = f.identity_id {
                q.push(" AND a.identity_id = ").push_bind(i);
            }
            if let Some(v) = f.vault_id {
                q.push(" AND a.vault_id = ").push_bind(v);
            }
            if f.server_only {
                q.push(" AND a.vault_id IS NULL");
            }
            q.push(
                " ORDER BY i.name, CASE WHEN a.vault_id IS NULL THEN 0 ELSE 1 END, v.name, a.role, a.id",
            );
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Removes a role assignment.
    pub async fn delete_role_assignment(&self, id: AssignmentId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query("DELETE FROM role_assignments WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::RoleAssignment, id));
            }
            Ok(())
        })
    }

    /// As [`Catalog::list_jobs`], restricted to the jobs of `vaults` (for a
    /// caller whose roles reach only those vaults). An empty set lists
    /// nothing.
    pub async fn list_jobs_in_vaults(
        &self,
        f: &JobFilter,
        vaults: &[VaultId],
        page: &Page,
    ) -> Result<Paged<Job>> {
        if vaults.is_empty() {
            return Ok(Paged {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        self.list_jobs_within(f, Some(vaults), page).await
    }
}
