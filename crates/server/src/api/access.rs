//! Identities, their API tokens and role assignments:
//! `/api/v1/identities`, `/api/v1/identities/{identity}/tokens`,
//! `/api/v1/roleAssignments`. Who may call each is decided before the
//! handler runs (`authz::route_rule`); a token's secret is in exactly one
//! answer, the one that creates it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat_catalog::{AssignmentFilter, AssignmentId, Identity, RoleAssignment, Token};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::generate_token;
use crate::authz::{Op, Principal, Role, Visible};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P, Q};
use crate::state::AppState;

/// Days a new token lives when the request does not say.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
/// The longest a token may live, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// `POST /api/v1/identities`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentity {
    /// 1–64 characters: letters, digits, `.`, `_`, `-`, `@`.
    pub name: String,
    /// `User` (default) or `ServicePrincipal`.
    pub kind: Option<String>,
}

/// A user or service principal.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDto {
    pub name: String,
    /// `User` or `ServicePrincipal`.
    pub kind: String,
    pub created: DateTime<Utc>,
    /// A disabled identity's tokens do not work.
    pub disabled: bool,
    pub disabled_time: Option<DateTime<Utc>>,
    /// Its roles.
    pub role_assignments: Vec<RoleAssignmentDto>,
}

impl IdentityDto {
    fn new(i: Identity, all: &[RoleAssignment]) -> Self {
        IdentityDto {
            role_assignments: all
                .iter()
                .filter(|a| a.identity_id == i.id)
                .cloned()
                .map(RoleAssignmentDto::from)
                .collect(),
            name: i.name,
            kind: i.kind,
            created: i.created,
            disabled: i.disabled.is_some(),
            disabled_time: i.disabled,
        }
    }
}

/// `{value: [identities]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentityList {
    pub value: Vec<IdentityDto>,
}

/// `POST /api/v1/identities/{identity}/tokens`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    /// Unique on the server; 1–64 characters: letters, digits, `.`, `_`,
    /// `-`, `@`.
    pub name: String,
    /// Lifetime in days, 1–3650 (default 90).
    pub expires_in_days: Option<u32>,
    /// Or an exact expiry time (RFC 3339), in the future, at most 3650 days
    /// ahead.
    pub expires: Option<DateTime<Utc>>,
}

/// A token, without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl TokenDto {
    fn new(t: Token, identity: &str, now: DateTime<Utc>) -> Self {
        let status = if t.revoked.is_some() {
            "Revoked"
        } else if t.expires.is_some_and(|e| e <= now) {
            "Expired"
        } else {
            "Active"
        };
        TokenDto {
            name: t.name,
            identity: identity.to_owned(),
            created: t.created,
            expires: t.expires,
            last_used: t.last_used,
            revoked: t.revoked,
            status: status.to_owned(),
        }
    }
}

/// A new token: the only answer that holds its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewTokenDto {
    #[serde(flatten)]
    pub info: TokenDto,
    /// The secret (`lb_` and 64 hex digits). Shown once: only its hash is
    /// kept.
    pub token: String,
}

/// `{value: [tokens]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenList {
    pub value: Vec<TokenDto>,
}

/// `POST /api/v1/roleAssignments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleAssignment {
    /// The identity's name.
    pub identity: String,
    /// `Owner`, `Backup Contributor`, `Backup Operator`, `Backup Reader`,
    /// `Site Recovery Contributor|Operator|Reader` (reserved), `Agent`
    /// (vault scope only).
    pub role: String,
    /// The vault; absent: the whole server.
    pub vault: Option<String>,
}

/// A role given to an identity at a scope.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<RoleAssignment> for RoleAssignmentDto {
    fn from(a: RoleAssignment) -> Self {
        RoleAssignmentDto {
            id: a.id.0,
            identity: a.identity_name,
            role: a.role,
            scope: if a.vault_id.is_some() {
                "vault"
            } else {
                "server"
            }
            .to_owned(),
            vault: a.vault_name,
            created: a.created,
        }
    }
}

/// `{value: [assignments]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleAssignmentList {
    pub value: Vec<RoleAssignmentDto>,
}

/// Filters of the role assignment list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleAssignmentQuery {
    /// Only this identity's assignments.
    pub identity: Option<String>,
    /// Only assignments on this vault.
    pub vault: Option<String>,
}

/// Checks an identity or token name.
fn check_name(target: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(
            target,
            format!(
                "{target} must be 1-64 characters: letters, digits, '.', '_', '-', '@' (got {name:?})"
            ),
        ))
    }
}

fn self_lockout(message: String) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        lifeboat_codes::SELF_LOCKOUT,
        None,
        message,
    )
}

