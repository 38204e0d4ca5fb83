//! `/api/v1/audit`: the audit log (list with filters) and its check
//! (`GET /api/v1/audit/verify`: a read, so it is itself not recorded).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use lifeboat_catalog::{AuditFilter, AuditOutcome, AuditProblem};

use crate::dto::{AuditList, AuditQuery, AuditVerifyDto, audit_entry_dto};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{PageExt, Q, next_link};
use crate::state::AppState;

/// List the audit log, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit rows", body = AuditList),
        (status = 400, description = "Bad filter, limit or cursor", body = ErrorBody),
    ),
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
    let page = q.page().page()?;
    let got = state.catalog.list_audit(&f, &page).await?;
    Ok(Json(AuditList {
        value: got.items.into_iter().map(audit_entry_dto).collect(),
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
