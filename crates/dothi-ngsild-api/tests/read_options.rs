//! Projection, dataset and ordering options of Retrieve and Query Entities, parameter and
//! header checks common to the binding, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS};
use serde_json::{json, Value};

const KIM_LONG: &str = "urn:ngsi-ld:RiverGauge:KimLong";
const PHU_OC: &str = "urn:ngsi-ld:RiverGauge:PhuOc";
const LIGHT: &str = "urn:ngsi-ld:Streetlight:LeLoi-12";

async fn seed(app: &App) {
    let entities = json!([
        {"id": KIM_LONG, "type": "RiverGauge", "scope": ["/Hue/PhuXuan", "/Agency/Hydro"],
         "waterLevel": [
             {"type": "Property", "value": 3.6},
             {"type": "Property", "value": 3.5, "datasetId": "urn:ngsi-ld:Dataset:radar"}
         ],
         "alarmLevel": {"type": "Property", "value": 2},
         "address": {"type": "Property", "value": {"ward": "Kim Long"}}},
        {"id": PHU_OC, "type": "RiverGauge", "scope": "/Hue/PhuXuan",
         "waterLevel": {"type": "Property", "value": 2.1},
         "alarmLevel": {"type": "Property", "value": 1},
         "address": {"type": "Property", "value": {"ward": "Huong Vinh"}}},
        {"id": LIGHT, "type": "Streetlight",
         "powerState": {"type": "Property", "value": "off"}}
    ]);
    let created = app
        .json("POST", "/ngsi-ld/v1/entityOperations/create", &entities)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

fn bad_request_data(detail: &str) -> Value {
    problem("BadRequestData", "Bad request data", 400, detail)
}

fn ids(body: &Value) -> Vec<&str> {
    body.as_array()
        .expect("an array")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect()
}

#[tokio::test]
async fn pick_and_omit_project_entities() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let retrieve = |query: &str| format!("/ngsi-ld/v1/entities/{PHU_OC}?{query}");

        let picked = app.get(&retrieve("pick=id,alarmLevel")).await;
        assert_eq!(picked.status, StatusCode::OK);
        assert_eq!(
            picked.body,
            json!({"id": PHU_OC, "alarmLevel": {"type": "Property", "value": 1}})
        );
        let omitted = app
            .get(&retrieve("omit=type,waterLevel|address&options=keyValues"))
            .await;
        assert_eq!(
            omitted.body,
            json!({"id": PHU_OC, "scope": "/Hue/PhuXuan", "alarmLevel": 1})
        );

        // Nothing left: 404.
        let nothing = app
            .get(&retrieve(
                "omit=id,type,scope,waterLevel,alarmLevel,address",
            ))
            .await;
        assert_eq!(nothing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            nothing.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                &format!("nothing of entity {PHU_OC} is left after pick and omit")
            )
        );

        // A query drops the entities that the projection leaves empty.
        let queried = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge,Streetlight&pick=powerState&options=keyValues")
            .await;
        assert_eq!(queried.body, json!([{"powerState": "off"}]));

        for (query, detail) in [
            (
                "pick=name&omit=name",
                "the member 'name' is both picked and omitted",
            ),
            (
                "pick=name&attrs=name",
                "attrs cannot be combined with pick or omit (pick replaces attrs)",
            ),
            (
                "pick=id;name",
                "pick: 'id;name' contains the forbidden character ';'",
            ),
            (
                "pick=id,,name",
                "pick: 'id,,name' has an empty member at position 3 (every member needs a name)",
            ),
            (
                "omit=id,address{ward",
                "omit: 'id,address{ward' has a '{' that is not closed",
            ),
            (
                "pick=address{ward}",
                "pick projects Linked Entities ('{…}'), which needs the join parameter",
            ),
            (
                "omit=a{b{c}}&join=inline&joinLevel=1",
                "pick/omit address linked entities 2 hops away, but joinLevel is 1",
            ),
        ] {
            let refused = app.get(&retrieve(query)).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(refused.body, bad_request_data(detail), "{query}");
        }
    }
}

