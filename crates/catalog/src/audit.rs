//! The audit log: append-only, hash-chained rows (schema 3).
//!
//! ## The chain
//!
//! Every row carries `prev_hash`, the `hash` of the row before it (the
//! first row: [`GENESIS`]), and its own `hash`: a keyed BLAKE3 MAC, under
//! the server's audit key, over a canonical encoding of every field of the
//! row *and* `prev_hash` ([`row_hash`]). Someone who can write to the
//! database but does not hold the key therefore cannot
//!
//! - edit a field of a row (its hash no longer matches: `edited`),
//! - delete a row in the middle (a gap in `seq`: `missing`),
//! - move or splice rows (a row whose own hash holds but whose `prev_hash`
//!   is not the hash of the row before it: `reordered`),
//! - delete the newest rows: the one-row table `audit_head` keeps the last
//!   seq and hash under a MAC of its own, so a chain that ends before (or
//!   after) the head is `head-mismatch`. Rewinding the head needs a head
//!   MAC the attacker saw before; the structured log (the server emits every
//!   row's seq and hash) is the outside anchor against that.
//!
//! ## Appending
//!
//! [`Catalog::append_audit`] reads the head, writes row `head.seq + 1` and
//! moves the head in one transaction. PostgreSQL locks the head row
//! (`FOR UPDATE`), so appends of several servers on one catalog queue
//! behind each other and form one chain; SQLite's single writer
//! (`BEGIN IMMEDIATE`) does the same. `seq` is taken from the head inside
//! that transaction, so a rolled-back append leaves no gap.
//!
//! ## Verifying
//!
//! [`Catalog::verify_audit`] reads the head and walks the rows in `seq`
//! order a page at a time (bounded memory) inside one read-only snapshot
//! (PostgreSQL `REPEATABLE READ`, an SQLite read transaction), so appends
//! running meanwhile neither show up half-way nor look like tampering. It
//! stops at the first broken row and says which and why
//! ([`AuditProblem`]). Without the key it still checks sequence, links and
//! head, and reports `key-missing`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::types::{Page, Paged, paginate, trunc_micros, ts};
use crate::{BeginWrite, Catalog, CatalogError, Dialect, with_pool};

mod chain;
use chain::head_mac;
pub use chain::row_hash;

/// `prev_hash` of the first row: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The phase of a row: the request is about to run its handler.
pub const PHASE_ATTEMPT: &str = "attempt";
/// The phase of a row: the request was answered (with `status`).
pub const PHASE_RESULT: &str = "result";

/// How many rows verification reads at a time.
const VERIFY_BATCH: i64 = 1000;

/// The secret the chain's MACs are keyed with: 32 bytes. Two subkeys are
/// derived from it (rows, head), so one MAC can never stand in for the
/// other. `Debug` does not show it.
#[derive(Clone)]
pub struct AuditKey {
    row: [u8; 32],
    head: [u8; 32],
}

impl AuditKey {
    pub fn new(secret: [u8; 32]) -> Self {
        AuditKey {
            row: blake3::derive_key("lifeboat 2026 audit row mac v1", &secret),
            head: blake3::derive_key("lifeboat 2026 audit head mac v1", &secret),
        }
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

/// A row to append; `seq`, `prev_hash` and `hash` are the catalog's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub time: DateTime<Utc>,
    /// The token's name, or `anonymous`.
    pub principal: String,
    /// The token's id; `None` for anonymous.
    pub principal_id: Option<i64>,
    /// Where the request came from (the peer address).
    pub source: String,
    /// A stable operation name (the API's OpenAPI `operationId`).
    pub operation: String,
    /// The resource path the request named.
    pub target: String,
    /// [`PHASE_ATTEMPT`] or [`PHASE_RESULT`].
    pub phase: String,
    /// The HTTP status of the answer; `None` for an attempt.
    pub status: Option<i32>,
    /// The error code of the answer, if it was an error.
    pub error_code: Option<String>,
    pub request_id: String,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub time: DateTime<Utc>,
    pub principal: String,
    pub principal_id: Option<i64>,
    pub source: String,
    pub operation: String,
    pub target: String,
    pub phase: String,
    pub status: Option<i32>,
    pub error_code: Option<String>,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Which answers a listing keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// Answered with a status below 400.
    Success,
    /// Answered with a status of 400 or more (refused or failed).
    Failure,
}

/// Filters for [`Catalog::list_audit`]; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// `from <= time`.
    pub from: Option<DateTime<Utc>>,
    /// `time < to`.
    pub to: Option<DateTime<Utc>>,
    /// Exactly this principal name.
    pub principal: Option<String>,
    /// Operations starting with this (case-sensitive).
    pub operation_prefix: Option<String>,
    /// Targets starting with this (case-sensitive).
    pub target_prefix: Option<String>,
    /// Only result rows with this outcome (attempt rows have none).
    pub outcome: Option<AuditOutcome>,
}

