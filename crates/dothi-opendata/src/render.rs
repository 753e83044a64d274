//! Rows → files. Each table becomes `{table}.csv` and `{table}.json` with the same rows.

use serde::Serialize;

use crate::{Format, Resource, TableDefinition};

/// CSV per RFC 4180 through the `csv` crate (quoting, CRLF), with the header written from the
/// table's schema so that an empty table still has one.
pub(crate) fn csv_bytes<R: Serialize>(table: &TableDefinition, rows: &[R]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(table.columns.iter().map(|c| c.name.as_str()))
        .expect("writing to memory");
    for row in rows {
        w.serialize(row).expect("rows are flat structs");
    }
    if let Some(first) = rows.first() {
        debug_assert_eq!(
            header_of(first),
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
    w.into_inner().expect("writing to memory")
}

/// The header the `csv` crate derives from a row's field names.
fn header_of<R: Serialize>(row: &R) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row).expect("rows are flat structs");
    let bytes = w.into_inner().expect("writing to memory");
    String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// One row as a CSV record (without header or line end), e.g. to sort rows by content.
pub(crate) fn csv_record<R: Serialize>(row: &R) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row).expect("rows are flat structs");
    let bytes = w.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("CSV of UTF-8 strings")
}

pub(crate) fn json_bytes<R: Serialize>(rows: &[R]) -> Vec<u8> {
    let mut out = serde_json::to_vec(rows).expect("rows serialise");
    out.push(b'\n');
    out
}

pub(crate) fn resources<R: Serialize>(table: &TableDefinition, rows: &[R]) -> Vec<Resource> {
    [Format::Csv, Format::Json]
        .into_iter()
        .map(|format| Resource {
            name: format!("{}.{}", table.name, format.extension()),
            title: table.title.clone(),
            format,
            media_type: format.media_type(),
            columns: table.columns.clone(),
            row_count: rows.len(),
            bytes: match format {
                Format::Csv => csv_bytes(table, rows),
                Format::Json => json_bytes(rows),
            },
        })
        .collect()
}
