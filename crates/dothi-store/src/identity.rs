//! Single sign-on: the local user behind an account at an OpenID Connect provider.
//!
//! A provider account is the pair (issuer, subject) of its ID tokens; `user_identities` maps
//! each pair to exactly one user. The first sign-on of a pair either links the user who has
//! the same e-mail address (only when the provider says the address is verified, only when
//! exactly one user has it, and only when that user has no other account at this provider) or
//! creates a citizen. Accounts created here have no password (`password_hash` NULL), so they
//! can only sign in through the provider.
//!
//! Invariant: the lookup, the link or creation and the identity row are one transaction; when
//! two sign-ons of the same new account race, the loser's transaction fails on the unique
//! (issuer, subject) and is retried, and then finds the winner's row.

use dothi_domain::{DomainError, Role};
use sqlx::Row;

use crate::auth::User;
use crate::error::Result;
use crate::time::now_ms;
use crate::Store;

/// What the provider says about the person (ID token claims, completed by the userinfo
/// endpoint). Every field is optional; none of them is trusted for anything but the profile of
/// a new user, except a verified e-mail address, which may link an existing user.
#[derive(Clone, Debug, Default)]
pub struct OidcClaims {
    /// `name`.
    pub name: Option<String>,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified` (absent counts as not verified).
    pub email_verified: bool,
    /// `phone_number`.
    pub phone: Option<String>,
}

/// How a sign-on found its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityMatch {
    /// The provider account was known.
    Known,
    /// A new provider account, linked to the user with its verified e-mail address.
    LinkedByEmail,
    /// A new provider account, and a new citizen for it.
    Created,
}

const MAX_ATTEMPTS: usize = 5;

impl Store {
    /// The user a provider account signs in as, linking or creating one on its first sign-on
    /// (see the module documentation). Refuses (`Forbidden`) a deactivated user.
    pub async fn find_or_create_oidc_user(
        &self,
        issuer: &str,
        subject: &str,
        claims: &OidcClaims,
    ) -> Result<User> {
        Ok(self
            .find_or_create_oidc_user_with_match(issuer, subject, claims)
            .await?
            .0)
    }

    /// [`Store::find_or_create_oidc_user`], also telling how the user was found.
    pub async fn find_or_create_oidc_user_with_match(
        &self,
        issuer: &str,
        subject: &str,
        claims: &OidcClaims,
    ) -> Result<(User, IdentityMatch)> {
        if issuer.is_empty() || issuer.len() > 2048 {
            return Err(DomainError::invalid("issuer", "must be 1-2048 characters").into());
        }
        if subject.is_empty() || subject.len() > 255 {
            return Err(DomainError::invalid("subject", "must be 1-255 characters").into());
        }
        let mut attempt = 1;
        loop {
            match self.oidc_user_once(issuer, subject, claims).await {
                Err(e) if e.unique_violation() && attempt < MAX_ATTEMPTS => attempt += 1,
                Err(e) => return Err(e),
                Ok((id, how)) => return Ok((self.user(id).await?, how)),
            }
        }
    }

    async fn oidc_user_once(
        &self,
        issuer: &str,
        subject: &str,
        claims: &OidcClaims,
    ) -> Result<(i64, IdentityMatch)> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let known = sqlx::query(
            "SELECT u.id, u.active FROM user_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.issuer = $1 AND i.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = known {
            let (id, active): (i64, i64) = (row.get(0), row.get(1));
            if active == 0 {
                return Err(inactive());
            }
            sqlx::query(
                "UPDATE user_identities SET last_login_at = $1 WHERE issuer = $2 AND subject = $3",
            )
            .bind(now)
            .bind(issuer)
            .bind(subject)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            return Ok((id, IdentityMatch::Known));
        }

        let email = clean(claims.email.as_deref(), 254).filter(|e| e.contains('@'));
        let mut linked = None;
        if let (Some(email), true) = (&email, claims.email_verified) {
            let rows = sqlx::query(
                "SELECT u.id, u.active, \
                 (SELECT COUNT(*) FROM user_identities i WHERE i.user_id = u.id AND i.issuer = $2) \
                 FROM users u WHERE lower(u.email) = $1 ORDER BY u.id LIMIT 2",
            )
            .bind(email.to_ascii_lowercase())
            .bind(issuer)
            .fetch_all(tx.conn())
            .await?;
            match rows.as_slice() {
                [row] if row.get::<i64, _>(2) == 0 => {
                    if row.get::<i64, _>(1) == 0 {
                        return Err(inactive());
                    }
                    linked = Some(row.get::<i64, _>(0));
                }
                [] => {}
                _ => tracing::warn!(
                    issuer,
                    "a first sign-on's e-mail address belongs to several users, or to a user \
                     already linked to another account at this provider; creating a new user"
                ),
            }
        }
        let (user_id, how) = match linked {
            Some(id) => (id, IdentityMatch::LinkedByEmail),
            None => {
                let username =
                    free_username(&mut tx, &username_base(claims, email.as_deref())).await?;
                let display_name = clean(claims.name.as_deref(), 200)
                    .or_else(|| clean(claims.preferred_username.as_deref(), 200))
                    .unwrap_or_else(|| username.clone());
                let row = sqlx::query(
                    "INSERT INTO users (username, display_name, email, phone, password_hash, role, \
                     agency_id, active, created_at) VALUES ($1, $2, $3, $4, NULL, $5, NULL, 1, $6) \
                     RETURNING id",
                )
                .bind(username.as_str())
                .bind(display_name.as_str())
                .bind(email.as_deref())
                .bind(clean(claims.phone.as_deref(), 32))
                .bind(Role::Citizen.as_str())
                .bind(now)
                .fetch_one(tx.conn())
                .await?;
                (row.get::<i64, _>(0), IdentityMatch::Created)
            }
        };
        sqlx::query(
            "INSERT INTO user_identities (issuer, subject, user_id, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        tracing::info!(user_id, issuer, how = ?how, "first single sign-on of a provider account");
        Ok((user_id, how))
    }

    /// The provider accounts linked to a user: (issuer, subject) pairs, oldest first.
    pub async fn oidc_identities(&self, user_id: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT issuer, subject FROM user_identities WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

fn inactive() -> crate::StoreError {
    DomainError::forbidden("this account is deactivated").into()
}

/// A trimmed claim, or nothing when it is empty or longer than `max` characters.
fn clean(value: Option<&str>, max: usize) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.chars().count() <= max)
        .map(str::to_string)
}

/// A user name from the preferred user name, else the e-mail address's local part, else the
/// name: folded to ASCII (no diacritics), other characters replaced by '-', 3-50 characters.
pub fn username_base(claims: &OidcClaims, email: Option<&str>) -> String {
    let source = [
        claims.preferred_username.as_deref(),
        email.and_then(|e| e.split('@').next()),
        claims.name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let mut base = String::new();
    for c in dothi_domain::text::fold(source).chars() {
        let c = if c.is_ascii_alphanumeric() || "._-".contains(c) {
            c
        } else {
            '-'
        };
        if !(c == '-' && (base.is_empty() || base.ends_with('-'))) {
            base.push(c);
        }
        if base.len() >= 50 {
            break;
        }
    }
    let base = base.trim_matches(|c| c == '-' || c == '.').to_string();
    match base.len() {
        0 => "citizen".to_string(),
        1 | 2 => format!("citizen-{base}"),
        _ => base,
    }
}

/// `base`, or `base-2`, `base-3`, … : the first one nobody has.
async fn free_username(tx: &mut crate::db::WriteTx, base: &str) -> Result<String> {
    for n in 1..=50u32 {
        let candidate = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        let taken = sqlx::query("SELECT 1 FROM users WHERE username = $1")
            .bind(candidate.as_str())
            .fetch_optional(tx.conn())
            .await?
            .is_some();
        if !taken {
            return Ok(candidate);
        }
    }
    // A very common base: a random suffix instead of a longer search.
    let mut bytes = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    Ok(format!("{base}-{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(preferred: Option<&str>, name: Option<&str>) -> OidcClaims {
        OidcClaims {
            preferred_username: preferred.map(str::to_string),
            name: name.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn usernames_are_ascii_and_valid() {
        assert_eq!(
            username_base(&claims(Some("an.nguyen"), None), None),
            "an.nguyen"
        );
        assert_eq!(
            username_base(&claims(None, Some("Nguyễn Văn Đức")), None),
            "nguyen-van-duc"
        );
        assert_eq!(
            username_base(&claims(None, None), Some("Trần.Bình@hue.gov.vn")),
            "tran.binh"
        );
        assert_eq!(username_base(&claims(Some("  "), None), None), "citizen");
        assert_eq!(username_base(&claims(Some("an"), None), None), "citizen-an");
        assert_eq!(username_base(&claims(Some("田中"), None), None), "citizen");
        let long = "a".repeat(80);
        assert_eq!(username_base(&claims(Some(&long), None), None).len(), 50);
    }
}
