//! What the datasets the platform publishes are read from (issue 5, item 4); the datasets
//! themselves, their schemas and their coarsening are `dothi_opendata`'s.
//!
//! - Statistics: the IOC's rollup `kpi_daily` (days × agency × commune × category, channels
//!   summed here), and the open reports past their deadline through the partial index of open
//!   reports. No report is scanned for them.
//! - The anonymised list: the reports received in the window, reading only the columns
//!   [`dothi_opendata::ReportRecord`] has. The statement never names a reporter column, the
//!   description, the address, the attribute answers, notes or comments.
//! - Sensors: the entities of the published types (an allow-list) and the daily aggregates of
//!   their history through [`Store::ngsild_aggregate`], which reads the history's covering
//!   index.
//! - The reference lists: the cached reference snapshot.

use std::collections::HashSet;

use dothi_opendata::coarsen::{date_of_day_number, local_date, DAY_MS, VN_OFFSET_MS};
use dothi_opendata::{
    AdminUnitEntry, AgencyEntry, CategoryEntry, Inputs, Options, OverdueReport, PublishedDataset,
    Reference, ReportCounts, ReportDayCell, ReportRecord, SensorDay, Station,
};
use sqlx::Row;

use crate::db::{bind_all, Val};
use crate::error::Result;
use crate::kpi::OPEN;
use crate::ngsild::{AggregateFilter, Aggregates};
use crate::reference::Snapshot;
use crate::Store;

/// Generate every published dataset as of `now_ms` (what the refresh task calls).
pub async fn generate_all(
    store: &Store,
    now_ms: i64,
    options: &Options,
) -> Result<Vec<PublishedDataset>> {
    let inputs = store.opendata_inputs(now_ms, options).await?;
    dothi_opendata::build_all(&inputs).map_err(|e| crate::StoreError::Internal(e.to_string()))
}

impl Store {
    /// Everything the published datasets are made of, read as of `now_ms`.
    pub async fn opendata_inputs(&self, now_ms: i64, options: &Options) -> Result<Inputs> {
        // Separate statements, not one snapshot: a report changing in between moves from one
        // dataset's figures to the next refresh's, which is all a daily publication promises.
        let (stations, sensor_days) = self.opendata_sensors(now_ms, options).await?;
        Ok(Inputs {
            now_ms,
            options: options.clone(),
            reference: self.opendata_reference(),
            report_days: self.opendata_report_days(now_ms).await?,
            open_overdue: self.opendata_open_overdue(now_ms).await?,
            reports: self.opendata_reports(options.report_window(now_ms)).await?,
            sensor_days,
            stations,
        })
    }

    fn opendata_reference(&self) -> Reference {
        let snapshot = self.reference();
        Reference {
            agencies: snapshot
                .agencies
                .iter()
                .map(|a| AgencyEntry {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    name_en: a.name_en.clone(),
                    kind: a.kind.clone(),
                    commune_code: a.commune_code.clone(),
                    email: a.email.clone(),
                    phone: a.phone.clone(),
                    active: a.active,
                })
                .collect(),
            categories: snapshot
                .categories
                .iter()
                .map(|c| CategoryEntry {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    name_en: c.name_en.clone(),
                    group: c.group.clone(),
                    description: c.description.clone(),
                    description_en: c.description_en.clone(),
                    deadline_normal_days: c.deadline_normal_days,
                    deadline_urgent_days: c.deadline_urgent_days,
                    default_agency_code: c.default_agency.clone(),
                    active: c.active,
                })
                .collect(),
            admin_units: snapshot
                .admin_units
                .iter()
                .map(|u| AdminUnitEntry {
                    code: u.code.clone(),
                    name: u.name.clone(),
                    division_type: u.division_type.clone(),
                    province_code: u.province_code.clone(),
                    lat: u.lat,
                    lon: u.lon,
                })
                .collect(),
        }
    }

    /// The rollup up to the day of `now_ms`, channels summed.
    async fn opendata_report_days(&self, now_ms: i64) -> Result<Vec<ReportDayCell>> {
        let today = (now_ms + VN_OFFSET_MS).div_euclid(DAY_MS);
        let rows = sqlx::query(
            "SELECT day, agency_id, commune_code, category_id, \
             CAST(SUM(received) AS BIGINT), CAST(SUM(handled) AS BIGINT), \
             CAST(SUM(handled_on_time) AS BIGINT), CAST(SUM(handling_count) AS BIGINT), \
             CAST(SUM(handling_ms) AS BIGINT), CAST(SUM(rated) AS BIGINT), \
             CAST(SUM(satisfied) AS BIGINT), CAST(SUM(acceptable) AS BIGINT) \
             FROM kpi_daily WHERE day <= $1 GROUP BY day, agency_id, commune_code, category_id",
        )
        .bind(today)
        .fetch_all(&self.db.pool)
        .await?;
        let snapshot = self.reference();
        Ok(rows
            .iter()
            .map(|r| ReportDayCell {
                day: date_of_day_number(r.get(0)),
                // 0 and '' stand for "none" in the rollup.
                agency_code: agency_code(&snapshot, Some(r.get(1))),
                commune_code: r.get(2),
                category_code: category_code(&snapshot, r.get(3)),
                counts: ReportCounts {
                    received: r.get(4),
                    handled: r.get(5),
                    handled_on_time: r.get(6),
                    handling_count: r.get(7),
                    handling_ms: r.get(8),
                    rated: r.get(9),
                    satisfied: r.get(10),
                    acceptable: r.get(11),
                },
            })
            .collect())
    }

