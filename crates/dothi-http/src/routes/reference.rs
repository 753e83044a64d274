//! Public reference data (what the citizen app needs to build its forms) and the admin API
//! that manages it, plus users and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use dothi_domain::Role;
use dothi_store::auth::NewUser;
use dothi_store::reference::{AdminUnit, Agency, Category, Holiday, ReferenceFile, RoutingRule};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::{AppState, Caller};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/categories", get(categories))
        .route("/agencies", get(agencies))
        .route("/admin-units", get(admin_units))
        .route("/calendar/holidays", get(holidays))
        .route("/calendar/deadline", get(deadline))
        .route("/admin/import", axum::routing::post(import))
        .route("/admin/admin-units/{code}", put(put_admin_unit))
        .route("/admin/agencies/{code}", put(put_agency))
        .route("/admin/categories/{code}", put(put_category))
        .route(
            "/admin/routing-rules",
            get(list_rules).put(put_rule).delete(delete_rule),
        )
        .route(
            "/admin/holidays/{date}",
            put(put_holiday).delete(delete_holiday),
        )
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}", patch(update_user))
        .route(
            "/admin/users/{id}/password",
            axum::routing::post(reset_password),
        )
        .route("/admin/api-keys", get(list_keys).post(create_key))
        .route("/admin/api-keys/{id}", axum::routing::delete(revoke_key))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesQuery {
    /// Also list deactivated categories (for the admin pages, which reactivate them).
    include_inactive: Option<bool>,
}

async fn categories(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CategoriesQuery>,
) -> Json<Vec<Category>> {
    let all = q.include_inactive.unwrap_or(false);
    Json(
        state
            .store
            .reference()
            .categories
            .iter()
            .filter(|c| all || c.active)
            .cloned()
            .collect(),
    )
}

/// An API key as the admin API shows it: times as ISO 8601 with +07:00, like every other time.
fn key_view(k: dothi_store::auth::ApiKey) -> serde_json::Value {
    json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "created_at": crate::views::ts(k.created_at),
        "revoked_at": k.revoked_at.map(crate::views::ts),
    })
}

async fn agencies(State(state): State<AppState>) -> Json<Vec<Agency>> {
    Json(state.store.reference().agencies.clone())
}

