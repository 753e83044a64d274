//! Open311 errors: `[{"code": 400, "description": "…"}]` with the HTTP status equal to
//! the code.
//!
//! Every failure, including database outages, becomes one of these; nothing here is ever a
//! 500, because Open311 clients (FixMyStreet and others) retry on 5xx and a 503 says
//! truthfully that retrying later may help.

use axum::http::StatusCode;
use dothi_domain::DomainError;
use dothi_media::MediaError;
use dothi_store::StoreError;

use crate::doc::{Doc, Node};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub description: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            description: description.into(),
        }
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    /// A parameter that is present but unusable, worded like the domain's own refusals.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::bad_request(DomainError::invalid(field, message).to_string())
    }

    pub(crate) fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    pub(crate) fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    pub(crate) fn too_large(description: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, description)
    }

    pub(crate) fn doc(&self) -> Doc {
        Doc::new(
            "errors",
            Node::List(
                "error",
                vec![Node::Object(vec![
                    ("code", Node::Int(i64::from(self.status.as_u16()))),
                    ("description", Node::str(self.description.as_str())),
                ])],
            ),
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match &e {
            DomainError::Invalid { .. } => StatusCode::BAD_REQUEST,
            DomainError::NotFound { .. } => StatusCode::NOT_FOUND,
            DomainError::Forbidden(_) | DomainError::Unauthenticated => StatusCode::FORBIDDEN,
            DomainError::Conflict(_) | DomainError::InvalidTransition { .. } => {
                StatusCode::CONFLICT
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            // The details stay in the log: they can name tables and hosts.
            other => {
                tracing::error!(error = %other, "Open311 request failed in the store");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service is temporarily unavailable; please retry later",
                )
            }
        }
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        let status = match e {
            MediaError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}
