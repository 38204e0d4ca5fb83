//! Jobs: every backup, restore, delete-backup-data, expiry sweep and garbage
//! collection. Types, the status state machine, sub-tasks, progress (percent
//! and ETA) and errors with codes, and ISO 8601 durations (`PT9.87S`) as
//! Azure's job entity shows them (azure.md §1.5).
//!
//! Statuses are Azure's `JobStatus` (`InProgress`, `Completed`,
//! `CompletedWithWarnings`, `Failed`, `Cancelling`, `Cancelled`) plus
//! `Queued`, a Lifeboat addition: the scheduler queues due backups and runs a
//! bounded number at once, and the queue age is reported.
//!
//! ```text
//! Queued ──► InProgress ──► Completed | CompletedWithWarnings | Failed
//!   │            │
//!   │            └──► Cancelling ──► Cancelled (or Completed… / Failed if it ended first)
//!   └──► Cancelled | Failed
//! ```

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};

/// A job id (opaque; the catalog assigns it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Azure's `operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobType {
    Backup,
    Restore,
    DeleteBackupData,
    ExpirySweep,
    GarbageCollection,
}

impl JobType {
    /// The sub-tasks a job of this type reports, in order (Azure's names for
    /// a VM backup: "Take Snapshot", "Transfer data to vault").
    pub fn task_names(self) -> &'static [&'static str] {
        match self {
            JobType::Backup => &["Take Snapshot", "Transfer data to vault"],
            JobType::Restore => &["Transfer data from vault"],
            JobType::DeleteBackupData => &["Delete recovery points"],
            JobType::ExpirySweep => &["Delete expired recovery points"],
            JobType::GarbageCollection => &["Collect unreferenced data"],
        }
    }

    /// Whether a running job of this type can be cancelled. Deleting backup
    /// data cannot stop half-way: it is cancellable only while queued.
    pub fn cancellable_while_running(self) -> bool {
        self != JobType::DeleteBackupData
    }
}

/// Job status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobStatus {
    Queued,
    InProgress,
    Completed,
    CompletedWithWarnings,
    Failed,
    Cancelling,
    Cancelled,
}

impl JobStatus {
    /// Every status, the waiting and held ones first, then the terminal
    /// ones: the order the API's error messages and the metrics list them.
    pub fn by_stage() -> Vec<JobStatus> {
        let mut all = JobStatus::ALL.to_vec();
        all.sort_by_key(|s| s.is_terminal());
        all
    }

    /// A worker holds the job under a lease (`InProgress`, `Cancelling`).
    pub fn is_held(self) -> bool {
        matches!(self, JobStatus::InProgress | JobStatus::Cancelling)
    }

    /// No transition leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed
                | JobStatus::CompletedWithWarnings
                | JobStatus::Failed
                | JobStatus::Cancelled
        )
    }

    /// The allowed transitions (see the module diagram).
    pub fn can_transition_to(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Queued, InProgress | Cancelled | Failed)
                | (
                    InProgress,
                    Completed | CompletedWithWarnings | Failed | Cancelling
                )
                | (
                    Cancelling,
                    Cancelled | Completed | CompletedWithWarnings | Failed
                )
        )
    }
}

/// A sub-task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskStatus {
    NotStarted,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    /// Never ran because the job ended first.
    Skipped,
}

/// One sub-task (Azure `extendedInfo.tasksList[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobTask {
    pub task_id: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
}

impl JobTask {
    /// Run time so far (to `now` while running).
    pub fn duration(&self, now: DateTime<Utc>) -> Option<Duration> {
        elapsed(self.start_time, self.end_time, now)
    }
}

/// Closes the sub-tasks of a job that ends: those running end as `closing`
/// at `now`, those not started are `Skipped`; finished ones stay as they are.
pub fn close_open_tasks(tasks: &mut [JobTask], closing: TaskStatus, now: DateTime<Utc>) {
    for t in tasks {
        match t.status {
            TaskStatus::InProgress => {
                t.status = closing;
                t.end_time = Some(now);
            }
            TaskStatus::NotStarted => t.status = TaskStatus::Skipped,
            _ => {}
        }
    }
}

