//! The temporal API (/temporal/entities) through HTTP, on SQLite and PostgreSQL: the
//! normalized, simplified and aggregated temporal representations, temporal queries, temporal
//! writes, deletes, retention and refusals.

mod common;

use std::collections::HashSet;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS};
use serde_json::{json, Value};

const KIM_LONG: &str = "urn:ngsi-ld:RiverGauge:KimLong";
const PHU_OC: &str = "urn:ngsi-ld:RiverGauge:PhuOc";
const T: &str = "/ngsi-ld/v1/temporal/entities";

fn at(hhmm: &str) -> String {
    format!("2026-11-24T{hhmm}:00Z")
}

/// A period bound as the broker writes times it computes (UTC, whole seconds).
fn ms(hhmm: &str) -> String {
    format!("2026-11-24T{hhmm}:00Z")
}

/// Kim Long: the Hương river level every half hour from midnight to 02:30 (UTC), a status
/// every hour and a relationship to its device. Phú Ốc: two readings the previous evening.
async fn seed(app: &App) {
    let levels = [
        ("00:00", 2.0),
        ("00:30", 2.5),
        ("01:00", 3.0),
        ("01:30", 3.5),
        ("02:00", 4.0),
        ("02:30", 3.0),
    ];
    let kim_long = json!({
        "id": KIM_LONG,
        "type": "RiverGauge",
        "waterLevel": levels.iter().map(|(t, v)| json!({
            "type": "Property", "value": v, "unitCode": "MTR", "observedAt": at(t)
        })).collect::<Vec<_>>(),
        "status": [
            {"type": "Property", "value": "normal", "observedAt": at("00:00")},
            {"type": "Property", "value": "normal", "observedAt": at("01:00")},
            {"type": "Property", "value": "warning", "observedAt": at("02:00")}
        ],
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:kl-01",
                      "observedAt": at("00:00")}
    });
    let created = app.json("POST", T, &kim_long).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        created.header("location"),
        Some("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:RiverGauge:KimLong")
    );
    let phu_oc = json!({
        "id": PHU_OC,
        "type": "RiverGauge",
        "waterLevel": [
            {"type": "Property", "value": 1.5, "observedAt": "2026-11-23T22:00:00Z"},
            {"type": "Property", "value": 1.25, "observedAt": "2026-11-23T23:00:00Z"}
        ]
    });
    let created = app.json("POST", T, &phu_oc).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

/// Checks that every `instanceId` is a distinct URN and removes them, so that the rest of
/// the answer can be compared whole (the numbers depend on the backend's sequence).
fn without_instance_ids(mut body: Value) -> Value {
    let mut seen = HashSet::new();
    fn walk(v: &mut Value, seen: &mut HashSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(id)) = o.remove("instanceId") {
                    assert!(id.starts_with("urn:ngsi-ld:instance:"), "{id}");
                    assert!(seen.insert(id.clone()), "{id} twice");
                }
                o.values_mut().for_each(|v| walk(v, seen));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, seen)),
            _ => {}
        }
    }
    walk(&mut body, &mut seen);
    body
}

fn level(v: f64, t: &str) -> Value {
    json!({"type": "Property", "value": v, "unitCode": "MTR", "observedAt": at(t)})
}

#[tokio::test]
async fn retrieve_gives_the_normalized_temporal_representation_with_instance_ids() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let all = app
            .get(&format!("{T}/{KIM_LONG}?attrs=waterLevel,refDevice"))
            .await;
        assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
        assert_eq!(
            without_instance_ids(all.body),
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "refDevice": [{"type": "Relationship", "object": "urn:ngsi-ld:Device:kl-01",
                               "observedAt": at("00:00")}],
                "waterLevel": [
                    level(2.0, "00:00"), level(2.5, "00:30"), level(3.0, "01:00"),
                    level(3.5, "01:30"), level(4.0, "02:00"), level(3.0, "02:30")
                ]
            })
        );

        let last = app
            .get(&format!("{T}/{KIM_LONG}?attrs=waterLevel&lastN=2"))
            .await;
        assert_eq!(
            without_instance_ids(last.body),
            json!({"id": KIM_LONG, "type": "RiverGauge",
                   "waterLevel": [level(4.0, "02:00"), level(3.0, "02:30")]})
        );

        let ld = app
            .get_with(
                &format!(
                    "{T}/{KIM_LONG}?attrs=status&timerel=after&timeAt={}",
                    at("01:00")
                ),
                &[("accept", "application/ld+json")],
            )
            .await;
        assert_eq!(ld.header("content-type"), Some("application/ld+json"));
        assert_eq!(
            without_instance_ids(ld.body),
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "status": [
                    {"type": "Property", "value": "normal", "observedAt": at("01:00")},
                    {"type": "Property", "value": "warning", "observedAt": at("02:00")}
                ],
                "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
            })
        );
    }
}

#[tokio::test]
async fn temporal_values_give_value_time_pairs_within_before_after_and_between() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let values = |query: String| {
            let app = &app;
            async move {
                let answer = app
                    .get(&format!(
                        "{T}/{KIM_LONG}?attrs=waterLevel&options=temporalValues&{query}"
                    ))
                    .await;
                assert_eq!(answer.status, StatusCode::OK, "{query}: {:?}", answer.body);
                answer.body
            }
        };
        let pairs = |points: &[(f64, &str)]| {
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {
                "type": "Property",
                "values": points.iter().map(|(v, t)| json!([v, at(t)])).collect::<Vec<_>>()
            }})
        };
        assert_eq!(
            values(format!(
                "timerel=between&timeAt={}&endTimeAt={}",
                at("01:00"),
                at("02:30")
            ))
            .await,
            pairs(&[(3.0, "01:00"), (3.5, "01:30"), (4.0, "02:00")])
        );
        assert_eq!(
            values(format!("timerel=before&timeAt={}", at("01:00"))).await,
            pairs(&[(2.0, "00:00"), (2.5, "00:30")])
        );
        assert_eq!(
            values(format!("timerel=after&timeAt={}", at("02:00"))).await,
            pairs(&[(4.0, "02:00"), (3.0, "02:30")])
        );
        // The interval is read in the client's offset: 08:00 in Huế is 01:00 UTC.
        assert_eq!(
            values("timerel=before&timeAt=2026-11-24T08:00:00%2B07:00&lastN=1".into()).await,
            pairs(&[(2.5, "00:30")])
        );

        let relationship = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=refDevice&options=temporalValues"
            ))
            .await;
        assert_eq!(
            relationship.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "refDevice": {
                "type": "Relationship",
                "objects": [["urn:ngsi-ld:Device:kl-01", at("00:00")]]
            }})
        );
    }
}

