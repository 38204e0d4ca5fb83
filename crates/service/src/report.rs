//! A running job's report: sub-tasks, progress, warnings and errors, kept
//! in the model's `Job` (which enforces the task and status transitions)
//! and written to the catalog row as the JSON the API shows.

use chrono::{DateTime, Utc};
use lifeboat_catalog::Job as JobRow;
use lifeboat_codes::Code;
use lifeboat_model::job::{
    Job as ModelJob, JobErrorDetail, JobId, JobStatus, JobType, Progress, TaskStatus,
};
use serde_json::{Value, json};

pub(crate) struct Report {
    job: ModelJob,
    /// When the data transfer began (the ETA is measured from there).
    transfer_started: Option<DateTime<Utc>>,
}

/// A stable error code and message, for a job's `warnings` or `errors`.
/// Made from a registered [`Code`]; the code is kept as the text the job's
/// JSON carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detail {
    pub code: String,
    pub message: String,
}

impl Detail {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Detail {
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn to_model(&self) -> JobErrorDetail {
        JobErrorDetail {
            error_code: self.code.clone(),
            error_string: self.message.clone(),
            recommendations: Vec::new(),
        }
    }
}

impl From<&crate::ServiceError> for Detail {
    fn from(e: &crate::ServiceError) -> Self {
        Detail::new(e.code(), e.to_string())
    }
}

impl Report {
    /// The report of a job just claimed (started at `start`).
    pub fn started(row: &JobRow, kind: JobType, entity: &str, start: DateTime<Utc>) -> Self {
        let mut job = ModelJob::new(JobId(row.id.to_string()), kind, entity, row.queued_at);
        // Queued → InProgress is always allowed.
        let _ = job.transition(JobStatus::InProgress, start);
        // A re-queued job keeps the warnings it was re-queued with.
        if let Ok(w) = serde_json::from_value::<Vec<JobErrorDetail>>(row.warnings.clone()) {
            job.warnings = w;
        }
        Report {
            job,
            transfer_started: None,
        }
    }

    pub fn start_task(&mut self, index: usize, now: DateTime<Utc>) {
        if self.job.start_task(index, now).is_ok() && self.is_transfer(index) {
            self.transfer_started = Some(now);
        }
    }

    pub fn finish_task(&mut self, index: usize, now: DateTime<Utc>) {
        let _ = self.job.finish_task(index, TaskStatus::Completed, now);
    }

    fn is_transfer(&self, index: usize) -> bool {
        self.job
            .tasks
            .get(index)
            .is_some_and(|t| t.task_id.starts_with("Transfer"))
    }

    pub fn set_progress(&mut self, p: Progress) {
        self.job.progress = p;
    }

    pub fn warn(&mut self, d: Detail) {
        // A job with thousands of unreadable files reports the first ones.
        const MAX_WARNINGS: usize = 100;
        if self.job.warnings.len() < MAX_WARNINGS {
            self.job.warnings.push(d.to_model());
        }
    }

    pub fn has_warnings(&self) -> bool {
        !self.job.warnings.is_empty()
    }

    pub fn progress_json(&self, now: DateTime<Utc>) -> Value {
        let p = &self.job.progress;
        let eta = self
            .transfer_started
            .and_then(|s| p.eta(now - s))
            .map(|d| d.num_seconds());
        json!({
            "bytesDone": p.bytes_done,
            "bytesTotal": p.bytes_total,
            "filesDone": p.files_done,
            "filesTotal": p.files_total,
            "percent": p.percent().map(|x| (x * 10.0).round() / 10.0),
            "etaSeconds": eta,
        })
    }

    pub fn tasks_json(&self) -> Value {
        serde_json::to_value(&self.job.tasks).unwrap_or_else(|_| json!([]))
    }

    pub fn warnings_json(&self) -> Value {
        serde_json::to_value(&self.job.warnings).unwrap_or_else(|_| json!([]))
    }

    /// The warnings with `d` added (a re-queued job keeps them).
    pub fn warnings_with(&self, d: &Detail) -> Value {
        let mut w = self.job.warnings.clone();
        w.push(d.to_model());
        serde_json::to_value(&w).unwrap_or_else(|_| json!([]))
    }

