//! Handlers of `/entities` and `/entityOperations` (§6.4–6.5, 6.14–6.18, 6.31): extract,
//! call the broker, render.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::entities::UpsertMode;
use dothi_broker::query::EntityQuery;
use dothi_broker::{BatchError, BatchOutcome, Broker, BrokerError, Purge};
use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, AttrOutcome, Format, RenderOptions, LOCATION};
use dothi_ngsild::linked::{self, Join, LinkedRequest};
use dothi_ngsild::{geo, q, typesel};
use serde_json::{json, Value};

use crate::negotiate::{self, list_param, param, Accept, RequestContext};
use crate::Problem;

type Answer = Result<Response, Problem>;

/// The representation options of a read (`options`, `format`, `attrs`/`pick`, `lang`).
fn render_options(params: &[(String, String)], ctx: &Context) -> Result<RenderOptions, Problem> {
    let mut options = RenderOptions::default();
    let mut formats = Vec::new();
    for option in list_param(params, "options") {
        match option.as_str() {
            "keyValues" | "simplified" => formats.push(Format::KeyValues),
            "concise" => formats.push(Format::Concise),
            "normalized" => formats.push(Format::Normalized),
            "sysAttrs" => options.sys_attrs = true,
            // §6.3.7 (ETSI TP 018_16): an option the broker does not know is an invalid
            // request, not something to ignore silently.
            other => {
                return Err(Problem::invalid_request(format!(
                    "options may hold keyValues, concise, normalized and sysAttrs, not {other}"
                )))
            }
        }
    }
    if let Some(format) = param(params, "format") {
        formats.push(match format {
            "keyValues" | "simplified" => Format::KeyValues,
            "concise" => Format::Concise,
            "normalized" => Format::Normalized,
            other => {
                return Err(Problem::invalid_request(format!(
                    "format must be normalized, concise or keyValues, not {other}"
                )))
            }
        });
    }
    formats.dedup();
    options.format = match formats.as_slice() {
        [] => Format::Normalized,
        [one] => *one,
        _ => {
            return Err(Problem::bad_request_data(
                "options and format ask for more than one representation",
            ))
        }
    };
    let mut attrs = list_param(params, "attrs");
    attrs.extend(list_param(params, "pick"));
    if !attrs.is_empty() {
        options.attrs = Some(attrs.iter().map(|a| ctx.expand(a)).collect::<HashSet<_>>());
    }
    options.lang = param(params, "lang").map(str::to_string);
    Ok(options)
}

/// `join`/`joinLevel` and the `pick`/`omit` selections of linked entities (§4.5.23, §4.21);
/// None when the plain rendering applies.
fn linked_request(params: &[(String, String)]) -> Result<Option<LinkedRequest>, Problem> {
    LinkedRequest::parse(
        param(params, "join"),
        param(params, "joinLevel"),
        param(params, "pick"),
        param(params, "omit"),
    )
    .map_err(Problem::bad_request_data)
}

/// The parameters left for [`render_options`] when `linked` applies `pick`/`omit` itself.
fn unpicked(params: &[(String, String)], linked: &Option<LinkedRequest>) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| linked.is_none() || !matches!(k.as_str(), "pick" | "omit"))
        .cloned()
        .collect()
}

fn check_id(id: &str) -> Result<(), Problem> {
    if document::is_uri(id) {
        Ok(())
    } else {
        Err(Problem::bad_request_data(format!(
            "the entity id '{id}' is not a URI"
        )))
    }
}

/// A type selection (`type=A,B;C`) in disjunctive normal form, expanded.
fn type_selection(selection: &str, ctx: &Context) -> Result<Vec<Vec<String>>, Problem> {
    Ok(typesel::parse(selection)
        .map_err(|e| Problem::bad_request_data(format!("type: {e}")))?
        .into_iter()
        .map(|group| group.iter().map(|t| ctx.expand(t)).collect())
        .collect())
}