#[tokio::test]
async fn hourly_aggregation_gives_exact_counts_sums_averages_and_extremes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let answer = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=waterLevel&options=aggregatedValues\
                 &aggrMethods=totalCount,sum,avg,min,max,stddev,sumsq&aggrPeriodDuration=PT1H\
                 &timerel=between&timeAt={}&endTimeAt={}",
                at("00:00"),
                at("03:00")
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        let periods = |values: [f64; 3]| {
            json!([
                [values[0], ms("00:00"), ms("01:00")],
                [values[1], ms("01:00"), ms("02:00")],
                [values[2], ms("02:00"), ms("03:00")]
            ])
        };
        assert_eq!(
            answer.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {
                "type": "Property",
                "totalCount": [[2, ms("00:00"), ms("01:00")], [2, ms("01:00"), ms("02:00")],
                               [2, ms("02:00"), ms("03:00")]],
                "sum": periods([4.5, 6.5, 7.0]),
                "avg": periods([2.25, 3.25, 3.5]),
                "min": periods([2.0, 3.0, 3.0]),
                "max": periods([2.5, 3.5, 4.0]),
                "stddev": periods([0.25, 0.25, 0.5]),
                "sumsq": periods([10.25, 21.25, 25.0])
            }})
        );

        // No duration: one period over the whole interval of the query.
        let whole = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=waterLevel,status&format=aggregatedValues\
                 &aggrMethods=totalCount,distinctCount,avg,max\
                 &timerel=between&timeAt={}&endTimeAt={}",
                at("00:00"),
                at("06:00")
            ))
            .await;
        assert_eq!(
            whole.body,
            json!({"id": KIM_LONG, "type": "RiverGauge",
                "status": {"type": "Property",
                    "totalCount": [[3, ms("00:00"), ms("06:00")]],
                    "distinctCount": [[2, ms("00:00"), ms("06:00")]],
                    "avg": [], "max": []},
                "waterLevel": {"type": "Property",
                    "totalCount": [[6, ms("00:00"), ms("06:00")]],
                    "distinctCount": [[5, ms("00:00"), ms("06:00")]],
                    "avg": [[3.0, ms("00:00"), ms("06:00")]],
                    "max": [[4.0, ms("00:00"), ms("06:00")]]}
            })
        );

        // Open intervals: periods on timeAt after it; on the first instance before it, the
        // last one ending at timeAt.
        let after = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=waterLevel&options=aggregatedValues&aggrMethods=max\
                 &aggrPeriodDuration=PT90M&timerel=after&timeAt={}",
                at("00:15")
            ))
            .await;
        assert_eq!(
            after.body["waterLevel"],
            json!({"type": "Property", "max": [
                [3.5, ms("00:15"), ms("01:45")], [4.0, ms("01:45"), ms("03:15")]
            ]})
        );
        let before = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=waterLevel&options=aggregatedValues&aggrMethods=min\
                 &aggrPeriodDuration=PT1H&timerel=before&timeAt={}",
                at("01:30")
            ))
            .await;
        assert_eq!(
            before.body["waterLevel"],
            json!({"type": "Property", "min": [
                [2.0, ms("00:00"), ms("01:00")], [3.0, ms("01:00"), ms("01:30")]
            ]})
        );
        let unaligned = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=waterLevel&options=aggregatedValues&aggrMethods=min\
                 &aggrPeriodDuration=PT45M&timerel=before&timeAt={}",
                at("02:45")
            ))
            .await;
        assert_eq!(
            unaligned.body["waterLevel"],
            json!({"type": "Property", "min": [
                [2.0, ms("00:00"), ms("00:45")], [3.0, ms("00:45"), ms("01:30")],
                [3.5, ms("01:30"), ms("02:15")], [3.0, ms("02:15"), ms("02:45")]
            ]})
        );
    }
}

#[tokio::test]
async fn each_dataset_is_its_own_series_and_an_open_whole_range_ends_at_the_last_instance() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let gauge = json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": [
            {"type": "Property", "value": 2.0, "observedAt": at("00:00")},
            {"type": "Property", "value": 2.0, "observedAt": at("01:00")},
            {"type": "Property", "value": 9.5, "observedAt": at("00:30"),
             "datasetId": "urn:ngsi-ld:Dataset:radar"}
        ]});
        assert_eq!(
            app.json("POST", T, &gauge).await.status,
            StatusCode::CREATED
        );
        let simplified = app
            .get(&format!("{T}/{KIM_LONG}?options=temporalValues"))
            .await;
        assert_eq!(
            simplified.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": [
                {"type": "Property", "values": [[2.0, at("00:00")], [2.0, at("01:00")]]},
                {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:radar",
                 "values": [[9.5, at("00:30")]]}
            ]})
        );
        let radar = app
            .get(&format!(
                "{T}/{KIM_LONG}?options=temporalValues&datasetId=urn:ngsi-ld:Dataset:radar"
            ))
            .await;
        assert_eq!(
            radar.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel":
                {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:radar",
                 "values": [[9.5, at("00:30")]]}})
        );
        let default = app
            .get(&format!(
                "{T}/{KIM_LONG}?options=temporalValues&datasetId=@none"
            ))
            .await;
        assert_eq!(
            default.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel":
                {"type": "Property", "values": [[2.0, at("00:00")], [2.0, at("01:00")]]}})
        );
        let whole = app
            .get(&format!(
                "{T}/{KIM_LONG}?options=aggregatedValues&aggrMethods=totalCount,distinctCount\
                 &aggrPeriodDuration=P0D"
            ))
            .await;
        assert_eq!(
            whole.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": [
                {"type": "Property",
                 "totalCount": [[2, ms("00:00"), ms("01:00")]],
                 "distinctCount": [[1, ms("00:00"), ms("01:00")]]},
                {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:radar",
                 "totalCount": [[1, ms("00:00"), ms("01:00")]],
                 "distinctCount": [[1, ms("00:00"), ms("01:00")]]}
            ]})
        );
    }
}

