//! NGSI-LD subscriptions (ETSI GS CIM 009 §5.8, §5.11; data types §5.2.12–5.2.15): the
//! subscription document (parse, validate, render), its CRUD, and — in submodules — the
//! notifier that follows the change log and the worker that delivers notifications.
//!
//! A subscription is stored expanded (attribute and type names as IRIs) with the context of
//! the request that created it, so that notifications are compacted as its client expects.
//! Delivery is durable: the notifier enqueues notifications in the storage outbox before it
//! advances its cursor in the change log, and the worker deletes a delivery only once the
//! endpoint accepted it (at-least-once, across restarts).

mod delivery;
mod notifier;

use std::collections::HashSet;

use dothi_ngsild::context::{Context, CORE_CONTEXT_URL};
use dothi_ngsild::document::{self, check_name, format_time, is_uri, parse_time};
use dothi_ngsild::eval::CompiledQuery;
use dothi_ngsild::{geo, q, typesel};
use dothi_store::ngsild_subscriptions::{SubscriptionKind, SubscriptionRecord};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::{now_ms, Broker, BrokerError, Result};

pub use delivery::spawn_delivery_worker;
pub use notifier::{spawn_notifier, CURSOR, RULES_CURSOR};

/// Notification triggers (§5.2.12 `notificationTrigger`).
const TRIGGERS: [&str; 6] = [
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
];
const DEFAULT_TRIGGERS: [&str; 2] = ["attributeCreated", "attributeUpdated"];

/// An entity selector (§5.2.33): names expanded, the type selection in disjunctive normal form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_pattern: Option<String>,
    pub types: Vec<Vec<String>>,
}

/// The `geoQ` member (§5.2.13); the geometry and relation as the client wrote them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoQ {
    pub geometry: String,
    pub coordinates: Value,
    pub georel: String,
    /// Expanded; `location` by default.
    pub geoproperty: String,
}

/// A `{"key": .., "value": ..}` pair of `receiverInfo`/`notifierInfo` (§5.2.22).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// The endpoint of notifications (§5.2.15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub uri: String,
    pub accept: String,
    #[serde(default)]
    pub receiver_info: Vec<KeyValue>,
    #[serde(default)]
    pub notifier_info: Vec<KeyValue>,
}

/// What a notification carries and where it goes (§5.2.14, without the bookkeeping, which
/// storage keeps in columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationParams {
    /// Expanded; empty means every attribute.
    #[serde(default)]
    pub attributes: Vec<String>,
    pub format: String,
    #[serde(default)]
    pub sys_attrs: bool,
    /// `showChanges`: notifications carry the previous payload of changed attributes.
    #[serde(default)]
    pub show_changes: bool,
    /// `pick`/`omit` (§4.21): entity members (`id`, `type`, attribute names) to keep or drop;
    /// attribute names expanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pick: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omit: Vec<String>,
    pub endpoint: Endpoint,
    /// Linked entities (§4.5.23): `inline` or `flat`; None for `@none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_level: Option<u32>,
}

/// A subscription as stored (the body column of `ngsild_subscriptions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub entities: Vec<Selector>,
    /// Expanded.
    #[serde(default)]
    pub watched_attributes: Vec<String>,
    pub notification_trigger: Vec<String>,
    /// `datasetId`: only these attribute instances are notified (`@none`: the default one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_id: Vec<String>,
    /// Seconds between periodic notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_interval: Option<f64>,
    /// The `q` text, evaluated with [`Subscription::context`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_q: Option<GeoQ>,
    pub is_active: bool,
    pub notification: NotificationParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Seconds that must pass between two notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The `@context` of the creating request (a URL, an object or an array): it expands `q`
    /// and compacts notifications.
    pub context: Value,
    /// `csf`: a filter on context source registrations (validated, kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csf: Option<String>,
    /// `jsonldContext`: a URL whose context compacts notifications instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonld_context: Option<String>,
    /// The last change-log sequence number when the subscription was created: only later
    /// changes are notified (timestamps are too coarse to order a change and a creation).
    #[serde(default)]
    pub since_seq: i64,
}

/// A stored subscription with its bookkeeping: an entity subscription, or (with
/// `CsourceSubscription`) a context source registration subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionState<S = Subscription> {
    pub subscription: S,
    pub record: SubscriptionRecord,
}

/// The two kinds of subscription as the broker stores them: entity subscriptions
/// ([`Subscription`]) and context source registration subscriptions
/// (`registrations::CsourceSubscription`, which extends one). They are stored, read, paged,
/// merged with an update fragment and deleted alike; they are parsed and notified apart.
pub(crate) trait SubscriptionBody: Serialize + DeserializeOwned {
    /// Where it is stored.
    const KIND: SubscriptionKind;
    /// How messages name it.
    const NAME: &'static str;
    /// The members it shares with entity subscriptions.
    fn base(&self) -> &Subscription;
    /// The document a client would write (an update fragment is merged into it), with `ctx`.
    fn document(&self, ctx: &Context) -> Map<String, Value>;
}

impl SubscriptionBody for Subscription {
    const KIND: SubscriptionKind = SubscriptionKind::Entity;
    const NAME: &'static str = "subscription";

