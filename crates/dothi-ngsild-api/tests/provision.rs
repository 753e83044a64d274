//! Purge, type-gated writes, scope operations, create-time validation and batch item checks,
//! through HTTP on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS};
use serde_json::{json, Value};

const ENTITIES: &str = "/ngsi-ld/v1/entities";

fn bad(detail: &str) -> Value {
    problem("BadRequestData", "Bad request data", 400, detail)
}

fn bridge(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "type": "Bridge",
        "name": {"type": "Property", "value": name},
        "length": {"type": "Property", "value": 400},
    })
}

async fn create(app: &App, body: &Value) {
    let created = app.json("POST", ENTITIES, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

#[tokio::test]
async fn purge_deletes_what_a_qualifying_query_selects() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        create(
            &app,
            &bridge("urn:ngsi-ld:Bridge:TruongTien", "Trường Tiền"),
        )
        .await;
        create(&app, &bridge("urn:ngsi-ld:Bridge:PhuXuan", "Phú Xuân")).await;
        create(
            &app,
            &json!({"id": "urn:ngsi-ld:Gate:NgoMon", "type": "Gate"}),
        )
        .await;

        for (query, detail) in [
            (
                "",
                "a purge needs a type, attrs, q or a geo-query (or local=true)",
            ),
            (
                "?id=urn:ngsi-ld:Gate:NgoMon",
                "a purge needs a type, attrs, q or a geo-query (or local=true)",
            ),
            (
                "?attrs=createdAt",
                "a purge needs a type, attrs, q or a geo-query (or local=true)",
            ),
            (
                "?type=Bridge&keep=name&drop=length",
                "keep and drop cannot be given together",
            ),
            (
                "?type=Bridge&attrs=owner{name}",
                "a purge cannot select or project linked entities",
            ),
        ] {
            let refused = app
                .send("DELETE", &format!("{ENTITIES}{query}"), &[], None)
                .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(refused.body, bad(detail), "{query}");
        }

        let dropped = app
            .send(
                "DELETE",
                &format!("{ENTITIES}?type=Bridge&drop=length"),
                &[],
                None,
            )
            .await;
        assert_eq!(dropped.status, StatusCode::NO_CONTENT);
        let kept = app
            .get(&format!("{ENTITIES}/urn:ngsi-ld:Bridge:PhuXuan"))
            .await;
        assert_eq!(
            kept.body,
            json!({"id": "urn:ngsi-ld:Bridge:PhuXuan", "type": "Bridge",
                   "name": {"type": "Property", "value": "Phú Xuân"}})
        );

        let purged = app
            .send(
                "DELETE",
                &format!("{ENTITIES}?q=name==\"Phú Xuân\""),
                &[],
                None,
            )
            .await;
        assert_eq!(purged.status, StatusCode::NO_CONTENT);
        let gone = app
            .get(&format!("{ENTITIES}/urn:ngsi-ld:Bridge:PhuXuan"))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let left = app.get(&format!("{ENTITIES}?type=Bridge,Gate")).await;
        assert_eq!(
            left.body,
            json!([
                {"id": "urn:ngsi-ld:Bridge:TruongTien", "type": "Bridge",
                 "name": {"type": "Property", "value": "Trường Tiền"}},
                {"id": "urn:ngsi-ld:Gate:NgoMon", "type": "Gate"},
            ])
        );
    }
}

