//! Row types, inputs, ids and pagination.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat_model::item::{HealthStatus, LastBackupStatus, ProtectionState};
use lifeboat_model::job::{JobStatus, JobType};
use lifeboat_model::source::Source;
use serde::Serialize;
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo};
use sqlx::{Encode, Postgres, Sqlite, Type};

use crate::error::{CatalogError, Result};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sqlx::Type)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A vault's row id.
    VaultId
);
id_type!(
    /// A policy's row id.
    PolicyId
);
id_type!(
    /// A protected item's row id.
    ItemId
);
id_type!(
    /// A recovery point's row id (the store's own point id is [`Point::store_id`]).
    PointId
);
id_type!(
    /// A job's id, shown to users.
    JobId
);
id_type!(
    /// An API token's row id.
    TokenId
);
id_type!(
    /// An identity's row id (a user or a service principal).
    IdentityId
);
id_type!(
    /// A role assignment's row id.
    AssignmentId
);
id_type!(
    /// A resource guard's row id (multi-user authorization).
    GuardId
);
id_type!(
    /// An approval request's id (multi-user authorization), shown to users.
    MuaRequestId
);

/// A point in time as the catalog binds it: truncated to microseconds (the
/// precision PostgreSQL keeps), and on SQLite written as fixed-width
/// RFC 3339 text (`2026-01-02T03:04:05.123456+00:00`) so that SQL text
/// comparison and `ORDER BY` agree with time order. Every time bound in a
/// query goes through this type; never bind a `DateTime` directly (sqlx
/// writes a variable number of fraction digits on SQLite, and equal
/// instants would then compare unequal as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl Ts {
    pub fn new(t: DateTime<Utc>) -> Self {
        Ts(trunc_micros(t))
    }
}

/// Truncates to the microsecond, the precision the catalog keeps.
pub fn trunc_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        let text = trunc_micros(self.0)
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string();
        <String as Encode<Sqlite>>::encode(text, buf)
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&trunc_micros(self.0), buf)
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> Ts {
    Ts::new(t)
}

pub(crate) fn ts_opt(t: Option<DateTime<Utc>>) -> Option<Ts> {
    t.map(Ts::new)
}

// ---------------------------------------------------------------- vaults

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Vault {
    pub id: VaultId,
    pub name: String,
    /// `recovery-services` or `backup` (validated by the model).
    pub kind: String,
    /// `LRS`, `ZRS`, `GRS`, `RA-GRS` (validated by the model).
    pub redundancy: String,
    /// Soft delete, immutability, encryption…: the model's document.
    pub settings: Value,
    pub created: DateTime<Utc>,
    /// Set while the vault is soft-deleted (schema 4).
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a soft-deleted vault is purged for good.
    pub purge_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewVault {
    pub name: String,
    pub kind: String,
    pub redundancy: String,
    pub settings: Value,
    pub created: DateTime<Utc>,
}

/// What a vault holds, from the catalog's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VaultUsage {
    pub items: i64,
    pub points: i64,
    /// Sum of the points' logical sizes.
    pub stored_bytes: i64,
    /// Sum of the bytes each point added to the store (after dedup).
    pub added_bytes: i64,
}

// -------------------------------------------------------------- policies

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Policy {
    pub id: PolicyId,
    pub vault_id: VaultId,
    pub name: String,
    /// The policy as JSON (Azure `AzureIaasVMProtectionPolicy` field names);
    /// validated by the model before it gets here.
    pub document: Value,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

// ----------------------------------------------------------------- items

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Item {
    pub id: ItemId,
    pub vault_id: VaultId,
    pub name: String,
    /// What the item protects (schema 7: the `source_spec` column; the
    /// `workload` and `source` columns repeat its name and path).
    #[sqlx(json, rename = "source_spec")]
    pub source: Source,
    /// `None` once protection is stopped without a policy.
    pub policy_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: ProtectionState,
    pub last_backup_time: Option<DateTime<Utc>>,
    /// `Healthy`, `Unhealthy`; `None` before the first backup ended.
    pub last_backup_status: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    #[sqlx(try_from = "String")]
    pub health: HealthStatus,
    /// Workload options (exclusions, …).
    pub settings: Value,
    pub created: DateTime<Utc>,
    /// Set while the item is soft-deleted (schema 4).
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a soft-deleted item is purged for good.
    pub purge_at: Option<DateTime<Utc>>,
}

/// The `source` column of an item: its source's path, the key of the
/// one-item-per-source lookup.
pub(crate) fn source_key(source: &Source) -> String {
    source.path().to_string_lossy().into_owned()
}

#[derive(Debug, Clone)]
pub struct NewItem {
    pub vault_id: VaultId,
    pub name: String,
    pub source: Source,
    pub policy_name: Option<String>,
    pub state: ProtectionState,
    pub health: HealthStatus,
    pub settings: Value,
    pub next_run: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
}

/// A partial update of an item: `None` leaves a field as it is; for the
/// nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ItemPatch {
    pub state: Option<ProtectionState>,
    pub policy_name: Option<Option<String>>,
    pub last_backup_time: Option<Option<DateTime<Utc>>>,
    pub last_backup_status: Option<Option<LastBackupStatus>>,
    pub next_run: Option<Option<DateTime<Utc>>>,
    pub health: Option<HealthStatus>,
    pub settings: Option<Value>,
}

