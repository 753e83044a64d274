//! Linked Entity Retrieval (§4.5.23) through HTTP, on SQLite and PostgreSQL: `join=inline`
//! and `join=flat` with `joinLevel` on Retrieve Entity, Query Entities (GET and POST) and in
//! notifications, and the nested `pick`/`omit` selections of linked entities (§4.21).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::{problem, App, BACKENDS};
use dothi_broker::subscriptions::{spawn_delivery_worker, spawn_notifier};
use serde_json::{json, Value};

const BRIDGE: &str = "urn:ngsi-ld:Bridge:TruongTien";
const BRIDGE2: &str = "urn:ngsi-ld:Bridge:PhuXuan";
const CITY: &str = "urn:ngsi-ld:City:Hue";
const COUNTRY: &str = "urn:ngsi-ld:Country:VietNam";

/// Two bridges in Huế, Huế in Việt Nam, and Việt Nam pointing back to one bridge (a cycle).
async fn seed(app: &App) {
    let entities = json!([
        {"id": BRIDGE, "type": "Bridge", "name": {"type": "Property", "value": "Trường Tiền"},
         "locatedIn": {"type": "Relationship", "object": CITY}},
        {"id": BRIDGE2, "type": "Bridge", "name": {"type": "Property", "value": "Phú Xuân"},
         "locatedIn": {"type": "Relationship", "object": CITY}},
        {"id": CITY, "type": "City", "name": {"type": "Property", "value": "Huế"},
         "inCountry": {"type": "Relationship", "object": COUNTRY}},
        {"id": COUNTRY, "type": "Country", "name": {"type": "Property", "value": "Việt Nam"},
         "landmark": {"type": "Relationship", "object": BRIDGE}}
    ]);
    let created = app
        .json("POST", "/ngsi-ld/v1/entityOperations/create", &entities)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

fn rel(object: &str) -> Value {
    json!({"type": "Relationship", "object": object})
}

fn prop(value: &str) -> Value {
    json!({"type": "Property", "value": value})
}

fn country() -> Value {
    json!({"id": COUNTRY, "type": "Country", "name": prop("Việt Nam"), "landmark": rel(BRIDGE)})
}

fn city() -> Value {
    json!({"id": CITY, "type": "City", "name": prop("Huế"), "inCountry": rel(COUNTRY)})
}

async fn ok(app: &App, path: &str) -> Value {
    let answer = app.get(path).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn retrieve_embeds_or_appends_linked_entities() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let path = format!("/ngsi-ld/v1/entities/{BRIDGE}");
        // Inline, two levels: Huế inside locatedIn, Việt Nam inside inCountry; the cycle back
        // to the bridge is not followed.
        let mut inner_city = city();
        inner_city["inCountry"]["entity"] = country();
        assert_eq!(
            ok(&app, &format!("{path}?join=inline&joinLevel=3")).await,
            json!({"id": BRIDGE, "type": "Bridge", "name": prop("Trường Tiền"),
                   "locatedIn": {"type": "Relationship", "object": CITY, "entity": inner_city}})
        );
        // joinLevel defaults to 1; keyValues puts the entity in place of the object.
        assert_eq!(
            ok(&app, &format!("{path}?join=inline&options=keyValues")).await,
            json!({"id": BRIDGE, "type": "Bridge", "name": "Trường Tiền",
                   "locatedIn": {"id": CITY, "type": "City", "name": "Huế",
                                 "inCountry": COUNTRY}})
        );
        // Flat: the entity, then each linked entity once, level by level.
        assert_eq!(
            ok(&app, &format!("{path}?join=flat&joinLevel=3")).await,
            json!([
                {"id": BRIDGE, "type": "Bridge", "name": prop("Trường Tiền"),
                 "locatedIn": rel(CITY)},
                city(),
                country()
            ])
        );
        // @none, or nothing to link: the plain entity.
        let plain = json!({"id": CITY, "type": "City", "name": prop("Huế"),
                           "inCountry": rel(COUNTRY)});
        let city_path = format!("/ngsi-ld/v1/entities/{CITY}");
        assert_eq!(ok(&app, &format!("{city_path}?join=@none")).await, plain);
        let gone = app
            .send(
                "DELETE",
                &format!("/ngsi-ld/v1/entities/{COUNTRY}"),
                &[],
                None,
            )
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        assert_eq!(ok(&app, &format!("{city_path}?join=flat")).await, plain);
        assert_eq!(ok(&app, &format!("{city_path}?join=inline")).await, plain);
    }
}

