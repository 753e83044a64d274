//! Handlers of `/csourceRegistrations` (§6.8, §6.9: register, discover, retrieve, update,
//! delete context source registrations) and `/csourceSubscriptions` (§6.10, §6.11 for
//! registrations: their subscriptions). Content negotiation, contexts and ProblemDetails are
//! those of the other NGSI-LD resources.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::registrations::csource::render_csource_subscription;
use dothi_broker::registrations::{EntityAsk, Filter, RegistrationQuery, TemporalFilter};
use dothi_broker::{now_ms, Broker};
use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, check_name, LOCATION};
use dothi_ngsild::eval::{CompiledGeoQuery, CompiledQuery};
use dothi_ngsild::{geo, q, scopeq, typesel};
use serde_json::Value;

use crate::negotiate::{self, list_param, param, RequestContext};
use crate::Problem;

type Answer = Result<Response, Problem>;

const REGISTRATIONS: &str = "/ngsi-ld/v1/csourceRegistrations";
const SUBSCRIPTIONS: &str = "/ngsi-ld/v1/csourceSubscriptions";

/// The parameters of Query Context Source Registrations (§6.8.3.1).
const QUERY_PARAMS: &[&str] = &[
    "id",
    "idPattern",
    "type",
    "attrs",
    "q",
    "csf",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "timeproperty",
    "timerel",
    "timeAt",
    "endTimeAt",
    "scopeQ",
    "limit",
    "offset",
    "count",
    "options",
    "local",
];

fn check_id(id: &str, what: &str) -> Result<(), Problem> {
    if document::is_uri(id) {
        Ok(())
    } else {
        Err(Problem::bad_request_data(format!(
            "the {what} id '{id}' is not a URI"
        )))
    }
}

/// `options=sysAttrs` (the only option of these resources).
fn sys_attrs(params: &[(String, String)]) -> Result<bool, Problem> {
    let options = list_param(params, "options");
    if let Some(other) = options.iter().find(|o| *o != "sysAttrs") {
        return Err(Problem::invalid_request(format!(
            "options may only be sysAttrs here, not {other}"
        )));
    }
    Ok(!options.is_empty())
}

/// A body must be JSON: without a Content-Type, a body that is not even JSON is refused as
/// malformed (400) before its missing media type (415) is.
fn readable_body(headers: &HeaderMap, body: &Bytes) -> Result<(), Problem> {
    if !headers.contains_key(header::CONTENT_TYPE) {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| Problem::invalid_request(format!("the body is not valid JSON: {e}")))?;
    }
    Ok(())
}

/// A page: the count header when asked, and the `prev`/`next` links.
fn paged(
    response: &mut Response,
    path: &str,
    params: &[(String, String)],
    paging: &negotiate::Paging,
    total: u64,
) {
    if paging.count {
        response
            .headers_mut()
            .insert("NGSILD-Results-Count", HeaderValue::from(total));
    }
    negotiate::page_links(
        response,
        path,
        params,
        *paging,
        total,
        negotiate::LinkForm::Encoded,
    );
}

