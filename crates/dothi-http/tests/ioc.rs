//! The operations centre's figures through the API, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{App, BACKENDS};
use serde_json::{json, Value};

async fn water_report(app: &App) -> i64 {
    let (s, body) = app
        .post(
            "/api/v1/reports",
            Some(&app.citizen),
            json!({"category": "CAPNUOC", "description": "Mất nước cả ngày", "lat": 16.4741, "long": 107.6121, "attributes": {"issue": "no_water"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["report"]["id"].as_i64().unwrap()
}

fn without_period(mut v: Value) -> Value {
    assert!(v["period"]["from"].as_str().unwrap().ends_with("+07:00"));
    v.as_object_mut().unwrap().remove("period");
    v
}

#[tokio::test]
async fn kpis_trend_and_ranking_follow_the_workflow() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let mut lights = Vec::new();
        for i in 0..3 {
            lights.push(
                app.street_light(&format!("Đèn số {i} hỏng")).await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let water = water_report(&app).await;
        for id in &lights[..2] {
            let (s, r) = app
                .post(
                    &format!("/api/v1/reports/{id}/resolve"),
                    Some(&app.hepco),
                    json!({"note": "Đã thay bóng"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
        app.post(
            &format!("/api/v1/reports/{}/rate", lights[0]),
            Some(&app.citizen),
            json!({"rating": "satisfied"}),
        )
        .await;
        app.post(
            &format!("/api/v1/reports/{}/rate", lights[1]),
            Some(&app.citizen),
            json!({"rating": "unsatisfied"}),
        )
        .await;
        // The water report's deadline has passed.
        sqlx::query("UPDATE reports SET deadline_at = $1 WHERE id = $2")
            .bind(dothi_store::time::now_ms() - 60_000)
            .bind(water)
            .execute(&app.store.db.pool)
            .await
            .unwrap();

        let (s, k) = app.get("/api/v1/ioc/kpis", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK, "{k}");
        assert_eq!(
            without_period(k),
            json!({"received": 4, "handled": 2, "handled_on_time": 2, "on_time_rate": 1.0, "overdue_now": 1,
                   "avg_handling_working_days": 0.0, "rated": 2, "satisfied": 1, "acceptable": 0, "unsatisfied": 1,
                   "satisfaction_rate": 0.5}),
            "{backend:?}"
        );
        let (_, k) = app
            .get("/api/v1/ioc/kpis?agency=HEPCO&channel=app", Some(&app.ioc))
            .await;
        assert_eq!(
            (
                k["received"].as_i64(),
                k["handled"].as_i64(),
                k["overdue_now"].as_i64()
            ),
            (Some(3), Some(2), Some(0))
        );
        let (_, k) = app
            .get("/api/v1/ioc/kpis?category=CAPNUOC", Some(&app.ioc))
            .await;
        assert_eq!(
            (
                k["received"].as_i64(),
                k["handled"].as_i64(),
                k["on_time_rate"].clone()
            ),
            (Some(1), Some(0), Value::Null)
        );
        let (_, k) = app
            .get("/api/v1/ioc/kpis?channel=hotline", Some(&app.ioc))
            .await;
        assert_eq!(k["received"], 0);

        let (_, t) = app.get("/api/v1/ioc/trend", Some(&app.ioc)).await;
        let today = dothi_calendar::local_date(chrono::Utc::now()).to_string();
        assert_eq!(
            without_period(t),
            json!({"days": [{"date": today, "received": 4, "handled": 2}]})
        );

        let (s, r) = app.get("/api/v1/ioc/ranking", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK);
        let agencies = &r["agencies"];
        assert_eq!(agencies.as_array().unwrap().len(), 2);
        assert_eq!(
            agencies[0],
            json!({"rank": 1, "agency_code": "HEPCO", "agency_name": "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)",
                   "received": 3, "handled": 2, "on_time_rate": 1.0, "satisfaction_rate": 0.5,
                   "avg_handling_working_days": 0.0, "overdue_now": 0})
        );
        assert_eq!(
            (
                agencies[1]["rank"].as_i64(),
                agencies[1]["agency_code"].as_str()
            ),
            (Some(2), Some("HUEWACO"))
        );
        assert_eq!(
            (
                agencies[1]["on_time_rate"].clone(),
                agencies[1]["overdue_now"].as_i64()
            ),
            (Value::Null, Some(1))
        );

        // A period before anything happened is empty.
        let (_, k) = app
            .get(
                "/api/v1/ioc/kpis?from=2020-01-01T00:00:00%2B07:00&to=2020-02-01T00:00:00%2B07:00",
                Some(&app.ioc),
            )
            .await;
        assert_eq!(
            (k["received"].as_i64(), k["on_time_rate"].clone()),
            (Some(0), Value::Null)
        );
    }
}

#[tokio::test]
async fn agency_staff_see_only_their_agency_and_citizens_see_no_figures() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        app.street_light("Đèn hỏng").await;
        water_report(&app).await;
        let (s, k) = app.get("/api/v1/ioc/kpis", Some(&app.hepco)).await;
        assert_eq!(
            (s, k["received"].as_i64()),
            (StatusCode::OK, Some(1)),
            "{backend:?}: forced to HEPCO"
        );
        let (s, r) = app
            .get("/api/v1/ioc/kpis?agency=HUEWACO", Some(&app.hepco))
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::FORBIDDEN,
                Some("agency staff see only their own agency's figures")
            )
        );
        let (s, _) = app.get("/api/v1/ioc/ranking", Some(&app.hepco)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.get("/api/v1/ioc/kpis", Some(&app.citizen)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.get("/api/v1/ioc/trend", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, r) = app
            .get(
                "/api/v1/ioc/kpis?from=2026-02-01T00:00:00%2B07:00&to=2026-01-01T00:00:00%2B07:00",
                Some(&app.ioc),
            )
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid to: the period must end after it starts")
            )
        );
        let (s, r) = app
            .get("/api/v1/ioc/kpis?agency=NOPE", Some(&app.ioc))
            .await;
        assert_eq!(
            (s, r["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("agency"))
        );
    }
}

/// Read server-sent events from a streaming body until `want` has been seen or 5 s passed.
async fn read_events(body: &mut axum::body::Body, want: impl Fn(&str) -> bool) -> String {
    use http_body_util::BodyExt;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !want(&seen) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("feed went quiet")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    seen
}

fn feed_request(token: &str, last_event_id: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut req = axum::http::Request::get("/api/v1/ioc/feed")
        .header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    req.body(axum::body::Body::empty()).unwrap()
}

#[tokio::test]
async fn the_live_feed_pushes_new_reports_and_status_changes() {
    use tower::ServiceExt;
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let before = app.street_light("Trước khi mở bảng điều khiển").await["id"]
            .as_i64()
            .unwrap();
        let res = app
            .router
            .clone()
            .oneshot(feed_request(&app.ioc, None))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut body = res.into_body();

        let id = app.street_light("Đèn hỏng sau khi mở").await["id"]
            .as_i64()
            .unwrap();
        let text = read_events(&mut body, |s| s.contains("\"action\":\"assign\"")).await;
        assert!(text.contains("event: report"), "{text}");
        assert!(text.contains(&format!("\"report_id\":{id}")), "{text}");
        assert!(text.contains("\"channel\":\"app\""), "{text}");
        assert!(
            !text.contains(&format!("\"report_id\":{before},")),
            "only changes after connecting: {text}"
        );
        assert!(
            !text.contains("citizen"),
            "no reporter identity in the feed: {text}"
        );

        app.post(
            &format!("/api/v1/reports/{id}/accept"),
            Some(&app.hepco),
            json!({}),
        )
        .await;
        let text = read_events(&mut body, |s| s.contains("in_progress")).await;
        assert!(text.contains("\"action\":\"accept\""), "{text}");

        // A Last-Event-ID that is no event id is refused before the stream starts.
        let res = app
            .router
            .clone()
            .oneshot(feed_request(&app.ioc, Some("yesterday")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let bytes = {
            use http_body_util::BodyExt;
            res.into_body().collect().await.unwrap().to_bytes()
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            json!({"type": "/problems/bad-request", "title": "Bad request", "status": 400,
                   "detail": "Last-Event-ID 'yesterday' is not an event id"})
        );

        // Resuming with Last-Event-ID 0 replays everything; HUEWACO sees none of HEPCO's reports.
        let res = app
            .router
            .clone()
            .oneshot(feed_request(&app.ioc, Some("0")))
            .await
            .unwrap();
        let mut body = res.into_body();
        let text = read_events(&mut body, |s| {
            s.contains(&format!("\"report_id\":{before},"))
        })
        .await;
        assert!(text.contains("id: 1\n"), "{text}");
        let res = app
            .router
            .clone()
            .oneshot(feed_request(&app.huewaco, Some("0")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let mut body = res.into_body();
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(800), async {
            use http_body_util::BodyExt;
            loop {
                let frame = body.frame().await.unwrap().unwrap();
                if let Ok(data) = frame.into_data() {
                    let text = String::from_utf8_lossy(&data).to_string();
                    if text.contains("report_id") {
                        return text;
                    }
                }
            }
        })
        .await;
        assert!(
            quiet.is_err(),
            "HUEWACO must not see HEPCO's reports: {quiet:?}"
        );

        let res = app
            .router
            .clone()
            .oneshot(feed_request(&app.citizen, None))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}
