//! `/types` and `/attributes` (§6.25–6.28): the broker's types and attributes, with names
//! compacted by the request's context and listed in the order of those names.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dothi_broker::Broker;
use serde_json::{json, Value};

use crate::negotiate::{self, param, RequestContext};
use crate::Problem;

type Answer = Result<Response, Problem>;

/// A list document's id: a fresh URN, as the specification asks.
fn list_id(kind: &str) -> String {
    use rand::Rng;
    format!(
        "urn:ngsi-ld:{kind}:{:016x}",
        rand::thread_rng().gen::<u64>()
    )
}

fn sorted_names(iris: &[String], rc: &RequestContext) -> Vec<String> {
    let mut names: Vec<String> = iris.iter().map(|i| rc.ctx.compact(i)).collect();
    names.sort();
    names.dedup();
    names
}

/// The parameters of Retrieve Available Entity Types / Attributes (§6.25.3.1, §6.27.3.1).
const LIST_PARAMS: &[&str] = &["details", "local", "via"];
/// The parameters of the details of one entity type or attribute (§6.26.3.1, §6.28.3.1).
const DETAIL_PARAMS: &[&str] = &["local", "via"];

async fn prepare(
    broker: &Broker,
    headers: &HeaderMap,
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<(negotiate::Accept, RequestContext, bool), Problem> {
    // §6.3.20: the lists take `details`, `local` and `via`; the details of one type or
    // attribute take only `local` and `via`.
    let params = negotiate::checked_params(raw, allowed)?;
    let accept = negotiate::accept(headers, false)?;
    let rc = negotiate::context_of(broker, headers).await?;
    let details = match param(&params, "details") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "details must be true or false, not {other}"
            )))
        }
    };
    Ok((accept, rc, details))
}

pub async fn types(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (accept, rc, details) = prepare(&broker, &headers, raw.as_deref(), LIST_PARAMS).await?;
    let mut types = broker.types().await?;
    types.sort_by_key(|t| rc.ctx.compact(&t.type_iri));
    let body = if details {
        Value::Array(
            types
                .iter()
                .map(|t| {
                    json!({
                        "id": t.type_iri,
                        "type": "EntityType",
                        "typeName": rc.ctx.compact(&t.type_iri),
                        "attributeNames": sorted_names(&t.attributes, &rc),
                    })
                })
                .collect(),
        )
    } else {
        let iris: Vec<String> = types.into_iter().map(|t| t.type_iri).collect();
        json!({
            "id": list_id("EntityTypeList"),
            "type": "EntityTypeList",
            "typeList": sorted_names(&iris, &rc),
        })
    };
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
}

pub async fn type_info(
    State(broker): State<Broker>,
    Path(type_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (accept, rc, _) = prepare(&broker, &headers, raw.as_deref(), DETAIL_PARAMS).await?;
    let info = broker.type_details(&rc.ctx.expand(&type_name)).await?;
    let mut attributes: Vec<(String, Value)> = info
        .attributes
        .iter()
        .map(|(iri, kinds)| {
            let name = rc.ctx.compact(iri);
            let detail = json!({
                "id": iri,
                "type": "Attribute",
                "attributeName": name,
                "attributeTypes": kinds.iter().collect::<Vec<_>>(),
            });
            (name, detail)
        })
        .collect();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    let body = json!({
        "id": info.type_iri,
        "type": "EntityTypeInfo",
        "typeName": rc.ctx.compact(&info.type_iri),
        "entityCount": info.entity_count,
        "attributeDetails": attributes.into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
    });
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
}

pub async fn attributes(
    State(broker): State<Broker>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (accept, rc, details) = prepare(&broker, &headers, raw.as_deref(), LIST_PARAMS).await?;
    let mut attributes = broker.attributes().await?;
    attributes.sort_by_key(|a| rc.ctx.compact(&a.attr));
    let body = if details {
        Value::Array(
            attributes
                .iter()
                .map(|a| {
                    json!({
                        "id": a.attr,
                        "type": "Attribute",
                        "attributeName": rc.ctx.compact(&a.attr),
                        "typeNames": sorted_names(&a.types, &rc),
                    })
                })
                .collect(),
        )
    } else {
        let iris: Vec<String> = attributes.into_iter().map(|a| a.attr).collect();
        json!({
            "id": list_id("AttributeList"),
            "type": "AttributeList",
            "attributeList": sorted_names(&iris, &rc),
        })
    };
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
}

pub async fn attribute_info(
    State(broker): State<Broker>,
    Path(attr): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (accept, rc, _) = prepare(&broker, &headers, raw.as_deref(), DETAIL_PARAMS).await?;
    let info = broker.attribute_details(&rc.ctx.expand(&attr)).await?;
    let body = json!({
        "id": info.attr,
        "type": "Attribute",
        "attributeName": rc.ctx.compact(&info.attr),
        "attributeCount": info.entity_count,
        "attributeTypes": info.kinds.iter().collect::<Vec<_>>(),
        "typeNames": sorted_names(&info.types, &rc),
    });
    Ok(negotiate::respond(StatusCode::OK, body, accept, &rc))
}
