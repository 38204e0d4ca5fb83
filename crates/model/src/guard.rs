//! Guards of destructive operations: soft delete and immutable vaults
//! (azure.md §4, §5), as pure rules the service calls before it changes
//! anything. Every refusal has its own [`ErrorCode`] naming the rule.
//!
//! **Soft delete** (`Disabled` / `Enabled` / `AlwaysON`, 14–180 days):
//! - `AlwaysON` can never be left ([`check_soft_delete_change`]);
//!   `Enabled` ↔ `Disabled` and anything → `AlwaysON` are allowed.
//! - With soft delete on, stopping protection with delete-data makes the
//!   item `SoftDeleted` with a purge time = delete time + the retention in
//!   force *at delete time* ([`crate::vault::SoftDeleteSettings::purge_time`]);
//!   points that a retention cut expires are soft-deleted the same way.
//! - Alerts: [`AlertKind`]; the upcoming-purge alert is due
//!   [`UPCOMING_PURGE_NOTICE_DAYS`] days before the purge ([`upcoming_purge_due`]).
//!
//! **Immutability** (`Disabled` → `Unlocked` → `Locked`):
//! - `Unlocked` can go back to `Disabled`; `Locked` is final; `Disabled`
//!   cannot jump to `Locked` ([`check_immutability_change`]).
//! - While `Unlocked` or `Locked` (they block the same operations): no
//!   deleting a point before its expiry ([`check_point_delete`]), no stop
//!   protection with delete-data while any point is unexpired
//!   ([`check_stop_with_delete`]), no policy edit that shortens or removes a
//!   retention ([`check_policy_edit`]), no move to (or resume with) a
//!   policy that keeps the item's points less long ([`check_policy_swap`],
//!   [`check_points_kept`]). Raising retention is always allowed.
//!
//! A point's "expiry" here is the one its retention rules give
//! (`expiryTime`, the `rule_expiry` column), not the expiry in force: a
//! hold (protection stopped) only keeps points longer, never shorter.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};
use crate::policy::ValidPolicy;
use crate::vault::{ImmutabilityState, SoftDeleteState};

const SOFT_DELETE_TARGET: &str = "securitySettings.softDeleteSettings.softDeleteState";
const IMMUTABILITY_TARGET: &str = "securitySettings.immutabilitySettings.state";

/// How long before a purge the upcoming-purge alert is raised (Azure: 2 days).
pub const UPCOMING_PURGE_NOTICE_DAYS: i64 = 2;

/// `Ok` if soft delete may move from `old` to `new`.
pub fn check_soft_delete_change(
    old: SoftDeleteState,
    new: SoftDeleteState,
) -> Result<(), ModelError> {
    if old == SoftDeleteState::AlwaysOn && new != SoftDeleteState::AlwaysOn {
        return Err(ModelError::new(
            ErrorCode::SoftDeleteAlwaysOn,
            SOFT_DELETE_TARGET,
            format!(
                "soft delete is AlwaysON for this vault and can never be turned off or set to \
                 {new:?}"
            ),
        ));
    }
    Ok(())
}

/// `Ok` if immutability may move from `old` to `new`.
pub fn check_immutability_change(
    old: ImmutabilityState,
    new: ImmutabilityState,
) -> Result<(), ModelError> {
    use ImmutabilityState as I;
    match (old, new) {
        (I::Locked, I::Locked) => Ok(()),
        (I::Locked, _) => Err(ModelError::new(
            ErrorCode::ImmutabilityLocked,
            IMMUTABILITY_TARGET,
            format!("immutability is Locked for this vault and can never change (asked: {new:?})"),
        )),
        (I::Disabled, I::Locked) => Err(ModelError::new(
            ErrorCode::ImmutabilityNotUnlocked,
            IMMUTABILITY_TARGET,
            "immutability can be locked only once it is Unlocked: set it to Unlocked, check \
             that backups and restores still do what you need, then lock it",
        )),
        _ => Ok(()),
    }
}

/// Whether the rules say a point with (rule) expiry `expiry` is still
/// unexpired at `now`. `None` (no expiry known) counts as unexpired.
pub fn is_unexpired(expiry: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expiry.is_none_or(|e| e > now)
}

