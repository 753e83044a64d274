//! The reports service: intake, the workflow, history, duplicates and deadline sweeps.
//!
//! Privacy invariant: every function that returns a [`Report`] takes the [`Actor`] asking
//! and redacts the reporter's identity unless the actor is IOC staff or the reporter.

use std::collections::BTreeMap;

use dothi_domain::workflow::{plan, ReportFacts};
use dothi_domain::{
    attributes, geo, text, Action, Actor, Channel, DomainError, Priority, Rating, RejectReason,
    Status,
};
use rand::RngCore;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{bind_all, Backend, Val, WriteTx};
use crate::error::Result;
use crate::kpi::{RollupDelta, RollupFacts, ROLLUP_COLUMNS};
use crate::reference::Snapshot;
use crate::time::{from_ms, now_ms};
use crate::Store;

/// A photo already validated and stripped of metadata by the media crate.
#[derive(Clone, Debug)]
pub struct NewPhoto {
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Reporter {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub device_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewReport {
    pub category_code: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub commune_code: Option<String>,
    pub priority: Priority,
    pub channel: Channel,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub reporter: Reporter,
    pub anonymous: bool,
    pub photos: Vec<NewPhoto>,
    pub api_key_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReporterView {
    pub user_id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub device_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub id: i64,
    pub token: String,
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub commune_code: Option<String>,
    pub commune_name: Option<String>,
    pub agency_id: Option<i64>,
    pub agency_code: Option<String>,
    pub agency_name: Option<String>,
    /// Present only for IOC staff and for the reporter themself.
    pub reporter: Option<ReporterView>,
    pub anonymous: bool,
    pub attributes: serde_json::Value,
    pub status_notes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deadline_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub overdue: bool,
    pub resolved_on_time: Option<bool>,
    pub rating: Option<Rating>,
    pub rating_comment: Option<String>,
    pub reopen_count: i64,
    pub reject_reason: Option<RejectReason>,
    pub duplicate_of: Option<i64>,
    pub photo_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    pub report_id: i64,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub agency_id: Option<i64>,
    pub target_agency_id: Option<i64>,
    pub note: Option<String>,
    pub public: bool,
    pub detail: serde_json::Value,
    pub created_at: i64,
    pub media_ids: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Extension {
    pub id: i64,
    pub report_id: i64,
    pub days: i64,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
    pub old_deadline_at: i64,
    pub new_deadline_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DuplicateCandidate {
    pub id: i64,
    pub distance_m: f64,
    pub status: Status,
    pub description: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MediaMeta {
    pub id: i64,
    pub report_id: i64,
    pub kind: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub size: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    CreatedDesc,
    CreatedAsc,
    DeadlineAsc,
    UpdatedDesc,
}

#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    pub ids: Vec<i64>,
    pub category_ids: Vec<i64>,
    pub statuses: Vec<Status>,
    pub agency_id: Option<i64>,
    pub commune_code: Option<String>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub reporter_user_id: Option<i64>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub q: Option<String>,
    pub overdue: Option<bool>,
    pub order: Order,
    pub limit: i64,
    pub offset: i64,
}

pub enum Command {
    Assign {
        agency_code: String,
        note: Option<String>,
    },
    Accept {
        note: Option<String>,
    },
    Transfer {
        agency_code: String,
        reason: String,
    },
    RequestExtension {
        days: u32,
        reason: String,
    },
    DecideExtension {
        approve: bool,
        note: Option<String>,
    },
    Resolve {
        note: String,
        photos: Vec<NewPhoto>,
    },
    Reject {
        reason: RejectReason,
        note: Option<String>,
        duplicate_of: Option<i64>,
    },
    Rate {
        rating: Rating,
        comment: Option<String>,
        reopen: bool,
    },
    Reopen {
        reason: String,
    },
    Close {
        note: Option<String>,
    },
}

impl Command {
    fn action(&self) -> Action {
        match self {
            Command::Assign { .. } => Action::Assign,
            Command::Accept { .. } => Action::Accept,
            Command::Transfer { .. } => Action::Transfer,
            Command::RequestExtension { .. } => Action::RequestExtension,
            Command::DecideExtension { approve: true, .. } => Action::ApproveExtension,
            Command::DecideExtension { approve: false, .. } => Action::RefuseExtension,
            Command::Resolve { .. } => Action::Resolve,
            Command::Reject { .. } => Action::Reject,
            Command::Rate { .. } => Action::Rate,
            Command::Reopen { .. } => Action::Reopen,
            Command::Close { .. } => Action::Close,
        }
    }
}

const REPORT_COLUMNS: &str = "id, token, category_id, status, priority, channel, description, address, lat, lon, \
    commune_code, agency_id, reporter_user_id, reporter_name, reporter_email, reporter_phone, reporter_device_id, \
    anonymous, attributes, status_notes, created_at, updated_at, deadline_at, resolved_at, closed_at, overdue, \
    resolved_on_time, rating, rating_comment, reopen_count, reject_reason, duplicate_of, photo_id";

/// The columns of `REPORT_COLUMNS`, in order. Deserialises from a JSON array too, which is how
/// list queries return their rows (see `list_reports`).
#[derive(serde::Deserialize)]
struct RawReport(
    i64,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

fn raw_from_row(r: &AnyRow) -> RawReport {
    RawReport(
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
        r.get(9),
        r.get(10),
        r.get(11),
        r.get(12),
        r.get(13),
        r.get(14),
        r.get(15),
        r.get(16),
        r.get(17),
        r.get(18),
        r.get(19),
        r.get(20),
        r.get(21),
        r.get(22),
        r.get(23),
        r.get(24),
        r.get(25),
        r.get(26),
        r.get(27),
        r.get(28),
        r.get(29),
        r.get(30),
        r.get(31),
        r.get(32),
    )
}

fn report_from_row(r: &AnyRow, snapshot: &Snapshot) -> Report {
    report_from_raw(raw_from_row(r), snapshot)
}

fn report_from_raw(r: RawReport, snapshot: &Snapshot) -> Report {
    let category = snapshot.category(r.2);
    let agency = r.11.and_then(|id| snapshot.agency(id));
    let commune_name =
        r.10.as_deref()
            .and_then(|c| snapshot.admin_unit(c))
            .map(|u| u.name.clone());
    Report {
        id: r.0,
        token: r.1,
        category_id: r.2,
        category_code: category.map(|c| c.code.clone()).unwrap_or_default(),
        category_name: category.map(|c| c.name.clone()).unwrap_or_default(),
        status: Status::parse(&r.3).unwrap_or(Status::Received),
        priority: Priority::parse(&r.4).unwrap_or(Priority::Normal),
        channel: Channel::parse(&r.5).unwrap_or(Channel::App),
        description: r.6,
        address: r.7,
        lat: r.8,
        lon: r.9,
        commune_code: r.10,
        commune_name,
        agency_id: r.11,
        agency_code: agency.map(|a| a.code.clone()),
        agency_name: agency.map(|a| a.name.clone()),
        reporter: Some(ReporterView {
            user_id: r.12,
            name: r.13,
            email: r.14,
            phone: r.15,
            device_id: r.16,
        }),
        anonymous: r.17 != 0,
        attributes: serde_json::from_str(&r.18).unwrap_or_default(),
        status_notes: r.19,
        created_at: r.20,
        updated_at: r.21,
        deadline_at: r.22,
        resolved_at: r.23,
        closed_at: r.24,
        overdue: r.25 != 0,
        resolved_on_time: r.26.map(|v| v != 0),
        rating: r.27.and_then(|s| Rating::parse(&s).ok()),
        rating_comment: r.28,
        reopen_count: r.29,
        reject_reason: r.30.and_then(|s| RejectReason::parse(&s).ok()),
        duplicate_of: r.31,
        photo_id: r.32,
    }
}

impl Report {
    /// Remove the reporter's identity unless `actor` may see it.
    pub fn redact_for(mut self, actor: &Actor) -> Self {
        let own = actor.user_id.is_some()
            && self.reporter.as_ref().and_then(|r| r.user_id) == actor.user_id;
        if !(actor.can_view_reporter() || own) {
            self.reporter = None;
        }
        self
    }

    /// Open while the deadline has passed, computed now rather than at the last sweep.
    pub fn is_overdue(&self, now: i64) -> bool {
        self.status.is_open() && self.deadline_at < now
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn clean_text(field: &str, value: &str, max: usize, required: bool) -> Result<Option<String>> {
    let v = value.trim();
    if v.is_empty() {
        if required {
            return Err(DomainError::invalid(field, "is required").into());
        }
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(DomainError::invalid(field, format!("is longer than {max} characters")).into());
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(field, "contains control characters").into());
    }
    Ok(Some(v.to_string()))
}

fn opt_text(field: &str, value: &Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(v) => clean_text(field, v, max, false),
        None => Ok(None),
    }
}

struct EventRow<'a> {
    report_id: i64,
    action: Action,
    from: Option<Status>,
    to: Status,
    actor: &'a Actor,
    agency_id: Option<i64>,
    target_agency_id: Option<i64>,
    note: Option<&'a str>,
    public: bool,
    detail: serde_json::Value,
    at: i64,
}

async fn append_event(tx: &mut WriteTx, e: EventRow<'_>) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO report_events (report_id, action, from_status, to_status, actor_label, actor_user_id, actor_role, \
         agency_id, target_agency_id, note, public, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(e.report_id)
    .bind(e.action.as_str())
    .bind(e.from.map(|s| s.as_str()))
    .bind(e.to.as_str())
    .bind(e.actor.label.as_str())
    .bind(e.actor.user_id)
    .bind(e.actor.role.map(|r| r.as_str()))
    .bind(e.agency_id)
    .bind(e.target_agency_id)
    .bind(e.note)
    .bind(e.public as i64)
    .bind(e.detail.to_string())
    .bind(e.at)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.get(0))
}

async fn insert_photos(
    tx: &mut WriteTx,
    report_id: i64,
    event_id: Option<i64>,
    kind: &str,
    photos: &[NewPhoto],
    at: i64,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(photos.len());
    for p in photos {
        let row = sqlx::query(
            "INSERT INTO media (report_id, event_id, kind, content_type, width, height, size, data, thumbnail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(report_id)
        .bind(event_id)
        .bind(kind)
        .bind(p.content_type.as_str())
        .bind(p.width as i64)
        .bind(p.height as i64)
        .bind(p.bytes.len() as i64)
        .bind(p.bytes.as_slice())
        .bind(p.thumbnail.as_slice())
        .bind(at)
        .fetch_one(tx.conn())
        .await?;
        ids.push(row.get(0));
    }
    Ok(ids)
}

pub const MAX_PHOTOS: usize = 5;

impl Store {
    /// Take in a new report and return it as `actor` may see it.
    pub async fn create_report(&self, actor: &Actor, new: NewReport) -> Result<Report> {
        let (id, _) = self.submit_report(actor, new).await?;
        self.report(actor, id).await
    }

    /// Take in a new report: validate, locate, route, set the deadline, store it with its
    /// history and photos in one transaction. Returns the id and the Open311 token; intake
    /// paths that need nothing more call this directly, to keep the write path short.
    pub async fn submit_report(&self, actor: &Actor, new: NewReport) -> Result<(i64, String)> {
        let snapshot = self.reference();
        let category = snapshot
            .category_by_code(new.category_code.trim())
            .filter(|c| c.active)
            .ok_or_else(|| {
                DomainError::invalid(
                    "service_code",
                    format!("no active service has code '{}'", new.category_code),
                )
            })?
            .clone();
        let description =
            clean_text("description", &new.description, 4000, true)?.unwrap_or_default();
        let address = opt_text("address_string", &new.address, 500)?;
        let reporter = Reporter {
            name: opt_text("name", &new.reporter.name, 200)?,
            email: opt_text("email", &new.reporter.email, 254)?,
            phone: opt_text("phone", &new.reporter.phone, 30)?,
            device_id: opt_text("device_id", &new.reporter.device_id, 200)?,
        };
        if let Some(email) = &reporter.email {
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(DomainError::invalid(
                    "email",
                    format!("'{email}' is not an e-mail address"),
                )
                .into());
            }
        }
        if new.photos.len() > MAX_PHOTOS {
            return Err(DomainError::invalid(
                "media",
                format!("at most {MAX_PHOTOS} photos per report"),
            )
            .into());
        }
        let (lat, lon) = match (new.lat, new.lon) {
            (Some(lat), Some(lon)) => {
                if !geo::valid_coordinates(lat, lon) {
                    return Err(DomainError::invalid(
                        "lat/long",
                        "lat must be within ±90 and long within ±180",
                    )
                    .into());
                }
                if snapshot.outside_service_area(lat, lon) {
                    return Err(DomainError::invalid(
                        "lat/long",
                        format!("{lat},{lon} is outside the area this platform serves"),
                    )
                    .into());
                }
                (Some(lat), Some(lon))
            }
            (None, None) => (None, None),
            _ => {
                return Err(
                    DomainError::invalid("lat/long", "give both lat and long, or neither").into(),
                )
            }
        };
        if lat.is_none() && address.is_none() {
            return Err(DomainError::invalid(
                "location",
                "a location is required: lat and long, or address_string",
            )
            .into());
        }
        let commune = match &new.commune_code {
            Some(code) => Some(
                snapshot
                    .admin_unit(code)
                    .ok_or_else(|| {
                        DomainError::invalid(
                            "commune",
                            format!("no administrative unit has code '{code}'"),
                        )
                    })?
                    .code
                    .clone(),
            ),
            None => match (lat, lon) {
                (Some(lat), Some(lon)) => snapshot.locate_commune(lat, lon).map(|u| u.code.clone()),
                _ => address
                    .as_deref()
                    .and_then(|a| snapshot.commune_in_address(a))
                    .map(|u| u.code.clone()),
            },
        };
        let answers = attributes::validate_answers(&category.attributes, &new.attributes)?;
        let agency = snapshot.route(&category, commune.as_deref());
        let now = now_ms();
        let days = match new.priority {
            Priority::Normal => category.deadline_normal_days,
            Priority::Urgent => category.deadline_urgent_days,
        };
        let deadline = snapshot
            .calendar
            .deadline(from_ms(now), days)
            .timestamp_millis();
        let status = if agency.is_some() {
            Status::Assigned
        } else {
            Status::Received
        };
        let search_text = text::fold(&format!(
            "{} {} {}",
            description,
            address.as_deref().unwrap_or(""),
            category.name
        ));
        let prepared = PreparedReport {
            values: vec![
                Val::S(random_token()),
                Val::I(category.id),
                Val::S(status.as_str().into()),
                Val::S(new.priority.as_str().into()),
                Val::S(new.channel.as_str().into()),
                Val::S(description),
                Val::OptS(address),
                Val::OptF(lat),
                Val::OptF(lon),
                Val::OptS(commune.clone()),
                Val::OptI(agency),
                Val::OptI(actor.user_id),
                Val::OptS(reporter.name),
                Val::OptS(reporter.email),
                Val::OptS(reporter.phone),
                Val::OptS(reporter.device_id),
                Val::I(new.anonymous as i64),
                Val::S(serde_json::to_string(&answers).expect("answers serialise")),
                Val::S(search_text),
                Val::I(now),
                Val::I(now),
                Val::I(deadline),
                Val::OptI(new.api_key_id),
            ],
            events: intake_events(actor, agency, &new, now),
            rollup: RollupFacts::intake(now, agency, commune, category.id, new.channel),
        };
        if new.photos.is_empty() {
            return self.writer.submit(prepared).await;
        }
        let mut tx = self.db.begin_write().await?;
        let written = write_reports(&mut tx, std::slice::from_ref(&prepared)).await?;
        let (id, token) = written.into_iter().next().expect("one report written");
        let created: i64 = sqlx::query("SELECT MIN(id) FROM report_events WHERE report_id = $1")
            .bind(id)
            .fetch_one(tx.conn())
            .await?
            .get(0);
        let photo_ids =
            insert_photos(&mut tx, id, Some(created), "report", &new.photos, now).await?;
        if let Some(first) = photo_ids.first() {
            sqlx::query("UPDATE reports SET photo_id = $1 WHERE id = $2")
                .bind(first)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok((id, token))
    }

    /// One report as `actor` may see it.
    pub async fn report(&self, actor: &Actor, id: i64) -> Result<Report> {
        let row = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("report {id}")))?;
        Ok(report_from_row(&row, &self.reference()).redact_for(actor))
    }

    pub async fn report_id_for_token(&self, token: &str) -> Result<Option<i64>> {
        Ok(sqlx::query("SELECT id FROM reports WHERE token = $1")
            .bind(token)
            .fetch_optional(&self.db.pool)
            .await?
            .map(|r| r.get(0)))
    }

    pub async fn list_reports(&self, actor: &Actor, filter: &ReportFilter) -> Result<Vec<Report>> {
        let mut sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE 1 = 1");
        let mut vals = Vec::new();
        let mut push = |sql: &mut String, clause: &str, v: Val| {
            vals.push(v);
            sql.push_str(&clause.replace("$?", &format!("${}", vals.len())));
        };
        if !filter.ids.is_empty() {
            sql.push_str(" AND id IN (");
            for (i, id) in filter.ids.iter().enumerate() {
                push(&mut sql, if i == 0 { "$?" } else { ", $?" }, Val::I(*id));
            }
            sql.push(')');
        }
        if !filter.category_ids.is_empty() {
            sql.push_str(" AND category_id IN (");
            for (i, id) in filter.category_ids.iter().enumerate() {
                push(&mut sql, if i == 0 { "$?" } else { ", $?" }, Val::I(*id));
            }
            sql.push(')');
        }
        if !filter.statuses.is_empty() {
            sql.push_str(" AND status IN (");
            for (i, s) in filter.statuses.iter().enumerate() {
                push(
                    &mut sql,
                    if i == 0 { "$?" } else { ", $?" },
                    Val::S(s.as_str().into()),
                );
            }
            sql.push(')');
        }
        if let Some(a) = filter.agency_id {
            push(&mut sql, " AND agency_id = $?", Val::I(a));
        }
        if let Some(c) = &filter.commune_code {
            push(&mut sql, " AND commune_code = $?", Val::S(c.clone()));
        }
        if let Some(c) = filter.channel {
            push(&mut sql, " AND channel = $?", Val::S(c.as_str().into()));
        }
        if let Some(p) = filter.priority {
            push(&mut sql, " AND priority = $?", Val::S(p.as_str().into()));
        }
        if let Some(u) = filter.reporter_user_id {
            push(&mut sql, " AND reporter_user_id = $?", Val::I(u));
        }
        if let Some(t) = filter.created_from {
            push(&mut sql, " AND created_at >= $?", Val::I(t));
        }
        if let Some(t) = filter.created_to {
            push(&mut sql, " AND created_at <= $?", Val::I(t));
        }
        if let Some(q) = &filter.q {
            for term in text::search_terms(q) {
                push(
                    &mut sql,
                    " AND search_text LIKE $?",
                    Val::S(format!("%{term}%")),
                );
            }
        }
        match filter.overdue {
            Some(true) => {
                sql.push_str(" AND status IN ('received', 'assigned', 'in_progress', 'transferred', 'reopened')");
                push(&mut sql, " AND deadline_at < $?", Val::I(now_ms()));
            }
            Some(false) => {
                push(
                    &mut sql,
                    " AND NOT (status IN ('received', 'assigned', 'in_progress', 'transferred', 'reopened') AND deadline_at < $?)",
                    Val::I(now_ms()),
                );
            }
            None => {}
        }
        let order_by = match filter.order {
            Order::CreatedDesc => "created_at DESC, id DESC",
            Order::CreatedAsc => "created_at ASC, id ASC",
            Order::DeadlineAsc => "deadline_at ASC, id ASC",
            Order::UpdatedDesc => "updated_at DESC, id DESC",
        };
        sql.push_str(" ORDER BY ");
        sql.push_str(order_by);
        push(&mut sql, " LIMIT $?", Val::I(filter.limit.clamp(1, 1000)));
        push(&mut sql, " OFFSET $?", Val::I(filter.offset.max(0)));
        // Lists come back as one JSON array built by the database: one row crosses the driver
        // instead of a thousand, which is most of the cost of a 1,000-row Open311 page on the
        // SQLite driver's worker thread.
        let aggregate = match self.db.backend {
            Backend::Sqlite => format!("SELECT json_group_array(json_array({REPORT_COLUMNS}) ORDER BY {order_by}) FROM ({sql})"),
            Backend::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_array({REPORT_COLUMNS}) ORDER BY {order_by}), '[]')::text FROM ({sql}) page"
            ),
        };
        let row = bind_all(sqlx::query(&aggregate), &vals)
            .fetch_one(&self.db.pool)
            .await?;
        let json: Option<String> = row.get(0);
        let raws: Vec<RawReport> =
            serde_json::from_str(json.as_deref().unwrap_or("[]")).map_err(|e| {
                crate::StoreError::Database(sqlx::Error::Decode(format!("report list: {e}").into()))
            })?;
        let snapshot = self.reference();
        Ok(raws
            .into_iter()
            .map(|r| report_from_raw(r, &snapshot).redact_for(actor))
            .collect())
    }

