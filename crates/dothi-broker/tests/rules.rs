//! The threshold-rules engine and the alert webhooks, on both backends: entities are written
//! through the broker, and the engine's steps are run by hand (no sleeps), with the readings'
//! `observedAt` and the tick's clock chosen by each test.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use dothi_broker::entities::UpsertMode;
use dothi_broker::rules::RulesEngine;
use dothi_broker::webhooks::{signature, WebhookWorker};
use dothi_broker::{Broker, BrokerConfig};
use dothi_domain::Actor;
use dothi_ngsild::context::Context;
use dothi_store::alerts::{AlertFilter, NewWebhook, Operator, RuleSpec, Severity, Texts};
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::{Backend, Store};
use serde_json::{json, Value};

const STATION: &str = "urn:ngsi-ld:AirQualityObserved:Hue-TrungTam";
const KIM_LONG: &str = "urn:ngsi-ld:WaterLevelObserved:KimLong";

struct Setup {
    db: TestDb,
    broker: Broker,
    engine: RulesEngine,
    ctx: Context,
}

async fn setup(backend: Backend) -> Setup {
    let db = TestDb::new(backend).await;
    let store = db.hue_store().await;
    let broker = Broker::new(store, BrokerConfig::default());
    let ctx = broker.contexts.core();
    Setup {
        engine: RulesEngine::new(broker.clone()),
        db,
        broker,
        ctx,
    }
}

/// Epoch ms of a time on 2026-10-20 in Huế (+07:00), "HH:MM:SS".
fn at(hms: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("2026-10-20T{hms}+07:00"))
        .expect("test time")
        .timestamp_millis()
}

fn aqi_rule(ctx: &Context) -> RuleSpec {
    RuleSpec {
        name: Texts {
            vi: "AQI cao".into(),
            en: "High AQI".into(),
        },
        enabled: true,
        entity_type: ctx.expand("AirQualityObserved"),
        id_pattern: Some("^urn:ngsi-ld:AirQualityObserved:".into()),
        attribute: ctx.expand("aqi"),
        operator: Operator::Gt,
        threshold: Some(150.0),
        threshold_attribute: None,
        duration_s: 600,
        hysteresis: 10.0,
        severity: Severity::Warning,
        agency: Some("SNNMT".into()),
        message: Some(Texts {
            vi: "{entity}: AQI {value} vượt ngưỡng {threshold}".into(),
            en: "{entity}: AQI {value} above {threshold}".into(),
        }),
    }
}

fn flood_rule(ctx: &Context) -> RuleSpec {
    RuleSpec {
        name: Texts {
            vi: "Mực nước Kim Long đạt báo động 2".into(),
            en: "Kim Long water level at alarm level 2".into(),
        },
        enabled: true,
        entity_type: ctx.expand("WaterLevelObserved"),
        id_pattern: None,
        attribute: ctx.expand("waterLevel"),
        operator: Operator::Ge,
        threshold: None,
        threshold_attribute: Some(ctx.expand("alarmLevel2")),
        duration_s: 0,
        hysteresis: 0.1,
        severity: Severity::Critical,
        agency: Some("IOC".into()),
        message: None,
    }
}

async fn add_rule(store: &Store, spec: &RuleSpec) -> i64 {
    store
        .alert_rule_create(&Actor::system(), spec)
        .await
        .expect("create rule")
        .id
}

/// Writes one AQI reading observed at `hms`.
async fn aqi(s: &Setup, value: f64, hms: &str) {
    write_aqi(&s.broker, &s.ctx, value, hms).await
}

