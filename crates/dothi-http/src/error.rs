//! RFC 9457 problem details for the native API. Every refusal goes through [`ApiError`], so
//! no handler writes an error body by hand.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_domain::DomainError;
use dothi_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// Seconds to wait, sent as `Retry-After` (429 only).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// A field that parsed but makes no sense; the detail reads "invalid FIELD: MESSAGE".
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let detail = format!("invalid {field}: {}", message.into());
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid field",
            detail,
        );
        e.field = Some(field.to_string());
        e
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send a valid bearer token in the Authorization header",
        )
    }

    pub fn csrf(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "Cross-site request refused",
            detail,
        )
    }

    pub fn too_many_attempts(wait_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many sign-in attempts",
            format!("too many sign-in attempts; try again in {wait_secs} s"),
        );
        e.retry_after = Some(wait_secs);
        e
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Payload too large",
            detail,
        )
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let detail = e.to_string();
        match e {
            DomainError::NotFound { .. } => ApiError::not_found(detail),
            DomainError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
            }
            DomainError::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "wrong username or password, or the token has expired",
            ),
            DomainError::Invalid { field, message } => ApiError::invalid(&field, message),
            DomainError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            DomainError::InvalidTransition { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid-transition",
                "Not allowed in this status",
                detail,
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database is unavailable; nothing was changed, retry later",
                )
            }
        }
    }
}

impl From<dothi_media::MediaError> for ApiError {
    fn from(e: dothi_media::MediaError) -> Self {
        match e {
            dothi_media::MediaError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            dothi_media::MediaError::UnsupportedType => ApiError::unsupported_media(e.to_string()),
            _ => ApiError::invalid("photo", e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("/problems/{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field.as_deref(),
        };
        let json = serde_json::to_vec(&body).expect("problem serialises");
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
