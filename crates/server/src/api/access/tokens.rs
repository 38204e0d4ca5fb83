//! `/api/v1/identities/{identity}/tokens`: create (the secret, once),
//! list (never the secrets), revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};

use super::{DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, check_name};
use crate::api::paths::IdentityPath;
use crate::auth::generate_token;
use crate::authz::Principal;
use crate::dto::{CreateToken, NewTokenDto, TokenDto, TokenDtoExt, TokenList};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, P};
use crate::state::AppState;

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
    params(IdentityPath),
    request_body = CreateToken,
    responses(
        (status = 201, description = "The token with its secret", body = NewTokenDto),
        (status = 400, description = "Invalid name or expiry", body = ErrorBody),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
        (status = 409, description = "A token of that name exists", body = ErrorBody),
    ),
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
    params(IdentityPath),
    responses(
        (status = 200, description = "The identity's tokens", body = TokenList),
        (status = 403, description = "Not a server-scope Owner", body = ErrorBody),
    ),
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

#[cfg(test)]
mod tests {
    use super::*;

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