#[tokio::test]
async fn a_type_selector_gates_writes_and_scope_is_written_like_an_attribute() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:Bridge:TruongTien";
        let path = format!("{ENTITIES}/{id}");
        let mut body = bridge(id, "Trường Tiền");
        body["scope"] = json!("/Hue");
        create(&app, &body).await;

        let gated = app
            .json(
                "PATCH",
                &format!("{path}/attrs?type=Gate"),
                &json!({"length": 401}),
            )
            .await;
        assert_eq!(gated.status, StatusCode::NOT_FOUND);
        let gated = app
            .send("DELETE", &format!("{path}?type=Gate"), &[], None)
            .await;
        assert_eq!(gated.status, StatusCode::NOT_FOUND);

        let appended = app
            .json(
                "POST",
                &format!("{path}/attrs?type=Bridge&options=noOverwrite"),
                &json!({"scope": "/VietNam/ThuaThienHue", "type": "Landmark"}),
            )
            .await;
        assert_eq!(
            appended.status,
            StatusCode::NO_CONTENT,
            "{:?}",
            appended.body
        );
        let patched = app
            .json(
                "PATCH",
                &format!("{path}/attrs/scope"),
                &json!({"value": "/Hanoi"}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::BAD_REQUEST);
        let read = app.get(&format!("{path}?attrs=length")).await;
        assert_eq!(
            read.body,
            json!({"id": id, "type": ["Bridge", "Landmark"],
                   "scope": ["/Hue", "/VietNam/ThuaThienHue"],
                   "length": {"type": "Property", "value": 400}})
        );

        let deleted = app
            .send("DELETE", &format!("{path}/attrs/scope"), &[], None)
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let updated = app
            .json("PATCH", &format!("{path}/attrs"), &json!({"scope": "/Hue"}))
            .await;
        assert_eq!(updated.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            updated.body,
            json!({"updated": [], "notUpdated": [
                {"attributeName": "scope", "reason": "the entity has no scope"}]})
        );
        let deleted = app
            .send("DELETE", &format!("{path}?type=Bridge"), &[], None)
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn create_refuses_malformed_attributes_and_names() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:Bridge:TruongTien";
        for (attrs, detail) in [
            (
                json!({"observedAt": {"type": "Property", "value": 1}}),
                "'observedAt' is a member of attributes, not an attribute name",
            ),
            (
                json!({"length": {"type": "Property", "value": 1, "object": "urn:x:y"}}),
                "attribute 'length' of type Property cannot have the member 'object'",
            ),
            (
                json!({"river": {"type": "Relationship", "object": "urn:x:y", "unitCode": "MTR"}}),
                "attribute 'river' of type Relationship cannot have a unitCode",
            ),
            (
                json!({"address": {"type": "Property", "value": {"city": "urn:ngsi-ld:null"}}}),
                "attribute 'address' holds the NGSI-LD Null, which only deletes",
            ),
            (
                json!({"location": {"type": "Property", "value": 7}}),
                "location is a GeoProperty",
            ),
            (
                json!({"scope": "/Hue//PhuXuan"}),
                "a scope is /Level/Level…, each level a letter then letters, digits or '_', \
                 e.g. /Hue/PhuXuan",
            ),
        ] {
            let mut body = json!({"id": id, "type": "Bridge"});
            for (k, v) in attrs.as_object().unwrap() {
                body[k] = v.clone();
            }
            let refused = app.json("POST", ENTITIES, &body).await;
            assert_eq!(refused.body, bad(detail), "{attrs}");
        }
        for (id, kind) in [("urn:ngsi-ld:Bridge:A\u{200b}B", "Bridge"), (id, "9Bridge")] {
            let refused = app
                .json("POST", ENTITIES, &json!({"id": id, "type": kind}))
                .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{id} {kind}");
        }
        let geo = json!({"id": id, "type": "Bridge", "location": {"type": "GeoProperty",
            "value": "{\"type\": \"Point\", \"coordinates\": [107.59, 16.47]}"}});
        create(&app, &geo).await;
        let read = app.get(&format!("{ENTITIES}/{id}")).await;
        assert_eq!(
            read.body["location"],
            json!({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.59, 16.47]}})
        );
    }
}

#[tokio::test]
async fn batch_items_are_checked_one_by_one_and_a_null_item_fails_all() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let null_item = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/create",
                &json!([bridge("urn:ngsi-ld:Bridge:A", "A"), null]),
            )
            .await;
        assert_eq!(null_item.body, bad("a batch item is null"));
        let mut with_context = bridge("urn:ngsi-ld:Bridge:B", "B");
        with_context["@context"] =
            json!("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld");
        let mixed = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/create",
                &json!([bridge("urn:ngsi-ld:Bridge:A", "A"), with_context]),
            )
            .await;
        assert_eq!(mixed.status, StatusCode::MULTI_STATUS);
        assert_eq!(
            mixed.body,
            json!({"success": ["urn:ngsi-ld:Bridge:A"], "errors": [{
                "entityId": "urn:ngsi-ld:Bridge:B",
                "error": bad("with Content-Type application/json an entity cannot carry an @context"),
            }]})
        );
    }
}

