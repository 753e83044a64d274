//! Query Entities, discovery and JSON-LD contexts through HTTP, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS};
use serde_json::{json, Value};

/// Huế's two river gauges, an air-quality station downtown and a street light.
async fn seed(app: &App) {
    let entities = json!([
        {"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": ["RiverGauge", "Device"],
         "waterLevel": {"type": "Property", "value": 3.6, "unitCode": "MTR"},
         "alarmLevel": {"type": "Property", "value": 2},
         "name": {"type": "LanguageProperty", "languageMap": {"vi": "Trạm Kim Long"}},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5419, 16.4659]}}},
        {"id": "urn:ngsi-ld:RiverGauge:PhuOc", "type": "RiverGauge",
         "waterLevel": {"type": "Property", "value": 2.1, "unitCode": "MTR"},
         "alarmLevel": {"type": "Property", "value": 1},
         "name": {"type": "LanguageProperty", "languageMap": {"vi": "Trạm Phú Ốc"}},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5066, 16.5354]}}},
        {"id": "urn:ngsi-ld:AirQualityObserved:DaiNoi", "type": "AirQualityObserved",
         "aqi": {"type": "Property", "value": 162},
         "category": {"type": "Property", "value": ["unhealthy", "pm25"]},
         "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:aq-01"},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5776, 16.4698]}}},
        {"id": "urn:ngsi-ld:Streetlight:LeLoi-12", "type": "Streetlight",
         "powerState": {"type": "Property", "value": "off"},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5878, 16.4632]}}}
    ]);
    let created = app
        .json("POST", "/ngsi-ld/v1/entityOperations/create", &entities)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

async fn ids(app: &App, query: &str) -> Vec<String> {
    let answer = app.get(&format!("/ngsi-ld/v1/entities?{query}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{query}: {:?}", answer.body);
    answer
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .expect("id")
                .trim_start_matches("urn:ngsi-ld:")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn queries_select_by_type_q_id_and_attributes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        assert_eq!(
            ids(&app, "type=RiverGauge").await,
            ["RiverGauge:KimLong", "RiverGauge:PhuOc"]
        );
        // The ETSI spelling of the resource, with its trailing slash, is the same resource.
        let slashed = app
            .get("/ngsi-ld/v1/entities/?type=RiverGauge&options=keyValues&attrs=alarmLevel")
            .await;
        assert_eq!(
            slashed.body,
            json!([
                {"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": ["RiverGauge", "Device"], "alarmLevel": 2},
                {"id": "urn:ngsi-ld:RiverGauge:PhuOc", "type": "RiverGauge", "alarmLevel": 1}
            ])
        );
        assert_eq!(
            ids(&app, "type=RiverGauge;Device").await,
            ["RiverGauge:KimLong"]
        );
        assert_eq!(
            ids(&app, "type=(RiverGauge;Device)|Streetlight").await,
            ["RiverGauge:KimLong", "Streetlight:LeLoi-12"]
        );
        assert_eq!(
            ids(&app, "type=RiverGauge&q=waterLevel>=3.5").await,
            ["RiverGauge:KimLong"]
        );
        assert_eq!(
            ids(&app, "q=alarmLevel==2;waterLevel>3|aqi>150").await,
            ["RiverGauge:KimLong", "AirQualityObserved:DaiNoi"]
        );
        assert_eq!(
            ids(&app, "q=alarmLevel==1..2").await,
            ["RiverGauge:KimLong", "RiverGauge:PhuOc"]
        );
        assert_eq!(
            ids(&app, "q=powerState==%22off%22").await,
            ["Streetlight:LeLoi-12"]
        );
        assert_eq!(
            ids(&app, "q=category==%22pm25%22").await,
            ["AirQualityObserved:DaiNoi"]
        );
        assert_eq!(
            ids(&app, "q=refDevice==urn:ngsi-ld:Device:aq-01").await,
            ["AirQualityObserved:DaiNoi"]
        );
        assert_eq!(ids(&app, "q=waterLevel!=3.6").await, ["RiverGauge:PhuOc"]);
        assert_eq!(
            ids(&app, "q=name[vi]~=Ph%C3%BA").await,
            ["RiverGauge:PhuOc"]
        );
        assert_eq!(
            ids(&app, "type=RiverGauge&idPattern=.*Oc$").await,
            ["RiverGauge:PhuOc"]
        );
        assert_eq!(
            ids(
                &app,
                "id=urn:ngsi-ld:Streetlight:LeLoi-12,urn:ngsi-ld:RiverGauge:PhuOc\
                 &type=RiverGauge,Streetlight"
            )
            .await,
            ["RiverGauge:PhuOc", "Streetlight:LeLoi-12"]
        );
        // Ids alone select too wide (§5.7.2.4).
        let ids_only = app
            .get("/ngsi-ld/v1/entities?id=urn:ngsi-ld:RiverGauge:PhuOc")
            .await;
        assert_eq!(ids_only.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            ids(&app, "attrs=aqi,powerState").await,
            ["AirQualityObserved:DaiNoi", "Streetlight:LeLoi-12"]
        );

        let picked = app
            .get("/ngsi-ld/v1/entities?type=AirQualityObserved&attrs=aqi&options=keyValues")
            .await;
        assert_eq!(
            picked.body,
            json!([{"id": "urn:ngsi-ld:AirQualityObserved:DaiNoi", "type": "AirQualityObserved", "aqi": 162}])
        );
    }
}