async fn all_assignments(state: &AppState) -> ApiResult<Vec<RoleAssignment>> {
    Ok(state
        .catalog
        .list_role_assignments(&AssignmentFilter::default())
        .await?)
}

/// Create an identity (a user or a service principal).
///
/// It has no role and no token yet: assign roles with
/// `POST /api/v1/roleAssignments` and make tokens with
/// `POST /api/v1/identities/{identity}/tokens`.
#[utoipa::path(
    post, path = "/api/v1/identities", tag = "access",
    request_body = CreateIdentity,
    responses(
        (status = 201, description = "The new identity", body = IdentityDto),
        (status = 400, description = "Invalid name or kind", body = ErrorBody),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 409, description = "An identity of that name exists", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateIdentity>,
) -> ApiResult<(StatusCode, Json<IdentityDto>)> {
    check_name("name", &req.name)?;
    let kind = req.kind.as_deref().unwrap_or("User");
    if !matches!(kind, "User" | "ServicePrincipal") {
        return Err(ApiError::invalid_argument(
            "kind",
            format!("kind must be 'User' or 'ServicePrincipal' (got {kind:?})"),
        ));
    }
    let identity = state
        .catalog
        .create_identity(&req.name, kind, state.now())
        .await?;
    tracing::info!(identity = %identity.name, kind, by = %who.display_name(), "identity created");
    Ok((StatusCode::CREATED, Json(IdentityDto::new(identity, &[]))))
}

