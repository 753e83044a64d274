//! The IOC's report-level views: the points on the dashboard's map and the report list of its
//! exports, with the dashboard's filters ([`KpiFilter`]: period of receipt, agency, commune,
//! category, channel).
//!
//! Both read the reports received in the period, newest first, through the `created_at`
//! indexes (`reports_created`, or `reports_agency_created` / `reports_category_created` when
//! that filter is set): the database walks the index backwards from the end of the period and
//! stops at the limit, so the cost follows the limit, not the table. Rows cross the driver as
//! one JSON array built by the database, as in `list_reports`. Neither view carries anything
//! about the reporter.

use dothi_domain::{Actor, DomainError, Status};
use serde::Serialize;
use sqlx::Row;

use crate::db::{bind_all, Backend, Val};
use crate::error::Result;
use crate::kpi::{check_period, scope, view_scope, KpiFilter};
use crate::time::now_ms;
use crate::Store;

/// Points on the map when the client asks for no limit.
pub const MAP_LIMIT_DEFAULT: i64 = 5_000;
/// The most points one map request may ask for.
pub const MAP_LIMIT_MAX: i64 = 20_000;
/// Rows per page of the report list.
pub const REPORT_PAGE_MAX: i64 = 5_000;

/// One report on the map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapPoint {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub status: String,
    /// Open and past its deadline now.
    pub overdue: bool,
    /// Category code.
    pub category: String,
}

/// The newest located reports of the view, and how many reports it holds in all.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapView {
    /// Reports received in the period that match the filters, located or not: the "received"
    /// KPI, read from the rollup (counting them here would read every row of the period).
    pub total: i64,
    pub points: Vec<MapPoint>,
}

/// One line of the report list: what the exports show, no personal data. References are ids
/// and codes; the caller names them in its language from the reference snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRow {
    pub id: i64,
    pub created_at: i64,
    pub category_id: i64,
    pub commune_code: Option<String>,
    pub agency_id: Option<i64>,
    pub channel: String,
    pub status: String,
    pub deadline_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_on_time: Option<bool>,
    pub rating: Option<String>,
}

/// Where the next page of the report list starts: strictly older than this report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: i64,
}

impl ReportRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// `WHERE` conditions of the view (period and filters), with their values from `$1`.
fn conditions(filter: &KpiFilter, vals: &mut Vec<Val>) -> String {
    vals.extend([Val::I(filter.from), Val::I(filter.to)]);
    format!(
        "created_at >= $1 AND created_at < $2{}",
        scope(filter, vals)
    )
}

/// `SELECT` of `columns` from `inner` as one JSON array of arrays (text), in `order`.
fn as_json_array(backend: Backend, columns: &str, inner: &str, order: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "SELECT json_group_array(json_array({columns}) ORDER BY {order}) FROM ({inner})"
        ),
        Backend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]')::text FROM ({inner}) page"
        ),
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, json: Option<String>) -> Result<T> {
    serde_json::from_str(json.as_deref().unwrap_or("[]")).map_err(|e| {
        crate::StoreError::Database(sqlx::Error::Decode(format!("{what}: {e}").into()))
    })
}

/// Coordinates to 6 decimals (about 0.1 m): plenty for a map, a third fewer bytes.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

const ORDER: &str = "created_at DESC, id DESC";

impl Store {
    /// The located reports received in the period, newest first, at most `limit` (1 to
    /// [`MAP_LIMIT_MAX`]), and the number of reports of the view (see [`MapView::total`]).
    pub async fn ioc_map(&self, actor: &Actor, filter: &KpiFilter, limit: i64) -> Result<MapView> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        if !(1..=MAP_LIMIT_MAX).contains(&limit) {
            return Err(DomainError::invalid(
                "limit",
                format!("must be between 1 and {MAP_LIMIT_MAX}"),
            )
            .into());
        }
        let total = self.kpis(actor, &filter).await?.received;
        let mut vals = Vec::new();
        let cond = conditions(&filter, &mut vals);
        let located = " AND lat IS NOT NULL AND lon IS NOT NULL";
        let columns = "id, created_at, lat, lon, status, deadline_at, category_id";
        vals.push(Val::I(limit));
        let inner = format!(
            "SELECT {columns} FROM reports WHERE {cond}{located} ORDER BY {ORDER} LIMIT ${}",
            vals.len()
        );
        let row = bind_all(
            sqlx::query(&as_json_array(self.db.backend, columns, &inner, ORDER)),
            &vals,
        )
        .fetch_one(&self.db.pool)
        .await?;
        type Raw = (i64, i64, f64, f64, String, i64, i64);
        let raws: Vec<Raw> = decode("map points", row.get(0))?;
        let now = now_ms();
        let reference = self.reference();
        let points = raws
            .into_iter()
            .map(|(id, _, lat, lon, status, deadline, category)| MapPoint {
                id,
                lat: round6(lat),
                lon: round6(lon),
                overdue: Status::parse(&status).is_ok_and(|s| s.is_open()) && deadline < now,
                status,
                category: reference
                    .category(category)
                    .map(|c| c.code.clone())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(MapView { total, points })
    }

    /// One page of the reports received in the period, newest first, strictly older than
    /// `after` when given; at most `limit` rows (1 to [`REPORT_PAGE_MAX`]). Page through the
    /// whole view with `after = last row's cursor` until a page comes back short.
    pub async fn ioc_report_page(
        &self,
        actor: &Actor,
        filter: &KpiFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<ReportRow>> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        let mut vals = Vec::new();
        let mut cond = conditions(&filter, &mut vals);
        if let Some(c) = after {
            vals.extend([Val::I(c.created_at), Val::I(c.id)]);
            let (a, b) = (vals.len() - 1, vals.len());
            // The first half bounds the index range; the second breaks ties on the id.
            cond.push_str(&format!(
                " AND created_at <= ${a} AND (created_at < ${a} OR id < ${b})"
            ));
        }
        vals.push(Val::I(limit.clamp(1, REPORT_PAGE_MAX)));
        let columns = "id, created_at, category_id, commune_code, agency_id, channel, status, \
                       deadline_at, resolved_at, resolved_on_time, rating";
        let inner = format!(
            "SELECT {columns} FROM reports WHERE {cond} ORDER BY {ORDER} LIMIT ${}",
            vals.len()
        );
        let row = bind_all(
            sqlx::query(&as_json_array(self.db.backend, columns, &inner, ORDER)),
            &vals,
        )
        .fetch_one(&self.db.pool)
        .await?;
        type Raw = (
            i64,
            i64,
            i64,
            Option<String>,
            Option<i64>,
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let raws: Vec<Raw> = decode("report list", row.get(0))?;
        Ok(raws
            .into_iter()
            .map(|r| ReportRow {
                id: r.0,
                created_at: r.1,
                category_id: r.2,
                commune_code: r.3,
                agency_id: r.4,
                channel: r.5,
                status: r.6,
                deadline_at: r.7,
                resolved_at: r.8,
                resolved_on_time: r.9.map(|v| v != 0),
                rating: r.10,
            })
            .collect())
    }
}