#[tokio::test]
async fn geo_queries_find_what_lies_near_or_within() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        // 1 km around a point 130 m from the Kim Long gauge.
        assert_eq!(
            ids(&app, "type=RiverGauge&georel=near;maxDistance==1000&geometry=Point&coordinates=[107.5430,16.4650]").await,
            ["RiverGauge:KimLong"]
        );
        assert_eq!(
            ids(&app, "type=RiverGauge&georel=near;minDistance==1000&geometry=Point&coordinates=[107.5430,16.4650]").await,
            ["RiverGauge:PhuOc"]
        );
        // The citadel and the city centre east of the river bend, not the gauges upstream.
        let downtown =
            "[[[107.56,16.45],[107.60,16.45],[107.60,16.48],[107.56,16.48],[107.56,16.45]]]";
        assert_eq!(
            ids(
                &app,
                &format!("georel=within&geometry=Polygon&coordinates={downtown}")
            )
            .await,
            ["AirQualityObserved:DaiNoi", "Streetlight:LeLoi-12"]
        );
        assert_eq!(
            ids(&app, &format!("type=RiverGauge,Streetlight&georel=disjoint&geometry=Polygon&coordinates={downtown}")).await,
            ["RiverGauge:KimLong", "RiverGauge:PhuOc"]
        );
        let collection = app
            .get_with(
                &format!("/ngsi-ld/v1/entities?type=Streetlight&georel=intersects&geometry=Polygon&coordinates={downtown}"),
                &[("accept", "application/geo+json")],
            )
            .await;
        assert_eq!(
            collection.body,
            json!({"type": "FeatureCollection", "features": [{
                "id": "urn:ngsi-ld:Streetlight:LeLoi-12", "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [107.5878, 16.4632]},
                "properties": {
                    "type": "Streetlight",
                    "powerState": {"type": "Property", "value": "off"},
                    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5878, 16.4632]}}
                }
            }], "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"})
        );
        let partial = app
            .get("/ngsi-ld/v1/entities?georel=near;maxDistance==10&geometry=Point")
            .await;
        assert_eq!(
            partial.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "a geo-query needs georel, geometry and coordinates together"
            )
        );
    }
}

