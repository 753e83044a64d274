//! Malformed requests get a precise problem+json 4xx, and nothing is written.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{App, BACKENDS};
use serde_json::json;

#[tokio::test]
async fn malformed_requests_get_precise_problem_details() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let before = app.store.count_reports().await.unwrap();
        let send = |body: &'static str, content_type: &'static str| {
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/reports")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.citizen))
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap()
        };
        let (s, ct, r) = app.send(send("{\"category\": ", "application/json")).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::BAD_REQUEST, "application/problem+json")
        );
        assert_eq!(r["type"], "/problems/bad-request");
        assert_eq!(r["title"], "Bad request");
        assert_eq!(r["status"], 400);
        assert!(
            r["detail"]
                .as_str()
                .unwrap()
                .starts_with("malformed JSON: "),
            "{r}"
        );

        let (s, _, r) = app
            .send(send("{\"category\": \"CSCC\"}", "text/plain"))
            .await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            r["detail"],
            "the body must be JSON with Content-Type: application/json"
        );

        let (s, _, r) = app
            .send(send(
                "{\"category\": \"CSCC\", \"description\": \"x\", \"colour\": 1}",
                "application/json",
            ))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r["detail"]
                .as_str()
                .unwrap()
                .contains("unknown field `colour`"),
            "{r}"
        );

        let cases = [
            (
                json!({"category": "NOPE", "description": "x", "lat": 16.47, "long": 107.6}),
                "service_code",
                "invalid service_code: no active service has code 'NOPE'",
            ),
            (
                json!({"category": "CSCC", "description": "  ", "lat": 16.47, "long": 107.6, "attributes": {"lamp_state": "off"}}),
                "description",
                "invalid description: is required",
            ),
            (
                json!({"category": "CSCC", "description": "x", "attributes": {"lamp_state": "off"}}),
                "location",
                "invalid location: a location is required: lat and long, or address_string",
            ),
            (
                json!({"category": "CSCC", "description": "x", "lat": 91.0, "long": 107.6, "attributes": {"lamp_state": "off"}}),
                "lat/long",
                "invalid lat/long: lat must be within ±90 and long within ±180",
            ),
            (
                json!({"category": "CSCC", "description": "x", "lat": 21.03, "long": 105.85, "attributes": {"lamp_state": "off"}}),
                "lat/long",
                "invalid lat/long: 21.03,105.85 is outside the area this platform serves",
            ),
            (
                json!({"category": "CSCC", "description": "x", "lat": 16.47, "long": 107.6}),
                "attribute[lamp_state]",
                "invalid attribute[lamp_state]: is required for this service",
            ),
            (
                json!({"category": "CSCC", "description": "x", "lat": 16.47, "long": 107.6, "priority": "high", "attributes": {"lamp_state": "off"}}),
                "priority",
                "invalid priority: unknown value 'high'; expected one of normal, urgent",
            ),
        ];
        for (body, field, detail) in cases {
            let (s, r) = app.post("/api/v1/reports", Some(&app.citizen), body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
            assert_eq!(
                r,
                json!({"type": "/problems/validation", "title": "Invalid field", "status": 422, "detail": detail, "field": field})
            );
        }
        let (s, r) = app.post("/api/v1/reports", None, json!({})).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r["detail"],
            "send a valid bearer token in the Authorization header"
        );
        let (s, r) = app
            .post("/api/v1/reports", Some("not-a-token"), json!({}))
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNAUTHORIZED,
                Some("the bearer token is unknown or has expired")
            )
        );

        let (s, r) = app.get("/api/v1/reports/abc", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
        let (s, r) = app.get("/api/v1/reports/999999", None).await;
        assert_eq!(
            r,
            json!({"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "report 999999 not found"})
        );
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, r) = app.get("/api/v1/nothing-here", None).await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::NOT_FOUND,
                Some("no route for /api/v1/nothing-here")
            )
        );
        let (s, r) = app.get("/api/v1/reports?page_size=5000", None).await;
        assert_eq!(
            (s, r["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("page_size"))
        );
        let (s, r) = app.get("/api/v1/reports?status=lost", None).await;
        assert_eq!((s, r["detail"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid status: unknown value 'lost'; expected one of received, assigned, in_progress, transferred, resolved, closed, rejected, reopened")));
        let (s, r) = app.get("/api/v1/reports?from=yesterday", None).await;
        assert_eq!(
            (s, r["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
        );

        assert_eq!(
            app.store.count_reports().await.unwrap(),
            before,
            "nothing was written"
        );
    }
}

#[tokio::test]
async fn a_photo_that_is_not_an_image_is_refused_and_the_report_is_not_created() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let report = json!({"category": "CSCC", "description": "Đèn hỏng", "lat": 16.4741, "long": 107.6121, "attributes": {"lamp_state": "off"}}).to_string();
        let (content_type, body) = common::multipart(&[
            ("report", None, "application/json", report.as_bytes()),
            (
                "photo",
                Some("evil.jpg"),
                "image/jpeg",
                b"%PDF-1.7 not a photo",
            ),
        ]);
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/reports")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.citizen))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let (s, _, r) = app.send(req).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            r["detail"],
            "unsupported image type: only JPEG, PNG and WebP are accepted"
        );
        assert_eq!(app.store.count_reports().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = App::new(dothi_store::Backend::Sqlite).await;
    let small = dothi_http::app(
        app.store.clone(),
        dothi_http::HttpConfig {
            max_body_bytes: 1024,
            ..Default::default()
        },
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/reports")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.citizen))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            "{{\"description\": \"{}\"}}",
            "a".repeat(4096)
        )))
        .unwrap();
    let res = tower::ServiceExt::oneshot(small, req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_history_table_refuses_updates_and_deletes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        app.street_light("Đèn hỏng").await;
        let update = sqlx::query("UPDATE report_events SET note = 'rewritten'")
            .execute(&app.store.db.pool)
            .await;
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = sqlx::query("DELETE FROM report_events")
            .execute(&app.store.db.pool)
            .await;
        assert!(delete.unwrap_err().to_string().contains("append-only"));
    }
}
