//! The operations centre's report-level views, with the dashboard's filters: the map's points
//! (`/ioc/map`) and the exports of the current view (`/ioc/export.xlsx`, `/ioc/export.csv`).
//!
//! The exports never carry personal data: no reporter name, phone, e-mail or account, and no
//! free text a citizen wrote (description, address, comments). The report list is read page by
//! page (keyset paging on the time of receipt) and written as it comes: the CSV is streamed to
//! the client, the workbook's list sheet is a low-memory sheet whose rows go to a temporary file,
//! written on a blocking thread while the next page is read.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dothi_domain::{Actor, Channel};
use dothi_store::kpi::{AgencyRank, KpiFilter, Kpis, TrendPoint};
use dothi_store::map::{Cursor, MapPoint, ReportRow, MAP_LIMIT_DEFAULT, REPORT_PAGE_MAX};
use dothi_store::reference::Snapshot;
use dothi_store::time::{from_ms, now_ms};
use dothi_store::Store;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::{AppState, Caller};
use crate::views::ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ioc/map", get(map))
        .route("/ioc/export.xlsx", get(export_xlsx))
        .route("/ioc/export.csv", get(export_csv))
}

/// The most report rows an export carries (the newest of the view).
pub const EXPORT_ROW_CAP: usize = 100_000;

// ---------------------------------------------------------------------------------------------
// Filters (the same parameters and meaning as /ioc/kpis, see routes/ioc.rs)

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MapQuery {
    from: Option<String>,
    to: Option<String>,
    agency: Option<String>,
    commune: Option<String>,
    category: Option<String>,
    channel: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct XlsxQuery {
    from: Option<String>,
    to: Option<String>,
    agency: Option<String>,
    commune: Option<String>,
    category: Option<String>,
    channel: Option<String>,
    lang: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CsvQuery {
    from: Option<String>,
    to: Option<String>,
    agency: Option<String>,
    commune: Option<String>,
    category: Option<String>,
    channel: Option<String>,
    lang: Option<String>,
    table: Option<String>,
}

/// The dashboard filter as given, codes and all (shared with `ioc.rs`).
pub(crate) struct FilterParams<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub agency: Option<&'a str>,
    pub commune: Option<&'a str>,
    pub category: Option<&'a str>,
    pub channel: Option<&'a str>,
}

macro_rules! params {
    ($q:expr) => {
        FilterParams {
            from: $q.from.as_deref(),
            to: $q.to.as_deref(),
            agency: $q.agency.as_deref(),
            commune: $q.commune.as_deref(),
            category: $q.category.as_deref(),
            channel: $q.channel.as_deref(),
        }
    };
}

fn time(field: &str, value: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("'{value}' is not an ISO 8601 date-time with offset, e.g. 2026-11-01T00:00:00+07:00"),
            )
        })
}

/// The filter from the query; the period defaults to the last 30 days (as for the KPIs).
pub(crate) fn filter(reference: &Snapshot, q: &FilterParams) -> ApiResult<KpiFilter> {
    let to =
        q.to.map(|v| time("to", v))
            .transpose()?
            .unwrap_or_else(now_ms);
    let from = q
        .from
        .map(|v| time("from", v))
        .transpose()?
        .unwrap_or(to - 30 * 86_400_000);
    let agency_id = match q.agency {
        Some(code) => Some(
            reference
                .agency_by_code(code)
                .ok_or_else(|| ApiError::invalid("agency", format!("no agency has code '{code}'")))?
                .id,
        ),
        None => None,
    };
    if let Some(c) = q.commune {
        if reference.admin_unit(c).is_none() {
            return Err(ApiError::invalid(
                "commune",
                format!("no administrative unit has code '{c}'"),
            ));
        }
    }
    let category_id = match q.category {
        Some(code) => Some(
            reference
                .category_by_code(code)
                .ok_or_else(|| {
                    ApiError::invalid("category", format!("no category has code '{code}'"))
                })?
                .id,
        ),
        None => None,
    };
    Ok(KpiFilter {
        from,
        to,
        agency_id,
        commune_code: q.commune.map(str::to_string),
        category_id,
        channel: q.channel.map(Channel::parse).transpose()?,
    })
}