    /// The history as `actor` may see it. Internal events (extension requests) are shown to
    /// IOC staff and the handling agency only, and citizens' account names never appear
    /// outside the IOC.
    pub async fn history(&self, actor: &Actor, id: i64) -> Result<Vec<Event>> {
        let report = self.report(actor, id).await?;
        let internal =
            actor.is_ioc() || (actor.agency_id.is_some() && actor.agency_id == report.agency_id);
        let rows = sqlx::query(
            "SELECT id, report_id, action, from_status, to_status, actor_label, actor_role, agency_id, target_agency_id, \
             note, public, detail, created_at FROM report_events WHERE report_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        let media = sqlx::query("SELECT id, event_id FROM media WHERE report_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.db.pool)
            .await?;
        let mut events = Vec::new();
        for r in rows {
            let public = r.get::<i64, _>(10) != 0;
            if !public && !internal {
                continue;
            }
            let event_id: i64 = r.get(0);
            let role: Option<String> = r.get(6);
            let label: String = r.get(5);
            let actor_label = match role.as_deref() {
                Some("citizen") if !actor.can_view_reporter() => "reporter".to_string(),
                None if label.starts_with("api-key:") && !actor.can_view_reporter() => {
                    "reporter".to_string()
                }
                _ => label,
            };
            let detail: String = r.get(11);
            events.push(Event {
                id: event_id,
                report_id: r.get(1),
                action: r.get(2),
                from_status: r.get(3),
                to_status: r.get(4),
                actor: actor_label,
                agency_id: r.get(7),
                target_agency_id: r.get(8),
                note: r.get(9),
                public,
                detail: serde_json::from_str(&detail).unwrap_or_default(),
                created_at: r.get(12),
                media_ids: media
                    .iter()
                    .filter(|m| m.get::<Option<i64>, _>(1) == Some(event_id))
                    .map(|m| m.get(0))
                    .collect(),
            });
        }
        Ok(events)
    }

