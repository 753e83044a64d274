//! The IOC's figures: the KPIs on the dashboard, the daily trend and the agency ranking.
//!
//! Definitions (all over reports *received* in the period, unless said otherwise):
//! - received: reports created in the period;
//! - handled: of those, reports with a resolution (resolved, or closed after one);
//! - on-time rate: handled on or before the deadline in force at resolution ÷ handled;
//! - overdue now: open reports past their deadline at this moment (period not applied);
//! - average handling time: working days from receipt to resolution (Vietnamese calendar);
//! - satisfaction rate: "hài lòng" ratings ÷ all ratings.
//!
//! # Where the figures come from
//!
//! Aggregating a million reports takes seconds, so the period-bound figures are read from
//! `kpi_daily` (migration 0003): one row per local day of receipt × agency × commune × category
//! × channel, holding the counters the definitions need. It is maintained in the transaction of
//! every change to a report column it depends on ([`ROLLUP_COLUMNS`]): report intake
//! (`write_reports`, both the group-commit writer and intake with photos), the workflow
//! (`Store::apply`, which the sweeper's auto-close also goes through) and the historic bulk
//! loader subtract the report's old contribution and add its new one ([`RollupDelta`], one
//! upsert per key, keys in a fixed order so concurrent writers lock rows in the same order).
//! **A new write path that sets one of those columns must do the same**; the `kpi_rollup` tests
//! compare the rollup with the reports table after every kind of change.
//!
//! A period is split into whole local days, read from the rollup, and at most two partial days
//! at its ends (a period without a whole day is read from `reports` alone). A partial day is
//! read from `reports`, either as the reports inside the period or as the rollup's whole day
//! minus the reports outside it, whichever spans less time up to now (so "the last 30 days up
//! to now" reads today as its rollup row minus nothing). Either way the figures equal the
//! definitions for any period, day-aligned or not, and one statement reads them all from one
//! snapshot. Handling time is summed in integer milliseconds (no drift when contributions are
//! taken away again); its average can differ from a floating-point `AVG` over the reports in
//! the last bits only, below the 0.01-day rounding. "Overdue now" is not bound to a period; it
//! is counted on `reports` through the partial covering index `reports_open_deadline` (open
//! reports only).

use std::collections::{BTreeMap, HashMap};

use dothi_domain::{Actor, Channel, DomainError, Role};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{bind_all, Backend, Val, WriteTx};
use crate::error::Result;
use crate::time::now_ms;
use crate::Store;

#[derive(Clone, Debug, Default)]
pub struct KpiFilter {
    pub from: i64,
    pub to: i64,
    pub agency_id: Option<i64>,
    pub commune_code: Option<String>,
    pub category_id: Option<i64>,
    pub channel: Option<Channel>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kpis {
    pub received: i64,
    pub handled: i64,
    pub handled_on_time: i64,
    pub on_time_rate: Option<f64>,
    pub overdue_now: i64,
    pub avg_handling_working_days: Option<f64>,
    pub rated: i64,
    pub satisfied: i64,
    pub acceptable: i64,
    pub unsatisfied: i64,
    pub satisfaction_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Local (+07:00) calendar day.
    pub date: chrono::NaiveDate,
    pub received: i64,
    pub handled: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgencyRank {
    pub rank: usize,
    pub agency_code: String,
    pub agency_name: String,
    pub received: i64,
    pub handled: i64,
    pub on_time_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub avg_handling_working_days: Option<f64>,
    pub overdue_now: i64,
}

/// Open statuses; must stay word for word the WHERE of the partial index `reports_open_deadline`
/// (migration 0003), or SQLite cannot use it.
pub(crate) const OPEN: &str = "('received', 'assigned', 'in_progress', 'transferred', 'reopened')";
const DAY_MS: i64 = 86_400_000;
const VN_OFFSET_MS: i64 = 7 * 3_600_000;

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
}

fn round2(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 100.0).round() / 100.0)
}

