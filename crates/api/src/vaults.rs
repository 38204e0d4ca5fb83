//! Vaults: create, update (security settings), the vault answer with its
//! usage, soft-deleted vaults, and a vault's security alerts.

use chrono::{DateTime, Utc};
use lifeboat_model::guard::AlertKind;
use lifeboat_model::vault::{ImmutabilityState, SecuritySettings, SoftDeleteState, VaultKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::page::list_type;

/// The storage redundancy a vault can have today. Azure's
/// `ZoneRedundant`, `GeoRedundant` and `ReadAccessGeoRedundant` are
/// understood and refused with `NOT_SUPPORTED` (422) until regions exist,
/// so the document offers only this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SupportedRedundancy {
    LocallyRedundant,
}

/// `properties.redundancySettings` of a create request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRedundancySettings {
    pub standard_tier_storage_redundancy: Option<SupportedRedundancy>,
}

/// `properties` of a create request (Azure's shape; every part optional).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVaultProperties {
    pub security_settings: Option<SecuritySettings>,
    pub redundancy_settings: Option<CreateRedundancySettings>,
}

/// `POST /api/v1/vaults`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVault {
    /// 2–50 letters, digits and hyphens, starting with a letter; unique
    /// on the server, compared case-insensitively.
    #[schema(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub name: String,
    /// `recovery-services` (paths and disks; gets `DefaultPolicy`) or
    /// `backup` (disks).
    #[schema(value_type = VaultKind)]
    pub kind: String,
    /// `LocallyRedundant` (the default; see [`SupportedRedundancy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SupportedRedundancy>)]
    pub storage_redundancy: Option<String>,
    /// Optional `{securitySettings: {softDeleteSettings,
    /// immutabilitySettings}, redundancySettings}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CreateVaultProperties>)]
    pub properties: Option<Value>,
}

impl CreateVault {
    /// A vault of `kind` with every default.
    pub fn new(name: impl Into<String>, kind: VaultKind) -> Self {
        CreateVault {
            name: name.into(),
            kind: crate::wire_name(&kind),
            storage_redundancy: None,
            properties: None,
        }
    }
}

/// `PATCH /api/v1/vaults/{vault}`: the vault's security settings. Every
/// field is optional; an absent one is left as it is. `AlwaysON` soft
/// delete and `Locked` immutability are irreversible (`409`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateVault {
    /// `Enabled`, `Disabled` or `AlwaysON` (irreversible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SoftDeleteState>)]
    pub soft_delete_state: Option<String>,
    /// 14–180: how long soft-deleted data is kept (applies to later deletes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 14, maximum = 180)]
    pub soft_delete_retention_period_in_days: Option<i64>,
    /// `Disabled`, `Unlocked` or `Locked` (irreversible; only from `Unlocked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ImmutabilityState>)]
    pub immutability_state: Option<String>,
}

impl UpdateVault {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.soft_delete_state.is_none()
            && self.soft_delete_retention_period_in_days.is_none()
            && self.immutability_state.is_none()
    }
}

/// What a vault holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultUsageDto {
    pub protected_items: i64,
    pub recovery_points: i64,
    /// Sum of the recovery points' sizes (the data as backed up).
    pub logical_bytes: i64,
    /// Bytes the points added to the store, after deduplication and
    /// compression: what the vault holds.
    pub stored_bytes: i64,
    /// Bytes deduplication and compression saved (`logicalBytes - storedBytes`).
    pub deduplicated_bytes: i64,
}

/// A vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultDto {
    pub name: String,
    /// `recovery-services` or `backup`.
    #[schema(value_type = VaultKind)]
    pub kind: String,
    /// `LocallyRedundant` (the others are not supported yet).
    pub storage_redundancy: String,
    /// `{redundancySettings, securitySettings}` with Azure's field names
    /// (soft delete and immutability: docs/security.md;
    /// `securitySettings.multiUserAuthorization`: `Enabled` while a
    /// resource guard is attached).
    #[schema(value_type = Object)]
    pub properties: Value,
    pub created_time: DateTime<Utc>,
    pub usage: VaultUsageDto,
    /// Soft-deleted vaults only: when it was deleted and when it is purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_time: Option<DateTime<Utc>>,
}

impl VaultDto {
    /// Sets `securitySettings.multiUserAuthorization` (`Enabled` when the
    /// vault has a resource guard), read-only as in Azure.
    pub fn with_mua(mut self, enabled: bool) -> Self {
        if let Some(props) = self.properties.as_object_mut() {
            let sec = props
                .entry("securitySettings")
                .or_insert_with(|| Value::Object(Default::default()));
            if !sec.is_object() {
                *sec = Value::Object(Default::default());
            }
            if let Some(sec) = sec.as_object_mut() {
                sec.insert(
                    "multiUserAuthorization".into(),
                    Value::String(if enabled { "Enabled" } else { "Disabled" }.to_owned()),
                );
            }
        }
        self
    }
}

list_type!(VaultList, VaultDto, "A page of vaults, by name.");

/// `?kind=&limit=` of the alert list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only alerts of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<AlertKind>, inline)]
    pub kind: Option<String>,
    /// At most this many, newest first (1–1000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A security alert of a vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertDto {
    pub id: i64,
    pub vault: String,
    /// `delete-backup-data`, `upcoming-purge`, `purge-complete`,
    /// `soft-delete-disabled`, `mua-disabled`.
    #[schema(value_type = AlertKind)]
    pub kind: String,
    /// The item it is about, if any.
    pub item: Option<String>,
    pub time: DateTime<Utc>,
    pub message: String,
}

list_type!(
    AlertList,
    AlertDto,
    "A vault's security alerts, newest first."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mua_is_shown_in_the_properties() {
        let v = VaultDto {
            name: "v".into(),
            kind: "backup".into(),
            storage_redundancy: "LocallyRedundant".into(),
            properties: serde_json::json!({"securitySettings": {"x": 1}}),
            created_time: Utc::now(),
            usage: VaultUsageDto {
                protected_items: 0,
                recovery_points: 0,
                logical_bytes: 0,
                stored_bytes: 0,
                deduplicated_bytes: 0,
            },
            deleted_time: None,
            purge_time: None,
        }
        .with_mua(true);
        assert_eq!(
            v.properties["securitySettings"],
            serde_json::json!({"x": 1, "multiUserAuthorization": "Enabled"})
        );
        assert_eq!(CreateVault::new("v", VaultKind::Backup).kind, "backup");
    }
}