    pub async fn extensions(&self, actor: &Actor, id: i64) -> Result<Vec<Extension>> {
        let report = self.report(actor, id).await?;
        if !(actor.is_ioc() || (actor.agency_id.is_some() && actor.agency_id == report.agency_id)) {
            return Err(DomainError::forbidden(
                "only the IOC and the handling agency see extension requests",
            )
            .into());
        }
        let rows = sqlx::query(
            "SELECT id, report_id, days, reason, status, requested_by, requested_at, decided_by, decided_at, decision_note, \
             old_deadline_at, new_deadline_at FROM extensions WHERE report_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(extension_from_row).collect())
    }

    /// Nearby reports of the same category in the recent window (FixMyStreet-style
    /// "is this the same problem?"). Rejected reports are left out.
    pub async fn duplicates(
        &self,
        category_id: i64,
        lat: f64,
        lon: f64,
        exclude: Option<i64>,
    ) -> Result<Vec<DuplicateCandidate>> {
        let radius = self.settings.duplicate_radius_m;
        let (lat0, lat1, lon0, lon1) = geo::bounding_box(lat, lon, radius);
        let since = now_ms() - self.settings.duplicate_window_days * 86_400_000;
        let rows = sqlx::query(
            "SELECT id, lat, lon, status, description, created_at FROM reports \
             WHERE category_id = $1 AND created_at >= $2 AND lat BETWEEN $3 AND $4 AND lon BETWEEN $5 AND $6 \
             AND status <> 'rejected' AND id <> $7 ORDER BY created_at DESC LIMIT 200",
        )
        .bind(category_id)
        .bind(since)
        .bind(lat0)
        .bind(lat1)
        .bind(lon0)
        .bind(lon1)
        .bind(exclude.unwrap_or(-1))
        .fetch_all(&self.db.pool)
        .await?;
        let mut out: Vec<DuplicateCandidate> = rows
            .iter()
            .filter_map(|r| {
                let d = geo::haversine_m(lat, lon, r.get(1), r.get(2));
                (d <= radius).then(|| DuplicateCandidate {
                    id: r.get(0),
                    distance_m: (d * 10.0).round() / 10.0,
                    status: Status::parse(&r.get::<String, _>(3)).unwrap_or(Status::Received),
                    description: r.get::<String, _>(4).chars().take(200).collect(),
                    created_at: r.get(5),
                })
            })
            .collect();
        out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        out.truncate(10);
        Ok(out)
    }

    /// Apply one workflow command in one transaction and return the report afterwards.
    pub async fn apply(&self, actor: &Actor, id: i64, command: Command) -> Result<Report> {
        let snapshot = self.reference();
        let action = command.action();
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let lock = if self.db.backend == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT status, agency_id, reporter_user_id, deadline_at, category_id, priority, created_at, {ROLLUP_COLUMNS} \
             FROM reports WHERE id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| DomainError::not_found(format!("report {id}")))?;
        let from = Status::parse(&row.get::<String, _>(0))?;
        let agency_id: Option<i64> = row.get(1);
        let deadline: i64 = row.get(3);
        let created_at: i64 = row.get(6);
        let rollup_before = RollupFacts::from_row(&row, 7);
        let category = snapshot.category(row.get(4)).cloned();
        let priority = Priority::parse(&row.get::<String, _>(5)).unwrap_or(Priority::Normal);
        let facts = ReportFacts {
            status: from,
            agency_id,
            reporter_user_id: row.get(2),
        };
        let mut to = plan(actor, action, &facts)?;
        let calendar = &snapshot.calendar;
        let restart_deadline = || {
            let days = category
                .as_ref()
                .map(|c| match priority {
                    Priority::Normal => c.deadline_normal_days,
                    Priority::Urgent => c.deadline_urgent_days,
                })
                .unwrap_or(5);
            calendar.deadline(from_ms(now), days).timestamp_millis()
        };
        let target_agency = |code: &str| -> Result<i64> {
            snapshot
                .agency_by_code(code)
                .filter(|a| a.active)
                .map(|a| a.id)
                .ok_or_else(|| {
                    DomainError::invalid("agency", format!("no active agency has code '{code}'"))
                        .into()
                })
        };

        let mut event = EventRow {
            report_id: id,
            action,
            from: Some(from),
            to,
            actor,
            agency_id,
            target_agency_id: None,
            note: None,
            public: true,
            detail: serde_json::json!({}),
            at: now,
        };
        let mut sets: Vec<(&str, Val)> = Vec::new();
        let mut resolution_photos: Vec<NewPhoto> = Vec::new();
        let note_holder: Option<String>;
        match command {
            Command::Assign { agency_code, note } => {
                let target = target_agency(&agency_code)?;
                note_holder = opt_text("note", &note, 2000)?;
                event.target_agency_id = Some(target);
                sets.push(("agency_id", Val::I(target)));
                if agency_id != Some(target) {
                    let d = restart_deadline();
                    sets.push(("deadline_at", Val::I(d)));
                    sets.push(("overdue", Val::I(0)));
                }
            }
            Command::Accept { note } => {
                note_holder = opt_text("note", &note, 2000)?;
            }
            Command::Transfer {
                agency_code,
                reason,
            } => {
                let target = target_agency(&agency_code)?;
                if Some(target) == agency_id {
                    return Err(DomainError::invalid(
                        "agency",
                        "the report is already with that agency",
                    )
                    .into());
                }
                note_holder = clean_text("reason", &reason, 2000, true)?;
                event.target_agency_id = Some(target);
                sets.push(("agency_id", Val::I(target)));
                sets.push(("deadline_at", Val::I(restart_deadline())));
                sets.push(("overdue", Val::I(0)));
            }
            Command::RequestExtension { days, reason } => {
                if !(1..=30).contains(&days) {
                    return Err(DomainError::invalid(
                        "days",
                        "an extension is 1 to 30 working days",
                    )
                    .into());
                }
                note_holder = clean_text("reason", &reason, 2000, true)?;
                let pending = sqlx::query(
                    "SELECT id FROM extensions WHERE report_id = $1 AND status = 'pending'",
                )
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
                if pending.is_some() {
                    return Err(DomainError::Conflict(
                        "an extension request is already pending for this report".into(),
                    )
                    .into());
                }
                let ext = sqlx::query(
                    "INSERT INTO extensions (report_id, days, reason, status, requested_by, requested_at, old_deadline_at) \
                     VALUES ($1, $2, $3, 'pending', $4, $5, $6) RETURNING id",
                )
                .bind(id)
                .bind(days as i64)
                .bind(note_holder.as_deref())
                .bind(actor.label.as_str())
                .bind(now)
                .bind(deadline)
                .fetch_one(tx.conn())
                .await?;
                event.public = false;
                event.detail =
                    serde_json::json!({"extension_id": ext.get::<i64, _>(0), "days": days});
            }
            Command::DecideExtension { approve, note } => {
                note_holder = opt_text("note", &note, 2000)?;
                let pending = sqlx::query(
                    "SELECT id, days FROM extensions WHERE report_id = $1 AND status = 'pending'",
                )
                .bind(id)
                .fetch_optional(tx.conn())
                .await?
                .ok_or_else(|| {
                    DomainError::Conflict("no extension request is pending for this report".into())
                })?;
                let ext_id: i64 = pending.get(0);
                let days: i64 = pending.get(1);
                let new_deadline = approve.then(|| {
                    calendar
                        .extend(from_ms(deadline), days as u32)
                        .timestamp_millis()
                });
                sqlx::query(
                    "UPDATE extensions SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, new_deadline_at = $5 WHERE id = $6",
                )
                .bind(if approve { "approved" } else { "refused" })
                .bind(actor.label.as_str())
                .bind(now)
                .bind(note_holder.as_deref())
                .bind(new_deadline)
                .bind(ext_id)
                .execute(tx.conn())
                .await?;
                if let Some(d) = new_deadline {
                    sets.push(("deadline_at", Val::I(d)));
                    sets.push(("overdue", Val::I((d < now) as i64)));
                }
                event.public = false;
                event.detail = serde_json::json!({"extension_id": ext_id, "days": days, "new_deadline_at": new_deadline});
            }
            Command::Resolve { note, photos } => {
                note_holder = clean_text("note", &note, 4000, true)?;
                if photos.len() > MAX_PHOTOS {
                    return Err(DomainError::invalid(
                        "media",
                        format!("at most {MAX_PHOTOS} photos per resolution"),
                    )
                    .into());
                }
                resolution_photos = photos;
                sets.push(("resolved_at", Val::I(now)));
                sets.push(("resolved_on_time", Val::I((now <= deadline) as i64)));
                let days = calendar.working_days_between(from_ms(created_at), from_ms(now));
                sets.push(("handling_days", Val::F(days)));
                sets.push(("status_notes", Val::OptS(note_holder.clone())));
            }
            Command::Reject {
                reason,
                note,
                duplicate_of,
            } => {
                note_holder = opt_text("note", &note, 2000)?;
                if reason == RejectReason::Duplicate {
                    let original = duplicate_of.ok_or_else(|| {
                        DomainError::invalid(
                            "duplicate_of",
                            "a duplicate must name the original report",
                        )
                    })?;
                    if original == id {
                        return Err(DomainError::invalid(
                            "duplicate_of",
                            "a report cannot duplicate itself",
                        )
                        .into());
                    }
                    let exists = sqlx::query("SELECT 1 FROM reports WHERE id = $1")
                        .bind(original)
                        .fetch_optional(tx.conn())
                        .await?;
                    if exists.is_none() {
                        return Err(DomainError::invalid(
                            "duplicate_of",
                            format!("report {original} does not exist"),
                        )
                        .into());
                    }
                    sets.push(("duplicate_of", Val::I(original)));
                } else if duplicate_of.is_some() {
                    return Err(DomainError::invalid(
                        "duplicate_of",
                        "only a duplicate rejection names an original",
                    )
                    .into());
                }
                sets.push(("reject_reason", Val::S(reason.as_str().into())));
                sets.push(("closed_at", Val::I(now)));
                sets.push(("status_notes", Val::OptS(note_holder.clone())));
                event.detail =
                    serde_json::json!({"reason": reason.as_str(), "duplicate_of": duplicate_of});
            }
            Command::Rate {
                rating,
                comment,
                reopen,
            } => {
                note_holder = opt_text("comment", &comment, 2000)?;
                if reopen && rating != Rating::Unsatisfied {
                    return Err(DomainError::invalid(
                        "reopen",
                        "only an unsatisfied rating can reopen the report",
                    )
                    .into());
                }
                sets.push(("rating", Val::S(rating.as_str().into())));
                sets.push(("rating_comment", Val::OptS(note_holder.clone())));
                sets.push(("rated_at", Val::I(now)));
                if reopen {
                    to = Status::Reopened;
                    event.to = to;
                    sets.extend(reopen_sets(restart_deadline()));
                } else {
                    sets.push(("closed_at", Val::I(now)));
                }
                event.detail = serde_json::json!({"rating": rating.as_str(), "reopened": reopen});
            }
            Command::Reopen { reason } => {
                note_holder = clean_text("reason", &reason, 2000, true)?;
                sets.extend(reopen_sets(restart_deadline()));
            }
            Command::Close { note } => {
                note_holder = opt_text("note", &note, 2000)?;
                sets.push(("closed_at", Val::I(now)));
            }
        }
        event.note = note_holder.as_deref();
        let event_id = append_event(&mut tx, event).await?;
        let mut sql = String::from("UPDATE reports SET status = $1, updated_at = $2");
        let mut vals = vec![Val::S(to.as_str().into()), Val::I(now)];
        if to == Status::Reopened {
            sql.push_str(", reopen_count = reopen_count + 1");
        }
        for (column, v) in sets {
            vals.push(v);
            sql.push_str(&format!(", {column} = ${}", vals.len()));
        }
        vals.push(Val::I(id));
        sql.push_str(&format!(
            " WHERE id = ${} RETURNING {ROLLUP_COLUMNS}",
            vals.len()
        ));
        // Not cached: a reopening binds a NULL float (see `write_reports`).
        let updated = bind_all(sqlx::query(&sql).persistent(false), &vals)
            .fetch_one(tx.conn())
            .await?;
        // Keep the IOC's rollup in step: whatever the command changed (agency, resolution,
        // rating, ...), take the old contribution away and add the new one.
        let rollup_after = RollupFacts::from_row(&updated, 0);
        if rollup_after != rollup_before {
            let mut rollup = RollupDelta::default();
            rollup.remove(&rollup_before);
            rollup.add(&rollup_after);
            rollup.write(&mut tx).await?;
        }
        insert_photos(
            &mut tx,
            id,
            Some(event_id),
            "resolution",
            &resolution_photos,
            now,
        )
        .await?;
        tx.commit().await?;
        self.report(actor, id).await
    }

