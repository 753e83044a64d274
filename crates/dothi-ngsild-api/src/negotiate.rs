//! Content negotiation of the NGSI-LD binding (§6.3): where the request's `@context` comes
//! from, which representation the client accepts, and how the answer carries the context back
//! (a `Link` header for JSON, an `@context` member for JSON-LD).

use axum::body::{Bytes, HttpBody};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dothi_broker::Broker;
use dothi_ngsild::context::{self, Context, CORE_CONTEXT_URL};
use serde_json::Value;

use crate::Problem;

pub const JSON: &str = "application/json";
pub const JSON_LD: &str = "application/ld+json";
pub const GEO_JSON: &str = "application/geo+json";
pub const MERGE_PATCH: &str = "application/merge-patch+json";
const LINK_REL: &str = "http://www.w3.org/ns/json-ld#context";

/// The representation of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    Json,
    JsonLd,
    GeoJson,
}

/// The `Accept` header (§6.3.4, RFC 9110 §5.3.2): each representation the operation offers
/// takes the weight of the most specific media range that matches it (`q=0` refuses it, and a
/// wildcard does not bring it back); the highest weight wins, and equal weights go to the
/// first of JSON, JSON-LD, GeoJSON. Without an Accept header the answer is JSON.
pub fn accept(headers: &HeaderMap, geo_allowed: bool) -> Result<Accept, Problem> {
    let Some(value) = headers.get(header::ACCEPT) else {
        return Ok(Accept::Json);
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::invalid_request("the Accept header is not ASCII"))?;
    // (media range, quality) of each item of the header.
    let ranges: Vec<(String, f32)> = text
        .split(',')
        .map(|item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(1.0);
            (media, quality)
        })
        .filter(|(media, _)| !media.is_empty())
        .collect();
    let mut offers = vec![(JSON, Accept::Json), (JSON_LD, Accept::JsonLd)];
    if geo_allowed {
        offers.push((GEO_JSON, Accept::GeoJson));
    }
    let mut best: Option<(f32, Accept)> = None;
    for (media, chosen) in offers {
        // Specificity: 2 for the exact type, 1 for `application/*`, 0 for `*/*`.
        let weight = ranges
            .iter()
            .filter_map(|(range, q)| {
                let specificity = if range == media {
                    2
                } else if range == "application/*" {
                    1
                } else if range == "*/*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map(|(_, q)| q);
        if let Some(q) = weight {
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, chosen));
            }
        }
    }
    best.map(|(_, a)| a).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            "Not acceptable",
            format!(
                "the broker answers in application/json, application/ld+json{}; Accept asked for {text}",
                if geo_allowed { " or application/geo+json" } else { "" }
            ),
        )
    })
}

/// Refuses a URL parameter the operation does not define (§6.3.20: 400 InvalidRequest), so a
/// misspelt parameter is not silently ignored. `allowed` lists the operation's parameters.
pub fn check_params(params: &[(String, String)], allowed: &[&str]) -> Result<(), Problem> {
    match params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some((name, _)) => Err(Problem::invalid_request(format!(
            "the parameter '{name}' is not one of this operation's parameters ({})",
            if allowed.is_empty() {
                "it takes none".to_string()
            } else {
                allowed.join(", ")
            }
        ))),
    }
}

/// Parses the query string and refuses parameters outside `allowed` (see [`check_params`]).
pub fn checked_params(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, Problem> {
    let params = params(raw)?;
    check_params(&params, allowed)?;
    Ok(params)
}

/// POST, PATCH and PUT must say how long their body is (§6.3.4): without `Content-Length`
/// (e.g. a chunked body) the answer is a bare 411 Length Required, decided before anything
/// else (tenant, access, routing) looks at the request.
pub async fn require_length(request: axum::extract::Request, next: Next) -> Response {
    let writes = matches!(
        *request.method(),
        axum::http::Method::POST | axum::http::Method::PATCH | axum::http::Method::PUT
    );
    // A body of unknown length (chunked transfer) is what the header's absence means; an
    // in-process request with a complete body knows its length without the header.
    let unknown_length = request.body().size_hint().exact().is_none();
    if writes && unknown_length && !request.headers().contains_key(header::CONTENT_LENGTH) {
        return StatusCode::LENGTH_REQUIRED.into_response();
    }
    next.run(request).await
}

/// The request's context: what expands its terms, and what to echo in the answer.
#[derive(Clone)]
pub struct RequestContext {
    pub ctx: Context,
    /// The context as the client gave it (a URL string, an object or an array), or the core
    /// context URL when it gave none.
    pub reference: Value,
    /// `Prefer: body=json`: a GeoJSON answer carries the context in the Link header only
    /// (§6.3.6); otherwise GeoJSON embeds it like JSON-LD.
    pub prefer_json_body: bool,
}

fn prefers_json_body(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().eq_ignore_ascii_case("body=json"))
}