/// An error or warning (Azure `errorDetails[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobErrorDetail {
    /// Stable code, e.g. `SOURCE_UNREADABLE`.
    pub error_code: String,
    pub error_string: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommendations: Vec<String>,
}

/// Progress counters. Totals are `None` until known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub bytes_done: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_total: Option<u64>,
    pub files_done: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
}

impl Progress {
    /// Percent done, 0–100: by bytes when their total is known and non-zero,
    /// else by files; `None` when neither total is known.
    pub fn percent(&self) -> Option<f64> {
        let ratio = |done: u64, total: Option<u64>| {
            total
                .filter(|t| *t > 0)
                .map(|t| (done as f64 / t as f64 * 100.0).min(100.0))
        };
        ratio(self.bytes_done, self.bytes_total).or_else(|| {
            match (self.bytes_total, self.files_total) {
                (Some(0), _) | (_, Some(0)) => Some(100.0),
                _ => ratio(self.files_done, self.files_total),
            }
        })
    }

    /// Time left at the average byte rate so far, given the time elapsed
    /// since the transfer began. `None` without a byte total or any progress.
    pub fn eta(&self, elapsed: Duration) -> Option<Duration> {
        let total = self.bytes_total?;
        if self.bytes_done >= total {
            return Some(Duration::zero());
        }
        let ms = elapsed.num_milliseconds();
        if self.bytes_done == 0 || ms <= 0 {
            return None;
        }
        let remaining = (total - self.bytes_done) as u128;
        let left_ms = remaining * ms as u128 / self.bytes_done as u128;
        Some(Duration::milliseconds(
            i64::try_from(left_ms).unwrap_or(i64::MAX / 1_000_000),
        ))
    }
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: JobId,
    pub operation: JobType,
    pub status: JobStatus,
    /// The protected item (or vault) the job is about, by name.
    pub entity_friendly_name: String,
    pub queued_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    pub tasks: Vec<JobTask>,
    #[serde(default)]
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<JobErrorDetail>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_details: Vec<JobErrorDetail>,
}

fn elapsed(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let start = start?;
    Some((end.unwrap_or(now) - start).max(Duration::zero()))
}