#[tokio::test]
async fn query_selects_on_the_current_entities_and_keeps_those_with_history_in_the_interval() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let ids = |answer: &common::Answer| -> Vec<String> {
            answer
                .body
                .as_array()
                .unwrap_or_else(|| panic!("an array: {:?}", answer.body))
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_string())
                .collect()
        };
        let evening = app
            .get(&format!(
                "{T}?type=RiverGauge&attrs=waterLevel&options=temporalValues\
                 &timerel=between&timeAt=2026-11-23T22:30:00Z&endTimeAt={}",
                at("00:30")
            ))
            .await;
        assert_eq!(evening.status, StatusCode::OK, "{:?}", evening.body);
        assert_eq!(
            evening.body,
            json!([
                {"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {"type": "Property",
                    "values": [[2.0, at("00:00")]]}},
                {"id": PHU_OC, "type": "RiverGauge", "waterLevel": {"type": "Property",
                    "values": [[1.25, "2026-11-23T23:00:00Z"]]}}
            ])
        );

        let later = format!("timerel=after&timeAt={}", at("00:00"));
        let only_kim_long = app
            .get(&format!("{T}?type=RiverGauge&count=true&{later}"))
            .await;
        assert_eq!(ids(&only_kim_long), [KIM_LONG]);
        assert_eq!(only_kim_long.header("NGSILD-Results-Count"), Some("1"));

        // q is evaluated on the current entity: Kim Long now reads 3.0, Phú Ốc 1.25.
        let low = app
            .get(&format!(
                "{T}?type=RiverGauge&q=waterLevel<2&attrs=waterLevel\
                 &timerel=before&timeAt={}",
                at("03:00")
            ))
            .await;
        assert_eq!(ids(&low), [PHU_OC]);

        let everything = format!("{T}?type=RiverGauge&timerel=before&timeAt={}", at("03:00"));
        let first = app
            .get(&format!("{everything}&limit=1&count=true&attrs=waterLevel"))
            .await;
        assert_eq!(ids(&first), [KIM_LONG]);
        assert_eq!(first.header("NGSILD-Results-Count"), Some("2"));
        let second = app
            .get(&format!("{everything}&limit=1&offset=1&attrs=waterLevel"))
            .await;
        assert_eq!(ids(&second), [PHU_OC]);
        let by_pattern = app
            .get(&format!("{everything}&idPattern=PhuOc$&attrs=waterLevel"))
            .await;
        assert_eq!(ids(&by_pattern), [PHU_OC]);
    }
}

#[tokio::test]
async fn changes_through_the_entity_api_appear_in_the_temporal_evolution() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let gauge = json!({"id": "urn:ngsi-ld:RiverGauge:TrangTien", "type": "RiverGauge",
            "waterLevel": {"type": "Property", "value": 1.0, "observedAt": at("10:00")}});
        let created = app.json("POST", "/ngsi-ld/v1/entities", &gauge).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let patch = json!({"type": "Property", "value": 1.75, "observedAt": at("11:00")});
        let patched = app
            .json(
                "PATCH",
                "/ngsi-ld/v1/entities/urn:ngsi-ld:RiverGauge:TrangTien/attrs/waterLevel",
                &patch,
            )
            .await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{:?}", patched.body);
        let history = app
            .get(&format!(
                "{T}/urn:ngsi-ld:RiverGauge:TrangTien?options=temporalValues"
            ))
            .await;
        assert_eq!(
            history.body,
            json!({"id": "urn:ngsi-ld:RiverGauge:TrangTien", "type": "RiverGauge",
                "waterLevel": {"type": "Property",
                    "values": [[1.0, at("10:00")], [1.75, at("11:00")]]}})
        );
    }
}

#[tokio::test]
async fn temporal_writes_append_instances_without_changing_an_existing_entity() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let more = json!({"id": PHU_OC, "type": "RiverGauge", "waterLevel": [
            {"type": "Property", "value": 1.0, "observedAt": "2026-11-23T21:00:00Z"}
        ]});
        let updated = app.json("POST", T, &more).await;
        assert_eq!(updated.status, StatusCode::NO_CONTENT, "{:?}", updated.body);
        let attrs = json!({"rainfall": [
            {"type": "Property", "value": 12, "unitCode": "MMT", "observedAt": at("00:00")},
            {"type": "Property", "value": 30, "unitCode": "MMT", "observedAt": at("01:00")}
        ]});
        let appended = app
            .json("POST", &format!("{T}/{PHU_OC}/attrs"), &attrs)
            .await;
        assert_eq!(
            appended.status,
            StatusCode::NO_CONTENT,
            "{:?}",
            appended.body
        );
        let history = app
            .get(&format!("{T}/{PHU_OC}?options=temporalValues"))
            .await;
        assert_eq!(
            history.body,
            json!({"id": PHU_OC, "type": "RiverGauge",
            "rainfall": {"type": "Property",
                "values": [[12, at("00:00")], [30, at("01:00")]]},
            "waterLevel": {"type": "Property", "values": [
                [1.0, "2026-11-23T21:00:00Z"], [1.5, "2026-11-23T22:00:00Z"],
                [1.25, "2026-11-23T23:00:00Z"]
            ]}})
        );
        // The current entity is the latest instance given at creation, untouched since.
        let current = app
            .get(&format!("/ngsi-ld/v1/entities/{PHU_OC}?options=keyValues"))
            .await;
        assert_eq!(
            current.body,
            json!({"id": PHU_OC, "type": "RiverGauge", "waterLevel": 1.25})
        );

        let unknown = app
            .json(
                "POST",
                &format!("{T}/urn:ngsi-ld:RiverGauge:Nowhere/attrs"),
                &attrs,
            )
            .await;
        assert_eq!(
            unknown.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                "no entity has the id urn:ngsi-ld:RiverGauge:Nowhere"
            )
        );
    }
}

#[tokio::test]
async fn deletes_remove_an_attributes_history_then_the_entity_and_its_history() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let path = format!("{T}/{KIM_LONG}");
        let deleted = app
            .send("DELETE", &format!("{path}/attrs/status"), &[], None)
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
        let left = app.get(&format!("{path}?options=temporalValues")).await;
        let mut names: Vec<&String> = left.body.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(names, ["id", "refDevice", "type", "waterLevel"]);
        let again = app
            .send("DELETE", &format!("{path}/attrs/status"), &[], None)
            .await;
        assert_eq!(
            again.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                &format!(
                    "entity {KIM_LONG} has no history of the attribute \
                     https://uri.etsi.org/ngsi-ld/status"
                )
            )
        );

        let gone = app.send("DELETE", &path, &[], None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
        let not_found = problem(
            "ResourceNotFound",
            "Resource not found",
            404,
            &format!("no entity has the id {KIM_LONG}"),
        );
        assert_eq!(app.get(&path).await.body, not_found);
        assert_eq!(
            app.get(&format!("/ngsi-ld/v1/entities/{KIM_LONG}"))
                .await
                .body,
            not_found
        );
        assert_eq!(app.send("DELETE", &path, &[], None).await.body, not_found);
        // Re-created, it starts with no history.
        let fresh = json!({"id": KIM_LONG, "type": "RiverGauge"});
        assert_eq!(
            app.json("POST", T, &fresh).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            app.get(&path).await.body,
            json!({"id": KIM_LONG, "type": "RiverGauge"})
        );
    }
}

#[tokio::test]
async fn retention_purges_instances_older_than_the_period() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let recent = chrono::Utc::now() - chrono::Duration::hours(1);
        let recent = recent.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let gauge = json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": [
            {"type": "Property", "value": 1.0, "observedAt": "2020-10-10T00:00:00Z"},
            {"type": "Property", "value": 2.0, "observedAt": recent}
        ]});
        assert_eq!(
            app.json("POST", T, &gauge).await.status,
            StatusCode::CREATED
        );
        assert_eq!(app.broker.purge_history(0).await, Ok(0));
        assert_eq!(app.broker.purge_history(30).await, Ok(1));
        let left = app
            .get(&format!("{T}/{KIM_LONG}?options=temporalValues"))
            .await;
        assert_eq!(
            left.body,
            json!({"id": KIM_LONG, "type": "RiverGauge",
                "waterLevel": {"type": "Property", "values": [[2.0, recent]]}})
        );
    }
}