fn created(path: &str, id: &str) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{path}/{id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

// --- /csourceRegistrations ---

pub async fn create(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    readable_body(&headers, &body)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let id = broker.create_registration(&rc.ctx, &body).await?;
    Ok(created(REGISTRATIONS, &id))
}

/// The filters of a discovery query (§5.10.2.3), names expanded with `ctx`.
fn filter(params: &[(String, String)], ctx: &Context) -> Result<Filter, Problem> {
    let ids = list_param(params, "id");
    for id in &ids {
        check_id(id, "entity")?;
    }
    let id_pattern = param(params, "idPattern");
    let types = match param(params, "type") {
        Some(selection) => Some(
            typesel::parse(selection)
                .map_err(|e| Problem::bad_request_data(format!("type: {e}")))?
                .into_iter()
                .map(|group| group.iter().map(|t| ctx.expand(t)).collect())
                .collect(),
        ),
        None => None,
    };
    let mut attrs = Vec::new();
    for name in list_param(params, "attrs") {
        check_name(&name).map_err(|e| Problem::bad_request_data(format!("attrs: {e}")))?;
        attrs.push(ctx.expand(&name));
    }
    let query = |name: &str| -> Result<Option<CompiledQuery>, Problem> {
        match param(params, name) {
            None => Ok(None),
            Some(text) => {
                let parsed = q::parse(text)
                    .map_err(|e| Problem::bad_request_data(format!("{name}: {e}")))?;
                CompiledQuery::new(&parsed)
                    .map(Some)
                    .map_err(|e| Problem::bad_request_data(format!("{name}: {e}")))
            }
        }
    };
    let geo = match (
        param(params, "georel"),
        param(params, "geometry"),
        param(params, "coordinates"),
    ) {
        (None, None, None) => None,
        (Some(georel), Some(geometry), Some(coordinates)) => {
            let query = geo::parse(georel, geometry, coordinates)
                .map_err(|e| Problem::bad_request_data(format!("geo-query: {e}")))?;
            let property = param(params, "geoproperty")
                .map(|g| ctx.expand(g))
                .unwrap_or_else(|| LOCATION.to_string());
            Some((CompiledGeoQuery::new(&query), property))
        }
        _ => {
            return Err(Problem::bad_request_data(
                "a geo-query needs georel, geometry and coordinates together",
            ))
        }
    };
    let scope_q = match param(params, "scopeQ") {
        Some(text) => Some(
            scopeq::parse(text).map_err(|e| Problem::bad_request_data(format!("scopeQ: {e}")))?,
        ),
        None => None,
    };
    let temporal = TemporalFilter::parse(
        param(params, "timerel"),
        param(params, "timeAt"),
        param(params, "endTimeAt"),
        param(params, "timeproperty"),
    )?;
    let asks = if ids.is_empty() && id_pattern.is_none() && types.is_none() {
        Vec::new()
    } else {
        vec![EntityAsk::new(ids, id_pattern, types)?]
    };
    Ok(Filter {
        asks,
        attrs,
        q: query("q")?,
        csf: query("csf")?,
        geo,
        scope_q,
        temporal,
    })
}

pub async fn query(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let params = negotiate::checked_params(raw.as_deref(), QUERY_PARAMS)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let sys = sys_attrs(&params)?;
    match param(&params, "local") {
        None | Some("true") | Some("false") => {}
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "local must be true or false, not {other}"
            )))
        }
    }
    let filter = filter(&params, &rc.ctx)?;
    // §5.10.2.4: a query must say what it looks for.
    if filter.asks.is_empty()
        && filter.attrs.is_empty()
        && filter.q.is_none()
        && filter.csf.is_none()
        && filter.geo.is_none()
        && filter.scope_q.is_none()
        && filter.temporal.is_none()
    {
        return Err(Problem::bad_request_data(
            "a discovery query needs entity types (type), attribute names (attrs), ids, an \
             idPattern, q, csf, scopeQ, a geo-query or a temporal query",
        ));
    }
    let paging = negotiate::paging(&params, &broker)?;
    let page = broker
        .query_registrations(
            &RegistrationQuery {
                filter,
                limit: paging.limit,
                offset: paging.offset,
            },
            &rc.ctx,
        )
        .await?;
    let body = Value::Array(
        page.registrations
            .iter()
            .map(|r| r.render(&rc.ctx, sys))
            .collect(),
    );
    let mut response = negotiate::respond(StatusCode::OK, body, accept, &rc);
    paged(&mut response, REGISTRATIONS, &params, &paging, page.total);
    Ok(response)
}

pub async fn retrieve(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let params = negotiate::checked_params(raw.as_deref(), &["options"])?;
    check_id(&id, "registration")?;
    let sys = sys_attrs(&params)?;
    let rc: RequestContext = negotiate::context_of(&broker, &headers).await?;
    let stored = broker.registration(&id).await?;
    Ok(negotiate::respond(
        StatusCode::OK,
        stored.render(&rc.ctx, sys),
        accept,
        &rc,
    ))
}

pub async fn update(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    check_id(&id, "registration")?;
    readable_body(&headers, &body)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker.update_registration(&id, &rc.ctx, &body).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    check_id(&id, "registration")?;
    broker.delete_registration(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// --- /csourceSubscriptions ---

pub async fn subscribe(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    readable_body(&headers, &body)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let id = broker
        .create_csource_subscription(&rc.ctx, &rc.reference, &body)
        .await?;
    Ok(created(SUBSCRIPTIONS, &id))
}

pub async fn subscriptions(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let params = negotiate::checked_params(
        raw.as_deref(),
        &["limit", "offset", "count", "options", "local"],
    )?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let sys = sys_attrs(&params)?;
    let paging = negotiate::paging(&params, &broker)?;
    let page = broker
        .csource_subscriptions(paging.limit, paging.offset)
        .await?;
    let now = now_ms();
    let body = Value::Array(
        page.subscriptions
            .iter()
            .map(|s| render_csource_subscription(s, &rc.ctx, sys, now))
            .collect(),
    );
    let mut response = negotiate::respond(StatusCode::OK, body, accept, &rc);
    paged(
        &mut response,
        SUBSCRIPTIONS,
        &params,
        &paging,
        page.total.unwrap_or(0),
    );
    Ok(response)
}

pub async fn subscription(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let params = negotiate::checked_params(raw.as_deref(), &["options"])?;
    check_id(&id, "subscription")?;
    let sys = sys_attrs(&params)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let state = broker.csource_subscription(&id).await?;
    Ok(negotiate::respond(
        StatusCode::OK,
        render_csource_subscription(&state, &rc.ctx, sys, now_ms()),
        accept,
        &rc,
    ))
}

pub async fn update_subscription(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    check_id(&id, "subscription")?;
    readable_body(&headers, &body)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker
        .update_csource_subscription(&id, &rc.ctx, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unsubscribe(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    check_id(&id, "subscription")?;
    broker.delete_csource_subscription(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
