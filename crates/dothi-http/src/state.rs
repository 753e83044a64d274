use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use dothi_domain::Actor;
use dothi_store::auth::User;
use dothi_store::Store;

use crate::error::ApiError;
use crate::session::{check_csrf, cookie_value, SESSION_COOKIE};

/// The client's address, when the server was started with connection info.
pub fn client_addr(parts_extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    parts_extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: std::sync::Arc<HttpConfig>,
    pub limiter: crate::session::LoginLimiter,
}

/// Settings of the HTTP layer; `dothi serve` fills them from its configuration.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Public base URL, without a trailing slash; used in media URLs and Open311 discovery.
    pub base_url: String,
    pub jurisdiction_id: String,
    pub contact: String,
    /// Largest request body, bytes (uploads included).
    pub max_body_bytes: usize,
    /// Mark cookies `Secure` (on by default when `base_url` is https).
    pub secure_cookies: bool,
    /// Sign-in attempts a minute per user name (four times as many per client address).
    pub login_attempts_per_minute: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base_url: "http://127.0.0.1:8080".into(),
            jurisdiction_id: "hue.gov.vn".into(),
            contact: "Trung tâm Giám sát, điều hành đô thị thông minh — 1900 1075".into(),
            max_body_bytes: 64 * 1024 * 1024,
            secure_cookies: false,
            login_attempts_per_minute: 10,
        }
    }
}

/// Whoever sent the request: a signed-in user, or nobody.
pub struct Caller(pub Option<User>);

impl Caller {
    pub fn actor(&self) -> Actor {
        match &self.0 {
            Some(u) => u.actor(),
            None => Actor {
                user_id: None,
                role: None,
                agency_id: None,
                label: "anonymous".into(),
            },
        }
    }

    pub fn require(&self) -> Result<&User, ApiError> {
        self.0.as_ref().ok_or_else(ApiError::unauthenticated)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            // A browser: the session cookie, with CSRF protection on unsafe methods. An
            // unknown or expired cookie is no sign-in at all, so public pages keep working.
            let Some(session) = cookie_value(&parts.headers, SESSION_COOKIE) else {
                return Ok(Caller(None));
            };
            let Some(user) = state.store.user_for_token(&session).await? else {
                return Ok(Caller(None));
            };
            check_csrf(&parts.method, &parts.headers, &session)?;
            return Ok(Caller(Some(user)));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Authentication required",
                    "the Authorization header must be 'Bearer <token>'",
                )
            })?;
        match state.store.user_for_token(token).await? {
            Some(user) => Ok(Caller(Some(user))),
            None => Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "the bearer token is unknown or has expired",
            )),
        }
    }
}