/// List identities, by name, with their roles.
#[utoipa::path(
    get, path = "/api/v1/identities", tag = "access",
    responses(
        (status = 200, description = "Every identity", body = IdentityList),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_identities(State(state): State<AppState>) -> ApiResult<Json<IdentityList>> {
    let all = all_assignments(&state).await?;
    let value = state
        .catalog
        .list_identities()
        .await?
        .into_iter()
        .map(|i| IdentityDto::new(i, &all))
        .collect();
    Ok(Json(IdentityList { value }))
}

/// Show an identity with its roles.
#[utoipa::path(
    get, path = "/api/v1/identities/{identity}", tag = "access",
    params(("identity" = String, Path, description = "Identity name")),
    responses(
        (status = 200, description = "The identity", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn show_identity(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}

/// Disable an identity: its tokens stop working at once on this server,
/// within 10 seconds on others sharing the catalog. You cannot disable
/// yourself.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/disable", tag = "access",
    params(("identity" = String, Path, description = "Identity name")),
    responses(
        (status = 200, description = "The identity, disabled", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity", body = ErrorBody),
        (status = 409, description = "SELF_LOCKOUT: the caller's own identity", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn disable_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    if who.identity_id() == Some(identity.id) {
        return Err(self_lockout(format!(
            "'{name}' is the identity of the calling token; ask another Owner to disable it"
        )));
    }
    let identity = state
        .catalog
        .set_identity_disabled(identity.id, Some(state.now()))
        .await?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, by = %who.display_name(), "identity disabled");
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}

/// Enable a disabled identity: its tokens that are neither revoked nor
/// expired work again.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/enable", tag = "access",
    params(("identity" = String, Path, description = "Identity name")),
    responses(
        (status = 200, description = "The identity, enabled", body = IdentityDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn enable_identity(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
) -> ApiResult<Json<IdentityDto>> {
    let identity = state.catalog.get_identity(&name).await?;
    let identity = state
        .catalog
        .set_identity_disabled(identity.id, None)
        .await?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, by = %who.display_name(), "identity enabled");
    let all = all_assignments(&state).await?;
    Ok(Json(IdentityDto::new(identity, &all)))
}

/// The expiry of a new token.
fn expiry_of(req: &CreateToken, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let max = now + TimeDelta::days(i64::from(MAX_TOKEN_DAYS));
    match (req.expires_in_days, req.expires) {
        (Some(_), Some(_)) => Err(ApiError::invalid_argument(
            "expires",
            "give expiresInDays or expires, not both",
        )),
        (Some(d), None) => {
            if d == 0 || d > MAX_TOKEN_DAYS {
                return Err(ApiError::invalid_argument(
                    "expiresInDays",
                    format!("expiresInDays must be 1-{MAX_TOKEN_DAYS} (got {d})"),
                ));
            }
            Ok(now + TimeDelta::days(i64::from(d)))
        }
        (None, Some(t)) => {
            if t <= now || t > max {
                return Err(ApiError::invalid_argument(
                    "expires",
                    format!(
                        "expires must be after now and at most {MAX_TOKEN_DAYS} days ahead (got {})",
                        t.to_rfc3339()
                    ),
                ));
            }
            Ok(t)
        }
        (None, None) => Ok(now + TimeDelta::days(i64::from(DEFAULT_TOKEN_DAYS))),
    }
}

/// Create a token for an identity.
///
/// The answer holds the secret, once: only its hash is stored. The token
/// expires after `expiresInDays` (default 90) or at `expires`.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/tokens", tag = "access",
    params(("identity" = String, Path, description = "Identity name")),
    request_body = CreateToken,
    responses(
        (status = 201, description = "The token with its secret", body = NewTokenDto),
        (status = 400, description = "Invalid name or expiry", body = ErrorBody),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity", body = ErrorBody),
        (status = 409, description = "A token of that name exists", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(name): P<String>,
    Body(req): Body<CreateToken>,
) -> ApiResult<(StatusCode, Json<NewTokenDto>)> {
    check_name("name", &req.name)?;
    let now = state.now();
    let expires = expiry_of(&req, now)?;
    let identity = state.catalog.get_identity(&name).await?;
    let secret = generate_token()
        .map_err(|e| ApiError::internal(lifeboat_codes::INTERNAL, e.to_string()))?;
    let token = state
        .catalog
        .create_identity_token(identity.id, &req.name, &secret, Some(expires), now)
        .await?;
    tracing::info!(identity = %identity.name, token = %token.name, by = %who.display_name(), "token created");
    Ok((
        StatusCode::CREATED,
        Json(NewTokenDto {
            info: TokenDto::new(token, &identity.name, now),
            token: secret,
        }),
    ))
}

/// List an identity's tokens (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/identities/{identity}/tokens", tag = "access",
    params(("identity" = String, Path, description = "Identity name")),
    responses(
        (status = 200, description = "The identity's tokens", body = TokenList),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    P(name): P<String>,
) -> ApiResult<Json<TokenList>> {
    let identity = state.catalog.get_identity(&name).await?;
    let now = state.now();
    let value = state
        .catalog
        .list_identity_tokens(identity.id)
        .await?
        .into_iter()
        .map(|t| TokenDto::new(t, &identity.name, now))
        .collect();
    Ok(Json(TokenList { value }))
}

/// Revoke a token: it stops working at once on this server, within 10
/// seconds on others sharing the catalog. It stays listed as `Revoked`.
#[utoipa::path(
    post, path = "/api/v1/identities/{identity}/tokens/{token}/revoke", tag = "access",
    params(
        ("identity" = String, Path, description = "Identity name"),
        ("token" = String, Path, description = "Token name"),
    ),
    responses(
        (status = 200, description = "The token, revoked", body = TokenDto),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 404, description = "No such identity, or no such token of it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P((identity, token)): P<(String, String)>,
) -> ApiResult<Json<TokenDto>> {
    let identity = state.catalog.get_identity(&identity).await?;
    let t = state.catalog.get_token(&token).await?;
    if t.identity_id != Some(identity.id) {
        return Err(ApiError::not_found(
            "token",
            format!("identity '{}' has no token '{token}'", identity.name),
        ));
    }
    let now = state.now();
    let t = state.catalog.revoke_token(t.id, now).await?;
    state.tokens.forget_token(t.id);
    tracing::info!(identity = %identity.name, token = %t.name, by = %who.display_name(), "token revoked");
    Ok(Json(TokenDto::new(t, &identity.name, now)))
}

/// Give an identity a role, on the whole server or on one vault.
///
/// A server-scope Owner may assign anywhere; an Owner of a vault, on that
/// vault. `Agent` is assignable on a vault only; the Site Recovery roles
/// are accepted and permit nothing yet.
#[utoipa::path(
    post, path = "/api/v1/roleAssignments", tag = "access",
    request_body = CreateRoleAssignment,
    responses(
        (status = 201, description = "The assignment", body = RoleAssignmentDto),
        (status = 400, description = "INVALID_ROLE, or Agent at server scope", body = ErrorBody),
        (status = 403, description = "Not an Owner of the scope", body = ErrorBody),
        (status = 404, description = "No such identity or vault", body = ErrorBody),
        (status = 409, description = "The identity has that role there", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_role_assignment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateRoleAssignment>,
) -> ApiResult<(StatusCode, Json<RoleAssignmentDto>)> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            lifeboat_codes::INVALID_ROLE,
            Some("role"),
            format!(
                "unknown role {:?}; roles are {}",
                req.role,
                Role::ALL.map(Role::name).join(", ")
            ),
        )
    })?;
    if role.vault_scope_only() && req.vault.is_none() {
        return Err(ApiError::invalid_argument(
            "vault",
            format!("{role} is assignable on one vault only: give vault"),
        ));
    }
    let identity = state.catalog.get_identity(&req.identity).await?;
    let vault = match &req.vault {
        Some(v) => Some(state.catalog.get_vault(v).await?.id),
        None => None,
    };
    let a = state
        .catalog
        .assign_role(identity.id, role.name(), vault, state.now())
        .await
        .map_err(|e| match e {
            lifeboat_catalog::CatalogError::Conflict { .. } => ApiError::conflict(
                "role",
                format!(
                    "identity '{}' already has {role} {}",
                    identity.name,
                    match &req.vault {
                        Some(v) => format!("on vault '{v}'"),
                        None => "at server scope".to_owned(),
                    }
                ),
            ),
            e => e.into(),
        })?;
    state.tokens.forget_identity(identity.id);
    tracing::info!(identity = %identity.name, role = %role, vault = ?req.vault, by = %who.display_name(), "role assigned");
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// List role assignments, optionally of one identity or on one vault. A
/// caller whose Owner role is on some vaults sees the assignments on
/// those vaults.
#[utoipa::path(
    get, path = "/api/v1/roleAssignments", tag = "access",
    params(RoleAssignmentQuery),
    responses(
        (status = 200, description = "The assignments", body = RoleAssignmentList),
        (status = 403, description = "Not an Owner anywhere", body = ErrorBody),
        (status = 404, description = "No such identity or vault", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_role_assignments(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Q(q): Q<RoleAssignmentQuery>,
) -> ApiResult<Json<RoleAssignmentList>> {
    let mut f = AssignmentFilter::default();
    if let Some(i) = &q.identity {
        f.identity_id = Some(state.catalog.get_identity(i).await?.id);
    }
    if let Some(v) = &q.vault {
        f.vault_id = Some(state.catalog.get_vault(v).await?.id);
    }
    let visible = who.visible(Op::RoleRead);
    let value = state
        .catalog
        .list_role_assignments(&f)
        .await?
        .into_iter()
        .filter(|a| match (&visible, a.vault_id) {
            (Visible::All, _) => true,
            (Visible::Only(_), None) => false,
            (Visible::Only(s), Some(v)) => s.contains(&v),
        })
        .map(RoleAssignmentDto::from)
        .collect();
    Ok(Json(RoleAssignmentList { value }))
}

/// Remove a role assignment. Its identity's tokens lose the role at once
/// on this server, within 10 seconds on others. You cannot remove your own
/// server-scope Owner role.
#[utoipa::path(
    delete, path = "/api/v1/roleAssignments/{id}", tag = "access",
    params(("id" = i64, Path, description = "Assignment id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an Owner of the scope", body = ErrorBody),
        (status = 404, description = "No such assignment", body = ErrorBody),
        (status = 409, description = "SELF_LOCKOUT: the caller's own server-scope Owner role", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_role_assignment(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    P(id): P<i64>,
) -> ApiResult<StatusCode> {
    let a = state.catalog.get_role_assignment(AssignmentId(id)).await?;
    if who.identity_id() == Some(a.identity_id)
        && a.vault_id.is_none()
        && Role::parse(&a.role) == Some(Role::Owner)
    {
        return Err(self_lockout(
            "this is the calling identity's own server-scope Owner role; ask another Owner to remove it"
                .to_owned(),
        ));
    }
    state.catalog.delete_role_assignment(a.id).await?;
    state.tokens.forget_identity(a.identity_id);
    tracing::info!(identity = %a.identity_name, role = %a.role, vault = ?a.vault_name, by = %who.display_name(), "role removed");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("name", "ci-bot@example.org").is_ok());
        assert!(check_name("name", "").is_err());
        assert!(check_name("name", "a b").is_err());
        assert!(check_name("name", &"x".repeat(65)).is_err());
    }

    #[test]
    fn expiry_defaults_and_bounds() {
        let now = Utc::now();
        let req = |d: Option<u32>, t: Option<DateTime<Utc>>| CreateToken {
            name: "t".into(),
            expires_in_days: d,
            expires: t,
        };
        assert_eq!(
            expiry_of(&req(None, None), now).unwrap(),
            now + TimeDelta::days(90)
        );
        assert_eq!(
            expiry_of(&req(Some(1), None), now).unwrap(),
            now + TimeDelta::days(1)
        );
        assert!(expiry_of(&req(Some(0), None), now).is_err());
        assert!(expiry_of(&req(Some(3651), None), now).is_err());
        assert!(expiry_of(&req(None, Some(now)), now).is_err());
        assert!(expiry_of(&req(Some(1), Some(now + TimeDelta::days(1))), now).is_err());
    }
}