fn link_context(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut found = None;
    for value in headers.get_all(header::LINK) {
        let text = value
            .to_str()
            .map_err(|_| Problem::bad_request_data("the Link header is not ASCII"))?;
        if let Some(url) = context::parse_link_header(text)
            .map_err(|e| Problem::bad_request_data(format!("the Link header is malformed: {e}")))?
        {
            if found.is_some() {
                return Err(Problem::bad_request_data(
                    "the request has more than one JSON-LD context Link header",
                ));
            }
            found = Some(url);
        }
    }
    Ok(found)
}

/// The context of a request without a body (GET, DELETE): the Link header, or the core.
pub async fn context_of(broker: &Broker, headers: &HeaderMap) -> Result<RequestContext, Problem> {
    match link_context(headers)? {
        Some(url) => {
            let reference = Value::String(url);
            let ctx = broker.contexts.resolve(&reference).await?;
            Ok(RequestContext {
                ctx,
                reference,
                prefer_json_body: prefers_json_body(headers),
            })
        }
        None => Ok(RequestContext {
            ctx: broker.contexts.core(),
            reference: Value::String(CORE_CONTEXT_URL.into()),
            prefer_json_body: prefers_json_body(headers),
        }),
    }
}

/// The media type of the body, without parameters, in lower case.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Parses a JSON body and finds its context: with `application/json` it is the Link header
/// (and the body may not have `@context`); with `application/ld+json` it is the body's
/// `@context` (for an array body, the first item's).
/// Whether the body is JSON-LD (true) or JSON (false, also merge-patch); any other media type,
/// or none, is 415 (§6.3.4).
pub fn body_is_json_ld(headers: &HeaderMap) -> Result<bool, Problem> {
    match content_type(headers).as_deref() {
        Some(JSON) | Some(MERGE_PATCH) => Ok(false),
        Some(JSON_LD) => Ok(true),
        Some(other) => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidRequest",
            "Unsupported media type",
            format!("the body must be application/json or application/ld+json, not {other}"),
        )),
        None => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidRequest",
            "Unsupported media type",
            "the request has a body but no Content-Type (application/json or application/ld+json)",
        )),
    }
}

pub async fn body_and_context(
    broker: &Broker,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Value, RequestContext), Problem> {
    body_is_json_ld(headers)?;
    let value = parse_body(body)?;
    let context = value_context(broker, headers, &value).await?;
    Ok((value, context))
}

/// The request body as JSON.
pub fn parse_body(body: &Bytes) -> Result<Value, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::invalid_request(format!("the body is not valid JSON: {e}")))
}

/// [`body_and_context`] for a body parsed already.
pub async fn value_context(
    broker: &Broker,
    headers: &HeaderMap,
    value: &Value,
) -> Result<RequestContext, Problem> {
    let ld = body_is_json_ld(headers)?;
    if has_nul(value) {
        return Err(Problem::bad_request_data(
            "strings in the body may not contain the NUL character (U+0000)",
        ));
    }
    let embedded = match value {
        Value::Object(o) => o.get("@context").cloned(),
        Value::Array(items) => items.first().and_then(|i| i.get("@context")).cloned(),
        _ => None,
    };
    // A batch delete body is a list of entity ids: it has no terms to expand and nowhere to put
    // an @context, so application/ld+json does not demand one (ETSI TP 006_01).
    let ids_only = matches!(value, Value::Array(items) if items.iter().all(Value::is_string));
    if ld && link_context(headers)?.is_some() {
        return Err(Problem::bad_request_data(
            "with Content-Type application/ld+json the @context goes in the body, not in a \
             Link header",
        ));
    }
    let context = if ld && !(ids_only && embedded.is_none()) {
        let Some(reference) = embedded else {
            return Err(Problem::bad_request_data(
                "with Content-Type application/ld+json the body must carry an @context",
            ));
        };
        let ctx = broker.contexts.resolve(&reference).await?;
        RequestContext {
            ctx,
            reference,
            prefer_json_body: prefers_json_body(headers),
        }
    } else {
        if embedded.is_some() {
            return Err(Problem::bad_request_data(
                "with Content-Type application/json the @context goes in a Link header, not in \
                 the body (or send application/ld+json)",
            ));
        }
        context_of(broker, headers).await?
    };
    Ok(context)
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Writes `body` in the representation asked, with the request's context.
pub fn respond(status: StatusCode, body: Value, accept: Accept, rc: &RequestContext) -> Response {
    let mut headers = HeaderMap::new();
    let body = match accept {
        Accept::JsonLd => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_LD));
            with_context(body, &rc.reference)
        }
        Accept::GeoJson => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(GEO_JSON));
            match body {
                // The Feature or FeatureCollection itself carries the context, not its members.
                Value::Object(mut o) if !rc.prefer_json_body => {
                    o.insert("@context".into(), rc.reference.clone());
                    Value::Object(o)
                }
                other => {
                    link(&mut headers, rc);
                    other
                }
            }
        }
        Accept::Json => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
            link(&mut headers, rc);
            body
        }
    };
    (status, headers, body.to_string()).into_response()
}

