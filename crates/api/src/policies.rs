//! Backup policies: create, replace, the policy answer. The policy itself
//! is the model's [`Policy`] (Azure's `AzureIaasVMProtectionPolicy`
//! properties).
//!
//! Requests carry the policy as the JSON the client sent, so that the
//! server can name the failing field of a policy it cannot read
//! (`INVALID_POLICY`, `target: retentionPolicy.dailySchedule…`) instead of
//! a generic body error; [`CreatePolicy::new`] and
//! [`ReplacePolicy::new`] build them from a typed [`Policy`].

use chrono::{DateTime, Utc};
use lifeboat_model::Policy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::page::list_type;

/// `POST /api/v1/vaults/{vault}/policies`.
///
/// JSON Schema cannot say everything a policy must be: a daily or hourly
/// schedule needs daily retention, a weekly one forbids it and needs
/// weekly retention on the scheduled days, run times are on the hour or
/// half hour, each retention count has its unit's range (days 7–9999,
/// weeks 1–5163, months 1–1188, years 1–99), V1 keeps 1–5 instant-restore
/// days (a weekly schedule exactly 5), V2 1–30. A policy breaking one is
/// refused with `INVALID_POLICY` (400), `target` naming the field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatePolicy {
    /// 1–150 letters, digits, `-`, `_` and `.`, not starting with `.`.
    #[schema(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$",
        min_length = 1,
        max_length = 150
    )]
    pub name: String,
    /// The policy, in Azure's JSON shape.
    #[schema(value_type = Policy)]
    pub properties: Value,
}

impl CreatePolicy {
    pub fn new(name: impl Into<String>, policy: &Policy) -> serde_json::Result<Self> {
        Ok(CreatePolicy {
            name: name.into(),
            properties: serde_json::to_value(policy)?,
        })
    }
}

/// `PUT /api/v1/vaults/{vault}/policies/{policy}`: the same rules as
/// [`CreatePolicy`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplacePolicy {
    /// Optional; when given it must be the policy's name in the path (a
    /// policy cannot be renamed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$",
        min_length = 1,
        max_length = 150
    )]
    pub name: Option<String>,
    #[schema(value_type = Policy)]
    pub properties: Value,
}

impl ReplacePolicy {
    pub fn new(name: impl Into<String>, policy: &Policy) -> serde_json::Result<Self> {
        Ok(ReplacePolicy {
            name: Some(name.into()),
            properties: serde_json::to_value(policy)?,
        })
    }
}

/// A backup policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDto {
    pub name: String,
    pub vault: String,
    /// The policy (`policyType`, `timeZone`, `schedulePolicy`,
    /// `retentionPolicy`, `instantRpRetentionRangeInDays`, …) as stored:
    /// what the server accepted, defaults filled in.
    pub properties: Policy,
    /// How many protected items use the policy.
    pub protected_items_count: i64,
    pub created_time: DateTime<Utc>,
    pub updated_time: DateTime<Utc>,
}

list_type!(PolicyList, PolicyDto, "A page of policies, by name.");
