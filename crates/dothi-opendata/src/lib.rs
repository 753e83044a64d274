//! The datasets the platform publishes itself on the open data portal (issue 5, item 4): what
//! each dataset is (name, titles and descriptions in Vietnamese and English, licence, column
//! schema), how its rows are made from what the store reads (monthly statistics from the IOC's
//! rollup, an anonymised report list, daily sensor aggregates, the reference lists), how
//! personal data is kept out (coarsening in [`coarsen`]), and how the rows become CSV and JSON
//! files.
//!
//! Pure: no SQL, no HTTP, no clock. `dothi_store::opendata` reads the [`Inputs`] and calls
//! [`build_all`]; the catalogue publishes the [`PublishedDataset`]s it returns. The texts and
//! column schemas are data (`datasets.json`), like every other text a user reads.
//!
//! Architecture invariant: the inputs carry no personal data by construction. [`ReportRecord`]
//! has no field for the reporter, the description, the address, attribute answers or comments,
//! so nothing built here can publish them; locations are coarsened here, before any row exists.

pub mod coarsen;
mod datasets;
mod inputs;
mod render;

pub use render::RenderError;

use std::sync::{Arc, OnceLock, RwLock};

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

pub use inputs::{
    AdminUnitEntry, AgencyEntry, CategoryEntry, Inputs, OverdueReport, Reference, ReportCounts,
    ReportDayCell, ReportRecord, SensorDay, Station,
};

/// A text in both languages of the portal: Vietnamese first, English second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

/// Column types, as Frictionless Table Schema names them (what CKAN's DataStore and most open
/// data tools understand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    Yearmonth,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub description: Text,
}

/// One table of a dataset; each is published as one CSV and one JSON resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDefinition {
    /// The file name stem of its resources, e.g. `agencies` → `agencies.csv`.
    pub name: String,
    pub title: Text,
    pub columns: Vec<Column>,
}

/// What a dataset is, independent of any refresh (from `datasets.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetDefinition {
    /// Stable slug (a CKAN `name`): lowercase ASCII letters, digits and `-`.
    pub name: String,
    pub title: Text,
    pub description: Text,
    #[serde(default)]
    pub tags: Vec<String>,
    pub tables: Vec<TableDefinition>,
}

#[derive(Deserialize)]
struct DefinitionsFile {
    licence_id: String,
    datasets: Vec<DatasetDefinition>,
}

/// `datasets.json`, bundled; None if it does not parse (the crate's tests check that it does),
/// so a broken build publishes nothing and says why instead of panicking.
fn definitions_file() -> Option<&'static DefinitionsFile> {
    static FILE: OnceLock<Option<DefinitionsFile>> = OnceLock::new();
    FILE.get_or_init(|| serde_json::from_str(include_str!("../datasets.json")).ok())
        .as_ref()
}

/// Every dataset the platform publishes, in publishing order.
pub fn definitions() -> &'static [DatasetDefinition] {
    definitions_file().map_or(&[], |f| f.datasets.as_slice())
}

/// The licence of every published dataset, as a CKAN licence id (`cc-by-4.0`).
pub fn licence_id() -> &'static str {
    definitions_file().map_or("cc-by-4.0", |f| f.licence_id.as_str())
}

fn definition(name: &str) -> Result<&'static DatasetDefinition, RenderError> {
    definitions()
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| render::failed(name, "datasets.json does not define it"))
}

/// Table `index` of dataset `name`.
fn table(name: &str, index: usize) -> Result<&'static TableDefinition, RenderError> {
    definition(name)?
        .tables
        .get(index)
        .ok_or_else(|| render::failed(name, format!("datasets.json defines no table {index}")))
}

