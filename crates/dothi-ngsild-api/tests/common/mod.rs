//! A broker on a fresh database of either backend, driven through its HTTP router.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use dothi_broker::{Broker, BrokerConfig};
use dothi_store::testing::TestDb;
use dothi_store::Backend;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub use dothi_store::testing::BACKENDS;

pub const CORE_LINK: &str = "<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"";

pub struct App {
    pub router: Router,
    pub broker: Broker,
    _db: TestDb,
}

/// One answer: status, headers and the body parsed as JSON (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl App {
    pub async fn new(backend: Backend) -> App {
        Self::with_access(backend, dothi_broker::Access::Open).await
    }

    pub async fn with_access(backend: Backend, access: dothi_broker::Access) -> App {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let config = BrokerConfig {
            access,
            ..BrokerConfig::default()
        };
        let broker = Broker::new(store, config);
        App {
            router: Router::new().nest("/ngsi-ld/v1", dothi_ngsild_api::router(broker.clone())),
            broker,
            _db: db,
        }
    }

    /// A new broker and router on the same database, as after a process restart (background
    /// tasks of the old broker are the caller's to stop).
    pub async fn restart(&mut self) {
        let store = self._db.store().await;
        let broker = Broker::new(store, (*self.broker.config).clone());
        self.router = Router::new().nest("/ngsi-ld/v1", dothi_ngsild_api::router(broker.clone()));
        self.broker = broker;
    }

    /// Runs one SQL statement on the database behind the broker's back, to stage faults that
    /// no request can cause.
    pub async fn sql(&self, statement: &str) {
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self._db.url)
            .await
            .expect("connect to the test database");
        conn.execute(statement).await.expect("staging statement");
    }

    /// Sends a request; `body` is sent verbatim with `content_type`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(encode(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some((content_type, text)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(text)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], None).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, headers, None).await
    }

    /// A JSON body with Content-Type application/json (context from `headers`' Link, if any).
    pub async fn json(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.send(
            method,
            path,
            &[],
            Some(("application/json", body.to_string())),
        )
        .await
    }

    /// A JSON-LD body: the context travels inside it.
    pub async fn json_ld(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.send(
            method,
            path,
            &[],
            Some(("application/ld+json", body.to_string())),
        )
        .await
    }
}

/// The ProblemDetails body the broker sends for `kind` with `status`.
pub fn problem(kind: &str, title: &str, status: u16, detail: &str) -> Value {
    serde_json::json!({
        "type": format!("https://uri.etsi.org/ngsi-ld/errors/{kind}"),
        "title": title,
        "status": status,
        "detail": detail,
    })
}

/// Percent-encodes what may not appear raw in a URI (`<>"|[]{}` and spaces), as a client
/// library would, so that tests can write queries as the specification prints them.
pub fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '<' | '>' | '"' | '|' | '[' | ']' | '{' | '}' | ' ' | '^' | '`' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c if !c.is_ascii() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}
