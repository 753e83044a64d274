//! Test support shared by every crate's tests: a fresh store on each backend.
//!
//! PostgreSQL tests use the server at `DOTHI_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432`) and create a throw-away database per store, dropped
//! when the [`TestDb`] guard goes away.

use std::sync::atomic::{AtomicU64, Ordering};

use dothi_domain::Actor;
use sqlx::{Connection, Executor};

use crate::reference::ReferenceFile;
use crate::{Backend, Settings, Store};

/// The Huế reference data shipped with the project.
pub const HUE_REFERENCE: &str = include_str!("../../../reference/hue.json");

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn pg_server() -> String {
    std::env::var("DOTHI_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempdir::TempDir>,
    pg_name: Option<String>,
}

mod tempdir {
    /// A directory removed on drop (kept tiny to avoid a dependency for tests only).
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let server = pg_server();
            // Dropping needs a runtime; tests may already be tearing theirs down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                        .await
                        .ok()?;
                    c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let unique = format!("{}_{}_{}", std::process::id(), n, crate::time::now_ms());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("dothi-test-{unique}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}/dothi.db", dir.display());
                TestDb {
                    url,
                    backend,
                    _dir: Some(tempdir::TempDir(dir)),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("dothi_test_{unique}");
                let server = pg_server();
                let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                    .await
                    .expect("PostgreSQL must be reachable for the test suite (set DOTHI_TEST_PG)");
                c.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                TestDb {
                    url: format!("{server}/{name}"),
                    backend,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url, Settings::default())
            .await
            .expect("open test store")
    }

    /// A store loaded with the Huế reference data.
    pub async fn hue_store(&self) -> Store {
        let store = self.store().await;
        let file: ReferenceFile = serde_json::from_str(HUE_REFERENCE).expect("hue.json parses");
        store
            .import_reference(&Actor::system(), &file)
            .await
            .expect("import hue.json");
        store
    }
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