#[derive(Serialize)]
struct Period {
    from: String,
    to: String,
}

fn period(f: &KpiFilter) -> Period {
    Period {
        from: ts(f.from),
        to: ts(f.to),
    }
}

// ---------------------------------------------------------------------------------------------
// The map

#[derive(Serialize)]
struct MapAnswer {
    period: Period,
    /// Reports received in the period matching the filters, located or not.
    total: i64,
    limit: i64,
    /// The newest `limit` of them, newest first.
    reports: Vec<MapPoint>,
}

async fn map(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<Json<MapAnswer>> {
    let actor = caller.require()?.actor();
    let f = filter(&state.store.reference(), &params!(q))?;
    let limit = q.limit.unwrap_or(MAP_LIMIT_DEFAULT);
    let view = state.store.ioc_map(&actor, &f, limit).await?;
    Ok(Json(MapAnswer {
        period: period(&f),
        total: view.total,
        limit,
        reports: view.points,
    }))
}

// ---------------------------------------------------------------------------------------------
// Texts of the exports (Vietnamese first; `?lang=en` for English)

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Vi,
    En,
}

impl Lang {
    fn parse(v: Option<&str>) -> ApiResult<Lang> {
        match v {
            None | Some("vi") => Ok(Lang::Vi),
            Some("en") => Ok(Lang::En),
            Some(other) => Err(ApiError::invalid(
                "lang",
                format!("'{other}' is not a language of the exports; expected vi or en"),
            )),
        }
    }

    fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    fn status(self, s: &str) -> String {
        let (vi, en) = match s {
            "received" => ("Đã tiếp nhận", "Received"),
            "assigned" => ("Đã chuyển xử lý", "Assigned"),
            "in_progress" => ("Đang xử lý", "In progress"),
            "transferred" => ("Đã chuyển đơn vị", "Transferred"),
            "resolved" => ("Đã xử lý", "Resolved"),
            "closed" => ("Đã đóng", "Closed"),
            "rejected" => ("Từ chối", "Rejected"),
            "reopened" => ("Mở lại", "Reopened"),
            other => return other.to_string(),
        };
        self.t(vi, en).to_string()
    }

    fn channel(self, c: &str) -> String {
        let (vi, en) = match c {
            "app" => ("Ứng dụng", "App"),
            "web" => ("Cổng web", "Web portal"),
            "open311" => ("Open311", "Open311"),
            "hotline" => ("Đường dây nóng", "Hotline"),
            "email" => ("Thư điện tử", "E-mail"),
            "zalo" => ("Zalo", "Zalo"),
            "facebook" => ("Facebook", "Facebook"),
            other => return other.to_string(),
        };
        self.t(vi, en).to_string()
    }

    fn rating(self, r: &str) -> String {
        let (vi, en) = match r {
            "satisfied" => ("Hài lòng", "Satisfied"),
            "acceptable" => ("Chấp nhận được", "Acceptable"),
            "unsatisfied" => ("Không hài lòng", "Unsatisfied"),
            other => return other.to_string(),
        };
        self.t(vi, en).to_string()
    }

    fn yes_no(self, b: bool) -> String {
        if b {
            self.t("Có", "Yes")
        } else {
            self.t("Không", "No")
        }
        .to_string()
    }

    fn report_headers(self) -> [&'static str; 11] {
        [
            self.t("Mã phản ánh", "Report ID"),
            self.t("Thời điểm tiếp nhận", "Received at"),
            self.t("Lĩnh vực", "Category"),
            self.t("Xã/phường", "Commune/ward"),
            self.t("Đơn vị xử lý", "Agency"),
            self.t("Kênh tiếp nhận", "Channel"),
            self.t("Trạng thái", "Status"),
            self.t("Hạn xử lý", "Deadline"),
            self.t("Thời điểm xử lý xong", "Resolved at"),
            self.t("Đúng hạn", "On time"),
            self.t("Đánh giá của người dân", "Citizen rating"),
        ]
    }

