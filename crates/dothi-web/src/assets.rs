//! The built front end (`web/dist`), embedded in release builds. Debug builds read the same
//! folder from disk, so `npm run watch` in `web/` shows changes without rebuilding the binary.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use dothi_http::{ApiError, AppState};
use rust_embed::RustEmbed;
use tower_http::compression::CompressionLayer;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{*path}", get(asset))
        .layer(CompressionLayer::new().gzip(true))
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = Dist::get(&path) else {
        return ApiError::not_found(format!("no asset {path}")).into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    // Chunks and files carry a content hash in their names and never change; the entry points
    // (app.js, style.css) keep their names and are revalidated with the ETag.
    let cache = if path.starts_with("chunks/") || path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache.into())],
        )
            .into_response();
    }
    let mime = file.metadata.mimetype().to_string();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
