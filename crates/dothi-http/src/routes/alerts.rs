//! Alerts raised by threshold rules on sensor data (issue 4, item 6): the IOC's list, the
//! lifecycle actions (acknowledge, resolve) and the live event stream; and the admin API of
//! the rules (with their routing to an agency) and of the alert webhooks. docs/ALERTS.md
//! describes the semantics; the engine is `dothi_broker::rules`.
//!
//! Who sees what: IOC operators and administrators see every alert; agency staff see the
//! alerts routed to their agency (others answer 404); citizens none (403).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dothi_domain::Actor;
use dothi_ngsild::context::{Context, ContextDocuments};
use dothi_store::alerts::{
    Alert, AlertEvent, AlertFilter, AlertStatus, NewWebhook, Rule, RuleSpec, Severity, Webhook,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sse;
use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::state::{AppState, Caller};
use crate::views::ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ioc/alerts", get(list))
        .route("/ioc/alerts/stream", get(stream))
        .route("/ioc/alerts/{id}", get(one))
        .route("/ioc/alerts/{id}/acknowledge", post(acknowledge))
        .route("/ioc/alerts/{id}/resolve", post(resolve))
        .route("/admin/alert-rules", get(list_rules).post(create_rule))
        .route(
            "/admin/alert-rules/{id}",
            get(get_rule).patch(update_rule).delete(delete_rule),
        )
        .route("/admin/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/admin/webhooks/{id}",
            get(get_webhook).delete(delete_webhook),
        )
}

fn staff(caller: &Caller) -> ApiResult<Actor> {
    Ok(caller.require()?.actor())
}

fn admin(caller: &Caller) -> ApiResult<Actor> {
    let actor = caller.require()?.actor();
    actor.require_admin()?;
    Ok(actor)
}

fn alert_view(state: &AppState, alert: &Alert) -> Value {
    alert.to_json(&state.store.reference())
}

// --- Alerts ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    status: Option<String>,
    severity: Option<String>,
    agency: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn parse_time(field: &str, s: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("'{s}' is not an ISO 8601 date-time with offset"),
            )
        })
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let actor = staff(&caller)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "must be 0 or more"));
    }
    let mut filter = AlertFilter {
        limit,
        offset,
        ..Default::default()
    };
    if let Some(s) = &q.status {
        filter.status = Some(AlertStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("status", "must be one of open, acknowledged, resolved")
        })?);
    }
    if let Some(s) = &q.severity {
        filter.severity = Some(Severity::parse(s).ok_or_else(|| {
            ApiError::invalid("severity", "must be one of info, warning, critical")
        })?);
    }
    if let Some(code) = &q.agency {
        let reference = state.store.reference();
        let agency = reference
            .agency_by_code(code)
            .ok_or_else(|| ApiError::invalid("agency", format!("no agency has code '{code}'")))?;
        filter.agency_id = Some(agency.id);
    }
    if let Some(s) = &q.since {
        filter.since = Some(parse_time("since", s)?);
    }
    let alerts = state.store.alerts_list(&actor, &filter).await?;
    Ok(Json(alerts.iter().map(|a| alert_view(&state, a)).collect()))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let actor = staff(&caller)?;
    let alert = state.store.alert(&actor, id).await?;
    Ok(Json(alert_view(&state, &alert)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
}

fn note(body: &NoteBody) -> ApiResult<Option<&str>> {
    match body.note.as_deref().map(str::trim) {
        Some(n) if n.chars().count() > 2000 => Err(ApiError::invalid(
            "note",
            "must have at most 2000 characters",
        )),
        Some("") | None => Ok(None),
        Some(n) => Ok(Some(n)),
    }
}

async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> ApiResult<Json<Value>> {
    let actor = staff(&caller)?;
    let alert = state
        .store
        .alert_acknowledge(&actor, id, note(&body)?)
        .await?;
    Ok(Json(alert_view(&state, &alert)))
}

async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> ApiResult<Json<Value>> {
    let actor = staff(&caller)?;
    let alert = state.store.alert_resolve(&actor, id, note(&body)?).await?;
    Ok(Json(alert_view(&state, &alert)))
}

fn sse_event(e: &AlertEvent) -> Event {
    let data = json!({"event_id": e.id, "event": e.kind, "alert": e.alert, "at": ts(e.at)});
    Event::default()
        .id(e.id.to_string())
        .event(e.kind.clone())
        .data(data.to_string())
}

/// Server-sent events: one event per alert lifecycle step (`raised`, `acknowledged`,
/// `resolved`), oldest first, whose id is the alert event id (see [`sse`]).
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>> {
    let actor = staff(&caller)?;
    // Refuse citizens before the stream starts, with a proper status code.
    state.store.alert_events_after(&actor, i64::MAX, 1).await?;
    let start = match sse::last_event_id(&headers)? {
        Some(id) => id,
        None => state.store.alert_last_event_id().await?,
    };
    let store = state.store.clone();
    let fetch = move |after, limit| {
        let (store, actor) = (store.clone(), actor.clone());
        async move { store.alert_events_after(&actor, after, limit).await }
    };
    Ok(sse::polled(
        "alert stream",
        start,
        fetch,
        |e| e.id,
        sse_event,
    ))
}

// --- Rules ---

fn rule_view(rule: &Rule) -> Value {
    let mut view = serde_json::to_value(&rule.spec).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut view {
        map.insert("id".into(), json!(rule.id));
        map.insert("created_at".into(), json!(ts(rule.created_at)));
        map.insert("modified_at".into(), json!(ts(rule.modified_at)));
    }
    view
}

/// Short names (`AirQualityObserved`, `aqi`) are expanded with the NGSI-LD core context, as
/// the broker does for a client that sends no `@context`; IRIs are kept.
fn expand(term: &str) -> String {
    if term.contains(':') {
        return term.to_string();
    }
    Context::core(&ContextDocuments::with_core()).expand(term)
}

fn normalise(mut spec: RuleSpec) -> ApiResult<RuleSpec> {
    spec.entity_type = expand(spec.entity_type.trim());
    spec.attribute = expand(spec.attribute.trim());
    spec.threshold_attribute = spec.threshold_attribute.map(|a| expand(a.trim()));
    spec.agency = spec.agency.filter(|a| !a.trim().is_empty());
    if let Some(p) = spec.id_pattern.as_deref() {
        if p.len() > 500 {
            return Err(ApiError::invalid(
                "id_pattern",
                "must have at most 500 characters",
            ));
        }
        regex::Regex::new(p).map_err(|e| ApiError::invalid("id_pattern", e.to_string()))?;
    }
    Ok(spec)
}

async fn list_rules(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Value>>> {
    admin(&caller)?;
    let rules = state.store.alert_rules().await?;
    Ok(Json(rules.iter().map(rule_view).collect()))
}

async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    admin(&caller)?;
    Ok(Json(rule_view(&state.store.alert_rule(id).await?)))
}

async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let rule = state
        .store
        .alert_rule_create(&actor, &normalise(spec)?)
        .await?;
    Ok((StatusCode::CREATED, Json(rule_view(&rule))).into_response())
}