/// Filters other than the period, as SQL and values, numbered after those already in `vals`.
pub(crate) fn scope(filter: &KpiFilter, vals: &mut Vec<Val>) -> String {
    let mut sql = String::new();
    let mut push = |clause: &str, v: Val, sql: &mut String| {
        vals.push(v);
        sql.push_str(&clause.replace("$?", &format!("${}", vals.len())));
    };
    if let Some(a) = filter.agency_id {
        push(" AND agency_id = $?", Val::I(a), &mut sql);
    }
    if let Some(c) = &filter.commune_code {
        push(" AND commune_code = $?", Val::S(c.clone()), &mut sql);
    }
    if let Some(c) = filter.category_id {
        push(" AND category_id = $?", Val::I(c), &mut sql);
    }
    if let Some(c) = filter.channel {
        push(" AND channel = $?", Val::S(c.as_str().into()), &mut sql);
    }
    sql
}

const AGGREGATES: &str = "CAST(COUNT(*) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN resolved_on_time = 1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(AVG(handling_days) AS DOUBLE PRECISION), \
    CAST(COALESCE(SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN rating = 'satisfied' THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN rating = 'acceptable' THEN 1 ELSE 0 END), 0) AS BIGINT)";

/// The report columns the rollup depends on, in the order [`RollupFacts::from_row`] reads them.
pub(crate) const ROLLUP_COLUMNS: &str =
    "created_at, agency_id, commune_code, category_id, channel, \
    resolved_at, resolved_on_time, handling_days, rating";

/// What the rollup needs to know about one report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RollupFacts {
    pub created_at: i64,
    pub agency_id: Option<i64>,
    pub commune_code: Option<String>,
    pub category_id: i64,
    pub channel: String,
    pub resolved_at: Option<i64>,
    pub resolved_on_time: Option<i64>,
    pub handling_days: Option<f64>,
    pub rating: Option<String>,
}

impl RollupFacts {
    /// Read [`ROLLUP_COLUMNS`] from a row, starting at column `first`.
    pub(crate) fn from_row(r: &AnyRow, first: usize) -> Self {
        RollupFacts {
            created_at: r.get(first),
            agency_id: r.get(first + 1),
            commune_code: r.get(first + 2),
            category_id: r.get(first + 3),
            channel: r.get(first + 4),
            resolved_at: r.get(first + 5),
            resolved_on_time: r.get(first + 6),
            handling_days: r.get(first + 7),
            rating: r.get(first + 8),
        }
    }

    /// A report just taken in: not resolved, not rated.
    pub(crate) fn intake(
        created_at: i64,
        agency_id: Option<i64>,
        commune_code: Option<String>,
        category_id: i64,
        channel: Channel,
    ) -> Self {
        RollupFacts {
            created_at,
            agency_id,
            commune_code,
            category_id,
            channel: channel.as_str().into(),
            resolved_at: None,
            resolved_on_time: None,
            handling_days: None,
            rating: None,
        }
    }

    fn key(&self) -> RollupKey {
        RollupKey {
            day: local_day(self.created_at),
            agency_id: self.agency_id.unwrap_or(0),
            commune_code: self.commune_code.clone().unwrap_or_default(),
            category_id: self.category_id,
            channel: self.channel.clone(),
        }
    }

    fn counters(&self) -> Counters {
        let flag = |b: bool| i64::from(b);
        Counters {
            received: 1,
            handled: flag(self.resolved_at.is_some()),
            handled_on_time: flag(self.resolved_on_time == Some(1)),
            handling_count: flag(self.handling_days.is_some()),
            handling_ms: self.handling_days.map(handling_ms).unwrap_or(0),
            rated: flag(self.rating.is_some()),
            satisfied: flag(self.rating.as_deref() == Some("satisfied")),
            acceptable: flag(self.rating.as_deref() == Some("acceptable")),
        }
    }
}

/// Local (+07:00) day number of a time, as the SQL `(created_at + 7 h) / 1 day` computes it.
fn local_day(ms: i64) -> i64 {
    (ms + VN_OFFSET_MS) / DAY_MS
}

/// Working days as whole milliseconds; the SQL in migration 0003 and `handling_ms_sql` rounds
/// the same way (handling times are never negative).
fn handling_ms(days: f64) -> i64 {
    (days * DAY_MS as f64 + 0.5).floor() as i64
}

fn handling_ms_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST(handling_days * 86400000 + 0.5 AS BIGINT)",
        Backend::Postgres => "CAST(FLOOR(handling_days * 86400000 + 0.5) AS BIGINT)",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RollupKey {
    day: i64,
    agency_id: i64,
    commune_code: String,
    category_id: i64,
    channel: String,
}

