//! The NGSI-LD entity API through HTTP, on SQLite and PostgreSQL: whole answers compared.

mod common;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS, CORE_LINK};
use serde_json::{json, Value};

const KIM_LONG: &str = "urn:ngsi-ld:RiverGauge:KimLong";
const PHU_OC: &str = "urn:ngsi-ld:RiverGauge:PhuOc";

fn gauge(id: &str, level: f64, position: [f64; 2]) -> Value {
    json!({
        "id": id,
        "type": "RiverGauge",
        "name": {"type": "LanguageProperty", "languageMap": {"vi": "Trạm Kim Long", "en": "Kim Long gauge"}},
        "waterLevel": {"type": "Property", "value": level, "unitCode": "MTR", "observedAt": "2026-11-25T08:00:00Z"},
        "alarmLevel": {"type": "Property", "value": 2},
        "river": {"type": "Relationship", "object": "urn:ngsi-ld:River:Huong"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": position}}
    })
}

fn path(id: &str) -> String {
    format!("/ngsi-ld/v1/entities/{id}")
}

#[tokio::test]
async fn created_entity_reads_back_whole_in_each_representation() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let created = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities",
                &gauge(KIM_LONG, 3.2, [107.5419, 16.4659]),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{backend:?} {:?}",
            created.body
        );
        assert_eq!(created.header("location"), Some(path(KIM_LONG).as_str()));
        assert_eq!(created.body, Value::Null);

        let normalized = app.get(&path(KIM_LONG)).await;
        assert_eq!(normalized.status, StatusCode::OK);
        assert_eq!(normalized.header("link"), Some(CORE_LINK));
        assert_eq!(normalized.header("content-type"), Some("application/json"));
        assert_eq!(normalized.body, gauge(KIM_LONG, 3.2, [107.5419, 16.4659]));

        let key_values = app
            .get(&format!("{}?options=keyValues", path(KIM_LONG)))
            .await;
        assert_eq!(
            key_values.body,
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "name": {"languageMap": {"vi": "Trạm Kim Long", "en": "Kim Long gauge"}},
                "waterLevel": 3.2, "alarmLevel": 2, "river": "urn:ngsi-ld:River:Huong",
                "location": {"type": "Point", "coordinates": [107.5419, 16.4659]}
            })
        );

        let concise = app.get(&format!("{}?format=concise", path(KIM_LONG))).await;
        assert_eq!(
            concise.body,
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "name": {"languageMap": {"vi": "Trạm Kim Long", "en": "Kim Long gauge"}},
                "waterLevel": {"value": 3.2, "unitCode": "MTR", "observedAt": "2026-11-25T08:00:00Z"},
                "alarmLevel": 2,
                "river": {"object": "urn:ngsi-ld:River:Huong"},
                "location": {"type": "Point", "coordinates": [107.5419, 16.4659]}
            })
        );

        let picked = app
            .get(&format!(
                "{}?options=keyValues&lang=vi&attrs=name,waterLevel",
                path(KIM_LONG)
            ))
            .await;
        assert_eq!(
            picked.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "name": "Trạm Kim Long", "waterLevel": 3.2})
        );

        let ld = app
            .get_with(
                &format!("{}?attrs=alarmLevel", path(KIM_LONG)),
                &[("accept", "application/ld+json")],
            )
            .await;
        assert_eq!(ld.header("content-type"), Some("application/ld+json"));
        assert_eq!(
            ld.body,
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "alarmLevel": {"type": "Property", "value": 2},
                "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
            })
        );

        let sys = app
            .get(&format!(
                "{}?options=sysAttrs&attrs=alarmLevel",
                path(KIM_LONG)
            ))
            .await;
        let created_at = sys.body["createdAt"].as_str().expect("createdAt");
        assert!(
            chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
            "{created_at}"
        );
        assert!(created_at.ends_with('Z'));
        assert_eq!(sys.body["alarmLevel"]["createdAt"], sys.body["createdAt"]);
        assert_eq!(sys.body["modifiedAt"], sys.body["createdAt"]);

        let feature = app
            .get_with(
                &format!("{}?attrs=alarmLevel", path(KIM_LONG)),
                &[("accept", "application/geo+json")],
            )
            .await;
        assert_eq!(feature.header("content-type"), Some("application/geo+json"));
        assert_eq!(
            feature.body,
            json!({
                "id": KIM_LONG, "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [107.5419, 16.4659]},
                "properties": {"type": "RiverGauge", "alarmLevel": {"type": "Property", "value": 2}},
                "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
            })
        );
        // With `Prefer: body=json` the context travels in the Link header only (§6.3.6).
        let linked = app
            .get_with(
                &format!("{}?attrs=alarmLevel", path(KIM_LONG)),
                &[("accept", "application/geo+json"), ("prefer", "body=json")],
            )
            .await;
        assert_eq!(linked.header("link"), Some(CORE_LINK));
        assert_eq!(linked.body.get("@context"), None);
    }
}

