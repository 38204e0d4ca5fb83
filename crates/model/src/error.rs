//! The one error type of the model: [`ModelError`].
//!
//! Every failure carries a stable machine-readable [`ErrorCode`], the path of
//! the offending field in the request JSON (`target`, e.g.
//! `retentionPolicy.dailySchedule.retentionDuration.count`) and a message that
//! names the allowed values. The service returns it as `{code, message,
//! target}`, the shape of Azure's `error` object, so it serializes to exactly
//! that.

use std::fmt;

use lifeboat_codes::{self as codes, Code};
use serde::Serialize;

/// The model's error codes, each one of the register's ([`ErrorCode::code`]):
/// part of the API, never renamed, only added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A backup policy breaks a rule or a limit.
    InvalidPolicy,
    /// A vault name breaks the naming rules.
    InvalidVaultName,
    /// A vault setting is out of range or an irreversible setting was undone.
    InvalidVaultSettings,
    /// The value is valid in Azure's model but Lifeboat cannot do it yet.
    NotSupported,
    /// Some other argument (e.g. an on-demand `retainUntil`) is out of range.
    InvalidArgument,
    /// The protected item's state does not allow the operation.
    InvalidItemState,
    /// The job's state does not allow the operation.
    InvalidJobState,
    /// Soft delete is `AlwaysON` for the vault: it cannot be turned off or
    /// lowered to `Enabled` / `Disabled`.
    SoftDeleteAlwaysOn,
    /// Immutability is `Locked` for the vault: it can never change again.
    ImmutabilityLocked,
    /// Immutability can be locked only from `Unlocked`.
    ImmutabilityNotUnlocked,
    /// Immutable vault: a recovery point cannot be deleted before its expiry.
    ImmutablePointNotExpired,
    /// Immutable vault: stop protection with delete-data while the item has
    /// unexpired recovery points.
    ImmutableStopWithDelete,
    /// Immutable vault: a policy edit that shortens or removes retention.
    ImmutableRetentionReduction,
    /// Immutable vault: moving an item to (or resuming it with) a policy
    /// that keeps its points less long.
    ImmutablePolicySwapReduction,
    /// Multi-user authorization: a critical operation on a vault with a
    /// resource guard needs an approved, unexpired request of the caller.
    MuaApprovalRequired,
    /// Multi-user authorization: the caller's approval for this operation
    /// expired before it was used.
    MuaApprovalExpired,
    /// Multi-user authorization: a request cannot be approved (or rejected)
    /// by the principal who made it.
    MuaSelfApproval,
    /// Multi-user authorization: the request's state does not allow the
    /// action (approving a used, rejected or expired request, …).
    MuaRequestState,
    /// A resource guard that a vault still uses cannot be deleted.
    ResourceGuardInUse,
    /// The vault already has another resource guard.
    ResourceGuardAttached,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::InvalidPolicy,
        ErrorCode::InvalidVaultName,
        ErrorCode::InvalidVaultSettings,
        ErrorCode::NotSupported,
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidItemState,
        ErrorCode::InvalidJobState,
        ErrorCode::SoftDeleteAlwaysOn,
        ErrorCode::ImmutabilityLocked,
        ErrorCode::ImmutabilityNotUnlocked,
        ErrorCode::ImmutablePointNotExpired,
        ErrorCode::ImmutableStopWithDelete,
        ErrorCode::ImmutableRetentionReduction,
        ErrorCode::ImmutablePolicySwapReduction,
        ErrorCode::MuaApprovalRequired,
        ErrorCode::MuaApprovalExpired,
        ErrorCode::MuaSelfApproval,
        ErrorCode::MuaRequestState,
        ErrorCode::ResourceGuardInUse,
        ErrorCode::ResourceGuardAttached,
    ];

    /// The registered code, e.g. [`codes::INVALID_POLICY`].
    pub fn code(self) -> Code {
        match self {
            ErrorCode::InvalidPolicy => codes::INVALID_POLICY,
            ErrorCode::InvalidVaultName => codes::INVALID_VAULT_NAME,
            ErrorCode::InvalidVaultSettings => codes::INVALID_VAULT_SETTINGS,
            ErrorCode::NotSupported => codes::NOT_SUPPORTED,
            ErrorCode::InvalidArgument => codes::INVALID_ARGUMENT,
            ErrorCode::InvalidItemState => codes::INVALID_ITEM_STATE,
            ErrorCode::InvalidJobState => codes::INVALID_JOB_STATE,
            ErrorCode::SoftDeleteAlwaysOn => codes::SOFT_DELETE_ALWAYS_ON,
            ErrorCode::ImmutabilityLocked => codes::IMMUTABILITY_LOCKED,
            ErrorCode::ImmutabilityNotUnlocked => codes::IMMUTABILITY_NOT_UNLOCKED,
            ErrorCode::ImmutablePointNotExpired => codes::IMMUTABLE_POINT_NOT_EXPIRED,
            ErrorCode::ImmutableStopWithDelete => codes::IMMUTABLE_STOP_WITH_DELETE,
            ErrorCode::ImmutableRetentionReduction => codes::IMMUTABLE_RETENTION_REDUCTION,
            ErrorCode::ImmutablePolicySwapReduction => codes::IMMUTABLE_POLICY_SWAP_REDUCTION,
            ErrorCode::MuaApprovalRequired => codes::MUA_APPROVAL_REQUIRED,
            ErrorCode::MuaApprovalExpired => codes::MUA_APPROVAL_EXPIRED,
            ErrorCode::MuaSelfApproval => codes::MUA_SELF_APPROVAL,
            ErrorCode::MuaRequestState => codes::MUA_REQUEST_STATE,
            ErrorCode::ResourceGuardInUse => codes::RESOURCE_GUARD_IN_USE,
            ErrorCode::ResourceGuardAttached => codes::RESOURCE_GUARD_ATTACHED,
        }
    }

    /// The stable wire string, e.g. `INVALID_POLICY`.
    pub fn as_str(self) -> &'static str {
        self.code().as_str()
    }
}

