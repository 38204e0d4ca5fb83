//! Bearer-token authentication, and the authorization check every
//! protected route goes through.
//!
//! A request's token is hashed and looked up in the catalog (only hashes
//! are stored, see `lifeboat_catalog::hash_token` for why a fast keyed hash
//! is enough for 256-bit random tokens). A revoked token answers
//! `TOKEN_REVOKED`, an expired one `TOKEN_EXPIRED`, a token of a disabled
//! identity `IDENTITY_DISABLED`, an unknown one `AUTH_INVALID` (all 401).
//! A valid token becomes a [`Principal`] (its identity and the identity's
//! role grants) in the request's extensions, after [`require_token`] has
//! checked the route's rule ([`crate::authz::route_rule`]) — so no handler
//! runs for a caller who may not call it.
//!
//! Verified tokens are cached for [`CACHE_FOR`] (10 s). Revoking a token,
//! disabling an identity or changing its roles through this server drops
//! its cache entries at once; another server sharing the catalog notices
//! within [`CACHE_FOR`]. Expiry is checked on every request, cached or not.
//!
//! Tokens are never logged: logs and messages name the identity or the
//! token's name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body as HttpBody;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use lifeboat_catalog::{AssignmentId, Catalog, CatalogError, IdentityId, JobId, TokenId};
use lifeboat_codes as codes;

use crate::authz::{At, Grant, Op, Role, Scope, Target, route_rule};
use crate::error::ApiError;
use crate::extract::MAX_BODY;
use crate::state::AppState;

pub use crate::authz::Principal;

/// The role name of tokens made before identities (schema 5): a
/// server-scope Owner.
pub const ADMIN_ROLE: &str = "Administrator";

/// The identity the first-start (bootstrap) token belongs to.
pub const ADMIN_IDENTITY: &str = "admin";

/// The shortest token accepted from `LIFEBOAT_ADMIN_TOKEN`: the catalog
/// keeps a fast hash, which is safe only for long random secrets.
pub const MIN_TOKEN_LEN: usize = 32;

/// Remembers when each token's `last_used` was last written, so that a busy
/// client costs one catalog write a minute, not one per request.
#[derive(Debug, Default)]
pub struct TouchThrottle(Mutex<HashMap<TokenId, Instant>>);

const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl TouchThrottle {
    fn due(&self, id: TokenId) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        let now = Instant::now();
        match seen.get(&id) {
            Some(t) if now.duration_since(*t) < TOUCH_EVERY => false,
            _ => {
                seen.insert(id, now);
                true
            }
        }
    }
}

/// Recently verified tokens, by hash, so that a client sending many
/// requests costs one catalog lookup per [`CACHE_FOR`], not one per
/// request. A token revoked (or an identity disabled, or a role removed)
/// through another server keeps its old rights for at most that long;
/// through this server, never: the entries are dropped at once.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<HashMap<String, (Principal, Instant)>>);

/// How long a verified token is trusted without asking the catalog.
pub const CACHE_FOR: Duration = Duration::from_secs(10);
/// Most tokens remembered; the cache starts over beyond that.
const CACHE_MAX: usize = 10_000;

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Principal> {
        let seen = self.0.lock().ok()?;
        match seen.get(hash) {
            Some((p, at)) if at.elapsed() < CACHE_FOR => Some(p.clone()),
            _ => None,
        }
    }

    fn put(&self, hash: String, p: Principal) {
        if let Ok(mut seen) = self.0.lock() {
            if seen.len() >= CACHE_MAX {
                seen.clear();
            }
            seen.insert(hash, (p, Instant::now()));
        }
    }

    /// Drops the entries of one token.
    pub fn forget_token(&self, id: TokenId) {
        if let Ok(mut seen) = self.0.lock() {
            seen.retain(|_, (p, _)| p.token_id != id);
        }
    }

    /// Drops the entries of every token of one identity.
    pub fn forget_identity(&self, id: IdentityId) {
        if let Ok(mut seen) = self.0.lock() {
            seen.retain(|_, (p, _)| p.identity_id() != Some(id));
        }
    }
}

/// Reads `Authorization: Bearer <token>`.
fn bearer(req: &Request) -> Result<&str, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::auth_required());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::auth_invalid("the Authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::auth_invalid("the Authorization header is not 'Bearer <token>'")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::auth_invalid(
            "the Authorization header is not 'Bearer <token>'",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::auth_invalid("the bearer token is empty"));
    }
    Ok(token)
}