    fn base(&self) -> &Subscription {
        self
    }

    fn document(&self, ctx: &Context) -> Map<String, Value> {
        render_document(self, ctx)
    }
}

impl SubscriptionState {
    /// `active`, `paused` or `expired` at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        status_of(&self.subscription, now)
    }
}

pub(crate) fn status_of(sub: &Subscription, now: i64) -> &'static str {
    if sub.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if sub.is_active {
        "active"
    } else {
        "paused"
    }
}

fn bad(message: impl Into<String>) -> BrokerError {
    BrokerError::BadRequestData(message.into())
}

/// A fresh `urn:ngsi-ld:<kind>:<128 random bits>`.
pub(crate) fn random_urn(kind: &str) -> String {
    format!(
        "urn:ngsi-ld:{kind}:{:032x}",
        rand::thread_rng().gen::<u128>()
    )
}

fn string_member<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(format!("{name} must be a string, not {other}"))),
    }
}

fn positive_seconds(object: &Map<String, Value>, name: &str) -> Result<Option<f64>> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(s) if s > 0.0 && s.is_finite() => Ok(Some(s)),
            _ => Err(bad(format!(
                "{name} must be a positive number of seconds, not {n}"
            ))),
        },
        Some(other) => Err(bad(format!(
            "{name} must be a positive number of seconds, not {other}"
        ))),
    }
}

fn string_list(value: &Value, name: &str) -> Result<Vec<String>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad(format!("{name} must be an array of strings")))?;
    if items.is_empty() {
        return Err(bad(format!("{name} may not be an empty array")));
    }
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("{name} must be an array of strings, found {v}")))
        })
        .collect()
}

fn attribute_names(value: &Value, name: &str, ctx: &Context) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for term in string_list(value, name)? {
        check_name(&term).map_err(|e| bad(format!("{name}: {e}")))?;
        let iri = ctx.expand(&term);
        if !out.contains(&iri) {
            out.push(iri);
        }
    }
    Ok(out)
}

fn key_values(value: &Value, name: &str) -> Result<Vec<KeyValue>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad(format!("{name} must be an array of {{key, value}} objects")))?;
    items
        .iter()
        .map(|item| {
            let pair = (
                item.get("key").and_then(Value::as_str),
                item.get("value").and_then(Value::as_str),
            );
            match pair {
                (Some(key), Some(value)) if !key.is_empty() => Ok(KeyValue {
                    key: key.to_string(),
                    value: value.to_string(),
                }),
                _ => Err(bad(format!(
                    "each item of {name} must be an object with string members key and value, \
                     found {item}"
                ))),
            }
        })
        .collect()
}

/// True for a header name HTTP accepts (RFC 9110 token).
fn is_header_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_selector(item: &Value, ctx: &Context) -> Result<Selector> {
    let object = item.as_object().ok_or_else(|| {
        bad(format!(
            "each item of entities must be an object, found {item}"
        ))
    })?;
    let id = string_member(object, "id")?.map(str::to_string);
    if let Some(id) = &id {
        if !is_uri(id) {
            return Err(bad(format!("entities: the id '{id}' is not a URI")));
        }
    }
    let id_pattern = string_member(object, "idPattern")?.map(str::to_string);
    if let Some(p) = &id_pattern {
        regex::Regex::new(p).map_err(|e| {
            bad(format!(
                "entities: idPattern is not a valid regular expression: {e}"
            ))
        })?;
    }
    let Some(selection) = string_member(object, "type")? else {
        return Err(bad("each item of entities needs a type (§5.2.33)"));
    };
    let dnf = typesel::parse(selection).map_err(|e| bad(format!("entities: {e}")))?;
    let types = dnf
        .iter()
        .map(|all| all.iter().map(|t| ctx.expand(t)).collect())
        .collect();
    Ok(Selector {
        id,
        id_pattern,
        types,
    })
}

fn parse_geo_q(value: &Value, ctx: &Context) -> Result<GeoQ> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("geoQ must be an object with geometry, coordinates and georel"))?;
    let geometry = string_member(object, "geometry")?
        .ok_or_else(|| bad("geoQ needs a geometry"))?
        .to_string();
    let georel = string_member(object, "georel")?
        .ok_or_else(|| bad("geoQ needs a georel"))?
        .to_string();
    let coordinates = object
        .get("coordinates")
        .cloned()
        .ok_or_else(|| bad("geoQ needs coordinates"))?;
    let geoproperty = match string_member(object, "geoproperty")? {
        Some(p) => ctx.expand(p),
        None => document::LOCATION.to_string(),
    };
    let parsed = GeoQ {
        geometry,
        coordinates,
        georel,
        geoproperty,
    };
    parsed.query()?;
    Ok(parsed)
}

