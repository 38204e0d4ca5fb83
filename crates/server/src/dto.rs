//! Answers built from catalog rows. The wire types themselves live in
//! `lifeboat-api` (re-exported here, so handlers name them as before);
//! that crate knows no catalog, so the conversions from rows are here, as
//! extension traits: `VaultDto::new(vault, usage)` reads as it always did
//! with the trait in scope.

use lifeboat_model::job::JobStatus;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lifeboat_catalog::{
    AuditEntry, Identity, Item, ItemId, Job, MuaRequest, Point, Policy, RoleAssignment, Token,
    Vault, VaultId, VaultUsage,
};
use lifeboat_model::job::{JobErrorDetail, JobTask, Progress, iso8601_duration};
use lifeboat_model::mua::{self, RequestState};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub use lifeboat_api::access::{
    CreateIdentity, CreateRoleAssignment, CreateToken, IdentityDto, IdentityList, NewTokenDto,
    RoleAssignmentDto, RoleAssignmentList, RoleAssignmentQuery, TokenDto, TokenList,
};
pub use lifeboat_api::audit::{AuditEntryDto, AuditList, AuditQuery, AuditVerifyDto};
pub use lifeboat_api::items::{
    BackupNow, EnableProtection, ItemDto, ItemList, PolicyRef, StopProtection,
};
pub use lifeboat_api::jobs::{JobDto, JobList, JobQuery, ProgressDto};
pub use lifeboat_api::mua::{
    ApproveBody, AttachGuard, CreateMuaRequest, CreateResourceGuard, GuardMemberBody,
    MuaRequestDto, MuaRequestList, RequestQuery, ResourceGuardDto, ResourceGuardList,
    VaultGuardDto,
};
pub use lifeboat_api::points::{PointDto, PointList, PointQuery, RestoreRequest};
pub use lifeboat_api::policies::{CreatePolicy, PolicyDto, PolicyList, ReplacePolicy};
pub use lifeboat_api::system::Health;
pub use lifeboat_api::vaults::{
    AlertDto, AlertList, AlertQuery, CreateVault, UpdateVault, VaultDto, VaultList, VaultUsageDto,
};

// ------------------------------------------------------------------ vaults

/// A vault's usage as the API shows it.
pub fn usage_dto(u: VaultUsage) -> VaultUsageDto {
    VaultUsageDto {
        protected_items: u.items,
        recovery_points: u.points,
        logical_bytes: u.stored_bytes,
        stored_bytes: u.added_bytes,
        deduplicated_bytes: (u.stored_bytes - u.added_bytes).max(0),
    }
}

/// `VaultDto::new`.
pub trait VaultDtoExt {
    fn new(v: Vault, usage: VaultUsage) -> Self;
}

impl VaultDtoExt for VaultDto {
    fn new(v: Vault, usage: VaultUsage) -> Self {
        let mut properties = v.settings;
        if let Some(o) = properties.as_object_mut() {
            // `kind` is a field of its own here.
            o.remove("kind");
        }
        VaultDto {
            name: v.name,
            kind: v.kind,
            storage_redundancy: v.redundancy,
            properties,
            created_time: v.created,
            usage: usage_dto(usage),
            deleted_time: v.deleted_at,
            purge_time: v.purge_at,
        }
        .with_mua(false)
    }
}

// ---------------------------------------------------------------- policies

/// `PolicyDto::new`: fails (`POLICY_UNREADABLE`, 500) for a stored
/// document the model cannot read, which only a hand edit of the catalog
/// makes.
pub trait PolicyDtoExt: Sized {
    fn new(p: Policy, vault: &str, items: i64) -> ApiResult<Self>;
}

impl PolicyDtoExt for PolicyDto {
    fn new(p: Policy, vault: &str, items: i64) -> ApiResult<Self> {
        let properties = serde_json::from_value(p.document).map_err(|e| {
            ApiError::internal(
                lifeboat_codes::POLICY_UNREADABLE,
                format!(
                    "the stored document of policy '{}' in vault '{vault}' cannot be read: {e}; \
                     replace it with PUT",
                    p.name
                ),
            )
        })?;
        Ok(PolicyDto {
            name: p.name,
            vault: vault.to_owned(),
            properties,
            protected_items_count: items,
            created_time: p.created,
            updated_time: p.updated,
        })
    }
}

// ------------------------------------------------------------------- items

/// `ItemDto::new`.
pub trait ItemDtoExt {
    fn new(i: Item, vault: &str) -> Self;
}

