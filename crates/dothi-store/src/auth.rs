//! Local accounts (argon2id password hashes), bearer tokens and Open311 API keys.
//!
//! Tokens and keys are random 256-bit secrets; only their SHA-256 is stored, so a database
//! leak does not leak credentials. Passwords use argon2id with the crate's default cost.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use dothi_domain::{Actor, DomainError, Role};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{conflict_on_unique, Result};
use crate::time::now_ms;
use crate::Store;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: Role,
    pub agency_id: Option<i64>,
    pub active: bool,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor::user(self.id, self.role, self.agency_id, self.username.clone())
    }
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: String,
    pub role: Role,
    pub agency_code: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub(crate) fn secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub(crate) fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const USER_COLUMNS: &str = "id, username, display_name, email, phone, role, agency_id, active";

fn user_from_row(r: &sqlx::any::AnyRow) -> User {
    User {
        id: r.get(0),
        username: r.get(1),
        display_name: r.get(2),
        email: r.get(3),
        phone: r.get(4),
        role: Role::parse(&r.get::<String, _>(5)).unwrap_or(Role::Citizen),
        agency_id: r.get(6),
        active: r.get::<i64, _>(7) != 0,
    }
}

pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("argon2 hashing with default parameters")
        .to_string()
}

fn check_username(username: &str) -> Result<()> {
    let ok = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c));
    if !ok {
        return Err(DomainError::invalid(
            "username",
            "must be 3-64 characters: ASCII letters, digits, '.', '_', '-', '@' or '+'",
        )
        .into());
    }
    Ok(())
}

impl Store {
    /// Agency staff belong to exactly one agency; nobody else belongs to one.
    fn agency_for_role(&self, role: Role, agency_code: Option<&str>) -> Result<Option<i64>> {
        match (role, agency_code) {
            (Role::AgencyStaff, Some(code)) => Ok(Some(
                self.reference()
                    .agency_by_code(code)
                    .map(|a| a.id)
                    .ok_or_else(|| {
                        DomainError::invalid("agency", format!("no agency has code '{code}'"))
                    })?,
            )),
            (Role::AgencyStaff, None) => {
                Err(DomainError::invalid("agency", "agency staff need an agency").into())
            }
            (_, Some(_)) => {
                Err(DomainError::invalid("agency", "only agency staff belong to an agency").into())
            }
            _ => Ok(None),
        }
    }

