//! The protected-item state machine, every state × every action.

use lifeboat_model::ErrorCode;
use lifeboat_model::item::{ItemAction, PointsEffect, ProtectionState, StopMode, Transition};
use lifeboat_model::job::JobType;
use lifeboat_model::retention::HoldScope;

use ProtectionState::*;

fn actions() -> Vec<ItemAction> {
    let mut v = Vec::new();
    for mode in [
        StopMode::RetainData,
        StopMode::RetainAsPerPolicy,
        StopMode::DeleteData,
    ] {
        for soft_delete in [false, true] {
            v.push(ItemAction::StopProtection { mode, soft_delete });
        }
    }
    v.extend([
        ItemAction::Resume,
        ItemAction::ChangePolicy,
        ItemAction::BackupSucceeded,
        ItemAction::BackupFailed,
        ItemAction::Undelete,
    ]);
    v
}

/// The table from item.rs's docs, written out independently.
fn expected(from: ProtectionState, action: ItemAction) -> Option<Transition> {
    let active = matches!(from, Protected | ProtectionError);
    let t = |to: Option<ProtectionState>, points, job| Some(Transition { to, points, job });
    match action {
        ItemAction::StopProtection {
            mode: StopMode::RetainData,
            ..
        } if active => t(
            Some(ProtectionStopped),
            PointsEffect::Hold(HoldScope::All),
            None,
        ),
        ItemAction::StopProtection {
            mode: StopMode::RetainAsPerPolicy,
            ..
        } if active => t(
            Some(BackupsSuspended),
            PointsEffect::Hold(HoldScope::Latest),
            None,
        ),
        ItemAction::StopProtection {
            mode: StopMode::DeleteData,
            soft_delete: false,
        } if from != SoftDeleted => t(
            None,
            PointsEffect::DeleteAll,
            Some(JobType::DeleteBackupData),
        ),
        ItemAction::StopProtection {
            mode: StopMode::DeleteData,
            soft_delete: true,
        } if from != SoftDeleted => t(
            Some(SoftDeleted),
            PointsEffect::Hold(HoldScope::All),
            Some(JobType::DeleteBackupData),
        ),
        ItemAction::Resume if matches!(from, ProtectionStopped | BackupsSuspended) => {
            t(Some(Protected), PointsEffect::Reapply, None)
        }
        ItemAction::ChangePolicy if active => t(Some(from), PointsEffect::Retag, None),
        ItemAction::BackupSucceeded if active => t(Some(Protected), PointsEffect::Unchanged, None),
        ItemAction::BackupFailed if active => {
            t(Some(ProtectionError), PointsEffect::Unchanged, None)
        }
        ItemAction::BackupSucceeded | ItemAction::BackupFailed => {
            t(Some(from), PointsEffect::Unchanged, None)
        }
        ItemAction::Undelete if from == SoftDeleted => t(
            Some(ProtectionStopped),
            PointsEffect::Hold(HoldScope::All),
            None,
        ),
        _ => None,
    }
}

#[test]
fn every_state_and_action_matches_the_table() {
    let mut allowed = 0;
    for from in ProtectionState::ALL {
        for action in actions() {
            let got = from.apply(action);
            match (expected(from, action), got) {
                (Some(want), Ok(got)) => {
                    allowed += 1;
                    assert_eq!(got, want, "{from:?} {action:?}");
                    // The hold a transition sets is the one its new state implies.
                    if let (Some(to), PointsEffect::Hold(scope)) = (got.to, got.points) {
                        assert_eq!(to.hold_scope(), scope);
                    }
                }
                (None, Err(e)) => {
                    assert_eq!(e.code(), ErrorCode::InvalidItemState, "{from:?} {action:?}");
                    assert_eq!(e.target(), "protectionState");
                    assert!(
                        e.message().contains(&format!("{from:?}")),
                        "{}",
                        e.message()
                    );
                }
                (want, got) => panic!("{from:?} {action:?}: want {want:?}, got {got:?}"),
            }
        }
    }
    // stop-retain 2×4, delete 4×2, resume 2, change 2, backup results 5×2, undelete 1.
    assert_eq!(allowed, 31);
}

#[test]
fn backups_and_restores_by_state() {
    for s in ProtectionState::ALL {
        let active = matches!(s, Protected | ProtectionError);
        assert_eq!(s.takes_backups(), active);
        assert_eq!(s.check_backup().is_ok(), active);
        // A soft-deleted item keeps its data, and restores from it work.
        assert!(s.check_restore().is_ok(), "{s:?}");
    }
    let e = ProtectionStopped.check_backup().unwrap_err();
    assert!(e.message().contains("resume"));
}

#[test]
fn a_full_life_cycle() {
    let mut s = Protected;
    for (action, want) in [
        (ItemAction::BackupFailed, ProtectionError),
        (ItemAction::BackupSucceeded, Protected),
        (
            ItemAction::StopProtection {
                mode: StopMode::RetainAsPerPolicy,
                soft_delete: true,
            },
            BackupsSuspended,
        ),
        (ItemAction::Resume, Protected),
        (
            ItemAction::StopProtection {
                mode: StopMode::DeleteData,
                soft_delete: true,
            },
            SoftDeleted,
        ),
        (ItemAction::Undelete, ProtectionStopped),
        (ItemAction::Resume, Protected),
    ] {
        s = s.apply(action).unwrap().to.unwrap();
        assert_eq!(s, want);
    }
    let gone = s
        .apply(ItemAction::StopProtection {
            mode: StopMode::DeleteData,
            soft_delete: false,
        })
        .unwrap();
    assert_eq!(gone.to, None);
}

#[test]
fn json_names() {
    use lifeboat_model::item::{LastBackupStatus, WorkloadKind};
    assert_eq!(
        serde_json::to_string(&WorkloadKind::Path).unwrap(),
        "\"path\""
    );
    assert_eq!(
        serde_json::to_string(&WorkloadKind::Disk).unwrap(),
        "\"disk\""
    );
    assert_eq!(
        serde_json::to_string(&BackupsSuspended).unwrap(),
        "\"BackupsSuspended\""
    );
    assert_eq!(
        serde_json::to_string(&StopMode::RetainAsPerPolicy).unwrap(),
        "\"retain-as-per-policy\""
    );
    assert_eq!(
        serde_json::to_string(&LastBackupStatus::IrPending).unwrap(),
        "\"IRPending\""
    );
}
