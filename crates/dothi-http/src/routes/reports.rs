//! The native report workflow API: intake, reads, and one endpoint per workflow action.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dothi_domain::{Channel, Priority, Rating, RejectReason, Status};
use dothi_store::reports::{
    Command, NewPhoto, NewReport, Order, ReportFilter, Reporter, MAX_PHOTOS,
};
use dothi_store::time::now_ms;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, json_rejection, ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::state::{AppState, Caller};
use crate::views::{DuplicateView, EventView, ExtensionView, ReportView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list).post(create))
        .route("/reports/{id}", get(show))
        .route("/reports/{id}/history", get(history))
        .route("/reports/{id}/extensions", get(extensions))
        .route("/reports/{id}/photos", get(photos).post(add_photos))
        .route("/reports/{id}/assign", post(assign))
        .route("/reports/{id}/accept", post(accept))
        .route("/reports/{id}/transfer", post(transfer))
        .route("/reports/{id}/extension-request", post(request_extension))
        .route(
            "/reports/{id}/extension-request/approve",
            post(approve_extension),
        )
        .route(
            "/reports/{id}/extension-request/refuse",
            post(refuse_extension),
        )
        .route("/reports/{id}/resolve", post(resolve))
        .route("/reports/{id}/reject", post(reject))
        .route("/reports/{id}/rate", post(rate))
        .route("/reports/{id}/reopen", post(reopen))
        .route("/reports/{id}/close", post(close))
        .route("/duplicates", get(duplicates))
        .route("/media/{id}", get(media))
        .route("/media/{id}/thumbnail", get(thumbnail))
}