#[tokio::test]
async fn paging_counts_and_limits() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let first = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge,Streetlight&limit=2&count=true")
            .await;
        assert_eq!(first.header("ngsild-results-count"), Some("3"));
        assert_eq!(first.body.as_array().map(Vec::len), Some(2));
        // The pagination links (§4.12): the context link, then only `next` on the first page.
        let links: Vec<&str> = first
            .headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            links,
            [
                common::CORE_LINK,
                "</ngsi-ld/v1/entities?count=true&limit=2&offset=2&type=RiverGauge,Streetlight>; \
                 rel=\"next\"; type=\"application/json\""
            ]
        );
        let last = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge,Streetlight&limit=2&offset=2&count=true")
            .await;
        assert_eq!(
            last.headers
                .get_all("link")
                .iter()
                .nth(1)
                .and_then(|v| v.to_str().ok()),
            Some(
                "</ngsi-ld/v1/entities?count=true&limit=2&offset=0&type=RiverGauge,Streetlight>; \
                 rel=\"prev\"; type=\"application/json\""
            )
        );
        assert_eq!(
            ids(&app, "type=RiverGauge,Streetlight&limit=2&offset=2").await,
            ["Streetlight:LeLoi-12"]
        );
        // The in-memory path (a regex) pages and counts the same way.
        let regex = app
            .get("/ngsi-ld/v1/entities?idPattern=urn:ngsi-ld:.*&limit=1&offset=1&count=true")
            .await;
        assert_eq!(regex.header("ngsild-results-count"), Some("4"));
        assert_eq!(regex.body[0]["id"], "urn:ngsi-ld:RiverGauge:PhuOc");
        // An ordering operator never matches a Relationship, in the page or in the count.
        let relationship = app
            .get("/ngsi-ld/v1/entities?q=refDevice>%22urn:a%22&count=true")
            .await;
        assert_eq!(
            (
                relationship.header("ngsild-results-count"),
                &relationship.body
            ),
            (Some("0"), &json!([]))
        );
        let only_count = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge&limit=0&count=true")
            .await;
        assert_eq!(
            (only_count.header("ngsild-results-count"), &only_count.body),
            (Some("2"), &json!([]))
        );

        let too_many = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge&limit=5000")
            .await;
        assert_eq!(too_many.status, StatusCode::FORBIDDEN);
        assert_eq!(
            too_many.body,
            problem(
                "TooManyResults",
                "Too many results",
                403,
                "limit may be at most 1000"
            )
        );
        let unrestricted = app.get("/ngsi-ld/v1/entities").await;
        assert_eq!(
            unrestricted.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "a query needs at least one of type, idPattern, attrs, q, scopeQ, a geo-query or \
                 local=true"
            )
        );
        let bad_q = app.get("/ngsi-ld/v1/entities?q=waterLevel>>3").await;
        assert_eq!(bad_q.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad_q.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        );
        assert!(
            bad_q.body["detail"].as_str().unwrap().starts_with("q: "),
            "{}",
            bad_q.body
        );
    }
}

