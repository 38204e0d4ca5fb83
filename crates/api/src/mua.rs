//! Multi-user authorization (docs/security.md): resource guards, their
//! holders, the vault → guard mapping and approval requests.

use chrono::{DateTime, Utc};
use lifeboat_model::mua::{CriticalOp, RequestState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::page::list_type;

/// The longest guard description, in characters.
pub const MAX_DESCRIPTION: usize = 1000;

/// `POST /api/v1/resourceGuards`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateResourceGuard {
    /// 2–50 letters, digits and hyphens, starting with a letter.
    #[schema(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub name: String,
    /// The identity that owns (and first holds) the guard; default the
    /// caller. An Owner can make a guard for a separate security admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub owner: Option<String>,
    /// At most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// The operations it protects (default all five). It must name
    /// `disable-soft-delete` and `detach-guard`, which a guard always
    /// protects (400 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<CriticalOp>>, min_items = 2)]
    pub critical_operations: Option<Vec<String>>,
}

/// A resource guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGuardDto {
    pub name: String,
    pub owner: String,
    pub description: String,
    #[schema(value_type = Vec<CriticalOp>)]
    pub critical_operations: Vec<String>,
    /// Holders besides the owner.
    pub members: Vec<String>,
    /// The vaults it guards.
    pub vaults: Vec<String>,
    pub created_time: DateTime<Utc>,
}

list_type!(
    ResourceGuardList,
    ResourceGuardDto,
    "The resource guards the caller may read."
);

/// `POST /api/v1/resourceGuards/{guard}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardMemberBody {
    /// The identity's name.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub identity: String,
}

/// `PUT /api/v1/vaults/{vault}/resourceGuard`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachGuard {
    #[schema(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub guard_name: String,
}

/// A vault's resource guard mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultGuardDto {
    pub vault: String,
    /// `null`: no guard.
    pub guard: Option<String>,
    /// `Enabled` with a guard, else `Disabled`.
    pub multi_user_authorization: String,
    pub attached_time: Option<DateTime<Utc>>,
    /// The operations that need an approval.
    #[schema(value_type = Vec<CriticalOp>)]
    pub critical_operations: Vec<String>,
}

/// `POST /api/v1/vaults/{vault}/resourceGuard/requests`.
///
/// `target` depends on the operation: none for the vault-level ones
/// (`disable-soft-delete`, `disable-immutability`, `detach-guard`), the
/// item for `stop-protection-delete-data`, the policy (an edit) or the
/// item (a policy change or resume) for `reduce-retention` (400
/// otherwise).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateMuaRequest {
    #[schema(value_type = CriticalOp)]
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub target: Option<String>,
}

/// `POST …/requests/{id}/approve`. The body is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// How long the approval may be used, 1–1440 minutes (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1440)]
    pub valid_for_minutes: Option<i64>,
}

/// An approval request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuaRequestDto {
    pub id: i64,
    pub guard: String,
    pub vault: String,
    #[schema(value_type = CriticalOp)]
    pub operation: String,
    pub target: String,
    pub requester: String,
    /// As of now (a lapsed request reads `Expired`).
    #[schema(value_type = RequestState)]
    pub status: String,
    pub requested_time: DateTime<Utc>,
    /// When the pending request lapses, or the approval does.
    pub expires_time: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_time: Option<DateTime<Utc>>,
    pub used_time: Option<DateTime<Utc>>,
}

list_type!(
    MuaRequestList,
    MuaRequestDto,
    "Approval requests, newest first."
);

/// `?status=` of the request list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Only requests in this state (as of now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<RequestState>, inline)]
    pub status: Option<String>,
}