#[tokio::test]
async fn dataset_ids_filter_the_instances_read() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let radar = app
            .get(&format!(
                "/ngsi-ld/v1/entities/{KIM_LONG}?datasetId=urn:ngsi-ld:Dataset:radar&options=concise"
            ))
            .await;
        assert_eq!(
            radar.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "scope": ["/Hue/PhuXuan", "/Agency/Hydro"],
                   "waterLevel": {"value": 3.5, "datasetId": "urn:ngsi-ld:Dataset:radar"}})
        );
        let default = app
            .get(
                "/ngsi-ld/v1/entities?type=RiverGauge&pick=id,type,waterLevel&datasetId=@none\
                 &options=keyValues",
            )
            .await;
        assert_eq!(
            default.body,
            json!([
                {"id": KIM_LONG, "type": "RiverGauge", "waterLevel": 3.6},
                {"id": PHU_OC, "type": "RiverGauge", "waterLevel": 2.1}
            ])
        );
        // keyValues of several instances: a map by dataset id (§4.5.4).
        let all = app
            .get(&format!(
                "/ngsi-ld/v1/entities/{KIM_LONG}?attrs=waterLevel&options=keyValues"
            ))
            .await;
        assert_eq!(
            all.body,
            json!({"id": KIM_LONG, "type": "RiverGauge", "scope": ["/Hue/PhuXuan", "/Agency/Hydro"],
                   "waterLevel": {"dataset": {
                "@none": 3.6, "urn:ngsi-ld:Dataset:radar": 3.5}}})
        );
    }
}

#[tokio::test]
async fn scope_queries_and_ordering_select_and_sort() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        for (scope_q, expected) in [
            ("/Hue/PhuXuan", vec![KIM_LONG, PHU_OC]),
            ("/Hue/PhuXuan;/Agency/Hydro", vec![KIM_LONG]),
            ("/Agency/%23", vec![KIM_LONG]),
            ("(/Hue/%2B;/Nowhere)|/Agency/Hydro", vec![KIM_LONG]),
        ] {
            let answer = app
                .get(&format!("/ngsi-ld/v1/entities?scopeQ={scope_q}"))
                .await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{scope_q}: {:?}",
                answer.body
            );
            assert_eq!(ids(&answer.body), expected, "{scope_q}");
        }
        let bad = app.get("/ngsi-ld/v1/entities?scopeQ=Hue").await;
        assert_eq!(
            bad.body,
            bad_request_data("scopeQ: a scope starts with '/', not 'Hue' (position 0 of 'Hue')")
        );

        for (order, expected) in [
            ("alarmLevel", vec![PHU_OC, KIM_LONG, LIGHT]),
            ("alarmLevel;desc", vec![KIM_LONG, PHU_OC, LIGHT]),
            ("type;desc,id;desc", vec![LIGHT, PHU_OC, KIM_LONG]),
            ("address[ward];desc", vec![KIM_LONG, PHU_OC, LIGHT]),
        ] {
            let answer = app
                .get(&format!(
                    "/ngsi-ld/v1/entities?type=RiverGauge,Streetlight&orderBy={order}"
                ))
                .await;
            assert_eq!(ids(&answer.body), expected, "{order}");
        }
        let no_origin = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge&orderBy=location;dist-asc")
            .await;
        assert_eq!(
            no_origin.body,
            bad_request_data("orderBy with dist-asc or dist-desc needs orderFrom")
        );
    }
}

#[tokio::test]
async fn unknown_parameters_and_malformed_requests_are_refused() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let unknown = app
            .get("/ngsi-ld/v1/entities?type=RiverGauge&invalidParam=1")
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            unknown.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );
        let types = app.get("/ngsi-ld/v1/types?invalidParam=1").await;
        assert_eq!(types.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            types.body,
            problem(
                "InvalidRequest",
                "Invalid request",
                400,
                "the parameter 'invalidParam' is not one of this operation's parameters \
                 (details, local, via)"
            )
        );
        let create = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities?invalidParam=1",
                &json!({"id": "urn:ngsi-ld:X:1", "type": "X"}),
            )
            .await;
        assert_eq!(
            create.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );

        for (query, detail) in [
            (
                "attrs=id,type",
                "attrs lists attributes; 'id' is a core member of the entity (use pick)",
            ),
            (
                "attrs=createdAt",
                "a query needs at least one of type, idPattern, attrs, q, scopeQ, a geo-query or \
                 local=true",
            ),
            (
                "type=*&local=false",
                "type=* selects every entity type of this broker and cannot go with local=false",
            ),
            (
                "type=RiverGauge&idPattern=Kim**",
                "idPattern 'Kim**' is not a valid regular expression: '*' repeats a repetition",
            ),
            (
                "type=RiverGauge&geometryProperty=location",
                "geometryProperty applies to application/geo+json answers only",
            ),
        ] {
            let refused = app.get(&format!("/ngsi-ld/v1/entities?{query}")).await;
            assert_eq!(refused.body, bad_request_data(detail), "{query}");
        }
        let every_type = app.get("/ngsi-ld/v1/entities?type=*").await;
        assert_eq!(ids(&every_type.body), [KIM_LONG, PHU_OC, LIGHT]);
    }
}

