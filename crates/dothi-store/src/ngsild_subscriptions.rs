//! NGSI-LD subscriptions of both kinds: entity subscriptions (`/subscriptions`, GS CIM 009 §5.8)
//! and context source registration subscriptions (`/csourceSubscriptions`, §5.11).
//!
//! The two kinds have tables of the same layout (`ngsild_subscriptions`, migration 0005, and
//! `ngsild_csource_subscriptions`, migration 0013) and share one outbox, `ngsild_deliveries`,
//! sent by one delivery worker; so one set of functions serves both, told apart by a
//! [`SubscriptionKind`]. A kind only chooses the table and the outbox key of its rows.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{conflict_on_unique, Result};
use crate::time::now_ms;
use crate::Store;

/// The prefix of the outbox key of a context source registration subscription's notifications
/// (a space never occurs in a URI, so no entity subscription id starts with it).
const CSOURCE_OUTBOX_PREFIX: &str = "csource ";

/// Which subscriptions: the table they are stored in and how their notifications are keyed in
/// the outbox (`ngsild_deliveries.subscription_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// Entity subscriptions (§5.8), in `ngsild_subscriptions`; outbox key: the id.
    Entity,
    /// Context source registration subscriptions (§5.11), in `ngsild_csource_subscriptions`;
    /// outbox key: `csource <id>`.
    Csource,
}