impl GeoQ {
    /// The parsed geo-query; `coordinates` may be JSON or a string holding JSON.
    pub fn query(&self) -> Result<geo::GeoQuery> {
        let coordinates = match &self.coordinates {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        geo::parse(&self.georel, &self.geometry, &coordinates)
            .map_err(|e| bad(format!("geoQ: {e}")))
    }
}

fn parse_endpoint(value: &Value) -> Result<Endpoint> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("notification.endpoint must be an object with a uri"))?;
    let uri = string_member(object, "uri")?
        .ok_or_else(|| bad("notification.endpoint needs a uri"))?
        .to_string();
    let url = reqwest::Url::parse(&uri).map_err(|e| {
        bad(format!(
            "notification.endpoint.uri '{uri}' is not a URL: {e}"
        ))
    })?;
    match url.scheme() {
        "http" | "https" => {}
        "mqtt" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad(format!("the MQTT endpoint '{uri}' has no host")));
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err(bad(format!(
                    "the MQTT endpoint '{uri}' has no topic (mqtt://host:port/topic)"
                )));
            }
        }
        "mqtts" => {
            return Err(bad(
                "mqtts endpoints are not supported by this broker (no TLS for MQTT); use mqtt:// \
                 or an http(s) endpoint",
            ))
        }
        other => {
            return Err(bad(format!(
                "notification.endpoint.uri must be http, https or mqtt, not {other}"
            )))
        }
    }
    let accept = match string_member(object, "accept")? {
        None | Some("application/json") => "application/json",
        Some("application/ld+json") => "application/ld+json",
        Some(other) => {
            return Err(bad(format!(
                "notification.endpoint.accept must be application/json or application/ld+json, \
                 not {other}"
            )))
        }
    }
    .to_string();
    let receiver_info = match object.get("receiverInfo") {
        Some(v) => key_values(v, "receiverInfo")?,
        None => Vec::new(),
    };
    if let Some(kv) = receiver_info.iter().find(|kv| !is_header_name(&kv.key)) {
        return Err(bad(format!(
            "receiverInfo: '{}' is not a valid header name",
            kv.key
        )));
    }
    let notifier_info = match object.get("notifierInfo") {
        Some(v) => key_values(v, "notifierInfo")?,
        None => Vec::new(),
    };
    for kv in &notifier_info {
        match (kv.key.as_str(), kv.value.as_str()) {
            ("MQTT-QoS", "0" | "1" | "2") | ("MQTT-Version", "mqtt3.1.1") => {}
            ("MQTT-QoS", v) => {
                return Err(bad(format!(
                    "notifierInfo: MQTT-QoS must be 0, 1 or 2, not {v}"
                )))
            }
            ("MQTT-Version", v) => {
                return Err(bad(format!(
                    "notifierInfo: this broker notifies over MQTT 3.1.1 (mqtt3.1.1), not {v}"
                )))
            }
            _ => {}
        }
    }
    Ok(Endpoint {
        uri,
        accept,
        receiver_info,
        notifier_info,
    })
}

/// `notification.join` and `notification.joinLevel` (§4.5.23).
fn parse_join(object: &Map<String, Value>) -> Result<(Option<String>, Option<u32>)> {
    let join = string_member(object, "join")?;
    let level = match object.get("joinLevel") {
        None => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => Some(String::new()),
    };
    match dothi_ngsild::linked::LinkedRequest::parse(join, level.as_deref(), None, None) {
        Ok(Some(r)) => Ok((join.map(str::to_string), Some(r.level))),
        Ok(None) => Ok((None, None)),
        Err(e) => Err(bad(format!("notification.{e}"))),
    }
}

fn parse_notification(value: &Value, ctx: &Context) -> Result<NotificationParams> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("notification must be an object with an endpoint"))?;
    let attributes = match object.get("attributes") {
        Some(v) => attribute_names(v, "notification.attributes", ctx)?,
        None => Vec::new(),
    };
    let format = match string_member(object, "format")? {
        None | Some("normalized") => "normalized",
        Some("keyValues") | Some("simplified") => "keyValues",
        Some("concise") => "concise",
        Some(other) => {
            return Err(bad(format!(
                "notification.format must be normalized, concise or keyValues, not {other}"
            )))
        }
    }
    .to_string();
    let sys_attrs = match object.get("sysAttrs") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(format!(
                "notification.sysAttrs must be true or false, not {other}"
            )))
        }
    };
    let show_changes = match object.get("showChanges") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(format!(
                "notification.showChanges must be true or false, not {other}"
            )))
        }
    };
    if show_changes && format == "keyValues" {
        return Err(bad(
            "notification.showChanges cannot be true with the keyValues format (§5.2.14)",
        ));
    }
    let members = |name: &str| -> Result<Vec<String>> {
        match object.get(name) {
            None => Ok(Vec::new()),
            Some(v) => Ok(string_list(v, &format!("notification.{name}"))?
                .into_iter()
                .map(|m| match m.as_str() {
                    "id" | "type" => m,
                    _ => ctx.expand(&m),
                })
                .collect()),
        }
    };
    let pick = members("pick")?;
    let omit = members("omit")?;
    if !attributes.is_empty() && (!pick.is_empty() || !omit.is_empty()) {
        return Err(bad(
            "notification.attributes cannot be used together with pick or omit (§4.21)",
        ));
    }
    if let Some(both) = pick.iter().find(|m| omit.contains(m)) {
        return Err(bad(format!(
            "'{}' cannot be both in notification.pick and notification.omit (§4.21)",
            ctx.compact(both)
        )));
    }
    let endpoint = parse_endpoint(
        object
            .get("endpoint")
            .ok_or_else(|| bad("notification needs an endpoint"))?,
    )?;
    let (join, join_level) = parse_join(object)?;
    Ok(NotificationParams {
        attributes,
        format,
        sys_attrs,
        show_changes,
        pick,
        omit,
        endpoint,
        join,
        join_level,
    })
}

