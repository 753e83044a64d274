//! Who may do what: every role against every workflow action and the admin API.

mod common;

use axum::http::StatusCode;
use common::{App, BACKENDS};
use serde_json::json;

#[tokio::test]
async fn each_role_can_do_what_it_may_and_nothing_more() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        // (action path, body, roles that may do it)
        let cases = [
            (
                "assign",
                json!({"agency": "HEPCO"}),
                ["ioc", "admin"].as_slice(),
            ),
            ("accept", json!({}), &["hepco", "ioc", "admin"]),
            (
                "transfer",
                json!({"agency": "HUEWACO", "reason": "Không đúng thẩm quyền"}),
                &["hepco", "ioc", "admin"],
            ),
            (
                "extension-request",
                json!({"days": 2, "reason": "Chờ vật tư"}),
                &["hepco"],
            ),
            (
                "resolve",
                json!({"note": "Xong"}),
                &["hepco", "ioc", "admin"],
            ),
            (
                "reject",
                json!({"reason": "out_of_scope"}),
                &["hepco", "ioc", "admin"],
            ),
        ];
        let everyone = [
            ("anonymous", None),
            ("citizen", Some(app.citizen.clone())),
            ("other", Some(app.other_citizen.clone())),
            ("huewaco", Some(app.huewaco.clone())),
            ("hepco", Some(app.hepco.clone())),
            ("ioc", Some(app.ioc.clone())),
            ("admin", Some(app.admin.clone())),
        ];
        for (action, body, allowed) in &cases {
            for (who, token) in &everyone {
                // A fresh report for each attempt, so earlier successes don't change its status.
                let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
                let (status, r) = app
                    .post(
                        &format!("/api/v1/reports/{id}/{action}"),
                        token.as_deref(),
                        body.clone(),
                    )
                    .await;
                let expected = if allowed.contains(who) {
                    StatusCode::OK
                } else if token.is_none() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, expected, "{backend:?}: {who} {action}: {r}");
            }
        }
        // Approving an extension: IOC only.
        for (who, token) in &everyone {
            let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
            app.post(
                &format!("/api/v1/reports/{id}/extension-request"),
                Some(&app.hepco),
                json!({"days": 1, "reason": "x"}),
            )
            .await;
            let (status, _) = app
                .post(
                    &format!("/api/v1/reports/{id}/extension-request/approve"),
                    token.as_deref(),
                    json!({}),
                )
                .await;
            let ok = ["ioc", "admin"].contains(who);
            assert_eq!(status == StatusCode::OK, ok, "{who} approve");
        }
        // Rating and reopening: the reporter or the IOC.
        for (who, token) in &everyone {
            let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
            app.post(
                &format!("/api/v1/reports/{id}/resolve"),
                Some(&app.hepco),
                json!({"note": "Xong"}),
            )
            .await;
            let (status, _) = app
                .post(
                    &format!("/api/v1/reports/{id}/rate"),
                    token.as_deref(),
                    json!({"rating": "satisfied"}),
                )
                .await;
            let ok = ["citizen", "ioc", "admin"].contains(who);
            assert_eq!(status == StatusCode::OK, ok, "{who} rate");
        }
    }
}

#[tokio::test]
async fn only_administrators_use_the_admin_api() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let paths = [
            ("GET", "/api/v1/admin/users", None),
            ("GET", "/api/v1/admin/api-keys", None),
            ("GET", "/api/v1/admin/routing-rules", None),
            (
                "POST",
                "/api/v1/admin/api-keys",
                Some(json!({"name": "georeport"})),
            ),
            (
                "PUT",
                "/api/v1/admin/holidays/2026-12-31",
                Some(json!({"name": "Nghỉ bù", "kind": "holiday"})),
            ),
        ];
        for (method, path, body) in &paths {
            for (token, expected) in [
                (None, StatusCode::UNAUTHORIZED),
                (Some(&app.citizen), StatusCode::FORBIDDEN),
                (Some(&app.hepco), StatusCode::FORBIDDEN),
                (Some(&app.ioc), StatusCode::FORBIDDEN),
            ] {
                let (s, r) = app
                    .call(
                        method.parse().unwrap(),
                        path,
                        token.map(|t| t.as_str()),
                        body.clone(),
                    )
                    .await;
                assert_eq!(s, expected, "{method} {path}: {r}");
            }
            let (s, r) = app
                .call(
                    method.parse().unwrap(),
                    path,
                    Some(&app.admin),
                    body.clone(),
                )
                .await;
            assert!(s.is_success(), "admin {method} {path}: {s} {r}");
        }
    }
}

#[tokio::test]
async fn extension_requests_are_internal_to_the_agency_and_the_ioc() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
        app.post(
            &format!("/api/v1/reports/{id}/extension-request"),
            Some(&app.hepco),
            json!({"days": 2, "reason": "Chờ vật tư"}),
        )
        .await;
        for token in [&app.citizen, &app.huewaco] {
            let (s, _) = app
                .get(&format!("/api/v1/reports/{id}/extensions"), Some(token))
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN);
        }
        for token in [&app.hepco, &app.ioc] {
            let (s, r) = app
                .get(&format!("/api/v1/reports/{id}/extensions"), Some(token))
                .await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(r[0]["reason"], "Chờ vật tư");
        }
        // A second request while one is pending is a conflict.
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/extension-request"),
                Some(&app.hepco),
                json!({"days": 1, "reason": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(
            r["detail"],
            "an extension request is already pending for this report"
        );
    }
}

/// CKAN API tokens (`api_token_create`) are for the open-data API only: the native API, where
/// reports and accounts are handled, takes its own expiring tokens and refuses them.
#[tokio::test]
async fn ckan_api_tokens_do_not_open_the_native_api() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, me) = app.get("/api/v1/me", Some(&app.admin)).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let admin = me["id"].as_i64().unwrap();
        let (token, _) = app
            .store
            .create_api_token(admin, "ckanapi", None)
            .await
            .unwrap();
        let (status, body) = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(
            (status, &body["detail"]),
            (
                StatusCode::UNAUTHORIZED,
                &json!("the bearer token is unknown or has expired")
            ),
            "{backend:?}"
        );
        let (status, _) = app.get("/api/v1/admin/users", Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}");
    }
}