#[tokio::test]
async fn nested_pick_and_omit_select_members_of_linked_entities() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let path = format!("/ngsi-ld/v1/entities/{BRIDGE}");
        assert_eq!(
            ok(
                &app,
                &format!(
                    "{path}?join=inline&joinLevel=2&pick=id,locatedIn{{name,inCountry{{id}}}}"
                )
            )
            .await,
            json!({"id": BRIDGE, "locatedIn": {"type": "Relationship", "object": CITY,
                   "entity": {"name": prop("Huế"), "inCountry": {"type": "Relationship",
                              "object": COUNTRY, "entity": {"id": COUNTRY}}}}})
        );
        // `|` separates members as in plain reads (§4.21).
        assert_eq!(
            ok(
                &app,
                &format!("{path}?join=inline&pick=id|locatedIn{{name}}")
            )
            .await,
            json!({"id": BRIDGE, "locatedIn": {"type": "Relationship", "object": CITY,
                   "entity": {"name": prop("Huế")}}})
        );
        // Omit keeps a Relationship that carries a nested selection; flat follows only the
        // Relationships left.
        assert_eq!(
            ok(
                &app,
                &format!("{path}?join=flat&joinLevel=2&omit=type,locatedIn{{inCountry}}")
            )
            .await,
            json!([
                {"id": BRIDGE, "name": prop("Trường Tiền"), "locatedIn": rel(CITY)},
                {"id": CITY, "type": "City", "name": prop("Huế")}
            ])
        );
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        for (query, detail) in [
            (
                "pick=locatedIn{name}",
                "pick projects Linked Entities ('{…}'), which needs the join parameter",
            ),
            (
                "join=inline&omit=locatedIn{inCountry{name}}",
                "pick/omit address linked entities 2 hops away, but joinLevel is 1",
            ),
            (
                "join=inline&joinLevel=0",
                "joinLevel must be an integer from 1 to 10, not 0",
            ),
            ("join=deep", "join must be inline, flat or @none, not deep"),
            (
                "join=inline&pick=locatedIn{name",
                "pick: 'locatedIn{name' has a '{' that is not closed",
            ),
            (
                "join=inline&pick=id, name",
                "pick: 'id, name' contains the forbidden character ' '",
            ),
        ] {
            let answer = app.get(&format!("{path}?{query}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(answer.body, bad(detail), "{query}");
        }
    }
}

#[tokio::test]
async fn queries_join_through_get_and_post() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let bridge = |id: &str, name: &str| json!({"id": id, "type": "Bridge", "name": prop(name), "locatedIn": rel(CITY)});
        // Both bridges link Huế: it is appended once.
        let flat = json!([
            bridge(BRIDGE, "Trường Tiền"),
            bridge(BRIDGE2, "Phú Xuân"),
            city()
        ]);
        assert_eq!(
            ok(&app, "/ngsi-ld/v1/entities?type=Bridge&join=flat").await,
            flat
        );
        let answer = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/query",
                &json!({"type": "Query", "entities": [{"type": "Bridge"}], "join": "flat",
                        "joinLevel": 1}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body, flat);
        // Inline with attrs: attrs narrows the queried entities, not the linked ones.
        let inline = ok(
            &app,
            "/ngsi-ld/v1/entities?type=Bridge&join=inline&attrs=locatedIn&options=keyValues",
        )
        .await;
        let huế = json!({"id": CITY, "type": "City", "name": "Huế", "inCountry": COUNTRY});
        assert_eq!(
            inline,
            json!([
                {"id": BRIDGE, "type": "Bridge", "locatedIn": huế},
                {"id": BRIDGE2, "type": "Bridge", "locatedIn": huế}
            ])
        );
        let answer = app
            .json(
                "POST",
                "/ngsi-ld/v1/entityOperations/query",
                &json!({"type": "Query", "entities": [{"type": "Bridge"}], "join": "inline",
                        "joinLevel": 0}),
            )
            .await;
        assert_eq!(
            answer.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "joinLevel must be an integer from 1 to 10, not 0"
            )
        );
    }
}