/// The type selector of a write (`?type=`, §4.17): an entity that does not match is 404.
async fn type_gate(
    broker: &Broker,
    id: &str,
    params: &[(String, String)],
    ctx: &Context,
) -> Result<(), Problem> {
    if let Some(selection) = param(params, "type") {
        let selection = type_selection(selection, ctx)?;
        broker.check_type(id, &selection).await?;
    }
    Ok(())
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub async fn create(State(broker): State<Broker>, headers: HeaderMap, body: Bytes) -> Answer {
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let id = broker.create_entity(&rc.ctx, &body).await?;
    let location = format!("/ngsi-ld/v1/entities/{id}");
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub async fn retrieve(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, true)?;
    let params = negotiate::params(raw.as_deref())?;
    check_id(&id)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let entity = broker.entity(&id).await?;
    if let Some(t) = param(&params, "type") {
        let wanted = rc.ctx.expand(t);
        if !entity.types.contains(&wanted) {
            return Err(Problem::not_found_detail(format!(
                "entity {id} is not of type {t}"
            )));
        }
    }
    if let Some(wanted) = &options.attrs {
        if !wanted.iter().any(|a| entity.attributes.contains_key(a)) {
            return Err(Problem::not_found_detail(format!(
                "entity {id} has none of the attributes asked for"
            )));
        }
    }
    if let Some(request) = linked.filter(|_| accept != Accept::GeoJson) {
        let roots = std::slice::from_ref(&entity);
        let links = broker.linked_entities(roots, request.level).await?;
        let mut out = linked::render(roots, &links, &request, &rc.ctx, &options);
        // Flat is an array only when there are linked entities to append (ETSI TP 018_14).
        let body = match request.join {
            Some(Join::Flat) if out.len() > 1 => Value::Array(out),
            _ => out.remove(0),
        };
        return Ok(negotiate::respond(StatusCode::OK, body, accept, &rc));
    }
    let body = match accept {
        Accept::GeoJson => {
            let geometry = geometry_property(&params, &rc.ctx);
            document::render_feature(&entity, &rc.ctx, &options, &geometry)
        }
        _ => Value::Object(document::render_entity(&entity, &rc.ctx, &options)),
    };
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
}

fn geometry_property(params: &[(String, String)], ctx: &Context) -> String {
    param(params, "geometryProperty")
        .map(|g| ctx.expand(g))
        .unwrap_or_else(|| LOCATION.to_string())
}

pub async fn delete(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    if param(&params, "type").is_some() {
        let rc = negotiate::context_of(&broker, &headers).await?;
        type_gate(&broker, &id, &params, &rc.ctx).await?;
    }
    broker.delete_entity(&id).await?;
    Ok(no_content())
}

/// System attributes: not a qualifying filter of a purge (§5.6.21.4).
const SYSTEM_ATTRIBUTES: &[&str] = &["createdAt", "modifiedAt", "deletedAt", "observedAt"];

fn q_has_user_attribute(query: &q::Query) -> bool {
    match query {
        q::Query::Term(term) => term
            .attribute
            .path
            .first()
            .is_some_and(|a| !SYSTEM_ATTRIBUTES.contains(&a.as_str())),
        q::Query::And(items) | q::Query::Or(items) => items.iter().any(q_has_user_attribute),
    }
}

/// Purge Entities (§5.6.21, `DELETE /entities`): the entities a query selects are deleted,
/// or lose the attributes of `drop`, or all attributes but those of `keep`.
pub async fn purge(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = negotiate::params(raw.as_deref())?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let keep = list_param(&params, "keep");
    let drop = list_param(&params, "drop");
    let attrs = list_param(&params, "attrs");
    let purge = match (keep.is_empty(), drop.is_empty()) {
        (false, false) => {
            return Err(Problem::bad_request_data(
                "keep and drop cannot be given together",
            ))
        }
        (false, true) => Purge::Keep(keep.iter().map(|a| rc.ctx.expand(a)).collect()),
        (true, false) => Purge::Drop(drop.iter().map(|a| rc.ctx.expand(a)).collect()),
        (true, true) => Purge::Entity,
    };
    let q_text = param(&params, "q");
    if attrs
        .iter()
        .chain(&keep)
        .chain(&drop)
        .any(|a| a.contains('{'))
        || q_text.is_some_and(|q| q.contains('{'))
    {
        return Err(Problem::bad_request_data(
            "a purge cannot select or project linked entities",
        ));
    }
    let q = match q_text {
        Some(text) => {
            Some(q::parse(text).map_err(|e| Problem::bad_request_data(format!("q: {e}")))?)
        }
        None => None,
    };
    let geo_given = param(&params, "georel").is_some();
    // §5.6.21.4: a type, a non-system attribute, a q over a non-system attribute, a geo-query
    // or local scope; an id or idPattern alone does not qualify.
    let qualified = param(&params, "type").is_some()
        || attrs
            .iter()
            .any(|a| !SYSTEM_ATTRIBUTES.contains(&a.as_str()))
        || q.as_ref().is_some_and(q_has_user_attribute)
        || geo_given
        || param(&params, "local") == Some("true");
    if !qualified {
        return Err(Problem::bad_request_data(
            "a purge needs a type, attrs, q or a geo-query (or local=true)",
        ));
    }
    let filters: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "id" | "idPattern"
                    | "type"
                    | "attrs"
                    | "q"
                    | "georel"
                    | "geometry"
                    | "coordinates"
                    | "geoproperty"
                    | "local"
            )
        })
        .cloned()
        .collect();
    let query = parse_query(&filters, &rc.ctx, &broker)?;
    let ctx = rc.ctx.clone();
    let expand = move |term: &str| ctx.expand(term);
    broker.purge_entities(&query, &expand, &purge).await?;
    Ok(no_content())
}

