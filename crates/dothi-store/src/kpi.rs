//! The IOC's figures: the KPIs on the dashboard, the daily trend and the agency ranking.
//!
//! Definitions (all over reports *received* in the period, unless said otherwise):
//! - received: reports created in the period;
//! - handled: of those, reports with a resolution (resolved, or closed after one);
//! - on-time rate: handled on or before the deadline in force at resolution ÷ handled;
//! - overdue now: open reports past their deadline at this moment (period not applied);
//! - average handling time: working days from receipt to resolution (Vietnamese calendar);
//! - satisfaction rate: "hài lòng" ratings ÷ all ratings.

use std::collections::HashMap;

use dothi_domain::{Actor, Channel, DomainError, Role};
use serde::Serialize;
use sqlx::Row;

use crate::db::{bind_all, Val};
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

const OPEN: &str = "('received', 'assigned', 'in_progress', 'transferred', 'reopened')";
const DAY_MS: i64 = 86_400_000;
const VN_OFFSET_MS: i64 = 7 * 3_600_000;

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
}

fn round2(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 100.0).round() / 100.0)
}

/// Filters other than the period, as SQL and values, numbered from `first`.
fn scope(filter: &KpiFilter, vals: &mut Vec<Val>) -> String {
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

impl Store {
    /// Who may read the figures: IOC staff for everything, agency staff for their own agency
    /// (the filter is forced to it).
    fn kpi_scope(&self, actor: &Actor, filter: &KpiFilter) -> Result<KpiFilter> {
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
            _ => Err(DomainError::forbidden(
                "only IOC and agency staff see the operations figures",
            )
            .into()),
        }
    }

    fn check_period(filter: &KpiFilter) -> Result<()> {
        if filter.to <= filter.from {
            return Err(DomainError::invalid("to", "the period must end after it starts").into());
        }
        if filter.to - filter.from > 3 * 366 * DAY_MS {
            return Err(DomainError::invalid("to", "the period may not exceed three years").into());
        }
        Ok(())
    }

    pub async fn kpis(&self, actor: &Actor, filter: &KpiFilter) -> Result<Kpis> {
        let filter = self.kpi_scope(actor, filter)?;
        Self::check_period(&filter)?;
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

    /// Reports received and handled per local day of receipt.
    pub async fn trend(&self, actor: &Actor, filter: &KpiFilter) -> Result<Vec<TrendPoint>> {
        let filter = self.kpi_scope(actor, filter)?;
        Self::check_period(&filter)?;
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

    /// Agencies ranked by on-time rate, then satisfaction, then volume (what leaders compare).
    pub async fn agency_ranking(
        &self,
        actor: &Actor,
        filter: &KpiFilter,
    ) -> Result<Vec<AgencyRank>> {
        actor.require_ioc()?;
        Self::check_period(filter)?;
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
        let mut ranking: Vec<AgencyRank> = rows
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
        Ok(ranking)
    }
}
