//! NGSI-LD JSON documents ↔ the expanded [`Entity`]: parsing what clients send (normalized or
//! concise form, §4.5), rendering what they get back (normalized, concise, keyValues, with or
//! without system attributes, or GeoJSON), and the attribute-level update semantics of the
//! entity operations (append, update, partial update, merge-patch, replace, delete).
//!
//! Everything here is pure: the broker calls it inside a storage transaction, with the active
//! [`Context`] of the request and the transaction's clock.
//!
//! Invariant: a parsed entity is valid — ids and dataset ids are URIs, every attribute has its
//! payload, GeoProperties hold valid GeoJSON, `observedAt` is an ISO 8601 date-time with an
//! offset — so storage and rendering never meet a malformed attribute.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::context::Context;
use crate::entity::{Attribute, AttributeKind, Entity};

/// The prefix of the NGSI-LD core vocabulary.
pub const CORE: &str = "https://uri.etsi.org/ngsi-ld/";
/// `location`, expanded.
pub const LOCATION: &str = "https://uri.etsi.org/ngsi-ld/location";
/// `expiresAt`, expanded (§4.22): when a transient entity or attribute instance ends.
pub const EXPIRES_AT: &str = "https://uri.etsi.org/ngsi-ld/expiresAt";

fn check_expires_at(value: &Value) -> Result<()> {
    if value.as_str() == Some(NGSI_LD_NULL) {
        return Ok(());
    }
    match value.as_str().and_then(parse_time) {
        Some(_) => Ok(()),
        None => Err(bad(
            "expiresAt must be an ISO 8601 date-time, e.g. 2026-11-25T08:00:00Z",
        )),
    }
}

/// The NGSI-LD null of merge-patch (§4.5.? "urn:ngsi-ld:null" deletes an attribute).
pub const NGSI_LD_NULL: &str = "urn:ngsi-ld:null";

/// The payload that marks a deleted instance of an attribute of this kind (in notifications
/// and the temporal evolution): the NGSI-LD Null, in a language map for a LanguageProperty.
pub fn null_payload(kind: AttributeKind) -> Value {
    match kind {
        AttributeKind::LanguageProperty => serde_json::json!({"@none": NGSI_LD_NULL}),
        _ => Value::String(NGSI_LD_NULL.into()),
    }
}

/// Why a document was refused. The variants are the ETSI problem types.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// The document is well-formed JSON but its data does not fit the operation.
    #[error("{0}")]
    BadRequestData(String),
    /// The document is not what the operation takes at all (e.g. not a JSON object).
    #[error("{0}")]
    InvalidRequest(String),
}

type Result<T> = std::result::Result<T, DocumentError>;

fn bad(message: impl Into<String>) -> DocumentError {
    DocumentError::BadRequestData(message.into())
}

/// Members of an attribute instance that are not sub-attributes.
const INSTANCE_MEMBERS: &[&str] = &[
    "type",
    "value",
    "object",
    "languageMap",
    "vocab",
    "json",
    "valueList",
    "objectList",
    "objectType",
    "observedAt",
    "unitCode",
    "datasetId",
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "instanceId",
    "lang",
];

/// The payload members of the attribute kinds: an instance carries its own kind's only.
const PAYLOAD_MEMBERS: &[&str] = &[
    "value",
    "object",
    "languageMap",
    "vocab",
    "json",
    "valueList",
    "objectList",
];

/// Members only a broker writes (notifications, proofs): a client may not send them.
const OUTPUT_ONLY_MEMBERS: &[&str] = &[
    "previousValue",
    "previousObject",
    "previousLanguageMap",
    "previousVocab",
    "previousJson",
    "previousValueList",
    "previousObjectList",
    "@context",
];

/// Core terms that are members of an attribute, never attribute names (§4.5.1).
const RESERVED_ATTRIBUTE_NAMES: &[&str] = &[
    "datasetId",
    "instanceId",
    "observedAt",
    "unitCode",
    "value",
    "object",
    "languageMap",
    "valueList",
    "objectList",
    "lang",
];

/// The sealed members of the `ngsildproof` Property (§4.5.2.2).
const SEALED_MEMBERS: &[&str] = &["entityIdSealed", "entityTypeSealed"];

/// Members of an entity that are not attributes.
const ENTITY_MEMBERS: &[&str] = &[
    "@context",
    "id",
    "@id",
    "type",
    "@type",
    "scope",
    "createdAt",
    "modifiedAt",
    "deletedAt",
];

/// True for an absolute URI: a scheme, a colon and something after it, with no whitespace.
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"') || invisible(c)
        })
}

/// Characters that render as nothing or reorder text: an id holding one looks like another.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
        | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{FDD0}'..='\u{FDEF}' | '\u{E0000}'..='\u{E0FFF}')
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// Attribute and type names may not carry characters that break the query languages (§4.6.2).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(bad("an attribute name is empty"));
    }
    // §4.6.2: a name starts with a letter (or is a URI, which does too).
    if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return Err(bad(format!("the name '{name}' must start with a letter")));
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '\'' | '=' | ';' | '(' | ')')
    }) {
        return Err(bad(format!(
            "the name '{name}' contains the forbidden character {c:?}"
        )));
    }
    Ok(())
}

