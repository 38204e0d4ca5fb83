//! API tokens: only a hash of each token is stored.

use chrono::{DateTime, Utc};

use crate::error::{Entity, Result, on_unique};
use crate::types::{Token, TokenId, ts};
use crate::{Catalog, CatalogError, with_pool};

/// The BLAKE3 hash of an API token, hex, under a context string of its own
/// (so the value is useless as any other BLAKE3 hash). Tokens are 256-bit
/// random, so a fast hash resists guessing as well as a slow KDF would, and
/// being deterministic it is also the lookup key.
pub fn hash_token(secret: &str) -> String {
    let mut h = blake3::Hasher::new_derive_key("lifeboat 2026 api token hash v1");
    h.update(secret.as_bytes());
    h.finalize().to_hex().to_string()
}

impl Catalog {
    /// Stores a token (as its hash); `CONFLICT` when the name is taken.
    pub async fn create_token(
        &self,
        name: &str,
        role: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Token> {
        with_pool!(self, |pool, dialect| {
            sqlx::query_as(
                "INSERT INTO tokens (name, role, hash, created) VALUES ($1, $2, $3, $4)
                 RETURNING id, name, role, created, last_used",
            )
            .bind(name)
            .bind(role)
            .bind(hash_token(secret))
            .bind(ts(now))
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, Entity::Token, name))
        })
    }

    /// The token whose secret is `secret`, if any.
    pub async fn find_token(&self, secret: &str) -> Result<Option<Token>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT id, name, role, created, last_used FROM tokens WHERE hash = $1",
            )
            .bind(hash_token(secret))
            .fetch_optional(pool)
            .await?)
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

    /// Every token, by name (without hashes).
    pub async fn list_tokens(&self) -> Result<Vec<Token>> {
        with_pool!(self, |pool, dialect| {
            Ok(sqlx::query_as(
                "SELECT id, name, role, created, last_used FROM tokens ORDER BY name",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Revokes a token.
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