#[tokio::test]
async fn bad_temporal_requests_are_refused_with_problem_details() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        let cases = [
            (
                format!("{T}/{KIM_LONG}?timerel=between&timeAt={}", at("01:00")),
                bad("timerel=between needs endTimeAt"),
            ),
            (
                format!(
                    "{T}/{KIM_LONG}?timerel=between&timeAt={}&endTimeAt={}",
                    at("01:00"),
                    at("00:00")
                ),
                bad("timerel=between needs endTimeAt after timeAt"),
            ),
            (
                format!("{T}/{KIM_LONG}?timerel=before"),
                bad("timerel=before needs timeAt"),
            ),
            (
                format!("{T}/{KIM_LONG}?timerel=whenever&timeAt={}", at("01:00")),
                bad("timerel must be before, after or between, not whenever"),
            ),
            (
                format!("{T}/{KIM_LONG}?timerel=after&timeAt=yesterday"),
                bad("timeAt must be an ISO 8601 date-time with an offset, e.g. \
                     2026-11-25T10:00:00+07:00; not yesterday"),
            ),
            (
                format!("{T}/{KIM_LONG}?lastN=0"),
                bad("lastN must be a positive integer, not 0"),
            ),
            (
                format!(
                    "{T}/{KIM_LONG}?options=aggregatedValues&aggrMethods=avg\
                     &aggrPeriodDuration=P1M"
                ),
                bad(
                    "aggrPeriodDuration 'P1M' uses years or months, whose length varies; \
                     periods in months or years are not supported; use an ISO 8601 duration \
                     such as PT1H, P1D or P1W",
                ),
            ),
            (
                format!(
                    "{T}/{KIM_LONG}?options=aggregatedValues&aggrMethods=avg\
                     &aggrPeriodDuration=1H"
                ),
                bad(
                    "aggrPeriodDuration '1H' does not start with P; use an ISO 8601 duration \
                     such as PT1H, P1D or P1W",
                ),
            ),
            (
                format!("{T}/{KIM_LONG}?options=aggregatedValues"),
                bad("aggregatedValues needs aggrMethods, e.g. aggrMethods=avg,min,max"),
            ),
            (
                format!("{T}?type=RiverGauge"),
                bad(
                    "Query Temporal Evolution needs a temporal query: timerel with timeAt \
                     (and endTimeAt for between)",
                ),
            ),
            (
                format!("{T}?attrs=createdAt&timerel=after&timeAt={}", at("00:00")),
                bad("a temporal query needs at least one of type, attrs, q or a geo-query (system attributes alone do not count)"),
            ),
            (
                format!("{T}?type=RiverGauge&csf=))bad((&timerel=after&timeAt={}", at("00:00")),
                bad("csf: invalid q at position 0: expected attribute name or '(', found ')'"),
            ),
            (
                format!("{T}?id={KIM_LONG}&timerel=after&timeAt={}", at("00:00")),
                bad("a temporal query needs at least one of type, attrs, q or a geo-query (system attributes alone do not count)"),
            ),
            (
                format!(
                    "{T}/{KIM_LONG}?timeproperty=modifiedAt&options=aggregatedValues\
                     &aggrMethods=avg"
                ),
                problem(
                    "OperationNotSupported",
                    "Operation not supported",
                    422,
                    "aggregatedValues are computed on observedAt only, not on modifiedAt",
                ),
            ),
            (
                format!("{T}/{KIM_LONG}?timeproperty=sentAt"),
                bad("timeproperty must be observedAt, createdAt, modifiedAt or deletedAt, not \
                     sentAt"),
            ),
            (
                format!("{T}?type=RiverGauge&scopeQ=Hue&timerel=after&timeAt={}", at("00:00")),
                bad("scopeQ: a scope starts with '/', not 'Hue' (position 0 of 'Hue')"),
            ),
            (
                format!("{T}/{KIM_LONG}?options=temporalValues,bogus"),
                problem(
                    "InvalidRequest",
                    "Invalid request",
                    400,
                    "options: bogus is not one of sysAttrs, normalized, concise, \
                     temporalValues, aggregatedValues",
                ),
            ),
            (
                format!("{T}/{KIM_LONG}?format=bogus"),
                problem(
                    "InvalidRequest",
                    "Invalid request",
                    400,
                    "format must be normalized, concise, temporalValues or aggregatedValues, \
                     not bogus",
                ),
            ),
            (
                format!("{T}/{KIM_LONG}?attrs=noSuchAttribute"),
                problem(
                    "ResourceNotFound",
                    "Resource not found",
                    404,
                    "entity urn:ngsi-ld:RiverGauge:KimLong has no history of the attributes \
                     asked",
                ),
            ),
            (
                format!("{T}/{KIM_LONG}?attrs=refDevice&options=aggregatedValues&aggrMethods=avg"),
                problem(
                    "InvalidRequest",
                    "Invalid request",
                    400,
                    "aggregation method avg does not apply to the relationship \
                     https://uri.etsi.org/ngsi-ld/default-context/refDevice (only \
                     totalCount and distinctCount do)",
                ),
            ),
        ];
        for (path, expected) in cases {
            let answer = app.get(&path).await;
            assert_eq!(answer.body, expected, "{path}");
            assert_eq!(
                answer.status.as_u16(),
                expected["status"].as_u64().unwrap() as u16,
                "{path}"
            );
        }

        let no_type = app
            .json("POST", T, &json!({"id": "urn:ngsi-ld:RiverGauge:X"}))
            .await;
        assert_eq!(no_type.body, bad("the entity has no 'type'"));
        let dataset = app
            .send(
                "DELETE",
                &format!("{T}/{KIM_LONG}/attrs/waterLevel?datasetId=urn:ngsi-ld:d:1"),
                &[],
                None,
            )
            .await;
        assert_eq!(dataset.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn pick_omit_and_order_by_id_shape_temporal_reads() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let picked = app
            .get(&format!(
                "{T}/{KIM_LONG}?pick=id,refDevice&options=temporalValues"
            ))
            .await;
        assert_eq!(picked.status, StatusCode::OK, "{:?}", picked.body);
        assert_eq!(
            picked.body,
            json!({"id": KIM_LONG, "refDevice": {"type": "Relationship",
                "objects": [["urn:ngsi-ld:Device:kl-01", at("00:00")]]}})
        );
        let omitted = app
            .get(&format!(
                "{T}/{KIM_LONG}?omit=type,waterLevel,status&options=temporalValues"
            ))
            .await;
        assert_eq!(omitted.body, picked.body);
        let nothing = app.get(&format!("{T}/{KIM_LONG}?pick=unknown")).await;
        assert_eq!(
            nothing.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                "pick/omit leave nothing of the entity urn:ngsi-ld:RiverGauge:KimLong",
            )
        );

        // Query results are ordered by id, ascending unless orderBy=id;desc.
        let window = "type=RiverGauge&timerel=after&timeAt=2026-11-01T00:00:00Z";
        let ids = |body: &Value| -> Vec<Value> {
            body.as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone())
                .collect()
        };
        let ascending = app.get(&format!("{T}?{window}&pick=id")).await;
        assert_eq!(ascending.body, json!([{"id": KIM_LONG}, {"id": PHU_OC}]));
        let descending = app.get(&format!("{T}?{window}&orderBy=id;desc")).await;
        assert_eq!(ids(&descending.body), vec![json!(PHU_OC), json!(KIM_LONG)]);

        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        for (query, expected) in [
            (
                "pick=status&omit=status",
                bad("'status' is in both pick and omit"),
            ),
            (
                "pick=status&attrs=status",
                bad("pick and omit cannot be used together with attrs"),
            ),
            (
                "pick=refDevice%7Bname%7D",
                bad(
                    "pick/omit: 'refDevice{name}' is a linked or nested projection, which the \
                     temporal API does not have",
                ),
            ),
            (
                "orderBy=status",
                bad(
                    "orderBy: a temporal query is ordered by id only (id, id;asc or id;desc), \
                     not status",
                ),
            ),
        ] {
            let answer = app.get(&format!("{T}?{window}&{query}")).await;
            assert_eq!(answer.body, expected, "{query}");
        }
    }
}