/// `Ok` if a point whose rules expire it at `expiry` may be deleted at
/// `now` in a vault whose immutability is `state`.
pub fn check_point_delete(
    state: ImmutabilityState,
    point: &str,
    expiry: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), ModelError> {
    if state.is_on() && is_unexpired(expiry, now) {
        return Err(ModelError::new(
            ErrorCode::ImmutablePointNotExpired,
            point,
            format!(
                "the vault is immutable ({state:?}): recovery point {point} cannot be deleted \
                 before its expiry ({})",
                expiry.map_or_else(|| "none set".to_string(), |e| e.to_rfc3339())
            ),
        ));
    }
    Ok(())
}

/// `Ok` if protection of `item` may stop with delete-data: in an immutable
/// vault only once every point has reached its expiry (`expiries` are the
/// points' rule expiries).
pub fn check_stop_with_delete(
    state: ImmutabilityState,
    item: &str,
    expiries: &[Option<DateTime<Utc>>],
    now: DateTime<Utc>,
) -> Result<(), ModelError> {
    if !state.is_on() {
        return Ok(());
    }
    let unexpired: Vec<_> = expiries.iter().filter(|e| is_unexpired(**e, now)).collect();
    if unexpired.is_empty() {
        return Ok(());
    }
    let last = unexpired
        .iter()
        .map(|e| e.unwrap_or(DateTime::<Utc>::MAX_UTC))
        .max();
    Err(ModelError::new(
        ErrorCode::ImmutableStopWithDelete,
        item,
        format!(
            "the vault is immutable ({state:?}): protection of '{item}' cannot stop with \
             delete-data while {} recovery point(s) have not expired (the last expires {}); \
             stop with retain-data instead",
            unexpired.len(),
            last.map_or_else(String::new, |t| t.to_rfc3339())
        ),
    ))
}

/// `Ok` if a policy may be edited from `old` to `new` in a vault whose
/// immutability is `state` (no rule shortened or removed).
pub fn check_policy_edit(
    state: ImmutabilityState,
    policy: &str,
    old: &ValidPolicy,
    new: &ValidPolicy,
) -> Result<(), ModelError> {
    if state.is_on() && old.reduces_retention_to(new) {
        return Err(ModelError::new(
            ErrorCode::ImmutableRetentionReduction,
            policy,
            format!(
                "the vault is immutable ({state:?}): policy '{policy}' cannot shorten or remove \
                 a retention (raising retention and changing the schedule are allowed)"
            ),
        ));
    }
    Ok(())
}

/// `Ok` if an item may move from policy `old` to `new` in a vault whose
/// immutability is `state` (no rule shortened or removed).
pub fn check_policy_swap(
    state: ImmutabilityState,
    item: &str,
    old: &ValidPolicy,
    new: &ValidPolicy,
) -> Result<(), ModelError> {
    if state.is_on() && old.reduces_retention_to(new) {
        return Err(ModelError::new(
            ErrorCode::ImmutablePolicySwapReduction,
            item,
            format!(
                "the vault is immutable ({state:?}): item '{item}' cannot move to a policy with \
                 shorter or fewer retentions; choose one that keeps points at least as long"
            ),
        ));
    }
    Ok(())
}

