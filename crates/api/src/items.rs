//! Protected items: enable protection, back up now, stop, resume, change
//! policy, and the item answer.

use chrono::{DateTime, Utc};
use lifeboat_model::item::{
    HealthStatus, LastBackupStatus, ProtectionState, StopMode, WorkloadKind,
};
use lifeboat_model::source::Source;
use lifeboat_model::{ErrorCode, ModelError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::page::list_type;

/// `POST /api/v1/vaults/{vault}/items`: enable protection.
///
/// On the wire the source is two fields, `workload` and `source` (the
/// path), as clients have always sent it; [`EnableProtection::new`] takes
/// the model's [`Source`] and [`EnableProtection::source`] gives it back.
/// The server reads `source` on its own machine: it must exist, and a
/// `disk` item's source must be an image file (`SOURCE_NOT_FOUND`,
/// `INVALID_ARGUMENT`, 400).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnableProtection {
    /// Default: the source path with `/` turned into `-` (`/srv/data` →
    /// `srv-data`); 1–100 letters, digits, `-`, `_`, `.`, not starting
    /// with `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$",
        min_length = 1,
        max_length = 100
    )]
    pub name: Option<String>,
    /// `path` (a folder or file) or `disk` (a raw or qcow2 image).
    #[schema(value_type = WorkloadKind)]
    pub workload: String,
    /// Absolute path of what to protect, without `..`.
    #[schema(pattern = "^/", min_length = 1)]
    pub source: String,
    /// A policy of the vault, e.g. `DefaultPolicy`.
    #[schema(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$",
        min_length = 1,
        max_length = 150
    )]
    pub policy: String,
}

impl EnableProtection {
    /// Protect `source` with `policy`, under `name` or the default name.
    pub fn new(name: Option<String>, source: &Source, policy: impl Into<String>) -> Self {
        EnableProtection {
            name,
            workload: source.kind().as_str().to_owned(),
            source: source.path().to_string_lossy().into_owned(),
            policy: policy.into(),
        }
    }

    /// The typed source the request names; `INVALID_ARGUMENT` (target
    /// `workload`) for a workload no Lifeboat knows. Whether the path
    /// exists is the server's to check.
    pub fn source(&self) -> Result<Source, ModelError> {
        let kind = WorkloadKind::parse(&self.workload)?;
        if self.source.is_empty() {
            return Err(ModelError::new(
                ErrorCode::InvalidArgument,
                "source",
                "source must be an absolute path",
            ));
        }
        Ok(Source::new(kind, &self.source))
    }
}

/// `POST …/items/{item}/backup`. The body is optional: none takes the
/// defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupNow {
    /// Keep the point until then: in the future, at most 99 years ahead
    /// (default: 30 days from now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<DateTime<Utc>>,
}

/// `POST …/items/{item}/stop`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StopProtection {
    /// `retain-data`, `retain-as-per-policy` or `delete-data`.
    #[schema(value_type = StopMode)]
    pub mode: String,
}

impl StopProtection {
    pub fn new(mode: StopMode) -> Self {
        StopProtection {
            mode: crate::wire_name(&mode),
        }
    }
}

/// `POST …/items/{item}/resume` and `POST …/items/{item}/policy`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyRef {
    /// A policy of the vault.
    #[schema(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$",
        min_length = 1,
        max_length = 150
    )]
    pub policy: String,
}

/// A protected item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemDto {
    pub name: String,
    pub vault: String,
    /// `path` or `disk`.
    #[schema(value_type = WorkloadKind)]
    pub workload: String,
    /// The protected folder, file or disk image (absolute path).
    pub source: String,
    /// `null` after protection was stopped without a policy.
    pub policy_name: Option<String>,
    #[schema(value_type = ProtectionState)]
    pub protection_state: String,
    #[schema(value_type = HealthStatus)]
    pub health_status: String,
    /// `IRPending` before the first backup ends.
    #[schema(value_type = LastBackupStatus)]
    pub last_backup_status: String,
    pub last_backup_time: Option<DateTime<Utc>>,
    /// When the next scheduled backup is due; `null` while stopped.
    pub next_run_time: Option<DateTime<Utc>>,
    pub created_time: DateTime<Utc>,
    /// `SoftDeleted` items: when protection stopped with delete-data.
    pub deleted_time: Option<DateTime<Utc>>,
    /// `SoftDeleted` items: when the sweep purges the item and its data.
    pub purge_time: Option<DateTime<Utc>>,
}

list_type!(ItemList, ItemDto, "A page of protected items, by name.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enable_carries_a_typed_source_on_the_old_wire() {
        let s = Source::new(WorkloadKind::Disk, "/img/a.qcow2");
        let req = EnableProtection::new(None, &s, "DefaultPolicy");
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"workload": "disk", "source": "/img/a.qcow2", "policy": "DefaultPolicy"})
        );
        assert_eq!(req.source().unwrap(), s);
        let bad = EnableProtection {
            workload: "tape".into(),
            ..req
        };
        assert_eq!(bad.source().unwrap_err().target(), "workload");
        assert_eq!(
            StopProtection::new(StopMode::DeleteData).mode,
            "delete-data"
        );
    }
}
