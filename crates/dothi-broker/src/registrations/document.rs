//! The CSourceRegistration document (§5.2.9) with its RegistrationInfo (§5.2.10), EntityInfo
//! (§5.2.8), TimeInterval (§5.2.11), KeyValuePair (§5.2.22) and RegistrationManagementInfo
//! (§5.2.34): strict parsing into the stored, expanded shape, and rendering with a context.
//!
//! Invariant: a parsed [`Registration`] is valid as a whole (every member of its type, the
//! mode rules of §4.3.6.3 and §5.9.2.4 hold), and its entity types, attribute names and
//! Context Source Property names are expanded IRIs.

use std::collections::BTreeMap;

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{check_name, format_time, is_uri, parse_time, NGSI_LD_NULL};
use dothi_ngsild::geo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::subscriptions::{random_urn, KeyValue};
use crate::{BrokerError, Result};

/// The `type` of a registration.
pub const TYPE: &str = "ContextSourceRegistration";

/// The modes of distributed operation (§4.3.6); `inclusive` is the default.
pub const MODES: [&str; 4] = ["inclusive", "exclusive", "redirect", "auxiliary"];

/// The operation names of Table 4.20-1 (v1.8, with the later additions clients send).
const OPERATIONS: &[&str] = &[
    "createEntity",
    "updateEntity",
    "appendAttrs",
    "updateAttrs",
    "deleteAttrs",
    "deleteEntity",
    "createBatch",
    "upsertBatch",
    "updateBatch",
    "deleteBatch",
    "upsertTemporal",
    "appendAttrsTemporal",
    "deleteAttrsTemporal",
    "updateAttrsTemporal",
    "updateAttrInstanceTemporal",
    "deleteAttrInstanceTemporal",
    "deleteTemporal",
    "mergeEntity",
    "replaceEntity",
    "replaceAttrs",
    "mergeBatch",
    "purgeEntity",
    "retrieveEntity",
    "queryEntity",
    "queryBatch",
    "retrieveTemporal",
    "queryTemporal",
    "retrieveEntityTypes",
    "retrieveEntityTypeDetails",
    "retrieveEntityTypeInfo",
    "retrieveAttrTypes",
    "retrieveAttrTypeDetails",
    "retrieveAttrTypeInfo",
    "createSubscription",
    "updateSubscription",
    "retrieveSubscription",
    "querySubscription",
    "deleteSubscription",
    "retrieveEntityMap",
    "updateEntityMap",
    "deleteEntityMap",
    "createEntityMapQueryEntity",
    "createEntityMapQueryTemporal",
    "retrieveContextSourceIdentity",
];

/// The operation groups of Table 4.20-2.
const OPERATION_GROUPS: &[&str] = &[
    "federationOps",
    "associationOps",
    "updateOps",
    "retrieveOps",
    "redirectionOps",
];

/// Operations (and groups) that write context data: an auxiliary registration may not offer
/// them (§5.9.2.4).
const WRITE_OPERATIONS: &[&str] = &[
    "createEntity",
    "updateEntity",
    "appendAttrs",
    "updateAttrs",
    "deleteAttrs",
    "deleteEntity",
    "createBatch",
    "upsertBatch",
    "updateBatch",
    "deleteBatch",
    "upsertTemporal",
    "appendAttrsTemporal",
    "deleteAttrsTemporal",
    "updateAttrsTemporal",
    "updateAttrInstanceTemporal",
    "deleteAttrInstanceTemporal",
    "deleteTemporal",
    "mergeEntity",
    "replaceEntity",
    "replaceAttrs",
    "mergeBatch",
    "purgeEntity",
    "updateOps",
    "redirectionOps",
];

/// Members the broker computes; a client cannot write them.
const READ_ONLY: &[&str] = &[
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "status",
    "timesSent",
    "timesFailed",
    "lastSuccess",
    "lastFailure",
];

/// The members of §5.2.9; any other member is a Context Source Property.
const MEMBERS: &[&str] = &[
    "id",
    "type",
    "registrationName",
    "description",
    "information",
    "tenant",
    "observationInterval",
    "managementInterval",
    "location",
    "observationSpace",
    "operationSpace",
    "expiresAt",
    "endpoint",
    "contextSourceInfo",
    "scope",
    "mode",
    "operations",
    "refreshRate",
    "management",
    "datasetId",
    "contextSourceAlias",
    "@context",
];

/// The members of a registration's location that a geo-query may name (`geoproperty`).
pub const GEO_MEMBERS: [&str; 3] = ["location", "observationSpace", "operationSpace"];

