//! Local days and months (Asia/Ho_Chi_Minh is a fixed +07:00, no daylight saving), the
//! location grid of the anonymised report list, and the roundings of published numbers.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset};

pub const DAY_MS: i64 = 86_400_000;
pub const VN_OFFSET_MS: i64 = 7 * 3_600_000;

/// Cells per degree of the location grid: 0.005°, about 555 m of latitude and 535 m of
/// longitude at Huế's 16.5° N. Large enough that a cell holds many houses in the city and
/// most villages, small enough to tell streets and neighbourhoods apart.
pub const GRID_CELLS_PER_DEGREE: f64 = 200.0;

pub fn vn_offset() -> FixedOffset {
    // 25,200 s is within ±24 h, so `east_opt` always gives it; UTC only to stay total.
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

/// The time as ISO 8601 with +07:00.
pub fn local_time(ms: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&vn_offset())
}

/// The local calendar day of an instant.
pub fn local_date(ms: i64) -> NaiveDate {
    local_time(ms).date_naive()
}

/// The instant of the local midnight that starts the day of `ms`.
pub fn local_midnight(ms: i64) -> i64 {
    (ms + VN_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - VN_OFFSET_MS
}

/// A local day number, as `kpi_daily.day` holds it: whole days since 1970-01-01 (local).
pub fn date_of_day_number(day: i64) -> NaiveDate {
    DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(day)
}

/// `YYYY-MM` of a date.
pub fn year_month(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The first day of the month of a date.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date - chrono::Duration::days(i64::from(date.day0()))
}

/// The centre of the grid cell holding a WGS 84 point, or None for a point that is not one.
/// The published value is the cell, never the point: a reader learns which ~500 m square a
/// report is in, and nothing finer, whatever the precision of the original.
pub fn grid_cell(lat: f64, lon: f64) -> Option<(f64, f64)> {
    // A range check is false for NaN, so it also refuses what is not a number.
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return None;
    }
    let centre = |v: f64| ((v * GRID_CELLS_PER_DEGREE).floor() + 0.5) / GRID_CELLS_PER_DEGREE;
    Some((round_to(centre(lat), 4), round_to(centre(lon), 4)))
}

/// The last segment of an IRI (after `/` or `#`): the name a reader knows a type or attribute
/// by, whatever `@context` expanded it.
pub fn local_name(iri: &str) -> &str {
    iri.rsplit(['/', '#']).next().unwrap_or(iri)
}

/// `v` rounded to `places` decimal places (half away from zero).
pub fn round_to(v: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v * scale).round() / scale
}

/// `part ÷ whole` to 4 decimal places, as the IOC dashboard rounds its rates; None without a
/// whole.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| round_to(part as f64 / whole as f64, 4))
}
