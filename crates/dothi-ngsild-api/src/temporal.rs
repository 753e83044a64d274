//! Handlers of `/temporal/entities` (§6.18–6.21): the temporal evolution of entities in the
//! normalized, simplified (`temporalValues`) and aggregated (`aggregatedValues`) temporal
//! representations (§4.5.7, 4.5.9, 4.5.19), and the temporal writes. The semantics, and the
//! choices where the specification leaves room, are in `dothi_broker::temporal`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::query::EntityQuery;
use dothi_broker::temporal::{
    self, Aggregation, InstanceRange, SeriesData, TemporalEntity, TemporalInstance,
    TemporalRequest, TemporalSeries, TimeProperty, TimeRel,
};
use dothi_broker::Broker;
use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, Format, RenderOptions};
use dothi_ngsild::entity::AttributeKind;
use serde_json::{Map, Value};

use crate::negotiate::{self, list_param, param, RequestContext};
use crate::selection::{self, check_id};
use crate::Problem;

type Answer = Result<Response, Problem>;

/// The temporal representation asked (`options`/`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    Normalized,
    Concise,
    Simplified,
    Aggregated,
}

/// How to read and render: the broker's request and the representation.
struct Reading {
    request: TemporalRequest,
    representation: Representation,
    sys_attrs: bool,
}

fn representation_of(name: &str) -> Option<Representation> {
    Some(match name {
        "normalized" => Representation::Normalized,
        "concise" => Representation::Concise,
        // keyValues/simplified have no temporal form of their own: they ask for the
        // simplified temporal representation.
        "temporalValues" | "simplified" | "keyValues" => Representation::Simplified,
        "aggregatedValues" => Representation::Aggregated,
        _ => return None,
    })
}

fn reading(params: &[(String, String)], ctx: &Context) -> Result<Reading, Problem> {
    let mut chosen = Vec::new();
    let mut sys_attrs = false;
    for option in list_param(params, "options") {
        if option == "sysAttrs" {
            sys_attrs = true;
        } else if let Some(r) = representation_of(&option) {
            chosen.push(r);
        } else {
            return Err(Problem::invalid_request(format!(
                "options: {option} is not one of sysAttrs, normalized, concise, \
                 temporalValues, aggregatedValues"
            )));
        }
    }
    // `format` takes precedence over the representation named in `options` (§6.3.7).
    if let Some(format) = param(params, "format") {
        chosen = vec![representation_of(format).ok_or_else(|| {
            Problem::invalid_request(format!(
                "format must be normalized, concise, temporalValues or aggregatedValues, not \
                 {format}"
            ))
        })?];
    }
    chosen.dedup();
    let representation = match chosen.as_slice() {
        [] => Representation::Normalized,
        [one] => *one,
        _ => {
            return Err(Problem::bad_request_data(
                "options and format ask for more than one temporal representation",
            ))
        }
    };
    let timerel = TimeRel::parse(
        param(params, "timerel"),
        param(params, "timeAt").or_else(|| param(params, "time")),
        param(params, "endTimeAt").or_else(|| param(params, "endTime")),
    )?;
    let time_property = TimeProperty::parse(param(params, "timeproperty"))?;
    let last_n = match param(params, "lastN") {
        None => None,
        Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Problem::bad_request_data(format!("lastN must be a positive integer, not {v}"))
        })?),
    };
    let aggregation = if representation == Representation::Aggregated {
        Some(Aggregation {
            methods: temporal::parse_aggr_methods(param(params, "aggrMethods").unwrap_or(""))?,
            period_ms: temporal::parse_duration(
                param(params, "aggrPeriodDuration").unwrap_or("PT0S"),
            )?,
        })
    } else {
        None
    };
    // `datasetId` (§6.18.3.2): `@none` names the default instance.
    let dataset_ids = param(params, "datasetId").map(|_| {
        list_param(params, "datasetId")
            .into_iter()
            .map(|d| (d != "@none").then_some(d))
            .collect()
    });
    let mut attrs: Vec<String> = list_param(params, "attrs")
        .iter()
        .map(|a| ctx.expand(a))
        .collect();
    attrs.dedup();
    Ok(Reading {
        request: TemporalRequest {
            attrs,
            timerel,
            last_n,
            aggregation,
            descending: false,
            dataset_ids,
            time_property,
        },
        representation,
        sys_attrs,
    })
}

