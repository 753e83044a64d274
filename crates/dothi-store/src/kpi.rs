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
            "SELECT e.id, e.report_id, e.action, e.to_status, r.category_id, r.agency_id, r.commune_code, r.priority, e.created_at \
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
                at: r.get(8),
            })
            .collect())
    }
}