    fn trend_headers(self) -> [&'static str; 3] {
        [
            self.t("Ngày", "Date"),
            self.t("Tiếp nhận", "Received"),
            self.t("Đã xử lý", "Handled"),
        ]
    }

    fn ranking_headers(self) -> [&'static str; 9] {
        [
            self.t("Hạng", "Rank"),
            self.t("Mã đơn vị", "Agency code"),
            self.t("Đơn vị", "Agency"),
            self.t("Tiếp nhận", "Received"),
            self.t("Đã xử lý", "Handled"),
            self.t("Tỷ lệ đúng hạn (%)", "On-time rate (%)"),
            self.t("Tỷ lệ hài lòng (%)", "Satisfaction rate (%)"),
            self.t(
                "Thời gian xử lý trung bình (ngày làm việc)",
                "Average handling time (working days)",
            ),
            self.t("Quá hạn hiện tại", "Overdue now"),
        ]
    }
}

/// A cell of an exported table.
enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    /// A moment, epoch milliseconds (shown in +07:00).
    Time(i64),
    Date(chrono::NaiveDate),
    Empty,
}

impl Cell {
    fn opt_text(v: Option<String>) -> Cell {
        v.map(Cell::Text).unwrap_or(Cell::Empty)
    }

    fn opt_num(v: Option<f64>) -> Cell {
        v.map(Cell::Num).unwrap_or(Cell::Empty)
    }

    /// As CSV text: times in ISO 8601 with +07:00, dates as YYYY-MM-DD.
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(n) => n.to_string(),
            Cell::Time(ms) => ts(*ms),
            Cell::Date(d) => d.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// Percent with two decimals, from a ratio.
fn percent(r: Option<f64>) -> Option<f64> {
    r.map(|v| (v * 10_000.0).round() / 100.0)
}

fn agency_name(reference: &Snapshot, lang: Lang, id: Option<i64>) -> Option<String> {
    let a = reference.agency(id?)?;
    Some(match lang {
        Lang::En => a.name_en.clone().unwrap_or_else(|| a.name.clone()),
        Lang::Vi => a.name.clone(),
    })
}

fn category_name(reference: &Snapshot, lang: Lang, id: i64) -> String {
    match reference.category(id) {
        Some(c) => match lang {
            Lang::En => c.name_en.clone().unwrap_or_else(|| c.name.clone()),
            Lang::Vi => c.name.clone(),
        },
        None => String::new(),
    }
}

fn commune_name(reference: &Snapshot, code: Option<&str>) -> Option<String> {
    let code = code?;
    Some(
        reference
            .admin_unit(code)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| code.to_string()),
    )
}

fn report_cells(r: &ReportRow, reference: &Snapshot, lang: Lang) -> [Cell; 11] {
    [
        Cell::Int(r.id),
        Cell::Time(r.created_at),
        Cell::Text(category_name(reference, lang, r.category_id)),
        Cell::opt_text(commune_name(reference, r.commune_code.as_deref())),
        Cell::opt_text(agency_name(reference, lang, r.agency_id)),
        Cell::Text(lang.channel(&r.channel)),
        Cell::Text(lang.status(&r.status)),
        Cell::Time(r.deadline_at),
        r.resolved_at.map(Cell::Time).unwrap_or(Cell::Empty),
        Cell::opt_text(r.resolved_on_time.map(|b| lang.yes_no(b))),
        Cell::opt_text(r.rating.as_deref().map(|x| lang.rating(x))),
    ]
}

fn trend_cells(p: &TrendPoint) -> [Cell; 3] {
    [
        Cell::Date(p.date),
        Cell::Int(p.received),
        Cell::Int(p.handled),
    ]
}