/// Middleware: authenticates the request, checks the route's rule, and
/// puts the [`Principal`] in the request's extensions.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The token is copied out first: the request (not `Sync`) must not be
    // borrowed across an await.
    let secret = match bearer(&req) {
        Ok(s) => s.to_owned(),
        Err(e) => return e.into_response(),
    };
    let principal = match authenticate(&state, &secret).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    drop(secret);
    tracing::Span::current().record("principal", principal.display_name());
    // A refusal below is audited under the caller's name.
    crate::audit::note_principal(&req, &principal);
    let mut req = match authorize(&state, &principal, req).await {
        Ok(req) => req,
        Err(e) => {
            if e.code == codes::FORBIDDEN {
                tracing::info!(principal = %principal.display_name(), message = %e.message, "refused");
            }
            return e.into_response();
        }
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The path parameter `name` of the matched route, percent-decoded.
async fn path_param(req: Request, name: &str) -> (Request, Option<String>) {
    let (mut parts, body) = req.into_parts();
    let value = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        });
    (Request::from_parts(parts, body), value)
}

/// The request's JSON body (read, then put back for the handler). A body
/// that is not JSON reads as `Null`: the handler refuses it after the
/// check.
async fn peek_body(req: Request) -> Result<(Request, serde_json::Value), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
    })?;
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((Request::from_parts(parts, HttpBody::from(bytes)), value))
}

fn check(p: &Principal, op: Op, target: Target<'_>) -> Result<(), ApiError> {
    if p.may(op, target) {
        Ok(())
    } else {
        Err(ApiError::forbidden(p.denial(op, target)))
    }
}

