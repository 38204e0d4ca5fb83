//! Multi-user authorization (schema 6): resource guards and their holders,
//! which vault each guards, and approval requests. The catalog stores
//! names and states; `lifeboat_model::mua` has the rules, the service and
//! the server apply them.
//!
//! Using an approval is one compare-and-set `UPDATE` on the request's
//! `state` (`Approved` → `Used`, only while `expires_at > now`): two
//! racing calls cannot both use it, on either dialect (PostgreSQL re-checks
//! the `WHERE` on the row the first writer changed; SQLite has one writer).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Entity, Result, is_fk_violation, on_unique};
use crate::types::{GuardId, IdentityId, MuaRequestId, VaultId, ts};
use crate::{BeginWrite, Catalog, CatalogError, with_pool};

/// Request states as `lifeboat_model::mua::RequestState` spells them.
pub mod mua_state {
    pub const PENDING: &str = "Pending";
    pub const APPROVED: &str = "Approved";
    pub const USED: &str = "Used";
    pub const REJECTED: &str = "Rejected";
    pub const EXPIRED: &str = "Expired";
}
use mua_state::{APPROVED, EXPIRED, PENDING, USED};

/// A resource guard.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ResourceGuard {
    pub id: GuardId,
    pub name: String,
    pub owner_id: IdentityId,
    pub owner_name: String,
    pub description: String,
    /// Comma-separated operation names.
    pub critical_ops: String,
    pub created: DateTime<Utc>,
}

impl ResourceGuard {
    /// The operation names this guard protects.
    pub fn ops(&self) -> Vec<String> {
        self.critical_ops
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A holder added to a guard (besides its owner).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GuardMember {
    pub identity_id: IdentityId,
    pub identity_name: String,
    pub added: DateTime<Utc>,
}

/// The guard a vault is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct VaultGuard {
    pub vault_id: VaultId,
    pub guard_id: GuardId,
    pub guard_name: String,
    pub attached: DateTime<Utc>,
}

/// An approval request.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct MuaRequest {
    pub id: MuaRequestId,
    pub guard_id: GuardId,
    pub guard_name: String,
    pub vault_id: VaultId,
    pub vault_name: String,
    pub operation: String,
    /// Empty for vault-level operations.
    pub target: String,
    pub requester_id: IdentityId,
    pub requester_name: String,
    /// As stored; `lifeboat_model::mua::effective_state` gives the state now.
    pub state: String,
    pub requested: DateTime<Utc>,
    /// When the pending request lapses, or (approved) the approval does.
    pub expires_at: DateTime<Utc>,
    pub decided_by: Option<IdentityId>,
    pub decided_by_name: Option<String>,
    pub decided: Option<DateTime<Utc>>,
    pub used: Option<DateTime<Utc>>,
}

