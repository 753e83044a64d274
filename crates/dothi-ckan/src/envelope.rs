//! CKAN's response envelope and error classes, built in one place: every action answers
//! `{"help": …, "success": true, "result": …}` or `{"help": …, "success": false, "error":
//! {"__type": …, …}}` with the status code CKAN 2.10 gives that class (`ckan/views/api.py`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_catalog::CatalogError;
use dothi_store::catalog::CatalogStoreError;
use serde_json::{json, Map, Value};

const JSON: &str = "application/json;charset=utf-8";

/// Why an action failed, in CKAN's classes.
#[derive(Debug)]
pub enum CkanError {
    Catalog(CatalogError),
    /// Storage unavailable: 503 (the platform's rule; CKAN would say 500).
    Unavailable,
    /// CKAN's bare 400: the body is a JSON string "Bad request - …", without envelope.
    BadRequest(String),
}

impl From<CatalogError> for CkanError {
    fn from(e: CatalogError) -> Self {
        CkanError::Catalog(e)
    }
}

impl From<CatalogStoreError> for CkanError {
    fn from(e: CatalogStoreError) -> Self {
        match e {
            CatalogStoreError::Refused(e) => CkanError::Catalog(e),
            CatalogStoreError::Store(e) => e.into(),
        }
    }
}

impl From<dothi_store::StoreError> for CkanError {
    fn from(e: dothi_store::StoreError) -> Self {
        tracing::error!(error = %e, "catalogue storage failure");
        CkanError::Unavailable
    }
}

impl CkanError {
    pub fn validation(field: &str, message: &str) -> Self {
        CkanError::Catalog(CatalogError::Validation(dothi_catalog::FieldErrors::one(
            field, message,
        )))
    }

    /// A fault of ours (a rendered document of the wrong shape, say): logged, and answered
    /// like a storage failure, 503, never a panic.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "CKAN action failed on our side");
        CkanError::Unavailable
    }

    pub fn missing(field: &str) -> Self {
        CkanError::validation(field, "Missing value")
    }
}

pub type ActionResult = Result<Value, CkanError>;

fn json_response(mut status: StatusCode, body: &Value) -> Response {
    // Straight into bytes: `to_string` goes through `fmt::Write`, noticeably slower for a page
    // of 100 datasets. A `Value` always serialises (its keys are strings); should it ever not,
    // the answer is CKAN's 503 body, logged, not a panic.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "CKAN answer could not be serialised");
        status = StatusCode::SERVICE_UNAVAILABLE;
        br#"{"success": false, "error": {"__type": "Internal Server Error", "message": "Service unavailable"}}"#.to_vec()
    });
    let mut res = (status, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    res
}

/// `{base}/api/3/action/help_show?name={action}`, as CKAN's `url_for` builds it.
pub fn help_url(base_url: &str, action: &str) -> String {
    format!("{base_url}/api/3/action/help_show?name={action}")
}

pub fn respond(base_url: &str, action: &str, result: ActionResult) -> Response {
    let help = help_url(base_url, action);
    let (status, error) = match result {
        Ok(result) => {
            // Built by hand: `json!` would copy `result` (a whole search page) value by value.
            let mut envelope = Map::new();
            envelope.insert("help".into(), Value::String(help));
            envelope.insert("success".into(), Value::Bool(true));
            envelope.insert("result".into(), result);
            return json_response(StatusCode::OK, &Value::Object(envelope));
        }
        Err(CkanError::BadRequest(message)) => return bad_request(&message),
        Err(CkanError::Unavailable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"__type": "Internal Server Error",
                   "message": "Service unavailable: the database cannot be reached; nothing was changed, retry later"}),
        ),
        Err(CkanError::Catalog(e)) => match e {
            CatalogError::Validation(fields) => {
                let mut error: Map<String, Value> = fields.0;
                error.insert("__type".into(), json!("Validation Error"));
                (StatusCode::CONFLICT, Value::Object(error))
            }
            CatalogError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                json!({"__type": "Not Found Error", "message": with_detail("Not found", &m)}),
            ),
            CatalogError::NotAuthorized(m) => (
                StatusCode::FORBIDDEN,
                json!({"__type": "Authorization Error", "message": with_detail("Access denied", &m)}),
            ),
            CatalogError::SearchQuery(m) => (
                StatusCode::BAD_REQUEST,
                json!({"__type": "Search Query Error",
                       "message": format!("Search Query is invalid: {}", Value::String(m))}),
            ),
        },
    };
    json_response(
        status,
        &json!({"help": help, "success": false, "error": error}),
    )
}

fn with_detail(head: &str, detail: &str) -> String {
    if detail.is_empty() {
        head.to_string()
    } else {
        format!("{head}: {detail}")
    }
}

/// CKAN's `_finish_bad_request`: status 400 and a JSON string, no envelope.
pub fn bad_request(detail: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &Value::String(format!("Bad request - {detail}")),
    )
}
