//! Group commit for report intake.
//!
//! Under load, many citizens submit at once. Each submission waits on the writer, and
//! SQLite has one: committing them one by one spends most of the time handing the lock and
//! the driver's worker thread back and forth. The writer task takes every submission waiting
//! in its queue (up to [`MAX_BATCH`]) and writes them with two statements in one transaction.
//! Each caller is answered only after that transaction has committed, so an acknowledged
//! report is durable exactly as before. If a batch fails, its reports are retried one by one,
//! so one bad row cannot sink its neighbours.

use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::reports::{write_reports, PreparedReport};

pub const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<(i64, String)>>;

#[derive(Clone)]
pub struct ReportWriter {
    queue: mpsc::Sender<(PreparedReport, Reply)>,
}

impl ReportWriter {
    /// Start the writer task; it ends when the last `Store` clone is dropped.
    pub fn start(db: Db) -> Self {
        let (queue, mut rx) = mpsc::channel::<(PreparedReport, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                write_batch(&db, batch).await;
            }
        });
        ReportWriter { queue }
    }

    pub(crate) async fn submit(&self, report: PreparedReport) -> Result<(i64, String)> {
        let (tx, rx) = oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.queue.send((report, tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

async fn write_batch(db: &Db, batch: Vec<(PreparedReport, Reply)>) {
    let reports: Vec<PreparedReport> = batch.iter().map(|(r, _)| r.clone()).collect();
    match write_in_tx(db, &reports).await {
        Ok(written) => {
            for ((_, reply), result) in batch.into_iter().zip(written) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) if batch.len() == 1 => {
            let (_, reply) = batch.into_iter().next().expect("one");
            let _ = reply.send(Err(e));
        }
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "report batch failed; retrying one by one");
            for (report, reply) in batch {
                let result = write_in_tx(db, std::slice::from_ref(&report))
                    .await
                    .map(|mut w| w.remove(0));
                let _ = reply.send(result);
            }
        }
    }
}

async fn write_in_tx(db: &Db, reports: &[PreparedReport]) -> Result<Vec<(i64, String)>> {
    let mut tx = db.begin_write().await?;
    let written = write_reports(&mut tx, reports).await?;
    tx.commit().await?;
    Ok(written)
}
