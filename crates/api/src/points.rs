//! Recovery points: the point list's filters, the point answer, and the
//! restore request.

use chrono::{DateTime, Utc};
use lifeboat_model::source::{Conflict, DiskFormat};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::page::{list_type, paged_query};

/// `?from=&to=&limit=&cursor=&includeDeleted=` of the point list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointQuery {
    /// Only points taken at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only points taken before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `cursor` of the previous page's `nextLink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Also list points soft-deleted by a retention cut (default false).
    #[serde(
        rename = "includeDeleted",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub include_deleted: Option<bool>,
}

paged_query!(PointQuery);

/// A recovery point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointDto {
    /// The store's point id.
    pub id: String,
    pub vault: String,
    pub item: String,
    /// When the server received the point.
    pub time: DateTime<Utc>,
    /// `file-system` or `crash`.
    pub consistency: String,
    /// `vault`.
    pub tier: String,
    pub size_bytes: i64,
    /// Bytes the point added to the vault after deduplication.
    pub added_bytes: i64,
    /// The rule that decides the point's expiry (`daily`, …, `on-demand`).
    pub rule_name: Option<String>,
    /// Every rule that matched: `daily`, `weekly`, `monthly`, `yearly`,
    /// `on-demand`, `instant-restore`.
    pub retention_tags: Vec<String>,
    /// When the point expires; `null` while held (protection stopped).
    pub expiry_time: Option<DateTime<Utc>>,
    /// Soft-deleted by a retention cut (listed only with
    /// `includeDeleted=true`): when, and when it is purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_time: Option<DateTime<Utc>>,
}

list_type!(
    PointList,
    PointDto,
    "A page of recovery points, newest first."
);

/// `POST …/points/{point}/restore`.
///
/// Which fields apply depends on the item's workload, which the body does
/// not repeat: a path item takes `target` (`original` or a folder),
/// `conflict` and `include`, and refuses `format`; a disk item takes
/// `target` (the new image file, not ending in `/`), `conflict` and
/// `format`, and refuses `include` (`INVALID_ARGUMENT`, 400, `target`
/// naming the field).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RestoreRequest {
    /// `original` (path items) or an absolute path: the folder to restore
    /// into, or the new image file for a disk item.
    #[schema(pattern = "^(original|/.*)$", min_length = 1)]
    pub target: String,
    /// What happens to a file that exists: `overwrite`, `skip` or `fail`
    /// (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Conflict>)]
    pub conflict: Option<String>,
    /// Path items: only these paths (relative to the protected folder, no
    /// `..`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub include: Option<Vec<String>>,
    /// Disk items: `raw` (default) or `qcow2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DiskFormat>)]
    pub format: Option<String>,
}

impl RestoreRequest {
    /// Files of a path item, to the original location (`None`) or under
    /// the folder `target`.
    pub fn files(target: Option<String>, conflict: Conflict, include: Vec<String>) -> Self {
        RestoreRequest {
            target: target.unwrap_or_else(|| "original".to_owned()),
            conflict: Some(conflict.as_str().to_owned()),
            include: (!include.is_empty()).then_some(include),
            format: None,
        }
    }

    /// A disk item's image, to the new file `target`.
    pub fn disk(target: String, format: Option<DiskFormat>) -> Self {
        RestoreRequest {
            target,
            conflict: None,
            include: None,
            format: format.map(|f| f.as_str().to_owned()),
        }
    }
}