/// The counters of `kpi_daily`, in column order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    received: i64,
    handled: i64,
    handled_on_time: i64,
    handling_count: i64,
    handling_ms: i64,
    rated: i64,
    satisfied: i64,
    acceptable: i64,
}

const COUNTER_COLUMNS: [&str; 8] = [
    "received",
    "handled",
    "handled_on_time",
    "handling_count",
    "handling_ms",
    "rated",
    "satisfied",
    "acceptable",
];

impl Counters {
    fn values(&self) -> [i64; 8] {
        [
            self.received,
            self.handled,
            self.handled_on_time,
            self.handling_count,
            self.handling_ms,
            self.rated,
            self.satisfied,
            self.acceptable,
        ]
    }

    fn from_values(v: [i64; 8]) -> Self {
        Counters {
            received: v[0],
            handled: v[1],
            handled_on_time: v[2],
            handling_count: v[3],
            handling_ms: v[4],
            rated: v[5],
            satisfied: v[6],
            acceptable: v[7],
        }
    }

    /// Read eight counters from a row, starting at column `first`.
    fn from_row(r: &AnyRow, first: usize) -> Self {
        Self::from_values(std::array::from_fn(|i| r.get(first + i)))
    }

    fn add(&mut self, other: &Counters, sign: i64) {
        let (a, b) = (self.values(), other.values());
        *self = Self::from_values(std::array::from_fn(|i| a[i] + sign * b[i]));
    }

    fn is_zero(&self) -> bool {
        *self == Counters::default()
    }

    fn avg_handling_days(&self) -> Option<f64> {
        (self.handling_count > 0)
            .then(|| self.handling_ms as f64 / self.handling_count as f64 / DAY_MS as f64)
    }

    fn kpis(&self, overdue_now: i64) -> Kpis {
        Kpis {
            received: self.received,
            handled: self.handled,
            handled_on_time: self.handled_on_time,
            on_time_rate: ratio(self.handled_on_time, self.handled),
            overdue_now,
            avg_handling_working_days: round2(self.avg_handling_days()),
            rated: self.rated,
            satisfied: self.satisfied,
            acceptable: self.acceptable,
            unsatisfied: self.rated - self.satisfied - self.acceptable,
            satisfaction_rate: ratio(self.satisfied, self.rated),
        }
    }
}

/// Changes to `kpi_daily` collected in a write transaction: take away the contribution a
/// report had before the change, add the one it has after, then [`RollupDelta::write`].
#[derive(Default)]
pub(crate) struct RollupDelta(BTreeMap<RollupKey, Counters>);

/// Keys per upsert statement (13 values each, well under both backends' bind limits).
const ROLLUP_CHUNK: usize = 500;

impl RollupDelta {
    pub(crate) fn add(&mut self, report: &RollupFacts) {
        self.0
            .entry(report.key())
            .or_default()
            .add(&report.counters(), 1);
    }

    pub(crate) fn remove(&mut self, report: &RollupFacts) {
        self.0
            .entry(report.key())
            .or_default()
            .add(&report.counters(), -1);
    }

