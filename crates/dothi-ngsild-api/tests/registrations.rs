//! Context source registrations (`/csourceRegistrations`: register, retrieve, discover, update,
//! delete) and their subscriptions (`/csourceSubscriptions`) through HTTP on SQLite and
//! PostgreSQL, with notifications received by a local HTTP endpoint.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::{problem, App, BACKENDS, CORE_LINK};
use dothi_broker::registrations::spawn_registry_worker;
use dothi_broker::subscriptions::spawn_delivery_worker;
use dothi_broker::Access;
use dothi_domain::Actor;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const CTX: &str = "http://hue.example/context.jsonld";
const HUE: &str = "https://hue.example/";
const REG: &str = "urn:ngsi-ld:ContextSourceRegistration:gauges";
const REGS: &str = "/ngsi-ld/v1/csourceRegistrations";
const SUBS: &str = "/ngsi-ld/v1/csourceSubscriptions";
const SUB: &str = "urn:ngsi-ld:Subscription:gauges";

fn link(url: &str) -> String {
    format!("<{url}>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"")
}

/// A broker whose context registry knows the Huế test context (RiverGauge, waterLevel, …).
async fn app(backend: dothi_store::Backend) -> App {
    let app = App::new(backend).await;
    preload(&app);
    app
}

fn preload(app: &App) {
    app.broker
        .contexts
        .preload(
            CTX,
            json!({"@context": {
                "RiverGauge": format!("{HUE}RiverGauge"),
                "RainGauge": format!("{HUE}RainGauge"),
                "waterLevel": format!("{HUE}waterLevel"),
                "rainfall": format!("{HUE}rainfall"),
                "operator": format!("{HUE}operator")
            }}),
        )
        .unwrap();
}

/// The river gauges of the Huế flood desk, as a JSON-LD registration.
fn gauges() -> Value {
    json!({
        "id": REG,
        "type": "ContextSourceRegistration",
        "registrationName": "Trạm đo sông Hương",
        "information": [
            {"entities": [{"type": "RiverGauge"}], "propertyNames": ["waterLevel"]},
            {"entities": [{"idPattern": "^urn:ngsi-ld:RainGauge:", "type": "RainGauge"}]}
        ],
        "location": {"type": "Point", "coordinates": [107.5776, 16.4698]},
        "endpoint": "http://gauges.hue.example:1026",
        "scope": "/Hue/PhuXuan",
        "operator": "Sở Tài nguyên và Môi trường",
        "@context": [CTX]
    })
}

fn without_context(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("@context");
    body
}

/// The registration as a reader with the Huế context gets it.
fn gauges_read() -> Value {
    let mut body = without_context(gauges());
    body["mode"] = json!("inclusive");
    body["operations"] = json!(["federationOps"]);
    body
}

async fn register(app: &App, body: &Value) {
    let answer = app.json_ld("POST", REGS, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
}

fn ids(body: &Value) -> Vec<&str> {
    body.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn registration_is_stored_and_read_back_in_the_readers_context() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let created = app.json_ld("POST", REGS, &gauges()).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert_eq!(created.header("location"), Some(&*format!("{REGS}/{REG}")));
        assert_eq!(created.body, Value::Null);

        // The creating context.
        let read = app
            .get_with(&format!("{REGS}/{REG}"), &[("link", &link(CTX))])
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.header("content-type"), Some("application/json"));
        assert_eq!(read.header("link"), Some(&*link(CTX)));
        assert_eq!(read.body, gauges_read());

        // No context: the terms of the Huế context are IRIs.
        let plain = app.get(&format!("{REGS}/{REG}")).await;
        assert_eq!(plain.header("link"), Some(common::CORE_LINK));
        let mut expanded = gauges_read();
        expanded["information"] = json!([
            {"entities": [{"type": format!("{HUE}RiverGauge")}], "propertyNames": [format!("{HUE}waterLevel")]},
            {"entities": [{"idPattern": "^urn:ngsi-ld:RainGauge:", "type": format!("{HUE}RainGauge")}]}
        ]);
        let operator = expanded
            .as_object_mut()
            .unwrap()
            .remove("operator")
            .unwrap();
        expanded[format!("{HUE}operator")] = operator;
        assert_eq!(plain.body, expanded);

        // JSON-LD: the context travels in the body; sysAttrs adds the system attributes.
        let ld = app
            .get_with(
                &format!("{REGS}/{REG}?options=sysAttrs"),
                &[("link", &link(CTX)), ("accept", "application/ld+json")],
            )
            .await;
        assert_eq!(ld.header("content-type"), Some("application/ld+json"));
        let mut body = ld.body.clone();
        let o = body.as_object_mut().unwrap();
        for member in ["createdAt", "modifiedAt"] {
            let at = o.remove(member).unwrap();
            let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
            assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60);
        }
        let mut expected = gauges_read();
        expected["@context"] = json!(CTX);
        assert_eq!(body, expected);

        // JSON with a Link header registers the same thing.
        let mut second = without_context(gauges());
        second["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:second");
        let answer = app
            .send(
                "POST",
                REGS,
                &[("link", &link(CTX))],
                Some(("application/json", second.to_string())),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
        let read = app
            .get_with(
                &format!("{REGS}/urn:ngsi-ld:ContextSourceRegistration:second"),
                &[("link", &link(CTX))],
            )
            .await;
        let mut expected = gauges_read();
        expected["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:second");
        assert_eq!(read.body, expected);

        // Without an id, one is generated.
        let mut anonymous = gauges();
        anonymous.as_object_mut().unwrap().remove("id");
        let answer = app.json_ld("POST", REGS, &anonymous).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        let location = answer.header("location").unwrap();
        assert!(
            location.starts_with(&format!("{REGS}/urn:ngsi-ld:ContextSourceRegistration:")),
            "{location}"
        );
        let read = app.get_with(location, &[("link", &link(CTX))]).await;
        assert_eq!(read.status, StatusCode::OK);

        // The registry survives a restart.
        let mut app = app;
        app.restart().await;
        preload(&app);
        let read = app
            .get_with(&format!("{REGS}/{REG}"), &[("link", &link(CTX))])
            .await;
        assert_eq!(read.body, gauges_read());
    }
}

