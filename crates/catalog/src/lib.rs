//! # lifeboat-catalog: the service's persistence
//!
//! This crate owns the catalog, the truth for *intent* (docs/service.md,
//! "Truth"): vaults, backup policies, protected items, recovery-point rows,
//! the job queue and API tokens, on SQLite (the embedded default) or
//! PostgreSQL (several servers sharing one catalog). It owns the schema and
//! its migrations, and the queue's concurrency rules: a scheduled slot is
//! enqueued once, a queued job is claimed by one worker, and a job whose
//! worker died is taken over by exactly one other. It does not validate
//! domain values (policy documents, vault settings): `lifeboat-model` does.
//! Its rows carry the model's types where the model has one (an item's
//! `Source` and protection state, a job's `JobType` and `JobStatus`),
//! converted here and nowhere else: columns hold their wire names
//! (`lifeboat_model::names`) or JSON.
//!
//! ## Design notes
//!
//! - **One [`Catalog`] type, an enum over `SqlitePool` and `PgPool`**, not
//!   sqlx's `Any` driver. `Any` decodes only a lowest-common-denominator set
//!   of types (no chrono timestamps, no JSON), hides which dialect runs so
//!   `FOR UPDATE SKIP LOCKED` and `BEGIN IMMEDIATE` cannot be chosen, and
//!   loses each driver's typed errors. With the enum every operation is
//!   written once: a macro expands the same body for both pools, so each is
//!   type-checked against its own driver, and the rare dialect-specific SQL
//!   (claiming, locking) is chosen with a `match` on [`Dialect`]. SQL uses
//!   `$n` placeholders, which both drivers accept.
//! - **Migrations**: one folder per dialect (`migrations/sqlite`,
//!   `migrations/postgres`) with the same version numbers, embedded with
//!   `sqlx::migrate!` and run by [`Catalog::connect`]. The schema version is
//!   the highest row of sqlx's `_sqlx_migrations` table
//!   ([`Catalog::schema_version`]). A database that has a migration this
//!   binary does not know, newer than its newest, is refused with
//!   `CATALOG_TOO_NEW` before anything is changed.
//! - **Ids are database-generated 64-bit integers** (SQLite
//!   `INTEGER PRIMARY KEY AUTOINCREMENT`, never reused; PostgreSQL
//!   `BIGINT GENERATED ALWAYS AS IDENTITY`), wrapped in newtypes. They are
//!   compact, index well and give keyset pagination a natural tie-breaker.
//!   Users address vaults, policies and items by name (unique within their
//!   scope); jobs by id. The store's own recovery-point id is a separate
//!   unique column (`points.store_id`).
//! - **Times** are UTC, kept to the microsecond: PostgreSQL `TIMESTAMPTZ`;
//!   SQLite fixed-width RFC 3339 text, so text order is time order (see the
//!   crate-private `Ts` binding type).
//! - **JSON** (vault settings, policy documents, job progress, sub-tasks,
//!   warnings, errors, parameters): `JSONB` on PostgreSQL, text on SQLite,
//!   `serde_json::Value` in Rust.
//! - **Job queue**: `enqueue` is `INSERT … ON CONFLICT DO NOTHING` against
//!   the unique (item_id, slot_key) and, for item-less sweeps and GC, the
//!   unique (vault_id, job_type, slot_key) index (schema 2), so any number
//!   of schedulers planning one slot make one row.
//!   `claim_next` is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`,
//!   with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs it under its
//!   single-writer lock. A claim sets `owner` and `lease_until`; workers
//!   `renew`; `reclaim_expired` (and `reclaim_from`, for an owner known to
//!   be dead) hands lapsed jobs to exactly one caller, which then fails
//!   (`SERVER_LOST`) or re-queues them.
//! - **Scheduling support** (schema 2): `items.next_run` is the service's
//!   planning watermark, moved by compare-and-set (`advance_next_run`);
//!   points record their origin (`slot_key` or `retain_until`) and the
//!   retention behind `expiry` (`rule_name`, `rule_expiry`, `hold`), so
//!   re-tagging after a policy change works from the rows alone.
//! - **Soft delete** (schema 4): vaults, items and points carry
//!   `deleted_at` / `purge_at`; a soft-deleted vault is invisible to
//!   `get_vault` / `list_vaults`, a soft-deleted point to `list_points` and
//!   `expired_points` (the sweep purges it through `purgeable_points`
//!   instead). The `alerts` table records a vault's security alerts, once
//!   per `dedup_key`.
//! - **Multi-user authorization** (schema 6, `mua.rs`): resource guards,
//!   their holders, the vault → guard mapping and approval requests. An
//!   approval is used by one compare-and-set `UPDATE … WHERE state =
//!   'Approved' AND expires_at > now`, so two racing calls cannot both use
//!   it.
//! - **Pagination** is keyset, never `OFFSET`: points and jobs by
//!   `(time, id)` newest first, items by name; the cursor is opaque. Rows
//!   inserted while a client pages neither shift nor repeat the rows it has
//!   not seen yet.
//! - **Tokens** are stored as a BLAKE3 hash only (domain-separated with
//!   `derive_key`). API tokens are 256-bit random strings, so a fast hash is
//!   enough: nobody can brute-force 2^256 candidates, and a slow KDF such as
//!   argon2 would only add latency to every request. Being deterministic,
//!   the hash is also the lookup key (unique index).
//! - **Audit log** (schema 3, `audit.rs`): append-only rows chained by a
//!   keyed BLAKE3 MAC, a MAC'd head row against truncation; appends lock
//!   the head (`FOR UPDATE` on PostgreSQL) so several servers write one
//!   chain; `verify_audit` walks it in pages inside one read snapshot.
//! - **SQLite** runs in WAL mode with `synchronous = FULL` and foreign keys
//!   on; transactions that read and then write start with `BEGIN IMMEDIATE`
//!   so that two writers queue on the busy timeout instead of failing.