// ---------------------------------------------------------------- points

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Point {
    pub id: PointId,
    pub vault_id: VaultId,
    pub item_id: ItemId,
    /// The store's point id: the row exists only after the store committed it.
    pub store_id: String,
    pub time: DateTime<Utc>,
    /// `file-system`, `crash`, `application`.
    pub consistency: String,
    /// `snapshot`, `vault`, `archive`.
    pub tier: String,
    pub size: i64,
    pub added_bytes: i64,
    /// The retention rules that keep the point (`daily`, `weekly`, …, `on-demand`).
    #[sqlx(json)]
    pub rule_tags: Vec<String>,
    /// When the point may be deleted; `None` keeps it.
    pub expiry: Option<DateTime<Utc>>,
    /// Scheduled points: the slot's local key (`YYYY-MM-DDTHH:MM`); retention
    /// rules match on its date. `None` for on-demand points (schema 2).
    pub slot_key: Option<String>,
    /// On-demand points: the retain-until the user gave.
    pub retain_until: Option<DateTime<Utc>>,
    /// The rule that decides the expiry (`daily`, …, `on-demand`).
    pub rule_name: Option<String>,
    /// The expiry the rules give; differs from `expiry` while a hold keeps
    /// the point (`expiry` is then `None`).
    pub rule_expiry: Option<DateTime<Utc>>,
    /// `retain-data` or `latest-point` while protection is stopped.
    pub hold: Option<String>,
    /// Set while the point is soft-deleted (a retention cut expired it;
    /// schema 4): hidden from normal lists, back if retention is raised.
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a soft-deleted point is purged for good.
    pub purge_at: Option<DateTime<Utc>>,
}

/// The origin and retention detail of a new point (schema 2), for
/// [`crate::Catalog::insert_point_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointDetail {
    pub slot_key: Option<String>,
    pub retain_until: Option<DateTime<Utc>>,
    pub rule_name: Option<String>,
    pub rule_expiry: Option<DateTime<Utc>>,
    pub hold: Option<String>,
}

/// A point's new retention after re-tagging
/// ([`crate::Catalog::set_point_retention`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointRetention {
    pub rule_tags: Vec<String>,
    /// The expiry in force: `None` while held.
    pub expiry: Option<DateTime<Utc>>,
    pub rule_name: Option<String>,
    pub rule_expiry: Option<DateTime<Utc>>,
    pub hold: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewPoint {
    pub item_id: ItemId,
    pub store_id: String,
    pub time: DateTime<Utc>,
    pub consistency: String,
    pub tier: String,
    pub size: i64,
    pub added_bytes: i64,
    pub rule_tags: Vec<String>,
    pub expiry: Option<DateTime<Utc>>,
}

/// Narrows a point listing to `from <= time < to`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PointFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- alerts

/// A security event of a vault (schema 4).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    pub vault_id: VaultId,
    /// `delete-backup-data`, `upcoming-purge`, `purge-complete`,
    /// `soft-delete-disabled` (the model's `AlertKind`).
    pub kind: String,
    /// The item it is about, by name (the row may be purged since).
    pub item_name: Option<String>,
    pub time: DateTime<Utc>,
    pub message: String,
    #[serde(skip)]
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub vault_id: VaultId,
    pub kind: String,
    pub item_name: Option<String>,
    pub time: DateTime<Utc>,
    pub message: String,
    /// An alert with the same key is recorded once.
    pub dedup_key: Option<String>,
}

// ------------------------------------------------------------------ jobs

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: JobId,
    pub vault_id: VaultId,
    pub item_id: Option<ItemId>,
    /// Rows of a job type this binary does not know are never claimed
    /// (see [`crate::Catalog::claim_next`]), so every row read decodes.
    #[sqlx(try_from = "String")]
    pub job_type: JobType,
    #[sqlx(try_from = "String")]
    pub state: JobStatus,
    /// The scheduled slot this job runs (item id + local date and time),
    /// unique per item; `None` for on-demand jobs.
    pub slot_key: Option<String>,
    /// The server holding the job while it is in progress.
    pub owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// How many times a worker claimed the job.
    pub attempt: i32,
    pub cancel_requested: bool,
    /// When the job became runnable; the queue runs oldest first, and not
    /// before this time.
    pub queued_at: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub progress: Value,
    pub tasks: Value,
    pub warnings: Value,
    pub errors: Value,
    pub params: Value,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub vault_id: VaultId,
    pub item_id: Option<ItemId>,
    pub job_type: JobType,
    pub slot_key: Option<String>,
    pub params: Value,
    pub queued_at: DateTime<Utc>,
}