async fn write_aqi(broker: &Broker, ctx: &Context, value: f64, hms: &str) {
    let item = json!({
        "id": STATION, "type": "AirQualityObserved",
        "aqi": {"type": "Property", "value": value, "observedAt": format!("2026-10-20T{hms}+07:00")}
    });
    let outcome = broker
        .batch_upsert(ctx, &[item], UpsertMode::Update)
        .await
        .expect("upsert");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

async fn gauge(s: &Setup, level: f64, alarm2: f64, hms: &str) {
    let observed = format!("2026-10-20T{hms}+07:00");
    let item = json!({
        "id": KIM_LONG, "type": "WaterLevelObserved",
        "waterLevel": {"type": "Property", "value": level, "unitCode": "MTR", "observedAt": observed},
        "alarmLevel2": {"type": "Property", "value": alarm2, "unitCode": "MTR"}
    });
    let outcome = s
        .broker
        .batch_upsert(&s.ctx, &[item], UpsertMode::Update)
        .await
        .expect("upsert");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

/// Every alert, newest first, as the API shows it, without the wall-clock `raised_at`.
async fn alerts(store: &Store) -> Vec<Value> {
    let filter = AlertFilter {
        limit: 100,
        ..Default::default()
    };
    let list = store
        .alerts_list(&Actor::system(), &filter)
        .await
        .expect("alerts");
    list.iter()
        .map(|a| {
            let mut v = a.to_json(&store.reference());
            let map = v.as_object_mut().expect("object");
            map.remove("raised_at");
            if map.get("resolved_at").is_some_and(|r| !r.is_null()) {
                map.insert("resolved_at".into(), json!("<set>"));
            }
            v
        })
        .collect()
}

fn aqi_alert(id: i64, rule: i64, value: f64, since: &str, observed: &str) -> Value {
    json!({
        "id": id,
        "rule": {"id": rule, "name": {"vi": "AQI cao", "en": "High AQI"}},
        "entity_id": STATION,
        "attribute": "https://uri.etsi.org/ngsi-ld/default-context/aqi",
        "severity": "warning",
        "status": "open",
        "value": value,
        "threshold": 150.0,
        "since": format!("2026-10-20T{since}+07:00"),
        "observed_at": format!("2026-10-20T{observed}+07:00"),
        "acknowledged_at": null,
        "acknowledged_by": null,
        "resolved_at": null,
        "resolved_by": null,
        "agency": {"code": "SNNMT", "name": "Sở Nông nghiệp và Môi trường"},
        "message": {
            "vi": format!("{STATION}: AQI {value} vượt ngưỡng 150"),
            "en": format!("{STATION}: AQI {value} above 150")
        },
        "note": null
    })
}

#[tokio::test]
async fn aqi_rule_raises_only_after_ten_minutes_of_observed_readings() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let rule = add_rule(&s.broker.store, &aqi_rule(&s.ctx)).await;
        for (value, hms) in [
            (160.0, "10:00:00"),
            (171.0, "10:05:00"),
            (155.0, "10:09:59"),
        ] {
            aqi(&s, value, hms).await;
            s.engine.process_changes().await.expect("process");
        }
        assert_eq!(
            alerts(&s.broker.store).await,
            Vec::<Value>::new(),
            "{backend:?}"
        );

        aqi(&s, 158.0, "10:10:00").await;
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![aqi_alert(1, rule, 158.0, "10:00:00", "10:10:00")],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_reading_back_under_the_threshold_restarts_the_duration() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let rule = add_rule(&s.broker.store, &aqi_rule(&s.ctx)).await;
        for (value, hms) in [
            (160.0, "10:00:00"),
            (140.0, "10:05:00"),
            (160.0, "10:12:00"),
            (165.0, "10:21:00"),
        ] {
            aqi(&s, value, hms).await;
        }
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&s.broker.store).await,
            Vec::<Value>::new(),
            "{backend:?}"
        );

        aqi(&s, 161.0, "10:22:00").await;
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![aqi_alert(1, rule, 161.0, "10:12:00", "10:22:00")],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn hysteresis_keeps_one_alert_while_the_value_hovers_around_the_threshold() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let spec = RuleSpec {
            duration_s: 0,
            ..aqi_rule(&s.ctx)
        };
        let rule = add_rule(&s.broker.store, &spec).await;
        for (value, hms) in [
            (151.0, "10:00:00"),
            (149.0, "10:01:00"),
            (152.0, "10:02:00"),
            (141.0, "10:03:00"),
            (153.0, "10:04:00"),
        ] {
            aqi(&s, value, hms).await;
            s.engine.process_changes().await.expect("process");
        }
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![aqi_alert(1, rule, 151.0, "10:00:00", "10:00:00")],
            "{backend:?}: no flapping between 140 and 150"
        );

        aqi(&s, 140.0, "10:05:00").await;
        s.engine.process_changes().await.expect("process");
        aqi(&s, 151.0, "10:06:00").await;
        s.engine.process_changes().await.expect("process");
        let mut resolved = aqi_alert(1, rule, 151.0, "10:00:00", "10:00:00");
        resolved["status"] = json!("resolved");
        resolved["resolved_by"] = json!("system");
        resolved["resolved_at"] = json!("<set>");
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![aqi_alert(2, rule, 151.0, "10:06:00", "10:06:00"), resolved],
            "{backend:?}: 140 clears (150 - 10), the next crossing raises anew"
        );
    }
}

