//! From an HTTP request to CKAN's data dictionary and caller, the way CKAN's
//! `_get_request_data` reads them: GET query parameters for read actions only; POST bodies as
//! JSON, as a form, or as multipart with an `upload` file streamed to disk.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap, Method};
use dothi_catalog::access::Viewer;
use dothi_http::session::{cookie_value, SESSION_COOKIE};
use dothi_store::api_tokens::API_TOKEN_PREFIX;
use dothi_store::catalog_files::{Incoming, UploadError};
use dothi_store::Store;
use serde_json::{Map, Value};

use crate::envelope::CkanError;
use crate::Ckan;

/// A file received with the request, on disk and not yet referenced.
pub struct ReceivedFile {
    pub incoming: Incoming,
    pub filename: String,
}

pub struct ActionRequest {
    pub data: Map<String, Value>,
    pub upload: Option<ReceivedFile>,
}

/// Query or form pairs to a dictionary: a key given once is a string, several times a list.
fn pairs_to_map(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        match out.get_mut(&k) {
            None => {
                out.insert(k, Value::String(v));
            }
            Some(Value::Array(list)) => list.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
        }
    }
    out
}

fn json_error(detail: impl std::fmt::Display) -> CkanError {
    CkanError::BadRequest(format!("JSON Error: {detail}"))
}

pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

pub async fn read(
    ckan: &Ckan,
    req: Request,
    side_effect_free: bool,
) -> Result<ActionRequest, CkanError> {
    let query = req.uri().query().unwrap_or("").to_string();
    let query_map = || -> Result<Map<String, Value>, CkanError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
            .map(pairs_to_map)
            .map_err(|e| json_error(format!("Invalid query string: {e}")))
    };
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        if !side_effect_free {
            return Err(json_error(
                "Invalid request. Please use POST method for your request",
            ));
        }
        return Ok(ActionRequest {
            data: query_map()?,
            upload: None,
        });
    }
    if method != Method::POST && method != Method::PUT {
        return Err(json_error(
            "Invalid request. Please use POST method for your request",
        ));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return read_multipart(ckan, req).await;
    }
    let body = axum::body::to_bytes(req.into_body(), ckan.config.max_json_bytes)
        .await
        .map_err(|_| {
            json_error(format!(
                "Request body larger than {} bytes",
                ckan.config.max_json_bytes
            ))
        })?;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| json_error(format!("Invalid form: {e}")))?;
        // CKAN's quirk: a form whose only key is a JSON document (value "" or "1") is that
        // document, as some old clients post it.
        if let [(key, value)] = pairs.as_slice() {
            if value.is_empty() || value == "1" {
                if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(key) {
                    return Ok(ActionRequest {
                        data: m,
                        upload: None,
                    });
                }
            }
        }
        return Ok(ActionRequest {
            data: pairs_to_map(pairs),
            upload: None,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        // An empty body: read actions take the query string, as CKAN does.
        let data = if side_effect_free {
            query_map()?
        } else {
            Map::new()
        };
        return Ok(ActionRequest { data, upload: None });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(ActionRequest { data: m, upload: None }),
        Ok(other) => Err(CkanError::BadRequest(format!(
            "Bad request data: Request data JSON decoded to {other} but it needs to be a dictionary."
        ))),
        Err(e) => Err(json_error(format!("Error decoding JSON data. Error: {e}"))),
    }
}

/// Multipart: text fields into the dictionary; the `upload` file streamed chunk by chunk into
/// a temporary file, so memory stays bounded whatever the file's size.
async fn read_multipart(ckan: &Ckan, req: Request) -> Result<ActionRequest, CkanError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| CkanError::BadRequest(format!("Invalid multipart body: {e}")))?;
    let mut data = Map::new();
    let mut upload = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(CkanError::BadRequest(format!(
                    "Invalid multipart body: {e}"
                )))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if let Some(filename) = field.file_name().map(str::to_string) {
            if name != "upload" {
                return Err(CkanError::validation(
                    &name,
                    "Only the upload field may hold a file",
                ));
            }
            let mut incoming = ckan
                .files
                .begin(ckan.config.max_upload_bytes)
                .await
                .map_err(upload_error)?;
            let mut field = field;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => incoming.write(&chunk).await.map_err(upload_error)?,
                    Ok(None) => break,
                    Err(e) => {
                        return Err(CkanError::BadRequest(format!(
                            "Invalid multipart body: {e}"
                        )))
                    }
                }
            }
            upload = Some(ReceivedFile { incoming, filename });
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| CkanError::BadRequest(format!("Invalid multipart body: {e}")))?;
            data.insert(name, Value::String(text));
        }
    }
    Ok(ActionRequest { data, upload })
}

pub fn upload_error(e: UploadError) -> CkanError {
    match e {
        UploadError::TooLarge(_) => CkanError::validation("upload", "File upload too large"),
        UploadError::Io(e) => {
            tracing::error!(error = %e, "storing an uploaded resource failed");
            CkanError::Unavailable
        }
    }
}

/// The caller, from a token sent raw in `Authorization` (as ckanapi and CKAN 2.10 tokens
/// are), after `Bearer `, or in `X-CKAN-API-Key`: a CKAN API token (`api_token_create`,
/// `da_…`) or a platform token (`POST /api/v1/auth/token`), both acting as their user with
/// the user's current role. Without a token, and only where `session` allows it (read
/// actions and downloads, which change nothing, so a forged cross-site request gains
/// nothing), the web session's cookie: signed-in people browsing the portal's pages see what
/// they may read. As in CKAN, an unknown, expired or revoked token is anonymous rather than
/// an error; actions that need a user then refuse.
pub async fn viewer(
    store: &Store,
    headers: &HeaderMap,
    session: bool,
) -> Result<Viewer, CkanError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("x-ckan-api-key"))
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
        })
        .filter(|t| !t.is_empty());
    let user = match token {
        Some(t) if t.starts_with(API_TOKEN_PREFIX) => store.user_for_api_token(t).await?,
        Some(t) => store.user_for_token(t).await?,
        None if session => match cookie_value(headers, SESSION_COOKIE) {
            Some(cookie) => store.user_for_token(&cookie).await?,
            None => None,
        },
        None => None,
    };
    Ok(match user {
        Some(user) => Viewer::from_actor(&user.actor()),
        None => Viewer::anonymous(),
    })
}