/// Merge or Replace Entity without an id in the path (`PATCH /entities/`).
pub async fn missing_id() -> Answer {
    Err(Problem::bad_request_data(
        "the entity id is missing from the path",
    ))
}

pub async fn merge(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker.merge_entity(&id, &rc.ctx, &body).await?;
    Ok(no_content())
}

pub async fn replace(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker.replace_entity(&id, &rc.ctx, &body).await?;
    Ok(no_content())
}

/// 204 when every attribute changed, 207 with `updated`/`notUpdated` otherwise (§6.6.3.1).
fn attr_outcome(outcome: AttrOutcome, rc: &RequestContext) -> Response {
    if outcome.not_updated.is_empty() {
        return no_content();
    }
    let body = json!({
        "updated": outcome.updated.iter().map(|a| rc.ctx.compact(a)).collect::<Vec<_>>(),
        "notUpdated": outcome.not_updated.iter().map(|(a, reason)| json!({
            "attributeName": rc.ctx.compact(a),
            "reason": reason,
        })).collect::<Vec<_>>(),
    });
    negotiate::respond(StatusCode::MULTI_STATUS, body, Accept::Json, rc)
}

pub async fn append(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    let overwrite = !list_param(&params, "options")
        .iter()
        .any(|o| o == "noOverwrite");
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    type_gate(&broker, &id, &params, &rc.ctx).await?;
    let outcome = broker
        .append_attributes(&id, &rc.ctx, &body, overwrite)
        .await?;
    Ok(attr_outcome(outcome, &rc))
}

pub async fn update(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    type_gate(&broker, &id, &params, &rc.ctx).await?;
    let outcome = broker.update_attributes(&id, &rc.ctx, &body).await?;
    Ok(attr_outcome(outcome, &rc))
}

pub async fn partial_update(
    State(broker): State<Broker>,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    type_gate(&broker, &id, &params, &rc.ctx).await?;
    broker
        .partial_update_attribute(&id, &attr, &rc.ctx, &body)
        .await?;
    Ok(no_content())
}

pub async fn replace_attribute(
    State(broker): State<Broker>,
    Path((id, attr)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker.replace_attribute(&id, &attr, &rc.ctx, &body).await?;
    Ok(no_content())
}

pub async fn delete_attribute(
    State(broker): State<Broker>,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let delete_all = match param(&params, "deleteAll") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "deleteAll must be true or false, not {other}"
            )))
        }
    };
    let dataset_id = param(&params, "datasetId");
    type_gate(&broker, &id, &params, &rc.ctx).await?;
    broker
        .delete_attribute(&id, &attr, &rc.ctx, dataset_id, delete_all)
        .await?;
    Ok(no_content())
}