/// EntityInfo (§5.2.8): which entities a context source has information about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_pattern: Option<String>,
    /// Expanded type IRIs (never empty).
    pub types: Vec<String>,
    /// The client wrote `type` as an array (rendered back the same way).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub type_list: bool,
}

/// RegistrationInfo (§5.2.10). An empty list means the member is absent: no `entities` covers
/// every entity, no attribute names cover every attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<EntityInfo>,
    /// Expanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub property_names: Vec<String>,
    /// Expanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relationship_names: Vec<String>,
}

impl RegistrationInfo {
    /// No attribute names: every attribute of the entities.
    pub fn all_attributes(&self) -> bool {
        self.property_names.is_empty() && self.relationship_names.is_empty()
    }

    pub fn has_attribute(&self, iri: &str) -> bool {
        self.property_names.iter().any(|a| a == iri)
            || self.relationship_names.iter().any(|a| a == iri)
    }
}

/// TimeInterval (§5.2.11), the date-times as the client wrote them (validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeInterval {
    pub start_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_at: Option<String>,
}

impl TimeInterval {
    /// Start and end as epoch milliseconds (the end None when open).
    pub fn bounds(&self) -> (i64, Option<i64>) {
        (
            parse_time(&self.start_at).unwrap_or(i64::MIN),
            self.end_at.as_deref().and_then(parse_time),
        )
    }
}

/// A context source registration as stored (the body column of `ngsild_registrations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub information: Vec<RegistrationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_interval: Option<TimeInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_interval: Option<TimeInterval>,
    /// GeoJSON geometries (validated), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_space: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_space: Option<Value>,
    /// As sent (a date-time in the future when written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_source_info: Vec<KeyValue>,
    /// `scope` as sent: a string or an array of strings (§4.18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Value>,
    pub mode: String,
    pub operations: Vec<String>,
    /// An ISO 8601 duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rate: Option<String>,
    /// RegistrationManagementInfo (§5.2.34), as sent (validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Value>,
    /// `datasetId`: a URI or `@none`, or an array of them, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_source_alias: Option<String>,
    /// Context Source Properties: expanded name → value as sent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Value>,
}

impl Registration {
    /// The scopes of `scope`.
    pub fn scopes(&self) -> Vec<String> {
        match &self.scope {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The geometry of `location`, `observationSpace` or `operationSpace` (by expanded name).
    pub fn geometry(&self, iri: &str, ctx: &Context) -> Option<&Value> {
        GEO_MEMBERS
            .iter()
            .find(|m| ctx.expand(m) == iri)
            .and_then(|m| match *m {
                "location" => self.location.as_ref(),
                "observationSpace" => self.observation_space.as_ref(),
                _ => self.operation_space.as_ref(),
            })
    }

    /// `expiresAt` in epoch milliseconds.
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires_at.as_deref().and_then(parse_time)
    }
}

pub(crate) fn bad(message: impl Into<String>) -> BrokerError {
    BrokerError::BadRequestData(message.into())
}

fn string<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(format!("{name} must be a string, not {other}"))),
    }
}

fn date_time(value: &Value, name: &str) -> Result<String> {
    match value.as_str() {
        Some(s) if parse_time(s).is_some() => Ok(s.to_string()),
        _ => Err(bad(format!(
            "{name} must be an ISO 8601 date-time with an offset or Z, not {value}"
        ))),
    }
}

/// An ISO 8601 duration (`P1DT2H`, `PT5M`, `P1W`).
pub(crate) fn is_duration(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let fields = |part: &str, units: &str| -> Option<usize> {
        let mut n = 0;
        let mut digits = String::new();
        let mut last = None;
        for c in part.chars() {
            if c.is_ascii_digit() || (c == '.' && !digits.is_empty()) {
                digits.push(c);
            } else {
                let position = units.find(c)?;
                if digits.is_empty() || last.is_some_and(|l| position <= l) {
                    return None;
                }
                digits.parse::<f64>().ok()?;
                digits.clear();
                last = Some(position);
                n += 1;
            }
        }
        digits.is_empty().then_some(n)
    };
    match (fields(date, "YMWD"), time.map(|t| fields(t, "HMS"))) {
        (Some(d), None) => d > 0,
        (Some(_), Some(Some(t))) => t > 0,
        _ => false,
    }
}

/// A scope (§4.18): `/` then levels separated by `/`, each a letter then letters, digits, `_`.
pub(crate) fn is_scope(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|level| {
        let mut chars = level.chars();
        chars.next().is_some_and(char::is_alphabetic)
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    })
}