/// Why the chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditProblem {
    /// A row's hash does not match its fields: the row was edited.
    Edited,
    /// Rows are missing: a gap in `seq`.
    Missing,
    /// A row is intact but does not follow the row before it.
    Reordered,
    /// The chain does not end where the head says (newest rows deleted or
    /// added behind the appender's back), or the head itself was altered.
    HeadMismatch,
    /// No audit key: the rows' hashes cannot be checked.
    KeyMissing,
}

impl AuditProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditProblem::Edited => "edited",
            AuditProblem::Missing => "missing",
            AuditProblem::Reordered => "reordered",
            AuditProblem::HeadMismatch => "head-mismatch",
            AuditProblem::KeyMissing => "key-missing",
        }
    }
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first place the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditBreak {
    /// The first broken seq (for `missing`, the first missing one); `None`
    /// when no single row is to blame (`key-missing`, a lost head row).
    pub seq: Option<i64>,
    pub problem: AuditProblem,
    /// What is wrong, in words, naming the seq.
    pub detail: String,
}

/// What [`Catalog::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Rows read before the walk ended (all of them when intact).
    pub checked: i64,
    /// The head's seq: how many rows the log should have.
    pub head_seq: i64,
    /// `None`: the chain is intact.
    pub broken: Option<AuditBreak>,
}

impl AuditVerification {
    pub fn is_valid(&self) -> bool {
        self.broken.is_none()
    }
}

