//! Browser sign-in through the real application router: the session cookie, CSRF protection on
//! unsafe requests, the sign-in rate limit, and which role may open which page.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn req(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080")
}

async fn make_user(store: &Store, username: &str, role: Role, agency: Option<&str>) {
    store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: username.into(),
                display_name: format!("Người dùng {username}"),
                email: None,
                phone: None,
                password: "mat-khau-rat-dai".into(),
                role,
                agency_code: agency.map(str::to_string),
            },
        )
        .await
        .expect("user");
}

async fn app(db: &TestDb, config: dothi_http::HttpConfig) -> (Router, Store) {
    let store = db.hue_store().await;
    make_user(&store, "citizen", Role::Citizen, None).await;
    make_user(&store, "hepco", Role::AgencyStaff, Some("HEPCO")).await;
    make_user(&store, "ioc", Role::IocOperator, None).await;
    make_user(&store, "admin", Role::Admin, None).await;
    let router = dothi_web::app(store.clone(), config, dothi_web::WebConfig::default());
    (router, store)
}

/// Signs in through POST /api/v1/auth/session; returns (cookie pair, csrf token).
async fn sign_in(router: &Router, username: &str) -> (String, String) {
    let r = send(
        router,
        req(Method::POST, "/api/v1/auth/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": username, "password": "mat-khau-rat-dai"}).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let set_cookie = r.header(header::SET_COOKIE);
    let pair = set_cookie.split(';').next().unwrap().to_string();
    assert!(pair.starts_with("dothi_session="), "{set_cookie}");
    (pair, r.json()["csrf_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn session_cookie_is_httponly_and_carries_the_sign_in() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let (router, _) = app(&db, dothi_http::HttpConfig::default()).await;
        let r = send(
            &router,
            req(Method::POST, "/api/v1/auth/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    r#"{"username":"citizen","password":"mat-khau-rat-dai"}"#,
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let cookie = r.header(header::SET_COOKIE);
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
            assert!(
                cookie.contains(attribute),
                "{attribute} missing in {cookie}"
            );
        }
        assert!(
            !cookie.contains("Secure"),
            "plain http must not set Secure: {cookie}"
        );
        let body = r.json();
        assert_eq!(body["user"]["username"], "citizen");
        assert_eq!(body["csrf_token"].as_str().unwrap().len(), 32);

        let pair = cookie.split(';').next().unwrap();
        let me = send(
            &router,
            req(Method::GET, "/api/v1/me")
                .header(header::COOKIE, pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["username"], "citizen");

        // Sign-out revokes the token: the same cookie is no sign-in any more.
        let csrf = body["csrf_token"].as_str().unwrap();
        let out = send(
            &router,
            req(Method::DELETE, "/api/v1/auth/session")
                .header(header::COOKIE, pair)
                .header("x-csrf-token", csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.header(header::SET_COOKIE).contains("Max-Age=0"));
        let me = send(
            &router,
            req(Method::GET, "/api/v1/me")
                .header(header::COOKIE, pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let db = TestDb::new(BACKENDS[0]).await;
    let config = dothi_http::HttpConfig {
        secure_cookies: true,
        ..Default::default()
    };
    let (router, _) = app(&db, config).await;
    let r = send(
        &router,
        req(Method::POST, "/api/v1/auth/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"username":"citizen","password":"mat-khau-rat-dai"}"#,
            ))
            .unwrap(),
    )
    .await;
    assert!(r.header(header::SET_COOKIE).contains("Secure"));
}

#[tokio::test]
async fn unsafe_cookie_requests_need_the_csrf_token_and_our_origin() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let (router, _) = app(&db, dothi_http::HttpConfig::default()).await;
        let (cookie, csrf) = sign_in(&router, "citizen").await;
        let report = json!({
            "category": "CSCC", "description": "Đèn đường không sáng",
            "lat": 16.4741, "long": 107.6121, "attributes": {"lamp_state": "off"}
        })
        .to_string();
        let post = |csrf: Option<&str>, origin: Option<&str>| {
            let mut r = req(Method::POST, "/api/v1/reports")
                .header(header::COOKIE, cookie.as_str())
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(c) = csrf {
                r = r.header("x-csrf-token", c);
            }
            if let Some(o) = origin {
                r = r.header(header::ORIGIN, o);
            }
            r.body(Body::from(report.clone())).unwrap()
        };
        let missing = send(&router, post(None, None)).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        assert_eq!(
            missing.json(),
            json!({
                "type": "/problems/csrf",
                "title": "Cross-site request refused",
                "status": 403,
                "detail": "a request signed in by cookie must carry the X-CSRF-Token header"
            })
        );
        let wrong = send(
            &router,
            post(Some("0123456789abcdef0123456789abcdef"), None),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        assert_eq!(
            wrong.json()["detail"],
            "the X-CSRF-Token header does not belong to this session"
        );
        let foreign = send(&router, post(Some(&csrf), Some("https://evil.example"))).await;
        assert_eq!(foreign.status, StatusCode::FORBIDDEN);
        assert_eq!(
            foreign.json()["detail"],
            "the request comes from https://evil.example, not from this site"
        );
        let ok = send(&router, post(Some(&csrf), Some("http://127.0.0.1:8080"))).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
        // Nothing was written by the refused attempts.
        let mine = send(
            &router,
            req(Method::GET, "/api/v1/reports?mine=true")
                .header(header::COOKIE, cookie.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let items = mine.json()["items"].as_array().unwrap().len();
        assert_eq!(items, 1, "{}", mine.text);
        // Another session's token does not fit this cookie.
        let (_, other_csrf) = sign_in(&router, "hepco").await;
        let cross = send(&router, post(Some(&other_csrf), None)).await;
        assert_eq!(cross.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_user_name() {
    let db = TestDb::new(BACKENDS[0]).await;
    let config = dothi_http::HttpConfig {
        login_attempts_per_minute: 3,
        ..Default::default()
    };
    let (router, _) = app(&db, config).await;
    let attempt = |path: &str, username: &str| {
        req(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": username, "password": "sai-mat-khau"}).to_string(),
            ))
            .unwrap()
    };
    for _ in 0..3 {
        let r = send(&router, attempt("/api/v1/auth/session", "citizen")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The fourth attempt is refused before the password is checked, on both sign-in routes,
    // also with the right password, and with the user name spelt differently.
    let r = send(&router, attempt("/api/v1/auth/token", "CITIZEN")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let wait: u64 = r.header(header::RETRY_AFTER).parse().unwrap();
    assert!((1..=61).contains(&wait), "Retry-After {wait}");
    assert_eq!(r.json()["type"], "/problems/too-many-attempts");
    let right = send(
        &router,
        req(Method::POST, "/api/v1/auth/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"username":"citizen","password":"mat-khau-rat-dai"}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other users are not locked out.
    sign_in(&router, "hepco").await;
}

fn boot_of(html: &str) -> Value {
    let start = html
        .find(r#"<script id="boot" type="application/json">"#)
        .unwrap()
        + 42;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[tokio::test]
async fn each_role_opens_only_its_own_pages() {
    let db = TestDb::new(BACKENDS[0]).await;
    let (router, _) = app(&db, dothi_http::HttpConfig::default()).await;
    let page = |path: &str, cookie: Option<&str>| {
        let mut r = req(Method::GET, path).header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        r.body(Body::empty()).unwrap()
    };
    // Strangers: public pages open, the others send to sign-in with the way back.
    for path in [
        "/",
        "/login",
        "/register",
        "/reports/1",
        "/dataset",
        "/dataset/chat-luong-khong-khi",
    ] {
        assert_eq!(
            send(&router, page(path, None)).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in [
        "/report",
        "/my",
        "/inbox",
        "/inbox/3",
        "/ioc",
        "/ioc/sharing-log",
        "/admin",
        "/admin/users",
        "/admin/sharing",
    ] {
        let r = send(&router, page(path, None)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            r.header(header::LOCATION),
            format!("/login?next={path}"),
            "{path}"
        );
    }
    let expect = [
        (
            "citizen",
            ["/report", "/my"].as_slice(),
            ["/inbox", "/ioc", "/ioc/sharing-log", "/admin"].as_slice(),
        ),
        (
            "hepco",
            &["/report", "/my", "/inbox", "/inbox/3"],
            &["/ioc", "/ioc/sharing-log", "/admin/users", "/admin/sharing"],
        ),
        (
            "ioc",
            &["/inbox", "/ioc", "/ioc/sharing-log"],
            &["/admin", "/admin/categories", "/admin/sharing"],
        ),
        (
            "admin",
            &[
                "/inbox",
                "/ioc",
                "/ioc/sharing-log",
                "/admin",
                "/admin/categories",
                "/admin/sharing",
                "/admin/sharing-log",
            ],
            &[],
        ),
    ];
    for (who, allowed, refused) in expect {
        let (cookie, csrf) = sign_in(&router, who).await;
        for path in allowed {
            let r = send(&router, page(path, Some(&cookie))).await;
            assert_eq!(r.status, StatusCode::OK, "{who} {path}");
            let boot = boot_of(&r.text);
            assert_eq!(boot["user"]["username"], who);
            assert_eq!(boot["csrf"], csrf.as_str());
            if *path == "/ioc/sharing-log" {
                // Its own page, titled by the server in the page's language.
                assert_eq!(boot["page"], "sharing-log");
                assert!(
                    r.text.contains("<title>Nhật ký chia sẻ dữ liệu · "),
                    "{}",
                    r.text
                );
            }
        }
        for path in refused {
            let r = send(&router, page(path, Some(&cookie))).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} {path}");
            assert_eq!(boot_of(&r.text)["page"], "forbidden");
        }
    }
}

#[tokio::test]
async fn the_open_data_pages_are_public_and_pass_the_exports_on() {
    let db = TestDb::new(BACKENDS[0]).await;
    let (router, store) = app(&db, dothi_http::HttpConfig::default()).await;
    for (path, page, title) in [
        ("/dataset", "datasets", "Cổng dữ liệu mở"),
        (
            "/dataset?q=khong+khi&tags=AQI",
            "datasets",
            "Cổng dữ liệu mở",
        ),
        (
            "/dataset/chat-luong-khong-khi-hue-2025",
            "dataset",
            "Bộ dữ liệu",
        ),
    ] {
        let r = send(&router, req(Method::GET, path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(boot_of(&r.text)["page"], page, "{path}");
        assert!(
            r.text.contains(&format!(
                "<title>{title} · dothi — Đô thị thông minh Huế</title>"
            )),
            "{path}"
        );
    }
    // /dataset/{id}.ttl is the dataset's DCAT-AP export, never the page.
    for path in [
        "/dataset/chat-luong-khong-khi-hue-2025.ttl",
        "/dataset/x.jsonld",
    ] {
        let r = send(&router, req(Method::GET, path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text.contains("<html"), "{path}");
    }
    // With the exports' router configured (as `dothi serve` does with dothi-ckan's), the page
    // route hands those paths to it, query and headers included.
    let exports = axum::Router::new().route(
        "/dataset/{file}",
        axum::routing::get(
            |axum::extract::Path(file): axum::extract::Path<String>,
             uri: axum::http::Uri,
             headers: axum::http::HeaderMap| async move {
                format!(
                    "export {file} {} {}",
                    uri.query().unwrap_or(""),
                    headers
                        .get("accept")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                )
            },
        ),
    );
    let web = dothi_web::WebConfig {
        dataset_exports: Some(exports),
        ..Default::default()
    };
    let router = dothi_web::app(store, dothi_http::HttpConfig::default(), web);
    let r = send(
        &router,
        req(Method::GET, "/dataset/x.jsonld?a=1")
            .header("accept", "application/ld+json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, "export x.jsonld a=1 application/ld+json");
    let r = send(
        &router,
        req(Method::GET, "/dataset/x").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(r.text.contains("<html"));
    // Content negotiation on the page's own URL (ckanext-dcat's): an RDF client gets the
    // export, a browser or `*/*` the page; every answer varies with Accept.
    for (accept, expected) in [
        ("text/turtle", Some("export x.ttl b=2 text/turtle")),
        (
            "application/rdf+xml",
            Some("export x.rdf b=2 application/rdf+xml"),
        ),
        (
            "application/ld+json;q=0.9, text/turtle;q=0.5",
            Some("export x.jsonld b=2 application/ld+json;q=0.9, text/turtle;q=0.5"),
        ),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            None,
        ),
        ("*/*", None),
    ] {
        let r = send(
            &router,
            req(Method::GET, "/dataset/x?b=2")
                .header("accept", accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
        match expected {
            Some(text) => assert_eq!(r.text, text),
            None => assert!(r.text.contains("<html"), "{accept}"),
        }
        let vary = r.headers.get("vary").and_then(|v| v.to_str().ok());
        assert!(
            vary.is_some_and(|v| v.split(',').any(|t| t.trim() == "Accept")),
            "{accept}: {vary:?}"
        );
    }
}

#[tokio::test]
async fn the_shell_is_vietnamese_first_and_safe() {
    let db = TestDb::new(BACKENDS[0]).await;
    let (router, _) = app(&db, dothi_http::HttpConfig::default()).await;
    let r = send(
        &router,
        req(Method::GET, "/login").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(r.text.contains(r#"<html lang="vi">"#));
    assert!(r
        .text
        .contains("<title>Đăng nhập · dothi — Đô thị thông minh Huế</title>"));
    let csp = r.header(header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        boot_of(&r.text),
        json!({
            "page": "login", "lang": "vi", "user": null, "csrf": null,
            "config": {
                "tiles": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                          "attribution": "© OpenStreetMap contributors"},
                "center": [16.4637, 107.5909], "zoom": 12
            }
        })
    );
    let en = send(
        &router,
        req(Method::GET, "/login")
            .header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.8")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(en
        .text
        .contains("<title>Sign in · dothi — Huế smart city</title>"));
    assert_eq!(boot_of(&en.text)["lang"], "en");
    // API clients still get the service description at /.
    let root = send(&router, req(Method::GET, "/").body(Body::empty()).unwrap()).await;
    assert_eq!(root.json()["name"], "dothi");
}

#[tokio::test]
async fn assets_are_embedded_with_cache_validation() {
    let db = TestDb::new(BACKENDS[0]).await;
    let (router, _) = app(&db, dothi_http::HttpConfig::default()).await;
    let r = send(
        &router,
        req(Method::GET, "/assets/app.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header(header::CONTENT_TYPE).contains("javascript"));
    assert_eq!(r.header(header::CACHE_CONTROL), "no-cache");
    let etag = r.header(header::ETAG);
    let again = send(
        &router,
        req(Method::GET, "/assets/app.js")
            .header(header::IF_NONE_MATCH, etag.as_str())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let css = send(
        &router,
        req(Method::GET, "/assets/style.css")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(css.header(header::CONTENT_TYPE).starts_with("text/css"));
    assert!(
        css.text.contains(".leaflet-container"),
        "leaflet CSS is bundled"
    );
    let missing = send(
        &router,
        req(Method::GET, "/assets/nope.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header(header::CONTENT_TYPE),
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_mistyped_tile_setting_never_breaks_the_pages() {
    let db = TestDb::new(BACKENDS[0]).await;
    let store = db.hue_store().await;
    for url in [
        "https://bản-đồ.hue.vn/{z}/{x}/{y}.png",
        "https://tiles.example; script-src *",
    ] {
        let web = dothi_web::WebConfig {
            tiles_url: Some(url.into()),
            ..Default::default()
        };
        let router = dothi_web::app(store.clone(), dothi_http::HttpConfig::default(), web);
        let r = send(
            &router,
            req(Method::GET, "/login").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        let csp = r.header(header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains("img-src 'self' data: blob:; connect-src"),
            "{url}: {csp}"
        );
    }
}
