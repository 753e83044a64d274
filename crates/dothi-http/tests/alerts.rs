//! The alerts API on both backends: who sees which alert, the lifecycle and its refusals, the
//! event stream, and the admin API of rules and webhooks. Alerts are raised here through the
//! engine's storage call (the engine itself is tested in dothi-broker's tests/rules.rs).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{App, BACKENDS};
use dothi_store::alerts::{
    EngineCommit, NewAlert, Phase, RuleState, Severity, StateWrite, StepAction, Texts,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const AQI: &str = "https://uri.etsi.org/ngsi-ld/default-context/aqi";

fn rule_body() -> Value {
    json!({
        "name": {"vi": "AQI cao", "en": "High AQI"},
        "entity_type": "AirQualityObserved",
        "attribute": "aqi",
        "operator": ">",
        "threshold": 150,
        "duration_s": 600,
        "hysteresis": 10,
        "severity": "warning",
        "agency": "HEPCO",
        "message": {"vi": "{entity}: AQI {value}", "en": "{entity}: AQI {value}"}
    })
}

/// Creates a rule routed to `agency` and raises one alert of it for `entity`.
async fn raise(app: &App, agency: &str, entity: &str, severity: Severity) -> i64 {
    let mut body = rule_body();
    body["agency"] = json!(agency);
    let (status, rule) = app
        .post("/api/v1/admin/alert-rules", Some(&app.admin), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let rule_id = rule["id"].as_i64().expect("rule id");
    let agency_id = app.store.reference().agency_by_code(agency).map(|a| a.id);
    let observed = 1_792_465_200_000; // 2026-10-20T10:00:00+07:00
    let raised = app
        .store
        .alerts_engine_commit(&EngineCommit {
            writes: vec![StateWrite {
                state: RuleState {
                    phase: Phase::Firing,
                    since: Some(observed),
                    ..RuleState::normal(rule_id, entity)
                },
                action: StepAction::Raise(Box::new(NewAlert {
                    rule_id,
                    rule_name: Texts {
                        vi: "AQI cao".into(),
                        en: "High AQI".into(),
                    },
                    entity_id: entity.into(),
                    attribute: AQI.into(),
                    severity,
                    value: 180.0,
                    threshold: 150.0,
                    since: observed,
                    observed_at: observed,
                    agency_id,
                    message: Texts {
                        vi: format!("{entity}: AQI 180"),
                        en: format!("{entity}: AQI 180"),
                    },
                })),
            }],
            ..Default::default()
        })
        .await
        .expect("raise");
    raised[0]
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|a| a["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn alert_lifecycle_open_acknowledged_resolved_and_its_refusals() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = raise(
            &app,
            "HEPCO",
            "urn:ngsi-ld:AirQualityObserved:VyDa",
            Severity::Warning,
        )
        .await;
        let path = format!("/api/v1/ioc/alerts/{id}");

        let (status, alert) = app.get(&path, Some(&app.hepco)).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let rule_id = alert["rule"]["id"].clone();
        assert_eq!(
            alert,
            json!({
                "id": id,
                "rule": {"id": rule_id, "name": {"vi": "AQI cao", "en": "High AQI"}},
                "entity_id": "urn:ngsi-ld:AirQualityObserved:VyDa",
                "attribute": AQI,
                "severity": "warning",
                "status": "open",
                "value": 180.0,
                "threshold": 150.0,
                "since": "2026-10-20T10:00:00+07:00",
                "observed_at": "2026-10-20T10:00:00+07:00",
                "raised_at": alert["raised_at"],
                "acknowledged_at": null,
                "acknowledged_by": null,
                "resolved_at": null,
                "resolved_by": null,
                "agency": {"code": "HEPCO", "name": "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)"},
                "message": {"vi": "urn:ngsi-ld:AirQualityObserved:VyDa: AQI 180", "en": "urn:ngsi-ld:AirQualityObserved:VyDa: AQI 180"},
                "note": null
            }),
            "{backend:?}"
        );
        assert!(
            alert["raised_at"]
                .as_str()
                .is_some_and(|t| t.ends_with("+07:00")),
            "{alert}"
        );

        let (status, acked) = app
            .post(
                &format!("{path}/acknowledge"),
                Some(&app.hepco),
                json!({"note": "Đã cử đội kiểm tra"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {acked}");
        assert_eq!(
            (&acked["status"], &acked["acknowledged_by"], &acked["note"]),
            (
                &json!("acknowledged"),
                &json!("hepco"),
                &json!("Đã cử đội kiểm tra")
            )
        );

        let (status, again) = app
            .call(
                Method::POST,
                &format!("{path}/acknowledge"),
                Some(&app.ioc),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend:?}: {again}");
        assert_eq!(
            again["detail"],
            format!("only an open alert can be acknowledged; alert {id} is acknowledged")
        );

        let (status, resolved) = app
            .call(
                Method::POST,
                &format!("{path}/resolve"),
                Some(&app.ioc),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {resolved}");
        assert_eq!(
            (
                &resolved["status"],
                &resolved["resolved_by"],
                &resolved["note"]
            ),
            (
                &json!("resolved"),
                &json!("ioc"),
                &json!("Đã cử đội kiểm tra")
            )
        );

        let (status, again) = app
            .post(&format!("{path}/resolve"), Some(&app.ioc), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend:?}: {again}");
        let (status, _) = app
            .post(&format!("{path}/acknowledge"), Some(&app.ioc), json!({}))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{backend:?}: a resolved alert"
        );
        let (status, _) = app.get("/api/v1/ioc/alerts/999999", Some(&app.ioc)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}

#[tokio::test]
async fn agency_staff_see_only_their_agencys_alerts_and_citizens_none() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let hepco = raise(
            &app,
            "HEPCO",
            "urn:ngsi-ld:AirQualityObserved:A",
            Severity::Warning,
        )
        .await;
        let huewaco = raise(
            &app,
            "HUEWACO",
            "urn:ngsi-ld:AirQualityObserved:B",
            Severity::Critical,
        )
        .await;

        let (status, list) = app.get("/api/v1/ioc/alerts", Some(&app.ioc)).await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        assert_eq!(
            ids(&list),
            vec![huewaco, hepco],
            "{backend:?}: newest first"
        );
        let (_, list) = app.get("/api/v1/ioc/alerts", Some(&app.hepco)).await;
        assert_eq!(ids(&list), vec![hepco], "{backend:?}");
        let (_, list) = app.get("/api/v1/ioc/alerts", Some(&app.huewaco)).await;
        assert_eq!(ids(&list), vec![huewaco], "{backend:?}");

        let other = format!("/api/v1/ioc/alerts/{huewaco}");
        let (status, _) = app.get(&other, Some(&app.hepco)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
        let (status, _) = app
            .post(&format!("{other}/acknowledge"), Some(&app.hepco), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");

        let (status, _) = app.get("/api/v1/ioc/alerts", Some(&app.citizen)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
        let (status, _) = app.get("/api/v1/ioc/alerts", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend:?}");

        let (_, list) = app
            .get("/api/v1/ioc/alerts?severity=critical", Some(&app.admin))
            .await;
        assert_eq!(ids(&list), vec![huewaco], "{backend:?}");
        let (_, list) = app
            .get("/api/v1/ioc/alerts?status=resolved", Some(&app.admin))
            .await;
        assert_eq!(ids(&list), Vec::<i64>::new(), "{backend:?}");
        let (_, list) = app
            .get(
                "/api/v1/ioc/alerts?agency=HEPCO&status=open",
                Some(&app.ioc),
            )
            .await;
        assert_eq!(ids(&list), vec![hepco], "{backend:?}");
        let (_, list) = app
            .get(
                "/api/v1/ioc/alerts?since=2999-01-01T00:00:00%2B07:00",
                Some(&app.ioc),
            )
            .await;
        assert_eq!(ids(&list), Vec::<i64>::new(), "{backend:?}");
        let (status, problem) = app
            .get("/api/v1/ioc/alerts?status=closed", Some(&app.ioc))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        assert_eq!(
            problem["detail"],
            "invalid status: must be one of open, acknowledged, resolved"
        );
    }
}

/// The next `event:`/`data:` block of a server-sent event stream.
async fn next_event(body: &mut Body) -> (String, String, Value) {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(std::str::from_utf8(data).expect("utf-8"));
        }
        if let Some((block, _)) = text.split_once("\n\n") {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            if field("event").is_empty() {
                text = text
                    .split_once("\n\n")
                    .map(|x| x.1.to_string())
                    .unwrap_or_default();
                continue;
            }
            let data = serde_json::from_str(&field("data")).expect("json data");
            return (field("id"), field("event"), data);
        }
    }
}

#[tokio::test]
async fn event_stream_sends_lifecycle_steps_and_resumes_after_last_event_id() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = raise(
            &app,
            "HEPCO",
            "urn:ngsi-ld:AirQualityObserved:C",
            Severity::Info,
        )
        .await;
        let open = |last: Option<&str>| {
            let mut req = Request::builder()
                .uri("/api/v1/ioc/alerts/stream")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.hepco));
            if let Some(last) = last {
                req = req.header("last-event-id", last);
            }
            app.router
                .clone()
                .oneshot(req.body(Body::empty()).expect("request"))
        };
        let refused = open(Some("x1")).await.expect("infallible");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{backend:?}");
        let bytes = refused.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            json!({"type": "/problems/bad-request", "title": "Bad request", "status": 400,
                   "detail": "Last-Event-ID 'x1' is not an event id"})
        );
        let res = open(Some("0")).await.expect("infallible");
        assert_eq!(res.status(), StatusCode::OK, "{backend:?}");
        let mut body = res.into_body();
        let (event_id, kind, data) = next_event(&mut body).await;
        assert_eq!(
            (
                kind.as_str(),
                &data["alert"]["id"],
                &data["alert"]["status"]
            ),
            ("raised", &json!(id), &json!("open")),
            "{backend:?}"
        );

        let (status, _) = app
            .post(
                &format!("/api/v1/ioc/alerts/{id}/acknowledge"),
                Some(&app.ioc),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, kind, data) = next_event(&mut body).await;
        assert_eq!(
            (kind.as_str(), &data["alert"]["status"]),
            ("acknowledged", &json!("acknowledged")),
            "{backend:?}: a live step arrives on the open stream"
        );

        let res = open(Some(&event_id)).await.expect("infallible");
        let mut resumed = res.into_body();
        let (_, kind, _) = next_event(&mut resumed).await;
        assert_eq!(kind, "acknowledged", "{backend:?}: resumed after the raise");

        let (status, _) = app
            .get("/api/v1/ioc/alerts/stream", Some(&app.citizen))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
    }
}

