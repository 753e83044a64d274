#![allow(dead_code)]
//! Test harness: the CKAN router in-process over a fresh store on each backend, with the Huế
//! agencies as organizations and a token per kind of caller.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use dothi_store::testing::TestDb;
use dothi_store::{Backend, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const BACKENDS: [Backend; 2] = dothi_store::testing::BACKENDS;
pub const BASE: &str = "http://ckan.test";

pub struct App {
    pub router: Router,
    pub store: Store,
    pub db: TestDb,
    pub data_dir: std::path::PathBuf,
    pub admin: String,
    pub ioc: String,
    /// Staff of HEPCO (organization "hepco").
    pub hepco: String,
    /// Staff of HUEWACO (organization "huewaco").
    pub huewaco: String,
    pub citizen: String,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn user(store: &Store, username: &str, role: Role, agency: Option<&str>) -> String {
    let user = store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: username.into(),
                display_name: format!("Người dùng {username}"),
                email: Some(format!("{username}@example.vn")),
                phone: None,
                password: "mat-khau-rat-dai".into(),
                role,
                agency_code: agency.map(str::to_string),
            },
        )
        .await
        .expect("create user");
    store.issue_token(user.id).await.expect("token")
}

impl App {
    pub async fn new(backend: Backend) -> App {
        Self::with_upload_limit(backend, 10 * 1024 * 1024).await
    }

    pub async fn with_upload_limit(backend: Backend, max_upload_bytes: u64) -> App {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        store
            .catalog_sync_organizations()
            .await
            .expect("organizations");
        let data_dir = std::env::temp_dir().join(format!(
            "dothi-ckan-test-{}-{}",
            std::process::id(),
            dothi_catalog::new_id()
        ));
        let router = dothi_ckan::router(
            store.clone(),
            dothi_ckan::CkanConfig {
                base_url: BASE.into(),
                data_dir: data_dir.clone(),
                max_upload_bytes,
                ..Default::default()
            },
        );
        App {
            admin: user(&store, "admin", Role::Admin, None).await,
            ioc: user(&store, "ioc", Role::IocOperator, None).await,
            hepco: user(&store, "hepco", Role::AgencyStaff, Some("HEPCO")).await,
            huewaco: user(&store, "huewaco", Role::AgencyStaff, Some("HUEWACO")).await,
            citizen: user(&store, "citizen", Role::Citizen, None).await,
            router,
            store,
            db,
            data_dir,
        }
    }

    /// The configuration the router was built with (for the DCAT-AP dataset exports' router).
    pub fn config(&self) -> dothi_ckan::CkanConfig {
        dothi_ckan::CkanConfig {
            base_url: BASE.into(),
            data_dir: self.data_dir.clone(),
            ..Default::default()
        }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, json)
    }

    pub async fn raw(&self, path: &str) -> (StatusCode, Vec<u8>, Option<String>) {
        let req = Request::get(path).body(Body::empty()).unwrap();
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, bytes.to_vec(), ct)
    }

    /// POST a JSON body to an action, with the token sent raw as ckanapi sends it.
    pub async fn action(
        &self,
        name: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/3/action/{name}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, t);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub async fn get(&self, path_and_query: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(Method::GET).uri(path_and_query);
        if let Some(t) = token {
            req = req.header("X-CKAN-API-Key", t);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// A multipart/form-data action call: text fields and one `upload` file.
    pub async fn multipart(
        &self,
        name: &str,
        token: Option<&str>,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> (StatusCode, Value) {
        let boundary = "dothi-test-boundary-7d1c";
        let mut body: Vec<u8> = vec![];
        for (k, v) in fields {
            body.extend(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((filename, content)) = file {
            body.extend(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend(content);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/3/action/{name}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            );
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, t);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// Files under the resources folder (temporary ones included).
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, out);
                    } else {
                        out.push(p);
                    }
                }
            }
        }
        let mut out = vec![];
        walk(&self.data_dir.join("resources"), &mut out);
        out.sort();
        out
    }
}

/// The response with what changes from run to run replaced: instants by "<time>", random
/// ids by "<id1>", "<id2>", … in order of first appearance (the same id, the same mark).
/// Ids derived from names (organizations, groups, tags) stay as they are, so they are checked.
pub fn normalise(v: &Value) -> Value {
    let time = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$").unwrap();
    let uuid4 =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
            .unwrap();
    let mut ids: HashMap<String, String> = HashMap::new();
    fn walk(
        v: &Value,
        time: &regex::Regex,
        uuid4: &regex::Regex,
        ids: &mut HashMap<String, String>,
    ) -> Value {
        match v {
            Value::String(s) if time.is_match(s) => Value::String("<time>".into()),
            Value::String(s) => {
                let out = uuid4.replace_all(s, |c: &regex::Captures| {
                    let n = ids.len() + 1;
                    ids.entry(c[0].to_string())
                        .or_insert_with(|| format!("<id{n}>"))
                        .clone()
                });
                Value::String(out.into_owned())
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, time, uuid4, ids)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), walk(x, time, uuid4, ids)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    walk(v, &time, &uuid4, &mut ids)
}

/// An action call and the whole answer it must get: action, token, body, (status, answer).
pub type Case<'a> = (&'a str, Option<&'a str>, Value, (StatusCode, Value));

impl App {
    /// Runs each case and asserts its whole answer.
    pub async fn check(&self, backend: Backend, cases: Vec<Case<'_>>) {
        for (action, token, body, expected) in cases {
            let got = self.action(action, token, body.clone()).await;
            assert_eq!(got, expected, "{backend:?} {action} {body}");
        }
    }
}

/// The `help` URL of an action's answers.
pub fn help(action: &str) -> String {
    format!("{BASE}/api/3/action/help_show?name={action}")
}

/// A successful action's whole answer.
pub fn ok(action: &str, result: Value) -> Value {
    serde_json::json!({"help": help(action), "success": true, "result": result})
}

/// A failed action's whole answer.
pub fn failed(action: &str, error: Value) -> Value {
    serde_json::json!({"help": help(action), "success": false, "error": error})
}

pub fn org_id(code: &str) -> String {
    dothi_catalog::stable_id("organization", code)
}

/// GET on another router: status, body and content type.
pub async fn raw_on(router: &Router, path: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, bytes.to_vec(), ct)
}