fn ranking_cells(r: &AgencyRank, reference: &Snapshot, lang: Lang) -> [Cell; 9] {
    let name = match lang {
        Lang::En => reference
            .agency_by_code(&r.agency_code)
            .and_then(|a| a.name_en.clone())
            .unwrap_or_else(|| r.agency_name.clone()),
        Lang::Vi => r.agency_name.clone(),
    };
    [
        Cell::Int(r.rank as i64),
        Cell::Text(r.agency_code.clone()),
        Cell::Text(name),
        Cell::Int(r.received),
        Cell::Int(r.handled),
        Cell::opt_num(percent(r.on_time_rate)),
        Cell::opt_num(percent(r.satisfaction_rate)),
        Cell::opt_num(r.avg_handling_working_days),
        Cell::Int(r.overdue_now),
    ]
}

// ---------------------------------------------------------------------------------------------
// What both exports read

/// The ranking as `actor` may see it: every agency for IOC staff; agency staff (who may not
/// compare agencies) get their own agency's line, from their KPIs.
async fn ranking_for(
    store: &Store,
    actor: &Actor,
    f: &KpiFilter,
    kpis: &Kpis,
) -> ApiResult<Vec<AgencyRank>> {
    if actor.is_ioc() {
        return Ok(store.agency_ranking(actor, f).await?);
    }
    let reference = store.reference();
    let Some(agency) = actor.agency_id.and_then(|id| reference.agency(id)) else {
        return Ok(Vec::new());
    };
    Ok(vec![AgencyRank {
        rank: 1,
        agency_code: agency.code.clone(),
        agency_name: agency.name.clone(),
        received: kpis.received,
        handled: kpis.handled,
        on_time_rate: kpis.on_time_rate,
        satisfaction_rate: kpis.satisfaction_rate,
        avg_handling_working_days: kpis.avg_handling_working_days,
        overdue_now: kpis.overdue_now,
    }])
}

/// "2026-10-26_2026-11-25": the period's first and last local days, for file names.
fn period_slug(f: &KpiFilter) -> String {
    let first = dothi_calendar::local_date(from_ms(f.from));
    let last = dothi_calendar::local_date(from_ms((f.to - 1).max(f.from)));
    if first == last {
        first.to_string()
    } else {
        format!("{first}_{last}")
    }
}

fn attachment(
    content_type: &'static str,
    filename: &str,
) -> [(header::HeaderName, HeaderValue); 3] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{what} failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Service unavailable",
        format!("the {what} could not be produced; retry later"),
    )
}

// ---------------------------------------------------------------------------------------------
// CSV

/// UTF-8 byte order mark: Excel then reads the file as UTF-8 (Vietnamese diacritics).
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_bytes<const N: usize>(
    header: Option<[&str; N]>,
    rows: impl IntoIterator<Item = [Cell; N]>,
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(h) = header {
        w.write_record(h).expect("CSV into memory");
    }
    for row in rows {
        w.write_record(row.iter().map(Cell::csv))
            .expect("CSV into memory");
    }
    w.into_inner().expect("CSV into memory")
}

