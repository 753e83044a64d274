//! The real binary as an operator runs it: CLI commands, and durability of acknowledged
//! writes when the server is killed with SIGKILL.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dothi_store::testing::{TestDb, BACKENDS};

const BIN: &str = env!("CARGO_BIN_EXE_dothi");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(db: &str, port: u16) -> Server {
        let child = Command::new(BIN)
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", db)
            // The demo catalogue's files: never in the working directory.
            .env(
                "DOTHI_DATA_DIR",
                std::env::temp_dir().join(format!("dothi-test-data-{}-{port}", std::process::id())),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dothi");
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client.get(format!("{}/healthz", server.url)).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("dothi did not start on {}", server.url);
    }

    /// Child::kill sends SIGKILL on Unix: no graceful shutdown, no flush.
    fn kill9(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_key(db: &str) -> String {
    let out = Command::new(BIN)
        .args(["api-key", "create", "--name", "durability"])
        .env("DATABASE_URL", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_string()
}

#[tokio::test]
async fn api_key_create_prints_the_key_as_its_last_line() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let key = create_key(&db.url);
        assert!(key.starts_with("dk_") && key.len() > 40, "{key}");
        let store = db.store().await;
        assert_eq!(
            store.verify_api_key(&key).await.unwrap().map(|k| k.1),
            Some("durability".to_string())
        );
    }
}

#[tokio::test]
async fn acknowledged_reports_survive_kill_9() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let port = free_port();
        let server = Server::start(&db.url, port).await;
        let key = create_key(&db.url);
        let client = reqwest::Client::new();
        let mut acknowledged = Vec::new();
        // Fire requests concurrently and kill the server while some are still in flight.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60 {
            let client = client.clone();
            let url = format!("{}/open311/v2/requests.json", server.url);
            let key = key.clone();
            tasks.spawn(async move {
                let form = [
                    ("api_key", key.as_str()),
                    ("service_code", "CSCC"),
                    ("lat", "16.4741"),
                    ("long", "107.6121"),
                    ("attribute[lamp_state]", "off"),
                    ("description", &format!("Đèn số {i} không sáng")),
                ];
                let res = client.post(url).form(&form).send().await.ok()?;
                if res.status() != 200 {
                    return None;
                }
                let body: serde_json::Value = res.json().await.ok()?;
                body[0]["service_request_id"].as_str().map(str::to_string)
            });
            if i == 40 {
                // Let the first 40 finish, then kill with the rest racing.
                while tasks.len() > 20 {
                    if let Some(Ok(Some(id))) = tasks.join_next().await {
                        acknowledged.push(id);
                    }
                }
            }
        }
        server.kill9();
        while let Some(r) = tasks.join_next().await {
            if let Ok(Some(id)) = r {
                acknowledged.push(id);
            }
        }
        assert!(
            acknowledged.len() >= 20,
            "only {} acknowledged",
            acknowledged.len()
        );

        let server = Server::start(&db.url, port).await;
        for id in &acknowledged {
            let res = client
                .get(format!("{}/open311/v2/requests/{id}.json", server.url))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                200,
                "{backend:?}: acknowledged report {id} was lost"
            );
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body[0]["service_code"], "CSCC");
        }
        server.kill9();
    }
}

#[tokio::test]
async fn any_province_of_the_national_file_can_be_imported() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let national = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../reference/vn-admin-units-2025.json"
        );
        // Hà Tĩnh (42), the other province whose plan is in the seed documents.
        let out = Command::new(BIN)
            .args(["import", national, "--province", "42"])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let store = db.store().await;
        let units = &store.reference().admin_units;
        assert_eq!(
            summary["admin_units"].as_u64().unwrap() as usize,
            units.len()
        );
        assert!(
            units.len() > 50,
            "Hà Tĩnh has 69 communes and wards, got {}",
            units.len()
        );
        assert!(units.iter().all(|u| u.province_code == "42"));
        let out = Command::new(BIN)
            .args(["import", national, "--province", "99"])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("province 99 is not in"));
    }
}

#[tokio::test]
async fn user_create_makes_an_account_that_can_sign_in() {
    let db = TestDb::new(dothi_store::Backend::Sqlite).await;
    let out = Command::new(BIN)
        .args([
            "user",
            "create",
            "--username",
            "lan.ioc",
            "--password",
            "mat-khau-ioc-1",
            "--role",
            "ioc_operator",
        ])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = db.store().await;
    let (_, user) = store.login("lan.ioc", "mat-khau-ioc-1").await.unwrap();
    assert_eq!(user.role, dothi_domain::Role::IocOperator);
}
