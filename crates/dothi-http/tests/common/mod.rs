#![allow(dead_code)]
//! Test harness: the whole HTTP app in-process over a fresh store on each backend.

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

pub struct App {
    pub router: Router,
    pub store: Store,
    pub db: TestDb,
    pub admin: String,
    pub ioc: String,
    pub hepco: String,
    pub huewaco: String,
    pub citizen: String,
    pub citizen_id: i64,
    pub other_citizen: String,
}

pub async fn user(
    store: &Store,
    username: &str,
    role: Role,
    agency: Option<&str>,
) -> (String, i64) {
    let user = store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: username.into(),
                display_name: format!("Người dùng {username}"),
                email: Some(format!("{username}@example.vn")),
                phone: Some("0905123456".into()),
                password: "mat-khau-rat-dai".into(),
                role,
                agency_code: agency.map(str::to_string),
            },
        )
        .await
        .expect("create user");
    (store.issue_token(user.id).await.expect("token"), user.id)
}

impl App {
    pub async fn new(backend: Backend) -> App {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let router = dothi_http::app(store.clone(), dothi_http::HttpConfig::default());
        let (admin, _) = user(&store, "admin", Role::Admin, None).await;
        let (ioc, _) = user(&store, "ioc", Role::IocOperator, None).await;
        let (hepco, _) = user(&store, "hepco", Role::AgencyStaff, Some("HEPCO")).await;
        let (huewaco, _) = user(&store, "huewaco", Role::AgencyStaff, Some("HUEWACO")).await;
        let (citizen, citizen_id) = user(&store, "citizen", Role::Citizen, None).await;
        let (other_citizen, _) = user(&store, "other", Role::Citizen, None).await;
        App {
            router,
            store,
            db,
            admin,
            ioc,
            hepco,
            huewaco,
            citizen,
            citizen_id,
            other_citizen,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, String, Value) {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, json)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let (status, _, json) = self.send(req).await;
        (status, json)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A street-light report in Phường Vỹ Dạ, which routes to HEPCO.
    pub async fn street_light(&self, description: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/reports",
                Some(&self.citizen),
                serde_json::json!({
                    "category": "CSCC",
                    "description": description,
                    "lat": 16.4741, "long": 107.6121,
                    "address": "Nguyễn Sinh Cung, phường Vỹ Dạ",
                    "attributes": {"lamp_state": "off"}
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["report"].clone()
    }
}

pub const BACKENDS: [Backend; 2] = dothi_store::testing::BACKENDS;

/// A small PNG made in memory.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

pub fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "dothi-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