    pub fn errors_json(&self) -> Value {
        serde_json::to_value(&self.job.error_details).unwrap_or_else(|_| json!([]))
    }

    /// Ends the report: closes open sub-tasks as the model does and returns
    /// the catalog state to write.
    pub fn close(&mut self, end: Ending, now: DateTime<Utc>) -> JobStatus {
        match end {
            Ending::Done => {
                // Done is all of it, whatever the totals said along the way.
                let p = &mut self.job.progress;
                let bytes = p.bytes_total.unwrap_or(0).max(p.bytes_done);
                p.bytes_total = Some(bytes);
                p.bytes_done = bytes;
                let files = p.files_total.unwrap_or(0).max(p.files_done);
                p.files_total = Some(files);
                p.files_done = files;
                let _ = self.job.complete(now);
                if self.has_warnings() {
                    JobStatus::CompletedWithWarnings
                } else {
                    JobStatus::Completed
                }
            }
            Ending::Failed(d) | Ending::Requeue(d) => {
                let _ = self.job.fail(d.to_model(), now);
                JobStatus::Failed
            }
            Ending::Cancelled => {
                let _ = self.job.transition(JobStatus::Cancelling, now);
                let _ = self.job.transition(JobStatus::Cancelled, now);
                JobStatus::Cancelled
            }
        }
    }
}

/// How an executor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    Done,
    Failed(Detail),
    Cancelled,
    /// Stopped at a safe point by a shutdown: back to the queue.
    Requeue(Detail),
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_catalog::{JobId as RowId, VaultId};

    fn row() -> JobRow {
        let t = Utc::now();
        JobRow {
            id: RowId(5),
            vault_id: VaultId(1),
            item_id: None,
            job_type: JobType::Backup,
            state: JobStatus::InProgress,
            slot_key: None,
            owner: Some("me".into()),
            lease_until: None,
            attempt: 1,
            cancel_requested: false,
            queued_at: t,
            start_time: Some(t),
            end_time: None,
            progress: json!({}),
            tasks: json!([]),
            warnings: json!([]),
            errors: json!([]),
            params: json!({}),
        }
    }

    #[test]
    fn a_backup_report_closes_its_tasks_and_counts_warnings() {
        let r = row();
        let now = r.queued_at;
        let mut rep = Report::started(&r, JobType::Backup, "item", now);
        rep.start_task(0, now);
        rep.finish_task(0, now);
        rep.start_task(1, now);
        rep.set_progress(Progress {
            bytes_done: 50,
            bytes_total: Some(100),
            files_done: 1,
            files_total: Some(2),
        });
        let p = rep.progress_json(now + chrono::TimeDelta::seconds(10));
        assert_eq!(p["percent"], 50.0);
        assert_eq!(p["etaSeconds"], 10);
        rep.warn(Detail::new(lifeboat_codes::SOURCE_WARNING, "x unreadable"));
        assert_eq!(
            rep.close(Ending::Done, now),
            JobStatus::CompletedWithWarnings
        );
        let tasks = rep.tasks_json();
        assert_eq!(tasks[0]["taskId"], "Take Snapshot");
        assert_eq!(tasks[1]["status"], "Completed");
        assert_eq!(rep.warnings_json()[0]["errorCode"], "SOURCE_WARNING");
    }

    #[test]
    fn a_failed_report_skips_unstarted_tasks() {
        let r = row();
        let now = r.queued_at;
        let mut rep = Report::started(&r, JobType::Backup, "item", now);
        rep.start_task(0, now);
        let detail = Detail {
            code: "SOURCE_MISSING".into(),
            message: "gone".into(),
        };
        let st = rep.close(Ending::Failed(detail), now);
        assert_eq!(st, JobStatus::Failed);
        let tasks = rep.tasks_json();
        assert_eq!(tasks[0]["status"], "Failed");
        assert_eq!(tasks[1]["status"], "Skipped");
        assert_eq!(rep.errors_json()[0]["errorCode"], "SOURCE_MISSING");
    }
}
