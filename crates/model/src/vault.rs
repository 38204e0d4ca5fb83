//! Vaults: the name rules, the two kinds, storage redundancy and the
//! (reserved) soft-delete and immutability settings, with their validation.
//!
//! Field names follow Azure's Recovery Services vault `properties`
//! (`redundancySettings.standardTierStorageRedundancy`,
//! `securitySettings.softDeleteSettings`, `securitySettings.immutabilitySettings`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorCode, ModelError};
use crate::item::WorkloadKind;

/// Which workloads and policy types a vault accepts (the engine is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum VaultKind {
    /// Azure's Recovery Services vault: VM-style policies, `DefaultPolicy`.
    RecoveryServices,
    /// Azure's Backup vault (DataProtection): disks and other operational
    /// workloads; its policy type does not exist in Lifeboat yet.
    Backup,
}

impl VaultKind {
    /// Whether the vault is created with a `DefaultPolicy` (only
    /// `recovery-services`, as in Azure).
    pub fn has_default_policy(self) -> bool {
        matches!(self, VaultKind::RecoveryServices)
    }

    /// Whether items of this workload can be protected in this kind of vault.
    /// Lifeboat's `recovery-services` vault takes paths (like MARS files and
    /// folders) and disk images (like Azure VM disks); a `backup` vault takes
    /// disks only.
    pub fn accepts(self, workload: WorkloadKind) -> bool {
        match self {
            VaultKind::RecoveryServices => true,
            VaultKind::Backup => workload == WorkloadKind::Disk,
        }
    }
}

/// Storage redundancy, with Azure's enum names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StorageRedundancy {
    #[default]
    LocallyRedundant,
    ZoneRedundant,
    GeoRedundant,
    ReadAccessGeoRedundant,
}

impl StorageRedundancy {
    /// Whether Lifeboat can provide it today (only LRS until regions exist).
    pub fn is_supported(self) -> bool {
        self == StorageRedundancy::LocallyRedundant
    }

    /// `Ok` for LRS; a `NOT_SUPPORTED` error naming the field for the rest.
    pub fn check_supported(self) -> Result<(), ModelError> {
        if self.is_supported() {
            return Ok(());
        }
        Err(ModelError::new(
            ErrorCode::NotSupported,
            "redundancySettings.standardTierStorageRedundancy",
            format!(
                "storage redundancy {self:?} is not yet supported: Lifeboat has no regions yet; \
                 use LocallyRedundant"
            ),
        ))
    }
}

/// A vault name: 2–50 ASCII letters, digits and hyphens, starting with a
/// letter (Azure's rule). Names compare case-sensitively here; use
/// [`VaultName::key`] for case-insensitive uniqueness, as Azure treats names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultName(String);

impl VaultName {
    /// Minimum and maximum length.
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 50;

    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self, ModelError> {
        let err = |why: &str| {
            ModelError::new(
                ErrorCode::InvalidVaultName,
                "name",
                format!(
                    "vault name {name:?} {why}: a vault name has 2 to 50 characters, letters, \
                     digits and hyphens only, and starts with a letter"
                ),
            )
        };
        let len = name.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(err(&format!("has {len} characters")));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(err("does not start with a letter"));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(err(&format!("contains {c:?}")));
        }
        Ok(VaultName(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased name, for uniqueness checks.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for VaultName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for VaultName {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VaultName::parse(s)
    }
}

impl Serialize for VaultName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for VaultName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VaultName::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// `redundancySettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RedundancySettings {
    #[serde(default)]
    pub standard_tier_storage_redundancy: StorageRedundancy,
}

/// Soft-delete state (Azure's `softDeleteState`); the rules are in
/// [`crate::guard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SoftDeleteState {
    #[default]
    Enabled,
    Disabled,
    /// Irreversible: cannot be turned off once on.
    #[serde(rename = "AlwaysON")]
    AlwaysOn,
}

/// `securitySettings.softDeleteSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SoftDeleteSettings {
    #[serde(default)]
    pub soft_delete_state: SoftDeleteState,
    /// 14–180 days.
    #[serde(default = "default_soft_delete_days")]
    #[cfg_attr(feature = "openapi", schema(minimum = 14, maximum = 180))]
    pub soft_delete_retention_period_in_days: i64,
}

fn default_soft_delete_days() -> i64 {
    SoftDeleteSettings::DEFAULT_DAYS
}

impl SoftDeleteSettings {
    /// Allowed retention of soft-deleted data, in days (Azure: 14–180).
    pub const DAYS: std::ops::RangeInclusive<i64> = 14..=180;
    /// Azure's default.
    pub const DEFAULT_DAYS: i64 = 14;
}

impl SoftDeleteState {
    /// Whether deletes are soft (`Enabled` or `AlwaysON`).
    pub fn is_on(self) -> bool {
        self != SoftDeleteState::Disabled
    }
}