#[tokio::test]
async fn invalid_registrations_and_requests_are_refused_with_problem_details() {
    for backend in BACKENDS {
        let app = app(backend).await;
        register(&app, &gauges()).await;
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        let with = |extra: Value| {
            let mut body = gauges();
            body["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:other");
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    body.as_object_mut().unwrap().remove(k);
                } else {
                    body[k] = v.clone();
                }
            }
            body
        };
        let cases = [
            (with(json!({"type": "Building"})), bad("the type of a context source registration must be ContextSourceRegistration, not Building")),
            (with(json!({"information": null})), bad("a registration needs information (§5.2.9)")),
            (with(json!({"endpoint": null})), bad("a registration needs an endpoint (§5.2.9)")),
            (with(json!({"information": [{"entities": [{"type": "RiverGauge"}], "propertyNames": []}]})), bad("propertyNames may not be an empty array")),
            (with(json!({"expiresAt": "2020-01-01T00:00:00Z"})), bad("expiresAt 2020-01-01T00:00:00Z is not in the future")),
            (with(json!({"expiresAt": "2026-13-45T00:00:00Z"})), bad("expiresAt must be an ISO 8601 date-time with an offset or Z, not \"2026-13-45T00:00:00Z\"")),
            (with(json!({"contextSourceInfo": [{"key": "X-Token"}]})), bad("each item of contextSourceInfo must be an object with the string members key and value (§5.2.22), found {\"key\":\"X-Token\"}")),
            (with(json!({"management": {"cacheDuration": "bogus"}})), bad("management.cacheDuration must be an ISO 8601 duration, not \"bogus\"")),
            (with(json!({"mode": "auxiliary", "operations": ["updateOps"]})), bad("an auxiliary registration serves reads only; it cannot offer updateOps (§5.9.2.4)")),
            (with(json!({"location": {"type": "Point", "coordinates": "Huế"}})), bad("location: coordinates: expected a position [longitude, latitude]")),
        ];
        for (body, expected) in cases {
            let answer = app.json_ld("POST", REGS, &body).await;
            assert_eq!(
                (answer.status, &answer.body),
                (StatusCode::BAD_REQUEST, &expected)
            );
        }
        let answer = app.json_ld("POST", REGS, &json!([])).await;
        assert_eq!(
            answer.body,
            problem(
                "InvalidRequest",
                "Invalid request",
                400,
                "a context source registration must be a JSON object"
            )
        );

        let again = app.json_ld("POST", REGS, &gauges()).await;
        assert_eq!(
            (again.status, again.body),
            (
                StatusCode::CONFLICT,
                problem(
                    "AlreadyExists",
                    "Already exists",
                    409,
                    &format!("a context source registration with the id {REG} already exists")
                )
            )
        );
        // The context follows the media type as for entities.
        let answer = app
            .send(
                "POST",
                REGS,
                &[],
                Some(("application/json", with(json!({})).to_string())),
            )
            .await;
        assert_eq!(answer.body, bad("with Content-Type application/json the @context goes in a Link header, not in the body (or send application/ld+json)"));
        let answer = app
            .send(
                "POST",
                REGS,
                &[],
                Some((
                    "application/ld+json",
                    without_context(with(json!({}))).to_string(),
                )),
            )
            .await;
        assert_eq!(
            answer.body,
            bad("with Content-Type application/ld+json the body must carry an @context")
        );
        let answer = app
            .send("POST", REGS, &[], Some(("text/plain", "{}".into())))
            .await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let answer = app
            .send(
                "POST",
                REGS,
                &[],
                Some(("application/json", "{\"id\":,}".into())),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );

        // Reads.
        let answer = app.get(&format!("{REGS}/not-a-uri")).await;
        assert_eq!(
            answer.body,
            bad("the registration id 'not-a-uri' is not a URI")
        );
        let answer = app
            .get(&format!(
                "{REGS}/urn:ngsi-ld:ContextSourceRegistration:none"
            ))
            .await;
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::NOT_FOUND, problem("ResourceNotFound", "Resource not found", 404, "no context source registration has the id urn:ngsi-ld:ContextSourceRegistration:none"))
        );
        for accept in ["application/xml", "application/geo+json"] {
            let answer = app
                .get_with(&format!("{REGS}?type=RiverGauge"), &[("accept", accept)])
                .await;
            assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
            let answer = app
                .get_with(&format!("{REGS}/{REG}"), &[("accept", accept)])
                .await;
            assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
        }
        let answer = app.get(&format!("{REGS}?type=RiverGauge&page=2")).await;
        assert_eq!(
            answer.body,
            problem("InvalidRequest", "Invalid request", 400, "the parameter 'page' is not one of this operation's parameters (id, idPattern, type, attrs, q, csf, georel, geometry, coordinates, geoproperty, timeproperty, timerel, timeAt, endTimeAt, scopeQ, limit, offset, count, options, local)")
        );
        let answer = app.get(&format!("{REGS}/{REG}?options=keyValues")).await;
        assert_eq!(
            answer.body,
            problem(
                "InvalidRequest",
                "Invalid request",
                400,
                "options may only be sysAttrs here, not keyValues"
            )
        );
        let cases = [
            ("", "a discovery query needs entity types (type), attribute names (attrs), ids, an idPattern, q, csf, scopeQ, a geo-query or a temporal query"),
            ("?id=not-a-uri", "the entity id 'not-a-uri' is not a URI"),
            ("?q=(waterLevel", "q: invalid q at position 0: '(' is never closed"),
            ("?type=RiverGauge&georel=within", "a geo-query needs georel, geometry and coordinates together"),
            ("?type=RiverGauge&timerel=before", "timerel=before needs timeAt"),
            ("?type=RiverGauge&timerel=after&timeAt=2026-01-01T00:00:00Z&timeproperty=deletedAt", "timeproperty must be observedAt, createdAt or modifiedAt, not deletedAt"),
            ("?type=RiverGauge&idPattern=(", "idPattern is not a valid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group"),
            ("?type=RiverGauge&limit=-5", "limit must be a non-negative integer, not -5"),
            ("?type=RiverGauge&offset=-1", "offset must be a non-negative integer, not -1"),
            ("?type=RiverGauge&limit=0", "limit=0 is only allowed with count=true"),
        ];
        for (query, detail) in cases {
            let answer = app.get(&format!("{REGS}{query}")).await;
            assert_eq!(
                (answer.status, &answer.body),
                (StatusCode::BAD_REQUEST, &bad(detail)),
                "{query}"
            );
        }
        let answer = app.get(&format!("{REGS}?type=RiverGauge&limit=1001")).await;
        assert_eq!(
            answer.body,
            problem(
                "TooManyResults",
                "Too many results",
                403,
                "limit may be at most 1000"
            )
        );
        // Methods a resource does not take.
        for (method, path) in [
            ("DELETE", REGS.to_string()),
            ("PATCH", REGS.to_string()),
            ("PUT", format!("{REGS}/{REG}")),
        ] {
            let answer = app
                .send(method, &path, &[], Some(("application/json", "{}".into())))
                .await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn update_merges_members_and_validates_the_result_and_delete_removes() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let mut body = gauges();
        body["expiresAt"] = json!("2099-01-01T00:00:00Z");
        register(&app, &body).await;
        let path = format!("{REGS}/{REG}");
        let patch = |fragment: Value| {
            let app = &app;
            let path = path.clone();
            async move {
                app.send(
                    "PATCH",
                    &path,
                    &[("link", &link(CTX))],
                    Some(("application/json", fragment.to_string())),
                )
                .await
            }
        };
        let answer = patch(json!({"endpoint": "https://gauges.hue.example", "expiresAt": null, "operator": "urn:ngsi-ld:null", "rainfall": "mm"})).await;
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::NO_CONTENT, Value::Null)
        );
        let mut expected = gauges_read();
        expected["endpoint"] = json!("https://gauges.hue.example");
        expected.as_object_mut().unwrap().remove("operator");
        expected["rainfall"] = json!("mm");
        let read = app.get_with(&path, &[("link", &link(CTX))]).await;
        assert_eq!(read.body, expected);

        // A fragment that leaves an invalid registration changes nothing.
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        let cases = [
            (json!({"information": null}), "a registration needs information (§5.2.9)"),
            (json!({"type": "Building"}), "the type of a context source registration must be ContextSourceRegistration, not Building"),
            (json!({"id": "urn:ngsi-ld:ContextSourceRegistration:other"}), "the id of a registration cannot change (urn:ngsi-ld:ContextSourceRegistration:gauges to \"urn:ngsi-ld:ContextSourceRegistration:other\")"),
            (json!({"expiresAt": "2020-01-01T00:00:00Z"}), "expiresAt 2020-01-01T00:00:00Z is not in the future"),
            (json!({}), "the registration update has no member to change"),
        ];
        for (fragment, detail) in cases {
            let answer = patch(fragment).await;
            assert_eq!(
                (answer.status, answer.body),
                (StatusCode::BAD_REQUEST, bad(detail))
            );
        }
        assert_eq!(
            app.get_with(&path, &[("link", &link(CTX))]).await.body,
            expected
        );
        let answer = app
            .send(
                "PATCH",
                &path,
                &[],
                Some(("application/json", "{\"endpoint\":,}".into())),
            )
            .await;
        assert_eq!(
            answer.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );
        // No Content-Type: a body that is not JSON is malformed; a JSON one is 415.
        let answer = app.send("PATCH", &path, &[], None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let unknown = app
            .json(
                "PATCH",
                &format!("{REGS}/urn:ngsi-ld:ContextSourceRegistration:none"),
                &json!({"endpoint": "http://x.example"}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);

        let deleted = app.send("DELETE", &path, &[], None).await;
        assert_eq!(
            (deleted.status, deleted.body),
            (StatusCode::NO_CONTENT, Value::Null)
        );
        assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
        let again = app.send("DELETE", &path, &[], None).await;
        assert_eq!(
            again.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                &format!("no context source registration has the id {REG}")
            )
        );
        let answer = app
            .send("DELETE", &format!("{REGS}/not-a-uri"), &[], None)
            .await;
        assert_eq!(
            answer.body,
            bad("the registration id 'not-a-uri' is not a URI")
        );
    }
}

