//! Service requests: submission, queries, tokens and the mySociety update feed.

use chrono::{DateTime, TimeDelta, Utc};
use dothi_calendar::format_vn;
use dothi_domain::{Actor, Channel, Priority, Status};
use dothi_store::reports::{Event, NewPhoto, NewReport, Order, Report, ReportFilter, Reporter};
use dothi_store::time::{from_ms, now_ms};

use crate::doc::{Doc, Node};
use crate::error::ApiError;
use crate::params::{echo, Params, Submission};
use crate::Shared;

/// Who reads: anyone, without a key (GET needs none in GeoReport v2). The store redacts
/// the reporter's identity for this actor.
fn reader() -> Actor {
    Actor::api_client("open311-public")
}

const MAX_RANGE_DAYS: i64 = 90;

pub(crate) async fn create(app: &Shared, submission: Submission) -> Result<Doc, ApiError> {
    let Submission { params, media } = submission;
    let key = params
        .opt("api_key")?
        .ok_or_else(|| ApiError::forbidden("api_key is required"))?;
    let (key_id, key_name) = app
        .store
        .verify_api_key(key)
        .await?
        .ok_or_else(|| ApiError::forbidden("api_key is not valid"))?;
    app.check_jurisdiction(&params)?;
    let service_code = params
        .opt("service_code")?
        .ok_or_else(|| ApiError::bad_request("service_code is required"))?;
    let priority = match params.opt("priority")? {
        Some(p) => Priority::parse(p)?,
        None => Priority::Normal,
    };
    // Vietnamese names run family name first ("Nguyễn Văn An" has last_name "Nguyễn"),
    // and the IOC reads them that way.
    let name: Vec<&str> = [params.opt("last_name")?, params.opt("first_name")?]
        .into_iter()
        .flatten()
        .collect();
    let new = NewReport {
        category_code: service_code.to_string(),
        description: params.opt("description")?.unwrap_or_default().to_string(),
        lat: params.f64("lat")?,
        lon: params.f64("long")?,
        address: params
            .opt("address_string")?
            .or(params.opt("address_id")?)
            .map(str::to_string),
        commune_code: None,
        priority,
        channel: Channel::Open311,
        attributes: params.attributes()?,
        reporter: Reporter {
            name: (!name.is_empty()).then(|| name.join(" ")),
            email: params.opt("email")?.map(str::to_string),
            phone: params.opt("phone")?.map(str::to_string),
            device_id: params.opt("device_id")?.map(str::to_string),
        },
        anonymous: false,
        photos: process_photos(media).await?,
        api_key_id: Some(key_id),
    };
    let (id, token) = app
        .store
        .submit_report(&Actor::api_client(&key_name), new)
        .await?;
    Ok(Doc::new(
        "service_requests",
        Node::List(
            "request",
            vec![Node::Object(vec![
                ("service_request_id", Node::str(id.to_string())),
                ("service_notice", Node::str("")),
                ("account_id", Node::Null),
                ("token", Node::str(token)),
            ])],
        ),
    ))
}

/// Decoding and thumbnailing is CPU-bound and can take a while for a 40-megapixel photo,
/// so it runs off the async workers.
async fn process_photos(media: Vec<Vec<u8>>) -> Result<Vec<NewPhoto>, ApiError> {
    let mut photos = Vec::with_capacity(media.len());
    for bytes in media {
        let processed = tokio::task::spawn_blocking(move || {
            dothi_media::process_photo(&bytes, &dothi_media::Limits::default())
        })
        .await
        .map_err(|_| ApiError::bad_request("photo could not be decoded"))??;
        photos.push(NewPhoto {
            content_type: processed.content_type.to_string(),
            width: processed.width,
            height: processed.height,
            bytes: processed.bytes,
            thumbnail: processed.thumbnail,
        });
    }
    Ok(photos)
}