async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let actor = caller.require()?.actor();
    let reference = state.store.reference();
    let f = filter(&reference, &params!(q))?;
    let lang = Lang::parse(q.lang.as_deref())?;
    let table = q.table.as_deref().unwrap_or("reports");
    // Refuses citizens (403) and bad periods (422) before anything is sent.
    let kpis = state.store.kpis(&actor, &f).await?;
    let slug = period_slug(&f);
    let mut out = BOM.to_vec();
    let name = match table {
        "trend" => {
            let days = state.store.trend(&actor, &f).await?;
            out.extend(csv_bytes(
                Some(lang.trend_headers()),
                days.iter().map(trend_cells),
            ));
            format!("{}-{slug}.csv", lang.t("xu-huong", "trend"))
        }
        "ranking" => {
            let ranking = ranking_for(&state.store, &actor, &f, &kpis).await?;
            out.extend(csv_bytes(
                Some(lang.ranking_headers()),
                ranking.iter().map(|r| ranking_cells(r, &reference, lang)),
            ));
            format!("{}-{slug}.csv", lang.t("xep-hang-don-vi", "agency-ranking"))
        }
        "reports" => {
            out.extend(csv_bytes(
                Some(lang.report_headers()),
                std::iter::empty::<[Cell; 11]>(),
            ));
            let name = format!("{}-{slug}.csv", lang.t("phan-anh", "reports"));
            let rows = report_stream(state.store.clone(), actor, f, lang);
            let head = futures_util::stream::once(async move { Ok(Bytes::from(out)) });
            let body = Body::from_stream(futures_util::StreamExt::chain(head, rows));
            let mut res = (attachment("text/csv; charset=utf-8", &name), body).into_response();
            // The list stops at the cap; say how many matched in all.
            res.headers_mut()
                .insert("x-total-count", HeaderValue::from(kpis.received));
            return Ok(res);
        }
        other => {
            return Err(ApiError::invalid(
                "table",
                format!("'{other}' is not a table; expected reports, ranking or trend"),
            ))
        }
    };
    Ok((attachment("text/csv; charset=utf-8", &name), out).into_response())
}