#[tokio::test]
async fn the_temporal_query_document_is_the_get_query_in_a_body() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let post = |body: Value| {
            let app = &app;
            async move {
                app.json("POST", "/ngsi-ld/v1/temporal/entityOperations/query", &body)
                    .await
            }
        };
        let by_post = post(json!({
            "type": "Query",
            "entities": [{"type": "RiverGauge"}],
            "attrs": ["refDevice"],
            "temporalQ": {"timerel": "after", "timeAt": at("00:00")}
        }))
        .await;
        let by_get = app
            .get(&format!(
                "{T}?type=RiverGauge&attrs=refDevice&timerel=after&timeAt={}",
                at("00:00")
            ))
            .await;
        assert_eq!(by_post.status, StatusCode::OK, "{:?}", by_post.body);
        assert_eq!(by_post.body, by_get.body);

        // Aggregation parameters ask for the aggregated representation.
        let aggregated = post(json!({
            "type": "Query",
            "entities": [{"type": "RiverGauge"}],
            "attrs": "waterLevel",
            "temporalQ": {"timerel": "between", "timeAt": at("00:00"),
                          "endTimeAt": at("01:00")},
            "aggrParams": {"aggrMethods": ["max"], "aggrPeriodDuration": "PT1H"}
        }))
        .await;
        assert_eq!(
            aggregated.body,
            json!([{"id": KIM_LONG, "type": "RiverGauge", "waterLevel":
                {"type": "Property", "max": [[2.5, ms("00:00"), ms("01:00")]]}}])
        );

        let zero = post(json!({
            "type": "Query",
            "entities": [{"type": "RiverGauge"}],
            "temporalQ": {"timerel": "after", "timeAt": at("00:00"), "lastN": 0}
        }))
        .await;
        assert_eq!(
            zero.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "lastN must be a positive integer, not 0"
            )
        );
    }
}

/// Past the instance limit (1000 by default) a temporal read is cut by time: 206 with the
/// range of the answer in Content-Range (§6.3.10); a lastN within the limit is answered whole.
#[tokio::test]
async fn long_evolutions_are_paged_by_time_with_content_range() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        // 1,001 readings a minute apart, and 3 statuses.
        let minute = |n: i64| {
            let t = 1_763_942_400_000_i64 + n * 60_000;
            chrono::DateTime::from_timestamp_millis(t)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let levels: Vec<Value> = (0..1001)
            .map(|n| json!({"type": "Property", "value": n, "observedAt": minute(n)}))
            .collect();
        let gauge = json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": levels,
            "status": [{"type": "Property", "value": "normal", "observedAt": minute(0)},
                       {"type": "Property", "value": "high", "observedAt": minute(999)},
                       {"type": "Property", "value": "normal", "observedAt": minute(1000)}]});
        assert_eq!(
            app.json("POST", T, &gauge).await.status,
            StatusCode::CREATED
        );

        let all = app
            .get(&format!("{T}/{KIM_LONG}?options=temporalValues"))
            .await;
        assert_eq!(all.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            all.header("content-range"),
            Some(format!("date-time {}-{}/*", minute(0), minute(999)).as_str())
        );
        let values = all.body["waterLevel"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 1000);
        assert_eq!(values[999], json!([999, minute(999)]));
        assert_eq!(
            all.body["status"]["values"],
            json!([["normal", minute(0)], ["high", minute(999)]])
        );

        // Backwards: lastN beyond the limit, from the end of the interval down.
        let last = app
            .get(&format!(
                "{T}/{KIM_LONG}?options=temporalValues&lastN=2000&timerel=before&timeAt={}",
                minute(2000)
            ))
            .await;
        assert_eq!(last.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            last.header("content-range"),
            Some(format!("date-time {}-{}/2000", minute(2000), minute(1)).as_str())
        );
        assert_eq!(
            last.body["status"]["values"],
            json!([["high", minute(999)], ["normal", minute(1000)]])
        );

        let two = app
            .get(&format!("{T}/{KIM_LONG}?options=temporalValues&lastN=2"))
            .await;
        assert_eq!(two.status, StatusCode::OK);
        assert_eq!(two.header("content-range"), None);
        assert_eq!(
            two.body["waterLevel"]["values"],
            json!([[999, minute(999)], [1000, minute(1000)]])
        );
    }
}

#[tokio::test]
async fn one_instance_of_the_history_can_be_deleted_by_its_instance_id() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let before = app.get(&format!("{T}/{KIM_LONG}?attrs=status")).await;
        let first = before.body["status"][0]["instanceId"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("{T}/{KIM_LONG}/attrs/status/{first}");
        let modified = app
            .json("PATCH", &path, &json!({"type": "Property", "value": "x"}))
            .await;
        assert_eq!(modified.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            app.send("DELETE", &path, &[], None).await.status,
            StatusCode::NO_CONTENT
        );
        let after = app
            .get(&format!(
                "{T}/{KIM_LONG}?attrs=status&options=temporalValues"
            ))
            .await;
        assert_eq!(
            after.body["status"]["values"],
            json!([["normal", at("01:00")], ["warning", at("02:00")]])
        );
        let not_found =
            |detail: String| problem("ResourceNotFound", "Resource not found", 404, &detail);
        assert_eq!(
            app.send("DELETE", &path, &[], None).await.body,
            not_found(format!(
                "entity {KIM_LONG} has no instance {first} of the attribute \
                 https://uri.etsi.org/ngsi-ld/status"
            ))
        );
        assert_eq!(
            app.send(
                "DELETE",
                &format!("{T}/{KIM_LONG}/attrs/status/not-a-uri"),
                &[],
                None
            )
            .await
            .body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "the instanceId 'not-a-uri' is not a URI"
            )
        );
    }
}