impl SoftDeleteSettings {
    /// Checks the retention of soft-deleted data is within [`Self::DAYS`].
    pub fn check_retention(&self) -> Result<(), ModelError> {
        let days = self.soft_delete_retention_period_in_days;
        if !Self::DAYS.contains(&days) {
            return Err(ModelError::new(
                ErrorCode::InvalidVaultSettings,
                "securitySettings.softDeleteSettings.softDeleteRetentionPeriodInDays",
                format!(
                    "securitySettings.softDeleteSettings.softDeleteRetentionPeriodInDays must be \
                     between 14 and 180 days (got {days})"
                ),
            ));
        }
        Ok(())
    }

    /// Whether deletes are soft.
    pub fn is_on(&self) -> bool {
        self.soft_delete_state.is_on()
    }

    /// When something soft-deleted at `deleted` is purged under these
    /// settings (the settings in force at delete time govern it).
    pub fn purge_time(
        &self,
        deleted: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        deleted + chrono::Duration::days(self.soft_delete_retention_period_in_days)
    }
}

impl ImmutabilityState {
    /// Whether the immutability rules apply (`Unlocked` or `Locked`: they
    /// block the same operations; only `Locked` is irreversible).
    pub fn is_on(self) -> bool {
        self != ImmutabilityState::Disabled
    }
}

impl Default for SoftDeleteSettings {
    fn default() -> Self {
        SoftDeleteSettings {
            soft_delete_state: SoftDeleteState::Enabled,
            soft_delete_retention_period_in_days: Self::DEFAULT_DAYS,
        }
    }
}

/// Immutability state (Azure's `immutabilitySettings.state`); the rules are
/// in [`crate::guard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImmutabilityState {
    #[default]
    Disabled,
    Unlocked,
    /// Irreversible.
    Locked,
}

/// `securitySettings.immutabilitySettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImmutabilitySettings {
    #[serde(default)]
    pub state: ImmutabilityState,
}

/// `securitySettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecuritySettings {
    #[serde(default)]
    pub soft_delete_settings: SoftDeleteSettings,
    #[serde(default)]
    pub immutability_settings: ImmutabilitySettings,
}

/// The settings a client gives when creating or updating a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultSettings {
    pub kind: VaultKind,
    #[serde(default)]
    pub redundancy_settings: RedundancySettings,
    #[serde(default)]
    pub security_settings: SecuritySettings,
}

impl VaultSettings {
    /// Settings for a new vault of `kind` with every default.
    pub fn new(kind: VaultKind) -> Self {
        VaultSettings {
            kind,
            redundancy_settings: RedundancySettings::default(),
            security_settings: SecuritySettings::default(),
        }
    }

