//! `/api/v1/jobs`: list with filters, show, cancel.

use axum::extract::State;
use axum::http::Uri;
use axum::{Extension, Json};
use lifeboat_catalog::{Job, JobFilter, JobId};
use lifeboat_model::job::{JobStatus, JobType};

use crate::api::paths::JobPath;
use crate::api::vaults;
use crate::authz::{Op, Principal, Target, Visible};
use crate::dto::{JobDto, JobList, JobQuery, Names};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{P, PageExt, Q, next_link};
use crate::state::AppState;

/// Wire names, comma-separated, for an error message.
fn names<T: Copy + std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Vault and item names of a page of jobs, in two queries.
pub async fn names_for(state: &AppState, jobs: &[Job]) -> ApiResult<Names> {
    let vaults = state
        .catalog
        .list_vaults()
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    let mut ids: Vec<_> = jobs.iter().filter_map(|j| j.item_id).collect();
    ids.sort();
    ids.dedup();
    let items = state.catalog.item_names(&ids).await?;
    Ok(Names { vaults, items })
}

/// One job as the API shows it.
pub async fn job_dto(state: &AppState, job: Job) -> ApiResult<JobDto> {
    let names = names_for(state, std::slice::from_ref(&job)).await?;
    Ok(names.job(job, state.now()))
}

/// List jobs, newest first.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jobs",
    params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "Bad filter, limit or cursor", body = ErrorBody),
        (status = 404, description = "No such vault or item", body = ErrorBody),
    ),
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    uri: Uri,
    Q(q): Q<JobQuery>,
) -> ApiResult<Json<JobList>> {
    let mut f = JobFilter::default();
    if let Some(t) = &q.job_type {
        let kind: JobType = t.parse().map_err(|_| {
            ApiError::invalid_argument(
                "type",
                format!("type must be one of {} (got {t:?})", names(&JobType::ALL)),
            )
        })?;
        f.job_type = Some(kind);
    }
    if let Some(s) = &q.state {
        let order = JobStatus::by_stage();
        let status: JobStatus = s.parse().map_err(|_| {
            ApiError::invalid_argument(
                "state",
                format!("state must be one of {} (got {s:?})", names(&order)),
            )
        })?;
        f.state = Some(status);
    }
    match (&q.vault, &q.item) {
        (Some(v), item) => {
            let vault = vaults::find(&state, v).await?;
            if !who.may(Op::JobRead, Target::Vault(&vault.name)) {
                return Err(ApiError::forbidden(
                    who.denial(Op::JobRead, Target::Vault(&vault.name)),
                ));
            }
            f.vault_id = Some(vault.id);
            if let Some(i) = item {
                f.item_id = Some(state.catalog.get_item(vault.id, i).await?.id);
            }
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid_argument(
                "item",
                "item names are unique within a vault: give vault too",
            ));
        }
        (None, None) => {}
    }
    f.from = q.from;
    f.to = q.to;
    let page = q.page().page()?;
    // Only the jobs of vaults the caller's roles reach.
    let got = match who.visible(Op::JobRead) {
        Visible::All => state.catalog.list_jobs(&f, &page).await?,
        Visible::Only(ids) => {
            let ids: Vec<_> = ids.into_iter().collect();
            state.catalog.list_jobs_in_vaults(&f, &ids, &page).await?
        }
    };
    let names = names_for(&state, &got.items).await?;
    let now = state.now();
    Ok(Json(JobList {
        value: got.items.into_iter().map(|j| names.job(j, now)).collect(),
        next_link: next_link(&uri, got.next_cursor),
    }))
}

/// Show a job: progress, sub-tasks, warnings, errors.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(JobPath),
    responses((status = 200, description = "The job", body = JobDto)),
)]
pub async fn show_job(State(state): State<AppState>, P(id): P<i64>) -> ApiResult<Json<JobDto>> {
    let job = state.catalog.get_job(JobId(id)).await?;
    Ok(Json(job_dto(&state, job).await?))
}

/// Cancel a job.
///
/// A queued job ends `Cancelled` at once; a running one becomes
/// `Cancelling` and its server stops it at the next safe point. A running
/// `DeleteBackupData` job cannot be cancelled.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(JobPath),
    responses(
        (status = 200, description = "The job, cancelled or cancelling", body = JobDto),
        (status = 409, description = "The job ended, or cannot be cancelled while running", body = ErrorBody),
    ),
)]
pub async fn cancel_job(State(state): State<AppState>, P(id): P<i64>) -> ApiResult<Json<JobDto>> {
    let job =
        lifeboat_service::ops::cancel_job(&state.catalog, state.clock.as_ref(), JobId(id)).await?;
    tracing::info!(job = id, state = %job.state, "job cancel requested");
    Ok(Json(job_dto(&state, job).await?))
}