fn names(value: &Value, name: &str, ctx: &Context) -> Result<Vec<String>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad(format!("{name} must be an array of names")))?;
    if items.is_empty() {
        return Err(bad(format!("{name} may not be an empty array")));
    }
    let mut out = Vec::new();
    for item in items {
        let term = item
            .as_str()
            .ok_or_else(|| bad(format!("{name} must be an array of names, found {item}")))?;
        check_name(term).map_err(|e| bad(format!("{name}: {e}")))?;
        let iri = ctx.expand(term);
        if !out.contains(&iri) {
            out.push(iri);
        }
    }
    Ok(out)
}

fn parse_entity_info(value: &Value, ctx: &Context) -> Result<EntityInfo> {
    let object = value.as_object().ok_or_else(|| {
        bad(format!(
            "each item of entities must be an object, found {value}"
        ))
    })?;
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "id" | "idPattern" | "type"))
    {
        return Err(bad(format!(
            "an EntityInfo has id, idPattern and type (§5.2.8), not {key}"
        )));
    }
    let id = string(object, "id")?.map(str::to_string);
    if let Some(id) = &id {
        if !is_uri(id) {
            return Err(bad(format!("entities: the id '{id}' is not a URI")));
        }
    }
    let id_pattern = string(object, "idPattern")?.map(str::to_string);
    if let Some(p) = &id_pattern {
        regex::Regex::new(p).map_err(|e| {
            bad(format!(
                "entities: idPattern is not a valid regular expression: {e}"
            ))
        })?;
    }
    let (terms, type_list) = match object.get("type") {
        None => return Err(bad("each item of entities needs a type (§5.2.8)")),
        Some(Value::String(t)) => (vec![t.clone()], false),
        Some(Value::Array(items)) if !items.is_empty() => (
            items
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("entities: a type must be a string, found {t}")))
                })
                .collect::<Result<Vec<_>>>()?,
            true,
        ),
        Some(other) => {
            return Err(bad(format!(
                "entities: type must be a name or a non-empty array of names, not {other}"
            )))
        }
    };
    let mut types = Vec::new();
    for term in terms {
        check_name(&term).map_err(|e| bad(format!("entities: {e}")))?;
        let iri = ctx.expand(&term);
        if !types.contains(&iri) {
            types.push(iri);
        }
    }
    Ok(EntityInfo {
        id,
        id_pattern,
        types,
        type_list,
    })
}

fn parse_info(value: &Value, ctx: &Context) -> Result<RegistrationInfo> {
    let object = value.as_object().ok_or_else(|| {
        bad(format!(
            "each item of information must be a RegistrationInfo object, found {value}"
        ))
    })?;
    if let Some(key) = object.keys().find(|k| {
        !matches!(
            k.as_str(),
            "entities" | "propertyNames" | "relationshipNames"
        )
    }) {
        return Err(bad(format!(
            "a RegistrationInfo has entities, propertyNames and relationshipNames (§5.2.10), \
             not {key}"
        )));
    }
    let entities = match object.get("entities") {
        None => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| parse_entity_info(i, ctx))
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(bad(
                "information: entities must be a non-empty array of EntityInfo",
            ))
        }
    };
    let property_names = match object.get("propertyNames") {
        Some(v) => names(v, "propertyNames", ctx)?,
        None => Vec::new(),
    };
    let relationship_names = match object.get("relationshipNames") {
        Some(v) => names(v, "relationshipNames", ctx)?,
        None => Vec::new(),
    };
    if entities.is_empty() && property_names.is_empty() && relationship_names.is_empty() {
        return Err(bad(
            "each RegistrationInfo needs entities, propertyNames or relationshipNames (§5.2.10)",
        ));
    }
    Ok(RegistrationInfo {
        entities,
        property_names,
        relationship_names,
    })
}

fn parse_interval(value: &Value, name: &str) -> Result<TimeInterval> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(format!("{name} must be a TimeInterval object (§5.2.11)")))?;
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "startAt" | "endAt"))
    {
        return Err(bad(format!(
            "{name} has startAt and endAt (§5.2.11), not {key}"
        )));
    }
    let start_at = date_time(
        object
            .get("startAt")
            .ok_or_else(|| bad(format!("{name} needs a startAt")))?,
        &format!("{name}.startAt"),
    )?;
    let end_at = object
        .get("endAt")
        .map(|v| date_time(v, &format!("{name}.endAt")))
        .transpose()?;
    if let Some(end) = &end_at {
        if parse_time(end) < parse_time(&start_at) {
            return Err(bad(format!("{name}: endAt is before startAt")));
        }
    }
    Ok(TimeInterval { start_at, end_at })
}

