//! `/api/v1/audit`: the audit log (list with filters) and its check
//! (`GET /api/v1/audit/verify`: a read, so it is itself not recorded).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Utc};
use lifeboat_catalog::{AuditEntry, AuditFilter, AuditOutcome, AuditProblem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{PageQuery, Q, next_link};
use crate::state::AppState;

/// Filters of the audit list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only rows recorded at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only rows recorded before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only rows of this principal (identity or token name; `anonymous`).
    pub principal: Option<String>,
    /// Only operations starting with this (`vault.`, `item.stop`, …).
    pub operation: Option<String>,
    /// Only targets (request paths) starting with this
    /// (`/api/v1/vaults/prod`).
    pub target: Option<String>,
    /// `success` (answered below 400) or `failure` (400 and above); attempt
    /// rows have no outcome and are left out by either.
    pub outcome: Option<String>,
    /// Rows per page, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// The `cursor` of the previous page's `nextLink`.
    pub cursor: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

impl From<AuditEntry> for AuditEntryDto {
    fn from(e: AuditEntry) -> Self {
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
}

/// A page of audit rows, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    pub value: Vec<AuditEntryDto>,
    pub next_link: Option<String>,
}

/// What the chain check found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

/// List the audit log, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit rows", body = AuditList),
        (status = 400, description = "Bad filter, limit or cursor", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_audit(
    State(state): State<AppState>,
    uri: Uri,
    Q(q): Q<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let outcome = match q.outcome.as_deref() {
        None => None,
        Some("success") => Some(AuditOutcome::Success),
        Some("failure") => Some(AuditOutcome::Failure),
        Some(o) => {
            return Err(ApiError::invalid_argument(
                "outcome",
                format!("outcome must be success or failure (got {o:?})"),
            ));
        }
    };
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let f = AuditFilter {
        from: q.from,
        to: q.to,
        principal: nonempty(&q.principal),
        operation_prefix: nonempty(&q.operation),
        target_prefix: nonempty(&q.target),
        outcome,
    };
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let got = state.catalog.list_audit(&f, &page).await?;
    Ok(Json(AuditList {
        value: got.items.into_iter().map(Into::into).collect(),
        next_link: next_link(&uri, got.next_cursor),
    }))
}

/// Check the audit log's hash chain.
///
/// Walks every row in order and answers the first break: a row `edited`
/// after it was written, rows `missing`, a row `reordered`, or a
/// `head-mismatch` (the newest rows deleted). Without the server's audit
/// key (`<data>/secrets/audit.key`) the hashes cannot be checked:
/// `key-missing`.
#[utoipa::path(
    get, path = "/api/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The result of the check (`valid` false when broken)", body = AuditVerifyDto),
    ),
    security(("bearer" = []))
)]
pub async fn verify_audit(State(state): State<AppState>) -> ApiResult<Json<AuditVerifyDto>> {
    let v = state.catalog.verify_audit(state.audit.key()).await?;
    let dto = match v.broken {
        None => AuditVerifyDto {
            valid: true,
            checked_rows: v.checked,
            head_seq: v.head_seq,
            broken_seq: None,
            problem: None,
            code: None,
            message: format!("the audit log is intact: {} rows checked", v.checked),
        },
        Some(b) => {
            let (code, message) = if b.problem == AuditProblem::KeyMissing {
                (
                    lifeboat_codes::AUDIT_KEY_MISSING.as_str(),
                    format!(
                        "{} (expected at {})",
                        b.detail,
                        state.audit.key_path().display()
                    ),
                )
            } else {
                (lifeboat_codes::AUDIT_CHAIN_BROKEN.as_str(), b.detail)
            };
            AuditVerifyDto {
                valid: false,
                checked_rows: v.checked,
                head_seq: v.head_seq,
                broken_seq: b.seq,
                problem: Some(b.problem.as_str().to_owned()),
                code: Some(code.to_owned()),
                message,
            }
        }
    };
    if !dto.valid {
        tracing::warn!(
            target: "lifeboat::audit",
            code = dto.code.as_deref(),
            broken_seq = dto.broken_seq,
            message = %dto.message,
            "audit log verification failed"
        );
    }
    Ok(Json(dto))
}
