//! The rows of each published dataset. Row structs name their fields exactly as the columns of
//! `datasets.json`, in the same order (the crate's tests check it).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::coarsen::{self, local_date, local_name, rate, round_to};
use crate::inputs::{Inputs, ReportCounts};
use crate::render::{csv_record, resources, RenderError};
use crate::{definition, licence_id, table, PublishedDataset, Resource, TemporalCoverage};

pub(crate) const STATISTICS: &str = "field-report-statistics";
pub(crate) const REPORT_LIST: &str = "field-reports-anonymised";
pub(crate) const SENSORS: &str = "sensor-daily-aggregates";
pub(crate) const REFERENCE: &str = "reference-lists";

fn publish(
    name: &str,
    inputs: &Inputs,
    temporal_coverage: Option<TemporalCoverage>,
    resources: Vec<Resource>,
) -> Result<PublishedDataset, RenderError> {
    let def = definition(name)?;
    Ok(PublishedDataset {
        name: def.name.clone(),
        title: def.title.clone(),
        description: def.description.clone(),
        licence_id: licence_id().into(),
        tags: def.tags.clone(),
        temporal_coverage,
        refreshed_at: coarsen::local_time(inputs.now_ms),
        resources,
    })
}

#[derive(Serialize)]
pub(crate) struct StatisticsRow {
    month: String,
    category_code: String,
    category_name: String,
    commune_code: String,
    commune_name: String,
    agency_code: String,
    agency_name: String,
    received: i64,
    resolved: i64,
    resolved_on_time: i64,
    resolved_late: i64,
    open_overdue: i64,
    on_time_rate: Option<f64>,
    avg_handling_working_days: Option<f64>,
    rated: i64,
    satisfied: i64,
    acceptable: i64,
    unsatisfied: i64,
    satisfaction_rate: Option<f64>,
}

/// Month × category × commune × agency, from the rollup's days. No cell is suppressed: every
/// report is already public one by one in the portal's feed (with category, place, agency,
/// status and rating), so a count of one reveals nothing the feed does not, and none of these
/// figures is about the person who reported.
pub(crate) fn report_statistics(inputs: &Inputs) -> Result<PublishedDataset, RenderError> {
    type Key = (String, String, String, String);
    let mut cells: BTreeMap<Key, (ReportCounts, i64)> = BTreeMap::new();
    let mut first_day: Option<NaiveDate> = None;
    for cell in &inputs.report_days {
        if cell.counts.received <= 0 {
            continue;
        }
        first_day = Some(first_day.map_or(cell.day, |d| d.min(cell.day)));
        let key = (
            coarsen::year_month(cell.day),
            cell.category_code.clone(),
            cell.commune_code.clone(),
            cell.agency_code.clone(),
        );
        cells.entry(key).or_default().0.add(&cell.counts);
    }
    for report in &inputs.open_overdue {
        let key = (
            coarsen::year_month(local_date(report.received_at)),
            report.category_code.clone(),
            report.commune_code.clone(),
            report.agency_code.clone(),
        );
        // Every open report was received, so its cell exists; `entry` keeps a report the
        // rollup has not seen yet (a write between the two reads) rather than dropping it.
        cells.entry(key).or_default().1 += 1;
    }
    let reference = &inputs.reference;
    let rows: Vec<StatisticsRow> = cells
        .into_iter()
        .map(
            |((month, category, commune, agency), (c, overdue))| StatisticsRow {
                category_name: reference.category_name(&category).into(),
                commune_name: reference.commune_name(&commune).into(),
                agency_name: reference.agency_name(&agency).into(),
                month,
                category_code: category,
                commune_code: commune,
                agency_code: agency,
                received: c.received,
                resolved: c.handled,
                resolved_on_time: c.handled_on_time,
                resolved_late: c.handled - c.handled_on_time,
                open_overdue: overdue,
                on_time_rate: rate(c.handled_on_time, c.handled),
                avg_handling_working_days: (c.handling_count > 0).then(|| {
                    round_to(
                        c.handling_ms as f64 / c.handling_count as f64 / coarsen::DAY_MS as f64,
                        2,
                    )
                }),
                rated: c.rated,
                satisfied: c.satisfied,
                acceptable: c.acceptable,
                unsatisfied: c.rated - c.satisfied - c.acceptable,
                satisfaction_rate: rate(c.satisfied, c.rated),
            },
        )
        .collect();
    let coverage = first_day.map(|d| TemporalCoverage {
        start: coarsen::month_start(d),
        end: local_date(inputs.now_ms),
    });
    let table = table(STATISTICS, 0)?;
    publish(STATISTICS, inputs, coverage, resources(table, &rows)?)
}