/// The check of an operation on the vault `name`. A vault grant names its
/// vault by id: the vault of that name must be the granted one (not another
/// vault made under the name after the granted one was deleted, while the
/// grant is still cached).
async fn check_vault(state: &AppState, p: &Principal, op: Op, name: &str) -> Result<(), ApiError> {
    if p.may(op, Target::Server) {
        return Ok(());
    }
    check(p, op, Target::Vault(name))?;
    match state.catalog.get_vault(name).await {
        Ok(v) if p.may(op, Target::VaultId(v.id)) => Ok(()),
        Ok(_) => Err(ApiError::forbidden(p.denial(op, Target::Vault(name)))),
        // The handler answers NOT_FOUND.
        Err(CatalogError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Applies the route's rule; answers the request to hand on.
async fn authorize(state: &AppState, p: &Principal, req: Request) -> Result<Request, ApiError> {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let rule = template
        .as_deref()
        .and_then(|t| route_rule(req.method(), t))
        .ok_or_else(|| {
            ApiError::forbidden(format!(
                "{} {} has no authorization rule; refused for everyone (a server bug: report it)",
                req.method(),
                template.as_deref().unwrap_or(req.uri().path())
            ))
        })?;
    match rule.at {
        At::Server => {
            check(p, rule.op, Target::Server)?;
            Ok(req)
        }
        At::Listing => {
            if p.may_somewhere(rule.op) {
                Ok(req)
            } else {
                Err(ApiError::forbidden(p.denial(rule.op, Target::Server)))
            }
        }
        At::PathVault => {
            let (req, vault) = path_param(req, "vault").await;
            check_vault(state, p, rule.op, vault.as_deref().unwrap_or("")).await?;
            Ok(req)
        }
        At::PathVaultStopMode => {
            let (req, vault) = path_param(req, "vault").await;
            let (req, body) = peek_body(req).await?;
            let op = if body.get("mode").and_then(|m| m.as_str()) == Some("delete-data") {
                Op::ItemStopDelete
            } else {
                rule.op
            };
            check_vault(state, p, op, vault.as_deref().unwrap_or("")).await?;
            Ok(req)
        }
        At::BodyVault => {
            let (req, body) = peek_body(req).await?;
            match body.get("vault").and_then(|v| v.as_str()) {
                Some(v) => check_vault(state, p, rule.op, v).await?,
                None => check(p, rule.op, Target::Server)?,
            }
            Ok(req)
        }
        At::Job => {
            if p.may(rule.op, Target::Server) {
                return Ok(req);
            }
            let (req, id) = path_param(req, "id").await;
            let id = id.and_then(|s| s.parse::<i64>().ok());
            match id {
                Some(id) => match state.catalog.get_job(JobId(id)).await {
                    Ok(job) => check(p, rule.op, Target::VaultId(job.vault_id))?,
                    // The handler answers NOT_FOUND to whoever may look.
                    Err(CatalogError::NotFound { .. }) if p.may_somewhere(rule.op) => {}
                    Err(CatalogError::NotFound { .. }) => {
                        check(p, rule.op, Target::Server)?;
                    }
                    Err(e) => return Err(e.into()),
                },
                // A malformed id: the handler refuses it.
                None if p.may_somewhere(rule.op) => {}
                None => check(p, rule.op, Target::Server)?,
            }
            Ok(req)
        }
        At::Assignment => {
            if p.may(rule.op, Target::Server) {
                return Ok(req);
            }
            let (req, id) = path_param(req, "id").await;
            let id = id.and_then(|s| s.parse::<i64>().ok());
            match id {
                Some(id) => match state.catalog.get_role_assignment(AssignmentId(id)).await {
                    Ok(a) => match a.vault_id {
                        Some(v) => check(p, rule.op, Target::VaultId(v))?,
                        None => check(p, rule.op, Target::Server)?,
                    },
                    Err(CatalogError::NotFound { .. }) if p.may_somewhere(rule.op) => {}
                    Err(CatalogError::NotFound { .. }) => check(p, rule.op, Target::Server)?,
                    Err(e) => return Err(e.into()),
                },
                None if p.may_somewhere(rule.op) => {}
                None => check(p, rule.op, Target::Server)?,
            }
            Ok(req)
        }
        At::Anyone => Ok(req),
        At::Guard => {
            if p.may(rule.op, Target::Server) {
                return Ok(req);
            }
            let (req, name) = path_param(req, "guard").await;
            let name = name.unwrap_or_default();
            // A guard that does not exist is refused like one the caller
            // does not hold: its name tells a non-holder nothing.
            let holds = match (state.catalog.get_guard(&name).await, p.identity_id()) {
                (Ok(g), Some(who)) => state.catalog.is_guard_holder(g.id, who).await?,
                (Ok(_), None) | (Err(CatalogError::NotFound { .. }), _) => false,
                (Err(e), _) => return Err(e.into()),
            };
            if holds {
                Ok(req)
            } else {
                Err(ApiError::forbidden(format!(
                    "'{}' may not do {} on resource guard '{name}': only its holders (its owner \
                     and the members they add) may{}",
                    p.display_name(),
                    rule.op,
                    if rule.op.roles().is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", or {} at server scope",
                            rule.op
                                .roles()
                                .iter()
                                .map(|r| r.name())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )
                    }
                )))
            }
        }
    }
}

/// Refuses a cached or fresh principal whose token has expired.
fn check_expiry(p: &Principal, now: DateTime<Utc>) -> Result<(), ApiError> {
    match p.expires {
        Some(t) if t <= now => Err(ApiError::token_expired(&p.token_name, t)),
        _ => Ok(()),
    }
}

async fn authenticate(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = lifeboat_catalog::hash_token(secret);
    let now = state.now();
    if let Some(p) = state.tokens.get(&hash) {
        check_expiry(&p, now)?;
        return Ok(p);
    }
    let token = state
        .catalog
        .find_token(secret)
        .await?
        .ok_or_else(|| ApiError::auth_invalid("unknown token"))?;
    if token.revoked.is_some() {
        return Err(ApiError::token_revoked(&token.name));
    }
    let (identity, grants) = match token.identity_id {
        Some(id) => {
            let identity = state.catalog.get_identity_by_id(id).await?;
            if identity.disabled.is_some() {
                return Err(ApiError::identity_disabled(&identity.name));
            }
            let assignments = state
                .catalog
                .list_role_assignments(&lifeboat_catalog::AssignmentFilter {
                    identity_id: Some(id),
                    ..Default::default()
                })
                .await?;
            let grants = assignments
                .into_iter()
                .map(|a| Grant {
                    role: Role::parse(&a.role).ok_or(a.role),
                    scope: match (a.vault_id, a.vault_name) {
                        (Some(id), Some(name)) => Scope::Vault { id, name },
                        _ => Scope::Server,
                    },
                })
                .collect();
            (Some((identity.id, identity.name)), grants)
        }
        // A token made before identities: its own role, server-wide.
        None => (
            None,
            vec![Grant {
                role: Role::parse(&token.role).ok_or_else(|| token.role.clone()),
                scope: Scope::Server,
            }],
        ),
    };
    let principal = Principal {
        token_id: token.id,
        token_name: token.name.clone(),
        identity,
        expires: token.expires,
        grants,
    };
    check_expiry(&principal, now)?;
    if state.touch.due(token.id)
        && let Err(e) = state.catalog.touch_token(token.id, now).await
    {
        // Bookkeeping only: never fail a call for it.
        tracing::warn!(token = %token.name, error = %e, "could not record token use");
    }
    state.tokens.put(hash, principal.clone());
    Ok(principal)
}

/// A new random token: `lb_` and 64 hex digits (256 bits).
pub fn generate_token() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(format!("lb_{}", hex::encode(b)))
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Tokens exist (or the given one is already stored): nothing to do.
    Existing,
    /// The token from `LIFEBOAT_ADMIN_TOKEN` was stored (its hash).
    StoredFromEnv,
    /// A new administrator token was made: print it once.
    Created(String),
}

