//! The JSON shapes of the API (docs/service.md, "Resource shapes"): what
//! each resource looks like on the wire, built from catalog rows. Field
//! names are camelCase, Azure's where Azure has one.

use lifeboat_model::job::JobStatus;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lifeboat_catalog::{Item, ItemId, Job, Point, Policy, Vault, VaultId, VaultUsage};
use lifeboat_model::job::{Progress, iso8601_duration};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

// ------------------------------------------------------------------ vaults

/// What a vault holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultUsageDto {
    pub protected_items: i64,
    pub recovery_points: i64,
    /// Sum of the recovery points' sizes (the data as backed up).
    pub logical_bytes: i64,
    /// Bytes the points added to the store, after deduplication and
    /// compression: what the vault holds.
    pub stored_bytes: i64,
    /// Bytes deduplication and compression saved (`logicalBytes - storedBytes`).
    pub deduplicated_bytes: i64,
}

impl From<VaultUsage> for VaultUsageDto {
    fn from(u: VaultUsage) -> Self {
        VaultUsageDto {
            protected_items: u.items,
            recovery_points: u.points,
            logical_bytes: u.stored_bytes,
            stored_bytes: u.added_bytes,
            deduplicated_bytes: (u.stored_bytes - u.added_bytes).max(0),
        }
    }
}

/// A vault.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultDto {
    pub name: String,
    /// `recovery-services` or `backup`.
    pub kind: String,
    /// `LocallyRedundant` (the others are not supported yet).
    pub storage_redundancy: String,
    /// `{redundancySettings, securitySettings}` with Azure's field names
    /// (soft delete and immutability: docs/security.md).
    #[schema(value_type = Object)]
    pub properties: Value,
    pub created_time: DateTime<Utc>,
    pub usage: VaultUsageDto,
    /// Soft-deleted vaults only: when it was deleted and when it is purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_time: Option<DateTime<Utc>>,
}

impl VaultDto {
    pub fn new(v: Vault, usage: VaultUsage) -> Self {
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
            usage: usage.into(),
            deleted_time: v.deleted_at,
            purge_time: v.purge_at,
        }
        .with_mua(false)
    }

    /// Shows `securitySettings.multiUserAuthorization`: `Enabled` when a
    /// resource guard is attached (read-only, as in Azure).
    pub fn with_mua(mut self, enabled: bool) -> Self {
        crate::api::mua::set_mua(&mut self.properties, enabled);
        self
    }
}

/// `POST /api/v1/vaults`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVault {
    /// 2–50 letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// `recovery-services` (gets `DefaultPolicy`) or `backup`.
    pub kind: String,
    /// `LocallyRedundant` (default); `ZoneRedundant`, `GeoRedundant` and
    /// `ReadAccessGeoRedundant` are refused with `NOT_SUPPORTED` for now.
    pub storage_redundancy: Option<String>,
    /// Optional `{securitySettings: {softDeleteSettings, immutabilitySettings}}`.
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

// ---------------------------------------------------------------- policies

/// A backup policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDto {
    pub name: String,
    pub vault: String,
    /// Azure's `AzureIaasVMProtectionPolicy` properties (`policyType`,
    /// `timeZone`, `schedulePolicy`, `retentionPolicy`,
    /// `instantRpRetentionRangeInDays`, …), defaults filled in.
    #[schema(value_type = Object)]
    pub properties: Value,
    /// How many protected items use the policy.
    pub protected_items_count: i64,
    pub created_time: DateTime<Utc>,
    pub updated_time: DateTime<Utc>,
}

impl PolicyDto {
    pub fn new(p: Policy, vault: &str, items: i64) -> Self {
        PolicyDto {
            name: p.name,
            vault: vault.to_owned(),
            properties: p.document,
            protected_items_count: items,
            created_time: p.created,
            updated_time: p.updated,
        }
    }
}

/// `POST /api/v1/vaults/{vault}/policies`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreatePolicy {
    /// 1–150 letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The policy, in Azure's JSON shape.
    #[schema(value_type = Object)]
    pub properties: Value,
}