/// The time member `name` of the instances of `attr` in a normalized temporal entity.
fn times_of(body: &Value, attr: &str, name: &str) -> Vec<Value> {
    body[attr]
        .as_array()
        .unwrap_or_else(|| panic!("{attr} in {body}"))
        .iter()
        .map(|i| i[name].clone())
        .collect()
}

#[tokio::test]
async fn scope_changes_through_the_entity_api_are_instances_of_the_scope_property() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:RiverGauge:DapDa";
        let gauge = json!({"id": id, "type": "RiverGauge", "scope": "/Hue/PhuXuan",
            "waterLevel": {"type": "Property", "value": 1.0, "observedAt": at("10:00")}});
        let created = app.json("POST", "/ngsi-ld/v1/entities", &gauge).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        // Merge-patch replaces the scope; an update of an attribute alone leaves it.
        let merged = app
            .json(
                "PATCH",
                &format!("/ngsi-ld/v1/entities/{id}"),
                &json!({"scope": ["/Hue/ThuanHoa", "/Hue/Flood"]}),
            )
            .await;
        assert_eq!(merged.status, StatusCode::NO_CONTENT, "{:?}", merged.body);
        let level = json!({"type": "Property", "value": 1.5, "observedAt": at("11:00")});
        let patched = app
            .json(
                "PATCH",
                &format!("/ngsi-ld/v1/entities/{id}/attrs/waterLevel"),
                &level,
            )
            .await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{:?}", patched.body);

        let read = app
            .get(&format!("{T}/{id}?options=sysAttrs&attrs=waterLevel"))
            .await;
        assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
        let body = without_instance_ids(read.body);
        // Each scope instance is observed when it was set: observedAt copies modifiedAt.
        let set = times_of(&body, "scope", "modifiedAt");
        let levels = times_of(&body, "waterLevel", "modifiedAt");
        let created_at = times_of(&body, "waterLevel", "createdAt");
        assert_eq!(
            body,
            json!({"id": id, "type": "RiverGauge",
            "scope": [
                {"type": "Property", "value": "/Hue/PhuXuan", "observedAt": set[0],
                 "createdAt": set[0], "modifiedAt": set[0]},
                {"type": "Property", "value": ["/Hue/ThuanHoa", "/Hue/Flood"],
                 "observedAt": set[1], "createdAt": set[1], "modifiedAt": set[1]}
            ],
            "waterLevel": [
                {"type": "Property", "value": 1.0, "observedAt": at("10:00"),
                 "createdAt": created_at[0], "modifiedAt": levels[0]},
                {"type": "Property", "value": 1.5, "observedAt": at("11:00"),
                 "createdAt": created_at[1], "modifiedAt": levels[1]}
            ]})
        );
        assert!(set[0].as_str() < set[1].as_str(), "{set:?}");

        let values = app
            .get(&format!("{T}/{id}?options=temporalValues&attrs=waterLevel"))
            .await;
        assert_eq!(
            values.body,
            json!({"id": id, "type": "RiverGauge",
                "scope": {"type": "Property", "values": [
                    ["/Hue/PhuXuan", set[0]], [["/Hue/ThuanHoa", "/Hue/Flood"], set[1]]
                ]},
                "waterLevel": {"type": "Property",
                    "values": [[1.0, at("10:00")], [1.5, at("11:00")]]}})
        );
        // pick/omit treat the scope as a member of the entity.
        let omitted = app
            .get(&format!(
                "{T}/{id}?options=temporalValues&omit=scope,waterLevel"
            ))
            .await;
        assert_eq!(omitted.body, json!({"id": id, "type": "RiverGauge"}));
    }
}

/// Gauges written through the temporal API with the temporal evolution of their scope, for
/// scopeQ over the window 12:00–13:00.
async fn seed_scoped(app: &App) {
    let gauge = |name: &str, scope: Value, levels: &[(&str, f64)]| {
        let mut g = json!({"id": format!("urn:ngsi-ld:RiverGauge:{name}"), "type": "RiverGauge",
            "waterLevel": levels.iter().map(|(t, v)| json!(
                {"type": "Property", "value": v, "observedAt": at(t)})).collect::<Vec<_>>()});
        if !scope.is_null() {
            g["scope"] = scope;
        }
        g
    };
    let scope = |v: Value, t: &str| json!({"type": "Property", "value": v, "observedAt": at(t)});
    for g in [
        // Scoped before the window.
        gauge(
            "KimLong",
            json!([scope(json!("/Hue/PhuXuan"), "10:00")]),
            &[("12:05", 2.0)],
        ),
        gauge(
            "PhuOc",
            json!([scope(json!(["/Hue/ThuanHoa"]), "10:00")]),
            &[("12:05", 3.0)],
        ),
        // Never scoped.
        gauge("DapDa", Value::Null, &[("12:05", 4.0)]),
        // Scoped during the window.
        gauge(
            "TrangTien",
            json!([scope(json!("/Hue/Flood"), "12:10")]),
            &[("12:05", 5.0), ("12:15", 5.5)],
        ),
        // Re-scoped during the window.
        gauge(
            "BaoVinh",
            json!([
                scope(json!("/Hue/PhuXuan"), "10:00"),
                scope(json!("/Hue/ThuanHoa"), "12:30")
            ]),
            &[("12:15", 6.0), ("12:45", 6.5)],
        ),
        // Scoped only after the window.
        gauge(
            "ConHen",
            json!([{"value": "/Hue/Late", "observedAt": at("14:00")}]),
            &[("12:05", 7.0)],
        ),
    ] {
        let created = app.json("POST", T, &g).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{g}: {:?}",
            created.body
        );
    }
}