/// Parses and validates a subscription document; names are expanded with `ctx`, and the
/// subscription remembers `reference` (the request's `@context`). `now` refuses a past
/// `expiresAt`.
pub fn parse_subscription(
    body: &Value,
    ctx: &Context,
    reference: &Value,
    now: i64,
) -> Result<Subscription> {
    let object = body
        .as_object()
        .ok_or_else(|| bad("a subscription must be a JSON object"))?;
    let id = match string_member(object, "id")? {
        Some(id) if is_uri(id) => id.to_string(),
        Some(id) => return Err(bad(format!("the subscription id '{id}' is not a URI"))),
        None => random_urn("Subscription"),
    };
    match string_member(object, "type")? {
        None | Some("Subscription") => {}
        Some(other) => {
            return Err(bad(format!(
                "the type of a subscription must be Subscription, not {other}"
            )))
        }
    }
    let entities = match object.get("entities") {
        None => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| parse_selector(i, ctx))
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(bad(
                "entities must be a non-empty array of entity selectors",
            ))
        }
    };
    let watched_attributes = match object.get("watchedAttributes") {
        Some(v) => attribute_names(v, "watchedAttributes", ctx)?,
        None => Vec::new(),
    };
    if entities.is_empty() && watched_attributes.is_empty() {
        return Err(bad(
            "a subscription needs entities or watchedAttributes (or both)",
        ));
    }
    let notification_trigger = match object.get("notificationTrigger") {
        Some(v) => {
            let list = string_list(v, "notificationTrigger")?;
            if let Some(t) = list.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
                return Err(bad(format!(
                    "notificationTrigger: '{t}' is not one of {}",
                    TRIGGERS.join(", ")
                )));
            }
            list
        }
        None => DEFAULT_TRIGGERS.iter().map(|t| t.to_string()).collect(),
    };
    let time_interval = positive_seconds(object, "timeInterval")?;
    let throttling = positive_seconds(object, "throttling")?;
    if time_interval.is_some() && !watched_attributes.is_empty() {
        return Err(bad(
            "timeInterval and watchedAttributes may not be used together (§5.2.12)",
        ));
    }
    if time_interval.is_some() && throttling.is_some() {
        return Err(bad(
            "timeInterval and throttling may not be used together (§5.2.12)",
        ));
    }
    if time_interval.is_some() && entities.is_empty() {
        return Err(bad("a periodic subscription (timeInterval) needs entities"));
    }
    let q = string_member(object, "q")?.map(str::to_string);
    if let Some(text) = &q {
        let query = q::parse(&percent_decoded(text)).map_err(|e| bad(format!("q: {e}")))?;
        CompiledQuery::new(&query).map_err(|e| bad(format!("q: {e}")))?;
    }
    let geo_q = object
        .get("geoQ")
        .map(|v| parse_geo_q(v, ctx))
        .transpose()?;
    let is_active = match object.get("isActive") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("isActive must be true or false, not {other}"))),
    };
    let notification = parse_notification(
        object
            .get("notification")
            .ok_or_else(|| bad("a subscription needs a notification member"))?,
        ctx,
    )?;
    let expires_at = match string_member(object, "expiresAt")? {
        None => None,
        Some(text) => {
            let at = parse_time(text).ok_or_else(|| {
                bad(format!(
                    "expiresAt must be an ISO 8601 date-time with an offset, not {text}"
                ))
            })?;
            if at <= now {
                return Err(bad(format!("expiresAt {text} is not in the future")));
            }
            Some(at)
        }
    };
    let dataset_id = match object.get("datasetId") {
        None => Vec::new(),
        Some(v) => {
            let list = string_list(v, "datasetId")?;
            if let Some(d) = list.iter().find(|d| *d != "@none" && !is_uri(d)) {
                return Err(bad(format!("datasetId: '{d}' is not a URI")));
            }
            list
        }
    };
    let csf = string_member(object, "csf")?.map(str::to_string);
    if let Some(text) = &csf {
        q::parse(text).map_err(|e| bad(format!("csf: {e}")))?;
    }
    let jsonld_context = string_member(object, "jsonldContext")?.map(str::to_string);
    if let Some(url) = &jsonld_context {
        if !is_uri(url) {
            return Err(bad(format!("jsonldContext '{url}' is not a URI")));
        }
    }
    Ok(Subscription {
        id,
        name: string_member(object, "subscriptionName")?.map(str::to_string),
        description: string_member(object, "description")?.map(str::to_string),
        entities,
        dataset_id,
        watched_attributes,
        notification_trigger,
        time_interval,
        csf,
        q,
        geo_q,
        is_active,
        notification,
        expires_at,
        throttling,
        lang: string_member(object, "lang")?.map(str::to_string),
        context: reference.clone(),
        jsonld_context,
        since_seq: 0,
    })
}

fn number(seconds: f64) -> Value {
    if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        json!(seconds as i64)
    } else {
        json!(seconds)
    }
}

