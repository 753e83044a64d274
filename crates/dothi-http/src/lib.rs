//! The HTTP face of dothi: the native JSON API under `/api/v1`, Open311 under `/open311/v2`,
//! the OpenAPI document, and health checks.
//!
//! Architecture invariant: handlers extract, call the store, and respond. Authorization and
//! workflow rules live in `dothi-domain`; SQL lives in `dothi-store`.

pub mod error;
pub mod extract;
pub mod negotiate;
pub mod routes;
pub mod session;
pub mod state;
pub mod views;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use state::{AppState, HttpConfig};

/// The OpenAPI 3.1 document, kept by hand next to the routes it describes.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The API alone, with its own JSON root at `/`.
pub fn app(store: dothi_store::Store, config: HttpConfig) -> Router {
    app_with(store, config, Router::new().route("/", get(root)))
}

/// The API plus `extra` routes (the web pages), which share the state, the layers and the
/// fallback. `extra` must answer `/` itself (see [`root_json`]).
pub fn app_with(store: dothi_store::Store, config: HttpConfig, extra: Router<AppState>) -> Router {
    let open311 = dothi_open311::router(
        store.clone(),
        dothi_open311::Open311Config {
            base_url: config.base_url.clone(),
            jurisdiction_id: config.jurisdiction_id.clone(),
            contact: config.contact.clone(),
            key_service: format!("{} — dothi api-key create", config.contact),
        },
    );
    let max_body = config.max_body_bytes;
    let limiter = session::LoginLimiter::new(config.login_attempts_per_minute);
    let state = AppState {
        store,
        config: std::sync::Arc::new(config),
        limiter,
    };
    let api = Router::new()
        .merge(routes::reports::routes())
        .merge(routes::auth::routes())
        .merge(routes::reference::routes())
        .merge(routes::ioc::routes())
        .merge(routes::ioc_views::routes())
        .merge(routes::alerts::routes())
        .merge(routes::iot::routes())
        .merge(routes::sharing::routes())
        .fallback(api_not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(health))
        .merge(extra)
        .fallback(api_not_found)
        .with_state(state)
        .nest("/open311/v2", open311)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
}

async fn api_not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn root() -> impl IntoResponse {
    axum::Json(root_json())
}

/// What `/` answers to API clients: the service name, version and entry points.
pub fn root_json() -> serde_json::Value {
    serde_json::json!({
        "name": "dothi",
        "version": env!("CARGO_PKG_VERSION"),
        "links": {"openapi": "/openapi.json", "open311": "/open311/v2/discovery.json", "api": "/api/v1/reports"}
    })
}

async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    sqlx::query("SELECT 1")
        .execute(&state.store.db.pool)
        .await
        .map_err(dothi_store::StoreError::from)?;
    Ok(axum::Json(serde_json::json!({"status": "ok"})))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "an unexpected error occurred; it has been logged",
    )
    .into_response()
}
