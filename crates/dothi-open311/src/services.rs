//! Discovery and the service list: categories as Open311 services.

use dothi_domain::attributes::AttributeDef;
use dothi_store::reference::Category;

use crate::doc::{Doc, Node};
use crate::error::ApiError;
use crate::params::echo;
use crate::Shared;

/// When this Open311 interface last changed. Clients cache discovery and compare this, so
/// bump it with any change to the documents below.
const CHANGESET: &str = "2026-11-23T00:00:00+07:00";
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

pub(crate) fn discovery(app: &Shared) -> Doc {
    let url = format!("{}/open311/v2", app.config.base_url);
    // One deployment serves both roles: the spec expects a test endpoint to exist, and
    // integrators test against the same data they will go live with.
    let endpoint = |kind: &str| {
        Node::Object(vec![
            ("specification", Node::str(SPECIFICATION)),
            ("url", Node::str(url.as_str())),
            ("changeset", Node::str(CHANGESET)),
            ("type", Node::str(kind)),
            (
                "formats",
                Node::List(
                    "format",
                    vec![Node::str("text/xml"), Node::str("application/json")],
                ),
            ),
        ])
    };
    Doc::new(
        "discovery",
        Node::Object(vec![
            ("changeset", Node::str(CHANGESET)),
            ("contact", Node::str(app.config.contact.as_str())),
            ("key_service", Node::str(app.config.key_service.as_str())),
            (
                "endpoints",
                Node::List("endpoint", vec![endpoint("production"), endpoint("test")]),
            ),
        ]),
    )
}

pub(crate) fn services(app: &Shared) -> Doc {
    let reference = app.store.reference();
    let items = reference
        .categories
        .iter()
        .filter(|c| c.active)
        .map(service)
        .collect();
    Doc::new("services", Node::List("service", items))
}

fn service(c: &Category) -> Node {
    Node::Object(vec![
        ("service_code", Node::str(c.code.as_str())),
        ("service_name", Node::str(c.name.as_str())),
        ("description", Node::str(c.description.as_str())),
        ("metadata", Node::Bool(!c.attributes.is_empty())),
        ("type", Node::str("realtime")),
        ("keywords", Node::str(c.keywords.join(","))),
        ("group", Node::str(c.group.as_str())),
    ])
}

pub(crate) fn definition(app: &Shared, code: &str) -> Result<Doc, ApiError> {
    let reference = app.store.reference();
    let category = reference
        .category_by_code(code)
        .filter(|c| c.active)
        .ok_or_else(|| ApiError::not_found(format!("service_code {} not found", echo(code))))?;
    let mut attributes: Vec<&AttributeDef> = category.attributes.iter().collect();
    attributes.sort_by_key(|a| a.order);
    Ok(Doc::new(
        "service_definition",
        Node::Object(vec![
            ("service_code", Node::str(category.code.as_str())),
            (
                "attributes",
                Node::List("attribute", attributes.into_iter().map(attribute).collect()),
            ),
        ]),
    ))
}

fn attribute(a: &AttributeDef) -> Node {
    let values = a
        .values
        .iter()
        .map(|v| {
            Node::Object(vec![
                ("key", Node::str(v.key.as_str())),
                ("name", Node::str(v.name.as_str())),
            ])
        })
        .collect();
    Node::Object(vec![
        ("variable", Node::Bool(a.variable)),
        ("code", Node::str(a.code.as_str())),
        ("datatype", Node::str(a.datatype.as_str())),
        ("required", Node::Bool(a.required)),
        (
            "datatype_description",
            Node::opt_str(a.datatype_description.as_deref()),
        ),
        ("order", Node::Int(a.order)),
        ("description", Node::str(a.description.as_str())),
        ("values", Node::List("value", values)),
    ])
}