fn key_values_json(items: &[KeyValue]) -> Value {
    items
        .iter()
        .map(|kv| json!({"key": kv.key, "value": kv.value}))
        .collect()
}

/// The subscription as a client writes it, compacted with `ctx` (no bookkeeping): what a PATCH
/// merges into.
pub fn render_document(sub: &Subscription, ctx: &Context) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(sub.id));
    out.insert("type".into(), json!("Subscription"));
    if let Some(name) = &sub.name {
        out.insert("subscriptionName".into(), json!(name));
    }
    if let Some(description) = &sub.description {
        out.insert("description".into(), json!(description));
    }
    if !sub.entities.is_empty() {
        let selectors: Vec<Value> = sub
            .entities
            .iter()
            .map(|s| {
                let mut o = Map::new();
                if let Some(id) = &s.id {
                    o.insert("id".into(), json!(id));
                }
                if let Some(p) = &s.id_pattern {
                    o.insert("idPattern".into(), json!(p));
                }
                let selection = s
                    .types
                    .iter()
                    .map(|all| {
                        let names: Vec<String> = all.iter().map(|t| ctx.compact(t)).collect();
                        if all.len() > 1 && s.types.len() > 1 {
                            format!("({})", names.join(";"))
                        } else {
                            names.join(";")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|");
                o.insert("type".into(), json!(selection));
                Value::Object(o)
            })
            .collect();
        out.insert("entities".into(), Value::Array(selectors));
    }
    if !sub.watched_attributes.is_empty() {
        out.insert(
            "watchedAttributes".into(),
            sub.watched_attributes
                .iter()
                .map(|a| json!(ctx.compact(a)))
                .collect(),
        );
    }
    out.insert(
        "notificationTrigger".into(),
        json!(sub.notification_trigger),
    );
    if let Some(t) = sub.time_interval {
        out.insert("timeInterval".into(), number(t));
    }
    if let Some(q) = &sub.q {
        out.insert("q".into(), json!(q));
    }
    if let Some(g) = &sub.geo_q {
        let mut o = Map::new();
        o.insert("geometry".into(), json!(g.geometry));
        o.insert("coordinates".into(), g.coordinates.clone());
        o.insert("georel".into(), json!(g.georel));
        o.insert("geoproperty".into(), json!(ctx.compact(&g.geoproperty)));
        out.insert("geoQ".into(), Value::Object(o));
    }
    if !sub.dataset_id.is_empty() {
        out.insert("datasetId".into(), json!(sub.dataset_id));
    }
    if let Some(csf) = &sub.csf {
        out.insert("csf".into(), json!(csf));
    }
    // true is the default: shown only when the subscription is paused.
    if !sub.is_active {
        out.insert("isActive".into(), json!(false));
    }
    let n = &sub.notification;
    let mut notification = Map::new();
    if !n.attributes.is_empty() {
        notification.insert(
            "attributes".into(),
            n.attributes.iter().map(|a| json!(ctx.compact(a))).collect(),
        );
    }
    notification.insert("format".into(), json!(n.format));
    if n.sys_attrs {
        notification.insert("sysAttrs".into(), json!(true));
    }
    if let (Some(join), Some(level)) = (&n.join, n.join_level) {
        notification.insert("join".into(), json!(join));
        notification.insert("joinLevel".into(), json!(level));
    }
    if n.show_changes {
        notification.insert("showChanges".into(), json!(true));
    }
    let members = |list: &[String]| -> Value {
        list.iter()
            .map(|m| match m.as_str() {
                "id" | "type" => json!(m),
                _ => json!(ctx.compact(m)),
            })
            .collect()
    };
    if !n.pick.is_empty() {
        notification.insert("pick".into(), members(&n.pick));
    }
    if !n.omit.is_empty() {
        notification.insert("omit".into(), members(&n.omit));
    }
    let mut endpoint = Map::new();
    endpoint.insert("uri".into(), json!(n.endpoint.uri));
    endpoint.insert("accept".into(), json!(n.endpoint.accept));
    if !n.endpoint.receiver_info.is_empty() {
        endpoint.insert(
            "receiverInfo".into(),
            key_values_json(&n.endpoint.receiver_info),
        );
    }
    if !n.endpoint.notifier_info.is_empty() {
        endpoint.insert(
            "notifierInfo".into(),
            key_values_json(&n.endpoint.notifier_info),
        );
    }
    notification.insert("endpoint".into(), Value::Object(endpoint));
    out.insert("notification".into(), Value::Object(notification));
    if let Some(at) = sub.expires_at {
        out.insert("expiresAt".into(), json!(format_time(at)));
    }
    if let Some(t) = sub.throttling {
        out.insert("throttling".into(), number(t));
    }
    if let Some(lang) = &sub.lang {
        out.insert("lang".into(), json!(lang));
    }
    if let Some(url) = &sub.jsonld_context {
        out.insert("jsonldContext".into(), json!(url));
    }
    out
}

/// The subscription as Retrieve/Query Subscription answer it: the document with its computed
/// `status` and the notification bookkeeping (§5.2.14), compacted with `ctx`.
pub fn render_subscription(
    state: &SubscriptionState,
    ctx: &Context,
    sys_attrs: bool,
    now: i64,
) -> Value {
    let mut out = render_document(&state.subscription, ctx);
    out.insert("status".into(), json!(state.status(now)));
    let r = &state.record;
    if let Some(Value::Object(n)) = out.get_mut("notification") {
        if let Some(last) = r.last_notification {
            let failed = r
                .last_failure
                .is_some_and(|f| r.last_success.is_none_or(|s| f > s));
            n.insert("status".into(), json!(if failed { "failed" } else { "ok" }));
            n.insert("lastNotification".into(), json!(format_time(last)));
        }
        if r.times_sent > 0 {
            n.insert("timesSent".into(), json!(r.times_sent));
        }
        if r.times_failed > 0 {
            n.insert("timesFailed".into(), json!(r.times_failed));
        }
        if let Some(at) = r.last_success {
            n.insert("lastSuccess".into(), json!(format_time(at)));
        }
        if let Some(at) = r.last_failure {
            n.insert("lastFailure".into(), json!(format_time(at)));
        }
    }
    if sys_attrs {
        out.insert("createdAt".into(), json!(format_time(r.created_at)));
        out.insert("modifiedAt".into(), json!(format_time(r.modified_at)));
    }
    Value::Object(out)
}

pub(crate) fn state_of<S: SubscriptionBody>(
    record: SubscriptionRecord,
) -> Result<SubscriptionState<S>> {
    let subscription: S = serde_json::from_str(&record.body).map_err(|e| {
        BrokerError::InternalError(format!(
            "{} {} is stored unreadable: {e}",
            S::NAME,
            record.id
        ))
    })?;
    Ok(SubscriptionState {
        subscription,
        record,
    })
}

/// The stored body and status of a subscription.
fn stored<S: SubscriptionBody>(sub: &S) -> Result<(String, &'static str)> {
    let base = sub.base();
    let body = serde_json::to_string(sub).map_err(|e| {
        BrokerError::InternalError(format!("{} {} cannot be stored: {e}", S::NAME, base.id))
    })?;
    Ok((body, if base.is_active { "active" } else { "paused" }))
}

fn sub_not_found<S: SubscriptionBody>(id: &str) -> BrokerError {
    BrokerError::ResourceNotFound(format!("no {} has the id {id}", S::NAME))
}

/// A page of subscriptions and, when asked, their total count.
#[derive(Debug, Clone)]
pub struct SubscriptionPage<S = Subscription> {
    pub subscriptions: Vec<SubscriptionState<S>>,
    pub total: Option<u64>,
}

/// What [`Broker::write_subscription`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Create,
    Replace,
}

/// What both kinds of subscription do alike.
impl Broker {
    /// Stores a subscription, new (an id already taken is AlreadyExists) or in place of the one
    /// of its id (NotFound when there is none), with the notifications `(subscription id,
    /// payload)` the change causes.
    pub(crate) async fn write_subscription<S: SubscriptionBody>(
        &self,
        write: Write,
        sub: &S,
        deliveries: &[(String, String)],
    ) -> Result<()> {
        let (text, status) = stored(sub)?;
        let (store, kind, id) = (&self.store, S::KIND, sub.base().id.as_str());
        let expires_at = sub.base().expires_at;
        match write {
            Write::Create => store
                .ngsild_subscription_create(kind, id, &text, status, expires_at, deliveries)
                .await
                .map(drop)
                .map_err(|e| match e {
                    dothi_store::StoreError::Domain(dothi_domain::DomainError::Conflict(_)) => {
                        BrokerError::AlreadyExists(format!(
                            "a {} with the id {id} already exists",
                            S::NAME
                        ))
                    }
                    other => other.into(),
                }),
            Write::Replace => store
                .ngsild_subscription_update(kind, id, &text, status, expires_at, deliveries)
                .await?
                .map(drop)
                .ok_or_else(|| sub_not_found::<S>(id)),
        }
    }

    pub(crate) async fn stored_subscription<S: SubscriptionBody>(
        &self,
        id: &str,
    ) -> Result<SubscriptionState<S>> {
        match self.store.ngsild_subscription_get(S::KIND, id).await? {
            Some(record) => state_of(record),
            None => Err(sub_not_found::<S>(id)),
        }
    }

    /// A page in creation order; with `count`, the number of all.
    pub(crate) async fn stored_subscriptions<S: SubscriptionBody>(
        &self,
        limit: u32,
        offset: u32,
        count: bool,
    ) -> Result<SubscriptionPage<S>> {
        let page = self
            .store
            .ngsild_subscription_list(S::KIND, Some(limit), offset, count)
            .await?;
        Ok(SubscriptionPage {
            subscriptions: page
                .subscriptions
                .into_iter()
                .map(state_of)
                .collect::<Result<_>>()?,
            total: page.total,
        })
    }

    /// Subscription `id` as it is, and its document with the members of an update `fragment`
    /// (§5.8.2, §5.11.3) in place of its own: `null` removes a member; the id cannot change.
    /// The caller validates the result as a whole.
    pub(crate) async fn merged_subscription<S: SubscriptionBody>(
        &self,
        id: &str,
        ctx: &Context,
        fragment: &Value,
    ) -> Result<(SubscriptionState<S>, Value)> {
        let fragment = fragment
            .as_object()
            .ok_or_else(|| bad("a subscription update must be a JSON object"))?;
        if fragment.keys().all(|k| k == "@context") {
            return Err(bad("the subscription update has no member to change"));
        }
        if let Some(other) = fragment.get("id").and_then(Value::as_str) {
            if other != id {
                return Err(bad(format!(
                    "the id of a subscription cannot change ({id} to {other})"
                )));
            }
        }
        let current = self.stored_subscription::<S>(id).await?;
        let mut document = current.subscription.document(ctx);
        for (key, value) in fragment {
            if key == "@context" {
                continue;
            }
            if value.is_null() {
                document.remove(key);
            } else {
                document.insert(key.clone(), value.clone());
            }
        }
        Ok((current, Value::Object(document)))
    }

    /// Deletes a subscription with its pending notifications.
    pub(crate) async fn remove_subscription<S: SubscriptionBody>(&self, id: &str) -> Result<()> {
        if self.store.ngsild_subscription_delete(S::KIND, id).await? {
            Ok(())
        } else {
            Err(sub_not_found::<S>(id))
        }
    }
}

impl Broker {
    /// Creates a subscription (§5.8.1) and returns its id.
    pub async fn create_subscription(
        &self,
        ctx: &Context,
        reference: &Value,
        body: &Value,
    ) -> Result<String> {
        let mut sub = parse_subscription(body, ctx, reference, now_ms())?;
        self.check_notification_context(&sub).await?;
        sub.since_seq = self.store.ngsild_last_change_seq().await?;
        self.write_subscription(Write::Create, &sub, &[]).await?;
        self.outbox.notify_one();
        Ok(sub.id)
    }

    /// `jsonldContext` must be resolvable now, or notifications could not be compacted.
    pub(crate) async fn check_notification_context(&self, sub: &Subscription) -> Result<()> {
        if let Some(url) = &sub.jsonld_context {
            self.contexts.resolve(&Value::String(url.clone())).await?;
        }
        Ok(())
    }

    /// One subscription (§5.8.3).
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionState> {
        self.stored_subscription(id).await
    }

    /// Subscriptions in creation order (§5.8.4).
    pub async fn subscriptions(
        &self,
        limit: u32,
        offset: u32,
        count: bool,
    ) -> Result<SubscriptionPage> {
        self.stored_subscriptions(limit, offset, count).await
    }

    /// Update Subscription (§5.8.2): the fragment's members replace the subscription's
    /// (`notification` as a whole), `null` removes a member, and the result is validated as a
    /// whole. The notification context stays that of the creation.
    pub async fn update_subscription(
        &self,
        id: &str,
        ctx: &Context,
        fragment: &Value,
    ) -> Result<()> {
        let (current, document) = self
            .merged_subscription::<Subscription>(id, ctx, fragment)
            .await?;
        let mut sub = parse_subscription(&document, ctx, &current.subscription.context, now_ms())?;
        sub.id = id.to_string();
        sub.context = current.subscription.context.clone();
        sub.since_seq = current.subscription.since_seq;
        self.check_notification_context(&sub).await?;
        self.write_subscription(Write::Replace, &sub, &[]).await
    }

    /// Delete Subscription (§5.8.5), with its pending notifications.
    pub async fn delete_subscription(&self, id: &str) -> Result<()> {
        self.remove_subscription::<Subscription>(id).await
    }

    /// The context that compacts a subscription's notifications, and the URL its `Link`
    /// header names (JSON) or the `@context` value it carries (JSON-LD). A context that can
    /// no longer be resolved (a cached remote one after a restart) falls back to the core, with
    /// a warning, rather than stopping notifications.
    pub(crate) async fn notification_context(&self, sub: &Subscription) -> (Context, Value) {
        let reference = match &sub.jsonld_context {
            Some(url) => Value::String(url.clone()),
            None => sub.context.clone(),
        };
        match self.contexts.resolve(&reference).await {
            Ok(ctx) => (ctx, reference),
            Err(e) => {
                tracing::warn!(subscription = %sub.id, error = %e,
                    "the subscription's JSON-LD context cannot be resolved; notifying with the core context");
                (self.contexts.core(), Value::String(CORE_CONTEXT_URL.into()))
            }
        }
    }
}

/// The one URL a `Link` header can name for a context reference: the URL itself, the last URL
/// of an array of URLs, or the core context.
pub(crate) fn link_url(reference: &Value) -> String {
    match reference {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .rev()
            .find_map(Value::as_str)
            .unwrap_or(CORE_CONTEXT_URL)
            .to_string(),
        _ => CORE_CONTEXT_URL.to_string(),
    }
}

/// A subscription's `q` as evaluated: written as in a query string, it may be
/// percent-encoded (`name=="Eiffel%20Tower"`); invalid escapes stay as they are.
pub(crate) fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

/// The expanded attribute set of `notification.attributes` (None: all).
pub(crate) fn attribute_filter(sub: &Subscription) -> Option<HashSet<String>> {
    (!sub.notification.attributes.is_empty())
        .then(|| sub.notification.attributes.iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dothi_ngsild::context::ContextDocuments;

    fn core() -> Context {
        Context::core(&ContextDocuments::with_core())
    }

    fn parse(body: Value) -> Result<Subscription> {
        parse_subscription(&body, &core(), &json!(CORE_CONTEXT_URL), 0)
    }

    fn minimal() -> Value {
        json!({
            "type": "Subscription",
            "entities": [{"type": "RiverGauge"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}}
        })
    }

    #[test]
    fn document_round_trips_through_render() {
        let body = json!({
            "id": "urn:ngsi-ld:Subscription:flood",
            "type": "Subscription",
            "subscriptionName": "Báo động lũ",
            "entities": [{"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge"},
                         {"idPattern": "^urn:x", "type": "(A;B)|C"}],
            "watchedAttributes": ["waterLevel"],
            "notificationTrigger": ["attributeUpdated"],
            "q": "waterLevel>=3.5",
            "geoQ": {"geometry": "Point", "coordinates": [107.5, 16.4], "georel": "near;maxDistance==2000", "geoproperty": "location"},
            "isActive": false,
            "notification": {"attributes": ["waterLevel"], "format": "keyValues", "sysAttrs": true,
                "endpoint": {"uri": "mqtt://127.0.0.1:1883/flood", "accept": "application/ld+json",
                    "receiverInfo": [{"key": "X-Token", "value": "t"}],
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}]}},
            "expiresAt": "2040-01-01T00:00:00.000Z",
            "throttling": 5,
            "lang": "vi"
        });
        let sub = parse(body.clone()).unwrap();
        assert_eq!(
            sub.watched_attributes,
            vec!["https://uri.etsi.org/ngsi-ld/default-context/waterLevel"]
        );
        assert_eq!(sub.expires_at, parse_time("2040-01-01T00:00:00Z"));
        assert_eq!(Value::Object(render_document(&sub, &core())), body);
    }

    #[test]
    fn defaults_fill_id_trigger_format_and_accept() {
        let sub = parse(minimal()).unwrap();
        assert!(
            sub.id.starts_with("urn:ngsi-ld:Subscription:"),
            "{}",
            sub.id
        );
        assert_eq!(sub.notification_trigger, DEFAULT_TRIGGERS);
        assert_eq!(sub.notification.format, "normalized");
        assert_eq!(sub.notification.endpoint.accept, "application/json");
        assert!(sub.is_active);
    }

    #[test]
    fn refusals_name_the_fault() {
        let cases = [
            (
                json!({"entities": [{"type": "A"}]}),
                "a subscription needs a notification member",
            ),
            (
                json!({"notification": {"endpoint": {"uri": "http://x/"}}}),
                "a subscription needs entities or watchedAttributes (or both)",
            ),
            (
                json!({"entities": [{"id": "urn:a"}], "notification": {"endpoint": {"uri": "http://x/"}}}),
                "each item of entities needs a type (§5.2.33)",
            ),
            (
                json!({"entities": [{"type": "A"}], "throttling": -1, "notification": {"endpoint": {"uri": "http://x/"}}}),
                "throttling must be a positive number of seconds, not -1",
            ),
            (
                json!({"entities": [{"type": "A"}], "timeInterval": 5, "throttling": 1, "notification": {"endpoint": {"uri": "http://x/"}}}),
                "timeInterval and throttling may not be used together (§5.2.12)",
            ),
            (
                json!({"entities": [{"type": "A"}], "watchedAttributes": ["a"], "timeInterval": 5, "notification": {"endpoint": {"uri": "http://x/"}}}),
                "timeInterval and watchedAttributes may not be used together (§5.2.12)",
            ),
            (
                json!({"entities": [{"type": "A"}], "notification": {"endpoint": {"uri": "ftp://x/"}}}),
                "notification.endpoint.uri must be http, https or mqtt, not ftp",
            ),
            (
                json!({"entities": [{"type": "A"}], "notification": {"endpoint": {"uri": "mqtt://broker:1883"}}}),
                "the MQTT endpoint 'mqtt://broker:1883' has no topic (mqtt://host:port/topic)",
            ),
            (
                json!({"entities": [{"type": "A"}], "expiresAt": "1969-01-01T00:00:00Z", "notification": {"endpoint": {"uri": "http://x/"}}}),
                "expiresAt 1969-01-01T00:00:00Z is not in the future",
            ),
            (
                json!({"entities": [{"type": "A"}], "notification": {"format": "xml", "endpoint": {"uri": "http://x/"}}}),
                "notification.format must be normalized, concise or keyValues, not xml",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(parse(body).unwrap_err(), bad(message));
        }
    }

    #[test]
    fn q_is_percent_decoded_where_escapes_are_valid() {
        assert_eq!(
            percent_decoded("name==\"Eiffel%20Tower\""),
            "name==\"Eiffel Tower\""
        );
        assert_eq!(percent_decoded("a==%zz;b==%4"), "a==%zz;b==%4");
        assert_eq!(percent_decoded("n==%C4%91"), "n==đ");
    }

    #[test]
    fn status_follows_activity_and_expiry() {
        let mut sub = parse(minimal()).unwrap();
        assert_eq!(status_of(&sub, 10), "active");
        sub.is_active = false;
        assert_eq!(status_of(&sub, 10), "paused");
        sub.expires_at = Some(10);
        assert_eq!(status_of(&sub, 10), "expired");
    }
}