async fn admin_units(State(state): State<AppState>) -> Json<Vec<AdminUnit>> {
    Json(state.store.reference().admin_units.clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearQuery {
    year: i32,
}

async fn holidays(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<YearQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if !(1900..=2199).contains(&q.year) {
        return Err(ApiError::invalid("year", "must be between 1900 and 2199"));
    }
    let statutory: Vec<_> = dothi_calendar::Calendar::statutory_holidays(q.year)
        .into_iter()
        .map(|(date, name)| json!({"date": date, "name": name, "kind": "holiday", "source": "statutory"}))
        .collect();
    let announced: Vec<_> = state
        .store
        .reference()
        .holidays
        .iter()
        .filter(|h| chrono::Datelike::year(&h.date) == q.year)
        .map(|h| json!({"date": h.date, "name": h.name, "kind": h.kind, "source": "announced"}))
        .collect();
    Ok(Json(
        json!({"year": q.year, "statutory": statutory, "announced": announced}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineQuery {
    from: String,
    days: u32,
}

async fn deadline(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeadlineQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let from = chrono::DateTime::parse_from_rfc3339(&q.from)
        .map_err(|_| {
            ApiError::invalid(
                "from",
                format!("'{}' is not an ISO 8601 date-time with offset", q.from),
            )
        })?
        .with_timezone(&chrono::Utc);
    // The same years as the holiday list: outside them the answer is neither a supported
    // calendar nor, past 9999, an ISO 8601 date-time.
    if !(1900..=2199).contains(&chrono::Datelike::year(&dothi_calendar::local_date(from))) {
        return Err(ApiError::invalid(
            "from",
            "the year must be between 1900 and 2199",
        ));
    }
    if q.days > 365 {
        return Err(ApiError::invalid("days", "must be at most 365"));
    }
    let deadline = state.store.calendar().deadline(from, q.days);
    Ok(Json(
        json!({"from": dothi_calendar::format_vn(from), "working_days": q.days, "deadline": dothi_calendar::format_vn(deadline)}),
    ))
}

fn admin(caller: &Caller) -> ApiResult<dothi_domain::Actor> {
    let actor = caller.require()?.actor();
    actor.require_admin()?;
    Ok(actor)
}

async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(file): ApiJson<ReferenceFile>,
) -> ApiResult<Json<serde_json::Value>> {
    let actor = admin(&caller)?;
    let summary = state.store.import_reference(&actor, &file).await?;
    Ok(Json(json!(summary)))
}

fn same_code(path: &str, body: &str) -> ApiResult<()> {
    if path != body {
        return Err(ApiError::invalid(
            "code",
            format!("the body's code '{body}' differs from the path's '{path}'"),
        ));
    }
    Ok(())
}

async fn put_admin_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(unit): ApiJson<AdminUnit>,
) -> ApiResult<Json<AdminUnit>> {
    let actor = admin(&caller)?;
    same_code(&code, &unit.code)?;
    state.store.put_admin_unit(&actor, &unit).await?;
    Ok(Json(
        state
            .store
            .reference()
            .admin_unit(&code)
            .cloned()
            .ok_or_else(|| ApiError::not_found("admin unit"))?,
    ))
}

async fn put_agency(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(agency): ApiJson<Agency>,
) -> ApiResult<Json<Agency>> {
    let actor = admin(&caller)?;
    same_code(&code, &agency.code)?;
    Ok(Json(state.store.put_agency(&actor, &agency).await?))
}

async fn put_category(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(category): ApiJson<Category>,
) -> ApiResult<Json<Category>> {
    let actor = admin(&caller)?;
    same_code(&code, &category.code)?;
    Ok(Json(state.store.put_category(&actor, &category).await?))
}

async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<RoutingRule>>> {
    admin(&caller)?;
    Ok(Json(state.store.reference().routing_rules()))
}

async fn put_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(rule): ApiJson<RoutingRule>,
) -> ApiResult<Json<RoutingRule>> {
    let actor = admin(&caller)?;
    state.store.put_routing_rule(&actor, &rule).await?;
    Ok(Json(rule))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleKey {
    category: String,
    commune: Option<String>,
}

async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(key): ApiQuery<RuleKey>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state
        .store
        .delete_routing_rule(&actor, &key.category, key.commune.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_date(s: &str) -> ApiResult<chrono::NaiveDate> {
    s.parse()
        .map_err(|_| ApiError::invalid("date", format!("'{s}' is not a date like 2026-02-16")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayBody {
    name: String,
    kind: dothi_calendar::DayOverride,
}

async fn put_holiday(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(date): ApiPath<String>,
    ApiJson(b): ApiJson<HolidayBody>,
) -> ApiResult<Json<Holiday>> {
    let actor = admin(&caller)?;
    let holiday = Holiday {
        date: parse_date(&date)?,
        name: b.name,
        kind: b.kind,
    };
    state.store.put_holiday(&actor, &holiday).await?;
    Ok(Json(holiday))
}

async fn delete_holiday(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(date): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state
        .store
        .delete_holiday(&actor, parse_date(&date)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<dothi_store::auth::User>>> {
    let actor = admin(&caller)?;
    Ok(Json(state.store.list_users(&actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    username: String,
    password: String,
    display_name: String,
    email: Option<String>,
    phone: Option<String>,
    role: String,
    agency: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<UserBody>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let user = state
        .store
        .create_user(
            &actor,
            &NewUser {
                username: b.username,
                display_name: b.display_name,
                email: b.email,
                phone: b.phone,
                password: b.password,
                role: Role::parse(&b.role)?,
                agency_code: b.agency,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    role: String,
    agency: Option<String>,
    active: bool,
}

async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UserPatch>,
) -> ApiResult<Json<dothi_store::auth::User>> {
    let actor = admin(&caller)?;
    let user = state
        .store
        .update_user(
            &actor,
            id,
            Role::parse(&b.role)?,
            b.agency.as_deref(),
            b.active,
        )
        .await?;
    Ok(Json(user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

/// An administrator sets a new password for a user; the user's sessions end.
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state.store.set_password(&actor, id, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let actor = admin(&caller)?;
    let keys = state.store.list_api_keys(&actor).await?;
    Ok(Json(keys.into_iter().map(key_view).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    name: String,
}

async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<KeyBody>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let (key, meta) = state.store.create_api_key(&actor, &b.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": key, "key": key_view(meta)})),
    )
        .into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state.store.revoke_api_key(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
