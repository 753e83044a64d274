//! The NGSI-LD HTTP binding (ETSI GS CIM 009 §6) at `/ngsi-ld/v1`: it reads the request's
//! JSON-LD context (Link header or body), negotiates the representation (JSON, JSON-LD,
//! GeoJSON), calls the broker, and writes ProblemDetails with the ETSI error types.
//!
//! Architecture invariant: this crate only translates. Entity semantics live in
//! `dothi-ngsild` (pure) and `dothi-broker` (service); no handler touches storage.

mod access;
mod contexts;
mod discovery;
mod entities;
mod negotiate;
mod problem;
mod registrations;
mod selection;
mod subscriptions;
mod temporal;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
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
    let inner = Router::new()
        .route(
            "/entities",
            post(entities::create)
                .get(entities::query)
                .delete(entities::purge)
                .patch(entities::missing_id)
                .put(entities::missing_id),
        )
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
        .route(
            "/temporal/entities",
            get(temporal::query).post(temporal::create),
        )
        .route(
            "/temporal/entities/{id}",
            get(temporal::retrieve).delete(temporal::delete),
        )
        .route(
            "/temporal/entityOperations/query",
            post(temporal::query_post),
        )
        .route("/temporal/entities/{id}/attrs", post(temporal::append))
        .route(
            "/temporal/entities/{id}/attrs/{attr}",
            axum::routing::delete(temporal::delete_attribute),
        )
        .route(
            "/temporal/entities/{id}/attrs/{attr}/{instance}",
            axum::routing::delete(temporal::delete_instance).patch(temporal::modify_instance),
        )
        .route("/types", get(discovery::types))
        .route("/types/{type}", get(discovery::type_info))
        .route("/attributes", get(discovery::attributes))
        .route("/attributes/{attr}", get(discovery::attribute_info))
        .route("/jsonldContexts", get(contexts::list).post(contexts::add))
        .route(
            "/jsonldContexts/{id}",
            get(contexts::serve).delete(contexts::remove),
        )
        .route(
            "/subscriptions",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/subscriptions/{id}",
            get(subscriptions::retrieve)
                .patch(subscriptions::update)
                .delete(subscriptions::delete),
        )
        .route(
            "/csourceRegistrations",
            post(registrations::create).get(registrations::query),
        )
        .route(
            "/csourceRegistrations/{id}",
            get(registrations::retrieve)
                .patch(registrations::update)
                .delete(registrations::delete),
        )
        .route(
            "/csourceSubscriptions",
            post(registrations::subscribe).get(registrations::subscriptions),
        )
        .route(
            "/csourceSubscriptions/{id}",
            get(registrations::subscription)
                .patch(registrations::update_subscription)
                .delete(registrations::unsubscribe),
        )
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            broker.clone(),
            access::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(problem::panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(broker);
    // The ETSI resource URIs are written with a trailing slash (`/entities/`, §6.1 Table 6.1-1)
    // and clients use both spellings: the slash is dropped before routing.
    Router::new()
        .fallback_service(tower::Layer::layer(
            &axum::middleware::map_request(trim_trailing_slash),
            inner,
        ))
        .layer(middleware::from_fn(negotiate::require_length))
}

async fn trim_trailing_slash(mut request: axum::extract::Request) -> axum::extract::Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}