fn parse_geometry(value: &Value, name: &str) -> Result<Value> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(format!("{name} must be a GeoJSON geometry")))?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{name} must be a GeoJSON geometry with a type")))?;
    let coordinates = object.get("coordinates").ok_or_else(|| {
        bad(format!(
            "{name} must be a GeoJSON geometry with coordinates"
        ))
    })?;
    geo::parse_geometry_value(kind, coordinates).map_err(|e| bad(format!("{name}: {e}")))?;
    Ok(value.clone())
}

fn parse_key_values(value: &Value) -> Result<Vec<KeyValue>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad("contextSourceInfo must be an array of {key, value} objects"))?;
    items
        .iter()
        .map(|item| {
            let pair = item
                .as_object()
                .filter(|o| o.len() == 2)
                .and_then(|o| Some((o.get("key")?.as_str()?, o.get("value")?.as_str()?)));
            match pair {
                Some((key, value)) if !key.is_empty() => Ok(KeyValue {
                    key: key.to_string(),
                    value: value.to_string(),
                }),
                _ => Err(bad(format!(
                    "each item of contextSourceInfo must be an object with the string members \
                     key and value (§5.2.22), found {item}"
                ))),
            }
        })
        .collect()
}

fn parse_management(value: &Value) -> Result<Value> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("management must be a RegistrationManagementInfo object (§5.2.34)"))?;
    for (key, v) in object {
        let ok = match key.as_str() {
            "localOnly" => v.is_boolean(),
            "cacheDuration" => v.as_str().is_some_and(is_duration),
            "timeout" | "cooldown" => v.as_f64().is_some_and(|n| n > 0.0),
            _ => {
                return Err(bad(format!(
                    "management has localOnly, cacheDuration, timeout and cooldown (§5.2.34), \
                     not {key}"
                )))
            }
        };
        if !ok {
            return Err(bad(format!(
                "management.{key} must be {}, not {v}",
                match key.as_str() {
                    "localOnly" => "true or false",
                    "cacheDuration" => "an ISO 8601 duration",
                    _ => "a number greater than 0",
                }
            )));
        }
    }
    Ok(value.clone())
}

fn parse_scope(value: &Value) -> Result<Value> {
    let list: Vec<&Value> = match value {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => return Err(bad("scope may not be an empty array")),
        other => vec![other],
    };
    for s in list {
        if !s.as_str().is_some_and(is_scope) {
            return Err(bad(format!(
                "a scope is /Level/Level…, each level a letter then letters, digits or '_', \
                 not {s}"
            )));
        }
    }
    Ok(value.clone())
}

fn parse_dataset_id(value: &Value) -> Result<Value> {
    let list: Vec<&Value> = match value {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => return Err(bad("datasetId may not be an empty array")),
        other => vec![other],
    };
    for d in list {
        if !d.as_str().is_some_and(|d| d == "@none" || is_uri(d)) {
            return Err(bad(format!("datasetId: {d} is not a URI or @none")));
        }
    }
    Ok(value.clone())
}

fn parse_endpoint(value: &Value) -> Result<String> {
    let text = value
        .as_str()
        .ok_or_else(|| bad(format!("endpoint must be a URI, not {value}")))?;
    match reqwest::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(text.to_string())
        }
        Ok(_) => Err(bad(format!(
            "endpoint must be an http or https URL (the context source's NGSI-LD API), not \
             {text}"
        ))),
        Err(e) => Err(bad(format!("endpoint '{text}' is not a URL: {e}"))),
    }
}