/// A local endpoint that records notification bodies.
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let r = received.clone();
    let app = Router::new().route(
        "/notify",
        post(move |body: String| {
            let r = r.clone();
            async move {
                r.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

/// Where notifications stand, for a failure message: the change log, the notifier's cursor,
/// the outbox and each subscription's bookkeeping.
async fn outbox_state(app: &App) -> String {
    let store = &app.broker.store;
    let last = store.ngsild_last_change_seq().await;
    let cursor = store
        .ngsild_cursor_get(dothi_broker::subscriptions::CURSOR)
        .await;
    let pending = store.ngsild_deliveries_pending().await;
    let subs = app.get("/ngsi-ld/v1/subscriptions").await.body;
    format!(
        "last change {last:?}, notifier at {cursor:?}, outbox {pending:?}, subscriptions {subs}"
    )
}

#[tokio::test]
async fn notifications_carry_linked_entities() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;
        let (addr, received) = receiver().await;
        let notifier = spawn_notifier(app.broker.clone());
        let delivery = spawn_delivery_worker(app.broker.clone());
        for (id, join) in [
            ("urn:ngsi-ld:Subscription:i", "inline"),
            ("urn:ngsi-ld:Subscription:f", "flat"),
        ] {
            let body = json!({
                "id": id, "type": "Subscription", "entities": [{"type": "Bridge"}],
                "watchedAttributes": ["name"],
                "notification": {"endpoint": {"uri": format!("http://{addr}/notify"),
                                              "accept": "application/json"},
                                 "attributes": ["locatedIn"], "format": "keyValues",
                                 "join": join, "joinLevel": 1}
            });
            let created = app.json("POST", "/ngsi-ld/v1/subscriptions", &body).await;
            assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
            let read = ok(&app, &format!("/ngsi-ld/v1/subscriptions/{id}")).await;
            assert_eq!(read["notification"]["join"], json!(join));
            assert_eq!(read["notification"]["joinLevel"], json!(1));
        }
        let patched = app
            .json(
                "PATCH",
                &format!("/ngsi-ld/v1/entities/{BRIDGE}/attrs"),
                &json!({"name": prop("Cầu Trường Tiền")}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{:?}", patched.body);
        let deadline = Instant::now() + Duration::from_secs(10);
        while received.lock().unwrap().len() < 2 {
            if Instant::now() >= deadline {
                panic!("notifications did not arrive: {}", outbox_state(&app).await);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut data: Vec<(String, Value)> = received
            .lock()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["subscriptionId"].as_str().unwrap().to_string(),
                    n["data"].clone(),
                )
            })
            .collect();
        data.sort_by(|a, b| a.0.cmp(&b.0));
        let huế = json!({"id": CITY, "type": "City", "name": "Huế", "inCountry": COUNTRY});
        assert_eq!(
            data,
            vec![
                (
                    "urn:ngsi-ld:Subscription:f".to_string(),
                    json!([{"id": BRIDGE, "type": "Bridge", "locatedIn": CITY}, huế])
                ),
                (
                    "urn:ngsi-ld:Subscription:i".to_string(),
                    json!([{"id": BRIDGE, "type": "Bridge", "locatedIn": huế}])
                ),
            ]
        );
        notifier.abort();
        delivery.abort();
        let bad = app
            .json(
                "POST",
                "/ngsi-ld/v1/subscriptions",
                &json!({"type": "Subscription", "entities": [{"type": "Bridge"}],
                        "notification": {"endpoint": {"uri": "http://127.0.0.1:1/n"},
                                         "join": "sideways"}}),
            )
            .await;
        assert_eq!(
            bad.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "notification.join must be inline, flat or @none, not sideways"
            )
        );
    }
}