/// `PUT /api/v1/vaults/{vault}/policies/{policy}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReplacePolicy {
    /// Optional; must match the path when given.
    pub name: Option<String>,
    #[schema(value_type = Object)]
    pub properties: Value,
}

// ------------------------------------------------------------------- items

/// A protected item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemDto {
    pub name: String,
    pub vault: String,
    /// `path` or `disk`.
    pub workload: String,
    /// The protected folder, file or disk image (absolute path).
    pub source: String,
    /// `null` after protection was stopped without a policy.
    pub policy_name: Option<String>,
    /// `Protected`, `ProtectionStopped`, `BackupsSuspended`,
    /// `ProtectionError`, `SoftDeleted`.
    pub protection_state: String,
    /// `Passed`, `ActionRequired`, `ActionSuggested`.
    pub health_status: String,
    /// `Healthy`, `Unhealthy`, or `IRPending` before the first backup.
    pub last_backup_status: String,
    pub last_backup_time: Option<DateTime<Utc>>,
    /// When the next scheduled backup is due; `null` while stopped.
    pub next_run_time: Option<DateTime<Utc>>,
    pub created_time: DateTime<Utc>,
    /// `SoftDeleted` items: when protection stopped with delete-data.
    pub deleted_time: Option<DateTime<Utc>>,
    /// `SoftDeleted` items: when the sweep purges the item and its data.
    pub purge_time: Option<DateTime<Utc>>,
}

impl ItemDto {
    pub fn new(i: Item, vault: &str) -> Self {
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

/// `POST /api/v1/vaults/{vault}/items`: enable protection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnableProtection {
    /// Default: the source path with `/` turned into `-`.
    pub name: Option<String>,
    /// `path` (a folder or file) or `disk` (a raw or qcow2 image).
    pub workload: String,
    /// Absolute path of what to protect; it must exist.
    pub source: String,
    /// A policy of the vault, e.g. `DefaultPolicy`.
    pub policy: String,
}

/// `POST …/items/{item}/backup`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupNow {
    /// Keep the point until then (default: 30 days from now; at most 99 years).
    pub retain_until: Option<DateTime<Utc>>,
}

/// `POST …/items/{item}/stop`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StopProtection {
    /// `retain-data`, `retain-as-per-policy` or `delete-data`.
    pub mode: String,
}

/// `POST …/items/{item}/resume` and `POST …/items/{item}/policy`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PolicyRef {
    /// A policy of the vault.
    pub policy: String,
}

/// `POST …/points/{point}/restore`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RestoreRequest {
    /// `original` (path items) or an absolute path: the folder to restore
    /// into, or the new image file for a disk item.
    pub target: String,
    /// Path items: `overwrite`, `skip` or `fail` (default) when a file exists.
    pub conflict: Option<String>,
    /// Path items: only these paths (relative to the protected folder).
    pub include: Option<Vec<String>>,
    /// Disk items: `raw` (default) or `qcow2`.
    pub format: Option<String>,
}

// ------------------------------------------------------------------ points

/// A recovery point.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointDto {
    /// The store's point id.
    pub id: String,
    pub vault: String,
    pub item: String,
    /// When the server received the point.
    pub time: DateTime<Utc>,
    /// `file-system` or `crash`.
    pub consistency: String,
    /// `vault`.
    pub tier: String,
    pub size_bytes: i64,
    /// Bytes the point added to the vault after deduplication.
    pub added_bytes: i64,
    /// The rule that decides the point's expiry (`daily`, …, `on-demand`).
    pub rule_name: Option<String>,
    /// Every rule that matched: `daily`, `weekly`, `monthly`, `yearly`,
    /// `on-demand`, `instant-restore`.
    pub retention_tags: Vec<String>,
    /// When the point expires; `null` while held (protection stopped).
    pub expiry_time: Option<DateTime<Utc>>,
    /// Soft-deleted by a retention cut (listed only with
    /// `includeDeleted=true`): when, and when it is purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_time: Option<DateTime<Utc>>,
}

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