/// The report list as CSV lines, one page at a time, up to [`EXPORT_ROW_CAP`] rows.
fn report_stream(
    store: Store,
    actor: Actor,
    f: KpiFilter,
    lang: Lang,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    struct St {
        store: Store,
        actor: Actor,
        f: KpiFilter,
        lang: Lang,
        after: Option<Cursor>,
        written: usize,
        done: bool,
    }
    let st = St {
        store,
        actor,
        f,
        lang,
        after: None,
        written: 0,
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        let want = (EXPORT_ROW_CAP - st.written).min(REPORT_PAGE_MAX as usize);
        if st.done || want == 0 {
            return None;
        }
        match st
            .store
            .ioc_report_page(&st.actor, &st.f, st.after, want as i64)
            .await
        {
            Ok(rows) => {
                if rows.is_empty() {
                    return None;
                }
                st.done = rows.len() < want;
                st.written += rows.len();
                st.after = rows.last().map(ReportRow::cursor);
                let reference = st.store.reference();
                let bytes = csv_bytes::<11>(
                    None,
                    rows.iter().map(|r| report_cells(r, &reference, st.lang)),
                );
                Some((Ok(Bytes::from(bytes)), st))
            }
            Err(e) => {
                tracing::error!(error = %e, "CSV export: reading the report list failed");
                st.done = true;
                Some((
                    Err(std::io::Error::other("reading the report list failed")),
                    st,
                ))
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Excel workbook

/// 100000 → "100.000" (Vietnamese) or "100,000" (English).
fn grouped(n: i64, sep: char) -> String {
    let digits = n.unsigned_abs().to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let mut out = String::from(if n < 0 { "-" } else { "" });
    out.push_str(&digits[..head]);
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(sep);
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// Excel's serial day number of a moment, in Huế's local time.
fn excel_time(ms: i64) -> f64 {
    (ms + 7 * 3_600_000) as f64 / 86_400_000.0 + 25_569.0
}

fn excel_date(d: chrono::NaiveDate) -> f64 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("Excel epoch");
    (d - epoch).num_days() as f64
}

struct Formats {
    title: Format,
    bold: Format,
    header: Format,
    time: Format,
    date: Format,
    decimal: Format,
    note: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            bold: Format::new().set_bold(),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(0xE5E7EB),
            time: Format::new().set_num_format("dd/mm/yyyy hh:mm"),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            decimal: Format::new().set_num_format("0.00"),
            note: Format::new().set_italic().set_font_color(0x9A3412),
        }
    }
}

fn write_cell(
    ws: &mut Worksheet,
    fm: &Formats,
    row: u32,
    col: u16,
    cell: &Cell,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(s) => ws.write_string(row, col, s.as_str())?,
        Cell::Int(i) => ws.write_number(row, col, *i as f64)?,
        Cell::Num(n) => ws.write_number_with_format(row, col, *n, &fm.decimal)?,
        Cell::Time(ms) => ws.write_number_with_format(row, col, excel_time(*ms), &fm.time)?,
        Cell::Date(d) => ws.write_number_with_format(row, col, excel_date(*d), &fm.date)?,
        Cell::Empty => ws,
    };
    Ok(())
}

fn write_header(
    ws: &mut Worksheet,
    fm: &Formats,
    row: u32,
    headers: &[&str],
    widths: &[f64],
) -> Result<(), XlsxError> {
    for (i, (h, w)) in headers.iter().zip(widths).enumerate() {
        ws.write_string_with_format(row, i as u16, *h, &fm.header)?;
        ws.set_column_width(i as u16, *w)?;
    }
    ws.set_freeze_panes(row + 1, 0)?;
    Ok(())
}

/// Everything the workbook shows besides the report list.
struct Summary {
    lang: Lang,
    filter_lines: Vec<(&'static str, String)>,
    generated: String,
    kpis: Kpis,
    trend: Vec<TrendPoint>,
    ranking: Vec<[Cell; 9]>,
}

/// Filter description lines, in the export's language.
fn describe(reference: &Snapshot, lang: Lang, f: &KpiFilter) -> Vec<(&'static str, String)> {
    let all = || lang.t("Tất cả", "All").to_string();
    let fmt = |ms: i64| {
        dothi_calendar::to_vn(from_ms(ms))
            .format("%d/%m/%Y %H:%M")
            .to_string()
    };
    vec![
        (
            lang.t(
                "Kỳ báo cáo (giờ Việt Nam, UTC+07:00)",
                "Period (Vietnam time, UTC+07:00)",
            ),
            format!("{} – {}", fmt(f.from), fmt(f.to)),
        ),
        (
            lang.t("Đơn vị xử lý", "Agency"),
            f.agency_id
                .and_then(|id| reference.agency(id))
                .map(|a| {
                    format!(
                        "{} ({})",
                        agency_name(reference, lang, Some(a.id)).unwrap_or_default(),
                        a.code
                    )
                })
                .unwrap_or_else(all),
        ),
        (
            lang.t("Xã/phường", "Commune/ward"),
            commune_name(reference, f.commune_code.as_deref()).unwrap_or_else(all),
        ),
        (
            lang.t("Lĩnh vực", "Category"),
            f.category_id
                .map(|id| category_name(reference, lang, id))
                .unwrap_or_else(all),
        ),
        (
            lang.t("Kênh tiếp nhận", "Channel"),
            f.channel
                .map(|c| lang.channel(c.as_str()))
                .unwrap_or_else(all),
        ),
    ]
}

fn kpi_lines(lang: Lang, k: &Kpis) -> Vec<(&'static str, Cell)> {
    vec![
        (
            lang.t("Phản ánh tiếp nhận", "Reports received"),
            Cell::Int(k.received),
        ),
        (lang.t("Đã xử lý", "Handled"), Cell::Int(k.handled)),
        (
            lang.t("Xử lý đúng hạn", "Handled on time"),
            Cell::Int(k.handled_on_time),
        ),
        (
            lang.t("Tỷ lệ đúng hạn (%)", "On-time rate (%)"),
            Cell::opt_num(percent(k.on_time_rate)),
        ),
        (
            lang.t("Quá hạn hiện tại", "Overdue now"),
            Cell::Int(k.overdue_now),
        ),
        (
            lang.t(
                "Thời gian xử lý trung bình (ngày làm việc)",
                "Average handling time (working days)",
            ),
            Cell::opt_num(k.avg_handling_working_days),
        ),
        (lang.t("Lượt đánh giá", "Ratings"), Cell::Int(k.rated)),
        (lang.t("Hài lòng", "Satisfied"), Cell::Int(k.satisfied)),
        (
            lang.t("Chấp nhận được", "Acceptable"),
            Cell::Int(k.acceptable),
        ),
        (
            lang.t("Không hài lòng", "Unsatisfied"),
            Cell::Int(k.unsatisfied),
        ),
        (
            lang.t("Tỷ lệ hài lòng (%)", "Satisfaction rate (%)"),
            Cell::opt_num(percent(k.satisfaction_rate)),
        ),
    ]
}

/// Builds the workbook on a blocking thread: the summary sheets first, then the report list
/// from the pages that arrive on `pages`, up to the cap. Returns the file.
fn build_workbook(
    summary: Summary,
    mut pages: tokio::sync::mpsc::Receiver<Vec<[Cell; 11]>>,
) -> Result<Vec<u8>, XlsxError> {
    let lang = summary.lang;
    let fm = Formats::new();
    let mut book = Workbook::new();

    // 1. KPIs, with what the view is and when it was made.
    let ws = book.add_worksheet();
    ws.set_name(lang.t("Chỉ số", "KPIs"))?;
    ws.set_column_width(0, 46)?;
    ws.set_column_width(1, 60)?;
    ws.write_string_with_format(
        0,
        0,
        lang.t(
            "Tình hình tiếp nhận và xử lý phản ánh hiện trường",
            "Field reports: intake and handling",
        ),
        &fm.title,
    )?;
    let mut row = 2;
    for (label, value) in &summary.filter_lines {
        ws.write_string_with_format(row, 0, *label, &fm.bold)?;
        ws.write_string(row, 1, value.as_str())?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, lang.t("Thời điểm lập", "Generated at"), &fm.bold)?;
    ws.write_string(row, 1, summary.generated.as_str())?;
    row += 2;
    ws.write_string_with_format(row, 0, lang.t("Chỉ số", "Indicator"), &fm.header)?;
    ws.write_string_with_format(row, 1, lang.t("Giá trị", "Value"), &fm.header)?;
    row += 1;
    for (label, value) in kpi_lines(lang, &summary.kpis) {
        ws.write_string(row, 0, label)?;
        write_cell(ws, &fm, row, 1, &value)?;
        row += 1;
    }
    let note_row = row + 1;

    // 2. Daily trend.
    let ws = book.add_worksheet();
    ws.set_name(lang.t("Xu hướng theo ngày", "Daily trend"))?;
    write_header(ws, &fm, 0, &lang.trend_headers(), &[14.0, 14.0, 14.0])?;
    for (i, p) in summary.trend.iter().enumerate() {
        for (c, cell) in trend_cells(p).iter().enumerate() {
            write_cell(ws, &fm, i as u32 + 1, c as u16, cell)?;
        }
    }

    // 3. Agency ranking.
    let ws = book.add_worksheet();
    ws.set_name(lang.t("Xếp hạng đơn vị", "Agency ranking"))?;
    write_header(
        ws,
        &fm,
        0,
        &lang.ranking_headers(),
        &[8.0, 14.0, 60.0, 12.0, 12.0, 14.0, 14.0, 18.0, 12.0],
    )?;
    for (i, cells) in summary.ranking.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            write_cell(ws, &fm, i as u32 + 1, c as u16, cell)?;
        }
    }

    // 4. The reports of the view, newest first; rows go to a temporary file as written.
    let ws = book.add_worksheet_with_low_memory();
    ws.set_name(lang.t("Danh sách phản ánh", "Reports"))?;
    write_header(
        ws,
        &fm,
        0,
        &lang.report_headers(),
        &[
            12.0, 17.0, 30.0, 22.0, 40.0, 16.0, 16.0, 17.0, 17.0, 10.0, 16.0,
        ],
    )?;
    let mut n: u32 = 0;
    let mut capped = false;
    while let Some(page) = pages.blocking_recv() {
        for cells in page {
            if n as usize >= EXPORT_ROW_CAP {
                capped = true;
                break;
            }
            n += 1;
            for (c, cell) in cells.iter().enumerate() {
                write_cell(ws, &fm, n, c as u16, cell)?;
            }
        }
        if capped {
            break;
        }
    }
    if n > 0 {
        ws.autofilter(0, 0, n, 10)?;
    }
    let received = summary.kpis.received;
    let cap_note = capped.then(|| match lang {
        Lang::Vi => format!(
            "Danh sách chỉ gồm {} phản ánh mới nhất trong số {} phản ánh của kỳ; thu hẹp bộ lọc để xem đủ.",
            grouped(EXPORT_ROW_CAP as i64, '.'),
            grouped(received, '.')
        ),
        Lang::En => format!(
            "The list holds only the newest {} of the period's {} reports; narrow the filters to see them all.",
            grouped(EXPORT_ROW_CAP as i64, ','),
            grouped(received, ',')
        ),
    });
    if let Some(note) = &cap_note {
        ws.write_string_with_format(n + 2, 0, note.as_str(), &fm.note)?;
    }
    let ws = book.worksheet_from_index(0)?;
    ws.write_string_with_format(
        note_row,
        0,
        lang.t("Danh sách phản ánh", "Report list"),
        &fm.bold,
    )?;
    let listed = match lang {
        Lang::Vi => format!(
            "{} phản ánh (không có thông tin cá nhân của người phản ánh)",
            grouped(n.into(), '.')
        ),
        Lang::En => format!(
            "{} reports (no personal data of the reporters)",
            grouped(n.into(), ',')
        ),
    };
    ws.write_string(note_row, 1, listed.as_str())?;
    if let Some(note) = &cap_note {
        ws.write_string_with_format(note_row + 1, 1, note.as_str(), &fm.note)?;
    }
    book.save_to_buffer()
}