fn parse_operations(value: &Value) -> Result<Vec<String>> {
    let items = value
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("operations must be a non-empty array of operation names"))?;
    let mut out = Vec::new();
    for item in items {
        let name = item
            .as_str()
            .ok_or_else(|| bad(format!("operations: {item} is not an operation name")))?;
        if !OPERATIONS.contains(&name) && !OPERATION_GROUPS.contains(&name) {
            return Err(bad(format!(
                "operations: '{name}' is not an operation or group of operations of §4.20"
            )));
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// Parses and validates a registration; names are expanded with `ctx`. `now` refuses a past
/// `expiresAt`. Without an `id`, one is generated.
pub fn parse_registration(body: &Value, ctx: &Context, now: i64) -> Result<Registration> {
    let object = body.as_object().ok_or_else(|| {
        BrokerError::InvalidRequest("a context source registration must be a JSON object".into())
    })?;
    if let Some(key) = object.keys().find(|k| READ_ONLY.contains(&k.as_str())) {
        return Err(bad(format!(
            "{key} is set by the broker; a registration cannot carry it"
        )));
    }
    let id = match string(object, "id")? {
        Some(id) if is_uri(id) => id.to_string(),
        Some(id) => return Err(bad(format!("the registration id '{id}' is not a URI"))),
        None => random_urn(TYPE),
    };
    match string(object, "type")? {
        Some(t) if t == TYPE || ctx.expand(t) == ctx.expand(TYPE) => {}
        Some(other) => {
            return Err(bad(format!(
                "the type of a context source registration must be {TYPE}, not {other}"
            )))
        }
        None => return Err(bad(format!("a registration needs \"type\": \"{TYPE}\""))),
    }
    let information = match object.get("information") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| parse_info(i, ctx))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => {
            return Err(bad(
                "information must be a non-empty array of RegistrationInfo (§5.2.10)",
            ))
        }
        None => return Err(bad("a registration needs information (§5.2.9)")),
    };
    let endpoint = parse_endpoint(
        object
            .get("endpoint")
            .ok_or_else(|| bad("a registration needs an endpoint (§5.2.9)"))?,
    )?;
    let expires_at = match object.get("expiresAt") {
        None => None,
        Some(v) => {
            let text = date_time(v, "expiresAt")?;
            if parse_time(&text).is_some_and(|t| t <= now) {
                return Err(bad(format!("expiresAt {text} is not in the future")));
            }
            Some(text)
        }
    };
    let mode = match string(object, "mode")? {
        None => "inclusive".to_string(),
        Some(m) if MODES.contains(&m) => m.to_string(),
        Some(other) => {
            return Err(bad(format!(
                "mode must be inclusive, exclusive, redirect or auxiliary, not {other}"
            )))
        }
    };
    let operations = match object.get("operations") {
        None => vec!["federationOps".to_string()],
        Some(v) => parse_operations(v)?,
    };
    let geometry = |name: &str| {
        object
            .get(name)
            .map(|v| parse_geometry(v, name))
            .transpose()
    };
    let mut properties = BTreeMap::new();
    for (key, value) in object {
        if MEMBERS.contains(&key.as_str()) {
            continue;
        }
        if key.starts_with('@') {
            return Err(bad(format!("{key} is not a member of a registration")));
        }
        check_name(key).map_err(|e| bad(format!("context source property: {e}")))?;
        if value.is_null() || value.as_str() == Some(NGSI_LD_NULL) {
            return Err(bad(format!(
                "the context source property {key} has no value"
            )));
        }
        properties.insert(ctx.expand(key), value.clone());
    }
    let registration = Registration {
        id,
        registration_name: string(object, "registrationName")?.map(str::to_string),
        description: string(object, "description")?.map(str::to_string),
        information,
        tenant: string(object, "tenant")?.map(str::to_string),
        observation_interval: object
            .get("observationInterval")
            .map(|v| parse_interval(v, "observationInterval"))
            .transpose()?,
        management_interval: object
            .get("managementInterval")
            .map(|v| parse_interval(v, "managementInterval"))
            .transpose()?,
        location: geometry("location")?,
        observation_space: geometry("observationSpace")?,
        operation_space: geometry("operationSpace")?,
        expires_at,
        endpoint,
        context_source_info: object
            .get("contextSourceInfo")
            .map(parse_key_values)
            .transpose()?
            .unwrap_or_default(),
        scope: object.get("scope").map(parse_scope).transpose()?,
        mode,
        operations,
        refresh_rate: match string(object, "refreshRate")? {
            Some(d) if is_duration(d) => Some(d.to_string()),
            Some(d) => {
                return Err(bad(format!(
                    "refreshRate must be an ISO 8601 duration, not {d}"
                )))
            }
            None => None,
        },
        management: object.get("management").map(parse_management).transpose()?,
        dataset_id: object.get("datasetId").map(parse_dataset_id).transpose()?,
        context_source_alias: string(object, "contextSourceAlias")?.map(str::to_string),
        properties,
    };
    check_mode(&registration)?;
    Ok(registration)
}

