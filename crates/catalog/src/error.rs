//! Catalog errors, each with a stable code.

use std::fmt;

use lifeboat_codes::{self as codes, Code};

/// What kind of row an error is about; part of every message and of the
/// `target` the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Vault,
    Policy,
    Item,
    Point,
    Job,
    Token,
    Identity,
    RoleAssignment,
    ResourceGuard,
    MuaRequest,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Vault => "vault",
            Entity::Policy => "policy",
            Entity::Item => "protected item",
            Entity::Point => "recovery point",
            Entity::Job => "job",
            Entity::Token => "token",
            Entity::Identity => "identity",
            Entity::RoleAssignment => "role assignment",
            Entity::ResourceGuard => "resource guard",
            Entity::MuaRequest => "approval request",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every way a catalog operation can fail. [`CatalogError::code`] is the
/// stable code the API and the CLI show; messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database was migrated by a newer Lifeboat than this binary.
    #[error(
        "the catalog's schema version is {found}, newer than this binary knows ({supported}); \
         run the newer lifeboat that upgraded it, or restore a catalog backup taken before the upgrade"
    )]
    TooNew { found: i64, supported: i64 },

    #[error("{entity} '{name}' not found")]
    NotFound { entity: Entity, name: String },

    #[error("{entity} '{name}' already exists")]
    Conflict { entity: Entity, name: String },

    #[error("{entity} '{name}' is in use: {detail}")]
    InUse {
        entity: Entity,
        name: String,
        detail: String,
    },

    /// A job update by a worker that no longer holds the job (its lease
    /// lapsed and another server took it, or the job ended).
    #[error("job {id} is not in progress under owner '{owner}'; its lease was lost or it ended")]
    LeaseLost { id: i64, owner: String },

    /// An operation that does not apply to the row's current state.
    #[error("{entity} '{name}': {detail}")]
    InvalidState {
        entity: Entity,
        name: String,
        detail: String,
    },

    #[error("invalid pagination cursor; start again without a cursor")]
    InvalidCursor,

    #[error(
        "invalid catalog URL '{url}': {detail} (use sqlite://PATH?mode=rwc or postgres://USER@HOST/DB)"
    )]
    InvalidUrl { url: String, detail: String },

    #[error("catalog migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),

    /// The database cannot be reached (connection refused, pool timed out).
    #[error("catalog database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),

    #[error("catalog database error: {0}")]
    Db(#[source] sqlx::Error),
}

impl CatalogError {
    /// The stable code: never changes meaning once released.
    pub fn code(&self) -> Code {
        match self {
            CatalogError::TooNew { .. } => codes::CATALOG_TOO_NEW,
            CatalogError::NotFound { .. } => codes::NOT_FOUND,
            CatalogError::Conflict { .. } => codes::CONFLICT,
            CatalogError::InUse { .. } => codes::IN_USE,
            CatalogError::LeaseLost { .. } => codes::LEASE_LOST,
            CatalogError::InvalidState { .. } => codes::INVALID_STATE,
            CatalogError::InvalidCursor => codes::INVALID_CURSOR,
            CatalogError::InvalidUrl { .. } => codes::INVALID_CATALOG_URL,
            CatalogError::Migration(_) => codes::CATALOG_MIGRATION_FAILED,
            CatalogError::Unavailable(_) => codes::CATALOG_UNAVAILABLE,
            CatalogError::Db(_) => codes::DB_ERROR,
        }
    }

    pub(crate) fn not_found(entity: Entity, name: impl fmt::Display) -> Self {
        CatalogError::NotFound {
            entity,
            name: name.to_string(),
        }
    }

    pub(crate) fn in_use(entity: Entity, name: impl fmt::Display, detail: String) -> Self {
        CatalogError::InUse {
            entity,
            name: name.to_string(),
            detail,
        }
    }

    pub(crate) fn invalid_state(entity: Entity, name: impl fmt::Display, detail: String) -> Self {
        CatalogError::InvalidState {
            entity,
            name: name.to_string(),
            detail,
        }
    }
}

impl From<sqlx::Error> for CatalogError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => CatalogError::Unavailable(e),
            e => CatalogError::Db(e),
        }
    }
}

/// Turns a unique-constraint violation into `Conflict`, anything else into
/// the usual mapping.
pub(crate) fn on_unique(e: sqlx::Error, entity: Entity, name: impl fmt::Display) -> CatalogError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return CatalogError::Conflict {
            entity,
            name: name.to_string(),
        };
    }
    e.into()
}

/// True for a foreign-key violation (a referenced row is missing, or a row
/// still referenced is being deleted).
pub(crate) fn is_fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// A row deletion's result, where a foreign-key violation means another
/// connection added a row that refers to it since the checks: `IN_USE`,
/// with `why`.
pub(crate) fn deleted_unless_referenced<T>(
    r: std::result::Result<T, sqlx::Error>,
    entity: Entity,
    name: &str,
    why: &str,
) -> Result<T> {
    match r {
        Err(e) if is_fk_violation(&e) => Err(CatalogError::in_use(entity, name, why.into())),
        r => Ok(r?),
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