    /// Mark open reports whose deadline has passed, and close resolved reports nobody rated.
    /// Returns (newly overdue, auto-closed). Runs every minute in `dothi serve`.
    pub async fn sweep(&self, now: i64) -> Result<(usize, usize)> {
        let system = Actor::system();
        let overdue: Vec<(i64, String, Option<i64>)> = sqlx::query(
            "SELECT id, status, agency_id FROM reports WHERE overdue = 0 AND deadline_at < $1 \
             AND status IN ('received', 'assigned', 'in_progress', 'transferred', 'reopened') ORDER BY id LIMIT 5000",
        )
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        for chunk in overdue.chunks(200) {
            let mut tx = self.db.begin_write().await?;
            for (id, status, agency) in chunk {
                let status = Status::parse(status)?;
                let done = sqlx::query(
                    "UPDATE reports SET overdue = 1 WHERE id = $1 AND overdue = 0 AND status = $2",
                )
                .bind(id)
                .bind(status.as_str())
                .execute(tx.conn())
                .await?;
                if done.rows_affected() == 1 {
                    append_event(
                        &mut tx,
                        EventRow {
                            report_id: *id,
                            action: Action::MarkOverdue,
                            from: Some(status),
                            to: status,
                            actor: &system,
                            agency_id: *agency,
                            target_agency_id: None,
                            note: None,
                            public: false,
                            detail: serde_json::json!({}),
                            at: now,
                        },
                    )
                    .await?;
                }
            }
            tx.commit().await?;
        }
        let stale = now - self.settings.auto_close_days * 86_400_000;
        let to_close: Vec<i64> = sqlx::query("SELECT id FROM reports WHERE status = 'resolved' AND resolved_at < $1 ORDER BY id LIMIT 5000")
            .bind(stale)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut closed = 0;
        for id in &to_close {
            match self
                .apply(&system, *id, Command::Close { note: None })
                .await
            {
                Ok(_) => closed += 1,
                Err(crate::StoreError::Domain(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((overdue.len(), closed))
    }

    pub async fn media(&self, id: i64, thumbnail: bool) -> Result<(String, Vec<u8>)> {
        let column = if thumbnail { "thumbnail" } else { "data" };
        let row = sqlx::query(&format!(
            "SELECT content_type, {column} FROM media WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("media {id}")))?;
        let content_type = if thumbnail {
            "image/jpeg".to_string()
        } else {
            row.get(0)
        };
        Ok((content_type, row.get(1)))
    }

    pub async fn media_of_report(&self, report_id: i64) -> Result<Vec<MediaMeta>> {
        let rows = sqlx::query("SELECT id, report_id, kind, content_type, width, height, size FROM media WHERE report_id = $1 ORDER BY id")
            .bind(report_id)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| MediaMeta {
                id: r.get(0),
                report_id: r.get(1),
                kind: r.get(2),
                content_type: r.get(3),
                width: r.get(4),
                height: r.get(5),
                size: r.get(6),
            })
            .collect())
    }

    /// Add photos to an existing report (reporter or IOC, while it is open).
    pub async fn add_photos(
        &self,
        actor: &Actor,
        id: i64,
        photos: Vec<NewPhoto>,
    ) -> Result<Vec<i64>> {
        let report = self.report(actor, id).await?;
        let own = actor.user_id.is_some()
            && report.reporter.as_ref().and_then(|r| r.user_id) == actor.user_id;
        if !(actor.is_ioc() || own) {
            return Err(DomainError::forbidden(
                "only the reporter or the IOC may add photos to a report",
            )
            .into());
        }
        let existing = self
            .media_of_report(id)
            .await?
            .iter()
            .filter(|m| m.kind == "report")
            .count();
        if existing + photos.len() > MAX_PHOTOS {
            return Err(DomainError::invalid(
                "media",
                format!("at most {MAX_PHOTOS} photos per report"),
            )
            .into());
        }
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let ids = insert_photos(&mut tx, id, None, "report", &photos, now).await?;
        if let (None, Some(first)) = (report.photo_id, ids.first()) {
            sqlx::query("UPDATE reports SET photo_id = $1 WHERE id = $2")
                .bind(first)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Public status changes since a time, for the mySociety `servicerequestupdates` feed.
    pub async fn public_updates(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<(Event, Report)>> {
        let rows = sqlx::query(
            "SELECT e.id, e.report_id, e.action, e.from_status, e.to_status, e.note, e.detail, e.created_at \
             FROM report_events e WHERE e.public = 1 AND e.created_at >= $1 AND e.created_at <= $2 \
             ORDER BY e.created_at, e.id LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.db.pool)
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let mut reports = BTreeMap::new();
        for chunk in unique.chunks(500) {
            let filter = ReportFilter {
                ids: chunk.to_vec(),
                limit: 1000,
                ..Default::default()
            };
            for r in self
                .list_reports(&Actor::api_client("updates"), &filter)
                .await?
            {
                reports.insert(r.id, r);
            }
        }
        Ok(rows
            .iter()
            .filter_map(|r| {
                let detail: String = r.get(6);
                let event = Event {
                    id: r.get(0),
                    report_id: r.get(1),
                    action: r.get(2),
                    from_status: r.get(3),
                    to_status: r.get(4),
                    actor: String::new(),
                    agency_id: None,
                    target_agency_id: None,
                    note: r.get(5),
                    public: true,
                    detail: serde_json::from_str(&detail).unwrap_or_default(),
                    created_at: r.get(7),
                    media_ids: vec![],
                };
                Some((event, reports.get(&r.get::<i64, _>(1))?.clone()))
            })
            .collect())
    }
}

/// A validated report ready to insert: the 23 column values of `INSERT_REPORT_COLUMNS`, its
/// first history entries (13 values each, without the report id) and what it adds to the IOC's
/// rollup.
#[derive(Clone, Debug)]
pub(crate) struct PreparedReport {
    values: Vec<Val>,
    events: Vec<Vec<Val>>,
    rollup: RollupFacts,
}

const INSERT_REPORT_COLUMNS: &str = "token, category_id, status, priority, channel, description, address, lat, lon, \
    commune_code, agency_id, reporter_user_id, reporter_name, reporter_email, reporter_phone, reporter_device_id, \
    anonymous, attributes, search_text, created_at, updated_at, deadline_at, api_key_id";

const INSERT_EVENT_COLUMNS: &str =
    "report_id, action, from_status, to_status, actor_label, actor_user_id, \
    actor_role, agency_id, target_agency_id, note, public, detail, created_at";

fn intake_events(actor: &Actor, agency: Option<i64>, new: &NewReport, now: i64) -> Vec<Vec<Val>> {
    let intake =
        serde_json::json!({"channel": new.channel.as_str(), "priority": new.priority.as_str()});
    let mut events = vec![vec![
        Val::S("create".into()),
        Val::OptS(None),
        Val::S("received".into()),
        Val::S(actor.label.clone()),
        Val::OptI(actor.user_id),
        Val::OptS(actor.role.map(|r| r.as_str().to_string())),
        Val::OptI(None),
        Val::OptI(None),
        Val::OptS(None),
        Val::I(1),
        Val::S(intake.to_string()),
        Val::I(now),
    ]];
    if let Some(agency) = agency {
        events.push(vec![
            Val::S("assign".into()),
            Val::OptS(Some("received".into())),
            Val::S("assigned".into()),
            Val::S("system".into()),
            Val::OptI(None),
            Val::OptS(None),
            Val::OptI(None),
            Val::OptI(Some(agency)),
            Val::OptS(None),
            Val::I(1),
            Val::S(r#"{"routing":"automatic"}"#.into()),
            Val::I(now),
        ]);
    }
    events
}

/// Placeholders `$first…` for `rows` rows of `width` values bound in order.
pub(crate) fn placeholders(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Placeholders for `rows` rows of `width` values bound in order, for a statement that binds
/// nothing else. SQLite gets anonymous `?`: it looks each `$n` up among the names seen before
/// in the statement, when parsing and again when binding, which is quadratic (a batch of 128
/// reports spent ~40 ms there, against ~4 ms with `?`).
pub(crate) fn row_placeholders(backend: Backend, rows: usize, width: usize) -> String {
    match backend {
        Backend::Postgres => placeholders(rows, width, 1),
        Backend::Sqlite => {
            let row = format!("({})", vec!["?"; width].join(", "));
            vec![row; rows].join(", ")
        }
    }
}

/// Insert reports and their first history entries with two statements, whatever the number
/// of reports, and add them to the IOC's rollup (one more statement). Returns (id, token) in
/// the order given.
pub(crate) async fn write_reports(
    tx: &mut WriteTx,
    reports: &[PreparedReport],
) -> Result<Vec<(i64, String)>> {
    let width = 23;
    let sql = format!(
        "INSERT INTO reports ({INSERT_REPORT_COLUMNS}) VALUES {} RETURNING id, token",
        row_placeholders(tx.backend(), reports.len(), width)
    );
    let values: Vec<Val> = reports
        .iter()
        .flat_map(|r| r.values.iter().cloned())
        .collect();
    // Not cached as a prepared statement: sqlx's Any driver declares a NULL f64 (a report
    // without coordinates) as float4 on PostgreSQL, and a cached statement would then refuse
    // the next report that has coordinates.
    let rows = bind_all(sqlx::query(&sql).persistent(false), &values)
        .fetch_all(tx.conn())
        .await?;
    let ids: std::collections::HashMap<String, i64> =
        rows.iter().map(|r| (r.get(1), r.get(0))).collect();
    let mut out = Vec::with_capacity(reports.len());
    let mut event_values = Vec::new();
    let mut event_rows = 0;
    for report in reports {
        let Val::S(token) = &report.values[0] else {
            unreachable!("token is the first value")
        };
        let id = *ids.get(token).ok_or_else(|| sqlx::Error::RowNotFound)?;
        out.push((id, token.clone()));
        for event in &report.events {
            event_values.push(Val::I(id));
            event_values.extend(event.iter().cloned());
            event_rows += 1;
        }
    }
    let sql = format!(
        "INSERT INTO report_events ({INSERT_EVENT_COLUMNS}) VALUES {}",
        row_placeholders(tx.backend(), event_rows, 13)
    );
    bind_all(sqlx::query(&sql), &event_values)
        .execute(tx.conn())
        .await?;
    let mut rollup = RollupDelta::default();
    for report in reports {
        rollup.add(&report.rollup);
    }
    rollup.write(tx).await?;
    Ok(out)
}

fn reopen_sets(deadline: i64) -> Vec<(&'static str, Val)> {
    vec![
        ("deadline_at", Val::I(deadline)),
        ("overdue", Val::I(0)),
        ("resolved_at", Val::OptI(None)),
        ("resolved_on_time", Val::OptI(None)),
        ("handling_days", Val::OptF(None)),
        ("closed_at", Val::OptI(None)),
        ("reject_reason", Val::OptS(None)),
    ]
}

fn extension_from_row(r: &AnyRow) -> Extension {
    Extension {
        id: r.get(0),
        report_id: r.get(1),
        days: r.get(2),
        reason: r.get(3),
        status: r.get(4),
        requested_by: r.get(5),
        requested_at: r.get(6),
        decided_by: r.get(7),
        decided_at: r.get(8),
        decision_note: r.get(9),
        old_deadline_at: r.get(10),
        new_deadline_at: r.get(11),
    }
}
