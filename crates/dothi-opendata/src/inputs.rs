//! What the store reads for a refresh. Codes, not database ids: the store translates them with
//! its reference snapshot, so these types never change with a database.

use chrono::NaiveDate;

use crate::Options;

/// Everything one refresh publishes, read at `now_ms`.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub now_ms: i64,
    pub options: Options,
    pub reference: Reference,
    /// The IOC rollup (`kpi_daily`) per local day of receipt × category × commune × agency,
    /// channels summed.
    pub report_days: Vec<ReportDayCell>,
    /// Reports open and past their deadline at `now_ms`.
    pub open_overdue: Vec<OverdueReport>,
    /// Reports received in [`Options::report_window`].
    pub reports: Vec<ReportRecord>,
    /// Daily aggregates in [`Options::sensor_window`] of the stations' numeric attributes.
    pub sensor_days: Vec<SensorDay>,
    pub stations: Vec<Station>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reference {
    pub agencies: Vec<AgencyEntry>,
    pub categories: Vec<CategoryEntry>,
    pub admin_units: Vec<AdminUnitEntry>,
}

impl Reference {
    pub(crate) fn category_name(&self, code: &str) -> &str {
        self.categories
            .iter()
            .find(|c| c.code == code)
            .map_or("", |c| c.name.as_str())
    }

    pub(crate) fn agency_name(&self, code: &str) -> &str {
        self.agencies
            .iter()
            .find(|a| a.code == code)
            .map_or("", |a| a.name.as_str())
    }

    pub(crate) fn commune_name(&self, code: &str) -> &str {
        self.admin_units
            .iter()
            .find(|u| u.code == code)
            .map_or("", |u| u.name.as_str())
    }
}

/// An agency's public entry: its official contacts are the agency's, shown by the public
/// reference API already.
#[derive(Clone, Debug, PartialEq)]
pub struct AgencyEntry {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub kind: String,
    pub commune_code: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CategoryEntry {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub group: String,
    pub description: String,
    pub description_en: Option<String>,
    pub deadline_normal_days: u32,
    pub deadline_urgent_days: u32,
    pub default_agency_code: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AdminUnitEntry {
    pub code: String,
    pub name: String,
    pub division_type: String,
    pub province_code: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// The rollup's counters (see `dothi_store::kpi`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub received: i64,
    pub handled: i64,
    pub handled_on_time: i64,
    /// Reports with a handling time, and their sum in milliseconds of working time.
    pub handling_count: i64,
    pub handling_ms: i64,
    pub rated: i64,
    pub satisfied: i64,
    pub acceptable: i64,
}

impl ReportCounts {
    pub(crate) fn add(&mut self, other: &ReportCounts) {
        self.received += other.received;
        self.handled += other.handled;
        self.handled_on_time += other.handled_on_time;
        self.handling_count += other.handling_count;
        self.handling_ms += other.handling_ms;
        self.rated += other.rated;
        self.satisfied += other.satisfied;
        self.acceptable += other.acceptable;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportDayCell {
    /// Local day of receipt.
    pub day: NaiveDate,
    pub category_code: String,
    /// "" when the report has no commune.
    pub commune_code: String,
    /// "" when the report is not assigned.
    pub agency_code: String,
    pub counts: ReportCounts,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OverdueReport {
    pub received_at: i64,
    pub category_code: String,
    pub commune_code: String,
    pub agency_code: String,
}

/// One report as the anonymised list may know it. There is deliberately no field for the
/// reporter, the description, the address, attribute answers, status notes or the rating
/// comment, nor for the report's id (which leads to those in the public feed).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRecord {
    pub created_at: i64,
    pub category_code: String,
    pub commune_code: Option<String>,
    pub agency_code: Option<String>,
    pub priority: String,
    pub channel: String,
    pub status: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub deadline_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_on_time: Option<bool>,
    pub handling_days: Option<f64>,
    pub rating: Option<String>,
}

/// One local day of one attribute instance's history, over its numeric values.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorDay {
    pub entity_id: String,
    pub attr_iri: String,
    pub dataset_id: Option<String>,
    pub day: NaiveDate,
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

/// A published entity (a station), with what the rows show of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    pub entity_id: String,
    /// The published type's IRI (of those the entity has, the one [`Options`] allows).
    pub type_iri: String,
    pub name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// `unitCode` per (attribute IRI, datasetId) of the entity as it is now.
    pub units: Vec<(String, Option<String>, String)>,
}

impl Station {
    /// A station from the entity's stored body (the expanded shape of `dothi_ngsild::Entity`):
    /// its `name` Property if it is a string, its `location` if it is a Point, and the units of
    /// its attributes. A body that does not parse gives a station with its id and type only.
    pub fn from_body(entity_id: &str, type_iri: &str, body: &str) -> Station {
        let mut station = Station {
            entity_id: entity_id.into(),
            type_iri: type_iri.into(),
            name: None,
            lat: None,
            lon: None,
            units: Vec::new(),
        };
        let Ok(entity) = serde_json::from_str::<dothi_ngsild::entity::Entity>(body) else {
            return station;
        };
        for (iri, instances) in &entity.attributes {
            let local = crate::coarsen::local_name(iri);
            for instance in instances {
                if let Some(unit) = &instance.unit_code {
                    station
                        .units
                        .push((iri.clone(), instance.dataset_id.clone(), unit.clone()));
                }
                if instance.dataset_id.is_some() {
                    continue;
                }
                match local {
                    "name" => {
                        station.name = instance.value.as_str().map(str::to_string);
                    }
                    "location" => {
                        let point = &instance.value;
                        if point.get("type").and_then(|t| t.as_str()) == Some("Point") {
                            let c = point.get("coordinates");
                            let at = |i: usize| c.and_then(|c| c.get(i)).and_then(|v| v.as_f64());
                            station.lon = at(0);
                            station.lat = at(1);
                        }
                    }
                    _ => {}
                }
            }
        }
        station
    }

    pub(crate) fn unit(&self, attr_iri: &str, dataset_id: Option<&str>) -> Option<&str> {
        self.units
            .iter()
            .find(|(a, d, _)| a == attr_iri && d.as_deref() == dataset_id)
            .map(|(_, _, u)| u.as_str())
    }
}