    /// Open reports past their deadline at `now_ms` (the partial index of open reports finds
    /// them; only those rows are read).
    async fn opendata_open_overdue(&self, now_ms: i64) -> Result<Vec<OverdueReport>> {
        let rows = sqlx::query(&format!(
            "SELECT created_at, agency_id, commune_code, category_id FROM reports \
             WHERE status IN {OPEN} AND deadline_at < $1"
        ))
        .bind(now_ms)
        .fetch_all(&self.db.pool)
        .await?;
        let snapshot = self.reference();
        Ok(rows
            .iter()
            .map(|r| OverdueReport {
                received_at: r.get(0),
                agency_code: agency_code(&snapshot, r.get(1)),
                commune_code: r.get::<Option<String>, _>(2).unwrap_or_default(),
                category_code: category_code(&snapshot, r.get(3)),
            })
            .collect())
    }

    /// The reports received in `[from, to)`, as the anonymised list may know them.
    async fn opendata_reports(&self, (from, to): (i64, i64)) -> Result<Vec<ReportRecord>> {
        let rows = bind_all(
            sqlx::query(
                "SELECT created_at, category_id, commune_code, agency_id, priority, channel, status, \
                 lat, lon, deadline_at, resolved_at, resolved_on_time, handling_days, rating \
                 FROM reports WHERE created_at >= $1 AND created_at < $2",
            )
            // Nullable floats: not cached (see the store's invariants).
            .persistent(false),
            &[Val::I(from), Val::I(to)],
        )
        .fetch_all(&self.db.pool)
        .await?;
        let snapshot = self.reference();
        Ok(rows
            .iter()
            .map(|r| ReportRecord {
                created_at: r.get(0),
                category_code: category_code(&snapshot, r.get(1)),
                commune_code: r.get(2),
                agency_code: Some(agency_code(&snapshot, r.get(3))).filter(|c| !c.is_empty()),
                priority: r.get(4),
                channel: r.get(5),
                status: r.get(6),
                lat: r.get(7),
                lon: r.get(8),
                deadline_at: r.get(9),
                resolved_at: r.get(10),
                resolved_on_time: r.get::<Option<i64>, _>(11).map(|v| v != 0),
                handling_days: r.get(12),
                rating: r.get(13),
            })
            .collect())
    }

    /// The stations of the published types and the daily aggregates of their history in the
    /// sensor window.
    async fn opendata_sensors(
        &self,
        now_ms: i64,
        options: &Options,
    ) -> Result<(Vec<Station>, Vec<SensorDay>)> {
        let types: Vec<String> = sqlx::query("SELECT DISTINCT type FROM ngsild_entity_types")
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|t| options.publishes_type(t))
            .collect();
        if types.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let placeholders = (1..=types.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = bind_all(
            sqlx::query(&format!(
                "SELECT e.id, t.type, b.body FROM ngsild_entity_types t \
                 JOIN ngsild_entities e ON e.pk = t.entity_pk \
                 JOIN ngsild_entity_bodies b ON b.pk = e.pk \
                 WHERE t.type IN ({placeholders}) ORDER BY e.pk, t.type"
            ))
            .persistent(false),
            &types.iter().cloned().map(Val::S).collect::<Vec<_>>(),
        )
        .fetch_all(&self.db.pool)
        .await?;
        let mut seen = HashSet::new();
        let stations: Vec<Station> = rows
            .iter()
            .filter(|r| seen.insert(r.get::<String, _>(0)))
            .map(|r| {
                Station::from_body(
                    &r.get::<String, _>(0),
                    &r.get::<String, _>(1),
                    &r.get::<String, _>(2),
                )
            })
            .collect();
        if stations.is_empty() {
            return Ok((stations, Vec::new()));
        }
        let (from, to) = options.sensor_window(now_ms);
        let buckets = self
            .ngsild_aggregate(&AggregateFilter {
                entity_ids: stations.iter().map(|s| s.entity_id.clone()).collect(),
                attrs: Vec::new(),
                from: Some(from),
                to: Some(to),
                origin: from,
                period_ms: DAY_MS,
                want: Aggregates {
                    sum: true,
                    min: true,
                    max: true,
                    sumsq: false,
                },
            })
            .await?;
        let days = buckets
            .into_iter()
            .filter_map(|b| {
                Some(SensorDay {
                    day: local_date(b.start),
                    count: b.num_count,
                    min: b.min?,
                    max: b.max?,
                    sum: b.sum?,
                    entity_id: b.entity_id,
                    attr_iri: b.attr,
                    dataset_id: b.dataset_id,
                })
            })
            .filter(|d| d.count > 0)
            .collect();
        Ok((stations, days))
    }
}

/// An agency's code; "" for none (NULL, or the rollup's 0).
fn agency_code(snapshot: &Snapshot, id: Option<i64>) -> String {
    id.and_then(|id| snapshot.agency(id))
        .map(|a| a.code.clone())
        .unwrap_or_default()
}

fn category_code(snapshot: &Snapshot, id: i64) -> String {
    snapshot
        .category(id)
        .map(|c| c.code.clone())
        .unwrap_or_default()
}