    /// Create an account. Citizens may register themselves (`actor` = system on behalf of a
    /// sign-up); every other role needs an administrator.
    pub async fn create_user(&self, actor: &Actor, new: &NewUser) -> Result<User> {
        if new.role != Role::Citizen {
            actor.require_admin()?;
        }
        check_username(&new.username)?;
        if new.password.chars().count() < 8 || new.password.len() > 256 {
            return Err(DomainError::invalid("password", "must be 8-256 characters").into());
        }
        if new.display_name.trim().is_empty() || new.display_name.chars().count() > 200 {
            return Err(DomainError::invalid("display_name", "must be 1-200 characters").into());
        }
        let agency_id = self.agency_for_role(new.role, new.agency_code.as_deref())?;
        let hash = hash_password(&new.password);
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, display_name, email, phone, password_hash, role, agency_id, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) RETURNING {USER_COLUMNS}"
        ))
        .bind(new.username.as_str())
        .bind(new.display_name.trim())
        .bind(new.email.as_deref())
        .bind(new.phone.as_deref())
        .bind(hash.as_str())
        .bind(new.role.as_str())
        .bind(agency_id)
        .bind(now_ms())
        .fetch_one(tx.conn())
        .await
        .map_err(|e| conflict_on_unique(e, || format!("username '{}' is taken", new.username)))?;
        tx.commit().await?;
        Ok(user_from_row(&row))
    }

    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require_admin()?;
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?
            .map(|r| user_from_row(&r))
            .ok_or_else(|| DomainError::not_found(format!("user {id}")).into())
    }

    /// Change a user's role, agency or active flag (administrators only). Deactivating a user
    /// also revokes their tokens, the CKAN API tokens included.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        role: Role,
        agency_code: Option<&str>,
        active: bool,
    ) -> Result<User> {
        actor.require_admin()?;
        let agency_id = self.agency_for_role(role, agency_code)?;
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE users SET role = $1, agency_id = $2, active = $3 WHERE id = $4 RETURNING {USER_COLUMNS}"
        ))
        .bind(role.as_str())
        .bind(agency_id)
        .bind(active as i64)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| DomainError::not_found(format!("user {id}")))?;
        if !active {
            revoke_all_tokens(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(user_from_row(&row))
    }

    /// Set a new password for a user (administrators: a reset for someone who lost theirs).
    /// Every session and token of that user ends (CKAN API tokens too), so a stolen session or
    /// token does not outlive it.
    pub async fn set_password(&self, actor: &Actor, id: i64, password: &str) -> Result<()> {
        actor.require_admin()?;
        if password.chars().count() < 8 || password.len() > 256 {
            return Err(DomainError::invalid("password", "must be 8-256 characters").into());
        }
        let hash = hash_password(password);
        let mut tx = self.db.begin_write().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DomainError::not_found(format!("user {id}")).into());
        }
        revoke_all_tokens(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Check a password and issue a bearer token. The same error for an unknown user and a
    /// wrong password, so usernames cannot be probed.
    pub async fn login(&self, username: &str, password: &str) -> Result<(String, User)> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.db.pool)
        .await?;
        let refused = || DomainError::Unauthenticated;
        let row = row.ok_or_else(refused)?;
        let user = user_from_row(&row);
        let hash: Option<String> = row.get(8);
        let hash = hash.ok_or_else(refused)?;
        let password = password.to_string();
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if !verified || !user.active {
            return Err(refused().into());
        }
        let token = self.issue_token(user.id).await?;
        Ok((token, user))
    }

    pub async fn issue_token(&self, user_id: i64) -> Result<String> {
        let token = secret("dt_");
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(digest(&token))
            .bind(user_id)
            .bind(now)
            .bind(now + self.settings.token_ttl_hours * 3_600_000)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.email, u.phone, u.role, u.agency_id, u.active \
             FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.expires_at > $2"
        )
        .bind(digest(token))
        .bind(now_ms())
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.map(|r| user_from_row(&r)).filter(|u| u.active))
    }

    pub async fn revoke_token(&self, token: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM auth_tokens WHERE token_hash = $1")
            .bind(digest(token))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Create an API key; the secret is returned once and never stored.
    pub async fn create_api_key(&self, actor: &Actor, name: &str) -> Result<(String, ApiKey)> {
        actor.require_admin()?;
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(DomainError::invalid("name", "must be 1-100 characters").into());
        }
        let key = secret("dk_");
        let prefix: String = key.chars().take(9).collect();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO api_keys (name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, prefix, created_at, revoked_at",
        )
        .bind(name.trim())
        .bind(digest(&key))
        .bind(prefix.as_str())
        .bind(now_ms())
        .fetch_one(tx.conn())
        .await?;
        tx.commit().await?;
        Ok((key, api_key_from_row(&row)))
    }

    pub async fn list_api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>> {
        actor.require_admin()?;
        let rows = sqlx::query(
            "SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(api_key_from_row).collect())
    }

    pub async fn revoke_api_key(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(tx.conn())
                .await?;
        if done.rows_affected() == 0 {
            return Err(DomainError::not_found(format!("active API key {id}")).into());
        }
        tx.commit().await?;
        self.api_key_cache.lock().expect("cache lock").clear();
        Ok(())
    }

    /// The key's id and name, if the key is valid and not revoked. Answers are cached for
    /// [`API_KEY_CACHE_SECS`]: Open311 clients send the key with every request, and the
    /// lookup would otherwise be a query per report. A revocation clears this instance's
    /// cache at once; other instances notice within the cache lifetime.
    pub async fn verify_api_key(&self, key: &str) -> Result<Option<(i64, String)>> {
        let hash = digest(key);
        if let Some((answer, at)) = self.api_key_cache.lock().expect("cache lock").get(&hash) {
            if at.elapsed().as_secs() < API_KEY_CACHE_SECS {
                return Ok(answer.clone());
            }
        }
        let row =
            sqlx::query("SELECT id, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(hash.as_str())
                .fetch_optional(&self.db.pool)
                .await?;
        let answer: Option<(i64, String)> = row.map(|r| (r.get(0), r.get(1)));
        let mut cache = self.api_key_cache.lock().expect("cache lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(hash, (answer.clone(), std::time::Instant::now()));
        Ok(answer)
    }
}

/// Ends every session, bearer token and CKAN API token of a user.
async fn revoke_all_tokens(tx: &mut crate::db::WriteTx, user_id: i64) -> Result<()> {
    for table in ["auth_tokens", "user_api_tokens"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

pub const API_KEY_CACHE_SECS: u64 = 30;

pub type ApiKeyCache = std::sync::Arc<
    std::sync::Mutex<
        std::collections::HashMap<String, (Option<(i64, String)>, std::time::Instant)>,
    >,
>;

fn api_key_from_row(r: &sqlx::any::AnyRow) -> ApiKey {
    ApiKey {
        id: r.get(0),
        name: r.get(1),
        prefix: r.get(2),
        created_at: r.get(3),
        revoked_at: r.get(4),
    }
}