/// Parses an ISO 8601 date-time with an offset (`Z` or `±hh:mm`) to epoch milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Epoch milliseconds as the UTC ISO 8601 text NGSI-LD uses (`2026-11-25T10:00:00.000Z`).
pub fn format_time(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Parses a whole entity (create, replace, batch items, upsert).
pub fn parse_entity(body: &Value, ctx: &Context, now: i64) -> Result<Entity> {
    let object = body
        .as_object()
        .ok_or_else(|| DocumentError::InvalidRequest("an entity must be a JSON object".into()))?;
    let id = entity_id(object)?.ok_or_else(|| bad("the entity has no 'id'"))?;
    if id == NGSI_LD_NULL {
        return Err(bad("the NGSI-LD Null is not an entity id"));
    }
    let types = entity_types(object, ctx)?.ok_or_else(|| bad("the entity has no 'type'"))?;
    let scopes = scopes(object)?.unwrap_or_default();
    let fragment = parse_attributes(object, ctx, now, false)?;
    // §5.2.1: the NGSI-LD Null deletes; it cannot be created.
    for (iri, instances) in &fragment.attributes {
        for instance in instances {
            if holds_null(instance, true) {
                return Err(bad(format!(
                    "attribute '{}' holds the NGSI-LD Null, which only deletes",
                    ctx.compact(iri)
                )));
            }
        }
    }
    Ok(Entity {
        id,
        types,
        scopes,
        created_at: now,
        modified_at: now,
        attributes: fragment.attributes,
    })
}

/// The id of a document, if it has one; it must be a URI.
pub fn entity_id(object: &Map<String, Value>) -> Result<Option<String>> {
    match object.get("id").or_else(|| object.get("@id")) {
        None => Ok(None),
        Some(Value::String(id)) if is_uri(id) => Ok(Some(id.clone())),
        Some(Value::String(id)) => Err(bad(format!("the entity id '{id}' is not a URI"))),
        Some(_) => Err(bad("the entity id must be a string")),
    }
}

/// The expanded types of a document, if it has any.
pub fn entity_types(object: &Map<String, Value>, ctx: &Context) -> Result<Option<Vec<String>>> {
    let names: Vec<&str> = match object.get("type").or_else(|| object.get("@type")) {
        None => return Ok(None),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|t| {
                t.as_str()
                    .ok_or_else(|| bad("each entity type must be a string"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("the entity type must be a string or a non-empty array")),
    };
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        check_name(name)?;
        let iri = ctx.expand(name);
        if iri.starts_with('@') || matches!(name, "type" | "id") {
            return Err(bad(format!("'{name}' is a keyword, not an entity type")));
        }
        if !types.contains(&iri) {
            types.push(iri);
        }
    }
    Ok(Some(types))
}

fn scopes(object: &Map<String, Value>) -> Result<Option<Vec<String>>> {
    let list: Vec<&Value> = match object.get("scope") {
        None => return Ok(None),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    list.into_iter()
        .map(|s| match s.as_str() {
            Some(s) if is_scope(s) => Ok(s.to_string()),
            _ => Err(bad(
                "a scope is /Level/Level…, each level a letter then letters, digits or '_', \
                 e.g. /Hue/PhuXuan",
            )),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The scopes of a `scope` member's value (§4.18): one scope or an array of them (empty: no
/// scope).
pub fn parse_scope_value(value: &Value) -> Result<Vec<String>> {
    let mut object = Map::new();
    object.insert("scope".into(), value.clone());
    Ok(scopes(&object)?.unwrap_or_default())
}

/// A scope (§4.18): `/` then levels separated by `/`, each a letter then letters, digits, `_`.
fn is_scope(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|level| {
        let mut chars = level.chars();
        chars.next().is_some_and(char::is_alphabetic)
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    })
}

/// True if the instance (or, with `top`, its payload itself) holds the NGSI-LD Null: as its
/// payload, inside a compound value, a language map, or a sub-attribute.
pub fn holds_null(attr: &Attribute, top: bool) -> bool {
    fn nested(value: &Value) -> bool {
        match value {
            Value::String(s) => s == NGSI_LD_NULL,
            Value::Array(items) => items.iter().any(nested),
            Value::Object(o) => o.values().any(nested),
            _ => false,
        }
    }
    let payload = match (&attr.value, top) {
        (Value::String(s), true) => s == NGSI_LD_NULL,
        (Value::String(_), false) => false,
        (other, _) => nested(other),
    };
    payload
        || attr
            .sub_attributes
            .values()
            .any(|sub| holds_null(sub, true))
}

/// True if a compound value (object or array) holds the NGSI-LD Null at any depth.
pub fn value_holds_null(value: &Value) -> bool {
    fn nested(value: &Value) -> bool {
        match value {
            Value::String(s) => s == NGSI_LD_NULL,
            Value::Array(items) => items.iter().any(nested),
            Value::Object(o) => o.values().any(nested),
            _ => false,
        }
    }
    matches!(value, Value::Array(_) | Value::Object(_)) && nested(value)
}

/// The attributes of a fragment (append, update, merge), with the attributes a merge-patch
/// sets to `urn:ngsi-ld:null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fragment {
    pub types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub attributes: BTreeMap<String, Vec<Attribute>>,
    /// (attribute IRI, dataset id) pairs to delete (merge-patch only).
    pub nulls: Vec<(String, Option<String>)>,
}

/// Parses a fragment: a JSON object whose non-reserved members are attributes. With
/// `allow_null`, an attribute whose value is `urn:ngsi-ld:null` is collected in `nulls`.
pub fn parse_fragment(body: &Value, ctx: &Context, now: i64, allow_null: bool) -> Result<Fragment> {
    let object = body
        .as_object()
        .ok_or_else(|| DocumentError::InvalidRequest("the payload must be a JSON object".into()))?;
    let mut fragment = parse_attributes(object, ctx, now, allow_null)?;
    fragment.types = entity_types(object, ctx)?;
    fragment.scopes = scopes(object)?;
    Ok(fragment)
}

fn parse_attributes(
    object: &Map<String, Value>,
    ctx: &Context,
    now: i64,
    allow_null: bool,
) -> Result<Fragment> {
    let mut fragment = Fragment::default();
    for (name, value) in object {
        if ENTITY_MEMBERS.contains(&name.as_str()) {
            continue;
        }
        check_name(name)?;
        if RESERVED_ATTRIBUTE_NAMES.contains(&name.as_str()) {
            return Err(bad(format!(
                "'{name}' is a member of attributes, not an attribute name"
            )));
        }
        let iri = ctx.expand(name);
        if allow_null && is_null_marker(value) {
            fragment.nulls.push((iri, dataset_of(value)));
            continue;
        }
        let instances = parse_attribute(name, &iri, value, ctx, now)?;
        if iri == EXPIRES_AT {
            instances
                .iter()
                .try_for_each(|i| check_expires_at(&i.value))?;
        }
        fragment.attributes.insert(iri, instances);
    }
    Ok(fragment)
}

/// True for an attribute set to the NGSI-LD Null (§4.5.8): `"urn:ngsi-ld:null"` itself, or an
/// instance whose payload is it (a language map's `@none`, too). It deletes the attribute (or
/// the instance of its `datasetId`) in merge-patch and update operations.
pub fn is_null_marker(value: &Value) -> bool {
    match value {
        Value::String(s) => s == NGSI_LD_NULL,
        Value::Object(o) => {
            ["value", "object", "languageMap", "vocab", "json"]
                .iter()
                .any(|k| o.get(*k).and_then(Value::as_str) == Some(NGSI_LD_NULL))
                || o.get("languageMap")
                    .and_then(|m| m.get("@none"))
                    .and_then(Value::as_str)
                    == Some(NGSI_LD_NULL)
        }
        _ => false,
    }
}

/// The `datasetId` an instance names, if any.
pub fn dataset_of(value: &Value) -> Option<String> {
    value
        .get("datasetId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Parses the value of one attribute member: one instance, or an array of instances with
/// distinct dataset ids.
pub fn parse_attribute(
    name: &str,
    iri: &str,
    value: &Value,
    ctx: &Context,
    now: i64,
) -> Result<Vec<Attribute>> {
    let instances = match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(is_instance_object) => items
            .iter()
            .map(|item| parse_instance(name, iri, item, ctx, now))
            .collect::<Result<Vec<_>>>()?,
        _ => vec![parse_instance(name, iri, value, ctx, now)?],
    };
    let mut seen = HashSet::new();
    for instance in &instances {
        if !seen.insert(instance.dataset_id.as_deref()) {
            return Err(bad(match &instance.dataset_id {
                Some(d) => format!("attribute '{name}' has two instances with datasetId '{d}'"),
                None => format!("attribute '{name}' has two instances without a datasetId"),
            }));
        }
    }
    Ok(instances)
}

/// An object that is an attribute instance, not a plain JSON value.
fn is_instance_object(value: &Value) -> bool {
    let Some(o) = value.as_object() else {
        return false;
    };
    match o.get("type").and_then(Value::as_str) {
        Some(t) => AttributeKind::parse(t).is_some(),
        None => [
            "value",
            "object",
            "languageMap",
            "vocab",
            "json",
            "valueList",
            "objectList",
        ]
        .iter()
        .any(|k| o.contains_key(*k)),
    }
}

fn is_geojson_geometry(value: &Value) -> bool {
    let Some(o) = value.as_object() else {
        return false;
    };
    matches!(
        o.get("type").and_then(Value::as_str),
        Some(
            "Point" | "LineString" | "Polygon" | "MultiPoint" | "MultiLineString" | "MultiPolygon"
        )
    ) && o.contains_key("coordinates")
}

/// Parses one instance, in normalized form (`{"type": "Property", "value": …}`) or concise form
/// (`{"value": …}`, a GeoJSON geometry, or a bare value).
fn parse_instance(
    name: &str,
    iri: &str,
    value: &Value,
    ctx: &Context,
    now: i64,
) -> Result<Attribute> {
    let object = match value {
        Value::Null => return Err(bad(format!("attribute '{name}' is null"))),
        _ if is_geojson_geometry(value) => {
            return attribute(
                AttributeKind::GeoProperty,
                checked_geometry(name, value)?,
                now,
            );
        }
        Value::Object(o) if is_instance_object(value) => o,
        // A bare value: a concise Property (or a GeoProperty for the core geo attributes).
        other => return attribute(AttributeKind::Property, other.clone(), now),
    };
    let kind = match object.get("type") {
        Some(Value::String(t)) => AttributeKind::parse(t).ok_or_else(|| {
            bad(format!(
                "attribute '{name}' has the unknown type '{t}' (expected Property, Relationship, \
                 GeoProperty, LanguageProperty, VocabProperty, JsonProperty, ListProperty or \
                 ListRelationship)"
            ))
        })?,
        Some(_) => {
            return Err(bad(format!(
                "the type of attribute '{name}' must be a string"
            )))
        }
        None => infer_kind(object),
    };
    let member = kind.payload_member();
    for other in PAYLOAD_MEMBERS {
        if *other != member && object.contains_key(*other) {
            return Err(bad(format!(
                "attribute '{name}' of type {} cannot have the member '{other}'",
                kind.as_str()
            )));
        }
    }
    if let Some(m) = OUTPUT_ONLY_MEMBERS
        .iter()
        .find(|m| object.contains_key(**m))
    {
        return Err(bad(format!("attribute '{name}' cannot carry '{m}'")));
    }
    let is_proof = name == "ngsildproof" || iri.ends_with("/ngsildproof");
    for sealed in SEALED_MEMBERS {
        match object.get(*sealed) {
            None => {}
            Some(Value::String(_)) if is_proof => {}
            Some(_) => {
                return Err(bad(format!(
                    "'{sealed}' belongs to ngsildproof only, as a string"
                )))
            }
        }
    }
    if is_proof && !object.get("value").is_some_and(Value::is_object) {
        return Err(bad("the value of ngsildproof must be a proof object"));
    }
    if object.contains_key("unitCode")
        && !matches!(kind, AttributeKind::Property | AttributeKind::ListProperty)
    {
        return Err(bad(format!(
            "attribute '{name}' of type {} cannot have a unitCode",
            kind.as_str()
        )));
    }
    if kind == AttributeKind::LanguageProperty
        && object
            .get("valueType")
            .is_some_and(|v| v.as_str() != Some("langString"))
    {
        return Err(bad(format!(
            "the valueType of LanguageProperty '{name}' can only be langString"
        )));
    }
    let payload = match object.get(member) {
        Some(Value::Null) | None => {
            return Err(bad(format!(
                "attribute '{name}' of type {} has no '{member}'",
                kind.as_str()
            )))
        }
        Some(v) => v,
    };
    let payload = match kind {
        AttributeKind::Property | AttributeKind::ListProperty => payload.clone(),
        AttributeKind::JsonProperty => {
            let ok = match payload {
                Value::Object(_) => true,
                Value::Array(items) => items.iter().all(Value::is_object),
                _ => false,
            };
            if !ok {
                return Err(bad(format!(
                    "the json of '{name}' must be a JSON object or an array of objects"
                )));
            }
            payload.clone()
        }
        // §4.7.2: a geometry may come encoded as a JSON string.
        AttributeKind::GeoProperty => match payload {
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(decoded) if is_geojson_geometry(&decoded) => checked_geometry(name, &decoded)?,
                _ => {
                    return Err(bad(format!(
                        "attribute '{name}' is not a valid GeoJSON geometry"
                    )))
                }
            },
            other => checked_geometry(name, other)?,
        },
        AttributeKind::Relationship => checked_objects(name, payload, false)?,
        AttributeKind::ListRelationship => checked_objects(name, payload, true)?,
        AttributeKind::LanguageProperty => checked_language_map(name, payload)?,
        AttributeKind::VocabProperty => expanded_vocab(name, payload, ctx)?,
    };
    let kind = if kind == AttributeKind::Property && payload_is_geo_of_core(iri, &payload) {
        checked_geometry(name, &payload)?;
        AttributeKind::GeoProperty
    } else {
        kind
    };
    if iri == LOCATION && kind != AttributeKind::GeoProperty {
        return Err(bad("location is a GeoProperty"));
    }
    parse_instance_members(name, object, attribute(kind, payload, now)?, ctx, now)
}

/// The core geo attributes (`location`, `observationSpace`, `operationSpace`) hold geometries.
fn payload_is_geo_of_core(iri: &str, payload: &Value) -> bool {
    iri.starts_with(CORE) && is_geojson_geometry(payload)
}

fn infer_kind(object: &Map<String, Value>) -> AttributeKind {
    if object.contains_key("object") {
        AttributeKind::Relationship
    } else if object.contains_key("languageMap") {
        AttributeKind::LanguageProperty
    } else if object.contains_key("vocab") {
        AttributeKind::VocabProperty
    } else if object.contains_key("json") {
        AttributeKind::JsonProperty
    } else if object.contains_key("valueList") {
        AttributeKind::ListProperty
    } else if object.contains_key("objectList") {
        AttributeKind::ListRelationship
    } else if object.get("value").is_some_and(is_geojson_geometry) {
        AttributeKind::GeoProperty
    } else {
        AttributeKind::Property
    }
}

fn attribute(kind: AttributeKind, value: Value, now: i64) -> Result<Attribute> {
    Ok(Attribute {
        kind,
        value,
        observed_at: None,
        unit_code: None,
        dataset_id: None,
        created_at: now,
        modified_at: now,
        sub_attributes: BTreeMap::new(),
    })
}

/// Reads the metadata members and the sub-attributes of an instance object.
fn parse_instance_members(
    name: &str,
    object: &Map<String, Value>,
    mut attr: Attribute,
    ctx: &Context,
    now: i64,
) -> Result<Attribute> {
    if let Some(v) = object.get("observedAt") {
        match v.as_str() {
            Some(s) if parse_time(s).is_some() => attr.observed_at = Some(s.to_string()),
            _ => {
                return Err(bad(format!(
                    "observedAt of attribute '{name}' must be an ISO 8601 date-time with an \
                     offset, e.g. 2026-11-25T08:00:00Z"
                )))
            }
        }
    }
    if let Some(v) = object.get("unitCode") {
        match v.as_str() {
            Some(s) if !s.is_empty() => attr.unit_code = Some(s.to_string()),
            _ => {
                return Err(bad(format!(
                    "unitCode of attribute '{name}' must be a string"
                )))
            }
        }
    }
    if let Some(v) = object.get("datasetId") {
        match v.as_str() {
            // §4.5.5.1: "@none" names the default instance.
            Some("@none") => attr.dataset_id = None,
            Some(s) if is_uri(s) => attr.dataset_id = Some(s.to_string()),
            _ => {
                return Err(bad(format!(
                    "datasetId of attribute '{name}' must be a URI"
                )))
            }
        }
    }
    for (sub_name, sub_value) in object {
        if INSTANCE_MEMBERS.contains(&sub_name.as_str()) {
            continue;
        }
        check_name(sub_name)?;
        let sub_iri = ctx.expand(sub_name);
        let path = format!("{name}.{sub_name}");
        let sub = parse_instance(&path, &sub_iri, sub_value, ctx, now)?;
        if sub_iri == EXPIRES_AT {
            check_expires_at(&sub.value)?;
        }
        attr.sub_attributes.insert(sub_iri, sub);
    }
    Ok(attr)
}

fn checked_geometry(name: &str, value: &Value) -> Result<Value> {
    let geometry_type = value.get("type").and_then(Value::as_str).unwrap_or("");
    let coordinates = value.get("coordinates").unwrap_or(&Value::Null);
    crate::geo::parse_geometry_value(geometry_type, coordinates).map_err(|e| {
        bad(format!(
            "attribute '{name}' is not a valid GeoJSON geometry: {e}"
        ))
    })?;
    Ok(value.clone())
}

fn checked_objects(name: &str, value: &Value, list: bool) -> Result<Value> {
    let uri = |v: &Value| v.as_str().is_some_and(is_uri);
    let ok = match value {
        Value::String(_) if !list => uri(value),
        Value::Array(items) => !items.is_empty() && items.iter().all(uri),
        _ => false,
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(bad(format!(
            "the object of relationship '{name}' must be a URI or an array of URIs"
        )))
    }
}

fn checked_language_map(name: &str, value: &Value) -> Result<Value> {
    let ok = value.as_object().is_some_and(|m| {
        !m.is_empty()
            && m.keys().all(|tag| !tag.is_empty())
            && m.values().all(|v| match v {
                Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            })
    });
    if ok {
        Ok(value.clone())
    } else {
        Err(bad(format!(
            "the languageMap of '{name}' must map language tags to strings, e.g. {{\"vi\": \"Cầu Trường Tiền\"}}"
        )))
    }
}

fn expanded_vocab(name: &str, value: &Value, ctx: &Context) -> Result<Value> {
    match value {
        Value::String(s) => Ok(Value::String(ctx.expand(s))),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| Value::String(ctx.expand(s)))
                    .ok_or_else(|| bad(format!("the vocab of '{name}' must hold strings")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
        _ => Err(bad(format!(
            "the vocab of '{name}' must be a string or an array of strings"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Which attributes an operation changed and which it left, with the reason (§5.2.18 and the
/// `notUpdated` member of 207 answers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttrOutcome {
    pub updated: Vec<String>,
    pub not_updated: Vec<(String, String)>,
}

/// Replaces `old` by `new`, keeping the creation time.
fn overwrite(old: &mut Attribute, mut new: Attribute, now: i64) {
    new.created_at = old.created_at;
    new.modified_at = now;
    *old = new;
}

/// Merges `new` into `old`: members `new` has replace those of `old`, sub-attributes are merged.
fn merge_instance(old: &mut Attribute, new: Attribute, now: i64) {
    old.kind = new.kind;
    old.value = new.value;
    if new.observed_at.is_some() {
        old.observed_at = new.observed_at;
    }
    if new.unit_code.is_some() {
        old.unit_code = new.unit_code;
    }
    for (iri, sub) in new.sub_attributes {
        if sub.value.as_str() == Some(NGSI_LD_NULL) {
            old.sub_attributes.remove(&iri);
            continue;
        }
        match old.sub_attributes.get_mut(&iri) {
            Some(existing) => merge_instance(existing, sub, now),
            None => {
                old.sub_attributes.insert(iri, sub);
            }
        }
    }
    old.modified_at = now;
}

/// RFC 7396 merge-patch of a JSON value, with the NGSI-LD Null (or JSON null) removing a key.
fn merge_patch(target: &mut Value, patch: &Value) {
    let (Value::Object(target), Value::Object(patch)) = (target, patch) else {
        return;
    };
    for (key, value) in patch {
        let removes = value.is_null() || value.as_str() == Some(NGSI_LD_NULL);
        if removes {
            target.remove(key);
        } else if let (Some(existing @ Value::Object(_)), Value::Object(_)) =
            (target.get_mut(key), value)
        {
            merge_patch(existing, value);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

impl Entity {
    fn instance_mut(&mut self, iri: &str, dataset_id: Option<&str>) -> Option<&mut Attribute> {
        self.attributes
            .get_mut(iri)?
            .iter_mut()
            .find(|a| a.dataset_id.as_deref() == dataset_id)
    }

    /// Append Entity Attributes (§5.6.3): new attributes are added; existing instances are
    /// overwritten unless `overwrite` is false (`options=noOverwrite`). Update Entity
    /// Attributes (§5.6.2) and Batch Update (§5.6.9) apply the same with `overwrite`.
    pub fn append(
        &mut self,
        attributes: BTreeMap<String, Vec<Attribute>>,
        overwrite_existing: bool,
        now: i64,
    ) -> AttrOutcome {
        let mut outcome = AttrOutcome::default();
        for (iri, instances) in attributes {
            let mut changed = false;
            for instance in instances {
                let dataset = instance.dataset_id.clone();
                match self.instance_mut(&iri, dataset.as_deref()) {
                    Some(existing) if overwrite_existing => {
                        overwrite(existing, instance, now);
                        changed = true;
                    }
                    Some(_) => {}
                    None => {
                        self.attributes
                            .entry(iri.clone())
                            .or_default()
                            .push(instance);
                        changed = true;
                    }
                }
            }
            if changed {
                outcome.updated.push(iri);
            } else {
                outcome
                    .not_updated
                    .push((iri, "the attribute exists and noOverwrite was asked".into()));
            }
        }
        if !outcome.updated.is_empty() {
            self.modified_at = now;
        }
        outcome
    }

    /// Partial Attribute Update (§5.6.4): the given members of an existing instance change.
    /// Returns false when the entity has no such instance.
    pub fn partial_update(&mut self, iri: &str, instances: Vec<Attribute>, now: i64) -> bool {
        let mut any = false;
        for instance in instances {
            let dataset = instance.dataset_id.clone();
            if let Some(existing) = self.instance_mut(iri, dataset.as_deref()) {
                merge_instance(existing, instance, now);
                any = true;
            }
        }
        if any {
            self.modified_at = now;
        }
        any
    }

    /// Replace Attribute (§5.6.19): the instance must exist and is replaced whole.
    pub fn replace_attribute(&mut self, iri: &str, instances: Vec<Attribute>, now: i64) -> bool {
        let mut any = false;
        for instance in instances {
            let dataset = instance.dataset_id.clone();
            if let Some(existing) = self.instance_mut(iri, dataset.as_deref()) {
                overwrite(existing, instance, now);
                any = true;
            }
        }
        if any {
            self.modified_at = now;
        }
        any
    }

    /// Merge Entity (§5.6.17, JSON merge-patch semantics): attributes are added or merged,
    /// `urn:ngsi-ld:null` removes one, types and scopes given are added.
    pub fn merge(&mut self, fragment: Fragment, now: i64) -> AttrOutcome {
        let mut outcome = AttrOutcome::default();
        if let Some(types) = fragment.types {
            for t in types {
                if !self.types.contains(&t) {
                    self.types.push(t);
                }
            }
        }
        if let Some(scopes) = fragment.scopes {
            self.scopes = scopes;
        }
        for (iri, dataset) in fragment.nulls {
            if self.delete_attribute(&iri, dataset.as_deref(), false) {
                outcome.updated.push(iri);
            }
        }
        for (iri, instances) in fragment.attributes {
            for mut instance in instances {
                let dataset = instance.dataset_id.clone();
                match self.instance_mut(&iri, dataset.as_deref()) {
                    Some(existing) => {
                        // §5.5.12: a compound Property value is merge-patched (RFC 7396).
                        if existing.kind == AttributeKind::Property
                            && instance.kind == AttributeKind::Property
                        {
                            if let (Value::Object(old), Value::Object(_)) =
                                (&existing.value, &instance.value)
                            {
                                let mut patched = Value::Object(old.clone());
                                merge_patch(&mut patched, &instance.value);
                                instance.value = patched;
                            }
                        }
                        merge_instance(existing, instance, now)
                    }
                    None => self
                        .attributes
                        .entry(iri.clone())
                        .or_default()
                        .push(instance),
                }
            }
            outcome.updated.push(iri);
        }
        self.modified_at = now;
        outcome
    }

    /// Replace Entity (§5.6.18): everything but the id and the creation time is replaced.
    pub fn replace_with(&mut self, new: Entity, now: i64) {
        let created_at = self.created_at;
        *self = new;
        self.created_at = created_at;
        self.modified_at = now;
    }

    /// Delete Entity Attribute (§5.6.5): one instance (the default one when `dataset_id` is
    /// None) or, with `all`, every instance. Returns false if nothing matched.
    pub fn delete_attribute(&mut self, iri: &str, dataset_id: Option<&str>, all: bool) -> bool {
        let Some(instances) = self.attributes.get_mut(iri) else {
            return false;
        };
        let before = instances.len();
        if all {
            instances.clear();
        } else {
            instances.retain(|a| a.dataset_id.as_deref() != dataset_id);
        }
        let removed = instances.len() != before;
        if instances.is_empty() {
            self.attributes.remove(iri);
        }
        removed
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// The representation a client asked for (`options`/`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Normalized,
    Concise,
    KeyValues,
}

/// How to render entities for one request.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub format: Format,
    /// `options=sysAttrs`: include createdAt/modifiedAt.
    pub sys_attrs: bool,
    /// `attrs`/`pick`: only these expanded attributes (None = all).
    pub attrs: Option<HashSet<String>>,
    /// `lang`: render LanguageProperties as the string of this language.
    pub lang: Option<String>,
    /// `pick`/`omit` (§4.21): which members of the entity the answer keeps.
    pub projection: Projection,
    /// `datasetId`: only the instances of these dataset ids (None = the default instance);
    /// None = every instance.
    pub datasets: Option<Vec<Option<String>>>,
}

/// The top level of the `pick` and `omit` parameters (§4.21). Members are named by the core
/// member names (`id`, `type`, `scope`, `createdAt`, `modifiedAt`) or by expanded attribute
/// IRIs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Only these members (None = all).
    pub pick: Option<HashSet<String>>,
    /// None of these members.
    pub omit: HashSet<String>,
}

impl Projection {
    /// True when the answer keeps the member `name`.
    pub fn keeps(&self, name: &str) -> bool {
        self.pick.as_ref().is_none_or(|p| p.contains(name)) && !self.omit.contains(name)
    }
}

/// Renders an entity in the representation asked, with compacted names (no `@context`).
pub fn render_entity(
    entity: &Entity,
    ctx: &Context,
    options: &RenderOptions,
) -> Map<String, Value> {
    let mut out = Map::new();
    let keeps = |name: &str| options.projection.keeps(name);
    if keeps("id") {
        out.insert("id".into(), Value::String(entity.id.clone()));
    }
    if keeps("type") {
        out.insert("type".into(), render_types(&entity.types, ctx));
    }
    if !entity.scopes.is_empty() && keeps("scope") {
        out.insert(
            "scope".into(),
            match entity.scopes.as_slice() {
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            },
        );
    }
    if options.sys_attrs && options.format != Format::KeyValues {
        if keeps("createdAt") {
            out.insert(
                "createdAt".into(),
                Value::String(format_time(entity.created_at)),
            );
        }
        if keeps("modifiedAt") {
            out.insert(
                "modifiedAt".into(),
                Value::String(format_time(entity.modified_at)),
            );
        }
    }
    for (iri, instances) in &entity.attributes {
        if options.attrs.as_ref().is_some_and(|set| !set.contains(iri)) || !keeps(iri) {
            continue;
        }
        let kept: Vec<Attribute>;
        let instances = match &options.datasets {
            None => instances.as_slice(),
            Some(datasets) => {
                kept = instances
                    .iter()
                    .filter(|i| datasets.contains(&i.dataset_id))
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                kept.as_slice()
            }
        };
        out.insert(ctx.compact(iri), render_attribute(instances, ctx, options));
    }
    out
}

/// Types as the client sees them: one string, or an array for several.
pub fn render_types(types: &[String], ctx: &Context) -> Value {
    match types {
        [one] => Value::String(ctx.compact(one)),
        many => Value::Array(many.iter().map(|t| Value::String(ctx.compact(t))).collect()),
    }
}

/// Renders the instances of one attribute (an array when there are several).
pub fn render_attribute(instances: &[Attribute], ctx: &Context, options: &RenderOptions) -> Value {
    match instances {
        [one] => render_instance(one, ctx, options),
        // §4.5.4: several instances in keyValues are a map from dataset id (`@none` for the
        // default instance) to value.
        many if options.format == Format::KeyValues => {
            let mut map = Map::new();
            for i in many {
                let key = i.dataset_id.clone().unwrap_or_else(|| "@none".into());
                map.insert(key, render_instance(i, ctx, options));
            }
            let mut wrapped = Map::new();
            wrapped.insert("dataset".into(), Value::Object(map));
            Value::Object(wrapped)
        }
        many => Value::Array(
            many.iter()
                .map(|i| render_instance(i, ctx, options))
                .collect(),
        ),
    }
}

/// The entry of a language map that `lang` selects (§4.15): `lang` is a list of language
/// ranges with optional weights (`fr;q=0.2,nl;q=0.9`), tried by weight then list order; a range
/// matches a tag case-insensitively, as a prefix of a longer tag (`en` → `en-US`) or by
/// truncation (`nl-BE` → `nl`); `*` matches any. Without a match: `@none`, else any entry.
fn language_pick<'a>(map: &'a Value, lang: &str) -> Option<(&'a str, Value)> {
    let map = map.as_object()?;
    let mut ranges: Vec<(f32, String)> = lang
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!range.is_empty() && q > 0.0).then_some((q, range))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    let find = |wanted: &str| map.iter().find(|(tag, _)| tag.eq_ignore_ascii_case(wanted));
    let found = ranges.iter().find_map(|(_, range)| {
        if range == "*" {
            return map.get_key_value("@none").or_else(|| map.iter().next());
        }
        if let Some(hit) = find(range) {
            return Some(hit);
        }
        // A shorter range matches a longer tag.
        if let Some(hit) = map.iter().find(|(tag, _)| {
            tag.to_ascii_lowercase()
                .strip_prefix(range.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
        }) {
            return Some(hit);
        }
        // A longer range falls back to its truncations.
        let mut truncated = range.as_str();
        while let Some((shorter, _)) = truncated.rsplit_once('-') {
            truncated = shorter;
            if let Some(hit) = find(truncated) {
                return Some(hit);
            }
        }
        None
    });
    let (tag, value) = found
        .or_else(|| map.get_key_value("@none"))
        .or_else(|| map.iter().next())?;
    Some((tag.as_str(), value.clone()))
}

fn compact_vocab(value: &Value, ctx: &Context) -> Value {
    match value {
        Value::String(s) => Value::String(ctx.compact(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| compact_vocab(v, ctx)).collect()),
        other => other.clone(),
    }
}

fn render_instance(attr: &Attribute, ctx: &Context, options: &RenderOptions) -> Value {
    let payload = match attr.kind {
        AttributeKind::VocabProperty => compact_vocab(&attr.value, ctx),
        _ => attr.value.clone(),
    };
    let picked = match (attr.kind, options.lang.as_deref()) {
        (AttributeKind::LanguageProperty, Some(lang)) => language_pick(&attr.value, lang),
        _ => None,
    };
    if options.format == Format::KeyValues {
        // §4.5.4: the payloads that are JSON objects themselves keep their member name.
        return match (picked, attr.kind) {
            (Some((_, v)), _) => v,
            (
                None,
                AttributeKind::LanguageProperty
                | AttributeKind::JsonProperty
                | AttributeKind::VocabProperty,
            ) => {
                let mut wrapped = Map::new();
                wrapped.insert(attr.kind.payload_member().into(), payload);
                Value::Object(wrapped)
            }
            (None, _) => payload,
        };
    }
    let mut out = Map::new();
    let (kind, member) = match &picked {
        Some(_) => (AttributeKind::Property, "value"),
        None => (attr.kind, attr.kind.payload_member()),
    };
    let concise = options.format == Format::Concise;
    if !concise {
        out.insert("type".into(), Value::String(kind.as_str().into()));
    }
    match picked {
        Some((tag, value)) => {
            out.insert("value".into(), value);
            out.insert("lang".into(), Value::String(tag.to_string()));
        }
        None => {
            out.insert(member.into(), payload.clone());
        }
    }
    if let Some(t) = &attr.observed_at {
        out.insert("observedAt".into(), Value::String(t.clone()));
    }
    if let Some(u) = &attr.unit_code {
        out.insert("unitCode".into(), Value::String(u.clone()));
    }
    if let Some(d) = &attr.dataset_id {
        out.insert("datasetId".into(), Value::String(d.clone()));
    }
    if options.sys_attrs {
        out.insert(
            "createdAt".into(),
            Value::String(format_time(attr.created_at)),
        );
        out.insert(
            "modifiedAt".into(),
            Value::String(format_time(attr.modified_at)),
        );
    }
    for (iri, sub) in &attr.sub_attributes {
        out.insert(ctx.compact(iri), render_instance(sub, ctx, options));
    }
    // Concise form drops the object around a lone Property or GeoProperty value when reading
    // it back gives the same attribute.
    if concise
        && out.len() == 1
        && matches!(kind, AttributeKind::Property | AttributeKind::GeoProperty)
    {
        let lone_is_plain = match kind {
            AttributeKind::GeoProperty => true,
            _ => {
                !is_instance_object(&payload)
                    && !is_geojson_geometry(&payload)
                    && !payload.is_array()
            }
        };
        if lone_is_plain {
            return payload;
        }
    }
    Value::Object(out)
}

/// Renders an entity as a GeoJSON Feature (§4.5.16): the geometry is the value of
/// `geometry_iri` (default `location`), the properties are the rendered attributes.
pub fn render_feature(
    entity: &Entity,
    ctx: &Context,
    options: &RenderOptions,
    geometry_iri: &str,
) -> Value {
    let mut properties = render_entity(entity, ctx, options);
    properties.remove("id");
    let geometry = entity
        .attributes
        .get(geometry_iri)
        .and_then(|instances| {
            // The default instance (no datasetId) is the geometry, if there is one (§4.5.16).
            instances
                .iter()
                .find(|a| a.dataset_id.is_none())
                .or_else(|| instances.first())
        })
        .filter(|a| a.kind == AttributeKind::GeoProperty)
        .map(|a| a.value.clone())
        .unwrap_or(Value::Null);
    let mut feature = Map::new();
    feature.insert("id".into(), Value::String(entity.id.clone()));
    feature.insert("type".into(), Value::String("Feature".into()));
    feature.insert("geometry".into(), geometry);
    feature.insert("properties".into(), Value::Object(properties));
    Value::Object(feature)
}