impl AuditEntry {
    fn fields(&self) -> NewAuditEntry {
        NewAuditEntry {
            time: self.time,
            principal: self.principal.clone(),
            principal_id: self.principal_id,
            source: self.source.clone(),
            operation: self.operation.clone(),
            target: self.target.clone(),
            phase: self.phase.clone(),
            status: self.status,
            error_code: self.error_code.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Head {
    seq: i64,
    hash: String,
    mac: String,
}

const HEAD_SQLITE: &str = "SELECT seq, hash, mac FROM audit_head WHERE id = 1";
const HEAD_POSTGRES: &str = "SELECT seq, hash, mac FROM audit_head WHERE id = 1 FOR UPDATE";
const COLUMNS: &str = "seq, time, principal, principal_id, source, operation, target, phase, \
                       status, error_code, request_id, prev_hash, hash";

/// A prefix's length in characters, as both dialects' `substr` takes it.
fn prefix_len(p: &str) -> i32 {
    i32::try_from(p.chars().count()).unwrap_or(i32::MAX)
}

/// Audit cursors: `a` and the last seq returned, hex.
fn encode_cursor(seq: i64) -> String {
    let mut b = vec![b'a'];
    b.extend_from_slice(&seq.to_be_bytes());
    hex::encode(b)
}

fn decode_cursor(c: &str) -> Result<i64> {
    let b = hex::decode(c).map_err(|_| CatalogError::InvalidCursor)?;
    if b.len() != 9 || b[0] != b'a' {
        return Err(CatalogError::InvalidCursor);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&b[1..]);
    Ok(i64::from_be_bytes(n))
}

/// Walks rows in seq order, checking each against the one before.
struct Walker<'k> {
    key: Option<&'k AuditKey>,
    expected: i64,
    prev_hash: String,
    checked: i64,
}

impl Walker<'_> {
    fn check(&mut self, row: &AuditEntry) -> Option<AuditBreak> {
        if row.seq != self.expected {
            let last = row.seq - 1;
            let range = if last == self.expected {
                format!("row {} is", self.expected)
            } else {
                format!("rows {}–{last} are", self.expected)
            };
            return Some(AuditBreak {
                seq: Some(self.expected),
                problem: AuditProblem::Missing,
                detail: format!(
                    "seq {}: {range} missing (deleted); the log goes on at seq {}",
                    self.expected, row.seq
                ),
            });
        }
        if let Some(key) = self.key
            && row_hash(key, row.seq, &row.fields(), &row.prev_hash) != row.hash
        {
            return Some(AuditBreak {
                seq: Some(row.seq),
                problem: AuditProblem::Edited,
                detail: format!(
                    "seq {}: the row was edited (its hash does not match its fields)",
                    row.seq
                ),
            });
        }
        if row.prev_hash != self.prev_hash {
            return Some(AuditBreak {
                seq: Some(row.seq),
                problem: AuditProblem::Reordered,
                detail: format!(
                    "seq {}: the row does not follow seq {} (its previous hash differs): \
                     rows were reordered or replaced",
                    row.seq,
                    row.seq - 1
                ),
            });
        }
        self.prev_hash = row.hash.clone();
        self.expected += 1;
        self.checked += 1;
        None
    }

    /// After the last row: does the chain end where the head says?
    fn finish(&self, head: Option<&Head>) -> Option<AuditBreak> {
        let last = self.expected - 1;
        let Some(head) = head else {
            return Some(AuditBreak {
                seq: None,
                problem: AuditProblem::HeadMismatch,
                detail: "the audit log's head row is missing (deleted)".into(),
            });
        };
        if let Some(key) = self.key {
            let good = if head.seq == 0 {
                head.hash.is_empty() && head.mac.is_empty()
            } else {
                head_mac(key, head.seq, &head.hash) == head.mac
            };
            if !good {
                return Some(AuditBreak {
                    seq: Some(head.seq),
                    problem: AuditProblem::HeadMismatch,
                    detail: format!(
                        "the head (seq {}) was altered: its MAC does not match",
                        head.seq
                    ),
                });
            }
        }
        if last < head.seq {
            let range = if last + 1 == head.seq {
                format!("row {} is", head.seq)
            } else {
                format!("rows {}–{} are", last + 1, head.seq)
            };
            return Some(AuditBreak {
                seq: Some(last + 1),
                problem: AuditProblem::HeadMismatch,
                detail: format!(
                    "seq {}: the log ends at seq {last} but its head is at seq {}: \
                     {range} missing (the newest rows were deleted)",
                    last + 1,
                    head.seq
                ),
            });
        }
        if last > head.seq {
            return Some(AuditBreak {
                seq: Some(head.seq + 1),
                problem: AuditProblem::HeadMismatch,
                detail: format!(
                    "seq {}: rows after the head (seq {}) up to seq {last} were added \
                     outside the audit log's appender",
                    head.seq + 1,
                    head.seq
                ),
            });
        }
        let expected_hash = if last == 0 {
            ""
        } else {
            self.prev_hash.as_str()
        };
        if head.hash != expected_hash {
            return Some(AuditBreak {
                seq: Some(last),
                problem: AuditProblem::HeadMismatch,
                detail: format!(
                    "seq {last}: the newest row's hash differs from the head's: \
                     the newest row was replaced"
                ),
            });
        }
        None
    }
}

impl Catalog {
    /// Appends one row to the audit log and returns it. Concurrent appends
    /// (also from other servers on one PostgreSQL catalog) queue on the
    /// head and form one chain.
    pub async fn append_audit(&self, key: &AuditKey, e: &NewAuditEntry) -> Result<AuditEntry> {
        let e = NewAuditEntry {
            time: trunc_micros(e.time),
            ..e.clone()
        };
        with_pool!(self, |pool, dialect| {
            let head_sql = match dialect {
                Dialect::Sqlite => HEAD_SQLITE,
                Dialect::Postgres => HEAD_POSTGRES,
            };
            let mut tx = pool.begin_write().await?;
            let head: Option<Head> = sqlx::query_as(head_sql).fetch_optional(&mut *tx).await?;
            let Some(head) = head else {
                return Err(CatalogError::Db(sqlx::Error::Protocol(
                    "the audit log's head row is missing: the log was tampered with; \
                     run `lifeboat audit verify`"
                        .into(),
                )));
            };
            let seq = head.seq + 1;
            let prev = if head.seq == 0 {
                GENESIS.to_owned()
            } else {
                head.hash.clone()
            };
            let hash = row_hash(key, seq, &e, &prev);
            let row: AuditEntry = sqlx::query_as(
                "INSERT INTO audit_log (seq, time, principal, principal_id, source, operation,
                    target, phase, status, error_code, request_id, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 RETURNING seq, time, principal, principal_id, source, operation, target,
                    phase, status, error_code, request_id, prev_hash, hash",
            )
            .bind(seq)
            .bind(ts(e.time))
            .bind(&e.principal)
            .bind(e.principal_id)
            .bind(&e.source)
            .bind(&e.operation)
            .bind(&e.target)
            .bind(&e.phase)
            .bind(e.status)
            .bind(&e.error_code)
            .bind(&e.request_id)
            .bind(&prev)
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
                .bind(seq)
                .bind(&hash)
                .bind(head_mac(key, seq, &hash))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    /// The head's seq: how many rows the audit log has (0 when empty).
    pub async fn audit_len(&self) -> Result<i64> {
        with_pool!(self, |pool, dialect| {
            let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
                .fetch_optional(pool)
                .await?;
            match seq {
                Some(s) => Ok(s),
                // A deleted head: count what is there, so a lost key is
                // never replaced over a non-empty log.
                None => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(pool)
                    .await?),
            }
        })
    }

    /// Audit rows newest first (by seq), filtered, a page at a time.
    pub async fn list_audit(&self, f: &AuditFilter, page: &Page) -> Result<Paged<AuditEntry>> {
        let after = match &page.cursor {
            Some(c) => Some(decode_cursor(c)?),
            None => None,
        };
        let size = page.size();
        let rows: Vec<AuditEntry> = with_pool!(self, |pool, dialect| {
            let mut q =
                sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1"));
            if let Some(from) = f.from {
                q.push(" AND time >= ").push_bind(ts(from));
            }
            if let Some(to) = f.to {
                q.push(" AND time < ").push_bind(ts(to));
            }
            if let Some(p) = &f.principal {
                q.push(" AND principal = ").push_bind(p.clone());
            }
            if let Some(p) = &f.operation_prefix {
                q.push(" AND substr(operation, 1, ")
                    .push_bind(prefix_len(p))
                    .push(") = ")
                    .push_bind(p.clone());
            }
            if let Some(p) = &f.target_prefix {
                q.push(" AND substr(target, 1, ")
                    .push_bind(prefix_len(p))
                    .push(") = ")
                    .push_bind(p.clone());
            }
            match f.outcome {
                Some(AuditOutcome::Success) => {
                    q.push(" AND status IS NOT NULL AND status < 400");
                }
                Some(AuditOutcome::Failure) => {
                    q.push(" AND status >= 400");
                }
                None => {}
            }
            if let Some(seq) = after {
                q.push(" AND seq < ").push_bind(seq);
            }
            q.push(" ORDER BY seq DESC LIMIT ").push_bind(size + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(paginate(rows, size, |r| encode_cursor(r.seq)))
    }

    /// Walks the whole chain and reports the first break, if any. `key`
    /// `None` (the key file is lost) checks what can be checked without it
    /// and reports `key-missing` when the rest holds.
    pub async fn verify_audit(&self, key: Option<&AuditKey>) -> Result<AuditVerification> {
        let mut w = Walker {
            key,
            expected: 1,
            prev_hash: GENESIS.to_owned(),
            checked: 0,
        };
        let (head, broken) = with_pool!(self, |pool, dialect| {
            let mut tx = match dialect {
                Dialect::Sqlite => pool.begin().await?,
                Dialect::Postgres => {
                    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        .await?
                }
            };
            let head: Option<Head> = sqlx::query_as(HEAD_SQLITE).fetch_optional(&mut *tx).await?;
            let mut after = 0i64;
            let mut broken = None;
            'walk: loop {
                let rows: Vec<AuditEntry> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                )))
                .bind(after)
                .bind(VERIFY_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                let Some(last) = rows.last() else { break };
                after = last.seq;
                for row in &rows {
                    if let Some(b) = w.check(row) {
                        broken = Some(b);
                        break 'walk;
                    }
                }
            }
            tx.rollback().await?;
            (head, broken)
        });
        let head_seq = head.as_ref().map_or(0, |h| h.seq);
        let broken = broken.or_else(|| w.finish(head.as_ref())).or_else(|| {
            (key.is_none() && w.checked > 0).then(|| AuditBreak {
                seq: None,
                problem: AuditProblem::KeyMissing,
                detail: format!(
                    "the audit key is missing, so the hashes of the {} rows cannot be checked \
                     (sequence, links and head are intact); restore the key file from a backup",
                    w.checked
                ),
            })
        });
        Ok(AuditVerification {
            checked: w.checked,
            head_seq,
            broken,
        })
    }
}

#[cfg(test)]
mod tests;