async fn export_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<XlsxQuery>,
) -> ApiResult<Response> {
    let actor = caller.require()?.actor();
    let reference = state.store.reference();
    let f = filter(&reference, &params!(q))?;
    let lang = Lang::parse(q.lang.as_deref())?;
    let kpis = state.store.kpis(&actor, &f).await?;
    let trend = state.store.trend(&actor, &f).await?;
    let ranking = ranking_for(&state.store, &actor, &f, &kpis)
        .await?
        .iter()
        .map(|r| ranking_cells(r, &reference, lang))
        .collect();
    let summary = Summary {
        lang,
        filter_lines: describe(&reference, lang, &f),
        generated: ts(now_ms()),
        kpis,
        trend,
        ranking,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let writer = tokio::task::spawn_blocking(move || build_workbook(summary, rx));
    // Read one row more than the cap, so the writer knows the list was cut.
    let mut after = None;
    let mut read = 0usize;
    while read <= EXPORT_ROW_CAP {
        let want = (EXPORT_ROW_CAP + 1 - read).min(REPORT_PAGE_MAX as usize);
        let rows = state
            .store
            .ioc_report_page(&actor, &f, after, want as i64)
            .await?;
        read += rows.len();
        after = rows.last().map(ReportRow::cursor);
        let short = rows.len() < want;
        let reference = state.store.reference();
        let cells = rows
            .iter()
            .map(|r| report_cells(r, &reference, lang))
            .collect();
        if tx.send(cells).await.is_err() || short {
            break;
        }
    }
    drop(tx);
    let file = writer
        .await
        .map_err(|e| unavailable("workbook", e))?
        .map_err(|e| unavailable("workbook", e))?;
    let name = format!(
        "{}-{}.xlsx",
        lang.t("bao-cao-ioc", "ioc-report"),
        period_slug(&f)
    );
    Ok((
        attachment(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &name,
        ),
        file,
    )
        .into_response())
}
