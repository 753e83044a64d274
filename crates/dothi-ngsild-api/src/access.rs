//! The access guard: applies the broker's [`Access`](dothi_broker::Access) policy before any
//! handler runs, answering 401 as ProblemDetails.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dothi_broker::Broker;

use crate::Problem;

pub async fn guard(State(broker): State<Broker>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !broker.config.access.needs_credentials(safe) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match broker.authorized(api_key, bearer).await {
        Ok(true) => next.run(request).await,
        Ok(false) => {
            let mut response = Problem::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Unauthorized",
                if api_key.is_none() && bearer.is_none() {
                    "this request needs an API key (X-API-Key) or the bearer token of an IOC \
                     operator or administrator"
                } else {
                    "the API key or bearer token is not valid for writing context data"
                },
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dothi NGSI-LD\""),
            );
            response
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