    /// Upsert the changed keys, in key order (concurrent writers on PostgreSQL then lock the
    /// rollup rows in the same order and cannot deadlock on them). Changes that cancel out
    /// write nothing.
    pub(crate) async fn write(self, tx: &mut WriteTx) -> Result<()> {
        let changes: Vec<(RollupKey, Counters)> =
            self.0.into_iter().filter(|(_, c)| !c.is_zero()).collect();
        let updates = COUNTER_COLUMNS
            .iter()
            .map(|c| format!("{c} = kpi_daily.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        for chunk in changes.chunks(ROLLUP_CHUNK) {
            let sql = format!(
                "INSERT INTO kpi_daily (day, agency_id, commune_code, category_id, channel, {}) VALUES {} \
                 ON CONFLICT (day, agency_id, commune_code, category_id, channel) DO UPDATE SET {updates}",
                COUNTER_COLUMNS.join(", "),
                crate::reports::row_placeholders(tx.backend(), chunk.len(), 13),
            );
            let mut vals = Vec::with_capacity(chunk.len() * 13);
            for (k, c) in chunk {
                vals.extend([
                    Val::I(k.day),
                    Val::I(k.agency_id),
                    Val::S(k.commune_code.clone()),
                    Val::I(k.category_id),
                    Val::S(k.channel.clone()),
                ]);
                vals.extend(c.values().map(Val::I));
            }
            // Only the one- and two-key statements of the workflow are worth caching.
            bind_all(sqlx::query(&sql).persistent(chunk.len() <= 2), &vals)
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }
}

/// How the period-bound figures are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    All,
    Day,
    Agency,
}

/// How a period is read, exactly: rollup days, plus reports in `add`, minus reports in
/// `subtract` (all ranges half-open).
#[derive(Debug, Default, PartialEq)]
struct Plan {
    days: Vec<(i64, i64)>,
    add: Vec<(i64, i64)>,
    subtract: Vec<(i64, i64)>,
}

/// Split `[from, to)` into whole local days, read from the rollup, and partial days. A period
/// that holds no whole day is read from the reports table alone. Otherwise the partial day at
/// either end is read either as its reports, or as the whole day from the rollup minus the
/// reports outside the period, whichever covers less time up to `now` (the dashboard's "last 30
/// days up to now" ends in today, which is then the rollup's row minus nothing). Days before
/// 1970-01-02 always come from the reports table, where the SQL day arithmetic (which
/// truncates) and this one (which floors) could disagree.
fn plan(from: i64, to: i64, now: i64) -> Plan {
    let start = |day: i64| day * DAY_MS - VN_OFFSET_MS;
    let mut plan = Plan::default();
    let first_whole = ((from + VN_OFFSET_MS).div_euclid(DAY_MS)
        + i64::from((from + VN_OFFSET_MS).rem_euclid(DAY_MS) != 0))
    .max(1);
    if first_whole >= (to + VN_OFFSET_MS).div_euclid(DAY_MS) {
        plan.add.push((from, to));
        return plan;
    }
    let mut days: Vec<(i64, i64)> = Vec::new();
    let mut rollup_day = |day: i64| match days.last_mut() {
        Some((_, end)) if *end == day => *end += 1,
        _ => days.push((day, day + 1)),
    };
    let up_to_now = |a: i64, b: i64| (b.min(now) - a).max(0);
    let mut cursor = from;
    while cursor < to {
        let day = (cursor + VN_OFFSET_MS).div_euclid(DAY_MS);
        let (day_start, day_end) = (start(day), start(day + 1));
        let piece_end = day_end.min(to);
        if day >= 1 && cursor == day_start && piece_end == day_end {
            rollup_day(day);
        } else if day >= 1
            && up_to_now(day_start, cursor) + up_to_now(piece_end, day_end)
                < up_to_now(cursor, piece_end)
        {
            rollup_day(day);
            plan.subtract.extend(
                [(day_start, cursor), (piece_end, day_end)]
                    .into_iter()
                    .filter(|(a, b)| a < b),
            );
        } else {
            match plan.add.last_mut() {
                Some((_, end)) if *end == cursor => *end = piece_end,
                _ => plan.add.push((cursor, piece_end)),
            }
        }
        cursor = piece_end;
    }
    plan.days = days;
    plan
}

/// Who may read the IOC's figures and views: IOC staff everything, agency staff their own
/// agency (the filter is forced to it; asking for another agency is refused), nobody else.
pub(crate) fn view_scope(actor: &Actor, filter: &KpiFilter) -> Result<KpiFilter> {
    if actor.is_ioc() {
        return Ok(filter.clone());
    }
    match (actor.role, actor.agency_id) {
        (Some(Role::AgencyStaff), Some(own)) => {
            if filter.agency_id.is_some_and(|a| a != own) {
                return Err(DomainError::forbidden(
                    "agency staff see only their own agency's figures",
                )
                .into());
            }
            Ok(KpiFilter {
                agency_id: Some(own),
                ..filter.clone()
            })
        }
        _ => Err(
            DomainError::forbidden("only IOC and agency staff see the operations figures").into(),
        ),
    }
}

/// The period must end after it starts and span at most three years.
pub(crate) fn check_period(filter: &KpiFilter) -> Result<()> {
    if filter.to <= filter.from {
        return Err(DomainError::invalid("to", "the period must end after it starts").into());
    }
    if filter.to - filter.from > 3 * 366 * DAY_MS {
        return Err(DomainError::invalid("to", "the period may not exceed three years").into());
    }
    Ok(())
}

impl Store {
    /// The period-bound counters, grouped; groups without a report received in the period are
    /// left out. One statement, so that the rollup and the reports are read from the same
    /// snapshot (a partial day may be read as the rollup's day minus some reports).
    async fn sums(&self, filter: &KpiFilter, group: Group) -> Result<BTreeMap<i64, Counters>> {
        let plan = plan(filter.from, filter.to, now_ms());
        let (rollup_key, rollup_only, rollup_group) = match group {
            Group::All => ("CAST(0 AS BIGINT)", "", ""),
            Group::Day => ("day", "", " GROUP BY day"),
            Group::Agency => ("agency_id", " AND agency_id <> 0", " GROUP BY agency_id"),
        };
        let day_expr = format!("CAST((created_at + {VN_OFFSET_MS}) / {DAY_MS} AS BIGINT)");
        let (report_key, report_only, report_group) = match group {
            Group::All => ("CAST(0 AS BIGINT)".to_string(), "", String::new()),
            Group::Day => (day_expr.clone(), "", format!(" GROUP BY {day_expr}")),
            Group::Agency => (
                "agency_id".to_string(),
                " AND agency_id IS NOT NULL",
                " GROUP BY agency_id".to_string(),
            ),
        };
        let rollup_sums = COUNTER_COLUMNS
            .iter()
            .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let ms = handling_ms_sql(self.db.backend);
        let report_sums = format!(
            "CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN resolved_on_time = 1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COUNT(handling_days) AS BIGINT), CAST(COALESCE(SUM({ms}), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN rating = 'satisfied' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN rating = 'acceptable' THEN 1 ELSE 0 END), 0) AS BIGINT)"
        );
        let mut vals = Vec::new();
        let mut arms = Vec::new();
        let range = |vals: &mut Vec<Val>, a: i64, b: i64| {
            vals.extend([Val::I(a), Val::I(b)]);
            (vals.len() - 1, vals.len())
        };
        for (first, end) in &plan.days {
            let (a, b) = range(&mut vals, *first, *end);
            let mut scope_sql = scope(filter, &mut vals);
            if filter.commune_code.is_some() {
                // '' stands for "no commune" in the rollup.
                scope_sql.push_str(" AND commune_code <> ''");
            }
            arms.push(format!(
                "SELECT CAST(1 AS BIGINT), {rollup_key}, {rollup_sums} FROM kpi_daily \
                 WHERE day >= ${a} AND day < ${b}{scope_sql}{rollup_only}{rollup_group}"
            ));
        }
        // One arm per range: a single created_at range keeps SQLite on the created_at (or
        // agency/category + created_at) index.
        for (sign, ranges) in [(1, &plan.add), (-1, &plan.subtract)] {
            for (from, to) in ranges {
                let (a, b) = range(&mut vals, *from, *to);
                let scope_sql = scope(filter, &mut vals);
                arms.push(format!(
                    "SELECT CAST({sign} AS BIGINT), {report_key}, {report_sums} FROM reports \
                     WHERE created_at >= ${a} AND created_at < ${b}{scope_sql}{report_only}{report_group}"
                ));
            }
        }
        let rows = bind_all(sqlx::query(&arms.join(" UNION ALL ")), &vals)
            .fetch_all(&self.db.pool)
            .await?;
        let mut out: BTreeMap<i64, Counters> = BTreeMap::new();
        for r in rows {
            out.entry(r.get(1))
                .or_default()
                .add(&Counters::from_row(&r, 2), r.get(0));
        }
        out.retain(|_, c| c.received > 0);
        Ok(out)
    }

