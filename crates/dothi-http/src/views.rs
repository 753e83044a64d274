//! What the native API sends: the store's records with times as ISO 8601 in +07:00 and
//! references as `{code, name}` pairs.

use dothi_calendar::format_vn;
use dothi_store::reports::{DuplicateCandidate, Event, Extension, Report, ReporterView};
use dothi_store::time::from_ms;
use serde::Serialize;

pub fn ts(ms: i64) -> String {
    format_vn(from_ms(ms))
}

fn ots(ms: Option<i64>) -> Option<String> {
    ms.map(ts)
}

#[derive(Serialize)]
pub struct Named {
    pub code: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct ReportView {
    pub id: i64,
    pub category: Named,
    pub status: &'static str,
    pub priority: &'static str,
    pub channel: &'static str,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub commune: Option<Named>,
    pub agency: Option<Named>,
    /// Only IOC staff and the reporter see this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<ReporterView>,
    pub anonymous: bool,
    pub attributes: serde_json::Value,
    pub status_notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deadline_at: String,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub overdue: bool,
    pub resolved_on_time: Option<bool>,
    pub rating: Option<&'static str>,
    pub rating_comment: Option<String>,
    pub reopen_count: i64,
    pub reject_reason: Option<&'static str>,
    pub duplicate_of: Option<i64>,
    pub photo_url: Option<String>,
}

impl ReportView {
    pub fn new(r: Report, base_url: &str, now: i64) -> Self {
        let overdue = r.is_overdue(now);
        ReportView {
            id: r.id,
            category: Named {
                code: r.category_code,
                name: r.category_name,
            },
            status: r.status.as_str(),
            priority: r.priority.as_str(),
            channel: r.channel.as_str(),
            description: r.description,
            address: r.address,
            lat: r.lat,
            long: r.lon,
            commune: r.commune_code.map(|code| Named {
                code,
                name: r.commune_name.unwrap_or_default(),
            }),
            agency: r.agency_code.map(|code| Named {
                code,
                name: r.agency_name.unwrap_or_default(),
            }),
            reporter: r.reporter,
            anonymous: r.anonymous,
            attributes: r.attributes,
            status_notes: r.status_notes,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            deadline_at: ts(r.deadline_at),
            resolved_at: ots(r.resolved_at),
            closed_at: ots(r.closed_at),
            overdue,
            resolved_on_time: r.resolved_on_time,
            rating: r.rating.map(|x| x.as_str()),
            rating_comment: r.rating_comment,
            reopen_count: r.reopen_count,
            reject_reason: r.reject_reason.map(|x| x.as_str()),
            duplicate_of: r.duplicate_of,
            photo_url: r.photo_id.map(|id| format!("{base_url}/api/v1/media/{id}")),
        }
    }
}

#[derive(Serialize)]
pub struct EventView {
    pub id: i64,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub agency: Option<String>,
    pub target_agency: Option<String>,
    pub note: Option<String>,
    pub public: bool,
    pub detail: serde_json::Value,
    pub created_at: String,
    pub photo_urls: Vec<String>,
}

impl EventView {
    pub fn new(e: Event, store: &dothi_store::Store, base_url: &str) -> Self {
        let reference = store.reference();
        let code = |id: Option<i64>| {
            id.and_then(|id| reference.agency(id))
                .map(|a| a.code.clone())
        };
        EventView {
            id: e.id,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            actor: e.actor,
            agency: code(e.agency_id),
            target_agency: code(e.target_agency_id),
            note: e.note,
            public: e.public,
            detail: e.detail,
            created_at: ts(e.created_at),
            photo_urls: e
                .media_ids
                .iter()
                .map(|id| format!("{base_url}/api/v1/media/{id}"))
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ExtensionView {
    pub id: i64,
    pub days: i64,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub old_deadline_at: String,
    pub new_deadline_at: Option<String>,
}

impl From<Extension> for ExtensionView {
    fn from(e: Extension) -> Self {
        ExtensionView {
            id: e.id,
            days: e.days,
            reason: e.reason,
            status: e.status,
            requested_by: e.requested_by,
            requested_at: ts(e.requested_at),
            decided_by: e.decided_by,
            decided_at: ots(e.decided_at),
            decision_note: e.decision_note,
            old_deadline_at: ts(e.old_deadline_at),
            new_deadline_at: ots(e.new_deadline_at),
        }
    }
}

#[derive(Serialize)]
pub struct DuplicateView {
    pub id: i64,
    pub distance_m: f64,
    pub status: &'static str,
    pub description: String,
    pub created_at: String,
}

impl From<DuplicateCandidate> for DuplicateView {
    fn from(d: DuplicateCandidate) -> Self {
        DuplicateView {
            id: d.id,
            distance_m: d.distance_m,
            status: d.status.as_str(),
            description: d.description,
            created_at: ts(d.created_at),
        }
    }
}