// ---------------------------------------------------------------------------------------------
// Query

fn parse_query(
    params: &[(String, String)],
    ctx: &Context,
    broker: &Broker,
) -> Result<EntityQuery, Problem> {
    let ids = list_param(params, "id");
    for id in &ids {
        check_id(id)?;
    }
    let id_pattern = param(params, "idPattern").map(str::to_string);
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
    let attrs: Vec<String> = list_param(params, "attrs")
        .iter()
        .map(|a| ctx.expand(a))
        .collect();
    let q = match param(params, "q") {
        Some(text) => {
            Some(q::parse(text).map_err(|e| Problem::bad_request_data(format!("q: {e}")))?)
        }
        None => None,
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
            Some((query, property))
        }
        _ => {
            return Err(Problem::bad_request_data(
                "a geo-query needs georel, geometry and coordinates together",
            ))
        }
    };
    let number = |name: &str, default: u32| -> Result<u32, Problem> {
        match param(params, name) {
            None => Ok(default),
            Some(v) => v.parse::<u32>().map_err(|_| {
                Problem::bad_request_data(format!("{name} must be a non-negative integer, not {v}"))
            }),
        }
    };
    let limit = number("limit", broker.config.default_limit)?;
    if limit > broker.config.max_limit {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "TooManyResults",
            "Too many results",
            format!("limit may be at most {}", broker.config.max_limit),
        ));
    }
    let count = match param(params, "count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "count must be true or false, not {other}"
            )))
        }
    };
    if limit == 0 && !count {
        return Err(Problem::bad_request_data(
            "limit=0 is only allowed with count=true",
        ));
    }
    let restricted = !ids.is_empty()
        || id_pattern.is_some()
        || types.is_some()
        || !attrs.is_empty()
        || q.is_some()
        || geo.is_some()
        || param(params, "local") == Some("true");
    if !restricted {
        return Err(Problem::bad_request_data(
            "a query needs at least one of id, idPattern, type, attrs, q or a geo-query",
        ));
    }
    Ok(EntityQuery {
        ids,
        id_pattern,
        types,
        attrs,
        q,
        geo,
        limit,
        offset: number("offset", 0)?,
        count,
    })
}

pub async fn query(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let accept = negotiate::accept(&headers, true)?;
    let params = negotiate::params(raw.as_deref())?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let query = parse_query(&params, &rc.ctx, &broker)?;
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let geometry = geometry_property(&params, &rc.ctx);
    run_query(&broker, &query, &options, accept, &rc, &geometry, linked).await
}

async fn run_query(
    broker: &Broker,
    query: &EntityQuery,
    options: &RenderOptions,
    accept: Accept,
    rc: &RequestContext,
    geometry: &str,
    linked: Option<LinkedRequest>,
) -> Answer {
    let ctx = rc.ctx.clone();
    let expand = move |term: &str| ctx.expand(term);
    let page = broker.query_entities(query, &expand).await?;
    let body = match (accept, linked) {
        (Accept::GeoJson, _) | (_, None) => None,
        (_, Some(request)) => {
            let links = broker
                .linked_entities(&page.entities, request.level)
                .await?;
            let out = linked::render(&page.entities, &links, &request, &rc.ctx, options);
            Some(Value::Array(out))
        }
    };
    let body = body.unwrap_or_else(|| match accept {
        Accept::GeoJson => json!({
            "type": "FeatureCollection",
            "features": page.entities.iter()
                .map(|e| document::render_feature(e, &rc.ctx, options, geometry))
                .collect::<Vec<_>>(),
        }),
        _ => Value::Array(
            page.entities
                .iter()
                .map(|e| Value::Object(document::render_entity(e, &rc.ctx, options)))
                .collect(),
        ),
    });
    let mut response = negotiate::respond(StatusCode::OK, body, accept, rc);
    if let Some(total) = page.total {
        response
            .headers_mut()
            .insert("NGSILD-Results-Count", HeaderValue::from(total));
    }
    Ok(response)
}