    /// Open reports past their deadline now, per agency (0: none) within the filter's scope;
    /// the period does not apply.
    async fn overdue_now(&self, filter: &KpiFilter, per_agency: bool) -> Result<HashMap<i64, i64>> {
        let mut vals = vec![Val::I(now_ms())];
        let scope_sql = scope(filter, &mut vals);
        let (key, only, group_by) = if per_agency {
            (
                "agency_id",
                " AND agency_id IS NOT NULL",
                " GROUP BY agency_id",
            )
        } else {
            ("CAST(0 AS BIGINT)", "", "")
        };
        // Without statistics SQLite's planner prefers the agency or category index, which
        // visits every report of that agency or category (a third of a second at a million);
        // the partial index holds only open reports and covers the query.
        let index = match self.db.backend {
            Backend::Sqlite => " INDEXED BY reports_open_deadline",
            Backend::Postgres => "",
        };
        let rows = bind_all(
            sqlx::query(&format!(
                "SELECT {key}, CAST(COUNT(*) AS BIGINT) FROM reports{index} \
                 WHERE status IN {OPEN} AND deadline_at < $1{scope_sql}{only}{group_by}"
            )),
            &vals,
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn kpis(&self, actor: &Actor, filter: &KpiFilter) -> Result<Kpis> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        let counters = self
            .sums(&filter, Group::All)
            .await?
            .remove(&0)
            .unwrap_or_default();
        let overdue = self.overdue_now(&filter, false).await?;
        Ok(counters.kpis(overdue.get(&0).copied().unwrap_or(0)))
    }

    /// Reports received and handled per local day of receipt.
    pub async fn trend(&self, actor: &Actor, filter: &KpiFilter) -> Result<Vec<TrendPoint>> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        let days = self.sums(&filter, Group::Day).await?;
        Ok(days
            .into_iter()
            .map(|(day, c)| TrendPoint {
                date: local_date_of_day(day),
                received: c.received,
                handled: c.handled,
            })
            .collect())
    }