#[tokio::test]
async fn water_level_threshold_is_the_gauges_alarm_level_attribute() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let rule = add_rule(&s.broker.store, &flood_rule(&s.ctx)).await;
        gauge(&s, 3.4, 3.5, "06:00:00").await;
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&s.broker.store).await,
            Vec::<Value>::new(),
            "{backend:?}"
        );

        gauge(&s, 3.5, 3.5, "07:00:00").await;
        s.engine.process_changes().await.expect("process");
        let name = "Mực nước Kim Long đạt báo động 2";
        let expected = json!({
            "id": 1,
            "rule": {"id": rule, "name": {"vi": name, "en": "Kim Long water level at alarm level 2"}},
            "entity_id": KIM_LONG,
            "attribute": "https://uri.etsi.org/ngsi-ld/default-context/waterLevel",
            "severity": "critical",
            "status": "open",
            "value": 3.5,
            "threshold": 3.5,
            "since": "2026-10-20T07:00:00+07:00",
            "observed_at": "2026-10-20T07:00:00+07:00",
            "acknowledged_at": null,
            "acknowledged_by": null,
            "resolved_at": null,
            "resolved_by": null,
            "agency": {"code": "IOC", "name": "Trung tâm Giám sát, điều hành đô thị thông minh"},
            "message": {
                "vi": format!("{name}: {KIM_LONG} = 3.5 (3.5)"),
                "en": format!("Kim Long water level at alarm level 2: {KIM_LONG} = 3.5 (3.5)")
            },
            "note": null
        });
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![expected.clone()],
            "{backend:?}"
        );

        // 3.45 is under báo động 2 but within the 0.1 m hysteresis: still one open alert.
        gauge(&s, 3.45, 3.5, "08:00:00").await;
        s.engine.process_changes().await.expect("process");
        assert_eq!(alerts(&s.broker.store).await, vec![expected], "{backend:?}");
    }
}

#[tokio::test]
async fn pending_rule_raises_on_the_tick_when_no_new_reading_comes() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let rule = add_rule(&s.broker.store, &aqi_rule(&s.ctx)).await;
        aqi(&s, 162.0, "10:00:00").await;
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            s.engine
                .process_pending(at("10:09:59"))
                .await
                .expect("tick"),
            0
        );
        assert_eq!(
            alerts(&s.broker.store).await,
            Vec::<Value>::new(),
            "{backend:?}"
        );

        assert_eq!(
            s.engine
                .process_pending(at("10:10:00"))
                .await
                .expect("tick"),
            1
        );
        assert_eq!(
            s.engine
                .process_pending(at("10:11:00"))
                .await
                .expect("tick"),
            0
        );
        assert_eq!(
            alerts(&s.broker.store).await,
            vec![aqi_alert(1, rule, 162.0, "10:00:00", "10:00:00")],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_restarted_engine_continues_where_it_stopped() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let rule = add_rule(&s.broker.store, &aqi_rule(&s.ctx)).await;
        aqi(&s, 160.0, "10:00:00").await;
        s.engine.process_changes().await.expect("process");

        // A new process: a new store on the same database, a new broker and engine.
        let store = s.db.store().await;
        let broker = Broker::new(store.clone(), BrokerConfig::default());
        let engine = RulesEngine::new(broker.clone());
        assert_eq!(engine.process_changes().await.expect("nothing new"), 0);
        write_aqi(&broker, &s.ctx, 170.0, "10:10:00").await;
        engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&store).await,
            vec![aqi_alert(1, rule, 170.0, "10:00:00", "10:10:00")],
            "{backend:?}: the pending duration went on across the restart"
        );

        let again = RulesEngine::new(Broker::new(s.db.store().await, BrokerConfig::default()));
        assert_eq!(again.process_changes().await.expect("process"), 0);
        write_aqi(&broker, &s.ctx, 139.0, "10:15:00").await;
        again.process_changes().await.expect("process");
        let list = alerts(&store).await;
        assert_eq!(list.len(), 1, "{backend:?}: {list:?}");
        assert_eq!(
            list[0]["status"], "resolved",
            "{backend:?}: the firing state survived"
        );
    }
}