/// One item's planning step for [`crate::Catalog::plan_slots`]: queue `job`
/// (if any) and move the item's `next_run` from `expected` to `next`.
#[derive(Debug, Clone)]
pub struct PlannedSlot {
    pub item_id: ItemId,
    pub job: Option<NewJob>,
    pub expected: DateTime<Utc>,
    pub next: Option<DateTime<Utc>>,
}

/// What [`crate::Catalog::plan_slots`] did for one [`PlannedSlot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanResult {
    /// The job was queued (false: it was there already, or none was asked).
    pub queued: bool,
    /// The watermark moved (false: another scheduler moved it first).
    pub advanced: bool,
}

/// How a job ended, written by its owner.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// A terminal status ([`JobStatus::is_terminal`]).
    pub state: JobStatus,
    pub end_time: DateTime<Utc>,
    /// Final progress and sub-tasks; `None` keeps the last reported.
    pub progress: Option<Value>,
    pub tasks: Option<Value>,
    pub warnings: Value,
    pub errors: Value,
}

/// A job whose lease had lapsed, now held by the server that reclaimed it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReclaimedJob {
    pub job: Job,
    /// The server that lost it.
    pub previous_owner: Option<String>,
}

/// One renewed lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Renewed {
    pub id: JobId,
    /// Someone asked to cancel the job: the worker should stop it.
    pub cancel_requested: bool,
}

/// Filters for [`crate::Catalog::list_jobs`]; time bounds apply to `queued_at`
/// (`from <= queued_at < to`).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub vault_id: Option<VaultId>,
    pub item_id: Option<ItemId>,
    pub state: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    /// The role of a token made before identities (schema 5); empty for a
    /// token that belongs to an identity, whose role assignments apply.
    pub role: String,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    /// The identity the token belongs to; `None` for a token made before
    /// identities.
    pub identity_id: Option<IdentityId>,
    /// When the token stops working; `None`: never (bootstrap and
    /// pre-identity tokens only).
    pub expires: Option<DateTime<Utc>>,
    /// When the token was revoked.
    pub revoked: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------ pagination

/// The largest page a list returns.
pub const MAX_PAGE: u32 = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 100;

/// Which page of a list: at most `limit` rows after `cursor` (the
/// `next_cursor` of the previous page; `None` for the first page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// 0 means [`DEFAULT_PAGE`]; more than [`MAX_PAGE`] means `MAX_PAGE`.
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Page {
    pub fn first(limit: u32) -> Self {
        Page {
            limit,
            cursor: None,
        }
    }

    pub fn after(limit: u32, cursor: Option<String>) -> Self {
        Page { limit, cursor }
    }

    pub(crate) fn size(&self) -> i64 {
        i64::from(match self.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        })
    }
}

/// One page of a list, and the cursor of the next page when there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Cursors are opaque to clients: a tag naming the list, then the key of the
/// last row returned, hex-encoded. A cursor of another list is refused.
pub(crate) mod cursor {
    use super::*;

    pub const POINTS: u8 = b'p';
    pub const JOBS: u8 = b'j';
    pub const ITEMS: u8 = b'i';

    /// A (time, id) key, for lists in time order.
    pub fn encode_time(tag: u8, time: DateTime<Utc>, id: i64) -> String {
        let mut b = Vec::with_capacity(17);
        b.push(tag);
        b.extend_from_slice(&time.timestamp_micros().to_be_bytes());
        b.extend_from_slice(&id.to_be_bytes());
        hex::encode(b)
    }

    pub fn decode_time(tag: u8, cursor: &str) -> Result<(DateTime<Utc>, i64)> {
        let b = hex::decode(cursor).map_err(|_| CatalogError::InvalidCursor)?;
        if b.len() != 17 || b[0] != tag {
            return Err(CatalogError::InvalidCursor);
        }
        let micros = i64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
        let id = i64::from_be_bytes(b[9..17].try_into().expect("8 bytes"));
        let time = DateTime::from_timestamp_micros(micros).ok_or(CatalogError::InvalidCursor)?;
        Ok((time, id))
    }

    /// A name key, for lists in name order.
    pub fn encode_name(tag: u8, name: &str) -> String {
        let mut b = Vec::with_capacity(name.len() + 1);
        b.push(tag);
        b.extend_from_slice(name.as_bytes());
        hex::encode(b)
    }

    pub fn decode_name(tag: u8, cursor: &str) -> Result<String> {
        let b = hex::decode(cursor).map_err(|_| CatalogError::InvalidCursor)?;
        if b.first() != Some(&tag) {
            return Err(CatalogError::InvalidCursor);
        }
        String::from_utf8(b[1..].to_vec()).map_err(|_| CatalogError::InvalidCursor)
    }
}

/// Splits `limit + 1` fetched rows into a page and the next cursor.
pub(crate) fn paginate<T>(mut rows: Vec<T>, size: i64, key: impl Fn(&T) -> String) -> Paged<T> {
    let size = size as usize;
    if rows.len() > size {
        rows.truncate(size);
        let next_cursor = rows.last().map(key);
        Paged {
            items: rows,
            next_cursor,
        }
    } else {
        Paged {
            items: rows,
            next_cursor: None,
        }
    }
}
