//! Jobs: the job list's filters and the job answer (progress, sub-tasks,
//! warnings, errors, as the model types them).

use chrono::{DateTime, Utc};
use lifeboat_model::job::{JobErrorDetail, JobStatus, JobTask, JobType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::page::{list_type, paged_query};

/// Filters of the job list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only jobs of this vault (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub vault: Option<String>,
    /// Only jobs of this item (name); item names are unique within a
    /// vault, so this needs `vault` too (400 without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$",
        min_length = 1,
        max_length = 100
    )]
    pub item: Option<String>,
    /// Only jobs of this type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<JobType>, inline)]
    pub job_type: Option<String>,
    /// Only jobs in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<JobStatus>, inline)]
    pub state: Option<String>,
    /// Only jobs queued at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only jobs queued before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `cursor` of the previous page's `nextLink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

paged_query!(JobQuery);

/// Progress of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
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

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    pub id: i64,
    #[schema(value_type = JobType)]
    pub job_type: String,
    pub vault: Option<String>,
    /// `null` for vault-wide jobs (and once the item was deleted).
    pub item: Option<String>,
    #[schema(value_type = JobStatus)]
    pub status: String,
    pub queued_time: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// ISO 8601 (`PT9.87S`), `null` until the job starts.
    pub duration: Option<String>,
    pub progress: ProgressDto,
    /// Sub-tasks (a backup: "Take Snapshot", "Transfer data to vault").
    pub tasks: Vec<JobTask>,
    pub warnings: Vec<JobErrorDetail>,
    pub errors: Vec<JobErrorDetail>,
}

impl JobDto {
    /// Whether the job has ended (completed, with warnings or not, failed
    /// or cancelled).
    pub fn is_terminal(&self) -> bool {
        self.status
            .parse::<JobStatus>()
            .is_ok_and(JobStatus::is_terminal)
    }
}

list_type!(JobList, JobDto, "A page of jobs, newest first.");