#[tokio::test]
async fn refusals_are_problem_details_with_the_etsi_types() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let entity = gauge(KIM_LONG, 3.2, [107.5419, 16.4659]);
        app.json("POST", "/ngsi-ld/v1/entities", &entity).await;

        let twice = app.json("POST", "/ngsi-ld/v1/entities", &entity).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(
            twice.body,
            problem(
                "AlreadyExists",
                "Already exists",
                409,
                &format!("an entity with the id {KIM_LONG} exists")
            )
        );

        let missing = app.get(&path("urn:ngsi-ld:RiverGauge:Nowhere")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                "no entity has the id urn:ngsi-ld:RiverGauge:Nowhere"
            )
        );

        let no_such_attribute = app
            .get(&format!("{}?attrs=turbidity", path(KIM_LONG)))
            .await;
        assert_eq!(
            no_such_attribute.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                &format!("entity {KIM_LONG} has none of the attributes asked for")
            )
        );

        let not_uri = app.get(&path("KimLong")).await;
        assert_eq!(
            not_uri.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "the entity id 'KimLong' is not a URI"
            )
        );

        let no_type = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities",
                &json!({"id": "urn:ngsi-ld:X:1"}),
            )
            .await;
        assert_eq!(
            no_type.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "the entity has no 'type'"
            )
        );

        let null_value = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities",
                &json!({"id": "urn:ngsi-ld:X:1", "type": "T", "a": {"type": "Property", "value": null}}),
            )
            .await;
        assert_eq!(
            null_value.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "attribute 'a' of type Property has no 'value'"
            )
        );

        let bad_geo = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities",
                &json!({"id": "urn:ngsi-ld:X:1", "type": "T",
                        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 16]}}}),
            )
            .await;
        assert_eq!(
            bad_geo.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "attribute 'location' is not a valid GeoJSON geometry: coordinates[0]: longitude 200 outside [-180, 180]"
            )
        );

        let not_json = app
            .send(
                "POST",
                "/ngsi-ld/v1/entities",
                &[],
                Some(("application/json", "{\"id\": ".into())),
            )
            .await;
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            not_json.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );
        assert!(
            not_json.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("the body is not valid JSON: "),
            "{}",
            not_json.body
        );

        let text = app
            .send(
                "POST",
                "/ngsi-ld/v1/entities",
                &[],
                Some(("text/plain", entity.to_string())),
            )
            .await;
        assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            text.body,
            problem(
                "InvalidRequest",
                "Unsupported media type",
                415,
                "the body must be application/json or application/ld+json, not text/plain"
            )
        );

        let ld_without_context = app.json_ld("POST", "/ngsi-ld/v1/entities", &entity).await;
        assert_eq!(
            ld_without_context.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "with Content-Type application/ld+json the body must carry an @context"
            )
        );

        let unknown_context = app
            .get_with(
                &path(KIM_LONG),
                &[("link", "<https://example.org/unknown-context.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"")],
            )
            .await;
        assert_eq!(unknown_context.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            unknown_context.body,
            problem(
                "LdContextNotAvailable",
                "JSON-LD context not available",
                503,
                "the JSON-LD context https://example.org/unknown-context.jsonld is not available: the \
                 broker does not hold it and does not download contexts (register it through \
                 /ngsi-ld/v1/jsonldContexts)"
            )
        );

        // In an application/ld+json batch each entity brings its own @context: one that cannot
        // be retrieved fails that entity alone (207), the others are created.
        let batch = app
            .json_ld(
                "POST",
                "/ngsi-ld/v1/entityOperations/create",
                &json!([
                    {
                        "id": "urn:ngsi-ld:Thing:unreachable",
                        "type": "Thing",
                        "@context": "https://example.org/unknown-context.jsonld"
                    },
                    {
                        "id": "urn:ngsi-ld:Thing:reachable",
                        "type": "Thing",
                        "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
                    }
                ]),
            )
            .await;
        assert_eq!(batch.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            batch.body,
            json!({
                "success": ["urn:ngsi-ld:Thing:reachable"],
                "errors": [{
                    "entityId": "urn:ngsi-ld:Thing:unreachable",
                    "error": problem(
                        "LdContextNotAvailable",
                        "JSON-LD context not available",
                        503,
                        "the JSON-LD context https://example.org/unknown-context.jsonld is not \
                         available: the broker does not hold it and does not download contexts \
                         (register it through /ngsi-ld/v1/jsonldContexts)"
                    )
                }]
            })
        );

        let xml = app
            .get_with(&path(KIM_LONG), &[("accept", "application/xml")])
            .await;
        assert_eq!(xml.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            xml.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/NotAcceptable"
        );
    }
}

