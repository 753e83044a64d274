//! Handlers of `/entities` and `/entityOperations` (§6.4–6.5, 6.14–6.18, 6.31): extract,
//! call the broker, render.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dothi_broker::entities::UpsertMode;
use dothi_broker::query::{EntityQuery, OrderKey, OrderMember};
use dothi_broker::{BatchError, BatchOutcome, Broker, BrokerError, Purge};
use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, AttrOutcome, Format, Projection, RenderOptions, LOCATION};
use dothi_ngsild::linked::{self, Join, LinkedRequest};
use dothi_ngsild::{projection, q, typesel};
use serde_json::{json, Value};

use crate::negotiate::{self, list_param, param, Accept, RequestContext};
use crate::selection::{self, check_id};
use crate::Problem;

type Answer = Result<Response, Problem>;

/// The URL parameters of Query Entities (§6.4.3.2) and Retrieve Entity (§6.5.3.1); any other
/// is refused (§6.3.20).
/// Purge Entities (§6.4.3.3): the selection of Query Entities, and `keep`/`drop`.
const PURGE_PARAMS: &[&str] = &[
    "id",
    "type",
    "idPattern",
    "attrs",
    "q",
    "scopeQ",
    "csf",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "local",
    "keep",
    "drop",
];

pub(crate) const QUERY_PARAMS: &[&str] = &[
    "id",
    "type",
    "idPattern",
    "attrs",
    "pick",
    "omit",
    "q",
    "csf",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "geometryProperty",
    "lang",
    "scopeQ",
    "options",
    "format",
    "limit",
    "offset",
    "count",
    "local",
    "via",
    "join",
    "joinLevel",
    "datasetId",
    "entityMap",
    "containedBy",
    "orderBy",
    "orderFrom",
    "collation",
    "expandValues",
    "jsonKeys",
    "doNotCompact",
];
const RETRIEVE_PARAMS: &[&str] = &[
    "type",
    "attrs",
    "pick",
    "omit",
    "geometryProperty",
    "lang",
    "options",
    "format",
    "local",
    "via",
    "join",
    "joinLevel",
    "datasetId",
    "entityMap",
    "containedBy",
    "expandValues",
    "jsonKeys",
    "doNotCompact",
];

/// The core members `pick`/`omit` may name besides attributes (§4.21).
const CORE_MEMBERS: &[&str] = &["id", "type", "scope", "createdAt", "modifiedAt"];

/// `pick` and `omit` (§4.21): their top levels, checked against each other and `attrs`.
fn projection(params: &[(String, String)], ctx: &Context) -> Result<Projection, Problem> {
    let mut projection = Projection::default();
    let pick = param(params, "pick");
    let omit = param(params, "omit");
    if pick.is_none() && omit.is_none() {
        return Ok(projection);
    }
    if param(params, "attrs").is_some() {
        return Err(Problem::bad_request_data(
            "attrs cannot be combined with pick or omit (pick replaces attrs)",
        ));
    }
    let name = |n: &str| {
        if CORE_MEMBERS.contains(&n) {
            n.to_string()
        } else {
            ctx.expand(n)
        }
    };
    let parsed = |which: &str, text: &str| -> Result<HashSet<String>, Problem> {
        let terms = projection::parse(text)
            .map_err(|e| Problem::bad_request_data(format!("{which}: {e}")))?;
        // A projection into Linked Entities has a meaning only when they are retrieved.
        let depth = projection::depth(&terms);
        if depth > 0 && param(params, "join").is_none() {
            return Err(Problem::bad_request_data(format!(
                "{which} projects Linked Entities ('{{…}}'), which needs the join parameter"
            )));
        }
        // It may not reach deeper than the Linked Entities retrieved (joinLevel, default 1).
        let join_level = param(params, "joinLevel")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(1);
        if depth > join_level {
            return Err(Problem::bad_request_data(format!(
                "{which} reaches {depth} levels of Linked Entities, deeper than joinLevel \
                 {join_level}"
            )));
        }
        Ok(terms.iter().map(|t| name(&t.name)).collect())
    };
    if let Some(text) = pick {
        projection.pick = Some(parsed("pick", text)?);
    }
    if let Some(text) = omit {
        projection.omit = parsed("omit", text)?;
    }
    if let Some(both) = projection
        .pick
        .as_ref()
        .and_then(|p| p.iter().find(|m| projection.omit.contains(*m)))
    {
        return Err(Problem::bad_request_data(format!(
            "the member '{}' is both picked and omitted",
            ctx.compact(both)
        )));
    }
    Ok(projection)
}

