//! Handlers of `/subscriptions` (§6.10–6.11): create, query, retrieve, update and delete
//! subscriptions, rendered in the request's context with their status and bookkeeping.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::subscriptions::render_subscription;
use dothi_broker::{now_ms, Broker};
use dothi_ngsild::document;
use serde_json::Value;

use crate::negotiate::{self, list_param};
use crate::Problem;

type Answer = Result<Response, Problem>;

fn check_id(id: &str) -> Result<(), Problem> {
    if document::is_uri(id) {
        Ok(())
    } else {
        Err(Problem::bad_request_data(format!(
            "the subscription id '{id}' is not a URI"
        )))
    }
}

fn sys_attrs(params: &[(String, String)]) -> bool {
    list_param(params, "options")
        .iter()
        .any(|o| o == "sysAttrs")
}

/// The version an `ngsi-ld=<version>` preference asks (RFC 7240 `Prefer`: preferences are
/// comma-separated, names case-insensitive, values tokens or quoted strings, parameters after
/// `;`), if any.
fn preferred_version(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|preference| {
            let first = preference.split(';').next()?.trim();
            let (name, value) = first.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("ngsi-ld") {
                return None;
            }
            let value = value.trim().trim_matches('"');
            (!value.is_empty()).then(|| value.to_string())
        })
}

/// A subscription has no version fallbacks (§4.3.6.8 covers entity data only): a version
/// preference is applied by answering the document unaltered.
fn apply_version(response: &mut Response, headers: &HeaderMap) {
    if let Some(version) = preferred_version(headers) {
        if let Ok(v) = HeaderValue::from_str(&format!("ngsi-ld={version}")) {
            response.headers_mut().insert("Preference-Applied", v);
        }
    }
}

pub async fn create(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let id = broker
        .create_subscription(&rc.ctx, &rc.reference, &body)
        .await?;
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/ngsi-ld/v1/subscriptions/{id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub async fn list(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = negotiate::checked_params(raw.as_deref(), &["limit", "offset", "count", "local"])?;
    let accept = negotiate::accept(&headers, false)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let negotiate::Paging {
        limit,
        offset,
        count,
    } = negotiate::paging(&params, &broker)?;
    // The total tells whether a next page exists.
    let page = broker.subscriptions(limit, offset, true).await?;
    let now = now_ms();
    let body = Value::Array(
        page.subscriptions
            .iter()
            .map(|s| render_subscription(s, &rc.ctx, sys_attrs(&params), now))
            .collect(),
    );
    let mut response = negotiate::respond(StatusCode::OK, body, accept, &rc);
    apply_version(&mut response, &headers);
    let total = page.total.unwrap_or(0);
    if count {
        response
            .headers_mut()
            .insert("NGSILD-Results-Count", HeaderValue::from(total));
    }
    page_links(&mut response, limit, offset, total);
    Ok(response)
}

/// The `prev`/`next` page links (§6.3.11 pagination) of a subscription query, added to the
/// `Link` header (after the context link, if any).
fn page_links(response: &mut Response, limit: u32, offset: u32, total: u64) {
    if limit == 0 {
        return;
    }
    let media = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let link = |offset: u32, rel: &str| {
        format!(
            "</ngsi-ld/v1/subscriptions?limit={limit}&offset={offset}>;rel=\"{rel}\";type=\"{media}\""
        )
    };
    let mut links: Vec<String> = response
        .headers()
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    if offset > 0 {
        links.push(link(offset.saturating_sub(limit), "prev"));
    }
    if u64::from(offset) + u64::from(limit) < total {
        links.push(link(offset + limit, "next"));
    }
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        if !links.is_empty() {
            response.headers_mut().insert(header::LINK, v);
        }
    }
}

pub async fn retrieve(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let params = negotiate::params(raw.as_deref())?;
    check_id(&id)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let state = broker.subscription(&id).await?;
    let body = render_subscription(&state, &rc.ctx, sys_attrs(&params), now_ms());
    let mut response = negotiate::respond(StatusCode::OK, body, accept, &rc);
    apply_version(&mut response, &headers);
    Ok(response)
}

pub async fn update(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker.update_subscription(&id, &rc.ctx, &body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete(State(broker): State<Broker>, Path(id): Path<String>) -> Answer {
    check_id(&id)?;
    broker.delete_subscription(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