impl ItemDtoExt for ItemDto {
    fn new(i: Item, vault: &str) -> Self {
        ItemDto {
            name: i.name,
            vault: vault.to_owned(),
            workload: i.source.kind().as_str().to_owned(),
            source: i.source.path().to_string_lossy().into_owned(),
            policy_name: i.policy_name,
            protection_state: i.state.as_str().to_owned(),
            health_status: i.health.as_str().to_owned(),
            last_backup_status: i.last_backup_status.unwrap_or_else(|| "IRPending".into()),
            last_backup_time: i.last_backup_time,
            next_run_time: i.next_run,
            created_time: i.created,
            deleted_time: i.deleted_at,
            purge_time: i.purge_at,
        }
    }
}

// ------------------------------------------------------------------ points

/// Coarsest first: the rule that keeps a point longest, usually.
const RULE_ORDER: [&str; 6] = [
    "yearly",
    "monthly",
    "weekly",
    "daily",
    "on-demand",
    "instant-restore",
];

pub fn rule_name(tags: &[String]) -> Option<String> {
    RULE_ORDER
        .iter()
        .find(|r| tags.iter().any(|t| t == *r))
        .map(|r| (*r).to_owned())
        .or_else(|| tags.first().cloned())
}

/// `PointDto::new`.
pub trait PointDtoExt {
    fn new(p: Point, vault: &str, item: &str) -> Self;
}

impl PointDtoExt for PointDto {
    fn new(p: Point, vault: &str, item: &str) -> Self {
        PointDto {
            id: p.store_id,
            vault: vault.to_owned(),
            item: item.to_owned(),
            time: p.time,
            consistency: p.consistency,
            tier: p.tier,
            size_bytes: p.size,
            added_bytes: p.added_bytes,
            // The rule the service chose when it set the expiry; rows from
            // before schema 2 have none, and then the coarsest tag stands in.
            rule_name: p.rule_name.clone().or_else(|| rule_name(&p.rule_tags)),
            retention_tags: p.rule_tags,
            expiry_time: p.expiry,
            deleted_time: p.deleted_at,
            purge_time: p.purge_at,
        }
    }
}

// -------------------------------------------------------------------- jobs

/// A JSON list of the catalog (tasks, warnings, errors): an array, a
/// single value or nothing.
fn list_of<T: serde::de::DeserializeOwned>(v: Value, job: i64, what: &str) -> Vec<T> {
    let v = match v {
        Value::Array(_) => v,
        Value::Null => return Vec::new(),
        other => Value::Array(vec![other]),
    };
    serde_json::from_value(v).unwrap_or_else(|e| {
        tracing::warn!(job, error = %e, "job {what} do not read; answered as none");
        Vec::new()
    })
}

/// `JobDto::new`.
pub trait JobDtoExt {
    fn new(j: Job, vault: Option<String>, item: Option<String>, now: DateTime<Utc>) -> Self;
}

impl JobDtoExt for JobDto {
    fn new(j: Job, vault: Option<String>, item: Option<String>, now: DateTime<Utc>) -> Self {
        let elapsed = j
            .start_time
            .map(|s| (j.end_time.unwrap_or(now) - s).max(chrono::TimeDelta::zero()));
        let counters: Progress = serde_json::from_value(j.progress.clone()).unwrap_or_default();
        let running = !j.state.is_terminal();
        let completed = matches!(
            j.state,
            JobStatus::Completed | JobStatus::CompletedWithWarnings
        );
        // A completed job is done, whatever its last progress report said.
        let percent = if completed {
            Some(100.0)
        } else {
            counters
                .percent()
                .or_else(|| j.progress.get("percent").and_then(Value::as_f64))
        };
        let eta = if running {
            elapsed
                .and_then(|e| counters.eta(e))
                .map(|d| d.num_seconds())
        } else {
            None
        };
        let id = j.id.0;
        JobDto {
            id,
            job_type: j.job_type.as_str().to_owned(),
            vault,
            item,
            status: j.state.as_str().to_owned(),
            queued_time: j.queued_at,
            start_time: j.start_time,
            end_time: j.end_time,
            duration: elapsed.map(iso8601_duration),
            progress: ProgressDto {
                bytes_done: counters.bytes_done,
                bytes_total: counters.bytes_total,
                files_done: counters.files_done,
                files_total: counters.files_total,
                percent,
                eta_seconds: eta,
            },
            tasks: list_of::<JobTask>(j.tasks, id, "tasks"),
            warnings: list_of::<JobErrorDetail>(j.warnings, id, "warnings"),
            errors: list_of::<JobErrorDetail>(j.errors, id, "errors"),
        }
    }
}