/// The first and last local day the data covers (both included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TemporalCoverage {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The CKAN `format` of a resource.
    pub fn label(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Json => "JSON",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// One file of a published dataset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    /// File name, e.g. `field-report-statistics.csv`; unique across all datasets.
    pub name: String,
    pub title: Text,
    pub format: Format,
    pub media_type: &'static str,
    pub columns: Vec<Column>,
    pub row_count: usize,
    /// CSV: UTF-8 without byte order mark, a header row, CRLF line ends (RFC 4180). JSON: an
    /// array of one object per row, with the same names and values as the CSV (empty → null).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A dataset as one refresh produced it: its metadata and its resources' bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishedDataset {
    pub name: String,
    pub title: Text,
    pub description: Text,
    pub licence_id: String,
    pub tags: Vec<String>,
    /// None for lists that describe the present (the reference lists).
    pub temporal_coverage: Option<TemporalCoverage>,
    /// When the refresh read the data (+07:00).
    pub refreshed_at: DateTime<FixedOffset>,
    pub resources: Vec<Resource>,
}

impl PublishedDataset {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// What the refresh publishes and over which periods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The anonymised report list covers the reports received in this many days up to the
    /// refresh (the statistics cover every month).
    pub report_list_days: u32,
    /// Sensor aggregates cover this many whole local days before the day of the refresh.
    pub sensor_days: u32,
    /// Entity types whose numeric attributes are published, by local name (the IRI's last
    /// segment, so `AirQualityObserved` matches it in any context). An allow-list: entities of
    /// other types (people, vehicles, anything an integrator adds) are never published.
    pub sensor_types: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            report_list_days: 365,
            sensor_days: 90,
            sensor_types: [
                "AirQualityObserved",
                "WaterQualityObserved",
                "WeatherObserved",
                "FloodMonitoring",
                "WaterObserved",
                "NoiseLevelObserved",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Options {
    /// `[from, to)` in epoch milliseconds of the report list: from local midnight
    /// `report_list_days` days before the day of `now`, up to `now`.
    pub fn report_window(&self, now_ms: i64) -> (i64, i64) {
        let today = coarsen::local_midnight(now_ms);
        (
            today - i64::from(self.report_list_days) * coarsen::DAY_MS,
            now_ms,
        )
    }

    /// `[from, to)` in epoch milliseconds of the sensor aggregates: whole local days, up to the
    /// local midnight that started the day of `now`.
    pub fn sensor_window(&self, now_ms: i64) -> (i64, i64) {
        let today = coarsen::local_midnight(now_ms);
        (today - i64::from(self.sensor_days) * coarsen::DAY_MS, today)
    }

    /// Whether entities of type `type_iri` are published.
    pub fn publishes_type(&self, type_iri: &str) -> bool {
        let local = coarsen::local_name(type_iri);
        self.sensor_types.iter().any(|t| t == local)
    }
}

/// Every published dataset, built from one reading of the store.
pub fn build_all(inputs: &Inputs) -> Result<Vec<PublishedDataset>, RenderError> {
    Ok(vec![
        datasets::report_statistics(inputs)?,
        datasets::report_list(inputs)?,
        datasets::sensor_aggregates(inputs)?,
        datasets::reference_lists(inputs)?,
    ])
}

/// The latest refresh, shared between the refresh task and whatever serves the datasets (the
/// catalogue). Cheap to clone; readers get the whole set of one refresh, never a mix.
#[derive(Clone, Default)]
pub struct LatestDatasets(Arc<RwLock<Option<Arc<Vec<PublishedDataset>>>>>);

impl LatestDatasets {
    /// None until the first refresh has finished.
    pub fn get(&self) -> Option<Arc<Vec<PublishedDataset>>> {
        // A writer that panicked mid-replace cannot leave a half-written value (the
        // assignment is one move), so a poisoned lock still holds a whole set.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn dataset(&self, name: &str) -> Option<PublishedDataset> {
        self.get()?.iter().find(|d| d.name == name).cloned()
    }

    pub fn replace(&self, datasets: Vec<PublishedDataset>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(datasets));
    }
}

#[cfg(test)]
mod tests;
