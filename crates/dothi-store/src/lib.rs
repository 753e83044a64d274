//! Persistence and the reports service: the only crate that speaks SQL.
//!
//! SQLite and PostgreSQL share one code path through sqlx's `Any` driver. Queries use `$n`
//! placeholders, which both backends accept, and only column types that `Any` carries on both
//! (BIGINT, DOUBLE PRECISION, TEXT, BLOB/BYTEA). Each backend has its own migrations.
//!
//! Architecture invariant: every state change runs in exactly one transaction, and every
//! report status change appends to `report_events` in that same transaction.

pub mod alerts;
pub mod api_tokens;
pub mod auth;
pub mod catalog;
pub mod catalog_files;
mod catalog_index;
pub mod db;
pub mod error;
pub mod historic;
pub mod identity;
pub mod iot;
pub mod kpi;
pub mod map;
pub mod ngsild;
pub mod ngsild_contexts;
pub mod ngsild_registrations;
pub mod ngsild_subscriptions;
pub mod opendata;
pub mod reference;
pub mod reports;
pub mod sharing;
pub mod testing;
pub mod time;
pub mod writer;

pub use db::{Backend, Db};
pub use error::StoreError;

use std::sync::Arc;

use dothi_calendar::Calendar;

/// Tunables of the reports service; `dothi serve` fills them from its configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Radius for duplicate suggestions, metres.
    pub duplicate_radius_m: f64,
    /// How far back duplicate suggestions look, days.
    pub duplicate_window_days: i64,
    /// Resolved reports nobody rated are closed after this many days.
    pub auto_close_days: i64,
    /// Bearer tokens live this long, hours.
    pub token_ttl_hours: i64,
    /// Public base URL, used to build media URLs.
    pub public_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            duplicate_radius_m: 100.0,
            duplicate_window_days: 7,
            auto_close_days: 7,
            token_ttl_hours: 24 * 7,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The handle every other crate uses: a database plus the cached reference data.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    pub settings: Arc<Settings>,
    reference: Arc<std::sync::RwLock<Arc<reference::Snapshot>>>,
    api_key_cache: auth::ApiKeyCache,
    writer: writer::ReportWriter,
    /// Group commit of the sharing log (see [`sharing`]).
    sharing_log_writer: sharing::LogWriter,
    /// MQTT ingestion's registry generation and counters (see [`iot`]).
    iot: iot::IotState,
    catalog_index: catalog_index::Cache,
}

impl Store {
    pub async fn open(url: &str, settings: Settings) -> Result<Self, StoreError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        let store = Store {
            db: db.clone(),
            settings: Arc::new(settings),
            reference: Arc::new(std::sync::RwLock::new(Arc::new(
                reference::Snapshot::default(),
            ))),
            api_key_cache: Default::default(),
            writer: writer::ReportWriter::start(db.clone()),
            sharing_log_writer: sharing::LogWriter::start(db.clone()),
            iot: Default::default(),
            catalog_index: Arc::new(tokio::sync::RwLock::new(catalog_index::Cached::empty())),
        };
        store.reload_reference().await?;
        Ok(store)
    }

    /// The cached reference data (categories, agencies, communes, routing, holidays).
    pub fn reference(&self) -> Arc<reference::Snapshot> {
        self.reference.read().expect("reference lock").clone()
    }

    pub fn calendar(&self) -> Calendar {
        self.reference().calendar.clone()
    }

    /// Re-read reference data; called after every admin change and periodically so that
    /// several instances behind a load balancer converge.
    pub async fn reload_reference(&self) -> Result<(), StoreError> {
        let snapshot = reference::Snapshot::load(&self.db).await?;
        *self.reference.write().expect("reference lock") = Arc::new(snapshot);
        Ok(())
    }
}