#[tokio::test]
async fn partial_update_keeps_the_type_and_refuses_nulls_and_new_datasets_add_instances() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:Bridge:TruongTien";
        let path = format!("{ENTITIES}/{id}");
        create(&app, &bridge(id, "Trường Tiền")).await;

        for (body, detail) in [
            (
                json!({"type": "Relationship", "object": "urn:ngsi-ld:River:Huong"}),
                "attribute length is a Property, not a Relationship",
            ),
            (
                json!({"type": "Property", "value": {"metres": "urn:ngsi-ld:null"}}),
                "the value of length holds the NGSI-LD Null, which only merge-patch accepts",
            ),
            (
                json!({"datasetId": "urn:ngsi-ld:null"}),
                "a datasetId cannot be deleted by setting it to the NGSI-LD Null",
            ),
        ] {
            let refused = app
                .json("PATCH", &format!("{path}/attrs/length"), &body)
                .await;
            assert_eq!(refused.body, bad(detail), "{body}");
        }

        let updated = app
            .json(
                "PATCH",
                &format!("{path}/attrs"),
                &json!({"length": {"type": "Property", "value": 402,
                                   "datasetId": "urn:ngsi-ld:Dataset:survey2026"}}),
            )
            .await;
        assert_eq!(updated.status, StatusCode::NO_CONTENT, "{:?}", updated.body);
        let read = app.get(&format!("{path}?attrs=length")).await;
        assert_eq!(
            read.body,
            json!({"id": id, "type": "Bridge", "length": [
                {"type": "Property", "value": 400},
                {"type": "Property", "value": 402, "datasetId": "urn:ngsi-ld:Dataset:survey2026"},
            ]})
        );
    }
}

#[tokio::test]
async fn merge_patches_a_compound_value_key_by_key() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:Bridge:TruongTien";
        let path = format!("{ENTITIES}/{id}");
        create(
            &app,
            &json!({"id": id, "type": "Bridge", "address": {"type": "Property",
                "value": {"street": "Lê Lợi", "city": "Huế", "country": "Việt Nam"}}}),
        )
        .await;
        let merged = app
            .json(
                "PATCH",
                &path,
                &json!({"address": {"type": "Property",
                    "value": {"street": "Trần Hưng Đạo", "country": "urn:ngsi-ld:null"}}}),
            )
            .await;
        assert_eq!(merged.status, StatusCode::NO_CONTENT, "{:?}", merged.body);
        let read = app.get(&path).await;
        assert_eq!(
            read.body,
            json!({"id": id, "type": "Bridge", "address": {"type": "Property",
                "value": {"street": "Trần Hưng Đạo", "city": "Huế"}}})
        );
    }
}

#[tokio::test]
async fn an_expired_entity_or_attribute_instance_is_gone() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = "urn:ngsi-ld:Bridge:TruongTien";
        let path = format!("{ENTITIES}/{id}");
        let mut body = bridge(id, "Trường Tiền");
        body["length"]["expiresAt"] = json!("2020-01-01T00:00:00Z");
        create(&app, &body).await;
        let read = app.get(&path).await;
        assert_eq!(
            read.body,
            json!({"id": id, "type": "Bridge", "name": {"type": "Property", "value": "Trường Tiền"}})
        );

        let mut transient = bridge("urn:ngsi-ld:Bridge:Phao", "cầu phao");
        transient["expiresAt"] = json!("2020-01-01T00:00:00Z");
        create(&app, &transient).await;
        let gone = app
            .get(&format!("{ENTITIES}/urn:ngsi-ld:Bridge:Phao"))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        // The id is free again.
        create(&app, &bridge("urn:ngsi-ld:Bridge:Phao", "cầu phao")).await;
    }
}