    /// Agencies ranked by on-time rate, then satisfaction, then volume (what leaders compare).
    pub async fn agency_ranking(
        &self,
        actor: &Actor,
        filter: &KpiFilter,
    ) -> Result<Vec<AgencyRank>> {
        actor.require_ioc()?;
        check_period(filter)?;
        let agencies = self.sums(filter, Group::Agency).await?;
        let overdue = self.overdue_now(filter, true).await?;
        let reference = self.reference();
        let ranking = agencies
            .into_iter()
            .filter_map(|(id, c)| {
                let agency = reference.agency(id)?;
                Some(AgencyRank {
                    rank: 0,
                    agency_code: agency.code.clone(),
                    agency_name: agency.name.clone(),
                    received: c.received,
                    handled: c.handled,
                    on_time_rate: ratio(c.handled_on_time, c.handled),
                    satisfaction_rate: ratio(c.satisfied, c.rated),
                    avg_handling_working_days: round2(c.avg_handling_days()),
                    overdue_now: overdue.get(&agency.id).copied().unwrap_or(0),
                })
            })
            .collect();
        Ok(ranked(ranking))
    }
}

fn local_date_of_day(day: i64) -> chrono::NaiveDate {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    epoch + chrono::Days::new(day.max(0) as u64)
}

fn ranked(mut ranking: Vec<AgencyRank>) -> Vec<AgencyRank> {
    let key = |v: Option<f64>| v.unwrap_or(-1.0);
    ranking.sort_by(|a, b| {
        key(b.on_time_rate)
            .total_cmp(&key(a.on_time_rate))
            .then(key(b.satisfaction_rate).total_cmp(&key(a.satisfaction_rate)))
            .then(b.received.cmp(&a.received))
            .then(a.agency_code.cmp(&b.agency_code))
    });
    for (i, r) in ranking.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    ranking
}

/// The figures computed straight from the reports table, as before the rollup: what the
/// rollup must reproduce. For tests and benchmarks only.
impl Store {
    #[doc(hidden)]
    pub async fn kpis_direct(&self, actor: &Actor, filter: &KpiFilter) -> Result<Kpis> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        let mut vals = vec![Val::I(filter.from), Val::I(filter.to)];
        let scope_sql = scope(&filter, &mut vals);
        let row = bind_all(
            sqlx::query(&format!(
                "SELECT {AGGREGATES} FROM reports WHERE created_at >= $1 AND created_at < $2{scope_sql}"
            )),
            &vals,
        )
        .fetch_one(&self.db.pool)
        .await?;
        let mut vals = vec![Val::I(now_ms())];
        let scope_sql = scope(&filter, &mut vals);
        let overdue: i64 = bind_all(
            sqlx::query(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM reports WHERE status IN {OPEN} AND deadline_at < $1{scope_sql}"
            )),
            &vals,
        )
        .fetch_one(&self.db.pool)
        .await?
        .get(0);
        let (received, handled, on_time, rated, satisfied, acceptable): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(4),
            row.get(5),
            row.get(6),
        );
        Ok(Kpis {
            received,
            handled,
            handled_on_time: on_time,
            on_time_rate: ratio(on_time, handled),
            overdue_now: overdue,
            avg_handling_working_days: round2(row.get(3)),
            rated,
            satisfied,
            acceptable,
            unsatisfied: rated - satisfied - acceptable,
            satisfaction_rate: ratio(satisfied, rated),
        })
    }

    #[doc(hidden)]
    pub async fn trend_direct(&self, actor: &Actor, filter: &KpiFilter) -> Result<Vec<TrendPoint>> {
        let filter = view_scope(actor, filter)?;
        check_period(&filter)?;
        let mut vals = vec![Val::I(filter.from), Val::I(filter.to)];
        let scope_sql = scope(&filter, &mut vals);
        let rows = bind_all(
            sqlx::query(&format!(
                "SELECT CAST((created_at + {VN_OFFSET_MS}) / {DAY_MS} AS BIGINT) AS day, CAST(COUNT(*) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM reports WHERE created_at >= $1 AND created_at < $2{scope_sql} GROUP BY 1 ORDER BY 1"
            )),
            &vals,
        )
        .fetch_all(&self.db.pool)
        .await?;
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        Ok(rows
            .iter()
            .map(|r| TrendPoint {
                date: epoch + chrono::Days::new(r.get::<i64, _>(0).max(0) as u64),
                received: r.get(1),
                handled: r.get(2),
            })
            .collect())
    }

    #[doc(hidden)]
    pub async fn agency_ranking_direct(
        &self,
        actor: &Actor,
        filter: &KpiFilter,
    ) -> Result<Vec<AgencyRank>> {
        actor.require_ioc()?;
        check_period(filter)?;
        let mut vals = vec![Val::I(filter.from), Val::I(filter.to)];
        let scope_sql = scope(filter, &mut vals);
        let rows = bind_all(
            sqlx::query(&format!(
                "SELECT agency_id, {AGGREGATES} FROM reports \
                 WHERE created_at >= $1 AND created_at < $2 AND agency_id IS NOT NULL{scope_sql} GROUP BY agency_id"
            )),
            &vals,
        )
        .fetch_all(&self.db.pool)
        .await?;
        let mut vals = vec![Val::I(now_ms())];
        let scope_sql = scope(filter, &mut vals);
        let overdue: HashMap<i64, i64> = bind_all(
            sqlx::query(&format!(
                "SELECT agency_id, CAST(COUNT(*) AS BIGINT) FROM reports WHERE status IN {OPEN} AND deadline_at < $1 \
                 AND agency_id IS NOT NULL{scope_sql} GROUP BY agency_id"
            )),
            &vals,
        )
        .fetch_all(&self.db.pool)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        let reference = self.reference();
        let ranking: Vec<AgencyRank> = rows
            .iter()
            .filter_map(|r| {
                let agency = reference.agency(r.get(0))?;
                let (received, handled, on_time, rated, satisfied): (i64, i64, i64, i64, i64) =
                    (r.get(1), r.get(2), r.get(3), r.get(5), r.get(6));
                Some(AgencyRank {
                    rank: 0,
                    agency_code: agency.code.clone(),
                    agency_name: agency.name.clone(),
                    received,
                    handled,
                    on_time_rate: ratio(on_time, handled),
                    satisfaction_rate: ratio(satisfied, rated),
                    avg_handling_working_days: round2(r.get(4)),
                    overdue_now: overdue.get(&agency.id).copied().unwrap_or(0),
                })
            })
            .collect();
        Ok(ranked(ranking))
    }
}

