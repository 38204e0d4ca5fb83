//! Multi-user authorization (MUA): critical operations on a vault with a
//! resource guard need a second principal's time-limited approval
//! (azure.md §1.6). Pure rules, no I/O; the catalog stores requests and
//! the service consumes approvals.
//!
//! - [`CriticalOp`]: the operations a guard can protect. Disabling soft
//!   delete and detaching the guard are mandatory (as Azure's "Disable soft
//!   delete" and "Disable MUA"): a guard always protects them.
//! - A request's life ([`RequestState`], [`apply`]):
//!   `Pending → Approved → Used | Expired`, `Pending → Rejected | Expired`.
//!   A pending request expires [`PENDING_HOURS`] after it was made, an
//!   approval after its validity ([`VALID_MINUTES`]). Expiry is a fact of
//!   the clock: a `Pending` or `Approved` row past its `expires_at` is
//!   `Expired` whatever the row says, so nothing depends on a sweep having
//!   run.
//! - The principal who asked cannot decide its own request
//!   ([`check_decider`], `MUA_SELF_APPROVAL`).

use std::fmt;
use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ModelError};

/// How long a pending request waits for a decision.
pub const PENDING_HOURS: i64 = 24;
/// How long an approval may be valid, in minutes (1 minute to 24 hours).
pub const VALID_MINUTES: RangeInclusive<i64> = 1..=1440;
/// The validity of an approval when the approver gives none.
pub const DEFAULT_VALID_MINUTES: i64 = 60;

/// An operation a resource guard can protect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CriticalOp {
    /// Soft delete `Enabled` → `Disabled`.
    DisableSoftDelete,
    /// A policy edit that shortens or removes a retention, or moving (or
    /// resuming) an item to a policy that keeps its points less long.
    ReduceRetention,
    /// Stop protection with delete-data.
    StopProtectionDeleteData,
    /// Immutability `Unlocked` → `Disabled`.
    DisableImmutability,
    /// Detaching the resource guard (turning MUA off).
    DetachGuard,
}

/// What a request's `target` names for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The vault itself: the target is empty.
    Vault,
    /// A policy (an edit) or an item (a policy change or resume).
    PolicyOrItem,
    /// A protected item.
    Item,
}

impl CriticalOp {
    pub const ALL: [CriticalOp; 5] = [
        CriticalOp::DisableSoftDelete,
        CriticalOp::ReduceRetention,
        CriticalOp::StopProtectionDeleteData,
        CriticalOp::DisableImmutability,
        CriticalOp::DetachGuard,
    ];

    /// Always protected by a guard; cannot be left out.
    pub const MANDATORY: [CriticalOp; 2] = [CriticalOp::DisableSoftDelete, CriticalOp::DetachGuard];

    /// The wire name, e.g. `disable-soft-delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            CriticalOp::DisableSoftDelete => "disable-soft-delete",
            CriticalOp::ReduceRetention => "reduce-retention",
            CriticalOp::StopProtectionDeleteData => "stop-protection-delete-data",
            CriticalOp::DisableImmutability => "disable-immutability",
            CriticalOp::DetachGuard => "detach-guard",
        }
    }

    /// Parses a wire name (exactly as [`CriticalOp::as_str`] spells it).
    pub fn parse(s: &str) -> Result<CriticalOp, ModelError> {
        CriticalOp::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                ModelError::new(
                    ErrorCode::InvalidArgument,
                    "operation",
                    format!(
                        "operation must be one of {} (got {s:?})",
                        CriticalOp::ALL.map(|o| o.as_str()).join(", ")
                    ),
                )
            })
    }

    pub fn is_mandatory(self) -> bool {
        CriticalOp::MANDATORY.contains(&self)
    }

    pub fn target_kind(self) -> TargetKind {
        match self {
            CriticalOp::DisableSoftDelete
            | CriticalOp::DisableImmutability
            | CriticalOp::DetachGuard => TargetKind::Vault,
            CriticalOp::ReduceRetention => TargetKind::PolicyOrItem,
            CriticalOp::StopProtectionDeleteData => TargetKind::Item,
        }
    }
}

impl fmt::Display for CriticalOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operations a new guard protects: all of them when `requested` is
/// `None`; else the named ones, which must include the mandatory ones.
/// Sorted, without duplicates.
pub fn critical_ops(requested: Option<&[String]>) -> Result<Vec<CriticalOp>, ModelError> {
    let Some(names) = requested else {
        return Ok(CriticalOp::ALL.to_vec());
    };
    let mut ops = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let op = CriticalOp::parse(n).map_err(|e| {
            ModelError::new(
                ErrorCode::InvalidArgument,
                format!("criticalOperations[{i}]"),
                e.message(),
            )
        })?;
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    for m in CriticalOp::MANDATORY {
        if !ops.contains(&m) {
            return Err(ModelError::new(
                ErrorCode::InvalidArgument,
                "criticalOperations",
                format!("{m} is mandatory: a resource guard always protects it"),
            ));
        }
    }
    ops.sort();
    Ok(ops)
}