fn link(headers: &mut HeaderMap, rc: &RequestContext) {
    let url = rc.reference.as_str().unwrap_or(CORE_CONTEXT_URL);
    let value = format!("<{url}>; rel=\"{LINK_REL}\"; type=\"{JSON_LD}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(header::LINK, v);
    }
}

/// Adds `@context` to an object, or to each object of an array.
fn with_context(body: Value, reference: &Value) -> Value {
    match body {
        Value::Object(mut o) => {
            o.insert("@context".into(), reference.clone());
            Value::Object(o)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| with_context(i, reference))
                .collect(),
        ),
        other => other,
    }
}

/// The query string as (name, value) pairs.
pub fn params(raw: Option<&str>) -> Result<Vec<(String, String)>, Problem> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Problem::bad_request_data(format!("the query string is malformed: {e}")))
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A comma-separated list parameter (`attrs=a,b`, `options=keyValues,sysAttrs`).
pub fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `limit`, `offset` and `count` of a query (§6.3.10, §6.3.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub offset: u32,
    pub count: bool,
}

/// The paging parameters: `limit` defaults to the broker's page size and above its maximum is
/// 403 TooManyResults; `limit=0` is only allowed with `count=true`.
pub fn paging(params: &[(String, String)], broker: &Broker) -> Result<Paging, Problem> {
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
    let offset = number("offset", 0)?;
    Ok(Paging {
        limit,
        offset,
        count,
    })
}

/// How a resource writes its page links. Both forms are kept as clients already read them:
/// Query Entities lists the parameters sorted, with their values as decoded;
/// `/csourceRegistrations` and `/csourceSubscriptions` keep the request's order and
/// percent-encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkForm {
    /// `</ngsi-ld/v1/entities?a=1&limit=2&offset=2>; rel="next"; type="application/json"`
    Sorted,
    /// `</ngsi-ld/v1/csourceRegistrations?a=1&limit=2&offset=2>;rel="next";type="application/ld+json"`
    Encoded,
}

/// Appends the `prev` and `next` links of a page (§4.12, §6.3.13) to the `Link` header: the
/// request to `path` with its other `params` and the offset of the neighbouring page. None when
/// `limit` is 0.
pub fn page_links(
    response: &mut Response,
    path: &str,
    params: &[(String, String)],
    paging: Paging,
    total: u64,
    form: LinkForm,
) {
    if paging.limit == 0 {
        return;
    }
    let (limit, offset) = (u64::from(paging.limit), u64::from(paging.offset));
    let link = |offset: u64, rel: &str| {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "limit" && k != "offset")
            .cloned()
            .collect();
        pairs.push(("limit".into(), limit.to_string()));
        pairs.push(("offset".into(), offset.to_string()));
        match form {
            LinkForm::Sorted => {
                pairs.sort();
                let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "<{path}?{}>; rel=\"{rel}\"; type=\"{JSON}\"",
                    query.join("&")
                )
            }
            LinkForm::Encoded => {
                let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
                format!("<{path}?{query}>;rel=\"{rel}\";type=\"{JSON_LD}\"")
            }
        }
    };
    let mut links = Vec::new();
    if offset > 0 {
        links.push(link(offset.saturating_sub(limit), "prev"));
    }
    if offset + limit < total {
        links.push(link(offset + limit, "next"));
    }
    for l in links {
        if let Ok(v) = HeaderValue::from_str(&l) {
            response.headers_mut().append(header::LINK, v);
        }
    }
}