/// One line of the IOC's live feed: a history entry with what the operator needs to place it.
/// Never carries the reporter's identity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedItem {
    pub event_id: i64,
    pub report_id: i64,
    pub action: String,
    pub to_status: String,
    pub category_code: String,
    pub agency_code: Option<String>,
    pub commune_code: Option<String>,
    pub priority: String,
    pub channel: String,
    pub at: i64,
}

impl Store {
    /// The newest history id, where a fresh feed starts.
    pub async fn last_event_id(&self) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM report_events")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(row.get(0))
    }

    /// History entries after `after` (oldest first), as `actor` may follow them: IOC staff see
    /// everything; agency staff see entries of reports that are, or were, with their agency.
    pub async fn feed_after(&self, actor: &Actor, after: i64, limit: i64) -> Result<Vec<FeedItem>> {
        let scope = if actor.is_ioc() {
            String::new()
        } else {
            match (actor.role, actor.agency_id) {
                (Some(Role::AgencyStaff), Some(own)) => {
                    format!(" AND (r.agency_id = {own} OR e.agency_id = {own} OR e.target_agency_id = {own})")
                }
                _ => {
                    return Err(DomainError::forbidden(
                        "only IOC and agency staff follow the live feed",
                    )
                    .into())
                }
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT e.id, e.report_id, e.action, e.to_status, r.category_id, r.agency_id, r.commune_code, r.priority, e.created_at, r.channel \
             FROM report_events e JOIN reports r ON r.id = e.report_id WHERE e.id > $1{scope} ORDER BY e.id LIMIT $2"
        ))
        .bind(after)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.db.pool)
        .await?;
        let reference = self.reference();
        Ok(rows
            .iter()
            .map(|r| FeedItem {
                event_id: r.get(0),
                report_id: r.get(1),
                action: r.get(2),
                to_status: r.get(3),
                category_code: reference
                    .category(r.get(4))
                    .map(|c| c.code.clone())
                    .unwrap_or_default(),
                agency_code: r
                    .get::<Option<i64>, _>(5)
                    .and_then(|id| reference.agency(id))
                    .map(|a| a.code.clone()),
                commune_code: r.get(6),
                priority: r.get(7),
                channel: r.get(9),
                at: r.get(8),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local midnight (+07:00) of day number `d`.
    fn midnight(d: i64) -> i64 {
        d * DAY_MS - VN_OFFSET_MS
    }

    #[test]
    fn periods_are_read_as_whole_days_and_partial_days() {
        let d = 20_600;
        let h = 3_600_000;
        let later = midnight(d + 100);
        // Day-aligned (what the dashboard's date pickers send): the rollup alone.
        assert_eq!(
            plan(midnight(d), midnight(d + 30), later),
            Plan {
                days: vec![(d, d + 30)],
                ..Plan::default()
            }
        );
        // A short first piece is read from the reports; a long last piece as its whole day
        // minus the reports after the period.
        assert_eq!(
            plan(midnight(d) + 20 * h, midnight(d + 30) + 19 * h, later),
            Plan {
                days: vec![(d + 1, d + 31)],
                add: vec![(midnight(d) + 20 * h, midnight(d + 1))],
                subtract: vec![(midnight(d + 30) + 19 * h, midnight(d + 31))],
            }
        );
        // The last 30 days up to now, at 08:00: today is the rollup's row minus the reports
        // after now (there are none yet); the first day's 16 hours are cheaper as the
        // rollup's day minus 8 hours of reports.
        let now = midnight(d + 30) + 8 * h;
        assert_eq!(
            plan(now - 30 * DAY_MS, now, now),
            Plan {
                days: vec![(d, d + 31)],
                add: vec![],
                subtract: vec![(midnight(d), midnight(d) + 8 * h), (now, midnight(d + 31))],
            }
        );
        // Less than a whole day: the reports alone, however long.
        for (from, to) in [
            (midnight(d) + 3 * h, midnight(d) + 5 * h),
            (midnight(d) + h, midnight(d) + 23 * h),
            (midnight(d), midnight(d) + 23 * h),
            (midnight(d) + h, midnight(d + 2) - h),
        ] {
            assert_eq!(
                plan(from, to, later),
                Plan {
                    add: vec![(from, to)],
                    ..Plan::default()
                }
            );
        }
        // Across one midnight: two partial days, read as one range of reports.
        assert_eq!(
            plan(midnight(d) - h, midnight(d) + h, later),
            Plan {
                add: vec![(midnight(d) - h, midnight(d) + h)],
                ..Plan::default()
            }
        );
        // Before 1970-01-02 nothing is read from the rollup.
        assert_eq!(
            plan(-5 * DAY_MS, midnight(3), later),
            Plan {
                days: vec![(1, 3)],
                add: vec![(-5 * DAY_MS, midnight(1))],
                subtract: vec![],
            }
        );
    }

    #[test]
    fn rollup_days_are_local_days() {
        // 2026-11-24T23:59:59.999+07:00 and 2026-11-25T00:00:00+07:00.
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-25T00:00:00+07:00")
            .unwrap()
            .timestamp_millis();
        assert_eq!(local_day(midnight) - local_day(midnight - 1), 1);
        assert_eq!(
            local_date_of_day(local_day(midnight)).to_string(),
            "2026-11-25"
        );
        assert_eq!(handling_ms(1.5), 129_600_000);
        assert_eq!(handling_ms(0.0), 0);
    }
}