impl PointDto {
    pub fn new(p: Point, vault: &str, item: &str) -> Self {
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

/// Progress of a job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressDto {
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    pub files_done: u64,
    pub files_total: Option<u64>,
    /// 0–100, `null` until a total is known.
    pub percent: Option<f64>,
    /// Estimated seconds left, `null` when unknown.
    pub eta_seconds: Option<i64>,
}

/// A sub-task of a job (a backup: "Take Snapshot", "Transfer data to vault").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDto {
    pub task_id: String,
    /// `NotStarted`, `InProgress`, `Completed`, `Failed`, `Cancelled`, `Skipped`.
    pub status: String,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// A warning or error of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobErrorDto {
    pub error_code: String,
    pub error_string: String,
}

/// A job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    pub id: i64,
    /// `Backup`, `Restore`, `DeleteBackupData`, `ExpirySweep`, `GarbageCollection`.
    pub job_type: String,
    pub vault: Option<String>,
    /// `null` for vault-wide jobs (and once the item was deleted).
    pub item: Option<String>,
    /// `Queued`, `InProgress`, `Cancelling`, `Completed`,
    /// `CompletedWithWarnings`, `Failed`, `Cancelled`.
    pub status: String,
    pub queued_time: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// ISO 8601 (`PT9.87S`), `null` until the job starts.
    pub duration: Option<String>,
    pub progress: ProgressDto,
    #[schema(value_type = Vec<TaskDto>)]
    pub tasks: Value,
    #[schema(value_type = Vec<JobErrorDto>)]
    pub warnings: Value,
    #[schema(value_type = Vec<JobErrorDto>)]
    pub errors: Value,
}

fn as_array(v: Value) -> Value {
    match v {
        Value::Array(_) => v,
        Value::Null => Value::Array(Vec::new()),
        other => Value::Array(vec![other]),
    }
}

impl JobDto {
    pub fn new(j: Job, vault: Option<String>, item: Option<String>, now: DateTime<Utc>) -> Self {
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
        JobDto {
            id: j.id.0,
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
            tasks: as_array(j.tasks),
            warnings: as_array(j.warnings),
            errors: as_array(j.errors),
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

// ------------------------------------------------------------------ health

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `unavailable` when the catalog cannot be reached.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub catalog: String,
    pub schema_version: Option<i64>,
}

macro_rules! list_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub value: Vec<$item>,
            /// The next page (path and query), `null` on the last page.
            pub next_link: Option<String>,
        }
    };
}

list_type!(VaultList, VaultDto, "A page of vaults.");
list_type!(PolicyList, PolicyDto, "A page of policies.");
list_type!(ItemList, ItemDto, "A page of protected items.");
list_type!(
    PointList,
    PointDto,
    "A page of recovery points, newest first."
);
list_type!(JobList, JobDto, "A page of jobs, newest first.");
list_type!(
    AlertList,
    AlertDto,
    "A vault's security alerts, newest first."
);

// ---------------------------------------------------- soft delete, alerts

/// `PATCH /api/v1/vaults/{vault}`: the vault's security settings. Every
/// field is optional; an absent one is left as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateVault {
    /// `Enabled`, `Disabled` or `AlwaysON` (irreversible).
    pub soft_delete_state: Option<String>,
    /// 14–180: how long soft-deleted data is kept (applies to later deletes).
    pub soft_delete_retention_period_in_days: Option<i64>,
    /// `Disabled`, `Unlocked` or `Locked` (irreversible; only from `Unlocked`).
    pub immutability_state: Option<String>,
}

/// A security alert of a vault.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertDto {
    pub id: i64,
    pub vault: String,
    /// `delete-backup-data`, `upcoming-purge`, `purge-complete`,
    /// `soft-delete-disabled`.
    pub kind: String,
    /// The item it is about, if any.
    pub item: Option<String>,
    pub time: DateTime<Utc>,
    pub message: String,
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
        let u = VaultUsageDto::from(VaultUsage {
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
