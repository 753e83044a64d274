//! JSON-LD contexts hosted by the NGSI-LD broker (`/ngsi-ld/v1/jsonldContexts`, §5.13): kept
//! here so that they survive a restart and every instance of the broker can serve them. The
//! broker (`dothi_broker::contexts`) caches them in memory; this module only stores.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::Result;
use crate::Store;

/// One hosted context.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContext {
    /// The local id, the last segment of `url`.
    pub id: String,
    pub url: String,
    /// The JSON-LD document as registered.
    pub document: String,
    pub created_at: i64,
}

fn from_row(r: &AnyRow) -> StoredContext {
    StoredContext {
        id: r.get(0),
        url: r.get(1),
        document: r.get(2),
        created_at: r.get(3),
    }
}

impl Store {
    /// Stores a hosted context (ids are random: a clash is a conflict error).
    pub async fn ngsild_context_add(&self, context: &StoredContext) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO ngsild_contexts (id, url, document, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&context.id)
        .bind(&context.url)
        .bind(&context.document)
        .bind(context.created_at)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The hosted context with this local id or URL.
    pub async fn ngsild_context(&self, id_or_url: &str) -> Result<Option<StoredContext>> {
        let row = sqlx::query(
            "SELECT id, url, document, created_at FROM ngsild_contexts WHERE id = $1 OR url = $1",
        )
        .bind(id_or_url)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Every hosted context, oldest first.
    pub async fn ngsild_contexts(&self) -> Result<Vec<StoredContext>> {
        let rows = sqlx::query(
            "SELECT id, url, document, created_at FROM ngsild_contexts ORDER BY created_at, id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Deletes the hosted context with this local id or URL; false if there was none.
    pub async fn ngsild_context_delete(&self, id_or_url: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query("DELETE FROM ngsild_contexts WHERE id = $1 OR url = $1")
            .bind(id_or_url)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