pub(crate) async fn list(app: &Shared, params: &Params) -> Result<Doc, ApiError> {
    let ids = params.list("service_request_id")?;
    let filter = if !ids.is_empty() {
        // The spec: a list of ids makes every other filter void.
        if ids.len() > 1000 {
            return Err(ApiError::invalid(
                "service_request_id",
                "at most 1000 ids at a time",
            ));
        }
        let ids = ids
            .iter()
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::invalid(
                        "service_request_id",
                        format!("{} is not a request id", echo(v)),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        ReportFilter {
            limit: ids.len() as i64,
            ids,
            ..Default::default()
        }
    } else {
        let reference = app.store.reference();
        let category_ids = params
            .list("service_code")?
            .into_iter()
            .map(|code| {
                reference
                    .category_by_code(code)
                    .map(|c| c.id)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "service_code",
                            format!("no service has code {}", echo(code)),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (from, to) = date_range(params, TimeDelta::days(MAX_RANGE_DAYS))?;
        let page = params.int_in("page", 1..=1_000_000, 1)?;
        let page_size = params.int_in("page_size", 1..=1000, 50)?;
        ReportFilter {
            category_ids,
            statuses: statuses(params)?,
            created_from: Some(from),
            created_to: Some(to),
            limit: page_size,
            offset: (page - 1) * page_size,
            ..Default::default()
        }
    };
    let filter = ReportFilter {
        order: Order::CreatedDesc,
        ..filter
    };
    let reports = app.store.list_reports(&reader(), &filter).await?;
    let now = now_ms();
    Ok(requests_doc(
        reports.iter().map(|r| request(app, r, now)).collect(),
    ))
}

fn statuses(params: &Params) -> Result<Vec<Status>, ApiError> {
    let (mut open, mut closed) = (false, false);
    for s in params.list("status")? {
        match s {
            "open" => open = true,
            "closed" => closed = true,
            other => {
                return Err(ApiError::invalid(
                    "status",
                    format!("unknown value {}; expected open or closed", echo(other)),
                ));
            }
        }
    }
    Ok(match (open, closed) {
        (true, false) => Status::open_statuses(),
        (false, true) => Status::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_open())
            .collect(),
        _ => Vec::new(),
    })
}

/// `start_date`/`end_date` as epoch milliseconds. A missing end is now and a missing start
/// is `default_span` before the end; the span may never exceed 90 days, the spec's limit,
/// which also bounds the work one query can ask for.
fn date_range(params: &Params, default_span: TimeDelta) -> Result<(i64, i64), ApiError> {
    let start = params.datetime("start_date")?;
    let end: DateTime<Utc> = params.datetime("end_date")?.unwrap_or_else(Utc::now);
    let start = start.unwrap_or(end - default_span);
    if end < start {
        return Err(ApiError::invalid(
            "end_date",
            "must not be before start_date",
        ));
    }
    if end - start > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(ApiError::bad_request("date range may not exceed 90 days"));
    }
    Ok((start.timestamp_millis(), end.timestamp_millis()))
}

pub(crate) async fn one(app: &Shared, id: &str) -> Result<Doc, ApiError> {
    let not_found = || ApiError::not_found(format!("service_request_id {} not found", echo(id)));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let report = app.store.report(&reader(), id).await.map_err(|e| match e {
        dothi_store::StoreError::Domain(dothi_domain::DomainError::NotFound { .. }) => not_found(),
        other => other.into(),
    })?;
    Ok(requests_doc(vec![request(app, &report, now_ms())]))
}

pub(crate) async fn token(app: &Shared, token: &str) -> Result<Doc, ApiError> {
    let not_found = || ApiError::not_found(format!("token {} not found", echo(token)));
    // Tokens are hex; anything else cannot match, and a NUL would fail in PostgreSQL.
    if !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let id = app
        .store
        .report_id_for_token(token)
        .await?
        .ok_or_else(not_found)?;
    Ok(requests_doc(vec![Node::Object(vec![
        ("service_request_id", Node::str(id.to_string())),
        ("token", Node::str(token)),
    ])]))
}

fn requests_doc(items: Vec<Node>) -> Doc {
    Doc::new("service_requests", Node::List("request", items))
}

fn datetime(ms: i64) -> Node {
    Node::str(format_vn(from_ms(ms)))
}

fn request(app: &Shared, r: &Report, now: i64) -> Node {
    let media_url = r
        .photo_id
        .map(|id| format!("{}/api/v1/media/{id}", app.config.base_url));
    Node::Object(vec![
        ("service_request_id", Node::str(r.id.to_string())),
        ("status", Node::str(r.status.open311())),
        ("status_notes", Node::opt_str(r.status_notes.as_deref())),
        ("service_name", Node::str(r.category_name.as_str())),
        ("service_code", Node::str(r.category_code.as_str())),
        ("description", Node::str(r.description.as_str())),
        (
            "agency_responsible",
            Node::opt_str(r.agency_name.as_deref()),
        ),
        ("service_notice", Node::str("")),
        ("requested_datetime", datetime(r.created_at)),
        ("updated_datetime", datetime(r.updated_at)),
        ("expected_datetime", datetime(r.deadline_at)),
        ("address", Node::opt_str(r.address.as_deref())),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::opt_float(r.lat)),
        ("long", Node::opt_float(r.lon)),
        ("media_url", Node::opt_str(media_url)),
        (
            "extended_attributes",
            Node::JsonOnly(Box::new(Node::Object(vec![
                ("status", Node::str(r.status.as_str())),
                ("priority", Node::str(r.priority.as_str())),
                ("channel", Node::str(r.channel.as_str())),
                ("commune_code", Node::opt_str(r.commune_code.as_deref())),
                ("overdue", Node::Bool(r.is_overdue(now))),
            ]))),
        ),
    ])
}

pub(crate) async fn updates(app: &Shared, params: &Params) -> Result<Doc, ApiError> {
    let (from, to) = date_range(params, TimeDelta::hours(24))?;
    let updates = app.store.public_updates(from, to, 1000).await?;
    let items = updates
        .iter()
        .map(|(event, report)| {
            Node::Object(vec![
                ("update_id", Node::str(event.id.to_string())),
                ("service_request_id", Node::str(report.id.to_string())),
                ("status", Node::str(fms_status(event, report))),
                ("updated_datetime", datetime(event.created_at)),
                (
                    "description",
                    Node::str(event.note.as_deref().unwrap_or("")),
                ),
                ("media_url", Node::Null),
            ])
        })
        .collect();
    Ok(Doc::new(
        "service_request_updates",
        Node::List("request_update", items),
    ))
}

/// FixMyStreet's extended status vocabulary, which says more than open/closed and which
/// FixMyStreet maps onto its own report states.
fn fms_status(event: &Event, report: &Report) -> &'static str {
    match event.to_status.as_str() {
        "received" | "reopened" => "open",
        "assigned" => "action_scheduled",
        "in_progress" => "in_progress",
        "transferred" => "internal_referral",
        "resolved" => "fixed",
        "closed" => "closed",
        "rejected" => {
            // The event remembers why; the report forgets its reason once reopened.
            let reason = event
                .detail
                .get("reason")
                .and_then(|r| r.as_str())
                .map(str::to_string);
            match reason
                .or_else(|| report.reject_reason.map(|r| r.as_str().to_string()))
                .as_deref()
            {
                Some("out_of_scope") => "not_councils_responsibility",
                Some("duplicate") => "duplicate",
                Some("insufficient_information") => "no_further_action",
                _ => "closed",
            }
        }
        _ => "open",
    }
}
