//! The NGSI-LD HTTP binding (ETSI GS CIM 009 §6) at `/ngsi-ld/v1`: it reads the request's
//! JSON-LD context (Link header or body), negotiates the representation (JSON, JSON-LD,
//! GeoJSON), calls the broker, and writes ProblemDetails with the ETSI error types.
//!
//! Architecture invariant: this crate only translates. Entity semantics live in
//! `dothi-ngsild` (pure) and `dothi-broker` (service); no handler touches storage.

mod contexts;
mod discovery;
mod entities;
mod negotiate;
mod problem;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use dothi_broker::Broker;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use problem::Problem;

/// The largest NGSI-LD request body: a batch of a thousand rich entities fits.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The router to nest at `/ngsi-ld/v1`.
pub fn router(broker: Broker) -> Router {
    Router::new()
        .route("/entities", post(entities::create).get(entities::query))
        .route(
            "/entities/{id}",
            get(entities::retrieve)
                .delete(entities::delete)
                .patch(entities::merge)
                .put(entities::replace),
        )
        .route(
            "/entities/{id}/attrs",
            post(entities::append).patch(entities::update),
        )
        .route(
            "/entities/{id}/attrs/{attr}",
            axum::routing::patch(entities::partial_update)
                .put(entities::replace_attribute)
                .delete(entities::delete_attribute),
        )
        .route("/entityOperations/create", post(entities::batch_create))
        .route("/entityOperations/upsert", post(entities::batch_upsert))
        .route("/entityOperations/update", post(entities::batch_update))
        .route("/entityOperations/delete", post(entities::batch_delete))
        .route("/entityOperations/merge", post(entities::batch_merge))
        .route("/entityOperations/query", post(entities::batch_query))
        .route("/types", get(discovery::types))
        .route("/types/{type}", get(discovery::type_info))
        .route("/attributes", get(discovery::attributes))
        .route("/attributes/{attr}", get(discovery::attribute_info))
        .route("/jsonldContexts", get(contexts::list).post(contexts::add))
        .route(
            "/jsonldContexts/{id}",
            get(contexts::serve).delete(contexts::remove),
        )
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(problem::panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(broker)
}
