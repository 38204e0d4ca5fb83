//! Bearer-token authentication and the principal every handler runs as.
//!
//! A request's token is hashed and looked up in the catalog (only hashes
//! are stored); the matching row becomes a [`Principal`] in the request's
//! extensions. Authorization is a role check per [`Operation`]: today the
//! only role is `Administrator`, which may do everything; the roles issue
//! adds Backup Contributor / Operator / Reader scoped to vaults by adding
//! [`Role`] variants and the scope to [`Principal`], without touching the
//! handlers. A role this binary does not know permits nothing, so a catalog
//! written by a newer server never grants more than it meant.
//!
//! Tokens are never logged: the middleware logs the token's name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use lifeboat_catalog::{Catalog, CatalogError, TokenId};

use crate::error::ApiError;
use crate::state::AppState;

/// The role name of the first (administrator) token.
pub const ADMIN_ROLE: &str = "Administrator";

/// The shortest token accepted from `LIFEBOAT_ADMIN_TOKEN`: the catalog
/// keeps a fast hash, which is safe only for long random secrets.
pub const MIN_TOKEN_LEN: usize = 32;

/// What a call does, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Reads state (GET).
    Read,
    /// Changes state or starts work.
    Write,
}

impl Operation {
    pub fn of(method: &Method) -> Operation {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            Operation::Read
        } else {
            Operation::Write
        }
    }
}

/// A token's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Administrator,
    /// A role name this binary does not know.
    Unknown(String),
}

impl Role {
    pub fn parse(name: &str) -> Role {
        match name {
            ADMIN_ROLE => Role::Administrator,
            other => Role::Unknown(other.to_owned()),
        }
    }

    pub fn permits(&self, _op: Operation) -> bool {
        match self {
            Role::Administrator => true,
            Role::Unknown(_) => false,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: TokenId,
    /// The token's name (logged instead of the token).
    pub name: String,
    pub role: Role,
}

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
/// request. A revoked token keeps working for at most that long.
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

/// Middleware: authenticates the request, checks the role, and puts the
/// [`Principal`] in the request's extensions.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // The token is copied out first: the request (not `Sync`) must not be
    // borrowed across an await.
    let secret = match bearer(&req) {
        Ok(s) => s.to_owned(),
        Err(e) => return e.into_response(),
    };
    match authenticate(&state, &secret).await {
        Ok(principal) => {
            let op = Operation::of(req.method());
            if !principal.role.permits(op) {
                return ApiError::forbidden(format!(
                    "token '{}' (role {:?}) may not do this",
                    principal.name, principal.role
                ))
                .into_response();
            }
            tracing::Span::current().record("principal", principal.name.as_str());
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn authenticate(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = lifeboat_catalog::hash_token(secret);
    if let Some(p) = state.tokens.get(&hash) {
        return Ok(p);
    }
    let token = state
        .catalog
        .find_token(secret)
        .await?
        .ok_or_else(|| ApiError::auth_invalid("unknown or revoked token"))?;
    if state.touch.due(token.id) {
        let now = state.now();
        if let Err(e) = state.catalog.touch_token(token.id, now).await {
            // Bookkeeping only: never fail a call for it.
            tracing::warn!(token = %token.name, error = %e, "could not record token use");
        }
    }
    let principal = Principal {
        token_id: token.id,
        name: token.name,
        role: Role::parse(&token.role),
    };
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

/// First start: makes sure an administrator can get in. With `env_token`
/// (`LIFEBOAT_ADMIN_TOKEN`) that token is stored as an administrator unless
/// it already is; without it, a random administrator token is created when
/// the catalog has no token at all. Two servers starting at once on one
/// catalog create one token between them (the name is unique).
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
        // A distinct name per env token, so rotating the variable adds a
        // token instead of failing on the name.
        let name = format!("admin-env-{}", &lifeboat_catalog::hash_token(secret)[..8]);
        return match catalog.create_token(&name, ADMIN_ROLE, secret, now).await {
            Ok(_) => Ok(Bootstrap::StoredFromEnv),
            Err(CatalogError::Conflict { .. }) => Ok(Bootstrap::Existing),
            Err(e) => Err(e.into()),
        };
    }
    if !catalog.list_tokens().await?.is_empty() {
        return Ok(Bootstrap::Existing);
    }
    let secret = generate_token()?;
    match catalog
        .create_token("admin", ADMIN_ROLE, &secret, now)
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
    fn roles() {
        assert!(Role::parse(ADMIN_ROLE).permits(Operation::Write));
        assert!(!Role::parse("BackupReader").permits(Operation::Read));
        assert_eq!(Operation::of(&Method::GET), Operation::Read);
        assert_eq!(Operation::of(&Method::DELETE), Operation::Write);
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert!(a.len() >= MIN_TOKEN_LEN);
    }

    #[test]
    fn cached_tokens_are_found_by_hash() {
        let c = TokenCache::default();
        assert!(c.get("h").is_none());
        let p = Principal {
            token_id: TokenId(7),
            name: "admin".into(),
            role: Role::Administrator,
        };
        c.put("h".into(), p);
        assert_eq!(c.get("h").map(|p| p.token_id), Some(TokenId(7)));
        assert!(c.get("other").is_none());
    }

    #[test]
    fn touch_is_throttled() {
        let t = TouchThrottle::default();
        assert!(t.due(TokenId(1)));
        assert!(!t.due(TokenId(1)));
        assert!(t.due(TokenId(2)));
    }
}
