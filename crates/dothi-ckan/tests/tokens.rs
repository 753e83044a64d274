#![recursion_limit = "256"]
//! CKAN API tokens (`api_token_create`, `api_token_list`, `api_token_revoke`) and the web
//! session on read actions, over HTTP on SQLite and PostgreSQL.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{failed, normalise, ok, App, Case, BACKENDS};
use dothi_domain::{Actor, Role};
use serde_json::{json, Value};

fn denied(action: &str, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::FORBIDDEN,
        failed(
            action,
            json!({"__type": "Authorization Error", "message": message}),
        ),
    )
}

fn invalid(action: &str, errors: Value) -> (StatusCode, Value) {
    let mut error = errors;
    error["__type"] = json!("Validation Error");
    (StatusCode::CONFLICT, failed(action, error))
}

async fn user_id(app: &App, name: &str) -> i64 {
    app.store.catalog_user(name).await.unwrap().unwrap().user.id
}

fn private_dataset(name: &str) -> Value {
    json!({"name": name, "title": "Sự cố lưới điện", "owner_org": "hepco", "private": true})
}

/// A new token of `user`, created by `by`.
async fn create(app: &App, by: &str, user: &str, extra: Value) -> String {
    let mut body = json!({"user": user, "name": "ckanapi trên máy chủ"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, created) = app.action("api_token_create", Some(by), body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let token = created["result"]["token"].as_str().unwrap().to_string();
    assert_eq!(created, ok("api_token_create", json!({"token": token})));
    assert!(
        regex::Regex::new(r"^da_[A-Za-z0-9_-]{43}$")
            .unwrap()
            .is_match(&token),
        "{token}"
    );
    token
}

#[tokio::test]
async fn a_token_acts_as_its_user_until_revoked() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let hepco = user_id(&app, "hepco").await;
        let token = create(&app, &app.hepco, "hepco", json!({})).await;

        // Listed without the secret; never used yet.
        let (status, listed) = app
            .action(
                "api_token_list",
                Some(&app.hepco),
                json!({"user_id": "hepco"}),
            )
            .await;
        let row = |last_access: Value| {
            json!({"created_at": "<time>", "expires_at": null, "id": "<id1>",
                   "last_access": last_access, "name": "ckanapi trên máy chủ",
                   "user_id": hepco.to_string()})
        };
        assert_eq!(
            (status, normalise(&listed)),
            (
                StatusCode::OK,
                ok("api_token_list", json!([row(json!(null))]))
            ),
            "{backend:?}"
        );
        assert!(!listed.to_string().contains(&token));

        // The token writes as hepco, sent raw (ckanapi), after Bearer, or in X-CKAN-API-Key.
        let (status, created) = app
            .action(
                "package_create",
                Some(&token),
                private_dataset("su-co-luoi-dien"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        assert_eq!(
            created["result"]["creator_user_id"],
            json!(hepco.to_string())
        );
        let (status, _) = app
            .get(
                "/api/3/action/package_show?id=su-co-luoi-dien",
                Some(&token),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let req = Request::builder()
            .uri("/api/3/action/user_show")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let (_, me) = app.send(req).await;
        assert_eq!(me["result"]["name"], "hepco");

        // The use is recorded.
        let (_, listed) = app
            .action("api_token_list", Some(&token), json!({"user": "hepco"}))
            .await;
        assert_eq!(
            normalise(&listed),
            ok("api_token_list", json!([row(json!("<time>"))])),
            "{backend:?}"
        );
        let jti = listed["result"][0]["id"].as_str().unwrap().to_string();

        // Another agency's staff can neither list nor revoke it.
        let (status, body) = app
            .action(
                "api_token_list",
                Some(&app.huewaco),
                json!({"user_id": "hepco"}),
            )
            .await;
        assert_eq!((status, body), denied("api_token_list", "Access denied"));
        let (status, body) = app
            .action("api_token_revoke", Some(&app.huewaco), json!({"jti": jti}))
            .await;
        assert_eq!((status, body), denied("api_token_revoke", "Access denied"));

        // Revoked by its owner: writes and private reads are refused as for anonymous callers.
        let (status, body) = app
            .action("api_token_revoke", Some(&app.hepco), json!({"jti": jti}))
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, ok("api_token_revoke", Value::Null))
        );
        let dataset_id = created["result"]["id"].as_str().unwrap();
        let (status, body) = app
            .action(
                "package_patch",
                Some(&token),
                json!({"id": "su-co-luoi-dien"}),
            )
            .await;
        assert_eq!(
            (status, body),
            denied(
                "package_patch",
                &format!("Access denied: User  not authorized to read package {dataset_id}")
            ),
            "{backend:?}"
        );
        let (status, _) = app
            .get(
                "/api/3/action/package_show?id=su-co-luoi-dien",
                Some(&token),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
        let (_, listed) = app
            .action(
                "api_token_list",
                Some(&app.hepco),
                json!({"user_id": "hepco"}),
            )
            .await;
        assert_eq!(listed["result"], json!([]));

        // Revoking by the token itself; a sysadmin revokes anyone's.
        let second = create(&app, &app.admin, "hepco", json!({})).await;
        let (status, body) = app
            .action("api_token_revoke", Some(&second), json!({"token": second}))
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, ok("api_token_revoke", Value::Null))
        );
        let (status, _) = app.get("/api/3/action/user_show", Some(&second)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "anonymous: no own profile");
        let third = create(&app, &app.hepco, "hepco", json!({})).await;
        let third_jti = app
            .store
            .api_token_by_secret(&third)
            .await
            .unwrap()
            .unwrap()
            .id;
        let (status, _) = app
            .action(
                "api_token_revoke",
                Some(&app.admin),
                json!({"jti": third_jti}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .action(
                "package_patch",
                Some(&third),
                json!({"id": "su-co-luoi-dien"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
    }
}

#[tokio::test]
async fn expired_tokens_and_deactivated_users_are_anonymous() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let hepco = user_id(&app, "hepco").await;
        // Two days, as ckanext-expire-api-token's form sends it (2 × 86400 s).
        let token = create(
            &app,
            &app.hepco,
            "hepco",
            json!({"expires_in": 2, "unit": "86400"}),
        )
        .await;
        let (_, listed) = app
            .action(
                "api_token_list",
                Some(&app.hepco),
                json!({"user_id": "hepco"}),
            )
            .await;
        let at = |key: &str| {
            chrono::DateTime::parse_from_rfc3339(listed["result"][0][key].as_str().unwrap())
                .unwrap()
        };
        assert_eq!(
            at("expires_at") - at("created_at"),
            chrono::Duration::days(2)
        );
        let (status, _) = app
            .action("package_create", Some(&token), private_dataset("con-han"))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");

        let (expired, _) = app
            .store
            .create_api_token(hepco, "hết hạn", Some(-1))
            .await
            .unwrap();
        let (status, body) = app
            .action("package_create", Some(&expired), private_dataset("het-han"))
            .await;
        assert_eq!(
            (status, body),
            denied(
                "package_create",
                "Access denied: Action package_create requires an authenticated user"
            )
        );

        // Deactivating the user ends their tokens for good.
        app.store
            .update_user(
                &Actor::system(),
                hepco,
                Role::AgencyStaff,
                Some("HEPCO"),
                false,
            )
            .await
            .unwrap();
        app.store
            .update_user(
                &Actor::system(),
                hepco,
                Role::AgencyStaff,
                Some("HEPCO"),
                true,
            )
            .await
            .unwrap();
        let (status, _) = app
            .action("package_create", Some(&token), private_dataset("sau-khoa"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
        assert_eq!(app.store.api_tokens_of(hepco).await.unwrap(), vec![]);
    }
}

#[tokio::test]
async fn token_actions_refuse_with_ckans_errors() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let cases: Vec<Case> = vec![
            (
                "api_token_create",
                None,
                json!({"user": "hepco", "name": "x"}),
                denied(
                    "api_token_create",
                    "Access denied: Action api_token_create requires an authenticated user",
                ),
            ),
            (
                "api_token_create",
                Some(&app.hepco),
                json!({}),
                invalid(
                    "api_token_create",
                    json!({"name": ["Missing value"], "user": ["Missing value"]}),
                ),
            ),
            (
                "api_token_create",
                Some(&app.hepco),
                json!({"user": "huewaco", "name": "x"}),
                denied("api_token_create", "Access denied"),
            ),
            // Not told apart from somebody else's account.
            (
                "api_token_create",
                Some(&app.hepco),
                json!({"user": "khong-ai", "name": "x"}),
                denied("api_token_create", "Access denied"),
            ),
            (
                "api_token_create",
                Some(&app.admin),
                json!({"user": "khong-ai", "name": "x"}),
                (
                    StatusCode::NOT_FOUND,
                    failed(
                        "api_token_create",
                        json!({"__type": "Not Found Error", "message": "Not found: User not found"}),
                    ),
                ),
            ),
            (
                "api_token_create",
                Some(&app.hepco),
                json!({"user": "hepco", "name": " ", "expires_in": 0, "unit": "giờ"}),
                invalid(
                    "api_token_create",
                    json!({"name": ["Missing value"],
                           "expires_in": ["Must be a positive integer"],
                           "unit": ["Invalid integer"]}),
                ),
            ),
            (
                "api_token_create",
                Some(&app.hepco),
                json!({"user": "hepco", "name": "x", "expires_in": 3}),
                invalid("api_token_create", json!({"unit": ["Missing value"]})),
            ),
            (
                "api_token_create",
                Some(&app.hepco),
                json!({"user": "hepco", "name": "x", "expires_in": i64::MAX, "unit": 86400}),
                invalid(
                    "api_token_create",
                    json!({"expires_in": ["The expiry is too far in the future"]}),
                ),
            ),
            (
                "api_token_list",
                Some(&app.hepco),
                json!({}),
                invalid("api_token_list", json!({"user_id": ["Missing value"]})),
            ),
            (
                "api_token_list",
                None,
                json!({"user_id": "hepco"}),
                denied(
                    "api_token_list",
                    "Access denied: Action api_token_list requires an authenticated user",
                ),
            ),
            (
                "api_token_list",
                Some(&app.admin),
                json!({"user_id": "khong-ai"}),
                (
                    StatusCode::NOT_FOUND,
                    failed(
                        "api_token_list",
                        json!({"__type": "Not Found Error", "message": "Not found: User not found"}),
                    ),
                ),
            ),
            (
                "api_token_revoke",
                Some(&app.hepco),
                json!({}),
                invalid("api_token_revoke", json!({"token": ["Missing value"]})),
            ),
            (
                "api_token_revoke",
                None,
                json!({"jti": "x"}),
                denied(
                    "api_token_revoke",
                    "Access denied: Action api_token_revoke requires an authenticated user",
                ),
            ),
            (
                "api_token_revoke",
                Some(&app.hepco),
                json!({"token": "da_khong-co"}),
                denied("api_token_revoke", "Access denied"),
            ),
            (
                "api_token_revoke",
                Some(&app.admin),
                json!({"jti": "khong-co"}),
                (StatusCode::OK, ok("api_token_revoke", Value::Null)),
            ),
        ];
        app.check(backend, cases).await;
        // Reads only: GET is refused for the write actions, as CKAN does.
        let (status, body) = app
            .get(
                "/api/3/action/api_token_create?user=hepco&name=x",
                Some(&app.hepco),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!("Bad request - JSON Error: Invalid request. Please use POST method for your request")
            )
        );
    }
}

/// A request signed in by the web session's cookie only.
fn with_session(method: Method, uri: &str, session: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(uri).header(
        header::COOKIE,
        format!("dothi_lang=vi; dothi_session={session}"),
    );
    match body {
        Some(b) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

#[tokio::test]
async fn the_web_session_reads_private_datasets_but_never_writes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, created) = app
            .action(
                "package_create",
                Some(&app.hepco),
                private_dataset("su-co-luoi-dien"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, resource) = app
            .multipart(
                "resource_create",
                Some(&app.hepco),
                &[("package_id", "su-co-luoi-dien"), ("name", "Danh sách")],
                Some(("su-co.csv", b"ngay,so\n2026-01-02,3\n")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{resource}");
        let download = resource["result"]["url"]
            .as_str()
            .unwrap()
            .trim_start_matches(common::BASE)
            .to_string();

        // The session reads what its user may read: show, search, download.
        let (status, shown) = app
            .send(with_session(
                Method::GET,
                "/api/3/action/package_show?id=su-co-luoi-dien",
                &app.hepco,
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?} {shown}");
        assert_eq!(shown["result"]["id"], created["result"]["id"]);
        let (_, found) = app
            .send(with_session(
                Method::POST,
                "/api/3/action/package_search",
                &app.hepco,
                Some(json!({"include_private": true})),
            ))
            .await;
        assert_eq!(found["result"]["count"], 1, "{backend:?}");
        let (status, body) = app
            .send(with_session(Method::GET, &download, &app.hepco, None))
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!("ngay,so\n2026-01-02,3\n")),
            "{backend:?}"
        );
        // Another agency's session, or none, does not.
        let (status, _) = app
            .send(with_session(
                Method::GET,
                "/api/3/action/package_show?id=su-co-luoi-dien",
                &app.huewaco,
                None,
            ))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = app.raw(&download).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Writes ignore the cookie: a cross-site form could send it.
        let (status, body) = app
            .send(with_session(
                Method::POST,
                "/api/3/action/package_patch",
                &app.hepco,
                Some(json!({"id": "su-co-luoi-dien", "title": "Đổi tên"})),
            ))
            .await;
        assert_eq!(
            (status, body),
            denied(
                "package_patch",
                &format!(
                    "Access denied: User  not authorized to read package {}",
                    created["result"]["id"].as_str().unwrap()
                )
            ),
            "{backend:?}"
        );
        let (status, body) = app
            .send(with_session(
                Method::POST,
                "/api/3/action/api_token_create",
                &app.hepco,
                Some(json!({"user": "hepco", "name": "x"})),
            ))
            .await;
        assert_eq!(
            (status, body),
            denied(
                "api_token_create",
                "Access denied: Action api_token_create requires an authenticated user"
            )
        );
        // A token sent with the cookie wins over it.
        let mut req = with_session(Method::GET, "/api/3/action/user_show", &app.huewaco, None);
        req.headers_mut()
            .insert(header::AUTHORIZATION, app.hepco.parse().unwrap());
        let (_, me) = app.send(req).await;
        assert_eq!(me["result"]["name"], "hepco");
    }
}