impl Job {
    /// A queued job with its type's sub-tasks not started.
    pub fn new(
        id: JobId,
        operation: JobType,
        entity: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Job {
        Job {
            id,
            operation,
            status: JobStatus::Queued,
            entity_friendly_name: entity.into(),
            queued_time: now,
            start_time: None,
            end_time: None,
            tasks: operation
                .task_names()
                .iter()
                .map(|n| JobTask {
                    task_id: (*n).to_owned(),
                    status: TaskStatus::NotStarted,
                    start_time: None,
                    end_time: None,
                })
                .collect(),
            progress: Progress::default(),
            warnings: Vec::new(),
            error_details: Vec::new(),
        }
    }

    /// Moves to `next` at `now`, or refuses with `INVALID_JOB_STATE`.
    /// Entering `InProgress` sets the start time; a terminal status sets the
    /// end time and closes open sub-tasks (running → the job's outcome,
    /// not started → `Skipped`).
    pub fn transition(&mut self, next: JobStatus, now: DateTime<Utc>) -> Result<(), ModelError> {
        if !self.status.can_transition_to(next) {
            return Err(ModelError::new(
                ErrorCode::InvalidJobState,
                "status",
                format!(
                    "job {} cannot go from {:?} to {:?}",
                    self.id, self.status, next
                ),
            ));
        }
        self.status = next;
        if next == JobStatus::InProgress {
            self.start_time = Some(now);
        }
        if next.is_terminal() {
            self.end_time = Some(now);
            let closing = match next {
                JobStatus::Failed => TaskStatus::Failed,
                JobStatus::Cancelled => TaskStatus::Cancelled,
                _ => TaskStatus::Completed,
            };
            close_open_tasks(&mut self.tasks, closing, now);
        }
        Ok(())
    }

    /// Ends a job that did its work: `CompletedWithWarnings` if it recorded
    /// warnings, else `Completed`.
    pub fn complete(&mut self, now: DateTime<Utc>) -> Result<(), ModelError> {
        let next = if self.warnings.is_empty() {
            JobStatus::Completed
        } else {
            JobStatus::CompletedWithWarnings
        };
        self.transition(next, now)
    }

    /// Ends a job with an error.
    pub fn fail(&mut self, error: JobErrorDetail, now: DateTime<Utc>) -> Result<(), ModelError> {
        self.transition(JobStatus::Failed, now)?;
        self.error_details.push(error);
        Ok(())
    }

    /// A cancel request: a queued job is cancelled at once, a running one
    /// goes to `Cancelling` (the runner then ends it), a second request is a
    /// no-op. Returns the new status.
    pub fn request_cancel(&mut self, now: DateTime<Utc>) -> Result<JobStatus, ModelError> {
        let refuse = |why: String| Err(ModelError::new(ErrorCode::InvalidJobState, "status", why));
        match self.status {
            JobStatus::Queued => self.transition(JobStatus::Cancelled, now)?,
            JobStatus::InProgress if self.operation.cancellable_while_running() => {
                self.transition(JobStatus::Cancelling, now)?
            }
            JobStatus::InProgress => {
                return refuse(format!(
                    "job {} ({:?}) cannot be cancelled once it has started",
                    self.id, self.operation
                ));
            }
            JobStatus::Cancelling => {}
            done => return refuse(format!("job {} has already ended ({done:?})", self.id)),
        }
        Ok(self.status)
    }

    /// Starts sub-task `index` (out of range: `INVALID_JOB_STATE`).
    pub fn start_task(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), ModelError> {
        self.set_task(index, TaskStatus::InProgress, now)
    }

    /// Ends sub-task `index` with `status`.
    pub fn finish_task(
        &mut self,
        index: usize,
        status: TaskStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ModelError> {
        self.set_task(index, status, now)
    }

    fn set_task(
        &mut self,
        index: usize,
        status: TaskStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ModelError> {
        let id = self.id.clone();
        let running = self.status == JobStatus::InProgress || self.status == JobStatus::Cancelling;
        let Some(t) = self.tasks.get_mut(index) else {
            return Err(ModelError::new(
                ErrorCode::InvalidJobState,
                "tasks",
                format!("job {id} has no sub-task {index}"),
            ));
        };
        let ok = running
            && match status {
                TaskStatus::InProgress => t.status == TaskStatus::NotStarted,
                TaskStatus::NotStarted => false,
                _ => t.status == TaskStatus::InProgress,
            };
        if !ok {
            return Err(ModelError::new(
                ErrorCode::InvalidJobState,
                format!("tasks[{index}].status"),
                format!(
                    "sub-task {:?} of job {id} cannot go from {:?} to {status:?}",
                    t.task_id, t.status
                ),
            ));
        }
        if status == TaskStatus::InProgress {
            t.start_time = Some(now);
        } else {
            t.end_time = Some(now);
        }
        t.status = status;
        Ok(())
    }

    /// Run time: start to end, or start to `now` while running; `None` while
    /// queued (or cancelled before starting).
    pub fn duration(&self, now: DateTime<Utc>) -> Option<Duration> {
        elapsed(self.start_time, self.end_time, now)
    }

    /// How long the job has waited in the queue (`None` once started or ended).
    pub fn queue_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        (self.status == JobStatus::Queued).then(|| (now - self.queued_time).max(Duration::zero()))
    }

    /// Estimated time left, from progress and run time.
    pub fn eta(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.status.is_terminal() {
            return None;
        }
        self.progress.eta(self.duration(now)?)
    }
}

/// An ISO 8601 duration as Azure writes job durations: `PT1H2M3.5S`,
/// `PT9.87S`, `PT0S`; milliseconds at most, trailing zeros dropped, days
/// written as hours. Negative durations are written as `PT0S`.
pub fn iso8601_duration(d: Duration) -> String {
    let total_ms = d.num_milliseconds().max(0);
    let hours = total_ms / 3_600_000;
    let minutes = total_ms / 60_000 % 60;
    let ms = total_ms % 60_000;
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if ms > 0 || (hours == 0 && minutes == 0) {
        let secs = ms / 1000;
        let frac = ms % 1000;
        if frac == 0 {
            out.push_str(&format!("{secs}S"));
        } else {
            let f = format!("{frac:03}");
            out.push_str(&format!("{secs}.{}S", f.trim_end_matches('0')));
        }
    }
    out
}