/// `pick` and `omit` (§4.21): the members of each temporal entity to keep or to leave out.
struct Projection {
    pick: Vec<String>,
    omit: Vec<String>,
}

fn projection(params: &[(String, String)], ctx: &Context) -> Result<Option<Projection>, Problem> {
    let pick = list_param(params, "pick");
    let omit = list_param(params, "omit");
    if pick.is_empty() && omit.is_empty() {
        return Ok(None);
    }
    if !list_param(params, "attrs").is_empty() {
        return Err(Problem::bad_request_data(
            "pick and omit cannot be used together with attrs",
        ));
    }
    for member in pick.iter().chain(&omit) {
        if member.contains(['{', '}', '.', '[', ']']) {
            return Err(Problem::bad_request_data(format!(
                "pick/omit: '{member}' is a linked or nested projection, which the temporal \
                 API does not have"
            )));
        }
    }
    if let Some(both) = pick.iter().find(|m| omit.contains(m)) {
        return Err(Problem::bad_request_data(format!(
            "'{both}' is in both pick and omit"
        )));
    }
    let expand = |list: Vec<String>| list.iter().map(|m| ctx.expand(m)).collect();
    Ok(Some(Projection {
        pick: expand(pick),
        omit: expand(omit),
    }))
}

/// Keeps the members `projection` selects; `@context` always stays.
fn project(body: Value, projection: Option<&Projection>, ctx: &Context) -> Value {
    let (Some(p), Value::Object(members)) = (projection, &body) else {
        return body;
    };
    let keep = |key: &str| {
        if key == "@context" {
            return true;
        }
        let name = ctx.expand(key);
        (p.pick.is_empty() || p.pick.contains(&name)) && !p.omit.contains(&name)
    };
    Value::Object(
        members
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Whether a projected entity has nothing left but its `@context`.
fn is_empty_entity(body: &Value) -> bool {
    body.as_object()
        .is_some_and(|o| o.keys().all(|k| k == "@context"))
}

/// `orderBy` of a temporal query (§5.7.4.4): only `id`, ascending or descending.
fn descending(params: &[(String, String)]) -> Result<bool, Problem> {
    match param(params, "orderBy") {
        None | Some("id") | Some("id;asc") => Ok(false),
        Some("id;desc") => Ok(true),
        Some(other) => Err(Problem::bad_request_data(format!(
            "orderBy: a temporal query is ordered by id only (id, id;asc or id;desc), not \
             {other}"
        ))),
    }
}

/// 206 Partial Content with `Content-Range: date-time start-end/size` when the instance limit
/// cut the answer (§6.3.10).
fn with_range(mut response: Response, range: Option<InstanceRange>) -> Response {
    let Some(range) = range else {
        return response;
    };
    let size = range.size.map_or("*".to_string(), |n| n.to_string());
    let text = format!(
        "date-time {}-{}/{size}",
        format_bound(range.start),
        format_bound(range.end)
    );
    if let Ok(v) = HeaderValue::from_str(&text) {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    response
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn compact_vocab(value: &Value, ctx: &Context) -> Value {
    match value {
        Value::String(s) => Value::String(ctx.compact(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| compact_vocab(v, ctx)).collect()),
        other => other.clone(),
    }
}

/// The member of the simplified temporal representation (§4.5.9) and the first element of
/// each of its pairs.
fn simplified_point(kind: AttributeKind, value: &Value, ctx: &Context) -> (&'static str, Value) {
    let wrap = |member: &str, v: Value| {
        let mut o = Map::new();
        o.insert(member.into(), v);
        Value::Object(o)
    };
    match kind {
        AttributeKind::Property | AttributeKind::GeoProperty => ("values", value.clone()),
        AttributeKind::Relationship => ("objects", value.clone()),
        AttributeKind::LanguageProperty => ("languageMaps", wrap("languageMap", value.clone())),
        AttributeKind::JsonProperty => ("jsons", wrap("json", value.clone())),
        AttributeKind::VocabProperty => ("vocabs", wrap("vocab", compact_vocab(value, ctx))),
        AttributeKind::ListProperty => ("valueLists", value.clone()),
        AttributeKind::ListRelationship => ("objectLists", value.clone()),
    }
}

fn series_header(series: &TemporalSeries) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("type".into(), Value::String(series.kind.as_str().into()));
    if let Some(d) = &series.dataset_id {
        out.insert("datasetId".into(), Value::String(d.clone()));
    }
    out
}

/// A period bound: UTC, with a fraction of a second only when there is one.
fn format_bound(ms: i64) -> String {
    let text = document::format_time(ms);
    match text.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => text,
    }
}

/// The time of an instance in the request's time property: `observedAt` as given, else the
/// time the read is on (an instance without `observedAt` is at its modification time).
fn time_of(instance: &TemporalInstance, time_property: TimeProperty) -> String {
    match (time_property, &instance.attribute.observed_at) {
        (TimeProperty::ObservedAt, Some(given)) => given.clone(),
        _ => document::format_time(instance.at),
    }
}

/// One series in the simplified or aggregated representation.
fn render_series(series: &TemporalSeries, reading: &Reading, ctx: &Context) -> Value {
    let mut out = series_header(series);
    match &series.data {
        SeriesData::Instances(instances) => {
            let member = simplified_point(series.kind, &Value::Null, ctx).0;
            let points: Vec<Value> = instances
                .iter()
                .map(|i| {
                    let time = time_of(i, reading.request.time_property);
                    let (_, point) = simplified_point(i.attribute.kind, &i.attribute.value, ctx);
                    Value::Array(vec![point, Value::String(time)])
                })
                .collect();
            out.insert(member.into(), Value::Array(points));
        }
        SeriesData::Aggregated(periods) => {
            let methods = reading
                .request
                .aggregation
                .as_ref()
                .map(|a| a.methods.clone())
                .unwrap_or_default();
            // Formatted once: a year of hourly periods is 8,760 of them per method.
            let bounds: Vec<(Value, Value)> = periods
                .iter()
                .map(|p| {
                    (
                        Value::String(format_bound(p.start)),
                        Value::String(format_bound(p.end)),
                    )
                })
                .collect();
            for method in methods {
                let points: Vec<Value> = periods
                    .iter()
                    .zip(&bounds)
                    .filter_map(|(p, (start, end))| {
                        let (_, v) = p.values.iter().find(|(m, _)| *m == method)?;
                        Some(Value::Array(vec![v.clone(), start.clone(), end.clone()]))
                    })
                    .collect();
                out.insert(method.name().into(), Value::Array(points));
            }
        }
    }
    Value::Object(out)
}

/// The instances of one attribute in the normalized (or concise) temporal representation.
fn render_instances(series: &[&TemporalSeries], reading: &Reading, ctx: &Context) -> Value {
    let options = RenderOptions {
        format: if reading.representation == Representation::Concise {
            Format::Concise
        } else {
            Format::Normalized
        },
        sys_attrs: reading.sys_attrs,
        ..RenderOptions::default()
    };
    let mut out = Vec::new();
    for s in series {
        let SeriesData::Instances(instances) = &s.data else {
            continue;
        };
        for i in instances {
            let rendered =
                document::render_attribute(std::slice::from_ref(&i.attribute), ctx, &options);
            let mut object = match rendered {
                Value::Object(o) => o,
                bare => {
                    let mut o = Map::new();
                    o.insert("value".into(), bare);
                    o
                }
            };
            object.insert("instanceId".into(), Value::String(i.instance_id.clone()));
            // Every instance carries the time the read is on.
            let time_property = reading.request.time_property;
            if time_property != TimeProperty::ObservedAt || !object.contains_key("observedAt") {
                object.insert(
                    time_property.name().into(),
                    Value::String(time_of(i, time_property)),
                );
            }
            out.push(Value::Object(object));
        }
    }
    Value::Array(out)
}

fn render(entity: &TemporalEntity, reading: &Reading, ctx: &Context) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::String(entity.id.clone()));
    out.insert("type".into(), document::render_types(&entity.types, ctx));
    // The scope's temporal evolution is that of a Property (§4.5.6); it is not aggregated.
    if let Some(scope) = &entity.scope {
        let value = match reading.representation {
            Representation::Normalized | Representation::Concise => {
                Some(render_instances(&[scope], reading, ctx))
            }
            Representation::Simplified => Some(render_series(scope, reading, ctx)),
            Representation::Aggregated => None,
        };
        out.extend(value.map(|v| ("scope".to_string(), v)));
    }
    let mut i = 0;
    while i < entity.series.len() {
        let attr = &entity.series[i].attr;
        let group: Vec<&TemporalSeries> = entity.series[i..]
            .iter()
            .take_while(|s| &s.attr == attr)
            .collect();
        i += group.len();
        let value = match reading.representation {
            Representation::Normalized | Representation::Concise => {
                render_instances(&group, reading, ctx)
            }
            Representation::Simplified | Representation::Aggregated => match group.as_slice() {
                [one] => render_series(one, reading, ctx),
                many => Value::Array(
                    many.iter()
                        .map(|s| render_series(s, reading, ctx))
                        .collect(),
                ),
            },
        };
        out.insert(ctx.compact(attr), value);
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Reads

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
    let projection = projection(&params, &rc.ctx)?;
    let reading = reading(&params, &rc.ctx)?;
    let (entity, range) = broker.temporal_entity(&id, &reading.request).await?;
    if let Some(t) = param(&params, "type") {
        if !entity.types.contains(&rc.ctx.expand(t)) {
            return Err(Problem::not_found_detail(format!(
                "entity {id} is not of type {t}"
            )));
        }
    }
    // Only attributes that the entity has never had: nothing to show (§5.7.3.4). (Having no
    // deletions is no such sign.)
    if !reading.request.attrs.is_empty()
        && reading.request.timerel.is_none()
        && reading.request.time_property != TimeProperty::DeletedAt
        && entity.series.is_empty()
    {
        return Err(Problem::not_found_detail(format!(
            "entity {id} has no history of the attributes asked"
        )));
    }
    let body = project(
        render(&entity, &reading, &rc.ctx),
        projection.as_ref(),
        &rc.ctx,
    );
    if is_empty_entity(&body) {
        return Err(Problem::not_found_detail(format!(
            "pick/omit leave nothing of the entity {id}"
        )));
    }
    Ok(with_range(
        negotiate::respond(StatusCode::OK, body, accept, &rc),
        range,
    ))
}

/// The entity selection of a temporal query (§6.18.3.2); `attrs` goes to the temporal
/// request, not here.
fn entity_selection(
    params: &[(String, String)],
    ctx: &Context,
    broker: &Broker,
) -> Result<EntityQuery, Problem> {
    let selection = selection::parse(params, ctx)?;
    let negotiate::Paging {
        limit,
        offset,
        count,
    } = negotiate::paging(params, broker)?;
    // §5.7.4.4: ids alone, or attrs and q that name only system attributes, do not restrict
    // enough.
    let restricted = selection.types.is_some()
        || selection.all_types
        || selection.names_user_attribute()
        || selection.geo.is_some()
        || selection.local == Some(true);
    if !restricted {
        return Err(Problem::bad_request_data(
            "a temporal query needs at least one of type, attrs, q or a geo-query (system attributes alone do not count)",
        ));
    }
    Ok(EntityQuery {
        ids: selection.ids,
        id_pattern: selection.id_pattern,
        types: selection.types,
        attrs: Vec::new(),
        q: selection.q,
        geo: selection.geo,
        limit,
        offset,
        count,
        scope_q: selection.scope_q,
        ..EntityQuery::default()
    })
}

/// The parameters of Query Temporal Evolution of Entities (§6.18.3.1); others are refused.
const TEMPORAL_QUERY_PARAMS: &[&str] = &[
    "id",
    "type",
    "idPattern",
    "attrs",
    "pick",
    "omit",
    "q",
    "csf",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "timeproperty",
    "timerel",
    "timeAt",
    "endTimeAt",
    "time",
    "endTime",
    "lastN",
    "aggrMethods",
    "aggrPeriodDuration",
    "options",
    "format",
    "lang",
    "limit",
    "offset",
    "count",
    "local",
    "datasetId",
    "orderBy",
    "collation",
    "expandValues",
    "entityMap",
    "via",
];

pub async fn query(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = negotiate::checked_params(raw.as_deref(), TEMPORAL_QUERY_PARAMS)?;
    let accept = negotiate::accept(&headers, false)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    run_query(&broker, &params, accept, &rc).await
}

/// Query Temporal Evolution of Entities via POST (§6.24.3.1): the members of the `Query`
/// document (§5.2.23) become the equivalent URL parameters; `limit`, `offset`, `count`,
/// `options` and `format` stay in the URL.
pub async fn query_post(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let accept = negotiate::accept(&headers, false)?;
    let url_params = negotiate::params(raw.as_deref())?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let params = query_params(&body, url_params)?;
    run_query(&broker, &params, accept, &rc).await
}

/// A string member, or the comma-separated items of an array of strings.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn query_params(
    body: &Value,
    url_params: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Problem> {
    let Some(object) = body.as_object() else {
        return Err(Problem::bad_request_data("the body must be a Query object"));
    };
    if object.get("type").and_then(Value::as_str) != Some("Query") {
        return Err(Problem::bad_request_data(
            "the body's type must be \"Query\"",
        ));
    }
    let mut params: Vec<(String, String)> = url_params
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "limit" | "offset" | "count" | "options" | "format"
            )
        })
        .collect();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            params.push((name.to_string(), v));
        }
    };
    if let Some(entities) = object.get("entities").and_then(Value::as_array) {
        let all = |member: &str| -> Option<String> {
            let items: Vec<&str> = entities
                .iter()
                .filter_map(|e| e.get(member)?.as_str())
                .collect();
            (!items.is_empty()).then(|| items.join(","))
        };
        push("type", all("type"));
        push("id", all("id"));
        push(
            "idPattern",
            entities
                .iter()
                .find_map(|e| e.get("idPattern")?.as_str())
                .map(str::to_string),
        );
    }
    for member in ["attrs", "q", "datasetId", "pick", "omit", "lang", "scopeQ"] {
        push(member, object.get(member).and_then(text_of));
    }
    if let Some(geo_q) = object.get("geoQ").and_then(Value::as_object) {
        for member in ["georel", "geometry", "coordinates", "geoproperty"] {
            push(member, geo_q.get(member).and_then(text_of));
        }
    }
    let mut aggregated = false;
    if let Some(temporal_q) = object.get("temporalQ").and_then(Value::as_object) {
        for member in [
            "timerel",
            "timeAt",
            "endTimeAt",
            "timeproperty",
            "lastN",
            "aggrPeriodDuration",
        ] {
            push(member, temporal_q.get(member).and_then(text_of));
        }
        if let Some(methods) = temporal_q.get("aggrMethods").and_then(text_of) {
            aggregated = true;
            push("aggrMethods", Some(methods));
        }
    }
    if let Some(aggr) = object.get("aggrParams").and_then(Value::as_object) {
        aggregated = true;
        push("aggrMethods", aggr.get("aggrMethods").and_then(text_of));
        push(
            "aggrPeriodDuration",
            aggr.get("aggrPeriodDuration").and_then(text_of),
        );
    }
    // Aggregation parameters ask for the aggregated representation.
    if aggregated && param(&params, "format").is_none() {
        params.retain(|(k, _)| k != "options");
        params.push(("options".into(), "aggregatedValues".into()));
    }
    Ok(params)
}

