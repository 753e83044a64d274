//! API tokens of the CKAN Action API (`api_token_create`, `api_token_list`,
//! `api_token_revoke`), as CKAN 2.10 has them: a user's long-lived credentials for scripts and
//! tools such as `ckanapi`, each with a name, a public id (CKAN's `jti`), an optional expiry
//! (ckanext-expire-api-token's `expires_in` × `unit`) and the time it was last used.
//!
//! Who may create, list or revoke whose tokens is decided by the caller
//! (`dothi_catalog::access::may_manage_tokens`); these functions only store.
//!
//! The secret is a random 256-bit value shown once, at creation. Only its SHA-256 is stored:
//! unlike a password, a high-entropy random secret cannot be guessed from its hash, so a
//! slow, salted hash (argon2) would add nothing but cost on every request, and a plain digest
//! lets a token be found by an index lookup. A database leak therefore leaks no token.

use sqlx::Row;

use crate::auth::{digest, secret, User};
use crate::error::Result;
use crate::time::now_ms;
use crate::Store;

/// What every API token starts with, so that the CKAN layer knows where to look it up (and
/// secret scanners can recognise one).
pub const API_TOKEN_PREFIX: &str = "da_";

/// `last_access` is written at most this often per token, so that a script sending many
/// requests costs one write a minute, not one per request.
pub const LAST_ACCESS_RESOLUTION_MS: i64 = 60_000;

/// A token as `api_token_list` shows it; never the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub user_id: i64,
    pub created_at: i64,
    pub last_access: Option<i64>,
    pub expires_at: Option<i64>,
}

const COLUMNS: &str = "id, name, user_id, created_at, last_access, expires_at";

fn token_from_row(r: &sqlx::any::AnyRow) -> ApiToken {
    ApiToken {
        id: r.get(0),
        name: r.get(1),
        user_id: r.get(2),
        created_at: r.get(3),
        last_access: r.get(4),
        expires_at: r.get(5),
    }
}

impl Store {
    /// A new token for `user_id`, valid for `lifetime_ms` from now (or without end); the
    /// secret is returned once and only its digest is kept.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        lifetime_ms: Option<i64>,
    ) -> Result<(String, ApiToken)> {
        let token = secret(API_TOKEN_PREFIX);
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO user_api_tokens (id, name, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(dothi_catalog::new_id())
        .bind(name)
        .bind(user_id)
        .bind(digest(&token))
        .bind(now)
        .bind(lifetime_ms.map(|ms| now.saturating_add(ms)))
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        Ok((token, token_from_row(&row)))
    }

    /// A user's tokens, oldest first (expired ones included, so that their owner sees them).
    pub async fn api_tokens_of(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_api_tokens WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    /// The token with this id (CKAN's `jti`).
    pub async fn api_token(&self, id: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_api_tokens WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(token_from_row))
    }

    /// The token whose secret this is, expired or not.
    pub async fn api_token_by_secret(&self, token: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_api_tokens WHERE token_hash = $1"
        ))
        .bind(digest(token))
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(token_from_row))
    }

    /// Revokes (deletes, as CKAN does) a token; false when there was none with that id.
    pub async fn revoke_api_token(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query("DELETE FROM user_api_tokens WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The user an API token acts for, with the user's current role and agency; `None` for an
    /// unknown, expired or revoked token, or a deactivated user. Records the access, at most
    /// once a minute per token; a failure to record it is logged and does not refuse the
    /// request (the token was checked by then).
    pub async fn user_for_api_token(&self, token: &str) -> Result<Option<User>> {
        let now = now_ms();
        let row = sqlx::query(
            "SELECT t.id, t.last_access, u.id FROM user_api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.active = 1",
        )
        .bind(digest(token))
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (id, last_access, user_id): (String, Option<i64>, i64) =
            (row.get(0), row.get(1), row.get(2));
        if last_access.is_none_or(|at| now - at >= LAST_ACCESS_RESOLUTION_MS) {
            if let Err(e) = self.touch_api_token(&id, now).await {
                tracing::warn!(error = %e, "recording an API token's last access failed");
            }
        }
        Ok(Some(self.user(user_id).await?))
    }

    async fn touch_api_token(&self, id: &str, now: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        // The condition makes concurrent requests (or instances) write it once a minute.
        sqlx::query(
            "UPDATE user_api_tokens SET last_access = $1 \
             WHERE id = $2 AND (last_access IS NULL OR last_access <= $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - LAST_ACCESS_RESOLUTION_MS)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }
}
