//! ProblemDetails (RFC 7807) with the ETSI NGSI-LD error types (§5.5.2). Every refusal of the
//! NGSI-LD API goes through [`Problem`], so no handler writes an error body by hand.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::BrokerError;
use serde_json::json;

/// The base of the ETSI error type URIs.
const ERRORS: &str = "https://uri.etsi.org/ngsi-ld/errors/";

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    /// The ETSI error name, e.g. `BadRequestData`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
        }
    }

    pub fn bad_request_data(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequestData",
            "Bad request data",
            detail,
        )
    }

    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Invalid request",
            detail,
        )
    }

    pub fn not_found_detail(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "Resource not found",
            detail,
        )
    }

    /// The JSON body, as it also appears inside batch 207 answers.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "type": format!("{ERRORS}{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
    }
}

impl From<BrokerError> for Problem {
    fn from(e: BrokerError) -> Self {
        let kind = e.problem_type();
        let (status, title) = match &e {
            BrokerError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "Invalid request"),
            BrokerError::BadRequestData(_) => (StatusCode::BAD_REQUEST, "Bad request data"),
            BrokerError::AlreadyExists(_) => (StatusCode::CONFLICT, "Already exists"),
            BrokerError::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
            BrokerError::ResourceNotFound(_) => (StatusCode::NOT_FOUND, "Resource not found"),
            BrokerError::OperationNotSupported(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "Operation not supported")
            }
            BrokerError::LdContextNotAvailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "JSON-LD context not available",
            ),
            BrokerError::TooManyResults(_) => (StatusCode::FORBIDDEN, "Too many results"),
            BrokerError::InternalError(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        };
        Problem::new(status, kind, title, e.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

pub async fn not_found() -> Problem {
    Problem::invalid_request_status(
        StatusCode::NOT_FOUND,
        "no NGSI-LD resource has this path (see ETSI GS CIM 009 §6 for the resources)",
    )
}

pub async fn method_not_allowed() -> Problem {
    Problem::invalid_request_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "this NGSI-LD resource does not take this method",
    )
}

impl Problem {
    fn invalid_request_status(status: StatusCode, detail: &str) -> Self {
        Self::new(status, "InvalidRequest", "Invalid request", detail)
    }
}

/// A bug must still answer in the protocol's format (and is logged as an error).
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("an NGSI-LD handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "Internal error",
        "the broker failed on this request; it has been logged",
    )
    .into_response()
}