/// A JSON merge patch (RFC 7396) of the rule's definition: members present replace, `null`
/// removes an optional member.
async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let current = state.store.alert_rule(id).await?;
    let mut merged = match serde_json::to_value(&current.spec) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    let spec: RuleSpec = from_value(Value::Object(merged))?;
    let rule = state
        .store
        .alert_rule_update(&actor, id, &normalise(spec)?)
        .await?;
    Ok(Json(rule_view(&rule)))
}

async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state.store.alert_rule_delete(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- Webhooks ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    secret: String,
    #[serde(default)]
    events: Vec<String>,
    agency: Option<String>,
    description: Option<String>,
}

fn webhook_view(state: &AppState, w: &Webhook) -> Value {
    let reference = state.store.reference();
    json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "agency": w.agency_id.and_then(|id| reference.agency(id)).map(|a| a.code.clone()),
        "description": w.description,
        "created_at": ts(w.created_at),
        "last_success_at": w.last_success_at.map(ts),
        "last_failure_at": w.last_failure_at.map(ts),
        "last_error": w.last_error,
        "pending_deliveries": w.pending,
    })
}

async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Value>>> {
    let actor = admin(&caller)?;
    let hooks = state.store.alert_webhooks(&actor).await?;
    Ok(Json(
        hooks.iter().map(|w| webhook_view(&state, w)).collect(),
    ))
}

async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let hook = state.store.alert_webhook(&actor, id).await?;
    Ok(Json(webhook_view(&state, &hook)))
}

async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let url = b.url.trim();
    let parsed: Option<Uri> = url.parse().ok();
    let web = parsed.as_ref().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
    });
    if !web || url.len() > 2000 {
        return Err(ApiError::invalid(
            "url",
            "must be an http or https URL of at most 2000 characters",
        ));
    }
    if !(16..=200).contains(&b.secret.chars().count()) {
        return Err(ApiError::invalid(
            "secret",
            "must have 16 to 200 characters",
        ));
    }
    if b.description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500)
    {
        return Err(ApiError::invalid(
            "description",
            "must have at most 500 characters",
        ));
    }
    let hook = state
        .store
        .alert_webhook_create(
            &actor,
            &NewWebhook {
                url: url.to_string(),
                secret: b.secret,
                events: b.events,
                agency: b.agency,
                description: b.description,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(webhook_view(&state, &hook))).into_response())
}

async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state.store.alert_webhook_delete(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