#[tokio::test]
async fn discovery_matches_entities_attributes_properties_places_scopes_and_times() {
    for backend in BACKENDS {
        let app = app(backend).await;
        register(&app, &gauges()).await;
        register(&app, &json!({
            "id": "urn:ngsi-ld:ContextSourceRegistration:kimlong",
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge"}],
                             "propertyNames": ["waterLevel", "temperature"]}],
            "endpoint": "http://kimlong.hue.example",
            "scope": ["/Hue/KimLong"],
            "observationInterval": {"startAt": "2020-01-01T00:00:00Z", "endAt": "2021-01-01T00:00:00Z"},
            "managementInterval": {"startAt": "2026-01-01T00:00:00Z"},
            "@context": [CTX]
        })).await;
        register(
            &app,
            &json!({
                "id": "urn:ngsi-ld:ContextSourceRegistration:weather",
                "type": "ContextSourceRegistration",
                "information": [{"propertyNames": ["rainfall"]}],
                "endpoint": "http://weather.example",
                "operator": "KTTV",
                "@context": [CTX]
            }),
        )
        .await;
        let query = |q: &str| {
            let app = &app;
            let path = format!("{REGS}?{q}");
            async move { app.get_with(&path, &[("link", &link(CTX))]).await }
        };
        let cases: &[(&str, &[&str])] = &[
            // The weather service says nothing of entities: it covers every entity.
            ("type=RiverGauge", &[REG, "urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("type=RainGauge", &[REG, "urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("attrs=waterLevel", &[REG]),
            ("attrs=rainfall", &[REG, "urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("type=RiverGauge&attrs=temperature", &[]),
            ("id=urn:ngsi-ld:RainGauge:PhuBai", &[REG, "urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("idPattern=^urn:ngsi-ld:RiverGauge:&type=RiverGauge", &[REG, "urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("q=operator==%22KTTV%22", &["urn:ngsi-ld:ContextSourceRegistration:weather"]),
            ("type=RiverGauge&csf=endpoint==%22http://gauges.hue.example:1026%22", &[REG]),
            ("type=RiverGauge&georel=near;maxDistance==1000&geometry=Point&coordinates=[107.58,16.47]", &[REG]),
            ("type=RiverGauge&georel=near;maxDistance==10&geometry=Point&coordinates=[107.5,16.4]", &[]),
            ("type=RiverGauge&scopeQ=/Hue/%23", &[REG]),
            // The Kim Long source has history of 2020 only: found by time, not as a current source.
            ("type=RiverGauge&timerel=before&timeAt=2020-06-01T00:00:00Z", &["urn:ngsi-ld:ContextSourceRegistration:kimlong"]),
            ("type=RiverGauge&timerel=after&timeAt=2021-06-01T00:00:00Z", &[]),
            ("type=RiverGauge&timerel=after&timeAt=2026-06-01T00:00:00Z&timeproperty=modifiedAt", &["urn:ngsi-ld:ContextSourceRegistration:kimlong"]),
        ];
        for (q, expected) in cases {
            let answer = query(q).await;
            assert_eq!(answer.status, StatusCode::OK, "{q}: {:?}", answer.body);
            assert_eq!(ids(&answer.body), expected.to_vec(), "{q}");
        }
        // A whole answer: every registration matching in full (not only the matching
        // RegistrationInfo), in creation order.
        let answer = query("attrs=waterLevel").await;
        assert_eq!(answer.body, json!([gauges_read()]));

        // Pages, with the other parameters in the links.
        for i in 0..3 {
            let mut body = gauges();
            body["id"] = json!(format!("urn:ngsi-ld:ContextSourceRegistration:page{i}"));
            register(&app, &body).await;
        }
        let answer = query("attrs=waterLevel&limit=2&offset=1&count=true").await;
        assert_eq!(
            ids(&answer.body),
            vec![
                "urn:ngsi-ld:ContextSourceRegistration:page0",
                "urn:ngsi-ld:ContextSourceRegistration:page1"
            ]
        );
        assert_eq!(answer.header("ngsild-results-count"), Some("4"));
        let links: Vec<&str> = answer
            .headers
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            links,
            vec![
                link(CTX).as_str(),
                "</ngsi-ld/v1/csourceRegistrations?attrs=waterLevel&count=true&limit=2&offset=0>;rel=\"prev\";type=\"application/ld+json\"",
                "</ngsi-ld/v1/csourceRegistrations?attrs=waterLevel&count=true&limit=2&offset=3>;rel=\"next\";type=\"application/ld+json\"",
            ]
        );
        let answer = query("attrs=waterLevel&limit=0&count=true").await;
        assert_eq!(
            (answer.body.clone(), answer.header("ngsild-results-count")),
            (json!([]), Some("4"))
        );
    }
}

#[tokio::test]
async fn exclusive_and_redirect_registrations_respect_each_other_and_local_entities() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let exclusive = |id: &str, mode: &str, entity: &str, attr: &str| {
            json!({
                "id": format!("urn:ngsi-ld:ContextSourceRegistration:{id}"),
                "type": "ContextSourceRegistration",
                "information": [{"entities": [{"id": entity, "type": "RiverGauge"}], "propertyNames": [attr]}],
                "mode": mode,
                "endpoint": "http://gauges.hue.example",
                "@context": [CTX]
            })
        };
        register(
            &app,
            &exclusive(
                "a",
                "exclusive",
                "urn:ngsi-ld:RiverGauge:KimLong",
                "waterLevel",
            ),
        )
        .await;
        let conflict = |detail: &str| problem("Conflict", "Conflict", 409, detail);
        let answer = app
            .json_ld(
                "POST",
                REGS,
                &exclusive(
                    "b",
                    "exclusive",
                    "urn:ngsi-ld:RiverGauge:KimLong",
                    "waterLevel",
                ),
            )
            .await;
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::CONFLICT, conflict("the exclusive registration urn:ngsi-ld:ContextSourceRegistration:a already covers these entities and attributes; an exclusive registration cannot overlap it (§4.3.6.3)"))
        );
        let answer = app
            .json_ld(
                "POST",
                REGS,
                &exclusive(
                    "b",
                    "redirect",
                    "urn:ngsi-ld:RiverGauge:KimLong",
                    "waterLevel",
                ),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        // Other attributes, other entities, and redirect registrations among themselves are fine.
        register(
            &app,
            &exclusive(
                "c",
                "exclusive",
                "urn:ngsi-ld:RiverGauge:KimLong",
                "temperature",
            ),
        )
        .await;
        register(
            &app,
            &exclusive(
                "d",
                "redirect",
                "urn:ngsi-ld:RiverGauge:PhuCat",
                "waterLevel",
            ),
        )
        .await;
        register(
            &app,
            &exclusive(
                "e",
                "redirect",
                "urn:ngsi-ld:RiverGauge:PhuCat",
                "waterLevel",
            ),
        )
        .await;
        let answer = app
            .json_ld(
                "POST",
                REGS,
                &exclusive(
                    "f",
                    "exclusive",
                    "urn:ngsi-ld:RiverGauge:PhuCat",
                    "waterLevel",
                ),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);

        // Exclusive registrations name an entity and attributes.
        let mut by_type = exclusive("g", "exclusive", "urn:ngsi-ld:RiverGauge:X", "waterLevel");
        by_type["information"] =
            json!([{"entities": [{"type": "RiverGauge"}], "propertyNames": ["waterLevel"]}]);
        let answer = app.json_ld("POST", REGS, &by_type).await;
        assert_eq!(answer.body, problem("BadRequestData", "Bad request data", 400, "an exclusive registration is about specific entities: each EntityInfo needs an id, and no idPattern (§4.3.6.3)"));
        let mut all_attributes =
            exclusive("g", "exclusive", "urn:ngsi-ld:RiverGauge:X", "waterLevel");
        all_attributes["information"][0]
            .as_object_mut()
            .unwrap()
            .remove("propertyNames");
        let answer = app.json_ld("POST", REGS, &all_attributes).await;
        assert_eq!(answer.body, problem("BadRequestData", "Bad request data", 400, "an exclusive registration is about specific attributes: each RegistrationInfo needs propertyNames or relationshipNames (§4.3.6.3)"));

        // A local entity with the attribute: the source cannot take it over.
        let entity = json!({"id": "urn:ngsi-ld:RiverGauge:ThuyBieu", "type": "RiverGauge",
            "waterLevel": {"type": "Property", "value": 2.1}, "@context": [CTX]});
        assert_eq!(
            app.json_ld("POST", "/ngsi-ld/v1/entities", &entity)
                .await
                .status,
            StatusCode::CREATED
        );
        let answer = app
            .json_ld(
                "POST",
                REGS,
                &exclusive(
                    "h",
                    "exclusive",
                    "urn:ngsi-ld:RiverGauge:ThuyBieu",
                    "waterLevel",
                ),
            )
            .await;
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::CONFLICT, conflict("the entity urn:ngsi-ld:RiverGauge:ThuyBieu exists in this broker with information that this exclusive registration would take over (§5.9.2.4)"))
        );
        register(
            &app,
            &exclusive(
                "i",
                "exclusive",
                "urn:ngsi-ld:RiverGauge:ThuyBieu",
                "temperature",
            ),
        )
        .await;
        let mut redirect = exclusive("j", "redirect", "urn:ngsi-ld:RiverGauge:X", "waterLevel");
        redirect["information"] = json!([{"entities": [{"type": "RiverGauge"}]}]);
        let answer = app.json_ld("POST", REGS, &redirect).await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        // An update that makes a registration overlap is refused too.
        let answer = app
            .send("PATCH", &format!("{REGS}/urn:ngsi-ld:ContextSourceRegistration:c"), &[("link", &link(CTX))],
                Some(("application/json", json!({"information": [{"entities": [{"id": "urn:ngsi-ld:RiverGauge:KimLong", "type": "RiverGauge"}], "propertyNames": ["waterLevel"]}]}).to_string())))
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn registration_writes_need_credentials_like_entity_writes() {
    let app = App::with_access(dothi_store::Backend::Sqlite, Access::Writes).await;
    preload(&app);
    let denied = app.json_ld("POST", REGS, &gauges()).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let denied = app
        .json_ld("POST", SUBS, &subscription("http://127.0.0.1:9/notify"))
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let (key, _) = app
        .broker
        .store
        .create_api_key(&Actor::system(), "registry")
        .await
        .unwrap();
    let answer = app
        .send(
            "POST",
            REGS,
            &[("x-api-key", &key)],
            Some(("application/ld+json", gauges().to_string())),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    // Reads are open.
    assert_eq!(
        app.get(&format!("{REGS}/{REG}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("{REGS}?type=RiverGauge")).await.status,
        StatusCode::OK
    );
    let denied = app
        .send("DELETE", &format!("{REGS}/{REG}"), &[], None)
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
}

// --- registration subscriptions ---

/// A local HTTP endpoint that records notifications.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let (r, f) = (received.clone(), failing.clone());
        let app = Router::new().route(
            "/notify",
            post(move |_: HeaderMap, body: String| {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    if f.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    r.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            addr,
            received,
            failing,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/notify", self.addr)
    }

    /// The notifications received so far, without their random id and time (checked).
    fn take(&self) -> Vec<Value> {
        let mut got = std::mem::take(&mut *self.received.lock().unwrap());
        for n in &mut got {
            let o = n.as_object_mut().unwrap();
            let id = o.remove("id").unwrap();
            assert!(
                id.as_str()
                    .unwrap()
                    .starts_with("urn:ngsi-ld:Notification:"),
                "{id}"
            );
            let at = o.remove("notifiedAt").unwrap();
            let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
            assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60);
        }
        got
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Workers(JoinHandle<()>, JoinHandle<()>);

impl Workers {
    fn start(app: &App) -> Workers {
        Workers(
            spawn_delivery_worker(app.broker.clone()),
            spawn_registry_worker(app.broker.clone()),
        )
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.abort();
        self.1.abort();
    }
}

/// Waits until the outbox is empty.
async fn settle(app: &App) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.broker.store.ngsild_deliveries_pending().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox did not empty");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn subscription(endpoint: &str) -> Value {
    json!({
        "id": SUB,
        "type": "Subscription",
        "entities": [{"type": "RiverGauge"}],
        "watchedAttributes": ["waterLevel"],
        "notification": {"endpoint": {"uri": endpoint, "accept": "application/json"}},
        "@context": [CTX]
    })
}

fn csn(reason: &str, data: Value) -> Value {
    json!({"type": "ContextSourceNotification", "subscriptionId": SUB, "data": data, "triggerReason": reason})
}

/// The gauges registration as notified: only the RegistrationInfo that matched.
fn gauges_notified() -> Value {
    let mut body = gauges_read();
    body["information"] =
        json!([{"entities": [{"type": "RiverGauge"}], "propertyNames": ["waterLevel"]}]);
    body
}

#[tokio::test]
async fn registration_subscription_is_stored_listed_updated_and_deleted() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let mut body = subscription("http://127.0.0.1:9/notify");
        body["temporalQ"] = json!({"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"});
        body["scopeQ"] = json!("/Hue/#");
        body["csf"] = json!("operator==\"KTTV\"");
        body["expiresAt"] = json!("2099-01-01T00:00:00Z");
        let created = app.json_ld("POST", SUBS, &body).await;
        assert_eq!(created.header("location"), Some(&*format!("{SUBS}/{SUB}")));
        assert_eq!(
            (created.status, created.body),
            (StatusCode::CREATED, Value::Null)
        );

        let mut expected = without_context(body.clone());
        expected["notification"]["format"] = json!("normalized");
        expected["status"] = json!("active");
        let read = app
            .get_with(&format!("{SUBS}/{SUB}"), &[("link", &link(CTX))])
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.body, expected);
        let list = app.get_with(SUBS, &[("link", &link(CTX))]).await;
        assert_eq!(list.body, json!([expected]));

        let again = app.json_ld("POST", SUBS, &body).await;
        assert_eq!(
            (again.status, again.body),
            (StatusCode::CONFLICT, problem("AlreadyExists", "Already exists", 409, &format!("a context source registration subscription with the id {SUB} already exists")))
        );
        let bad = |detail: &str| problem("BadRequestData", "Bad request data", 400, detail);
        let mut cases = vec![];
        for (member, value, detail) in [
            (
                "type",
                json!("Registration"),
                "the type of a subscription must be Subscription, not Registration",
            ),
            (
                "type",
                Value::Null,
                "a subscription needs \"type\": \"Subscription\"",
            ),
            (
                "watchedAttributes",
                json!([]),
                "watchedAttributes may not be an empty array",
            ),
            (
                "q",
                json!("waterLevel>"),
                "q: invalid q at position 11: expected value, found end of query",
            ),
            (
                "temporalQ",
                json!({"timerel": "before"}),
                "temporalQ: timerel=before needs timeAt",
            ),
            (
                "scopeQ",
                json!("Hue"),
                "scopeQ: a scope starts with '/', not 'Hue' (position 0 of 'Hue')",
            ),
            (
                "expiresAt",
                json!("2020-01-01T00:00:00Z"),
                "expiresAt 2020-01-01T00:00:00Z is not in the future",
            ),
            (
                "notification",
                Value::Null,
                "a subscription needs a notification member",
            ),
        ] {
            let mut b = body.clone();
            b["id"] = json!("urn:ngsi-ld:Subscription:other");
            if value.is_null() {
                b.as_object_mut().unwrap().remove(member);
            } else {
                b[member] = value;
            }
            cases.push((b, detail));
        }
        for (b, detail) in cases {
            let answer = app.json_ld("POST", SUBS, &b).await;
            assert_eq!(
                (answer.status, answer.body),
                (StatusCode::BAD_REQUEST, bad(detail))
            );
        }

        // PATCH replaces members; null removes one; the result is validated whole.
        let path = format!("{SUBS}/{SUB}");
        let patch = |fragment: Value| {
            let app = &app;
            let path = path.clone();
            async move {
                app.send(
                    "PATCH",
                    &path,
                    &[("link", &link(CTX))],
                    Some(("application/json", fragment.to_string())),
                )
                .await
            }
        };
        let answer =
            patch(json!({"isActive": false, "csf": null, "entities": [{"type": "RainGauge"}]}))
                .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{:?}", answer.body);
        let mut updated = expected.clone();
        updated.as_object_mut().unwrap().remove("csf");
        updated["entities"] = json!([{"type": "RainGauge"}]);
        updated["isActive"] = json!(false);
        updated["status"] = json!("paused");
        assert_eq!(
            app.get_with(&path, &[("link", &link(CTX))]).await.body,
            updated
        );
        for (fragment, detail) in [
            (
                json!({"type": null}),
                "a subscription needs \"type\": \"Subscription\"",
            ),
            (
                json!({"notification": {"format": "keyValues"}}),
                "notification needs an endpoint",
            ),
        ] {
            let answer = patch(fragment).await;
            assert_eq!(
                (answer.status, answer.body),
                (StatusCode::BAD_REQUEST, bad(detail))
            );
        }
        let answer = app
            .send(
                "PATCH",
                &path,
                &[],
                Some(("application/json", "{\"q\":,}".into())),
            )
            .await;
        assert_eq!(
            answer.body["type"],
            "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
        );
        let unknown = app
            .json(
                "PATCH",
                &format!("{SUBS}/urn:ngsi-ld:Subscription:none"),
                &json!({"isActive": true}),
            )
            .await;
        assert_eq!(
            unknown.body,
            problem("ResourceNotFound", "Resource not found", 404, "no context source registration subscription has the id urn:ngsi-ld:Subscription:none")
        );
        assert_eq!(
            app.get(&format!("{SUBS}/not-a-uri")).await.body,
            bad("the subscription id 'not-a-uri' is not a URI")
        );

        // Pages.
        for i in 0..2 {
            let mut b = subscription("http://127.0.0.1:9/notify");
            b["id"] = json!(format!("urn:ngsi-ld:Subscription:page{i}"));
            assert_eq!(
                app.json_ld("POST", SUBS, &b).await.status,
                StatusCode::CREATED
            );
        }
        let page = app.get(&format!("{SUBS}?limit=1&offset=1")).await;
        assert_eq!(ids(&page.body), vec!["urn:ngsi-ld:Subscription:page0"]);
        let links: Vec<&str> = page
            .headers
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            links,
            vec![
                CORE_LINK,
                "</ngsi-ld/v1/csourceSubscriptions?limit=1&offset=0>;rel=\"prev\";type=\"application/ld+json\"",
                "</ngsi-ld/v1/csourceSubscriptions?limit=1&offset=2>;rel=\"next\";type=\"application/ld+json\"",
            ]
        );
        for q in ["?limit=-5", "?offset=-1"] {
            assert_eq!(
                app.get(&format!("{SUBS}{q}")).await.status,
                StatusCode::BAD_REQUEST
            );
        }
        assert_eq!(
            app.get_with(SUBS, &[("accept", "application/xml")])
                .await
                .status,
            StatusCode::NOT_ACCEPTABLE
        );

        let deleted = app.send("DELETE", &path, &[], None).await;
        assert_eq!(
            (deleted.status, deleted.body),
            (StatusCode::NO_CONTENT, Value::Null)
        );
        assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.send("DELETE", &path, &[], None).await.status,
            StatusCode::NOT_FOUND
        );
        // The entity subscriptions are another resource.
        assert_eq!(app.get("/ngsi-ld/v1/subscriptions").await.body, json!([]));
    }
}