/// Vault and item names for a batch of jobs.
#[derive(Debug, Default)]
pub struct Names {
    pub vaults: HashMap<VaultId, String>,
    pub items: HashMap<ItemId, String>,
}

impl Names {
    pub fn job(&self, j: Job, now: DateTime<Utc>) -> JobDto {
        let vault = self.vaults.get(&j.vault_id).cloned();
        let item = j.item_id.and_then(|i| self.items.get(&i).cloned());
        JobDto::new(j, vault, item, now)
    }
}

// ------------------------------------------------------------------ access

/// A role assignment as the API shows it.
pub fn assignment_dto(a: RoleAssignment) -> RoleAssignmentDto {
    RoleAssignmentDto {
        id: a.id.0,
        identity: a.identity_name,
        role: a.role,
        scope: if a.vault_id.is_some() {
            "vault"
        } else {
            "server"
        }
        .to_owned(),
        vault: a.vault_name,
        created: a.created,
    }
}

/// `IdentityDto::new`: the identity with its roles (from `all`).
pub trait IdentityDtoExt {
    fn new(i: Identity, all: &[RoleAssignment]) -> Self;
}

impl IdentityDtoExt for IdentityDto {
    fn new(i: Identity, all: &[RoleAssignment]) -> Self {
        IdentityDto {
            role_assignments: all
                .iter()
                .filter(|a| a.identity_id == i.id)
                .cloned()
                .map(assignment_dto)
                .collect(),
            name: i.name,
            kind: i.kind,
            created: i.created,
            disabled: i.disabled.is_some(),
            disabled_time: i.disabled,
        }
    }
}

/// `TokenDto::new`: the token without its secret, its status as of `now`.
pub trait TokenDtoExt {
    fn new(t: Token, identity: &str, now: DateTime<Utc>) -> Self;
}

impl TokenDtoExt for TokenDto {
    fn new(t: Token, identity: &str, now: DateTime<Utc>) -> Self {
        let status = if t.revoked.is_some() {
            "Revoked"
        } else if t.expires.is_some_and(|e| e <= now) {
            "Expired"
        } else {
            "Active"
        };
        TokenDto {
            name: t.name,
            identity: identity.to_owned(),
            created: t.created,
            expires: t.expires,
            last_used: t.last_used,
            revoked: t.revoked,
            status: status.to_owned(),
        }
    }
}

// ------------------------------------------------------------------- audit

/// An audit row as the API shows it.
pub fn audit_entry_dto(e: AuditEntry) -> AuditEntryDto {
    AuditEntryDto {
        seq: e.seq,
        time: e.time,
        principal: e.principal,
        principal_id: e.principal_id,
        source: e.source,
        operation: e.operation,
        target: e.target,
        phase: e.phase,
        status: e.status,
        error_code: e.error_code,
        request_id: e.request_id,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

// --------------------------------------------------------------------- mua

/// `MuaRequestDto::new`: the request with its state as of `now`.
pub trait MuaRequestDtoExt {
    fn new(r: MuaRequest, now: DateTime<Utc>) -> Self;
}

impl MuaRequestDtoExt for MuaRequestDto {
    fn new(r: MuaRequest, now: DateTime<Utc>) -> Self {
        let status = match RequestState::parse(&r.state) {
            Ok(s) => mua::effective_state(s, r.expires_at, now)
                .as_str()
                .to_owned(),
            Err(_) => r.state.clone(),
        };
        MuaRequestDto {
            id: r.id.0,
            guard: r.guard_name,
            vault: r.vault_name,
            operation: r.operation,
            target: r.target,
            requester: r.requester_name,
            status,
            requested_time: r.requested,
            expires_time: r.expires_at,
            decided_by: r.decided_by_name,
            decided_time: r.decided,
            used_time: r.used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_name_is_the_coarsest_tag() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rule_name(&t(&["daily", "weekly"])).as_deref(),
            Some("weekly")
        );
        assert_eq!(rule_name(&t(&["on-demand"])).as_deref(), Some("on-demand"));
        assert_eq!(
            rule_name(&t(&["daily", "yearly", "monthly"])).as_deref(),
            Some("yearly")
        );
        assert_eq!(rule_name(&[]), None);
    }

    #[test]
    fn usage_reports_savings() {
        let u = usage_dto(VaultUsage {
            items: 2,
            points: 3,
            stored_bytes: 1000,
            added_bytes: 300,
        });
        assert_eq!(
            (u.logical_bytes, u.stored_bytes, u.deduplicated_bytes),
            (1000, 300, 700)
        );
    }
}