#[derive(Serialize)]
pub(crate) struct ReportRow {
    received_date: NaiveDate,
    category_code: String,
    category_name: String,
    commune_code: Option<String>,
    commune_name: Option<String>,
    agency_code: Option<String>,
    priority: String,
    channel: String,
    status: String,
    lat: Option<f64>,
    lon: Option<f64>,
    resolved_date: Option<NaiveDate>,
    resolved_on_time: Option<bool>,
    overdue: bool,
    handling_working_days: Option<f64>,
    rating: Option<String>,
}

/// One row per report received in the window, coarsened (see `docs/PRIVACY.md`).
pub(crate) fn report_list(inputs: &Inputs) -> Result<PublishedDataset, RenderError> {
    let reference = &inputs.reference;
    let now = inputs.now_ms;
    let mut rows: Vec<ReportRow> = inputs
        .reports
        .iter()
        .map(|r| {
            let cell = match (r.lat, r.lon) {
                (Some(lat), Some(lon)) => coarsen::grid_cell(lat, lon),
                _ => None,
            };
            let open = dothi_domain::Status::parse(&r.status).is_ok_and(|s| s.is_open());
            ReportRow {
                received_date: local_date(r.created_at),
                category_code: r.category_code.clone(),
                category_name: reference.category_name(&r.category_code).into(),
                commune_code: r.commune_code.clone(),
                commune_name: r
                    .commune_code
                    .as_deref()
                    .map(|c| reference.commune_name(c).to_string()),
                agency_code: r.agency_code.clone(),
                priority: r.priority.clone(),
                channel: r.channel.clone(),
                status: r.status.clone(),
                lat: cell.map(|c| c.0),
                lon: cell.map(|c| c.1),
                resolved_date: r.resolved_at.map(local_date),
                resolved_on_time: r.resolved_on_time.filter(|_| r.resolved_at.is_some()),
                overdue: open && r.deadline_at < now,
                handling_working_days: r.handling_days.map(|d| round_to(d, 1)),
                rating: r.rating.clone(),
            }
        })
        .collect();
    // Ordered by content, not by time of receipt: the order within a day would tell which
    // report came first, finer than the published day.
    let mut keyed: Vec<(String, ReportRow)> = rows
        .drain(..)
        .map(|row| Ok((csv_record(REPORT_LIST, &row)?, row)))
        .collect::<Result<_, RenderError>>()?;
    keyed.sort_by(|a, b| {
        a.1.received_date
            .cmp(&b.1.received_date)
            .then(a.0.cmp(&b.0))
    });
    let rows: Vec<ReportRow> = keyed.into_iter().map(|(_, row)| row).collect();
    let (from, to) = inputs.options.report_window(now);
    let coverage = Some(TemporalCoverage {
        start: local_date(from),
        end: local_date(to),
    });
    let table = table(REPORT_LIST, 0)?;
    publish(REPORT_LIST, inputs, coverage, resources(table, &rows)?)
}

#[derive(Serialize)]
pub(crate) struct SensorRow {
    date: NaiveDate,
    entity_id: String,
    entity_type: String,
    station_name: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    attribute: String,
    attribute_iri: String,
    dataset_id: Option<String>,
    unit_code: Option<String>,
    count: u64,
    min: f64,
    max: f64,
    mean: f64,
}

