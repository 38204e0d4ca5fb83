//! The register of Lifeboat's stable codes. This crate owns the list of
//! every error and warning code that any Lifeboat crate emits — in API error
//! bodies (`{code, message, target}`), in a job's `errors` and `warnings`
//! (`errorCode`), in the CLI's `ERROR: (CODE) …` and `error [CODE]: …`
//! lines — each one a [`Code`] constant defined here, once, with what it
//! means. It owns nothing else: which HTTP status or exit status a code gets
//! is decided by the crate that answers with it.
//!
//! `docs/errors.md` lists the same set with what to do about each. The tests
//! of this crate fail when the two disagree, and when a crate outside this
//! one writes a code as a string literal instead of naming the constant
//! (`tests/source_scan.rs` says the exact rule).
//!
//! A code never changes meaning once released: add new ones, never rename
//! or reuse one.

use std::borrow::Cow;
use std::fmt;

/// A stable machine-readable code, e.g. [`INVALID_POLICY`]. Its values exist
/// only as the constants of this crate (see [`ALL`]); text that arrives from
/// elsewhere (a server's answer, a stored job) becomes one with
/// [`Code::parse`], so that decisions match on constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(&'static str);

impl Code {
    /// The wire string, e.g. `"INVALID_POLICY"`.
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The registered code spelled `s`, if there is one.
    pub fn parse(s: &str) -> Option<Code> {
        ALL.iter().copied().find(|c| c.0 == s)
    }

    /// What the code means, in one or two sentences (the constant's
    /// documentation; docs/errors.md says more, and what to do).
    pub fn meaning(self) -> &'static str {
        ALL.iter()
            .position(|c| *c == self)
            .map_or("", |i| MEANINGS[i].trim_start())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Comparisons with text, for code that receives codes as strings and for
/// tests that assert the wire string.
macro_rules! eq_text {
    ($($t:ty => |$c:ident, $s:ident| $e:expr),* $(,)?) => {$(
        impl PartialEq<$t> for Code {
            fn eq(&self, other: &$t) -> bool {
                let ($c, $s) = (self, other);
                $e
            }
        }
        impl PartialEq<Code> for $t {
            fn eq(&self, other: &Code) -> bool {
                other == self
            }
        }
    )*};
}

eq_text! {
    str => |c, s| c.0 == s,
    &str => |c, s| c.0 == *s,
    String => |c, s| c.0 == s.as_str(),
}

impl From<Code> for &'static str {
    fn from(c: Code) -> Self {
        c.0
    }
}

impl From<Code> for String {
    fn from(c: Code) -> Self {
        c.0.to_owned()
    }
}

