//! Identities, their API tokens and role assignments (docs/access.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Days a new token lives when the request does not say.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
/// The longest a token may live, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// An identity's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum IdentityKind {
    /// A person.
    User,
    /// A program (CI, an agent).
    ServicePrincipal,
}

/// The roles, as Azure names them. The server also accepts them without
/// spaces and in any case (`BackupOperator`, `backup-operator`); the
/// document lists the canonical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum RoleName {
    Owner,
    #[serde(rename = "Backup Contributor")]
    BackupContributor,
    #[serde(rename = "Backup Operator")]
    BackupOperator,
    #[serde(rename = "Backup Reader")]
    BackupReader,
    #[serde(rename = "Site Recovery Contributor")]
    SiteRecoveryContributor,
    #[serde(rename = "Site Recovery Operator")]
    SiteRecoveryOperator,
    #[serde(rename = "Site Recovery Reader")]
    SiteRecoveryReader,
    Agent,
}

impl RoleName {
    pub const ALL: [RoleName; 8] = [
        RoleName::Owner,
        RoleName::BackupContributor,
        RoleName::BackupOperator,
        RoleName::BackupReader,
        RoleName::SiteRecoveryContributor,
        RoleName::SiteRecoveryOperator,
        RoleName::SiteRecoveryReader,
        RoleName::Agent,
    ];
}

/// `POST /api/v1/identities`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentity {
    /// 1–64 characters: letters, digits, `.`, `_`, `-`, `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub name: String,
    /// `User` (default) or `ServicePrincipal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<IdentityKind>)]
    pub kind: Option<String>,
}

/// A role given to an identity at a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentDto {
    pub id: i64,
    pub identity: String,
    pub role: String,
    /// `server` or `vault`.
    pub scope: String,
    pub vault: Option<String>,
    pub created: DateTime<Utc>,
}

/// A user or service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDto {
    pub name: String,
    #[schema(value_type = IdentityKind)]
    pub kind: String,
    pub created: DateTime<Utc>,
    /// A disabled identity's tokens do not work.
    pub disabled: bool,
    pub disabled_time: Option<DateTime<Utc>>,
    /// Its roles.
    pub role_assignments: Vec<RoleAssignmentDto>,
}

/// `{value: [identities]}`, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentityList {
    pub value: Vec<IdentityDto>,
}

/// `POST /api/v1/identities/{identity}/tokens`. Give `expiresInDays` or
/// `expires`, not both (400).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    /// Unique on the server; 1–64 characters: letters, digits, `.`, `_`,
    /// `-`, `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub name: String,
    /// Lifetime in days, 1–3650 (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Or an exact expiry time (RFC 3339): in the future, at most 3650
    /// days ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// A token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenDto {
    pub name: String,
    pub identity: String,
    pub created: DateTime<Utc>,
    /// `null`: never (bootstrap tokens only).
    pub expires: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
    /// `Active`, `Expired` or `Revoked`.
    pub status: String,
}

/// A new token: the only answer that holds its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewTokenDto {
    #[serde(flatten)]
    pub info: TokenDto,
    /// The secret (`lb_` and 64 hex digits). Shown once: only its hash is
    /// kept.
    pub token: String,
}

/// `{value: [tokens]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub value: Vec<TokenDto>,
}

/// `POST /api/v1/roleAssignments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleAssignment {
    /// The identity's name.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub identity: String,
    /// The role. `Agent` is assignable on a vault only (400 without
    /// `vault`); the Site Recovery roles are accepted and permit nothing
    /// yet. An unknown role is `INVALID_ROLE` (400).
    #[schema(value_type = RoleName)]
    pub role: String,
    /// The vault; absent: the whole server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub vault: Option<String>,
}

/// `{value: [assignments]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignmentList {
    pub value: Vec<RoleAssignmentDto>,
}

/// Filters of the role assignment list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleAssignmentQuery {
    /// Only this identity's assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(pattern = "^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    pub identity: Option<String>,
    /// Only assignments on this vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        pattern = "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        min_length = 2,
        max_length = 50
    )]
    pub vault: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_flatten_the_token_with_its_secret() {
        let t = NewTokenDto {
            info: TokenDto {
                name: "t".into(),
                identity: "i".into(),
                created: Utc::now(),
                expires: None,
                last_used: None,
                revoked: None,
                status: "Active".into(),
            },
            token: "lb_x".into(),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            (v["name"].as_str(), v["token"].as_str()),
            (Some("t"), Some("lb_x"))
        );
        assert_eq!(serde_json::from_value::<NewTokenDto>(v).unwrap(), t);
        assert_eq!(
            serde_json::to_value(RoleName::BackupOperator).unwrap(),
            "Backup Operator"
        );
    }
}