/// `Ok` if no point ends earlier than before: `changes` are (old rule
/// expiry, new rule expiry) pairs of the item's points, as re-evaluating
/// them under a policy gives (resuming protection). An unexpired point may
/// not get an earlier expiry in an immutable vault.
pub fn check_points_kept(
    state: ImmutabilityState,
    item: &str,
    changes: &[(Option<DateTime<Utc>>, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<(), ModelError> {
    if !state.is_on() {
        return Ok(());
    }
    let cut = changes
        .iter()
        .filter(|(old, new)| is_unexpired(*old, now) && old.is_none_or(|o| *new < o))
        .count();
    if cut > 0 {
        return Err(ModelError::new(
            ErrorCode::ImmutablePolicySwapReduction,
            item,
            format!(
                "the vault is immutable ({state:?}): that policy would let {cut} unexpired \
                 recovery point(s) of '{item}' go earlier than their expiry; choose a policy \
                 that keeps them at least as long"
            ),
        ));
    }
    Ok(())
}

/// The security events the vault records (Azure's built-in security
/// alerts, §8). Serialized kebab-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// Protection was stopped with delete-data (the item is soft-deleted).
    DeleteBackupData,
    /// A soft-deleted item is purged within [`UPCOMING_PURGE_NOTICE_DAYS`].
    UpcomingPurge,
    /// A soft-deleted item (or vault) was purged for good.
    PurgeComplete,
    /// Soft delete was turned off for the vault.
    SoftDeleteDisabled,
    /// The vault's resource guard was detached: multi-user authorization
    /// is off.
    MuaDisabled,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::DeleteBackupData,
        AlertKind::UpcomingPurge,
        AlertKind::PurgeComplete,
        AlertKind::SoftDeleteDisabled,
        AlertKind::MuaDisabled,
    ];

    /// The wire name, e.g. `delete-backup-data`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::DeleteBackupData => "delete-backup-data",
            AlertKind::UpcomingPurge => "upcoming-purge",
            AlertKind::PurgeComplete => "purge-complete",
            AlertKind::SoftDeleteDisabled => "soft-delete-disabled",
            AlertKind::MuaDisabled => "mua-disabled",
        }
    }
}