impl SubscriptionKind {
    fn table(self) -> &'static str {
        match self {
            SubscriptionKind::Entity => "ngsild_subscriptions",
            SubscriptionKind::Csource => "ngsild_csource_subscriptions",
        }
    }

    /// The outbox key of the notifications of subscription `id`.
    pub fn outbox_key(self, id: &str) -> String {
        match self {
            SubscriptionKind::Entity => id.to_string(),
            SubscriptionKind::Csource => format!("{CSOURCE_OUTBOX_PREFIX}{id}"),
        }
    }

    /// The kind and id of the subscription an outbox key belongs to.
    pub fn of_outbox_key(key: &str) -> (SubscriptionKind, &str) {
        match key.strip_prefix(CSOURCE_OUTBOX_PREFIX) {
            Some(id) => (SubscriptionKind::Csource, id),
            None => (SubscriptionKind::Entity, key),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionRecord {
    pub id: String,
    /// JSON computed by the broker.
    pub body: String,
    pub status: String,
    pub expires_at: Option<i64>,
    /// Every attempt, successful or not.
    pub times_sent: i64,
    /// Failed attempts (timesFailed, §5.2.14; migration 0007).
    pub times_failed: i64,
    pub last_notification: Option<i64>,
    pub last_success: Option<i64>,
    pub last_failure: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionPage {
    /// In creation order.
    pub subscriptions: Vec<SubscriptionRecord>,
    pub total: Option<u64>,
}

const SUBSCRIPTION_COLUMNS: &str = "id, body, status, expires_at, times_sent, times_failed, \
    last_notification, last_success, last_failure, created_at, modified_at";

fn subscription_from_row(r: &AnyRow) -> SubscriptionRecord {
    SubscriptionRecord {
        id: r.get(0),
        body: r.get(1),
        status: r.get(2),
        expires_at: r.get(3),
        times_sent: r.get(4),
        times_failed: r.get(5),
        last_notification: r.get(6),
        last_success: r.get(7),
        last_failure: r.get(8),
        created_at: r.get(9),
        modified_at: r.get(10),
    }
}

/// Queues notifications `(subscription id, payload)` of subscriptions of `kind` in the outbox,
/// due at `at`, inside the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    kind: SubscriptionKind,
    deliveries: &[(String, String)],
    at: i64,
) -> Result<()> {
    for (subscription, payload) in deliveries {
        sqlx::query(
            "INSERT INTO ngsild_deliveries (subscription_id, payload, next_attempt_at, \
             created_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(kind.outbox_key(subscription))
        .bind(payload)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Stores a new subscription with the notifications `(subscription id, payload)` its
    /// creation causes, in one transaction; an id already taken is a conflict error.
    pub async fn ngsild_subscription_create(
        &self,
        kind: SubscriptionKind,
        id: &str,
        body: &str,
        status: &str,
        expires_at: Option<i64>,
        deliveries: &[(String, String)],
    ) -> Result<SubscriptionRecord> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO {} (id, body, status, expires_at, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {SUBSCRIPTION_COLUMNS}",
            kind.table()
        ))
        .bind(id)
        .bind(body)
        .bind(status)
        .bind(expires_at)
        .bind(now)
        .fetch_one(tx.conn())
        .await
        .map_err(|e| conflict_on_unique(e, || format!("subscription {id} already exists")))?;
        enqueue(tx.conn(), kind, deliveries, now).await?;
        tx.commit().await?;
        Ok(subscription_from_row(&row))
    }

    pub async fn ngsild_subscription_get(
        &self,
        kind: SubscriptionKind,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM {} WHERE id = $1",
            kind.table()
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(subscription_from_row))
    }

    /// Subscriptions in creation order.
    pub async fn ngsild_subscription_list(
        &self,
        kind: SubscriptionKind,
        limit: Option<u32>,
        offset: u32,
        count_all: bool,
    ) -> Result<SubscriptionPage> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM {} ORDER BY created_at, id LIMIT $1 OFFSET $2",
            kind.table()
        ))
        .bind(limit.map_or(i64::MAX, i64::from))
        .bind(i64::from(offset))
        .fetch_all(&self.db.pool)
        .await?;
        let total = if count_all {
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {}", kind.table()))
                .fetch_one(&self.db.pool)
                .await?
                .get(0);
            Some(u64::try_from(n).unwrap_or(0))
        } else {
            None
        };
        Ok(SubscriptionPage {
            subscriptions: rows.iter().map(subscription_from_row).collect(),
            total,
        })
    }

    /// Replaces the body, status and expiry and queues the notifications the change causes;
    /// None (and nothing queued) when there is no such subscription.
    pub async fn ngsild_subscription_update(
        &self,
        kind: SubscriptionKind,
        id: &str,
        body: &str,
        status: &str,
        expires_at: Option<i64>,
        deliveries: &[(String, String)],
    ) -> Result<Option<SubscriptionRecord>> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE {} SET body = $2, status = $3, expires_at = $4, modified_at = $5 \
             WHERE id = $1 RETURNING {SUBSCRIPTION_COLUMNS}",
            kind.table()
        ))
        .bind(id)
        .bind(body)
        .bind(status)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(tx.conn())
        .await?;
        if row.is_some() {
            enqueue(tx.conn(), kind, deliveries, now).await?;
        }
        tx.commit().await?;
        Ok(row.as_ref().map(subscription_from_row))
    }

    /// Deletes a subscription and its pending notifications; false when there was none.
    pub async fn ngsild_subscription_delete(
        &self,
        kind: SubscriptionKind,
        id: &str,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM ngsild_deliveries WHERE subscription_id = $1")
            .bind(kind.outbox_key(id))
            .execute(tx.conn())
            .await?;
        let n = sqlx::query(&format!("DELETE FROM {} WHERE id = $1", kind.table()))
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Counts a notification sent at `at` and whether it succeeded; false when the
    /// subscription is gone.
    pub async fn ngsild_subscription_record_delivery(
        &self,
        kind: SubscriptionKind,
        id: &str,
        ok: bool,
        at: i64,
    ) -> Result<bool> {
        let outcome = if ok {
            "last_success = $2"
        } else {
            "last_failure = $2, times_failed = times_failed + 1"
        };
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query(&format!(
            "UPDATE {} SET times_sent = times_sent + 1, last_notification = $2, {outcome} \
             WHERE id = $1",
            kind.table()
        ))
        .bind(id)
        .bind(at)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
