//! Protected items: workload kinds, protection states and the state machine
//! of stop / resume / change-policy / undelete, with what each transition
//! does to the item's recovery points expressed as data ([`PointsEffect`]),
//! following azure.md §3 and §4:
//!
//! | from | action | to | points |
//! |---|---|---|---|
//! | Protected, ProtectionError | stop, retain data | ProtectionStopped | all held forever |
//! | Protected, ProtectionError | stop, retain as per policy | BackupsSuspended | expire by policy, latest held forever |
//! | any but SoftDeleted | stop, delete data | removed (or SoftDeleted with soft delete on) | `DeleteBackupData` job deletes all (soft delete: all held) |
//! | ProtectionStopped, BackupsSuspended | resume with a policy | Protected | re-evaluated under the policy, holds cleared, expired ones swept at once |
//! | Protected, ProtectionError | change policy | same | re-tagged ([`crate::retention::retag`]) |
//! | SoftDeleted | undelete | ProtectionStopped | all held forever |
//! | Protected, ProtectionError | backup failed / succeeded | ProtectionError / Protected | unchanged |
//!
//! Every other combination is refused with `INVALID_ITEM_STATE`.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};
use crate::job::JobType;
use crate::retention::HoldScope;

/// What an item protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// A local file or folder tree.
    Path,
    /// A disk image file (raw or qcow2).
    Disk,
}

/// Azure's `protectionState` values that Lifeboat uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProtectionState {
    /// Backups run on the policy's schedule.
    Protected,
    /// Stopped with retain-data: no backups, every point kept forever.
    ProtectionStopped,
    /// Stopped with retain-as-per-policy: no backups, points expire by
    /// policy except the latest.
    BackupsSuspended,
    /// Protected, but the last backup failed.
    ProtectionError,
    /// Deleted with soft delete on: no backups; every point is held until
    /// the purge time; restores still work; `undelete` brings it back as
    /// `ProtectionStopped`.
    SoftDeleted,
}

/// Azure's `healthStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HealthStatus {
    Passed,
    ActionRequired,
    ActionSuggested,
}

/// Azure's `lastBackupStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LastBackupStatus {
    Healthy,
    Unhealthy,
    /// No backup has completed yet.
    #[serde(rename = "IRPending")]
    IrPending,
}

impl ProtectionState {
    fn is_active(self) -> bool {
        matches!(
            self,
            ProtectionState::Protected | ProtectionState::ProtectionError
        )
    }

    /// Whether the scheduler takes backups (and on-demand backups are allowed).
    pub fn takes_backups(self) -> bool {
        self.is_active()
    }

    /// Whether restores are allowed: in every state. A soft-deleted item
    /// keeps its data until it is purged, and Lifeboat lets it be restored
    /// from (a deliberate difference from Azure, which asks for an undelete
    /// first: the point of keeping the data is to get it back quickly).
    pub fn allows_restore(self) -> bool {
        true
    }

    /// Which points this state holds beyond their expiry.
    pub fn hold_scope(self) -> HoldScope {
        match self {
            ProtectionState::Protected | ProtectionState::ProtectionError => HoldScope::None,
            ProtectionState::BackupsSuspended => HoldScope::Latest,
            ProtectionState::ProtectionStopped | ProtectionState::SoftDeleted => HoldScope::All,
        }
    }

    /// `Ok` if an on-demand backup may start.
    pub fn check_backup(self) -> Result<(), ModelError> {
        if self.takes_backups() {
            Ok(())
        } else {
            Err(state_error(self, "back up", "resume protection first"))
        }
    }

    /// `Ok` if a restore may start.
    pub fn check_restore(self) -> Result<(), ModelError> {
        if self.allows_restore() {
            Ok(())
        } else {
            Err(state_error(self, "restore", "undelete the item first"))
        }
    }

