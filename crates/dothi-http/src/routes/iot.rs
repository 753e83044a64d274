//! The admin API of MQTT ingestion: the IoT device registry (who may publish, and how measures
//! become attributes of which NGSI-LD entity) and the ingestion counters. Administrators only.
//!
//! A device's key is shown once, in the answer to its creation (or when an administrator sets
//! a new one); the registry keeps only its hash. docs/IOT.md describes the topic scheme.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dothi_ngsild::context::{Context, ContextDocuments};
use dothi_ngsild::document;
use dothi_store::iot::{self, Device, DeviceSpec, DeviceStats, IotCounts, IotError};
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, ApiJson, ApiPath};
use crate::state::{AppState, Caller};
use crate::views::ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/iot/devices", get(list_devices).post(create_device))
        .route(
            "/iot/devices/{id}",
            get(get_device).patch(update_device).delete(delete_device),
        )
        .route("/iot/stats", get(stats))
}

fn admin(caller: &Caller) -> ApiResult<dothi_domain::Actor> {
    let actor = caller.require()?.actor();
    actor.require_admin()?;
    Ok(actor)
}

/// Members of an entity that a device may not set as attributes.
const RESERVED: &[&str] = &[
    "id",
    "@id",
    "type",
    "@type",
    "@context",
    "scope",
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "observedAt",
];

/// The NGSI-LD checks of a spec (the store checks lengths and identifiers): a URI entity id,
/// valid names, and static attributes that parse as an NGSI-LD fragment.
fn check_spec(spec: &DeviceSpec) -> ApiResult<()> {
    if !document::is_uri(&spec.entity_id) {
        return Err(ApiError::invalid(
            "entity_id",
            "must be a URI, e.g. urn:ngsi-ld:FloodMonitoring:KimLong",
        ));
    }
    document::check_name(&spec.entity_type)
        .map_err(|e| ApiError::invalid("entity_type", e.to_string()))?;
    if let Some(context) = &spec.context {
        if !document::is_uri(context) {
            return Err(ApiError::invalid(
                "context",
                "must be the URL of a JSON-LD context",
            ));
        }
    }
    for m in &spec.attributes {
        for (field, name) in [
            ("attributes.measure", &m.measure),
            ("attributes.name", &m.attribute().to_string()),
        ] {
            document::check_name(name).map_err(|e| ApiError::invalid(field, e.to_string()))?;
            if RESERVED.contains(&name.as_str()) {
                return Err(ApiError::invalid(
                    field,
                    format!("'{name}' is reserved by NGSI-LD"),
                ));
            }
        }
    }
    if let Some(name) = spec
        .static_attributes
        .keys()
        .find(|k| RESERVED.contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            "static_attributes",
            format!("'{name}' is reserved by NGSI-LD"),
        ));
    }
    // The device's own context is resolved by the broker at ingestion; the structure of the
    // attributes does not depend on it, so the core context checks it here.
    let core = Context::core(&ContextDocuments::with_core());
    document::parse_fragment(
        &Value::Object(spec.static_attributes.clone()),
        &core,
        0,
        false,
    )
    .map_err(|e| ApiError::invalid("static_attributes", e.to_string()))?;
    Ok(())
}

fn device_view(d: &Device) -> Value {
    let attributes: Vec<Value> = d
        .spec
        .attributes
        .iter()
        .map(|m| {
            json!({
                "measure": m.measure,
                "name": m.attribute(),
                "unit_code": m.unit_code,
                "type": m.kind,
            })
        })
        .collect();
    json!({
        "id": d.id,
        "entity_id": d.spec.entity_id,
        "entity_type": d.spec.entity_type,
        "context": d.spec.context,
        "description": d.spec.description,
        "attributes": attributes,
        "static_attributes": d.spec.static_attributes,
        "key_prefix": d.key_prefix,
        "created_at": ts(d.created_at),
        "modified_at": ts(d.modified_at),
    })
}

fn object(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid field",
            "invalid JSON body: expected a JSON object",
        )),
    }
}

