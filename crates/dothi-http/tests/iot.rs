//! The IoT device registry and the ingestion counters through the admin API.

mod common;

use axum::http::{Method, StatusCode};
use common::{App, BACKENDS};
use dothi_store::iot::{key_digest, Outcome};
use serde_json::{json, Value};

fn new_device() -> Value {
    json!({
        "id": "gauge-kim-long",
        "entity_id": "urn:ngsi-ld:FloodMonitoring:KimLong",
        "entity_type": "FloodMonitoring",
        "description": "Trạm thủy văn Kim Long (sông Hương)",
        "attributes": [
            {"measure": "waterLevel", "name": "currentLevel", "unit_code": "MTR", "type": "number"},
            {"measure": "alarm", "name": "alarmLevel", "type": "integer"}
        ],
        "static_attributes": {
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5578, 16.4573]}},
            "alarmLevel2": 2.0
        }
    })
}

/// The device as the API shows it, without its times.
fn without_times(mut device: Value) -> Value {
    let object = device.as_object_mut().expect("an object");
    assert!(object.remove("created_at").is_some_and(|t| t.is_string()));
    assert!(object.remove("modified_at").is_some_and(|t| t.is_string()));
    device
}

#[tokio::test]
async fn devices_are_created_read_changed_and_deleted_by_administrators() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, created) = app
            .post("/api/v1/iot/devices", Some(&app.admin), new_device())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let key = created["api_key"]
            .as_str()
            .expect("the key, once")
            .to_string();
        assert!(key.starts_with("dio_") && key.len() > 40, "{key}");
        let expected = json!({
            "id": "gauge-kim-long",
            "entity_id": "urn:ngsi-ld:FloodMonitoring:KimLong",
            "entity_type": "FloodMonitoring",
            "context": null,
            "description": "Trạm thủy văn Kim Long (sông Hương)",
            "attributes": [
                {"measure": "waterLevel", "name": "currentLevel", "unit_code": "MTR", "type": "number"},
                {"measure": "alarm", "name": "alarmLevel", "unit_code": null, "type": "integer"}
            ],
            "static_attributes": {
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5578, 16.4573]}},
                "alarmLevel2": 2.0
            },
            "key_prefix": key[..8],
        });
        assert_eq!(without_times(created["device"].clone()), expected);
        // Only the key's hash is kept.
        let stored = app.store.iot_credentials().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key_hash, key_digest(&key));

        let (status, listed) = app.get("/api/v1/iot/devices", Some(&app.admin)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .map(without_times)
                .collect::<Vec<_>>(),
            vec![expected.clone()]
        );

        let (status, patched) = app
            .call(
                Method::PATCH,
                "/api/v1/iot/devices/gauge-kim-long",
                Some(&app.admin),
                Some(json!({"description": null, "api_key": "khoa-moi-cua-tram-kim-long"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let mut changed = expected.clone();
        changed["description"] = Value::Null;
        changed["key_prefix"] = json!("khoa-moi");
        assert_eq!(without_times(patched), changed);
        let stored = app.store.iot_credentials().await.unwrap();
        assert_eq!(stored[0].key_hash, key_digest("khoa-moi-cua-tram-kim-long"));

        let (status, one) = app
            .get("/api/v1/iot/devices/gauge-kim-long", Some(&app.admin))
            .await;
        assert_eq!((status, without_times(one)), (StatusCode::OK, changed));

        let (status, _) = app
            .call(
                Method::DELETE,
                "/api/v1/iot/devices/gauge-kim-long",
                Some(&app.admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, gone) = app
            .get("/api/v1/iot/devices/gauge-kim-long", Some(&app.admin))
            .await;
        assert_eq!(
            (status, gone["type"].clone()),
            (StatusCode::NOT_FOUND, json!("/problems/not-found"))
        );
    }
}

#[tokio::test]
async fn only_administrators_reach_the_registry() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        for token in [&app.ioc, &app.citizen] {
            let (status, body) = app
                .post("/api/v1/iot/devices", Some(token), new_device())
                .await;
            assert_eq!(
                (status, body["type"].clone()),
                (StatusCode::FORBIDDEN, json!("/problems/forbidden"))
            );
            let (status, _) = app.get("/api/v1/iot/stats", Some(token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        let (status, _) = app.get("/api/v1/iot/devices", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(app.store.iot_credentials().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn invalid_devices_are_refused_with_the_field_at_fault() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let cases = [
            ("id", json!({"id": "kim/long"})),
            ("entity_id", json!({"entity_id": "Kim Long"})),
            ("entity_type", json!({"entity_type": "Flood Monitoring"})),
            (
                "attributes.measure",
                json!({"attributes": [{"measure": "observedAt"}]}),
            ),
            (
                "attributes",
                json!({"attributes": [{"measure": "a"}, {"measure": "a"}]}),
            ),
            (
                "static_attributes",
                json!({"static_attributes": {"location": {"type": "GeoProperty", "value": {"type": "Point"}}}}),
            ),
            (
                "static_attributes",
                json!({"static_attributes": {"type": "X"}}),
            ),
            ("api_key", json!({"api_key": "ngan"})),
        ];
        for (field, change) in cases {
            let mut body = new_device();
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (status, problem) = app
                .post("/api/v1/iot/devices", Some(&app.admin), body)
                .await;
            assert_eq!(
                (status, problem["field"].clone()),
                (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
                "{problem}"
            );
        }
        let mut unknown = new_device();
        unknown["colour"] = json!("đỏ");
        let (status, _) = app
            .post("/api/v1/iot/devices", Some(&app.admin), unknown)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(app.store.iot_credentials().await.unwrap().is_empty());

        let (status, _) = app
            .post("/api/v1/iot/devices", Some(&app.admin), new_device())
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, problem) = app
            .post("/api/v1/iot/devices", Some(&app.admin), new_device())
            .await;
        assert_eq!(
            (status, problem["type"].clone()),
            (StatusCode::CONFLICT, json!("/problems/conflict"))
        );
        let (status, problem) = app
            .call(
                Method::PATCH,
                "/api/v1/iot/devices/gauge-kim-long",
                Some(&app.admin),
                Some(json!({"id": "khac"})),
            )
            .await;
        assert_eq!(
            (status, problem["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("id"))
        );
        let (status, _) = app
            .get("/api/v1/iot/devices/kh%00ong", Some(&app.admin))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn stats_show_counts_per_device_and_the_last_error() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, _) = app
            .post("/api/v1/iot/devices", Some(&app.admin), new_device())
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let stats = app.store.iot_stats();
        let at = 1_795_000_000_000; // 2026-11-18T…Z
        stats.record(
            Some("gauge-kim-long"),
            "dothi/v1/k/gauge-kim-long/attrs",
            Outcome::Accepted,
            None,
            at,
        );
        stats.record(
            Some("gauge-kim-long"),
            "dothi/v1/k/gauge-kim-long/attrs",
            Outcome::Malformed,
            Some("unknown measure 'rain'"),
            at + 1000,
        );
        let (status, body) = app.get("/api/v1/iot/stats", Some(&app.admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let error = json!({
            "at": dothi_calendar::format_vn(dothi_store::time::from_ms(at + 1000)),
            "device_id": "gauge-kim-long",
            "topic": "dothi/v1/k/gauge-kim-long/attrs",
            "outcome": "malformed",
            "reason": "unknown measure 'rain'",
        });
        assert_eq!(
            body,
            json!({
                "connection": "off",
                "broker": null,
                "since": null,
                "counts": {"accepted": 1, "rejected": 0, "malformed": 1, "failed": 0},
                "last_error": error,
                "devices": [{
                    "device_id": "gauge-kim-long",
                    "entity_id": "urn:ngsi-ld:FloodMonitoring:KimLong",
                    "counts": {"accepted": 1, "rejected": 0, "malformed": 1, "failed": 0},
                    "last_message_at": dothi_calendar::format_vn(dothi_store::time::from_ms(at + 1000)),
                    "last_error": error,
                }]
            })
        );
    }
}