fn view(state: &AppState, r: dothi_store::reports::Report) -> ReportView {
    ReportView::new(r, &state.config.base_url, now_ms())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AttributeAnswer {
    One(String),
    Number(f64),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReporterIn {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateReport {
    category: String,
    description: String,
    lat: Option<f64>,
    long: Option<f64>,
    address: Option<String>,
    commune: Option<String>,
    priority: Option<String>,
    channel: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, AttributeAnswer>,
    reporter: Option<ReporterIn>,
    #[serde(default)]
    anonymous: bool,
}

/// Photos arrive as multipart parts named `photo`; each is sniffed, size-checked and
/// stripped of EXIF off the async threads.
async fn read_photo(field: axum::extract::multipart::Field<'_>) -> ApiResult<NewPhoto> {
    let bytes = field.bytes().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large("the upload is larger than the limit")
        } else {
            ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
        }
    })?;
    let processed = tokio::task::spawn_blocking(move || {
        dothi_media::process_photo(&bytes, &dothi_media::Limits::default())
    })
    .await
    .map_err(|_| ApiError::invalid("photo", "the photo could not be processed"))??;
    Ok(NewPhoto {
        content_type: processed.content_type.to_string(),
        width: processed.width,
        height: processed.height,
        bytes: processed.bytes,
        thumbnail: processed.thumbnail,
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("the upload is larger than the limit")
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// A JSON body, or a multipart body with a JSON part named `json_part` plus `photo` files.
async fn json_or_multipart<T: serde::de::DeserializeOwned>(
    req: Request,
    state: &AppState,
    json_part: &str,
) -> ApiResult<(T, Vec<NewPhoto>)> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let mut body: Option<T> = None;
        let mut photos = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or("").to_string();
            if name == json_part {
                let text = field.text().await.map_err(multipart_error)?;
                let value = serde_json::from_str(&text).map_err(|e| {
                    ApiError::invalid(json_part, format!("the part is not valid JSON: {e}"))
                })?;
                body = Some(from_value(value).map_err(|mut e| {
                    e.field = Some(json_part.to_string());
                    e
                })?);
            } else if name == "photo" {
                if photos.len() == MAX_PHOTOS {
                    return Err(ApiError::invalid(
                        "photo",
                        format!("at most {MAX_PHOTOS} photos"),
                    ));
                }
                photos.push(read_photo(field).await?);
            } else {
                return Err(ApiError::bad_request(format!(
                    "unexpected multipart part '{name}'; expected '{json_part}' and 'photo'"
                )));
            }
        }
        let body = body.ok_or_else(|| {
            ApiError::invalid(
                json_part,
                format!("the multipart body needs a '{json_part}' part"),
            )
        })?;
        Ok((body, photos))
    } else {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        Ok((from_value(value)?, Vec::new()))
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<Response> {
    let user = caller.require()?.clone();
    let (body, photos): (CreateReport, _) = json_or_multipart(req, &state, "report").await?;
    let is_ioc = user.role.is_ioc();
    let channel = match body.channel.as_deref() {
        Some(c) => Channel::parse(c)?,
        None if is_ioc => Channel::Hotline,
        None => Channel::App,
    };
    if channel == Channel::Open311 {
        return Err(ApiError::invalid(
            "channel",
            "open311 reports arrive through /open311/v2",
        ));
    }
    if !is_ioc && !matches!(channel, Channel::App | Channel::Web) {
        return Err(ApiError::invalid(
            "channel",
            "only IOC operators record hotline, e-mail, Zalo and Facebook reports",
        ));
    }
    let reporter = match (body.reporter, is_ioc) {
        (Some(r), true) => Reporter {
            name: r.name,
            email: r.email,
            phone: r.phone,
            device_id: None,
        },
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "reporter",
                "only IOC operators enter a reporter's contact; citizens report as themselves",
            ))
        }
        (None, true) => Reporter::default(),
        (None, false) => Reporter {
            name: Some(user.display_name.clone()),
            email: user.email.clone(),
            phone: user.phone.clone(),
            device_id: None,
        },
    };
    let attributes = body
        .attributes
        .into_iter()
        .map(|(k, v)| {
            let values = match v {
                AttributeAnswer::One(s) => vec![s],
                AttributeAnswer::Number(n) => vec![n.to_string()],
                AttributeAnswer::Many(v) => v,
            };
            (k, values)
        })
        .collect();
    let new = NewReport {
        category_code: body.category,
        description: body.description,
        lat: body.lat,
        lon: body.long,
        address: body.address,
        commune_code: body.commune,
        priority: body
            .priority
            .as_deref()
            .map(Priority::parse)
            .transpose()?
            .unwrap_or(Priority::Normal),
        channel,
        attributes,
        reporter,
        anonymous: body.anonymous,
        photos,
        api_key_id: None,
    };
    // Hotline reports are entered by the operator on the caller's behalf: they belong to no
    // citizen account.
    let actor = user.actor();
    let report = state.store.create_report(&actor, new).await?;
    let duplicates = match (report.lat, report.lon) {
        (Some(lat), Some(lon)) => {
            state
                .store
                .duplicates(report.category_id, lat, lon, Some(report.id))
                .await?
        }
        _ => Vec::new(),
    };
    let body = json!({
        "report": view(&state, report),
        "possible_duplicates": duplicates.into_iter().map(DuplicateView::from).collect::<Vec<_>>(),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    agency: Option<String>,
    commune: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    q: Option<String>,
    overdue: Option<bool>,
    mine: Option<bool>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

fn parse_time(field: &str, value: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::invalid(field, format!("'{value}' is not an ISO 8601 date-time with offset, e.g. 2026-11-23T08:00:00+07:00")))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let actor = caller.actor();
    let reference = state.store.reference();
    let page = q.page.unwrap_or(1);
    let page_size = q.page_size.unwrap_or(50);
    if page < 1 {
        return Err(ApiError::invalid("page", "must be 1 or more"));
    }
    if !(1..=1000).contains(&page_size) {
        return Err(ApiError::invalid("page_size", "must be between 1 and 1000"));
    }
    let mut filter = ReportFilter {
        limit: page_size,
        offset: (page - 1).saturating_mul(page_size),
        ..Default::default()
    };
    if let Some(s) = &q.status {
        filter.statuses = s.split(',').map(Status::parse).collect::<Result<_, _>>()?;
    }
    if let Some(c) = &q.category {
        for code in c.split(',') {
            let category = reference.category_by_code(code).ok_or_else(|| {
                ApiError::invalid("category", format!("no category has code '{code}'"))
            })?;
            filter.category_ids.push(category.id);
        }
    }
    if let Some(a) = &q.agency {
        filter.agency_id = Some(
            reference
                .agency_by_code(a)
                .ok_or_else(|| ApiError::invalid("agency", format!("no agency has code '{a}'")))?
                .id,
        );
    }
    if let Some(c) = &q.commune {
        if reference.admin_unit(c).is_none() {
            return Err(ApiError::invalid(
                "commune",
                format!("no administrative unit has code '{c}'"),
            ));
        }
        filter.commune_code = Some(c.clone());
    }
    filter.channel = q.channel.as_deref().map(Channel::parse).transpose()?;
    filter.priority = q.priority.as_deref().map(Priority::parse).transpose()?;
    filter.q = q.q.clone().filter(|s| !s.trim().is_empty());
    filter.overdue = q.overdue;
    if q.mine == Some(true) {
        filter.reporter_user_id = Some(caller.require()?.id);
    }
    filter.created_from = q
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?;
    filter.created_to = q.to.as_deref().map(|v| parse_time("to", v)).transpose()?;
    filter.order = match q.sort.as_deref() {
        None | Some("-created") => Order::CreatedDesc,
        Some("created") => Order::CreatedAsc,
        Some("deadline") => Order::DeadlineAsc,
        Some("-updated") => Order::UpdatedDesc,
        Some(other) => {
            return Err(ApiError::invalid(
                "sort",
                format!("unknown sort '{other}'; expected -created, created, deadline or -updated"),
            ))
        }
    };
    let reports = state.store.list_reports(&actor, &filter).await?;
    let count = reports.len();
    let items: Vec<ReportView> = reports.into_iter().map(|r| view(&state, r)).collect();
    Ok(Json(
        json!({ "items": items, "page": page, "page_size": page_size, "has_more": count as i64 == page_size }),
    ))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ReportView>> {
    let report = state.store.report(&caller.actor(), id).await?;
    Ok(Json(view(&state, report)))
}

async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<EventView>>> {
    let events = state.store.history(&caller.actor(), id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| EventView::new(e, &state.store, &state.config.base_url))
            .collect(),
    ))
}