/// The representation options of a read (`options`, `format`, `attrs`, `pick`/`omit`,
/// `datasetId`, `lang`).
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
    // `format` takes precedence over a representation named in `options` (§6.3.7).
    if let Some(format) = param(params, "format") {
        formats = vec![match format {
            "keyValues" | "simplified" => Format::KeyValues,
            "concise" => Format::Concise,
            "normalized" => Format::Normalized,
            other => {
                return Err(Problem::invalid_request(format!(
                    "format must be normalized, concise or keyValues, not {other}"
                )))
            }
        }];
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
    let attrs = list_param(params, "attrs");
    if param(params, "attrs").is_some() && attrs.is_empty() {
        return Err(Problem::bad_request_data("attrs is empty"));
    }
    for a in &attrs {
        if CORE_MEMBERS[..2].contains(&a.as_str()) {
            return Err(Problem::bad_request_data(format!(
                "attrs lists attributes; '{a}' is a core member of the entity (use pick)"
            )));
        }
        document::check_name(a).map_err(|e| Problem::bad_request_data(format!("attrs: {e}")))?;
    }
    if !attrs.is_empty() {
        options.attrs = Some(attrs.iter().map(|a| ctx.expand(a)).collect::<HashSet<_>>());
    }
    options.projection = projection(params, ctx)?;
    if param(params, "datasetId").is_some() {
        let datasets = list_param(params, "datasetId");
        for d in &datasets {
            if d != "@none" && !document::is_uri(d) {
                return Err(Problem::bad_request_data(format!(
                    "datasetId '{d}' is not a URI (or @none for the default instance)"
                )));
            }
        }
        options.datasets = Some(
            datasets
                .into_iter()
                .map(|d| (d != "@none").then_some(d))
                .collect(),
        );
    }
    options.lang = param(params, "lang").map(str::to_string);
    Ok(options)
}

