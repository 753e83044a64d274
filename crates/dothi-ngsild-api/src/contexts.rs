//! `/jsonldContexts` (§6.31, @context source management): operators and clients register
//! contexts the broker then hosts, so that requests may cite them without internet access.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::contexts::{ContextEntry, ContextKind};
use dothi_broker::Broker;
use dothi_ngsild::document::format_time;
use serde_json::{json, Value};

use crate::negotiate::{self, param};
use crate::Problem;

type Answer = Result<Response, Problem>;

fn json_response(status: StatusCode, body: &Value, media: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, media)], body.to_string()).into_response()
}

fn details(entry: &ContextEntry) -> Value {
    json!({
        "URL": entry.url,
        "localId": format!("urn:ngsi-ld:{}", entry.id),
        "kind": entry.kind.as_str(),
        "createdAt": format_time(entry.created_at),
    })
}

pub async fn list(State(broker): State<Broker>, RawQuery(raw): RawQuery) -> Answer {
    let params = negotiate::params(raw.as_deref())?;
    let kind = match param(&params, "kind") {
        None => None,
        Some("Hosted") => Some(ContextKind::Hosted),
        Some("Cached") => Some(ContextKind::Cached),
        Some("ImplicitlyCreated") => Some(ContextKind::ImplicitlyCreated),
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "kind must be Hosted, Cached or ImplicitlyCreated, not {other}"
            )))
        }
    };
    let with_details = param(&params, "details") == Some("true");
    let entries = broker.contexts.list(kind).await?;
    let body: Vec<Value> = entries
        .iter()
        .map(|e| {
            if with_details {
                details(e)
            } else {
                Value::String(e.url.clone())
            }
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &Value::Array(body),
        negotiate::JSON,
    ))
}

pub async fn add(State(broker): State<Broker>, headers: HeaderMap, body: Bytes) -> Answer {
    let media = negotiate::content_type(&headers);
    if !matches!(media.as_deref(), Some(negotiate::JSON | negotiate::JSON_LD)) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidRequest",
            "Unsupported media type",
            "a context is sent as application/ld+json or application/json",
        ));
    }
    let document: Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::invalid_request(format!("the body is not valid JSON: {e}")))?;
    let entry = broker
        .contexts
        .host(&broker.config.base_url, document)
        .await?;
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&entry.url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub async fn serve(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let params = negotiate::params(raw.as_deref())?;
    let entry = broker
        .contexts
        .get(&id)
        .await?
        .ok_or_else(|| Problem::not_found_detail(format!("no context has the id {id}")))?;
    if param(&params, "details") == Some("true") {
        return Ok(json_response(
            StatusCode::OK,
            &details(&entry),
            negotiate::JSON,
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &entry.document,
        negotiate::JSON_LD,
    ))
}

pub async fn remove(State(broker): State<Broker>, Path(id): Path<String>) -> Answer {
    if broker.contexts.remove(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found_detail(format!(
            "no context has the id {id}"
        )))
    }
}