/// Whether the upcoming-purge alert for something purged at `purge` is due
/// at `now` (from 2 days before the purge until the purge).
pub fn upcoming_purge_due(purge: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= purge - Duration::days(UPCOMING_PURGE_NOTICE_DAYS) && now < purge
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{SoftDeleteSettings, VaultKind, VaultSettings};
    use chrono::TimeZone;

    const SD: [SoftDeleteState; 3] = [
        SoftDeleteState::Enabled,
        SoftDeleteState::Disabled,
        SoftDeleteState::AlwaysOn,
    ];
    const IM: [ImmutabilityState; 3] = [
        ImmutabilityState::Disabled,
        ImmutabilityState::Unlocked,
        ImmutabilityState::Locked,
    ];

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn soft_delete_transitions_exhaustive() {
        for old in SD {
            for new in SD {
                let r = check_soft_delete_change(old, new);
                let allowed = old != SoftDeleteState::AlwaysOn || new == SoftDeleteState::AlwaysOn;
                assert_eq!(r.is_ok(), allowed, "{old:?} -> {new:?}");
                if let Err(e) = r {
                    assert_eq!(e.code(), ErrorCode::SoftDeleteAlwaysOn);
                    assert_eq!(e.target(), SOFT_DELETE_TARGET);
                }
                // The same rule through a whole settings update.
                let mut o = VaultSettings::new(VaultKind::RecoveryServices);
                o.security_settings.soft_delete_settings.soft_delete_state = old;
                let mut n = o;
                n.security_settings.soft_delete_settings.soft_delete_state = new;
                assert_eq!(n.validate_update(&o, true).is_ok(), allowed);
            }
        }
    }

    #[test]
    fn immutability_transitions_exhaustive() {
        use ImmutabilityState as I;
        for old in IM {
            for new in IM {
                let want = match (old, new) {
                    (I::Locked, I::Locked) => None,
                    (I::Locked, _) => Some(ErrorCode::ImmutabilityLocked),
                    (I::Disabled, I::Locked) => Some(ErrorCode::ImmutabilityNotUnlocked),
                    _ => None,
                };
                let got = check_immutability_change(old, new).err().map(|e| e.code());
                assert_eq!(got, want, "{old:?} -> {new:?}");
            }
        }
        // Locked is absorbing: no sequence of requests leaves it.
        let mut s = I::Unlocked;
        s = if check_immutability_change(s, I::Locked).is_ok() {
            I::Locked
        } else {
            s
        };
        for step in IM.iter().cycle().take(30) {
            if check_immutability_change(s, *step).is_ok() {
                s = *step;
            }
            assert_eq!(s, I::Locked);
        }
    }

    #[test]
    fn soft_delete_days_and_purge_time() {
        let mut s = SoftDeleteSettings::default();
        assert!(s.is_on());
        assert_eq!(s.purge_time(t(1)), t(15));
        s.soft_delete_retention_period_in_days = 180;
        assert_eq!(s.purge_time(t(1)), t(1) + Duration::days(180));
        s.soft_delete_state = SoftDeleteState::Disabled;
        assert!(!s.is_on());
        assert!(SoftDeleteState::AlwaysOn.is_on());
    }

    #[test]
    fn point_delete_needs_expiry_when_immutable() {
        for state in IM {
            for (expiry, now, expired) in [
                (Some(t(10)), t(9), false),
                (Some(t(10)), t(10), true),
                (Some(t(10)), t(11), true),
                (None, t(11), false),
            ] {
                let r = check_point_delete(state, "rp", expiry, now);
                assert_eq!(
                    r.is_ok(),
                    !state.is_on() || expired,
                    "{state:?} {expiry:?} {now}"
                );
                if let Err(e) = r {
                    assert_eq!(e.code(), ErrorCode::ImmutablePointNotExpired);
                    assert_eq!(e.target(), "rp");
                }
            }
        }
    }

    #[test]
    fn stop_with_delete_needs_every_point_expired() {
        let pts = [Some(t(5)), Some(t(20))];
        for state in IM {
            let early = check_stop_with_delete(state, "it", &pts, t(10));
            assert_eq!(early.is_ok(), !state.is_on());
            if let Err(e) = early {
                assert_eq!(e.code(), ErrorCode::ImmutableStopWithDelete);
                assert!(e.message().contains("1 recovery point"), "{}", e.message());
                assert!(e.message().contains("retain-data"));
            }
            assert!(check_stop_with_delete(state, "it", &pts, t(20)).is_ok());
            assert!(check_stop_with_delete(state, "it", &[], t(1)).is_ok());
        }
    }

    #[test]
    fn points_kept_refuses_only_earlier_unexpired() {
        let now = t(10);
        let cases = [
            ((Some(t(20)), t(15)), false), // cut short
            ((Some(t(20)), t(20)), true),  // same
            ((Some(t(20)), t(25)), true),  // longer
            ((Some(t(5)), t(1)), true),    // already expired
            ((None, t(25)), false),        // kept forever before
        ];
        for ((old, new), ok) in cases {
            assert_eq!(
                check_points_kept(ImmutabilityState::Locked, "it", &[(old, new)], now).is_ok(),
                ok,
                "{old:?} {new}"
            );
            assert!(
                check_points_kept(ImmutabilityState::Disabled, "it", &[(old, new)], now).is_ok()
            );
        }
    }

    fn daily(days: i64) -> ValidPolicy {
        let doc = serde_json::json!({
            "policyType": "V1", "timeZone": "UTC", "instantRpRetentionRangeInDays": 2,
            "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily", "scheduleRunTimes": ["22:00"]},
            "retentionPolicy": {"retentionPolicyType": "LongTermRetentionPolicy",
                "dailySchedule": {"retentionDuration": {"count": days, "durationType": "Days"}}}
        });
        serde_json::from_value::<crate::Policy>(doc)
            .unwrap()
            .resolve()
            .unwrap()
    }

    #[test]
    fn retention_may_only_grow_when_immutable() {
        let (short, long) = (daily(7), daily(30));
        for state in IM {
            assert!(check_policy_edit(state, "P", &short, &long).is_ok());
            assert!(check_policy_swap(state, "it", &short, &long).is_ok());
            assert!(check_policy_edit(state, "P", &long, &long).is_ok());
            let e = check_policy_edit(state, "P", &long, &short);
            let s = check_policy_swap(state, "it", &long, &short);
            assert_eq!(e.is_ok(), !state.is_on());
            assert_eq!(s.is_ok(), !state.is_on());
            if state.is_on() {
                assert_eq!(
                    e.unwrap_err().code(),
                    ErrorCode::ImmutableRetentionReduction
                );
                assert_eq!(
                    s.unwrap_err().code(),
                    ErrorCode::ImmutablePolicySwapReduction
                );
            }
        }
    }

    #[test]
    fn upcoming_purge_window() {
        let purge = t(15);
        assert!(!upcoming_purge_due(purge, t(12)));
        assert!(upcoming_purge_due(purge, t(13)));
        assert!(upcoming_purge_due(purge, t(14)));
        assert!(!upcoming_purge_due(purge, t(15)));
        let names: Vec<_> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "delete-backup-data",
                "upcoming-purge",
                "purge-complete",
                "soft-delete-disabled",
                "mua-disabled"
            ]
        );
        for k in AlertKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