/// `join`/`joinLevel` and the `pick`/`omit` selections of linked entities (§4.5.23, §4.21);
/// None when the plain rendering applies.
fn linked_request(params: &[(String, String)]) -> Result<Option<LinkedRequest>, Problem> {
    // Without join, pick/omit are the plain projection that render_options checks.
    if param(params, "join").is_none() && param(params, "joinLevel").is_none() {
        return Ok(None);
    }
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

/// `geometryProperty` only makes sense for a GeoJSON answer (§6.3.15).
fn geometry_property(
    params: &[(String, String)],
    ctx: &Context,
    accept: Accept,
) -> Result<String, Problem> {
    match param(params, "geometryProperty") {
        Some(_) if accept != Accept::GeoJson => Err(Problem::bad_request_data(
            "geometryProperty applies to application/geo+json answers only",
        )),
        Some(g) => Ok(ctx.expand(g)),
        None => Ok(LOCATION.to_string()),
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

pub async fn create(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    negotiate::checked_params(raw.as_deref(), &[])?;
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
    let params = negotiate::checked_params(raw.as_deref(), RETRIEVE_PARAMS)?;
    let accept = negotiate::accept(&headers, true)?;
    check_id(&id)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let geometry = geometry_property(&params, &rc.ctx, accept)?;
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
    let rendered = document::render_entity(&entity, &rc.ctx, &options);
    if rendered.is_empty() {
        return Err(Problem::not_found_detail(format!(
            "nothing of entity {id} is left after pick and omit"
        )));
    }
    let body = match accept {
        Accept::GeoJson => document::render_feature(&entity, &rc.ctx, &options, &geometry),
        _ => Value::Object(rendered),
    };
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
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
    let params = negotiate::checked_params(raw.as_deref(), PURGE_PARAMS)?;
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
    let selection = selection::parse(params, ctx)?;
    let order_by = order_by(params, ctx)?;
    let negotiate::Paging {
        limit,
        offset,
        count,
    } = negotiate::paging(params, broker)?;
    // §5.7.2.4: ids alone, or attrs and q that name only system attributes, select too wide.
    let restricted = selection.id_pattern.is_some()
        || selection.types.is_some()
        || selection.all_types
        || selection.names_user_attribute()
        || selection.geo.is_some()
        || selection.scope_q.is_some()
        || selection.local == Some(true);
    if !restricted {
        return Err(Problem::bad_request_data(
            "a query needs at least one of type, idPattern, attrs, q, scopeQ, a geo-query or \
             local=true",
        ));
    }
    Ok(EntityQuery {
        ids: selection.ids,
        id_pattern: selection.id_pattern,
        types: selection.types,
        attrs: selection.attrs,
        q: selection.q,
        geo: selection.geo,
        limit,
        offset,
        count,
        scope_q: selection.scope_q,
        order_by,
        collation: param(params, "collation").map(str::to_string),
    })
}

/// `orderBy` (§4.23): `key[;asc|;desc|;dist-asc|;dist-desc]`, comma-separated, with
/// `orderFrom` for the distance orderings.
fn order_by(params: &[(String, String)], ctx: &Context) -> Result<Vec<OrderKey>, Problem> {
    if let Some(tag) = param(params, "collation") {
        // Only the code point order is implemented; the tag must still be a BCP 47 tag.
        let valid = !tag.is_empty()
            && tag.split('-').all(|s| {
                !s.is_empty() && s.len() <= 8 && s.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !valid {
            return Err(Problem::bad_request_data(format!(
                "collation '{tag}' is not a BCP 47 language tag"
            )));
        }
    }
    let Some(text) = param(params, "orderBy") else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for item in text.split(',') {
        let (name, direction) = item.split_once(';').unwrap_or((item, "asc"));
        let name = name.trim();
        if name.is_empty() {
            return Err(Problem::bad_request_data(format!(
                "orderBy '{text}' has an empty key"
            )));
        }
        let (descending, distance) = match direction {
            "asc" => (false, false),
            "desc" => (true, false),
            "dist-asc" => (false, true),
            "dist-desc" => (true, true),
            other => {
                return Err(Problem::bad_request_data(format!(
                    "orderBy direction must be asc, desc, dist-asc or dist-desc, not {other}"
                )))
            }
        };
        let member = if distance {
            let from = param(params, "orderFrom").ok_or_else(|| {
                Problem::bad_request_data("orderBy with dist-asc or dist-desc needs orderFrom")
            })?;
            let point: Vec<f64> = serde_json::from_str(from).map_err(|_| {
                Problem::bad_request_data(format!(
                    "orderFrom must be [longitude,latitude], not {from}"
                ))
            })?;
            let [lon, lat] = point[..] else {
                return Err(Problem::bad_request_data(
                    "orderFrom must be [longitude,latitude]",
                ));
            };
            OrderMember::Distance {
                attr: ctx.expand(name),
                from: (lon, lat),
            }
        } else {
            match name {
                "id" => OrderMember::Id,
                "type" => OrderMember::Type,
                "createdAt" => OrderMember::CreatedAt,
                "modifiedAt" => OrderMember::ModifiedAt,
                _ => {
                    let (path, trailing) = match name.split_once('[') {
                        Some((path, rest)) => (
                            path,
                            rest.trim_end_matches(']')
                                .split("][")
                                .map(str::to_string)
                                .collect(),
                        ),
                        None => (name, Vec::new()),
                    };
                    let path = path
                        .split('.')
                        .map(|step| match step {
                            "createdAt" | "modifiedAt" | "observedAt" => step.to_string(),
                            _ => ctx.expand(step),
                        })
                        .collect();
                    OrderMember::Attribute { path, trailing }
                }
            }
        };
        keys.push(OrderKey { member, descending });
    }
    Ok(keys)
}

pub async fn query(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = negotiate::checked_params(raw.as_deref(), QUERY_PARAMS)?;
    let accept = negotiate::accept(&headers, true)?;
    let rc = negotiate::context_of(&broker, &headers).await?;
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let query = parse_query(&params, &rc.ctx, &broker)?;
    let geometry = geometry_property(&params, &rc.ctx, accept)?;
    let mut response = run_query(&broker, &query, &options, accept, &rc, &geometry, linked).await?;
    page_links(&mut response, &params, &query);
    Ok(response)
}

/// The `prev` and `next` links of a page when the total is known (`count=true`).
fn page_links(response: &mut Response, params: &[(String, String)], query: &EntityQuery) {
    let Some(total) = response
        .headers()
        .get("NGSILD-Results-Count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let paging = negotiate::Paging {
        limit: query.limit,
        offset: query.offset,
        count: true,
    };
    negotiate::page_links(
        response,
        "/ngsi-ld/v1/entities",
        params,
        paging,
        total,
        negotiate::LinkForm::Sorted,
    );
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
    let mut page = broker.query_entities(query, &expand).await?;
    let linked_body = match (accept, linked) {
        (Accept::GeoJson, _) | (_, None) => None,
        (_, Some(request)) => {
            let links = broker
                .linked_entities(&page.entities, request.level)
                .await?;
            let out = linked::render(&page.entities, &links, &request, &rc.ctx, options);
            Some(Value::Array(out))
        }
    };
    // An entity that `pick`/`omit` leave empty is not part of the answer (§4.21).
    if linked_body.is_none() && options.projection != Projection::default() {
        page.entities
            .retain(|e| !document::render_entity(e, &rc.ctx, options).is_empty());
    }
    let body = linked_body.unwrap_or_else(|| match accept {
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
        if types.len() != entities.len() {
            return Err(Problem::bad_request_data(
                "each EntitySelector of entities needs a type (a string)",
            ));
        }
        params.push(("type".into(), types.join(",")));
        let mut ids = Vec::new();
        for selector in entities {
            match selector.get("id") {
                None => {}
                Some(Value::String(id)) => ids.push(id.as_str()),
                Some(Value::Array(items)) => {
                    for item in items {
                        ids.push(item.as_str().ok_or_else(|| {
                            Problem::bad_request_data("the ids of an EntitySelector are strings")
                        })?);
                    }
                }
                Some(_) => {
                    return Err(Problem::bad_request_data(
                        "the id of an EntitySelector is a string or an array of strings",
                    ))
                }
            }
        }
        if !ids.is_empty() {
            params.push(("id".into(), ids.join(",")));
        }
        // id takes precedence over idPattern (§5.2.33).
        if let Some(p) = entities
            .iter()
            .filter(|e| e.get("id").is_none())
            .find_map(|e| e.get("idPattern")?.as_str())
        {
            params.push(("idPattern".into(), p.to_string()));
        }
    }
    // Members that are lists of names become comma-separated parameters.
    for member in ["attrs", "pick", "omit"] {
        match object.get(member) {
            None => {}
            Some(Value::Array(items)) => {
                let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                if names.len() != items.len() {
                    return Err(Problem::bad_request_data(format!(
                        "{member} must be an array of strings"
                    )));
                }
                params.push((member.into(), names.join(",")));
            }
            Some(Value::String(a)) => params.push((member.into(), a.clone())),
            Some(_) => {
                return Err(Problem::bad_request_data(format!(
                    "{member} must be an array of strings"
                )))
            }
        }
    }
    match object.get("q") {
        None => {}
        Some(Value::String(q)) => params.push(("q".into(), q.clone())),
        Some(_) => return Err(Problem::bad_request_data("q must be a string")),
    }
    if object.contains_key("temporalQ") {
        return Err(Problem::bad_request_data(
            "temporalQ belongs to Query Temporal Evolution of Entities, not Query Entities",
        ));
    }
    // Its range is checked with `join` (linked_request).
    if object.get("joinLevel").is_some_and(|level| !level.is_u64()) {
        return Err(Problem::bad_request_data(
            "joinLevel must be an integer from 1 to 10",
        ));
    }
    if let Some(ordering) = object.get("ordering") {
        let ordering = ordering
            .as_object()
            .ok_or_else(|| Problem::bad_request_data("ordering must be an object"))?;
        match ordering.get("orderBy") {
            None => {}
            Some(Value::Array(keys)) if keys.iter().all(Value::is_string) => {
                let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
                params.push(("orderBy".into(), keys.join(",")));
            }
            Some(Value::String(k)) => params.push(("orderBy".into(), k.clone())),
            Some(_) => {
                return Err(Problem::bad_request_data(
                    "ordering.orderBy must be an array of strings",
                ))
            }
        }
        match ordering.get("coordinates") {
            None => {}
            Some(c @ Value::Array(_)) => params.push(("orderFrom".into(), c.to_string())),
            Some(_) => {
                return Err(Problem::bad_request_data(
                    "ordering.coordinates must be a JSON array",
                ))
            }
        }
        if ordering.get("geometry").is_some_and(|g| !g.is_string()) {
            return Err(Problem::bad_request_data(
                "ordering.geometry must be a string",
            ));
        }
        match ordering.get("collation") {
            None => {}
            Some(Value::String(c)) => params.push(("collation".into(), c.clone())),
            Some(_) => {
                return Err(Problem::bad_request_data(
                    "ordering.collation must be a string",
                ))
            }
        }
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
    let linked = linked_request(&params)?;
    let options = render_options(&unpicked(&params, &linked), &rc.ctx)?;
    let query = parse_query(&params, &rc.ctx, &broker)?;
    let geometry = geometry_property(&params, &rc.ctx, accept)?;
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
    let ld = negotiate::body_is_json_ld(headers)?;
    let items = match negotiate::parse_body(body)? {
        Value::Array(items) if items.iter().any(|i| !i.is_string()) => items,
        value => {
            let rc = negotiate::value_context(broker, headers, &value).await?;
            return Ok((value, Vec::new(), rc));
        }
    };
    if items.iter().any(Value::is_null) {
        return Err(Problem::bad_request_data("a batch item is null"));
    }
    let (good, bad): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| !item.is_object() || item.get("@context").is_some() == ld);
    let item_id = |item: &Value| {
        item.get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut errors: Vec<BatchError> = bad
        .iter()
        .map(|item| BatchError {
            entity_id: item_id(item),
            error: BrokerError::BadRequestData(if ld {
                "with Content-Type application/ld+json each entity carries an @context".into()
            } else {
                "with Content-Type application/json an entity cannot carry an @context".into()
            }),
        })
        .collect();
    // Each entity of an application/ld+json batch brings its own @context: one that cannot be
    // retrieved fails that entity alone (207 with LdContextNotAvailable, ETSI TP 043_01_04).
    let mut good = good;
    if ld {
        let mut usable = Vec::with_capacity(good.len());
        for item in good {
            match item.get("@context") {
                Some(reference) => match broker.contexts.resolve(reference).await {
                    Err(error @ BrokerError::LdContextNotAvailable(_)) => errors.push(BatchError {
                        entity_id: item_id(&item),
                        error,
                    }),
                    _ => usable.push(item),
                },
                None => usable.push(item),
            }
        }
        good = usable;
    }
    if good.is_empty() {
        let rc = negotiate::context_of(broker, headers).await?;
        return Ok((Value::Array(good), errors, rc));
    }
    let value = Value::Array(good);
    let rc = negotiate::value_context(broker, headers, &value).await?;
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
