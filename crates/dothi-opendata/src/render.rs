//! Rows → files. Each table becomes `{table}.csv` and `{table}.json` with the same rows.

use serde::Serialize;

use crate::{Format, Resource, TableDefinition};

/// A table that could not be written as CSV or JSON. The row structs are flat and the output
/// is memory, so this means a row struct the `csv` crate cannot serialise (a bug of this
/// crate, caught by its tests); the refresh reports it and keeps the previous datasets.
#[derive(Debug)]
pub struct RenderError {
    pub table: String,
    pub reason: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "open data table {}: {}", self.table, self.reason)
    }
}

impl std::error::Error for RenderError {}

pub(crate) fn failed(table: &str, reason: impl std::fmt::Display) -> RenderError {
    RenderError {
        table: table.to_string(),
        reason: reason.to_string(),
    }
}

/// CSV per RFC 4180 through the `csv` crate (quoting, CRLF), with the header written from the
/// table's schema so that an empty table still has one.
pub(crate) fn csv_bytes<R: Serialize>(
    table: &TableDefinition,
    rows: &[R],
) -> Result<Vec<u8>, RenderError> {
    let fail = |e: csv::Error| failed(&table.name, e);
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(table.columns.iter().map(|c| c.name.as_str()))
        .map_err(fail)?;
    for row in rows {
        w.serialize(row).map_err(fail)?;
    }
    if let Some(first) = rows.first() {
        debug_assert_eq!(
            header_of(first).map_err(fail)?,
            table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            "the row struct of {} names its fields as datasets.json, in order",
            table.name
        );
    }
    w.into_inner().map_err(|e| failed(&table.name, e.error()))
}

/// The header the `csv` crate derives from a row's field names.
fn header_of<R: Serialize>(row: &R) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row)?;
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// One row as a CSV record (without header or line end), e.g. to sort rows by content.
pub(crate) fn csv_record<R: Serialize>(table: &str, row: &R) -> Result<String, RenderError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row).map_err(|e| failed(table, e))?;
    let bytes = w.into_inner().map_err(|e| failed(table, e.error()))?;
    // Every field is a Rust string or number, so the record is UTF-8; lossy only to be total.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) fn json_bytes<R: Serialize>(table: &str, rows: &[R]) -> Result<Vec<u8>, RenderError> {
    let mut out = serde_json::to_vec(rows).map_err(|e| failed(table, e))?;
    out.push(b'\n');
    Ok(out)
}

pub(crate) fn resources<R: Serialize>(
    table: &TableDefinition,
    rows: &[R],
) -> Result<Vec<Resource>, RenderError> {
    [Format::Csv, Format::Json]
        .into_iter()
        .map(|format| {
            Ok(Resource {
                name: format!("{}.{}", table.name, format.extension()),
                title: table.title.clone(),
                format,
                media_type: format.media_type(),
                columns: table.columns.clone(),
                row_count: rows.len(),
                bytes: match format {
                    Format::Csv => csv_bytes(table, rows)?,
                    Format::Json => json_bytes(&table.name, rows)?,
                },
            })
        })
        .collect()
}