/// The identity of the bootstrap token, made (with Owner at server scope)
/// when missing.
async fn admin_identity(catalog: &Catalog, now: DateTime<Utc>) -> anyhow::Result<IdentityId> {
    let identity = match catalog.create_identity(ADMIN_IDENTITY, "User", now).await {
        Ok(i) => i,
        // Made before, or by another server starting at the same moment.
        Err(CatalogError::Conflict { .. }) => catalog.get_identity(ADMIN_IDENTITY).await?,
        Err(e) => return Err(e.into()),
    };
    match catalog
        .assign_role(identity.id, Role::Owner.name(), None, now)
        .await
    {
        Ok(_) | Err(CatalogError::Conflict { .. }) => Ok(identity.id),
        Err(e) => Err(e.into()),
    }
}

/// First start: makes sure an administrator can get in. With `env_token`
/// (`LIFEBOAT_ADMIN_TOKEN`) that token is stored for the identity `admin`
/// (Owner at server scope) unless it already is; without it, a random
/// token of `admin` is created when the catalog has no token at all. The
/// bootstrap token never expires (it is how an operator gets in at all);
/// revoke it once other Owners exist. A revoked bootstrap token stays
/// revoked: setting the same `LIFEBOAT_ADMIN_TOKEN` again does not revive
/// it. Two servers starting at once on one catalog create one token
/// between them (the name is unique).
pub async fn bootstrap_admin(
    catalog: &Catalog,
    env_token: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Bootstrap> {
    if let Some(secret) = env_token {
        let secret = secret.trim();
        if secret.len() < MIN_TOKEN_LEN {
            anyhow::bail!(
                "LIFEBOAT_ADMIN_TOKEN is {} characters; use at least {MIN_TOKEN_LEN} random \
                 characters (e.g. `openssl rand -hex 32`)",
                secret.len()
            );
        }
        if catalog.find_token(secret).await?.is_some() {
            return Ok(Bootstrap::Existing);
        }
        let admin = admin_identity(catalog, now).await?;
        // A distinct name per env token, so rotating the variable adds a
        // token instead of failing on the name.
        let name = format!("admin-env-{}", &lifeboat_catalog::hash_token(secret)[..8]);
        return match catalog
            .create_identity_token(admin, &name, secret, None, now)
            .await
        {
            Ok(_) => Ok(Bootstrap::StoredFromEnv),
            Err(CatalogError::Conflict { .. }) => Ok(Bootstrap::Existing),
            Err(e) => Err(e.into()),
        };
    }
    if !catalog.list_tokens().await?.is_empty() {
        return Ok(Bootstrap::Existing);
    }
    let admin = admin_identity(catalog, now).await?;
    let secret = generate_token()?;
    match catalog
        .create_identity_token(admin, "admin", &secret, None, now)
        .await
    {
        Ok(_) => Ok(Bootstrap::Created(secret)),
        // Another server made the first token at the same moment.
        Err(CatalogError::Conflict { .. }) => Ok(Bootstrap::Existing),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert!(a.len() >= MIN_TOKEN_LEN);
    }

    fn principal(token: i64, identity: i64) -> Principal {
        Principal {
            token_id: TokenId(token),
            token_name: format!("t{token}"),
            identity: Some((IdentityId(identity), "alice".into())),
            expires: None,
            grants: vec![Grant {
                role: Ok(Role::Owner),
                scope: Scope::Server,
            }],
        }
    }

    #[test]
    fn cached_tokens_are_found_by_hash_and_forgotten() {
        let c = TokenCache::default();
        assert!(c.get("h").is_none());
        c.put("h".into(), principal(7, 1));
        c.put("h2".into(), principal(8, 1));
        c.put("h3".into(), principal(9, 2));
        assert_eq!(c.get("h").map(|p| p.token_id), Some(TokenId(7)));
        assert!(c.get("other").is_none());
        c.forget_token(TokenId(7));
        assert!(c.get("h").is_none());
        assert!(c.get("h2").is_some());
        c.forget_identity(IdentityId(1));
        assert!(c.get("h2").is_none());
        assert!(c.get("h3").is_some());
    }

    #[test]
    fn expiry_is_checked_against_now() {
        let mut p = principal(1, 1);
        let now = Utc::now();
        assert!(check_expiry(&p, now).is_ok());
        p.expires = Some(now);
        let e = check_expiry(&p, now).unwrap_err();
        assert_eq!(e.code, "TOKEN_EXPIRED");
        assert!(check_expiry(&p, now - chrono::TimeDelta::seconds(1)).is_ok());
    }

    #[test]
    fn touch_is_throttled() {
        let t = TouchThrottle::default();
        assert!(t.due(TokenId(1)));
        assert!(!t.due(TokenId(1)));
        assert!(t.due(TokenId(2)));
    }
}