#[tokio::test]
async fn accept_weights_and_list_order_choose_the_representation() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let path = format!("/ngsi-ld/v1/entities/{LIGHT}");
        for (accept, expected) in [
            ("application/ld+json, application/json", "application/json"),
            ("application/geo+json, application/json", "application/json"),
            ("application/json;q=0, */*", "application/ld+json"),
            ("*/*;q=0.9, application/ld+json;q=0.8", "application/json"),
            ("application/ld+json;q=notanumber", "application/ld+json"),
            (
                "application/json;q=0.1, application/ld+json;q=0.9",
                "application/ld+json",
            ),
        ] {
            let answer = app.get_with(&path, &[("accept", accept)]).await;
            assert_eq!(answer.status, StatusCode::OK, "{accept}");
            assert_eq!(answer.header("content-type"), Some(expected), "{accept}");
        }
        let refused = app
            .get_with(&path, &[("accept", "application/json;q=0, text/html")])
            .await;
        assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
    }
}

#[tokio::test]
async fn writes_without_a_known_length_are_refused() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    for backend in BACKENDS {
        let app = App::new(backend).await;
        // A streamed body has no length, as a chunked request has no Content-Length.
        let chunks: Vec<Result<&'static str, std::io::Error>> =
            vec![Ok(r#"{"id": "urn:ngsi-ld:X:1","#), Ok(r#" "type": "X"}"#)];
        let request = Request::builder()
            .method("POST")
            .uri("/ngsi-ld/v1/entities")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .expect("request");
        let response = app.router.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), StatusCode::LENGTH_REQUIRED);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert!(body.is_empty());
        // The same body with its length is created.
        let created = app
            .json(
                "POST",
                "/ngsi-ld/v1/entities",
                &json!({"id": "urn:ngsi-ld:X:1", "type": "X"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn post_query_takes_projection_ordering_and_collation() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        for (id, name) in [("A", "Zebra"), ("B", "Ähre"), ("C", "abc")] {
            let created = app
                .json(
                    "POST",
                    "/ngsi-ld/v1/entities",
                    &json!({"id": format!("urn:ngsi-ld:Vehicle:{id}"), "type": "Vehicle",
                            "name": {"type": "Property", "value": name}}),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED);
        }
        let query = |ordering: Value| {
            json!({"type": "Query", "entities": [{"type": "Vehicle"}], "pick": ["name"],
                   "ordering": ordering})
        };
        let names = |body: &Value| -> Vec<String> {
            body.as_array()
                .expect("an array")
                .iter()
                .map(|e| e["name"]["value"].as_str().expect("name").to_string())
                .collect()
        };
        let by_code_point = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/query",
                &query(json!({"orderBy": ["name"]})),
            )
            .await;
        assert_eq!(names(&by_code_point.body), ["Zebra", "abc", "Ähre"]);
        assert!(by_code_point.body[0].get("id").is_none());
        let collated = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/query",
                &query(json!({"orderBy": ["name;asc"], "collation": "de"})),
            )
            .await;
        assert_eq!(names(&collated.body), ["abc", "Ähre", "Zebra"]);
        for (ordering, detail) in [
            (
                json!({"orderBy": ["location;dist-asc"]}),
                "orderBy with dist-asc or dist-desc needs orderFrom",
            ),
            (
                json!({"orderBy": ["id"], "collation": "not a tag!"}),
                "collation 'not a tag!' is not a BCP 47 language tag",
            ),
            (
                json!({"orderBy": ["id"], "geometry": 5}),
                "ordering.geometry must be a string",
            ),
        ] {
            let refused = app
                .json(
                    "POST",
                    "/ngsi-ld/v1/entityOperations/query",
                    &query(ordering),
                )
                .await;
            assert_eq!(refused.body, bad_request_data(detail));
        }
    }
}