async fn extensions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ExtensionView>>> {
    caller.require()?;
    let list = state.store.extensions(&caller.actor(), id).await?;
    Ok(Json(list.into_iter().map(ExtensionView::from).collect()))
}

async fn photos(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .store
        .report(&dothi_domain::Actor::api_client("public"), id)
        .await?;
    let base = &state.config.base_url;
    let items: Vec<_> = state
        .store
        .media_of_report(id)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id, "kind": m.kind, "content_type": m.content_type, "width": m.width, "height": m.height,
                "size": m.size, "url": format!("{base}/api/v1/media/{}", m.id),
                "thumbnail_url": format!("{base}/api/v1/media/{}/thumbnail", m.id),
            })
        })
        .collect();
    Ok(Json(json!(items)))
}

async fn add_photos(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<Response> {
    caller.require()?;
    let mut multipart = Multipart::from_request(req, &state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut photos = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("photo") {
            return Err(ApiError::bad_request(
                "only parts named 'photo' are accepted",
            ));
        }
        if photos.len() == MAX_PHOTOS {
            return Err(ApiError::invalid(
                "photo",
                format!("at most {MAX_PHOTOS} photos"),
            ));
        }
        photos.push(read_photo(field).await?);
    }
    if photos.is_empty() {
        return Err(ApiError::invalid(
            "photo",
            "send at least one part named 'photo'",
        ));
    }
    let ids = state.store.add_photos(&caller.actor(), id, photos).await?;
    let base = &state.config.base_url;
    let urls: Vec<String> = ids
        .iter()
        .map(|i| format!("{base}/api/v1/media/{i}"))
        .collect();
    Ok((StatusCode::CREATED, Json(json!({ "photo_urls": urls }))).into_response())
}

async fn run(
    state: &AppState,
    caller: &Caller,
    id: i64,
    command: Command,
) -> ApiResult<Json<ReportView>> {
    caller.require()?;
    let report = state.store.apply(&caller.actor(), id, command).await?;
    Ok(Json(view(state, report)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    agency: String,
    note: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AssignBody>,
) -> ApiResult<Json<ReportView>> {
    run(
        &state,
        &caller,
        id,
        Command::Assign {
            agency_code: b.agency,
            note: b.note,
        },
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
}

async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(b): OptionalJson<NoteBody>,
) -> ApiResult<Json<ReportView>> {
    run(&state, &caller, id, Command::Accept { note: b.note }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    agency: String,
    reason: String,
}

async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<TransferBody>,
) -> ApiResult<Json<ReportView>> {
    run(
        &state,
        &caller,
        id,
        Command::Transfer {
            agency_code: b.agency,
            reason: b.reason,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionBody {
    days: u32,
    reason: String,
}

async fn request_extension(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ExtensionBody>,
) -> ApiResult<Json<ReportView>> {
    run(
        &state,
        &caller,
        id,
        Command::RequestExtension {
            days: b.days,
            reason: b.reason,
        },
    )
    .await
}

async fn approve_extension(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(b): OptionalJson<NoteBody>,
) -> ApiResult<Json<ReportView>> {
    run(
        &state,
        &caller,
        id,
        Command::DecideExtension {
            approve: true,
            note: b.note,
        },
    )
    .await
}

async fn refuse_extension(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(b): OptionalJson<NoteBody>,
) -> ApiResult<Json<ReportView>> {
    run(
        &state,
        &caller,
        id,
        Command::DecideExtension {
            approve: false,
            note: b.note,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    note: String,
}

async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<Json<ReportView>> {
    caller.require()?;
    let (b, photos): (ResolveBody, _) = json_or_multipart(req, &state, "resolution").await?;
    run(
        &state,
        &caller,
        id,
        Command::Resolve {
            note: b.note,
            photos,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
    note: Option<String>,
    duplicate_of: Option<i64>,
}

async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RejectBody>,
) -> ApiResult<Json<ReportView>> {
    let reason = RejectReason::parse(&b.reason)?;
    run(
        &state,
        &caller,
        id,
        Command::Reject {
            reason,
            note: b.note,
            duplicate_of: b.duplicate_of,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    rating: String,
    comment: Option<String>,
    #[serde(default)]
    reopen: bool,
}

async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RateBody>,
) -> ApiResult<Json<ReportView>> {
    let rating = Rating::parse(&b.rating)?;
    run(
        &state,
        &caller,
        id,
        Command::Rate {
            rating,
            comment: b.comment,
            reopen: b.reopen,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn reopen(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<ReportView>> {
    run(&state, &caller, id, Command::Reopen { reason: b.reason }).await
}

async fn close(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(b): OptionalJson<NoteBody>,
) -> ApiResult<Json<ReportView>> {
    run(&state, &caller, id, Command::Close { note: b.note }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateQuery {
    category: String,
    lat: f64,
    long: f64,
}

async fn duplicates(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DuplicateQuery>,
) -> ApiResult<Json<Vec<DuplicateView>>> {
    let category = state
        .store
        .reference()
        .category_by_code(&q.category)
        .map(|c| c.id)
        .ok_or_else(|| {
            ApiError::invalid("category", format!("no category has code '{}'", q.category))
        })?;
    if !dothi_domain::geo::valid_coordinates(q.lat, q.long) {
        return Err(ApiError::invalid(
            "lat",
            "lat must be within ±90 and long within ±180",
        ));
    }
    let found = state
        .store
        .duplicates(category, q.lat, q.long, None)
        .await?;
    Ok(Json(found.into_iter().map(DuplicateView::from).collect()))
}

async fn serve_media(state: &AppState, id: i64, thumbnail: bool) -> ApiResult<Response> {
    let (content_type, bytes) = state.store.media(id, thumbnail).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_string(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response())
}

async fn media(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    serve_media(&state, id, false).await
}

async fn thumbnail(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    serve_media(&state, id, true).await
}