/// The structural rules of the modes (§4.3.6.3, §5.9.2.4).
fn check_mode(reg: &Registration) -> Result<()> {
    match reg.mode.as_str() {
        "auxiliary" => {
            if let Some(op) = reg
                .operations
                .iter()
                .find(|o| WRITE_OPERATIONS.contains(&o.as_str()))
            {
                return Err(bad(format!(
                    "an auxiliary registration serves reads only; it cannot offer {op} \
                     (§5.9.2.4)"
                )));
            }
        }
        "exclusive" => {
            for info in &reg.information {
                if info.entities.is_empty()
                    || info
                        .entities
                        .iter()
                        .any(|e| e.id.is_none() || e.id_pattern.is_some())
                {
                    return Err(bad(
                        "an exclusive registration is about specific entities: each EntityInfo \
                         needs an id, and no idPattern (§4.3.6.3)",
                    ));
                }
                if info.all_attributes() {
                    return Err(bad(
                        "an exclusive registration is about specific attributes: each \
                         RegistrationInfo needs propertyNames or relationshipNames (§4.3.6.3)",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn compact_all(names: &[String], ctx: &Context) -> Value {
    names.iter().map(|n| json!(ctx.compact(n))).collect()
}

/// The registration as a client writes it (what a PATCH merges into), compacted with `ctx`,
/// with `createdAt`/`modifiedAt` when `sys_attrs` holds them.
pub fn render_registration(
    reg: &Registration,
    ctx: &Context,
    sys_attrs: Option<(i64, i64)>,
) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(reg.id));
    out.insert("type".into(), json!(TYPE));
    if let Some(name) = &reg.registration_name {
        out.insert("registrationName".into(), json!(name));
    }
    if let Some(description) = &reg.description {
        out.insert("description".into(), json!(description));
    }
    let information: Vec<Value> = reg
        .information
        .iter()
        .map(|info| {
            let mut o = Map::new();
            if !info.entities.is_empty() {
                let entities: Vec<Value> = info
                    .entities
                    .iter()
                    .map(|e| {
                        let mut eo = Map::new();
                        if let Some(id) = &e.id {
                            eo.insert("id".into(), json!(id));
                        }
                        if let Some(p) = &e.id_pattern {
                            eo.insert("idPattern".into(), json!(p));
                        }
                        let types = compact_all(&e.types, ctx);
                        eo.insert(
                            "type".into(),
                            match types {
                                Value::Array(mut t) if t.len() == 1 && !e.type_list => t.remove(0),
                                other => other,
                            },
                        );
                        Value::Object(eo)
                    })
                    .collect();
                o.insert("entities".into(), Value::Array(entities));
            }
            if !info.property_names.is_empty() {
                o.insert(
                    "propertyNames".into(),
                    compact_all(&info.property_names, ctx),
                );
            }
            if !info.relationship_names.is_empty() {
                o.insert(
                    "relationshipNames".into(),
                    compact_all(&info.relationship_names, ctx),
                );
            }
            Value::Object(o)
        })
        .collect();
    out.insert("information".into(), Value::Array(information));
    if let Some(tenant) = &reg.tenant {
        out.insert("tenant".into(), json!(tenant));
    }
    let interval = |iv: &TimeInterval| {
        let mut o = Map::new();
        o.insert("startAt".into(), json!(iv.start_at));
        if let Some(end) = &iv.end_at {
            o.insert("endAt".into(), json!(end));
        }
        Value::Object(o)
    };
    if let Some(iv) = &reg.observation_interval {
        out.insert("observationInterval".into(), interval(iv));
    }
    if let Some(iv) = &reg.management_interval {
        out.insert("managementInterval".into(), interval(iv));
    }
    for (name, value) in [
        ("location", &reg.location),
        ("observationSpace", &reg.observation_space),
        ("operationSpace", &reg.operation_space),
    ] {
        if let Some(v) = value {
            out.insert(name.into(), v.clone());
        }
    }
    if let Some(at) = &reg.expires_at {
        out.insert("expiresAt".into(), json!(at));
    }
    out.insert("endpoint".into(), json!(reg.endpoint));
    if !reg.context_source_info.is_empty() {
        out.insert(
            "contextSourceInfo".into(),
            reg.context_source_info
                .iter()
                .map(|kv| json!({"key": kv.key, "value": kv.value}))
                .collect(),
        );
    }
    if let Some(scope) = &reg.scope {
        out.insert("scope".into(), scope.clone());
    }
    out.insert("mode".into(), json!(reg.mode));
    out.insert("operations".into(), json!(reg.operations));
    if let Some(rate) = &reg.refresh_rate {
        out.insert("refreshRate".into(), json!(rate));
    }
    if let Some(management) = &reg.management {
        out.insert("management".into(), management.clone());
    }
    if let Some(dataset_id) = &reg.dataset_id {
        out.insert("datasetId".into(), dataset_id.clone());
    }
    if let Some(alias) = &reg.context_source_alias {
        out.insert("contextSourceAlias".into(), json!(alias));
    }
    for (iri, value) in &reg.properties {
        out.insert(ctx.compact(iri), value.clone());
    }
    if let Some((created, modified)) = sys_attrs {
        out.insert("createdAt".into(), json!(format_time(created)));
        out.insert("modifiedAt".into(), json!(format_time(modified)));
    }
    Value::Object(out)
}

/// Update Context Source Registration (§5.9.3): the fragment's members replace the
/// registration's (`information` and other structured members as a whole); `null` or the
/// NGSI-LD Null removes a member. The result is validated as a whole.
pub fn merged(
    current: &Registration,
    fragment: &Value,
    ctx: &Context,
    now: i64,
) -> Result<Registration> {
    let fragment = fragment.as_object().ok_or_else(|| {
        BrokerError::InvalidRequest("a registration update must be a JSON object".into())
    })?;
    if fragment.keys().all(|k| k == "@context") {
        return Err(bad("the registration update has no member to change"));
    }
    if let Some(other) = fragment.get("id") {
        if other.as_str() != Some(current.id.as_str()) {
            return Err(bad(format!(
                "the id of a registration cannot change ({} to {other})",
                current.id
            )));
        }
    }
    let Value::Object(mut document) = render_registration(current, ctx, None) else {
        unreachable!("a registration renders as an object")
    };
    for (key, value) in fragment {
        if key == "@context" {
            continue;
        }
        if value.is_null() || value.as_str() == Some(NGSI_LD_NULL) {
            document.remove(key);
        } else {
            document.insert(key.clone(), value.clone());
        }
    }
    // An expiresAt kept from the registration may not be refused as past by a change to
    // other members: it is checked only when the fragment sets it.
    let check_now = if fragment.contains_key("expiresAt") {
        now
    } else {
        i64::MIN
    };
    let mut updated = parse_registration(&Value::Object(document), ctx, check_now)?;
    updated.id = current.id.clone();
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dothi_ngsild::context::ContextDocuments;

    fn core() -> Context {
        Context::core(&ContextDocuments::with_core())
    }

    fn minimal() -> Value {
        json!({
            "id": "urn:ngsi-ld:ContextSourceRegistration:hue",
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "RiverGauge"}]}],
            "endpoint": "http://gauges.hue.local:1026"
        })
    }

    #[test]
    fn document_round_trips_through_render() {
        let body = json!({
            "id": "urn:ngsi-ld:ContextSourceRegistration:hue",
            "type": "ContextSourceRegistration",
            "registrationName": "Trạm đo sông Hương",
            "description": "river gauges of the Huế flood desk",
            "information": [
                {"entities": [{"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge"}],
                 "propertyNames": ["waterLevel"], "relationshipNames": ["observedBy"]},
                {"entities": [{"idPattern": "^urn:ngsi-ld:RainGauge:", "type": ["RainGauge", "Device"]}]}
            ],
            "tenant": "hue",
            "observationInterval": {"startAt": "2026-01-01T00:00:00Z"},
            "managementInterval": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2027-01-01T00:00:00+07:00"},
            "location": {"type": "Point", "coordinates": [107.58, 16.46]},
            "expiresAt": "2040-01-01T00:00:00Z",
            "endpoint": "http://gauges.hue.local:1026",
            "contextSourceInfo": [{"key": "X-Token", "value": "t"}],
            "scope": ["/Hue/PhuXuan"],
            "mode": "inclusive",
            "operations": ["retrieveOps", "createSubscription"],
            "refreshRate": "PT5M",
            "management": {"localOnly": true, "timeout": 3000},
            "datasetId": ["urn:ngsi-ld:dataset:a", "@none"],
            "contextSourceAlias": "urn:ngsi-ld:ContextSource:gauges",
            "operator": "Sở Tài nguyên và Môi trường"
        });
        let reg = parse_registration(&body, &core(), 0).unwrap();
        assert_eq!(
            reg.information[0].property_names,
            vec!["https://uri.etsi.org/ngsi-ld/default-context/waterLevel"]
        );
        assert_eq!(render_registration(&reg, &core(), None), body);
    }

    #[test]
    fn defaults_fill_id_mode_and_operations() {
        let mut body = minimal();
        body.as_object_mut().unwrap().remove("id");
        let reg = parse_registration(&body, &core(), 0).unwrap();
        assert!(reg.id.starts_with("urn:ngsi-ld:ContextSourceRegistration:"));
        assert_eq!(reg.mode, "inclusive");
        assert_eq!(reg.operations, vec!["federationOps"]);
    }

    #[test]
    fn durations_follow_iso_8601() {
        for ok in ["PT5M", "P1D", "P1DT12H", "P1W", "PT0.5S", "P1Y2M"] {
            assert!(is_duration(ok), "{ok}");
        }
        for wrong in [
            "bogus", "P", "PT", "5M", "P1H", "PT1D", "P1DT", "PM1", "PT1M2H",
        ] {
            assert!(!is_duration(wrong), "{wrong}");
        }
    }

    #[test]
    fn refusals_name_the_fault() {
        let with = |extra: Value| {
            let mut body = minimal();
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            parse_registration(&body, &core(), 1_000).unwrap_err()
        };
        let cases = [
            (json!({"type": "Building"}), "the type of a context source registration must be ContextSourceRegistration, not Building"),
            (json!({"information": []}), "information must be a non-empty array of RegistrationInfo (§5.2.10)"),
            (json!({"information": [{}]}), "each RegistrationInfo needs entities, propertyNames or relationshipNames (§5.2.10)"),
            (json!({"information": [{"entities": [{"id": "urn:a"}]}]}), "each item of entities needs a type (§5.2.8)"),
            (json!({"information": [{"entities": [{"type": "A", "q": "x"}]}]}), "an EntityInfo has id, idPattern and type (§5.2.8), not q"),
            (json!({"endpoint": "gauges"}), "endpoint 'gauges' is not a URL: relative URL without a base"),
            (json!({"expiresAt": "1970-01-01T00:00:00Z"}), "expiresAt 1970-01-01T00:00:00Z is not in the future"),
            (json!({"expiresAt": "2026-13-45T00:00:00Z"}), "expiresAt must be an ISO 8601 date-time with an offset or Z, not \"2026-13-45T00:00:00Z\""),
            (json!({"mode": "shared"}), "mode must be inclusive, exclusive, redirect or auxiliary, not shared"),
            (json!({"operations": ["teleport"]}), "operations: 'teleport' is not an operation or group of operations of §4.20"),
            (json!({"mode": "auxiliary", "operations": ["updateEntity"]}), "an auxiliary registration serves reads only; it cannot offer updateEntity (§5.9.2.4)"),
            (json!({"mode": "exclusive"}), "an exclusive registration is about specific entities: each EntityInfo needs an id, and no idPattern (§4.3.6.3)"),
            (json!({"contextSourceInfo": [{"key": "X", "value": 1}]}), "each item of contextSourceInfo must be an object with the string members key and value (§5.2.22), found {\"key\":\"X\",\"value\":1}"),
            (json!({"management": {"cooldown": 0}}), "management.cooldown must be a number greater than 0, not 0"),
            (json!({"management": "yes"}), "management must be a RegistrationManagementInfo object (§5.2.34)"),
            (json!({"scope": "Hue"}), "a scope is /Level/Level…, each level a letter then letters, digits or '_', not \"Hue\""),
            (json!({"location": {"type": "Point", "coordinates": [1]}}), "location: coordinates: expected a position with 2 or 3 numbers"),
            (json!({"createdAt": "2026-01-01T00:00:00Z"}), "createdAt is set by the broker; a registration cannot carry it"),
            (json!({"observationInterval": {"endAt": "2026-01-01T00:00:00Z"}}), "observationInterval needs a startAt"),
        ];
        for (extra, message) in cases {
            assert_eq!(with(extra), bad(message));
        }
    }

    #[test]
    fn merge_replaces_members_and_null_removes_them() {
        let mut body = minimal();
        body["expiresAt"] = json!("2040-01-01T00:00:00Z");
        body["operator"] = json!("Huế");
        let current = parse_registration(&body, &core(), 0).unwrap();
        let updated = merged(
            &current,
            &json!({"endpoint": "https://gauges.hue.local", "expiresAt": null, "operator": "urn:ngsi-ld:null"}),
            &core(),
            0,
        )
        .unwrap();
        assert_eq!(updated.endpoint, "https://gauges.hue.local");
        assert_eq!(updated.expires_at, None);
        assert!(updated.properties.is_empty());
        assert_eq!(
            merged(&current, &json!({"information": null}), &core(), 0).unwrap_err(),
            bad("a registration needs information (§5.2.9)")
        );
    }
}
