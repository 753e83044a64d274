//! Browser sessions: the cookie that carries a sign-in, the CSRF token bound to it, and the
//! sign-in rate limit.
//!
//! Invariants:
//! - The session cookie holds the same opaque token the API hands out as a bearer token (only
//!   its SHA-256 is stored). It is `HttpOnly`, `SameSite=Lax`, and `Secure` whenever the public
//!   URL is https (or `DOTHI_SECURE_COOKIES` says so).
//! - A request authenticated by the cookie with an unsafe method (anything but GET, HEAD and
//!   OPTIONS) must carry `X-CSRF-Token` equal to [`csrf_token`] of the session, and, when the
//!   browser sends `Origin`, an origin that matches the request's host. Bearer-token requests
//!   are not exposed to CSRF and need neither.
//! - Sign-in attempts are limited per user name and per client address; the limit answers 429
//!   with `Retry-After` before the password is even checked.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum_extra::extract::cookie::{Cookie, SameSite};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "dothi_session";
pub const LANG_COOKIE: &str = "dothi_lang";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: derived from the secret session token, so it needs no storage,
/// and useless without the cookie it belongs to.
pub fn csrf_token(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"dothi-csrf\0");
    h.update(session.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The value of one cookie in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((SESSION_COOKIE, token.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie is ASCII")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    let cookie = Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie is ASCII")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cookie-authenticated unsafe request without the session's CSRF token, or from a
/// foreign origin.
pub fn check_csrf(method: &Method, headers: &HeaderMap, session: &str) -> Result<(), ApiError> {
    if is_safe(method) {
        return Ok(());
    }
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        if origin != "null" && origin_host != host {
            return Err(ApiError::csrf(format!(
                "the request comes from {origin}, not from this site"
            )));
        }
    }
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent.is_empty() {
        return Err(ApiError::csrf(
            "a request signed in by cookie must carry the X-CSRF-Token header",
        ));
    }
    if !constant_time_eq(sent.as_bytes(), csrf_token(session).as_bytes()) {
        return Err(ApiError::csrf(
            "the X-CSRF-Token header does not belong to this session",
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sign-in attempts allowed per user name and per client address.
#[derive(Clone)]
pub struct LoginLimiter {
    per_user: Arc<DefaultKeyedRateLimiter<String>>,
    per_addr: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl LoginLimiter {
    /// `per_minute` attempts a minute for one user name (as a burst, then one every
    /// 60/`per_minute` seconds); four times that for one address.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("positive");
        let m = NonZeroU32::new(per_minute.max(1).saturating_mul(4)).expect("positive");
        LoginLimiter {
            per_user: Arc::new(RateLimiter::keyed(Quota::per_minute(n))),
            per_addr: Arc::new(RateLimiter::keyed(Quota::per_minute(m))),
        }
    }

    /// Counts one attempt; refuses with 429 and the seconds to wait when over the limit.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        let key = dothi_domain::text::fold(username.trim());
        if let Err(not_until) = self.per_user.check_key(&key) {
            let wait = not_until.wait_time_from(clock.now()).as_secs() + 1;
            return Err(ApiError::too_many_attempts(wait));
        }
        if let Some(addr) = addr {
            if let Err(not_until) = self.per_addr.check_key(&addr) {
                let wait = not_until.wait_time_from(clock.now()).as_secs() + 1;
                return Err(ApiError::too_many_attempts(wait));
            }
        }
        if self.per_user.len() > 100_000 {
            self.per_user.retain_recent();
            self.per_addr.retain_recent();
        }
        Ok(())
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(10)
    }
}