#[tokio::test]
async fn registration_changes_are_notified_to_matching_subscriptions() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        register(&app, &gauges()).await;

        // On creation: every registration matching now, with the RegistrationInfo that matched.
        assert_eq!(
            app.json_ld("POST", SUBS, &subscription(&receiver.url()))
                .await
                .status,
            StatusCode::CREATED
        );
        settle(&app).await;
        assert_eq!(
            receiver.take(),
            vec![csn("newlyMatching", json!([gauges_notified()]))]
        );

        // Updated while matching, then no longer matching, then matching again.
        let path = format!("{REGS}/{REG}");
        let patch = |fragment: Value| {
            let app = &app;
            let path = path.clone();
            async move {
                let answer = app
                    .send(
                        "PATCH",
                        &path,
                        &[("link", &link(CTX))],
                        Some(("application/json", fragment.to_string())),
                    )
                    .await;
                assert_eq!(answer.status, StatusCode::NO_CONTENT, "{:?}", answer.body);
            }
        };
        patch(json!({"endpoint": "https://gauges.hue.example"})).await;
        settle(&app).await;
        let mut current = gauges_notified();
        current["endpoint"] = json!("https://gauges.hue.example");
        assert_eq!(receiver.take(), vec![csn("updated", json!([current]))]);

        let rain_only = json!([{"entities": [{"type": "RainGauge"}]}]);
        patch(json!({"information": rain_only})).await;
        settle(&app).await;
        let mut whole = gauges_read();
        whole["endpoint"] = json!("https://gauges.hue.example");
        whole["information"] = rain_only.clone();
        assert_eq!(
            receiver.take(),
            vec![csn("noLongerMatching", json!([whole]))]
        );

        patch(json!({"information": [{"entities": [{"type": "RiverGauge"}]}]})).await;
        settle(&app).await;
        let mut back = whole.clone();
        back["information"] = json!([{"entities": [{"type": "RiverGauge"}]}]);
        assert_eq!(receiver.take(), vec![csn("newlyMatching", json!([back]))]);

        // Registrations outside the subscription are not notified.
        let mut rain = gauges();
        rain["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:rain");
        rain["information"] = json!([{"entities": [{"type": "RainGauge"}]}]);
        register(&app, &rain).await;
        let mut other_attr = gauges();
        other_attr["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:temperature");
        other_attr["information"] =
            json!([{"entities": [{"type": "RiverGauge"}], "propertyNames": ["temperature"]}]);
        register(&app, &other_attr).await;
        settle(&app).await;
        assert_eq!(receiver.take(), Vec::<Value>::new());

        // Deleted: no longer matching, as it was.
        let deleted = app.send("DELETE", &path, &[], None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        settle(&app).await;
        assert_eq!(
            receiver.take(),
            vec![csn("noLongerMatching", json!([back]))]
        );

        // The bookkeeping of the subscription.
        let read = app.get(&format!("{SUBS}/{SUB}")).await;
        let n = &read.body["notification"];
        assert_eq!(
            (n["status"].clone(), n["timesSent"].clone()),
            (json!("ok"), json!(5))
        );
        assert!(
            n["lastSuccess"].is_string() && n["lastNotification"].is_string(),
            "{n}"
        );
        assert_eq!(n.get("timesFailed"), None);

        // An update of the subscription sends what matches it now.
        let answer = app
            .send(
                "PATCH",
                &format!("{SUBS}/{SUB}"),
                &[("link", &link(CTX))],
                Some((
                    "application/json",
                    json!({"entities": [{"type": "RainGauge"}], "watchedAttributes": null})
                        .to_string(),
                )),
            )
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        settle(&app).await;
        let mut rain_read = gauges_read();
        rain_read["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:rain");
        rain_read["information"] = json!([{"entities": [{"type": "RainGauge"}]}]);
        assert_eq!(
            receiver.take(),
            vec![csn("newlyMatching", json!([rain_read]))]
        );

        // A paused subscription hears nothing.
        let answer = app
            .json(
                "PATCH",
                &format!("{SUBS}/{SUB}"),
                &json!({"isActive": false}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        let mut rain2 = rain.clone();
        rain2["id"] = json!("urn:ngsi-ld:ContextSourceRegistration:rain2");
        register(&app, &rain2).await;
        settle(&app).await;
        assert_eq!(receiver.take(), Vec::<Value>::new());
    }
}

#[tokio::test]
async fn failed_notifications_are_counted_and_retried_until_delivered() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        receiver.failing.store(true, Ordering::SeqCst);
        assert_eq!(
            app.json_ld("POST", SUBS, &subscription(&receiver.url()))
                .await
                .status,
            StatusCode::CREATED
        );
        register(&app, &gauges()).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n = app.get(&format!("{SUBS}/{SUB}")).await.body["notification"].clone();
            if n["timesFailed"] == json!(1) {
                assert_eq!(
                    (n["status"].clone(), n["timesSent"].clone()),
                    (json!("failed"), json!(1))
                );
                assert!(n["lastFailure"].is_string(), "{n}");
                break;
            }
            assert!(Instant::now() < deadline, "no failure recorded: {n}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        receiver.failing.store(false, Ordering::SeqCst);
        settle(&app).await;
        assert_eq!(
            receiver.take(),
            vec![csn("newlyMatching", json!([gauges_notified()]))]
        );
        let n = app.get(&format!("{SUBS}/{SUB}")).await.body["notification"].clone();
        assert_eq!(
            (
                n["status"].clone(),
                n["timesSent"].clone(),
                n["timesFailed"].clone()
            ),
            (json!("ok"), json!(2), json!(1))
        );
    }
}