/// Checks a request's target against its operation and returns it
/// trimmed: empty for vault-level operations, a name otherwise.
pub fn check_target(op: CriticalOp, target: Option<&str>) -> Result<String, ModelError> {
    let t = target.unwrap_or("").trim();
    match (op.target_kind(), t.is_empty()) {
        (TargetKind::Vault, true) => Ok(String::new()),
        (TargetKind::Vault, false) => Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "target",
            format!("{op} acts on the vault itself: give no target (got {t:?})"),
        )),
        (TargetKind::Item, true) => Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "target",
            format!("{op} needs the item's name as target"),
        )),
        (TargetKind::PolicyOrItem, true) => Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "target",
            format!(
                "{op} needs a target: the policy's name for a policy edit, the item's name for \
                 a policy change or resume"
            ),
        )),
        (_, false) => Ok(t.to_owned()),
    }
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestState {
    /// Waiting for a guard holder's decision.
    Pending,
    /// Approved; usable once until it expires.
    Approved,
    /// The critical operation ran with it (single use).
    Used,
    /// A guard holder refused it.
    Rejected,
    /// Not decided (or not used) in time.
    Expired,
}

impl RequestState {
    pub const ALL: [RequestState; 5] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Used,
        RequestState::Rejected,
        RequestState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "Pending",
            RequestState::Approved => "Approved",
            RequestState::Used => "Used",
            RequestState::Rejected => "Rejected",
            RequestState::Expired => "Expired",
        }
    }

    /// Parses a state name (case ignored).
    pub fn parse(s: &str) -> Result<RequestState, ModelError> {
        RequestState::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                ModelError::new(
                    ErrorCode::InvalidArgument,
                    "status",
                    format!(
                        "status must be Pending, Approved, Used, Rejected or Expired (got {s:?})"
                    ),
                )
            })
    }

    /// Whether the state can still change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Used | RequestState::Rejected | RequestState::Expired
        )
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state a stored request is in at `now`: `Pending` and `Approved`
/// rows past `expires_at` are `Expired`.
pub fn effective_state(
    stored: RequestState,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RequestState {
    match stored {
        RequestState::Pending | RequestState::Approved if now >= expires_at => {
            RequestState::Expired
        }
        s => s,
    }
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    /// The critical operation consumes the approval.
    Use,
    /// The clock passed `expires_at`.
    Expire,
}

/// The state after `action` on a request stored as `stored` that expires
/// at `expires_at`, at `now`; or why it is refused: using an approval that
/// expired is `MUA_APPROVAL_EXPIRED`, using anything else that is not
/// approved `MUA_APPROVAL_REQUIRED`, any other move the state does not
/// allow `MUA_REQUEST_STATE`.
pub fn apply(
    stored: RequestState,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    action: Action,
) -> Result<RequestState, ModelError> {
    use RequestState as S;
    let state = effective_state(stored, expires_at, now);
    match (state, action) {
        (S::Pending, Action::Approve) => Ok(S::Approved),
        (S::Pending, Action::Reject) => Ok(S::Rejected),
        (S::Approved, Action::Use) => Ok(S::Used),
        // Expiry happens only once the clock says so.
        (S::Expired, Action::Expire) if !stored.is_final() => Ok(S::Expired),
        (S::Expired, Action::Use) if stored == S::Approved => Err(ModelError::new(
            ErrorCode::MuaApprovalExpired,
            "request",
            format!(
                "the approval expired at {}; ask for a new one",
                expires_at.to_rfc3339()
            ),
        )),
        (s, Action::Use) => Err(ModelError::new(
            ErrorCode::MuaApprovalRequired,
            "request",
            format!("the request is {s}, not Approved"),
        )),
        (s, a) => Err(ModelError::new(
            ErrorCode::MuaRequestState,
            "request",
            format!("a request that is {s} cannot be {}", action_word(a)),
        )),
    }
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Approve => "approved",
        Action::Reject => "rejected",
        Action::Use => "used",
        Action::Expire => "expired now",
    }
}

/// `Ok` if `decider` may approve or reject a request made by `requester`
/// (principals by identity id): never one's own.
pub fn check_decider(requester: i64, decider: i64) -> Result<(), ModelError> {
    if requester == decider {
        return Err(ModelError::new(
            ErrorCode::MuaSelfApproval,
            "request",
            "a request cannot be approved or rejected by the principal who made it: another \
             holder of the resource guard must decide",
        ));
    }
    Ok(())
}

/// When a request made at `now` expires if nobody decides it.
pub fn pending_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(PENDING_HOURS)
}

