use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::Result;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Where [`Db::begin_write`] runs. On SQLite, a pool of one connection with a large page
    /// cache: SQLite drops a connection's whole cache when another connection has written, so
    /// writes taking turns on the read pool would start every transaction cold and re-read
    /// the index pages they update (the batch upserts of the NGSI-LD broker touch thousands).
    /// On PostgreSQL, the read pool.
    writer: AnyPool,
    /// SQLite has one writer. Serialising writers here, instead of letting them collide
    /// inside SQLite, avoids SQLITE_BUSY on lock upgrades and keeps commit latency flat.
    write_lock: Arc<Mutex<()>>,
}

/// Page cache of the SQLite write connection, in KiB (`PRAGMA cache_size`; SQLite's default
/// is 2 MiB). It holds the pages a batch of a thousand entity updates dirties, so none is
/// spilled and written twice, and the index pages the next batch reads again.
const SQLITE_WRITER_CACHE_KIB: i64 = 64 * 1024;

/// A write transaction. On SQLite it also holds the process-wide writer lock.
pub struct WriteTx {
    tx: Transaction<'static, sqlx::Any>,
    backend: Backend,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)))
                    .connect_with(options.clone())
                    .await?;
                // In-memory databases are per connection: one pool for both.
                let writer = if url.contains(":memory:") {
                    pool.clone()
                } else {
                    AnyPoolOptions::new()
                        .max_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                sqlite_pragmas(conn).await?;
                                conn.execute(
                                    format!("PRAGMA cache_size = -{SQLITE_WRITER_CACHE_KIB}")
                                        .as_str(),
                                )
                                .await?;
                                Ok(())
                            })
                        })
                        .connect_with(options)
                        .await?
                };
                (pool, writer)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                (pool.clone(), pool)
            }
        };
        Ok(Db {
            pool,
            backend,
            writer,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub async fn begin_write(&self) -> Result<WriteTx> {
        let writer = match self.backend {
            Backend::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        // IMMEDIATE: the write lock is taken at BEGIN, where busy_timeout applies, rather than
        // on the first write, where a concurrent commit (another process, or a write outside
        // begin_write) fails the upgrade at once with SQLITE_BUSY.
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        };
        Ok(WriteTx {
            tx,
            backend: self.backend,
            _writer: writer,
        })
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    // WAL with synchronous=NORMAL survives a killed process: a committed transaction is in the
    // WAL file before COMMIT returns.
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

/// Accept `sqlite:PATH`, `sqlite://PATH` or a bare file path; create the parent folder and
/// the file on first use.
fn sqlite_url(url: &str) -> Result<String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| sqlx::Error::Configuration(e.into()))?;
            }
        }
    }
    let mut query = query.map(str::to_string).unwrap_or_default();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

/// A bind value for dynamically built queries.
#[derive(Clone, Debug)]
pub enum Val {
    I(i64),
    F(f64),
    S(String),
    OptI(Option<i64>),
    OptF(Option<f64>),
    OptS(Option<String>),
}

/// Bind values in order onto a query built with `$1..$n` placeholders.
pub fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    vals: &'q [Val],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in vals {
        q = match v {
            Val::I(i) => q.bind(*i),
            Val::F(f) => q.bind(*f),
            Val::S(s) => q.bind(s.as_str()),
            Val::OptI(i) => q.bind(*i),
            Val::OptF(f) => q.bind(*f),
            Val::OptS(s) => q.bind(s.as_deref()),
        };
    }
    q
}