#[tokio::test]
async fn rules_of_another_type_or_id_pattern_do_not_apply() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let spec = RuleSpec {
            duration_s: 0,
            id_pattern: Some("PhuBai$".into()),
            ..aqi_rule(&s.ctx)
        };
        add_rule(&s.broker.store, &spec).await;
        aqi(&s, 300.0, "10:00:00").await;
        let other_type = json!({
            "id": "urn:ngsi-ld:Sensor:PhuBai", "type": "Sensor",
            "aqi": {"type": "Property", "value": 300}
        });
        s.broker
            .batch_upsert(&s.ctx, &[other_type], UpsertMode::Update)
            .await
            .expect("upsert");
        s.engine.process_changes().await.expect("process");
        assert_eq!(
            alerts(&s.broker.store).await,
            Vec::<Value>::new(),
            "{backend:?}"
        );
    }
}

/// A local webhook receiver: answers the statuses queued (then 200) and keeps what it got.
#[derive(Clone, Default)]
struct Receiver {
    statuses: Arc<Mutex<Vec<StatusCode>>>,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn receiver(r: Receiver) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            |axum::extract::State(r): axum::extract::State<Receiver>,
             headers: HeaderMap,
             body: String| async move {
                r.got.lock().expect("lock").push((headers, body));
                let mut statuses = r.statuses.lock().expect("lock");
                if statuses.is_empty() {
                    StatusCode::OK
                } else {
                    statuses.remove(0)
                }
            },
        )
        .with_state(r),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn webhook_receives_signed_events_and_failed_deliveries_are_retried() {
    for backend in BACKENDS {
        let s = setup(backend).await;
        let store = s.broker.store.clone();
        add_rule(
            &store,
            &RuleSpec {
                duration_s: 0,
                ..aqi_rule(&s.ctx)
            },
        )
        .await;
        let r = Receiver::default();
        r.statuses
            .lock()
            .expect("lock")
            .push(StatusCode::SERVICE_UNAVAILABLE);
        let url = receiver(r.clone()).await;
        let secret = "bi-mat-cua-so-nnmt-2026";
        let hook = store
            .alert_webhook_create(
                &Actor::system(),
                &NewWebhook {
                    url: url.clone(),
                    secret: secret.into(),
                    events: vec!["raised".into()],
                    agency: Some("SNNMT".into()),
                    description: None,
                },
            )
            .await
            .expect("webhook");
        aqi(&s, 180.0, "10:00:00").await;
        s.engine.process_changes().await.expect("process");
        // Resolving is not an event this webhook asked for.
        store
            .alert_resolve(&Actor::system(), 1, Some("đã xử lý"))
            .await
            .expect("resolve");

        let worker = WebhookWorker::new(store.clone());
        let now = dothi_store::time::now_ms();
        assert_eq!(worker.deliver_due(now).await.expect("deliver"), 0);
        let failed = store
            .alert_webhook(&Actor::system(), hook.id)
            .await
            .expect("hook");
        assert_eq!(
            (failed.pending, failed.last_error.as_deref()),
            (1, Some("the receiver answered 503 Service Unavailable")),
            "{backend:?}"
        );
        // Not due again before the backoff (5 s) has passed.
        assert_eq!(worker.deliver_due(now + 1_000).await.expect("deliver"), 0);
        assert_eq!(r.got.lock().expect("lock").len(), 1);
        assert_eq!(worker.deliver_due(now + 6_000).await.expect("deliver"), 1);

        let got = r.got.lock().expect("lock").clone();
        assert_eq!(got.len(), 2, "{backend:?}");
        let (headers, body) = &got[1];
        assert_eq!(
            headers["x-dothi-signature"].to_str().expect("ascii"),
            signature(secret, body.as_bytes())
        );
        assert_eq!(headers["x-dothi-event"], "raised");
        let body: Value = serde_json::from_str(body).expect("json");
        assert_eq!(
            (
                &body["event"],
                &body["alert"]["id"],
                &body["alert"]["status"]
            ),
            (&json!("raised"), &json!(1), &json!("open")),
            "{backend:?}: the alert as it was when raised"
        );
        let done = store
            .alert_webhook(&Actor::system(), hook.id)
            .await
            .expect("hook");
        assert_eq!(done.pending, 0, "{backend:?}");
        assert!(done.last_success_at.is_some(), "{backend:?}");
    }
}

#[test]
fn signature_is_the_hex_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}