#[tokio::test]
async fn admin_manages_rules_with_short_names_expanded_and_bad_rules_refused() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, rule) = app
            .post("/api/v1/admin/alert-rules", Some(&app.admin), rule_body())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {rule}");
        let id = rule["id"].as_i64().expect("id");
        assert_eq!(
            rule,
            json!({
                "id": id,
                "name": {"vi": "AQI cao", "en": "High AQI"},
                "enabled": true,
                "entity_type": "https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved",
                "id_pattern": null,
                "attribute": AQI,
                "operator": ">",
                "threshold": 150.0,
                "threshold_attribute": null,
                "duration_s": 600,
                "hysteresis": 10.0,
                "severity": "warning",
                "agency": "HEPCO",
                "message": {"vi": "{entity}: AQI {value}", "en": "{entity}: AQI {value}"},
                "created_at": rule["created_at"],
                "modified_at": rule["modified_at"]
            }),
            "{backend:?}"
        );

        let path = format!("/api/v1/admin/alert-rules/{id}");
        let (status, patched) = app
            .call(
                Method::PATCH,
                &path,
                Some(&app.admin),
                Some(json!({"agency": "SNNMT", "threshold": 200, "message": null})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}: {patched}");
        assert_eq!(
            (
                &patched["agency"],
                &patched["threshold"],
                &patched["message"]
            ),
            (&json!("SNNMT"), &json!(200.0), &Value::Null)
        );
        let (_, list) = app.get("/api/v1/admin/alert-rules", Some(&app.admin)).await;
        assert_eq!(list, json!([patched]), "{backend:?}");

        for (change, detail) in [
            (
                json!({"threshold_attribute": "alarmLevel2"}),
                "invalid threshold: give exactly one of threshold and threshold_attribute",
            ),
            (
                json!({"agency": "NOPE"}),
                "invalid agency: no agency has the code 'NOPE'",
            ),
            (
                json!({"duration_s": -1}),
                "invalid duration_s: must be between 0 and 604800 (a week)",
            ),
        ] {
            let mut body = rule_body();
            body.as_object_mut()
                .expect("object")
                .extend(change.as_object().expect("object").clone());
            let (status, problem) = app
                .post("/api/v1/admin/alert-rules", Some(&app.admin), body)
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend:?}: {problem}"
            );
            assert_eq!(problem["detail"], detail, "{backend:?}");
        }
        let mut bad_pattern = rule_body();
        bad_pattern["id_pattern"] = json!("([");
        let (status, problem) = app
            .post("/api/v1/admin/alert-rules", Some(&app.admin), bad_pattern)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        assert_eq!(problem["field"], "id_pattern");
        let mut bad_operator = rule_body();
        bad_operator["operator"] = json!("==");
        let (status, _) = app
            .post("/api/v1/admin/alert-rules", Some(&app.admin), bad_operator)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");

        let (status, _) = app
            .post("/api/v1/admin/alert-rules", Some(&app.ioc), rule_body())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");

        let (status, _) = app
            .call(Method::DELETE, &path, Some(&app.admin), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{backend:?}");
        let (status, _) = app.get(&path, Some(&app.admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}

#[tokio::test]
async fn admin_registers_webhooks_whose_secret_is_never_shown() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, hook) = app
            .post(
                "/api/v1/admin/webhooks",
                Some(&app.admin),
                json!({
                    "url": "https://pctt.hue.gov.vn/dothi",
                    "secret": "bi-mat-du-dai-16",
                    "events": ["resolved", "raised"],
                    "agency": "IOC",
                    "description": "Ban Chỉ huy PCTT"
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {hook}");
        let id = hook["id"].as_i64().expect("id");
        assert_eq!(
            hook,
            json!({
                "id": id,
                "url": "https://pctt.hue.gov.vn/dothi",
                "events": ["raised", "resolved"],
                "agency": "IOC",
                "description": "Ban Chỉ huy PCTT",
                "created_at": hook["created_at"],
                "last_success_at": null,
                "last_failure_at": null,
                "last_error": null,
                "pending_deliveries": 0
            }),
            "{backend:?}"
        );
        let (_, list) = app.get("/api/v1/admin/webhooks", Some(&app.admin)).await;
        assert_eq!(list, json!([hook]));

        for (body, field) in [
            (
                json!({"url": "ftp://x", "secret": "bi-mat-du-dai-16"}),
                "url",
            ),
            (json!({"url": "https://x.vn/h", "secret": "ngan"}), "secret"),
            (
                json!({"url": "https://x.vn/h", "secret": "bi-mat-du-dai-16", "events": ["closed"]}),
                "events",
            ),
        ] {
            let (status, problem) = app
                .post("/api/v1/admin/webhooks", Some(&app.admin), body)
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend:?}: {problem}"
            );
            assert_eq!(problem["field"], field, "{backend:?}");
        }
        let path = format!("/api/v1/admin/webhooks/{id}");
        let (status, _) = app.call(Method::DELETE, &path, Some(&app.ioc), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?}");
        let (status, _) = app
            .call(Method::DELETE, &path, Some(&app.admin), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{backend:?}");
        let (status, _) = app
            .call(Method::DELETE, &path, Some(&app.admin), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}