#[tokio::test]
async fn expired_registrations_vanish_and_periodic_subscriptions_repeat() {
    for backend in BACKENDS {
        let app = app(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        let mut periodic = subscription(&receiver.url());
        periodic
            .as_object_mut()
            .unwrap()
            .remove("watchedAttributes");
        periodic["timeInterval"] = json!(1);
        assert_eq!(
            app.json_ld("POST", SUBS, &periodic).await.status,
            StatusCode::CREATED
        );
        let expiry = chrono::Utc::now() + chrono::Duration::seconds(4);
        let soon = expiry.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut body = gauges();
        body["expiresAt"] = json!(soon);
        register(&app, &body).await;
        assert_eq!(
            app.get(&format!("{REGS}/{REG}")).await.status,
            StatusCode::OK
        );
        // At least one periodic notification while it lives (a loaded machine may need a few
        // seconds for the first), then past its expiry.
        while receiver.received.lock().unwrap().is_empty() {
            assert!(
                chrono::Utc::now() < expiry,
                "no periodic notification before the expiry"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = (expiry - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left + Duration::from_millis(500)).await;
        // Gone for every read as soon as it expires, and deleted by the registry worker.
        assert_eq!(
            app.get(&format!("{REGS}/{REG}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get_with(&format!("{REGS}?type=RiverGauge"), &[("link", &link(CTX))])
                .await
                .body,
            json!([])
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while !app
            .broker
            .store
            .ngsild_registrations_expired(i64::MAX)
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "the expired registration was not deleted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        settle(&app).await;
        // Every second while it lived: the registration; nothing once it is gone.
        let got = receiver.take();
        let mut expected = gauges_notified();
        expected["expiresAt"] = json!(soon);
        assert!(!got.is_empty(), "{got:?}");
        for n in &got {
            assert_eq!(n, &csn("updated", json!([expected])));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        settle(&app).await;
        assert_eq!(receiver.take(), Vec::<Value>::new());
        // An id that expired may be registered again.
        register(&app, &gauges()).await;
    }
}
