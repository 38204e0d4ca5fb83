//! `jobs.params` per job type (docs/service.md, "Jobs"), and the restore
//! request the API hands to [`crate::ops::enqueue_restore`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `Backup` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupParams {
    /// On-demand: keep the point until then.
    #[serde(default)]
    pub retain_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub on_demand: bool,
    /// Scheduled: the slot's key (also the job's `slot_key`, but a retry
    /// after `SERVER_LOST` is a new job without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// Scheduled: earlier slots that were missed and collapsed into this one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed_slots: u32,
    /// Scheduled: how late the slot was queued, when later than its window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_seconds: Option<i64>,
    /// A retry of this job, which its server lost; not retried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<i64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `Restore` params: the point and the checked, typed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreParams {
    /// The store's point id.
    pub point: String,
    pub request: lifeboat_model::source::RestoreRequest,
}

/// `Restore` params as jobs queued before typed requests stored them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntypedRestoreParams {
    point: String,
    target: String,
    conflict: String,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    format: Option<String>,
}

impl RestoreParams {
    /// Reads a restore job's params; a job queued before typed requests is
    /// read in its old shape, checked for an item of workload `kind`.
    pub fn from_job(
        params: &serde_json::Value,
        kind: lifeboat_model::item::WorkloadKind,
    ) -> crate::Result<RestoreParams> {
        let typed = serde_json::from_value::<RestoreParams>(params.clone());
        match typed {
            Ok(p) => Ok(p),
            Err(typed_err) => {
                let old: UntypedRestoreParams =
                    serde_json::from_value(params.clone()).map_err(|_| {
                        crate::ServiceError::refused(
                            crate::error::codes::INVALID_ARGUMENT,
                            "params",
                            format!("the restore job's parameters do not parse: {typed_err}"),
                        )
                    })?;
                let request = lifeboat_model::source::RestoreRequest::from_parts(
                    kind,
                    &old.target,
                    Some(&old.conflict),
                    &old.include,
                    old.format.as_deref(),
                )?;
                Ok(RestoreParams {
                    point: old.point,
                    request,
                })
            }
        }
    }
}

/// A restore as the API receives it (`POST …/points/{point}/restore`):
/// `{target: "original"|"/alternate/path", conflict?, include?}` for a
/// path item, `{target: "/new/image.raw", format?}` for a disk item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    /// The store's point id (the API's `{point}`).
    pub point: String,
    pub target: String,
    /// `overwrite`, `skip` or `fail` (default `fail`).
    #[serde(default)]
    pub conflict: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// `{}` params of `DeleteBackupData`, `ExpirySweep` and `GarbageCollection`.
pub fn empty() -> serde_json::Value {
    serde_json::json!({})
}