    /// Checks ranges and support.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.redundancy_settings
            .standard_tier_storage_redundancy
            .check_supported()?;
        self.security_settings
            .soft_delete_settings
            .check_retention()?;
        Ok(())
    }

    /// Checks `self` as a valid update of `old`: everything [`validate`]
    /// checks, plus the irreversible settings (soft delete `AlwaysON`,
    /// immutability `Locked`), the kind, and the redundancy (Azure locks it
    /// once an item is protected; `has_items` says so).
    ///
    /// [`validate`]: VaultSettings::validate
    pub fn validate_update(&self, old: &VaultSettings, has_items: bool) -> Result<(), ModelError> {
        self.validate()?;
        let settings_err = |target: &str, message: &str| {
            Err(ModelError::new(
                ErrorCode::InvalidVaultSettings,
                target,
                message,
            ))
        };
        if self.kind != old.kind {
            return settings_err("kind", "a vault's kind cannot be changed");
        }
        if has_items
            && self.redundancy_settings.standard_tier_storage_redundancy
                != old.redundancy_settings.standard_tier_storage_redundancy
        {
            return settings_err(
                "redundancySettings.standardTierStorageRedundancy",
                "storage redundancy is locked once the vault protects an item",
            );
        }
        crate::guard::check_soft_delete_change(
            old.security_settings.soft_delete_settings.soft_delete_state,
            self.security_settings
                .soft_delete_settings
                .soft_delete_state,
        )?;
        crate::guard::check_immutability_change(
            old.security_settings.immutability_settings.state,
            self.security_settings.immutability_settings.state,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_name_lengths_at_both_edges() {
        for len in 0..=60 {
            let name: String = std::iter::once('v')
                .chain(std::iter::repeat_n('a', len.max(1) - 1))
                .take(len)
                .collect();
            let ok = VaultName::parse(&name).is_ok();
            assert_eq!(ok, (2..=50).contains(&len), "len {len}");
        }
    }

    #[test]
    fn vault_name_characters() {
        for good in ["ab", "my-vault", "Vault01", "a-", "A1-2-3"] {
            assert!(VaultName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "1vault", "-vault", "my_vault", "my vault", "väult", "vault.x", "a/b",
        ] {
            let e = VaultName::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidVaultName, "{bad}");
            assert_eq!(e.target(), "name");
            assert!(e.message().contains("2 to 50"), "{}", e.message());
        }
        assert_eq!(VaultName::parse("MyVault").unwrap().key(), "myvault");
        let v: Result<VaultName, _> = serde_json::from_str("\"9lives\"");
        assert!(v.is_err());
        let v: VaultName = serde_json::from_str("\"ok-name\"").unwrap();
        assert_eq!(v.to_string(), "ok-name");
    }

    #[test]
    fn only_lrs_is_supported() {
        for (r, ok) in [
            (StorageRedundancy::LocallyRedundant, true),
            (StorageRedundancy::ZoneRedundant, false),
            (StorageRedundancy::GeoRedundant, false),
            (StorageRedundancy::ReadAccessGeoRedundant, false),
        ] {
            assert_eq!(r.is_supported(), ok);
            let mut s = VaultSettings::new(VaultKind::RecoveryServices);
            s.redundancy_settings.standard_tier_storage_redundancy = r;
            match s.validate() {
                Ok(()) => assert!(ok),
                Err(e) => {
                    assert!(!ok);
                    assert_eq!(e.code(), ErrorCode::NotSupported);
                    assert_eq!(
                        e.target(),
                        "redundancySettings.standardTierStorageRedundancy"
                    );
                    assert!(e.message().contains("not yet supported"));
                }
            }
        }
    }

    #[test]
    fn kind_serializes_kebab_case_and_accepts_workloads() {
        assert_eq!(
            serde_json::to_string(&VaultKind::RecoveryServices).unwrap(),
            "\"recovery-services\""
        );
        assert_eq!(
            serde_json::to_string(&VaultKind::Backup).unwrap(),
            "\"backup\""
        );
        assert!(VaultKind::RecoveryServices.has_default_policy());
        assert!(!VaultKind::Backup.has_default_policy());
        assert!(VaultKind::RecoveryServices.accepts(WorkloadKind::Path));
        assert!(VaultKind::RecoveryServices.accepts(WorkloadKind::Disk));
        assert!(!VaultKind::Backup.accepts(WorkloadKind::Path));
        assert!(VaultKind::Backup.accepts(WorkloadKind::Disk));
    }

    #[test]
    fn settings_json_uses_azure_names_and_defaults() {
        let s: VaultSettings = serde_json::from_str(r#"{"kind":"recovery-services"}"#).unwrap();
        assert_eq!(s, VaultSettings::new(VaultKind::RecoveryServices));
        let v = serde_json::to_value(s).unwrap();
        assert_eq!(
            v["redundancySettings"]["standardTierStorageRedundancy"],
            "LocallyRedundant"
        );
        assert_eq!(
            v["securitySettings"]["softDeleteSettings"]["softDeleteState"],
            "Enabled"
        );
        assert_eq!(
            v["securitySettings"]["softDeleteSettings"]["softDeleteRetentionPeriodInDays"],
            14
        );
        assert_eq!(
            v["securitySettings"]["immutabilitySettings"]["state"],
            "Disabled"
        );
        let a: SoftDeleteState = serde_json::from_str("\"AlwaysON\"").unwrap();
        assert_eq!(a, SoftDeleteState::AlwaysOn);
    }

    #[test]
    fn soft_delete_days_at_both_edges() {
        for (days, ok) in [(13, false), (14, true), (180, true), (181, false)] {
            let mut s = VaultSettings::new(VaultKind::RecoveryServices);
            s.security_settings
                .soft_delete_settings
                .soft_delete_retention_period_in_days = days;
            let r = s.validate();
            assert_eq!(r.is_ok(), ok, "{days}");
            if let Err(e) = r {
                assert_eq!(e.code(), ErrorCode::InvalidVaultSettings);
                assert!(e.message().contains("between 14 and 180"));
            }
        }
    }

    #[test]
    fn irreversible_settings_cannot_be_undone() {
        let base = VaultSettings::new(VaultKind::RecoveryServices);
        let mut always = base;
        always
            .security_settings
            .soft_delete_settings
            .soft_delete_state = SoftDeleteState::AlwaysOn;
        assert!(always.validate_update(&base, false).is_ok());
        assert_eq!(
            base.validate_update(&always, false).unwrap_err().code(),
            ErrorCode::SoftDeleteAlwaysOn
        );
        let mut locked = base;
        locked.security_settings.immutability_settings.state = ImmutabilityState::Locked;
        let mut unlocked = base;
        unlocked.security_settings.immutability_settings.state = ImmutabilityState::Unlocked;
        assert!(locked.validate_update(&unlocked, false).is_ok());
        assert!(base.validate_update(&unlocked, false).is_ok());
        let e = unlocked.validate_update(&locked, false).unwrap_err();
        assert_eq!(e.target(), "securitySettings.immutabilitySettings.state");
        assert_eq!(e.code(), ErrorCode::ImmutabilityLocked);
        assert_eq!(
            locked.validate_update(&base, false).unwrap_err().code(),
            ErrorCode::ImmutabilityNotUnlocked
        );
        let other = VaultSettings::new(VaultKind::Backup);
        assert_eq!(
            other.validate_update(&base, false).unwrap_err().target(),
            "kind"
        );
    }
}