#[tokio::test]
async fn attribute_operations_follow_ngsi_ld_update_semantics() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        app.json(
            "POST",
            "/ngsi-ld/v1/entities",
            &gauge(KIM_LONG, 3.2, [107.5419, 16.4659]),
        )
        .await;
        let attrs = format!("{}/attrs", path(KIM_LONG));

        let appended = app
            .json(
                "POST",
                &format!("{attrs}?options=noOverwrite"),
                &json!({"rainfall": {"type": "Property", "value": 42.5, "unitCode": "MMT"},
                        "waterLevel": {"type": "Property", "value": 9.9}}),
            )
            .await;
        assert_eq!(appended.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            appended.body,
            json!({"updated": ["rainfall"],
                   "notUpdated": [{"attributeName": "waterLevel",
                                   "reason": "the attribute exists and noOverwrite was asked"}]})
        );

        // Update replaces the attributes the entity has and appends the others (ETSI 011_01_03).
        let updated = app
            .json(
                "PATCH",
                &attrs,
                &json!({"waterLevel": {"type": "Property", "value": 3.5, "observedAt": "2026-11-25T09:00:00+07:00"},
                        "salinity": {"type": "Property", "value": 12}}),
            )
            .await;
        assert_eq!(updated.status, StatusCode::NO_CONTENT, "{:?}", updated.body);
        assert_eq!(updated.body, Value::Null);
        assert_eq!(
            app.get(&format!("{}?attrs=salinity", path(KIM_LONG)))
                .await
                .body,
            json!({"id": KIM_LONG, "type": "RiverGauge",
                   "salinity": {"type": "Property", "value": 12}})
        );

        // A partial update changes only the members sent.
        let partial = app
            .json(
                "PATCH",
                &format!("{attrs}/rainfall"),
                &json!({"value": 60.0}),
            )
            .await;
        assert_eq!(partial.status, StatusCode::NO_CONTENT, "{:?}", partial.body);
        let multi = app
            .json(
                "POST",
                &attrs,
                &json!({"waterLevel": {"type": "Property", "value": 3.6, "datasetId": "urn:ngsi-ld:Dataset:radar"}}),
            )
            .await;
        assert_eq!(multi.status, StatusCode::NO_CONTENT);
        let read = app
            .get(&format!("{}?attrs=waterLevel,rainfall", path(KIM_LONG)))
            .await;
        assert_eq!(
            read.body,
            json!({
                "id": KIM_LONG, "type": "RiverGauge",
                "rainfall": {"type": "Property", "value": 60.0, "unitCode": "MMT"},
                "waterLevel": [
                    {"type": "Property", "value": 3.5, "observedAt": "2026-11-25T09:00:00+07:00"},
                    {"type": "Property", "value": 3.6, "datasetId": "urn:ngsi-ld:Dataset:radar"}
                ]
            })
        );

        let replaced = app
            .json(
                "PUT",
                &format!("{attrs}/rainfall"),
                &json!({"type": "Property", "value": 0}),
            )
            .await;
        assert_eq!(replaced.status, StatusCode::NO_CONTENT);
        let deleted = app
            .send(
                "DELETE",
                &format!("{attrs}/waterLevel?datasetId=urn:ngsi-ld:Dataset:radar"),
                &[],
                None,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let again = app
            .send(
                "DELETE",
                &format!("{attrs}/waterLevel?datasetId=urn:ngsi-ld:Dataset:radar"),
                &[],
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let missing = app
            .json("PATCH", &format!("{attrs}/turbidity"), &json!({"value": 1}))
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // Merge-patch: urn:ngsi-ld:null deletes, new attributes are added.
        let merged = app
            .json(
                "PATCH",
                &path(KIM_LONG),
                &json!({"alarmLevel": "urn:ngsi-ld:null", "status": "flooding"}),
            )
            .await;
        assert_eq!(merged.status, StatusCode::NO_CONTENT, "{:?}", merged.body);
        let read = app
            .get(&format!(
                "{}?options=keyValues&attrs=alarmLevel,status,rainfall,waterLevel",
                path(KIM_LONG)
            ))
            .await;
        assert_eq!(
            read.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "rainfall": 0, "status": "flooding", "waterLevel": 3.5})
        );

        let replace = app
            .json(
                "PUT",
                &path(KIM_LONG),
                &json!({"type": "RiverGauge", "waterLevel": {"type": "Property", "value": 1.1}}),
            )
            .await;
        assert_eq!(replace.status, StatusCode::NO_CONTENT, "{:?}", replace.body);
        assert_eq!(
            app.get(&path(KIM_LONG)).await.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {"type": "Property", "value": 1.1}})
        );

        assert_eq!(
            app.send("DELETE", &path(KIM_LONG), &[], None).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(app.get(&path(KIM_LONG)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.send("DELETE", &path(KIM_LONG), &[], None).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn batch_operations_answer_207_with_each_failure() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let ops = "/ngsi-ld/v1/entityOperations";
        let created = app
            .json(
                "POST",
                &format!("{ops}/create"),
                &json!([
                    gauge(KIM_LONG, 3.2, [107.5419, 16.4659]),
                    gauge(PHU_OC, 2.1, [107.5066, 16.5354]),
                    {"id": "urn:ngsi-ld:RiverGauge:NoType"},
                    gauge(KIM_LONG, 3.3, [107.5419, 16.4659])
                ]),
            )
            .await;
        assert_eq!(created.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            created.body,
            json!({
                "success": [KIM_LONG, PHU_OC],
                "errors": [
                    {"entityId": "urn:ngsi-ld:RiverGauge:NoType",
                     "error": problem("BadRequestData", "Bad request data", 400, "the entity has no 'type'")},
                    {"entityId": KIM_LONG,
                     "error": problem("AlreadyExists", "Already exists", 409,
                                      &format!("an entity with the id {KIM_LONG} exists"))}
                ]
            })
        );

        let all_new = app
            .json(
                "POST",
                &format!("{ops}/create"),
                &json!([{"id": "urn:ngsi-ld:Device:1", "type": "Device"}]),
            )
            .await;
        assert_eq!(all_new.status, StatusCode::CREATED);
        assert_eq!(all_new.body, json!(["urn:ngsi-ld:Device:1"]));

        let upsert = app
            .json(
                "POST",
                &format!("{ops}/upsert?options=update"),
                &json!([
                    {"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {"type": "Property", "value": 4.1}},
                    {"id": "urn:ngsi-ld:Device:2", "type": "Device"}
                ]),
            )
            .await;
        assert_eq!(upsert.status, StatusCode::CREATED);
        assert_eq!(upsert.body, json!(["urn:ngsi-ld:Device:2"]));
        let level = app
            .get(&format!(
                "{}?options=keyValues&attrs=waterLevel,alarmLevel",
                path(KIM_LONG)
            ))
            .await;
        assert_eq!(
            level.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": 4.1, "alarmLevel": 2})
        );

        let replace = app
            .json(
                "POST",
                &format!("{ops}/upsert"),
                &json!([{"id": KIM_LONG, "type": "RiverGauge", "waterLevel": {"type": "Property", "value": 4.2}}]),
            )
            .await;
        assert_eq!(replace.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&format!("{}?options=keyValues", path(KIM_LONG)))
                .await
                .body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "waterLevel": 4.2})
        );

        let update = app
            .json(
                "POST",
                &format!("{ops}/update"),
                &json!([
                    {"id": PHU_OC, "type": "RiverGauge", "waterLevel": {"type": "Property", "value": 2.5}},
                    {"id": "urn:ngsi-ld:RiverGauge:Ghost", "type": "RiverGauge", "waterLevel": {"type": "Property", "value": 1}}
                ]),
            )
            .await;
        assert_eq!(update.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            update.body,
            json!({"success": [PHU_OC], "errors": [{"entityId": "urn:ngsi-ld:RiverGauge:Ghost",
                "error": problem("ResourceNotFound", "Resource not found", 404,
                                 "no entity has the id urn:ngsi-ld:RiverGauge:Ghost")}]})
        );

        let merge = app
            .json(
                "POST",
                &format!("{ops}/merge"),
                &json!([{"id": PHU_OC, "type": "RiverGauge", "alarmLevel": "urn:ngsi-ld:null"}]),
            )
            .await;
        assert_eq!(merge.status, StatusCode::NO_CONTENT, "{:?}", merge.body);
        assert_eq!(
            app.get(&format!(
                "{}?options=keyValues&attrs=alarmLevel,waterLevel",
                path(PHU_OC)
            ))
            .await
            .body,
            json!({"id": PHU_OC, "type": "RiverGauge", "waterLevel": 2.5})
        );

        let delete = app
            .json(
                "POST",
                &format!("{ops}/delete"),
                &json!([KIM_LONG, "urn:ngsi-ld:RiverGauge:Ghost"]),
            )
            .await;
        assert_eq!(delete.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            delete.body,
            json!({"success": [KIM_LONG], "errors": [{"entityId": "urn:ngsi-ld:RiverGauge:Ghost",
                "error": problem("ResourceNotFound", "Resource not found", 404,
                                 "no entity has the id urn:ngsi-ld:RiverGauge:Ghost")}]})
        );

        let not_array = app
            .json("POST", &format!("{ops}/create"), &json!({"id": KIM_LONG}))
            .await;
        assert_eq!(
            not_array.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "a batch operation takes a JSON array"
            )
        );
    }
}

