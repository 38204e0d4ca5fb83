//! API tokens: only a keyed hash of each token is stored.

use chrono::{DateTime, Utc};

use crate::error::{Entity, Result, on_unique};
use crate::types::{IdentityId, Token, TokenId, ts, ts_opt};
use crate::{Catalog, CatalogError, with_pool};

/// The columns of a [`Token`] row, never the hash (a macro, so queries
/// stay static strings).
macro_rules! token_cols {
    () => {
        "id, name, role, created, last_used, identity_id, expires, revoked"
    };
}

/// The BLAKE3 hash of an API token, hex, keyed by a context string of its
/// own (`derive_key` mode, so the value is useless as any other BLAKE3
/// hash).
///
/// Why no slow KDF (Argon2, scrypt): slow hashing protects *low-entropy*
/// secrets such as passwords, where an attacker holding the hash can try
/// likely candidates. Lifeboat's tokens are 256 bits from the system's
/// random generator (`lb_` + 64 hex digits; `LIFEBOAT_ADMIN_TOKEN` must be
/// at least 32 characters): nobody can enumerate 2^256 candidates however
/// fast each try is, so a stolen catalog does not reveal them, and a slow
/// KDF would only add its cost to every request that misses the token
/// cache. Being deterministic, the hash is also the lookup key (a unique
/// index), so no per-token salt is possible or needed.
pub fn hash_token(secret: &str) -> String {
    let mut h = blake3::Hasher::new_derive_key("lifeboat 2026 api token hash v1");
    h.update(secret.as_bytes());
    h.finalize().to_hex().to_string()
}

/// Compares two byte strings in time that depends only on their lengths,
/// not on where they differ (`subtle`, the RustCrypto crates' own
/// constant-time primitives, guards against the optimiser's early exits).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

impl Catalog {
    /// Stores a token without an identity, with a server-wide `role` (the
    /// form of tokens before identities; the bootstrap administrator token
    /// of old catalogs). `CONFLICT` when the name is taken. New tokens
    /// belong to an identity: [`Catalog::create_identity_token`].
    pub async fn create_token(
        &self,
        name: &str,
        role: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Token> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(
                "INSERT INTO tokens (name, role, hash, created) VALUES ($1, $2, $3, $4)
                 RETURNING ",
                token_cols!(),
                ""
            ))
            .bind(name)
            .bind(role)
            .bind(hash_token(secret))
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, Entity::Token, name))
        })
    }

    /// Stores a token of an identity (as its hash) that stops working at
    /// `expires` (`None`: never). `CONFLICT` when the name is taken (token
    /// names are unique on the server), `NOT_FOUND` when the identity is
    /// gone.
    pub async fn create_identity_token(
        &self,
        identity: IdentityId,
        name: &str,
        secret: &str,
        expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Token> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(
                "INSERT INTO tokens (name, role, hash, created, identity_id, expires)
                 VALUES ($1, '', $2, $3, $4, $5)
                 RETURNING ",
                token_cols!(),
                ""
            ))
            .bind(name)
            .bind(hash_token(secret))
            .bind(ts(now))
            .bind(identity)
            .bind(ts_opt(expires))
            .fetch_one(pool)
            .await
            .map_err(|e| {
                if crate::error::is_fk_violation(&e) {
                    CatalogError::not_found(Entity::Identity, identity)
                } else {
                    on_unique(e, Entity::Token, name)
                }
            })
        })
    }

    /// The token whose secret is `secret`, if any, revoked and expired ones
    /// included (the caller tells them apart). The row is found by its hash
    /// through the index; the stored hash is then compared with the
    /// computed one in constant time as well.
    pub async fn find_token(&self, secret: &str) -> Result<Option<Token>> {
        let hash = hash_token(secret);
        let row: Option<(String, Token)> = with_pool!(self, |pool, dialect| {
            let row: Option<Token> = sqlx::query_as(concat!(
                "SELECT ",
                token_cols!(),
                " FROM tokens WHERE hash = $1"
            ))
            .bind(&hash)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(t) => {
                    let stored: String =
                        sqlx::query_scalar("SELECT hash FROM tokens WHERE id = $1")
                            .bind(t.id)
                            .fetch_one(pool)
                            .await?;
                    Some((stored, t))
                }
                None => None,
            }
        });
        Ok(row.and_then(|(stored, t)| {
            constant_time_eq(stored.as_bytes(), hash.as_bytes()).then_some(t)
        }))
    }

    /// One token by name.
    pub async fn get_token(&self, name: &str) -> Result<Token> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(
                "SELECT ",
                token_cols!(),
                " FROM tokens WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Token, name))
        })
    }

    /// Records that a token was used at `now`.
    pub async fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query("UPDATE tokens SET last_used = $2 WHERE id = $1")
                .bind(id)
                .bind(ts(now))
                .execute(pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::Token, id));
            }
            Ok(())
        })
    }

    /// Every token, by name (without hashes), revoked ones included.
    pub async fn list_tokens(&self) -> Result<Vec<Token>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(concat!(
                "SELECT ",
                token_cols!(),
                " FROM tokens ORDER BY name"
            ))
            .fetch_all(pool)
            .await?)
        })
    }

    /// The tokens of one identity, by name (without hashes).
    pub async fn list_identity_tokens(&self, identity: IdentityId) -> Result<Vec<Token>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(concat!(
                "SELECT ",
                token_cols!(),
                " FROM tokens WHERE identity_id = $1 ORDER BY name"
            ))
            .bind(identity)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Revokes a token: it stays listed, marked revoked at `now`, and never
    /// authenticates again. Revoking a revoked token keeps the first time.
    pub async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<Token> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(concat!(
                "UPDATE tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1
                 RETURNING ",
                token_cols!(),
                ""
            ))
            .bind(id)
            .bind(ts(now))
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::not_found(Entity::Token, id))
        })
    }

    /// Deletes a token row.
    pub async fn delete_token(&self, id: TokenId) -> Result<()> {
        with_pool!(self, |pool, dialect| {
            let r = sqlx::query("DELETE FROM tokens WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(CatalogError::not_found(Entity::Token, id));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