/// A new approval request.
#[derive(Debug, Clone)]
pub struct NewMuaRequest {
    pub guard_id: GuardId,
    pub vault_id: VaultId,
    pub operation: String,
    pub target: String,
    pub requester_id: IdentityId,
    pub requested: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

macro_rules! guard_select {
    () => {
        "SELECT g.id, g.name, g.owner_id, i.name AS owner_name, g.description, g.critical_ops,
                g.created
         FROM resource_guards g JOIN identities i ON i.id = g.owner_id"
    };
}

macro_rules! request_select {
    () => {
        "SELECT r.id, r.guard_id, g.name AS guard_name, r.vault_id, v.name AS vault_name,
                r.operation, r.target, r.requester_id, q.name AS requester_name, r.state,
                r.requested, r.expires_at, r.decided_by, d.name AS decided_by_name, r.decided,
                r.used
         FROM mua_requests r
         JOIN resource_guards g ON g.id = r.guard_id
         JOIN vaults v ON v.id = r.vault_id
         JOIN identities q ON q.id = r.requester_id
         LEFT JOIN identities d ON d.id = r.decided_by"
    };
}

impl Catalog {
    /// Makes a resource guard; `CONFLICT` when the name is taken.
    pub async fn create_guard(
        &self,
        name: &str,
        owner: IdentityId,
        description: &str,
        critical_ops: &[String],
        now: DateTime<Utc>,
    ) -> Result<ResourceGuard> {
        let id: GuardId = with_pool!(self, |pool, dialect| {
            sqlx::query_scalar(
                "INSERT INTO resource_guards (name, owner_id, description, critical_ops, created)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(owner)
            .bind(description)
            .bind(critical_ops.join(","))
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    CatalogError::not_found(Entity::Identity, owner)
                } else {
                    on_unique(e, Entity::ResourceGuard, name)
                }
            })?
        });
        self.get_guard_by_id(id).await
    }

    /// One guard by name.
    pub async fn get_guard(&self, name: &str) -> Result<ResourceGuard> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(guard_select!(), " WHERE g.name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::ResourceGuard, name))
        })
    }

    /// One guard by id.
    pub async fn get_guard_by_id(&self, id: GuardId) -> Result<ResourceGuard> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(guard_select!(), " WHERE g.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::ResourceGuard, id))
        })
    }

    /// Every guard, by name.
    pub async fn list_guards(&self) -> Result<Vec<ResourceGuard>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(concat!(guard_select!(), " ORDER BY g.name"))
                .fetch_all(pool)
                .await?)
        })
    }

    /// Deletes a guard; `IN_USE` while a vault is attached to it.
    pub async fn delete_guard(&self, id: GuardId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_write().await?;
            let vaults: Vec<String> = sqlx::query_scalar(
                "SELECT v.name FROM vault_resource_guards m JOIN vaults v ON v.id = m.vault_id
                 WHERE m.guard_id = $1 ORDER BY v.name",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            if !vaults.is_empty() {
                return Err(CatalogError::in_use(
                    Entity::ResourceGuard,
                    id,
                    format!("vault(s) {} use it", vaults.join(", ")),
                ));
            }
            let r = sqlx::query("DELETE FROM resource_guards WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_fk_violation(&e) {
                        CatalogError::in_use(Entity::ResourceGuard, id, "a vault uses it".into())
                    } else {
                        e.into()
                    }
                })?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::ResourceGuard, id));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds a holder; `CONFLICT` when it is one already.
    pub async fn add_guard_member(
        &self,
        guard: GuardId,
        identity: IdentityId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            sqlx::query(
                "INSERT INTO resource_guard_members (guard_id, identity_id, added)
                 VALUES ($1, $2, $3)",
            )
            .bind(guard)
            .bind(identity)
            .bind(ts(now))
            .execute(pool)
            .await
            .map_err(|e| on_unique(e, Entity::Identity, identity))?;
            Ok(())
        })
    }

    /// Removes a holder added earlier; `NOT_FOUND` when it is not one.
    pub async fn remove_guard_member(&self, guard: GuardId, identity: IdentityId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query(
                "DELETE FROM resource_guard_members WHERE guard_id = $1 AND identity_id = $2",
            )
            .bind(guard)
            .bind(identity)
            .execute(pool)
            .await?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::Identity, identity));
            }
            Ok(())
        })
    }

    /// The holders added to a guard (its owner aside), by name.
    pub async fn guard_members(&self, guard: GuardId) -> Result<Vec<GuardMember>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT m.identity_id, i.name AS identity_name, m.added
                 FROM resource_guard_members m JOIN identities i ON i.id = m.identity_id
                 WHERE m.guard_id = $1 ORDER BY i.name",
            )
            .bind(guard)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Whether `identity` holds the guard: its owner or an added member.
    pub async fn is_guard_holder(&self, guard: GuardId, identity: IdentityId) -> Result<bool> {
        with_pool!(self, |pool, dialect| {
            let n: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM resource_guards WHERE id = $1 AND owner_id = $2)
                      + (SELECT COUNT(*) FROM resource_guard_members
                         WHERE guard_id = $1 AND identity_id = $2)",
            )
            .bind(guard)
            .bind(identity)
            .fetch_one(pool)
            .await?;
            Ok(n > 0)
        })
    }

    /// Attaches `guard` to a vault that has none. Answers the vault's
    /// mapping afterwards: another guard's, when the vault had one already
    /// (the caller compares).
    pub async fn attach_guard(
        &self,
        vault: VaultId,
        guard: GuardId,
        now: DateTime<Utc>,
    ) -> Result<VaultGuard> {
        with_pool!(self, |pool, dialect| {
            sqlx::query(
                "INSERT INTO vault_resource_guards (vault_id, guard_id, attached)
                 VALUES ($1, $2, $3) ON CONFLICT (vault_id) DO NOTHING",
            )
            .bind(vault)
            .bind(guard)
            .bind(ts(now))
            .execute(pool)
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    CatalogError::not_found(Entity::ResourceGuard, guard)
                } else {
                    e.into()
                }
            })?;
        });
        self.vault_guard(vault)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Vault, vault))
    }

    /// The guard of a vault, if any.
    pub async fn vault_guard(&self, vault: VaultId) -> Result<Option<VaultGuard>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT m.vault_id, m.guard_id, g.name AS guard_name, m.attached
                 FROM vault_resource_guards m JOIN resource_guards g ON g.id = m.guard_id
                 WHERE m.vault_id = $1",
            )
            .bind(vault)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The ids of every vault with a guard.
    pub async fn guarded_vaults(&self) -> Result<Vec<VaultId>> {
        with_pool!(self, |pool, dialect| {
            Ok(
                sqlx::query_scalar("SELECT vault_id FROM vault_resource_guards")
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// Detaches `guard` from a vault; `false` when it was not attached.
    pub async fn detach_guard(&self, vault: VaultId, guard: GuardId) -> Result<bool> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query(
                "DELETE FROM vault_resource_guards WHERE vault_id = $1 AND guard_id = $2",
            )
            .bind(vault)
            .bind(guard)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Records a new `Pending` request.
    pub async fn create_mua_request(&self, r: &NewMuaRequest) -> Result<MuaRequest> {
        let id: MuaRequestId = with_pool!(self, |pool, dialect| {
            sqlx::query_scalar(
                "INSERT INTO mua_requests (guard_id, vault_id, operation, target, requester_id,
                                           state, requested, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(r.guard_id)
            .bind(r.vault_id)
            .bind(&r.operation)
            .bind(&r.target)
            .bind(r.requester_id)
            .bind(PENDING)
            .bind(ts(r.requested))
            .bind(ts(r.expires_at))
            .fetch_one(pool)
            .await?
        });
        self.get_mua_request(id).await
    }

    /// One request.
    pub async fn get_mua_request(&self, id: MuaRequestId) -> Result<MuaRequest> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(request_select!(), " WHERE r.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| CatalogError::not_found(Entity::MuaRequest, id))
        })
    }

    /// The requests of a guard, newest first, optionally in one stored
    /// state.
    pub async fn list_mua_requests(
        &self,
        guard: GuardId,
        state: Option<&str>,
    ) -> Result<Vec<MuaRequest>> {
        with_pool!(self, |pool, dialect| {
            let mut q = sqlx::QueryBuilder::new(concat!(request_select!(), " WHERE r.guard_id = "));
            q.push_bind(guard);
            if let Some(s) = state {
                q.push(" AND r.state = ").push_bind(s);
            }
            q.push(" ORDER BY r.id DESC");
            Ok(q.build_query_as().fetch_all(pool).await?)
        })
    }

    /// The newest request of `requester` for this vault, operation and
    /// target.
    pub async fn latest_mua_request(
        &self,
        vault: VaultId,
        requester: IdentityId,
        operation: &str,
        target: &str,
    ) -> Result<Option<MuaRequest>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(concat!(
                request_select!(),
                " WHERE r.vault_id = $1 AND r.requester_id = $2 AND r.operation = $3
                   AND r.target = $4 ORDER BY r.id DESC LIMIT 1"
            ))
            .bind(vault)
            .bind(requester)
            .bind(operation)
            .bind(target)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Approves or rejects a `Pending`, unexpired request (compare-and-set):
    /// `to` is the new state, `expires_at` the approval's expiry (or the
    /// request's, unchanged, for a rejection). `false` when the request was
    /// no longer pending (decided or expired meanwhile).
    pub async fn decide_mua_request(
        &self,
        id: MuaRequestId,
        to: &str,
        by: IdentityId,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query(
                "UPDATE mua_requests
                 SET state = $2, decided_by = $3, decided = $4,
                     expires_at = COALESCE($5, expires_at)
                 WHERE id = $1 AND state = $6 AND expires_at > $4",
            )
            .bind(id)
            .bind(to)
            .bind(by)
            .bind(ts(now))
            .bind(expires_at.map(ts))
            .bind(PENDING)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Uses an approval: the oldest `Approved`, unexpired request of
    /// `requester` for this vault, operation and target becomes `Used`
    /// (compare-and-set; single use). `None` when there is none.
    pub async fn use_mua_approval(
        &self,
        vault: VaultId,
        requester: IdentityId,
        operation: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<MuaRequestId>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_scalar(
                "UPDATE mua_requests SET state = $6, used = $5
                 WHERE id = (SELECT id FROM mua_requests
                             WHERE vault_id = $1 AND requester_id = $2 AND operation = $3
                               AND target = $4 AND state = $7 AND expires_at > $5
                             ORDER BY id LIMIT 1)
                   AND state = $7 AND expires_at > $5
                 RETURNING id",
            )
            .bind(vault)
            .bind(requester)
            .bind(operation)
            .bind(target)
            .bind(ts(now))
            .bind(USED)
            .bind(APPROVED)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Marks every `Pending` or `Approved` request past its expiry as
    /// `Expired` and answers them (each once, whoever calls: the rows are
    /// claimed by the `UPDATE`).
    pub async fn expire_mua_requests(&self, now: DateTime<Utc>) -> Result<Vec<MuaRequest>> {
        let ids: Vec<MuaRequestId> = with_pool!(self, |pool, dialect| {
            sqlx::query_scalar(
                "UPDATE mua_requests SET state = $1
                 WHERE state IN ($2, $3) AND expires_at <= $4
                 RETURNING id",
            )
            .bind(EXPIRED)
            .bind(PENDING)
            .bind(APPROVED)
            .bind(ts(now))
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_mua_request(id).await?);
        }
        Ok(out)
    }
}