#[tokio::test]
async fn discovery_lists_types_and_attributes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let types = app.get("/ngsi-ld/v1/types").await;
        assert_eq!(types.status, StatusCode::OK);
        assert_eq!(types.body["type"], "EntityTypeList");
        assert_eq!(
            types.body["typeList"],
            json!(["AirQualityObserved", "Device", "RiverGauge", "Streetlight"])
        );
        let gauge = app.get("/ngsi-ld/v1/types/RiverGauge").await;
        assert_eq!(
            gauge.body,
            json!({
                "id": "https://uri.etsi.org/ngsi-ld/default-context/RiverGauge",
                "type": "EntityTypeInfo",
                "typeName": "RiverGauge",
                "entityCount": 2,
                "attributeDetails": [
                    {"id": "https://uri.etsi.org/ngsi-ld/default-context/alarmLevel", "type": "Attribute", "attributeName": "alarmLevel", "attributeTypes": ["Property"]},
                    {"id": "https://uri.etsi.org/ngsi-ld/location", "type": "Attribute", "attributeName": "location", "attributeTypes": ["GeoProperty"]},
                    {"id": "https://uri.etsi.org/ngsi-ld/default-context/name", "type": "Attribute", "attributeName": "name", "attributeTypes": ["LanguageProperty"]},
                    {"id": "https://uri.etsi.org/ngsi-ld/default-context/waterLevel", "type": "Attribute", "attributeName": "waterLevel", "attributeTypes": ["Property"]}
                ]
            })
        );
        let attributes = app.get("/ngsi-ld/v1/attributes").await;
        assert_eq!(attributes.body["type"], "AttributeList");
        assert_eq!(
            attributes.body["attributeList"],
            json!([
                "alarmLevel",
                "aqi",
                "category",
                "location",
                "name",
                "powerState",
                "refDevice",
                "waterLevel"
            ])
        );
        let level = app.get("/ngsi-ld/v1/attributes/waterLevel").await;
        assert_eq!(
            level.body,
            json!({
                "id": "https://uri.etsi.org/ngsi-ld/default-context/waterLevel",
                "type": "Attribute",
                "attributeName": "waterLevel",
                "attributeCount": 2,
                "attributeTypes": ["Property"],
                "typeNames": ["Device", "RiverGauge"]
            })
        );
        assert_eq!(
            app.get("/ngsi-ld/v1/types/Bridge").await.status,
            StatusCode::NOT_FOUND
        );
        // `details` belongs to the lists only: on one type or attribute it is refused.
        for path in [
            "/ngsi-ld/v1/types/RiverGauge?details=true",
            "/ngsi-ld/v1/attributes/waterLevel?details=true",
        ] {
            let refused = app.get(path).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(
                refused.body["type"], "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest",
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn registered_contexts_expand_on_write_and_compact_on_read() {
    for backend in BACKENDS {
        let mut app = App::new(backend).await;
        let document = json!({"@context": {
            "RiverGauge": "https://dothi.hue.gov.vn/ns/RiverGauge",
            "waterLevel": "https://smartdatamodels.org/dataModel.Environment/waterLevel"
        }});
        let hosted = app
            .json_ld("POST", "/ngsi-ld/v1/jsonldContexts", &document)
            .await;
        assert_eq!(hosted.status, StatusCode::CREATED, "{:?}", hosted.body);
        let url = hosted.header("location").expect("Location").to_string();
        assert!(
            url.starts_with("http://127.0.0.1:8080/ngsi-ld/v1/jsonldContexts/"),
            "{url}"
        );
        let id = url.rsplit('/').next().unwrap().to_string();

        let entity = json!({
            "@context": [url],
            "id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge",
            "waterLevel": {"type": "Property", "value": 3.6}
        });
        let created = app.json_ld("POST", "/ngsi-ld/v1/entities", &entity).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

        // Without the context, the client sees the expanded names.
        let plain = app
            .get("/ngsi-ld/v1/entities/urn:ngsi-ld:RiverGauge:KimLong")
            .await;
        assert_eq!(
            plain.body,
            json!({"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "https://dothi.hue.gov.vn/ns/RiverGauge",
                   "https://smartdatamodels.org/dataModel.Environment/waterLevel": {"type": "Property", "value": 3.6}})
        );
        let link = format!(
            "<{url}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\""
        );
        let compact = app
            .get_with(
                "/ngsi-ld/v1/entities?type=RiverGauge&q=waterLevel>3",
                &[("link", &link)],
            )
            .await;
        assert_eq!(compact.header("link"), Some(link.as_str()));
        assert_eq!(
            compact.body,
            json!([{"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge",
                    "waterLevel": {"type": "Property", "value": 3.6}}])
        );

        // A hosted context is stored: after a restart it is still served and still resolves.
        app.restart().await;
        let again = app
            .get_with(
                "/ngsi-ld/v1/entities?type=RiverGauge&q=waterLevel>3",
                &[("link", &link)],
            )
            .await;
        assert_eq!(again.body, compact.body);

        assert_eq!(
            app.get("/ngsi-ld/v1/jsonldContexts").await.body,
            json!([url])
        );
        let served = app.get(&format!("/ngsi-ld/v1/jsonldContexts/{id}")).await;
        assert_eq!(
            (served.header("content-type"), &served.body),
            (Some("application/ld+json"), &document)
        );

        let removed = app
            .send(
                "DELETE",
                &format!("/ngsi-ld/v1/jsonldContexts/{id}"),
                &[],
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let gone = app
            .get_with("/ngsi-ld/v1/entities?type=RiverGauge", &[("link", &link)])
            .await;
        assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE);

        let not_a_context = app
            .json_ld(
                "POST",
                "/ngsi-ld/v1/jsonldContexts",
                &json!({"RiverGauge": "x"}),
            )
            .await;
        assert_eq!(
            not_a_context.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "a context document is a JSON object with an @context member"
            )
        );
        let _: Value = not_a_context.body;
    }
}