#[tokio::test]
async fn scope_q_selects_entities_and_instances_by_the_scope_valid_at_their_time() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed_scoped(&app).await;
        let window = format!(
            "type=RiverGauge&timerel=between&timeAt={}&endTimeAt={}&options=temporalValues",
            at("12:00"),
            at("13:00")
        );
        let gauge = |name: &str| format!("urn:ngsi-ld:RiverGauge:{name}");
        let query = |scope_q: &str| format!("{T}?{window}&scopeQ={scope_q}");

        // The scope valid at the window's start is shown with the instances of its time.
        let phu_xuan = app.get(&query("/Hue/PhuXuan")).await;
        assert_eq!(phu_xuan.status, StatusCode::OK, "{:?}", phu_xuan.body);
        assert_eq!(
            phu_xuan.body,
            json!([
                {"id": gauge("BaoVinh"), "type": "RiverGauge",
                 "scope": {"type": "Property", "values": [
                     ["/Hue/PhuXuan", at("10:00")], ["/Hue/ThuanHoa", at("12:30")]]},
                 "waterLevel": {"type": "Property", "values": [[6.0, at("12:15")]]}},
                {"id": gauge("KimLong"), "type": "RiverGauge",
                 "scope": {"type": "Property", "values": [["/Hue/PhuXuan", at("10:00")]]},
                 "waterLevel": {"type": "Property", "values": [[2.0, at("12:05")]]}}
            ])
        );
        let thuan_hoa = app.get(&query("/Hue/ThuanHoa")).await;
        let ids = |body: &Value| -> Vec<String> {
            body.as_array()
                .expect("array")
                .iter()
                .map(|e| e["id"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(ids(&thuan_hoa.body), [gauge("BaoVinh"), gauge("PhuOc")]);
        assert_eq!(
            thuan_hoa.body[0]["waterLevel"],
            json!({"type": "Property", "values": [[6.5, at("12:45")]]})
        );
        // Any scope (`/#`): not the gauge never scoped, nor the one scoped after the window;
        // the one scoped at 12:10 with its instances from then on.
        let any = app
            .get(&format!("{T}?{window}&scopeQ=/%23&count=true"))
            .await;
        assert_eq!(any.header("NGSILD-Results-Count"), Some("4"));
        assert_eq!(
            ids(&any.body),
            [
                gauge("BaoVinh"),
                gauge("KimLong"),
                gauge("PhuOc"),
                gauge("TrangTien")
            ]
        );
        assert_eq!(
            any.body[3]["waterLevel"],
            json!({"type": "Property", "values": [[5.5, at("12:15")]]})
        );
        // Alternatives, conjunctions and paging.
        assert_eq!(
            ids(&app.get(&query("/Hue/Flood|/Hue/PhuXuan")).await.body),
            [gauge("BaoVinh"), gauge("KimLong"), gauge("TrangTien")]
        );
        assert_eq!(
            ids(&app.get(&query("(/Hue/PhuXuan%3B/Hue/Flood)")).await.body),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&app.get(&query("/Hue/Late")).await.body),
            Vec::<String>::new()
        );
        let paged = app
            .get(&format!(
                "{T}?{window}&scopeQ=/Hue/%23&limit=1&offset=1&count=true"
            ))
            .await;
        assert_eq!(paged.header("NGSILD-Results-Count"), Some("4"));
        assert_eq!(ids(&paged.body), [gauge("KimLong")]);

        // The current entity has the latest scope given.
        let current = app
            .get(&format!(
                "/ngsi-ld/v1/entities/{}?options=keyValues",
                gauge("BaoVinh")
            ))
            .await;
        assert_eq!(
            current.body,
            json!({"id": gauge("BaoVinh"), "type": "RiverGauge", "scope": "/Hue/ThuanHoa",
                   "waterLevel": 6.5})
        );

        // A scope instance is a Property with a value of scopes and an observedAt.
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        for (scope, refusal) in [
            (
                json!([{"type": "Relationship", "object": "/Hue"}]),
                bad("scope: a scope instance has only type, value and observedAt, not object"),
            ),
            (
                json!([{"type": "Relationship", "value": "/Hue"}]),
                bad("scope: a scope instance is a Property"),
            ),
            (
                json!([{"observedAt": at("10:00")}]),
                bad("scope: a scope instance needs a value"),
            ),
            (
                json!([{"value": "/Hue", "observedAt": "yesterday"}]),
                bad("scope: observedAt must be an ISO 8601 date-time, e.g. 2026-11-25T08:00:00Z"),
            ),
            (
                json!([{"value": "Hue"}]),
                bad(
                    "a scope is /Level/Level…, each level a letter then letters, digits or '_', \
                     e.g. /Hue/PhuXuan",
                ),
            ),
        ] {
            let refused = app
                .json(
                    "POST",
                    T,
                    &json!({"id": gauge("Bad"), "type": "RiverGauge", "scope": scope}),
                )
                .await;
            assert_eq!(refused.body, refusal, "{scope}");
        }
        assert_eq!(
            app.get(&format!("/ngsi-ld/v1/entities/{}", gauge("Bad")))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn deleting_attributes_and_the_scope_records_deleted_at_instances() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:RiverGauge:KimLong";
        let gauge = json!({"id": id, "type": "RiverGauge",
            "scope": ["/Hue/PhuXuan", "/Hue/Flood"],
            "waterLevel": [
                {"type": "Property", "value": 2.0, "observedAt": at("00:00")},
                {"type": "Property", "value": 2.5, "observedAt": at("01:00")}
            ],
            "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:kl-01",
                          "observedAt": at("00:00")},
            "name": {"type": "LanguageProperty", "languageMap": {"vi": "Kim Long", "en": "Kim Long"},
                     "observedAt": at("00:00")},
            "status": {"type": "Property", "value": "normal", "observedAt": at("00:00")}
        });
        assert_eq!(
            app.json("POST", T, &gauge).await.status,
            StatusCode::CREATED
        );
        for attr in ["waterLevel", "refDevice", "name", "scope"] {
            let deleted = app
                .send(
                    "DELETE",
                    &format!("/ngsi-ld/v1/entities/{id}/attrs/{attr}"),
                    &[],
                    None,
                )
                .await;
            assert_eq!(
                deleted.status,
                StatusCode::NO_CONTENT,
                "{attr}: {:?}",
                deleted.body
            );
        }

        let read = app.get(&format!("{T}/{id}?timeproperty=deletedAt")).await;
        assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
        let mut seen = Vec::new();
        for attr in ["waterLevel", "refDevice", "name", "scope"] {
            let instance_id = read.body[attr][0]["instanceId"]
                .as_str()
                .unwrap_or_default();
            assert!(
                instance_id.starts_with("urn:ngsi-ld:instance:deletion-"),
                "{instance_id}"
            );
            seen.push(instance_id.to_string());
        }
        let body = without_instance_ids(read.body);
        let when = |attr: &str| times_of(&body, attr, "deletedAt")[0].clone();
        assert_eq!(
            body,
            json!({"id": id, "type": "RiverGauge",
                "name": [{"type": "LanguageProperty",
                          "languageMap": {"@none": "urn:ngsi-ld:null"},
                          "deletedAt": when("name")}],
                "refDevice": [{"type": "Relationship", "object": "urn:ngsi-ld:null",
                               "deletedAt": when("refDevice")}],
                "scope": [{"type": "Property", "value": [], "deletedAt": when("scope")}],
                "waterLevel": [{"type": "Property", "value": "urn:ngsi-ld:null",
                                "deletedAt": when("waterLevel")}]})
        );
        let values = app
            .get(&format!(
                "{T}/{id}?timeproperty=deletedAt&options=temporalValues&attrs=waterLevel,name"
            ))
            .await;
        assert_eq!(
            values.body,
            json!({"id": id, "type": "RiverGauge",
                "name": {"type": "LanguageProperty", "languageMaps": [
                    [{"languageMap": {"@none": "urn:ngsi-ld:null"}}, when("name")]]},
                "scope": {"type": "Property", "values": [[[], when("scope")]]},
                "waterLevel": {"type": "Property",
                    "values": [["urn:ngsi-ld:null", when("waterLevel")]]}})
        );
        // A window on deletedAt: nothing was deleted before the gauge was written.
        let before = app
            .get(&format!(
                "{T}/{id}?timeproperty=deletedAt&timerel=before&timeAt={}",
                at("00:00")
            ))
            .await;
        assert_eq!(before.body, json!({"id": id, "type": "RiverGauge"}));
        // Reads on observedAt show the instances, not their deletions; the scope was set when
        // the gauge was written.
        let observed = app
            .get(&format!("{T}/{id}?options=temporalValues&attrs=waterLevel"))
            .await;
        let set = observed.body["scope"]["values"][0][1].clone();
        assert_eq!(
            observed.body,
            json!({"id": id, "type": "RiverGauge",
                "scope": {"type": "Property",
                    "values": [[["/Hue/PhuXuan", "/Hue/Flood"], set]]},
                "waterLevel": {"type": "Property",
                    "values": [[2.0, at("00:00")], [2.5, at("01:00")]]}})
        );
        assert!(
            set.as_str() <= when("scope").as_str(),
            "{set} {}",
            when("scope")
        );
        // A deletion is an instance of the evolution: it can itself be deleted.
        let removed = app
            .send(
                "DELETE",
                &format!("{T}/{id}/attrs/waterLevel/{}", seen[0]),
                &[],
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{:?}", removed.body);
        let again = app
            .send(
                "DELETE",
                &format!("{T}/{id}/attrs/waterLevel/{}", seen[0]),
                &[],
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let left = app
            .get(&format!("{T}/{id}?timeproperty=deletedAt&attrs=waterLevel"))
            .await;
        assert_eq!(
            without_instance_ids(left.body),
            json!({"id": id, "type": "RiverGauge",
                "scope": [{"type": "Property", "value": [], "deletedAt": when("scope")}]})
        );

        // Deleting the entity records the deletion of what it had left; the temporal API no
        // longer finds it (404), and a new entity with that id sees its past.
        let gone = app
            .send("DELETE", &format!("/ngsi-ld/v1/entities/{id}"), &[], None)
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
        assert_eq!(
            app.get(&format!("{T}/{id}?timeproperty=deletedAt"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let again = json!({"id": id, "type": "RiverGauge"});
        assert_eq!(
            app.json("POST", "/ngsi-ld/v1/entities", &again)
                .await
                .status,
            StatusCode::CREATED
        );
        let past = app
            .get(&format!("{T}/{id}?timeproperty=deletedAt&attrs=status"))
            .await;
        let body = without_instance_ids(past.body);
        assert_eq!(
            body,
            json!({"id": id, "type": "RiverGauge",
                "scope": [{"type": "Property", "value": [], "deletedAt": when("scope")}],
                "status": [{"type": "Property", "value": "urn:ngsi-ld:null",
                            "deletedAt": times_of(&body, "status", "deletedAt")[0]}]})
        );
        // The temporal delete erases the history and the deletions alike.
        let erased = app.send("DELETE", &format!("{T}/{id}"), &[], None).await;
        assert_eq!(erased.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.json("POST", T, &again).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            app.get(&format!("{T}/{id}?timeproperty=deletedAt"))
                .await
                .body,
            json!({"id": id, "type": "RiverGauge"})
        );
    }
}

#[tokio::test]
async fn created_at_and_modified_at_select_and_order_instances_by_those_times() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:RiverGauge:TrangTien";
        let gauge = json!({"id": id, "type": "RiverGauge",
            "waterLevel": {"type": "Property", "value": 1.0, "observedAt": at("10:00")}});
        let created = app.json("POST", "/ngsi-ld/v1/entities", &gauge).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        // A late reading: observed before the first one, written after it.
        let late = json!({"type": "Property", "value": 0.5, "observedAt": at("09:00")});
        let path = format!("/ngsi-ld/v1/entities/{id}/attrs/waterLevel");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(
            app.json("PATCH", &path, &late).await.status,
            StatusCode::NO_CONTENT
        );

        let observed = app.get(&format!("{T}/{id}?options=temporalValues")).await;
        assert_eq!(
            observed.body["waterLevel"]["values"],
            json!([[0.5, at("09:00")], [1.0, at("10:00")]])
        );
        let modified = app
            .get(&format!(
                "{T}/{id}?timeproperty=modifiedAt&timerel=after&timeAt=2000-01-01T00:00:00Z"
            ))
            .await;
        let body = without_instance_ids(modified.body);
        let times = times_of(&body, "waterLevel", "modifiedAt");
        assert!(times[0].as_str() < times[1].as_str(), "{times:?}");
        assert_eq!(
            body,
            json!({"id": id, "type": "RiverGauge", "waterLevel": [
                {"type": "Property", "value": 1.0, "observedAt": at("10:00"),
                 "modifiedAt": times[0]},
                {"type": "Property", "value": 0.5, "observedAt": at("09:00"),
                 "modifiedAt": times[1]}
            ]})
        );
        let last = app
            .get(&format!(
                "{T}/{id}?timeproperty=modifiedAt&lastN=1&options=temporalValues"
            ))
            .await;
        assert_eq!(
            last.body["waterLevel"],
            json!({"type": "Property", "values": [[0.5, times[1]]]})
        );
        let first_written = app
            .get(&format!(
                "{T}/{id}?timeproperty=modifiedAt&timerel=before&timeAt={}\
                 &options=temporalValues",
                times[1].as_str().unwrap_or_default()
            ))
            .await;
        assert_eq!(
            first_written.body["waterLevel"],
            json!({"type": "Property", "values": [[1.0, times[0]]]})
        );
        // createdAt is the attribute's creation: both instances have the same one.
        let created = app
            .get(&format!(
                "{T}?type=RiverGauge&timeproperty=createdAt&timerel=after\
                 &timeAt=2000-01-01T00:00:00Z&options=temporalValues"
            ))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
        let values = created.body[0]["waterLevel"]["values"].clone();
        assert_eq!(values[0][1], values[1][1], "{values}");
        assert_eq!(
            created.body,
            json!([{"id": id, "type": "RiverGauge", "waterLevel": {"type": "Property",
                "values": [[1.0, values[0][1]], [0.5, values[0][1]]]}}])
        );
        let none = app
            .get(&format!(
                "{T}?type=RiverGauge&timeproperty=createdAt&timerel=before\
                 &timeAt=2000-01-01T00:00:00Z"
            ))
            .await;
        assert_eq!(none.body, json!([]));
    }
}