/// Query Entities via POST (§6.23): a `Query` document instead of URL parameters.
pub async fn batch_query(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let accept = negotiate::accept(&headers, true)?;
    let url_params = negotiate::params(raw.as_deref())?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let Some(object) = body.as_object() else {
        return Err(Problem::bad_request_data("the body must be a Query object"));
    };
    if object.get("type").and_then(Value::as_str) != Some("Query") {
        return Err(Problem::bad_request_data(
            "the body's type must be \"Query\"",
        ));
    }
    // The document's members become the equivalent URL parameters.
    let mut params: Vec<(String, String)> = url_params
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "limit" | "offset" | "count" | "options" | "format"
            )
        })
        .collect();
    if let Some(entities) = object.get("entities").and_then(Value::as_array) {
        let types: Vec<&str> = entities
            .iter()
            .filter_map(|e| e.get("type")?.as_str())
            .collect();
        if !types.is_empty() {
            params.push(("type".into(), types.join(",")));
        }
        let ids: Vec<&str> = entities
            .iter()
            .filter_map(|e| e.get("id")?.as_str())
            .collect();
        if !ids.is_empty() {
            params.push(("id".into(), ids.join(",")));
        }
        if let Some(p) = entities.iter().find_map(|e| e.get("idPattern")?.as_str()) {
            params.push(("idPattern".into(), p.to_string()));
        }
    }
    match object.get("attrs") {
        Some(Value::Array(attrs)) => {
            let names: Vec<&str> = attrs.iter().filter_map(Value::as_str).collect();
            params.push(("attrs".into(), names.join(",")));
        }
        Some(Value::String(a)) => params.push(("attrs".into(), a.clone())),
        _ => {}
    }
    if let Some(q) = object.get("q").and_then(Value::as_str) {
        params.push(("q".into(), q.to_string()));
    }
    for member in ["join", "joinLevel"] {
        match object.get(member) {
            Some(Value::String(v)) => params.push((member.into(), v.clone())),
            Some(v @ Value::Number(_)) => params.push((member.into(), v.to_string())),
            _ => {}
        }
    }
    if let Some(geo_q) = object.get("geoQ").and_then(Value::as_object) {
        for (member, name) in [
            ("georel", "georel"),
            ("geometry", "geometry"),
            ("geoproperty", "geoproperty"),
        ] {
            if let Some(v) = geo_q.get(member).and_then(Value::as_str) {
                params.push((name.into(), v.to_string()));
            }
        }
        if let Some(c) = geo_q.get("coordinates") {
            let text = match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.push(("coordinates".into(), text));
        }
    }
    let query = parse_query(&params, &rc.ctx, &broker)?;
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let geometry = geometry_property(&params, &rc.ctx);
    run_query(&broker, &query, &options, accept, &rc, &geometry, linked).await
}

// ---------------------------------------------------------------------------------------------
// Batch operations

/// The items of a batch body and its context. An item whose `@context` does not fit the
/// Content-Type (one with application/json, none with application/ld+json) fails alone; a
/// null item fails the whole batch (§5.6.7.4).
async fn batch_body(
    broker: &Broker,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Value, Vec<BatchError>, RequestContext), Problem> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) if items.iter().any(|i| !i.is_string()) => items,
        _ => {
            let (value, rc) = negotiate::body_and_context(broker, headers, body).await?;
            return Ok((value, Vec::new(), rc));
        }
    };
    if items.iter().any(Value::is_null) {
        return Err(Problem::bad_request_data("a batch item is null"));
    }
    let ld = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with(negotiate::JSON_LD)
        });
    let (good, bad): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| !item.is_object() || item.get("@context").is_some() == ld);
    let errors = bad
        .iter()
        .map(|item| BatchError {
            entity_id: item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            error: BrokerError::BadRequestData(if ld {
                "with Content-Type application/ld+json each entity carries an @context".into()
            } else {
                "with Content-Type application/json an entity cannot carry an @context".into()
            }),
        })
        .collect();
    if good.is_empty() {
        let rc = negotiate::context_of(broker, headers).await?;
        return Ok((Value::Array(good), errors, rc));
    }
    let good = Bytes::from(Value::Array(good).to_string());
    let (value, rc) = negotiate::body_and_context(broker, headers, &good).await?;
    Ok((value, errors, rc))
}