#[tokio::test]
async fn the_ngsi_ld_null_deletes_an_attribute_or_one_instance() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        app.json(
            "POST",
            "/ngsi-ld/v1/entities",
            &gauge(KIM_LONG, 3.2, [107.5419, 16.4659]),
        )
        .await;
        let attrs = format!("{}/attrs", path(KIM_LONG));
        let radar = json!({"waterLevel": {"type": "Property", "value": 3.3, "datasetId": "urn:ngsi-ld:Dataset:radar"}});
        assert_eq!(
            app.json("POST", &attrs, &radar).await.status,
            StatusCode::NO_CONTENT
        );

        // One instance, by its datasetId: the other stays, as a single object again.
        let one = app
            .json(
                "PATCH",
                &attrs,
                &json!({"waterLevel": {"type": "Property", "value": "urn:ngsi-ld:null",
                                       "datasetId": "urn:ngsi-ld:Dataset:radar"},
                        "location": {"type": "GeoProperty", "value": "urn:ngsi-ld:null"}}),
            )
            .await;
        assert_eq!(one.status, StatusCode::NO_CONTENT, "{:?}", one.body);
        // A whole attribute through the attribute's own resource.
        let name = app
            .json(
                "PATCH",
                &format!("{attrs}/name"),
                &json!({"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}}),
            )
            .await;
        assert_eq!(name.status, StatusCode::NO_CONTENT, "{:?}", name.body);
        assert_eq!(
            app.get(&format!(
                "{}?attrs=waterLevel,location,name",
                path(KIM_LONG)
            ))
            .await
            .body,
            json!({"id": KIM_LONG, "type": "RiverGauge",
                   "waterLevel": {"type": "Property", "value": 3.2, "unitCode": "MTR",
                                  "observedAt": "2026-11-25T08:00:00Z"}})
        );
        let absent = app
            .json(
                "PATCH",
                &attrs,
                &json!({"turbidity": {"type": "Property", "value": "urn:ngsi-ld:null"}}),
            )
            .await;
        assert_eq!(
            absent.body,
            json!({"updated": [], "notUpdated": [{"attributeName": "turbidity",
                                                  "reason": "the entity has no such attribute"}]})
        );
    }
}