/// An `api_key` member: absent, or a string.
fn take_key(body: &mut Map<String, Value>) -> ApiResult<Option<String>> {
    match body.remove("api_key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(k)) => Ok(Some(k)),
        Some(_) => Err(ApiError::invalid("api_key", "must be a string")),
    }
}

/// A path id that cannot be a device is answered without a query (and a string PostgreSQL
/// cannot hold, such as one with U+0000, never reaches it).
fn path_id(id: &str) -> ApiResult<()> {
    iot::check_device_id(id).map_err(|_| ApiError::not_found(format!("device {id} not found")))
}

async fn list_devices(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let devices = state.store.iot_devices(&actor).await?;
    Ok(Json(Value::Array(
        devices.iter().map(device_view).collect(),
    )))
}

async fn create_device(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let mut body = object(body)?;
    let id = match body.remove("id") {
        Some(Value::String(id)) => id,
        Some(_) => return Err(ApiError::invalid("id", "must be a string")),
        None => return Err(ApiError::invalid("id", "is required")),
    };
    let key = take_key(&mut body)?;
    let spec: DeviceSpec = from_value(Value::Object(body))?;
    iot::check_device_id(&id)?;
    check_spec(&spec)?;
    let (key, device) = state
        .store
        .iot_create_device(&actor, &id, &spec, key.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": key, "device": device_view(&device)})),
    )
        .into_response())
}

async fn get_device(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    path_id(&id)?;
    let device = state.store.iot_device(&actor, &id).await?;
    Ok(Json(device_view(&device)))
}

/// Members given replace the device's; `null` clears an optional one; `api_key` sets a new key.
async fn update_device(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    path_id(&id)?;
    let mut patch = object(body)?;
    let key = take_key(&mut patch)?;
    match patch.remove("id") {
        None => {}
        Some(Value::String(given)) if given == id => {}
        Some(_) => return Err(ApiError::invalid("id", "a device's id cannot change")),
    }
    let current = state.store.iot_device(&actor, &id).await?;
    let Value::Object(mut merged) = serde_json::to_value(&current.spec)
        .map_err(|e| ApiError::bad_request(format!("device {id} is unreadable: {e}")))?
    else {
        return Err(ApiError::bad_request(format!("device {id} is unreadable")));
    };
    for (member, value) in patch {
        if value.is_null() {
            merged.remove(&member);
        } else {
            merged.insert(member, value);
        }
    }
    let spec: DeviceSpec = from_value(Value::Object(merged))?;
    check_spec(&spec)?;
    let (device, _) = state
        .store
        .iot_update_device(&actor, &id, &spec, key.as_deref().map(Some))
        .await?;
    Ok(Json(device_view(&device)))
}

async fn delete_device(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    path_id(&id)?;
    state.store.iot_delete_device(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn counts_view(c: &IotCounts) -> Value {
    json!({
        "accepted": c.accepted,
        "rejected": c.rejected,
        "malformed": c.malformed,
        "failed": c.failed,
    })
}

fn error_view(e: &Option<IotError>) -> Value {
    match e {
        None => Value::Null,
        Some(e) => json!({
            "at": ts(e.at),
            "device_id": e.device_id,
            "topic": e.topic,
            "outcome": e.outcome,
            "reason": e.reason,
        }),
    }
}

async fn stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let devices = state.store.iot_devices(&actor).await?;
    let snapshot = state.store.iot_stats().snapshot();
    let per_device: Vec<Value> = devices
        .iter()
        .map(|d| {
            let s: DeviceStats = snapshot.devices.get(&d.id).cloned().unwrap_or_default();
            json!({
                "device_id": d.id,
                "entity_id": d.spec.entity_id,
                "counts": counts_view(&s.counts),
                "last_message_at": s.last_message_at.map(ts),
                "last_error": error_view(&s.last_error),
            })
        })
        .collect();
    Ok(Json(json!({
        "connection": snapshot.connection,
        "broker": snapshot.broker,
        "since": snapshot.since.map(ts),
        "counts": counts_view(&snapshot.overall),
        "last_error": error_view(&snapshot.last_error),
        "devices": per_device,
    })))
}