fn batch_items<'a>(body: &'a Value, rejected: &[BatchError]) -> Result<&'a [Value], Problem> {
    match body.as_array() {
        Some(items) if !items.is_empty() || !rejected.is_empty() => Ok(items),
        Some(_) => Err(Problem::bad_request_data("the batch is empty")),
        None => Err(Problem::bad_request_data(
            "a batch operation takes a JSON array",
        )),
    }
}

/// The 207 body of a batch with failures (§5.2.16 BatchOperationResult).
fn batch_result(outcome: &BatchOutcome) -> Value {
    json!({
        "success": outcome.success,
        "errors": outcome.errors.iter().map(|e| json!({
            "entityId": e.entity_id,
            "error": Problem::from(e.error.clone()).body(),
        })).collect::<Vec<_>>(),
    })
}

fn batch_answer(outcome: BatchOutcome, success: Response, rc: &RequestContext) -> Response {
    if outcome.errors.is_empty() {
        success
    } else {
        negotiate::respond(
            StatusCode::MULTI_STATUS,
            batch_result(&outcome),
            Accept::Json,
            rc,
        )
    }
}

fn ids_body(ids: &[String]) -> Response {
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, negotiate::JSON)],
        Value::from(ids.to_vec()).to_string(),
    )
        .into_response()
}

pub async fn batch_create(State(broker): State<Broker>, headers: HeaderMap, body: Bytes) -> Answer {
    let (body, rejected, rc) = batch_body(&broker, &headers, &body).await?;
    let items = batch_items(&body, &rejected)?;
    let mut outcome = if items.is_empty() {
        BatchOutcome::default()
    } else {
        broker.batch_create(&rc.ctx, items).await?
    };
    outcome.errors.extend(rejected);
    let created = ids_body(&outcome.success);
    Ok(batch_answer(outcome, created, &rc))
}

pub async fn batch_upsert(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let params = negotiate::params(raw.as_deref())?;
    let mode = if list_param(&params, "options").iter().any(|o| o == "update") {
        UpsertMode::Update
    } else {
        UpsertMode::Replace
    };
    let (body, rejected, rc) = batch_body(&broker, &headers, &body).await?;
    let items = batch_items(&body, &rejected)?;
    let mut outcome = if items.is_empty() {
        BatchOutcome::default()
    } else {
        broker.batch_upsert(&rc.ctx, items, mode).await?
    };
    outcome.errors.extend(rejected);
    let success = if outcome.created.is_empty() {
        no_content()
    } else {
        ids_body(&outcome.created)
    };
    Ok(batch_answer(outcome, success, &rc))
}

pub async fn batch_update(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let params = negotiate::params(raw.as_deref())?;
    let overwrite = !list_param(&params, "options")
        .iter()
        .any(|o| o == "noOverwrite");
    let (body, rejected, rc) = batch_body(&broker, &headers, &body).await?;
    let items = batch_items(&body, &rejected)?;
    let mut outcome = if items.is_empty() {
        BatchOutcome::default()
    } else {
        broker.batch_update(&rc.ctx, items, overwrite).await?
    };
    outcome.errors.extend(rejected);
    Ok(batch_answer(outcome, no_content(), &rc))
}

pub async fn batch_merge(State(broker): State<Broker>, headers: HeaderMap, body: Bytes) -> Answer {
    let (body, rejected, rc) = batch_body(&broker, &headers, &body).await?;
    let items = batch_items(&body, &rejected)?;
    let mut outcome = if items.is_empty() {
        BatchOutcome::default()
    } else {
        broker.batch_merge(&rc.ctx, items).await?
    };
    outcome.errors.extend(rejected);
    Ok(batch_answer(outcome, no_content(), &rc))
}

pub async fn batch_delete(State(broker): State<Broker>, headers: HeaderMap, body: Bytes) -> Answer {
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let items = batch_items(&body, &[])?;
    let outcome = broker.batch_delete(items).await?;
    Ok(batch_answer(outcome, no_content(), &rc))
}
