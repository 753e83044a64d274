//! NGSI-LD context source registrations (`/ngsi-ld/v1/csourceRegistrations`, GS CIM 009 §5.9,
//! §5.10); their subscriptions (`/csourceSubscriptions`, §5.11) are stored with entity
//! subscriptions' functions (`crate::ngsild_subscriptions`, [`SubscriptionKind::Csource`]).
//!
//! The broker (`dothi_broker::registrations`) computes the bodies (expanded JSON) and the
//! notifications a change causes; this module stores both in one transaction, so a registration
//! change that is acknowledged has its notifications in the outbox (`ngsild_deliveries`, the
//! delivery worker of entity subscriptions sends them). Rows of the outbox that belong to a
//! context source registration subscription carry the key [`SubscriptionKind::outbox_key`].

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::{conflict_on_unique, Result};
use crate::ngsild_subscriptions::{enqueue, SubscriptionKind};
use crate::time::now_ms;
use crate::Store;

/// One stored registration.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationRecord {
    pub id: String,
    /// JSON computed by the broker.
    pub body: String,
    pub expires_at: Option<i64>,
    /// Bumped by every update: [`Store::ngsild_registration_update`] applies a change only to
    /// the revision it was computed from.
    pub revision: i64,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A notification to queue with a change: (context source subscription id, payload).
pub type CsourceDelivery = (String, String);

const REGISTRATION_COLUMNS: &str = "id, body, expires_at, revision, created_at, modified_at";

fn registration_from_row(r: &AnyRow) -> RegistrationRecord {
    RegistrationRecord {
        id: r.get(0),
        body: r.get(1),
        expires_at: r.get(2),
        revision: r.get(3),
        created_at: r.get(4),
        modified_at: r.get(5),
    }
}

impl Store {
    // --- Registrations ---

    /// Stores a new registration with the notifications it causes. A registration of the same
    /// id that expired at `now` is replaced; a live one is a conflict error.
    pub async fn ngsild_registration_create(
        &self,
        id: &str,
        body: &str,
        expires_at: Option<i64>,
        now: i64,
        deliveries: &[CsourceDelivery],
    ) -> Result<RegistrationRecord> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "DELETE FROM ngsild_registrations WHERE id = $1 AND expires_at IS NOT NULL \
             AND expires_at <= $2",
        )
        .bind(id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let row = sqlx::query(&format!(
            "INSERT INTO ngsild_registrations (id, body, expires_at, revision, created_at, \
             modified_at) VALUES ($1, $2, $3, 1, $4, $4) RETURNING {REGISTRATION_COLUMNS}"
        ))
        .bind(id)
        .bind(body)
        .bind(expires_at)
        .bind(now)
        .fetch_one(tx.conn())
        .await
        .map_err(|e| conflict_on_unique(e, || format!("registration {id} already exists")))?;
        enqueue(tx.conn(), SubscriptionKind::Csource, deliveries, now).await?;
        tx.commit().await?;
        Ok(registration_from_row(&row))
    }

    /// The registration with this id, unless it expired at `now`.
    pub async fn ngsild_registration_get(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<RegistrationRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM ngsild_registrations WHERE id = $1 \
             AND (expires_at IS NULL OR expires_at > $2)"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(registration_from_row))
    }

    /// Every registration that has not expired at `now`, in creation order.
    pub async fn ngsild_registrations(&self, now: i64) -> Result<Vec<RegistrationRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM ngsild_registrations \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at, id"
        ))
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(registration_from_row).collect())
    }

    /// The registrations that expired at `now` (the registry worker deletes them).
    pub async fn ngsild_registrations_expired(&self, now: i64) -> Result<Vec<RegistrationRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM ngsild_registrations \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, id"
        ))
        .bind(now)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(registration_from_row).collect())
    }

    /// Replaces the body of revision `revision` of a registration and queues the notifications
    /// of the change; None (and nothing written) when the registration is gone or was changed
    /// since that revision.
    pub async fn ngsild_registration_update(
        &self,
        id: &str,
        revision: i64,
        body: &str,
        expires_at: Option<i64>,
        deliveries: &[CsourceDelivery],
    ) -> Result<Option<RegistrationRecord>> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE ngsild_registrations SET body = $3, expires_at = $4, \
             revision = revision + 1, modified_at = $5 WHERE id = $1 AND revision = $2 \
             RETURNING {REGISTRATION_COLUMNS}"
        ))
        .bind(id)
        .bind(revision)
        .bind(body)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(tx.conn())
        .await?;
        if row.is_some() {
            enqueue(tx.conn(), SubscriptionKind::Csource, deliveries, now).await?;
        }
        tx.commit().await?;
        Ok(row.as_ref().map(registration_from_row))
    }

    /// Deletes revision `revision` of a registration and queues the notifications of the
    /// deletion; false (and nothing written) when it is gone or was changed since.
    pub async fn ngsild_registration_delete(
        &self,
        id: &str,
        revision: i64,
        deliveries: &[CsourceDelivery],
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query("DELETE FROM ngsild_registrations WHERE id = $1 AND revision = $2")
            .bind(id)
            .bind(revision)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n > 0 {
            enqueue(tx.conn(), SubscriptionKind::Csource, deliveries, now).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    // --- Context source registration subscriptions ---

    /// Queues notifications of context source registration subscriptions that no registration
    /// write carries (periodic ones).
    pub async fn ngsild_csource_deliveries_enqueue(
        &self,
        deliveries: &[CsourceDelivery],
    ) -> Result<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        enqueue(tx.conn(), SubscriptionKind::Csource, deliveries, now_ms()).await?;
        tx.commit().await
    }
}
