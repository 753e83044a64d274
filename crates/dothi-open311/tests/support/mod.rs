//! Shared fixtures for the Open311 HTTP tests: a router over a fresh Huế store on each
//! backend, request helpers, and an XML flattener for structural assertions.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use dothi_domain::Actor;
use dothi_open311::{router, Open311Config};
use dothi_store::testing::TestDb;
use dothi_store::{Backend, Store};
use http_body_util::BodyExt;
use quick_xml::events::Event;
use serde_json::Value;
use tower::ServiceExt;

pub const BASE_URL: &str = "http://127.0.0.1:8080";
pub const JSON: &str = "application/json; charset=utf-8";
pub const XML: &str = "text/xml; charset=utf-8";
pub const XML_DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

pub fn config() -> Open311Config {
    Open311Config {
        base_url: BASE_URL.into(),
        jurisdiction_id: "hue.gov.vn".into(),
        contact: "Trung tâm IOC Huế, 1022, ioc@hue.gov.vn".into(),
        key_service: "Liên hệ ioc@hue.gov.vn để được cấp api_key".into(),
    }
}

pub struct Env {
    pub backend: Backend,
    pub store: Store,
    pub app: Router,
    pub key: String,
    _db: TestDb,
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let (key, _) = store
            .create_api_key(&Actor::system(), "test")
            .await
            .expect("api key");
        let app = router(store.clone(), config());
        Env {
            backend,
            store,
            app,
            key,
            _db: db,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Resp {
            status,
            content_type,
            body: String::from_utf8(body.to_vec()).expect("UTF-8 body"),
        }
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_form(&self, uri: &str, pairs: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// `fields` as text parts and each of `files` as a `media` part.
    pub async fn post_multipart(
        &self,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> Resp {
        let boundary = "dothi-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
            );
        }
        for (file_name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            Request::post(uri)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// The parameters of a valid street-light report; callers add or override.
    pub fn lamp_report(&self) -> Vec<(&str, &str)> {
        vec![
            ("api_key", self.key.as_str()),
            ("service_code", "CSCC"),
            ("description", "Đèn đường kiệt 27 không sáng ba đêm nay"),
            ("address_string", "Kiệt 27, phường Hương Trà"),
            ("attribute[lamp_state]", "off"),
        ]
    }

    /// Submit a report through Open311 and return its id.
    pub async fn submit(&self, pairs: &[(&str, &str)]) -> i64 {
        let res = self.post_form("/requests.json", pairs).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "{:?}: {}",
            self.backend,
            res.body
        );
        res.json()[0]["service_request_id"]
            .as_str()
            .expect("id string")
            .parse()
            .expect("numeric id")
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        assert_eq!(self.content_type, JSON, "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn xml(&self) -> Vec<String> {
        assert_eq!(self.content_type, XML, "{}", self.body);
        xml_lines(&self.body)
    }
}

/// The XML document flattened to one `path=text` line per leaf element, in document order,
/// after checking the declaration and that the document parses. An empty element (null)
/// gives `path=`.
pub fn xml_lines(body: &str) -> Vec<String> {
    assert!(
        body.starts_with(XML_DECL),
        "missing XML declaration: {body}"
    );
    let mut reader = quick_xml::Reader::from_str(body);
    let mut path: Vec<String> = Vec::new();
    let mut has_children: Vec<bool> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML ({e}): {body}"))
        {
            Event::Decl(_) => {}
            Event::Start(e) => {
                if let Some(parent) = has_children.last_mut() {
                    *parent = true;
                }
                path.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                has_children.push(false);
                text.clear();
            }
            Event::Empty(e) => {
                if let Some(parent) = has_children.last_mut() {
                    *parent = true;
                }
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                out.push(format!("{}/{name}=", path.join("/")));
            }
            Event::Text(t) => text.push_str(&t.unescape().unwrap()),
            Event::End(_) => {
                if !has_children.pop().unwrap() {
                    out.push(format!("{}={text}", path.join("/")));
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?} in {body}"),
        }
    }
    assert!(path.is_empty(), "unbalanced XML: {body}");
    out
}

/// The Open311 error body in both formats.
pub fn error_json(code: u16, description: &str) -> String {
    serde_json::to_string(&serde_json::json!([{"code": code, "description": description}])).unwrap()
}

pub fn error_xml(code: u16, description: &str) -> String {
    let escaped = description
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;");
    format!("{XML_DECL}<errors><error><code>{code}</code><description>{escaped}</description></error></errors>")
}

/// The GeoReport fields of a request in spec order, as they must appear in XML.
pub const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

/// The XML lines a request must produce, given its expected JSON: the spec fields in spec
/// order and none of our JSON-only extensions.
pub fn request_xml_lines(expected: &Value) -> Vec<String> {
    REQUEST_FIELDS
        .iter()
        .map(|f| {
            let v = match &expected[f] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("service_requests/request/{f}={v}")
        })
        .collect()
}

/// Keys of each JSON object in `body` must appear in this order (serde_json's `Value`
/// forgets order, so the raw text is checked).
pub fn assert_key_order(body: &str, keys: &[&str]) {
    let mut last = 0;
    for k in keys {
        let needle = format!("\"{k}\":");
        let at = body[last..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{k} missing or out of order in {body}"));
        last += at + needle.len();
    }
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
