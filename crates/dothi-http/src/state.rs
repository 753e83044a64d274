use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use dothi_domain::Actor;
use dothi_store::auth::User;
use dothi_store::Store;

use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: std::sync::Arc<HttpConfig>,
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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base_url: "http://127.0.0.1:8080".into(),
            jurisdiction_id: "hue.gov.vn".into(),
            contact: "Trung tâm Giám sát, điều hành đô thị thông minh — 1900 1075".into(),
            max_body_bytes: 64 * 1024 * 1024,
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
            return Ok(Caller(None));
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
