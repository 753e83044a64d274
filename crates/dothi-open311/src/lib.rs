//! Open311 GeoReport v2 for dothi: how third-party apps (and FixMyStreet, through the
//! mySociety `servicerequestupdates` extension) submit and follow field reports.
//!
//! This crate only translates between the protocol and the reports service in
//! `dothi-store`; every rule (validation, routing, deadlines, who sees the reporter) lives
//! there or in `dothi-domain`, so Open311 cannot disagree with the native API.
//!
//! Every document exists as `.json` and `.xml`. The format is the path suffix, which axum
//! cannot match inside a segment, so routes take whole segments and split the suffix here.

mod doc;
mod error;
mod params;
mod requests;
mod services;

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use dothi_store::Store;

use doc::{render, Doc, Format};
use error::ApiError;
use params::Params;

#[derive(Clone, Debug)]
pub struct Open311Config {
    /// Public base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The one jurisdiction this deployment serves, e.g. `hue.gov.vn`.
    pub jurisdiction_id: String,
    pub contact: String,
    /// Where integrators ask for an API key.
    pub key_service: String,
}

pub(crate) struct Shared {
    store: Store,
    config: Open311Config,
}

type App = State<Arc<Shared>>;

impl Shared {
    /// `jurisdiction_id` is optional in GeoReport v2, but a client naming another city
    /// must not have its report filed here.
    fn check_jurisdiction(&self, params: &Params) -> Result<(), ApiError> {
        match params.opt("jurisdiction_id")? {
            Some(j) if j != self.config.jurisdiction_id => {
                Err(ApiError::not_found("jurisdiction_id not found"))
            }
            _ => Ok(()),
        }
    }
}

/// Routes relative to the Open311 root; the server nests it at /open311/v2.
pub fn router(store: Store, config: Open311Config) -> Router {
    let shared = Arc::new(Shared {
        store,
        config: Open311Config {
            base_url: config.base_url.trim_end_matches('/').to_string(),
            ..config
        },
    });
    Router::new()
        .route("/{file}", get(get_root).post(post_root))
        .route("/services/{file}", get(get_service))
        .route("/requests/{file}", get(get_request))
        .route("/tokens/{file}", get(get_token))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Multipart is streamed and checked part by part; this only caps the whole stream
        // (axum's default of 2 MB would refuse a single phone photo).
        .layer(DefaultBodyLimit::max(params::MULTIPART_LIMIT))
        .with_state(shared)
}

fn respond(format: Format, result: Result<Doc, ApiError>) -> Response {
    match result {
        Ok(doc) => render(format, StatusCode::OK, &doc),
        Err(e) => render(format, e.status, &e.doc()),
    }
}

/// The path segment split into name and format; `None` means the suffix is missing or
/// unknown.
fn file_and_format(path: Result<Path<String>, PathRejection>) -> Option<(String, Format)> {
    let Path(file) = path.ok()?;
    Format::split(&file).map(|(stem, format)| (stem.to_string(), format))
}

/// Without a known suffix there is no format to answer in, so JSON, the more common one.
fn bad_suffix() -> Response {
    let e = ApiError::not_found("not found: the path must end in .json or .xml");
    render(Format::Json, e.status, &e.doc())
}

async fn get_root(
    State(app): App,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((stem, format)) = file_and_format(path) else {
        return bad_suffix();
    };
    let result = async {
        let params = Params::from_query(query.as_deref())?;
        app.check_jurisdiction(&params)?;
        match stem.as_str() {
            "discovery" => Ok(services::discovery(&app)),
            "services" => Ok(services::services(&app)),
            "requests" => requests::list(&app, &params).await,
            "servicerequestupdates" => requests::updates(&app, &params).await,
            _ => Err(ApiError::not_found("not found")),
        }
    }
    .await;
    respond(format, result)
}

async fn post_root(
    State(app): App,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let Some((stem, format)) = file_and_format(path) else {
        return bad_suffix();
    };
    let result = match stem.as_str() {
        "requests" => match params::read_submission(req).await {
            Ok(submission) => requests::create(&app, submission).await,
            Err(e) => Err(e),
        },
        "discovery" | "services" | "servicerequestupdates" => Err(method_not_allowed_error()),
        _ => Err(ApiError::not_found("not found")),
    };
    respond(format, result)
}

async fn get_service(
    State(app): App,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((code, format)) = file_and_format(path) else {
        return bad_suffix();
    };
    let result = Params::from_query(query.as_deref())
        .and_then(|params| app.check_jurisdiction(&params))
        .and_then(|()| services::definition(&app, &code));
    respond(format, result)
}

async fn get_request(
    State(app): App,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((id, format)) = file_and_format(path) else {
        return bad_suffix();
    };
    let result = async {
        app.check_jurisdiction(&Params::from_query(query.as_deref())?)?;
        requests::one(&app, &id).await
    }
    .await;
    respond(format, result)
}

async fn get_token(
    State(app): App,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((token, format)) = file_and_format(path) else {
        return bad_suffix();
    };
    let result = async {
        app.check_jurisdiction(&Params::from_query(query.as_deref())?)?;
        requests::token(&app, &token).await
    }
    .await;
    respond(format, result)
}

async fn not_found(uri: Uri) -> Response {
    let e = ApiError::not_found("not found");
    render(Format::of_path(uri.path()), e.status, &e.doc())
}

fn method_not_allowed_error() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn method_not_allowed(uri: Uri) -> Response {
    let e = method_not_allowed_error();
    render(Format::of_path(uri.path()), e.status, &e.doc())
}