impl From<ErrorCode> for Code {
    fn from(c: ErrorCode) -> Code {
        c.code()
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.code().serialize(s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused input or operation: what (`code`), where (`target`) and why
/// (`message`, which names the allowed range or the way out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ModelError {
    code: ErrorCode,
    message: String,
    target: String,
}

impl ModelError {
    /// A new error. `target` is a JSON field path, or the resource name for
    /// errors about a whole resource.
    pub fn new(code: ErrorCode, target: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError {
            code,
            message: message.into(),
            target: target.into(),
        }
    }

    /// Shorthand for [`ErrorCode::InvalidPolicy`].
    pub fn policy(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidPolicy, target, message)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message (names the field and the allowed values).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The offending field path, e.g. `schedulePolicy.scheduleRunTimes[0]`.
    pub fn target(&self) -> &str {
        &self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_serialize_as_their_string() {
        let expected = [
            "INVALID_POLICY",
            "INVALID_VAULT_NAME",
            "INVALID_VAULT_SETTINGS",
            "NOT_SUPPORTED",
            "INVALID_ARGUMENT",
            "INVALID_ITEM_STATE",
            "INVALID_JOB_STATE",
            "SOFT_DELETE_ALWAYS_ON",
            "IMMUTABILITY_LOCKED",
            "IMMUTABILITY_NOT_UNLOCKED",
            "IMMUTABLE_POINT_NOT_EXPIRED",
            "IMMUTABLE_STOP_WITH_DELETE",
            "IMMUTABLE_RETENTION_REDUCTION",
            "IMMUTABLE_POLICY_SWAP_REDUCTION",
            "MUA_APPROVAL_REQUIRED",
            "MUA_APPROVAL_EXPIRED",
            "MUA_SELF_APPROVAL",
            "MUA_REQUEST_STATE",
            "RESOURCE_GUARD_IN_USE",
            "RESOURCE_GUARD_ATTACHED",
        ];
        for (code, want) in ErrorCode::ALL.iter().zip(expected) {
            assert_eq!(code.as_str(), want);
            assert_eq!(code.to_string(), want);
            assert_eq!(serde_json::to_value(code).unwrap(), want);
        }
    }

    #[test]
    fn error_serializes_as_code_message_target() {
        let e = ModelError::policy("instantRpRetentionRangeInDays", "must be 1 to 5");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "INVALID_POLICY", "message": "must be 1 to 5",
                               "target": "instantRpRetentionRangeInDays"})
        );
        assert_eq!(e.to_string(), "INVALID_POLICY: must be 1 to 5");
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        assert_eq!(e.target(), "instantRpRetentionRangeInDays");
        assert_eq!(e.message(), "must be 1 to 5");
    }
}
