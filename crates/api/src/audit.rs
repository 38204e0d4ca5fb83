//! The audit log: its filters, its rows, and the chain check's answer
//! (docs/audit.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::page::{list_type, paged_query};

/// `outcome=` of the audit list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcomeFilter {
    /// Answered below 400.
    Success,
    /// Answered 400 and above.
    Failure,
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only rows recorded at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only rows recorded before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Only rows of this principal (identity or token name; `anonymous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only operations starting with this (`vault.`, `item.stop`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only targets (request paths) starting with this
    /// (`/api/v1/vaults/prod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `success` (answered below 400) or `failure` (400 and above); attempt
    /// rows have no outcome and are left out by either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<AuditOutcomeFilter>, inline)]
    pub outcome: Option<String>,
    /// Rows per page, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `cursor` of the previous page's `nextLink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

paged_query!(AuditQuery);

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    /// Position in the chain: 1, 2, 3, … without gaps.
    pub seq: i64,
    pub time: DateTime<Utc>,
    /// The identity's (or token's) name; `anonymous` for a request refused
    /// with 401.
    pub principal: String,
    /// The id of the token used; `null` for anonymous.
    pub principal_id: Option<i64>,
    /// The TCP peer address of the request.
    pub source: String,
    /// What the request does (`vault.delete`, `item.stop`, …; `METHOD
    /// /route` for a route without a name; `METHOD (unknown route)`).
    pub operation: String,
    /// The request path.
    pub target: String,
    /// `attempt` (authorized, about to run) or `result` (answered).
    pub phase: String,
    /// The HTTP status of the answer; `null` for an attempt.
    pub status: Option<i32>,
    /// The answer's error code, if it was an error.
    pub error_code: Option<String>,
    /// The same for the attempt and result of one request; sent back as
    /// the `x-request-id` header.
    pub request_id: String,
    /// The hash of the row before (64 zeros for the first).
    pub prev_hash: String,
    /// Keyed BLAKE3 over the row's fields and `prevHash`.
    pub hash: String,
}

list_type!(
    AuditList,
    AuditEntryDto,
    "A page of audit rows, newest first."
);

/// What the chain check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerifyDto {
    /// True when every row and the head check out.
    pub valid: bool,
    /// Rows checked before the walk ended (all of them when valid).
    pub checked_rows: i64,
    /// The newest seq the head records.
    pub head_seq: i64,
    /// The first broken seq (for `missing`, the first missing one); `null`
    /// when valid or when no single row is to blame.
    pub broken_seq: Option<i64>,
    /// `edited`, `missing`, `reordered`, `head-mismatch` or `key-missing`;
    /// `null` when valid.
    pub problem: Option<String>,
    /// `AUDIT_CHAIN_BROKEN` or `AUDIT_KEY_MISSING`; `null` when valid.
    pub code: Option<String>,
    /// What was found, naming the seq.
    pub message: String,
}