    /// The transition `action` causes from this state.
    pub fn apply(self, action: ItemAction) -> Result<Transition, ModelError> {
        use ProtectionState as S;
        let to = |s: ProtectionState, points: PointsEffect| Transition {
            to: Some(s),
            points,
            job: None,
        };
        match action {
            ItemAction::StopProtection {
                mode: StopMode::RetainData,
                ..
            } if self.is_active() => {
                Ok(to(S::ProtectionStopped, PointsEffect::Hold(HoldScope::All)))
            }
            ItemAction::StopProtection {
                mode: StopMode::RetainAsPerPolicy,
                ..
            } if self.is_active() => Ok(to(
                S::BackupsSuspended,
                PointsEffect::Hold(HoldScope::Latest),
            )),
            ItemAction::StopProtection {
                mode: StopMode::DeleteData,
                soft_delete,
            } if self != S::SoftDeleted => Ok(if soft_delete {
                Transition {
                    to: Some(S::SoftDeleted),
                    points: PointsEffect::Hold(HoldScope::All),
                    job: Some(JobType::DeleteBackupData),
                }
            } else {
                Transition {
                    to: None,
                    points: PointsEffect::DeleteAll,
                    job: Some(JobType::DeleteBackupData),
                }
            }),
            ItemAction::StopProtection { .. } => Err(state_error(
                self,
                "stop protection",
                if self == S::SoftDeleted {
                    "the item is already deleted; undelete it first"
                } else {
                    "protection is already stopped; resume it, or stop with delete-data"
                },
            )),
            ItemAction::Resume if matches!(self, S::ProtectionStopped | S::BackupsSuspended) => {
                Ok(to(S::Protected, PointsEffect::Reapply))
            }
            ItemAction::Resume => Err(state_error(
                self,
                "resume protection",
                if self == S::SoftDeleted {
                    "undelete the item first"
                } else {
                    "the item is already protected; change its policy instead"
                },
            )),
            ItemAction::ChangePolicy if self.is_active() => Ok(to(self, PointsEffect::Retag)),
            ItemAction::ChangePolicy => Err(state_error(
                self,
                "change the policy",
                "resume protection with the new policy instead",
            )),
            ItemAction::BackupSucceeded if self.is_active() => {
                Ok(to(S::Protected, PointsEffect::Unchanged))
            }
            ItemAction::BackupFailed if self.is_active() => {
                Ok(to(S::ProtectionError, PointsEffect::Unchanged))
            }
            // A backup that was already running when protection stopped
            // reports into the new state without changing it.
            ItemAction::BackupSucceeded | ItemAction::BackupFailed => {
                Ok(to(self, PointsEffect::Unchanged))
            }
            ItemAction::Undelete if self == S::SoftDeleted => {
                Ok(to(S::ProtectionStopped, PointsEffect::Hold(HoldScope::All)))
            }
            ItemAction::Undelete => Err(state_error(
                self,
                "undelete",
                "only a soft-deleted item can be undeleted",
            )),
        }
    }
}

fn state_error(state: ProtectionState, what: &str, hint: &str) -> ModelError {
    ModelError::new(
        ErrorCode::InvalidItemState,
        "protectionState",
        format!("cannot {what}: the item is {state:?}; {hint}"),
    )
}

/// How protection is stopped (`az backup protection disable` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum StopMode {
    /// Keep every point forever (`--retain-data`, the default in Lifeboat's CLI).
    RetainData,
    /// Let points expire by policy, keep the latest forever.
    RetainAsPerPolicy,
    /// Delete every point (`--delete-data`).
    DeleteData,
}

/// Something that happens to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemAction {
    /// `soft_delete`: the vault's soft delete is on (only matters for
    /// `DeleteData`).
    StopProtection {
        mode: StopMode,
        soft_delete: bool,
    },
    /// Resume with a policy (the caller binds the new policy).
    Resume,
    /// Bind the item to another policy, or its policy was edited.
    ChangePolicy,
    BackupSucceeded,
    BackupFailed,
    Undelete,
}

/// What a transition does to the item's recovery points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointsEffect {
    /// Nothing changes.
    Unchanged,
    /// Keep retention, set these holds ([`crate::retention::apply_holds`]).
    Hold(HoldScope),
    /// Re-evaluate every point under the (new) policy, clear holds, and sweep
    /// the expired ones right away ([`crate::retention::reapply`] with
    /// [`HoldScope::None`]).
    Reapply,
    /// Re-tag for a policy change ([`crate::retention::retag`] with the
    /// state's [`ProtectionState::hold_scope`]).
    Retag,
    /// Delete every point (the transition's `DeleteBackupData` job does it).
    DeleteAll,
}

/// The outcome of an allowed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The new state; `None` when the item is removed.
    pub to: Option<ProtectionState>,
    pub points: PointsEffect,
    /// A job to run for it, if any.
    pub job: Option<JobType>,
}