mod alerts;
pub mod api_queries;
mod audit;
mod error;
mod identities;
mod items;
mod jobs;
mod mua;
mod points;
mod policies;
mod soft_delete;
mod tokens;
mod types;
mod vaults;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use audit::{
    AuditBreak, AuditEntry, AuditFilter, AuditKey, AuditOutcome, AuditProblem, AuditVerification,
    GENESIS, NewAuditEntry, PHASE_ATTEMPT, PHASE_RESULT, row_hash,
};
pub use error::{CatalogError, Entity, Result};
pub use identities::{AssignmentFilter, Identity, RoleAssignment};
pub use mua::{GuardMember, MuaRequest, NewMuaRequest, ResourceGuard, VaultGuard, mua_state};
pub use soft_delete::DeleteMark;
pub use tokens::{constant_time_eq, hash_token};
pub use types::{Alert, NewAlert};
pub use types::{
    AssignmentId, DEFAULT_PAGE, GuardId, IdentityId, Item, ItemId, ItemPatch, Job, JobFilter,
    JobId, JobOutcome, MAX_PAGE, MuaRequestId, NewItem, NewJob, NewPoint, NewVault, Page, Paged,
    PlanResult, PlannedSlot, Point, PointDetail, PointFilter, PointId, PointRetention, Policy,
    PolicyId, ReclaimedJob, Renewed, Token, TokenId, Vault, VaultId, VaultUsage, trunc_micros,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which SQL dialect a catalog speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The catalog: a pool of connections to SQLite or PostgreSQL. Cheap to
/// clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Catalog {
    backend: Backend,
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$dialect` to
/// its [`Dialect`]: the body is compiled once per driver.
macro_rules! with_pool {
    ($cat:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match &$cat.backend {
            $crate::Backend::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::Dialect::Sqlite;
                $body
            }
            $crate::Backend::Postgres($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::Dialect::Postgres;
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Starts a transaction that will write: `BEGIN IMMEDIATE` on SQLite (takes
/// the write lock now, waiting on the busy timeout, instead of failing when
/// a read lock cannot be upgraded later), a plain `BEGIN` on PostgreSQL.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>>;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.begin().await?)
    }
}

/// How long a connection waits for SQLite's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an operation waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl Catalog {
    /// Opens the catalog at `url` and brings its schema up to date.
    ///
    /// - `sqlite://PATH?mode=rwc` (or `sqlite:PATH…`): a file, created when
    ///   `mode=rwc` is given;
    /// - `postgres://USER@HOST:PORT/DB` (or `postgresql://…`).
    ///
    /// Fails with `CATALOG_TOO_NEW` when the database was migrated by a newer
    /// binary, `CATALOG_UNAVAILABLE` when it cannot be reached, and
    /// `INVALID_CATALOG_URL` for anything else than the two schemes.
    pub async fn connect(url: &str) -> Result<Catalog> {
        Self::connect_with_pool_size(url, 10).await
    }

    /// As [`Catalog::connect`], with at most `max_connections` connections
    /// (SQLite in memory always uses one: each connection would be its own
    /// database).
    pub async fn connect_with_pool_size(url: &str, max_connections: u32) -> Result<Catalog> {
        let invalid = |detail: String| CatalogError::InvalidUrl {
            url: redact(url),
            detail,
        };
        let catalog = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| invalid(e.to_string()))?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { max_connections.max(1) })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(opts)
                .await?;
            Catalog {
                backend: Backend::Sqlite(pool),
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
            // One direct attempt first: the pool would retry a refused
            // connection until its acquire timeout; a server that cannot
            // reach its catalog should say so at once.
            PgConnection::connect_with(&opts).await?.close().await?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(opts)
                .await?;
            Catalog {
                backend: Backend::Postgres(pool),
            }
        } else {
            return Err(invalid("unknown scheme".into()));
        };
        catalog.migrate().await?;
        Ok(catalog)
    }

    /// The SQL dialect of this catalog.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The newest schema version this binary knows.
    pub fn supported_schema_version() -> i64 {
        newest(&SQLITE_MIGRATIONS).max(newest(&POSTGRES_MIGRATIONS))
    }

    /// The schema version of the database: its newest applied migration.
    pub async fn schema_version(&self) -> Result<i64> {
        with_pool!(self, |pool, dialect| {
            let v: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(pool)
                    .await?;
            Ok(v.unwrap_or(0))
        })
    }

    /// Closes every pooled connection; later calls fail with
    /// `CATALOG_UNAVAILABLE`.
    pub async fn close(&self) {
        with_pool!(self, |pool, dialect| pool.close().await)
    }

    async fn migrate(&self) -> Result<()> {
        let (migrator, result) = match &self.backend {
            Backend::Sqlite(pool) => (&SQLITE_MIGRATIONS, SQLITE_MIGRATIONS.run(pool).await),
            Backend::Postgres(pool) => (&POSTGRES_MIGRATIONS, POSTGRES_MIGRATIONS.run(pool).await),
        };
        let supported = newest(migrator);
        match result {
            Ok(()) => Ok(()),
            Err(MigrateError::VersionMissing(v)) if v > supported => {
                let found = self.schema_version().await.unwrap_or(v).max(v);
                Err(CatalogError::TooNew { found, supported })
            }
            Err(MigrateError::Execute(e)) => Err(e.into()),
            Err(e) => Err(CatalogError::Migration(e)),
        }
    }
}

fn newest(m: &Migrator) -> i64 {
    m.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_migrations() {
        let s: Vec<_> = SQLITE_MIGRATIONS
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        let p: Vec<_> = POSTGRES_MIGRATIONS
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        assert_eq!(s, p);
        assert!(!s.is_empty());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://lb:secret@db/x"),
            "postgres://lb:***@db/x"
        );
        assert_eq!(redact("postgres://lb@db/x"), "postgres://lb@db/x");
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
    }
}