impl From<Code> for Cow<'static, str> {
    fn from(c: Code) -> Self {
        Cow::Borrowed(c.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// Defines each code as a constant whose value is its own name, [`ALL`] and
/// the meanings from the same list, so that no value is written twice and
/// the list cannot drift from the constants.
macro_rules! register {
    ($( $(#[doc = $doc:literal])+ $name:ident ),* $(,)?) => {
        $( $(#[doc = $doc])+ pub const $name: Code = Code(stringify!($name)); )*
        /// Every registered code, in the order of docs/errors.md's sections.
        pub const ALL: &[Code] = &[$($name),*];
        /// The documentation of each code of [`ALL`], in the same order.
        const MEANINGS: &[&str] = &[$(concat!($($doc),+)),*];
    };
}

register! {
    // ---- Server (lifeboat-server) ----
    /// No `Authorization` header.
    AUTH_REQUIRED,
    /// The header is not `Bearer <token>`, or the token is unknown.
    AUTH_INVALID,
    /// The token is past its expiry time.
    TOKEN_EXPIRED,
    /// The token was revoked.
    TOKEN_REVOKED,
    /// The token's identity is disabled.
    IDENTITY_DISABLED,
    /// The caller's roles do not allow the operation here, or the caller
    /// does not hold the resource guard.
    FORBIDDEN,
    /// A role name the server does not know.
    INVALID_ROLE,
    /// The caller tried to disable itself or drop its own server-scope
    /// Owner role.
    SELF_LOCKOUT,
    /// The body is not JSON, or a field has the wrong type or is missing.
    BAD_REQUEST,
    /// The request body is over the server's limit.
    PAYLOAD_TOO_LARGE,
    /// A value outside what is allowed (the server's, the model's, the
    /// store's, the workloads' and the CLI's code for a refused argument).
    INVALID_ARGUMENT,
    /// The path to protect does not exist or cannot be read.
    SOURCE_NOT_FOUND,
    /// No such API route.
    ROUTE_NOT_FOUND,
    /// The route exists, not with this method.
    METHOD_NOT_ALLOWED,
    /// The named vault, policy, item, point, job, guard or request does not
    /// exist (also the catalog's code for a missing row).
    NOT_FOUND,
    /// A row of that name exists already, or the source is already
    /// protected (also the catalog's code for a duplicate row).
    CONFLICT,
    /// The vault still has protected items, recovery points or running jobs.
    VAULT_NOT_EMPTY,
    /// Protected items use the policy.
    POLICY_IN_USE,
    /// At start: a non-loopback listen address without TLS or
    /// `--insecure-http`.
    INSECURE_LISTEN,

    // ---- Model (lifeboat-model) ----
    /// A backup policy breaks a rule or a limit.
    INVALID_POLICY,
    /// A vault name breaks the naming rules.
    INVALID_VAULT_NAME,
    /// A vault setting is out of range, or an irreversible setting would
    /// change.
    INVALID_VAULT_SETTINGS,
    /// Soft delete is `AlwaysON`: it can never be lowered again.
    SOFT_DELETE_ALWAYS_ON,
    /// Immutability is `Locked`: it can never change again.
    IMMUTABILITY_LOCKED,
    /// Immutability can be locked only from `Unlocked`.
    IMMUTABILITY_NOT_UNLOCKED,
    /// Immutable vault: a recovery point cannot be deleted before its expiry.
    IMMUTABLE_POINT_NOT_EXPIRED,
    /// Immutable vault: no stop with delete-data while points are unexpired.
    IMMUTABLE_STOP_WITH_DELETE,
    /// Immutable vault: a policy edit that shortens or removes a retention.
    IMMUTABLE_RETENTION_REDUCTION,
    /// Immutable vault: a policy swap that would keep points less long.
    IMMUTABLE_POLICY_SWAP_REDUCTION,
    /// A critical operation needs an approved, unexpired, unused request of
    /// the caller.
    MUA_APPROVAL_REQUIRED,
    /// The caller's approval expired before it was used.
    MUA_APPROVAL_EXPIRED,
    /// A guard holder tried to decide its own request.
    MUA_SELF_APPROVAL,
    /// The request is no longer `Pending`.
    MUA_REQUEST_STATE,
    /// A resource guard that a vault uses cannot be deleted.
    RESOURCE_GUARD_IN_USE,
    /// The vault already has another resource guard.
    RESOURCE_GUARD_ATTACHED,
    /// Valid in Azure's model, not possible in Lifeboat yet.
    NOT_SUPPORTED,
    /// The item's protection state does not allow the action.
    INVALID_ITEM_STATE,
    /// The job's state does not allow the action.
    INVALID_JOB_STATE,

    // ---- Catalog (lifeboat-catalog) ----
    /// A row is still referenced.
    IN_USE,
    /// An operation that does not apply to the row's state.
    INVALID_STATE,
    /// An update by a holder whose lease lapsed: a job's server (catalog)
    /// or a store writer (store).
    LEASE_LOST,
    /// A pagination cursor this list did not hand out.
    INVALID_CURSOR,
    /// The catalog database cannot be reached.
    CATALOG_UNAVAILABLE,
    /// Any other database failure.
    DB_ERROR,
    /// At start: the catalog was migrated by a newer Lifeboat.
    CATALOG_TOO_NEW,
    /// At start: `--catalog` is neither `sqlite://…` nor `postgres://…`.
    INVALID_CATALOG_URL,
    /// At start: a schema migration failed.
    CATALOG_MIGRATION_FAILED,

    // ---- Service (lifeboat-service) ----
    /// The recovery point is not one of the item's (the store: no point
    /// matches the name).
    POINT_NOT_FOUND,
    /// The recovery point was soft-deleted by a retention cut.
    POINT_SOFT_DELETED,
    /// The vault's store folder or key file is missing, damaged or cannot
    /// be written.
    VAULT_STORAGE,
    /// The key-encryption key that wraps a vault's secret cannot be had.
    KEY_UNAVAILABLE,
    /// A key is there but is not the one the vault's secret is wrapped with.
    KEY_MISMATCH,
    /// A vault's wrapped key file is damaged or of an unknown version.
    KEY_FILE_DAMAGED,
    /// A stored policy document no longer validates.
    POLICY_UNREADABLE,
    /// The server is stopping (an API refusal).
    SHUTTING_DOWN,
    /// A bug.
    INTERNAL,
    /// In a job's errors: the server running the job died; another server
    /// took it over.
    SERVER_LOST,
    /// In a job's errors: the server stopped while the job ran or before it
    /// started.
    SERVER_SHUTDOWN,
    /// In a job's errors: the job's protected item does not exist (any more).
    ITEM_NOT_FOUND,
    /// In a backup job's warnings: scheduled runs were missed while no
    /// server ran; this one stands for them.
    SLOTS_MISSED,
    /// In a backup job's warnings: the scheduled backup started late.
    SLOT_LATE,
    /// In a backup job's warnings: the job retries one lost with its server.
    RETRY,
    /// In a backup job's warnings: files changed while they were read.
    CHANGED_DURING_BACKUP,
    /// In a delete job's warnings: the item was already gone.
    ITEM_ALREADY_DELETED,
    /// In a job's warnings: the follow-up garbage collection could not be
    /// queued.
    GC_NOT_QUEUED,
    /// In a sweep's warnings: a point the store holds but the catalog did
    /// not know was added to the catalog.
    POINT_ADOPTED,

    // ---- Store (lifeboat-store) ----
    /// The vault's folder holds no store.
    NOT_A_VAULT,
    /// A store already exists where a new one was to be made.
    VAULT_EXISTS,
    /// The store was written by a newer Lifeboat.
    VAULT_FORMAT_NEWER,
    /// No key slot of the store opens with the given passphrase or key.
    WRONG_PASSPHRASE,
    /// The point name matches more than one point.
    POINT_AMBIGUOUS,
    /// A path to restore is not in the point.
    PATH_NOT_FOUND,
    /// A restore target exists and the conflict rule is `fail`.
    TARGET_EXISTS,
    /// Damaged store data.
    DATA_CORRUPT,
    /// A point references a chunk the index does not have.
    CHUNK_MISSING,
    /// A manifest names a path outside the restore target.
    UNSAFE_PATH,
    /// Another garbage collection holds a live lease on the store.
    GC_RUNNING,
    /// The last key slot cannot be removed.
    LAST_KEY,
    /// A locked (immutable) store still holds the point.
    IMMUTABLE_POINT_HELD,
    /// No space where the store lives; nothing was committed.
    STORAGE_FULL,
    /// A file-system error.
    IO_ERROR,
    /// An external tool (`qemu-img`, `qemu-nbd`) failed.
    EXTERNAL_TOOL,

    // ---- Backends (lifeboat-backend, reported by the store) ----
    /// The backend kept failing with transient errors through its retries.
    BACKEND_UNAVAILABLE,
    /// A write was cut off part-way and left other bytes under the name.
    BACKEND_PARTIAL_WRITE,
    /// The vault URL names a backend this Lifeboat does not have yet.
    BACKEND_NOT_BUILT,
    /// The vault location cannot be understood.
    INVALID_BACKEND_URL,

    // ---- Workloads (lifeboat-workloads) ----
    /// In a backup job's errors: the item's source cannot be read now.
    SOURCE_UNAVAILABLE,
    /// In a backup job's warnings: one file or folder could not be read and
    /// is not in the point.
    SOURCE_WARNING,
    /// In a restore job's warnings: one entry could not be written.
    RESTORE_ENTRY_FAILED,
    /// In a restore's report or a restore job's warnings: part of an
    /// entry's recorded metadata (owner, mode, times, an xattr, inode
    /// flags, a device node) could not be set; its data was restored.
    METADATA_NOT_RESTORED,
    /// In a disk restore's warnings: the target exists and `conflict` is
    /// `skip`, so nothing was written.
    TARGET_SKIPPED,

    // ---- Disk images over NBD (lifeboat-nbd) ----
    /// The NBD server sent something the protocol does not allow.
    NBD_PROTOCOL,
    /// The NBD server refused the export or a metadata context.
    NBD_EXPORT_FAILED,
    /// The NBD server lacks a feature Lifeboat needs.
    NBD_UNSUPPORTED,
    /// A read or block-status command came back with an error.
    NBD_COMMAND_FAILED,
    /// A read or status request outside the image.
    NBD_RANGE,
    /// Another process holds the image's write lock.
    NBD_IMAGE_LOCKED,
    /// `qemu-nbd` or `qemu-img` could not start or open the image.
    NBD_QEMU_FAILED,
    /// The socket to `qemu-nbd` failed.
    NBD_IO,

    // ---- Audit log (lifeboat-server) ----
    /// A mutating request could not be written to the audit log, so it was
    /// not carried out.
    AUDIT_UNAVAILABLE,
    /// The audit log's hash chain is broken.
    AUDIT_CHAIN_BROKEN,
    /// The audit log has rows but its key file is gone.
    AUDIT_KEY_MISSING,
    /// At start: the audit key file is not 64 hex digits or cannot be read.
    AUDIT_KEY_INVALID,

    // ---- Command line (lifeboat) ----
    /// The server could not be reached.
    SERVER_UNREACHABLE,
    /// The server's TLS certificate did not verify.
    TLS_UNTRUSTED,
    /// The server answered something that is not the API's shape.
    BAD_RESPONSE,
    /// An error answer without a code, with status 403.
    AUTH_FORBIDDEN,
    /// An error answer without a code, with a 5xx or unexpected status.
    SERVER_ERROR,
    /// The CLI's configuration file cannot be read or written.
    CONFIG_ERROR,
    /// `--timeout` ran out while the job was still running.
    WAIT_TIMEOUT,
    /// A destructive command was not confirmed.
    NOT_CONFIRMED,
    /// A waited-for job ended `Failed` without an error code of its own.
    JOB_FAILED,
    /// A waited-for job ended `Cancelled` without an error code of its own.
    JOB_CANCELLED,
    /// A job's error or warning arrived without a code.
    UNKNOWN,
    /// A failure of a `lifeboat store` or `vault-key` command that has no
    /// code of its own.
    FAILED,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_their_own_names() {
        assert_eq!(INVALID_POLICY.as_str(), "INVALID_POLICY");
        assert_eq!(INVALID_POLICY.to_string(), "INVALID_POLICY");
        assert_eq!(Code::parse("NBD_IO"), Some(NBD_IO));
        assert_eq!(Code::parse("nbd_io"), None);
        assert_eq!(NOT_FOUND, "NOT_FOUND");
        assert_eq!("NOT_FOUND", NOT_FOUND);
        assert_ne!(NOT_FOUND, String::from("CONFLICT"));
        assert_eq!(
            SELF_LOCKOUT.meaning(),
            "The caller tried to disable itself or drop its own server-scope Owner role."
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_the_wire_string() {
        assert_eq!(
            serde_json::to_value(GC_RUNNING).ok(),
            Some(serde_json::json!("GC_RUNNING"))
        );
    }
}