#[tokio::test]
async fn queries_and_discovery_leave_expired_entities_out() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        // Trường Tiền's length has expired; cầu phao has expired; the ferry expires soon.
        let mut truong_tien = bridge("urn:ngsi-ld:Bridge:TruongTien", "Trường Tiền");
        truong_tien["length"]["expiresAt"] = json!("2020-01-01T00:00:00Z");
        create(&app, &truong_tien).await;
        let mut phao = bridge("urn:ngsi-ld:Bridge:Phao", "cầu phao");
        phao["expiresAt"] = json!("2020-01-01T00:00:00Z");
        create(&app, &phao).await;
        let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        create(
            &app,
            &json!({"id": "urn:ngsi-ld:Ferry:ThuanAn", "type": "Ferry", "expiresAt": soon,
                    "capacity": {"type": "Property", "value": 40}}),
        )
        .await;
        create(&app, &bridge("urn:ngsi-ld:Bridge:PhuXuan", "Phú Xuân")).await;

        let ferry = json!({"id": "urn:ngsi-ld:Ferry:ThuanAn", "type": "Ferry",
                           "expiresAt": {"type": "Property", "value": soon},
                           "capacity": {"type": "Property", "value": 40}});
        let truong_tien = json!({"id": "urn:ngsi-ld:Bridge:TruongTien", "type": "Bridge",
            "name": {"type": "Property", "value": "Trường Tiền"}});
        let phu_xuan = bridge("urn:ngsi-ld:Bridge:PhuXuan", "Phú Xuân");
        let all = app
            .get(&format!("{ENTITIES}?type=Bridge,Ferry&count=true"))
            .await;
        assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
        assert_eq!(
            all.body,
            json!([truong_tien.clone(), ferry.clone(), phu_xuan.clone()])
        );
        assert_eq!(all.header("ngsild-results-count"), Some("3"));
        // Trường Tiền's expired length no longer matches, also when storage pages and counts.
        let long = app
            .get(&format!(
                "{ENTITIES}?type=Bridge&q=length%3E100&count=true&limit=1"
            ))
            .await;
        assert_eq!(long.body, json!([phu_xuan.clone()]));
        assert_eq!(long.header("ngsild-results-count"), Some("1"));
        let posted = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/query",
                &json!({"type": "Query", "entities": [{"type": "Bridge"}]}),
            )
            .await;
        assert_eq!(posted.body, json!([truong_tien.clone(), phu_xuan.clone()]));
        assert_eq!(
            app.get("/ngsi-ld/v1/types/Bridge").await.body["entityCount"],
            2
        );
        // A Relationship to an expired entity links nothing.
        let road = json!({"id": "urn:ngsi-ld:Road:LeLoi", "type": "Road",
            "crosses": {"type": "Relationship", "object": "urn:ngsi-ld:Bridge:Phao"}});
        create(&app, &road).await;
        let joined = app
            .get(&format!("{ENTITIES}/urn:ngsi-ld:Road:LeLoi?join=inline"))
            .await;
        assert_eq!(joined.body, road);
        assert_eq!(
            app.get("/ngsi-ld/v1/attributes/capacity").await.body["attributeCount"],
            1
        );

        // Once the ferry has expired, it is gone from queries and discovery.
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        let all = app
            .get(&format!("{ENTITIES}?type=Bridge,Ferry&count=true"))
            .await;
        assert_eq!(all.body, json!([truong_tien, phu_xuan]));
        assert_eq!(all.header("ngsild-results-count"), Some("2"));
        assert_eq!(
            app.get("/ngsi-ld/v1/types?details=true").await.body,
            json!([{"id": "https://uri.etsi.org/ngsi-ld/default-context/Bridge",
                    "type": "EntityType", "typeName": "Bridge",
                    "attributeNames": ["length", "name"]},
                   {"id": "https://uri.etsi.org/ngsi-ld/default-context/Road",
                    "type": "EntityType", "typeName": "Road",
                    "attributeNames": ["crosses"]}])
        );
        let attributes = app.get("/ngsi-ld/v1/attributes").await;
        assert_eq!(
            attributes.body["attributeList"],
            json!(["crosses", "length", "name"])
        );
        for gone in ["/ngsi-ld/v1/types/Ferry", "/ngsi-ld/v1/attributes/capacity"] {
            assert_eq!(app.get(gone).await.status, StatusCode::NOT_FOUND, "{gone}");
        }
    }
}

#[tokio::test]
async fn a_malformed_expires_at_is_refused() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let detail = "expiresAt must be an ISO 8601 date-time, e.g. 2026-11-25T08:00:00Z";
        let mut entity = bridge("urn:ngsi-ld:Bridge:Phao", "cầu phao");
        entity["expiresAt"] = json!("2026-13-45T00:00:00Z");
        assert_eq!(app.json("POST", ENTITIES, &entity).await.body, bad(detail));
        let mut attribute = bridge("urn:ngsi-ld:Bridge:Phao", "cầu phao");
        attribute["length"]["expiresAt"] = json!("ngày mai");
        assert_eq!(
            app.json("POST", ENTITIES, &attribute).await.body,
            bad(detail)
        );
    }
}