async fn run_query(
    broker: &Broker,
    params: &[(String, String)],
    accept: negotiate::Accept,
    rc: &RequestContext,
) -> Answer {
    let params = params.to_vec();
    let descending = descending(&params)?;
    let projection = projection(&params, &rc.ctx)?;
    let mut reading = reading(&params, &rc.ctx)?;
    reading.request.descending = descending;
    if reading.request.timerel.is_none() {
        return Err(Problem::bad_request_data(
            "Query Temporal Evolution needs a temporal query: timerel with timeAt (and \
             endTimeAt for between)",
        ));
    }
    let query = entity_selection(&params, &rc.ctx, broker)?;
    let ctx = rc.ctx.clone();
    let expand = move |term: &str| ctx.expand(term);
    let page = broker
        .query_temporal(&query, &reading.request, &expand)
        .await?;
    let body = Value::Array(
        page.entities
            .iter()
            .map(|e| project(render(e, &reading, &rc.ctx), projection.as_ref(), &rc.ctx))
            .filter(|e| !is_empty_entity(e))
            .collect(),
    );
    let mut response = with_range(
        negotiate::respond(StatusCode::OK, body, accept, rc),
        page.range,
    );
    if let Some(total) = page.total {
        response
            .headers_mut()
            .insert("NGSILD-Results-Count", HeaderValue::from(total));
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Create or Update Temporal Representation of an Entity (§6.18.3.1): 201 when the entity was
/// created, 204 when instances were added to an existing one.
pub async fn create(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    let created = broker.create_temporal(&rc.ctx, &body).await?;
    if !created {
        return Ok(no_content());
    }
    let mut response = StatusCode::CREATED.into_response();
    let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&format!("/ngsi-ld/v1/temporal/entities/{id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub async fn delete(State(broker): State<Broker>, Path(id): Path<String>) -> Answer {
    check_id(&id)?;
    broker.delete_temporal(&id).await?;
    Ok(no_content())
}

/// Add Attributes to Temporal Representation of an Entity (§6.20.3.1).
pub async fn append(
    State(broker): State<Broker>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check_id(&id)?;
    let (body, rc) = negotiate::body_and_context(&broker, &headers, &body).await?;
    broker
        .append_temporal_attributes(&id, &rc.ctx, &body)
        .await?;
    Ok(no_content())
}

/// Delete Attribute Instance from Temporal Representation of an Entity (§6.22.3.2).
pub async fn delete_instance(
    State(broker): State<Broker>,
    Path((id, attr, instance)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    check_id(&id)?;
    document::check_name(&attr).map_err(|e| Problem::bad_request_data(e.to_string()))?;
    let rc: RequestContext = negotiate::context_of(&broker, &headers).await?;
    broker
        .delete_temporal_instance(&id, &rc.ctx.expand(&attr), &instance)
        .await?;
    Ok(no_content())
}

/// Modify Attribute Instance in Temporal Representation of an Entity (§6.22.3.1): not
/// supported (422) once the instance is found.
pub async fn modify_instance(
    State(broker): State<Broker>,
    Path((id, attr, instance)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    check_id(&id)?;
    document::check_name(&attr).map_err(|e| Problem::bad_request_data(e.to_string()))?;
    let rc: RequestContext = negotiate::context_of(&broker, &headers).await?;
    broker
        .modify_temporal_instance(&id, &rc.ctx.expand(&attr), &instance)
        .await?;
    Ok(no_content())
}

/// Delete Attribute from Temporal Representation of an Entity (§6.21.3.1): every instance of
/// the attribute; deleting one datasetId only is not supported.
pub async fn delete_attribute(
    State(broker): State<Broker>,
    Path((id, attr)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    check_id(&id)?;
    let params = negotiate::params(raw.as_deref())?;
    if param(&params, "datasetId").is_some() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OperationNotSupported",
            "Operation not supported",
            "deleting the history of one datasetId is not supported; without datasetId every \
             instance of the attribute is deleted",
        ));
    }
    let rc: RequestContext = negotiate::context_of(&broker, &headers).await?;
    broker
        .delete_temporal_attribute(&id, &rc.ctx.expand(&attr))
        .await?;
    Ok(no_content())
}