/// When an approval given at `now` for `minutes` (default
/// [`DEFAULT_VALID_MINUTES`], range [`VALID_MINUTES`]) expires.
pub fn approval_expiry(
    now: DateTime<Utc>,
    minutes: Option<i64>,
) -> Result<DateTime<Utc>, ModelError> {
    let m = minutes.unwrap_or(DEFAULT_VALID_MINUTES);
    if !VALID_MINUTES.contains(&m) {
        return Err(ModelError::new(
            ErrorCode::InvalidArgument,
            "validForMinutes",
            format!(
                "validForMinutes must be between {} and {} (got {m})",
                VALID_MINUTES.start(),
                VALID_MINUTES.end()
            ),
        ));
    }
    Ok(now + Duration::minutes(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestState as S;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    /// Every stored state × every action × before and after expiry.
    #[test]
    fn state_machine_is_exhaustive() {
        let actions = [Action::Approve, Action::Reject, Action::Use, Action::Expire];
        let exp = t(60);
        for stored in RequestState::ALL {
            for action in actions {
                for (now, late) in [(t(0), false), (t(60), true), (t(600), true)] {
                    let got = apply(stored, exp, now, action);
                    let live = !stored.is_final() && !late;
                    let want: Result<S, ErrorCode> = match (stored, action) {
                        (S::Pending, Action::Approve) if live => Ok(S::Approved),
                        (S::Pending, Action::Reject) if live => Ok(S::Rejected),
                        (S::Approved, Action::Use) if live => Ok(S::Used),
                        (S::Pending | S::Approved, Action::Expire) if late => Ok(S::Expired),
                        (S::Approved, Action::Use) => Err(ErrorCode::MuaApprovalExpired),
                        (_, Action::Use) => Err(ErrorCode::MuaApprovalRequired),
                        _ => Err(ErrorCode::MuaRequestState),
                    };
                    assert_eq!(
                        got.map_err(|e| e.code()),
                        want,
                        "{stored} {action:?} late={late}"
                    );
                }
            }
        }
    }

    #[test]
    fn expiry_is_a_fact_of_the_clock() {
        assert_eq!(effective_state(S::Pending, t(5), t(4)), S::Pending);
        assert_eq!(effective_state(S::Pending, t(5), t(5)), S::Expired);
        assert_eq!(effective_state(S::Approved, t(5), t(6)), S::Expired);
        for s in [S::Used, S::Rejected, S::Expired] {
            assert_eq!(effective_state(s, t(5), t(600)), s);
        }
        assert_eq!(pending_expiry(t(0)), t(24 * 60));
    }

    #[test]
    fn validity_is_bounded() {
        assert_eq!(approval_expiry(t(0), None).unwrap(), t(60));
        assert_eq!(approval_expiry(t(0), Some(1)).unwrap(), t(1));
        assert_eq!(approval_expiry(t(0), Some(1440)).unwrap(), t(1440));
        for bad in [0, -5, 1441] {
            let e = approval_expiry(t(0), Some(bad)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
            assert_eq!(e.target(), "validForMinutes");
        }
    }

    #[test]
    fn nobody_decides_their_own_request() {
        assert!(check_decider(1, 2).is_ok());
        assert_eq!(
            check_decider(3, 3).unwrap_err().code(),
            ErrorCode::MuaSelfApproval
        );
    }

    #[test]
    fn critical_operations_keep_the_mandatory_ones() {
        assert_eq!(critical_ops(None).unwrap(), CriticalOp::ALL.to_vec());
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = critical_ops(Some(&names(&[
            "detach-guard",
            "disable-soft-delete",
            "detach-guard",
        ])))
        .unwrap();
        assert_eq!(
            got,
            [CriticalOp::DisableSoftDelete, CriticalOp::DetachGuard]
        );
        for m in CriticalOp::MANDATORY {
            let rest: Vec<String> = CriticalOp::ALL
                .iter()
                .filter(|o| **o != m)
                .map(|o| o.as_str().to_string())
                .collect();
            let e = critical_ops(Some(&rest)).unwrap_err();
            assert_eq!(e.target(), "criticalOperations");
            assert!(e.message().contains(m.as_str()));
        }
        let e = critical_ops(Some(&names(&["delete-everything"]))).unwrap_err();
        assert_eq!(e.target(), "criticalOperations[0]");
        for op in CriticalOp::ALL {
            assert_eq!(CriticalOp::parse(op.as_str()).unwrap(), op);
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        assert!(CriticalOp::parse("Detach-Guard").is_err());
    }

    #[test]
    fn targets_fit_the_operation() {
        assert_eq!(
            check_target(CriticalOp::DetachGuard, None).unwrap(),
            String::new()
        );
        assert_eq!(
            check_target(CriticalOp::DisableSoftDelete, Some("  ")).unwrap(),
            ""
        );
        assert!(check_target(CriticalOp::DisableImmutability, Some("x")).is_err());
        assert!(check_target(CriticalOp::StopProtectionDeleteData, None).is_err());
        assert!(check_target(CriticalOp::ReduceRetention, Some("")).is_err());
        assert_eq!(
            check_target(CriticalOp::ReduceRetention, Some(" Daily ")).unwrap(),
            "Daily"
        );
    }

    #[test]
    fn states_parse() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(RequestState::parse("approved").unwrap(), S::Approved);
        assert!(RequestState::parse("Done").is_err());
    }
}