/// Local day × station × numeric attribute. Means are rounded to 4 places, so that the file is
/// the same on both databases (their sums can differ in the last bits).
pub(crate) fn sensor_aggregates(inputs: &Inputs) -> Result<PublishedDataset, RenderError> {
    let stations: HashMap<&str, &crate::Station> = inputs
        .stations
        .iter()
        .map(|s| (s.entity_id.as_str(), s))
        .collect();
    let mut rows: Vec<SensorRow> = inputs
        .sensor_days
        .iter()
        .filter(|d| d.count > 0)
        .filter_map(|d| {
            let station = stations.get(d.entity_id.as_str())?;
            Some(SensorRow {
                date: d.day,
                entity_id: d.entity_id.clone(),
                entity_type: local_name(&station.type_iri).into(),
                station_name: station.name.clone(),
                lat: station.lat,
                lon: station.lon,
                attribute: local_name(&d.attr_iri).into(),
                attribute_iri: d.attr_iri.clone(),
                dataset_id: d.dataset_id.clone(),
                unit_code: station
                    .unit(&d.attr_iri, d.dataset_id.as_deref())
                    .map(str::to_string),
                count: d.count,
                min: d.min,
                max: d.max,
                mean: round_to(d.sum / d.count as f64, 4),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.date, &a.entity_id, &a.attribute_iri, &a.dataset_id).cmp(&(
            b.date,
            &b.entity_id,
            &b.attribute_iri,
            &b.dataset_id,
        ))
    });
    let (from, to) = inputs.options.sensor_window(inputs.now_ms);
    let coverage = Some(TemporalCoverage {
        start: local_date(from),
        end: local_date(to - 1),
    });
    let table = table(SENSORS, 0)?;
    publish(SENSORS, inputs, coverage, resources(table, &rows)?)
}

#[derive(Serialize)]
pub(crate) struct AgencyRow<'a> {
    code: &'a str,
    name: &'a str,
    name_en: Option<&'a str>,
    kind: &'a str,
    commune_code: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    active: bool,
}

#[derive(Serialize)]
pub(crate) struct CategoryRow<'a> {
    code: &'a str,
    name: &'a str,
    name_en: Option<&'a str>,
    group: &'a str,
    description: &'a str,
    description_en: Option<&'a str>,
    deadline_normal_days: u32,
    deadline_urgent_days: u32,
    default_agency_code: Option<&'a str>,
    active: bool,
}

#[derive(Serialize)]
pub(crate) struct AdminUnitRow<'a> {
    code: &'a str,
    name: &'a str,
    division_type: &'a str,
    province_code: &'a str,
    lat: Option<f64>,
    lon: Option<f64>,
}

pub(crate) fn reference_lists(inputs: &Inputs) -> Result<PublishedDataset, RenderError> {
    let reference = &inputs.reference;
    let mut agencies: Vec<AgencyRow> = reference
        .agencies
        .iter()
        .map(|a| AgencyRow {
            code: &a.code,
            name: &a.name,
            name_en: a.name_en.as_deref(),
            kind: &a.kind,
            commune_code: a.commune_code.as_deref(),
            email: a.email.as_deref(),
            phone: a.phone.as_deref(),
            active: a.active,
        })
        .collect();
    agencies.sort_by(|a, b| a.code.cmp(b.code));
    let mut categories: Vec<CategoryRow> = reference
        .categories
        .iter()
        .map(|c| CategoryRow {
            code: &c.code,
            name: &c.name,
            name_en: c.name_en.as_deref(),
            group: &c.group,
            description: &c.description,
            description_en: c.description_en.as_deref(),
            deadline_normal_days: c.deadline_normal_days,
            deadline_urgent_days: c.deadline_urgent_days,
            default_agency_code: c.default_agency_code.as_deref(),
            active: c.active,
        })
        .collect();
    categories.sort_by(|a, b| a.code.cmp(b.code));
    let mut units: Vec<AdminUnitRow> = reference
        .admin_units
        .iter()
        .map(|u| AdminUnitRow {
            code: &u.code,
            name: &u.name,
            division_type: &u.division_type,
            province_code: &u.province_code,
            lat: u.lat,
            lon: u.lon,
        })
        .collect();
    units.sort_by(|a, b| a.code.cmp(b.code));
    let mut files = resources(table(REFERENCE, 0)?, &agencies)?;
    files.extend(resources(table(REFERENCE, 1)?, &categories)?);
    files.extend(resources(table(REFERENCE, 2)?, &units)?);
    publish(REFERENCE, inputs, None, files)
}
