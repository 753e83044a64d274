//! Bulk loading of reports that happened in the past, with their whole history: used by the
//! demo data and the benchmarks, which need months of realistic records at once. Each batch is
//! one transaction, which also adds the batch to the IOC's rollup (aggregated per key first).

use dothi_domain::{Action, Channel, Priority, Rating, Status};
use rand::RngCore;

use crate::error::Result;
use crate::kpi::{RollupDelta, RollupFacts};
use crate::Store;

#[derive(Clone, Debug)]
pub struct HistoricEvent {
    pub action: Action,
    pub from: Option<Status>,
    pub to: Status,
    pub actor: String,
    pub actor_role: Option<&'static str>,
    pub target_agency_id: Option<i64>,
    pub note: Option<String>,
    pub at: i64,
}

#[derive(Clone, Debug)]
pub struct HistoricReport {
    pub category_id: i64,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub description: String,
    pub address: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub commune_code: Option<String>,
    pub agency_id: Option<i64>,
    pub reporter_user_id: Option<i64>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub search_text: String,
    pub status_notes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deadline_at: i64,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub overdue: bool,
    pub resolved_on_time: Option<bool>,
    /// Working days from receipt to resolution.
    pub handling_days: Option<f64>,
    pub rating: Option<Rating>,
    pub events: Vec<HistoricEvent>,
}

impl Store {
    pub async fn insert_historic(&self, reports: &[HistoricReport]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let mut rollup = RollupDelta::default();
        for r in reports {
            rollup.add(&RollupFacts {
                created_at: r.created_at,
                agency_id: r.agency_id,
                commune_code: r.commune_code.clone(),
                category_id: r.category_id,
                channel: r.channel.as_str().into(),
                resolved_at: r.resolved_at,
                resolved_on_time: r.resolved_on_time.map(i64::from),
                handling_days: r.handling_days,
                rating: r.rating.map(|x| x.as_str().into()),
            });
            let mut token = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut token);
            let row: (i64,) = sqlx::query_as(
                "INSERT INTO reports (token, category_id, status, priority, channel, description, address, lat, lon, \
                 commune_code, agency_id, reporter_user_id, reporter_name, reporter_phone, attributes, search_text, \
                 status_notes, created_at, updated_at, deadline_at, resolved_at, closed_at, overdue, resolved_on_time, rating, handling_days) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '{}', $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25) \
                 RETURNING id",
            )
            .bind(hex::encode(token))
            .bind(r.category_id)
            .bind(r.status.as_str())
            .bind(r.priority.as_str())
            .bind(r.channel.as_str())
            .bind(r.description.as_str())
            .bind(r.address.as_deref())
            .bind(r.lat)
            .bind(r.lon)
            .bind(r.commune_code.as_deref())
            .bind(r.agency_id)
            .bind(r.reporter_user_id)
            .bind(r.reporter_name.as_deref())
            .bind(r.reporter_phone.as_deref())
            .bind(r.search_text.as_str())
            .bind(r.status_notes.as_deref())
            .bind(r.created_at)
            .bind(r.updated_at)
            .bind(r.deadline_at)
            .bind(r.resolved_at)
            .bind(r.closed_at)
            .bind(r.overdue as i64)
            .bind(r.resolved_on_time.map(|b| b as i64))
            .bind(r.rating.map(|x| x.as_str()))
            .bind(r.handling_days)
            .persistent(false)
            .fetch_one(tx.conn())
            .await?;
            for e in &r.events {
                sqlx::query(
                    "INSERT INTO report_events (report_id, action, from_status, to_status, actor_label, actor_role, \
                     agency_id, target_agency_id, note, public, detail, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, '{}', $10)",
                )
                .bind(row.0)
                .bind(e.action.as_str())
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.as_str())
                .bind(e.actor.as_str())
                .bind(e.actor_role)
                .bind(r.agency_id)
                .bind(e.target_agency_id)
                .bind(e.note.as_deref())
                .bind(e.at)
                .execute(tx.conn())
                .await?;
            }
        }
        rollup.write(&mut tx).await?;
        tx.commit().await
    }

    pub async fn count_reports(&self) -> Result<i64> {
        let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM reports")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(row.0)
    }
}
